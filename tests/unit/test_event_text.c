/*
 * Unit tests for sw_event_text: JSON lines and CSV rows into sw_event_t.
 *
 * One JSON decoder and one CSV decoder (with the standard header) are shared
 * by every case of their table, and every case decodes a known good line
 * right after its own, so each error is also a test that the decoder keeps
 * working. Lines are copied into allocations of exactly their length, so the
 * ASan build catches reads past the end of a line.
 */
#include "sw_event_text.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The validating clock: 2023-11-14T22:13:20Z. */
#define NOW INT64_C(1700000000000)
/* 2019-03-01T12:00:00Z */
#define TS INT64_C(1551441600000)
#define NOFIELD (-1)

#define X64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static sw_json_decoder_t *json; /* shared by every JSON case */
static sw_csv_decoder_t *csv;   /* shared by every CSV row case */

/* ------------------------------------------------------------- helpers */

static char *exact_copy(const char *s, size_t len)
{
    char *c = malloc(len);
    assert_true(c != NULL || len == 0);
    if (len > 0)
        memcpy(c, s, len);
    return c;
}

static int json_line(sw_json_decoder_t *d, const char *s, size_t len,
                     sw_event_t *ev, sw_event_err_t *err)
{
    char *c = exact_copy(s, len);
    memset(ev, 0xa5, sizeof(*ev));
    memset(err, 0, sizeof(*err));
    err->field = 12345;
    int rc = sw_json_decode_line(d, c, len, NOW, ev, err);
    free(c);
    return rc;
}

static int csv_header(sw_csv_decoder_t *d, const char *s, size_t len,
                      sw_event_err_t *err)
{
    char *c = exact_copy(s, len);
    memset(err, 0, sizeof(*err));
    err->field = 12345;
    int rc = sw_csv_decoder_header(d, c, len, err);
    free(c);
    return rc;
}

static int csv_line(sw_csv_decoder_t *d, const char *s, size_t len,
                    sw_event_t *ev, sw_event_err_t *err)
{
    char *c = exact_copy(s, len);
    memset(ev, 0xa5, sizeof(*ev));
    memset(err, 0, sizeof(*err));
    err->field = 12345;
    int rc = sw_csv_decode_line(d, c, len, NOW, ev, err);
    free(c);
    return rc;
}

static void check_rejected(int rc, const sw_event_err_t *err,
                           sw_reason_t reason, int field)
{
    if (rc != -1)
        fail_msg("accepted, expected %s (field %d)", sw_reason_name(reason),
                 field);
    if (err->reason != reason || err->field != field)
        fail_msg("got %s (field %d: %s), expected %s (field %d)",
                 sw_reason_name(err->reason), err->field, err->msg,
                 sw_reason_name(reason), field);
    assert_true(err->msg[0] != '\0');
}

static void check_accepted(int rc, const sw_event_err_t *err)
{
    if (rc != 0)
        fail_msg("rejected: %s (field %d): %s", sw_reason_name(err->reason),
                 err->field, err->msg);
}

/* The fields of an accepted event that have no value are empty. */
static void check_absent_optional(const sw_event_t *ev)
{
    assert_int_equal(ev->nulls, 0);
    if (!SW_EV_HAS(ev, SW_F_NAT))
        assert_string_equal(ev->nat, "");
    if (!SW_EV_HAS(ev, SW_F_BCP)) {
        assert_string_equal(ev->bcp, "");
        assert_int_equal(ev->bcp_len, 0);
    }
}

/* The expected content of an accepted line. NULL strings and NAN numbers
 * are absent fields. */
typedef struct {
    const char *id, *src, *section;
    int64_t ts;
    sw_event_type_t type;
    uint32_t count;
    const char *nat, *bcp;
    double lat, lon, confidence;
} want_t;

static void check_event(const sw_event_t *ev, const want_t *w)
{
    check_absent_optional(ev);
    assert_string_equal(ev->id, w->id);
    assert_int_equal(ev->id_len, strlen(w->id));
    assert_string_equal(ev->src, w->src);
    assert_string_equal(ev->section, w->section);
    assert_int_equal(ev->section_len, strlen(w->section));
    assert_int_equal(ev->ts_ms, w->ts);
    assert_int_equal(ev->type, w->type);
    assert_int_equal(ev->count, w->count);
    assert_int_equal(SW_EV_HAS(ev, SW_F_NAT), w->nat != NULL);
    if (w->nat)
        assert_string_equal(ev->nat, w->nat);
    assert_int_equal(SW_EV_HAS(ev, SW_F_BCP), w->bcp != NULL);
    if (w->bcp) {
        assert_string_equal(ev->bcp, w->bcp);
        assert_int_equal(ev->bcp_len, strlen(w->bcp));
    }
    assert_int_equal(SW_EV_HAS(ev, SW_F_LAT), !isnan(w->lat));
    assert_int_equal(SW_EV_HAS(ev, SW_F_LON), !isnan(w->lon));
    if (!isnan(w->lat)) {
        assert_true(ev->lat == w->lat);
        assert_true(ev->lon == w->lon);
    }
    assert_int_equal(SW_EV_HAS(ev, SW_F_CONFIDENCE), !isnan(w->confidence));
    if (!isnan(w->confidence))
        assert_true(ev->confidence == w->confidence);
}

#define NO_OPT .lat = NAN, .lon = NAN, .confidence = NAN

/* ------------------------------------------------------------------ JSON */

#define JSON_GOOD                                                              \
    "{\"id\":\"good-1\",\"src\":\"RS\",\"section\":\"HU-RS\",\"ts\":"          \
    "\"2019-03-01T12:00:00Z\",\"type\":\"deterred\",\"count\":2}"

static const want_t json_good_want = {
    "good-1", "RS", "HU-RS", TS, SW_TYPE_DETERRED, 2, NULL, NULL, NO_OPT};

/* The good line after every case: the decoder still works. */
static void json_then_good(sw_json_decoder_t *d)
{
    sw_event_t ev;
    sw_event_err_t err;
    check_accepted(json_line(d, JSON_GOOD, sizeof(JSON_GOOD) - 1, &ev, &err),
                   &err);
    check_event(&ev, &json_good_want);
}

/* A line with the required fields; REST is spliced in before the '}'. */
#define JSON_REQ(rest)                                                         \
    "{\"id\":\"j1\",\"src\":\"HU\",\"section\":\"HU-RS\",\"ts\":"              \
    "1551441600000,\"type\":\"irregular_crossing\",\"count\":3" rest "}"

typedef struct {
    const char *name;
    const char *line;
    size_t len;
    sw_reason_t reason; /* SW_REASON_NONE: accepted as want */
    int field;
    want_t want;
} tcase_t;

#define L(s) .line = (s), .len = sizeof(s) - 1
#define R(r) .reason = SW_REASON_##r
#define F(f) .field = SW_F_##f
#define NF .field = NOFIELD

static const tcase_t json_cases[] = {
    /* --- not JSON --- */
    {"json: a bare word", L("hello"), R(UNDECODABLE), NF},
    {"json: unquoted key", L("{id:\"a\"}"), R(UNDECODABLE), NF},
    {"json: single quotes", L("{'id':'a'}"), R(UNDECODABLE), NF},
    {"json: trailing comma", L(JSON_REQ(",")), R(UNDECODABLE), NF},
    {"json: a comment", L("/* c */ " JSON_REQ("")), R(UNDECODABLE), NF},
    {"json: garbage after the object", L(JSON_REQ("") " x"), R(UNDECODABLE),
     NF},
    {"json: empty line", L(""), R(UNDECODABLE), NF},
    {"json: white space only", L(" \t "), R(UNDECODABLE), NF},
    /* --- truncated --- */
    {"json: only an opening brace", L("{"), R(TRUNCATED), NF},
    {"json: cut after a value", L("{\"id\":\"a\",\"src\":\"HU\""), R(TRUNCATED),
     NF},
    {"json: cut after a colon", L("{\"id\":"), R(TRUNCATED), NF},
    {"json: cut inside a string", L("{\"id\":\"ab"), R(TRUNCATED), NF},
    {"json: cut inside a key", L("{\"i"), R(TRUNCATED), NF},
    /* --- more than one value --- */
    {"json: two objects", L(JSON_REQ("") JSON_REQ("")), R(TRAILING_BYTES), NF},
    {"json: two objects with a space", L(JSON_REQ("") " " JSON_REQ("")),
     R(TRAILING_BYTES), NF},
    {"json: object then a number", L(JSON_REQ("") " 1"), R(TRAILING_BYTES), NF},
    {"json: object then a string", L(JSON_REQ("") "\"x\""), R(TRAILING_BYTES),
     NF},
    {"json: object then an array", L(JSON_REQ("") "[1]"), R(TRAILING_BYTES),
     NF},
    {"json: object then null", L(JSON_REQ("") " null"), R(TRAILING_BYTES), NF},
    /* --- not an object --- */
    {"json: top-level array", L("[1,2]"), R(NOT_A_MAP), NF},
    {"json: top-level empty array", L("[]"), R(NOT_A_MAP), NF},
    {"json: top-level array of the event", L("[" JSON_REQ("") "]"),
     R(NOT_A_MAP), NF},
    {"json: top-level number", L("42"), R(NOT_A_MAP), NF},
    {"json: top-level float", L("-1.5"), R(NOT_A_MAP), NF},
    {"json: top-level string", L("\"x\""), R(NOT_A_MAP), NF},
    {"json: top-level null", L("null"), R(NOT_A_MAP), NF},
    {"json: top-level true", L("true"), R(NOT_A_MAP), NF},
    /* --- nested values --- */
    {"json: nested object", L(JSON_REQ(",\"bcp\":{\"a\":1}")), R(NESTED),
     F(BCP)},
    {"json: nested empty object", L(JSON_REQ(",\"nat\":{}")), R(NESTED),
     F(NAT)},
    {"json: nested array", L(JSON_REQ(",\"lat\":[46.1,19.9]")), R(NESTED),
     F(LAT)},
    {"json: nested empty array", L(JSON_REQ(",\"confidence\":[]")), R(NESTED),
     F(CONFIDENCE)},
    {"json: required field nested",
     L("{\"id\":[\"a\"],\"src\":\"HU\",\"section\":\"HU-RS\",\"ts\":1,"
       "\"type\":\"deterred\",\"count\":1}"),
     R(NESTED), F(ID)},
    /* --- keys --- */
    {"json: unknown key", L(JSON_REQ(",\"foo\":1")), R(UNKNOWN_FIELD), NF},
    {"json: key in upper case", L(JSON_REQ(",\"NAT\":\"SY\"")),
     R(UNKNOWN_FIELD), NF},
    {"json: key with an escaped NUL", L(JSON_REQ(",\"nat\\u0000\":\"SY\"")),
     R(UNKNOWN_FIELD), NF},
    {"json: duplicate key", L(JSON_REQ(",\"count\":3")), R(DUPLICATE_FIELD),
     F(COUNT)},
    {"json: duplicate optional key",
     L(JSON_REQ(",\"nat\":null,\"nat\":\"SY\"")), R(DUPLICATE_FIELD), F(NAT)},
    /* --- wrong types --- */
    {"json: count true", L("{\"count\":true}"), R(WRONG_TYPE), F(COUNT)},
    {"json: id false", L("{\"id\":false}"), R(WRONG_TYPE), F(ID)},
    {"json: lat true", L(JSON_REQ(",\"lat\":true,\"lon\":1")), R(WRONG_TYPE),
     F(LAT)},
    {"json: count as a string", L("{\"count\":\"3\"}"), R(WRONG_TYPE),
     F(COUNT)},
    {"json: count 3.0", L("{\"count\":3.0}"), R(WRONG_TYPE), F(COUNT)},
    {"json: count 1e3", L("{\"count\":1e3}"), R(WRONG_TYPE), F(COUNT)},
    {"json: id a number", L("{\"id\":12}"), R(WRONG_TYPE), F(ID)},
    {"json: ts a float", L("{\"ts\":1551441600000.5}"), R(WRONG_TYPE), F(TS)},
    {"json: nat a number", L(JSON_REQ(",\"nat\":1")), R(WRONG_TYPE), F(NAT)},
    /* --- null --- */
    {"json: id null", L("{\"id\":null}"), R(WRONG_TYPE), F(ID)},
    {"json: src null", L("{\"src\":null}"), R(WRONG_TYPE), F(SRC)},
    {"json: section null", L("{\"section\":null}"), R(WRONG_TYPE), F(SECTION)},
    {"json: ts null", L("{\"ts\":null}"), R(WRONG_TYPE), F(TS)},
    {"json: type null", L("{\"type\":null}"), R(WRONG_TYPE), F(TYPE)},
    {"json: count null", L("{\"count\":null}"), R(WRONG_TYPE), F(COUNT)},
    {"json: nat, bcp, lat, lon, confidence null",
     L(JSON_REQ(",\"nat\":null,\"bcp\":null,\"lat\":null,\"lon\":null,"
                "\"confidence\":null")),
     .reason = SW_REASON_NONE,
     .want = {"j1", "HU", "HU-RS", TS, SW_TYPE_IRREGULAR_CROSSING, 3, NULL,
              NULL, NO_OPT}},
    /* --- UTF-8 --- */
    {"json: bad UTF-8 in bcp", L(JSON_REQ(",\"bcp\":\"a\xc3\x28\"")),
     R(BAD_UTF8), NF},
    {"json: lone continuation byte in id", L("{\"id\":\"\x80\"}"), R(BAD_UTF8),
     NF},
    {"json: UTF-8 cut short in id", L("{\"id\":\"a\xe2\x82\"}"), R(BAD_UTF8),
     NF},
    {"json: bad UTF-8 in a key", L("{\"\xff\":1}"), R(BAD_UTF8), NF},
    /* --- integer overflow --- */
    {"json: count overflows int64", L("{\"count\":99999999999999999999}"),
     R(UNDECODABLE), NF},
    {"json: ts overflows int64", L("{\"ts\":-99999999999999999999}"),
     R(UNDECODABLE), NF},
    {"json: lat overflows a double", L("{\"lat\":1e400}"), R(UNDECODABLE), NF},
    /* --- field rules through JSON --- */
    {"json: empty object", L("{}"), R(MISSING_FIELD), F(ID)},
    {"json: count missing",
     L("{\"id\":\"a\",\"src\":\"HU\",\"section\":\"HU-RS\",\"ts\":"
       "1551441600000,\"type\":\"deterred\"}"),
     R(MISSING_FIELD), F(COUNT)},
    {"json: count 0", L("{\"count\":0}"), R(BAD_COUNT), F(COUNT)},
    {"json: count -5", L("{\"count\":-5}"), R(BAD_COUNT), F(COUNT)},
    {"json: count INT64_MAX", L("{\"count\":9223372036854775807}"),
     R(BAD_COUNT), F(COUNT)},
    {"json: ts not RFC 3339", L("{\"ts\":\"yesterday\"}"), R(BAD_TS), F(TS)},
    {"json: ts 2019-02-29", L("{\"ts\":\"2019-02-29T00:00:00Z\"}"), R(BAD_TS),
     F(TS)},
    {"json: ts without a zone", L("{\"ts\":\"2019-03-01T12:00:00\"}"),
     R(BAD_TS), F(TS)},
    {"json: ts RFC 3339 before 2000",
     L("{\"id\":\"a\",\"src\":\"HU\",\"section\":\"HU-RS\",\"ts\":"
       "\"1999-12-31T23:59:59.999Z\",\"type\":\"deterred\",\"count\":1}"),
     R(TS_TOO_OLD), F(TS)},
    {"json: ts RFC 3339 over a day ahead",
     L("{\"id\":\"a\",\"src\":\"HU\",\"section\":\"HU-RS\",\"ts\":"
       "\"2023-11-15T22:13:20.001Z\",\"type\":\"deterred\",\"count\":1}"),
     R(TS_IN_FUTURE), F(TS)},
    {"json: ts RFC 3339 exactly a day ahead",
     L("{\"id\":\"a\",\"src\":\"HU\",\"section\":\"HU-RS\",\"ts\":"
       "\"2023-11-16T00:13:20+02:00\",\"type\":\"deterred\",\"count\":1}"),
     .reason = SW_REASON_NONE,
     .want = {"a", "HU", "HU-RS", NOW + 86400000, SW_TYPE_DETERRED, 1, NULL,
              NULL, NO_OPT}},
    {"json: ts epoch 0",
     L("{\"id\":\"a\",\"src\":\"HU\",\"section\":\"HU-RS\",\"ts\":0,"
       "\"type\":\"deterred\",\"count\":1}"),
     R(TS_TOO_OLD), F(TS)},
    {"json: type unknown", L("{\"type\":\"smuggling\"}"), R(UNKNOWN_TYPE),
     F(TYPE)},
    {"json: type with an escaped NUL", L("{\"type\":\"deterred\\u0000\"}"),
     R(UNKNOWN_TYPE), F(TYPE)},
    {"json: id with an escaped control character", L("{\"id\":\"a\\u0001b\"}"),
     R(BAD_ID), F(ID)},
    {"json: id with an escaped tab", L("{\"id\":\"a\\tb\"}"), R(BAD_ID), F(ID)},
    {"json: id with an escaped NUL", L("{\"id\":\"a\\u0000b\"}"), R(BAD_ID),
     F(ID)},
    {"json: id of 65 bytes", L("{\"id\":\"" X64 "x\"}"), R(TOO_LONG), F(ID)},
    {"json: src lower case", L("{\"src\":\"hu\"}"), R(BAD_SRC), F(SRC)},
    {"json: section unsorted", L("{\"section\":\"RS-HU\"}"), R(BAD_SECTION),
     F(SECTION)},
    {"json: nat lower case", L("{\"nat\":\"syr\"}"), R(BAD_NAT), F(NAT)},
    {"json: bcp empty", L("{\"bcp\":\"\"}"), R(BAD_BCP), F(BCP)},
    {"json: lat out of range", L("{\"lat\":-90.01}"), R(BAD_POSITION), F(LAT)},
    {"json: lat without lon", L(JSON_REQ(",\"lat\":46")), R(BAD_POSITION),
     F(LON)},
    {"json: confidence 1.5", L("{\"confidence\":1.5}"), R(BAD_CONFIDENCE),
     F(CONFIDENCE)},
    /* --- accepted lines --- */
    {"json: epoch ms", L(JSON_REQ("")), .reason = SW_REASON_NONE,
     .want = {"j1", "HU", "HU-RS", TS, SW_TYPE_IRREGULAR_CROSSING, 3, NULL,
              NULL, NO_OPT}},
    {"json: RFC 3339 with Z",
     L("{\"id\":\"a\",\"src\":\"HU\",\"section\":\"HU-RS\",\"ts\":"
       "\"2019-03-01T12:00:00Z\",\"type\":\"refusal\",\"count\":1}"),
     .reason = SW_REASON_NONE,
     .want = {"a", "HU", "HU-RS", TS, SW_TYPE_REFUSAL, 1, NULL, NULL, NO_OPT}},
    {"json: RFC 3339 with a +01:30 offset",
     L("{\"id\":\"a\",\"src\":\"HU\",\"section\":\"HU-RS\",\"ts\":"
       "\"2019-03-01T13:30:00+01:30\",\"type\":\"refusal\",\"count\":1}"),
     .reason = SW_REASON_NONE,
     .want = {"a", "HU", "HU-RS", TS, SW_TYPE_REFUSAL, 1, NULL, NULL, NO_OPT}},
    {"json: RFC 3339 with a fraction and a -05:00 offset",
     L("{\"id\":\"a\",\"src\":\"HU\",\"section\":\"HU-RS\",\"ts\":"
       "\"2019-03-01T07:00:00.25-05:00\",\"type\":\"refusal\",\"count\":1}"),
     .reason = SW_REASON_NONE,
     .want = {"a", "HU", "HU-RS", TS + 250, SW_TYPE_REFUSAL, 1, NULL, NULL,
              NO_OPT}},
    {"json: RFC 3339 with nanoseconds, lower case t and z",
     L("{\"id\":\"a\",\"src\":\"HU\",\"section\":\"HU-RS\",\"ts\":"
       "\"2019-03-01t12:00:00.123456789z\",\"type\":\"refusal\",\"count\":1}"),
     .reason = SW_REASON_NONE,
     .want = {"a", "HU", "HU-RS", TS + 123, SW_TYPE_REFUSAL, 1, NULL, NULL,
              NO_OPT}},
    {"json: every field, escapes, other key order",
     L("  { \"confidence\" : 0.5, \"lon\": 19.9, \"lat\": 4.61e1,"
       " \"bcp\": \"R\\u00f6szke \\u2013 \\\"2\\\" \\ud83d\\udea7\","
       " \"nat\": \"SYR\", \"count\": 10000, \"type\": \"facilitator\","
       " \"ts\": \"2019-03-01T12:00:00.001Z\", \"section\": "
       "\"HR-SI/karlovac\", \"src\": \"XK\", \"id\": \"ev\\/1\" }\t "),
     .reason = SW_REASON_NONE,
     .want = {"ev/1", "XK", "HR-SI/karlovac", TS + 1, SW_TYPE_FACILITATOR,
              10000, "SYR", "R\xc3\xb6szke \xe2\x80\x93 \"2\" \xf0\x9f\x9a\xa7",
              46.1, 19.9, 0.5}},
    {"json: position as integers",
     L(JSON_REQ(",\"lat\":-90,\"lon\":180,\"confidence\":0")),
     .reason = SW_REASON_NONE,
     .want = {"j1", "HU", "HU-RS", TS, SW_TYPE_IRREGULAR_CROSSING, 3, NULL,
              NULL, -90, 180, 0}},
    {"json: raw UTF-8 text", L(JSON_REQ(",\"bcp\":\"Horgo\xc5\xa1\"")),
     .reason = SW_REASON_NONE,
     .want = {"j1", "HU", "HU-RS", TS, SW_TYPE_IRREGULAR_CROSSING, 3, NULL,
              "Horgo\xc5\xa1", NO_OPT}},
};

static void run_json_case(void **state)
{
    const tcase_t *c = *state;
    sw_event_t ev;
    sw_event_err_t err;
    int rc = json_line(json, c->line, c->len, &ev, &err);
    if (c->reason == SW_REASON_NONE) {
        check_accepted(rc, &err);
        check_event(&ev, &c->want);
    } else {
        check_rejected(rc, &err, c->reason, c->field);
    }
    json_then_good(json);
}

static void test_json_all_lines_in_sequence(void **state)
{
    (void)state;
    /* a fresh decoder through every case in turn, no good line between */
    sw_json_decoder_t *d = sw_json_decoder_new();
    assert_non_null(d);
    for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
        const tcase_t *c = &json_cases[i];
        sw_event_t ev;
        sw_event_err_t err;
        int rc = json_line(d, c->line, c->len, &ev, &err);
        if (c->reason == SW_REASON_NONE)
            check_accepted(rc, &err);
        else
            check_rejected(rc, &err, c->reason, c->field);
    }
    json_then_good(d);
    sw_json_decoder_destroy(&d);
    assert_null(d);
    sw_json_decoder_destroy(&d);
    sw_json_decoder_destroy(NULL);
}

static void test_json_every_cut_is_rejected(void **state)
{
    (void)state;
    static const char line[] = JSON_REQ(",\"bcp\":\"Horgo\xc5\xa1\","
                                        "\"lat\":46.5,\"lon\":-19.25,"
                                        "\"nat\":null");
    size_t mid_utf8 = (size_t)(strstr(line, "\xc5\xa1") - line) + 1;
    size_t null_at = (size_t)(strstr(line, "null") - line);
    for (size_t cut = 0; cut < sizeof(line) - 1; cut++) {
        sw_event_t ev;
        sw_event_err_t err;
        int rc = json_line(json, line, cut, &ev, &err);
        if (rc == 0)
            fail_msg("a cut at %zu was accepted", cut);
        /* An empty line holds no value. yajl completes a parse by feeding
         * it one space, so a token cut at the end of the line is a lexical
         * error: a number cut after its '-' or '.' ("46." is malformed) or a
         * cut "null" is undecodable, a cut between the two bytes of 'š' is
         * bad UTF-8. Every other cut is truncated. */
        int bad_number = cut >= 2 &&
                         (line[cut - 1] == '.' || line[cut - 1] == '-') &&
                         (line[cut - 2] == ':' ||
                          (line[cut - 2] >= '0' && line[cut - 2] <= '9'));
        int cut_null = cut > null_at && cut < null_at + 4;
        sw_reason_t want = cut == 0 || bad_number || cut_null
                               ? SW_REASON_UNDECODABLE
                           : cut == mid_utf8 ? SW_REASON_BAD_UTF8
                                             : SW_REASON_TRUNCATED;
        if (err.reason != want)
            fail_msg("a cut at %zu: %s (%s)", cut, sw_reason_name(err.reason),
                     err.msg);
        json_then_good(json);
    }
}

/* The result of a line does not depend on the line before it. */
static void check_case(int rc, const sw_event_t *ev, const sw_event_err_t *err,
                       const tcase_t *c, const tcase_t *before)
{
    if (c->reason == SW_REASON_NONE) {
        if (rc != 0)
            fail_msg("\"%s\" after \"%s\": %s (%s)", c->name, before->name,
                     sw_reason_name(err->reason), err->msg);
        check_event(ev, &c->want);
    } else if (rc != -1 || err->reason != c->reason || err->field != c->field) {
        fail_msg("\"%s\" after \"%s\": rc %d, %s field %d (%s)", c->name,
                 before->name, rc, sw_reason_name(err->reason), err->field,
                 rc ? err->msg : "");
    }
}

static void test_json_every_case_after_every_case(void **state)
{
    (void)state;
    enum { N = sizeof(json_cases) / sizeof(json_cases[0]) };
    sw_json_decoder_t *d = sw_json_decoder_new();
    assert_non_null(d);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < N; j++) {
            sw_event_t ev;
            sw_event_err_t err;
            json_line(d, json_cases[i].line, json_cases[i].len, &ev, &err);
            int rc =
                json_line(d, json_cases[j].line, json_cases[j].len, &ev, &err);
            check_case(rc, &ev, &err, &json_cases[j], &json_cases[i]);
        }
    }
    sw_json_decoder_destroy(&d);
}

/* ------------------------------------------------------------------- CSV */

#define CSV_HEADER "id,src,section,ts,type,count,nat,bcp,lat,lon,confidence"
#define CSV_GOOD "good-1,RS,HU-RS,2019-03-01T12:00:00Z,deterred,2,,,,,"
/* the required cells; REST is the last five columns */
#define CSV_REQ(rest) "c1,HU,HU-RS,1551441600000,irregular_crossing,3," rest

static void csv_then_good(sw_csv_decoder_t *d)
{
    sw_event_t ev;
    sw_event_err_t err;
    check_accepted(csv_line(d, CSV_GOOD, sizeof(CSV_GOOD) - 1, &ev, &err),
                   &err);
    check_event(&ev, &json_good_want);
}

#define CSV_OK(...) .reason = SW_REASON_NONE, .want = {__VA_ARGS__}

static const tcase_t csv_cases[] = {
    /* --- accepted rows --- */
    {"csv: required cells only, epoch ms", L(CSV_REQ(",,,,")),
     CSV_OK("c1", "HU", "HU-RS", TS, SW_TYPE_IRREGULAR_CROSSING, 3, NULL, NULL,
            NO_OPT)},
    {"csv: every cell",
     L("c2,XK,HR-SI/karlovac,2019-03-01T13:00:00.5+01:00,refusal,10000,SYR,"
       "Horgo\xc5\xa1,46.1,-19.9,0.25"),
     CSV_OK("c2", "XK", "HR-SI/karlovac", TS + 500, SW_TYPE_REFUSAL, 10000,
            "SYR", "Horgo\xc5\xa1", 46.1, -19.9, 0.25)},
    {"csv: quoted field with commas", L(CSV_REQ(",\"Roszke, gate 2\",,,")),
     CSV_OK("c1", "HU", "HU-RS", TS, SW_TYPE_IRREGULAR_CROSSING, 3, NULL,
            "Roszke, gate 2", NO_OPT)},
    {"csv: quoted field with doubled quotes",
     L(CSV_REQ(",\"say \"\"hi\"\", ok\",,,")),
     CSV_OK("c1", "HU", "HU-RS", TS, SW_TYPE_IRREGULAR_CROSSING, 3, NULL,
            "say \"hi\", ok", NO_OPT)},
    {"csv: every cell quoted",
     L("\"c3\",\"HU\",\"HU-RS\",\"1551441600000\",\"deterred\",\"4\",\"AF\","
       "\"gate\",\"45\",\"20\",\"1\""),
     CSV_OK("c3", "HU", "HU-RS", TS, SW_TYPE_DETERRED, 4, "AF", "gate", 45, 20,
            1)},
    {"csv: quoted empty cells are absent",
     L(CSV_REQ("\"\",\"\",\"\",\"\",\"\"")),
     CSV_OK("c1", "HU", "HU-RS", TS, SW_TYPE_IRREGULAR_CROSSING, 3, NULL, NULL,
            NO_OPT)},
    {"csv: count with a plus sign",
     L("c1,HU,HU-RS,1551441600000,deterred,+7,,,,,"),
     CSV_OK("c1", "HU", "HU-RS", TS, SW_TYPE_DETERRED, 7, NULL, NULL, NO_OPT)},
    /* --- column count and quoting --- */
    {"csv: too few columns", L("c1,HU,HU-RS,1551441600000,deterred,2"),
     R(UNDECODABLE), NF},
    {"csv: too many columns", L(CSV_REQ(",,,,,x")), R(UNDECODABLE), NF},
    {"csv: one empty column too many", L(CSV_REQ(",,,,,")), R(UNDECODABLE), NF},
    {"csv: unterminated quote", L(CSV_REQ(",\"Roszke,,,")), R(UNDECODABLE), NF},
    {"csv: quote inside an unquoted cell", L(CSV_REQ(",Ro\"szke,,,")),
     R(UNDECODABLE), NF},
    {"csv: text after a closing quote", L(CSV_REQ(",\"Roszke\"x,,,")),
     R(UNDECODABLE), NF},
    {"csv: two records on one line", L(CSV_GOOD "\r" CSV_GOOD), R(UNDECODABLE),
     NF},
    /* --- numbers --- */
    {"csv: count not a number",
     L("c1,HU,HU-RS,1551441600000,deterred,three,,,,,"), R(WRONG_TYPE),
     F(COUNT)},
    {"csv: count with a fraction",
     L("c1,HU,HU-RS,1551441600000,deterred,3.5,,,,,"), R(WRONG_TYPE), F(COUNT)},
    {"csv: count a lone minus", L("c1,HU,HU-RS,1551441600000,deterred,-,,,,,"),
     R(WRONG_TYPE), F(COUNT)},
    {"csv: count of 19 digits",
     L("c1,HU,HU-RS,1551441600000,deterred,1000000000000000000,,,,,"),
     R(WRONG_TYPE), F(COUNT)},
    {"csv: count 0", L("c1,HU,HU-RS,1551441600000,deterred,0,,,,,"),
     R(BAD_COUNT), F(COUNT)},
    {"csv: count 10001", L("c1,HU,HU-RS,1551441600000,deterred,10001,,,,,"),
     R(BAD_COUNT), F(COUNT)},
    {"csv: count empty", L("c1,HU,HU-RS,1551441600000,deterred,,,,,,"),
     R(MISSING_FIELD), F(COUNT)},
    {"csv: lat not a number", L(CSV_REQ(",,north,19.9,")), R(WRONG_TYPE),
     F(LAT)},
    {"csv: lat with junk after it", L(CSV_REQ(",,46.1x,19.9,")), R(WRONG_TYPE),
     F(LAT)},
    {"csv: lat 1e999", L(CSV_REQ(",,1e999,19.9,")), R(WRONG_TYPE), F(LAT)},
    {"csv: lon not a number", L(CSV_REQ(",,46.1,east,")), R(WRONG_TYPE),
     F(LON)},
    {"csv: confidence not a number", L(CSV_REQ(",,,,high")), R(WRONG_TYPE),
     F(CONFIDENCE)},
    {"csv: lat out of range", L(CSV_REQ(",,95,19.9,")), R(BAD_POSITION),
     F(LAT)},
    {"csv: lat nan", L(CSV_REQ(",,nan,19.9,")), R(BAD_POSITION), F(LAT)},
    {"csv: lat without lon", L(CSV_REQ(",,46.1,,")), R(BAD_POSITION), F(LON)},
    {"csv: confidence 2", L(CSV_REQ(",,,,2")), R(BAD_CONFIDENCE),
     F(CONFIDENCE)},
    /* --- field rules --- */
    {"csv: id empty", L(",HU,HU-RS,1551441600000,deterred,3,,,,,"),
     R(MISSING_FIELD), F(ID)},
    {"csv: ts not a time", L("c1,HU,HU-RS,yesterday,deterred,3,,,,,"),
     R(BAD_TS), F(TS)},
    {"csv: ts epoch 0", L("c1,HU,HU-RS,0,deterred,3,,,,,"), R(TS_TOO_OLD),
     F(TS)},
    {"csv: ts a day and 1 ms ahead",
     L("c1,HU,HU-RS,1700086400001,deterred,3,,,,,"), R(TS_IN_FUTURE), F(TS)},
    {"csv: section bad", L("c1,HU,HU-HU,1551441600000,deterred,3,,,,,"),
     R(BAD_SECTION), F(SECTION)},
    {"csv: type unknown", L("c1,HU,HU-RS,1551441600000,smuggling,3,,,,,"),
     R(UNKNOWN_TYPE), F(TYPE)},
    {"csv: src lower case", L("c1,hu,HU-RS,1551441600000,deterred,3,,,,,"),
     R(BAD_SRC), F(SRC)},
    {"csv: nat bad", L(CSV_REQ("Syria,,,,")), R(BAD_NAT), F(NAT)},
    {"csv: bcp bad UTF-8", L(CSV_REQ(",gate \xc3\x28,,,")), R(BAD_UTF8),
     F(BCP)},
    {"csv: id with a control character",
     L("c\x01,HU,HU-RS,1551441600000,deterred,3,,,,,"), R(BAD_ID), F(ID)},
};

static void run_csv_case(void **state)
{
    const tcase_t *c = *state;
    sw_event_t ev;
    sw_event_err_t err;
    int rc = csv_line(csv, c->line, c->len, &ev, &err);
    if (c->reason == SW_REASON_NONE) {
        check_accepted(rc, &err);
        check_event(&ev, &c->want);
    } else {
        check_rejected(rc, &err, c->reason, c->field);
    }
    csv_then_good(csv);
}

static sw_csv_decoder_t *csv_with_header(const char *header)
{
    sw_csv_decoder_t *d = sw_csv_decoder_new();
    assert_non_null(d);
    sw_event_err_t err;
    check_accepted(csv_header(d, header, strlen(header), &err), &err);
    return d;
}

static void test_csv_all_rows_in_sequence(void **state)
{
    (void)state;
    sw_csv_decoder_t *d = csv_with_header(CSV_HEADER);
    for (size_t i = 0; i < sizeof(csv_cases) / sizeof(csv_cases[0]); i++) {
        const tcase_t *c = &csv_cases[i];
        sw_event_t ev;
        sw_event_err_t err;
        int rc = csv_line(d, c->line, c->len, &ev, &err);
        if (c->reason == SW_REASON_NONE)
            check_accepted(rc, &err);
        else
            check_rejected(rc, &err, c->reason, c->field);
    }
    csv_then_good(d);
    sw_csv_decoder_destroy(&d);
    assert_null(d);
    sw_csv_decoder_destroy(&d);
    sw_csv_decoder_destroy(NULL);
}

static void test_csv_header_any_order(void **state)
{
    (void)state;
    sw_csv_decoder_t *d =
        csv_with_header("count,lon,type,ts,section,lat,src,id");
    sw_event_t ev;
    sw_event_err_t err;
    static const char row[] = "5,-19.5,refusal,1551441600000,HU-RS,46.25,HU,x";
    check_accepted(csv_line(d, row, sizeof(row) - 1, &ev, &err), &err);
    const want_t w = {"x",  "HU",  "HU-RS", TS, SW_TYPE_REFUSAL, 5, NULL,
                      NULL, 46.25, -19.5,   NAN};
    check_event(&ev, &w);
    sw_csv_decoder_destroy(&d);
}

static void test_csv_header_quoted_names(void **state)
{
    (void)state;
    sw_csv_decoder_t *d =
        csv_with_header("\"type\",\"id\",\"count\",\"src\",\"ts\",\"section\"");
    sw_event_t ev;
    sw_event_err_t err;
    static const char row[] = "deterred,q,9,RS,2019-03-01T12:00:00Z,HU-RS";
    check_accepted(csv_line(d, row, sizeof(row) - 1, &ev, &err), &err);
    const want_t w = {"q", "RS", "HU-RS", TS,    SW_TYPE_DETERRED,
                      9,   NULL, NULL,    NO_OPT};
    check_event(&ev, &w);
    sw_csv_decoder_destroy(&d);
}

static void test_csv_header_with_bom(void **state)
{
    (void)state;
    sw_csv_decoder_t *d =
        csv_with_header("\xef\xbb\xbfid,src,section,ts,type,count");
    sw_event_t ev;
    sw_event_err_t err;
    static const char row[] = "b1,HU,HU-RS,1551441600000,deterred,1";
    check_accepted(csv_line(d, row, sizeof(row) - 1, &ev, &err), &err);
    const want_t w = {"b1", "HU", "HU-RS", TS,    SW_TYPE_DETERRED,
                      1,    NULL, NULL,    NO_OPT};
    check_event(&ev, &w);
    sw_csv_decoder_destroy(&d);
}

static void expect_header_error(const char *header, sw_reason_t reason,
                                int field)
{
    sw_csv_decoder_t *d = sw_csv_decoder_new();
    assert_non_null(d);
    sw_event_err_t err;
    check_rejected(csv_header(d, header, strlen(header), &err), &err, reason,
                   field);
    /* no header yet: rows are refused */
    sw_event_t ev;
    check_rejected(csv_line(d, CSV_GOOD, sizeof(CSV_GOOD) - 1, &ev, &err), &err,
                   SW_REASON_UNDECODABLE, NOFIELD);
    /* and the decoder takes a good header after the bad one */
    check_accepted(csv_header(d, CSV_HEADER, sizeof(CSV_HEADER) - 1, &err),
                   &err);
    csv_then_good(d);
    sw_csv_decoder_destroy(&d);
}

static void test_csv_header_unknown_column(void **state)
{
    (void)state;
    expect_header_error("id,src,section,ts,type,count,remarks",
                        SW_REASON_UNKNOWN_FIELD, NOFIELD);
}

static void test_csv_header_empty_column_name(void **state)
{
    (void)state;
    expect_header_error("id,src,,section,ts,type,count",
                        SW_REASON_UNKNOWN_FIELD, NOFIELD);
}

static void test_csv_header_duplicate_column(void **state)
{
    (void)state;
    expect_header_error("id,src,section,ts,type,count,src",
                        SW_REASON_DUPLICATE_FIELD, SW_F_SRC);
}

static void test_csv_header_missing_count(void **state)
{
    (void)state;
    expect_header_error("id,src,section,ts,type,nat", SW_REASON_MISSING_FIELD,
                        SW_F_COUNT);
}

static void test_csv_header_missing_id(void **state)
{
    (void)state;
    expect_header_error("src,section,ts,type,count", SW_REASON_MISSING_FIELD,
                        SW_F_ID);
}

static void test_csv_header_empty(void **state)
{
    (void)state;
    expect_header_error("", SW_REASON_MISSING_FIELD, SW_F_ID);
}

static void test_csv_header_bad_quoting(void **state)
{
    (void)state;
    expect_header_error("\"id,src,section,ts,type,count", SW_REASON_UNDECODABLE,
                        NOFIELD);
}

static void test_csv_header_bom_only_once(void **state)
{
    (void)state;
    /* a second BOM is part of the first column name */
    expect_header_error("\xef\xbb\xbf\xef\xbb\xbfid,src,section,ts,type,count",
                        SW_REASON_UNKNOWN_FIELD, NOFIELD);
}

static void test_csv_row_before_header(void **state)
{
    (void)state;
    sw_csv_decoder_t *d = sw_csv_decoder_new();
    assert_non_null(d);
    sw_event_t ev;
    sw_event_err_t err;
    check_rejected(csv_line(d, CSV_GOOD, sizeof(CSV_GOOD) - 1, &ev, &err), &err,
                   SW_REASON_UNDECODABLE, NOFIELD);
    sw_csv_decoder_destroy(&d);
}

static void test_csv_failed_header_replaces_the_old_one(void **state)
{
    (void)state;
    /* After a good header, a bad one (bcp and nat swapped, then an unknown
     * column) must not leave a mix of both: a row laid out for the first
     * header must not come out with nat and bcp swapped. */
    sw_csv_decoder_t *d = csv_with_header(CSV_HEADER);
    sw_event_err_t err;
    static const char bad[] = "id,src,section,ts,type,count,bcp,nat,remarks";
    check_rejected(csv_header(d, bad, sizeof(bad) - 1, &err), &err,
                   SW_REASON_UNKNOWN_FIELD, NOFIELD);
    sw_event_t ev;
    static const char row[] = CSV_REQ("SY,AT,,,");
    int rc = csv_line(d, row, sizeof(row) - 1, &ev, &err);
    check_rejected(rc, &err, SW_REASON_UNDECODABLE, NOFIELD);
    sw_csv_decoder_destroy(&d);
}

static void test_csv_header_then_rows_then_new_header(void **state)
{
    (void)state;
    sw_csv_decoder_t *d = csv_with_header(CSV_HEADER);
    csv_then_good(d);
    sw_event_err_t err;
    static const char h2[] = "count,type,ts,section,src,id";
    check_accepted(csv_header(d, h2, sizeof(h2) - 1, &err), &err);
    sw_event_t ev;
    static const char row[] = "8,deterred,1551441600000,HU-RS,RS,n2";
    check_accepted(csv_line(d, row, sizeof(row) - 1, &ev, &err), &err);
    const want_t w = {"n2", "RS", "HU-RS", TS,    SW_TYPE_DETERRED,
                      8,    NULL, NULL,    NO_OPT};
    check_event(&ev, &w);
    /* a row for the first header is read with the new one: its id lands in
     * the count column */
    check_rejected(csv_line(d, CSV_GOOD, sizeof(CSV_GOOD) - 1, &ev, &err), &err,
                   SW_REASON_WRONG_TYPE, SW_F_COUNT);
    sw_csv_decoder_destroy(&d);
}

static void test_csv_every_cut_before_the_last_column_is_rejected(void **state)
{
    (void)state;
    /* a prefix that ends before the last column has too few columns, or an
     * open quote; (a cut inside the last column is a shorter, valid value) */
    static const char row[] = CSV_REQ("SYR,\"gate, 2\",46.5,19.25,0.5");
    size_t last = strrchr(row, ',') - row;
    for (size_t cut = 0; cut <= last; cut++) {
        sw_event_t ev;
        sw_event_err_t err;
        if (csv_line(csv, row, cut, &ev, &err) == 0)
            fail_msg("a cut at %zu was accepted", cut);
        csv_then_good(csv);
    }
    sw_event_t ev;
    sw_event_err_t err;
    check_accepted(csv_line(csv, row, sizeof(row) - 1, &ev, &err), &err);
    const want_t w = {"c1", "HU",  "HU-RS",   TS,   SW_TYPE_IRREGULAR_CROSSING,
                      3,    "SYR", "gate, 2", 46.5, 19.25,
                      0.5};
    check_event(&ev, &w);
}

static void test_csv_every_case_after_every_case(void **state)
{
    (void)state;
    enum { N = sizeof(csv_cases) / sizeof(csv_cases[0]) };
    sw_csv_decoder_t *d = csv_with_header(CSV_HEADER);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j < N; j++) {
            sw_event_t ev;
            sw_event_err_t err;
            csv_line(d, csv_cases[i].line, csv_cases[i].len, &ev, &err);
            int rc =
                csv_line(d, csv_cases[j].line, csv_cases[j].len, &ev, &err);
            check_case(rc, &ev, &err, &csv_cases[j], &csv_cases[i]);
        }
    }
    sw_csv_decoder_destroy(&d);
}

/* ----------------------------------------------------------------- main */

static int group_setup(void **state)
{
    (void)state;
    json = sw_json_decoder_new();
    csv = sw_csv_decoder_new();
    if (json == NULL || csv == NULL)
        return -1;
    sw_event_err_t err;
    if (sw_csv_decoder_header(csv, CSV_HEADER, sizeof(CSV_HEADER) - 1, &err))
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sw_json_decoder_destroy(&json);
    sw_csv_decoder_destroy(&csv);
    return 0;
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        T(test_json_all_lines_in_sequence),
        T(test_json_every_cut_is_rejected),
        T(test_json_every_case_after_every_case),
        T(test_csv_all_rows_in_sequence),
        T(test_csv_every_case_after_every_case),
        T(test_csv_header_any_order),
        T(test_csv_header_quoted_names),
        T(test_csv_header_with_bom),
        T(test_csv_header_unknown_column),
        T(test_csv_header_empty_column_name),
        T(test_csv_header_duplicate_column),
        T(test_csv_header_missing_count),
        T(test_csv_header_missing_id),
        T(test_csv_header_empty),
        T(test_csv_header_bad_quoting),
        T(test_csv_header_bom_only_once),
        T(test_csv_row_before_header),
        T(test_csv_failed_header_replaces_the_old_one),
        T(test_csv_header_then_rows_then_new_header),
        T(test_csv_every_cut_before_the_last_column_is_rejected),
    };
    enum {
        NFIXED = sizeof(fixed) / sizeof(fixed[0]),
        NJSON = sizeof(json_cases) / sizeof(json_cases[0]),
        NCSV = sizeof(csv_cases) / sizeof(csv_cases[0]),
    };
    static struct CMUnitTest tests[NJSON + NCSV + NFIXED];
    size_t n = 0;
    for (size_t i = 0; i < NJSON; i++)
        tests[n++] = (struct CMUnitTest){json_cases[i].name, run_json_case,
                                         NULL, NULL, (void *)&json_cases[i]};
    for (size_t i = 0; i < NCSV; i++)
        tests[n++] = (struct CMUnitTest){csv_cases[i].name, run_csv_case, NULL,
                                         NULL, (void *)&csv_cases[i]};
    for (size_t i = 0; i < NFIXED; i++)
        tests[n++] = fixed[i];
    return cmocka_run_group_tests_name("sw_event_text", tests, group_setup,
                                       group_teardown);
}
