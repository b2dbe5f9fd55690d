/* Settings of long-running commands: defaults, config, environment, flags. */
#include "sw_cmd_settings.h"
#include "sw_redis.h"
#include "sw_settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_value(sw_opt_value_t *s, const char *v, const char *origin)
{
    snprintf(s->value, sizeof(s->value), "%s", v);
    snprintf(s->origin, sizeof(s->origin), "%s", origin);
}

void sw_opt_bad(const char *cmd, const sw_opt_spec_t *spec,
                const sw_opt_value_t *s, const char *why)
{
    if (strcmp(s->origin, "command line") == 0)
        fprintf(stderr, "surgewatch %s: %s '%s': %s\n", cmd, spec->flag,
                s->value, why);
    else if (strcmp(s->origin, "environment") == 0)
        fprintf(stderr, "surgewatch %s: %s='%s': %s\n", cmd, spec->env,
                s->value, why);
    else
        fprintf(stderr, "surgewatch %s: %s: [%s] %s = '%s': %s\n", cmd,
                s->origin, spec->section, spec->key, s->value, why);
}

/* "k1, k2, ..." of the keys spec has in section. */
static void accepted_keys(const sw_opt_spec_t *spec, int n, const char *section,
                          char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        if (strcmp(spec[i].section, section) == 0)
            len += (size_t)snprintf(out + len, cap - len, "%s%s",
                                    len ? ", " : "", spec[i].key);
}

int sw_opts_resolve(const char *cmd, const sw_opt_spec_t *spec, int n,
                    sw_opt_value_t *v, const sw_config_t *cfg,
                    const char *const *flags)
{
    for (int i = 0; i < n; i++)
        set_value(&v[i], spec[i].def, "default");
    for (size_t k = 0; cfg && k < cfg->n; k++) {
        const sw_config_entry_t *e = &cfg->e[k];
        int owned = 0, found = -1;
        for (int i = 0; i < n; i++) {
            if (strcmp(spec[i].section, e->section) != 0)
                continue;
            owned = 1;
            if (strcmp(spec[i].key, e->key) == 0)
                found = i;
        }
        if (!owned)
            continue;
        if (found < 0) {
            char keys[512];
            accepted_keys(spec, n, e->section, keys, sizeof(keys));
            fprintf(stderr,
                    "surgewatch %s: %s:%d: [%s] %s: unknown key (accepted: "
                    "%s)\n",
                    cmd, cfg->path, e->line, e->section, e->key, keys);
            return -1;
        }
        char origin[320];
        snprintf(origin, sizeof(origin), "%s:%d", cfg->path, e->line);
        set_value(&v[found], e->value, origin);
    }
    for (int i = 0; i < n; i++) {
        const char *ev = getenv(spec[i].env);
        if (ev && *ev)
            set_value(&v[i], ev, "environment");
        if (flags[i])
            set_value(&v[i], flags[i], "command line");
    }
    return 0;
}

void sw_redact_url(const char *url, char *out, size_t cap)
{
    const char *at = strrchr(url, '@');
    const char *colon = NULL;
    if (strncmp(url, "redis://", 8) == 0 && at != NULL && at > url + 8)
        colon = memchr(url + 8, ':', (size_t)(at - url - 8));
    size_t n = strlen(url);
    if (colon == NULL) {
        if (n >= cap)
            n = cap - 1;
        memcpy(out, url, n);
        out[n] = '\0';
        return;
    }
    size_t head = (size_t)(colon - url), tail = strlen(at);
    if (head + 4 + tail >= cap) {
        snprintf(out, cap, "(a long URL)");
        return;
    }
    memcpy(out, url, head);
    memcpy(out + head, ":***", 4);
    memcpy(out + head + 4, at, tail + 1);
}

void sw_opts_print(const sw_opt_spec_t *spec, const sw_opt_value_t *v, int n)
{
    for (int i = 0; i < n; i++) {
        char shown[600];
        if (strncmp(v[i].value, "redis://", 8) == 0)
            sw_redact_url(v[i].value, shown, sizeof(shown));
        else if (strstr(spec[i].key, "password") ||
                 strstr(spec[i].key, "secret"))
            snprintf(shown, sizeof(shown), "***");
        else
            snprintf(shown, sizeof(shown), "%s", v[i].value);
        printf("[%s] %s = %s  (%s)\n", spec[i].section, spec[i].key, shown,
               v[i].origin);
    }
}

int sw_opts_redis_check(const char *cmd, const sw_opt_spec_t *spec,
                        const sw_opt_value_t *v, int iu, int ip, int it,
                        int *timeout_ms)
{
    if (!sw_redis_url_valid(v[iu].value)) {
        sw_opt_bad(cmd, &spec[iu], &v[iu],
                   "not a Redis URL (accepted: "
                   "redis://[[user]:password@]host[:port][/db])");
        return -1;
    }
    size_t pl = strlen(v[ip].value);
    if (pl < 1 || pl > 64 || strpbrk(v[ip].value, " \t\r\n")) {
        sw_opt_bad(cmd, &spec[ip], &v[ip],
                   "bad key prefix (accepted: 1..64 characters "
                   "without spaces)");
        return -1;
    }
    int64_t to;
    if (sw_parse_duration(v[it].value, &to) || to < 100 || to > 60000) {
        sw_opt_bad(cmd, &spec[it], &v[it],
                   "not a duration in 100ms..60s (e.g. 2s)");
        return -1;
    }
    *timeout_ms = (int)to;
    return 0;
}

int sw_parse_uint(const char *text, unsigned long long min,
                  unsigned long long max, unsigned long long *out)
{
    char *end;
    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(text, &end, 10);
    if (errno || *end || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}
