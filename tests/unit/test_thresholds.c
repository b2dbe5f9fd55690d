/*
 * Unit tests for sw_thresholds without Redis: the ordered setting set
 * (sw_threshold_set_put: order, replace, remove, refusals), the thresholds
 * of a config file (sw_thresholds_from_config on temporary INI files),
 * the settings built from a set (sw_thresholds_build: profiles, section
 * overrides and inheritance, the tidy error messages), and the section
 * glob (sw_section_match).
 */
#include "sw_config.h"
#include "sw_detector.h"
#include "sw_err.h"
#include "sw_settings.h"
#include "sw_thresholds.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* ------------------------------------------------------------- helpers */

typedef struct {
    char path[64];
} tmpfile_t;

static void write_ini(tmpfile_t *t, const char *text)
{
    strcpy(t->path, "/tmp/sw_test_thresholds_XXXXXX");
    int fd = mkstemp(t->path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* The thresholds of an INI text; fails the test on any error. */
static void from_ini_ok(const char *text, sw_threshold_set_t *set,
                        size_t *skipped)
{
    tmpfile_t t;
    write_ini(&t, text);
    char err[512] = "";
    sw_config_t *c = sw_config_load(t.path, err, sizeof(err));
    if (c == NULL)
        fail_msg("sw_config_load: %s", err);
    if (sw_thresholds_from_config(c, set, skipped, err, sizeof(err)) != 0)
        fail_msg("sw_thresholds_from_config: %s", err);
    sw_config_destroy(&c);
    unlink(t.path);
}

/* sw_thresholds_from_config of text fails with exactly "PATH" + want. */
static void from_ini_fails(const char *text, const char *want)
{
    tmpfile_t t;
    write_ini(&t, text);
    char err[512] = "";
    sw_config_t *c = sw_config_load(t.path, err, sizeof(err));
    if (c == NULL)
        fail_msg("sw_config_load: %s", err);
    sw_threshold_set_t set = {0};
    assert_int_equal(sw_thresholds_from_config(c, &set, NULL, err, sizeof(err)),
                     -1);
    char full[700];
    snprintf(full, sizeof(full), "%s%s", t.path, want);
    assert_string_equal(err, full);
    sw_threshold_set_deinit(&set);
    sw_config_destroy(&c);
    unlink(t.path);
}

static void put_ok(sw_threshold_set_t *s, const char *scope, const char *key,
                   const char *value)
{
    char err[256] = "";
    int rc = sw_threshold_set_put(s, scope, key, value, err, sizeof(err));
    if (rc != 0)
        fail_msg("put %s %s=%s: %d %s", scope, key, value ? value : "(null)",
                 rc, err);
}

/* The set as "scope key=value;..." text, in its order. */
static const char *set_text(const sw_threshold_set_t *s)
{
    static char buf[4096];
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n && o < sizeof(buf); i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s %s=%s",
                              i ? ";" : "", s->v[i].scope, s->v[i].key,
                              s->v[i].value);
    return buf;
}

static const sw_profile_t *profile(const sw_settings_t *st, const char *id)
{
    for (size_t i = 0; i < st->profiles.n; i++)
        if (strcmp(st->profiles.v[i].section, id) == 0)
            return &st->profiles.v[i].profile;
    fail_msg("no profile for section %s", id);
    return NULL;
}

static int has_profile(const sw_settings_t *st, const char *id)
{
    for (size_t i = 0; i < st->profiles.n; i++)
        if (strcmp(st->profiles.v[i].section, id) == 0)
            return 1;
    return 0;
}

/* The detectors p runs, "a b c" in kind order. */
static const char *enabled_text(const sw_profile_t *p)
{
    static char buf[128];
    size_t o = 0;
    buf[0] = '\0';
    for (int k = 0; k < SW_DET__COUNT; k++)
        if (p->enabled[k])
            o +=
                (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? " " : "",
                                 sw_detector_name((sw_detector_kind_t)k));
    return buf;
}

/* Builds set over the built-in defaults; fails the test on an error. */
static void build_ok(const sw_threshold_set_t *set, sw_settings_t *out)
{
    sw_settings_t base;
    sw_settings_default(&base);
    char err[512] = "";
    if (sw_thresholds_build(&base, set, out, err, sizeof(err)) != 0)
        fail_msg("sw_thresholds_build: %s", err);
    sw_settings_deinit(&base);
}

/* Building the one setting scope/key=value fails with errstr == want (or,
 * with prefix set, starting with want). */
static void build_fails(const char *scope, const char *key, const char *value,
                        const char *want, int prefix)
{
    sw_threshold_set_t set = {0};
    put_ok(&set, scope, key, value);
    sw_settings_t base, out;
    sw_settings_default(&base);
    char err[512];
    memset(err, 'x', sizeof(err));
    err[sizeof(err) - 1] = '\0';
    assert_int_equal(sw_thresholds_build(&base, &set, &out, err, sizeof(err)),
                     -1);
    if (prefix ? strncmp(err, want, strlen(want)) != 0 : strcmp(err, want))
        fail_msg("%s %s=%s: \"%s\", expected %s\"%s\"", scope, key, value, err,
                 prefix ? "a message starting with " : "", want);
    sw_settings_deinit(&out);
    sw_settings_deinit(&base);
    sw_threshold_set_deinit(&set);
}

/* ---------------------------------------------------- sw_threshold_set */

static void test_put_orders_default_first_then_scope_then_key(void **state)
{
    (void)state;
    sw_threshold_set_t s = {0};
    /* inserted scrambled; "default" sorts first although lower case */
    put_ok(&s, "HU-RS", "threshold.limit", "50");
    put_ok(&s, "default", "run", "ears_c2, cusum");
    put_ok(&s, "AT-HU", "cusum.h", "3");
    put_ok(&s, "HU-RS", "cusum.h", "4");
    put_ok(&s, "default", "cusum.h", "2.5");
    put_ok(&s, "HR-SI/karlovac", "levels", "2, 3, 5");
    put_ok(&s, "HR-SI", "levels", "2, 3, 4");
    put_ok(&s, "default", "levels", "1.5, 2.5, 5");
    assert_int_equal(s.n, 8);
    assert_string_equal(set_text(&s),
                        "default cusum.h=2.5;default levels=1.5, 2.5, 5;"
                        "default run=ears_c2, cusum;AT-HU cusum.h=3;"
                        "HR-SI levels=2, 3, 4;HR-SI/karlovac levels=2, 3, 5;"
                        "HU-RS cusum.h=4;HU-RS threshold.limit=50");
    assert_int_equal(s.version, 0);
    sw_threshold_set_deinit(&s);
    assert_null(s.v);
    assert_int_equal(s.n, 0);
}

static void test_put_grows_past_the_first_allocation(void **state)
{
    (void)state;
    sw_threshold_set_t s = {0};
    char scope[16], key[16];
    /* 26 * 3 = 78 settings, inserted in reverse order */
    for (int a = 25; a >= 0; a--)
        for (int k = 2; k >= 0; k--) {
            snprintf(scope, sizeof(scope), "AA-Z%c", 'A' + a);
            snprintf(key, sizeof(key), "cusum.h%d", k);
            put_ok(&s, scope, key, "1");
        }
    assert_int_equal(s.n, 78);
    for (size_t i = 1; i < s.n; i++) {
        int c = strcmp(s.v[i - 1].scope, s.v[i].scope);
        if (c > 0 || (c == 0 && strcmp(s.v[i - 1].key, s.v[i].key) >= 0))
            fail_msg("out of order at %zu: %s %s, %s %s", i, s.v[i - 1].scope,
                     s.v[i - 1].key, s.v[i].scope, s.v[i].key);
    }
    sw_threshold_set_deinit(&s);
}

static void test_put_replaces_and_removes(void **state)
{
    (void)state;
    sw_threshold_set_t s = {0};
    put_ok(&s, "default", "cusum.h", "2.5");
    put_ok(&s, "HU-RS", "cusum.h", "3");
    put_ok(&s, "HU-RS", "threshold.limit", "40");
    /* replace: same place, new value, no new entry */
    put_ok(&s, "HU-RS", "cusum.h", "3.5");
    assert_int_equal(s.n, 3);
    assert_string_equal(set_text(&s), "default cusum.h=2.5;HU-RS cusum.h=3.5;"
                                      "HU-RS threshold.limit=40");
    const sw_threshold_t *t = sw_threshold_set_find(&s, "HU-RS", "cusum.h");
    assert_non_null(t);
    assert_string_equal(t->value, "3.5");
    assert_null(sw_threshold_set_find(&s, "HU-RS", "cusum.k"));
    assert_null(sw_threshold_set_find(&s, "HU-UA", "cusum.h"));
    /* remove: the others keep their order */
    put_ok(&s, "HU-RS", "cusum.h", NULL);
    assert_int_equal(s.n, 2);
    assert_string_equal(set_text(&s),
                        "default cusum.h=2.5;HU-RS threshold.limit=40");
    assert_null(sw_threshold_set_find(&s, "HU-RS", "cusum.h"));
    /* removing what is not there changes nothing */
    put_ok(&s, "HU-RS", "cusum.h", NULL);
    put_ok(&s, "AT-HU", "run", NULL);
    assert_int_equal(s.n, 2);
    /* remove the first and the last */
    put_ok(&s, "default", "cusum.h", NULL);
    put_ok(&s, "HU-RS", "threshold.limit", NULL);
    assert_int_equal(s.n, 0);
    /* removing from an empty set, and adding again */
    put_ok(&s, "HU-RS", "threshold.limit", NULL);
    put_ok(&s, "HU-RS", "threshold.limit", "41");
    assert_string_equal(set_text(&s), "HU-RS threshold.limit=41");
    sw_threshold_set_deinit(&s);
}

static void test_put_size_limits(void **state)
{
    (void)state;
    sw_threshold_set_t s = {0};
    char key[SW_TH_KEY_MAX + 1], value[SW_TH_VALUE_MAX + 1];
    memset(key, 'k', SW_TH_KEY_MAX - 1);
    key[SW_TH_KEY_MAX - 1] = '\0'; /* the longest key: 47 characters */
    memset(value, '9', SW_TH_VALUE_MAX - 1);
    value[SW_TH_VALUE_MAX - 1] = '\0'; /* the longest value: 127 */
    put_ok(&s, "HU-RS", key, value);
    assert_int_equal(strlen(s.v[0].key), SW_TH_KEY_MAX - 1);
    assert_int_equal(strlen(s.v[0].value), SW_TH_VALUE_MAX - 1);
    /* the longest section id: XX-YY/ and 24 characters */
    put_ok(&s, "HR-SI/abcdefghijklmnopqrstuvwx", "run", "cusum");
    assert_int_equal(s.n, 2);
    sw_threshold_set_deinit(&s);
}

static void test_put_refusals_change_nothing(void **state)
{
    (void)state;
    static const struct {
        const char *scope, *key, *value, *want;
    } bad[] = {
        {"hu-rs", "cusum.h", "3",
         "\"hu-rs\" is not a section id (accepted: default, or a section "
         "such as HU-RS, HR-SI/karlovac; see docs/events.md)"},
        {"RS-HU", "cusum.h", "3", "\"RS-HU\" is not a section id"},
        {"HU-HU", "cusum.h", "3", "\"HU-HU\" is not a section id"},
        {"Default", "cusum.h", "3", "\"Default\" is not a section id"},
        {"", "cusum.h", "3", "\"\" is not a section id"},
        {"HU-RS x", "cusum.h", "3", "\"HU-RS x\" is not a section id"},
        {"HU-*", "cusum.h", "3", "\"HU-*\" is not a section id"},
        {"HR-SI/Karlovac", "run", "cusum",
         "\"HR-SI/Karlovac\" is not a section id"},
        {"HU-RS", "", "3",
         "\"\" is not a setting (accepted: run, levels, or "
         "DETECTOR.PARAMETER such as threshold.limit)"},
        {"HU-RS", "cusum h", "3", "\"cusum h\" is not a setting"},
        {"HU-RS", "threshold.limit", "",
         "HU-RS threshold.limit: the value must have 1..127 characters"},
        {"default", "cusum.h", "", "default cusum.h: the value must have"},
    };
    sw_threshold_set_t s = {0};
    put_ok(&s, "HU-RS", "cusum.h", "3");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256];
        memset(err, 'x', sizeof(err));
        err[sizeof(err) - 1] = '\0';
        int rc = sw_threshold_set_put(&s, bad[i].scope, bad[i].key,
                                      bad[i].value, err, sizeof(err));
        if (rc != SW_ERR_INVAL)
            fail_msg("'%s' '%s' '%s': %d, expected SW_ERR_INVAL", bad[i].scope,
                     bad[i].key, bad[i].value, rc);
        if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
            fail_msg("'%s' '%s' '%s': \"%s\", expected \"%s...\"", bad[i].scope,
                     bad[i].key, bad[i].value, err, bad[i].want);
        assert_string_equal(set_text(&s), "HU-RS cusum.h=3");
    }
    /* too long: key of 48, value of 128 characters */
    char key[SW_TH_KEY_MAX + 1], value[SW_TH_VALUE_MAX + 1], err[256];
    memset(key, 'k', SW_TH_KEY_MAX);
    key[SW_TH_KEY_MAX] = '\0';
    memset(value, '9', SW_TH_VALUE_MAX);
    value[SW_TH_VALUE_MAX] = '\0';
    assert_int_equal(
        sw_threshold_set_put(&s, "HU-RS", key, "1", err, sizeof(err)),
        SW_ERR_INVAL);
    assert_non_null(strstr(err, "is not a setting"));
    assert_int_equal(
        sw_threshold_set_put(&s, "HU-RS", "cusum.h", value, err, sizeof(err)),
        SW_ERR_INVAL);
    assert_string_equal(err, "HU-RS cusum.h: the value must have 1..127 "
                             "characters");
    /* a refused removal: a bad scope or key is refused for NULL too */
    assert_int_equal(
        sw_threshold_set_put(&s, "hu-rs", "cusum.h", NULL, err, sizeof(err)),
        SW_ERR_INVAL);
    assert_string_equal(set_text(&s), "HU-RS cusum.h=3");
    sw_threshold_set_deinit(&s);
}

static void test_keys_of_a_prefix(void **state)
{
    (void)state;
    sw_th_keys_t k;
    sw_th_keys_init(&k, "sw");
    assert_string_equal(k.hash, "sw:thresholds");
    assert_string_equal(k.version, "sw:thresholds:version");
    assert_string_equal(k.audit, "sw:audit");
    assert_string_equal(k.sections, "sw:sections");
    assert_string_equal(k.channel, "sw:thresholds");
    /* the longest prefix (64 characters) fits every name */
    char p[65];
    memset(p, 'p', 64);
    p[64] = '\0';
    sw_th_keys_init(&k, p);
    char want[128];
    snprintf(want, sizeof(want), "%s:thresholds:version", p);
    assert_string_equal(k.version, want);
    snprintf(want, sizeof(want), "%s:sections", p);
    assert_string_equal(k.sections, want);
}

/* ------------------------------------------------------- from a config */

static void test_from_config_scopes(void **state)
{
    (void)state;
    sw_threshold_set_t s = {0};
    size_t skipped = 0;
    from_ini_ok("[kafka]\n"
                "brokers = 127.0.0.1:9092\n"
                "topic = events\n"
                "[windows]\n"
                "bucket = 1d\n"
                "[detectors]\n"
                "run = ears_c2, cusum, threshold\n"
                "threshold.limit = 30\n"
                "[alerts]\n"
                "raise_after = 2\n"
                "levels = 1.5, 2.5, 5\n"
                "resolve_after = 3\n"
                "[section \"HU-RS\"]\n"
                "threshold.limit = 50\n"
                "[section HU-UA]\n"
                "cusum.h = 3\n"
                "[section  \" HR-SI/karlovac \" ]\n"
                "run = cusum\n"
                "[redis]\n"
                "url = redis://127.0.0.1:6379\n",
                &s, &skipped);
    assert_string_equal(set_text(&s),
                        "default levels=1.5, 2.5, 5;"
                        "default run=ears_c2, cusum, threshold;"
                        "default threshold.limit=30;"
                        "HR-SI/karlovac run=cusum;"
                        "HU-RS threshold.limit=50;HU-UA cusum.h=3");
    /* kafka 2, windows 1, alerts 2 (not levels), redis 1 */
    assert_int_equal(skipped, 6);
    sw_threshold_set_deinit(&s);
}

static void test_from_config_later_line_wins_and_null_skipped(void **state)
{
    (void)state;
    sw_threshold_set_t s = {0};
    /* [alerts] levels and [detectors] levels are the same setting: the
     * later line wins, as in sw_settings_load */
    from_ini_ok("[detectors]\n"
                "levels = 2, 3, 4\n"
                "cusum.h = 3\n"
                "[alerts]\n"
                "levels = 1.5, 2.5, 5\n"
                "[section HU-RS]\n"
                "cusum.h = 4\n"
                "[section \"HU-RS\"]\n"
                "cusum.h = 5\n"
                "[detectors]\n"
                "cusum.h = 3.5\n",
                &s, NULL);
    assert_string_equal(set_text(&s), "default cusum.h=3.5;"
                                      "default levels=1.5, 2.5, 5;"
                                      "HU-RS cusum.h=5");
    sw_threshold_set_deinit(&s);
    /* an empty file, and one without thresholds */
    size_t skipped = 0;
    from_ini_ok("", &s, &skipped);
    assert_int_equal(s.n, 0);
    assert_int_equal(skipped, 0);
    from_ini_ok("; only comments\n[kafka]\nbrokers = x:1\n", &s, &skipped);
    assert_int_equal(s.n, 0);
    assert_int_equal(skipped, 1);
    sw_threshold_set_deinit(&s);
}

static void test_from_config_adds_to_the_set(void **state)
{
    (void)state;
    sw_threshold_set_t s = {0};
    put_ok(&s, "AT-HU", "cusum.h", "9");
    put_ok(&s, "HU-RS", "cusum.h", "9");
    from_ini_ok("[section HU-RS]\ncusum.h = 4\n", &s, NULL);
    assert_string_equal(set_text(&s), "AT-HU cusum.h=9;HU-RS cusum.h=4");
    sw_threshold_set_deinit(&s);
}

static void test_from_config_refusals(void **state)
{
    (void)state;
    from_ini_fails("[detectors]\ncusum.h = 3\n\n[section hu-rs]\ncusum.h = 4\n",
                   ":5: [section hu-rs]: not a section id (accepted: e.g. "
                   "HU-RS, HR-SI/karlovac; see docs/events.md)");
    from_ini_fails("[section HU-RS HR-RS]\ncusum.h = 4\n",
                   ":2: [section HU-RS HR-RS]: not a section id (accepted: "
                   "e.g. HU-RS, HR-SI/karlovac; see docs/events.md)");
    from_ini_fails("[section RS-HU]\ncusum.h = 4\n",
                   ":2: [section RS-HU]: not a section id (accepted: e.g. "
                   "HU-RS, HR-SI/karlovac; see docs/events.md)");
    from_ini_fails("[section \"\"]\ncusum.h = 4\n",
                   ":2: [section \"\"]: not a section id (accepted: e.g. "
                   "HU-RS, HR-SI/karlovac; see docs/events.md)");
    /* a key sw_threshold_set_put refuses, named with its line */
    from_ini_fails("[detectors]\ncusum.h = 3\ncusum h = 4\n",
                   ":3: [detectors] cusum h: \"cusum h\" is not a setting "
                   "(accepted: run, levels, or DETECTOR.PARAMETER such as "
                   "threshold.limit)");
    /* values are not checked here (sw_thresholds_build does) */
    sw_threshold_set_t s = {0};
    from_ini_ok("[section HU-RS]\nthreshold.limit = abc\n", &s, NULL);
    assert_string_equal(set_text(&s), "HU-RS threshold.limit=abc");
    sw_threshold_set_deinit(&s);
}

/* --------------------------------------------------------------- build */

static void test_build_empty_set_is_the_defaults(void **state)
{
    (void)state;
    sw_threshold_set_t set = {0};
    sw_settings_t st, def;
    build_ok(&set, &st);
    sw_settings_default(&def);
    assert_int_equal(st.profiles.n, 0);
    assert_string_equal(enabled_text(&st.profiles.def),
                        enabled_text(&def.profiles.def));
    for (int k = 0; k < SW_DET__COUNT; k++) {
        const sw_detector_params_t *a = &st.profiles.def.params[k];
        const sw_detector_params_t *b = &def.profiles.def.params[k];
        assert_int_equal(a->kind, b->kind);
        assert_true(a->limit == b->limit && a->alpha == b->alpha &&
                    a->cusum_h == b->cusum_h && a->lambda == b->lambda &&
                    a->window == b->window && a->history == b->history);
    }
    for (int i = 0; i < 3; i++)
        assert_true(st.profiles.def.levels[i] == def.profiles.def.levels[i]);
    sw_settings_deinit(&st);
    sw_settings_deinit(&def);
}

static void test_build_profiles_override_and_inherit(void **state)
{
    (void)state;
    sw_threshold_set_t set = {0};
    put_ok(&set, "default", "run", "ears_c2, cusum, threshold");
    put_ok(&set, "default", "threshold.limit", "30");
    put_ok(&set, "default", "cusum.h", "3");
    put_ok(&set, "default", "levels", "2, 3, 5");
    put_ok(&set, "HU-RS", "run", "threshold");
    put_ok(&set, "HU-RS", "threshold.limit", "50");
    put_ok(&set, "HU-UA", "cusum.k", "1.5");
    put_ok(&set, "HU-UA", "levels", "1.2, 2, 3");
    put_ok(&set, "HR-SI/karlovac", "cusum.reset", "false");
    sw_settings_t st;
    build_ok(&set, &st);
    /* the default profile */
    const sw_profile_t *d = &st.profiles.def;
    assert_string_equal(enabled_text(d), "threshold ears_c2 cusum");
    assert_true(d->params[SW_DET_THRESHOLD].limit == 30);
    assert_true(d->params[SW_DET_CUSUM].cusum_h == 3);
    assert_true(d->levels[0] == 2 && d->levels[1] == 3 && d->levels[2] == 5);
    /* one profile per section with settings of its own */
    assert_int_equal(st.profiles.n, 3);
    assert_false(has_profile(&st, "RS-XK"));
    /* HU-RS: its own run and limit; cusum.h inherits the changed default */
    const sw_profile_t *p = profile(&st, "HU-RS");
    assert_string_equal(enabled_text(p), "threshold");
    assert_true(p->params[SW_DET_THRESHOLD].limit == 50);
    assert_true(p->params[SW_DET_CUSUM].cusum_h == 3);
    assert_true(p->levels[2] == 5);
    /* HU-UA: the default's run and limit, its own k and levels */
    p = profile(&st, "HU-UA");
    assert_string_equal(enabled_text(p), "threshold ears_c2 cusum");
    assert_true(p->params[SW_DET_THRESHOLD].limit == 30);
    assert_true(p->params[SW_DET_CUSUM].cusum_k == 1.5);
    assert_true(p->params[SW_DET_CUSUM].cusum_h == 3);
    assert_true(p->levels[0] == 1.2 && p->levels[1] == 2 && p->levels[2] == 3);
    assert_true(d->params[SW_DET_CUSUM].cusum_k == 1.04); /* built-in */
    p = profile(&st, "HR-SI/karlovac");
    assert_int_equal(p->params[SW_DET_CUSUM].reset_after_alarm, 0);
    assert_int_equal(d->params[SW_DET_CUSUM].reset_after_alarm, 1);
    sw_settings_deinit(&st);
    /* a change of the default reaches a section that inherits it */
    put_ok(&set, "default", "cusum.h", "4.5");
    put_ok(&set, "default", "threshold.limit", "35");
    build_ok(&set, &st);
    assert_true(profile(&st, "HU-RS")->params[SW_DET_CUSUM].cusum_h == 4.5);
    assert_true(profile(&st, "HU-RS")->params[SW_DET_THRESHOLD].limit == 50);
    assert_true(profile(&st, "HU-UA")->params[SW_DET_THRESHOLD].limit == 35);
    sw_settings_deinit(&st);
    /* removing a section's override: it inherits again */
    put_ok(&set, "HU-RS", "threshold.limit", NULL);
    build_ok(&set, &st);
    assert_true(profile(&st, "HU-RS")->params[SW_DET_THRESHOLD].limit == 35);
    sw_settings_deinit(&st);
    sw_threshold_set_deinit(&set);
}

static void test_build_keeps_the_engine_settings_of_base(void **state)
{
    (void)state;
    sw_settings_t base, st;
    sw_settings_default(&base);
    base.engine.raise_after = 3;
    base.profiles.strict = 1;
    /* a profile setting of base is NOT kept: the set is the truth */
    base.profiles.def.params[SW_DET_CUSUM].cusum_h = 9;
    sw_threshold_set_t set = {0};
    put_ok(&set, "HU-RS", "cusum.h", "4");
    char err[256];
    assert_int_equal(sw_thresholds_build(&base, &set, &st, err, sizeof(err)),
                     0);
    assert_int_equal(st.engine.raise_after, 3);
    assert_int_equal(st.profiles.strict, 1);
    assert_true(st.profiles.def.params[SW_DET_CUSUM].cusum_h == 2.26);
    assert_true(profile(&st, "HU-RS")->params[SW_DET_CUSUM].cusum_h == 4);
    sw_settings_deinit(&st);
    sw_settings_deinit(&base);
    sw_threshold_set_deinit(&set);
}

static void test_build_errors_are_tidy(void **state)
{
    (void)state;
    build_fails("HU-RS", "threshold.limit", "abc",
                "HU-RS threshold.limit: \"abc\" is not a number", 0);
    build_fails("default", "ears_c2.alpha", "0.7",
                "default ears_c2.alpha: 0.7 is out of range (accepted: 0 < "
                "alpha < 0.5)",
                0);
    build_fails("HU-RS", "ears_c2.alpha", "0.7",
                "HU-RS ears_c2.alpha: 0.7 is out of range (accepted: 0 < "
                "alpha < 0.5)",
                0);
    build_fails("HR-SI/karlovac", "threshold.window", "0",
                "HR-SI/karlovac threshold.window: 0 is out of range "
                "(accepted: 1..100)",
                0);
    build_fails("HU-RS", "cusum.reset", "maybe",
                "HU-RS cusum.reset: \"maybe\" is not a boolean (accepted: "
                "true, false)",
                0);
    build_fails("default", "levels", "3, 2, 1",
                "default levels: \"3, 2, 1\" is not three ascending numbers",
                1);
    build_fails("HU-RS", "foo.limit", "3",
                "HU-RS foo.limit: unknown detector \"foo\" (accepted: "
                "threshold, ratio, ears_c1, ears_c2, ears_c3, cusum, ewma)",
                0);
    build_fails("HU-RS", "threshold.lmit", "3",
                "HU-RS threshold.lmit: unknown parameter (accepted for "
                "threshold: window, limit, min_count)",
                0);
    build_fails("default", "bogus", "1", "default bogus: unknown key", 1);
    build_fails("HU-RS", "run", "cusum, nosuch", "HU-RS run: ", 1);
    /* no file name, no line, no brackets in any of them */
    sw_threshold_set_t set = {0};
    put_ok(&set, "default", "cusum.h", "3");
    put_ok(&set, "HU-RS", "cusum.h", "-1");
    sw_settings_t base, out;
    sw_settings_default(&base);
    char err[512];
    assert_int_equal(sw_thresholds_build(&base, &set, &out, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "HU-RS cusum.h: -1 is out of range (accepted: "
                             "0 < h <= 1e+06)");
    sw_settings_deinit(&out);
    sw_settings_deinit(&base);
    sw_threshold_set_deinit(&set);
}

/* -------------------------------------------------------------- match */

static void test_section_match(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *section;
        int want;
    } cases[] = {
        /* exact */
        {"HU-RS", "HU-RS", 1},
        {"HU-RS", "HU-RSX", 0},
        {"HU-RS", "HU-R", 0},
        {"HU-RS", "HR-RS", 0},
        {"HU-RS", "HU-RS/szeged", 0},
        /* everything */
        {"*", "HU-RS", 1},
        {"*", "HR-SI/karlovac", 1},
        {"*", "", 1},
        /* prefix */
        {"HU-*", "HU-RS", 1},
        {"HU-*", "HU-UA", 1},
        {"HU-*", "HU-", 1}, /* '*' stands for none too */
        {"HU-*", "HR-RS", 0},
        {"HU-*", "AT-HU", 0},
        {"HR-SI/*", "HR-SI/karlovac", 1},
        {"HR-SI/*", "HR-SI", 0},
        /* suffix */
        {"*-RS", "HU-RS", 1},
        {"*-RS", "HR-RS", 1},
        {"*-RS", "RS-XK", 0},
        {"*/karlovac", "HR-SI/karlovac", 1},
        {"*/karlovac", "HR-SI/karlovac2", 0},
        /* middle */
        {"HU-*S", "HU-RS", 1},
        {"H*S", "HU-RS", 1},
        {"H*S", "HU-RSX", 0},
        {"HR-*/k*c", "HR-SI/karlovac", 1},
        /* several stars, backtracking */
        {"*U*R*", "HU-RS", 1},
        {"**", "HU-RS", 1},
        {"*-*", "HU-RS", 1},
        {"*-*-*", "HU-RS", 0},
        {"*a*b", "aab", 1},
        {"*ab*ab", "xabyabab", 1},
        {"*ab*ab", "xabyaba", 0},
        {"a*a*a", "aaa", 1},
        {"a*a*a", "aa", 0},
        /* no match */
        {"ZZ-*", "HU-RS", 0},
        {"hu-rs", "HU-RS", 0}, /* case matters */
        {"HU-R?", "HU-RS", 0}, /* only '*' is special */
        /* empty */
        {"", "", 1},
        {"", "HU-RS", 0},
        {"HU-RS", "", 0},
        {"**", "", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = sw_section_match(cases[i].pattern, cases[i].section);
        if (got != cases[i].want)
            fail_msg("sw_section_match(\"%s\", \"%s\") = %d, expected %d",
                     cases[i].pattern, cases[i].section, got, cases[i].want);
    }
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
    static const struct CMUnitTest tests[] = {
        T(test_put_orders_default_first_then_scope_then_key),
        T(test_put_grows_past_the_first_allocation),
        T(test_put_replaces_and_removes),
        T(test_put_size_limits),
        T(test_put_refusals_change_nothing),
        T(test_keys_of_a_prefix),
        T(test_from_config_scopes),
        T(test_from_config_later_line_wins_and_null_skipped),
        T(test_from_config_adds_to_the_set),
        T(test_from_config_refusals),
        T(test_build_empty_set_is_the_defaults),
        T(test_build_profiles_override_and_inherit),
        T(test_build_keeps_the_engine_settings_of_base),
        T(test_build_errors_are_tidy),
        T(test_section_match),
    };
    return cmocka_run_group_tests_name("sw_thresholds", tests, NULL, NULL);
}
