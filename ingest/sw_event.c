/*
 * sw_event: validation rules shared by every decoder, and the msgpack codec.
 *
 * Decoding msgpack does not use msgpack-c's unpacker: it builds a tree of
 * msgpack_object in a zone and sizes each container from the untrusted
 * header, so a 5-byte payload announcing a 2^31-entry array asks for tens of
 * gigabytes. The event is a flat map with a known schema, so a bounded
 * reader walks the bytes once, rejects any nested container without
 * descending into it, and copies strings into the caller's struct. Encoding
 * uses msgpack-c's packer writing into the caller's buffer.
 */
#include "sw_event.h"
#include "sw_time.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- names */

static const char *const reason_names[] = {"none",
#define SW__REASON_NAME(name, text, desc) text,
                                           SW_REASON_MAP(SW__REASON_NAME)
#undef SW__REASON_NAME
};

static const char *const reason_descs[] = {"no error",
#define SW__REASON_DESC(name, text, desc) desc,
                                           SW_REASON_MAP(SW__REASON_DESC)
#undef SW__REASON_DESC
};

static const char *const field_names[] = {
#define SW__FIELD_NAME(name, text) text,
    SW_FIELD_MAP(SW__FIELD_NAME)
#undef SW__FIELD_NAME
};

static const char *const type_names[] = {
#define SW__TYPE_NAME(name, text) text,
    SW_EVENT_TYPE_MAP(SW__TYPE_NAME)
#undef SW__TYPE_NAME
};

const char *sw_reason_name(sw_reason_t reason)
{
    return (unsigned)reason < SW_REASON__COUNT ? reason_names[reason] : "?";
}

const char *sw_reason_desc(sw_reason_t reason)
{
    return (unsigned)reason < SW_REASON__COUNT ? reason_descs[reason] : "?";
}

const char *sw_field_name(sw_field_t field)
{
    return (unsigned)field < SW_F__COUNT ? field_names[field] : "?";
}

const char *sw_event_type_name(sw_event_type_t type)
{
    return (unsigned)type < SW_TYPE__COUNT ? type_names[type] : "?";
}

/* Both lookups run for every field of every event: dispatch on length,
 * then compare with a constant length so the compiler inlines it. */
#define IS(lit) (memcmp(name, lit, sizeof(lit) - 1) == 0)

int sw_field_lookup(const char *name, size_t len)
{
    switch (len) {
    case 2:
        return IS("id") ? SW_F_ID : IS("ts") ? SW_F_TS : -1;
    case 3:
        return IS("src")   ? SW_F_SRC
               : IS("nat") ? SW_F_NAT
               : IS("bcp") ? SW_F_BCP
               : IS("lat") ? SW_F_LAT
               : IS("lon") ? SW_F_LON
                           : -1;
    case 4:
        return IS("type") ? SW_F_TYPE : -1;
    case 5:
        return IS("count") ? SW_F_COUNT : -1;
    case 7:
        return IS("section") ? SW_F_SECTION : -1;
    case 10:
        return IS("confidence") ? SW_F_CONFIDENCE : -1;
    }
    return -1;
}

int sw_event_type_lookup(const char *name, size_t len)
{
    switch (len) {
    case 7:
        return IS("refusal") ? SW_TYPE_REFUSAL : -1;
    case 8:
        return IS("deterred") ? SW_TYPE_DETERRED : -1;
    case 11:
        return IS("facilitator") ? SW_TYPE_FACILITATOR : -1;
    case 12:
        return IS("illegal_stay") ? SW_TYPE_ILLEGAL_STAY : -1;
    case 14:
        return IS("document_fraud") ? SW_TYPE_DOCUMENT_FRAUD : -1;
    case 15:
        return IS("bcp_clandestine") ? SW_TYPE_BCP_CLANDESTINE : -1;
    case 18:
        return IS("irregular_crossing") ? SW_TYPE_IRREGULAR_CROSSING : -1;
    }
    return -1;
}
#undef IS

/* ----------------------------------------------------------- validation */

int sw_event_fail(sw_event_err_t *err, sw_reason_t reason, int field,
                  const char *fmt, ...)
{
    err->reason = reason;
    err->field = field;
    int n = 0;
    if (field >= 0)
        n = snprintf(err->msg, sizeof(err->msg),
                     "%s: ", sw_field_name((sw_field_t)field));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

void sw_event_reset(sw_event_t *ev)
{
    ev->seen = 0;
    ev->nulls = 0;
    ev->nat[0] = '\0';
    ev->bcp[0] = '\0';
    ev->bcp_len = 0;
}

int sw_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned min, cp;
        if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

static int is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

int sw_section_valid(const char *s, size_t len)
{
    if (len < 5 || len > SW_SECTION_MAX)
        return 0;
    if (!is_upper(s[0]) || !is_upper(s[1]) || s[2] != '-' || !is_upper(s[3]) ||
        !is_upper(s[4]))
        return 0;
    /* the pair is sorted and names two different countries */
    if (s[0] > s[3] || (s[0] == s[3] && s[1] >= s[4]))
        return 0;
    if (len == 5)
        return 1;
    if (s[5] != '/' || len - 6 < 1 || len - 6 > SW_SUBSECTION_MAX)
        return 0;
    for (size_t i = 6; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* Printable text: valid UTF-8 without C0/DEL control characters. */
static int printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

static int mark_seen(sw_event_t *ev, sw_field_t f, sw_event_err_t *err)
{
    if (SW_EV_HAS(ev, f))
        return sw_event_fail(err, SW_REASON_DUPLICATE_FIELD, (int)f,
                             "appears more than once");
    ev->seen |= 1u << f;
    return 0;
}

static int check_text(sw_field_t f, const char *s, size_t len, size_t max,
                      sw_reason_t bad, sw_event_err_t *err)
{
    if (len > max)
        return sw_event_fail(err, SW_REASON_TOO_LONG, (int)f,
                             "%zu bytes is too long (accepted: 1..%zu bytes)",
                             len, max);
    /* the common case, printable ASCII, in one pass */
    size_t i = 0;
    while (i < len && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f)
        i++;
    if (i == len && len > 0)
        return 0;
    if (!sw_utf8_valid(s, len))
        return sw_event_fail(err, SW_REASON_BAD_UTF8, (int)f,
                             "not valid UTF-8");
    if (len == 0 || !printable(s, len))
        return sw_event_fail(err, bad, (int)f,
                             len == 0 ? "is empty (accepted: 1..%zu bytes)"
                                      : "holds control characters (accepted: "
                                        "1..%zu bytes of printable text)",
                             max);
    return 0;
}

static int set_ts(sw_event_t *ev, int64_t ms, sw_event_err_t *err)
{
    (void)err;
    ev->ts_ms = ms;
    return 0;
}

static int set_count(sw_event_t *ev, int64_t v, sw_event_err_t *err)
{
    if (v < 1 || v > SW_EVENT_COUNT_MAX)
        return sw_event_fail(err, SW_REASON_BAD_COUNT, SW_F_COUNT,
                             "%lld is out of range (accepted: 1..%d)",
                             (long long)v, SW_EVENT_COUNT_MAX);
    ev->count = (uint32_t)v;
    return 0;
}

static int set_real(sw_event_t *ev, sw_field_t f, double v, sw_event_err_t *err)
{
    double lo, hi;
    sw_reason_t bad;
    switch (f) {
    case SW_F_LAT:
        lo = -90, hi = 90, bad = SW_REASON_BAD_POSITION;
        break;
    case SW_F_LON:
        lo = -180, hi = 180, bad = SW_REASON_BAD_POSITION;
        break;
    default:
        lo = 0, hi = 1, bad = SW_REASON_BAD_CONFIDENCE;
        break;
    }
    if (!(v >= lo && v <= hi)) /* also catches NaN */
        return sw_event_fail(err, bad, (int)f,
                             "%g is out of range (accepted: %g..%g)", v, lo,
                             hi);
    if (f == SW_F_LAT)
        ev->lat = v;
    else if (f == SW_F_LON)
        ev->lon = v;
    else
        ev->confidence = v;
    return 0;
}

static const char *expected_type(sw_field_t f)
{
    switch (f) {
    case SW_F_TS:
        return "an integer of milliseconds since the epoch, or an RFC 3339 "
               "string in JSON/CSV";
    case SW_F_COUNT:
        return "an integer";
    case SW_F_LAT:
    case SW_F_LON:
    case SW_F_CONFIDENCE:
        return "a number";
    default:
        return "a string";
    }
}

int sw_event_set_wrong_type(sw_event_t *ev, sw_field_t f, const char *what,
                            sw_event_err_t *err)
{
    (void)ev;
    return sw_event_fail(err, SW_REASON_WRONG_TYPE, (int)f,
                         "got %s (accepted: %s)", what, expected_type(f));
}

int sw_event_set_str(sw_event_t *ev, sw_field_t f, const char *s, size_t len,
                     int ts_text_ok, sw_event_err_t *err)
{
    if (mark_seen(ev, f, err))
        return -1;
    switch (f) {
    case SW_F_ID:
        if (check_text(f, s, len, SW_EVENT_ID_MAX, SW_REASON_BAD_ID, err))
            return -1;
        memcpy(ev->id, s, len);
        ev->id[len] = '\0';
        ev->id_len = (uint8_t)len;
        return 0;
    case SW_F_BCP:
        if (check_text(f, s, len, SW_BCP_MAX, SW_REASON_BAD_BCP, err))
            return -1;
        memcpy(ev->bcp, s, len);
        ev->bcp[len] = '\0';
        ev->bcp_len = (uint8_t)len;
        return 0;
    case SW_F_SRC:
        if (len != 2 || !is_upper(s[0]) || !is_upper(s[1]))
            return sw_event_fail(err, SW_REASON_BAD_SRC, (int)f,
                                 "\"%.*s\" is not a country code (accepted: "
                                 "ISO 3166-1 alpha-2, upper case, XK for "
                                 "Kosovo)",
                                 (int)(len > 16 ? 16 : len), s);
        memcpy(ev->src, s, 2);
        ev->src[2] = '\0';
        return 0;
    case SW_F_NAT:
        if ((len != 2 && len != 3) || !is_upper(s[0]) || !is_upper(s[1]) ||
            (len == 3 && !is_upper(s[2])))
            return sw_event_fail(err, SW_REASON_BAD_NAT, (int)f,
                                 "\"%.*s\" is not a country code (accepted: "
                                 "ISO 3166 alpha-2 or alpha-3, upper case)",
                                 (int)(len > 16 ? 16 : len), s);
        memcpy(ev->nat, s, len);
        ev->nat[len] = '\0';
        return 0;
    case SW_F_SECTION:
        if (len > SW_SECTION_MAX)
            return sw_event_fail(err, SW_REASON_TOO_LONG, (int)f,
                                 "%zu bytes is too long (accepted: up to %d)",
                                 len, SW_SECTION_MAX);
        if (!sw_section_valid(s, len))
            return sw_event_fail(
                err, SW_REASON_BAD_SECTION, (int)f,
                "\"%.*s\" is not a section id (accepted: two ISO 3166-1 "
                "alpha-2 codes in ascending order joined by '-', optionally "
                "'/' and 1..%d of [a-z0-9_-], e.g. HU-RS, HR-SI/karlovac)",
                (int)len, s, SW_SUBSECTION_MAX);
        memcpy(ev->section, s, len);
        ev->section[len] = '\0';
        ev->section_len = (uint8_t)len;
        return 0;
    case SW_F_TYPE: {
        int t = sw_event_type_lookup(s, len);
        if (t < 0)
            return sw_event_fail(
                err, SW_REASON_UNKNOWN_TYPE, (int)f,
                "\"%.*s\" is not an event type (accepted: irregular_crossing, "
                "bcp_clandestine, deterred, facilitator, refusal, "
                "document_fraud, illegal_stay)",
                (int)(len > 32 ? 32 : len), s);
        ev->type = (sw_event_type_t)t;
        return 0;
    }
    case SW_F_TS: {
        if (!ts_text_ok)
            return sw_event_set_wrong_type(ev, f, "a string", err);
        int64_t ms;
        if (sw_time_parse_rfc3339(s, len, &ms) != 0)
            return sw_event_fail(err, SW_REASON_BAD_TS, (int)f,
                                 "\"%.*s\" is not an RFC 3339 time (accepted: "
                                 "e.g. 2019-03-01T12:00:00Z)",
                                 (int)(len > 40 ? 40 : len), s);
        return set_ts(ev, ms, err);
    }
    default:
        return sw_event_set_wrong_type(ev, f, "a string", err);
    }
}

int sw_event_set_int(sw_event_t *ev, sw_field_t f, int64_t v,
                     sw_event_err_t *err)
{
    if (mark_seen(ev, f, err))
        return -1;
    switch (f) {
    case SW_F_TS:
        return set_ts(ev, v, err);
    case SW_F_COUNT:
        return set_count(ev, v, err);
    case SW_F_LAT:
    case SW_F_LON:
    case SW_F_CONFIDENCE:
        return set_real(ev, f, (double)v, err);
    default:
        return sw_event_set_wrong_type(ev, f, "an integer", err);
    }
}

int sw_event_set_uint(sw_event_t *ev, sw_field_t f, uint64_t v,
                      sw_event_err_t *err)
{
    if (v > (uint64_t)INT64_MAX) {
        if (mark_seen(ev, f, err))
            return -1;
        if (f == SW_F_COUNT)
            return sw_event_fail(err, SW_REASON_BAD_COUNT, (int)f,
                                 "%llu is out of range (accepted: 1..%d)",
                                 (unsigned long long)v, SW_EVENT_COUNT_MAX);
        if (f == SW_F_TS)
            return sw_event_fail(err, SW_REASON_TS_IN_FUTURE, (int)f,
                                 "%llu is too far in the future",
                                 (unsigned long long)v);
        if (f == SW_F_LAT || f == SW_F_LON || f == SW_F_CONFIDENCE)
            return set_real(ev, f, (double)v, err);
        return sw_event_set_wrong_type(ev, f, "an integer", err);
    }
    return sw_event_set_int(ev, f, (int64_t)v, err);
}

int sw_event_set_double(sw_event_t *ev, sw_field_t f, double v,
                        sw_event_err_t *err)
{
    if (mark_seen(ev, f, err))
        return -1;
    switch (f) {
    case SW_F_LAT:
    case SW_F_LON:
    case SW_F_CONFIDENCE:
        return set_real(ev, f, v, err);
    default:
        return sw_event_set_wrong_type(ev, f, "a fractional number", err);
    }
}

int sw_event_set_null(sw_event_t *ev, sw_field_t f, sw_event_err_t *err)
{
    if (SW_FIELDS_REQUIRED & (1u << f)) {
        if (mark_seen(ev, f, err))
            return -1;
        return sw_event_set_wrong_type(ev, f, "null", err);
    }
    /* An explicit null is the same as an absent optional field, but still
     * counts for the duplicate rule; sw_event_finish() drops it. */
    if (mark_seen(ev, f, err))
        return -1;
    ev->nulls |= 1u << f;
    return 0;
}

int sw_event_finish(sw_event_t *ev, int64_t now_ms, sw_event_err_t *err)
{
    uint32_t missing = SW_FIELDS_REQUIRED & ~ev->seen;
    if (missing) {
        int f = __builtin_ctz(missing);
        return sw_event_fail(err, SW_REASON_MISSING_FIELD, f,
                             "required field is missing (required: id, src, "
                             "section, ts, type, count)");
    }
    if (ev->ts_ms < SW_EVENT_TS_MIN)
        return sw_event_fail(err, SW_REASON_TS_TOO_OLD, SW_F_TS,
                             "%lld is before 2000-01-01T00:00:00Z",
                             (long long)ev->ts_ms);
    if (ev->ts_ms > now_ms + SW_EVENT_TS_FUTURE_MAX)
        return sw_event_fail(err, SW_REASON_TS_IN_FUTURE, SW_F_TS,
                             "%lld is more than 24 h after now (%lld)",
                             (long long)ev->ts_ms, (long long)now_ms);
    /* Explicit nulls counted as seen for the duplicate rule only. */
    ev->seen &= ~ev->nulls;
    ev->nulls = 0;
    int has_lat = SW_EV_HAS(ev, SW_F_LAT), has_lon = SW_EV_HAS(ev, SW_F_LON);
    if (has_lat != has_lon)
        return sw_event_fail(err, SW_REASON_BAD_POSITION,
                             has_lat ? SW_F_LON : SW_F_LAT,
                             "missing (lat and lon come together)");
    return 0;
}

/* ------------------------------------------------------ msgpack reading */

typedef enum {
    MP_NIL,
    MP_BOOL,
    MP_INT,
    MP_UINT,
    MP_FLOAT,
    MP_STR,
    MP_BIN,
    MP_ARRAY,
    MP_MAP,
    MP_EXT,
} mp_kind_t;

typedef struct {
    mp_kind_t kind;
    union {
        int64_t i;
        uint64_t u;
        double d;
        uint32_t n; /* entries of an array or map */
    } v;
    const char *s; /* str/bin/ext payload */
    uint32_t len;
} mp_tok_t;

typedef struct {
    const unsigned char *p, *end;
} mp_reader_t;

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads one token. For str/bin/ext the payload is consumed and pointed to;
 * for array/map only the header is read. Returns 0, -1 when the buffer ends
 * inside the token, -2 on the never-used byte 0xc1. */
static inline __attribute__((always_inline)) int mp_next(mp_reader_t *r,
                                                         mp_tok_t *t)
{
    if (r->p >= r->end)
        return -1;
    unsigned c = *r->p++;
    size_t avail = (size_t)(r->end - r->p);
    int hdr = 0; /* bytes of length/value after the type byte */
    size_t payload = 0;
    if (c <= 0x7f) {
        t->kind = MP_UINT, t->v.u = c;
        return 0;
    }
    if (c >= 0xe0) {
        t->kind = MP_INT, t->v.i = (int8_t)c;
        return 0;
    }
    if ((c & 0xf0) == 0x80) {
        t->kind = MP_MAP, t->v.n = c & 0x0f;
        return 0;
    }
    if ((c & 0xf0) == 0x90) {
        t->kind = MP_ARRAY, t->v.n = c & 0x0f;
        return 0;
    }
    if ((c & 0xe0) == 0xa0) {
        t->kind = MP_STR, payload = c & 0x1f;
        goto take;
    }
    switch (c) {
    case 0xc0:
        t->kind = MP_NIL;
        return 0;
    case 0xc2:
    case 0xc3:
        t->kind = MP_BOOL, t->v.u = c & 1;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        hdr = 1 << (c - 0xc4), t->kind = MP_BIN;
        break;
    case 0xd9:
    case 0xda:
    case 0xdb:
        hdr = 1 << (c - 0xd9), t->kind = MP_STR;
        break;
    case 0xc7:
    case 0xc8:
    case 0xc9:
        hdr = 1 << (c - 0xc7), t->kind = MP_EXT;
        break;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        /* fixext: type byte + 1..16 bytes */
        t->kind = MP_EXT;
        payload = 1 + ((size_t)1 << (c - 0xd4));
        goto take;
    case 0xca:
        if (avail < 4)
            return -1;
        {
            uint32_t b = (uint32_t)be(r->p, 4);
            float f;
            memcpy(&f, &b, 4);
            t->kind = MP_FLOAT, t->v.d = f;
        }
        r->p += 4;
        return 0;
    case 0xcb:
        if (avail < 8)
            return -1;
        {
            uint64_t b = be(r->p, 8);
            double d;
            memcpy(&d, &b, 8);
            t->kind = MP_FLOAT, t->v.d = d;
        }
        r->p += 8;
        return 0;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
        int n = 1 << (c - 0xcc);
        if (avail < (size_t)n)
            return -1;
        t->kind = MP_UINT, t->v.u = be(r->p, n);
        r->p += n;
        return 0;
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        int n = 1 << (c - 0xd0);
        if (avail < (size_t)n)
            return -1;
        uint64_t u = be(r->p, n);
        /* sign-extend from n bytes */
        int shift = 64 - 8 * n;
        t->kind = MP_INT, t->v.i = (int64_t)(u << shift) >> shift;
        r->p += n;
        return 0;
    }
    case 0xdc:
    case 0xdd: {
        int n = c == 0xdc ? 2 : 4;
        if (avail < (size_t)n)
            return -1;
        t->kind = MP_ARRAY, t->v.n = (uint32_t)be(r->p, n);
        r->p += n;
        return 0;
    }
    case 0xde:
    case 0xdf: {
        int n = c == 0xde ? 2 : 4;
        if (avail < (size_t)n)
            return -1;
        t->kind = MP_MAP, t->v.n = (uint32_t)be(r->p, n);
        r->p += n;
        return 0;
    }
    default: /* 0xc1 */
        return -2;
    }
    if (avail < (size_t)hdr)
        return -1;
    payload = (size_t)be(r->p, hdr);
    r->p += hdr;
    if (t->kind == MP_EXT)
        payload += 1; /* the ext type byte */
take:
    if ((size_t)(r->end - r->p) < payload)
        return -1;
    t->s = (const char *)r->p;
    t->len = (uint32_t)payload;
    r->p += payload;
    return 0;
}

static const char *kind_text(mp_kind_t k)
{
    switch (k) {
    case MP_NIL:
        return "nil";
    case MP_BOOL:
        return "a boolean";
    case MP_INT:
    case MP_UINT:
        return "an integer";
    case MP_FLOAT:
        return "a float";
    case MP_STR:
        return "a string";
    case MP_BIN:
        return "binary data";
    case MP_ARRAY:
        return "an array";
    case MP_MAP:
        return "a map";
    case MP_EXT:
        return "an extension type";
    }
    return "?";
}

static int mp_fail(int rc, sw_event_err_t *err, size_t off)
{
    if (rc == -1)
        return sw_event_fail(err, SW_REASON_TRUNCATED, -1,
                             "payload ends inside a value at byte %zu", off);
    return sw_event_fail(err, SW_REASON_UNDECODABLE, -1,
                         "invalid msgpack byte 0xc1 at byte %zu", off);
}

/* Skips one complete value (containers included) of at most `depth`
 * levels. Returns 0, or -1 when the bytes end or are not msgpack. */
static int mp_skip(mp_reader_t *r, int depth)
{
    mp_tok_t t;
    if (depth <= 0 || mp_next(r, &t) != 0)
        return -1;
    if (t.kind != MP_ARRAY && t.kind != MP_MAP)
        return 0;
    uint64_t n = (uint64_t)t.v.n * (t.kind == MP_MAP ? 2 : 1);
    if (n > (uint64_t)(r->end - r->p))
        return -1; /* each element takes at least a byte */
    for (uint64_t i = 0; i < n; i++)
        if (mp_skip(r, depth - 1) != 0)
            return -1;
    return 0;
}

static int decode_msgpack(const void *buf, size_t len, int64_t now_ms,
                          sw_event_t *ev, sw_event_err_t *err, int stream,
                          size_t *consumed);

int sw_event_decode_msgpack_stream(const void *buf, size_t len, int64_t now_ms,
                                   sw_event_t *ev, sw_event_err_t *err,
                                   size_t *consumed)
{
    int rc = decode_msgpack(buf, len, now_ms, ev, err, 1, consumed);
    if (rc != 0) {
        /* a well-formed but invalid event can be stepped over */
        mp_reader_t r = {(const unsigned char *)buf,
                         (const unsigned char *)buf + len};
        *consumed = mp_skip(&r, 16) == 0
                        ? (size_t)(r.p - (const unsigned char *)buf)
                        : 0;
    }
    return rc;
}

int sw_event_decode_msgpack(const void *buf, size_t len, int64_t now_ms,
                            sw_event_t *ev, sw_event_err_t *err)
{
    return decode_msgpack(buf, len, now_ms, ev, err, 0, NULL);
}

static int decode_msgpack(const void *buf, size_t len, int64_t now_ms,
                          sw_event_t *ev, sw_event_err_t *err, int stream,
                          size_t *consumed)
{
    mp_reader_t r = {(const unsigned char *)buf,
                     (const unsigned char *)buf + len};
    mp_tok_t t;
    int rc;
    sw_event_reset(ev);
    if (len == 0)
        return sw_event_fail(err, SW_REASON_UNDECODABLE, -1, "empty payload");
    if ((rc = mp_next(&r, &t)) != 0)
        return mp_fail(rc, err, 0);
    if (t.kind != MP_MAP)
        return sw_event_fail(err, SW_REASON_NOT_A_MAP, -1,
                             "payload is %s, not a map", kind_text(t.kind));
    if (t.v.n > SW_EVENT_MAX_ENTRIES)
        return sw_event_fail(err, SW_REASON_TOO_MANY_FIELDS, -1,
                             "map has %u entries (accepted: at most %d)", t.v.n,
                             SW_EVENT_MAX_ENTRIES);
    uint32_t n = t.v.n;
    for (uint32_t i = 0; i < n; i++) {
        size_t off = (size_t)(r.p - (const unsigned char *)buf);
        if ((rc = mp_next(&r, &t)) != 0)
            return mp_fail(rc, err, off);
        if (t.kind != MP_STR) {
            if (t.kind == MP_ARRAY || t.kind == MP_MAP)
                return sw_event_fail(err, SW_REASON_NESTED, -1, "a key is %s",
                                     kind_text(t.kind));
            return sw_event_fail(err, SW_REASON_WRONG_TYPE, -1,
                                 "a key is %s, not a string",
                                 kind_text(t.kind));
        }
        int f = sw_field_lookup(t.s, t.len);
        if (f < 0) {
            if (!sw_utf8_valid(t.s, t.len))
                return sw_event_fail(err, SW_REASON_BAD_UTF8, -1,
                                     "a key is not valid UTF-8");
            return sw_event_fail(err, SW_REASON_UNKNOWN_FIELD, -1,
                                 "unknown field \"%.*s\" (accepted: id, src, "
                                 "section, ts, type, count, nat, bcp, lat, "
                                 "lon, confidence)",
                                 (int)(t.len > 32 ? 32 : t.len), t.s);
        }
        off = (size_t)(r.p - (const unsigned char *)buf);
        if ((rc = mp_next(&r, &t)) != 0)
            return mp_fail(rc, err, off);
        sw_field_t fld = (sw_field_t)f;
        switch (t.kind) {
        case MP_STR:
            rc = sw_event_set_str(ev, fld, t.s, t.len, 0, err);
            break;
        case MP_UINT:
            rc = sw_event_set_uint(ev, fld, t.v.u, err);
            break;
        case MP_INT:
            rc = sw_event_set_int(ev, fld, t.v.i, err);
            break;
        case MP_FLOAT:
            rc = sw_event_set_double(ev, fld, t.v.d, err);
            break;
        case MP_NIL:
            rc = sw_event_set_null(ev, fld, err);
            break;
        case MP_ARRAY:
        case MP_MAP:
            return sw_event_fail(err, SW_REASON_NESTED, f,
                                 "is %s (accepted: %s)", kind_text(t.kind),
                                 expected_type(fld));
        default:
            rc = sw_event_set_wrong_type(ev, fld, kind_text(t.kind), err);
            break;
        }
        if (rc)
            return -1;
    }
    if (stream)
        *consumed = (size_t)(r.p - (const unsigned char *)buf);
    else if (r.p != r.end)
        return sw_event_fail(err, SW_REASON_TRAILING_BYTES, -1,
                             "%zu byte(s) after the event map",
                             (size_t)(r.end - r.p));
    return sw_event_finish(ev, now_ms, err);
}

/* ------------------------------------------------------ msgpack writing */

typedef struct {
    char *buf;
    size_t cap, len;
    int overflow;
} fixed_buf_t;

static int fixed_write(void *data, const char *bytes, size_t n)
{
    fixed_buf_t *fb = data;
    if (fb->cap - fb->len < n) {
        fb->overflow = 1;
        return -1;
    }
    memcpy(fb->buf + fb->len, bytes, n);
    fb->len += n;
    return 0;
}

static void pack_key(msgpack_packer *pk, sw_field_t f)
{
    const char *k = field_names[f];
    size_t n = strlen(k);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, k, n);
}

static void pack_text(msgpack_packer *pk, sw_field_t f, const char *s, size_t n)
{
    pack_key(pk, f);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

size_t sw_event_encode_msgpack(const sw_event_t *ev, void *buf, size_t cap)
{
    fixed_buf_t fb = {buf, cap, 0, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixed_write);
    int has_nat = SW_EV_HAS(ev, SW_F_NAT);
    int has_bcp = SW_EV_HAS(ev, SW_F_BCP);
    int has_pos = SW_EV_HAS(ev, SW_F_LAT) && SW_EV_HAS(ev, SW_F_LON);
    int has_conf = SW_EV_HAS(ev, SW_F_CONFIDENCE);
    msgpack_pack_map(&pk, 6 + (size_t)has_nat + (size_t)has_bcp +
                              2 * (size_t)has_pos + (size_t)has_conf);
    pack_text(&pk, SW_F_ID, ev->id, ev->id_len);
    pack_text(&pk, SW_F_SRC, ev->src, 2);
    pack_text(&pk, SW_F_SECTION, ev->section, ev->section_len);
    pack_key(&pk, SW_F_TS);
    msgpack_pack_int64(&pk, ev->ts_ms);
    const char *type = sw_event_type_name(ev->type);
    pack_text(&pk, SW_F_TYPE, type, strlen(type));
    pack_key(&pk, SW_F_COUNT);
    msgpack_pack_uint32(&pk, ev->count);
    if (has_nat)
        pack_text(&pk, SW_F_NAT, ev->nat, strlen(ev->nat));
    if (has_bcp)
        pack_text(&pk, SW_F_BCP, ev->bcp, ev->bcp_len);
    if (has_pos) {
        pack_key(&pk, SW_F_LAT);
        msgpack_pack_double(&pk, ev->lat);
        pack_key(&pk, SW_F_LON);
        msgpack_pack_double(&pk, ev->lon);
    }
    if (has_conf) {
        pack_key(&pk, SW_F_CONFIDENCE);
        msgpack_pack_double(&pk, ev->confidence);
    }
    return fb.overflow ? 0 : fb.len;
}
