/*
 * surgewatch ctl: the operators' tool. Live thresholds (get, set, unset,
 * list, import, export, preview), silences, acknowledgements, the audit
 * log, the active alerts. Everything it changes goes through one Lua
 * script per change (config/sw_thresholds, alerts/sw_alert_log) that also
 * appends the audit entry, so no change is ever made without its record;
 * nothing here edits or trims the audit stream.
 */
#include "sw_alert_log.h"
#include "sw_alert_wire.h"
#include "sw_cmd.h"
#include "sw_cmd_settings.h"
#include "sw_compare.h"
#include "sw_config.h"
#include "sw_detector.h"
#include "sw_engine.h"
#include "sw_err.h"
#include "sw_event.h"
#include "sw_redis.h"
#include "sw_settings.h"
#include "sw_thresholds.h"
#include "sw_time.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define CMD "ctl"

static const char help[] =
    "usage: surgewatch ctl [OPTIONS] VERB [ARGS]\n"
    "\n"
    "The operators' tool: live detector thresholds, silences,\n"
    "acknowledgements and the audit log, all kept in Redis. Running\n"
    "workers apply a threshold change within a second, without a restart\n"
    "and keeping their windows. Every change is recorded in the audit log\n"
    "with who made it (--as, or the login name), when, and the old and new\n"
    "value.\n"
    "\n"
    "Thresholds (SCOPE is 'default', the profile every section inherits,\n"
    "a section id such as HU-RS, or a pattern such as 'HU-*' for every\n"
    "known section it matches; KEY is run, levels or DETECTOR.PARAMETER,\n"
    "as in the config file's [detectors] and [section ...]):\n"
    "  get SCOPE [KEY]            the effective value(s) and where each\n"
    "                             comes from (override, default, built-in)\n"
    "  set SCOPE KEY VALUE        change one setting; or several:\n"
    "  set SCOPE KEY=VALUE...       all checked before anything is written\n"
    "  unset SCOPE KEY...         back to what the scope inherits ('*':\n"
    "                             every setting of the scope)\n"
    "  list [PATTERN]             every known section with its effective\n"
    "                             settings; overrides are marked\n"
    "  export [-o FILE]           the thresholds as a config file\n"
    "  import FILE                make the thresholds those of FILE's\n"
    "                             [detectors], [alerts] levels and\n"
    "                             [section ...] (other sections ignored);\n"
    "                             settings FILE lacks go back to defaults\n"
    "  preview --set 'SCOPE KEY=VALUE'... | --file FILE  -e EVENTS\n"
    "                             run the current and the proposed\n"
    "                             thresholds over past events; print per\n"
    "                             section the alerts the change adds (+)\n"
    "                             and removes (-). Writes nothing\n"
    "\n"
    "Silences and acknowledgements:\n"
    "  silence add PATTERN --until TIME|DURATION --reason TEXT\n"
    "              [--detector NAME]\n"
    "                             hold back new alerts of the matching\n"
    "                             sections: logged (marked silenced), not\n"
    "                             published; still active when the silence\n"
    "                             ends, they are published then\n"
    "  silence list [--all]       active silences (--all: ended ones too)\n"
    "  silence expire ID          end a silence now\n"
    "  ack ALERT_ID [--note TEXT] acknowledge an active alert; published\n"
    "                             to subscribers as an update\n"
    "  alerts [PATTERN]           the active alerts (and the held ones)\n"
    "\n"
    "Audit:\n"
    "  audit [--section PATTERN] [--since TIME|DURATION] [--until TIME]\n"
    "        [--action ACTION] [--operator NAME] [--limit N]\n"
    "                             the changes, oldest first (--limit: the\n"
    "                             latest N that match; actions: seed,\n"
    "                             set, unset, import, silence.add,\n"
    "                             silence.expire, ack)\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE        [redis] settings, and the [windows] /\n"
    "                           [alerts] settings checks and previews use\n"
    "                           (env SURGEWATCH_CONFIG)\n" SW_REDIS_OPTIONS_HELP
    "      --as NAME            the operator recorded in the audit log\n"
    "                           (env SURGEWATCH_OPERATOR; default: the\n"
    "                           login name)\n"
    "      --new-section        set: accept a section no worker has seen\n"
    "                           yet\n"
    "      --dry-run            set, unset, import: check and show the\n"
    "                           changes, write nothing\n"
    "      --json               list, get, audit, silence list, alerts,\n"
    "                           preview: JSON lines\n"
    "  -o, --output FILE        export: write FILE instead of standard\n"
    "                           output\n"
    "  -h, --help               this text\n"
    "\n"
    "preview also takes backtest's event options: -e/--events FILE,\n"
    "-f/--format, --from, --to, --reorder, --partitions, --threads, -q.\n"
    "\n"
    "TIME is RFC 3339 (2026-11-22T18:00:00Z), a date (2026-11-23) or epoch\n"
    "milliseconds; DURATION a whole number with a unit (90m, 6h, 2d): from\n"
    "now for --until, back from now for --since.\n"
    "\n"
    "Exit status: 0 done; 1 refused by the current state (a silence that\n"
    "has ended, concurrent changes); 2 a bad argument, value or\n"
    "configuration (nothing was changed); 3 Redis unreachable, or it\n"
    "refused the login or a command (the message names Redis's error).\n"
    "\n"
    "Examples:\n"
    "  surgewatch ctl set HU-RS threshold.limit 40 --as anna\n"
    "  surgewatch ctl preview --set 'HU-RS threshold.limit=40' \\\n"
    "      -e events-march.jsonl --from 2026-03-01\n"
    "  surgewatch ctl silence add 'GR-*' --until 6h --reason 'exercise'\n"
    "  surgewatch ctl ack HU-RS:threshold:2026-11-22T00:00:00Z \\\n"
    "      --note 'units deployed'\n"
    "  surgewatch ctl audit --section HU-RS --since 7d\n";

enum { S_REDIS_URL, S_REDIS_PREFIX, S_REDIS_TIMEOUT, S__COUNT };
static const sw_opt_spec_t spec[S__COUNT] = {SW_REDIS_OPT_SPECS};

#define MAX_SETS 64

typedef struct ctl {
    sw_opt_value_t s[S__COUNT];
    int redis_timeout_ms;
    const char *config_path;
    sw_config_t *cfg;
    sw_settings_t base; /* the config file's settings (engine part used) */
    char op[SW_ACK_BY_MAX + 1];
    sw_th_keys_t thk;
    sw_alert_log_t *log; /* the Redis connection */
    redisContext *rc;    /* borrowed from log */
    /* options */
    int new_section, dry_run, json, all, quiet;
    int warned_no_config;
    const char *output, *until, *reason, *detector, *note, *since;
    const char *section, *action, *operator_filter, *file;
    unsigned long long limit;
    const char *sets[MAX_SETS];
    size_t nsets;
    const char *unsets[MAX_SETS];
    size_t nunsets;
    sw_compare_opts_t cmp;
} ctl_t;

/* ------------------------------------------------------------- helpers */

static void oom(void)
{
    fprintf(stderr, "surgewatch ctl: out of memory\n");
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("surgewatch ctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return SW_EXIT_USAGE;
}

/* TIME: RFC 3339, YYYY-MM-DD or epoch ms; DURATION relative to now
 * (sign: +1 ahead, -1 back). Returns 0 or -1. */
static int parse_when(const char *s, int sign, int64_t *ms)
{
    int64_t d;
    if (sw_parse_duration(s, &d) == 0) {
        *ms = sw_clock_now_ms() + sign * d;
        return 0;
    }
    size_t len = strlen(s);
    if (len == 10 && s[4] == '-' && s[7] == '-') {
        char buf[32];
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        return sw_time_parse_rfc3339(buf, strlen(buf), ms) ? -1 : 0;
    }
    if (sw_time_parse_rfc3339(s, len, ms) == 0)
        return 0;
    unsigned long long v;
    if (sw_parse_uint(s, 1, 253402300799999ULL, &v) == 0) {
        *ms = (int64_t)v;
        return 0;
    }
    return -1;
}

/* Text for the log, the hub and subscribers: valid UTF-8 (the hub refuses
 * anything else), no control characters. */
static int operator_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SW_ACK_BY_MAX || !sw_utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int text_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max || !sw_utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* 1 when s is a section pattern: section characters and '*'. */
static int pattern_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SW_SECTION_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_' ||
              c == '*'))
            return 0;
    }
    return 1;
}

static int is_pattern(const char *s)
{
    return strchr(s, '*') != NULL;
}

static int connect_redis(ctl_t *c)
{
    char err[512];
    if (c->log)
        return 0;
    c->log =
        sw_alert_log_new(c->s[S_REDIS_URL].value, c->s[S_REDIS_PREFIX].value,
                         c->redis_timeout_ms, err, sizeof(err));
    if (c->log == NULL) {
        char shown[600];
        sw_redact_url(c->s[S_REDIS_URL].value, shown, sizeof(shown));
        fprintf(stderr, "surgewatch ctl: Redis %s (%s): %s\n", shown,
                c->s[S_REDIS_URL].origin, err);
        return SW_EXIT_UNAVAILABLE;
    }
    c->rc = sw_alert_log_redis(c->log);
    return 0;
}

static int redis_error(const char *what, const char *err)
{
    fprintf(stderr, "surgewatch ctl: %s: %s\n", what, err);
    return SW_EXIT_UNAVAILABLE;
}

/* ---------------------------------------------------- thresholds state */

typedef struct known {
    char **v; /* sorted, NULL-terminated */
    size_t n;
} known_t;

static void known_free(known_t *k)
{
    sw_strv_free(k->v);
    k->v = NULL;
    k->n = 0;
}

static int known_has(const known_t *k, const char *s)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->v[i], s) == 0)
            return 1;
    return 0;
}

static int known_add(known_t *k, const char *s)
{
    if (known_has(k, s))
        return 0;
    char **nv = realloc(k->v, (k->n + 2) * sizeof(*nv));
    if (nv == NULL)
        return -1;
    k->v = nv;
    size_t i = k->n;
    while (i > 0 && strcmp(k->v[i - 1], s) > 0) {
        k->v[i] = k->v[i - 1];
        i--;
    }
    k->v[i] = strdup(s);
    if (k->v[i] == NULL)
        return -1;
    k->n++;
    k->v[k->n] = NULL;
    return 0;
}

/* The known sections: those the workers have seen, those with stored
 * thresholds, those of the config file. */
static int load_known(ctl_t *c, const sw_threshold_set_t *set, known_t *k)
{
    char err[256];
    char **v = NULL;
    if (sw_thresholds_sections(c->rc, &c->thk, &v, err, sizeof(err)))
        return redis_error("reading the known sections", err);
    k->v = v;
    for (k->n = 0; v[k->n]; k->n++)
        ;
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i].scope, SW_TH_SCOPE_DEFAULT) != 0 &&
            known_add(k, set->v[i].scope))
            goto nomem;
    /* the config file's sections, as sw_thresholds reads them (main
     * checked the file already) */
    sw_threshold_set_t file = {0};
    if (c->cfg)
        sw_thresholds_from_config(c->cfg, &file, NULL, err, sizeof(err));
    for (size_t i = 0; i < file.n; i++)
        if (strcmp(file.v[i].scope, SW_TH_SCOPE_DEFAULT) != 0 &&
            known_add(k, file.v[i].scope)) {
            sw_threshold_set_deinit(&file);
            goto nomem;
        }
    sw_threshold_set_deinit(&file);
    return 0;
nomem:
    oom();
    return SW_EXIT_REJECTED;
}

static void list_known(const known_t *k, FILE *f)
{
    if (k->n == 0) {
        fprintf(f, "(no section is known yet: no worker has counted an "
                   "event, and no thresholds name one)");
        return;
    }
    for (size_t i = 0; i < k->n && i < 40; i++)
        fprintf(f, "%s%s", i ? ", " : "", k->v[i]);
    if (k->n > 40)
        fprintf(f, ", ... (%zu in all)", k->n);
}

/* Stores set (the seed, version 0) as version 1, as a worker's first
 * start would. *seeded is 0 when another process seeded first. */
static int store_seed(ctl_t *c, const sw_threshold_set_t *set, int *seeded)
{
    char err[512];
    const char *src = c->config_path ? c->config_path : "built-in defaults";
    *seeded = 0;
    if (sw_thresholds_seed(c->rc, &c->thk, set, c->op, src, seeded, err,
                           sizeof(err)))
        return redis_error("storing the first thresholds", err);
    if (*seeded)
        fprintf(stderr,
                "surgewatch ctl: no thresholds were stored in Redis yet: "
                "stored those of %s as version 1\n",
                src);
    return 0;
}

/* Reads the stored thresholds. When nothing is stored yet, the seed (the
 * config file's thresholds, or the built-in defaults) is stored first; or,
 * with defer, only read into set (version 0): commit() stores it just
 * before the change, so that a refused change writes nothing at all, and
 * the verbs that only read (get, list, export, preview) never write. */
static int read_thresholds_ex(ctl_t *c, sw_threshold_set_t *set, int defer)
{
    char err[512];
    sw_threshold_set_deinit(set);
    if (sw_thresholds_read(c->rc, &c->thk, set, NULL, err, sizeof(err)))
        return redis_error("reading the thresholds", err);
    if (set->version > 0)
        return 0;
    sw_threshold_set_t seed = {0};
    if (c->cfg &&
        sw_thresholds_from_config(c->cfg, &seed, NULL, err, sizeof(err))) {
        sw_threshold_set_deinit(&seed);
        return usage_error("%s", err);
    }
    if (defer) {
        sw_threshold_set_deinit(set);
        *set = seed;
        set->version = 0;
        return 0;
    }
    int seeded;
    int rc = store_seed(c, &seed, &seeded);
    sw_threshold_set_deinit(&seed);
    if (rc)
        return rc;
    sw_threshold_set_deinit(set);
    if (sw_thresholds_read(c->rc, &c->thk, set, NULL, err, sizeof(err)))
        return redis_error("reading the thresholds", err);
    return 0;
}

static int read_thresholds(ctl_t *c, sw_threshold_set_t *set)
{
    return read_thresholds_ex(c, set, 0);
}

/* Checks `to` as the workers will: every value, then that a running
 * engine built with `from` can take it (the history it needs). */
static int validate(ctl_t *c, const sw_threshold_set_t *from,
                    const sw_threshold_set_t *to)
{
    char err[512];
    sw_settings_t a, b;
    int rc = SW_EXIT_OK;
    if (sw_thresholds_build(&c->base, to, &b, err, sizeof(err))) {
        sw_settings_deinit(&b);
        return usage_error("%s; nothing was changed", err);
    }
    if (c->cfg == NULL && !c->warned_no_config) {
        c->warned_no_config = 1;
        fprintf(stderr,
                "surgewatch ctl: note: no -c config: how much history the "
                "detectors may ask for is checked against the built-in "
                "[windows] settings; give the workers' config file to check "
                "against theirs (a worker refuses, and logs, a version it "
                "cannot hold)\n");
    }
    if (sw_thresholds_build(&c->base, from, &a, err, sizeof(err)) == 0) {
        sw_engine_t *e =
            sw_engine_new(&a.engine, &a.profiles, err, sizeof(err));
        if (e && sw_engine_set_profiles(e, &b.profiles, err, sizeof(err)))
            rc = usage_error("%s; nothing was changed", err);
        sw_engine_destroy(&e);
    }
    sw_settings_deinit(&a);
    sw_settings_deinit(&b);
    return rc;
}

/* Prints what differs between two sets: "SCOPE KEY: old -> new". */
static size_t print_diff(const sw_threshold_set_t *a,
                         const sw_threshold_set_t *b, FILE *f)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        const sw_threshold_t *x = &a->v[i];
        const sw_threshold_t *y = sw_threshold_set_find(b, x->scope, x->key);
        if (y == NULL) {
            fprintf(f, "  %s %s: %s -> (inherited)\n", x->scope, x->key,
                    x->value);
            n++;
        } else if (strcmp(x->value, y->value) != 0) {
            fprintf(f, "  %s %s: %s -> %s\n", x->scope, x->key, x->value,
                    y->value);
            n++;
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        const sw_threshold_t *y = &b->v[i];
        if (sw_threshold_set_find(a, y->scope, y->key) == NULL) {
            fprintf(f, "  %s %s: (inherited) -> %s\n", y->scope, y->key,
                    y->value);
            n++;
        }
    }
    return n;
}

/* Writes `to` if the store is still at from->version: validation,
 * commit, report. A concurrent change returns SW_ERR_CONFLICT (the caller
 * reads again and retries). */
static int commit(ctl_t *c, const sw_threshold_set_t *from,
                  const sw_threshold_set_t *to, const char *action,
                  const char *note, int *conflict)
{
    *conflict = 0;
    int rc = validate(c, from, to);
    if (rc)
        return rc;
    if (c->dry_run) {
        size_t n = print_diff(from, to, stdout);
        printf("dry run: %zu setting%s would change; nothing was written\n", n,
               n == 1 ? "" : "s");
        return SW_EXIT_OK;
    }
    uint64_t expect = from->version;
    if (expect == 0) { /* from is the seed, not stored yet */
        int seeded;
        if ((rc = store_seed(c, from, &seeded)))
            return rc;
        if (!seeded) {
            *conflict = 1;
            return SW_EXIT_REJECTED;
        }
        expect = 1;
    }
    char err[512];
    uint64_t version;
    size_t changed = 0;
    int e = sw_thresholds_commit(c->rc, &c->thk, expect, to, action, c->op,
                                 note, &version, &changed, err, sizeof(err));
    if (e == SW_ERR_CONFLICT) {
        *conflict = 1;
        return SW_EXIT_REJECTED;
    }
    if (e)
        return redis_error("writing the thresholds", err);
    if (changed == 0) {
        printf("no change: the thresholds already hold these values "
               "(version %llu)\n",
               (unsigned long long)version);
        return SW_EXIT_OK;
    }
    print_diff(from, to, stdout);
    printf("thresholds version %llu (%zu setting%s changed by %s); running "
           "workers apply it within a second\n",
           (unsigned long long)version, changed, changed == 1 ? "" : "s",
           c->op);
    return SW_EXIT_OK;
}

/* A change: a function that turns the current set into the wanted one. */
typedef int (*change_fn)(ctl_t *c, const sw_threshold_set_t *cur,
                         const known_t *known, sw_threshold_set_t *to,
                         void *arg);

static int copy_set(const sw_threshold_set_t *a, sw_threshold_set_t *b)
{
    sw_threshold_set_deinit(b);
    b->v = malloc((a->n ? a->n : 1) * sizeof(*b->v));
    if (b->v == NULL)
        return -1;
    if (a->n) /* a->v is NULL when a is empty */
        memcpy(b->v, a->v, a->n * sizeof(*b->v));
    b->n = a->n;
    b->cap = a->n ? a->n : 1;
    b->version = a->version;
    return 0;
}

#define CHANGE_ATTEMPTS 20

static int run_change(ctl_t *c, change_fn fn, void *arg, const char *action,
                      const char *note)
{
    srandom((unsigned)getpid() ^ (unsigned)sw_clock_now_ms());
    int rc = connect_redis(c);
    if (rc)
        return rc;
    for (int attempt = 0; attempt < CHANGE_ATTEMPTS; attempt++) {
        if (attempt > 0) {
            /* others are changing too: back off a random while, longer
             * each time, so that the writers do not meet again */
            long ms = 5 + (long)(random() % (20 * attempt + 1));
            struct timespec ts = {0, (ms > 500 ? 500 : ms) * 1000000L};
            nanosleep(&ts, NULL);
        }
        sw_threshold_set_t cur = {0}, to = {0};
        known_t known = {0};
        int conflict = 0;
        rc = read_thresholds_ex(c, &cur, 1);
        if (rc == 0)
            rc = load_known(c, &cur, &known);
        if (rc == 0 && copy_set(&cur, &to)) {
            oom();
            rc = SW_EXIT_REJECTED;
        }
        if (rc == 0)
            rc = fn(c, &cur, &known, &to, arg);
        if (rc == 0)
            rc = commit(c, &cur, &to, action, note, &conflict);
        sw_threshold_set_deinit(&cur);
        sw_threshold_set_deinit(&to);
        known_free(&known);
        if (!conflict)
            return rc;
    }
    fprintf(stderr,
            "surgewatch ctl: the thresholds kept changing under this "
            "change (%d attempts); nothing was written, try again\n",
            CHANGE_ATTEMPTS);
    return SW_EXIT_REJECTED;
}

/* The scopes SCOPE names: "default", one section, or the known sections
 * a pattern matches. */
static int expand_scope(ctl_t *c, const char *scope, const known_t *known,
                        const char ***out, size_t *n)
{
    static const char *one[1];
    if (strcmp(scope, SW_TH_SCOPE_DEFAULT) == 0) {
        one[0] = scope;
        *out = one;
        *n = 1;
        return 0;
    }
    if (!pattern_valid(scope) ||
        (!is_pattern(scope) && !sw_section_valid(scope, strlen(scope)))) {
        return usage_error(
            "\"%s\" is not a section (accepted: default, a section id such "
            "as HU-RS or HR-SI/karlovac, or a pattern such as 'HU-*' "
            "matching known sections); nothing was changed",
            scope);
    }
    if (!is_pattern(scope)) {
        if (!known_has(known, scope) && !c->new_section) {
            fprintf(stderr,
                    "surgewatch ctl: section %s is not known: no worker has "
                    "counted an event of it and no thresholds name it "
                    "(known: ",
                    scope);
            list_known(known, stderr);
            fprintf(stderr, "); add --new-section to set it anyway; nothing "
                            "was changed\n");
            return SW_EXIT_USAGE;
        }
        one[0] = scope;
        *out = one;
        *n = 1;
        return 0;
    }
    static const char *many[4096];
    size_t m = 0;
    for (size_t i = 0; i < known->n && m < 4096; i++)
        if (sw_section_match(scope, known->v[i]))
            many[m++] = known->v[i];
    if (m == 0) {
        fprintf(stderr,
                "surgewatch ctl: the pattern '%s' matches no known section "
                "(known: ",
                scope);
        list_known(known, stderr);
        fprintf(stderr, "); nothing was changed\n");
        return SW_EXIT_USAGE;
    }
    *out = many;
    *n = m;
    return 0;
}

/* "KEY=VALUE" or KEY VALUE pairs of set. */
typedef struct set_args {
    const char *scope;
    char keys[MAX_SETS][SW_TH_KEY_MAX];
    const char *values[MAX_SETS]; /* NULL: unset */
    size_t n;
} set_args_t;

static int check_key_syntax(const char *key)
{
    if (*key == '\0' || strlen(key) >= SW_TH_KEY_MAX || strchr(key, ' '))
        return usage_error("\"%s\" is not a setting (accepted: run, levels, "
                           "or DETECTOR.PARAMETER such as threshold.limit; "
                           "see docs/detectors.md)",
                           key);
    return 0;
}

static int apply_set(ctl_t *c, const sw_threshold_set_t *cur,
                     const known_t *known, sw_threshold_set_t *to, void *arg)
{
    (void)cur;
    set_args_t *a = arg;
    const char **scopes = NULL;
    size_t ns = 0;
    int rc = expand_scope(c, a->scope, known, &scopes, &ns);
    if (rc)
        return rc;
    char err[256];
    for (size_t s = 0; s < ns; s++) {
        for (size_t i = 0; i < a->n; i++) {
            if (a->values[i] == NULL && strcmp(a->keys[i], "*") == 0) {
                /* every setting of the scope */
                for (size_t j = to->n; j-- > 0;)
                    if (strcmp(to->v[j].scope, scopes[s]) == 0)
                        sw_threshold_set_put(to, scopes[s], to->v[j].key, NULL,
                                             err, sizeof(err));
                continue;
            }
            if (a->values[i] == NULL &&
                sw_threshold_set_find(to, scopes[s], a->keys[i]) == NULL &&
                ns == 1)
                return usage_error("%s has no %s of its own (it inherits "
                                   "it); nothing was changed",
                                   scopes[s], a->keys[i]);
            rc = sw_threshold_set_put(to, scopes[s], a->keys[i], a->values[i],
                                      err, sizeof(err));
            if (rc == SW_ERR_NOMEM) {
                oom();
                return SW_EXIT_REJECTED;
            }
            if (rc)
                return usage_error("%s; nothing was changed", err);
        }
    }
    return 0;
}

/* Notes a setting that will not take effect: a parameter of a detector
 * that does not run in that scope. */
static void warn_not_running(ctl_t *c, const set_args_t *a)
{
    sw_threshold_set_t cur = {0};
    if (read_thresholds(c, &cur)) {
        sw_threshold_set_deinit(&cur);
        return;
    }
    sw_settings_t st;
    char err[256];
    if (sw_thresholds_build(&c->base, &cur, &st, err, sizeof(err)) == 0 &&
        strcmp(a->scope, SW_TH_SCOPE_DEFAULT) != 0 && !is_pattern(a->scope)) {
        const sw_profile_t *p = &st.profiles.def;
        for (size_t i = 0; i < st.profiles.n; i++)
            if (strcmp(st.profiles.v[i].section, a->scope) == 0)
                p = &st.profiles.v[i].profile;
        for (size_t i = 0; i < a->n; i++) {
            const char *dot = strchr(a->keys[i], '.');
            if (a->values[i] == NULL || dot == NULL)
                continue;
            int k = sw_detector_lookup(a->keys[i], (size_t)(dot - a->keys[i]));
            if (k >= 0 && !p->enabled[k])
                fprintf(stderr,
                        "surgewatch ctl: note: %s does not run for %s, so "
                        "%s has no effect until it does (ctl get %s run)\n",
                        sw_detector_name((sw_detector_kind_t)k), a->scope,
                        a->keys[i], a->scope);
        }
    }
    sw_settings_deinit(&st);
    sw_threshold_set_deinit(&cur);
}

static int verb_set(ctl_t *c, int argc, char **argv, int unset)
{
    static set_args_t a;
    memset(&a, 0, sizeof(a));
    const char *verb = unset ? "unset" : "set";
    if (argc < 2)
        return usage_error(unset ? "unset: expected SCOPE KEY... (e.g. unset "
                                   "HU-RS threshold.limit)"
                                 : "set: expected SCOPE KEY VALUE or SCOPE "
                                   "KEY=VALUE... (e.g. set HU-RS "
                                   "threshold.limit 40)");
    a.scope = argv[0];
    if (!unset && argc == 3 && strchr(argv[1], '=') == NULL) {
        if (check_key_syntax(argv[1]))
            return SW_EXIT_USAGE;
        snprintf(a.keys[0], SW_TH_KEY_MAX, "%s", argv[1]);
        a.values[0] = argv[2];
        a.n = 1;
    } else {
        for (int i = 1; i < argc; i++) {
            if (a.n == MAX_SETS)
                return usage_error("%s: at most %d settings at once", verb,
                                   MAX_SETS);
            const char *eq = strchr(argv[i], '=');
            if (unset) {
                if (eq)
                    return usage_error("unset takes KEY, not KEY=VALUE "
                                       "('%s')",
                                       argv[i]);
                if (strcmp(argv[i], "*") && check_key_syntax(argv[i]))
                    return SW_EXIT_USAGE;
                snprintf(a.keys[a.n], SW_TH_KEY_MAX, "%s", argv[i]);
                a.values[a.n++] = NULL;
                continue;
            }
            if (eq == NULL)
                return usage_error("set: '%s' is not KEY=VALUE (use SCOPE "
                                   "KEY VALUE for one setting, or SCOPE "
                                   "KEY=VALUE... for several)",
                                   argv[i]);
            size_t kl = (size_t)(eq - argv[i]);
            if (kl == 0 || kl >= SW_TH_KEY_MAX)
                return usage_error("set: '%s': empty or overlong key", argv[i]);
            memcpy(a.keys[a.n], argv[i], kl);
            a.keys[a.n][kl] = '\0';
            if (check_key_syntax(a.keys[a.n]))
                return SW_EXIT_USAGE;
            a.values[a.n++] = eq + 1;
        }
    }
    for (size_t i = 0; i < a.n; i++)
        if (a.values[i] && *a.values[i] == '\0')
            return usage_error("set: %s: empty value (to go back to the "
                               "inherited value: ctl unset %s %s)",
                               a.keys[i], a.scope, a.keys[i]);
    int rc = run_change(c, apply_set, &a, verb, NULL);
    if (rc == 0 && !unset && !c->dry_run)
        warn_not_running(c, &a);
    return rc;
}

/* ---------------------------------------------------- get, list, export */

/* The INI name and the text of each parameter of a detector. */
static size_t param_texts(const sw_detector_params_t *p, char names[][24],
                          char values[][40])
{
    size_t n = 0;
#define D(nm, v)                                                               \
    do {                                                                       \
        snprintf(names[n], 24, "%s", nm);                                      \
        snprintf(values[n++], 40, "%.10g", (double)(v));                       \
    } while (0)
    switch (p->kind) {
    case SW_DET_THRESHOLD:
        D("window", p->window);
        D("limit", p->limit);
        D("min_count", p->min_count);
        break;
    case SW_DET_RATIO:
        D("window", p->window);
        D("k", p->k);
        D("ratio", p->ratio);
        D("min_count", p->min_count);
        break;
    case SW_DET_EARS_C1:
    case SW_DET_EARS_C2:
    case SW_DET_EARS_C3:
        D("baseline", p->baseline);
        D("alpha", p->alpha);
        D("min_sigma", p->min_sigma);
        D("min_count", p->min_count);
        break;
    case SW_DET_CUSUM:
        D("k", p->cusum_k);
        D("h", p->cusum_h);
        D("baseline", p->baseline);
        D("history", p->history);
        D("guard", p->guard);
        snprintf(names[n], 24, "reset");
        snprintf(values[n++], 40, "%s",
                 p->reset_after_alarm ? "true" : "false");
        D("min_mean", p->min_mean);
        D("min_count", p->min_count);
        break;
    case SW_DET_EWMA:
        D("lambda", p->lambda);
        D("baseline", p->baseline);
        D("history", p->history);
        D("guard", p->guard);
        D("alpha", p->alpha);
        D("min_sigma", p->min_sigma);
        D("min_count", p->min_count);
        break;
    default:
        break;
    }
#undef D
    return n;
}

/* One effective setting of a scope. */
typedef struct eff {
    char key[SW_TH_KEY_MAX];
    char value[SW_TH_VALUE_MAX];
    const char *source; /* override, default, built-in */
} eff_t;

/* The effective settings of a scope: run, levels, and the parameters of
 * every detector that runs (all detectors with all = 1). */
static size_t effective(const sw_threshold_set_t *set, const sw_profile_t *p,
                        const char *scope, int all, eff_t *out, size_t cap)
{
    size_t n = 0;
    int is_default = strcmp(scope, SW_TH_SCOPE_DEFAULT) == 0;
#define SOURCE(e)                                                              \
    do {                                                                       \
        const sw_threshold_t *t_ =                                             \
            sw_threshold_set_find(set, scope, (e)->key);                       \
        if (t_ && !is_default) {                                               \
            (e)->source = "override";                                          \
            snprintf((e)->value, sizeof((e)->value), "%s", t_->value);         \
        } else if (t_) {                                                       \
            (e)->source = "default";                                           \
            snprintf((e)->value, sizeof((e)->value), "%s", t_->value);         \
        } else if (sw_threshold_set_find(set, SW_TH_SCOPE_DEFAULT,             \
                                         (e)->key)) {                          \
            (e)->source = "default";                                           \
        } else {                                                               \
            (e)->source = "built-in";                                          \
        }                                                                      \
    } while (0)
    eff_t *e = &out[n++];
    snprintf(e->key, sizeof(e->key), "run");
    size_t l = 0;
    e->value[0] = '\0';
    for (int k = 0; k < SW_DET__COUNT; k++)
        if (p->enabled[k])
            l += (size_t)snprintf(e->value + l, sizeof(e->value) - l, "%s%s",
                                  l ? ", " : "",
                                  sw_detector_name((sw_detector_kind_t)k));
    SOURCE(e);
    e = &out[n++];
    snprintf(e->key, sizeof(e->key), "levels");
    snprintf(e->value, sizeof(e->value), "%g, %g, %g", p->levels[0],
             p->levels[1], p->levels[2]);
    SOURCE(e);
    for (int k = 0; k < SW_DET__COUNT; k++) {
        if (!p->enabled[k] && !all)
            continue;
        char names[10][24], values[10][40];
        size_t m = param_texts(&p->params[k], names, values);
        for (size_t i = 0; i < m && n < cap; i++) {
            e = &out[n++];
            snprintf(e->key, sizeof(e->key), "%s.%s",
                     sw_detector_name((sw_detector_kind_t)k), names[i]);
            snprintf(e->value, sizeof(e->value), "%s", values[i]);
            SOURCE(e);
        }
    }
#undef SOURCE
    return n;
}

static const sw_profile_t *profile_of(const sw_settings_t *st,
                                      const char *scope)
{
    for (size_t i = 0; i < st->profiles.n; i++)
        if (strcmp(st->profiles.v[i].section, scope) == 0)
            return &st->profiles.v[i].profile;
    return &st->profiles.def;
}

static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_scope(ctl_t *c, const sw_threshold_set_t *set,
                        const sw_settings_t *st, const char *scope,
                        const char *only_key)
{
    static eff_t e[128];
    size_t n = effective(set, profile_of(st, scope), scope,
                         c->all || only_key != NULL, e, 128);
    if (c->json) {
        printf("{\"scope\":");
        json_string(scope);
        printf(",\"version\":%llu,\"settings\":[",
               (unsigned long long)set->version);
        int first = 1;
        for (size_t i = 0; i < n; i++) {
            if (only_key && strcmp(e[i].key, only_key))
                continue;
            printf("%s{\"key\":", first ? "" : ",");
            json_string(e[i].key);
            printf(",\"value\":");
            json_string(e[i].value);
            printf(",\"source\":\"%s\"}", e[i].source);
            first = 0;
        }
        printf("]}\n");
        return;
    }
    if (only_key == NULL)
        printf("%s\n", scope);
    for (size_t i = 0; i < n; i++) {
        if (only_key && strcmp(e[i].key, only_key))
            continue;
        int mark = strcmp(e[i].source, "override") == 0;
        if (only_key)
            printf("%s %s = %s  (%s)\n", scope, e[i].key, e[i].value,
                   e[i].source);
        else
            printf("  %c %-22s = %-24s (%s)\n", mark ? '*' : ' ', e[i].key,
                   e[i].value, e[i].source);
    }
}

static int verb_get_list(ctl_t *c, int argc, char **argv, int list)
{
    if (list ? argc > 1 : (argc < 1 || argc > 2))
        return usage_error(list ? "list: expected at most a PATTERN"
                                : "get: expected SCOPE [KEY] (e.g. get HU-RS "
                                  "threshold.limit)");
    const char *scope = argc > 0 ? argv[0] : NULL;
    const char *key = !list && argc > 1 ? argv[1] : NULL;
    if (scope && strcmp(scope, SW_TH_SCOPE_DEFAULT) && !pattern_valid(scope))
        return usage_error("\"%s\" is not a section or pattern (accepted: "
                           "default, HU-RS, 'HU-*')",
                           scope);
    int rc = connect_redis(c);
    if (rc)
        return rc;
    sw_threshold_set_t set = {0};
    known_t known = {0};
    sw_settings_t st;
    char err[512];
    sw_settings_default(&st);
    if ((rc = read_thresholds_ex(c, &set, 1)) ||
        (rc = load_known(c, &set, &known)))
        goto out;
    sw_settings_deinit(&st);
    if (sw_thresholds_build(&c->base, &set, &st, err, sizeof(err))) {
        fprintf(stderr,
                "surgewatch ctl: the stored thresholds (version %llu) are "
                "not valid: %s\n",
                (unsigned long long)set.version, err);
        rc = SW_EXIT_REJECTED;
        goto out;
    }
    if (key) {
        static eff_t e[128];
        size_t n = effective(&set, &st.profiles.def, "default", 1, e, 128);
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= strcmp(e[i].key, key) == 0;
        if (!found) {
            rc = usage_error("\"%s\" is not a setting (accepted: run, levels, "
                             "or DETECTOR.PARAMETER such as threshold.limit, "
                             "ears_c2.alpha; `ctl get default` lists them)",
                             key);
            goto out;
        }
    }
    if (!c->json && list)
        printf("thresholds version %llu (* = set for the section itself)\n",
               (unsigned long long)set.version);
    int matched = 0;
    if (scope == NULL || strcmp(scope, SW_TH_SCOPE_DEFAULT) == 0 ||
        (list && sw_section_match(scope, SW_TH_SCOPE_DEFAULT))) {
        print_scope(c, &set, &st, SW_TH_SCOPE_DEFAULT, key);
        matched = 1;
    }
    if (scope == NULL || strcmp(scope, SW_TH_SCOPE_DEFAULT) != 0) {
        for (size_t i = 0; i < known.n; i++) {
            if (scope && !sw_section_match(scope, known.v[i]))
                continue;
            print_scope(c, &set, &st, known.v[i], key);
            matched = 1;
        }
        if (!matched && scope && !is_pattern(scope) &&
            sw_section_valid(scope, strlen(scope))) {
            /* a section nobody has seen: what it would get */
            print_scope(c, &set, &st, scope, key);
            fprintf(stderr,
                    "surgewatch ctl: note: section %s is not known "
                    "yet (no events counted); shown with what it "
                    "would inherit\n",
                    scope);
            matched = 1;
        }
    }
    if (!matched) {
        fprintf(stderr,
                "surgewatch ctl: '%s' matches no known section "
                "(known: ",
                scope);
        list_known(&known, stderr);
        fprintf(stderr, ")\n");
        rc = SW_EXIT_USAGE;
    }
out:
    sw_settings_deinit(&st);
    sw_threshold_set_deinit(&set);
    known_free(&known);
    return rc;
}

static int verb_export(ctl_t *c, int argc)
{
    if (argc > 0)
        return usage_error("export: no arguments expected (-o FILE writes a "
                           "file)");
    int rc = connect_redis(c);
    if (rc)
        return rc;
    sw_threshold_set_t set = {0};
    if ((rc = read_thresholds_ex(c, &set, 1))) {
        sw_threshold_set_deinit(&set);
        return rc;
    }
    FILE *f = stdout;
    if (c->output && (f = fopen(c->output, "w")) == NULL) {
        fprintf(stderr, "surgewatch ctl: %s: cannot write: %s\n", c->output,
                strerror(errno));
        sw_threshold_set_deinit(&set);
        return SW_EXIT_USAGE;
    }
    char now[SW_TIME_STR_MAX];
    if (set.version == 0)
        fprintf(f,
                "; surgewatch thresholds, not stored in Redis yet (key "
                "%s): those a worker or ctl will store on first use, "
                "from %s\n",
                c->thk.hash,
                c->config_path ? c->config_path : "the built-in defaults");
    else
        fprintf(f,
                "; surgewatch thresholds, version %llu, exported %s from "
                "Redis key %s\n; `surgewatch ctl import FILE` makes them "
                "the live thresholds again\n",
                (unsigned long long)set.version,
                sw_time_format(sw_clock_now_ms(), now), c->thk.hash);
    const char *scope = NULL;
    for (size_t i = 0; i < set.n; i++) {
        if (scope == NULL || strcmp(scope, set.v[i].scope)) {
            scope = set.v[i].scope;
            if (strcmp(scope, SW_TH_SCOPE_DEFAULT) == 0)
                fprintf(f, "\n[detectors]\n");
            else
                fprintf(f, "\n[section %s]\n", scope);
        }
        fprintf(f, "%s = %s\n", set.v[i].key, set.v[i].value);
    }
    if (set.n == 0)
        fprintf(f, "\n; (no settings: every section runs the built-in "
                   "defaults)\n[detectors]\n");
    int werr = ferror(f);
    if (f != stdout && fclose(f) != 0)
        werr = 1;
    if (werr) {
        fprintf(stderr, "surgewatch ctl: %s: write error\n",
                c->output ? c->output : "standard output");
        rc = SW_EXIT_REJECTED;
    } else if (c->output) {
        fprintf(stderr,
                "surgewatch ctl: wrote %zu settings (version %llu) "
                "to %s\n",
                set.n, (unsigned long long)set.version, c->output);
    }
    sw_threshold_set_deinit(&set);
    return rc;
}

typedef struct import_args {
    sw_threshold_set_t set;
} import_args_t;

static int apply_import(ctl_t *c, const sw_threshold_set_t *cur,
                        const known_t *known, sw_threshold_set_t *to, void *arg)
{
    (void)c;
    (void)cur;
    (void)known;
    import_args_t *a = arg;
    uint64_t v = to->version;
    if (copy_set(&a->set, to)) {
        oom();
        return SW_EXIT_REJECTED;
    }
    to->version = v;
    return 0;
}

/* Checks the values of a file's threshold settings as sw_settings_load
 * does, so that a bad one is named by FILE:LINE. */
static int check_file_values(const ctl_t *c, const sw_config_t *f, char *err,
                             size_t errsize)
{
    sw_config_t *t = sw_config_new(f->path);
    int rc = t ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < f->n; i++) {
        const sw_config_entry_t *en = &f->e[i];
        if (strcmp(en->section, "detectors") == 0 ||
            strncmp(en->section, "section ", 8) == 0 ||
            (strcmp(en->section, "alerts") == 0 &&
             strcmp(en->key, "levels") == 0))
            rc = sw_config_add(t, en->section, en->key, en->value, en->line);
    }
    if (rc) {
        snprintf(err, errsize, "out of memory");
        sw_config_destroy(&t);
        return -1;
    }
    sw_settings_t st;
    sw_settings_default(&st);
    st.engine = c->base.engine;
    st.profiles.strict = c->base.profiles.strict;
    rc = sw_settings_load(t, &st, err, errsize);
    sw_settings_deinit(&st);
    sw_config_destroy(&t);
    return rc;
}

static int load_file_set(const ctl_t *c, const char *path,
                         sw_threshold_set_t *set, size_t *skipped)
{
    char err[512];
    sw_config_t *f = sw_config_load(path, err, sizeof(err));
    if (f == NULL)
        return usage_error("%s; nothing was changed", err);
    int rc = sw_thresholds_from_config(f, set, skipped, err, sizeof(err));
    if (rc == 0)
        rc = check_file_values(c, f, err, sizeof(err));
    sw_config_destroy(&f);
    if (rc)
        return usage_error("%s; nothing was changed", err);
    return 0;
}

static int verb_import(ctl_t *c, int argc, char **argv)
{
    if (argc != 1)
        return usage_error("import: expected one FILE (a config file; its "
                           "[detectors], [alerts] levels and [section ...] "
                           "are read)");
    import_args_t a = {0};
    size_t skipped = 0;
    int rc = load_file_set(c, argv[0], &a.set, &skipped);
    if (rc == 0) {
        if (skipped)
            fprintf(stderr,
                    "surgewatch ctl: %s: %zu setting%s of other sections "
                    "([kafka], [windows], ...) ignored: not thresholds\n",
                    argv[0], skipped, skipped == 1 ? "" : "s");
        rc = run_change(c, apply_import, &a, "import", argv[0]);
    }
    sw_threshold_set_deinit(&a.set);
    return rc;
}

/* ------------------------------------------------------------- preview */

static int verb_preview(ctl_t *c, int argc, char **argv)
{
    (void)argv;
    if (argc > 0)
        return usage_error("preview: unexpected argument '%s' (the changes "
                           "go in --set 'SCOPE KEY=VALUE', --unset 'SCOPE "
                           "KEY' or --file FILE; the events in -e FILE)",
                           argv[0]);
    if (c->nsets + c->nunsets == 0 && c->file == NULL)
        return usage_error("preview: nothing proposed (give --set 'SCOPE "
                           "KEY=VALUE', --unset 'SCOPE KEY' or --file "
                           "FILE)");
    if (c->file && c->nsets + c->nunsets)
        return usage_error("preview: --file replaces every threshold; it "
                           "does not combine with --set/--unset");
    int rc = connect_redis(c);
    if (rc)
        return rc;
    sw_threshold_set_t cur = {0}, to = {0};
    known_t known = {0};
    sw_settings_t a, b;
    char err[512];
    sw_settings_default(&a);
    sw_settings_default(&b);
    if ((rc = read_thresholds_ex(c, &cur, 1)) ||
        (rc = load_known(c, &cur, &known)))
        goto out;
    if (c->file) {
        if ((rc = load_file_set(c, c->file, &to, NULL)))
            goto out;
    } else if (copy_set(&cur, &to)) {
        oom();
        rc = SW_EXIT_REJECTED;
        goto out;
    }
    for (size_t i = 0; i < c->nsets + c->nunsets; i++) {
        int unset = i >= c->nsets;
        const char *arg = unset ? c->unsets[i - c->nsets] : c->sets[i];
        static set_args_t sa;
        memset(&sa, 0, sizeof(sa));
        char scope[SW_TH_SCOPE_MAX + 16];
        const char *sp = strchr(arg, ' ');
        const char *eq = strchr(arg, '=');
        if (sp == NULL || (size_t)(sp - arg) >= sizeof(scope) ||
            (!unset && (eq == NULL || eq < sp)) || (unset && eq)) {
            rc = usage_error(unset ? "--unset '%s': expected 'SCOPE KEY'"
                                   : "--set '%s': expected 'SCOPE "
                                     "KEY=VALUE' (e.g. 'HU-RS "
                                     "threshold.limit=40')",
                             arg);
            goto out;
        }
        memcpy(scope, arg, (size_t)(sp - arg));
        scope[sp - arg] = '\0';
        sa.scope = scope;
        const char *k = sp + 1;
        size_t kl = unset ? strlen(k) : (size_t)(eq - k);
        if (kl == 0 || kl >= SW_TH_KEY_MAX) {
            rc = usage_error("'%s': empty or overlong key", arg);
            goto out;
        }
        memcpy(sa.keys[0], k, kl);
        sa.keys[0][kl] = '\0';
        if ((rc = check_key_syntax(sa.keys[0])))
            goto out;
        sa.values[0] = unset ? NULL : eq + 1;
        if (!unset && *sa.values[0] == '\0') {
            rc = usage_error("--set '%s': empty value", arg);
            goto out;
        }
        sa.n = 1;
        if ((rc = apply_set(c, &cur, &known, &to, &sa)))
            goto out;
    }
    if ((rc = validate(c, &cur, &to)))
        goto out;
    if (sw_thresholds_build(&c->base, &cur, &a, err, sizeof(err)) ||
        sw_thresholds_build(&c->base, &to, &b, err, sizeof(err))) {
        rc = usage_error("%s", err);
        goto out;
    }
    if (!c->cmp.quiet || !c->json) {
        fprintf(stderr, "preview: thresholds version %llu against:\n",
                (unsigned long long)cur.version);
        if (print_diff(&cur, &to, stderr) == 0)
            fprintf(stderr, "  (no setting differs)\n");
    }
    c->cmp.json = c->json;
    rc = sw_backtest_compare(&c->cmp, &a, &b);
out:
    sw_settings_deinit(&a);
    sw_settings_deinit(&b);
    sw_threshold_set_deinit(&cur);
    sw_threshold_set_deinit(&to);
    known_free(&known);
    return rc;
}

/* ------------------------------------------------------------ silences */

static int verb_silence_add(ctl_t *c, int argc, char **argv)
{
    if (argc != 1)
        return usage_error("silence add: expected one PATTERN (a section or "
                           "a pattern such as 'GR-*'), then --until and "
                           "--reason");
    const char *pattern = argv[0];
    if (!pattern_valid(pattern) ||
        (!is_pattern(pattern) && !sw_section_valid(pattern, strlen(pattern))))
        return usage_error("silence add: \"%s\" is not a section or pattern "
                           "(accepted: a section id such as HU-RS, or a "
                           "pattern with '*' such as 'HU-*', '*/karlovac'); "
                           "nothing was changed",
                           pattern);
    if (c->until == NULL)
        return usage_error("silence add: --until TIME|DURATION is required "
                           "(e.g. --until 6h, --until "
                           "2026-11-23T06:00:00Z)");
    int64_t until;
    if (parse_when(c->until, 1, &until))
        return usage_error("silence add: --until '%s': not a time or "
                           "duration (accepted: RFC 3339, YYYY-MM-DD, epoch "
                           "ms, or a duration from now such as 90m, 6h, "
                           "2d)",
                           c->until);
    int64_t now = sw_clock_now_ms();
    char ts[SW_TIME_STR_MAX], tn[SW_TIME_STR_MAX];
    if (until <= now)
        return usage_error("silence add: --until %s is in the past (now is "
                           "%s); nothing was changed",
                           sw_time_format(until, ts), sw_time_format(now, tn));
    if (until - now > 90 * SW_MS_PER_DAY)
        return usage_error("silence add: --until %s is more than 90 days "
                           "ahead (accepted: up to 90d); nothing was changed",
                           sw_time_format(until, ts));
    if (c->reason == NULL || *c->reason == '\0')
        return usage_error("silence add: --reason TEXT is required (it is "
                           "shown to whoever wonders why alerts are held)");
    if (!text_valid(c->reason, 200))
        return usage_error("silence add: --reason: accepted: up to 200 "
                           "bytes of UTF-8 text without control "
                           "characters");
    const char *det = c->detector ? c->detector : "*";
    if (strcmp(det, "*") != 0 && sw_detector_lookup(det, strlen(det)) < 0)
        return usage_error("silence add: --detector %s: unknown detector "
                           "(accepted: threshold, ratio, ears_c1, ears_c2, "
                           "ears_c3, cusum, ewma, or * for all); nothing was "
                           "changed",
                           det);
    int rc = connect_redis(c);
    if (rc)
        return rc;
    known_t known = {0};
    sw_threshold_set_t set = {0};
    char err[512];
    if (sw_thresholds_read(c->rc, &c->thk, &set, NULL, err, sizeof(err))) {
        sw_threshold_set_deinit(&set);
        return redis_error("reading the thresholds", err);
    }
    rc = load_known(c, &set, &known);
    sw_threshold_set_deinit(&set);
    if (rc)
        return rc;
    size_t matches = 0;
    for (size_t i = 0; i < known.n; i++)
        matches += (size_t)sw_section_match(pattern, known.v[i]);
    if (matches == 0) {
        fprintf(stderr,
                "surgewatch ctl: silence add: '%s' matches no known section "
                "(known: ",
                pattern);
        list_known(&known, stderr);
        fprintf(stderr, "); nothing was changed\n");
        known_free(&known);
        return SW_EXIT_USAGE;
    }
    known_free(&known);
    char desc[256], id[32];
    snprintf(desc, sizeof(desc), "detector=%s until=%s", det,
             sw_time_format(until, ts));
    int e =
        sw_alert_log_silence_add(c->log, pattern, det, until, c->reason, c->op,
                                 desc, id, sizeof(id), err, sizeof(err));
    if (e == SW_ERR_RANGE)
        return usage_error("silence add: %s; nothing was changed", err);
    if (e)
        return redis_error("adding the silence", err);
    printf("silence %s: %s, detector %s, until %s (%zu known section%s "
           "match), by %s\n",
           id, pattern, det, ts, matches, matches == 1 ? "" : "s", c->op);
    return SW_EXIT_OK;
}

typedef struct silence {
    char id[32], sections[64], detector[32], reason[256], by[80], ended_by[80];
    int64_t until, created, ended;
    unsigned long n;
} silence_t;

static const char *jstr(yajl_val o, const char *k)
{
    const char *path[] = {k, NULL};
    yajl_val v = yajl_tree_get(o, path, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : "";
}

static int64_t jint(yajl_val o, const char *k)
{
    const char *path[] = {k, NULL};
    yajl_val v = yajl_tree_get(o, path, yajl_t_number);
    return v ? (YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v)
                                   : (int64_t)YAJL_GET_DOUBLE(v))
             : 0;
}

static int cmp_silence(const void *a, const void *b)
{
    const silence_t *x = a, *y = b;
    return x->n < y->n ? -1 : x->n > y->n;
}

static int verb_silence_list(ctl_t *c, int argc)
{
    if (argc > 0)
        return usage_error("silence list: no arguments expected (--all "
                           "shows ended silences too)");
    int rc = connect_redis(c);
    if (rc)
        return rc;
    char err[256];
    char key[600];
    snprintf(key, sizeof(key), "%s:silences", c->s[S_REDIS_PREFIX].value);
    redisReply *r = redisCommand(c->rc, "HGETALL %s", key);
    if (sw_redis_reply_error(c->rc, r, "HGETALL", err, sizeof(err))) {
        if (r)
            freeReplyObject(r);
        return redis_error("reading the silences", err);
    }
    size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
    silence_t *v = calloc(n ? n : 1, sizeof(*v));
    if (v == NULL) {
        freeReplyObject(r);
        oom();
        return SW_EXIT_REJECTED;
    }
    size_t m = 0;
    int64_t now = sw_clock_now_ms();
    for (size_t i = 0; i < n; i++) {
        const redisReply *val = r->element[2 * i + 1];
        char perr[64];
        yajl_val o = yajl_tree_parse(val->str, perr, sizeof(perr));
        if (o == NULL)
            continue;
        silence_t *s = &v[m];
        snprintf(s->id, sizeof(s->id), "%s", jstr(o, "id"));
        snprintf(s->sections, sizeof(s->sections), "%s", jstr(o, "sections"));
        snprintf(s->detector, sizeof(s->detector), "%s", jstr(o, "detector"));
        snprintf(s->reason, sizeof(s->reason), "%s", jstr(o, "reason"));
        snprintf(s->by, sizeof(s->by), "%s", jstr(o, "created_by"));
        snprintf(s->ended_by, sizeof(s->ended_by), "%s", jstr(o, "ended_by"));
        s->until = jint(o, "until");
        s->created = jint(o, "created");
        s->ended = jint(o, "ended");
        s->n = strtoul(s->id + 1, NULL, 10);
        yajl_tree_free(o);
        if (s->ended == 0 && s->until <= now)
            s->ended = s->until; /* over; a worker records it shortly */
        if (s->ended && !c->all)
            continue;
        m++;
    }
    freeReplyObject(r);
    qsort(v, m, sizeof(*v), cmp_silence);
    if (!c->json)
        printf("%-6s %-7s %-16s %-9s %-24s %-16s %s\n", "ID", "STATE",
               "SECTIONS", "DETECTOR", "UNTIL", "BY", "REASON");
    for (size_t i = 0; i < m; i++) {
        silence_t *s = &v[i];
        char tu[SW_TIME_STR_MAX], tc[SW_TIME_STR_MAX], te[SW_TIME_STR_MAX];
        sw_time_format(s->until, tu);
        sw_time_format(s->created, tc);
        sw_time_format(s->ended, te);
        if (c->json) {
            printf("{\"id\":");
            json_string(s->id);
            printf(",\"state\":\"%s\",\"sections\":",
                   s->ended ? "ended" : "active");
            json_string(s->sections);
            printf(",\"detector\":");
            json_string(s->detector);
            printf(",\"until\":\"%s\",\"created\":\"%s\",\"created_by\":", tu,
                   tc);
            json_string(s->by);
            printf(",\"reason\":");
            json_string(s->reason);
            if (s->ended) {
                printf(",\"ended\":\"%s\",\"ended_by\":", te);
                json_string(s->ended_by);
            }
            printf("}\n");
        } else {
            printf("%-6s %-7s %-16s %-9s %-24s %-16s %s\n", s->id,
                   s->ended ? "ended" : "active", s->sections, s->detector, tu,
                   s->by, s->reason);
        }
    }
    if (!c->json && m == 0)
        printf("(no %ssilences)\n", c->all ? "" : "active ");
    free(v);
    return SW_EXIT_OK;
}

static int verb_silence_expire(ctl_t *c, int argc, char **argv)
{
    if (argc != 1)
        return usage_error("silence expire: expected one silence ID (e.g. "
                           "s3; `ctl silence list` shows them)");
    const char *id = argv[0];
    unsigned long long n;
    if (id[0] != 's' || sw_parse_uint(id + 1, 1, 1000000000000ULL, &n))
        return usage_error("silence expire: \"%s\" is not a silence id "
                           "(accepted: s followed by a number, e.g. s3)",
                           id);
    int rc = connect_redis(c);
    if (rc)
        return rc;
    char err[256];
    int ended = 0, published = 0;
    int e = sw_alert_log_release(c->log, id, c->op, c->note, &ended, &published,
                                 err, sizeof(err));
    if (e == SW_ERR_NOTFOUND)
        return usage_error("silence expire: %s (`ctl silence list --all` "
                           "shows them); nothing was changed",
                           err);
    if (e == SW_ERR_INVAL) {
        fprintf(stderr, "surgewatch ctl: silence expire: %s\n", err);
        return SW_EXIT_REJECTED;
    }
    if (e)
        return redis_error("expiring the silence", err);
    printf("silence %s expired by %s; %d held alert%s published\n", id, c->op,
           published, published == 1 ? "" : "s");
    return SW_EXIT_OK;
}

/* ----------------------------------------------------------------- ack */

static int verb_ack(ctl_t *c, int argc, char **argv)
{
    if (argc != 1)
        return usage_error("ack: expected one ALERT_ID (`ctl alerts` lists "
                           "the active ones)");
    const char *id = argv[0];
    if (*id == '\0' || strlen(id) >= SW_ALERT_ID_MAX)
        return usage_error("ack: \"%s\" is not an alert id (accepted: "
                           "SECTION:DETECTOR:START as `ctl alerts` shows)",
                           id);
    if (c->note && !text_valid(c->note, SW_ACK_NOTE_MAX))
        return usage_error("ack: --note: accepted: up to %d bytes of UTF-8 "
                           "text without control characters",
                           SW_ACK_NOTE_MAX);
    int rc = connect_redis(c);
    if (rc)
        return rc;
    char err[512], section[64] = "";
    uint64_t seq = 0;
    int e = sw_alert_log_ack(c->log, id, c->op, c->note ? c->note : "", &seq,
                             section, sizeof(section), err, sizeof(err));
    if (e == SW_ERR_NOTFOUND)
        return usage_error("ack: %s; nothing was changed", err);
    if (e)
        return redis_error("acknowledging", err);
    if (seq)
        printf("acknowledged %s (%s) by %s; published as seq %llu\n", id,
               section, c->op, (unsigned long long)seq);
    else
        printf("acknowledged %s (%s) by %s; the alert is held by a silence: "
               "subscribers get it, acknowledged, when the silence ends\n",
               id, section, c->op);
    return SW_EXIT_OK;
}

/* -------------------------------------------------------------- alerts */

static int verb_alerts(ctl_t *c, int argc, char **argv)
{
    if (argc > 1)
        return usage_error("alerts: expected at most a PATTERN");
    const char *pattern = argc ? argv[0] : "*";
    if (!pattern_valid(pattern))
        return usage_error("alerts: \"%s\" is not a section pattern", pattern);
    int rc = connect_redis(c);
    if (rc)
        return rc;
    char err[256];
    const char *pfx = c->s[S_REDIS_PREFIX].value;
    if (!c->json)
        printf("%-8s %-8s %-14s %-9s %-8s %-20s %s\n", "SEQ", "STATE",
               "SECTION", "DETECTOR", "LEVEL", "ACKED BY", "ALERT ID");
    size_t shown = 0;
    for (int held = 0; held < 2; held++) {
        redisReply *r = redisCommand(c->rc, "HGETALL %s:alerts:%s", pfx,
                                     held ? "held" : "active");
        if (sw_redis_reply_error(c->rc, r, "HGETALL", err, sizeof(err))) {
            if (r)
                freeReplyObject(r);
            return redis_error("reading the alerts", err);
        }
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const char *v = r->element[i + 1]->str;
            char sid[32] = "";
            if (held) {
                const char *sp = strchr(v, ' ');
                if (sp == NULL || (size_t)(sp - v) >= sizeof(sid))
                    continue;
                memcpy(sid, v, (size_t)(sp - v));
                sid[sp - v] = '\0';
                v = sp + 1;
            }
            sw_wire_alert_t w;
            if (sw_alert_from_json(v, strlen(v), &w, err, sizeof(err)))
                continue;
            if (!sw_section_match(pattern, w.a.section))
                continue;
            shown++;
            if (c->json) {
                static char j[SW_WIRE_JSON_MAX];
                size_t n = sw_wire_alert_to_json(&w, j, sizeof(j));
                if (n == 0)
                    continue;
                if (held)
                    printf("{\"held_by\":\"%s\",%s\n", sid, j + 1);
                else
                    printf("%s\n", j);
                continue;
            }
            char seq[32];
            if (held)
                snprintf(seq, sizeof(seq), "held:%s", sid);
            else
                snprintf(seq, sizeof(seq), "%llu", (unsigned long long)w.seq);
            printf("%-8s %-8s %-14s %-9s %-8s %-20s %s\n", seq,
                   sw_alert_state_name(w.a.state), w.a.section,
                   sw_detector_name(w.a.detector), sw_level_name(w.a.level),
                   w.acked_at ? w.acked_by : "-", w.a.alert_id);
        }
        freeReplyObject(r);
    }
    if (!c->json && shown == 0)
        printf("(no active alerts)\n");
    return SW_EXIT_OK;
}

/* --------------------------------------------------------------- audit */

static const char *const actions[] = {"seed",   "set",         "unset",
                                      "import", "silence.add", "silence.expire",
                                      "ack",    NULL};

static const char *field(const redisReply *f, const char *k)
{
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(f->element[i]->str, k) == 0 &&
            f->element[i + 1]->type == REDIS_REPLY_STRING)
            return f->element[i + 1]->str;
    return "";
}

static int verb_audit(ctl_t *c, int argc)
{
    if (argc > 0)
        return usage_error("audit: no arguments expected (filters: "
                           "--section, --since, --until, --action, "
                           "--operator, --limit)");
    int64_t since = 0, until = INT64_MAX;
    if (c->since && parse_when(c->since, -1, &since))
        return usage_error("audit: --since '%s': not a time or duration "
                           "(accepted: RFC 3339, YYYY-MM-DD, epoch ms, or a "
                           "duration back from now such as 24h, 7d)",
                           c->since);
    if (c->until && parse_when(c->until, -1, &until))
        return usage_error("audit: --until '%s': not a time or duration",
                           c->until);
    if (since < 0)
        since = 0;
    if (until < since)
        return usage_error("audit: --until is before --since");
    if (c->section && strcmp(c->section, SW_TH_SCOPE_DEFAULT) &&
        !pattern_valid(c->section))
        return usage_error("audit: --section '%s': not a section or pattern "
                           "(accepted: default, HU-RS, 'HU-*')",
                           c->section);
    if (c->action) {
        int ok = 0;
        for (int i = 0; actions[i]; i++)
            ok |= strcmp(actions[i], c->action) == 0;
        if (!ok)
            return usage_error("audit: --action '%s': unknown (accepted: "
                               "seed, set, unset, import, silence.add, "
                               "silence.expire, ack)",
                               c->action);
    }
    int rc = connect_redis(c);
    if (rc)
        return rc;
    char from[32], err[256];
    snprintf(from, sizeof(from), "%lld", (long long)since);
    char to[32] = "+";
    if (until != INT64_MAX)
        snprintf(to, sizeof(to), "%lld", (long long)until);
    if (!c->json)
        printf("%-24s %-16s %-14s %-14s %-22s %s\n", "TIME", "OPERATOR",
               "ACTION", "SCOPE", "KEY", "CHANGE");
    /* with --limit N, the latest N matching entries: a first pass counts
     * the matches, the second prints from the N-th last on */
    unsigned long long shown = 0, matched = 0, skip = 0;
    char from0[32];
    snprintf(from0, sizeof(from0), "%s", from);
    for (int pass = c->limit ? 0 : 1; pass < 2; pass++) {
        if (pass == 1 && c->limit && matched > c->limit)
            skip = matched - c->limit;
        matched = 0;
        snprintf(from, sizeof(from), "%s", from0);
        for (;;) {
            redisReply *r = redisCommand(c->rc, "XRANGE %s %s %s COUNT 1000",
                                         c->thk.audit, from, to);
            if (sw_redis_reply_error(c->rc, r, "XRANGE", err, sizeof(err))) {
                if (r)
                    freeReplyObject(r);
                return redis_error("reading the audit log", err);
            }
            if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
                freeReplyObject(r);
                break;
            }
            for (size_t i = 0; i < r->elements; i++) {
                const redisReply *e = r->element[i];
                const redisReply *f = e->element[1];
                const char *scope = field(f, "scope");
                if (c->section && !(strcmp(c->section, scope) == 0 ||
                                    sw_section_match(c->section, scope) ||
                                    (is_pattern(scope) &&
                                     sw_section_match(scope, c->section))))
                    continue;
                if (c->action && strcmp(c->action, field(f, "action")))
                    continue;
                if (c->operator_filter &&
                    strcmp(c->operator_filter, field(f, "operator")))
                    continue;
                if (matched++ < skip || pass == 0)
                    continue;
                shown++;
                char ts[SW_TIME_STR_MAX];
                sw_time_format(strtoll(e->element[0]->str, NULL, 10), ts);
                if (c->json) {
                    printf("{\"id\":\"%s\",\"time\":\"%s\"", e->element[0]->str,
                           ts);
                    static const char *const keys[] = {
                        "operator", "action", "scope",   "key",
                        "old",      "new",    "version", "note"};
                    for (size_t k = 0; k < 8; k++) {
                        printf(",\"%s\":", keys[k]);
                        json_string(field(f, keys[k]));
                    }
                    printf("}\n");
                } else {
                    char change[400];
                    const char *old = field(f, "old"), *nw = field(f, "new");
                    const char *note = field(f, "note");
                    snprintf(change, sizeof(change), "%s -> %s%s%s%s%s",
                             *old                   ? old
                             : *field(f, "version") ? "(inherited)"
                                                    : "(none)",
                             *nw ? nw : "(inherited)",
                             *field(f, "version") ? "  v" : "",
                             field(f, "version"), *note ? "  note: " : "",
                             note);
                    printf("%-24s %-16s %-14s %-14s %-22s %s\n", ts,
                           field(f, "operator"), field(f, "action"),
                           *scope ? scope : "-",
                           *field(f, "key") ? field(f, "key") : "-", change);
                }
            }
            /* the next page: after the last id */
            snprintf(from, sizeof(from), "(%s",
                     r->element[r->elements - 1]->element[0]->str);
            size_t got = r->elements;
            freeReplyObject(r);
            if (got < 1000)
                break;
        }
    }
    if (!c->json && shown == 0)
        printf("(no matching audit entries)\n");
    return SW_EXIT_OK;
}

/* ---------------------------------------------------------------- main */

enum {
    O_REDIS_PREFIX = 256,
    O_REDIS_TIMEOUT,
    O_AS,
    O_NEW_SECTION,
    O_DRY_RUN,
    O_JSON,
    O_ALL,
    O_UNTIL,
    O_REASON,
    O_DETECTOR,
    O_NOTE,
    O_SINCE,
    O_SECTION,
    O_ACTION,
    O_OPERATOR,
    O_LIMIT,
    O_SET,
    O_UNSET,
    O_FILE,
    O_FROM,
    O_TO,
    O_REORDER,
    O_PARTITIONS,
    O_THREADS,
};

/* Which verbs take an option (for a clear refusal elsewhere). */
static const struct {
    int opt;
    const char *name, *verbs;
} owners[] = {
    {O_NEW_SECTION, "--new-section", " set "},
    {O_DRY_RUN, "--dry-run", " set unset import "},
    {O_JSON, "--json", " get list audit silence alerts preview "},
    {O_ALL, "--all", " list silence "},
    {O_UNTIL, "--until", " silence audit "},
    {O_REASON, "--reason", " silence "},
    {O_DETECTOR, "--detector", " silence "},
    {O_NOTE, "--note", " ack silence "},
    {O_SINCE, "--since", " audit "},
    {O_SECTION, "--section", " audit "},
    {O_ACTION, "--action", " audit "},
    {O_OPERATOR, "--operator", " audit "},
    {O_LIMIT, "--limit", " audit "},
    {O_SET, "--set", " preview "},
    {O_UNSET, "--unset", " preview "},
    {O_FILE, "--file", " preview "},
    {'o', "--output", " export "},
    {'e', "--events", " preview "},
    {'f', "--format", " preview "},
    {'q', "--quiet", " preview "},
    {O_FROM, "--from", " preview "},
    {O_TO, "--to", " preview "},
    {O_REORDER, "--reorder", " preview "},
    {O_PARTITIONS, "--partitions", " preview "},
    {O_THREADS, "--threads", " preview "},
};

int sw_cmd_ctl(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"redis", required_argument, NULL, 'r'},
        {"redis-prefix", required_argument, NULL, O_REDIS_PREFIX},
        {"redis-timeout", required_argument, NULL, O_REDIS_TIMEOUT},
        {"as", required_argument, NULL, O_AS},
        {"new-section", no_argument, NULL, O_NEW_SECTION},
        {"dry-run", no_argument, NULL, O_DRY_RUN},
        {"json", no_argument, NULL, O_JSON},
        {"all", no_argument, NULL, O_ALL},
        {"until", required_argument, NULL, O_UNTIL},
        {"reason", required_argument, NULL, O_REASON},
        {"detector", required_argument, NULL, O_DETECTOR},
        {"note", required_argument, NULL, O_NOTE},
        {"since", required_argument, NULL, O_SINCE},
        {"section", required_argument, NULL, O_SECTION},
        {"action", required_argument, NULL, O_ACTION},
        {"operator", required_argument, NULL, O_OPERATOR},
        {"limit", required_argument, NULL, O_LIMIT},
        {"set", required_argument, NULL, O_SET},
        {"unset", required_argument, NULL, O_UNSET},
        {"file", required_argument, NULL, O_FILE},
        {"output", required_argument, NULL, 'o'},
        {"events", required_argument, NULL, 'e'},
        {"format", required_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"reorder", required_argument, NULL, O_REORDER},
        {"partitions", required_argument, NULL, O_PARTITIONS},
        {"threads", required_argument, NULL, O_THREADS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static ctl_t ctl;
    ctl_t *c = &ctl;
    memset(c, 0, sizeof(*c));
    c->cmp.cmd = "ctl preview";
    c->cmp.events = NULL;
    c->cmp.format = -1;
    c->cmp.from_ms = INT64_MIN;
    c->cmp.to_ms = INT64_MAX;
    c->cmp.reorder_ms = -1;
    c->cmp.partitions = 1;
    c->cmp.threads = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
    const char *flags[S__COUNT] = {0};
    const char *as = getenv("SURGEWATCH_OPERATOR");
    int used[512] = {0};
    int status = SW_EXIT_USAGE;
    char err[1024];
    c->config_path = getenv("SURGEWATCH_CONFIG");
    sw_settings_default(&c->base);
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:r:o:e:f:qh", longopts, NULL)) !=
           -1) {
        if (opt >= 0 && opt < 512)
            used[opt] = 1;
        switch (opt) {
        case 'c':
            c->config_path = optarg;
            break;
        case 'r':
            flags[S_REDIS_URL] = optarg;
            break;
        case O_REDIS_PREFIX:
            flags[S_REDIS_PREFIX] = optarg;
            break;
        case O_REDIS_TIMEOUT:
            flags[S_REDIS_TIMEOUT] = optarg;
            break;
        case O_AS:
            as = optarg;
            break;
        case O_NEW_SECTION:
            c->new_section = 1;
            break;
        case O_DRY_RUN:
            c->dry_run = 1;
            break;
        case O_JSON:
            c->json = 1;
            break;
        case O_ALL:
            c->all = 1;
            break;
        case O_UNTIL:
            c->until = optarg;
            break;
        case O_REASON:
            c->reason = optarg;
            break;
        case O_DETECTOR:
            c->detector = optarg;
            break;
        case O_NOTE:
            c->note = optarg;
            break;
        case O_SINCE:
            c->since = optarg;
            break;
        case O_SECTION:
            c->section = optarg;
            break;
        case O_ACTION:
            c->action = optarg;
            break;
        case O_OPERATOR:
            c->operator_filter = optarg;
            break;
        case O_LIMIT:
            if (sw_parse_uint(optarg, 1, 100000000, &c->limit))
                return usage_error("--limit '%s': accepted: a whole number "
                                   "in 1..100000000",
                                   optarg);
            break;
        case O_SET:
        case O_UNSET:
            if (c->nsets + c->nunsets == MAX_SETS)
                return usage_error("at most %d --set/--unset", MAX_SETS);
            if (opt == O_SET)
                c->sets[c->nsets++] = optarg;
            else
                c->unsets[c->nunsets++] = optarg;
            break;
        case O_FILE:
            c->file = optarg;
            break;
        case 'o':
            c->output = optarg;
            break;
        case 'e':
            c->cmp.events = optarg;
            break;
        case 'f':
            if (sw_compare_event_opt(CMD, "format", optarg, &c->cmp))
                return SW_EXIT_USAGE;
            break;
        case 'q':
            c->cmp.quiet = 1;
            break;
        case O_FROM:
        case O_TO:
            if (parse_when(optarg, -1,
                           opt == O_FROM ? &c->cmp.from_ms : &c->cmp.to_ms))
                return usage_error("--%s %s: not a time (accepted: RFC "
                                   "3339, YYYY-MM-DD, epoch milliseconds, or "
                                   "a duration back from now)",
                                   opt == O_FROM ? "from" : "to", optarg);
            break;
        case O_REORDER:
        case O_PARTITIONS:
        case O_THREADS:
            if (sw_compare_event_opt(CMD,
                                     opt == O_REORDER      ? "reorder"
                                     : opt == O_PARTITIONS ? "partitions"
                                                           : "threads",
                                     optarg, &c->cmp))
                return SW_EXIT_USAGE;
            break;
        case 'h':
            fputs(help, stdout);
            return SW_EXIT_OK;
        default:
            fprintf(stderr, "Try 'surgewatch ctl --help'.\n");
            return SW_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "surgewatch ctl: a verb is needed (get, set, unset, "
                        "list, export, import, preview, silence, ack, "
                        "alerts, audit); try 'surgewatch ctl --help'\n");
        return SW_EXIT_USAGE;
    }
    const char *verb = argv[optind];
    char **args = argv + optind + 1;
    int nargs = argc - optind - 1;
    static const char *const verbs[] = {
        "get",     "set",     "unset", "list",   "export", "import",
        "preview", "silence", "ack",   "alerts", "audit",  NULL};
    int known_verb = 0;
    for (int i = 0; verbs[i]; i++)
        known_verb |= strcmp(verbs[i], verb) == 0;
    if (!known_verb) {
        fprintf(stderr,
                "surgewatch ctl: unknown verb '%s' (accepted: get, set, "
                "unset, list, export, import, preview, silence, ack, "
                "alerts, audit)\n",
                verb);
        return SW_EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
        char w[32];
        snprintf(w, sizeof(w), " %s ", verb);
        if (used[owners[i].opt] && strstr(owners[i].verbs, w) == NULL) {
            fprintf(
                stderr,
                "surgewatch ctl: %s does not apply to '%s' (it is for:%s)\n",
                owners[i].name, verb, owners[i].verbs);
            return SW_EXIT_USAGE;
        }
    }
    /* the operator (an empty SURGEWATCH_OPERATOR means unset; an empty
     * --as is refused below) */
    if (!used[O_AS] && (as == NULL || *as == '\0')) {
        const char *login = getenv("LOGNAME");
        struct passwd *pw = getpwuid(geteuid());
        as = pw && pw->pw_name ? pw->pw_name : login;
    }
    if (as == NULL || !operator_valid(as))
        return usage_error("--as '%s': not an operator name (accepted: 1..%d "
                           "bytes of UTF-8 text without control "
                           "characters)",
                           as ? as : "", SW_ACK_BY_MAX);
    snprintf(c->op, sizeof(c->op), "%s", as);
    /* the config file */
    if (c->config_path && *c->config_path) {
        c->cfg = sw_config_load(c->config_path, err, sizeof(err));
        if (c->cfg == NULL ||
            sw_settings_load(c->cfg, &c->base, err, sizeof(err))) {
            fprintf(stderr, "surgewatch ctl: %s\n", err);
            goto out;
        }
    } else {
        c->config_path = NULL;
    }
    if (sw_opts_resolve(CMD, spec, S__COUNT, c->s, c->cfg, flags) ||
        sw_opts_redis_check(CMD, spec, c->s, S_REDIS_URL, S_REDIS_PREFIX,
                            S_REDIS_TIMEOUT, &c->redis_timeout_ms))
        goto out;
    sw_th_keys_init(&c->thk, c->s[S_REDIS_PREFIX].value);

    if (strcmp(verb, "get") == 0)
        status = verb_get_list(c, nargs, args, 0);
    else if (strcmp(verb, "list") == 0)
        status = verb_get_list(c, nargs, args, 1);
    else if (strcmp(verb, "set") == 0)
        status = verb_set(c, nargs, args, 0);
    else if (strcmp(verb, "unset") == 0)
        status = verb_set(c, nargs, args, 1);
    else if (strcmp(verb, "export") == 0)
        status = verb_export(c, nargs);
    else if (strcmp(verb, "import") == 0)
        status = verb_import(c, nargs, args);
    else if (strcmp(verb, "preview") == 0) {
        if (c->cmp.events == NULL)
            c->cmp.events = "-";
        status = verb_preview(c, nargs, args);
    } else if (strcmp(verb, "ack") == 0)
        status = verb_ack(c, nargs, args);
    else if (strcmp(verb, "alerts") == 0)
        status = verb_alerts(c, nargs, args);
    else if (strcmp(verb, "audit") == 0)
        status = verb_audit(c, nargs);
    else { /* silence */
        const char *sub = nargs > 0 ? args[0] : "";
        if (strcmp(sub, "add") == 0)
            status = verb_silence_add(c, nargs - 1, args + 1);
        else if (strcmp(sub, "list") == 0)
            status = verb_silence_list(c, nargs - 1);
        else if (strcmp(sub, "expire") == 0)
            status = verb_silence_expire(c, nargs - 1, args + 1);
        else
            status = usage_error("silence: expected add, list or expire%s%s",
                                 *sub ? ", not " : "", sub);
    }
out:
    sw_alert_log_destroy(&c->log);
    sw_settings_deinit(&c->base);
    sw_config_destroy(&c->cfg);
    return status;
}
