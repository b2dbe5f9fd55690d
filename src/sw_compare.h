/*
 * sw_compare: what a change of detection settings would do to past
 * alerts. The detectors run over the same events with the current and the
 * proposed settings in one pass (one engine each, fed identically), and
 * the alerts that stand in one run and not in the other are listed per
 * section: exactly what two `surgewatch backtest` runs would give,
 * compared alert by alert. Implemented in src/cmd_backtest.c; used by
 * `surgewatch backtest --compare` and `surgewatch ctl preview`.
 *
 * An alert (keyed by alert_id) stands in a run when it had a `raised`
 * transition and its last transition is not a resolve with `retracted`
 * set. Added: stands with proposed, not with current; removed: the
 * reverse. Each is reported with its section, type (by_type keys only),
 * detector, the highest level of its transitions, the highest score of
 * its raised/updated transitions with the threshold of that transition,
 * raised_at, and resolved_at (the window end of its last transition when
 * that is a resolve; null/"active" otherwise), in the order of section,
 * raised_at, alert_id.
 */
#ifndef SW_COMPARE_H
#define SW_COMPARE_H

#include "sw_settings.h"

#include <stdint.h>

typedef struct sw_compare_opts {
    const char *cmd;        /* for messages: "backtest" or "ctl preview" */
    const char *events;     /* file, or "-" for standard input */
    int format;             /* -1 from the name, 0 json, 1 csv, 2 msgpack */
    int64_t from_ms, to_ms; /* INT64_MIN / INT64_MAX: no limit */
    int64_t reorder_ms;     /* -1: default (1h, at most the lateness) */
    int32_t partitions;     /* >= 1 */
    int threads;            /* 1 or 2 */
    int quiet;              /* no line per rejected event */
    int json;               /* JSON lines instead of the table */
} sw_compare_opts_t;

/* Runs the detectors with `current` and `proposed` over the events and
 * prints, per section, the alerts that proposed adds and removes, on
 * standard output; a summary on standard error. Returns an SW_EXIT_* status
 * (src/sw_cmd.h): 0 done, 1 input unreadable, 2 the settings are not
 * comparable or invalid, 130 interrupted. The two settings must agree on
 * [windows] and the [alerts] state machine (bucket, lateness, idle,
 * by_type, strict_sections, max_lookback, dedup_capacity, raise_after,
 * resolve_after, update_min_change): only the detector profiles may
 * differ. The caller's settings are not changed. */
int sw_backtest_compare(const sw_compare_opts_t *o,
                        const sw_settings_t *current,
                        const sw_settings_t *proposed);

/* One of the event options backtest and ctl preview share: name is
 * "format", "threads", "partitions" or "reorder", arg its value. Returns 0
 * with o updated, or prints "surgewatch CMD: --NAME ARG: what is accepted"
 * and returns -1. */
int sw_compare_event_opt(const char *cmd, const char *name, const char *arg,
                         sw_compare_opts_t *o);

#endif
