/*
 * Unit tests for sw_alert_wire: the alert log's JSON in, the msgpack map of
 * docs/alerts.md out, and the subscriber's decoder.
 *
 * Refusals are rows of two tables: the standard alert (as JSON, or packed
 * by sw_alert_pack and then edited entry by entry with msgpack-c) with one
 * entry left out, replaced or added, and the exact message expected.
 *
 * Every decode reads a copy of its input that ends exactly where its
 * allocation ends, so that the ASan build (make SAN=1) reports any read past
 * the end.
 */
#include "sw_alert.h"
#include "sw_alert_wire.h"
#include "sw_detector.h"
#include "sw_engine.h"
#include "sw_event.h"
#include "sw_time.h"

#include <float.h>
#include <math.h>
#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <yajl/yajl_tree.h>

/* 2019-03-01T00:00:00Z */
#define TS0 INT64_C(1551398400000)
#define DAY (INT64_C(24) * 3600 * 1000)
/* 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z */
#define Y2000 INT64_C(946684800000)
#define Y2100 INT64_C(4102444800000)

#define STD_ID "HU-RS:ears_c2:2019-03-01T00:00:00.000Z"

/* ------------------------------------------------------------- helpers */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp_t;

static void mp_init(mp_t *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mp_free(mp_t *m)
{
    msgpack_sbuffer_destroy(&m->sb);
}

static void mp_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* The standard alert: every field set, values that %.6g writes exactly. */
static void std_alert(sw_wire_alert_t *w)
{
    memset(w, 0, sizeof(*w));
    sw_alert_t *a = &w->a;
    snprintf(a->alert_id, sizeof(a->alert_id), "%s", STD_ID);
    a->state = SW_ALERT_RAISED;
    snprintf(a->section, sizeof(a->section), "HU-RS");
    a->type = -1;
    a->detector = SW_DET_EARS_C2;
    a->level = SW_LEVEL_HIGH;
    a->window_start = TS0;
    a->window_end = TS0 + DAY;
    a->observed = 120;
    a->expected = 40.5;
    a->score = 3.25;
    a->threshold = 1.5;
    a->raised_at = TS0 + DAY;
    w->seq = 42;
    w->prev = 17;
    w->logged_at = TS0 + DAY + 1234;
}

/* sw_alert_from_json on a copy of json[0..len) in an allocation of exactly
 * len bytes, w filled with garbage first. */
static int from_json_exact(const char *json, size_t len, sw_wire_alert_t *w,
                           char *err, size_t errsz)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, json, len);
    memset(w, 0xa5, sizeof(*w));
    err[0] = '\0';
    int rc = sw_alert_from_json(copy, len, w, err, errsz);
    free(copy);
    return rc;
}

static int unpack_exact(const char *buf, size_t len, sw_wire_alert_t *w,
                        char *err, size_t errsz)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    memset(w, 0xa5, sizeof(*w));
    err[0] = '\0';
    int rc = sw_alert_unpack(copy, len, w, err, errsz);
    free(copy);
    return rc;
}

static void pack_alert(mp_t *m, const sw_wire_alert_t *w)
{
    mp_init(m);
    assert_int_equal(sw_alert_pack(&m->pk, w), 0);
}

static int same_bits(double x, double y)
{
    return memcmp(&x, &y, sizeof(x)) == 0;
}

static void check_double(const char *what, double got, double want, int exact)
{
    if (exact) {
        if (!same_bits(got, want))
            fail_msg("%s: got %.17g, expected exactly %.17g", what, got, want);
        return;
    }
    double tol = 1e-5 * fabs(want);
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.17g, expected %.17g (relative 1e-5)", what, got,
                 want);
}

/* got holds every field of want (doubles exactly, or within a relative
 * 1e-5 for JSON's %.6g); tseq and at are not carried. */
static void check_wire_equal(const sw_wire_alert_t *got,
                             const sw_wire_alert_t *want, int exact)
{
    const sw_alert_t *g = &got->a, *e = &want->a;
    assert_string_equal(g->alert_id, e->alert_id);
    assert_int_equal(g->state, e->state);
    assert_string_equal(g->section, e->section);
    assert_int_equal(g->type, e->type);
    assert_int_equal(g->detector, e->detector);
    assert_int_equal(g->level, e->level);
    assert_int_equal(g->window_start, e->window_start);
    assert_int_equal(g->window_end, e->window_end);
    check_double("observed", g->observed, e->observed, exact);
    check_double("expected", g->expected, e->expected, exact);
    check_double("score", g->score, e->score, exact);
    check_double("threshold", g->threshold, e->threshold, exact);
    assert_int_equal(g->raised_at, e->raised_at);
    assert_int_equal(g->retracted != 0, e->retracted != 0);
    assert_int_equal(g->at, 0);
    assert_int_equal(g->tseq, 0);
    assert_int_equal(got->seq, want->seq);
    assert_int_equal(got->prev, want->prev);
    assert_int_equal(got->logged_at, want->logged_at);
}

static void check_refused(int rc, const char *err, const char *want)
{
    if (rc != -1)
        fail_msg("accepted, expected the refusal \"%s\"", want);
    assert_string_equal(err, want);
}

static void check_accepted(int rc, const char *err)
{
    if (rc != 0)
        fail_msg("refused: %s", err);
}

/* JSON through sw_alert_to_json and back; the expected wire alert has seq,
 * no prev and no logged_at. */
static void json_round_trip(const sw_wire_alert_t *w, uint64_t seq)
{
    char json[SW_ALERT_JSON_MAX], err[256];
    size_t n = sw_alert_to_json(&w->a, seq, json, sizeof(json));
    assert_true(n > 0);
    assert_int_equal(strlen(json), n);
    sw_wire_alert_t got, want = *w;
    want.a.at = 0;
    want.a.tseq = 0;
    want.seq = seq;
    want.prev = 0;
    want.logged_at = 0;
    int rc = from_json_exact(json, n, &got, err, sizeof(err));
    if (rc != 0)
        fail_msg("refused: %s\n%s", err, json);
    check_wire_equal(&got, &want, 0);
}

static void msgpack_round_trip(const sw_wire_alert_t *w)
{
    mp_t m;
    pack_alert(&m, w);
    sw_wire_alert_t got;
    char err[256];
    int rc = unpack_exact(m.sb.data, m.sb.size, &got, err, sizeof(err));
    mp_free(&m);
    check_accepted(rc, err);
    sw_wire_alert_t want = *w;
    want.a.at = 0;
    want.a.tseq = 0;
    check_wire_equal(&got, &want, 1);
}

/* -------------------------------------------------------------- JSON in */

static void test_json_without_seq(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_alert(&w);
    json_round_trip(&w, 0);
}

static void test_json_with_seq(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_alert(&w);
    json_round_trip(&w, 1);
    json_round_trip(&w, 987654321);
    json_round_trip(&w, INT64_MAX);
}

static void test_json_with_type(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_alert(&w);
    for (int t = 0; t < SW_TYPE__COUNT; t++) {
        w.a.type = t;
        json_round_trip(&w, 0);
        json_round_trip(&w, 5);
    }
}

static void test_json_with_retracted(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_alert(&w);
    w.a.state = SW_ALERT_RESOLVED;
    w.a.retracted = 1;
    json_round_trip(&w, 0);
    json_round_trip(&w, 77);
}

static void test_json_every_state_level_detector(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_alert(&w);
    for (int s = 0; s < 3; s++)
        for (int l = 0; l < 4; l++)
            for (int d = 0; d < SW_DET__COUNT; d++) {
                w.a.state = (sw_alert_state_t)s;
                w.a.level = (sw_level_t)l;
                w.a.detector = (sw_detector_kind_t)d;
                json_round_trip(&w, 3);
            }
}

static void test_json_fields_read_exactly(void **state)
{
    (void)state;
    static const char json[] =
        "{\"seq\":12,\"alert_id\":\"" STD_ID "\",\"state\":\"updated\","
        "\"section\":\"HR-RS/bajakovo\",\"type\":\"deterred\","
        "\"detector\":\"cusum\",\"level\":\"critical\","
        "\"window_start\":\"2019-03-01T00:00:00.000Z\","
        "\"window_end\":\"2019-03-02T00:00:00Z\",\"observed\":7,"
        "\"expected\":2.5,\"score\":-1.25e-3,\"threshold\":4,"
        "\"raised_at\":\"2019-03-02T00:00:00.000Z\",\"retracted\":false}";
    sw_wire_alert_t w;
    char err[256];
    check_accepted(
        from_json_exact(json, sizeof(json) - 1, &w, err, sizeof(err)), err);
    assert_int_equal(w.seq, 12);
    assert_int_equal(w.prev, 0);
    assert_int_equal(w.logged_at, 0);
    assert_string_equal(w.a.alert_id, STD_ID);
    assert_int_equal(w.a.state, SW_ALERT_UPDATED);
    assert_string_equal(w.a.section, "HR-RS/bajakovo");
    assert_int_equal(w.a.type, SW_TYPE_DETERRED);
    assert_int_equal(w.a.detector, SW_DET_CUSUM);
    assert_int_equal(w.a.level, SW_LEVEL_CRITICAL);
    assert_int_equal(w.a.window_start, TS0);
    assert_int_equal(w.a.window_end, TS0 + DAY);
    assert_true(w.a.observed == 7.0);
    assert_true(w.a.expected == 2.5);
    assert_true(w.a.score == -1.25e-3);
    assert_true(w.a.threshold == 4.0);
    assert_int_equal(w.a.raised_at, TS0 + DAY);
    assert_int_equal(w.a.retracted, 0);
    assert_int_equal(w.a.at, 0);
    assert_int_equal(w.a.tseq, 0);
}

static void test_json_unknown_keys_skipped(void **state)
{
    (void)state;
    static const char json[] =
        "{\"future\":{\"a\":[1,2,{\"b\":null}]},\"alert_id\":\"" STD_ID "\","
        "\"state\":\"raised\",\"section\":\"HU-RS\",\"detector\":\"ears_c2\","
        "\"level\":\"high\",\"window_start\":\"2019-03-01T00:00:00Z\","
        "\"window_end\":\"2019-03-02T00:00:00Z\",\"observed\":120,"
        "\"expected\":40.5,\"score\":3.25,\"threshold\":1.5,\"note\":\"x\","
        "\"raised_at\":\"2019-03-02T00:00:00Z\",\"prev\":17,"
        "\"logged_at\":1551484801234,\"seq\":42,\"z\":true}";
    sw_wire_alert_t w, want;
    char err[256];
    std_alert(&want);
    check_accepted(
        from_json_exact(json, sizeof(json) - 1, &w, err, sizeof(err)), err);
    check_wire_equal(&w, &want, 1);
}

/* ---------------------------------------------- JSON refusals (a table) */

typedef struct {
    const char *k, *v;
} jfield_t;

static const jfield_t std_json[] = {
    {"seq", "7"},
    {"alert_id", "\"" STD_ID "\""},
    {"state", "\"raised\""},
    {"section", "\"HU-RS\""},
    {"detector", "\"ears_c2\""},
    {"level", "\"high\""},
    {"window_start", "\"2019-03-01T00:00:00.000Z\""},
    {"window_end", "\"2019-03-02T00:00:00.000Z\""},
    {"observed", "120"},
    {"expected", "40.5"},
    {"score", "3.25"},
    {"threshold", "1.5"},
    {"raised_at", "\"2019-03-02T00:00:00.000Z\""},
};
#define NSTD_JSON (sizeof(std_json) / sizeof(std_json[0]))

/* The JSON of the fields base[0..nbase) with key's value replaced by v (v
 * NULL: key left out; a key not among them is added at the end). */
static void json_edit_base(char *buf, size_t cap, const jfield_t *base,
                           size_t nbase, const char *key, const char *v)
{
    size_t n = 0;
    int found = 0;
    n += (size_t)snprintf(buf + n, cap - n, "{");
    for (size_t i = 0; i < nbase; i++) {
        const char *val = base[i].v;
        if (key && strcmp(key, base[i].k) == 0) {
            found = 1;
            if (v == NULL)
                continue;
            val = v;
        }
        n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\":%s", n > 1 ? "," : "",
                              base[i].k, val);
    }
    if (key && !found && v)
        n += (size_t)snprintf(buf + n, cap - n, ",\"%s\":%s", key, v);
    n += (size_t)snprintf(buf + n, cap - n, "}");
    assert_true(n < cap);
}

/* The standard JSON edited so. */
static void json_edit(char *buf, size_t cap, const char *key, const char *v)
{
    json_edit_base(buf, cap, std_json, NSTD_JSON, key, v);
}

typedef struct {
    const char *name;
    const char *key, *val; /* val NULL: the key is left out */
    const char *msg;       /* NULL: accepted */
} jcase_t;

#define BAD(k) "field '" k "': bad value"
#define MISSING(k) "missing field '" k "'"
#define X8 "xxxxxxxx"
#define X32 X8 X8 X8 X8
#define X95 X32 X32 X8 X8 X8 "xxxxxxx"

static const jcase_t jcases[] = {
    {"json: the standard alert", NULL, NULL, NULL},
    {"json: missing alert_id", "alert_id", NULL, MISSING("alert_id")},
    {"json: missing state", "state", NULL, MISSING("state")},
    {"json: missing section", "section", NULL, MISSING("section")},
    {"json: missing detector", "detector", NULL, MISSING("detector")},
    {"json: missing level", "level", NULL, MISSING("level")},
    {"json: missing window_start", "window_start", NULL,
     MISSING("window_start")},
    {"json: missing window_end", "window_end", NULL, MISSING("window_end")},
    {"json: missing observed", "observed", NULL, MISSING("observed")},
    {"json: missing expected", "expected", NULL, MISSING("expected")},
    {"json: missing score", "score", NULL, MISSING("score")},
    {"json: missing threshold", "threshold", NULL, MISSING("threshold")},
    {"json: missing raised_at", "raised_at", NULL, MISSING("raised_at")},
    {"json: seq is optional", "seq", NULL, NULL},
    {"json: bad state", "state", "\"open\"", BAD("state")},
    {"json: state in capitals", "state", "\"RAISED\"", BAD("state")},
    {"json: state as a number", "state", "0", BAD("state")},
    {"json: bad level", "level", "\"severe\"", BAD("level")},
    {"json: level as a number", "level", "2", BAD("level")},
    {"json: bad detector", "detector", "\"zscore\"", BAD("detector")},
    {"json: detector in capitals", "detector", "\"EARS_C2\"", BAD("detector")},
    {"json: bad type", "type", "\"smuggling\"", BAD("type")},
    {"json: type null", "type", "null", BAD("type")},
    {"json: section pair unsorted", "section", "\"RS-HU\"", BAD("section")},
    {"json: section lower case", "section", "\"hu-rs\"", BAD("section")},
    {"json: section same country", "section", "\"HU-HU\"", BAD("section")},
    {"json: subsection in capitals", "section", "\"HU-RS/Roszke\"",
     BAD("section")},
    {"json: empty subsection", "section", "\"HU-RS/\"", BAD("section")},
    {"json: section empty", "section", "\"\"", BAD("section")},
    {"json: section as a number", "section", "5", BAD("section")},
    {"json: empty alert_id", "alert_id", "\"\"", BAD("alert_id")},
    {"json: alert_id of 95 bytes", "alert_id", "\"" X95 "\"", NULL},
    {"json: alert_id of 96 bytes", "alert_id", "\"" X95 "x\"", BAD("alert_id")},
    {"json: window_start not a date", "window_start", "\"yesterday\"",
     BAD("window_start")},
    {"json: window_start impossible date", "window_start",
     "\"2019-02-29T00:00:00Z\"", BAD("window_start")},
    {"json: window_end as a float", "window_end", "1551484800000.5",
     BAD("window_end")},
    {"json: raised_at as a bool", "raised_at", "true", BAD("raised_at")},
    {"json: observed as a string", "observed", "\"120\"", BAD("observed")},
    {"json: expected null", "expected", "null", BAD("expected")},
    {"json: score as an array", "score", "[1]", BAD("score")},
    {"json: threshold as an object", "threshold", "{}", BAD("threshold")},
    {"json: seq 0", "seq", "0", BAD("seq")},
    {"json: negative seq", "seq", "-3", BAD("seq")},
    {"json: seq as a float", "seq", "1.5", BAD("seq")},
    {"json: seq as a string", "seq", "\"7\"", BAD("seq")},
    {"json: seq beyond int64", "seq", "18446744073709551615", BAD("seq")},
    {"json: negative prev", "prev", "-1", BAD("prev")},
    {"json: negative logged_at", "logged_at", "-1", BAD("logged_at")},
    {"json: retracted as a string", "retracted", "\"true\"", BAD("retracted")},
    {"json: retracted as a number", "retracted", "1", BAD("retracted")},
    {"json: retracted false", "retracted", "false", NULL},
    {"json: unknown key", "colour", "\"red\"", NULL},
};

static void run_jcase(void **state)
{
    const jcase_t *c = *state;
    char json[1024], err[256];
    json_edit(json, sizeof(json), c->key, c->val);
    sw_wire_alert_t w;
    int rc = from_json_exact(json, strlen(json), &w, err, sizeof(err));
    if (c->msg) {
        check_refused(rc, err, c->msg);
        return;
    }
    if (rc != 0)
        fail_msg("refused: %s\n%s", err, json);
    assert_string_equal(w.a.section, "HU-RS");
    assert_int_equal(w.a.window_start, TS0);
}

static void test_json_missing_lists_the_first_missing(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    char err[256];
    check_refused(from_json_exact("{}", 2, &w, err, sizeof(err)), err,
                  MISSING("alert_id"));
    static const char only_id[] = "{\"alert_id\":\"a\",\"seq\":1}";
    check_refused(
        from_json_exact(only_id, sizeof(only_id) - 1, &w, err, sizeof(err)),
        err, MISSING("state"));
}

static void test_json_not_an_object(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[1,2]",      "42", "\"text\"", "null", "true", "{",
        "{\"seq\":}", "",   " ",        "{}x",  "}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sw_wire_alert_t w;
        char err[256];
        int rc = from_json_exact(bad[i], strlen(bad[i]), &w, err, sizeof(err));
        if (rc != -1)
            fail_msg("accepted: '%s'", bad[i]);
        if (strncmp(err, "not a JSON object", 17) != 0)
            fail_msg("'%s': got \"%s\"", bad[i], err);
    }
}

/* The standard alert with an unknown key "pad" that makes it len bytes. */
static void json_padded(char *buf, size_t cap, size_t len)
{
    json_edit(buf, cap, NULL, NULL);
    size_t n = strlen(buf) - 1; /* over the closing brace */
    n += (size_t)snprintf(buf + n, cap - n, ",\"pad\":\"");
    assert_true(n + 2 <= len && len < cap);
    while (n < len - 2)
        buf[n++] = 'p';
    buf[n++] = '"';
    buf[n++] = '}';
    buf[n] = '\0';
}

/* The decoder's limit: room for the longest alert and an acknowledgement
 * whose operator and note are all written as \u00XX (see
 * test_ack_longest_log_json). */
#define JSON_LIMIT                                                             \
    (SW_ALERT_JSON_MAX + 6 * (SW_ACK_BY_MAX + SW_ACK_NOTE_MAX) + 128 - 1)

static void test_json_too_long(void **state)
{
    (void)state;
    char json[JSON_LIMIT + 64], err[256], want[64];
    sw_wire_alert_t w;
    json_padded(json, sizeof(json), JSON_LIMIT + 1);
    assert_int_equal(strlen(json), JSON_LIMIT + 1);
    snprintf(want, sizeof(want), "alert JSON longer than %d bytes", JSON_LIMIT);
    check_refused(from_json_exact(json, JSON_LIMIT + 1, &w, err, sizeof(err)),
                  err, want);
    json_padded(json, sizeof(json), JSON_LIMIT);
    assert_int_equal(strlen(json), JSON_LIMIT);
    check_accepted(from_json_exact(json, JSON_LIMIT, &w, err, sizeof(err)),
                   err);
    assert_int_equal(w.seq, 7);
}

static void test_json_error_message_fits(void **state)
{
    (void)state;
    char json[1024], err[12];
    json_edit(json, sizeof(json), "window_start", NULL);
    sw_wire_alert_t w;
    assert_int_equal(from_json_exact(json, strlen(json), &w, err, sizeof(err)),
                     -1);
    assert_true(strlen(err) < sizeof(err));
}

/* ------------------------------------------------------- msgpack round trip */

static void test_pack_unpack_standard(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_alert(&w);
    msgpack_round_trip(&w);
}

static void test_pack_unpack_type_and_retracted(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_alert(&w);
    w.a.type = SW_TYPE_ILLEGAL_STAY;
    w.a.state = SW_ALERT_RESOLVED;
    w.a.retracted = 1;
    w.a.observed = 0.1;
    w.a.expected = -0.0;
    w.a.score = 1e-310; /* subnormal */
    w.a.threshold = 1.0 / 3.0;
    msgpack_round_trip(&w);
}

static void test_pack_unpack_limits(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_alert(&w);
    w.seq = INT64_MAX;
    w.prev = INT64_MAX - 1;
    w.logged_at = INT64_MAX;
    w.a.window_start = 0;
    w.a.window_end = 1;
    w.a.raised_at = INT64_MAX;
    memset(w.a.alert_id, 'i', sizeof(w.a.alert_id) - 1);
    w.a.alert_id[sizeof(w.a.alert_id) - 1] = '\0';
    snprintf(w.a.section, sizeof(w.a.section),
             "AD-ZW/abcdefghijklmnopqrstuvwx");
    w.a.observed = INFINITY;
    w.a.expected = -INFINITY;
    w.a.score = DBL_MAX;
    w.a.threshold = -DBL_MIN;
    msgpack_round_trip(&w);
    /* seq 1, prev 0, logged_at 0 (unknown) */
    std_alert(&w);
    w.seq = 1;
    w.prev = 0;
    w.logged_at = 0;
    msgpack_round_trip(&w);
}

static void test_pack_unpack_nan_bits(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_alert(&w);
    w.a.observed = NAN;
    w.a.score = -NAN;
    msgpack_round_trip(&w);
}

static int str_is(const msgpack_object *o, const char *s)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* The map of docs/alerts.md: its keys in the documented order, with their
 * documented msgpack types. */
static void check_pack_layout(const sw_wire_alert_t *w)
{
    static const struct {
        const char *k;
        msgpack_object_type t; /* NIL: a string */
    } layout[] = {
        {"seq", MSGPACK_OBJECT_POSITIVE_INTEGER},
        {"prev", MSGPACK_OBJECT_POSITIVE_INTEGER},
        {"alert_id", MSGPACK_OBJECT_STR},
        {"state", MSGPACK_OBJECT_STR},
        {"section", MSGPACK_OBJECT_STR},
        {"type", MSGPACK_OBJECT_STR},
        {"detector", MSGPACK_OBJECT_STR},
        {"level", MSGPACK_OBJECT_STR},
        {"window_start", MSGPACK_OBJECT_POSITIVE_INTEGER},
        {"window_end", MSGPACK_OBJECT_POSITIVE_INTEGER},
        {"observed", MSGPACK_OBJECT_FLOAT64},
        {"expected", MSGPACK_OBJECT_FLOAT64},
        {"score", MSGPACK_OBJECT_FLOAT64},
        {"threshold", MSGPACK_OBJECT_FLOAT64},
        {"raised_at", MSGPACK_OBJECT_POSITIVE_INTEGER},
        {"retracted", MSGPACK_OBJECT_BOOLEAN},
        {"acked_by", MSGPACK_OBJECT_STR},
        {"acked_at", MSGPACK_OBJECT_POSITIVE_INTEGER},
        {"ack_note", MSGPACK_OBJECT_STR},
        {"logged_at", MSGPACK_OBJECT_POSITIVE_INTEGER},
    };
    mp_t m;
    pack_alert(&m, w);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, m.sb.data, m.sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, m.sb.size);
    const msgpack_object *o = &u.data;
    assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
    uint32_t j = 0;
    for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
        if (strcmp(layout[i].k, "type") == 0 && w->a.type < 0)
            continue;
        if (strcmp(layout[i].k, "retracted") == 0 && !w->a.retracted)
            continue;
        if (strncmp(layout[i].k, "ack", 3) == 0 && w->acked_at <= 0)
            continue;
        assert_true(j < o->via.map.size);
        if (!str_is(&o->via.map.ptr[j].key, layout[i].k))
            fail_msg("entry %u: expected key '%s'", j, layout[i].k);
        if (o->via.map.ptr[j].val.type != layout[i].t)
            fail_msg("'%s': msgpack type %d, expected %d", layout[i].k,
                     o->via.map.ptr[j].val.type, layout[i].t);
        j++;
    }
    assert_int_equal(j, o->via.map.size);
    /* the strings are the names */
    assert_true(
        str_is(&o->via.map.ptr[3].val, sw_alert_state_name(w->a.state)));
    msgpack_unpacked_destroy(&u);
    mp_free(&m);
}

static void test_pack_layout(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_alert(&w);
    check_pack_layout(&w);
    w.a.type = SW_TYPE_REFUSAL;
    check_pack_layout(&w);
    w.a.retracted = 1;
    w.a.state = SW_ALERT_RESOLVED;
    check_pack_layout(&w);
    w.a.type = -1;
    check_pack_layout(&w);
    /* acknowledged: acked_by, acked_at, ack_note before logged_at */
    snprintf(w.acked_by, sizeof(w.acked_by), "ops-1");
    w.acked_at = TS0 + DAY + 5;
    check_pack_layout(&w);
    w.ack_note[0] = '\0'; /* an empty note is still there */
    w.a.retracted = 0;
    check_pack_layout(&w);
}

/* ------------------------------------------ msgpack refusals (a table) */

typedef enum {
    V_NONE = 0, /* the entry is left out */
    V_STR,
    V_INT,
    V_UINT,
    V_DBL,
    V_BOOL,
    V_NIL,
    V_ARRAY, /* [1] */
} vkind_t;

typedef struct {
    vkind_t k;
    const char *s;
    int64_t i;
    uint64_t u;
    double d;
} val_t;

static void pack_val(msgpack_packer *pk, const val_t *v)
{
    switch (v->k) {
    case V_STR:
        mp_str(pk, v->s);
        break;
    case V_INT:
        msgpack_pack_int64(pk, v->i);
        break;
    case V_UINT:
        msgpack_pack_uint64(pk, v->u);
        break;
    case V_DBL:
        msgpack_pack_double(pk, v->d);
        break;
    case V_BOOL:
        if (v->i)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case V_NIL:
        msgpack_pack_nil(pk);
        break;
    case V_ARRAY:
        msgpack_pack_array(pk, 1);
        msgpack_pack_int64(pk, 1);
        break;
    case V_NONE:
        fail_msg("no value");
    }
}

/* The packed alert w with key's value replaced by v (V_NONE: left out; a
 * key it does not have is added). */
static void pack_edited_from(mp_t *out, const sw_wire_alert_t *w,
                             const char *key, const val_t *v)
{
    mp_t m;
    pack_alert(&m, w);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, m.sb.data, m.sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *o = &u.data;
    int found = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++)
        found |= key && str_is(&o->via.map.ptr[i].key, key);
    size_t n = o->via.map.size;
    if (found && v->k == V_NONE)
        n--;
    if (key && !found && v->k != V_NONE)
        n++;
    mp_init(out);
    msgpack_pack_map(&out->pk, n);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (key && str_is(&kv->key, key)) {
            if (v->k == V_NONE)
                continue;
            msgpack_pack_object(&out->pk, kv->key);
            pack_val(&out->pk, v);
            continue;
        }
        msgpack_pack_object(&out->pk, kv->key);
        msgpack_pack_object(&out->pk, kv->val);
    }
    if (key && !found && v->k != V_NONE) {
        mp_str(&out->pk, key);
        pack_val(&out->pk, v);
    }
    msgpack_unpacked_destroy(&u);
    mp_free(&m);
}

/* The packed standard alert (with type "deterred") edited so. */
static void pack_edited(mp_t *out, const char *key, const val_t *v)
{
    sw_wire_alert_t w;
    std_alert(&w);
    w.a.type = SW_TYPE_DETERRED;
    pack_edited_from(out, &w, key, v);
}

typedef struct {
    const char *name;
    const char *key;
    val_t v;
    const char *msg; /* NULL: accepted */
} mcase_t;

#define NONE                                                                   \
    {                                                                          \
        .k = V_NONE                                                            \
    }
#define S(x)                                                                   \
    {                                                                          \
        .k = V_STR, .s = (x)                                                   \
    }
#define I(x)                                                                   \
    {                                                                          \
        .k = V_INT, .i = (x)                                                   \
    }
#define U(x)                                                                   \
    {                                                                          \
        .k = V_UINT, .u = (x)                                                  \
    }
#define D(x)                                                                   \
    {                                                                          \
        .k = V_DBL, .d = (x)                                                   \
    }
#define B(x)                                                                   \
    {                                                                          \
        .k = V_BOOL, .i = (x)                                                  \
    }
#define NIL                                                                    \
    {                                                                          \
        .k = V_NIL                                                             \
    }
#define ARR                                                                    \
    {                                                                          \
        .k = V_ARRAY                                                           \
    }

static const mcase_t mcases[] = {
    {"msgpack: the standard alert", NULL, NONE, NULL},
    {"msgpack: missing seq", "seq", NONE, MISSING("seq")},
    {"msgpack: missing alert_id", "alert_id", NONE, MISSING("alert_id")},
    {"msgpack: missing state", "state", NONE, MISSING("state")},
    {"msgpack: missing section", "section", NONE, MISSING("section")},
    {"msgpack: missing detector", "detector", NONE, MISSING("detector")},
    {"msgpack: missing level", "level", NONE, MISSING("level")},
    {"msgpack: missing window_start", "window_start", NONE,
     MISSING("window_start")},
    {"msgpack: missing window_end", "window_end", NONE, MISSING("window_end")},
    {"msgpack: missing observed", "observed", NONE, MISSING("observed")},
    {"msgpack: missing expected", "expected", NONE, MISSING("expected")},
    {"msgpack: missing score", "score", NONE, MISSING("score")},
    {"msgpack: missing threshold", "threshold", NONE, MISSING("threshold")},
    {"msgpack: missing raised_at", "raised_at", NONE, MISSING("raised_at")},
    {"msgpack: prev is optional", "prev", NONE, NULL},
    {"msgpack: type is optional", "type", NONE, NULL},
    {"msgpack: logged_at is optional", "logged_at", NONE, NULL},
    {"msgpack: negative seq", "seq", I(-1), BAD("seq")},
    {"msgpack: most negative seq", "seq", I(INT64_MIN), BAD("seq")},
    {"msgpack: seq 0", "seq", U(0), BAD("seq")},
    {"msgpack: seq beyond int64", "seq", U((uint64_t)INT64_MAX + 1),
     BAD("seq")},
    {"msgpack: seq as a float", "seq", D(7.0), BAD("seq")},
    {"msgpack: seq as a string", "seq", S("7"), BAD("seq")},
    {"msgpack: seq nil", "seq", NIL, BAD("seq")},
    {"msgpack: negative prev", "prev", I(-1), BAD("prev")},
    {"msgpack: negative logged_at", "logged_at", I(-5), BAD("logged_at")},
    {"msgpack: bad state", "state", S("open"), BAD("state")},
    {"msgpack: state as an int", "state", U(0), BAD("state")},
    {"msgpack: bad level", "level", S("severe"), BAD("level")},
    {"msgpack: bad detector", "detector", S("farrington"), BAD("detector")},
    {"msgpack: detector as an array", "detector", ARR, BAD("detector")},
    {"msgpack: bad type", "type", S("smuggling"), BAD("type")},
    {"msgpack: type nil", "type", NIL, BAD("type")},
    {"msgpack: section pair unsorted", "section", S("RS-HU"), BAD("section")},
    {"msgpack: section too short", "section", S("HU-R"), BAD("section")},
    {"msgpack: subsection in capitals", "section", S("HU-RS/Roszke"),
     BAD("section")},
    {"msgpack: subsection of 25 bytes", "section",
     S("HU-RS/abcdefghijklmnopqrstuvwxy"), BAD("section")},
    {"msgpack: subsection of 24 bytes", "section",
     S("HU-RS/abcdefghijklmnopqrstuvwx"), NULL},
    {"msgpack: empty alert_id", "alert_id", S(""), BAD("alert_id")},
    {"msgpack: alert_id of 96 bytes", "alert_id", S(X95 "x"), BAD("alert_id")},
    {"msgpack: window_start as a float", "window_start", D(1.5),
     BAD("window_start")},
    {"msgpack: window_end as a bool", "window_end", B(1), BAD("window_end")},
    {"msgpack: raised_at nil", "raised_at", NIL, BAD("raised_at")},
    {"msgpack: observed as a string", "observed", S("120"), BAD("observed")},
    {"msgpack: expected as a bool", "expected", B(0), BAD("expected")},
    {"msgpack: score nil", "score", NIL, BAD("score")},
    {"msgpack: threshold as an array", "threshold", ARR, BAD("threshold")},
    {"msgpack: retracted as an int", "retracted", U(1), BAD("retracted")},
    {"msgpack: retracted as a string", "retracted", S("true"),
     BAD("retracted")},
    {"msgpack: retracted false", "retracted", B(0), NULL},
    {"msgpack: unknown key with a string", "colour", S("red"), NULL},
    {"msgpack: unknown key with an array", "zones", ARR, NULL},
    {"msgpack: unknown key with nil", "note", NIL, NULL},
};

static void run_mcase(void **state)
{
    const mcase_t *c = *state;
    mp_t m;
    pack_edited(&m, c->key, &c->v);
    sw_wire_alert_t w;
    char err[256];
    int rc = unpack_exact(m.sb.data, m.sb.size, &w, err, sizeof(err));
    mp_free(&m);
    if (c->msg) {
        check_refused(rc, err, c->msg);
        return;
    }
    check_accepted(rc, err);
    sw_wire_alert_t want;
    std_alert(&want);
    want.a.type = SW_TYPE_DETERRED;
    const char *k = c->key ? c->key : "";
    if (strcmp(k, "prev") == 0)
        want.prev = 0;
    else if (strcmp(k, "type") == 0)
        want.a.type = -1;
    else if (strcmp(k, "logged_at") == 0)
        want.logged_at = 0;
    else if (strcmp(k, "section") == 0)
        snprintf(want.a.section, sizeof(want.a.section), "%s", c->v.s);
    check_wire_equal(&w, &want, 1);
}

/* ---------------------------------------------------- msgpack structure */

static void test_unpack_unknown_keys_skipped(void **state)
{
    (void)state;
    sw_wire_alert_t w, got;
    std_alert(&w);
    w.a.type = SW_TYPE_FACILITATOR;
    mp_t a;
    pack_alert(&a, &w);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, a.sb.data, a.sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *o = &u.data;
    /* unknown keys of every kind first, then the entries in reverse order,
     * with more unknown keys among them */
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, o->via.map.size + 6);
    mp_str(&m.pk, "future");
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m.pk, "a");
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_nil(&m.pk);
    mp_str(&m.pk, "seq");         /* a known key nested inside an unknown one */
    msgpack_pack_int64(&m.pk, 7); /* an integer key */
    mp_str(&m.pk, "seven");
    msgpack_pack_bin(&m.pk, 3); /* a binary key named like a known one */
    msgpack_pack_bin_body(&m.pk, "seq", 3);
    msgpack_pack_int64(&m.pk, -1);
    msgpack_pack_nil(&m.pk); /* a nil key */
    msgpack_pack_double(&m.pk, 1.5);
    for (uint32_t i = o->via.map.size; i-- > 0;) {
        msgpack_pack_object(&m.pk, o->via.map.ptr[i].key);
        msgpack_pack_object(&m.pk, o->via.map.ptr[i].val);
        if (i == 8) {
            mp_str(&m.pk, "seqq");
            mp_str(&m.pk, "not a number");
            mp_str(&m.pk, "");
            msgpack_pack_map(&m.pk, 0);
        }
    }
    char err[256];
    int rc = unpack_exact(m.sb.data, m.sb.size, &got, err, sizeof(err));
    check_accepted(rc, err);
    check_wire_equal(&got, &w, 1);
    msgpack_unpacked_destroy(&u);
    mp_free(&m);
    mp_free(&a);
}

static void test_unpack_obj(void **state)
{
    (void)state;
    sw_wire_alert_t w, got;
    std_alert(&w);
    mp_t m;
    pack_alert(&m, &w);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, m.sb.data, m.sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    char err[256];
    check_accepted(sw_alert_unpack_obj(&u.data, &got, err, sizeof(err)), err);
    check_wire_equal(&got, &w, 1);
    msgpack_unpacked_destroy(&u);
    mp_free(&m);
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    check_refused(sw_alert_unpack_obj(&nil, &got, err, sizeof(err)), err,
                  "not a msgpack map");
}

static void test_unpack_every_truncation(void **state)
{
    (void)state;
    sw_wire_alert_t w, got;
    std_alert(&w);
    w.a.type = SW_TYPE_REFUSAL;
    w.a.retracted = 1;
    w.a.state = SW_ALERT_RESOLVED;
    mp_t m;
    pack_alert(&m, &w);
    for (size_t cut = 0; cut < m.sb.size; cut++) {
        char err[256];
        int rc = unpack_exact(m.sb.data, cut, &got, err, sizeof(err));
        if (rc != -1)
            fail_msg("a cut at %zu of %zu bytes was accepted", cut, m.sb.size);
        if (strcmp(err, "not msgpack") != 0)
            fail_msg("a cut at %zu: \"%s\"", cut, err);
    }
    mp_free(&m);
}

static void test_unpack_trailing_bytes(void **state)
{
    (void)state;
    sw_wire_alert_t w, got;
    std_alert(&w);
    mp_t m;
    pack_alert(&m, &w);
    size_t one = m.sb.size;
    char err[256];
    msgpack_pack_nil(&m.pk);
    check_refused(unpack_exact(m.sb.data, m.sb.size, &got, err, sizeof(err)),
                  err, "1 bytes after the msgpack map");
    /* two alerts back to back */
    mp_t two;
    mp_init(&two);
    msgpack_sbuffer_write(&two.sb, m.sb.data, one);
    msgpack_sbuffer_write(&two.sb, m.sb.data, one);
    char want[64];
    snprintf(want, sizeof(want), "%zu bytes after the msgpack map", one);
    check_refused(
        unpack_exact(two.sb.data, two.sb.size, &got, err, sizeof(err)), err,
        want);
    /* a byte that is not msgpack (0xc1, never used) after the map */
    mp_t c1;
    mp_init(&c1);
    msgpack_sbuffer_write(&c1.sb, m.sb.data, one);
    msgpack_sbuffer_write(&c1.sb, "\xc1", 1);
    check_refused(unpack_exact(c1.sb.data, c1.sb.size, &got, err, sizeof(err)),
                  err, "1 bytes after the msgpack map");
    mp_free(&c1);
    mp_free(&two);
    mp_free(&m);
}

static void test_unpack_not_a_map(void **state)
{
    (void)state;
    sw_wire_alert_t got;
    char err[256];
    /* an array holding the map's entries as pairs */
    sw_wire_alert_t w;
    std_alert(&w);
    mp_t a;
    pack_alert(&a, &w);
    mp_t m;
    mp_init(&m);
    msgpack_pack_array(&m.pk, 1);
    msgpack_sbuffer_write(&m.sb, a.sb.data, a.sb.size);
    check_refused(unpack_exact(m.sb.data, m.sb.size, &got, err, sizeof(err)),
                  err, "not a msgpack map");
    mp_free(&m);
    mp_init(&m);
    msgpack_pack_array(&m.pk, 2);
    mp_str(&m.pk, "seq");
    msgpack_pack_uint64(&m.pk, 1);
    check_refused(unpack_exact(m.sb.data, m.sb.size, &got, err, sizeof(err)),
                  err, "not a msgpack map");
    mp_free(&m);
    /* scalars */
    static const struct {
        const char *p;
        size_t n;
    } lit[] = {
        {"\x2a", 1},         /* 42 */
        {"\xc0", 1},         /* nil */
        {"\xc3", 1},         /* true */
        {"\xa3seq", 4},      /* "seq" */
        {"\xc4\x01\x00", 3}, /* bin */
        {"\x90", 1},         /* [] */
    };
    for (size_t i = 0; i < sizeof(lit) / sizeof(lit[0]); i++)
        check_refused(unpack_exact(lit[i].p, lit[i].n, &got, err, sizeof(err)),
                      err, "not a msgpack map");
    /* bytes that are not msgpack */
    check_refused(unpack_exact("\xc1", 1, &got, err, sizeof(err)), err,
                  "not msgpack");
    /* the empty map: the first missing field */
    check_refused(unpack_exact("\x80", 1, &got, err, sizeof(err)), err,
                  MISSING("seq"));
    mp_free(&a);
}

static void test_topic(void **state)
{
    (void)state;
    char buf[SW_TOPIC_MAX];
    assert_int_equal(sw_alert_topic("HU-RS", buf), 12);
    assert_string_equal(buf, "alert.HU-RS.");
    assert_int_equal(sw_alert_topic("HU-RS/roszke", buf), 19);
    assert_string_equal(buf, "alert.HU-RS/roszke.");
    /* the longest section the type holds fits */
    char sec[SW_SECTION_MAX + 1];
    memset(sec, 'a', SW_SECTION_MAX);
    sec[SW_SECTION_MAX] = '\0';
    assert_int_equal(sw_alert_topic(sec, buf), SW_SECTION_MAX + 7);
    assert_int_equal(strlen(buf), SW_SECTION_MAX + 7);
    assert_int_equal(memcmp(buf, "alert.", 6), 0);
    assert_int_equal(buf[SW_SECTION_MAX + 6], '.');
}

/* ------------------------------------------------- random round trips */

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t rnd_below(uint64_t n)
{
    return rnd() % n;
}

static void rnd_chars(char *out, size_t n, const char *set)
{
    size_t k = strlen(set);
    for (size_t i = 0; i < n; i++)
        out[i] = set[rnd_below(k)];
    out[n] = '\0';
}

static void rnd_section(char *out)
{
    char a, b, c, d;
    do {
        a = (char)('A' + rnd_below(26));
        b = (char)('A' + rnd_below(26));
        c = (char)('A' + rnd_below(26));
        d = (char)('A' + rnd_below(26));
    } while (a > c || (a == c && b >= d));
    out[0] = a;
    out[1] = b;
    out[2] = '-';
    out[3] = c;
    out[4] = d;
    out[5] = '\0';
    if (rnd_below(2)) {
        out[5] = '/';
        rnd_chars(out + 6, 1 + rnd_below(SW_SUBSECTION_MAX),
                  "abcdefghijklmnopqrstuvwxyz0123456789_-");
    }
    assert_true(sw_section_valid(out, strlen(out)));
}

/* A finite double that %.6g writes within a relative 5e-6. */
static double rnd_json_double(void)
{
    switch (rnd_below(5)) {
    case 0:
        return 0.0;
    case 1:
        return (double)rnd_below(100000); /* written as an integer */
    case 2: {
        double m = (double)(rnd() >> 11) / 9007199254740992.0;
        return (rnd_below(2) ? -1 : 1) * m * pow(10, (int)rnd_below(601) - 300);
    }
    default: {
        double m = (double)(rnd() >> 11) / 9007199254740992.0;
        return (rnd_below(2) ? -1 : 1) * m * pow(10, (int)rnd_below(13) - 6);
    }
    }
}

/* Any double, by its bits now and then (NaNs, infinities, subnormals). */
static double rnd_any_double(void)
{
    if (rnd_below(4) == 0) {
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof(d));
        return d;
    }
    return rnd_json_double();
}

static void rnd_alert(sw_wire_alert_t *w, int any_double)
{
    memset(w, 0, sizeof(*w));
    sw_alert_t *a = &w->a;
    rnd_chars(a->alert_id, 1 + rnd_below(SW_ALERT_ID_MAX - 1),
              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
              ":_-./+");
    a->state = (sw_alert_state_t)rnd_below(3);
    rnd_section(a->section);
    a->type = (int)rnd_below(SW_TYPE__COUNT + 1) - 1;
    a->detector = (sw_detector_kind_t)rnd_below(SW_DET__COUNT);
    a->level = (sw_level_t)rnd_below(4);
    a->window_start = Y2000 + (int64_t)rnd_below((uint64_t)(Y2100 - Y2000));
    a->window_end = a->window_start + (int64_t)rnd_below(400 * (uint64_t)DAY);
    a->raised_at = a->window_end - (int64_t)rnd_below(2 * (uint64_t)DAY);
    double (*gen)(void) = any_double ? rnd_any_double : rnd_json_double;
    a->observed = gen();
    a->expected = gen();
    a->score = gen();
    a->threshold = gen();
    a->retracted = a->state == SW_ALERT_RESOLVED && rnd_below(2);
    a->tseq = (uint32_t)rnd(); /* not carried */
    a->at = (int64_t)rnd_below((uint64_t)Y2100);
    w->seq = 1 + rnd_below(INT64_MAX);
    w->prev = rnd_below(2) ? rnd_below(w->seq) : 0;
    w->logged_at = rnd_below(2) ? (int64_t)rnd_below(INT64_MAX) : 0;
}

static void test_random_json_round_trips(void **state)
{
    (void)state;
    rng_state = UINT64_C(20190301);
    for (int i = 0; i < 500; i++) {
        sw_wire_alert_t w;
        rnd_alert(&w, 0);
        json_round_trip(&w, rnd_below(3) == 0 ? 0 : w.seq);
    }
}

static void test_random_msgpack_round_trips(void **state)
{
    (void)state;
    rng_state = UINT64_C(20190302);
    for (int i = 0; i < 500; i++) {
        sw_wire_alert_t w;
        rnd_alert(&w, 1);
        msgpack_round_trip(&w);
    }
}

/* JSON in, msgpack out, msgpack in: what a subscriber gets is what the log
 * holds. */
static void test_random_json_to_msgpack(void **state)
{
    (void)state;
    rng_state = UINT64_C(20190303);
    for (int i = 0; i < 300; i++) {
        sw_wire_alert_t w, fromj, got;
        rnd_alert(&w, 0);
        char json[SW_ALERT_JSON_MAX], err[256];
        size_t n = sw_alert_to_json(&w.a, w.seq, json, sizeof(json));
        assert_true(n > 0);
        check_accepted(from_json_exact(json, n, &fromj, err, sizeof(err)), err);
        fromj.prev = w.prev;
        fromj.logged_at = w.logged_at;
        mp_t m;
        pack_alert(&m, &fromj);
        check_accepted(
            unpack_exact(m.sb.data, m.sb.size, &got, err, sizeof(err)), err);
        mp_free(&m);
        check_wire_equal(&got, &fromj, 1);
    }
}

/* ------------------------------------------------------ acknowledgements */

/* 2019-03-02T00:00:00.123Z */
#define ACK_AT (TS0 + DAY + 123)
#define ACK_AT_TEXT "2019-03-02T00:00:00.123Z"

static void std_acked(sw_wire_alert_t *w)
{
    std_alert(w);
    w->a.state = SW_ALERT_UPDATED;
    snprintf(w->acked_by, sizeof(w->acked_by), "ops-1");
    w->acked_at = ACK_AT;
    snprintf(w->ack_note, sizeof(w->ack_note), "on it");
}

static void check_ack_equal(const sw_wire_alert_t *got,
                            const sw_wire_alert_t *want)
{
    assert_int_equal(got->acked_at, want->acked_at);
    assert_string_equal(got->acked_by, want->acked_by);
    assert_string_equal(got->ack_note, want->ack_note);
}

/* s as Redis's Lua cjson.encode writes it (what the alert log's scripts
 * store): '/' as \/, \b \f \n \r \t, other control characters and DEL as
 * \u00XX, UTF-8 as it is. Returns the length written at buf. */
static size_t lua_json_str(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    buf[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *e = NULL;
        char u[8];
        switch (*p) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '/':
            e = "\\/";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(u, sizeof(u), "\\u%04x", *p);
                e = u;
            }
        }
        size_t el = e ? strlen(e) : 1;
        assert_true(n + el + 2 < cap);
        if (e)
            memcpy(buf + n, e, el);
        else
            buf[n] = (char)*p;
        n += el;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return n;
}

/* The JSON of an acknowledged alert as the alert log holds it (the ack
 * script's output): the alert (seq when seq > 0), then acked_by, acked_at
 * (ms) and ack_note. */
static size_t log_json(const sw_wire_alert_t *w, uint64_t seq, char *buf,
                       size_t cap)
{
    size_t n = sw_alert_to_json(&w->a, seq, buf, cap);
    assert_true(n > 0);
    n--; /* over the closing brace */
    n += (size_t)snprintf(buf + n, cap - n, ",\"acked_by\":");
    n += lua_json_str(w->acked_by, buf + n, cap - n);
    n += (size_t)snprintf(buf + n, cap - n, ",\"acked_at\":%lld,\"ack_note\":",
                          (long long)w->acked_at);
    n += lua_json_str(w->ack_note, buf + n, cap - n);
    assert_true(n + 2 < cap);
    buf[n++] = '}';
    buf[n] = '\0';
    return n;
}

/* A string member of the JSON object text (yajl, an independent reader
 * of the escapes); fails the test when it is not there. */
static void json_member(const char *json, const char *key, char *out,
                        size_t cap)
{
    char perr[128];
    yajl_val root = yajl_tree_parse(json, perr, sizeof(perr));
    if (root == NULL)
        fail_msg("not JSON (%s): %s", perr, json);
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);
    if (v == NULL)
        fail_msg("no string '%s' in %s", key, json);
    assert_true(strlen(v->u.string) < cap);
    snprintf(out, cap, "%s", v->u.string);
    yajl_tree_free(root);
}

/* Log JSON -> alert -> msgpack -> alert -> subscriber JSON -> alert: the
 * acknowledgement comes through every step unchanged. */
static void ack_round_trip(const sw_wire_alert_t *w)
{
    static char json[8192], out[SW_WIRE_JSON_MAX];
    char err[256], s[1024];
    sw_wire_alert_t fromj, got, back;
    sw_wire_alert_t want = *w;
    want.a.at = 0;
    want.a.tseq = 0;
    want.prev = 0;
    want.logged_at = 0;
    size_t n = log_json(w, w->seq, json, sizeof(json));
    int rc = from_json_exact(json, n, &fromj, err, sizeof(err));
    if (rc != 0)
        fail_msg("refused: %s\n%s", err, json);
    check_wire_equal(&fromj, &want, 0);
    check_ack_equal(&fromj, &want);
    /* the hub packs it; the subscriber reads it */
    fromj.prev = w->prev;
    fromj.logged_at = w->logged_at;
    mp_t m;
    pack_alert(&m, &fromj);
    rc = unpack_exact(m.sb.data, m.sb.size, &got, err, sizeof(err));
    mp_free(&m);
    check_accepted(rc, err);
    check_wire_equal(&got, &fromj, 1);
    check_ack_equal(&got, &want);
    /* and prints it: RFC 3339 acked_at, the strings escaped */
    n = sw_wire_alert_to_json(&got, out, sizeof(out));
    assert_true(n > 0);
    assert_int_equal(strlen(out), n);
    json_member(out, "acked_by", s, sizeof(s));
    assert_string_equal(s, w->acked_by);
    json_member(out, "ack_note", s, sizeof(s));
    assert_string_equal(s, w->ack_note);
    char at[SW_TIME_STR_MAX];
    json_member(out, "acked_at", s, sizeof(s));
    assert_string_equal(s, sw_time_format(w->acked_at, at));
    /* which reads back as the same alert */
    rc = from_json_exact(out, n, &back, err, sizeof(err));
    if (rc != 0)
        fail_msg("subscriber JSON refused: %s\n%s", err, out);
    back.prev = got.prev;
    back.logged_at = got.logged_at;
    check_wire_equal(&back, &got, 0);
    check_ack_equal(&back, &want);
}

static void test_ack_round_trip(void **state)
{
    (void)state;
    static const struct {
        const char *by, *note;
    } cases[] = {
        {"ops-1", "on it"},
        {"ops-1", ""},
        {"x", "units \"deployed\"; 5/km \xe2\x80\x94 ok"},
        {"Zo\xc3\xab \"Z\" O'Hara \\ night/shift", "a\\b\\\\c \"\" /\\/"},
        {"tab\there", "line 1\nline 2\r\n\ttab \x01\x02\x1f \x7f end\b\f"},
        {"\xf0\x9f\x9b\x82 \xe5\x8c\x97",
         "\xc3\xa9\xe2\x80\x94\xf0\x9f\x9a\xa8"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sw_wire_alert_t w;
        std_acked(&w);
        snprintf(w.acked_by, sizeof(w.acked_by), "%s", cases[i].by);
        snprintf(w.ack_note, sizeof(w.ack_note), "%s", cases[i].note);
        ack_round_trip(&w);
        w.a.state = SW_ALERT_RAISED; /* as released after a silence */
        w.a.type = SW_TYPE_REFUSAL;
        ack_round_trip(&w);
    }
}

/* The subscriber's JSON line: the alert, then exactly these ack members. */
static void test_ack_to_json_exact(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_acked(&w);
    snprintf(w.acked_by, sizeof(w.acked_by), "ops \"A\" \\ 1/2");
    snprintf(w.ack_note, sizeof(w.ack_note),
             "q\"b\\c\x01\x1f\n\t\x7f \xc3\xa9\xe2\x80\x94ok/");
    char out[SW_WIRE_JSON_MAX], alert[SW_ALERT_JSON_MAX];
    size_t n = sw_wire_alert_to_json(&w, out, sizeof(out));
    size_t an = sw_alert_to_json(&w.a, w.seq, alert, sizeof(alert));
    static const char suffix[] =
        ",\"acked_by\":\"ops \\\"A\\\" \\\\ 1/2\",\"acked_at\":\"" ACK_AT_TEXT
        "\",\"ack_note\":\"q\\\"b\\\\c\\u0001\\u001f\\u000a\\u0009\x7f "
        "\xc3\xa9\xe2\x80\x94ok/\"}";
    assert_int_equal(n, an - 1 + sizeof(suffix) - 1);
    assert_memory_equal(out, alert, an - 1);
    assert_string_equal(out + an - 1, suffix);
    /* not acknowledged: sw_alert_to_json's line, nothing added */
    w.acked_at = 0;
    n = sw_wire_alert_to_json(&w, out, sizeof(out));
    assert_int_equal(n, an);
    assert_string_equal(out, alert);
    assert_null(strstr(out, "ack"));
}

/* Every note of up to SW_ACK_NOTE_MAX bytes prints, however it escapes;
 * a buffer one byte short is refused (0), never overrun. */
static void test_ack_to_json_longest(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_acked(&w);
    memset(w.acked_by, 0x01, SW_ACK_BY_MAX);
    w.acked_by[SW_ACK_BY_MAX] = '\0';
    memset(w.ack_note, 0x1f, SW_ACK_NOTE_MAX);
    w.ack_note[SW_ACK_NOTE_MAX] = '\0';
    static char out[SW_WIRE_JSON_MAX];
    size_t n = sw_wire_alert_to_json(&w, out, sizeof(out));
    assert_true(n > 0);
    char *exact = malloc(n + 1);
    assert_non_null(exact);
    assert_int_equal(sw_wire_alert_to_json(&w, exact, n + 1), n);
    assert_string_equal(exact, out);
    for (size_t cap = 0; cap <= n; cap += (cap < 700 ? 97 : 1)) {
        memset(exact, 'Z', n + 1);
        if (sw_wire_alert_to_json(&w, exact, cap) != 0)
            fail_msg("cap %zu of %zu accepted", cap, n + 1);
    }
    free(exact);
    char s[SW_ACK_NOTE_MAX + 1];
    json_member(out, "ack_note", s, sizeof(s));
    assert_string_equal(s, w.ack_note);
}

/* The longest acknowledged alert the log can hold: longest alert id,
 * subsection, type, retracted, a 19-digit seq, and an operator and note
 * of the most bytes, each written \u007f: accepted. */
static void test_ack_longest_log_json(void **state)
{
    (void)state;
    sw_wire_alert_t w;
    std_acked(&w);
    memset(w.a.alert_id, 'i', SW_ALERT_ID_MAX - 1);
    w.a.alert_id[SW_ALERT_ID_MAX - 1] = '\0';
    snprintf(w.a.section, sizeof(w.a.section),
             "HU-RS/abcdefghijklmnopqrstuvwx");
    w.a.type = SW_TYPE_ILLEGAL_STAY;
    w.a.state = SW_ALERT_UPDATED;
    w.a.observed = -1.23456e-300;
    w.a.expected = -1.23456e-300;
    w.a.score = -1.23456e-300;
    w.a.threshold = -1.23456e-300;
    w.seq = INT64_MAX;
    memset(w.acked_by, 0x7f, SW_ACK_BY_MAX);
    w.acked_by[SW_ACK_BY_MAX] = '\0';
    memset(w.ack_note, 0x7f, SW_ACK_NOTE_MAX);
    w.ack_note[SW_ACK_NOTE_MAX] = '\0';
    w.acked_at = INT64_MAX;
    static char json[8192];
    size_t n = log_json(&w, w.seq, json, sizeof(json));
    if (n <= 3900)
        fail_msg("only %zu bytes", n);
    sw_wire_alert_t got;
    char err[256];
    int rc = from_json_exact(json, n, &got, err, sizeof(err));
    if (rc != 0)
        fail_msg("refused (%zu bytes): %s", n, err);
    check_ack_equal(&got, &w);
    assert_int_equal(got.seq, INT64_MAX);
}

/* The standard JSON with an acknowledgement, as the log holds it. */
static const jfield_t std_ack_json[] = {
    {"seq", "7"},
    {"alert_id", "\"" STD_ID "\""},
    {"state", "\"updated\""},
    {"section", "\"HU-RS\""},
    {"detector", "\"ears_c2\""},
    {"level", "\"high\""},
    {"window_start", "\"2019-03-01T00:00:00.000Z\""},
    {"window_end", "\"2019-03-02T00:00:00.000Z\""},
    {"observed", "120"},
    {"expected", "40.5"},
    {"score", "3.25"},
    {"threshold", "1.5"},
    {"raised_at", "\"2019-03-02T00:00:00.000Z\""},
    {"acked_by", "\"ops-1\""},
    {"acked_at", "1551484800123"},
    {"ack_note", "\"on it\""},
};

#define X64 X32 X32
#define X100 X32 X32 X32 "xxxx"
#define X500 X100 X100 X100 X100 X100
#define E8 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define E32 E8 E8 E8 E8
#define E250 E32 E32 E32 E32 E32 E32 E32 E8 E8 E8 "\xc3\xa9\xc3\xa9"
#define U7F5 "\\u007f\\u007f\\u007f\\u007f\\u007f"
#define U7F50 U7F5 U7F5 U7F5 U7F5 U7F5 U7F5 U7F5 U7F5 U7F5 U7F5
#define U7F500 U7F50 U7F50 U7F50 U7F50 U7F50 U7F50 U7F50 U7F50 U7F50 U7F50

typedef struct {
    const char *name;
    const char *key, *val; /* val NULL: the key is left out */
    const char *msg;       /* NULL: accepted */
    size_t by_len, note_len;
    int64_t at; /* expected when accepted */
} acase_t;

static const acase_t acases[] = {
    {"json ack: the standard acknowledged alert", NULL, NULL, NULL, 5, 5,
     ACK_AT},
    {"json ack: acked_by empty", "acked_by", "\"\"", BAD("acked_by"), 0, 0, 0},
    {"json ack: acked_by of 64 bytes", "acked_by", "\"" X64 "\"", NULL, 64, 5,
     ACK_AT},
    {"json ack: acked_by of 65 bytes", "acked_by", "\"" X64 "x\"",
     BAD("acked_by"), 0, 0, 0},
    {"json ack: acked_by of 32 two-byte characters", "acked_by", "\"" E32 "\"",
     NULL, 64, 5, ACK_AT},
    {"json ack: acked_by of 33 two-byte characters (66 bytes)", "acked_by",
     "\"" E32 "\xc3\xa9\"", BAD("acked_by"), 0, 0, 0},
    {"json ack: acked_by as a number", "acked_by", "7", BAD("acked_by"), 0, 0,
     0},
    {"json ack: acked_by null", "acked_by", "null", BAD("acked_by"), 0, 0, 0},
    {"json ack: ack_note empty", "ack_note", "\"\"", NULL, 5, 0, ACK_AT},
    {"json ack: ack_note of 500 bytes", "ack_note", "\"" X500 "\"", NULL, 5,
     500, ACK_AT},
    {"json ack: ack_note of 501 bytes", "ack_note", "\"" X500 "x\"",
     BAD("ack_note"), 0, 0, 0},
    {"json ack: ack_note of 250 two-byte characters", "ack_note",
     "\"" E250 "\"", NULL, 5, 500, ACK_AT},
    {"json ack: ack_note of 251 two-byte characters", "ack_note",
     "\"" E250 "\xc3\xa9\"", BAD("ack_note"), 0, 0, 0},
    {"json ack: ack_note of 500 bytes written \\u007f", "ack_note",
     "\"" U7F500 "\"", NULL, 5, 500, ACK_AT},
    {"json ack: ack_note as an array", "ack_note", "[\"a\"]", BAD("ack_note"),
     0, 0, 0},
    {"json ack: ack_note left out", "ack_note", NULL, NULL, 5, 0, ACK_AT},
    {"json ack: acked_at 0", "acked_at", "0", BAD("acked_at"), 0, 0, 0},
    {"json ack: acked_at negative", "acked_at", "-1", BAD("acked_at"), 0, 0, 0},
    {"json ack: acked_at as a float", "acked_at", "1551484800123.5",
     BAD("acked_at"), 0, 0, 0},
    {"json ack: acked_at not a number", "acked_at", "\"soon\"", BAD("acked_at"),
     0, 0, 0},
    {"json ack: acked_at a numeric string", "acked_at", "\"1551484800123\"",
     BAD("acked_at"), 0, 0, 0},
    {"json ack: acked_at as a bool", "acked_at", "true", BAD("acked_at"), 0, 0,
     0},
    {"json ack: acked_at null", "acked_at", "null", BAD("acked_at"), 0, 0, 0},
    {"json ack: acked_at at the epoch", "acked_at", "\"1970-01-01T00:00:00Z\"",
     BAD("acked_at"), 0, 0, 0},
    {"json ack: acked_at before the epoch", "acked_at",
     "\"1969-12-31T23:59:59Z\"", BAD("acked_at"), 0, 0, 0},
    {"json ack: acked_at 1 ms", "acked_at", "1", NULL, 5, 5, 1},
    {"json ack: acked_at in RFC 3339 (the subscriber's line)", "acked_at",
     "\"" ACK_AT_TEXT "\"", NULL, 5, 5, ACK_AT},
    {"json ack: acked_by left out", "acked_by", NULL, MISSING("acked_by"), 0, 0,
     0},
    {"json ack: acked_at left out", "acked_at", NULL, MISSING("acked_at"), 0, 0,
     0},
};

static void run_acase(void **state)
{
    const acase_t *c = *state;
    static char json[8192];
    char err[256];
    json_edit_base(json, sizeof(json), std_ack_json,
                   sizeof(std_ack_json) / sizeof(std_ack_json[0]), c->key,
                   c->val);
    sw_wire_alert_t w;
    int rc = from_json_exact(json, strlen(json), &w, err, sizeof(err));
    if (c->msg) {
        check_refused(rc, err, c->msg);
        return;
    }
    if (rc != 0)
        fail_msg("refused: %s\n%s", err, json);
    assert_int_equal(w.acked_at, c->at);
    assert_int_equal(strlen(w.acked_by), c->by_len);
    assert_int_equal(strlen(w.ack_note), c->note_len);
    assert_int_equal(w.a.state, SW_ALERT_UPDATED);
}

/* Only a note, or only who, or only when: refused (the note alone names
 * who is missing first). */
static void test_ack_json_partial(void **state)
{
    (void)state;
    static char json[1024];
    char err[256];
    sw_wire_alert_t w;
    static const struct {
        const char *k, *v, *msg;
    } cases[] = {
        {"ack_note", "\"n\"", MISSING("acked_by")},
        {"acked_by", "\"ops-1\"", MISSING("acked_at")},
        {"acked_at", "1551484800123", MISSING("acked_by")},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_edit(json, sizeof(json), cases[i].k, cases[i].v);
        check_refused(from_json_exact(json, strlen(json), &w, err, sizeof(err)),
                      err, cases[i].msg);
    }
}

static const mcase_t ack_mcases[] = {
    {"msgpack ack: the standard acknowledged alert", NULL, NONE, NULL},
    {"msgpack ack: acked_by empty", "acked_by", S(""), BAD("acked_by")},
    {"msgpack ack: acked_by of 64 bytes", "acked_by", S(X64), NULL},
    {"msgpack ack: acked_by of 65 bytes", "acked_by", S(X64 "x"),
     BAD("acked_by")},
    {"msgpack ack: acked_by as an int", "acked_by", U(1), BAD("acked_by")},
    {"msgpack ack: acked_by nil", "acked_by", NIL, BAD("acked_by")},
    {"msgpack ack: acked_by left out", "acked_by", NONE, MISSING("acked_by")},
    {"msgpack ack: ack_note empty", "ack_note", S(""), NULL},
    {"msgpack ack: ack_note of 500 bytes", "ack_note", S(X500), NULL},
    {"msgpack ack: ack_note of 501 bytes", "ack_note", S(X500 "x"),
     BAD("ack_note")},
    {"msgpack ack: ack_note as an array", "ack_note", ARR, BAD("ack_note")},
    {"msgpack ack: ack_note left out", "ack_note", NONE, NULL},
    {"msgpack ack: acked_at 0", "acked_at", U(0), BAD("acked_at")},
    {"msgpack ack: acked_at negative", "acked_at", I(-1), BAD("acked_at")},
    {"msgpack ack: acked_at most negative", "acked_at", I(INT64_MIN),
     BAD("acked_at")},
    {"msgpack ack: acked_at beyond int64", "acked_at",
     U((uint64_t)INT64_MAX + 1), BAD("acked_at")},
    {"msgpack ack: acked_at as a float", "acked_at", D(1551484800123.0),
     BAD("acked_at")},
    {"msgpack ack: acked_at not a number", "acked_at", S("soon"),
     BAD("acked_at")},
    {"msgpack ack: acked_at as a bool", "acked_at", B(1), BAD("acked_at")},
    {"msgpack ack: acked_at nil", "acked_at", NIL, BAD("acked_at")},
    {"msgpack ack: acked_at left out", "acked_at", NONE, MISSING("acked_at")},
};

static void run_ack_mcase(void **state)
{
    const mcase_t *c = *state;
    sw_wire_alert_t base;
    std_acked(&base);
    mp_t m;
    pack_edited_from(&m, &base, c->key, &c->v);
    sw_wire_alert_t w;
    char err[256];
    int rc = unpack_exact(m.sb.data, m.sb.size, &w, err, sizeof(err));
    mp_free(&m);
    if (c->msg) {
        check_refused(rc, err, c->msg);
        return;
    }
    check_accepted(rc, err);
    check_wire_equal(&w, &base, 1);
    const char *k = c->key ? c->key : "";
    if (strcmp(k, "acked_by") == 0)
        snprintf(base.acked_by, sizeof(base.acked_by), "%s", c->v.s);
    else if (strcmp(k, "ack_note") == 0)
        snprintf(base.ack_note, sizeof(base.ack_note), "%s",
                 c->v.k == V_STR ? c->v.s : "");
    check_ack_equal(&w, &base);
}

/* A msgpack string with a NUL byte in it is no operator or note. */
static void test_ack_unpack_nul(void **state)
{
    (void)state;
    sw_wire_alert_t base, w;
    std_acked(&base);
    static const char *const keys[] = {"acked_by", "ack_note"};
    for (size_t i = 0; i < 2; i++) {
        mp_t a;
        pack_alert(&a, &base);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        assert_int_equal(msgpack_unpack_next(&u, a.sb.data, a.sb.size, &off),
                         MSGPACK_UNPACK_SUCCESS);
        mp_t m;
        mp_init(&m);
        msgpack_pack_map(&m.pk, u.data.via.map.size);
        for (uint32_t j = 0; j < u.data.via.map.size; j++) {
            const msgpack_object_kv *kv = &u.data.via.map.ptr[j];
            msgpack_pack_object(&m.pk, kv->key);
            if (str_is(&kv->key, keys[i])) {
                msgpack_pack_str(&m.pk, 3);
                msgpack_pack_str_body(&m.pk, "a\0b", 3);
            } else {
                msgpack_pack_object(&m.pk, kv->val);
            }
        }
        char err[256], want[64];
        snprintf(want, sizeof(want), "field '%s': bad value", keys[i]);
        check_refused(unpack_exact(m.sb.data, m.sb.size, &w, err, sizeof(err)),
                      err, want);
        msgpack_unpacked_destroy(&u);
        mp_free(&m);
        mp_free(&a);
    }
}

/* Random UTF-8 text of at most max bytes: ASCII (printable, control,
 * the characters JSON escapes, DEL) and 2-, 3- and 4-byte characters. */
static void rnd_text(char *out, size_t max, size_t min)
{
    static const char *const pieces[] = {
        "a",
        "Z",
        "0",
        " ",
        "\"",
        "\\",
        "/",
        "'",
        "\x01",
        "\x1f",
        "\n",
        "\t",
        "\r",
        "\b",
        "\f",
        "\x7f",
        "\xc3\xa9",
        "\xe2\x80\x94",
        "{",
        "}",
        ",",
        ":",
        "\xf0\x9f\x9a\xa8",
        "\xd0\x96",
    };
    size_t want = min + rnd_below(max - min + 1), n = 0;
    while (n < want) {
        const char *p = pieces[rnd_below(sizeof(pieces) / sizeof(pieces[0]))];
        size_t l = strlen(p);
        if (n + l > max)
            break;
        memcpy(out + n, p, l);
        n += l;
    }
    if (n < min) { /* a multi-byte piece did not fit: pad */
        memset(out + n, 'p', min - n);
        n = min;
    }
    out[n] = '\0';
}

static void test_random_ack_round_trips(void **state)
{
    (void)state;
    rng_state = UINT64_C(20190304);
    for (int i = 0; i < 300; i++) {
        sw_wire_alert_t w;
        rnd_alert(&w, 0);
        rnd_text(w.acked_by, SW_ACK_BY_MAX, 1);
        rnd_text(w.ack_note, SW_ACK_NOTE_MAX, 0);
        w.acked_at = 1 + (int64_t)rnd_below((uint64_t)Y2100);
        if (w.a.state == SW_ALERT_RESOLVED) { /* acks are of active alerts */
            w.a.state = SW_ALERT_UPDATED;
            w.a.retracted = 0;
        }
        ack_round_trip(&w);
    }
}

/* ------------------------------------------------------------------ main */

#define T(f) cmocka_unit_test(f)

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        T(test_json_without_seq),
        T(test_json_with_seq),
        T(test_json_with_type),
        T(test_json_with_retracted),
        T(test_json_every_state_level_detector),
        T(test_json_fields_read_exactly),
        T(test_json_unknown_keys_skipped),
        T(test_json_missing_lists_the_first_missing),
        T(test_json_not_an_object),
        T(test_json_too_long),
        T(test_json_error_message_fits),
        T(test_pack_unpack_standard),
        T(test_pack_unpack_type_and_retracted),
        T(test_pack_unpack_limits),
        T(test_pack_unpack_nan_bits),
        T(test_pack_layout),
        T(test_unpack_unknown_keys_skipped),
        T(test_unpack_obj),
        T(test_unpack_every_truncation),
        T(test_unpack_trailing_bytes),
        T(test_unpack_not_a_map),
        T(test_topic),
        T(test_random_json_round_trips),
        T(test_random_msgpack_round_trips),
        T(test_random_json_to_msgpack),
        T(test_ack_round_trip),
        T(test_ack_to_json_exact),
        T(test_ack_to_json_longest),
        T(test_ack_longest_log_json),
        T(test_ack_json_partial),
        T(test_ack_unpack_nul),
        T(test_random_ack_round_trips),
    };
    enum {
        NFIXED = sizeof(fixed) / sizeof(fixed[0]),
        NJ = sizeof(jcases) / sizeof(jcases[0]),
        NM = sizeof(mcases) / sizeof(mcases[0]),
        NA = sizeof(acases) / sizeof(acases[0]),
        NAM = sizeof(ack_mcases) / sizeof(ack_mcases[0]),
    };
    static struct CMUnitTest tests[NJ + NM + NA + NAM + NFIXED];
    for (size_t i = 0; i < NJ; i++)
        tests[i] = (struct CMUnitTest){jcases[i].name, run_jcase, NULL, NULL,
                                       (void *)&jcases[i]};
    for (size_t i = 0; i < NM; i++)
        tests[NJ + i] = (struct CMUnitTest){mcases[i].name, run_mcase, NULL,
                                            NULL, (void *)&mcases[i]};
    for (size_t i = 0; i < NA; i++)
        tests[NJ + NM + i] = (struct CMUnitTest){
            acases[i].name, run_acase, NULL, NULL, (void *)&acases[i]};
    for (size_t i = 0; i < NAM; i++)
        tests[NJ + NM + NA + i] =
            (struct CMUnitTest){ack_mcases[i].name, run_ack_mcase, NULL, NULL,
                                (void *)&ack_mcases[i]};
    for (size_t i = 0; i < NFIXED; i++)
        tests[NJ + NM + NA + NAM + i] = fixed[i];
    return cmocka_run_group_tests_name("sw_alert_wire", tests, NULL, NULL);
}
