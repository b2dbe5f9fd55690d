/* sw_thresholds: live detector thresholds in Redis (hiredis, Lua). */
#include "sw_thresholds.h"
#include "sw_err.h"
#include "sw_event.h"
#include "sw_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sw_th_keys_init(sw_th_keys_t *k, const char *prefix)
{
    snprintf(k->hash, sizeof(k->hash), "%s:thresholds", prefix);
    snprintf(k->version, sizeof(k->version), "%s:thresholds:version", prefix);
    snprintf(k->audit, sizeof(k->audit), "%s:audit", prefix);
    snprintf(k->sections, sizeof(k->sections), "%s:sections", prefix);
    snprintf(k->channel, sizeof(k->channel), "%s:thresholds", prefix);
}

void sw_threshold_set_deinit(sw_threshold_set_t *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

void sw_strv_free(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* "default" first, then sections in byte order; keys in byte order. */
static int cmp_entry(const char *scope_a, const char *key_a,
                     const char *scope_b, const char *key_b)
{
    int da = strcmp(scope_a, SW_TH_SCOPE_DEFAULT) == 0;
    int db = strcmp(scope_b, SW_TH_SCOPE_DEFAULT) == 0;
    if (da != db)
        return da ? -1 : 1;
    int c = strcmp(scope_a, scope_b);
    return c ? c : strcmp(key_a, key_b);
}

const sw_threshold_t *sw_threshold_set_find(const sw_threshold_set_t *s,
                                            const char *scope, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].scope, scope) == 0 && strcmp(s->v[i].key, key) == 0)
            return &s->v[i];
    return NULL;
}

static int scope_valid(const char *scope)
{
    return strcmp(scope, SW_TH_SCOPE_DEFAULT) == 0 ||
           sw_section_valid(scope, strlen(scope));
}

int sw_threshold_set_put(sw_threshold_set_t *s, const char *scope,
                         const char *key, const char *value, char *errstr,
                         size_t errstr_size)
{
    if (!scope_valid(scope)) {
        snprintf(errstr, errstr_size,
                 "\"%s\" is not a section id (accepted: default, or a "
                 "section such as HU-RS, HR-SI/karlovac; see docs/events.md)",
                 scope);
        return SW_ERR_INVAL;
    }
    if (*key == '\0' || strlen(key) >= SW_TH_KEY_MAX || strchr(key, ' ')) {
        snprintf(errstr, errstr_size,
                 "\"%s\" is not a setting (accepted: run, levels, or "
                 "DETECTOR.PARAMETER such as threshold.limit)",
                 key);
        return SW_ERR_INVAL;
    }
    if (value && (*value == '\0' || strlen(value) >= SW_TH_VALUE_MAX)) {
        snprintf(errstr, errstr_size,
                 "%s %s: the value must have 1..%d characters", scope, key,
                 SW_TH_VALUE_MAX - 1);
        return SW_ERR_INVAL;
    }
    size_t i = 0;
    while (i < s->n && cmp_entry(s->v[i].scope, s->v[i].key, scope, key) < 0)
        i++;
    int found = i < s->n && strcmp(s->v[i].scope, scope) == 0 &&
                strcmp(s->v[i].key, key) == 0;
    if (value == NULL) {
        if (found) {
            memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
            s->n--;
        }
        return 0;
    }
    if (!found) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 32;
            sw_threshold_t *nv = realloc(s->v, cap * sizeof(*nv));
            if (nv == NULL)
                return SW_ERR_NOMEM;
            s->v = nv;
            s->cap = cap;
        }
        memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
        s->n++;
        memset(&s->v[i], 0, sizeof(s->v[i]));
        snprintf(s->v[i].scope, sizeof(s->v[i].scope), "%s", scope);
        snprintf(s->v[i].key, sizeof(s->v[i].key), "%s", key);
    }
    snprintf(s->v[i].value, sizeof(s->v[i].value), "%s", value);
    return 0;
}

/* "section HU-RS" (quotes and blanks around the id allowed) -> its id in
 * buf, or NULL when ini_section is not a section header or the id is
 * malformed (*bad set then). */
static const char *section_of(const char *ini_section, char *buf, size_t cap,
                              int *bad)
{
    *bad = 0;
    if (strncmp(ini_section, "section ", 8) != 0)
        return NULL;
    const char *s = ini_section + 8;
    while (*s == ' ' || *s == '"')
        s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == '"' || s[len - 1] == ' '))
        len--;
    if (len >= cap || !sw_section_valid(s, len)) {
        *bad = 1;
        return NULL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return buf;
}

int sw_thresholds_from_config(const sw_config_t *cfg, sw_threshold_set_t *out,
                              size_t *skipped, char *errstr, size_t errstr_size)
{
    char e[256];
    for (size_t i = 0; i < cfg->n; i++) {
        const sw_config_entry_t *en = &cfg->e[i];
        char id[SW_TH_SCOPE_MAX];
        int bad;
        const char *scope = NULL;
        if (strcmp(en->section, "detectors") == 0 ||
            (strcmp(en->section, "alerts") == 0 &&
             strcmp(en->key, "levels") == 0))
            scope = SW_TH_SCOPE_DEFAULT;
        else
            scope = section_of(en->section, id, sizeof(id), &bad);
        if (scope == NULL && bad) {
            snprintf(errstr, errstr_size,
                     "%s:%d: [%s]: not a section id (accepted: e.g. HU-RS, "
                     "HR-SI/karlovac; see docs/events.md)",
                     cfg->path, en->line, en->section);
            return -1;
        }
        if (scope == NULL) {
            if (skipped)
                (*skipped)++;
            continue;
        }
        int rc =
            sw_threshold_set_put(out, scope, en->key, en->value, e, sizeof(e));
        if (rc) {
            snprintf(errstr, errstr_size, "%s:%d: [%s] %s: %s", cfg->path,
                     en->line, en->section, en->key,
                     rc == SW_ERR_NOMEM ? "out of memory" : e);
            return -1;
        }
    }
    return 0;
}

#define BUILD_PATH "thresholds"

/* sw_settings_load's "thresholds:N: [section X] key: why" ->
 * "X key: why"; "[detectors]" -> "default". */
static void tidy_error(const char *in, char *out, size_t cap)
{
    const char *s = in;
    if (strncmp(s, BUILD_PATH ":", sizeof(BUILD_PATH)) == 0) {
        const char *c = strstr(s, ": ");
        if (c)
            s = c + 2;
    }
    if (strncmp(s, "[section ", 9) == 0) {
        const char *end = strchr(s, ']');
        if (end) {
            snprintf(out, cap, "%.*s%s", (int)(end - s - 9), s + 9, end + 1);
            return;
        }
    }
    if (strncmp(s, "[detectors]", 11) == 0) {
        snprintf(out, cap, "default%s", s + 11);
        return;
    }
    snprintf(out, cap, "%s", s);
}

int sw_thresholds_build(const sw_settings_t *base,
                        const sw_threshold_set_t *set, sw_settings_t *out,
                        char *errstr, size_t errstr_size)
{
    sw_settings_default(out);
    out->engine = base->engine;
    out->profiles.strict = base->profiles.strict;
    sw_config_t *cfg = sw_config_new(BUILD_PATH);
    if (cfg == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < set->n; i++) {
        char sec[64];
        const sw_threshold_t *t = &set->v[i];
        if (strcmp(t->scope, SW_TH_SCOPE_DEFAULT) == 0)
            snprintf(sec, sizeof(sec), "detectors");
        else
            snprintf(sec, sizeof(sec), "section %s", t->scope);
        if (sw_config_add(cfg, sec, t->key, t->value, (int)i + 1)) {
            snprintf(errstr, errstr_size, "out of memory");
            sw_config_destroy(&cfg);
            return -1;
        }
    }
    char e[512];
    int rc = sw_settings_load(cfg, out, e, sizeof(e));
    if (rc)
        tidy_error(e, errstr, errstr_size);
    sw_config_destroy(&cfg);
    return rc ? -1 : 0;
}

/* --------------------------------------------------------------- Redis */

static int reply_err(redisContext *c, redisReply *r, const char *what,
                     char *errstr, size_t errstr_size)
{
    int rc = sw_redis_reply_error(c, r, what, errstr, errstr_size);
    return rc ? SW_ERR_REDIS : 0;
}

int sw_thresholds_version(redisContext *c, const sw_th_keys_t *k,
                          uint64_t *version, char *errstr, size_t errstr_size)
{
    redisReply *r = redisCommand(c, "GET %s", k->version);
    if (reply_err(c, r, "GET", errstr, errstr_size)) {
        if (r)
            freeReplyObject(r);
        return SW_ERR_REDIS;
    }
    *version = r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    return 0;
}

int sw_thresholds_read(redisContext *c, const sw_th_keys_t *k,
                       sw_threshold_set_t *out, size_t *bad, char *errstr,
                       size_t errstr_size)
{
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "GET %s", k->version);
    redisAppendCommand(c, "HGETALL %s", k->hash);
    redisAppendCommand(c, "EXEC");
    redisReply *x = NULL;
    for (int i = 0; i < 4; i++) {
        redisReply *y = NULL;
        if (redisGetReply(c, (void **)&y) != REDIS_OK || y == NULL) {
            snprintf(errstr, errstr_size, "Redis: %s",
                     c->err ? c->errstr : "no reply");
            if (x)
                freeReplyObject(x);
            return SW_ERR_REDIS;
        }
        if (y->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "reading %s: %s", k->hash, y->str);
            freeReplyObject(y);
            if (x)
                freeReplyObject(x);
            /* drain what is left of the transaction */
            for (int j = i + 1; j < 4; j++)
                if (redisGetReply(c, (void **)&y) == REDIS_OK && y)
                    freeReplyObject(y);
            return SW_ERR_REDIS;
        }
        if (i < 3)
            freeReplyObject(y);
        else
            x = y;
    }
    if (x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
        x->element[1]->type != REDIS_REPLY_ARRAY) {
        snprintf(errstr, errstr_size,
                 "reading %s: unexpected reply (is %s "
                 "a hash?)",
                 k->hash, k->hash);
        freeReplyObject(x);
        return SW_ERR_REDIS;
    }
    const redisReply *v = x->element[0], *h = x->element[1];
    out->version =
        v->type == REDIS_REPLY_STRING ? strtoull(v->str, NULL, 10) : 0;
    char e[256];
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const char *f = h->element[i]->str;
        const char *sp = f ? strchr(f, ' ') : NULL;
        char scope[SW_TH_SCOPE_MAX];
        if (sp == NULL || (size_t)(sp - f) >= sizeof(scope) ||
            h->element[i + 1]->type != REDIS_REPLY_STRING) {
            if (bad)
                (*bad)++;
            continue;
        }
        memcpy(scope, f, (size_t)(sp - f));
        scope[sp - f] = '\0';
        int rc = sw_threshold_set_put(out, scope, sp + 1,
                                      h->element[i + 1]->str, e, sizeof(e));
        if (rc == SW_ERR_NOMEM) {
            snprintf(errstr, errstr_size, "out of memory");
            freeReplyObject(x);
            return SW_ERR_NOMEM;
        }
        if (rc && bad)
            (*bad)++;
    }
    freeReplyObject(x);
    return 0;
}

/* KEYS: hash, version, audit. ARGV: operator, source, then field/value
 * pairs. Returns 1 when it seeded, 0 when a version was there. */
static const char seed_script[] =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end\n"
    "for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1])"
    " end\n"
    "redis.call('SET', KEYS[2], 1)\n"
    "if #ARGV == 2 then\n"
    "  redis.call('XADD', KEYS[3], '*', 'action', 'seed', 'operator',"
    " ARGV[1], 'scope', '', 'key', '', 'old', '', 'new', '', 'version', 1,"
    " 'note', ARGV[2])\n"
    "end\n"
    "for i = 3, #ARGV, 2 do\n"
    "  local scope, key = string.match(ARGV[i], '^(%S+) (.+)$')\n"
    "  redis.call('XADD', KEYS[3], '*', 'action', 'seed', 'operator',"
    " ARGV[1], 'scope', scope or '', 'key', key or ARGV[i], 'old', '',"
    " 'new', ARGV[i+1], 'version', 1, 'note', ARGV[2])\n"
    "end\n"
    "return 1\n";

/* KEYS: hash, version, audit. ARGV: expected version, action, operator,
 * note, channel, then the wanted field/value pairs (the whole set).
 * Returns {-1, version} on a version mismatch, else {changed, version}. */
static const char commit_script[] =
    "local cur = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
    "if cur ~= tonumber(ARGV[1]) then return {-1, cur} end\n"
    "local want, have = {}, {}\n"
    "for i = 6, #ARGV, 2 do want[ARGV[i]] = ARGV[i+1] end\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #h, 2 do have[h[i]] = h[i+1] end\n"
    "local ch = {}\n"
    "for f, v in pairs(have) do\n"
    "  if want[f] == nil then table.insert(ch, {f, v, ''}) end\n"
    "end\n"
    "for f, v in pairs(want) do\n"
    "  if have[f] ~= v then table.insert(ch, {f, have[f] or '', v}) end\n"
    "end\n"
    "if #ch == 0 then return {0, cur} end\n"
    "table.sort(ch, function(a, b) return a[1] < b[1] end)\n"
    "local ver = redis.call('INCR', KEYS[2])\n"
    "for _, c in ipairs(ch) do\n"
    "  if c[3] == '' then redis.call('HDEL', KEYS[1], c[1])\n"
    "  else redis.call('HSET', KEYS[1], c[1], c[3]) end\n"
    "  local scope, key = string.match(c[1], '^(%S+) (.+)$')\n"
    "  redis.call('XADD', KEYS[3], '*', 'action', ARGV[2], 'operator',"
    " ARGV[3], 'scope', scope or '', 'key', key or c[1], 'old', c[2], 'new',"
    " c[3], 'version', ver, 'note', ARGV[4])\n"
    "end\n"
    /* the notification only hurries the workers (they also poll the
     * version): a user without PUBLISH must not leave the change half
     * made, so its refusal is ignored */
    "redis.pcall('PUBLISH', ARGV[5], ver)\n"
    "return {#ch, ver}\n";

/* argv of EVAL with the set's fields ("SCOPE KEY") and values appended
 * after `head` fixed arguments. The field strings are written to
 * fields[]. */
static int eval_argv(const sw_threshold_set_t *set, const char **head,
                     size_t nhead, const char ***argv_out, size_t **argl_out,
                     char **fields_out)
{
    size_t n = nhead + 2 * set->n;
    const char **argv = malloc(n * sizeof(*argv));
    size_t *argl = malloc(n * sizeof(*argl));
    char *fields = malloc(set->n * (SW_TH_SCOPE_MAX + SW_TH_KEY_MAX) + 1);
    if (!argv || !argl || !fields) {
        free(argv);
        free(argl);
        free(fields);
        return SW_ERR_NOMEM;
    }
    for (size_t i = 0; i < nhead; i++) {
        argv[i] = head[i];
        argl[i] = strlen(head[i]);
    }
    for (size_t i = 0; i < set->n; i++) {
        char *f = fields + i * (SW_TH_SCOPE_MAX + SW_TH_KEY_MAX);
        int fl = snprintf(f, SW_TH_SCOPE_MAX + SW_TH_KEY_MAX, "%s %s",
                          set->v[i].scope, set->v[i].key);
        argv[nhead + 2 * i] = f;
        argl[nhead + 2 * i] = (size_t)fl;
        argv[nhead + 2 * i + 1] = set->v[i].value;
        argl[nhead + 2 * i + 1] = strlen(set->v[i].value);
    }
    *argv_out = argv;
    *argl_out = argl;
    *fields_out = fields;
    return 0;
}

static redisReply *eval_set(redisContext *c, const sw_threshold_set_t *set,
                            const char **head, size_t nhead, int *rc,
                            char *errstr, size_t errstr_size)
{
    const char **argv;
    size_t *argl;
    char *fields;
    if ((*rc = eval_argv(set, head, nhead, &argv, &argl, &fields))) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    redisReply *r = redisCommandArgv(c, (int)(nhead + 2 * set->n), argv, argl);
    free(argv);
    free(argl);
    free(fields);
    if (reply_err(c, r, "thresholds script", errstr, errstr_size)) {
        if (r)
            freeReplyObject(r);
        *rc = SW_ERR_REDIS;
        return NULL;
    }
    return r;
}

int sw_thresholds_seed(redisContext *c, const sw_th_keys_t *k,
                       const sw_threshold_set_t *set, const char *op,
                       const char *source, int *seeded, char *errstr,
                       size_t errstr_size)
{
    const char *head[] = {"EVAL",     seed_script, "3", k->hash,
                          k->version, k->audit,    op,  source};
    int rc;
    redisReply *r = eval_set(c, set, head, 8, &rc, errstr, errstr_size);
    if (r == NULL)
        return rc;
    *seeded = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return 0;
}

int sw_thresholds_commit(redisContext *c, const sw_th_keys_t *k,
                         uint64_t expect, const sw_threshold_set_t *to,
                         const char *action, const char *op, const char *note,
                         uint64_t *version, size_t *changed, char *errstr,
                         size_t errstr_size)
{
    char ev[24];
    snprintf(ev, sizeof(ev), "%llu", (unsigned long long)expect);
    const char *head[] = {"EVAL",     commit_script,    "3",       k->hash,
                          k->version, k->audit,         ev,        action,
                          op,         note ? note : "", k->channel};
    int rc;
    redisReply *r = eval_set(c, to, head, 11, &rc, errstr, errstr_size);
    if (r == NULL)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_INTEGER) {
        snprintf(errstr, errstr_size, "thresholds script: unexpected reply");
        freeReplyObject(r);
        return SW_ERR_REDIS;
    }
    long long n = r->element[0]->integer;
    *version = (uint64_t)r->element[1]->integer;
    freeReplyObject(r);
    if (n < 0) {
        snprintf(errstr, errstr_size,
                 "the thresholds changed meanwhile (now version %llu)",
                 (unsigned long long)*version);
        return SW_ERR_CONFLICT;
    }
    *changed = (size_t)n;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sw_thresholds_sections(redisContext *c, const sw_th_keys_t *k, char ***out,
                           char *errstr, size_t errstr_size)
{
    redisReply *r = redisCommand(c, "SMEMBERS %s", k->sections);
    if (reply_err(c, r, "SMEMBERS", errstr, errstr_size)) {
        if (r)
            freeReplyObject(r);
        return SW_ERR_REDIS;
    }
    size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    char **v = calloc(n + 1, sizeof(*v));
    if (v == NULL) {
        freeReplyObject(r);
        snprintf(errstr, errstr_size, "out of memory");
        return SW_ERR_NOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || !sw_section_valid(e->str, e->len))
            continue;
        if ((v[m] = strdup(e->str)) == NULL) {
            freeReplyObject(r);
            sw_strv_free(v);
            snprintf(errstr, errstr_size, "out of memory");
            return SW_ERR_NOMEM;
        }
        m++;
    }
    freeReplyObject(r);
    qsort(v, m, sizeof(*v), cmp_str);
    *out = v;
    return 0;
}

int sw_section_match(const char *p, const char *s)
{
    /* iterative glob with backtracking to the last '*' */
    const char *star = NULL, *mark = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            mark = s;
        } else if (*p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++mark;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}
