/*
 * sw_alert_wire: an alert as it travels from the Redis alert log to
 * subscribers (docs/alerts.md): the JSON of a log entry in, a msgpack map
 * out on the hub's side; the msgpack map in on the subscriber's side.
 * Every decoder checks every field: input that is not a well-formed alert
 * is refused with a reason, never half-read.
 */
#ifndef SW_ALERT_WIRE_H
#define SW_ALERT_WIRE_H

#include "sw_alert.h"
#include "sw_engine.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* The longest operator name and acknowledgement note (bytes). */
#define SW_ACK_BY_MAX 64
#define SW_ACK_NOTE_MAX 500

typedef struct sw_wire_alert {
    sw_alert_t a;      /* tseq and at are not carried (0) */
    uint64_t seq;      /* global sequence number, >= 1 */
    uint64_t prev;     /* seq of the section's previous alert, or 0 */
    int64_t logged_at; /* ms: when the log got it (0: unknown) */
    /* an acknowledgement (`surgewatch ctl ack`): acked_at > 0 */
    int64_t acked_at; /* ms */
    char acked_by[SW_ACK_BY_MAX + 1];
    char ack_note[SW_ACK_NOTE_MAX + 1];
} sw_wire_alert_t;

/* Writes w as the JSON line of `subscribe` and `backtest`
 * (sw_alert_to_json with seq), plus acked_by, acked_at (RFC 3339) and
 * ack_note when acknowledged. Returns the length, or 0 when cap is too
 * small. */
#define SW_WIRE_JSON_MAX (SW_ALERT_JSON_MAX + 6 * SW_ACK_NOTE_MAX + 512)
size_t sw_wire_alert_to_json(const sw_wire_alert_t *w, char *buf, size_t cap);

/* Parses the JSON of a log entry (sw_alert_to_json's output, with or
 * without "seq"; a "seq" there sets w->seq). Returns 0, or -1 with errstr
 * saying which field is missing or wrong. */
int sw_alert_from_json(const char *json, size_t len, sw_wire_alert_t *w,
                       char *errstr, size_t errstr_size);

/* Appends the msgpack map of docs/alerts.md to pk. Returns 0, or -1 when
 * msgpack's buffer could not grow. */
int sw_alert_pack(msgpack_packer *pk, const sw_wire_alert_t *w);

/* Reads a msgpack alert map (unknown keys are skipped). Returns 0, or -1
 * with errstr set. */
int sw_alert_unpack_obj(const msgpack_object *o, sw_wire_alert_t *w,
                        char *errstr, size_t errstr_size);

/* The same from bytes. */
int sw_alert_unpack(const char *buf, size_t len, sw_wire_alert_t *w,
                    char *errstr, size_t errstr_size);

/* s as a JSON string (quotes included) at buf, NUL-terminated; returns
 * the length, or 0 when it does not fit in cap. */
size_t sw_json_str(const char *s, char *buf, size_t cap);

/* Small msgpack helpers shared by the hub and the subscriber. */
/* Packs a NUL-terminated string as a msgpack str. */
void sw_mp_pack_cstr(msgpack_packer *pk, const char *s);
/* 1 when o is the msgpack str equal to s. */
int sw_mp_str_eq(const msgpack_object *o, const char *s);
/* The value under the str key k of the map o; NULL when o is not a map or
 * has no such key. */
const msgpack_object *sw_mp_map_get(const msgpack_object *o, const char *k);
/* msgpack_unpack_next() for bytes from the network: refuses, as
 * MSGPACK_UNPACK_PARSE_ERROR and without calling it, an object with an
 * array or map that claims more elements than the bytes left could hold
 * (msgpack-c allocates a container's elements before it reads them: a
 * 5-byte map32 header would have it allocate gigabytes). Otherwise returns
 * what msgpack_unpack_next returns. */
msgpack_unpack_return sw_mp_unpack_next(msgpack_unpacked *u, const char *buf,
                                        size_t len, size_t *off);

/* The topic of an alert: "alert.<section>." (NUL-terminated). Returns its
 * length. buf holds at least SW_TOPIC_MAX bytes. */
#define SW_TOPIC_MAX (SW_SECTION_MAX + 8)
size_t sw_alert_topic(const char *section, char *buf);

#endif
