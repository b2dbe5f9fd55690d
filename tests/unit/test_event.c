/*
 * Unit tests for sw_event: the validation rules and the msgpack codec.
 *
 * Every rule is a case of its own. Most cases are rows of one table: the
 * standard valid event with one entry added or replaced (packed with
 * msgpack-c's packer) and the exact reason and field expected. Payloads
 * whose shape the table cannot express are literal bytes.
 *
 * Every decode goes through decode_exact(), which copies the payload into an
 * allocation of exactly its length, so that the ASan build (make SAN=1)
 * reports any read past the end of the buffer.
 */
#include "sw_event.h"

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

/* The validating clock: 2023-11-14T22:13:20Z. */
#define NOW INT64_C(1700000000000)
#define DAY (INT64_C(24) * 3600 * 1000)
/* 2019-03-01T12:00:00Z */
#define TS INT64_C(1551441600000)
#define NOFIELD (-1)

#define X8 "xxxxxxxx"
#define X16 X8 X8
#define X64 X16 X16 X16 X16
#define B8 "bbbbbbbb"
#define B64 B8 B8 B8 B8 B8 B8 B8 B8
#define S24 "abcdefghijklmnopqrstuvwx"

/* ------------------------------------------------------------- helpers */

/* Decodes a copy of p[0..len) that ends exactly where its allocation ends. */
static int decode_exact_now(const void *p, size_t len, int64_t now,
                            sw_event_t *ev, sw_event_err_t *err)
{
    unsigned char *copy = malloc(len);
    assert_true(copy != NULL || len == 0);
    if (len > 0)
        memcpy(copy, p, len);
    /* garbage in the output: the decoder must not rely on a clean struct */
    memset(ev, 0xa5, sizeof(*ev));
    memset(err, 0, sizeof(*err));
    err->field = 12345;
    int rc = sw_event_decode_msgpack(copy, len, now, ev, err);
    free(copy);
    return rc;
}

static int decode_exact(const void *p, size_t len, sw_event_t *ev,
                        sw_event_err_t *err)
{
    return decode_exact_now(p, len, NOW, ev, err);
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
    assert_true(strlen(err->msg) < sizeof(err->msg));
}

static void check_accepted(int rc, const sw_event_err_t *err)
{
    if (rc != 0)
        fail_msg("rejected: %s (field %d): %s", sw_reason_name(err->reason),
                 err->field, err->msg);
}

static int all_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return 0;
    return 1;
}

/* The contract holds for an accepted event (independently of the rules'
 * implementation). */
static void check_valid_event(const sw_event_t *ev)
{
    assert_int_equal(ev->seen & SW_FIELDS_REQUIRED, SW_FIELDS_REQUIRED);
    assert_int_equal(ev->seen >> SW_F__COUNT, 0);
    assert_int_equal(ev->nulls, 0);
    assert_true(ev->id_len >= 1 && ev->id_len <= 64);
    assert_int_equal(strlen(ev->id), ev->id_len);
    assert_int_equal(strlen(ev->src), 2);
    assert_int_equal(strlen(ev->section), ev->section_len);
    assert_true(ev->count >= 1 && ev->count <= 10000);
    assert_true(ev->ts_ms >= INT64_C(946684800000));
    assert_true((unsigned)ev->type < SW_TYPE__COUNT);
    size_t nat = strlen(ev->nat);
    if (SW_EV_HAS(ev, SW_F_NAT))
        assert_true((nat == 2 || nat == 3) && all_upper(ev->nat, nat));
    else
        assert_int_equal(nat, 0);
    if (SW_EV_HAS(ev, SW_F_BCP)) {
        assert_int_equal(strlen(ev->bcp), ev->bcp_len);
    } else {
        assert_int_equal(ev->bcp_len, 0);
        assert_string_equal(ev->bcp, "");
    }
    assert_int_equal(SW_EV_HAS(ev, SW_F_LAT), SW_EV_HAS(ev, SW_F_LON));
}

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

static void mp_raw(mp_t *m, const void *p, size_t n)
{
    msgpack_sbuffer_write(&m->sb, p, n);
}

#define MP_RAW(m, lit) mp_raw(m, lit, sizeof(lit) - 1)

static void mp_strn(mp_t *m, const char *s, size_t n)
{
    msgpack_pack_str(&m->pk, n);
    msgpack_pack_str_body(&m->pk, s, n);
}

static void mp_str(mp_t *m, const char *s)
{
    mp_strn(m, s, strlen(s));
}

static void mp_kv_str(mp_t *m, const char *k, const char *v)
{
    mp_str(m, k);
    mp_str(m, v);
}

/* --------------------------------------------- the table of field cases */

typedef enum {
    V_END = 0,
    V_STR,
    V_BIN,
    V_RAW, /* literal msgpack bytes */
    V_INT,
    V_UINT,
    V_DBL,
    V_NIL,
    V_BOOL,
} vkind_t;

typedef struct {
    vkind_t k;
    const char *s;
    size_t n;
    int64_t i;
    uint64_t u;
    double d;
} val_t;

typedef struct {
    val_t k, v;
} kv_t;

#define S(x)                                                                   \
    {                                                                          \
        .k = V_STR, .s = (x), .n = sizeof(x) - 1                               \
    }
#define BIN(x)                                                                 \
    {                                                                          \
        .k = V_BIN, .s = (x), .n = sizeof(x) - 1                               \
    }
#define RAW(x)                                                                 \
    {                                                                          \
        .k = V_RAW, .s = (x), .n = sizeof(x) - 1                               \
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
#define NIL                                                                    \
    {                                                                          \
        .k = V_NIL                                                             \
    }
#define TRUE_                                                                  \
    {                                                                          \
        .k = V_BOOL, .i = 1                                                    \
    }
#define FALSE_                                                                 \
    {                                                                          \
        .k = V_BOOL, .i = 0                                                    \
    }

typedef struct {
    const char *name;
    kv_t kv[3];         /* entries after the standard ones */
    const char *omit;   /* a standard entry left out */
    int keep;           /* keep the standard entry an added one names */
    sw_reason_t reason; /* SW_REASON_NONE: accepted */
    int field;
    const char *msg; /* the exact message, when given */
} mcase_t;

/* The standard event. */
static const char *const std_keys[] = {"id", "src",  "section",
                                       "ts", "type", "count"};

static void pack_val(mp_t *m, const val_t *v)
{
    switch (v->k) {
    case V_STR:
        mp_strn(m, v->s, v->n);
        break;
    case V_BIN:
        msgpack_pack_bin(&m->pk, v->n);
        msgpack_pack_bin_body(&m->pk, v->s, v->n);
        break;
    case V_RAW:
        mp_raw(m, v->s, v->n);
        break;
    case V_INT:
        msgpack_pack_int64(&m->pk, v->i);
        break;
    case V_UINT:
        msgpack_pack_uint64(&m->pk, v->u);
        break;
    case V_DBL:
        msgpack_pack_double(&m->pk, v->d);
        break;
    case V_NIL:
        msgpack_pack_nil(&m->pk);
        break;
    case V_BOOL:
        if (v->i)
            msgpack_pack_true(&m->pk);
        else
            msgpack_pack_false(&m->pk);
        break;
    case V_END:
        fail_msg("empty value");
    }
}

static int names_key(const kv_t *kv, const char *key)
{
    return kv->k.k == V_STR && kv->k.n == strlen(key) &&
           memcmp(kv->k.s, key, kv->k.n) == 0;
}

static int std_replaced(const mcase_t *c, const char *key)
{
    if (c->omit && strcmp(c->omit, key) == 0)
        return 1;
    if (c->keep)
        return 0;
    for (int i = 0; i < 3 && c->kv[i].k.k != V_END; i++)
        if (names_key(&c->kv[i], key))
            return 1;
    return 0;
}

static void pack_case(mp_t *m, const mcase_t *c)
{
    size_t n = 0;
    for (int i = 0; i < 6; i++)
        n += !std_replaced(c, std_keys[i]);
    for (int i = 0; i < 3 && c->kv[i].k.k != V_END; i++)
        n++;
    msgpack_pack_map(&m->pk, n);
    for (int i = 0; i < 6; i++) {
        if (std_replaced(c, std_keys[i]))
            continue;
        mp_str(m, std_keys[i]);
        switch (i) {
        case 0:
            mp_str(m, "ev-0001");
            break;
        case 1:
            mp_str(m, "HU");
            break;
        case 2:
            mp_str(m, "HU-RS");
            break;
        case 3:
            msgpack_pack_int64(&m->pk, TS);
            break;
        case 4:
            mp_str(m, "irregular_crossing");
            break;
        default:
            msgpack_pack_int64(&m->pk, 3);
            break;
        }
    }
    for (int i = 0; i < 3 && c->kv[i].k.k != V_END; i++) {
        pack_val(m, &c->kv[i].k);
        pack_val(m, &c->kv[i].v);
    }
}

static void check_str_field(const char *got, size_t got_len, const val_t *v)
{
    assert_int_equal(got_len, v->n);
    assert_memory_equal(got, v->s, v->n);
    assert_int_equal(got[v->n], '\0');
}

static double num_of(const val_t *v)
{
    switch (v->k) {
    case V_INT:
        return (double)v->i;
    case V_UINT:
        return (double)v->u;
    default:
        return v->d;
    }
}

/* An added entry of an accepted event is stored as given. */
static void check_stored(const sw_event_t *ev, const kv_t *kv)
{
    int f = sw_field_lookup(kv->k.s, kv->k.n);
    assert_true(f >= 0);
    const val_t *v = &kv->v;
    if (v->k == V_NIL) {
        assert_false(SW_EV_HAS(ev, f));
        return;
    }
    assert_true(SW_EV_HAS(ev, f));
    switch (f) {
    case SW_F_ID:
        check_str_field(ev->id, ev->id_len, v);
        break;
    case SW_F_SRC:
        check_str_field(ev->src, strlen(ev->src), v);
        break;
    case SW_F_SECTION:
        check_str_field(ev->section, ev->section_len, v);
        break;
    case SW_F_NAT:
        check_str_field(ev->nat, strlen(ev->nat), v);
        break;
    case SW_F_BCP:
        check_str_field(ev->bcp, ev->bcp_len, v);
        break;
    case SW_F_TYPE: {
        const char *t = sw_event_type_name(ev->type);
        check_str_field(t, strlen(t), v);
        break;
    }
    case SW_F_TS:
        assert_int_equal(ev->ts_ms, v->k == V_UINT ? (int64_t)v->u : v->i);
        break;
    case SW_F_COUNT:
        assert_int_equal(ev->count, v->k == V_UINT ? v->u : (uint64_t)v->i);
        break;
    case SW_F_LAT:
        assert_true(ev->lat == num_of(v));
        break;
    case SW_F_LON:
        assert_true(ev->lon == num_of(v));
        break;
    case SW_F_CONFIDENCE:
        assert_true(ev->confidence == num_of(v));
        break;
    }
}

static void run_mcase(void **state)
{
    const mcase_t *c = *state;
    mp_t m;
    mp_init(&m);
    pack_case(&m, c);
    sw_event_t ev;
    sw_event_err_t err;
    int rc = decode_exact(m.sb.data, m.sb.size, &ev, &err);
    mp_free(&m);
    if (c->reason != SW_REASON_NONE) {
        check_rejected(rc, &err, c->reason, c->field);
        if (c->msg)
            assert_string_equal(err.msg, c->msg);
        return;
    }
    check_accepted(rc, &err);
    check_valid_event(&ev);
    for (int i = 0; i < 3 && c->kv[i].k.k != V_END; i++)
        check_stored(&ev, &c->kv[i]);
    /* the standard entries that were not replaced */
    if (!std_replaced(c, "id"))
        assert_string_equal(ev.id, "ev-0001");
    if (!std_replaced(c, "src"))
        assert_string_equal(ev.src, "HU");
    if (!std_replaced(c, "section"))
        assert_string_equal(ev.section, "HU-RS");
    if (!std_replaced(c, "ts"))
        assert_int_equal(ev.ts_ms, TS);
    if (!std_replaced(c, "type"))
        assert_int_equal(ev.type, SW_TYPE_IRREGULAR_CROSSING);
    if (!std_replaced(c, "count"))
        assert_int_equal(ev.count, 3);
}

#define R(r) .reason = SW_REASON_##r
#define F(f) .field = SW_F_##f
#define OK .reason = SW_REASON_NONE

static const mcase_t mcases[] = {
    /* --- wrong types --- */
    {"count as a string", {{S("count"), S("3")}}, R(WRONG_TYPE), F(COUNT)},
    {"count as a float", {{S("count"), D(3.0)}}, R(WRONG_TYPE), F(COUNT)},
    {"count as a bool", {{S("count"), TRUE_}}, R(WRONG_TYPE), F(COUNT)},
    {"count as binary", {{S("count"), BIN("\x03")}}, R(WRONG_TYPE), F(COUNT)},
    {"count as fixext1",
     {{S("count"), RAW("\xd4\x01\x03")}},
     R(WRONG_TYPE),
     F(COUNT)},
    {"id as an integer", {{S("id"), I(42)}}, R(WRONG_TYPE), F(ID)},
    {"id as a negative integer", {{S("id"), I(-42)}}, R(WRONG_TYPE), F(ID)},
    {"id as a huge uint64", {{S("id"), U(UINT64_MAX)}}, R(WRONG_TYPE), F(ID)},
    {"id as a float", {{S("id"), D(1.5)}}, R(WRONG_TYPE), F(ID)},
    {"id as binary", {{S("id"), BIN("ev-0001")}}, R(WRONG_TYPE), F(ID)},
    {"id as a bool", {{S("id"), FALSE_}}, R(WRONG_TYPE), F(ID)},
    {"id as ext8",
     {{S("id"), RAW("\xc7\x02\x05\x61\x62")}},
     R(WRONG_TYPE),
     F(ID)},
    {"ts as a string in msgpack",
     {{S("ts"), S("2019-03-01T12:00:00Z")}},
     R(WRONG_TYPE),
     F(TS)},
    {"ts as a float", {{S("ts"), D(1551441600000.0)}}, R(WRONG_TYPE), F(TS)},
    {"ts as a bool", {{S("ts"), TRUE_}}, R(WRONG_TYPE), F(TS)},
    {"ts as a msgpack timestamp ext",
     {{S("ts"), RAW("\xd6\xff\x5c\x79\x1e\xc0")}},
     R(WRONG_TYPE),
     F(TS)},
    {"ts as binary", {{S("ts"), BIN("\x01\x02")}}, R(WRONG_TYPE), F(TS)},
    {"src as an integer", {{S("src"), I(36)}}, R(WRONG_TYPE), F(SRC)},
    {"src as binary", {{S("src"), BIN("HU")}}, R(WRONG_TYPE), F(SRC)},
    {"section as binary",
     {{S("section"), BIN("HU-RS")}},
     R(WRONG_TYPE),
     F(SECTION)},
    {"section as a float", {{S("section"), D(0.5)}}, R(WRONG_TYPE), F(SECTION)},
    {"type as an integer", {{S("type"), I(0)}}, R(WRONG_TYPE), F(TYPE)},
    {"type as a bool", {{S("type"), TRUE_}}, R(WRONG_TYPE), F(TYPE)},
    {"nat as an integer", {{S("nat"), I(760)}}, R(WRONG_TYPE), F(NAT)},
    {"bcp as binary", {{S("bcp"), BIN("Roszke")}}, R(WRONG_TYPE), F(BCP)},
    {"bcp as a bool", {{S("bcp"), FALSE_}}, R(WRONG_TYPE), F(BCP)},
    {"lat as a string",
     {{S("lat"), S("46.1")}, {S("lon"), D(19.9)}},
     R(WRONG_TYPE),
     F(LAT)},
    {"lon as a bool",
     {{S("lat"), D(46.1)}, {S("lon"), TRUE_}},
     R(WRONG_TYPE),
     F(LON)},
    {"confidence as a bool",
     {{S("confidence"), TRUE_}},
     R(WRONG_TYPE),
     F(CONFIDENCE)},
    {"confidence as fixext16",
     {{S("confidence"), RAW("\xd8\x01"
                            "0123456789abcdef")}},
     R(WRONG_TYPE),
     F(CONFIDENCE)},
    {"count as fixext2",
     {{S("count"), RAW("\xd5\x01\xaa\xbb")}},
     R(WRONG_TYPE),
     F(COUNT)},
    {"count as fixext4",
     {{S("count"), RAW("\xd6\x01\xaa\xbb\xcc\xdd")}},
     R(WRONG_TYPE),
     F(COUNT)},
    {"count as fixext8",
     {{S("count"), RAW("\xd7\x01" X8)}},
     R(WRONG_TYPE),
     F(COUNT)},
    {"count as ext16",
     {{S("count"), RAW("\xc8\x00\x02\x01\xaa\xbb")}},
     R(WRONG_TYPE),
     F(COUNT)},
    {"count as ext32",
     {{S("count"), RAW("\xc9\x00\x00\x00\x02\x01\xaa\xbb")}},
     R(WRONG_TYPE),
     F(COUNT)},
    {"count as bin8",
     {{S("count"), RAW("\xc4\x01\x03")}},
     R(WRONG_TYPE),
     F(COUNT)},
    {"count as bin16",
     {{S("count"), RAW("\xc5\x00\x01\x03")}},
     R(WRONG_TYPE),
     F(COUNT)},
    {"count as bin32",
     {{S("count"), RAW("\xc6\x00\x00\x00\x01\x03")}},
     R(WRONG_TYPE),
     F(COUNT)},

    /* --- lengths of bin/ext/str: one byte short is truncated --- */
    {"fixext1 one byte short",
     {{S("count"), RAW("\xd4\x01")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"fixext2 one byte short",
     {{S("count"), RAW("\xd5\x01\xaa")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"fixext4 one byte short",
     {{S("count"), RAW("\xd6\x01\xaa\xbb\xcc")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"fixext8 one byte short",
     {{S("count"), RAW("\xd7\x01xxxxxxx")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"fixext16 one byte short",
     {{S("count"), RAW("\xd8\x01"
                       "0123456789abcde")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"ext8 one byte short",
     {{S("count"), RAW("\xc7\x02\x01\xaa")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"ext16 one byte short",
     {{S("count"), RAW("\xc8\x00\x02\x01\xaa")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"ext32 one byte short",
     {{S("count"), RAW("\xc9\x00\x00\x00\x02\x01\xaa")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"ext8 without its type byte",
     {{S("count"), RAW("\xc7\x00")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"bin8 one byte short",
     {{S("count"), RAW("\xc4\x02\x03")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"bin16 one byte short",
     {{S("count"), RAW("\xc5\x00\x02\x03")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"bin32 one byte short",
     {{S("count"), RAW("\xc6\x00\x00\x00\x02\x03")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"str8 one byte short",
     {{S("bcp"), RAW("\xd9\x03ga")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"str16 one byte short",
     {{S("bcp"), RAW("\xda\x00\x03ga")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"str32 one byte short",
     {{S("bcp"), RAW("\xdb\x00\x00\x00\x03ga")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"str32 announcing 4 GiB",
     {{S("bcp"), RAW("\xdb\xff\xff\xff\xffgate")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"bin32 announcing 4 GiB",
     {{S("bcp"), RAW("\xc6\xff\xff\xff\xff\x00")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"ext32 announcing 4 GiB",
     {{S("bcp"), RAW("\xc9\xff\xff\xff\xff\x01")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"float64 cut short",
     {{S("lat"), RAW("\xcb\x40\x47\x00")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"float32 cut short",
     {{S("lat"), RAW("\xca\x42\x38")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"uint64 cut short",
     {{S("ts"), RAW("\xcf\x00\x00\x01")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"int16 cut short",
     {{S("count"), RAW("\xd1\x00")}},
     R(TRUNCATED),
     .field = NOFIELD},
    {"map value missing",
     {{S("count"), RAW("")}},
     R(TRUNCATED),
     .field = NOFIELD},

    /* --- missing required fields --- */
    {"missing id", .omit = "id", R(MISSING_FIELD), F(ID)},
    {"missing src", .omit = "src", R(MISSING_FIELD), F(SRC)},
    {"missing section", .omit = "section", R(MISSING_FIELD), F(SECTION)},
    {"missing ts", .omit = "ts", R(MISSING_FIELD), F(TS)},
    {"missing type", .omit = "type", R(MISSING_FIELD), F(TYPE)},
    {"missing count", .omit = "count", R(MISSING_FIELD), F(COUNT)},

    /* --- count --- */
    {"count 0",
     {{S("count"), I(0)}},
     R(BAD_COUNT),
     F(COUNT),
     "count: 0 is out of range (accepted: 1..10000)"},
    {"count -1", {{S("count"), I(-1)}}, R(BAD_COUNT), F(COUNT)},
    {"count 10001", {{S("count"), I(10001)}}, R(BAD_COUNT), F(COUNT)},
    {"count UINT64_MAX", {{S("count"), U(UINT64_MAX)}}, R(BAD_COUNT), F(COUNT)},
    {"count 2^63",
     {{S("count"), U(UINT64_C(1) << 63)}},
     R(BAD_COUNT),
     F(COUNT)},
    {"count INT64_MIN", {{S("count"), I(INT64_MIN)}}, R(BAD_COUNT), F(COUNT)},
    {"count 2^32 + 3 (not truncated to 3)",
     {{S("count"), I((INT64_C(1) << 32) + 3)}},
     R(BAD_COUNT),
     F(COUNT)},
    {"count 1", {{S("count"), I(1)}}, OK},
    {"count 10000", {{S("count"), I(10000)}}, OK},

    /* --- ts --- */
    {"ts one ms before 2000",
     {{S("ts"), I(INT64_C(946684799999))}},
     R(TS_TOO_OLD),
     F(TS)},
    {"ts exactly 2000-01-01", {{S("ts"), I(INT64_C(946684800000))}}, OK},
    {"ts 0", {{S("ts"), I(0)}}, R(TS_TOO_OLD), F(TS)},
    {"ts -1", {{S("ts"), I(-1)}}, R(TS_TOO_OLD), F(TS)},
    {"ts INT64_MIN", {{S("ts"), I(INT64_MIN)}}, R(TS_TOO_OLD), F(TS)},
    {"ts a day and 1 ms after now",
     {{S("ts"), I(NOW + DAY + 1)}},
     R(TS_IN_FUTURE),
     F(TS)},
    {"ts exactly a day after now", {{S("ts"), I(NOW + DAY)}}, OK},
    {"ts INT64_MAX", {{S("ts"), I(INT64_MAX)}}, R(TS_IN_FUTURE), F(TS)},
    {"ts UINT64_MAX", {{S("ts"), U(UINT64_MAX)}}, R(TS_IN_FUTURE), F(TS)},

    /* --- string lengths --- */
    {"id of 65 bytes", {{S("id"), S(X64 "x")}}, R(TOO_LONG), F(ID)},
    {"id of 64 bytes", {{S("id"), S(X64)}}, OK},
    {"id empty", {{S("id"), S("")}}, R(BAD_ID), F(ID)},
    {"bcp of 65 bytes", {{S("bcp"), S(B64 "b")}}, R(TOO_LONG), F(BCP)},
    {"bcp of 64 bytes", {{S("bcp"), S(B64)}}, OK},
    {"bcp empty", {{S("bcp"), S("")}}, R(BAD_BCP), F(BCP)},
    {"section of 41 bytes",
     {{S("section"), S("HR-SI/" S24 "abcdefghijk")}},
     R(TOO_LONG),
     F(SECTION)},

    /* --- section ids --- */
    {"section lower case",
     {{S("section"), S("hu-rs")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"section half lower case",
     {{S("section"), S("HU-rs")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"section unsorted RS-HU",
     {{S("section"), S("RS-HU")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"section same country HU-HU",
     {{S("section"), S("HU-HU")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"section without dash",
     {{S("section"), S("HURS")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"section with underscore for dash",
     {{S("section"), S("HU_RS")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"section with alpha-3 codes",
     {{S("section"), S("HUN-SRB")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"section with a digit",
     {{S("section"), S("H1-RS")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"section with junk after the pair",
     {{S("section"), S("HU-RSX")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"section empty", {{S("section"), S("")}}, R(BAD_SECTION), F(SECTION)},
    {"sub-section upper case",
     {{S("section"), S("HR-SI/Karlovac")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"sub-section with a space",
     {{S("section"), S("HR-SI/karlo vac")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"sub-section with a dot",
     {{S("section"), S("HR-SI/karlovac.1")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"sub-section with a slash",
     {{S("section"), S("HR-SI/a/b")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"sub-section non-ASCII",
     {{S("section"), S("HR-SI/\xc4\x8d")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"sub-section empty",
     {{S("section"), S("HR-SI/")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"sub-section of 25 chars",
     {{S("section"), S("HR-SI/" S24 "y")}},
     R(BAD_SECTION),
     F(SECTION)},
    {"sub-section of 24 chars", {{S("section"), S("HR-SI/" S24)}}, OK},
    {"section HU-RS", {{S("section"), S("HU-RS")}}, OK},
    {"section HR-SI/karlovac", {{S("section"), S("HR-SI/karlovac")}}, OK},
    {"section RS-XK", {{S("section"), S("RS-XK")}}, OK},
    {"section HR-SI/a_b-9", {{S("section"), S("HR-SI/a_b-9")}}, OK},

    /* --- event types --- */
    {"type unknown", {{S("type"), S("smuggling")}}, R(UNKNOWN_TYPE), F(TYPE)},
    {"type upper case",
     {{S("type"), S("IRREGULAR_CROSSING")}},
     R(UNKNOWN_TYPE),
     F(TYPE)},
    {"type empty", {{S("type"), S("")}}, R(UNKNOWN_TYPE), F(TYPE)},
    {"type prefix of a type",
     {{S("type"), S("deterre")}},
     R(UNKNOWN_TYPE),
     F(TYPE)},
    {"type with a trailing space",
     {{S("type"), S("deterred ")}},
     R(UNKNOWN_TYPE),
     F(TYPE)},
    {"type with a trailing NUL",
     {{S("type"), S("deterred\0")}},
     R(UNKNOWN_TYPE),
     F(TYPE)},
    {"type irregular_crossing", {{S("type"), S("irregular_crossing")}}, OK},
    {"type bcp_clandestine", {{S("type"), S("bcp_clandestine")}}, OK},
    {"type deterred", {{S("type"), S("deterred")}}, OK},
    {"type facilitator", {{S("type"), S("facilitator")}}, OK},
    {"type refusal", {{S("type"), S("refusal")}}, OK},
    {"type document_fraud", {{S("type"), S("document_fraud")}}, OK},
    {"type illegal_stay", {{S("type"), S("illegal_stay")}}, OK},

    /* --- src and nat --- */
    {"src lower case", {{S("src"), S("hu")}}, R(BAD_SRC), F(SRC)},
    {"src alpha-3", {{S("src"), S("HUN")}}, R(BAD_SRC), F(SRC)},
    {"src one letter", {{S("src"), S("H")}}, R(BAD_SRC), F(SRC)},
    {"src empty", {{S("src"), S("")}}, R(BAD_SRC), F(SRC)},
    {"src with a digit", {{S("src"), S("H1")}}, R(BAD_SRC), F(SRC)},
    {"src non-ASCII", {{S("src"), S("\xc3\x9c")}}, R(BAD_SRC), F(SRC)},
    {"src XK", {{S("src"), S("XK")}}, OK},
    {"nat lower case", {{S("nat"), S("sy")}}, R(BAD_NAT), F(NAT)},
    {"nat one letter", {{S("nat"), S("S")}}, R(BAD_NAT), F(NAT)},
    {"nat four letters", {{S("nat"), S("SYRA")}}, R(BAD_NAT), F(NAT)},
    {"nat empty", {{S("nat"), S("")}}, R(BAD_NAT), F(NAT)},
    {"nat alpha-3 with a digit", {{S("nat"), S("SY1")}}, R(BAD_NAT), F(NAT)},
    {"nat alpha-3 lower case", {{S("nat"), S("Syr")}}, R(BAD_NAT), F(NAT)},
    {"nat alpha-2", {{S("nat"), S("AF")}}, OK},
    {"nat alpha-3", {{S("nat"), S("SYR")}}, OK},

    /* --- position and confidence --- */
    {"lat NaN",
     {{S("lat"), D(NAN)}, {S("lon"), D(19.9)}},
     R(BAD_POSITION),
     F(LAT)},
    {"lon NaN",
     {{S("lat"), D(46.1)}, {S("lon"), D(NAN)}},
     R(BAD_POSITION),
     F(LON)},
    {"lat +inf",
     {{S("lat"), D(INFINITY)}, {S("lon"), D(19.9)}},
     R(BAD_POSITION),
     F(LAT)},
    {"lat above 90",
     {{S("lat"), D(90.000001)}, {S("lon"), D(19.9)}},
     R(BAD_POSITION),
     F(LAT)},
    {"lat below -90",
     {{S("lat"), D(-90.5)}, {S("lon"), D(19.9)}},
     R(BAD_POSITION),
     F(LAT)},
    {"lat 91 as an integer",
     {{S("lat"), I(91)}, {S("lon"), D(19.9)}},
     R(BAD_POSITION),
     F(LAT)},
    {"lat UINT64_MAX",
     {{S("lat"), U(UINT64_MAX)}, {S("lon"), D(19.9)}},
     R(BAD_POSITION),
     F(LAT)},
    {"lon above 180",
     {{S("lat"), D(46.1)}, {S("lon"), D(180.5)}},
     R(BAD_POSITION),
     F(LON)},
    {"lon -181 as an integer",
     {{S("lat"), D(46.1)}, {S("lon"), I(-181)}},
     R(BAD_POSITION),
     F(LON)},
    {"lon -inf",
     {{S("lat"), D(46.1)}, {S("lon"), D(-INFINITY)}},
     R(BAD_POSITION),
     F(LON)},
    {"lat without lon", {{S("lat"), D(46.1)}}, R(BAD_POSITION), F(LON)},
    {"lon without lat", {{S("lon"), D(19.9)}}, R(BAD_POSITION), F(LAT)},
    {"lat nil with lon",
     {{S("lat"), NIL}, {S("lon"), D(19.9)}},
     R(BAD_POSITION),
     F(LAT)},
    {"lat 90 lon -180", {{S("lat"), D(90)}, {S("lon"), D(-180)}}, OK},
    {"lat -90 lon 180", {{S("lat"), D(-90)}, {S("lon"), D(180)}}, OK},
    {"lat and lon as integers", {{S("lat"), I(46)}, {S("lon"), I(-20)}}, OK},
    {"lat and lon as doubles", {{S("lat"), D(46.1)}, {S("lon"), D(19.9)}}, OK},
    {"confidence NaN",
     {{S("confidence"), D(NAN)}},
     R(BAD_CONFIDENCE),
     F(CONFIDENCE)},
    {"confidence below 0",
     {{S("confidence"), D(-0.001)}},
     R(BAD_CONFIDENCE),
     F(CONFIDENCE)},
    {"confidence above 1",
     {{S("confidence"), D(1.001)}},
     R(BAD_CONFIDENCE),
     F(CONFIDENCE)},
    {"confidence 2 as an integer",
     {{S("confidence"), I(2)}},
     R(BAD_CONFIDENCE),
     F(CONFIDENCE)},
    {"confidence 0", {{S("confidence"), D(0)}}, OK},
    {"confidence 1 as an integer", {{S("confidence"), I(1)}}, OK},

    /* --- duplicate, unknown and odd keys --- */
    {"id twice",
     {{S("id"), S("ev-0002")}},
     .keep = 1,
     R(DUPLICATE_FIELD),
     F(ID)},
    {"count twice, second bad",
     {{S("count"), I(0)}},
     .keep = 1,
     R(DUPLICATE_FIELD),
     F(COUNT)},
    {"ts twice", {{S("ts"), I(TS)}}, .keep = 1, R(DUPLICATE_FIELD), F(TS)},
    {"nat twice",
     {{S("nat"), S("SY")}, {S("nat"), S("SY")}},
     R(DUPLICATE_FIELD),
     F(NAT)},
    {"nat nil then nat",
     {{S("nat"), NIL}, {S("nat"), S("SY")}},
     R(DUPLICATE_FIELD),
     F(NAT)},
    {"lat twice",
     {{S("lat"), D(1)}, {S("lon"), D(1)}, {S("lat"), D(1)}},
     R(DUPLICATE_FIELD),
     F(LAT)},
    {"unknown key", {{S("foo"), I(1)}}, R(UNKNOWN_FIELD), .field = NOFIELD},
    {"key in upper case",
     {{S("ID"), S("x")}},
     R(UNKNOWN_FIELD),
     .field = NOFIELD},
    {"key with a trailing NUL",
     {{S("id\0"), S("x")}},
     R(UNKNOWN_FIELD),
     .field = NOFIELD},
    {"key prefix of a field",
     {{S("coun"), I(1)}},
     R(UNKNOWN_FIELD),
     .field = NOFIELD},
    {"empty key", {{S(""), I(1)}}, R(UNKNOWN_FIELD), .field = NOFIELD},
    {"key not UTF-8", {{S("\xff"), I(1)}}, R(BAD_UTF8), .field = NOFIELD},
    {"integer key", {{I(1), S("x")}}, R(WRONG_TYPE), .field = NOFIELD},
    {"negative integer key",
     {{I(-1), S("x")}},
     R(WRONG_TYPE),
     .field = NOFIELD},
    {"nil key", {{NIL, S("x")}}, R(WRONG_TYPE), .field = NOFIELD},
    {"bool key", {{TRUE_, S("x")}}, R(WRONG_TYPE), .field = NOFIELD},
    {"float key", {{D(1.5), S("x")}}, R(WRONG_TYPE), .field = NOFIELD},
    {"binary key \"id\"",
     {{BIN("id"), S("x")}},
     R(WRONG_TYPE),
     .field = NOFIELD},
    {"ext key",
     {{RAW("\xd4\x00\x00"), S("x")}},
     R(WRONG_TYPE),
     .field = NOFIELD},
    {"array key", {{RAW("\x91\xa2id"), S("x")}}, R(NESTED), .field = NOFIELD},
    {"map key", {{RAW("\x81\xa2id\x01"), S("x")}}, R(NESTED), .field = NOFIELD},
    {"key 0xc1", {{RAW("\xc1"), S("x")}}, R(UNDECODABLE), .field = NOFIELD},
    {"value 0xc1", {{S("bcp"), RAW("\xc1")}}, R(UNDECODABLE), .field = NOFIELD},

    /* --- nested values --- */
    {"bcp an empty array", {{S("bcp"), RAW("\x90")}}, R(NESTED), F(BCP)},
    {"bcp an empty map", {{S("bcp"), RAW("\x80")}}, R(NESTED), F(BCP)},
    {"count an array of one",
     {{S("count"), RAW("\x91\x03")}},
     R(NESTED),
     F(COUNT)},
    {"id an array16", {{S("id"), RAW("\xdc\x00\x01\xa1x")}}, R(NESTED), F(ID)},
    {"ts a map16", {{S("ts"), RAW("\xde\x00\x00")}}, R(NESTED), F(TS)},
    {"lat a map32 of 4 billion entries",
     {{S("lat"), RAW("\xdf\xff\xff\xff\xff")}},
     R(NESTED),
     F(LAT)},

    /* --- UTF-8 --- */
    {"id invalid continuation",
     {{S("id"), S("ab\xc3\x28")}},
     R(BAD_UTF8),
     F(ID)},
    {"id lone continuation byte", {{S("id"), S("a\x80")}}, R(BAD_UTF8), F(ID)},
    {"id overlong 2-byte /", {{S("id"), S("\xc0\xaf")}}, R(BAD_UTF8), F(ID)},
    {"id overlong 3-byte /",
     {{S("id"), S("\xe0\x80\xaf")}},
     R(BAD_UTF8),
     F(ID)},
    {"id overlong 4-byte /",
     {{S("id"), S("\xf0\x80\x80\xaf")}},
     R(BAD_UTF8),
     F(ID)},
    {"id surrogate U+D800", {{S("id"), S("\xed\xa0\x80")}}, R(BAD_UTF8), F(ID)},
    {"id surrogate U+DFFF",
     {{S("id"), S("x\xed\xbf\xbfy")}},
     R(BAD_UTF8),
     F(ID)},
    {"id above U+10FFFF",
     {{S("id"), S("\xf4\x90\x80\x80")}},
     R(BAD_UTF8),
     F(ID)},
    {"id sequence cut at the end",
     {{S("id"), S("ab\xe2\x82")}},
     R(BAD_UTF8),
     F(ID)},
    {"id 5-byte sequence",
     {{S("id"), S("\xf8\x88\x80\x80\x80")}},
     R(BAD_UTF8),
     F(ID)},
    {"id byte 0xff", {{S("id"), S("a\xff")}}, R(BAD_UTF8), F(ID)},
    {"id valid UTF-8", {{S("id"), S("R\xc3\xb6szke-\xf0\x9f\x9a\xa7-1")}}, OK},
    {"id U+D7FF, U+E000, U+10FFFF",
     {{S("id"), S("\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf")}},
     OK},
    {"bcp invalid continuation",
     {{S("bcp"), S("gate \xe2\x28\xa1")}},
     R(BAD_UTF8),
     F(BCP)},
    {"bcp overlong", {{S("bcp"), S("\xc1\xbf")}}, R(BAD_UTF8), F(BCP)},
    {"bcp surrogate", {{S("bcp"), S("\xed\xb0\x80")}}, R(BAD_UTF8), F(BCP)},
    {"bcp sequence cut at the end",
     {{S("bcp"), S("gate\xf0\x9f\x9a")}},
     R(BAD_UTF8),
     F(BCP)},
    {"bcp UTF-8 text",
     {{S("bcp"), S("R\xc3\xb6szke \xe2\x80\x93 Horgo\xc5\xa1 "
                   "\xf0\x9f\x9a\xa7")}},
     OK},

    /* --- control characters --- */
    {"id with SOH", {{S("id"), S("ab\x01")}}, R(BAD_ID), F(ID)},
    {"id with a tab", {{S("id"), S("a\tb")}}, R(BAD_ID), F(ID)},
    {"id with a newline", {{S("id"), S("a\nb")}}, R(BAD_ID), F(ID)},
    {"id with DEL", {{S("id"), S("ab\x7f")}}, R(BAD_ID), F(ID)},
    {"id with NUL", {{S("id"), S("a\0b")}}, R(BAD_ID), F(ID)},
    {"bcp with a unit separator", {{S("bcp"), S("a\x1f")}}, R(BAD_BCP), F(BCP)},

    /* --- explicit nil --- */
    {"nat nil", {{S("nat"), NIL}}, OK},
    {"bcp nil", {{S("bcp"), NIL}}, OK},
    {"confidence nil", {{S("confidence"), NIL}}, OK},
    {"lat and lon nil", {{S("lat"), NIL}, {S("lon"), NIL}}, OK},
    {"id nil", {{S("id"), NIL}}, R(WRONG_TYPE), F(ID)},
    {"src nil", {{S("src"), NIL}}, R(WRONG_TYPE), F(SRC)},
    {"section nil", {{S("section"), NIL}}, R(WRONG_TYPE), F(SECTION)},
    {"ts nil", {{S("ts"), NIL}}, R(WRONG_TYPE), F(TS)},
    {"type nil", {{S("type"), NIL}}, R(WRONG_TYPE), F(TYPE)},
    {"count nil", {{S("count"), NIL}}, R(WRONG_TYPE), F(COUNT)},
};

/* ------------------------------------------------ literal-byte payloads */

static void expect_bytes(const void *p, size_t len, sw_reason_t reason,
                         int field)
{
    sw_event_t ev;
    sw_event_err_t err;
    int rc = decode_exact(p, len, &ev, &err);
    check_rejected(rc, &err, reason, field);
}

#define EXPECT_BYTES(lit, reason, field)                                       \
    expect_bytes(lit, sizeof(lit) - 1, SW_REASON_##reason, field)

/* The standard event as literal bytes (map of 6). */
#define STD_BODY                                                               \
    "\xa2id\xa7"                                                               \
    "ev-0001"                                                                  \
    "\xa3src\xa2HU"                                                            \
    "\xa7section\xa5HU-RS"                                                     \
    "\xa2ts\xcf\x00\x00\x01\x69\x39\x20\x1e\x00"                               \
    "\xa4type\xb2irregular_crossing"                                           \
    "\xa5"                                                                     \
    "count\x03"
#define STD_EVENT "\x86" STD_BODY

static void test_literal_standard_event(void **state)
{
    (void)state;
    sw_event_t ev;
    sw_event_err_t err;
    const char p[] = STD_EVENT;
    check_accepted(decode_exact(p, sizeof(p) - 1, &ev, &err), &err);
    check_valid_event(&ev);
    assert_string_equal(ev.id, "ev-0001");
    assert_int_equal(ev.id_len, 7);
    assert_string_equal(ev.src, "HU");
    assert_string_equal(ev.section, "HU-RS");
    assert_int_equal(ev.section_len, 5);
    assert_int_equal(ev.ts_ms, TS);
    assert_int_equal(ev.type, SW_TYPE_IRREGULAR_CROSSING);
    assert_int_equal(ev.count, 3);
    assert_int_equal(ev.seen, SW_FIELDS_REQUIRED);
    assert_string_equal(ev.nat, "");
    assert_string_equal(ev.bcp, "");
}

static void test_empty_payload(void **state)
{
    (void)state;
    expect_bytes("", 0, SW_REASON_UNDECODABLE, NOFIELD);
}

static void test_empty_map(void **state)
{
    (void)state;
    EXPECT_BYTES("\x80", MISSING_FIELD, SW_F_ID);
}

static void test_not_a_map_array(void **state)
{
    (void)state;
    EXPECT_BYTES("\x93\x01\x02\x03", NOT_A_MAP, NOFIELD);
}

static void test_not_a_map_int(void **state)
{
    (void)state;
    EXPECT_BYTES("\x2a", NOT_A_MAP, NOFIELD);
}

static void test_not_a_map_string(void **state)
{
    (void)state;
    EXPECT_BYTES("\xa2hi", NOT_A_MAP, NOFIELD);
}

static void test_not_a_map_nil(void **state)
{
    (void)state;
    EXPECT_BYTES("\xc0", NOT_A_MAP, NOFIELD);
}

static void test_not_a_map_bin(void **state)
{
    (void)state;
    EXPECT_BYTES("\xc4\x01\x00", NOT_A_MAP, NOFIELD);
}

static void test_not_a_map_double(void **state)
{
    (void)state;
    EXPECT_BYTES("\xcb\x40\x47\x00\x00\x00\x00\x00\x00", NOT_A_MAP, NOFIELD);
}

static void test_top_level_c1(void **state)
{
    (void)state;
    EXPECT_BYTES("\xc1", UNDECODABLE, NOFIELD);
}

static void test_top_level_truncated_map16(void **state)
{
    (void)state;
    EXPECT_BYTES("\xde\x00", TRUNCATED, NOFIELD);
}

static void test_trailing_byte(void **state)
{
    (void)state;
    EXPECT_BYTES(STD_EVENT "\x00", TRAILING_BYTES, NOFIELD);
}

static void test_trailing_c1(void **state)
{
    (void)state;
    EXPECT_BYTES(STD_EVENT "\xc1", TRAILING_BYTES, NOFIELD);
}

static void test_two_events(void **state)
{
    (void)state;
    EXPECT_BYTES(STD_EVENT STD_EVENT, TRAILING_BYTES, NOFIELD);
}

static void test_map16_header(void **state)
{
    (void)state;
    sw_event_t ev;
    sw_event_err_t err;
    const char p[] = "\xde\x00\x06" STD_BODY;
    check_accepted(decode_exact(p, sizeof(p) - 1, &ev, &err), &err);
    assert_int_equal(ev.count, 3);
}

static void test_map32_header(void **state)
{
    (void)state;
    sw_event_t ev;
    sw_event_err_t err;
    const char p[] = "\xdf\x00\x00\x00\x06" STD_BODY;
    check_accepted(decode_exact(p, sizeof(p) - 1, &ev, &err), &err);
    assert_int_equal(ev.ts_ms, TS);
}

static void test_map_with_fewer_entries_than_announced(void **state)
{
    (void)state;
    EXPECT_BYTES("\x87" STD_BODY, TRUNCATED, NOFIELD);
}

static void test_map_with_more_entries_than_announced(void **state)
{
    (void)state;
    /* the seventh entry is left over after a map of six */
    EXPECT_BYTES(STD_EVENT "\xa3nat\xa2SY", TRAILING_BYTES, NOFIELD);
}

static void test_bomb_array32_value(void **state)
{
    (void)state;
    /* {"bcp": array32 of 2^32-1 elements}, 10 bytes in all */
    static const unsigned char p[] = {0x81, 0xa3, 'b',  'c',  'p',
                                      0xdd, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(sizeof(p), 10);
    expect_bytes(p, sizeof(p), SW_REASON_NESTED, SW_F_BCP);
}

static void test_bomb_map32_header(void **state)
{
    (void)state;
    EXPECT_BYTES("\xdf\xff\xff\xff\xff", TOO_MANY_FIELDS, NOFIELD);
}

static void test_bomb_map32_header_with_entries(void **state)
{
    (void)state;
    EXPECT_BYTES("\xdf\xf0\x00\x00\x00" STD_BODY, TOO_MANY_FIELDS, NOFIELD);
}

static void test_map16_of_33_entries(void **state)
{
    (void)state;
    EXPECT_BYTES("\xde\x00\x21" STD_BODY, TOO_MANY_FIELDS, NOFIELD);
}

static void test_map16_of_32_entries_is_read(void **state)
{
    (void)state;
    /* 32 is within the limit, so the entries are read: six are there */
    EXPECT_BYTES("\xde\x00\x20" STD_BODY, TRUNCATED, NOFIELD);
}

static void test_bomb_array32_top_level(void **state)
{
    (void)state;
    EXPECT_BYTES("\xdd\xff\xff\xff\xff", NOT_A_MAP, NOFIELD);
}

#define DEEP 100000

static void test_deeply_nested_arrays(void **state)
{
    (void)state;
    unsigned char *p = malloc(DEEP + 1);
    assert_non_null(p);
    memset(p, 0x91, DEEP);
    p[DEEP] = 0x01;
    expect_bytes(p, DEEP + 1, SW_REASON_NOT_A_MAP, NOFIELD);
    free(p);
}

static void test_deeply_nested_value(void **state)
{
    (void)state;
    unsigned char *p = malloc(DEEP + 6);
    assert_non_null(p);
    memcpy(p, "\x81\xa3nat", 5);
    memset(p + 5, 0x91, DEEP);
    p[DEEP + 5] = 0xc0;
    expect_bytes(p, DEEP + 6, SW_REASON_NESTED, SW_F_NAT);
    free(p);
}

static void test_deeply_nested_maps_as_key(void **state)
{
    (void)state;
    unsigned char *p = malloc(DEEP + 2);
    assert_non_null(p);
    memset(p, 0x81, DEEP + 1);
    p[DEEP + 1] = 0xc0;
    expect_bytes(p, DEEP + 2, SW_REASON_NESTED, NOFIELD);
    free(p);
}

static void
test_many_entries_under_limit_rejected_on_first_unknown(void **state)
{
    (void)state;
    /* map16 of 32 entries whose first key is unknown */
    EXPECT_BYTES("\xde\x00\x20\xa3"
                 "foo\x01",
                 UNKNOWN_FIELD, NOFIELD);
}

static void test_now_ms_is_the_clock(void **state)
{
    (void)state;
    mp_t m;
    mp_init(&m);
    mcase_t c = {"ts", {{S("ts"), I(TS)}}, OK};
    pack_case(&m, &c);
    sw_event_t ev;
    sw_event_err_t err;
    /* accepted with a clock a day before the event, not one ms earlier */
    check_accepted(decode_exact_now(m.sb.data, m.sb.size, TS - DAY, &ev, &err),
                   &err);
    check_rejected(
        decode_exact_now(m.sb.data, m.sb.size, TS - DAY - 1, &ev, &err), &err,
        SW_REASON_TS_IN_FUTURE, SW_F_TS);
    mp_free(&m);
}

/* ----------------------------------------------------------- truncation */

/* Every proper prefix of a valid payload is rejected as truncated (the
 * empty one as undecodable), never accepted. */
static void check_every_cut(const void *p, size_t len)
{
    sw_event_t ev;
    sw_event_err_t err;
    check_accepted(decode_exact(p, len, &ev, &err), &err);
    for (size_t cut = 0; cut < len; cut++) {
        int rc = decode_exact(p, cut, &ev, &err);
        if (rc == 0)
            fail_msg("a cut at %zu of %zu bytes was accepted", cut, len);
        if (cut == 0)
            check_rejected(rc, &err, SW_REASON_UNDECODABLE, NOFIELD);
        else if (err.reason != SW_REASON_TRUNCATED)
            fail_msg("a cut at %zu of %zu bytes: %s (%s)", cut, len,
                     sw_reason_name(err.reason), err.msg);
        else
            check_rejected(rc, &err, SW_REASON_TRUNCATED, NOFIELD);
    }
}

static sw_event_t full_event(void)
{
    sw_event_t ev;
    memset(&ev, 0, sizeof(ev));
    strcpy(ev.id, "ev-full-0001");
    ev.id_len = 12;
    strcpy(ev.src, "HU");
    strcpy(ev.section, "HR-SI/karlovac");
    ev.section_len = 14;
    ev.ts_ms = TS + 123;
    ev.type = SW_TYPE_BCP_CLANDESTINE;
    ev.count = 1234;
    strcpy(ev.nat, "SYR");
    strcpy(ev.bcp, "R\xc3\xb6szke");
    ev.bcp_len = 7;
    ev.lat = 46.1234;
    ev.lon = -19.875;
    ev.confidence = 0.75;
    ev.seen = SW_FIELDS_REQUIRED | (1u << SW_F_NAT) | (1u << SW_F_BCP) |
              (1u << SW_F_LAT) | (1u << SW_F_LON) | (1u << SW_F_CONFIDENCE);
    return ev;
}

static void test_every_cut_of_our_encoding(void **state)
{
    (void)state;
    sw_event_t ev = full_event();
    unsigned char buf[SW_EVENT_MSGPACK_MAX];
    size_t n = sw_event_encode_msgpack(&ev, buf, sizeof(buf));
    assert_true(n > 0);
    check_every_cut(buf, n);
}

static void test_every_cut_of_the_standard_literal(void **state)
{
    (void)state;
    const char p[] = STD_EVENT;
    check_every_cut(p, sizeof(p) - 1);
}

/* str8/str16/str32, every integer width, float32: the widths msgpack-c's
 * packer never picks for these values. */
static void pack_wide_event(mp_t *m)
{
    msgpack_pack_map(&m->pk, 9);
    MP_RAW(m, "\xd9\x02id\xd9\x07"
              "ev-0001");
    MP_RAW(m, "\xda\x00\x03src\xda\x00\x02HU");
    MP_RAW(m, "\xdb\x00\x00\x00\x07section\xdb\x00\x00\x00\x05HU-RS");
    mp_str(m, "ts");
    msgpack_pack_fix_int64(&m->pk, TS);
    mp_kv_str(m, "type", "refusal");
    mp_str(m, "count");
    msgpack_pack_fix_uint32(&m->pk, 7);
    mp_str(m, "lat");
    msgpack_pack_float(&m->pk, 45.5f);
    mp_str(m, "lon");
    msgpack_pack_float(&m->pk, -19.25f);
    mp_str(m, "confidence");
    msgpack_pack_fix_int8(&m->pk, 1);
}

static void test_every_cut_of_a_wide_encoding(void **state)
{
    (void)state;
    mp_t m;
    mp_init(&m);
    pack_wide_event(&m);
    check_every_cut(m.sb.data, m.sb.size);
    mp_free(&m);
}

/* ----------------------------------------------------------- round trips */

static sw_event_t base_event(void)
{
    sw_event_t ev;
    memset(&ev, 0, sizeof(ev));
    strcpy(ev.id, "ev-0001");
    ev.id_len = 7;
    strcpy(ev.src, "HU");
    strcpy(ev.section, "HU-RS");
    ev.section_len = 5;
    ev.ts_ms = TS;
    ev.type = SW_TYPE_IRREGULAR_CROSSING;
    ev.count = 3;
    ev.seen = SW_FIELDS_REQUIRED;
    return ev;
}

static void check_same_event(const sw_event_t *a, const sw_event_t *b)
{
    assert_int_equal(a->seen, b->seen);
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->id_len, b->id_len);
    assert_string_equal(a->src, b->src);
    assert_string_equal(a->section, b->section);
    assert_int_equal(a->section_len, b->section_len);
    assert_int_equal(a->ts_ms, b->ts_ms);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->count, b->count);
    assert_string_equal(a->nat, b->nat);
    assert_string_equal(a->bcp, b->bcp);
    assert_int_equal(a->bcp_len, b->bcp_len);
    if (SW_EV_HAS(a, SW_F_LAT)) {
        assert_memory_equal(&a->lat, &b->lat, sizeof(double));
        assert_memory_equal(&a->lon, &b->lon, sizeof(double));
    }
    if (SW_EV_HAS(a, SW_F_CONFIDENCE))
        assert_memory_equal(&a->confidence, &b->confidence, sizeof(double));
}

/* Encodes ev, decodes it back, and checks both agree; returns the size. */
static size_t round_trip(const sw_event_t *ev)
{
    unsigned char *buf = malloc(SW_EVENT_MSGPACK_MAX);
    assert_non_null(buf);
    size_t n = sw_event_encode_msgpack(ev, buf, SW_EVENT_MSGPACK_MAX);
    assert_true(n > 0 && n <= SW_EVENT_MSGPACK_MAX);
    sw_event_t back;
    sw_event_err_t err;
    check_accepted(decode_exact(buf, n, &back, &err), &err);
    check_valid_event(&back);
    check_same_event(ev, &back);
    /* and the re-encoding is the same bytes */
    unsigned char *again = malloc(n);
    assert_non_null(again);
    assert_int_equal(sw_event_encode_msgpack(&back, again, n), n);
    assert_memory_equal(buf, again, n);
    free(again);
    free(buf);
    return n;
}

static void test_round_trip_required_only(void **state)
{
    (void)state;
    sw_event_t ev = base_event();
    round_trip(&ev);
}

static void test_round_trip_with_nat(void **state)
{
    (void)state;
    sw_event_t ev = base_event();
    strcpy(ev.nat, "AFG");
    ev.seen |= 1u << SW_F_NAT;
    round_trip(&ev);
}

static void test_round_trip_with_bcp(void **state)
{
    (void)state;
    sw_event_t ev = base_event();
    strcpy(ev.bcp, "Horgos 2");
    ev.bcp_len = 8;
    ev.seen |= 1u << SW_F_BCP;
    round_trip(&ev);
}

static void test_round_trip_with_position(void **state)
{
    (void)state;
    sw_event_t ev = base_event();
    ev.lat = -89.999999;
    ev.lon = 179.123456789;
    ev.seen |= (1u << SW_F_LAT) | (1u << SW_F_LON);
    round_trip(&ev);
}

static void test_round_trip_with_confidence(void **state)
{
    (void)state;
    sw_event_t ev = base_event();
    ev.confidence = 0.1;
    ev.seen |= 1u << SW_F_CONFIDENCE;
    round_trip(&ev);
}

static void test_round_trip_all_fields(void **state)
{
    (void)state;
    sw_event_t ev = full_event();
    round_trip(&ev);
}

static void test_round_trip_max_lengths(void **state)
{
    (void)state;
    sw_event_t ev = full_event();
    memset(ev.id, 'i', 64);
    ev.id[64] = '\0';
    ev.id_len = 64;
    strcpy(ev.section, "HR-SI/" S24);
    ev.section_len = 30;
    memset(ev.bcp, 'b', 64);
    ev.bcp[64] = '\0';
    ev.bcp_len = 64;
    ev.count = 10000;
    ev.ts_ms = NOW + DAY;
    ev.lat = 90;
    ev.lon = -180;
    ev.confidence = 1;
    size_t n = round_trip(&ev);
    assert_true(n <= SW_EVENT_MSGPACK_MAX);
}

static void test_round_trip_utf8_bcp(void **state)
{
    (void)state;
    sw_event_t ev = base_event();
    /* "Röszke – Horgoš 🚧" */
    const char *bcp = "R\xc3\xb6szke \xe2\x80\x93 Horgo\xc5\xa1 "
                      "\xf0\x9f\x9a\xa7";
    strcpy(ev.bcp, bcp);
    ev.bcp_len = (uint8_t)strlen(bcp);
    ev.seen |= 1u << SW_F_BCP;
    round_trip(&ev);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    for (int t = 0; t < SW_TYPE__COUNT; t++) {
        sw_event_t ev = base_event();
        ev.type = (sw_event_type_t)t;
        round_trip(&ev);
    }
}

static void test_round_trip_limits(void **state)
{
    (void)state;
    sw_event_t ev = base_event();
    ev.ts_ms = INT64_C(946684800000);
    ev.count = 1;
    ev.confidence = 0;
    ev.seen |= 1u << SW_F_CONFIDENCE;
    round_trip(&ev);
}

static void test_encode_into_small_buffers(void **state)
{
    (void)state;
    sw_event_t ev = full_event();
    unsigned char ref[SW_EVENT_MSGPACK_MAX];
    size_t n = sw_event_encode_msgpack(&ev, ref, sizeof(ref));
    assert_true(n > 0);
    for (size_t cap = 0; cap <= n; cap++) {
        /* exactly cap bytes: ASan reports a write past them */
        unsigned char *buf = malloc(cap);
        assert_true(buf != NULL || cap == 0);
        size_t got = sw_event_encode_msgpack(&ev, buf, cap);
        if (cap < n) {
            if (got != 0)
                fail_msg("cap %zu of %zu: returned %zu", cap, n, got);
        } else {
            assert_int_equal(got, n);
            assert_memory_equal(buf, ref, n);
        }
        free(buf);
    }
}

static void test_encoding_is_exact(void **state)
{
    (void)state;
    sw_event_t ev = base_event();
    unsigned char buf[SW_EVENT_MSGPACK_MAX];
    size_t n = sw_event_encode_msgpack(&ev, buf, sizeof(buf));
    const char want[] = STD_EVENT;
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(buf, want, n);
}

/* ------------------------------------------------------- interoperation */

static void expect_key(const msgpack_object_kv *kv, const char *key)
{
    assert_int_equal(kv->key.type, MSGPACK_OBJECT_STR);
    assert_int_equal(kv->key.via.str.size, strlen(key));
    assert_memory_equal(kv->key.via.str.ptr, key, strlen(key));
}

static void expect_str_value(const msgpack_object_kv *kv, const char *key,
                             const char *value)
{
    expect_key(kv, key);
    assert_int_equal(kv->val.type, MSGPACK_OBJECT_STR);
    assert_int_equal(kv->val.via.str.size, strlen(value));
    assert_memory_equal(kv->val.via.str.ptr, value, strlen(value));
}

static void expect_uint_value(const msgpack_object_kv *kv, const char *key,
                              uint64_t value)
{
    expect_key(kv, key);
    assert_int_equal(kv->val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_int_equal(kv->val.via.u64, value);
}

static void expect_double_value(const msgpack_object_kv *kv, const char *key,
                                double value)
{
    expect_key(kv, key);
    assert_int_equal(kv->val.type, MSGPACK_OBJECT_FLOAT64);
    assert_true(kv->val.via.f64 == value);
}

static void test_msgpack_c_reads_our_encoding(void **state)
{
    (void)state;
    sw_event_t ev = full_event();
    unsigned char buf[SW_EVENT_MSGPACK_MAX];
    size_t n = sw_event_encode_msgpack(&ev, buf, sizeof(buf));
    assert_true(n > 0);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, (const char *)buf, n, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, n);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(u.data.via.map.size, 11);
    const msgpack_object_kv *kv = u.data.via.map.ptr;
    expect_str_value(&kv[0], "id", "ev-full-0001");
    expect_str_value(&kv[1], "src", "HU");
    expect_str_value(&kv[2], "section", "HR-SI/karlovac");
    expect_uint_value(&kv[3], "ts", UINT64_C(1551441600123));
    expect_str_value(&kv[4], "type", "bcp_clandestine");
    expect_uint_value(&kv[5], "count", 1234);
    expect_str_value(&kv[6], "nat", "SYR");
    expect_str_value(&kv[7], "bcp", "R\xc3\xb6szke");
    expect_double_value(&kv[8], "lat", 46.1234);
    expect_double_value(&kv[9], "lon", -19.875);
    expect_double_value(&kv[10], "confidence", 0.75);
    msgpack_unpacked_destroy(&u);
}

static void test_msgpack_c_reads_required_only(void **state)
{
    (void)state;
    sw_event_t ev = base_event();
    ev.type = SW_TYPE_ILLEGAL_STAY;
    ev.count = 10000;
    unsigned char buf[SW_EVENT_MSGPACK_MAX];
    size_t n = sw_event_encode_msgpack(&ev, buf, sizeof(buf));
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, (const char *)buf, n, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, n);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(u.data.via.map.size, 6);
    const msgpack_object_kv *kv = u.data.via.map.ptr;
    expect_str_value(&kv[0], "id", "ev-0001");
    expect_str_value(&kv[1], "src", "HU");
    expect_str_value(&kv[2], "section", "HU-RS");
    expect_uint_value(&kv[3], "ts", UINT64_C(1551441600000));
    expect_str_value(&kv[4], "type", "illegal_stay");
    expect_uint_value(&kv[5], "count", 10000);
    msgpack_unpacked_destroy(&u);
}

static void test_wide_encoding_decoded(void **state)
{
    (void)state;
    mp_t m;
    mp_init(&m);
    pack_wide_event(&m);
    sw_event_t ev;
    sw_event_err_t err;
    check_accepted(decode_exact(m.sb.data, m.sb.size, &ev, &err), &err);
    mp_free(&m);
    assert_string_equal(ev.id, "ev-0001");
    assert_string_equal(ev.src, "HU");
    assert_string_equal(ev.section, "HU-RS");
    assert_int_equal(ev.ts_ms, TS);
    assert_int_equal(ev.type, SW_TYPE_REFUSAL);
    assert_int_equal(ev.count, 7);
    assert_true(ev.lat == 45.5);
    assert_true(ev.lon == -19.25);
    assert_true(ev.confidence == 1.0);
}

/* A standard event whose count is packed by pack_count. */
static int decode_count(void (*pack_count)(msgpack_packer *, int64_t),
                        int64_t v, sw_event_t *ev, sw_event_err_t *err)
{
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 6);
    mp_kv_str(&m, "id", "w");
    mp_kv_str(&m, "src", "HU");
    mp_kv_str(&m, "section", "HU-RS");
    mp_str(&m, "ts");
    msgpack_pack_int64(&m.pk, TS);
    mp_kv_str(&m, "type", "deterred");
    mp_str(&m, "count");
    pack_count(&m.pk, v);
    int rc = decode_exact(m.sb.data, m.sb.size, ev, err);
    mp_free(&m);
    return rc;
}

static void p_u8(msgpack_packer *pk, int64_t v)
{
    msgpack_pack_fix_uint8(pk, (uint8_t)v);
}
static void p_u16(msgpack_packer *pk, int64_t v)
{
    msgpack_pack_fix_uint16(pk, (uint16_t)v);
}
static void p_u32(msgpack_packer *pk, int64_t v)
{
    msgpack_pack_fix_uint32(pk, (uint32_t)v);
}
static void p_u64(msgpack_packer *pk, int64_t v)
{
    msgpack_pack_fix_uint64(pk, (uint64_t)v);
}
static void p_i8(msgpack_packer *pk, int64_t v)
{
    msgpack_pack_fix_int8(pk, (int8_t)v);
}
static void p_i16(msgpack_packer *pk, int64_t v)
{
    msgpack_pack_fix_int16(pk, (int16_t)v);
}
static void p_i32(msgpack_packer *pk, int64_t v)
{
    msgpack_pack_fix_int32(pk, (int32_t)v);
}
static void p_i64(msgpack_packer *pk, int64_t v)
{
    msgpack_pack_fix_int64(pk, v);
}
static void p_int(msgpack_packer *pk, int64_t v)
{
    msgpack_pack_int64(pk, v);
}

static void test_count_in_every_integer_width(void **state)
{
    (void)state;
    static const struct {
        void (*pack)(msgpack_packer *, int64_t);
        int64_t v;
        size_t size; /* bytes of the packed count */
    } w[] = {
        {p_int, 5, 1},    {p_u8, 200, 2},    {p_u16, 1000, 3},
        {p_u32, 9999, 5}, {p_u64, 10000, 9}, {p_i8, 100, 2},
        {p_i16, 300, 3},  {p_i32, 4000, 5},  {p_i64, 6000, 9},
    };
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        mp_t m;
        mp_init(&m);
        w[i].pack(&m.pk, w[i].v);
        assert_int_equal(m.sb.size, w[i].size);
        mp_free(&m);
        sw_event_t ev;
        sw_event_err_t err;
        check_accepted(decode_count(w[i].pack, w[i].v, &ev, &err), &err);
        assert_int_equal(ev.count, w[i].v);
    }
}

static void test_negative_counts_are_sign_extended(void **state)
{
    (void)state;
    static const struct {
        void (*pack)(msgpack_packer *, int64_t);
        int64_t v;
        const char *msg;
    } w[] = {
        {p_int, -1, "count: -1 is out of range (accepted: 1..10000)"},
        {p_i8, -1, "count: -1 is out of range (accepted: 1..10000)"},
        {p_i8, -128, "count: -128 is out of range (accepted: 1..10000)"},
        {p_i16, -300, "count: -300 is out of range (accepted: 1..10000)"},
        {p_i32, -70000, "count: -70000 is out of range (accepted: 1..10000)"},
        {p_i64, -5000000000,
         "count: -5000000000 is out of range (accepted: 1..10000)"},
        {p_u64, 5000000000,
         "count: 5000000000 is out of range (accepted: 1..10000)"},
    };
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        sw_event_t ev;
        sw_event_err_t err;
        int rc = decode_count(w[i].pack, w[i].v, &ev, &err);
        check_rejected(rc, &err, SW_REASON_BAD_COUNT, SW_F_COUNT);
        assert_string_equal(err.msg, w[i].msg);
    }
}

static void test_ts_in_int64_and_uint64_widths(void **state)
{
    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        mp_t m;
        mp_init(&m);
        msgpack_pack_map(&m.pk, 6);
        mp_kv_str(&m, "id", "w");
        mp_kv_str(&m, "src", "HU");
        mp_kv_str(&m, "section", "HU-RS");
        mp_str(&m, "ts");
        if (variant == 0)
            msgpack_pack_fix_int64(&m.pk, TS + 1);
        else if (variant == 1)
            msgpack_pack_fix_uint64(&m.pk, (uint64_t)TS + 1);
        else
            msgpack_pack_int64(&m.pk, TS + 1);
        mp_kv_str(&m, "type", "deterred");
        mp_str(&m, "count");
        msgpack_pack_fix_int16(&m.pk, 2);
        sw_event_t ev;
        sw_event_err_t err;
        check_accepted(decode_exact(m.sb.data, m.sb.size, &ev, &err), &err);
        assert_int_equal(ev.ts_ms, TS + 1);
        assert_int_equal(ev.count, 2);
        mp_free(&m);
    }
}

static void test_float32_and_int8_position(void **state)
{
    (void)state;
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 8);
    mp_kv_str(&m, "id", "w");
    mp_kv_str(&m, "src", "HU");
    mp_kv_str(&m, "section", "HU-RS");
    mp_str(&m, "ts");
    msgpack_pack_int64(&m.pk, TS);
    mp_kv_str(&m, "type", "deterred");
    mp_str(&m, "count");
    msgpack_pack_int64(&m.pk, 2);
    mp_str(&m, "lat");
    msgpack_pack_fix_int8(&m.pk, -45);
    mp_str(&m, "lon");
    msgpack_pack_float(&m.pk, 179.75f);
    sw_event_t ev;
    sw_event_err_t err;
    check_accepted(decode_exact(m.sb.data, m.sb.size, &ev, &err), &err);
    assert_true(ev.lat == -45.0);
    assert_true(ev.lon == 179.75);
    mp_free(&m);
}

static void test_float32_out_of_range(void **state)
{
    (void)state;
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 7);
    mp_kv_str(&m, "id", "w");
    mp_kv_str(&m, "src", "HU");
    mp_kv_str(&m, "section", "HU-RS");
    mp_str(&m, "ts");
    msgpack_pack_int64(&m.pk, TS);
    mp_kv_str(&m, "type", "deterred");
    mp_str(&m, "count");
    msgpack_pack_int64(&m.pk, 2);
    mp_str(&m, "confidence");
    msgpack_pack_float(&m.pk, 1.5f);
    sw_event_t ev;
    sw_event_err_t err;
    check_rejected(decode_exact(m.sb.data, m.sb.size, &ev, &err), &err,
                   SW_REASON_BAD_CONFIDENCE, SW_F_CONFIDENCE);
    mp_free(&m);
}

static void test_str8_str16_str32_strings(void **state)
{
    (void)state;
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 7);
    /* keys and values in every string width */
    MP_RAW(&m, "\xd9\x02id\xda\x00\x03"
               "abc");
    MP_RAW(&m, "\xdb\x00\x00\x00\x03src\xd9\x02XK");
    MP_RAW(&m, "\xda\x00\x07section\xdb\x00\x00\x00\x05HU-RS");
    mp_str(&m, "ts");
    msgpack_pack_int64(&m.pk, TS);
    MP_RAW(&m, "\xd9\x04type\xda\x00\x07refusal");
    mp_str(&m, "count");
    msgpack_pack_int64(&m.pk, 9);
    /* a 40-byte bcp: msgpack-c packs it as str8 */
    mp_str(&m, "bcp");
    mp_str(&m, "0123456789012345678901234567890123456789");
    sw_event_t ev;
    sw_event_err_t err;
    check_accepted(decode_exact(m.sb.data, m.sb.size, &ev, &err), &err);
    assert_string_equal(ev.id, "abc");
    assert_string_equal(ev.src, "XK");
    assert_string_equal(ev.section, "HU-RS");
    assert_int_equal(ev.type, SW_TYPE_REFUSAL);
    assert_int_equal(ev.count, 9);
    assert_string_equal(ev.bcp, "0123456789012345678901234567890123456789");
    assert_int_equal(ev.bcp_len, 40);
    mp_free(&m);
}

/* ---------------------------------------------------- names and lookups */

static void test_reason_names(void **state)
{
    (void)state;
    assert_string_equal(sw_reason_name(SW_REASON_NONE), "none");
    assert_string_equal(sw_reason_name(SW_REASON_UNDECODABLE), "undecodable");
    assert_string_equal(sw_reason_name(SW_REASON_TRUNCATED), "truncated");
    assert_string_equal(sw_reason_name(SW_REASON_WRONG_TYPE), "wrong_type");
    assert_string_equal(sw_reason_name(SW_REASON_TS_IN_FUTURE), "ts_in_future");
    assert_string_equal(sw_reason_name(SW_REASON_LATE), "late");
    assert_string_equal(sw_reason_name(SW_REASON__COUNT), "?");
    assert_string_equal(sw_reason_name((sw_reason_t)-1), "?");
    assert_string_equal(sw_reason_desc(SW_REASON_BAD_COUNT),
                        "count is not within 1..10000");
    assert_string_equal(sw_reason_desc(SW_REASON__COUNT), "?");
}

static void test_field_and_type_names(void **state)
{
    (void)state;
    assert_string_equal(sw_field_name(SW_F_ID), "id");
    assert_string_equal(sw_field_name(SW_F_CONFIDENCE), "confidence");
    assert_string_equal(sw_field_name(SW_F__COUNT), "?");
    assert_string_equal(sw_event_type_name(SW_TYPE_DOCUMENT_FRAUD),
                        "document_fraud");
    assert_string_equal(sw_event_type_name(SW_TYPE__COUNT), "?");
}

static void test_lookups(void **state)
{
    (void)state;
    assert_int_equal(sw_field_lookup("lat", 3), SW_F_LAT);
    assert_int_equal(sw_field_lookup("latitude", 3), SW_F_LAT);
    assert_int_equal(sw_field_lookup("la", 2), -1);
    assert_int_equal(sw_field_lookup("", 0), -1);
    assert_int_equal(sw_field_lookup("id\0", 3), -1);
    assert_int_equal(sw_field_lookup("confidence\0x", 12), -1);
    assert_int_equal(sw_event_type_lookup("refusal", 7), SW_TYPE_REFUSAL);
    assert_int_equal(sw_event_type_lookup("refusals", 8), -1);
    assert_int_equal(sw_event_type_lookup("refusal\0", 8), -1);
}

/* ----------------------------------------------------------------- main */

#define T(f) cmocka_unit_test(f)

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        T(test_literal_standard_event),
        T(test_empty_payload),
        T(test_empty_map),
        T(test_not_a_map_array),
        T(test_not_a_map_int),
        T(test_not_a_map_string),
        T(test_not_a_map_nil),
        T(test_not_a_map_bin),
        T(test_not_a_map_double),
        T(test_top_level_c1),
        T(test_top_level_truncated_map16),
        T(test_trailing_byte),
        T(test_trailing_c1),
        T(test_two_events),
        T(test_map16_header),
        T(test_map32_header),
        T(test_map_with_fewer_entries_than_announced),
        T(test_map_with_more_entries_than_announced),
        T(test_bomb_array32_value),
        T(test_bomb_map32_header),
        T(test_bomb_map32_header_with_entries),
        T(test_map16_of_33_entries),
        T(test_map16_of_32_entries_is_read),
        T(test_bomb_array32_top_level),
        T(test_deeply_nested_arrays),
        T(test_deeply_nested_value),
        T(test_deeply_nested_maps_as_key),
        T(test_many_entries_under_limit_rejected_on_first_unknown),
        T(test_now_ms_is_the_clock),
        T(test_every_cut_of_our_encoding),
        T(test_every_cut_of_the_standard_literal),
        T(test_every_cut_of_a_wide_encoding),
        T(test_round_trip_required_only),
        T(test_round_trip_with_nat),
        T(test_round_trip_with_bcp),
        T(test_round_trip_with_position),
        T(test_round_trip_with_confidence),
        T(test_round_trip_all_fields),
        T(test_round_trip_max_lengths),
        T(test_round_trip_utf8_bcp),
        T(test_round_trip_every_type),
        T(test_round_trip_limits),
        T(test_encode_into_small_buffers),
        T(test_encoding_is_exact),
        T(test_msgpack_c_reads_our_encoding),
        T(test_msgpack_c_reads_required_only),
        T(test_wide_encoding_decoded),
        T(test_count_in_every_integer_width),
        T(test_negative_counts_are_sign_extended),
        T(test_ts_in_int64_and_uint64_widths),
        T(test_float32_and_int8_position),
        T(test_float32_out_of_range),
        T(test_str8_str16_str32_strings),
        T(test_reason_names),
        T(test_field_and_type_names),
        T(test_lookups),
    };
    enum {
        NFIXED = sizeof(fixed) / sizeof(fixed[0]),
        NCASES = sizeof(mcases) / sizeof(mcases[0]),
    };
    static struct CMUnitTest tests[NFIXED + NCASES];
    for (size_t i = 0; i < NCASES; i++)
        tests[i] = (struct CMUnitTest){mcases[i].name, run_mcase, NULL, NULL,
                                       (void *)&mcases[i]};
    for (size_t i = 0; i < NFIXED; i++)
        tests[NCASES + i] = fixed[i];
    return cmocka_run_group_tests_name("sw_event", tests, NULL, NULL);
}
