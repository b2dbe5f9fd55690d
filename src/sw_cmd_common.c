/* Kafka settings resolution shared by the subcommands. */
#include "sw_cmd_common.h"
#include "sw_event.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int sw_kafka_resolve(const char *cmd, const sw_kafka_opts_t *o,
                     sw_props_t *props, char *topic, size_t topic_size)
{
    char errstr[512];
    const char *t = SW_DEFAULT_TOPIC;
    char t_buf[256];
    if (sw_props_set(props, "bootstrap.servers", SW_DEFAULT_BROKERS, "default"))
        goto nomem;

    const char *path =
        o->config_path ? o->config_path : getenv("SURGEWATCH_CONFIG");
    if (path && *path) {
        sw_config_t *cfg = sw_config_load(path, errstr, sizeof(errstr));
        if (cfg == NULL) {
            fprintf(stderr, "surgewatch %s: %s\n", cmd, errstr);
            return -1;
        }
        for (size_t i = 0; i < cfg->n; i++) {
            const sw_config_entry_t *e = &cfg->e[i];
            if (strcmp(e->section, "kafka") != 0)
                continue;
            char origin[300];
            snprintf(origin, sizeof(origin), "%s:%d", path, e->line);
            if (strcmp(e->key, "topic") == 0) {
                snprintf(t_buf, sizeof(t_buf), "%s", e->value);
                t = t_buf;
            } else if (strcmp(e->key, "brokers") == 0) {
                if (sw_props_set(props, "bootstrap.servers", e->value, origin))
                    goto nomem_cfg;
            } else if (strchr(e->key, '.') != NULL) {
                if (sw_props_set(props, e->key, e->value, origin))
                    goto nomem_cfg;
            } else {
                fprintf(stderr,
                        "surgewatch %s: %s:%d: [kafka] %s: unknown key "
                        "(accepted: brokers, topic, or a librdkafka property "
                        "such as security.protocol)\n",
                        cmd, path, e->line, e->key);
                sw_config_destroy(&cfg);
                return -1;
            }
            continue;
        nomem_cfg:
            sw_config_destroy(&cfg);
            goto nomem;
        }
        sw_config_destroy(&cfg);
    }

    const char *env = getenv("SURGEWATCH_BROKERS");
    if (env && *env &&
        sw_props_set(props, "bootstrap.servers", env, "SURGEWATCH_BROKERS"))
        goto nomem;
    env = getenv("SURGEWATCH_TOPIC");
    if (env && *env)
        t = env;
    static const char prefix[] = "SURGEWATCH_KAFKA_";
    for (char **ep = environ; ep && *ep; ep++) {
        if (strncmp(*ep, prefix, sizeof(prefix) - 1) != 0)
            continue;
        const char *kv = *ep + sizeof(prefix) - 1;
        const char *eq = strchr(kv, '=');
        char key[128];
        size_t n = eq ? (size_t)(eq - kv) : 0;
        if (n == 0 || n >= sizeof(key))
            continue;
        for (size_t i = 0; i < n; i++)
            key[i] = kv[i] == '_' ? '.' : (char)tolower((unsigned char)kv[i]);
        key[n] = '\0';
        if (sw_props_set(props, key, eq + 1, "environment"))
            goto nomem;
    }

    if (o->brokers &&
        sw_props_set(props, "bootstrap.servers", o->brokers, "--brokers"))
        goto nomem;
    if (o->topic)
        t = o->topic;
    for (size_t i = 0; i < o->flag_props.n; i++)
        if (sw_props_set(props, o->flag_props.v[i].key,
                         o->flag_props.v[i].value, "-X"))
            goto nomem;

    if (*t == '\0' || strlen(t) >= topic_size || strlen(t) > 200) {
        fprintf(stderr,
                "surgewatch %s: invalid topic name \"%s\" (accepted: 1..200 "
                "characters)\n",
                cmd, t);
        return -1;
    }
    for (const char *c = t; *c; c++) {
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' &&
            *c != '-') {
            fprintf(stderr,
                    "surgewatch %s: invalid topic name \"%s\" (accepted: "
                    "letters, digits, '.', '_' and '-')\n",
                    cmd, t);
            return -1;
        }
    }
    snprintf(topic, topic_size, "%s", t);
    return 0;
nomem:
    fprintf(stderr, "surgewatch %s: out of memory\n", cmd);
    return -1;
}

int sw_cmd_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

void sw_cmd_print_reasons(const char *cmd, const uint64_t *reasons)
{
    fprintf(stderr, "%s: rejected by reason:", cmd);
    for (int r = 1; r < SW_REASON__COUNT; r++)
        if (reasons[r])
            fprintf(stderr, " %s=%llu", sw_reason_name((sw_reason_t)r),
                    (unsigned long long)reasons[r]);
    fputc('\n', stderr);
}

int sw_kafka_opt(const char *cmd, int opt, const char *arg, sw_kafka_opts_t *o)
{
    switch (opt) {
    case 'b':
        o->brokers = arg;
        return 1;
    case 't':
        o->topic = arg;
        return 1;
    case 'c':
        o->config_path = arg;
        return 1;
    case 'X':
        if (sw_props_set_kv(&o->flag_props, arg, "-X") != 0) {
            fprintf(stderr, "surgewatch %s: -X %s: expected KEY=VALUE\n", cmd,
                    arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}
