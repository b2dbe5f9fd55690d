/* sw_alert_wire: alert JSON (yajl) -> msgpack -> alert. */
#include "sw_alert_wire.h"
#include "sw_detector.h"
#include "sw_event.h"
#include "sw_time.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

enum {
    K_SEQ,
    K_PREV,
    K_ALERT_ID,
    K_STATE,
    K_SECTION,
    K_TYPE,
    K_DETECTOR,
    K_LEVEL,
    K_WSTART,
    K_WEND,
    K_OBSERVED,
    K_EXPECTED,
    K_SCORE,
    K_THRESHOLD,
    K_RAISED_AT,
    K_RETRACTED,
    K_LOGGED_AT,
    K_ACKED_BY,
    K_ACKED_AT,
    K_ACK_NOTE,
    K__COUNT
};

static const char *const key_names[K__COUNT] = {
    "seq",       "prev",      "alert_id", "state",        "section",
    "type",      "detector",  "level",    "window_start", "window_end",
    "observed",  "expected",  "score",    "threshold",    "raised_at",
    "retracted", "logged_at", "acked_by", "acked_at",     "ack_note"};

/* The keys every alert has (the rest are optional). */
static int required(int k)
{
    return k != K_SEQ && k != K_PREV && k != K_TYPE && k != K_RETRACTED &&
           k != K_LOGGED_AT && k != K_ACKED_BY && k != K_ACKED_AT &&
           k != K_ACK_NOTE;
}

static int key_lookup(const char *s, size_t len)
{
    for (int k = 0; k < K__COUNT; k++)
        if (strlen(key_names[k]) == len && memcmp(key_names[k], s, len) == 0)
            return k;
    return -1;
}

static int name_index(const char *const *names, int n, const char *s,
                      size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return i;
    return -1;
}

static const char *const states[] = {"raised", "updated", "resolved"};
static const char *const levels[] = {"low", "medium", "high", "critical"};

/* 1 when s[0..len) is printable ASCII without '"' and '\\': an alert id
 * that sw_alert_to_json can write as it is (the engine's are letters,
 * digits and ":/_-"). Anything else would come out as broken JSON, or
 * as a line break in the web view's event stream. */
static int id_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

/* One string-valued field into w. Returns 0 or -1. */
static int set_string(sw_wire_alert_t *w, int k, const char *s, size_t len)
{
    sw_alert_t *a = &w->a;
    int i;
    switch (k) {
    case K_ALERT_ID:
        if (len == 0 || len >= sizeof(a->alert_id) || !id_text(s, len))
            return -1;
        memcpy(a->alert_id, s, len);
        a->alert_id[len] = '\0';
        return 0;
    case K_SECTION:
        if (!sw_section_valid(s, len))
            return -1;
        memcpy(a->section, s, len);
        a->section[len] = '\0';
        return 0;
    case K_STATE:
        if ((i = name_index(states, 3, s, len)) < 0)
            return -1;
        a->state = (sw_alert_state_t)i;
        return 0;
    case K_LEVEL:
        if ((i = name_index(levels, 4, s, len)) < 0)
            return -1;
        a->level = (sw_level_t)i;
        return 0;
    case K_DETECTOR:
        if ((i = sw_detector_lookup(s, len)) < 0)
            return -1;
        a->detector = (sw_detector_kind_t)i;
        return 0;
    case K_TYPE:
        if ((i = sw_event_type_lookup(s, len)) < 0)
            return -1;
        a->type = i;
        return 0;
    case K_ACKED_BY:
        /* UTF-8, as ctl writes them: the JSON of the alert must be */
        if (len == 0 || len > SW_ACK_BY_MAX || memchr(s, 0, len) ||
            !sw_utf8_valid(s, len))
            return -1;
        memcpy(w->acked_by, s, len);
        w->acked_by[len] = '\0';
        return 0;
    case K_ACK_NOTE:
        if (len > SW_ACK_NOTE_MAX || memchr(s, 0, len) ||
            !sw_utf8_valid(s, len))
            return -1;
        memcpy(w->ack_note, s, len);
        w->ack_note[len] = '\0';
        return 0;
    case K_WSTART:
    case K_WEND:
    case K_ACKED_AT:
    case K_RAISED_AT: {
        int64_t ms;
        if (sw_time_parse_rfc3339(s, len, &ms))
            return -1;
        if (k == K_ACKED_AT) {
            if (ms <= 0)
                return -1;
            w->acked_at = ms;
        } else if (k == K_WSTART)
            a->window_start = ms;
        else if (k == K_WEND)
            a->window_end = ms;
        else
            a->raised_at = ms;
        return 0;
    }
    default:
        return -1;
    }
}

/* One numeric field into w (times as ms). Returns 0 or -1. */
static int set_number(sw_wire_alert_t *w, int k, double d, int is_int,
                      int64_t i)
{
    sw_alert_t *a = &w->a;
    switch (k) {
    case K_OBSERVED:
        a->observed = d;
        return 0;
    case K_EXPECTED:
        a->expected = d;
        return 0;
    case K_SCORE:
        a->score = d;
        return 0;
    case K_THRESHOLD:
        a->threshold = d;
        return 0;
    default:
        break;
    }
    if (!is_int)
        return -1;
    switch (k) {
    case K_SEQ:
        if (i < 1)
            return -1;
        w->seq = (uint64_t)i;
        return 0;
    case K_PREV:
        if (i < 0)
            return -1;
        w->prev = (uint64_t)i;
        return 0;
    case K_WSTART:
        a->window_start = i;
        return 0;
    case K_WEND:
        a->window_end = i;
        return 0;
    case K_RAISED_AT:
        a->raised_at = i;
        return 0;
    case K_LOGGED_AT:
        if (i < 0)
            return -1;
        w->logged_at = i;
        return 0;
    case K_ACKED_AT:
        if (i <= 0)
            return -1;
        w->acked_at = i;
        return 0;
    default:
        return -1;
    }
}

static void wire_init(sw_wire_alert_t *w)
{
    memset(w, 0, sizeof(*w));
    w->a.type = -1;
}

static int missing(unsigned seen, char *errstr, size_t errstr_size)
{
    /* an acknowledgement has who and when (the note may be left out) */
    unsigned ack = 1u << K_ACKED_BY | 1u << K_ACKED_AT | 1u << K_ACK_NOTE;
    for (int k = 0; k < K__COUNT; k++)
        if (!(seen & (1u << k)) &&
            (required(k) ||
             ((seen & ack) && (k == K_ACKED_BY || k == K_ACKED_AT)))) {
            snprintf(errstr, errstr_size, "missing field '%s'", key_names[k]);
            return -1;
        }
    return 0;
}

/* A number yajl does not give as a double because strtod underflowed
 * (below DBL_MIN, such as the 3.5e-310 that %.6g writes for a subnormal
 * score): 1 with its value in *d; 0 for anything else. */
static int json_underflow(yajl_val v, double *d)
{
    char *end;
    errno = 0;
    double x = strtod(v->u.number.r, &end);
    if (end == v->u.number.r || *end != '\0' || errno != ERANGE ||
        fabs(x) >= DBL_MIN)
        return 0;
    *d = x;
    return 1;
}

/* The longest log entry JSON: an alert, and an acknowledgement whose
 * operator and note are all characters JSON writes as \u00XX. */
#define JSON_IN_MAX                                                            \
    (SW_ALERT_JSON_MAX + 6 * (SW_ACK_BY_MAX + SW_ACK_NOTE_MAX) + 128)

int sw_alert_from_json(const char *json, size_t len, sw_wire_alert_t *w,
                       char *errstr, size_t errstr_size)
{
    char buf[JSON_IN_MAX], perr[128];
    wire_init(w);
    if (len >= sizeof(buf)) {
        snprintf(errstr, errstr_size, "alert JSON longer than %zu bytes",
                 sizeof(buf) - 1);
        return -1;
    }
    memcpy(buf, json, len);
    buf[len] = '\0';
    yajl_val root = yajl_tree_parse(buf, perr, sizeof(perr));
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        snprintf(errstr, errstr_size, "not a JSON object%s%s", root ? "" : ": ",
                 root ? "" : perr);
        yajl_tree_free(root);
        return -1;
    }
    unsigned seen = 0;
    int rc = 0;
    double d;
    for (size_t i = 0; i < root->u.object.len && rc == 0; i++) {
        const char *name = root->u.object.keys[i];
        yajl_val v = root->u.object.values[i];
        int k = key_lookup(name, strlen(name));
        if (k < 0)
            continue;
        seen |= 1u << k;
        if (YAJL_IS_STRING(v))
            rc = set_string(w, k, v->u.string, strlen(v->u.string));
        else if (YAJL_IS_INTEGER(v))
            rc = set_number(w, k, (double)v->u.number.i, 1, v->u.number.i);
        else if (YAJL_IS_DOUBLE(v))
            rc = set_number(w, k, v->u.number.d, 0, 0);
        else if (YAJL_IS_NUMBER(v) && json_underflow(v, &d))
            rc = set_number(w, k, d, 0, 0);
        else if (k == K_RETRACTED && (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)))
            w->a.retracted = YAJL_IS_TRUE(v);
        else
            rc = -1;
        if (rc)
            snprintf(errstr, errstr_size, "field '%s': bad value", name);
    }
    yajl_tree_free(root);
    if (rc)
        return -1;
    return missing(seen, errstr, errstr_size);
}

void sw_mp_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

int sw_mp_str_eq(const msgpack_object *o, const char *s)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

const msgpack_object *sw_mp_map_get(const msgpack_object *o, const char *k)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (sw_mp_str_eq(&o->via.map.ptr[i].key, k))
            return &o->via.map.ptr[i].val;
    return NULL;
}

/* 1 when no array or map of the first object in p[0..len) claims more
 * elements than there are bytes left for them, each taking one at least.
 * Reads only the headers; a truncated or malformed object passes
 * (msgpack-c refuses it, having allocated no more than len allows). */
static int mp_plausible(const unsigned char *p, size_t len)
{
    size_t pos = 0;
    uint64_t need = 1; /* objects still to read, a byte each at least */
    while (need > 0 && pos < len) {
        unsigned b = p[pos++];
        need--;
        uint64_t n = 0; /* payload bytes, or elements of a container */
        size_t lb = 0;  /* bytes of the big-endian length or count */
        int per = 0;    /* a container: objects per element (map: 2) */
        if (b <= 0x7f || b >= 0xe0) /* fixint */
            continue;
        if (b <= 0x8f) { /* fixmap */
            n = b & 0x0f;
            per = 2;
        } else if (b <= 0x9f) { /* fixarray */
            n = b & 0x0f;
            per = 1;
        } else if (b <= 0xbf) { /* fixstr */
            n = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: /* bin8, str8 */
            case 0xd9:
                lb = 1;
                break;
            case 0xc5:
            case 0xda:
                lb = 2;
                break;
            case 0xc6:
            case 0xdb:
                lb = 4;
                break;
            case 0xc7: /* ext8: length, type byte, data */
                lb = 1;
                n = 1;
                break;
            case 0xc8:
                lb = 2;
                n = 1;
                break;
            case 0xc9:
                lb = 4;
                n = 1;
                break;
            case 0xcc: /* uint8, int8 */
            case 0xd0:
                n = 1;
                break;
            case 0xcd:
            case 0xd1:
                n = 2;
                break;
            case 0xca: /* float32 */
            case 0xce:
            case 0xd2:
                n = 4;
                break;
            case 0xcb: /* float64 */
            case 0xcf:
            case 0xd3:
                n = 8;
                break;
            case 0xd4: /* fixext 1, 2, 4, 8, 16: type byte, data */
            case 0xd5:
            case 0xd6:
            case 0xd7:
            case 0xd8:
                n = 1 + (1u << (b - 0xd4));
                break;
            case 0xdc: /* array16, array32, map16, map32 */
            case 0xdd:
            case 0xde:
            case 0xdf:
                lb = b & 1 ? 4 : 2;
                per = b >= 0xde ? 2 : 1;
                break;
            default: /* nil, false, true; 0xc1 is msgpack-c's to refuse */
                break;
            }
        }
        if (lb > 0) {
            if (len - pos < lb)
                return 1;
            uint64_t v = 0;
            for (size_t i = 0; i < lb; i++)
                v = v << 8 | p[pos + i];
            pos += lb;
            n += v;
        }
        if (per > 0) {
            if (need + (uint64_t)per * n > len - pos)
                return 0;
            need += (uint64_t)per * n;
        } else {
            if (n > len - pos)
                return 1;
            pos += (size_t)n;
        }
    }
    return 1;
}

msgpack_unpack_return sw_mp_unpack_next(msgpack_unpacked *u, const char *buf,
                                        size_t len, size_t *off)
{
    if (*off > len ||
        !mp_plausible((const unsigned char *)buf + *off, len - *off))
        return MSGPACK_UNPACK_PARSE_ERROR;
    return msgpack_unpack_next(u, buf, len, off);
}

static void pack_key(msgpack_packer *pk, int k)
{
    sw_mp_pack_cstr(pk, key_names[k]);
}

int sw_alert_pack(msgpack_packer *pk, const sw_wire_alert_t *w)
{
    const sw_alert_t *a = &w->a;
    int acked = w->acked_at > 0;
    size_t n = 15 + (a->type >= 0) + (a->retracted != 0) + 3 * (size_t)acked;
    /* msgpack-c's packer ignores write errors after the first; the
     * sbuffer's write callback is the only failure (out of memory) */
    int rc = msgpack_pack_map(pk, n);
    pack_key(pk, K_SEQ);
    msgpack_pack_uint64(pk, w->seq);
    pack_key(pk, K_PREV);
    msgpack_pack_uint64(pk, w->prev);
    pack_key(pk, K_ALERT_ID);
    sw_mp_pack_cstr(pk, a->alert_id);
    pack_key(pk, K_STATE);
    sw_mp_pack_cstr(pk, sw_alert_state_name(a->state));
    pack_key(pk, K_SECTION);
    sw_mp_pack_cstr(pk, a->section);
    if (a->type >= 0) {
        pack_key(pk, K_TYPE);
        sw_mp_pack_cstr(pk, sw_event_type_name((sw_event_type_t)a->type));
    }
    pack_key(pk, K_DETECTOR);
    sw_mp_pack_cstr(pk, sw_detector_name(a->detector));
    pack_key(pk, K_LEVEL);
    sw_mp_pack_cstr(pk, sw_level_name(a->level));
    pack_key(pk, K_WSTART);
    msgpack_pack_int64(pk, a->window_start);
    pack_key(pk, K_WEND);
    msgpack_pack_int64(pk, a->window_end);
    pack_key(pk, K_OBSERVED);
    msgpack_pack_double(pk, a->observed);
    pack_key(pk, K_EXPECTED);
    msgpack_pack_double(pk, a->expected);
    pack_key(pk, K_SCORE);
    msgpack_pack_double(pk, a->score);
    pack_key(pk, K_THRESHOLD);
    msgpack_pack_double(pk, a->threshold);
    pack_key(pk, K_RAISED_AT);
    msgpack_pack_int64(pk, a->raised_at);
    if (a->retracted) {
        pack_key(pk, K_RETRACTED);
        msgpack_pack_true(pk);
    }
    if (acked) {
        pack_key(pk, K_ACKED_BY);
        sw_mp_pack_cstr(pk, w->acked_by);
        pack_key(pk, K_ACKED_AT);
        msgpack_pack_int64(pk, w->acked_at);
        pack_key(pk, K_ACK_NOTE);
        sw_mp_pack_cstr(pk, w->ack_note);
    }
    pack_key(pk, K_LOGGED_AT);
    rc |= msgpack_pack_int64(pk, w->logged_at);
    return rc ? -1 : 0;
}

int sw_alert_unpack_obj(const msgpack_object *o, sw_wire_alert_t *w,
                        char *errstr, size_t errstr_size)
{
    wire_init(w);
    if (o->type != MSGPACK_OBJECT_MAP) {
        snprintf(errstr, errstr_size, "not a msgpack map");
        return -1;
    }
    unsigned seen = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *ko = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        if (ko->type != MSGPACK_OBJECT_STR)
            continue;
        int k = key_lookup(ko->via.str.ptr, ko->via.str.size);
        if (k < 0)
            continue;
        seen |= 1u << k;
        int rc;
        switch (v->type) {
        case MSGPACK_OBJECT_STR:
            rc = set_string(w, k, v->via.str.ptr, v->via.str.size);
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            rc = v->via.u64 > INT64_MAX ? -1
                                        : set_number(w, k, (double)v->via.u64,
                                                     1, (int64_t)v->via.u64);
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            rc = set_number(w, k, (double)v->via.i64, 1, v->via.i64);
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            rc = set_number(w, k, v->via.f64, 0, 0);
            break;
        case MSGPACK_OBJECT_BOOLEAN:
            rc = k == K_RETRACTED ? 0 : -1;
            w->a.retracted = v->via.boolean;
            break;
        default:
            rc = -1;
        }
        if (rc) {
            snprintf(errstr, errstr_size, "field '%s': bad value",
                     key_names[k]);
            return -1;
        }
    }
    if (!(seen & (1u << K_SEQ))) {
        snprintf(errstr, errstr_size, "missing field 'seq'");
        return -1;
    }
    return missing(seen, errstr, errstr_size);
}

int sw_alert_unpack(const char *buf, size_t len, sw_wire_alert_t *w,
                    char *errstr, size_t errstr_size)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc;
    if (sw_mp_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS) {
        snprintf(errstr, errstr_size, "not msgpack");
        rc = -1;
    } else if (off != len) {
        snprintf(errstr, errstr_size, "%zu bytes after the msgpack map",
                 len - off);
        rc = -1;
    } else {
        rc = sw_alert_unpack_obj(&u.data, w, errstr, errstr_size);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

size_t sw_alert_topic(const char *section, char *buf)
{
    int n = snprintf(buf, SW_TOPIC_MAX, "alert.%s.", section);
    return n < 0 ? 0 : (size_t)n;
}

size_t sw_json_str(const char *s, char *buf, size_t cap)
{
    size_t o = 0;
    if (cap < 3)
        return 0;
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        size_t el = 0;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            el = 2;
        } else if (*p < 0x20) {
            el = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
        } else {
            esc[0] = (char)*p;
            el = 1;
        }
        if (o + el + 2 > cap)
            return 0;
        memcpy(buf + o, esc, el);
        o += el;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return o;
}

size_t sw_wire_alert_to_json(const sw_wire_alert_t *w, char *buf, size_t cap)
{
    size_t n = sw_alert_to_json(&w->a, w->seq, buf, cap);
    if (n == 0 || w->acked_at <= 0)
        return n;
    char at[SW_TIME_STR_MAX];
    n--; /* over the closing brace */
    int k = snprintf(buf + n, cap - n, ",\"acked_by\":");
    if (k < 0 || (size_t)k >= cap - n)
        return 0;
    n += (size_t)k;
    size_t q = sw_json_str(w->acked_by, buf + n, cap - n);
    if (q == 0)
        return 0;
    n += q;
    k = snprintf(buf + n, cap - n, ",\"acked_at\":\"%s\",\"ack_note\":",
                 sw_time_format(w->acked_at, at));
    if (k < 0 || (size_t)k >= cap - n)
        return 0;
    n += (size_t)k;
    q = sw_json_str(w->ack_note, buf + n, cap - n);
    if (q == 0 || n + q + 2 > cap)
        return 0;
    n += q;
    buf[n++] = '}';
    buf[n] = '\0';
    return n;
}
