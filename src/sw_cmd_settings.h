/*
 * sw_cmd_settings: the settings of a long-running command (run, hub), each
 * with four names: a config file key ([section] key), an environment
 * variable, a flag and a default. Later sources win: default, config
 * file, environment, flag. Every value remembers where it came from, so
 * that an error names the setting the way it was given and --check-config
 * can say where each value came from. Entry-point code: prints its errors.
 */
#ifndef SW_CMD_SETTINGS_H
#define SW_CMD_SETTINGS_H

#include "sw_config.h"

#include <stddef.h>

typedef struct sw_opt_spec {
    const char *section, *key, *env, *flag, *def;
} sw_opt_spec_t;

typedef struct sw_opt_value {
    char value[512];
    char origin[320]; /* "default", "FILE:LINE", "environment",
                       * "command line" */
} sw_opt_value_t;

/* Fills v[0..n) from the sources above. The config file's sections named
 * in spec belong to the command: an unknown key there is an error that
 * lists the accepted keys; other sections are skipped. flags[i] is the
 * flag's argument or NULL. Returns 0, or prints the error (prefixed with
 * "surgewatch CMD: ") and returns -1. */
int sw_opts_resolve(const char *cmd, const sw_opt_spec_t *spec, int n,
                    sw_opt_value_t *v, const sw_config_t *cfg,
                    const char *const *flags);

/* Prints that a value was refused, named the way it was given: "--flag
 * 'v': why", "VAR='v': why" or "FILE:LINE: [section] key = 'v': why". */
void sw_opt_bad(const char *cmd, const sw_opt_spec_t *spec,
                const sw_opt_value_t *v, const char *why);

/* Prints "[section] key = value  (origin)" for each setting, with the
 * password of a redis:// URL and any key naming a secret shown as ***. */
void sw_opts_print(const sw_opt_spec_t *spec, const sw_opt_value_t *v, int n);

/* The URL with its password replaced by "***", for logs. */
void sw_redact_url(const char *url, char *out, size_t cap);

/* Checks the [redis] triple (url, prefix, timeout) at indexes iu, ip, it
 * of spec/v; sets *timeout_ms. Returns 0 or prints and returns -1. */
int sw_opts_redis_check(const char *cmd, const sw_opt_spec_t *spec,
                        const sw_opt_value_t *v, int iu, int ip, int it,
                        int *timeout_ms);

/* Parses a whole number in [min, max] (no sign, no trailing text).
 * Returns 0 with *out set, or -1. */
int sw_parse_uint(const char *text, unsigned long long min,
                  unsigned long long max, unsigned long long *out);

/* The spec lines of the shared [redis] settings. */
#define SW_REDIS_OPT_SPECS                                                     \
    {"redis", "url", "SURGEWATCH_REDIS_URL", "--redis",                        \
     "redis://127.0.0.1:6379"},                                                \
        {"redis", "prefix", "SURGEWATCH_REDIS_PREFIX", "--redis-prefix",       \
         "sw"},                                                                \
    {                                                                          \
        "redis", "timeout", "SURGEWATCH_REDIS_TIMEOUT", "--redis-timeout",     \
            "2s"                                                               \
    }

/* Help text of the shared [redis] settings. */
#define SW_REDIS_OPTIONS_HELP                                                  \
    "  -r, --redis URL          redis://[[user]:password@]host[:port][/db]\n"  \
    "                           ([redis] url, env SURGEWATCH_REDIS_URL;\n"     \
    "                           default redis://127.0.0.1:6379)\n"             \
    "      --redis-prefix P     key prefix ([redis] prefix, env\n"             \
    "                           SURGEWATCH_REDIS_PREFIX; default sw)\n"        \
    "      --redis-timeout DUR  connect and command timeout ([redis]\n"        \
    "                           timeout, env SURGEWATCH_REDIS_TIMEOUT;\n"      \
    "                           default 2s)\n"

#endif
