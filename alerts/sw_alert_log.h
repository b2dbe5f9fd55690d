/*
 * sw_alert_log: the alert log in Redis. Each alert transition is written
 * by one Lua script that is idempotent on the transition (alert id, state,
 * window end, retraction, and the engine's per-detector transition
 * counter sw_alert_t.tseq, which tells apart two updates of one window
 * while late data is reconciled): the first write assigns the next number of a
 * gap-free global sequence and appends the alert to a stream whose entry id is
 * that number; a repeated write (a worker replaying events after a crash)
 * changes nothing and returns the number given the first time. The same
 * script keeps the hash of active alerts (raised/updated in, resolved
 * out). Writes are pipelined: one round trip per batch, not per alert.
 *
 * Keys, under a prefix (default "sw"): PREFIX:alerts (stream; entry id
 * "<seq>-1", fields alert (JSON), prev (the section's previous seq), t
 * (write time, ms)), PREFIX:alerts:seq (counter), PREFIX:alerts:seen
 * (transition -> seq), PREFIX:alerts:active (alert id -> JSON with seq),
 * PREFIX:alerts:last (section -> seq of its latest alert). docs/alerts.md
 * describes them for the hub and outside readers.
 *
 * An sw_alert_log_t belongs to one thread.
 */
#ifndef SW_ALERT_LOG_H
#define SW_ALERT_LOG_H

#include "sw_alert_wire.h"
#include "sw_engine.h"

#include <hiredis/hiredis.h>

#include <stddef.h>
#include <stdint.h>

typedef struct sw_alert_log sw_alert_log_t;

/* Connects to redis://[[user]:password@]host[:port][/db] (default port
 * 6379, db 0), authenticates when a password is given (AUTH user pass for
 * an ACL user), selects the db and loads the script. timeout_ms bounds
 * the connection and every command. Returns NULL with errstr set (bad URL,
 * unreachable, refused credentials). */
sw_alert_log_t *sw_alert_log_new(const char *url, const char *prefix,
                                 int timeout_ms, char *errstr,
                                 size_t errstr_size);

/* Closes the connection (NULL is fine) and sets *self_p to NULL. */
void sw_alert_log_destroy(sw_alert_log_t **self_p);

/* Writes n transitions in one pipelined round trip. seqs (may be NULL)
 * receives each transition's sequence number, the existing one for a
 * repeat. Returns 0, or SW_ERR_REDIS with errstr set (connection lost,
 * script error); then nothing is known about the batch and the caller
 * writes it again later (the writes are idempotent). */
int sw_alert_log_write(sw_alert_log_t *self, const sw_alert_t *alerts, size_t n,
                       uint64_t *seqs, char *errstr, size_t errstr_size);

/* Transitions written so far that the log already held (replays), which
 * it left unchanged. */
uint64_t sw_alert_log_repeats(const sw_alert_log_t *self);

/* The log's connection, for other reads and writes on the same thread
 * (the live thresholds). Borrowed. */
redisContext *sw_alert_log_redis(sw_alert_log_t *self);

/* Silences (docs/operations.md). Keys: PREFIX:silences (id -> JSON: id,
 * sections, detector, until, reason, created_by, created, and ended /
 * ended_by once over), PREFIX:silences:active (sorted set, id by until),
 * PREFIX:silences:seq, PREFIX:alerts:held (alert id -> "<silence id>
 * <JSON>" of the held alerts).
 *
 * Ends the silences whose time is up and, when expire_id is given, that
 * one now (audited as op with note); then publishes the held alerts no
 * active silence covers any more, as `raised`, each with the next seq.
 * *ended and *published (may be NULL) get the counts. Returns 0,
 * SW_ERR_NOTFOUND (no such silence), SW_ERR_INVAL (it had ended) or
 * SW_ERR_REDIS, with errstr set. */
int sw_alert_log_release(sw_alert_log_t *self, const char *expire_id,
                         const char *op, const char *note, int *ended,
                         int *published, char *errstr, size_t errstr_size);

/* Adds a silence of the sections matching `sections` ('*' any run of
 * characters) for `detector` ("*": every one) until until_ms (Redis
 * clock), audited with `description`. id gets its id ("s12"). Returns 0,
 * SW_ERR_RANGE (until is not in the future) or SW_ERR_REDIS. */
int sw_alert_log_silence_add(sw_alert_log_t *self, const char *sections,
                             const char *detector, int64_t until_ms,
                             const char *reason, const char *op,
                             const char *description, char *id, size_t id_size,
                             char *errstr, size_t errstr_size);

/* Acknowledges an active alert: a new transition (state updated, with
 * acked_by, acked_at, ack_note), published with the next seq (*seq), or
 * logged held when the alert is held (*seq = 0); audited. section gets
 * the alert's section. Returns 0, SW_ERR_NOTFOUND (not an active alert)
 * or SW_ERR_REDIS. */
int sw_alert_log_ack(sw_alert_log_t *self, const char *alert_id, const char *op,
                     const char *note, uint64_t *seq, char *section,
                     size_t section_size, char *errstr, size_t errstr_size);

/* Reading the log (the hub, its web view). An entry id "<ms>-<n>": *ms
 * set; returns the seq of a published entry ("<seq>-1", seq >= 1), or 0
 * for anything else (a transition held back by a silence: "<last seq>-N",
 * docs/alerts.md). */
uint64_t sw_alert_log_id_parse(const char *id, uint64_t *ms);

/* A stream entry [id, [f1, v1, ...]] into w: the alert's JSON, seq from
 * the id, prev and logged_at from the fields "prev" and "t". Returns 0, or
 * -1 with errstr set (not an entry, no alert, an entry held back by a
 * silence). */
int sw_alert_log_entry_decode(const redisReply *e, sw_wire_alert_t *w,
                              char *errstr, size_t errstr_size);

#endif
