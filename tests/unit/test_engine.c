/*
 * Unit tests for sw_engine: windows and watermarks, lateness and the
 * reconciliation after late events, idle watermarks, de-duplication, the
 * alert state machine, profiles, checkpoints, and two property tests that
 * the header promises (any arrival order within the lateness, and a replay
 * from a checkpoint, give the alerts of one straight run).
 *
 * Most cases use the threshold detector (sum of the last `window` buckets
 * >= limit): its arithmetic can be checked at a glance, so the engine is
 * what is under test. Times are literal: T0 is 2019-03-04T00:00:00Z.
 *
 * Alerts are collected through conf.on_alert into a growing array (rec_t).
 */
#include "sw_detector.h"
#include "sw_engine.h"
#include "sw_event.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MINUTE INT64_C(60000)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
/* 2019-03-04T00:00:00Z */
#define T0 INT64_C(1551657600000)
/* T0 + h hours + m minutes */
#define AT(h, m) (T0 + (int64_t)(h)*HOUR + (int64_t)(m)*MINUTE)

/* ------------------------------------------------------------- helpers */

typedef struct rec {
    sw_alert_t *v;
    size_t n, cap;
} rec_t;

static void rec_alert(void *opaque, const sw_alert_t *a)
{
    rec_t *r = opaque;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        sw_alert_t *nv = realloc(r->v, cap * sizeof(*nv));
        assert_non_null(nv);
        r->v = nv;
        r->cap = cap;
    }
    r->v[r->n++] = *a;
}

static void expect_same_standing(const char *what, int perm, const rec_t *a,
                                 const rec_t *b);

static void rec_free(rec_t *r)
{
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* A deterministic generator (splitmix64). */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
    return rnd_next(s) % n;
}

/* [0, 1) */
static double rnd_unit(uint64_t *s)
{
    return (double)(rnd_next(s) >> 11) / 9007199254740992.0;
}

/* An event built through the public setters, so that it is valid. */
static sw_event_t ev_full(const char *section, int64_t ts, uint32_t count,
                          const char *src, const char *id, sw_event_type_t type)
{
    sw_event_t ev;
    sw_event_err_t err;
    const char *tname = sw_event_type_name(type);
    sw_event_reset(&ev);
    assert_int_equal(sw_event_set_str(&ev, SW_F_ID, id, strlen(id), 0, &err),
                     0);
    assert_int_equal(sw_event_set_str(&ev, SW_F_SRC, src, strlen(src), 0, &err),
                     0);
    assert_int_equal(
        sw_event_set_str(&ev, SW_F_SECTION, section, strlen(section), 0, &err),
        0);
    assert_int_equal(sw_event_set_int(&ev, SW_F_TS, ts, &err), 0);
    assert_int_equal(
        sw_event_set_str(&ev, SW_F_TYPE, tname, strlen(tname), 0, &err), 0);
    assert_int_equal(sw_event_set_int(&ev, SW_F_COUNT, count, &err), 0);
    return ev;
}

/* An event with a fresh id from "AT", of type irregular_crossing. */
static sw_event_t ev_at(const char *section, int64_t ts, uint32_t count)
{
    static unsigned serial;
    char id[32];
    snprintf(id, sizeof(id), "ev-%u", ++serial);
    return ev_full(section, ts, count, "AT", id, SW_TYPE_IRREGULAR_CROSSING);
}

static void push_ok(sw_engine_t *e, int32_t part, const char *section,
                    int64_t ts, uint32_t count)
{
    sw_event_t ev = ev_at(section, ts, count);
    assert_int_equal(sw_engine_push(e, part, &ev), SW_REASON_NONE);
}

/* A profile with no detector, default levels 1.5 / 2.5 / 4. */
static sw_profile_t prof_none(void)
{
    sw_profile_t p;
    sw_profile_default(&p);
    memset(p.enabled, 0, sizeof(p.enabled));
    return p;
}

static sw_profile_t prof_threshold(uint32_t window, double limit)
{
    sw_profile_t p = prof_none();
    p.enabled[SW_DET_THRESHOLD] = 1;
    p.params[SW_DET_THRESHOLD].window = window;
    p.params[SW_DET_THRESHOLD].limit = limit;
    return p;
}

static sw_profiles_t profiles_of(const sw_profile_t *def)
{
    sw_profiles_t ps;
    memset(&ps, 0, sizeof(ps));
    ps.def = *def;
    return ps;
}

static sw_engine_conf_t conf_hourly(int64_t lateness_ms)
{
    sw_engine_conf_t c;
    sw_engine_conf_default(&c);
    c.bucket_ms = HOUR;
    c.lateness_ms = lateness_ms;
    return c;
}

static sw_engine_t *engine_new(sw_engine_conf_t *conf, const sw_profiles_t *ps,
                               rec_t *rec)
{
    char err[256];
    conf->on_alert = rec_alert;
    conf->opaque = rec;
    sw_engine_t *e = sw_engine_new(conf, ps, err, sizeof(err));
    if (e == NULL)
        fail_msg("sw_engine_new: %s", err);
    return e;
}

/* An engine whose default profile is threshold(window, limit). */
static sw_engine_t *threshold_engine(sw_engine_conf_t *conf, uint32_t window,
                                     double limit, rec_t *rec)
{
    sw_profile_t p = prof_threshold(window, limit);
    sw_profiles_t ps = profiles_of(&p);
    return engine_new(conf, &ps, rec);
}

/* Index of the first transition with this id and state after `from`, or
 * -1. */
static long find_alert(const rec_t *r, size_t from, const char *id,
                       sw_alert_state_t state)
{
    for (size_t i = from; i < r->n; i++)
        if (strcmp(r->v[i].alert_id, id) == 0 && r->v[i].state == state)
            return (long)i;
    return -1;
}

static void expect_alert_at(int line, const sw_alert_t *a, const char *id,
                            sw_alert_state_t state, int64_t wstart,
                            int64_t wend, double observed)
{
    if (strcmp(a->alert_id, id) != 0)
        fail_msg("line %d: alert_id %s, expected %s", line, a->alert_id, id);
    if (a->state != state)
        fail_msg("line %d: %s is %s, expected %s", line, id,
                 sw_alert_state_name(a->state), sw_alert_state_name(state));
    if (a->window_start != wstart || a->window_end != wend)
        fail_msg("line %d: %s window [%lld, %lld), expected [%lld, %lld)", line,
                 id, (long long)a->window_start, (long long)a->window_end,
                 (long long)wstart, (long long)wend);
    if (a->observed != observed)
        fail_msg("line %d: %s observed %g, expected %g", line, id, a->observed,
                 observed);
}
#define expect_alert(a, id, state, ws, we, obs)                                \
    expect_alert_at(__LINE__, a, id, state, ws, we, obs)

/* Feeds counts[i] into bucket i (hourly, from T0) of one section and
 * closes every bucket. */
static void feed_series(sw_engine_t *e, const char *section,
                        const uint32_t *counts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (counts[i] > 0)
            push_ok(e, 0, section, AT(i, 30), counts[i]);
    sw_engine_advance(e, 0, AT(n, 0));
}

/* ----------------------------------------------------------- 1. windows */

/* An event at the first and at the last millisecond of an hour lands in
 * that hour's bucket; an hour without events evaluates as zero. */
static void test_counts_land_in_buckets(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    c.resolve_after = 1;
    sw_engine_t *e = threshold_engine(&c, 1, 1, &r);

    push_ok(e, 0, "AT-DE", AT(10, 0), 2);
    push_ok(e, 0, "AT-DE", AT(11, 0) - 1, 3);
    push_ok(e, 0, "AT-DE", AT(12, 0), 7); /* closes 10:00 and 11:00 */
    assert_int_equal(r.n, 2);
    expect_alert(&r.v[0], "AT-DE:threshold:2019-03-04T10:00Z", SW_ALERT_RAISED,
                 AT(10, 0), AT(11, 0), 5);
    expect_alert(&r.v[1], "AT-DE:threshold:2019-03-04T10:00Z",
                 SW_ALERT_RESOLVED, AT(11, 0), AT(12, 0), 0);
    push_ok(e, 0, "AT-DE", AT(13, 0) - 1, 1);
    assert_int_equal(r.n, 2);
    sw_engine_advance(e, 0, AT(13, 0));
    assert_int_equal(r.n, 3);
    expect_alert(&r.v[2], "AT-DE:threshold:2019-03-04T12:00Z", SW_ALERT_RAISED,
                 AT(12, 0), AT(13, 0), 8);
    assert_int_equal(sw_engine_stats(e)->events, 4);
    sw_engine_destroy(&e);
    assert_null(e);
    rec_free(&r);
}

/* A bucket closes when the watermark reaches its end, not before. */
static void test_bucket_closes_at_its_end(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    sw_engine_t *e = threshold_engine(&c, 1, 5, &r);

    assert_true(sw_engine_watermark(e, 0) == INT64_MIN);
    push_ok(e, 0, "AT-DE", AT(10, 0), 5);
    push_ok(e, 0, "AT-DE", AT(11, 0) - 1, 1);
    assert_true(sw_engine_watermark(e, 0) == AT(11, 0) - 1);
    sw_engine_advance(e, 0, AT(11, 0) - 1);
    assert_int_equal(r.n, 0);
    /* an advance backwards changes nothing */
    sw_engine_advance(e, 0, AT(9, 0));
    assert_true(sw_engine_watermark(e, 0) == AT(11, 0) - 1);
    sw_engine_advance(e, 0, AT(11, 0));
    assert_true(sw_engine_watermark(e, 0) == AT(11, 0));
    assert_int_equal(r.n, 1);
    expect_alert(&r.v[0], "AT-DE:threshold:2019-03-04T10:00Z", SW_ALERT_RAISED,
                 AT(10, 0), AT(11, 0), 6);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* Every field of a raised alert. */
static void test_alert_fields(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    sw_engine_t *e = threshold_engine(&c, 3, 10, &r);

    push_ok(e, 0, "HU-RS", AT(9, 15), 4);
    push_ok(e, 0, "HU-RS", AT(10, 15), 4);
    push_ok(e, 0, "HU-RS", AT(11, 15), 4);
    assert_int_equal(r.n, 0); /* 9:00 and 10:00: fewer than 3 buckets */
    push_ok(e, 0, "HU-RS", AT(12, 5), 1);
    assert_int_equal(r.n, 1);
    const sw_alert_t *a = &r.v[0];
    expect_alert(a, "HU-RS:threshold:2019-03-04T11:00Z", SW_ALERT_RAISED,
                 AT(9, 0), AT(12, 0), 12);
    assert_string_equal(a->section, "HU-RS");
    assert_int_equal(a->type, -1);
    assert_int_equal(a->detector, SW_DET_THRESHOLD);
    assert_int_equal(a->level, SW_LEVEL_LOW); /* 12 / 10 < 1.5 */
    assert_true(a->expected == 10);
    assert_true(a->score == 12);
    assert_true(a->threshold == 10);
    assert_true(a->raised_at == AT(12, 0));
    assert_true(a->at == AT(12, 5));
    assert_int_equal(a->retracted, 0);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* With by_type, a (section, type) key has its own alerts whose id names
 * the type; the section key still counts every type. */
static void test_alert_id_by_type(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c;
    sw_engine_conf_default(&c); /* one-day buckets */
    c.by_type = 1;
    sw_engine_t *e = threshold_engine(&c, 1, 3, &r);

    const char *s = "BG-TR/kap_1";
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "ic-%d", i);
        sw_event_t ev = ev_full(s, T0 + HOUR * (i + 1), 1, "BG", id,
                                SW_TYPE_IRREGULAR_CROSSING);
        assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_NONE);
    }
    sw_event_t ev = ev_full(s, T0 + 5 * HOUR, 1, "BG", "rf-1", SW_TYPE_REFUSAL);
    assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_NONE);
    sw_engine_advance(e, 0, T0 + DAY);

    assert_int_equal(r.n, 2);
    long i = find_alert(&r, 0, "BG-TR/kap_1:threshold:2019-03-04T00:00Z",
                        SW_ALERT_RAISED);
    long j = find_alert(
        &r, 0, "BG-TR/kap_1:irregular_crossing:threshold:2019-03-04T00:00Z",
        SW_ALERT_RAISED);
    assert_true(i >= 0 && j >= 0);
    assert_int_equal(r.v[i].type, -1);
    assert_true(r.v[i].observed == 4);
    assert_true(r.v[i].window_start == T0 && r.v[i].window_end == T0 + DAY);
    assert_int_equal(r.v[j].type, SW_TYPE_IRREGULAR_CROSSING);
    assert_true(r.v[j].observed == 3);
    assert_string_equal(r.v[j].section, s);
    assert_int_equal(sw_engine_stats(e)->keys, 3);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* An event on partition 1 does not close the buckets of partition 0. */
static void test_partitions_have_own_watermarks(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    sw_engine_t *e = threshold_engine(&c, 1, 1, &r);

    push_ok(e, 0, "AT-DE", AT(10, 30), 1);
    push_ok(e, 1, "AT-HU", AT(15, 0), 1);
    assert_int_equal(r.n, 0);
    assert_true(sw_engine_watermark(e, 0) == AT(10, 30));
    assert_true(sw_engine_watermark(e, 1) == AT(15, 0));
    assert_true(sw_engine_watermark(e, 2) == INT64_MIN);
    push_ok(e, 1, "AT-HU", AT(16, 0), 1);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].alert_id, "AT-HU:threshold:2019-03-04T15:00Z");
    /* partition 0 is still at 10:30: 10:30 is not late there */
    push_ok(e, 0, "AT-DE", AT(10, 0), 1);
    push_ok(e, 0, "AT-DE", AT(11, 0), 1);
    assert_int_equal(r.n, 2);
    expect_alert(&r.v[1], "AT-DE:threshold:2019-03-04T10:00Z", SW_ALERT_RAISED,
                 AT(10, 0), AT(11, 0), 2);
    /* -1 advances every partition */
    sw_engine_advance(e, -1, AT(17, 0));
    assert_true(sw_engine_watermark(e, 0) == AT(17, 0));
    assert_true(sw_engine_watermark(e, 1) == AT(17, 0));
    assert_true(sw_engine_watermark(e, 2) == INT64_MIN);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* A worker that loses a partition drops its state: nothing is emitted,
 * the other partitions keep theirs, and the partition starts afresh. */
static void test_drop_partition(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    sw_engine_t *e = threshold_engine(&c, 1, 2, &r);
    push_ok(e, 0, "AT-DE", AT(10, 30), 1);
    push_ok(e, 0, "AT-DE", AT(10, 40), 1); /* 2 in the 10:00 bucket */
    push_ok(e, 1, "AT-HU", AT(10, 30), 5);
    uint64_t keys = sw_engine_stats(e)->keys;
    assert_int_equal(keys, 2);
    sw_engine_drop(e, 0);
    sw_engine_drop(e, 7);  /* never seen: nothing happens */
    sw_engine_drop(e, -1); /* not a partition */
    assert_int_equal(r.n, 0);
    assert_int_equal(sw_engine_stats(e)->keys, 1);
    assert_true(sw_engine_watermark(e, 0) == INT64_MIN);
    assert_true(sw_engine_watermark(e, 1) == AT(10, 30));
    /* the 10:00 bucket of partition 0 starts empty: one event, no alarm */
    push_ok(e, 0, "AT-DE", AT(10, 30), 1);
    push_ok(e, 0, "AT-DE", AT(11, 5), 1);
    assert_int_equal(r.n, 0);
    /* partition 1 alerts as before */
    push_ok(e, 1, "AT-HU", AT(11, 5), 1);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].alert_id, "AT-HU:threshold:2019-03-04T10:00Z");
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* An event far ahead of the watermark: the buckets it closes are
 * evaluated with the counts they had, as when the watermark moves there
 * step by step (the ring of a key holds R buckets: with no lateness and
 * window 40, R is 64, and the event below is 64 buckets ahead). */
static void test_watermark_jump_closes_with_old_counts(void **state)
{
    (void)state;
    rec_t rj = {0}, rg = {0};
    sw_engine_conf_t cj = conf_hourly(0), cg = cj;
    sw_engine_t *j = threshold_engine(&cj, 40, 50, &rj);
    sw_engine_t *g = threshold_engine(&cg, 40, 50, &rg);

    push_ok(j, 0, "AT-DE", AT(0, 0), 30);
    push_ok(j, 0, "AT-DE", AT(10, 0), 30);
    push_ok(j, 0, "AT-DE", AT(74, 0), 1);
    sw_engine_advance(j, 0, AT(75, 0));

    push_ok(g, 0, "AT-DE", AT(0, 0), 30);
    push_ok(g, 0, "AT-DE", AT(10, 0), 30);
    sw_engine_advance(g, 0, AT(74, 0));
    push_ok(g, 0, "AT-DE", AT(74, 0), 1);
    sw_engine_advance(g, 0, AT(75, 0));

    /* 39:00 (the first full window) holds 30 + 30 */
    assert_int_equal(rg.n, 2);
    expect_alert(&rg.v[0], "AT-DE:threshold:2019-03-05T15:00Z", SW_ALERT_RAISED,
                 AT(0, 0), AT(40, 0), 60);
    assert_int_equal(rj.n, rg.n);
    for (size_t i = 0; i < rg.n; i++)
        expect_alert(&rj.v[i], rg.v[i].alert_id, rg.v[i].state,
                     rg.v[i].window_start, rg.v[i].window_end,
                     rg.v[i].observed);
    sw_engine_destroy(&j);
    sw_engine_destroy(&g);
    rec_free(&rj);
    rec_free(&rg);
}

/* ---------------------------------------------------------- 2. lateness */

/* Older than watermark - lateness: rejected and not counted; exactly at
 * the edge: counted into its (closed) bucket. */
static void test_late_event_rejected(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(2 * HOUR);
    sw_engine_t *e = threshold_engine(&c, 1, 5, &r);

    push_ok(e, 0, "AT-DE", AT(10, 0), 3);
    push_ok(e, 0, "AT-DE", AT(13, 0), 1);
    sw_event_t ev = ev_at("AT-DE", AT(11, 0) - 1, 2);
    assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_LATE);
    const sw_engine_stats_t *st = sw_engine_stats(e);
    assert_int_equal(st->late, 1);
    assert_int_equal(st->events, 2);
    ev = ev_at("AT-DE", AT(11, 0), 9);
    assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_NONE);
    assert_int_equal(st->late_updates, 1);
    /* reconciled at once (sw_engine_settle has nothing left to do) */
    assert_int_equal(r.n, 1);
    sw_engine_settle(e);
    /* 10:00 holds 3 (the rejected 2 would have made it 5): no alert */
    assert_int_equal(r.n, 1);
    expect_alert(&r.v[0], "AT-DE:threshold:2019-03-04T11:00Z", SW_ALERT_RAISED,
                 AT(11, 0), AT(12, 0), 9);
    assert_int_equal(r.v[0].retracted, 0);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* A late event into a closed bucket: after settle, the alert of the
 * straight run, with its id and figures. */
static void test_late_event_settles_to_straight_run(void **state)
{
    (void)state;
    const struct {
        int64_t ts;
        uint32_t count;
    } evs[] = {
        {AT(9, 10), 4},  {AT(10, 10), 3}, {AT(10, 20), 4},
        {AT(11, 10), 1}, {AT(12, 30), 1},
    };
    /* arrival order of the late run: 10:20 after 12:30 */
    const int late_order[] = {0, 1, 3, 4, 2};
    rec_t rs = {0}, rl = {0};
    sw_engine_conf_t cs = conf_hourly(3 * HOUR), cl = cs;
    sw_engine_t *s = threshold_engine(&cs, 2, 10, &rs);
    sw_engine_t *l = threshold_engine(&cl, 2, 10, &rl);

    for (int i = 0; i < 5; i++)
        push_ok(s, 0, "AT-DE", evs[i].ts, evs[i].count);
    for (int i = 0; i < 5; i++)
        push_ok(l, 0, "AT-DE", evs[late_order[i]].ts, evs[late_order[i]].count);
    /* the straight run raised at 10:00 (4 + 7 = 11); the late one too,
     * when the late 10:20 event came */
    assert_int_equal(rs.n, 1);
    assert_int_equal(rl.n, 1);
    assert_int_equal(sw_engine_stats(l)->late_updates, 1);
    sw_engine_settle(l);
    assert_int_equal(rl.n, 1);
    const sw_alert_t *a = &rs.v[0], *b = &rl.v[0];
    assert_string_equal(a->alert_id, "AT-DE:threshold:2019-03-04T10:00Z");
    assert_string_equal(b->alert_id, a->alert_id);
    assert_int_equal(b->state, SW_ALERT_RAISED);
    assert_true(b->window_start == a->window_start);
    assert_true(b->window_end == a->window_end);
    assert_true(b->observed == 11 && a->observed == 11);
    assert_true(b->score == a->score);
    assert_int_equal(b->level, a->level);
    assert_int_equal(b->retracted, 0);
    assert_true(sw_engine_stats(l)->recomputations >= 1);
    /* both resolve at the same bucket */
    sw_engine_advance(s, 0, AT(15, 0));
    sw_engine_advance(l, 0, AT(15, 0));
    assert_int_equal(rs.n, 2);
    assert_int_equal(rl.n, 2);
    assert_int_equal(rs.v[1].state, SW_ALERT_RESOLVED);
    assert_int_equal(rl.v[1].state, SW_ALERT_RESOLVED);
    assert_string_equal(rl.v[1].alert_id, rs.v[1].alert_id);
    assert_true(rl.v[1].window_start == rs.v[1].window_start);
    assert_int_equal(sw_engine_stats(l)->retracted, 0);
    sw_engine_destroy(&s);
    sw_engine_destroy(&l);
    rec_free(&rs);
    rec_free(&rl);
}

/* Ratio: a late event in the baseline lowers the score of an alert already
 * raised; the alert is resolved with `retracted` set. */
static void test_late_event_retracts_alert(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(3 * HOUR);
    sw_profile_t p = prof_none();
    p.enabled[SW_DET_RATIO] = 1;
    p.params[SW_DET_RATIO].window = 1;
    p.params[SW_DET_RATIO].k = 2;
    p.params[SW_DET_RATIO].ratio = 2;
    p.params[SW_DET_RATIO].min_count = 0;
    sw_profiles_t ps = profiles_of(&p);
    sw_engine_t *e = engine_new(&c, &ps, &r);

    push_ok(e, 0, "AT-DE", AT(0, 10), 2);
    push_ok(e, 0, "AT-DE", AT(1, 10), 2);
    push_ok(e, 0, "AT-DE", AT(2, 10), 10);
    push_ok(e, 0, "AT-DE", AT(3, 10), 1);
    /* 02:00: 10 against (2 + 2) / 2 = 2, ratio 5 */
    assert_int_equal(r.n, 1);
    expect_alert(&r.v[0], "AT-DE:ratio:2019-03-04T02:00Z", SW_ALERT_RAISED,
                 AT(2, 0), AT(3, 0), 10);
    assert_true(r.v[0].score == 5);
    push_ok(e, 0, "AT-DE", AT(1, 20), 20);
    sw_engine_settle(e);
    /* now 10 against (2 + 22) / 2 = 12: no alarm, never was */
    assert_int_equal(r.n, 2);
    assert_string_equal(r.v[1].alert_id, r.v[0].alert_id);
    assert_int_equal(r.v[1].state, SW_ALERT_RESOLVED);
    assert_int_equal(r.v[1].retracted, 1);
    assert_int_equal(sw_engine_stats(e)->retracted, 1);
    sw_engine_advance(e, 0, AT(6, 0));
    sw_engine_settle(e);
    assert_int_equal(r.n, 2);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* An alert already told resolved that a late event keeps active in the new
 * history is raised again (same id), as the straight run holds it. */
static void test_late_event_reopens_resolved_alert(void **state)
{
    (void)state;
    rec_t rs = {0}, rl = {0};
    sw_engine_conf_t cs = conf_hourly(3 * HOUR);
    cs.resolve_after = 1;
    cs.update_min_change = 0.5;
    sw_engine_conf_t cl = cs;
    sw_engine_t *s = threshold_engine(&cs, 1, 10, &rs);
    sw_engine_t *l = threshold_engine(&cl, 1, 10, &rl);
    const char *id = "AT-DE:threshold:2019-03-04T00:00Z";

    push_ok(s, 0, "AT-DE", AT(0, 10), 12);
    push_ok(s, 0, "AT-DE", AT(1, 10), 5);
    push_ok(s, 0, "AT-DE", AT(1, 20), 6);
    push_ok(s, 0, "AT-DE", AT(2, 10), 1);

    push_ok(l, 0, "AT-DE", AT(0, 10), 12);
    push_ok(l, 0, "AT-DE", AT(1, 10), 5);
    push_ok(l, 0, "AT-DE", AT(2, 10), 1); /* closes 01:00 with 5: resolve */
    assert_int_equal(rl.n, 2);
    assert_int_equal(rl.v[1].state, SW_ALERT_RESOLVED);
    push_ok(l, 0, "AT-DE", AT(1, 20), 6); /* 01:00 now holds 11 */
    sw_engine_settle(l);

    /* the straight run: raised at 00:00, still active after 01:00 */
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.v[0].state, SW_ALERT_RAISED);
    /* the late run must stand the same: its last word on id is active */
    assert_true(rl.n >= 3);
    assert_string_equal(rl.v[rl.n - 1].alert_id, id);
    assert_int_equal(rl.v[rl.n - 1].state, SW_ALERT_RAISED);
    assert_int_equal(rl.v[rl.n - 1].retracted, 0);

    /* 02:00 (1) resolves it in both */
    sw_engine_advance(s, 0, AT(3, 0));
    sw_engine_advance(l, 0, AT(3, 0));
    assert_int_equal(rs.v[rs.n - 1].state, SW_ALERT_RESOLVED);
    assert_int_equal(rl.v[rl.n - 1].state, SW_ALERT_RESOLVED);
    assert_string_equal(rl.v[rl.n - 1].alert_id, id);
    assert_true(rl.v[rl.n - 1].window_start == AT(2, 0));
    assert_true(rs.v[rs.n - 1].window_start == AT(2, 0));
    sw_engine_destroy(&s);
    sw_engine_destroy(&l);
    rec_free(&rs);
    rec_free(&rl);
}

/* Late events that merge several alerts told earlier (raised, resolved)
 * into one run: every alert the new history does not hold is retracted,
 * however many there were, and the one it holds stands active. */
static void test_late_events_merge_many_alerts(void **state)
{
    (void)state;
    rec_t rs = {0}, rl = {0};
    sw_engine_conf_t cs = conf_hourly(24 * HOUR);
    cs.resolve_after = 1;
    cs.update_min_change = 100;
    sw_engine_conf_t cl = cs;
    sw_engine_t *s = threshold_engine(&cs, 1, 10, &rs);
    sw_engine_t *l = threshold_engine(&cl, 1, 10, &rl);

    /* 12, 5, 12, 5, ..., 12: six alerts of one hour each */
    for (int h = 0; h <= 10; h++) {
        push_ok(s, 0, "AT-DE", AT(h, 10), h % 2 ? 5 : 12);
        push_ok(l, 0, "AT-DE", AT(h, 10), h % 2 ? 5 : 12);
        if (h % 2)
            push_ok(s, 0, "AT-DE", AT(h, 20), 6);
    }
    sw_engine_advance(l, 0, AT(11, 0));
    assert_int_equal(rl.n, 11); /* 6 raised, 5 resolved */
    for (int h = 1; h <= 9; h += 2)
        push_ok(l, 0, "AT-DE", AT(h, 20), 6);
    sw_engine_settle(l);
    sw_engine_advance(s, 0, AT(11, 0));

    /* the straight run: one alert from 00:00, active */
    assert_int_equal(rs.n, 1);
    rec_t one = {rs.v, 1, 1};
    expect_same_standing("merge", 0, &one, &rl);
    for (size_t i = 11; i < rl.n; i++)
        if (rl.v[i].state == SW_ALERT_RESOLVED &&
            (!rl.v[i].retracted ||
             strcmp(rl.v[i].alert_id, "AT-DE:threshold:2019-03-04T00:00Z") ==
                 0))
            fail_msg("transition %zu: %s resolved (retracted %d)", i,
                     rl.v[i].alert_id, rl.v[i].retracted);
    assert_int_equal(sw_engine_stats(l)->retracted, 5);
    sw_engine_destroy(&s);
    sw_engine_destroy(&l);
    rec_free(&rs);
    rec_free(&rl);
}

/* Ratio x(t) >= 2 x(t-1). Told: an alert from 03:00, active. Late events
 * make 01:00 alarm (a new alert, resolved at 02:00) and raise 03:00 so
 * much that 04:00 no longer alarms: the alert told active is resolved
 * (not retracted: 03:00 still alarms), after the new one was told. */
static void test_late_events_resolve_alert_told_active(void **state)
{
    (void)state;
    rec_t rs = {0}, rl = {0};
    sw_engine_conf_t cs = conf_hourly(10 * HOUR);
    cs.resolve_after = 1;
    cs.update_min_change = 100;
    sw_engine_conf_t cl = cs;
    sw_profile_t p = prof_none();
    p.enabled[SW_DET_RATIO] = 1;
    p.params[SW_DET_RATIO].window = 1;
    p.params[SW_DET_RATIO].k = 1;
    p.params[SW_DET_RATIO].ratio = 2;
    p.params[SW_DET_RATIO].min_count = 0;
    p.levels[0] = 50; /* every alert low: no updates */
    p.levels[1] = 60;
    p.levels[2] = 70;
    sw_profiles_t ps = profiles_of(&p);
    sw_engine_t *s = engine_new(&cs, &ps, &rs);
    sw_engine_t *l = engine_new(&cl, &ps, &rl);
    const uint32_t counts[] = {2, 2, 2, 8, 16, 1};
    for (int h = 0; h < 6; h++) {
        push_ok(s, 0, "AT-DE", AT(h, 10), counts[h]);
        if (h == 1)
            push_ok(s, 0, "AT-DE", AT(1, 20), 3);
        if (h == 3)
            push_ok(s, 0, "AT-DE", AT(3, 20), 7);
        push_ok(l, 0, "AT-DE", AT(h, 10), counts[h]);
    }
    /* told: 03:00 raised (8 >= 2 x 2), still active at 04:00 (16) */
    assert_int_equal(rl.n, 1);
    assert_string_equal(rl.v[0].alert_id, "AT-DE:ratio:2019-03-04T03:00Z");
    push_ok(l, 0, "AT-DE", AT(1, 20), 3);
    push_ok(l, 0, "AT-DE", AT(3, 20), 7);
    sw_engine_settle(l);
    /* straight: 01:00 raised, 02:00 resolved, 03:00 raised (15 >= 4),
     * 04:00 resolved (16 < 30) */
    assert_int_equal(rs.n, 4);
    assert_string_equal(rs.v[0].alert_id, "AT-DE:ratio:2019-03-04T01:00Z");
    expect_same_standing("told active", 0, &rs, &rl);
    assert_int_equal(sw_engine_stats(l)->retracted, 0);
    /* and the next bucket changes nothing for either */
    sw_engine_advance(s, 0, AT(6, 0));
    sw_engine_advance(l, 0, AT(6, 0));
    expect_same_standing("told active", 1, &rs, &rl);
    sw_engine_destroy(&s);
    sw_engine_destroy(&l);
    rec_free(&rs);
    rec_free(&rl);
}

/* A replay after an event at the lateness edge re-reads buckets up to
 * lateness + snapshot interval + lookback back: they must still be held
 * (hourly buckets, 7 days of lateness: snapshots every 6 buckets; window
 * 85 made the ring 256 buckets, 5 too few). */
static void test_late_replay_reads_its_own_buckets(void **state)
{
    (void)state;
    rec_t rs = {0}, rl = {0};
    sw_engine_conf_t cs = conf_hourly(168 * HOUR), cl = cs;
    sw_engine_t *s = threshold_engine(&cs, 85, 50, &rs);
    sw_engine_t *l = threshold_engine(&cl, 85, 50, &rl);

    push_ok(s, 0, "AT-DE", AT(0, 0), 1);
    push_ok(s, 0, "AT-DE", AT(95, 0), 1);
    push_ok(s, 0, "AT-DE", AT(263, 0), 100);
    sw_engine_settle(s);

    push_ok(l, 0, "AT-DE", AT(0, 0), 1);
    push_ok(l, 0, "AT-DE", AT(263, 0), 100);
    push_ok(l, 0, "AT-DE", AT(95, 0), 1); /* at the lateness edge */
    assert_int_equal(sw_engine_stats(l)->late_updates, 1);
    sw_engine_settle(l);

    /* nothing alarms before 263:00 closes */
    assert_int_equal(rs.n, 0);
    if (rl.n != 0)
        fail_msg("%zu alerts, the first %s %s", rl.n, rl.v[0].alert_id,
                 sw_alert_state_name(rl.v[0].state));
    sw_engine_advance(s, 0, AT(264, 0));
    sw_engine_advance(l, 0, AT(264, 0));
    assert_int_equal(rs.n, 1);
    expect_same_standing("replay", 0, &rs, &rl);
    sw_engine_destroy(&s);
    sw_engine_destroy(&l);
    rec_free(&rs);
    rec_free(&rl);
}

/* ------------------------------------------------------ 3. idle time */

static void test_idle_watermark(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    c.idle_ms = HOUR;
    c.resolve_after = 1;
    sw_engine_t *e = threshold_engine(&c, 1, 1, &r);

    push_ok(e, 0, "AT-DE", AT(10, 30), 1);
    sw_engine_tick(e, AT(11, 0)); /* records the activity */
    assert_true(sw_engine_watermark(e, 0) == AT(10, 30));
    sw_engine_tick(e, AT(11, 30)); /* idle for 30 min only */
    assert_true(sw_engine_watermark(e, 0) == AT(10, 30));
    assert_int_equal(r.n, 0);
    sw_engine_tick(e, AT(12, 0)); /* idle for an hour: wm = 11:00 */
    assert_true(sw_engine_watermark(e, 0) == AT(11, 0));
    assert_int_equal(r.n, 1);
    expect_alert(&r.v[0], "AT-DE:threshold:2019-03-04T10:00Z", SW_ALERT_RAISED,
                 AT(10, 0), AT(11, 0), 1);

    /* an event between two ticks counts as activity */
    push_ok(e, 0, "AT-DE", AT(12, 10), 1);
    sw_engine_tick(e, AT(12, 30));
    sw_engine_tick(e, AT(13, 20));
    assert_true(sw_engine_watermark(e, 0) == AT(12, 10));
    sw_engine_tick(e, AT(14, 0)); /* 1.5 h since 12:30: wm = 13:00 */
    assert_true(sw_engine_watermark(e, 0) == AT(13, 0));
    /* 11:00 (0) resolved, 12:00 raised */
    assert_int_equal(r.n, 3);
    assert_int_equal(r.v[1].state, SW_ALERT_RESOLVED);
    expect_alert(&r.v[2], "AT-DE:threshold:2019-03-04T12:00Z", SW_ALERT_RAISED,
                 AT(12, 0), AT(13, 0), 1);
    sw_engine_destroy(&e);
    rec_free(&r);

    /* idle_ms 0: the watermark follows events only */
    sw_engine_conf_t c0 = conf_hourly(HOUR);
    e = threshold_engine(&c0, 1, 1, &r);
    push_ok(e, 0, "AT-DE", AT(10, 30), 1);
    sw_engine_tick(e, AT(11, 0));
    sw_engine_tick(e, AT(20, 0));
    sw_engine_tick(e, AT(30, 0));
    assert_true(sw_engine_watermark(e, 0) == AT(10, 30));
    assert_int_equal(r.n, 0);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* ------------------------------------------------------- 4. duplicates */

static void test_duplicates_counted_once(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    sw_engine_t *e = threshold_engine(&c, 1, 1, &r);
    const sw_engine_stats_t *st = sw_engine_stats(e);

    sw_event_t a =
        ev_full("AT-DE", AT(10, 0), 2, "AT", "x1", SW_TYPE_IRREGULAR_CROSSING);
    sw_event_t b =
        ev_full("AT-DE", AT(10, 5), 3, "DE", "x1", SW_TYPE_IRREGULAR_CROSSING);
    assert_int_equal(sw_engine_push(e, 0, &a), SW_REASON_NONE);
    assert_int_equal(sw_engine_push(e, 0, &a), SW_REASON_NONE);
    assert_int_equal(st->duplicates, 1);
    /* same id, another source: another event */
    assert_int_equal(sw_engine_push(e, 0, &b), SW_REASON_NONE);
    assert_int_equal(sw_engine_push(e, 0, &b), SW_REASON_NONE);
    assert_int_equal(st->duplicates, 2);
    assert_int_equal(st->events, 2);
    /* on another partition the table is another one */
    sw_event_t d =
        ev_full("AT-HU", AT(10, 0), 1, "AT", "x1", SW_TYPE_IRREGULAR_CROSSING);
    assert_int_equal(sw_engine_push(e, 1, &d), SW_REASON_NONE);
    assert_int_equal(st->events, 3);
    sw_engine_advance(e, -1, AT(11, 0));
    long i =
        find_alert(&r, 0, "AT-DE:threshold:2019-03-04T10:00Z", SW_ALERT_RAISED);
    assert_true(i >= 0);
    assert_true(r.v[i].observed == 5);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* Millions of distinct events over a long time: expired entries are
 * reused, the table stays small, nothing overflows, ids come back. */
static void test_dedup_bounded_over_time(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    c.dedup_capacity = 4096;
    sw_engine_t *e = threshold_engine(&c, 1, 1e6, &r);
    const sw_engine_stats_t *st = sw_engine_stats(e);
    /* 1000 events an hour: about 3 000 live within the horizon */
    const uint64_t n = 3000000, per_hour = 1000;
    sw_event_t ev = ev_full("AT-DE", T0, 1, "AT", "x", SW_TYPE_DETERRED);
    uint64_t bytes_at_tenth = 0;
    for (uint64_t i = 0; i < n; i++) {
        ev.id_len = (uint8_t)snprintf(ev.id, sizeof(ev.id), "n%llu",
                                      (unsigned long long)i);
        ev.ts_ms = T0 + (int64_t)(i * (uint64_t)HOUR / per_hour);
        if (sw_engine_push(e, 0, &ev) != SW_REASON_NONE)
            fail_msg("event %llu rejected", (unsigned long long)i);
        if (i + 1 == n / 10)
            bytes_at_tenth = sw_engine_stats(e)->state_bytes;
    }
    st = sw_engine_stats(e);
    assert_int_equal(st->events, n);
    assert_int_equal(st->duplicates, 0);
    assert_int_equal(st->dedup_overflow, 0);
    assert_true(bytes_at_tenth > 0);
    assert_int_equal(st->state_bytes, bytes_at_tenth);
    assert_true(st->state_bytes < 1024 * 1024);
    /* the last one is still remembered ... */
    assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_NONE);
    assert_int_equal(st->duplicates, 1);
    /* ... the first one, long expired, is a new event again */
    ev.id_len = (uint8_t)snprintf(ev.id, sizeof(ev.id), "n0");
    assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_NONE);
    assert_int_equal(st->duplicates, 1);
    assert_int_equal(st->events, n + 1);
    assert_int_equal(r.n, 0);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* A live set larger than the table: overflow is counted, every event is
 * still counted, and the table recovers once the horizon has passed (the
 * first event after the gap already finds the expired entries purged).
 * 200 000 events: a table rebuilt for each of them would show as time. */
static void test_dedup_overflow_counted(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    c.dedup_capacity = 10; /* clamped to 1024 */
    sw_engine_t *e = threshold_engine(&c, 1, 1e6, &r);
    const sw_engine_stats_t *st = sw_engine_stats(e);
    sw_event_t ev = ev_full("AT-DE", T0, 1, "AT", "x", SW_TYPE_DETERRED);
    const uint32_t n = 200000;
    /* all within one hour */
    for (uint32_t i = 0; i < n; i++) {
        ev.id_len = (uint8_t)snprintf(ev.id, sizeof(ev.id), "o%u", i);
        ev.ts_ms = AT(10, 0) + i / 100;
        assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_NONE);
    }
    assert_int_equal(st->events, n);
    assert_true(st->dedup_overflow > 0);
    assert_true(st->dedup_overflow < n);
    uint64_t overflow = st->dedup_overflow;
    /* hours later: the old entries expire, new ones fit again */
    for (uint32_t i = 0; i < 500; i++) {
        ev.id_len = (uint8_t)snprintf(ev.id, sizeof(ev.id), "p%u", i);
        ev.ts_ms = AT(15, 0) + i;
        assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_NONE);
    }
    assert_int_equal(st->dedup_overflow, overflow);
    assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_NONE);
    assert_int_equal(st->duplicates, 1);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* --------------------------------------------------- 5. state machine */

static void test_raise_after_two(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(0);
    c.raise_after = 2;
    c.resolve_after = 1;
    sw_engine_t *e = threshold_engine(&c, 1, 10, &r);
    /* one alarm alone raises nothing; two in a row raise, with the id of
     * the first */
    const uint32_t s[] = {12, 5, 12, 12, 5};
    feed_series(e, "AT-DE", s, 3);
    assert_int_equal(r.n, 0);
    push_ok(e, 0, "AT-DE", AT(3, 30), 12);
    push_ok(e, 0, "AT-DE", AT(4, 30), 5);
    sw_engine_advance(e, 0, AT(5, 0));
    assert_int_equal(r.n, 2);
    expect_alert(&r.v[0], "AT-DE:threshold:2019-03-04T02:00Z", SW_ALERT_RAISED,
                 AT(3, 0), AT(4, 0), 12);
    assert_true(r.v[0].raised_at == AT(4, 0));
    expect_alert(&r.v[1], "AT-DE:threshold:2019-03-04T02:00Z",
                 SW_ALERT_RESOLVED, AT(4, 0), AT(5, 0), 5);
    sw_engine_destroy(&e);
    rec_free(&r);
}

static void test_resolve_after_three(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(0);
    c.resolve_after = 3;
    sw_engine_t *e = threshold_engine(&c, 1, 10, &r);
    const uint32_t s[] = {12, 5, 5, 12, 5, 5};
    feed_series(e, "AT-DE", s, 6);
    /* two quiet hours, an alarm, two quiet hours: still active */
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].state, SW_ALERT_RAISED);
    push_ok(e, 0, "AT-DE", AT(6, 30), 5);
    sw_engine_advance(e, 0, AT(7, 0));
    assert_int_equal(r.n, 2);
    expect_alert(&r.v[1], "AT-DE:threshold:2019-03-04T00:00Z",
                 SW_ALERT_RESOLVED, AT(6, 0), AT(7, 0), 5);
    assert_true(r.v[1].raised_at == r.v[0].raised_at);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* Alarm, quiet, alarm, quiet...: with M = 2 one alert that stays up. */
static void test_oscillation_does_not_flap(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(0);
    c.resolve_after = 2;
    sw_engine_t *e = threshold_engine(&c, 1, 10, &r);
    const uint32_t s[] = {12, 5, 12, 5, 12, 5, 12, 5, 12, 5};
    feed_series(e, "AT-DE", s, 10);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].state, SW_ALERT_RAISED);
    push_ok(e, 0, "AT-DE", AT(10, 30), 5);
    sw_engine_advance(e, 0, AT(11, 0));
    assert_int_equal(r.n, 2);
    assert_int_equal(r.v[1].state, SW_ALERT_RESOLVED);
    assert_string_equal(r.v[1].alert_id, r.v[0].alert_id);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* The same series with M = 1 flaps: one alert per alarm. */
static void test_oscillation_flaps_with_m1(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(0);
    c.resolve_after = 1;
    sw_engine_t *e = threshold_engine(&c, 1, 10, &r);
    const uint32_t s[] = {12, 5, 12, 5, 12, 5};
    feed_series(e, "AT-DE", s, 6);
    assert_int_equal(r.n, 6);
    const char *ids[] = {"AT-DE:threshold:2019-03-04T00:00Z",
                         "AT-DE:threshold:2019-03-04T02:00Z",
                         "AT-DE:threshold:2019-03-04T04:00Z"};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(r.v[2 * i].alert_id, ids[i]);
        assert_int_equal(r.v[2 * i].state, SW_ALERT_RAISED);
        assert_string_equal(r.v[2 * i + 1].alert_id, ids[i]);
        assert_int_equal(r.v[2 * i + 1].state, SW_ALERT_RESOLVED);
    }
    assert_int_equal(sw_engine_stats(e)->alerts[SW_ALERT_RAISED], 3);
    assert_int_equal(sw_engine_stats(e)->alerts[SW_ALERT_RESOLVED], 3);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* `updated` when the level changes or the score moves by more than
 * update_min_change (relative to the last told score). */
static void test_updated_on_change_only(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(0);
    c.update_min_change = 0.1;
    sw_engine_t *e = threshold_engine(&c, 1, 10, &r);
    /* 20 raise (medium); 21: +5 %, no; 23: +15 % of 20, update; 25: +8.7 %
     * of 23 but high, update; 26: +4 %, no; 40: critical, update */
    const uint32_t s[] = {20, 21, 23, 25, 26, 40};
    feed_series(e, "AT-DE", s, 6);
    assert_int_equal(r.n, 4);
    const double score[] = {20, 23, 25, 40};
    const sw_level_t level[] = {SW_LEVEL_MEDIUM, SW_LEVEL_MEDIUM, SW_LEVEL_HIGH,
                                SW_LEVEL_CRITICAL};
    const int hour[] = {0, 2, 3, 5};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r.v[i].state,
                         i == 0 ? SW_ALERT_RAISED : SW_ALERT_UPDATED);
        assert_string_equal(r.v[i].alert_id,
                            "AT-DE:threshold:2019-03-04T00:00Z");
        assert_true(r.v[i].score == score[i]);
        assert_int_equal(r.v[i].level, level[i]);
        assert_true(r.v[i].window_start == AT(hour[i], 0));
        assert_true(r.v[i].raised_at == r.v[0].raised_at);
    }
    assert_int_equal(sw_engine_stats(e)->alerts[SW_ALERT_UPDATED], 3);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* score / threshold against the boundaries 1.5 / 2.5 / 4. */
static void test_levels(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(0);
    sw_engine_t *e = threshold_engine(&c, 1, 10, &r);
    const char *sec[] = {"AT-CH", "AT-DE", "AT-HU", "AT-IT", "AT-SI", "AT-SK"};
    const uint32_t count[] = {14, 15, 24, 25, 39, 40};
    const sw_level_t want[] = {SW_LEVEL_LOW,    SW_LEVEL_MEDIUM,
                               SW_LEVEL_MEDIUM, SW_LEVEL_HIGH,
                               SW_LEVEL_HIGH,   SW_LEVEL_CRITICAL};
    for (int i = 0; i < 6; i++)
        push_ok(e, 0, sec[i], AT(0, 10), count[i]);
    sw_engine_advance(e, 0, AT(1, 0));
    assert_int_equal(r.n, 6);
    for (int i = 0; i < 6; i++) {
        char id[64];
        snprintf(id, sizeof(id), "%s:threshold:2019-03-04T00:00Z", sec[i]);
        long j = find_alert(&r, 0, id, SW_ALERT_RAISED);
        assert_true(j >= 0);
        if (r.v[j].level != want[i])
            fail_msg("%s: level %s, expected %s", sec[i],
                     sw_level_name(r.v[j].level), sw_level_name(want[i]));
    }
    assert_string_equal(sw_level_name(SW_LEVEL_LOW), "low");
    assert_string_equal(sw_level_name(SW_LEVEL_CRITICAL), "critical");
    assert_string_equal(sw_alert_state_name(SW_ALERT_RAISED), "raised");
    assert_string_equal(sw_alert_state_name(SW_ALERT_UPDATED), "updated");
    assert_string_equal(sw_alert_state_name(SW_ALERT_RESOLVED), "resolved");
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* -------------------------------------------------------- 6. sections */

static void test_strict_rejects_unknown_section(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    sw_profile_t def = prof_threshold(1, 1);
    struct sw_profile_override ov;
    memset(&ov, 0, sizeof(ov));
    strcpy(ov.section, "AT-DE");
    ov.profile = prof_threshold(1, 1);
    sw_profiles_t ps = profiles_of(&def);
    ps.n = 1;
    ps.v = &ov;
    ps.strict = 1;
    sw_engine_t *e = engine_new(&c, &ps, &r);

    sw_event_t ev = ev_at("FR-IT", AT(10, 0), 1);
    assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_UNKNOWN_SECTION);
    /* a sub-section is another section */
    ev = ev_at("AT-DE/north", AT(10, 0), 1);
    assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_UNKNOWN_SECTION);
    assert_int_equal(sw_engine_stats(e)->unknown_section, 2);
    assert_int_equal(sw_engine_stats(e)->events, 0);
    /* rejected events do not move the watermark */
    assert_true(sw_engine_watermark(e, 0) == INT64_MIN);
    push_ok(e, 0, "AT-DE", AT(10, 0), 1);
    sw_engine_advance(e, 0, AT(11, 0));
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].section, "AT-DE");
    assert_int_equal(sw_engine_stats(e)->keys, 1);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* An override applies to its section only. */
static void test_section_override(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    sw_profile_t def = prof_threshold(1, 100);
    struct sw_profile_override ov[2];
    memset(ov, 0, sizeof(ov));
    strcpy(ov[0].section, "HR-SI");
    ov[0].profile = prof_threshold(1, 5);
    strcpy(ov[1].section, "HU-RS");
    ov[1].profile = prof_threshold(1, 20);
    sw_profiles_t ps = profiles_of(&def);
    ps.n = 2;
    ps.v = ov;
    sw_engine_t *e = engine_new(&c, &ps, &r);

    push_ok(e, 0, "AT-DE", AT(0, 10), 10);
    push_ok(e, 0, "HR-SI", AT(0, 10), 10);
    push_ok(e, 0, "HR-SI/karlovac", AT(0, 10), 10); /* default profile */
    push_ok(e, 0, "HU-RS", AT(0, 10), 10);
    sw_engine_advance(e, 0, AT(1, 0));
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].alert_id, "HR-SI:threshold:2019-03-04T00:00Z");
    assert_true(r.v[0].threshold == 5);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* -------------------------------------------- 7. profiles at run time */

/* A lower limit applies from the next evaluation, over counts that came
 * before the change. */
static void test_set_profiles_keeps_counts(void **state)
{
    (void)state;
    rec_t r = {0};
    char err[256];
    sw_engine_conf_t c = conf_hourly(HOUR);
    sw_engine_t *e = threshold_engine(&c, 3, 100, &r);

    push_ok(e, 0, "AT-DE", AT(0, 10), 4);
    push_ok(e, 0, "AT-DE", AT(1, 10), 4);
    push_ok(e, 0, "AT-DE", AT(2, 10), 4);
    assert_int_equal(r.n, 0);
    sw_profile_t p = prof_threshold(3, 10);
    sw_profiles_t ps = profiles_of(&p);
    assert_int_equal(sw_engine_set_profiles(e, &ps, err, sizeof(err)), 0);
    assert_int_equal(r.n, 0);
    push_ok(e, 0, "AT-DE", AT(3, 0), 1);
    assert_int_equal(r.n, 1);
    expect_alert(&r.v[0], "AT-DE:threshold:2019-03-04T02:00Z", SW_ALERT_RAISED,
                 AT(0, 0), AT(3, 0), 12);
    assert_true(r.v[0].threshold == 10);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* A detector a section no longer runs resolves its active alert. */
static void test_set_profiles_disable_resolves(void **state)
{
    (void)state;
    rec_t r = {0};
    char err[256];
    sw_engine_conf_t c = conf_hourly(HOUR);
    sw_engine_t *e = threshold_engine(&c, 1, 10, &r);

    push_ok(e, 0, "AT-DE", AT(0, 10), 12);
    push_ok(e, 0, "AT-DE", AT(1, 10), 12);
    assert_int_equal(r.n, 1);
    sw_profile_t p = prof_none();
    p.enabled[SW_DET_EARS_C1] = 1;
    sw_profiles_t ps = profiles_of(&p);
    assert_int_equal(sw_engine_set_profiles(e, &ps, err, sizeof(err)), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.v[1].alert_id, r.v[0].alert_id);
    assert_int_equal(r.v[1].state, SW_ALERT_RESOLVED);
    assert_int_equal(r.v[1].retracted, 0);
    /* and it stays silent */
    push_ok(e, 0, "AT-DE", AT(2, 10), 50);
    push_ok(e, 0, "AT-DE", AT(3, 10), 50);
    for (size_t i = 2; i < r.n; i++)
        assert_int_not_equal(r.v[i].detector, SW_DET_THRESHOLD);
    /* enabled again, it starts from a clean state */
    sw_profile_t q = prof_threshold(1, 10);
    ps = profiles_of(&q);
    assert_int_equal(sw_engine_set_profiles(e, &ps, err, sizeof(err)), 0);
    size_t before = r.n;
    push_ok(e, 0, "AT-DE", AT(4, 10), 1);
    assert_int_equal(r.n, before + 1);
    assert_string_equal(r.v[before].alert_id,
                        "AT-DE:threshold:2019-03-04T03:00Z");
    assert_int_equal(r.v[before].state, SW_ALERT_RAISED);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* Longer than the ring, or invalid: refused with a message, and the old
 * profiles stay. */
static void test_set_profiles_refused(void **state)
{
    (void)state;
    rec_t r = {0};
    char err[256];
    sw_engine_conf_t c;
    sw_engine_conf_default(&c);
    sw_engine_t *e = threshold_engine(&c, 1, 3, &r);

    sw_profile_t p = prof_none();
    p.enabled[SW_DET_CUSUM] = 1;
    p.params[SW_DET_CUSUM].history = 250;
    sw_profiles_t ps = profiles_of(&p);
    err[0] = '\0';
    assert_int_equal(sw_engine_set_profiles(e, &ps, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "max_lookback"));

    p = prof_threshold(1, 0); /* limit must be > 0 */
    ps = profiles_of(&p);
    err[0] = '\0';
    assert_int_equal(sw_engine_set_profiles(e, &ps, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "limit"));

    push_ok(e, 0, "AT-DE", T0 + HOUR, 3);
    sw_engine_advance(e, 0, T0 + DAY);
    assert_int_equal(r.n, 1);
    assert_true(r.v[0].threshold == 3);
    sw_engine_destroy(&e);
    rec_free(&r);

    /* the same profile fits an engine created with a larger max_lookback */
    c.max_lookback = 300;
    e = threshold_engine(&c, 1, 3, &r);
    p = prof_none();
    p.enabled[SW_DET_CUSUM] = 1;
    p.params[SW_DET_CUSUM].history = 250;
    ps = profiles_of(&p);
    if (sw_engine_set_profiles(e, &ps, err, sizeof(err)) != 0)
        fail_msg("set_profiles: %s", err);
    sw_engine_destroy(&e);
    rec_free(&r);
}

static void test_engine_new_refuses_bad_conf(void **state)
{
    (void)state;
    char err[256];
    sw_profile_t p = prof_threshold(1, 1);
    sw_profiles_t ps = profiles_of(&p);
    sw_engine_conf_t c;
    sw_engine_conf_default(&c);
    c.bucket_ms = 7 * MINUTE; /* does not divide a day */
    assert_null(sw_engine_new(&c, &ps, err, sizeof(err)));
    assert_non_null(strstr(err, "bucket"));
    sw_engine_conf_default(&c);
    c.lateness_ms = 8 * DAY;
    assert_null(sw_engine_new(&c, &ps, err, sizeof(err)));
    assert_non_null(strstr(err, "lateness"));
    sw_engine_conf_default(&c);
    c.raise_after = 0;
    assert_null(sw_engine_new(&c, &ps, err, sizeof(err)));
    assert_non_null(strstr(err, "raise_after"));
    sw_engine_conf_default(&c);
    p.levels[1] = 1.2; /* below levels[0] */
    ps = profiles_of(&p);
    assert_null(sw_engine_new(&c, &ps, err, sizeof(err)));
    assert_non_null(strstr(err, "levels"));
}

/* ----------------------------------------------------- 8. checkpoints */

static void *save_part(sw_engine_t *e, int32_t part, size_t *len)
{
    void *data = sw_engine_save(e, part, len);
    assert_non_null(data);
    assert_true(*len > 8);
    return data;
}

static void expect_same_alert_at(int line, size_t i, const sw_alert_t *a,
                                 const sw_alert_t *b)
{
    if (strcmp(a->alert_id, b->alert_id) != 0 || a->state != b->state ||
        strcmp(a->section, b->section) != 0 || a->type != b->type ||
        a->detector != b->detector || a->level != b->level ||
        a->window_start != b->window_start || a->window_end != b->window_end ||
        a->observed != b->observed || a->expected != b->expected ||
        a->score != b->score || a->threshold != b->threshold ||
        a->raised_at != b->raised_at || a->at != b->at ||
        a->retracted != b->retracted)
        fail_msg("line %d: transition %zu differs:\n  %s %s level %d "
                 "[%lld,%lld) obs %g exp %g score %g thr %g raised %lld at "
                 "%lld retr %d\n  %s %s level %d [%lld,%lld) obs %g exp %g "
                 "score %g thr %g raised %lld at %lld retr %d",
                 line, i, a->alert_id, sw_alert_state_name(a->state),
                 (int)a->level, (long long)a->window_start,
                 (long long)a->window_end, a->observed, a->expected, a->score,
                 a->threshold, (long long)a->raised_at, (long long)a->at,
                 a->retracted, b->alert_id, sw_alert_state_name(b->state),
                 (int)b->level, (long long)b->window_start,
                 (long long)b->window_end, b->observed, b->expected, b->score,
                 b->threshold, (long long)b->raised_at, (long long)b->at,
                 b->retracted);
}
#define expect_same_alert(i, a, b) expect_same_alert_at(__LINE__, i, a, b)

/* Events of the checkpoint cases: two sections, 30 hours, a surge. */
static size_t ckpt_events(sw_event_t *out, size_t max)
{
    uint64_t s = 42;
    size_t n = 0;
    for (int h = 0; h < 30; h++) {
        for (int k = 0; k < 2; k++) {
            int m = 2 + (int)rnd_below(&s, 4) + (k == 0 && h >= 20 ? 12 : 0);
            for (int j = 0; j < m && n < max; j++) {
                char id[24];
                snprintf(id, sizeof(id), "c%zu", n);
                int64_t ts = AT(h, 0) + (int64_t)rnd_below(&s, HOUR);
                out[n++] =
                    ev_full(k ? "HU-RS" : "AT-DE", ts, 1, "AT", id,
                            (sw_event_type_t)rnd_below(&s, SW_TYPE__COUNT));
            }
        }
    }
    /* in time order (insertion sort: small) */
    for (size_t i = 1; i < n; i++) {
        sw_event_t x = out[i];
        size_t j = i;
        while (j > 0 && out[j - 1].ts_ms > x.ts_ms) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = x;
    }
    return n;
}

static sw_engine_t *ckpt_engine(rec_t *r, int64_t bucket_ms)
{
    sw_engine_conf_t c = conf_hourly(3 * HOUR);
    c.bucket_ms = bucket_ms;
    c.by_type = 1;
    sw_profile_t p = prof_threshold(3, 12);
    p.enabled[SW_DET_EARS_C1] = 1;
    p.params[SW_DET_EARS_C1].baseline = 4;
    sw_profiles_t ps = profiles_of(&p);
    return engine_new(&c, &ps, r);
}

/* A saved partition loaded into a new engine goes on exactly as the
 * original, duplicates across the checkpoint included. */
static void test_checkpoint_round_trip(void **state)
{
    (void)state;
    static sw_event_t evs[1000];
    size_t n = ckpt_events(evs, 1000);
    size_t mid = n / 2;
    rec_t ra = {0}, rb = {0};
    char err[256];
    sw_engine_t *a = ckpt_engine(&ra, HOUR);
    for (size_t i = 0; i < mid; i++)
        assert_int_equal(sw_engine_push(a, 0, &evs[i]), SW_REASON_NONE);
    size_t len;
    void *data = save_part(a, 0, &len);
    size_t told = ra.n;

    sw_engine_t *b = ckpt_engine(&rb, HOUR);
    if (sw_engine_load(b, 0, data, len, err, sizeof(err)) != 0)
        fail_msg("load: %s", err);
    assert_true(sw_engine_watermark(b, 0) == sw_engine_watermark(a, 0));
    /* the last event before the checkpoint again: a duplicate for both */
    assert_int_equal(sw_engine_push(a, 0, &evs[mid - 1]), SW_REASON_NONE);
    assert_int_equal(sw_engine_push(b, 0, &evs[mid - 1]), SW_REASON_NONE);
    assert_int_equal(sw_engine_stats(a)->duplicates, 1);
    assert_int_equal(sw_engine_stats(b)->duplicates, 1);
    for (size_t i = mid; i < n; i++) {
        assert_int_equal(sw_engine_push(a, 0, &evs[i]), SW_REASON_NONE);
        assert_int_equal(sw_engine_push(b, 0, &evs[i]), SW_REASON_NONE);
    }
    sw_engine_advance(a, -1, AT(40, 0));
    sw_engine_advance(b, -1, AT(40, 0));
    assert_true(ra.n > told);
    assert_int_equal(rb.n, ra.n - told);
    for (size_t i = 0; i < rb.n; i++)
        expect_same_alert(i, &ra.v[told + i], &rb.v[i]);
    /* the same state saves to the same size */
    size_t la, lb;
    void *da = save_part(a, 0, &la), *db = save_part(b, 0, &lb);
    assert_int_equal(la, lb);
    free(da);
    free(db);
    /* a partition never seen saves as empty and loads as such */
    void *empty = save_part(a, 5, &la);
    assert_int_equal(sw_engine_load(b, 5, empty, la, err, sizeof(err)), 0);
    assert_true(sw_engine_watermark(b, 5) == INT64_MIN);
    free(empty);
    free(data);
    sw_engine_destroy(&a);
    sw_engine_destroy(&b);
    rec_free(&ra);
    rec_free(&rb);
}

/* Another bucket size, another lateness, another format: refused with a
 * message. */
static void test_checkpoint_incompatible(void **state)
{
    (void)state;
    static sw_event_t evs[1000];
    size_t n = ckpt_events(evs, 1000);
    rec_t r = {0}, r2 = {0};
    char err[256];
    sw_engine_t *a = ckpt_engine(&r, HOUR);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sw_engine_push(a, 0, &evs[i]), SW_REASON_NONE);
    size_t len;
    unsigned char *data = save_part(a, 0, &len);

    sw_engine_t *b = ckpt_engine(&r2, 30 * MINUTE);
    err[0] = '\0';
    assert_int_equal(sw_engine_load(b, 0, data, len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bucket"));
    sw_engine_destroy(&b);

    sw_engine_conf_t c = conf_hourly(2 * DAY);
    sw_profile_t p = prof_threshold(3, 12);
    sw_profiles_t ps = profiles_of(&p);
    b = engine_new(&c, &ps, &r2);
    err[0] = '\0';
    assert_int_equal(sw_engine_load(b, 0, data, len, err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);

    data[0] = 'X';
    err[0] = '\0';
    assert_int_equal(sw_engine_load(b, 0, data, len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "checkpoint"));
    data[0] = 'S';
    data[4] = 0x7f; /* version 127 */
    err[0] = '\0';
    assert_int_equal(sw_engine_load(b, 0, data, len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "version"));
    sw_engine_destroy(&b);
    free(data);
    sw_engine_destroy(&a);
    rec_free(&r);
    rec_free(&r2);
}

/* Feeds an engine after a load that was accepted, whatever its content:
 * it must not crash. */
static void exercise_after_load(sw_engine_t *e)
{
    sw_event_t ev = ev_at("AT-DE", AT(31, 0), 3);
    (void)sw_engine_push(e, 0, &ev);
    ev = ev_at("HU-RS", AT(28, 0), 3);
    (void)sw_engine_push(e, 0, &ev);
    sw_engine_settle(e);
    sw_engine_advance(e, 0, AT(36, 0));
    size_t len;
    void *again = sw_engine_save(e, 0, &len);
    free(again);
}

/* Every truncation is refused; the partition is then empty and the engine
 * still works. */
static void test_checkpoint_truncated(void **state)
{
    (void)state;
    static sw_event_t evs[1000];
    size_t n = ckpt_events(evs, 1000);
    rec_t r = {0}, r2 = {0};
    char err[256];
    sw_engine_t *a = ckpt_engine(&r, HOUR);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sw_engine_push(a, 0, &evs[i]), SW_REASON_NONE);
    size_t len;
    unsigned char *data = save_part(a, 0, &len);
    sw_engine_t *b = ckpt_engine(&r2, HOUR);
    for (size_t cut = 0; cut < len; cut++) {
        /* an allocation of exactly cut bytes: ASan sees any over-read */
        unsigned char *part = malloc(cut ? cut : 1);
        assert_non_null(part);
        memcpy(part, data, cut);
        err[0] = '\0';
        if (sw_engine_load(b, 0, part, cut, err, sizeof(err)) != -1)
            fail_msg("a checkpoint cut to %zu of %zu bytes was accepted", cut,
                     len);
        if (err[0] == '\0')
            fail_msg("cut to %zu bytes: no message", cut);
        assert_true(sw_engine_watermark(b, 0) == INT64_MIN);
        free(part);
    }
    assert_int_equal(sw_engine_stats(b)->keys, 0);
    if (sw_engine_load(b, 0, data, len, err, sizeof(err)) != 0)
        fail_msg("load: %s", err);
    assert_true(sw_engine_watermark(b, 0) == sw_engine_watermark(a, 0));
    assert_int_equal(sw_engine_stats(b)->keys, sw_engine_stats(a)->keys);
    exercise_after_load(b);
    free(data);
    sw_engine_destroy(&a);
    sw_engine_destroy(&b);
    rec_free(&r);
    rec_free(&r2);
}

/* Byte flips: refused, or accepted when they still parse; never a crash,
 * neither in load nor in the engine fed afterwards. */
static void test_checkpoint_byte_flips(void **state)
{
    (void)state;
    static sw_event_t evs[1000];
    size_t n = ckpt_events(evs, 1000);
    rec_t r = {0}, r2 = {0};
    char err[256];
    sw_engine_t *a = ckpt_engine(&r, HOUR);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sw_engine_push(a, 0, &evs[i]), SW_REASON_NONE);
    size_t len;
    unsigned char *data = save_part(a, 0, &len);
    unsigned char *copy = malloc(len);
    assert_non_null(copy);
    uint64_t s = 7;
    int accepted = 0, refused = 0;
    /* each byte once, then 300 times up to 3 bytes anywhere */
    for (size_t t = 0; t < len + 300; t++) {
        memcpy(copy, data, len);
        int flips = t < len ? 1 : 1 + (int)rnd_below(&s, 3);
        for (int f = 0; f < flips; f++)
            copy[t < len ? t : rnd_below(&s, len)] ^=
                (unsigned char)(1 + rnd_below(&s, 255));
        sw_engine_t *b = ckpt_engine(&r2, HOUR);
        err[0] = '\0';
        if (sw_engine_load(b, 0, copy, len, err, sizeof(err)) == 0) {
            accepted++;
            exercise_after_load(b);
        } else {
            refused++;
            assert_true(err[0] != '\0');
        }
        sw_engine_destroy(&b);
        rec_free(&r2);
    }
    assert_true(refused > 0);
    print_message("byte flips in %zu bytes: %d accepted, %d refused\n", len,
                  accepted, refused);
    free(copy);
    free(data);
    sw_engine_destroy(&a);
    rec_free(&r);
}

/* ------------------------------------------------ 9. property tests */

/* A generated event set: several sections, a realistic mix (mostly single
 * persons, some groups, all types), duplicates (the same event twice),
 * ids reused by another source, a surge in the middle, a spike, a surge at
 * the very end (alerts still active when the run stops) and a sparse
 * section. In time order. */
typedef struct gen {
    sw_event_t *v;
    size_t n, cap;
} gen_t;

static void gen_add(gen_t *g, const sw_event_t *ev)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 1024;
        g->v = realloc(g->v, g->cap * sizeof(*g->v));
        assert_non_null(g->v);
    }
    g->v[g->n++] = *ev;
}

static int cmp_ts(const void *pa, const void *pb)
{
    const sw_event_t *a = pa, *b = pb;
    if (a->ts_ms != b->ts_ms)
        return a->ts_ms < b->ts_ms ? -1 : 1;
    /* ids are unique per (src, id); the order of equal times is fixed */
    int c = strcmp(a->id, b->id);
    return c ? c : strcmp(a->src, b->src);
}

static void gen_events(gen_t *g, uint64_t seed, int64_t bucket, int nb,
                       double scale)
{
    static const char *const sections[] = {"AT-DE", "AT-HU", "BG-TR/kap_1",
                                           "GR-TR", "HR-SI/karlovac"};
    static const double rate[] = {6, 3, 10, 1.2, 4};
    static const char *const srcs[] = {"AT", "DE", "HU", "BG", "GR"};
    uint64_t s = seed;
    size_t serial = 0;
    for (int b = 0; b < nb; b++) {
        for (int k = 0; k < 5; k++) {
            double lambda = rate[k] * scale;
            if (k == 0 && b >= nb / 2 && b < nb / 2 + 4)
                lambda *= 6; /* a surge */
            if (k == 1 && b == (3 * nb) / 4)
                lambda *= 10; /* a spike */
            if (k == 2 && b >= nb - 5)
                lambda *= 4; /* a surge at the end */
            if (k == 3 && (b / 7) % 3 == 1)
                lambda = 0; /* a section quiet for weeks */
            /* weekly rhythm and noise */
            lambda *= 1.0 + 0.3 * ((b % 7) == 5 || (b % 7) == 6);
            int m = (int)(lambda * (0.4 + 1.2 * rnd_unit(&s)) + 0.5);
            for (int j = 0; j < m; j++) {
                char id[24];
                snprintf(id, sizeof(id), "g%zu", serial++);
                int64_t ts = T0 + b * bucket + (int64_t)rnd_below(&s, bucket);
                uint32_t count = 1;
                if (rnd_below(&s, 10) == 0)
                    count += (uint32_t)rnd_below(&s, 6);
                sw_event_type_t type =
                    rnd_below(&s, 3)
                        ? SW_TYPE_IRREGULAR_CROSSING
                        : (sw_event_type_t)rnd_below(&s, SW_TYPE__COUNT);
                sw_event_t ev = ev_full(sections[k], ts, count,
                                        srcs[rnd_below(&s, 5)], id, type);
                gen_add(g, &ev);
                uint64_t u = rnd_below(&s, 100);
                if (u < 3) {
                    gen_add(g, &ev); /* the same event again */
                } else if (u < 5) {
                    /* the same id from another source */
                    ev.src[0] = ev.src[0] == 'Z' ? 'Y' : 'Z';
                    gen_add(g, &ev);
                }
            }
        }
    }
    qsort(g->v, g->n, sizeof(*g->v), cmp_ts);
}

typedef struct prop_conf {
    const char *name;
    int64_t bucket;
    int nb; /* buckets of events */
    int64_t lateness;
    uint32_t raise_after, resolve_after;
    double scale; /* events per bucket */
    int perms;
} prop_conf_t;

static sw_engine_t *prop_engine(const prop_conf_t *pc, rec_t *r)
{
    sw_engine_conf_t c;
    sw_engine_conf_default(&c);
    c.bucket_ms = pc->bucket;
    c.lateness_ms = pc->lateness;
    c.raise_after = pc->raise_after;
    c.resolve_after = pc->resolve_after;
    c.by_type = 1;
    sw_profile_t p;
    sw_profile_default(&p); /* ears_c2 and cusum */
    p.enabled[SW_DET_THRESHOLD] = 1;
    p.params[SW_DET_THRESHOLD].window = 3;
    p.params[SW_DET_THRESHOLD].limit = 40 * pc->scale;
    sw_profiles_t ps = profiles_of(&p);
    return engine_new(&c, &ps, r);
}

/* What stands at the end for each alert id: its last transition. */
enum { ST_ACTIVE = 1, ST_RESOLVED, ST_RETRACTED };

typedef struct standing {
    const char *id;
    size_t seq;
    int status;
} standing_t;

static int cmp_standing(const void *pa, const void *pb)
{
    const standing_t *a = pa, *b = pb;
    int c = strcmp(a->id, b->id);
    if (c)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Fills *out with one entry per id that is not retracted, sorted by id.
 * Returns how many. */
static size_t standing_of(const rec_t *r, standing_t **out)
{
    standing_t *all = calloc(r->n + 1, sizeof(*all));
    assert_non_null(all);
    for (size_t i = 0; i < r->n; i++) {
        const sw_alert_t *a = &r->v[i];
        all[i].id = a->alert_id;
        all[i].seq = i;
        all[i].status = a->state != SW_ALERT_RESOLVED ? ST_ACTIVE
                        : a->retracted                ? ST_RETRACTED
                                                      : ST_RESOLVED;
    }
    qsort(all, r->n, sizeof(*all), cmp_standing);
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (i + 1 < r->n && strcmp(all[i].id, all[i + 1].id) == 0)
            continue; /* not the last word on this id */
        if (all[i].status != ST_RETRACTED)
            all[k++] = all[i];
    }
    *out = all;
    return k;
}

static const char *status_name(int st)
{
    return st == ST_ACTIVE ? "active" : st == ST_RESOLVED ? "resolved" : "-";
}

static void expect_same_standing(const char *what, int perm, const rec_t *a,
                                 const rec_t *b)
{
    standing_t *sa, *sb;
    size_t na = standing_of(a, &sa), nb = standing_of(b, &sb);
    size_t i = 0, j = 0;
    char diff[2048];
    size_t dl = 0;
    int bad = 0;
    diff[0] = '\0';
    while (i < na || j < nb) {
        int c = i == na ? 1 : j == nb ? -1 : strcmp(sa[i].id, sb[j].id);
        if (c == 0 && sa[i].status == sb[j].status) {
            i++, j++;
            continue;
        }
        bad++;
        if (dl < sizeof(diff) - 200) {
            if (c < 0)
                dl += (size_t)snprintf(diff + dl, sizeof(diff) - dl,
                                       "\n  %s: %s in order, absent here",
                                       sa[i].id, status_name(sa[i].status));
            else if (c > 0)
                dl += (size_t)snprintf(diff + dl, sizeof(diff) - dl,
                                       "\n  %s: absent in order, %s here",
                                       sb[j].id, status_name(sb[j].status));
            else
                dl += (size_t)snprintf(diff + dl, sizeof(diff) - dl,
                                       "\n  %s: %s in order, %s here", sa[i].id,
                                       status_name(sa[i].status),
                                       status_name(sb[j].status));
        }
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
    }
    free(sa);
    free(sb);
    if (bad)
        fail_msg("%s, permutation %d: %d alerts stand differently:%s", what,
                 perm, bad, diff);
}

typedef struct arrival {
    int64_t key;
    size_t idx;
} arrival_t;

static int cmp_arrival(const void *pa, const void *pb)
{
    const arrival_t *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* An arrival order where every event is displaced by less than the
 * lateness: sorted by time plus a jitter in [0, lateness / 2]. */
static void arrival_order(const gen_t *g, int64_t lateness, uint64_t seed,
                          size_t *order)
{
    arrival_t *a = malloc(g->n * sizeof(*a));
    assert_non_null(a);
    uint64_t s = seed;
    for (size_t i = 0; i < g->n; i++) {
        a[i].key =
            g->v[i].ts_ms + (int64_t)rnd_below(&s, (uint64_t)lateness / 2 + 1);
        a[i].idx = i;
    }
    qsort(a, g->n, sizeof(*a), cmp_arrival);
    for (size_t i = 0; i < g->n; i++)
        order[i] = a[i].idx;
    free(a);
}

#define BATCH 50

/* Pushes g->v[order[from .. to)] (order NULL: time order), settling after
 * every BATCH-th event counted from 0; no event may be rejected. */
static void feed(sw_engine_t *e, const gen_t *g, const size_t *order,
                 size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        const sw_event_t *ev = &g->v[order ? order[i] : i];
        sw_reason_t why = sw_engine_push(e, 0, ev);
        if (why != SW_REASON_NONE)
            fail_msg("event %zu (%s %s) rejected: %s", i, ev->id, ev->section,
                     sw_reason_name(why));
        if ((i + 1) % BATCH == 0)
            sw_engine_settle(e);
    }
}

static int64_t final_watermark(const prop_conf_t *pc)
{
    /* the last bucket of events closes; surges at the end still stand */
    return T0 + pc->nb * pc->bucket;
}

static void finish(sw_engine_t *e, const prop_conf_t *pc)
{
    sw_engine_settle(e);
    sw_engine_advance(e, -1, final_watermark(pc));
    sw_engine_settle(e);
}

static void count_alerts(const rec_t *r, int *by_kind, int *active_at_end)
{
    standing_t *st;
    size_t n = standing_of(r, &st);
    *active_at_end = 0;
    for (size_t i = 0; i < n; i++)
        *active_at_end += st[i].status == ST_ACTIVE;
    free(st);
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].state == SW_ALERT_RAISED)
            by_kind[r->v[i].detector]++;
}

/* Property (a): any arrival order within the lateness gives the alerts of
 * the time-ordered run. */
static void check_any_order(const prop_conf_t *pc, uint64_t seed)
{
    gen_t g = {0};
    gen_events(&g, seed, pc->bucket, pc->nb, pc->scale);
    rec_t ra = {0};
    sw_engine_t *a = prop_engine(pc, &ra);
    feed(a, &g, NULL, 0, g.n);
    finish(a, pc);
    const sw_engine_stats_t *sa = sw_engine_stats(a);
    assert_int_equal(sa->retracted, 0);
    assert_int_equal(sa->late_updates, 0);
    for (size_t i = 0; i < ra.n; i++)
        assert_int_equal(ra.v[i].retracted, 0);
    int by_kind[SW_DET__COUNT] = {0}, active = 0;
    count_alerts(&ra, by_kind, &active);
    /* the case is not vacuous: every detector alarmed, some stand */
    if (by_kind[SW_DET_THRESHOLD] == 0 || by_kind[SW_DET_EARS_C2] == 0 ||
        by_kind[SW_DET_CUSUM] == 0 || active == 0)
        fail_msg("%s: too few alerts (threshold %d, ears_c2 %d, cusum %d, "
                 "active at the end %d)",
                 pc->name, by_kind[SW_DET_THRESHOLD], by_kind[SW_DET_EARS_C2],
                 by_kind[SW_DET_CUSUM], active);
    assert_true(sa->duplicates > 0);

    size_t *order = malloc(g.n * sizeof(*order));
    assert_non_null(order);
    uint64_t late_updates = 0, retracted = 0;
    for (int perm = 0; perm < pc->perms; perm++) {
        arrival_order(&g, pc->lateness, seed * 1000 + (uint64_t)perm, order);
        rec_t rb = {0};
        sw_engine_t *b = prop_engine(pc, &rb);
        feed(b, &g, order, 0, g.n);
        finish(b, pc);
        const sw_engine_stats_t *sb = sw_engine_stats(b);
        assert_int_equal(sb->events, sa->events);
        assert_int_equal(sb->duplicates, sa->duplicates);
        late_updates += sb->late_updates;
        retracted += sb->retracted;
        expect_same_standing(pc->name, perm, &ra, &rb);
        sw_engine_destroy(&b);
        rec_free(&rb);
    }
    /* the permutations did exercise late data */
    assert_true(late_updates > 0);
    print_message("%s: %zu events, %zu transitions in order; %d orders with "
                  "%llu late updates, %llu retractions\n",
                  pc->name, g.n, ra.n, pc->perms,
                  (unsigned long long)late_updates,
                  (unsigned long long)retracted);
    free(order);
    sw_engine_destroy(&a);
    rec_free(&ra);
    free(g.v);
}

static const prop_conf_t prop_daily = {
    .name = "daily",
    .bucket = DAY,
    .nb = 60,
    .lateness = 3 * DAY,
    .raise_after = 1,
    .resolve_after = 2,
    .scale = 1,
    .perms = 20,
};

/* Hourly with a lateness of 40 buckets: snapshots every 2 buckets, N = 2,
 * M = 1 (flapping: many transitions to reconcile). */
static const prop_conf_t prop_hourly = {
    .name = "hourly",
    .bucket = HOUR,
    .nb = 14 * 24,
    .lateness = 40 * HOUR,
    .raise_after = 2,
    .resolve_after = 1,
    .scale = 0.5,
    .perms = 8,
};

static void test_property_any_order_daily(void **state)
{
    (void)state;
    check_any_order(&prop_daily, 1);
    check_any_order(&prop_daily, 2);
}

static void test_property_any_order_hourly(void **state)
{
    (void)state;
    check_any_order(&prop_hourly, 3);
}

/* Property (b): a replay from a checkpoint at any midpoint continues the
 * straight run exactly. order NULL: time order; else that arrival order,
 * with midpoints on batch boundaries (where the straight run settles). */
static void check_replay_from_midpoints(const prop_conf_t *pc, uint64_t seed,
                                        int permuted)
{
    gen_t g = {0};
    gen_events(&g, seed, pc->bucket, pc->nb, pc->scale);
    size_t *order = NULL;
    if (permuted) {
        order = malloc(g.n * sizeof(*order));
        assert_non_null(order);
        arrival_order(&g, pc->lateness, seed + 77, order);
    }
    rec_t rs = {0};
    sw_engine_t *s = prop_engine(pc, &rs);
    feed(s, &g, order, 0, g.n);
    finish(s, pc);
    assert_true(rs.n > 20);

    size_t mids[12];
    int nm = 0;
    uint64_t rs_seed = seed + 5;
    mids[nm++] = 1;
    mids[nm++] = g.n - 1;
    for (int i = 1; i <= 8; i++)
        mids[nm++] = g.n * (size_t)i / 9;
    mids[nm++] = (size_t)rnd_below(&rs_seed, g.n);
    mids[nm++] = (size_t)rnd_below(&rs_seed, g.n);
    for (int i = 0; i < nm; i++) {
        size_t m = mids[i];
        if (permuted) /* on a batch boundary */
            m = m < BATCH ? BATCH : m - m % BATCH;
        rec_t rc = {0}, rd = {0};
        char err[256];
        sw_engine_t *c = prop_engine(pc, &rc);
        feed(c, &g, order, 0, m);
        size_t len;
        void *data = save_part(c, 0, &len);
        sw_engine_destroy(&c);
        sw_engine_t *d = prop_engine(pc, &rd);
        if (sw_engine_load(d, 0, data, len, err, sizeof(err)) != 0)
            fail_msg("midpoint %zu: load: %s", m, err);
        free(data);
        feed(d, &g, order, m, g.n);
        finish(d, pc);
        if (rc.n + rd.n != rs.n)
            fail_msg("%s midpoint %zu of %zu: %zu + %zu transitions, the "
                     "straight run has %zu",
                     pc->name, m, g.n, rc.n, rd.n, rs.n);
        for (size_t j = 0; j < rs.n; j++)
            expect_same_alert(j, &rs.v[j],
                              j < rc.n ? &rc.v[j] : &rd.v[j - rc.n]);
        sw_engine_destroy(&d);
        rec_free(&rc);
        rec_free(&rd);
    }
    free(order);
    sw_engine_destroy(&s);
    rec_free(&rs);
    free(g.v);
}

static void test_property_replay_from_midpoint(void **state)
{
    (void)state;
    check_replay_from_midpoints(&prop_daily, 11, 0);
    check_replay_from_midpoints(&prop_hourly, 12, 0);
}

static void test_property_replay_from_midpoint_late_order(void **state)
{
    (void)state;
    check_replay_from_midpoints(&prop_daily, 13, 1);
    check_replay_from_midpoints(&prop_hourly, 14, 1);
}

/* ------------------------------------------------ batches, partitions */

/* sw_engine_push_batch gives exactly what one sw_engine_push per event
 * gives: the same results per event and the same transitions, field by
 * field, with late events, duplicates and by_type keys in the mix. */
static void test_batch_equals_single_pushes(void **state)
{
    (void)state;
    enum { N = 20000 };
    static sw_event_t evs[N];
    static const sw_event_t *ptrs[N];
    uint64_t seed = 77;
    static const char *const secs[] = {"HU-RS", "GR-MK", "BA-HR", "HR-SI",
                                       "AL-GR"};
    for (size_t i = 0; i < N; i++) {
        char id[32];
        /* every 50th event repeats an earlier id: a duplicate */
        snprintf(id, sizeof(id), "b-%zu", i % 50 == 49 ? i - 7 : i);
        int64_t ts = T0 + (int64_t)i * 6 * MINUTE -
                     (int64_t)rnd_below(&seed, 30) * HOUR; /* some late */
        evs[i] = ev_full(secs[rnd_below(&seed, 5)], ts,
                         1 + (uint32_t)rnd_below(&seed, 9), "HU", id,
                         (sw_event_type_t)rnd_below(&seed, SW_TYPE__COUNT));
        ptrs[i] = &evs[i];
    }
    sw_profile_t p = prof_threshold(3, 120);
    p.enabled[SW_DET_EARS_C2] = 1;
    p.enabled[SW_DET_CUSUM] = 1;
    sw_profiles_t ps = profiles_of(&p);
    rec_t one = {0}, many = {0};
    sw_engine_conf_t c1 = conf_hourly(DAY), c2 = conf_hourly(DAY);
    c1.by_type = c2.by_type = 1;
    sw_engine_t *e1 = engine_new(&c1, &ps, &one);
    sw_engine_t *e2 = engine_new(&c2, &ps, &many);
    static sw_reason_t r2[N];
    size_t late = 0;
    for (size_t i = 0; i < N; i += 97) {
        size_t n = N - i < 97 ? N - i : 97;
        for (size_t j = i; j < i + n; j++) {
            sw_reason_t r1 = sw_engine_push(e1, 0, &evs[j]);
            late += r1 == SW_REASON_LATE;
        }
        sw_engine_settle(e1);
        sw_engine_push_batch(e2, 0, &ptrs[i], n, &r2[i]);
        sw_engine_settle(e2);
    }
    assert_true(late > 0);
    assert_int_equal(sw_engine_stats(e1)->duplicates,
                     sw_engine_stats(e2)->duplicates);
    assert_true(sw_engine_stats(e1)->duplicates > 0);
    assert_int_equal(sw_engine_stats(e1)->late, sw_engine_stats(e2)->late);
    assert_int_equal(sw_engine_stats(e1)->events, sw_engine_stats(e2)->events);
    size_t late2 = 0;
    for (size_t i = 0; i < N; i++)
        late2 += r2[i] == SW_REASON_LATE;
    assert_int_equal(late, late2);
    assert_true(one.n > 10);
    assert_int_equal(one.n, many.n);
    for (size_t i = 0; i < one.n; i++)
        expect_same_alert_at(__LINE__, i, &one.v[i], &many.v[i]);
    sw_engine_destroy(&e1);
    sw_engine_destroy(&e2);
    rec_free(&one);
    rec_free(&many);
}

/* A section that shows up on two partitions keeps separate windows, each
 * closed by its own partition's watermark. */
static void test_section_on_two_partitions(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(0);
    sw_engine_t *e = threshold_engine(&c, 1, 10, &r);
    push_ok(e, 0, "HU-RS", AT(0, 10), 6);
    push_ok(e, 1, "HU-RS", AT(0, 20), 6);
    sw_engine_advance(e, 0, AT(1, 0));
    sw_engine_advance(e, 1, AT(1, 0));
    /* 6 + 6 would reach 10 if the windows were shared */
    assert_int_equal(r.n, 0);
    assert_int_equal(sw_engine_stats(e)->keys, 2);
    push_ok(e, 1, "HU-RS", AT(1, 5), 12);
    sw_engine_advance(e, 1, AT(2, 0));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].observed, 12);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* Events of different sources are never taken for duplicates of one
 * another, whatever their ids: ("HR", "s-125") and ("HU", "s-122") once
 * were (the source bytes cancelled id bytes in the hash). */
static void test_dedup_sources_and_ids_distinct(void **state)
{
    (void)state;
    rec_t r = {0};
    sw_engine_conf_t c = conf_hourly(HOUR);
    sw_engine_t *e = threshold_engine(&c, 1, 1e9, &r);
    sw_event_t a = ev_full("HR-RS", AT(1, 0), 1, "HR", "s-125",
                           SW_TYPE_IRREGULAR_CROSSING);
    sw_event_t b = ev_full("HR-RS", AT(1, 1), 1, "HU", "s-122",
                           SW_TYPE_IRREGULAR_CROSSING);
    assert_int_equal(sw_engine_push(e, 0, &a), SW_REASON_NONE);
    assert_int_equal(sw_engine_push(e, 0, &b), SW_REASON_NONE);
    assert_int_equal(sw_engine_stats(e)->duplicates, 0);
    /* every pair of six sources and 900 ids of one shape, in one bucket */
    static const char *const srcs[] = {"HU", "HR", "GR", "RS", "MK", "AT"};
    uint64_t n = 2;
    for (int id = 100; id < 1000; id++)
        for (size_t k = 0; k < sizeof(srcs) / sizeof(srcs[0]); k++) {
            char ids[16];
            snprintf(ids, sizeof(ids), "t-%d", id);
            sw_event_t ev = ev_full("HR-RS", AT(2, 0), 1, srcs[k], ids,
                                    SW_TYPE_IRREGULAR_CROSSING);
            assert_int_equal(sw_engine_push(e, 0, &ev), SW_REASON_NONE);
            n++;
        }
    assert_int_equal(sw_engine_stats(e)->duplicates, 0);
    assert_int_equal(sw_engine_stats(e)->events, n);
    /* the same pair again: both are duplicates */
    assert_int_equal(sw_engine_push(e, 0, &a), SW_REASON_NONE);
    assert_int_equal(sw_engine_push(e, 0, &b), SW_REASON_NONE);
    assert_int_equal(sw_engine_stats(e)->duplicates, 2);
    sw_engine_destroy(&e);
    rec_free(&r);
}

/* ------------------------------------------------- the on_bucket hook */

typedef struct bucket_rec {
    char section[SW_SECTION_MAX + 1];
    int32_t partition;
    int64_t start_ms;
    uint32_t count;
    double expected, bound;
    int alarm;
} bucket_rec_t;

typedef struct hooks {
    rec_t alerts;
    bucket_rec_t v[512];
    size_t n;
} hooks_t;

static void hooks_alert(void *opaque, const sw_alert_t *a)
{
    rec_alert(&((hooks_t *)opaque)->alerts, a);
}

static void hooks_bucket(void *opaque, const sw_bucket_t *b)
{
    hooks_t *h = opaque;
    if (h->n == sizeof(h->v) / sizeof(h->v[0]))
        fail_msg("more on_bucket calls than the test expects");
    /* section_len bytes, NUL-terminated */
    assert_true(b->section_len >= 1 && b->section_len <= SW_SECTION_MAX);
    assert_int_equal(strlen(b->section), b->section_len);
    bucket_rec_t *r = &h->v[h->n++];
    memcpy(r->section, b->section, b->section_len + 1);
    r->partition = b->partition;
    r->start_ms = b->start_ms;
    r->count = b->count;
    r->expected = b->expected;
    r->bound = b->bound;
    r->alarm = b->alarm;
}

static sw_engine_t *hooks_engine(sw_engine_conf_t *conf,
                                 const sw_profile_t *def, hooks_t *h)
{
    char err[256];
    sw_profiles_t ps = profiles_of(def);
    conf->on_alert = hooks_alert;
    conf->on_bucket = hooks_bucket;
    conf->opaque = h;
    sw_engine_t *e = sw_engine_new(conf, &ps, err, sizeof(err));
    if (e == NULL)
        fail_msg("sw_engine_new: %s", err);
    return e;
}

/* NAN equals NAN here */
static int same_num(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* The i-th recorded call is (section, hour, count, bound, alarm); expected
 * is NAN (a threshold profile has no baseline). */
static void expect_bucket_at(int line, const hooks_t *h, size_t i,
                             const char *section, int hour, uint32_t count,
                             double bound, int alarm)
{
    if (i >= h->n)
        fail_msg("line %d: call %zu of %zu", line, i, h->n);
    const bucket_rec_t *b = &h->v[i];
    if (strcmp(b->section, section) != 0 || b->start_ms != AT(hour, 0) ||
        b->count != count || !same_num(b->bound, bound) || b->alarm != alarm ||
        !isnan(b->expected) || b->partition != 0)
        fail_msg("line %d: call %zu is %s %lld count %u bound %g alarm %d "
                 "expected %g part %d; wanted %s hour %d count %u bound %g "
                 "alarm %d",
                 line, i, b->section, (long long)(b->start_ms - T0) / HOUR,
                 b->count, b->bound, b->alarm, b->expected, b->partition,
                 section, hour, count, bound, alarm);
}
#define expect_bucket(h, i, sec, hour, count, bound, alarm)                    \
    expect_bucket_at(__LINE__, h, i, sec, hour, count, bound, alarm)

/* Every closed bucket of a section is reported once, in order, with its
 * count, bound and alarm; (section, type) keys are not; a late event
 * reports its bucket and the ones after it again, with the new figures. */
static void test_on_bucket_closed_and_late(void **state)
{
    (void)state;
    static hooks_t h;
    memset(&h, 0, sizeof(h));
    /* a lateness of 100 h: snapshots every 4 buckets, so the replay after
     * the late event below starts before its bucket, at hour 0 */
    sw_engine_conf_t c = conf_hourly(100 * HOUR);
    c.by_type = 1;
    /* threshold: the last two hours >= 9; bound = 9 - previous hour */
    sw_profile_t p = prof_threshold(2, 9);
    sw_engine_t *e = hooks_engine(&c, &p, &h);

    push_ok(e, 0, "AT-DE", AT(0, 30), 3);
    push_ok(e, 0, "HU-RS", AT(0, 40), 1);
    assert_int_equal(h.n, 0);             /* nothing closed yet */
    push_ok(e, 0, "AT-DE", AT(2, 10), 8); /* closes hours 0 and 1 */
    assert_int_equal(h.n, 4);
    /* hour 0: one bucket of history, window 2: not evaluable, no bound */
    expect_bucket(&h, 0, "AT-DE", 0, 3, NAN, 0);
    expect_bucket(&h, 1, "AT-DE", 1, 0, 6, 0);
    expect_bucket(&h, 2, "HU-RS", 0, 1, NAN, 0);
    expect_bucket(&h, 3, "HU-RS", 1, 0, 8, 0);
    push_ok(e, 0, "HU-RS", AT(2, 20), 2);
    push_ok(e, 0, "AT-DE", AT(3, 5), 1); /* closes hour 2 */
    assert_int_equal(h.n, 6);
    expect_bucket(&h, 4, "AT-DE", 2, 8, 9, 0);
    expect_bucket(&h, 5, "HU-RS", 2, 2, 9, 0);
    sw_engine_advance(e, 0, AT(4, 0));
    assert_int_equal(h.n, 8);
    expect_bucket(&h, 6, "AT-DE", 3, 1, 1, 1); /* 8 + 1 >= 9 */
    expect_bucket(&h, 7, "HU-RS", 3, 0, 7, 0);
    /* raised on AT-DE and on its (section, type) key */
    assert_int_equal(h.alerts.n, 2);

    /* 5 late into hour 1 of AT-DE: hours 1 and 2 again (the window of 2
     * reaches hour 1 from hour 2); not hour 0 before it, not hour 3, whose
     * window does not reach it, not HU-RS, nothing for the (section, type)
     * keys */
    push_ok(e, 0, "AT-DE", AT(1, 30), 5);
    assert_int_equal(sw_engine_stats(e)->late_updates, 2); /* + type key */
    assert_int_equal(h.n, 10);
    expect_bucket(&h, 8, "AT-DE", 1, 5, 6, 0);
    expect_bucket(&h, 9, "AT-DE", 2, 8, 4, 1); /* 5 + 8 >= 9 */
    sw_engine_settle(e);
    assert_int_equal(h.n, 10);

    /* a long quiet stretch: a few buckets while the history still holds
     * events and the alert resolves, then nothing */
    sw_engine_advance(e, 0, AT(100, 0));
    assert_true(h.n > 10 && h.n < 10 + 12);
    int64_t last[2] = {AT(3, 0), AT(3, 0)};
    for (size_t i = 10; i < h.n; i++) {
        int s = strcmp(h.v[i].section, "AT-DE") == 0 ? 0 : 1;
        if (h.v[i].start_ms != last[s] + HOUR)
            fail_msg("call %zu: %s bucket %lld after %lld", i, h.v[i].section,
                     (long long)h.v[i].start_ms, (long long)last[s]);
        last[s] = h.v[i].start_ms;
        assert_int_equal(h.v[i].count, 0);
    }
    sw_engine_destroy(&e);
    rec_free(&h.alerts);
}

/* After a late event, exactly the buckets whose lookback reaches its
 * bucket are reported again: with a window of 3, that bucket and the two
 * after it. */
static void test_on_bucket_late_reach(void **state)
{
    (void)state;
    static hooks_t h;
    memset(&h, 0, sizeof(h));
    sw_engine_conf_t c = conf_hourly(100 * HOUR);
    sw_profile_t p = prof_threshold(3, 9); /* bound = 9 - the two before */
    sw_engine_t *e = hooks_engine(&c, &p, &h);
    for (int i = 0; i < 8; i++)
        push_ok(e, 0, "BA-HR", AT(i, 10), 1);
    sw_engine_advance(e, 0, AT(8, 0));
    assert_int_equal(h.n, 8);
    expect_bucket(&h, 0, "BA-HR", 0, 1, NAN, 0);
    expect_bucket(&h, 1, "BA-HR", 1, 1, NAN, 0);
    expect_bucket(&h, 2, "BA-HR", 2, 1, 7, 0);
    expect_bucket(&h, 7, "BA-HR", 7, 1, 7, 0);
    push_ok(e, 0, "BA-HR", AT(3, 20), 3); /* hour 3: 4 */
    assert_int_equal(h.n, 11);
    expect_bucket(&h, 8, "BA-HR", 3, 4, 7, 0);
    expect_bucket(&h, 9, "BA-HR", 4, 1, 4, 0);  /* 9 - (1 + 4) */
    expect_bucket(&h, 10, "BA-HR", 5, 1, 4, 0); /* 9 - (4 + 1) */
    sw_engine_destroy(&e);
    rec_free(&h.alerts);
}

/* expected is the first evaluable per-bucket baseline (ears_c1, ears_c2,
 * ears_c3, cusum, ewma); bound is the smallest of the detectors' bounds;
 * both are what sw_detector_eval / sw_detector_bound give on the series. */
static void test_on_bucket_expected_and_bound(void **state)
{
    (void)state;
    static const uint32_t counts[] = {
        4, 6, 5, 7, 3,  5, 6, 4, 5, 6, 30, 5, 40, 60, 80, 6, 5,  4, 7, 3,
        5, 6, 5, 4, 90, 5, 6, 7, 8, 4, 5,  6, 7,  5,  4,  6, 50, 5, 6, 4};
    const size_t n = sizeof(counts) / sizeof(counts[0]);
    /* ears_c2 (lookback 10), cusum (37) and threshold (1, limit 70):
     * ears_c2 gives expected from bucket 9 on; threshold bounds every
     * bucket by 70 */
    sw_profile_t p = prof_threshold(1, 70);
    p.enabled[SW_DET_EARS_C2] = 1;
    p.enabled[SW_DET_CUSUM] = 1;
    for (int variant = 0; variant < 2; variant++) {
        static hooks_t h;
        memset(&h, 0, sizeof(h));
        if (variant == 1) /* without ears_c2: cusum's from bucket 36 on */
            p.enabled[SW_DET_EARS_C2] = 0;
        sw_engine_conf_t c = conf_hourly(0);
        c.resolve_after = 1;
        sw_engine_t *e = hooks_engine(&c, &p, &h);
        for (size_t i = 0; i < n; i++)
            push_ok(e, 0, "GR-MK", AT(i, 30), counts[i]);
        sw_engine_advance(e, 0, AT(n, 0));
        assert_int_equal(h.n, n);
        int alarms = 0, with_expected = 0;
        for (size_t i = 0; i < n; i++) {
            const bucket_rec_t *b = &h.v[i];
            assert_int_equal(b->start_ms, AT(i, 0));
            assert_int_equal(b->count, counts[i]);
            double want_exp = NAN, want_bound = NAN;
            int want_alarm = 0;
            static const int order[] = {SW_DET_EARS_C1, SW_DET_EARS_C2,
                                        SW_DET_EARS_C3, SW_DET_CUSUM,
                                        SW_DET_EWMA};
            for (size_t j = 0; j < 5; j++) {
                int k = order[j];
                sw_detector_result_t r;
                sw_detector_eval(&p.params[k], counts, i + 1, &r);
                if (p.enabled[k] && r.evaluable) {
                    want_exp = r.expected;
                    break;
                }
            }
            for (int k = 0; k < (int)SW_DET__COUNT; k++) {
                if (!p.enabled[k])
                    continue;
                sw_detector_result_t r;
                sw_detector_eval(&p.params[k], counts, i + 1, &r);
                want_alarm |= r.evaluable && r.alarm;
                double bd;
                if (sw_detector_bound(&p.params[k], counts, i + 1, &bd) == 0 &&
                    (isnan(want_bound) || bd < want_bound))
                    want_bound = bd;
            }
            if (!same_num(b->expected, want_exp) ||
                !same_num(b->bound, want_bound) || b->alarm != want_alarm)
                fail_msg("variant %d bucket %zu: expected %g bound %g alarm "
                         "%d; wanted %g %g %d",
                         variant, i, b->expected, b->bound, b->alarm, want_exp,
                         want_bound, want_alarm);
            alarms += b->alarm;
            with_expected += !isnan(b->expected);
            /* the threshold bounds every bucket: never above 70 */
            assert_true(b->bound <= 70);
        }
        /* the series reaches every case: alarming buckets (the surges of
         * 30 to 90, fewer without ears_c2), and expected from the first
         * bucket ears_c2 (10 counts) or cusum (37) can evaluate */
        assert_int_equal(alarms, variant == 0 ? 6 : 3);
        assert_int_equal(with_expected,
                         variant == 0 ? (int)n - 9 : (int)n - 36);
        assert_true(isnan(h.v[8].expected));
        sw_engine_destroy(&e);
        rec_free(&h.alerts);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_equals_single_pushes),
        cmocka_unit_test(test_section_on_two_partitions),
        cmocka_unit_test(test_counts_land_in_buckets),
        cmocka_unit_test(test_bucket_closes_at_its_end),
        cmocka_unit_test(test_alert_fields),
        cmocka_unit_test(test_alert_id_by_type),
        cmocka_unit_test(test_partitions_have_own_watermarks),
        cmocka_unit_test(test_watermark_jump_closes_with_old_counts),
        cmocka_unit_test(test_late_event_rejected),
        cmocka_unit_test(test_late_event_settles_to_straight_run),
        cmocka_unit_test(test_late_event_retracts_alert),
        cmocka_unit_test(test_late_event_reopens_resolved_alert),
        cmocka_unit_test(test_late_events_merge_many_alerts),
        cmocka_unit_test(test_late_events_resolve_alert_told_active),
        cmocka_unit_test(test_late_replay_reads_its_own_buckets),
        cmocka_unit_test(test_idle_watermark),
        cmocka_unit_test(test_duplicates_counted_once),
        cmocka_unit_test(test_dedup_bounded_over_time),
        cmocka_unit_test(test_dedup_overflow_counted),
        cmocka_unit_test(test_raise_after_two),
        cmocka_unit_test(test_resolve_after_three),
        cmocka_unit_test(test_drop_partition),
        cmocka_unit_test(test_oscillation_does_not_flap),
        cmocka_unit_test(test_oscillation_flaps_with_m1),
        cmocka_unit_test(test_updated_on_change_only),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_strict_rejects_unknown_section),
        cmocka_unit_test(test_section_override),
        cmocka_unit_test(test_set_profiles_keeps_counts),
        cmocka_unit_test(test_set_profiles_disable_resolves),
        cmocka_unit_test(test_set_profiles_refused),
        cmocka_unit_test(test_engine_new_refuses_bad_conf),
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_checkpoint_incompatible),
        cmocka_unit_test(test_checkpoint_truncated),
        cmocka_unit_test(test_checkpoint_byte_flips),
        cmocka_unit_test(test_property_any_order_daily),
        cmocka_unit_test(test_property_any_order_hourly),
        cmocka_unit_test(test_property_replay_from_midpoint),
        cmocka_unit_test(test_property_replay_from_midpoint_late_order),
        cmocka_unit_test(test_dedup_sources_and_ids_distinct),
        cmocka_unit_test(test_on_bucket_closed_and_late),
        cmocka_unit_test(test_on_bucket_late_reach),
        cmocka_unit_test(test_on_bucket_expected_and_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
