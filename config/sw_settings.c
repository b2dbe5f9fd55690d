/* sw_settings: detection settings from the INI entries of sw_config. */
#include "sw_settings.h"
#include "sw_time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int sw_parse_duration(const char *text, int64_t *ms)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || errno || v < 0)
        return -1;
    int64_t unit;
    if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "s") == 0)
        unit = SW_MS_PER_SEC;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        unit = SW_MS_PER_MIN;
    else if (strcmp(end, "h") == 0)
        unit = SW_MS_PER_HOUR;
    else if (strcmp(end, "d") == 0)
        unit = SW_MS_PER_DAY;
    else
        return -1;
    if (v > INT64_MAX / unit)
        return -1;
    *ms = v * unit;
    return 0;
}

void sw_settings_default(sw_settings_t *s)
{
    memset(s, 0, sizeof(*s));
    sw_engine_conf_default(&s->engine);
    sw_profile_default(&s->profiles.def);
}

void sw_settings_deinit(sw_settings_t *s)
{
    free(s->profiles.v);
    s->profiles.v = NULL;
    s->profiles.n = 0;
}

typedef struct ctx {
    const sw_config_t *cfg;
    const sw_config_entry_t *e;
    char *errstr;
    size_t errstr_size;
} ctx_t;

static int fail(ctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(ctx_t *c, const char *fmt, ...)
{
    int n =
        snprintf(c->errstr, c->errstr_size, "%s:%d: [%s] %s: ", c->cfg->path,
                 c->e->line, c->e->section, c->e->key);
    if (n < 0 || (size_t)n >= c->errstr_size)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr + n, c->errstr_size - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int get_double(ctx_t *c, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(c->e->value, &end);
    if (end == c->e->value || *end || errno)
        return fail(c, "\"%s\" is not a number", c->e->value);
    *out = v;
    return 0;
}

static int get_uint_max(ctx_t *c, uint32_t *out, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(c->e->value, &end, 10);
    if (end == c->e->value || *end || errno || v > max || c->e->value[0] == '-')
        return fail(c, "\"%s\" is not a whole number (accepted: 0..%lu)",
                    c->e->value, max);
    *out = (uint32_t)v;
    return 0;
}

static int get_uint(ctx_t *c, uint32_t *out)
{
    return get_uint_max(c, out, 1000000);
}

static int get_bool(ctx_t *c, int *out)
{
    const char *v = c->e->value;
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") ||
        !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
             !strcmp(v, "0") || !strcasecmp(v, "off"))
        *out = 0;
    else
        return fail(c, "\"%s\" is not a boolean (accepted: true, false)", v);
    return 0;
}

static int get_duration(ctx_t *c, int64_t *out)
{
    if (sw_parse_duration(c->e->value, out))
        return fail(c,
                    "\"%s\" is not a duration (accepted: a whole number "
                    "with a unit ms, s, m, h or d, e.g. 15m, 24h, 1d)",
                    c->e->value);
    return 0;
}

/* "ears_c2, cusum" -> enabled flags */
static int get_run(ctx_t *c, sw_profile_t *p)
{
    uint8_t en[SW_DET__COUNT] = {0};
    const char *s = c->e->value;
    while (*s) {
        while (*s == ' ' || *s == ',' || *s == '\t')
            s++;
        if (!*s)
            break;
        size_t n = strcspn(s, " ,\t");
        int k = sw_detector_lookup(s, n);
        if (k < 0)
            return fail(c,
                        "unknown detector \"%.*s\" (accepted: threshold, "
                        "ratio, ears_c1, ears_c2, ears_c3, cusum, ewma)",
                        (int)n, s);
        en[k] = 1;
        s += n;
    }
    memcpy(p->enabled, en, sizeof(en));
    return 0;
}

static int get_levels(ctx_t *c, double lv[3])
{
    double v[3];
    const char *s = c->e->value;
    for (int i = 0; i < 3; i++) {
        char *end;
        while (*s == ' ' || *s == ',')
            s++;
        errno = 0;
        v[i] = strtod(s, &end);
        if (end == s || errno)
            goto bad;
        s = end;
    }
    while (*s == ' ')
        s++;
    if (*s || !(v[0] >= 1 && v[1] >= v[0] && v[2] >= v[1]))
        goto bad;
    memcpy(lv, v, sizeof(v));
    return 0;
bad:
    return fail(c,
                "\"%s\" is not three ascending numbers >= 1 (the score / "
                "threshold at which an alert is medium, high, critical; "
                "e.g. 1.5, 2.5, 4)",
                c->e->value);
}

/* "<detector>.<param> = value" into a profile */
static int set_param(ctx_t *c, sw_profile_t *prof)
{
    const char *key = c->e->key;
    const char *dot = strchr(key, '.');
    if (dot == NULL)
        return fail(c, "unknown key (accepted: run, levels, or "
                       "DETECTOR.PARAMETER such as ears_c1.alpha)");
    int k = sw_detector_lookup(key, (size_t)(dot - key));
    if (k < 0)
        return fail(c,
                    "unknown detector \"%.*s\" (accepted: threshold, ratio, "
                    "ears_c1, ears_c2, ears_c3, cusum, ewma)",
                    (int)(dot - key), key);
    const char *param = dot + 1;
    sw_detector_params_t *p = &prof->params[k];
    double d;
    uint32_t u;
    int b;
#define DBL(name, field)                                                       \
    if (strcmp(param, name) == 0)                                              \
        return get_double(c, &d) ? -1 : (p->field = d, 0);
#define UNS(name, field)                                                       \
    if (strcmp(param, name) == 0)                                              \
        return get_uint(c, &u) ? -1 : (p->field = u, 0);
    switch (k) {
    case SW_DET_THRESHOLD:
        UNS("window", window)
        DBL("limit", limit)
        DBL("min_count", min_count)
        return fail(c, "unknown parameter (accepted for threshold: window, "
                       "limit, min_count)");
    case SW_DET_RATIO:
        UNS("window", window)
        UNS("k", k)
        DBL("ratio", ratio)
        DBL("min_count", min_count)
        return fail(c, "unknown parameter (accepted for ratio: window, k, "
                       "ratio, min_count)");
    case SW_DET_EARS_C1:
    case SW_DET_EARS_C2:
    case SW_DET_EARS_C3:
        UNS("baseline", baseline)
        DBL("alpha", alpha)
        DBL("min_sigma", min_sigma)
        DBL("min_count", min_count)
        return fail(c, "unknown parameter (accepted for EARS: baseline, "
                       "alpha, min_sigma, min_count)");
    case SW_DET_CUSUM:
        DBL("k", cusum_k)
        DBL("h", cusum_h)
        UNS("baseline", baseline)
        UNS("history", history)
        UNS("guard", guard)
        DBL("min_mean", min_mean)
        DBL("min_count", min_count)
        if (strcmp(param, "reset") == 0)
            return get_bool(c, &b) ? -1 : (p->reset_after_alarm = b, 0);
        return fail(c, "unknown parameter (accepted for cusum: k, h, "
                       "baseline, history, guard, reset, min_mean, "
                       "min_count)");
    case SW_DET_EWMA:
        DBL("lambda", lambda)
        UNS("baseline", baseline)
        UNS("history", history)
        UNS("guard", guard)
        DBL("alpha", alpha)
        DBL("min_sigma", min_sigma)
        DBL("min_count", min_count)
        return fail(c, "unknown parameter (accepted for ewma: lambda, "
                       "baseline, history, guard, alpha, min_sigma, "
                       "min_count)");
    }
#undef DBL
#undef UNS
    return fail(c, "unknown detector");
}

static int profile_key(ctx_t *c, sw_profile_t *p)
{
    if (strcmp(c->e->key, "run") == 0)
        return get_run(c, p);
    if (strcmp(c->e->key, "levels") == 0)
        return get_levels(c, p->levels);
    return set_param(c, p);
}

static int windows_key(ctx_t *c, sw_settings_t *s)
{
    const char *k = c->e->key;
    sw_engine_conf_t *ec = &s->engine;
    if (!strcmp(k, "bucket"))
        return get_duration(c, &ec->bucket_ms);
    if (!strcmp(k, "lateness"))
        return get_duration(c, &ec->lateness_ms);
    if (!strcmp(k, "idle"))
        return get_duration(c, &ec->idle_ms);
    if (!strcmp(k, "by_type"))
        return get_bool(c, &ec->by_type);
    if (!strcmp(k, "strict_sections"))
        return get_bool(c, &s->profiles.strict);
    if (!strcmp(k, "max_lookback"))
        return get_uint(c, &ec->max_lookback);
    if (!strcmp(k, "dedup_capacity")) {
        uint32_t u;
        return get_uint_max(c, &u, 100000000) ? -1
                                              : (ec->dedup_capacity = u, 0);
    }
    return fail(c, "unknown key (accepted: bucket, lateness, idle, by_type, "
                   "strict_sections, max_lookback, dedup_capacity)");
}

static int alerts_key(ctx_t *c, sw_settings_t *s)
{
    const char *k = c->e->key;
    if (!strcmp(k, "raise_after"))
        return get_uint(c, &s->engine.raise_after);
    if (!strcmp(k, "resolve_after"))
        return get_uint(c, &s->engine.resolve_after);
    if (!strcmp(k, "update_min_change"))
        return get_double(c, &s->engine.update_min_change);
    if (!strcmp(k, "levels"))
        return get_levels(c, s->profiles.def.levels);
    return fail(c, "unknown key (accepted: raise_after, resolve_after, "
                   "update_min_change, levels)");
}

static const char *section_id(const char *ini_section)
{
    if (strncmp(ini_section, "section ", 8) != 0)
        return NULL;
    const char *s = ini_section + 8;
    while (*s == ' ' || *s == '"')
        s++;
    return s;
}

/* The INI parameter names of the fields that sw_detector_params_validate()
 * names differently. */
static const struct {
    const char *field, *key;
} renamed[] = {
    {"cusum_k", "k"},
    {"cusum_h", "h"},
    {"reset_after_alarm", "reset"},
};

/* Copies text to out, with every field name of renamed[] replaced by its
 * INI name. */
static void rename_fields(const char *text, char *out, size_t size)
{
    size_t o = 0;
    while (*text && o + 1 < size) {
        size_t r, n = 0;
        for (r = 0; r < sizeof(renamed) / sizeof(renamed[0]); r++) {
            n = strlen(renamed[r].field);
            if (strncmp(text, renamed[r].field, n) == 0)
                break;
        }
        if (r < sizeof(renamed) / sizeof(renamed[0])) {
            o += (size_t)snprintf(out + o, size - o, "%s", renamed[r].key);
            if (o >= size)
                o = size - 1;
            text += n;
        } else {
            out[o++] = *text++;
        }
    }
    out[o] = '\0';
}

/* The last entry of the file that sets "<detector>.<key>" for one of the
 * fields in `fields` ("alpha", or "history, guard, baseline") in the INI
 * section of profile `section` (NULL: [detectors]), or NULL. */
static const sw_config_entry_t *find_param(const sw_config_t *cfg,
                                           const char *section,
                                           sw_detector_kind_t kind,
                                           const char *fields, size_t flen)
{
    const char *det = sw_detector_name(kind);
    size_t dlen = strlen(det);
    const sw_config_entry_t *found = NULL;
    for (size_t i = 0; i < cfg->n; i++) {
        const sw_config_entry_t *en = &cfg->e[i];
        const char *id = section_id(en->section);
        if (section ? id == NULL || strncmp(id, section, strlen(section)) ||
                          strcspn(id, "\" ") != strlen(section)
                    : strcmp(en->section, "detectors") != 0)
            continue;
        if (strncmp(en->key, det, dlen) != 0 || en->key[dlen] != '.')
            continue;
        char key[64];
        rename_fields(en->key + dlen + 1, key, sizeof(key));
        /* is key one of the fields (renamed the same way)? */
        for (size_t f = 0; f < flen;) {
            size_t n = strcspn(fields + f, ", :");
            if (n > flen - f)
                n = flen - f;
            char field[64];
            snprintf(field, sizeof(field), "%.*s", (int)n, fields + f);
            char fkey[64];
            rename_fields(field, fkey, sizeof(fkey));
            if (n > 0 && strcmp(fkey, key) == 0)
                found = en;
            f += n;
            f += strspn(fields + f, ", ");
        }
    }
    return found;
}

/* errstr for a detector parameter out of range: msg is
 * sw_detector_params_validate()'s "FIELD: VALUE is out of range (...)". */
static void range_error(const sw_config_t *cfg, const char *section,
                        sw_detector_kind_t kind, const char *msg, char *errstr,
                        size_t errstr_size)
{
    const char *colon = strstr(msg, ": ");
    size_t flen = colon ? (size_t)(colon - msg) : 0;
    const char *body = colon ? colon + 2 : msg;
    char text[256];
    rename_fields(body, text, sizeof(text));
    const sw_config_entry_t *en = find_param(cfg, section, kind, msg, flen);
    if (en == NULL && section != NULL) /* inherited from [detectors] */
        en = find_param(cfg, NULL, kind, msg, flen);
    if (en != NULL) {
        snprintf(errstr, errstr_size, "%s:%d: [%s] %s: %s", cfg->path, en->line,
                 en->section, en->key, text);
        return;
    }
    char field[64];
    rename_fields(msg, field, sizeof(field));
    field[strcspn(field, ":")] = '\0';
    snprintf(errstr, errstr_size, "%s: [%s%s] %s.%s: %s", cfg->path,
             section ? "section " : "detectors", section ? section : "",
             sw_detector_name(kind), field, text);
}

int sw_settings_load(const sw_config_t *cfg, sw_settings_t *s, char *errstr,
                     size_t errstr_size)
{
    ctx_t c = {cfg, NULL, errstr, errstr_size};
    /* pass 1: windows, alerts and the default profile */
    for (size_t i = 0; i < cfg->n; i++) {
        c.e = &cfg->e[i];
        const char *sec = c.e->section;
        int rc = 0;
        if (!strcmp(sec, "windows"))
            rc = windows_key(&c, s);
        else if (!strcmp(sec, "alerts"))
            rc = alerts_key(&c, s);
        else if (!strcmp(sec, "detectors"))
            rc = profile_key(&c, &s->profiles.def);
        else if (!strcmp(sec, "kafka") || !strcmp(sec, "redis") ||
                 !strcmp(sec, "worker") || !strcmp(sec, "hub") ||
                 section_id(sec))
            rc = 0;
        else {
            snprintf(errstr, errstr_size,
                     "%s:%d: unknown section [%s] (accepted: kafka, windows, "
                     "alerts, detectors, section XX-YY)",
                     cfg->path, c.e->line, sec);
            return -1;
        }
        if (rc)
            return -1;
    }
    /* pass 2: per-section profiles, each starting from the default */
    for (size_t i = 0; i < cfg->n; i++) {
        c.e = &cfg->e[i];
        const char *id = section_id(c.e->section);
        if (id == NULL)
            continue;
        size_t len = strcspn(id, "\" ");
        /* the id, without the quotes and blanks around it: anything else
         * after it ([section HU-RS x]) makes it invalid */
        size_t all = strlen(id);
        while (all > 0 && (id[all - 1] == '"' || id[all - 1] == ' '))
            all--;
        if (len != all || !sw_section_valid(id, len)) {
            snprintf(errstr, errstr_size,
                     "%s:%d: [%s]: \"%.*s\" is not a section id (accepted: "
                     "e.g. HU-RS, HR-SI/karlovac; see docs/events.md)",
                     cfg->path, c.e->line, c.e->section, (int)all, id);
            return -1;
        }
        struct sw_profile_override *o = NULL;
        for (size_t j = 0; j < s->profiles.n; j++)
            if (strncmp(s->profiles.v[j].section, id, len) == 0 &&
                s->profiles.v[j].section[len] == '\0')
                o = &s->profiles.v[j];
        if (o == NULL) {
            struct sw_profile_override *nv =
                realloc(s->profiles.v, (s->profiles.n + 1) * sizeof(*nv));
            if (nv == NULL) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
            }
            s->profiles.v = nv;
            o = &nv[s->profiles.n++];
            memset(o, 0, sizeof(*o));
            memcpy(o->section, id, len);
            o->profile = s->profiles.def;
        }
        if (profile_key(&c, &o->profile))
            return -1;
    }
    /* check the parameters of every detector, run or not (the defaults are
     * valid, so a bad one was set in the file), naming the file, the line
     * and the key that set it */
    char e[256];
    for (size_t i = 0; i <= s->profiles.n; i++) {
        const sw_profile_t *p =
            i == s->profiles.n ? &s->profiles.def : &s->profiles.v[i].profile;
        for (int k = 0; k < SW_DET__COUNT; k++) {
            if (sw_detector_params_validate(&p->params[k], e, sizeof(e))) {
                range_error(
                    cfg, i == s->profiles.n ? NULL : s->profiles.v[i].section,
                    (sw_detector_kind_t)k, e, errstr, errstr_size);
                return -1;
            }
        }
    }
    return 0;
}
