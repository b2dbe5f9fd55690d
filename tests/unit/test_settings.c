/*
 * Unit tests for sw_settings: durations, and the detection settings of
 * temporary INI files (read with sw_config) over the built-in defaults:
 * every [windows] and [alerts] key, every detector parameter, per-section
 * inheritance from [detectors], levels, and the exact "FILE:LINE: ..."
 * message of every kind of error.
 */
#include "sw_config.h"
#include "sw_settings.h"
#include "sw_time.h"

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
    strcpy(t->path, "/tmp/sw_test_settings_XXXXXX");
    int fd = mkstemp(t->path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Loads text into s (over the defaults); fails the test on any error. */
static void load_ok(const char *text, sw_settings_t *s)
{
    tmpfile_t t;
    write_ini(&t, text);
    char err[512] = "";
    sw_config_t *c = sw_config_load(t.path, err, sizeof(err));
    if (c == NULL)
        fail_msg("sw_config_load: %s", err);
    sw_settings_default(s);
    if (sw_settings_load(c, s, err, sizeof(err)) != 0)
        fail_msg("sw_settings_load: %s", err);
    sw_config_destroy(&c);
    unlink(t.path);
}

/* Loading text fails with exactly "PATH" followed by want. */
static void load_fails(const char *text, const char *want)
{
    tmpfile_t t;
    write_ini(&t, text);
    char err[512] = "";
    sw_config_t *c = sw_config_load(t.path, err, sizeof(err));
    if (c == NULL)
        fail_msg("sw_config_load: %s", err);
    sw_settings_t s;
    sw_settings_default(&s);
    memset(err, 'x', sizeof(err));
    err[sizeof(err) - 1] = '\0';
    assert_int_equal(sw_settings_load(c, &s, err, sizeof(err)), -1);
    char full[700];
    snprintf(full, sizeof(full), "%s%s", t.path, want);
    assert_string_equal(err, full);
    sw_settings_deinit(&s);
    sw_config_destroy(&c);
    unlink(t.path);
}

static const sw_profile_t *section(const sw_settings_t *s, const char *id)
{
    for (size_t i = 0; i < s->profiles.n; i++)
        if (strcmp(s->profiles.v[i].section, id) == 0)
            return &s->profiles.v[i].profile;
    fail_msg("no profile for section %s", id);
    return NULL;
}

static void assert_enabled(const sw_profile_t *p, const char *names)
{
    for (int k = 0; k < SW_DET__COUNT; k++) {
        const char *name = sw_detector_name((sw_detector_kind_t)k);
        int want = 0;
        for (const char *w = names; (w = strstr(w, name)) != NULL; w++)
            if ((w == names || w[-1] == ' ') &&
                (w[strlen(name)] == ' ' || w[strlen(name)] == '\0'))
                want = 1;
        if (p->enabled[k] != want)
            fail_msg("%s: enabled %d, expected %d", name, p->enabled[k], want);
    }
}

/* Field by field (not memcmp: struct copies need not copy padding). */
static int params_equal(const sw_detector_params_t *a,
                        const sw_detector_params_t *b)
{
    return a->kind == b->kind && a->window == b->window &&
           a->limit == b->limit && a->k == b->k && a->ratio == b->ratio &&
           a->min_count == b->min_count && a->baseline == b->baseline &&
           a->alpha == b->alpha && a->min_sigma == b->min_sigma &&
           a->cusum_k == b->cusum_k && a->cusum_h == b->cusum_h &&
           a->history == b->history && a->guard == b->guard &&
           a->reset_after_alarm == b->reset_after_alarm &&
           a->min_mean == b->min_mean && a->lambda == b->lambda;
}

static void assert_profiles_equal(const sw_profile_t *a, const sw_profile_t *b)
{
    for (int k = 0; k < SW_DET__COUNT; k++) {
        if (a->enabled[k] != b->enabled[k])
            fail_msg("%s: enabled differs",
                     sw_detector_name((sw_detector_kind_t)k));
        if (!params_equal(&a->params[k], &b->params[k]))
            fail_msg("%s: parameters differ",
                     sw_detector_name((sw_detector_kind_t)k));
    }
    for (int i = 0; i < 3; i++)
        assert_true(a->levels[i] == b->levels[i]);
}

/* Every field of every detector equals the built-in default. */
static void assert_default_params(const sw_profile_t *p)
{
    for (int k = 0; k < SW_DET__COUNT; k++) {
        sw_detector_params_t d;
        sw_detector_params_default((sw_detector_kind_t)k, &d);
        if (!params_equal(&d, &p->params[k]))
            fail_msg("%s: parameters differ from the defaults",
                     sw_detector_name((sw_detector_kind_t)k));
    }
}

/* ----------------------------------------------------------- durations */

static void test_duration_units(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } ok[] = {
        {"0ms", 0},
        {"0s", 0},
        {"1ms", 1},
        {"15ms", 15},
        {"90s", 90 * SW_MS_PER_SEC},
        {"15m", 15 * SW_MS_PER_MIN},
        {"5min", 5 * SW_MS_PER_MIN},
        {"24h", 24 * SW_MS_PER_HOUR},
        {"1d", SW_MS_PER_DAY},
        {"7d", 7 * SW_MS_PER_DAY},
        {"1440m", SW_MS_PER_DAY},
        /* the largest values of each unit */
        {"9223372036854775807ms", INT64_MAX},
        {"106751991167d", 106751991167LL * SW_MS_PER_DAY},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ms = -1;
        if (sw_parse_duration(ok[i].text, &ms) != 0)
            fail_msg("\"%s\" rejected", ok[i].text);
        if (ms != ok[i].ms)
            fail_msg("\"%s\" = %lld, expected %lld", ok[i].text, (long long)ms,
                     (long long)ok[i].ms);
    }
}

static void test_duration_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",    /* nothing */
        "5",   /* no unit */
        "0",   /* zero needs a unit too */
        "-1h", /* negative */
        "-0",  /* no unit */
        "1w",  /* unknown unit */
        "1y",
        "1H", /* units are lower case */
        "1D",
        "1 d",  /* no space */
        "1.5h", /* no fractions */
        ".5d",
        "h", /* no number */
        "ms",
        "1hh", /* trailing junk */
        "1h ",
        "1h30m",                 /* one unit only */
        "1e3ms",                 /* no exponent */
        "0x10s",                 /* decimal only */
        "9223372036854775808ms", /* beyond int64 */
        "99999999999999999999999d",
        "9223372036854776s", /* overflows once multiplied */
        "153722867280913m",
        "2562047788016h",
        "106751991168d",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 42;
        if (sw_parse_duration(bad[i], &ms) != -1)
            fail_msg("\"%s\" accepted as %lld ms", bad[i], (long long)ms);
    }
}

/* ------------------------------------------------------------ defaults */

static void test_defaults_without_a_file(void **state)
{
    (void)state;
    sw_settings_t s;
    sw_settings_default(&s);
    assert_int_equal(s.engine.bucket_ms, SW_MS_PER_DAY);
    assert_int_equal(s.engine.lateness_ms, 24 * SW_MS_PER_HOUR);
    assert_int_equal(s.engine.idle_ms, 0);
    assert_int_equal(s.engine.by_type, 0);
    assert_int_equal(s.engine.raise_after, 1);
    assert_int_equal(s.engine.resolve_after, 2);
    assert_true(s.engine.update_min_change == 0.1);
    assert_int_equal(s.engine.max_lookback, 0);
    assert_int_equal(s.engine.dedup_capacity, 1u << 20);
    assert_int_equal(s.profiles.strict, 0);
    assert_int_equal(s.profiles.n, 0);
    assert_null(s.profiles.v);
    assert_enabled(&s.profiles.def, "ears_c2 cusum");
    assert_true(s.profiles.def.levels[0] == 1.5);
    assert_true(s.profiles.def.levels[1] == 2.5);
    assert_true(s.profiles.def.levels[2] == 4.0);
    assert_default_params(&s.profiles.def);
    sw_settings_deinit(&s);
}

/* An empty file, one of comments, or one with only sections that
 * sw_settings does not own leaves every default in place. */
static void test_defaults_when_empty(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "",
        "; nothing but a comment\n# and another\n\n",
        "[kafka]\nbrokers = k1:9092\ntopic = t\nclient.id = x\n"
        "[redis]\nurl = redis://x\n[worker]\nthreads = 4\n[hub]\nport = 1\n",
    };
    sw_settings_t want;
    sw_settings_default(&want);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        sw_settings_t s;
        load_ok(texts[i], &s);
        assert_int_equal(s.engine.bucket_ms, want.engine.bucket_ms);
        assert_int_equal(s.engine.lateness_ms, want.engine.lateness_ms);
        assert_int_equal(s.engine.idle_ms, want.engine.idle_ms);
        assert_int_equal(s.engine.by_type, want.engine.by_type);
        assert_int_equal(s.engine.raise_after, want.engine.raise_after);
        assert_int_equal(s.engine.resolve_after, want.engine.resolve_after);
        assert_true(s.engine.update_min_change ==
                    want.engine.update_min_change);
        assert_int_equal(s.engine.max_lookback, want.engine.max_lookback);
        assert_int_equal(s.engine.dedup_capacity, want.engine.dedup_capacity);
        assert_profiles_equal(&s.profiles.def, &want.profiles.def);
        assert_int_equal(s.profiles.n, 0);
        assert_int_equal(s.profiles.strict, 0);
        sw_settings_deinit(&s);
    }
}

/* ------------------------------------------------------ windows, alerts */

static void test_every_windows_key(void **state)
{
    (void)state;
    sw_settings_t s;
    load_ok("[windows]\n"
            "bucket = 15m\n"
            "lateness = 2h\n"
            "idle = 30s\n"
            "by_type = yes\n"
            "strict_sections = on\n"
            "max_lookback = 120\n"
            "dedup_capacity = 5000\n",
            &s);
    assert_int_equal(s.engine.bucket_ms, 15 * SW_MS_PER_MIN);
    assert_int_equal(s.engine.lateness_ms, 2 * SW_MS_PER_HOUR);
    assert_int_equal(s.engine.idle_ms, 30 * SW_MS_PER_SEC);
    assert_int_equal(s.engine.by_type, 1);
    assert_int_equal(s.profiles.strict, 1);
    assert_int_equal(s.engine.max_lookback, 120);
    assert_int_equal(s.engine.dedup_capacity, 5000);
    /* the rest stays */
    assert_int_equal(s.engine.raise_after, 1);
    assert_default_params(&s.profiles.def);
    sw_settings_deinit(&s);

    /* the default dedup capacity can be written, and more */
    load_ok("[windows]\ndedup_capacity = 1048576\n", &s);
    assert_int_equal(s.engine.dedup_capacity, 1048576);
    sw_settings_deinit(&s);
    load_ok("[windows]\ndedup_capacity = 100000000\n", &s);
    assert_int_equal(s.engine.dedup_capacity, 100000000);
    sw_settings_deinit(&s);
}

static void test_booleans(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int value;
    } b[] = {
        {"true", 1}, {"TRUE", 1}, {"yes", 1},   {"Yes", 1},
        {"on", 1},   {"1", 1},    {"false", 0}, {"False", 0},
        {"no", 0},   {"NO", 0},   {"off", 0},   {"0", 0},
    };
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text),
                 "[windows]\nby_type = %s\n[detectors]\ncusum.reset = %s\n",
                 b[i].text, b[i].text);
        sw_settings_t s;
        load_ok(text, &s);
        assert_int_equal(s.engine.by_type, b[i].value);
        assert_int_equal(s.profiles.def.params[SW_DET_CUSUM].reset_after_alarm,
                         b[i].value);
        sw_settings_deinit(&s);
    }
}

static void test_every_alerts_key(void **state)
{
    (void)state;
    sw_settings_t s;
    load_ok("[alerts]\n"
            "raise_after = 3\n"
            "resolve_after = 4\n"
            "update_min_change = 0.25\n"
            "levels = 2, 3, 5\n",
            &s);
    assert_int_equal(s.engine.raise_after, 3);
    assert_int_equal(s.engine.resolve_after, 4);
    assert_true(s.engine.update_min_change == 0.25);
    assert_true(s.profiles.def.levels[0] == 2.0);
    assert_true(s.profiles.def.levels[1] == 3.0);
    assert_true(s.profiles.def.levels[2] == 5.0);
    sw_settings_deinit(&s);
}

/* ------------------------------------------------------------- levels */

static void test_levels(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double v[3];
    } ok[] = {
        {"1.5, 2.5, 4", {1.5, 2.5, 4}}, {"2 3 5", {2, 3, 5}},
        {"1,1,1", {1, 1, 1}},           {"1.25 , 2,   8.5", {1.25, 2, 8.5}},
        {"1e0, 2e0, 3e1", {1, 2, 30}},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "[detectors]\nlevels = %s\n", ok[i].text);
        sw_settings_t s;
        load_ok(text, &s);
        for (int j = 0; j < 3; j++)
            if (s.profiles.def.levels[j] != ok[i].v[j])
                fail_msg("\"%s\"[%d] = %g", ok[i].text, j,
                         s.profiles.def.levels[j]);
        sw_settings_deinit(&s);
    }
    static const char *const bad[] = {
        "0.5, 2, 3",      /* below 1 */
        "3, 2, 4",        /* descending */
        "1.5, 2.5",       /* two */
        "1.5, 2.5, 4, 5", /* four */
        "a, b, c",        "", "1.5; 2.5; 4", "nan, nan, nan",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128], want[300];
        snprintf(text, sizeof(text), "[alerts]\nlevels = %s\n", bad[i]);
        snprintf(want, sizeof(want),
                 ":2: [alerts] levels: \"%s\" is not three ascending "
                 "numbers >= 1 (the score / threshold at which an alert is "
                 "medium, high, critical; e.g. 1.5, 2.5, 4)",
                 bad[i]);
        load_fails(text, want);
    }
}

/* [alerts] levels and [detectors] levels set the same boundaries: the later
 * line wins; a section overrides its own. */
static void test_levels_alerts_detectors_and_section(void **state)
{
    (void)state;
    sw_settings_t s;
    load_ok("[alerts]\nlevels = 2, 3, 5\n"
            "[detectors]\nlevels = 1.2, 1.4, 1.6\n"
            "[section GR-MK]\nlevels = 3, 4, 6\n"
            "[section HU-RS]\ncusum.h = 4\n",
            &s);
    assert_true(s.profiles.def.levels[0] == 1.2);
    assert_true(s.profiles.def.levels[2] == 1.6);
    assert_true(section(&s, "GR-MK")->levels[0] == 3);
    assert_true(section(&s, "GR-MK")->levels[2] == 6);
    /* a section that does not set levels has the default profile's */
    assert_true(section(&s, "HU-RS")->levels[1] == 1.4);
    sw_settings_deinit(&s);
}

/* ---------------------------------------------------------- detectors */

static void test_every_detector_parameter(void **state)
{
    (void)state;
    sw_settings_t s;
    load_ok("[detectors]\n"
            "run = threshold, ratio, ears_c1, ears_c2, ears_c3, cusum, ewma\n"
            "threshold.window = 3\n"
            "threshold.limit = 250\n"
            "threshold.min_count = 5\n"
            "ratio.window = 7\n"
            "ratio.k = 3\n"
            "ratio.ratio = 1.8\n"
            "ratio.min_count = 50\n"
            "ears_c1.baseline = 14\n"
            "ears_c1.alpha = 0.01\n"
            "ears_c1.min_sigma = 1.5\n"
            "ears_c1.min_count = 6\n"
            "ears_c2.baseline = 28\n"
            "ears_c2.alpha = 0.000001\n"
            "ears_c2.min_sigma = 2\n"
            "ears_c2.min_count = 7\n"
            "ears_c3.baseline = 10\n"
            "ears_c3.alpha = 0.05\n"
            "ears_c3.min_sigma = 0\n"
            "ears_c3.min_count = 8\n"
            "cusum.k = 1.5\n"
            "cusum.h = 4\n"
            "cusum.baseline = 21\n"
            "cusum.history = 35\n"
            "cusum.guard = 1\n"
            "cusum.reset = false\n"
            "cusum.min_mean = 0.25\n"
            "cusum.min_count = 9\n"
            "ewma.lambda = 0.9\n"
            "ewma.baseline = 30\n"
            "ewma.history = 14\n"
            "ewma.guard = 3\n"
            "ewma.alpha = 0.005\n"
            "ewma.min_sigma = 1\n"
            "ewma.min_count = 11\n",
            &s);
    const sw_profile_t *p = &s.profiles.def;
    assert_enabled(p, "threshold ratio ears_c1 ears_c2 ears_c3 cusum ewma");
    const sw_detector_params_t *d = p->params;
    assert_int_equal(d[SW_DET_THRESHOLD].window, 3);
    assert_true(d[SW_DET_THRESHOLD].limit == 250);
    assert_true(d[SW_DET_THRESHOLD].min_count == 5);
    assert_int_equal(d[SW_DET_RATIO].window, 7);
    assert_int_equal(d[SW_DET_RATIO].k, 3);
    assert_true(d[SW_DET_RATIO].ratio == 1.8);
    assert_true(d[SW_DET_RATIO].min_count == 50);
    assert_int_equal(d[SW_DET_EARS_C1].baseline, 14);
    assert_true(d[SW_DET_EARS_C1].alpha == 0.01);
    assert_true(d[SW_DET_EARS_C1].min_sigma == 1.5);
    assert_true(d[SW_DET_EARS_C1].min_count == 6);
    assert_int_equal(d[SW_DET_EARS_C2].baseline, 28);
    assert_true(d[SW_DET_EARS_C2].alpha == 0.000001);
    assert_true(d[SW_DET_EARS_C2].min_sigma == 2);
    assert_true(d[SW_DET_EARS_C2].min_count == 7);
    assert_int_equal(d[SW_DET_EARS_C3].baseline, 10);
    assert_true(d[SW_DET_EARS_C3].alpha == 0.05);
    assert_true(d[SW_DET_EARS_C3].min_sigma == 0);
    assert_true(d[SW_DET_EARS_C3].min_count == 8);
    assert_true(d[SW_DET_CUSUM].cusum_k == 1.5);
    assert_true(d[SW_DET_CUSUM].cusum_h == 4);
    assert_int_equal(d[SW_DET_CUSUM].baseline, 21);
    assert_int_equal(d[SW_DET_CUSUM].history, 35);
    assert_int_equal(d[SW_DET_CUSUM].guard, 1);
    assert_int_equal(d[SW_DET_CUSUM].reset_after_alarm, 0);
    assert_true(d[SW_DET_CUSUM].min_mean == 0.25);
    assert_true(d[SW_DET_CUSUM].min_count == 9);
    assert_true(d[SW_DET_EWMA].lambda == 0.9);
    assert_int_equal(d[SW_DET_EWMA].baseline, 30);
    assert_int_equal(d[SW_DET_EWMA].history, 14);
    assert_int_equal(d[SW_DET_EWMA].guard, 3);
    assert_true(d[SW_DET_EWMA].alpha == 0.005);
    assert_true(d[SW_DET_EWMA].min_sigma == 1);
    assert_true(d[SW_DET_EWMA].min_count == 11);
    /* a parameter of one kind does not leak into another */
    assert_int_equal(d[SW_DET_EARS_C1].window, 1);
    assert_int_equal(d[SW_DET_EWMA].k, 4);
    for (int k = 0; k < SW_DET__COUNT; k++)
        assert_int_equal(d[k].kind, k);
    sw_settings_deinit(&s);
}

static void test_run_lists(void **state)
{
    (void)state;
    static const struct {
        const char *text, *enabled;
    } runs[] = {
        {"ears_c2, cusum", "ears_c2 cusum"},
        {"ewma", "ewma"},
        {"ears_c3 cusum ewma", "ears_c3 cusum ewma"},
        {"  threshold,ratio ,\tears_c1 ", "threshold ratio ears_c1"},
        {"cusum, cusum", "cusum"},
        {"", ""}, /* none: counted, never alerted */
        {",", ""},
    };
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "[detectors]\nrun = %s\n", runs[i].text);
        sw_settings_t s;
        load_ok(text, &s);
        assert_enabled(&s.profiles.def, runs[i].enabled);
        sw_settings_deinit(&s);
    }
}

/* ------------------------------------------------------------ sections */

static void test_section_inherits_what_it_does_not_set(void **state)
{
    (void)state;
    sw_settings_t s;
    /* the section comes first in the file: it still inherits all of
     * [detectors], which is read completely before any section */
    load_ok("[section GR-MK]\n"
            "cusum.h = 5\n"
            "ears_c2.min_count = 40\n"
            "\n"
            "[detectors]\n"
            "run = ears_c2, cusum\n"
            "ears_c2.alpha = 0.0001\n"
            "cusum.h = 4\n"
            "levels = 2, 3, 5\n",
            &s);
    assert_int_equal(s.profiles.n, 1);
    const sw_profile_t *def = &s.profiles.def;
    const sw_profile_t *gr = section(&s, "GR-MK");
    assert_enabled(gr, "ears_c2 cusum");
    /* inherited from [detectors] */
    assert_true(gr->params[SW_DET_EARS_C2].alpha == 0.0001);
    assert_true(gr->levels[0] == 2);
    /* inherited built-in defaults */
    assert_true(gr->params[SW_DET_CUSUM].cusum_k == 1.04);
    assert_int_equal(gr->params[SW_DET_EARS_C2].baseline, 7);
    /* its own */
    assert_true(gr->params[SW_DET_CUSUM].cusum_h == 5);
    assert_true(gr->params[SW_DET_EARS_C2].min_count == 40);
    /* the default profile is untouched by the section */
    assert_true(def->params[SW_DET_CUSUM].cusum_h == 4);
    assert_true(def->params[SW_DET_EARS_C2].min_count == 0);
    /* nothing else differs between the two */
    sw_profile_t g = *gr;
    g.params[SW_DET_CUSUM].cusum_h = 4;
    g.params[SW_DET_EARS_C2].min_count = 0;
    assert_profiles_equal(&g, def);
    sw_settings_deinit(&s);
}

static void test_section_run_replaces_the_set(void **state)
{
    (void)state;
    sw_settings_t s;
    load_ok("[detectors]\n"
            "run = ears_c2, cusum\n"
            "threshold.limit = 50\n"
            "[section HR-RS]\n"
            "run = threshold\n"
            "[section HU-RS]\n"
            "run = ears_c2, cusum, ewma\n"
            "ewma.lambda = 0.9\n"
            "[section BA-HR]\n"
            "run =\n",
            &s);
    assert_int_equal(s.profiles.n, 3);
    assert_enabled(&s.profiles.def, "ears_c2 cusum");
    const sw_profile_t *hr = section(&s, "HR-RS");
    assert_enabled(hr, "threshold");
    /* its parameters still come from [detectors] */
    assert_true(hr->params[SW_DET_THRESHOLD].limit == 50);
    assert_enabled(section(&s, "HU-RS"), "ears_c2 cusum ewma");
    assert_true(section(&s, "HU-RS")->params[SW_DET_EWMA].lambda == 0.9);
    assert_enabled(section(&s, "BA-HR"), "");
    sw_settings_deinit(&s);
}

static void test_section_ids(void **state)
{
    (void)state;
    sw_settings_t s;
    load_ok("[section HU-RS]\n"
            "cusum.h = 3\n"
            "[section \"HR-SI/karlovac\"]\n"
            "cusum.h = 4\n"
            "[section  \"RS-XK\" ]\n"
            "cusum.h = 5\n"
            "[section \"HU-RS\"]\n" /* the same section again */
            "cusum.k = 2\n",
            &s);
    assert_int_equal(s.profiles.n, 3);
    assert_true(section(&s, "HU-RS")->params[SW_DET_CUSUM].cusum_h == 3);
    assert_true(section(&s, "HU-RS")->params[SW_DET_CUSUM].cusum_k == 2);
    assert_true(section(&s, "HR-SI/karlovac")->params[SW_DET_CUSUM].cusum_h ==
                4);
    assert_true(section(&s, "RS-XK")->params[SW_DET_CUSUM].cusum_h == 5);
    sw_settings_deinit(&s);
}

static void test_later_line_wins(void **state)
{
    (void)state;
    sw_settings_t s;
    load_ok("[windows]\nbucket = 1h\n[alerts]\nraise_after = 2\n"
            "[windows]\nbucket = 6h\n"
            "[section HU-RS]\ncusum.h = 3\ncusum.h = 6\n",
            &s);
    assert_int_equal(s.engine.bucket_ms, 6 * SW_MS_PER_HOUR);
    assert_true(section(&s, "HU-RS")->params[SW_DET_CUSUM].cusum_h == 6);
    sw_settings_deinit(&s);
}

/* the settings load into an engine as they are */
static void test_loaded_settings_make_an_engine(void **state)
{
    (void)state;
    sw_settings_t s;
    load_ok("[windows]\nbucket = 1h\nlateness = 6h\n"
            "[detectors]\nrun = ears_c2, cusum\nears_c2.baseline = 28\n"
            "[section GR-MK]\nrun = ewma\newma.lambda = 0.9\n",
            &s);
    char err[256];
    sw_engine_t *e = sw_engine_new(&s.engine, &s.profiles, err, sizeof(err));
    if (e == NULL)
        fail_msg("sw_engine_new: %s", err);
    sw_engine_destroy(&e);
    sw_settings_deinit(&s);
    sw_settings_deinit(&s); /* twice is fine */
}

/* --------------------------------------------------------------- errors */

#define ACC_DET                                                                \
    "(accepted: threshold, ratio, ears_c1, ears_c2, ears_c3, cusum, ewma)"
#define ACC_DUR                                                                \
    "(accepted: a whole number with a unit ms, s, m, h or d, e.g. 15m, 24h, "  \
    "1d)"
#define ACC_SEC "(accepted: e.g. HU-RS, HR-SI/karlovac; see docs/events.md)"

static void test_error_unknown_section(void **state)
{
    (void)state;
    load_fails("[windows]\nbucket = 1d\n\n[detector]\nrun = cusum\n",
               ":5: unknown section [detector] (accepted: kafka, windows, "
               "alerts, detectors, section XX-YY)");
    load_fails("bucket = 1d\n", ":1: unknown section [] (accepted: kafka, "
                                "windows, alerts, detectors, section XX-YY)");
    load_fails("[Windows]\nbucket = 1d\n",
               ":2: unknown section [Windows] (accepted: kafka, windows, "
               "alerts, detectors, section XX-YY)");
    load_fails("[sectionHU-RS]\ncusum.h = 1\n",
               ":2: unknown section [sectionHU-RS] (accepted: kafka, "
               "windows, alerts, detectors, section XX-YY)");
}

static void test_error_unknown_key(void **state)
{
    (void)state;
    load_fails("; c\n[windows]\nbukcet = 1d\n",
               ":3: [windows] bukcet: unknown key (accepted: bucket, "
               "lateness, idle, by_type, strict_sections, max_lookback, "
               "dedup_capacity)");
    load_fails("[alerts]\nraise_after = 1\nraise = 2\n",
               ":3: [alerts] raise: unknown key (accepted: raise_after, "
               "resolve_after, update_min_change, levels)");
    load_fails("[detectors]\nalpha = 0.01\n",
               ":2: [detectors] alpha: unknown key (accepted: run, levels, "
               "or DETECTOR.PARAMETER such as ears_c1.alpha)");
    load_fails("[section HU-RS]\nbucket = 1d\n",
               ":2: [section HU-RS] bucket: unknown key (accepted: run, "
               "levels, or DETECTOR.PARAMETER such as ears_c1.alpha)");
    load_fails("[detectors]\nears_c4.alpha = 0.01\n",
               ":2: [detectors] ears_c4.alpha: unknown detector \"ears_c4\" "
               "(accepted: threshold, ratio, ears_c1, ears_c2, ears_c3, "
               "cusum, ewma)");
    load_fails("[detectors]\n\ncusum.alpha = 0.01\n",
               ":3: [detectors] cusum.alpha: unknown parameter (accepted for "
               "cusum: k, h, baseline, history, guard, reset, min_mean, "
               "min_count)");
    load_fails("[detectors]\nthreshold.k = 1\n",
               ":2: [detectors] threshold.k: unknown parameter (accepted for "
               "threshold: window, limit, min_count)");
    load_fails("[detectors]\nratio.alpha = 1\n",
               ":2: [detectors] ratio.alpha: unknown parameter (accepted for "
               "ratio: window, k, ratio, min_count)");
    load_fails("[detectors]\nears_c3.history = 1\n",
               ":2: [detectors] ears_c3.history: unknown parameter (accepted "
               "for EARS: baseline, alpha, min_sigma, min_count)");
    load_fails("[detectors]\newma.k = 1\n",
               ":2: [detectors] ewma.k: unknown parameter (accepted for ewma: "
               "lambda, baseline, history, guard, alpha, min_sigma, "
               "min_count)");
}

static void test_error_bad_duration(void **state)
{
    (void)state;
    load_fails("[windows]\nbucket = 1d\nlateness = 24\n",
               ":3: [windows] lateness: \"24\" is not a duration " ACC_DUR);
    load_fails("[windows]\nbucket = 1w\n",
               ":2: [windows] bucket: \"1w\" is not a duration " ACC_DUR);
    load_fails("[windows]\nidle = -5m\n",
               ":2: [windows] idle: \"-5m\" is not a duration " ACC_DUR);
    load_fails("[windows]\nbucket =\n",
               ":2: [windows] bucket: \"\" is not a duration " ACC_DUR);
}

static void test_error_bad_numbers(void **state)
{
    (void)state;
    load_fails("[detectors]\nears_c2.alpha = 0,001\n",
               ":2: [detectors] ears_c2.alpha: \"0,001\" is not a number");
    load_fails("[alerts]\nupdate_min_change = ten\n",
               ":2: [alerts] update_min_change: \"ten\" is not a number");
    load_fails("[detectors]\ncusum.h = 4x\n",
               ":2: [detectors] cusum.h: \"4x\" is not a number");
    load_fails("[detectors]\nthreshold.limit =\n",
               ":2: [detectors] threshold.limit: \"\" is not a number");
    load_fails("[alerts]\nresolve_after = two\n",
               ":2: [alerts] resolve_after: \"two\" is not a whole number "
               "(accepted: 0..1000000)");
    load_fails("[section BA-HR]\nears_c2.baseline = -7\n",
               ":2: [section BA-HR] ears_c2.baseline: \"-7\" is not a whole "
               "number (accepted: 0..1000000)");
    load_fails("[detectors]\nears_c2.baseline = 7.5\n",
               ":2: [detectors] ears_c2.baseline: \"7.5\" is not a whole "
               "number (accepted: 0..1000000)");
    load_fails("[windows]\nmax_lookback = 1000001\n",
               ":2: [windows] max_lookback: \"1000001\" is not a whole "
               "number (accepted: 0..1000000)");
    load_fails("[windows]\ndedup_capacity = 100000001\n",
               ":2: [windows] dedup_capacity: \"100000001\" is not a whole "
               "number (accepted: 0..100000000)");
    load_fails("[windows]\nby_type = maybe\n",
               ":2: [windows] by_type: \"maybe\" is not a boolean (accepted: "
               "true, false)");
    load_fails("[detectors]\ncusum.reset = 2\n",
               ":2: [detectors] cusum.reset: \"2\" is not a boolean "
               "(accepted: true, false)");
}

static void test_error_unknown_detector_in_run(void **state)
{
    (void)state;
    load_fails("[detectors]\nrun = ears_c2, earsc3\n",
               ":2: [detectors] run: unknown detector \"earsc3\" " ACC_DET);
    load_fails(
        "[detectors]\nrun = cusum\n[section GR-MK]\n"
        "run = cusum farrington\n",
        ":4: [section GR-MK] run: unknown detector \"farrington\" " ACC_DET);
    load_fails("[detectors]\nrun = EARS_C2\n",
               ":2: [detectors] run: unknown detector \"EARS_C2\" " ACC_DET);
}

static void test_error_out_of_range(void **state)
{
    (void)state;
    /* the line that set it, the parameter by its key, the range */
    load_fails("[detectors]\nrun = ears_c2\nears_c2.alpha = 0.7\n",
               ":3: [detectors] ears_c2.alpha: 0.7 is out of range "
               "(accepted: 0 < alpha < 0.5)");
    load_fails("[detectors]\ncusum.k = -1\n",
               ":2: [detectors] cusum.k: -1 is out of range (accepted: 0 <= "
               "k <= 1000)");
    load_fails("[detectors]\ncusum.h = 0\n",
               ":2: [detectors] cusum.h: 0 is out of range (accepted: 0 < h "
               "<= 1e+06)");
    load_fails("[detectors]\nears_c2.baseline = 1\n",
               ":2: [detectors] ears_c2.baseline: 1 is out of range "
               "(accepted: 2..100)");
    load_fails("[detectors]\newma.alpha = nan\n",
               ":2: [detectors] ewma.alpha: nan is out of range (accepted: 0 "
               "< alpha < 0.5)");
    /* in a section, quoted as written */
    load_fails("[detectors]\nrun = ears_c2\n[section \"HR-SI/karlovac\"]\n"
               "run = ewma\newma.lambda = 1.5\n",
               ":5: [section \"HR-SI/karlovac\"] ewma.lambda: 1.5 is out of "
               "range (accepted: 0 < lambda <= 1)");
    /* inherited by a section: the [detectors] line */
    load_fails("[section HU-RS]\nrun = ears_c1\n[detectors]\nrun = cusum\n"
               "ears_c1.baseline = 1\n",
               ":5: [detectors] ears_c1.baseline: 1 is out of range "
               "(accepted: 2..100)");
    /* a detector that does not run is checked too */
    load_fails("[detectors]\nrun = ears_c2, cusum\newma.alpha = 0.5\n",
               ":3: [detectors] ewma.alpha: 0.5 is out of range (accepted: 0 "
               "< alpha < 0.5)");
    /* limits on a combination name the key of the line that broke it */
    load_fails("[detectors]\ncusum.history = 300\n[section HU-RS]\n"
               "cusum.baseline = 100\n",
               ":4: [section HU-RS] cusum.baseline: history + guard + "
               "baseline = 300 + 2 + 100 = 402 buckets is out of range "
               "(accepted: <= 400)");
    load_fails("[detectors]\nratio.window = 100\nratio.k = 50\n",
               ":3: [detectors] ratio.k: window * (k + 1) = 100 * 51 = 5100 "
               "buckets is out of range (accepted: <= 400)");
}

static void test_error_bad_section_id(void **state)
{
    (void)state;
    load_fails("[detectors]\nrun = cusum\n[section RS-HU]\ncusum.h = 4\n",
               ":4: [section RS-HU]: \"RS-HU\" is not a section id " ACC_SEC);
    load_fails("[section hu-rs]\ncusum.h = 4\n",
               ":2: [section hu-rs]: \"hu-rs\" is not a section id " ACC_SEC);
    load_fails("[section HU-RS north]\ncusum.h = 4\n",
               ":2: [section HU-RS north]: \"HU-RS north\" is not a section "
               "id " ACC_SEC);
    load_fails("[section HU-HU]\ncusum.h = 4\n",
               ":2: [section HU-HU]: \"HU-HU\" is not a section id " ACC_SEC);
    load_fails("[section HR-SI/Karlovac]\ncusum.h = 4\n",
               ":2: [section HR-SI/Karlovac]: \"HR-SI/Karlovac\" is not a "
               "section id " ACC_SEC);
    load_fails("[section ]\ncusum.h = 4\n",
               ":2: [section ]: \"\" is not a section id " ACC_SEC);
}

/* the first error in the file is the one reported */
static void test_first_error_wins(void **state)
{
    (void)state;
    load_fails("[windows]\nbucket = 1d\nlateness = x\nidle = y\n",
               ":3: [windows] lateness: \"x\" is not a duration " ACC_DUR);
}

/* a small errstr is cut, never overrun */
static void test_small_errstr(void **state)
{
    (void)state;
    tmpfile_t t;
    write_ini(&t, "[windows]\nbucket = 1w\n");
    char err[512];
    sw_config_t *c = sw_config_load(t.path, err, sizeof(err));
    assert_non_null(c);
    char small[24];
    memset(small, 'x', sizeof(small));
    sw_settings_t s;
    sw_settings_default(&s);
    assert_int_equal(sw_settings_load(c, &s, small, 16), -1);
    assert_int_equal(strlen(small), 15);
    assert_memory_equal(small, t.path, 15);
    assert_int_equal(small[16], 'x');
    sw_settings_deinit(&s);
    sw_config_destroy(&c);
    unlink(t.path);
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
    static const struct CMUnitTest tests[] = {
        T(test_duration_units),
        T(test_duration_rejects),
        T(test_defaults_without_a_file),
        T(test_defaults_when_empty),
        T(test_every_windows_key),
        T(test_booleans),
        T(test_every_alerts_key),
        T(test_levels),
        T(test_levels_alerts_detectors_and_section),
        T(test_every_detector_parameter),
        T(test_run_lists),
        T(test_section_inherits_what_it_does_not_set),
        T(test_section_run_replaces_the_set),
        T(test_section_ids),
        T(test_later_line_wins),
        T(test_loaded_settings_make_an_engine),
        T(test_error_unknown_section),
        T(test_error_unknown_key),
        T(test_error_bad_duration),
        T(test_error_bad_numbers),
        T(test_error_unknown_detector_in_run),
        T(test_error_out_of_range),
        T(test_error_bad_section_id),
        T(test_first_error_wins),
        T(test_small_errstr),
    };
    return cmocka_run_group_tests_name("sw_settings", tests, NULL, NULL);
}
