/*
 * sw_engine: the detection core. Events and a clock in, alert transitions
 * out; no I/O. Used by the live worker and by `surgewatch backtest`.
 *
 * Windows. Counts are kept per key in fixed-size buckets (bucket_ms, one
 * minute to one day) in a ring per key. A key is a section, and with
 * by_type also a (section, event type) pair. Each input partition (a Kafka
 * partition; backtest uses one) has a watermark: the latest event time seen
 * on it, or, after idle_ms without events, the wall clock minus idle_ms.
 * A bucket closes when the watermark passes its end; every detector of the
 * key's profile then evaluates it and feeds its alert state machine.
 *
 * Lateness. An event older than watermark - lateness_ms is rejected
 * (SW_REASON_LATE). A later one that lands in a closed bucket updates it,
 * and at once (inside the push, so that the transitions do not depend on
 * how the caller batches its input) every closed bucket of its key from
 * that one on is re-evaluated, the state machines are replayed from a
 * snapshot, and the result is reconciled with what was already emitted: alerts
 * the new history holds are raised (or updated; a resolved alert that late data
 * extends is raised again under its id), alerts it no longer holds are resolved
 * with `retracted` set (even ones already resolved). The alerts that stand are
 * thus a function of the final counts, whatever the arrival order within
 * the lateness; an in-order feed never retracts.
 *
 * Duplicates. An event whose (src, id) was seen in the same partition
 * within the lateness horizon is counted once. The table is bounded
 * (dedup_capacity entries per partition); expired entries are reused.
 *
 * Alerts. One state machine per (key, detector): a raise needs the alarm
 * for raise_after consecutive evaluations, a resolve needs it absent for
 * resolve_after. An alert's id is "<key>:<detector>:<start>", start being
 * the beginning of the bucket where its alarm run began (RFC 3339), so a
 * replay produces the same ids. Its level comes from score / threshold
 * against the profile's boundaries.
 *
 * Keys are per partition: a section that arrives on two partitions has
 * separate windows on each.
 *
 * Threads: an engine belongs to one thread.
 */
#ifndef SW_ENGINE_H
#define SW_ENGINE_H

#include "sw_detector.h"
#include "sw_event.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SW_LEVEL_LOW,
    SW_LEVEL_MEDIUM,
    SW_LEVEL_HIGH,
    SW_LEVEL_CRITICAL,
} sw_level_t;

typedef enum {
    SW_ALERT_RAISED,
    SW_ALERT_UPDATED,
    SW_ALERT_RESOLVED,
} sw_alert_state_t;

/* The detectors and level boundaries of a section. */
typedef struct sw_profile {
    /* enabled[k]: detector kind k runs, with params[k] */
    uint8_t enabled[SW_DET__COUNT];
    sw_detector_params_t params[SW_DET__COUNT];
    /* score/threshold at or above which an alert is medium, high,
     * critical (below medium it is low); ascending, >= 1 */
    double levels[3];
} sw_profile_t;

/* The profile of every section: a default and per-section overrides. */
typedef struct sw_profiles {
    sw_profile_t def;
    size_t n;
    struct sw_profile_override {
        char section[SW_SECTION_MAX + 1];
        sw_profile_t profile;
    } * v;
    /* strict: events for sections without an override are rejected
     * (SW_REASON_UNKNOWN_SECTION) */
    int strict;
} sw_profiles_t;

#define SW_ALERT_ID_MAX 96

typedef struct sw_alert {
    char alert_id[SW_ALERT_ID_MAX];
    sw_alert_state_t state;
    char section[SW_SECTION_MAX + 1];
    int type; /* sw_event_type_t of a (section, type) key, or -1 */
    sw_detector_kind_t detector;
    sw_level_t level;
    int64_t window_start, window_end; /* ms, the evaluated window */
    double observed, expected, score, threshold;
    int64_t raised_at; /* ms: the end of the bucket whose evaluation raised
                        * it (event time; the same in every replay) */
    int64_t at;        /* ms: the watermark of this transition */
    int retracted;     /* resolved because late data removed it */
    uint32_t tseq;     /* the how-manyth transition of the (key, detector)
                        * this is, from 1: unique with the alert id, and
                        * the same in every replay from a checkpoint */
} sw_alert_t;

/* Called for every transition, in order. The alert is borrowed. */
typedef void(sw_alert_fn)(void *opaque, const sw_alert_t *alert);

/* Called when a section gets its first window key (on a partition). The
 * section (len bytes, not NUL-terminated) is borrowed. */
typedef void(sw_section_fn)(void *opaque, const char *section, size_t len);

/* One evaluated bucket of a section (its total; never a (section, type)
 * key), for drawing the series. */
typedef struct sw_bucket {
    const char *section; /* borrowed, section_len bytes, NUL-terminated */
    size_t section_len;
    int32_t partition;
    int64_t start_ms; /* the bucket's start, ms since the epoch */
    uint32_t count;
    double expected; /* what the first evaluable per-bucket baseline
                      * (ears_c1, ears_c2, ears_c3, cusum, ewma, in that
                      * order, among those the section runs) expects
                      * there; NAN: none */
    double bound;    /* the smallest count of this bucket at which some
                      * detector of the section alarms, the other buckets
                      * held (sw_detector_bound); NAN: none would */
    int alarm;       /* 1: some detector alarmed on it */
} sw_bucket_t;

/* Called for every evaluation of a section's bucket, in bucket order per
 * key: once when it closes, and again, with the new figures, after late
 * events change it or an earlier bucket within its detectors' lookback
 * (the later call supersedes the earlier). Stretches where the section has
 * had no event for longer than its detectors look back are not evaluated,
 * so not reported either. The bucket is borrowed. */
typedef void(sw_bucket_fn)(void *opaque, const sw_bucket_t *bucket);

typedef struct sw_engine_conf {
    int64_t bucket_ms;        /* 60 000 .. 86 400 000, divides a day */
    int64_t lateness_ms;      /* 0 .. 7 days (default 24 h) */
    int64_t idle_ms;          /* 0 = the watermark follows events only */
    int by_type;              /* also count (section, type) keys */
    uint32_t raise_after;     /* N >= 1 (default 1) */
    uint32_t resolve_after;   /* M >= 1 (default 2) */
    double update_min_change; /* relative score change that makes an
                               * `updated` transition (default 0.1) */
    uint32_t max_lookback;    /* buckets any profile may ever need; fixes
                               * the ring size (default: what the
                               * profiles need, at least 64) */
    size_t dedup_capacity;    /* per partition (default 1 << 20) */
    sw_alert_fn *on_alert;
    sw_section_fn *on_section; /* may be NULL */
    sw_bucket_fn *on_bucket;   /* may be NULL; when set, every section
                                * bucket also costs a search for its bound
                                * (about 2 log2(bound) evaluations per
                                * detector) */
    void *opaque;
} sw_engine_conf_t;

typedef struct sw_engine sw_engine_t;

typedef struct sw_engine_stats {
    uint64_t events;     /* counted */
    uint64_t duplicates; /* counted once already */
    uint64_t late;       /* rejected: older than the lateness */
    uint64_t unknown_section;
    uint64_t late_updates;   /* accepted into a closed bucket */
    uint64_t evaluations;    /* detector evaluations */
    uint64_t recomputations; /* keys re-evaluated after late data */
    uint64_t alerts[3];      /* by sw_alert_state_t */
    uint64_t retracted;
    uint64_t dedup_overflow; /* table full: duplicates may pass */
    uint64_t keys;
    uint64_t state_bytes; /* memory held by keys and dedup tables */
} sw_engine_stats_t;

/* Fills conf with defaults (bucket 1 day, lateness 24 h, N=1, M=2, ...). */
void sw_engine_conf_default(sw_engine_conf_t *conf);

/* Fills p with the default profile: ears_c2 and cusum with their default
 * parameters, levels 1.5 / 2.5 / 4. */
void sw_profile_default(sw_profile_t *p);

/* Creates an engine. The profiles are copied. Returns NULL with errstr set
 * when the configuration is invalid (each setting is named with its
 * accepted range) or memory runs out. */
sw_engine_t *sw_engine_new(const sw_engine_conf_t *conf,
                           const sw_profiles_t *profiles, char *errstr,
                           size_t errstr_size);

/* Frees the engine (NULL is fine) and sets *self_p to NULL. */
void sw_engine_destroy(sw_engine_t **self_p);

/* Replaces the profiles while running: window state is kept; detectors
 * that a section no longer runs resolve their active alerts. Returns 0, or
 * -1 with errstr set (invalid parameters, or a lookback longer than the
 * ring chosen at creation). */
int sw_engine_set_profiles(sw_engine_t *self, const sw_profiles_t *profiles,
                           char *errstr, size_t errstr_size);

/* Counts one valid event from a partition (>= 0). Closes buckets and emits
 * alerts when the watermark passes a bucket end. Returns SW_REASON_NONE
 * when counted or a duplicate, SW_REASON_LATE or SW_REASON_UNKNOWN_SECTION
 * when rejected (nothing counted). No allocation unless the event brings
 * a new key, partition, or a dedup table growth. */
sw_reason_t sw_engine_push(sw_engine_t *self, int32_t partition,
                           const sw_event_t *ev);

/* The same as n calls of sw_engine_push for one partition, with the
 * results in reasons[i] (reasons may be NULL), but faster: while one event
 * is counted, the hash-table slots, keys and ring slots of the next few are
 * prefetched. */
void sw_engine_push_batch(sw_engine_t *self, int32_t partition,
                          const sw_event_t *const *evs, size_t n,
                          sw_reason_t *reasons);

/* Re-evaluates keys that received late events and emits the
 * reconciliation. Pushes do it themselves after each late event; this is
 * for callers that want to be sure nothing waits (a no-op then). */
void sw_engine_settle(sw_engine_t *self);

/* The wall clock: partitions idle for idle_ms advance their watermark to
 * now_ms - idle_ms, closing buckets. */
void sw_engine_tick(sw_engine_t *self, int64_t now_ms);

/* Advances one partition's watermark (or every partition's, when
 * partition is -1) to at least watermark_ms, closing buckets. Backtest
 * uses it at the end of its input. */
void sw_engine_advance(sw_engine_t *self, int32_t partition,
                       int64_t watermark_ms);

/* The watermark of a partition, or INT64_MIN when it has seen nothing. */
int64_t sw_engine_watermark(const sw_engine_t *self, int32_t partition);

/* Counters and memory. Borrowed; updated as the engine runs. */
const sw_engine_stats_t *sw_engine_stats(sw_engine_t *self);

/* Checkpoints. The state of one partition (watermark, dedup table, and
 * every key with its ring, state machines and snapshots) in a compact,
 * versioned binary form (version 2) that ends with a checksum. save returns
 * a malloc'd buffer the caller frees, or NULL (out of memory). load
 * replaces that partition's state; it returns 0, or -1 with errstr set when
 * the data is truncated, corrupt (checksum), of another version or of an
 * incompatible configuration (bucket size, lateness, ring size). Load
 * checks structure, not the ranges of stored values: checkpoints are
 * trusted storage (Redis), not input from the outside. */
void *sw_engine_save(sw_engine_t *self, int32_t partition, size_t *len);
int sw_engine_load(sw_engine_t *self, int32_t partition, const void *data,
                   size_t len, char *errstr, size_t errstr_size);

/* Forgets a partition: its keys, watermark and dedup table (a worker that
 * no longer owns it). Emits nothing. */
void sw_engine_drop(sw_engine_t *self, int32_t partition);

/* Names: "raised"/"updated"/"resolved", "low".."critical". */
const char *sw_alert_state_name(sw_alert_state_t state);
const char *sw_level_name(sw_level_t level);

#endif
