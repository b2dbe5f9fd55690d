/*
 * sw_event: the border-detection event, its validation rules, and its msgpack
 * encoding (the contract on the Kafka topic, see docs/events.md).
 *
 * An event is a fixed-size value: strings are copied into the struct, so
 * decoding allocates nothing and the caller owns everything. Every decoder
 * (msgpack here, JSON and CSV in sw_event_text.h) feeds fields through the
 * same sw_event_set_*() functions and finishes with sw_event_finish(), so the
 * rules live in one place.
 */
#ifndef SW_EVENT_H
#define SW_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* Limits of the contract (bytes, without NUL). */
#define SW_EVENT_ID_MAX 64
#define SW_SECTION_MAX 40
#define SW_SUBSECTION_MAX 24
#define SW_BCP_MAX 64
#define SW_EVENT_COUNT_MAX 10000
/* No event time before 2000-01-01T00:00:00Z ... */
#define SW_EVENT_TS_MIN INT64_C(946684800000)
/* ... nor more than this after the validating clock. */
#define SW_EVENT_TS_FUTURE_MAX (INT64_C(24) * 3600 * 1000)
/* An encoded event never exceeds this many bytes. */
#define SW_EVENT_MSGPACK_MAX 512
/* A msgpack payload with more entries than this is rejected unread. */
#define SW_EVENT_MAX_ENTRIES 32

#define SW_EVENT_TYPE_MAP(X)                                                   \
    X(IRREGULAR_CROSSING, "irregular_crossing")                                \
    X(BCP_CLANDESTINE, "bcp_clandestine")                                      \
    X(DETERRED, "deterred")                                                    \
    X(FACILITATOR, "facilitator")                                              \
    X(REFUSAL, "refusal")                                                      \
    X(DOCUMENT_FRAUD, "document_fraud")                                        \
    X(ILLEGAL_STAY, "illegal_stay")

typedef enum {
#define SW__TYPE_ENUM(name, text) SW_TYPE_##name,
    SW_EVENT_TYPE_MAP(SW__TYPE_ENUM)
#undef SW__TYPE_ENUM
        SW_TYPE__COUNT
} sw_event_type_t;

/* The fields, in encoding order. */
#define SW_FIELD_MAP(X)                                                        \
    X(ID, "id")                                                                \
    X(SRC, "src")                                                              \
    X(SECTION, "section")                                                      \
    X(TS, "ts")                                                                \
    X(TYPE, "type")                                                            \
    X(COUNT, "count")                                                          \
    X(NAT, "nat")                                                              \
    X(BCP, "bcp")                                                              \
    X(LAT, "lat")                                                              \
    X(LON, "lon")                                                              \
    X(CONFIDENCE, "confidence")

typedef enum {
#define SW__FIELD_ENUM(name, text) SW_F_##name,
    SW_FIELD_MAP(SW__FIELD_ENUM)
#undef SW__FIELD_ENUM
        SW_F__COUNT
} sw_field_t;

#define SW_FIELDS_REQUIRED                                                     \
    ((1u << SW_F_ID) | (1u << SW_F_SRC) | (1u << SW_F_SECTION) |               \
     (1u << SW_F_TS) | (1u << SW_F_TYPE) | (1u << SW_F_COUNT))

/* Why an event was rejected: the machine-readable reason (the "reason"
 * header on the dead-letter topic) and a short description. */
#define SW_REASON_MAP(X)                                                       \
    X(UNDECODABLE, "undecodable", "not a msgpack map / JSON object / CSV row") \
    X(TRUNCATED, "truncated", "the payload ends inside a value")               \
    X(TRAILING_BYTES, "trailing_bytes", "bytes after the event")               \
    X(NOT_A_MAP, "not_a_map", "the event is not a map/object")                 \
    X(TOO_MANY_FIELDS, "too_many_fields",                                      \
      "more entries than the contract has")                                    \
    X(NESTED, "nested", "a value is an array or a map")                        \
    X(MISSING_FIELD, "missing_field", "a required field is absent")            \
    X(UNKNOWN_FIELD, "unknown_field", "a field the contract does not define")  \
    X(DUPLICATE_FIELD, "duplicate_field", "a field appears twice")             \
    X(WRONG_TYPE, "wrong_type", "a field has the wrong type")                  \
    X(TOO_LONG, "too_long", "a string is longer than its limit")               \
    X(BAD_UTF8, "bad_utf8", "a string is not valid UTF-8")                     \
    X(BAD_ID, "bad_id", "the id is empty or holds control characters")         \
    X(BAD_SRC, "bad_src", "src is not an ISO 3166-1 alpha-2 code")             \
    X(BAD_SECTION, "bad_section", "the section id does not match the pattern") \
    X(BAD_TS, "bad_ts", "the time is not a valid time")                        \
    X(TS_TOO_OLD, "ts_too_old", "the event time is before 2000-01-01")         \
    X(TS_IN_FUTURE, "ts_in_future", "the event time is over a day ahead")      \
    X(UNKNOWN_TYPE, "unknown_type", "the event type is not one of the list")   \
    X(BAD_COUNT, "bad_count", "count is not within 1..10000")                  \
    X(BAD_NAT, "bad_nat", "nat is not an ISO 3166 alpha-2 or alpha-3 code")    \
    X(BAD_BCP, "bad_bcp", "bcp is empty or holds control characters")          \
    X(BAD_POSITION, "bad_position", "lat/lon out of range or only one given")  \
    X(BAD_CONFIDENCE, "bad_confidence", "confidence is not within 0..1")       \
    X(UNKNOWN_SECTION, "unknown_section", "the section is not configured")     \
    X(LATE, "late", "later than the allowed lateness")

typedef enum {
    SW_REASON_NONE = 0,
#define SW__REASON_ENUM(name, text, desc) SW_REASON_##name,
    SW_REASON_MAP(SW__REASON_ENUM)
#undef SW__REASON_ENUM
        SW_REASON__COUNT
} sw_reason_t;

/* A decoded, valid event. Strings are NUL-terminated copies. */
typedef struct sw_event {
    int64_t ts_ms;     /* event time, ms since the epoch, UTC */
    double lat, lon;   /* valid when has & SW_EV_HAS_POS */
    double confidence; /* valid when has & SW_EV_HAS_CONFIDENCE */
    uint32_t count;    /* persons, 1..SW_EVENT_COUNT_MAX */
    sw_event_type_t type;
    uint32_t seen;  /* bit per sw_field_t that has a value */
    uint32_t nulls; /* decoding only: optional fields given as null */
    uint8_t id_len, section_len, bcp_len;
    char id[SW_EVENT_ID_MAX + 1];
    char src[3];
    char section[SW_SECTION_MAX + 1];
    char nat[4]; /* "" when absent */
    char bcp[SW_BCP_MAX + 1];
} sw_event_t;

#define SW_EV_HAS(ev, f) (((ev)->seen >> (f)) & 1u)

/* Details of a rejection. msg is a readable sentence naming the field and
 * what is accepted, for example
 *   "count: 0 is out of range (accepted: 1..10000)". */
typedef struct sw_event_err {
    sw_reason_t reason;
    int field; /* sw_field_t, or -1 when no field is concerned */
    char msg[192];
} sw_event_err_t;

/* Static names and descriptions. Never fail; out-of-range values give "?". */
const char *sw_reason_name(sw_reason_t reason);
const char *sw_reason_desc(sw_reason_t reason);
const char *sw_field_name(sw_field_t field);
const char *sw_event_type_name(sw_event_type_t type);

/* Looks up a field or an event type by name (len bytes, no NUL needed).
 * Returns its enum value, or -1 when there is no such name. */
int sw_field_lookup(const char *name, size_t len);
int sw_event_type_lookup(const char *name, size_t len);

/* --- building an event field by field (used by every decoder) --- */

/* Clears ev for a new decode. */
void sw_event_reset(sw_event_t *ev);

/* Each setter validates one value for field f and stores it. They return 0,
 * or -1 after filling err (reason, field, msg): wrong type for the field,
 * duplicate, out of range, bad pattern. Strings are len bytes, no NUL
 * needed, and are checked for UTF-8. */
int sw_event_set_str(sw_event_t *ev, sw_field_t f, const char *s, size_t len,
                     int ts_text_ok, sw_event_err_t *err);
int sw_event_set_int(sw_event_t *ev, sw_field_t f, int64_t v,
                     sw_event_err_t *err);
int sw_event_set_uint(sw_event_t *ev, sw_field_t f, uint64_t v,
                      sw_event_err_t *err);
int sw_event_set_double(sw_event_t *ev, sw_field_t f, double v,
                        sw_event_err_t *err);
/* An explicit null: allowed for optional fields (same as absent). */
int sw_event_set_null(sw_event_t *ev, sw_field_t f, sw_event_err_t *err);
/* A value of a type no field accepts (bool, binary, ...): always -1. */
int sw_event_set_wrong_type(sw_event_t *ev, sw_field_t f, const char *what,
                            sw_event_err_t *err);

/* Checks the whole event after its last field: required fields present,
 * lat and lon together, ts within [SW_EVENT_TS_MIN, now_ms + 1 day].
 * Returns 0, or -1 with err filled. */
int sw_event_finish(sw_event_t *ev, int64_t now_ms, sw_event_err_t *err);

/* Fills err; msg is formatted from fmt. Returns -1 for tail calls. */
int sw_event_fail(sw_event_err_t *err, sw_reason_t reason, int field,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Checks a section id: "AA-BB" with two ISO 3166-1 alpha-2 codes (XK for
 * Kosovo) in ascending order, optionally "/sub" where sub is 1..24 of
 * [a-z0-9_-]. Returns 1 when valid, 0 when not. */
int sw_section_valid(const char *s, size_t len);

/* Returns 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF), else 0. */
int sw_utf8_valid(const char *s, size_t len);

/* --- msgpack --- */

/* Decodes one msgpack event from buf[0..len): a map of the contract's keys,
 * nothing before or after it. Validates every rule (now_ms is the clock used
 * for the future-time rule). Allocates nothing and never reads outside buf.
 * Returns 0 with *ev filled, or -1 with err filled. */
int sw_event_decode_msgpack(const void *buf, size_t len, int64_t now_ms,
                            sw_event_t *ev, sw_event_err_t *err);

/* Decodes the first event of a stream of concatenated msgpack maps (the
 * msgpack file format of `surgewatch backtest`). On success *consumed is
 * the event's length. On failure it is the length of the rejected value
 * when that value is well-formed msgpack (the caller can go on after it),
 * or 0 when the stream itself is broken (truncated, invalid byte, nested
 * deeper than 16 levels): nothing after it can be trusted. */
int sw_event_decode_msgpack_stream(const void *buf, size_t len, int64_t now_ms,
                                   sw_event_t *ev, sw_event_err_t *err,
                                   size_t *consumed);

/* Encodes a valid event as a msgpack map into buf (cap bytes; at least
 * SW_EVENT_MSGPACK_MAX is always enough). Allocates nothing. Returns the
 * number of bytes written, or 0 if cap was too small. */
size_t sw_event_encode_msgpack(const sw_event_t *ev, void *buf, size_t cap);

#endif
