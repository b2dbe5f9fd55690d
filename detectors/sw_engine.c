/*
 * sw_engine: windows, watermarks, lateness, de-duplication, evaluation and
 * the alert state machines. See sw_engine.h for the semantics.
 *
 * Layout. Keys live in one open-addressing table (by section and type);
 * each key also sits in its partition's list, which bucket closing walks.
 * A key is one allocation: the struct, then its ring of R bucket counts,
 * then K snapshots of its state machines (taken every S buckets) for
 * replays after late events. Nothing is allocated per event.
 */
#include "sw_engine.h"
#include "sw_profile_eval.h"
#include "sw_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKIND SW_DET__COUNT

enum { PH_IDLE, PH_PENDING, PH_ACTIVE, PH_RESOLVING };

/* One alert state machine. */
typedef struct sm {
    int64_t start;     /* bucket where the current alarm run began */
    int64_t raised_at; /* ms */
    float score;       /* score at the last emitted raise/update */
    uint8_t phase;
    uint8_t run;
    uint8_t level;
    uint8_t pad;
} sm_t;

/* What has been told to the outside for one (key, detector). */
typedef struct emitted {
    int64_t start; /* of the active alert */
    int64_t raised_at;
    float score;
    uint8_t active;
    uint8_t level;
} emitted_t;

/* The fields every event touches come first, in the first cache line (the
 * key is allocated 64-byte aligned); the section id fills the second. */
typedef struct key {
    uint64_t hash;
    uint32_t *ring; /* R counts, right after the struct */
    int64_t first;  /* first bucket with data */
    int64_t head;   /* newest bucket held in the ring */
    int64_t last_nonzero;
    int64_t next_eval;  /* buckets below have been evaluated */
    int64_t dirty_from; /* INT64_MAX when no late data waits */
    int32_t partition;
    int8_t type; /* -1: all types of the section */
    uint8_t section_len;
    char section[SW_SECTION_MAX + 1];
    const sw_profile_t *profile;
    uint32_t lookback;
    sm_t sm[NKIND];
    emitted_t em[NKIND];
    uint32_t tseq[NKIND]; /* transitions emitted, per detector */
    int64_t *snap_tag;    /* K: bucket after which the snapshot was taken */
    sm_t *snap;           /* K x NKIND */
    uint8_t *told;        /* NKIND x R bits, see told_get() */
} wkey_t;

typedef struct dedup_entry {
    uint64_t h; /* 0: empty */
    int64_t bucket;
} dedup_entry_t;

typedef struct part {
    int64_t wm;     /* watermark, ms; INT64_MIN before any event */
    int64_t closed; /* buckets <= closed are closed */
    uint64_t events_seen, events_at_tick;
    int64_t active_wall; /* wall clock when events were last seen */
    wkey_t **keys;
    size_t nkeys, cap;
    dedup_entry_t *dd;
    size_t dd_cap, dd_used;
    dedup_entry_t *dd_spare; /* same size as dd: purges reuse it */
    int64_t dd_purged;       /* expiry bucket of the last purge */
    /* the bucket of the latest time asked for: most events fall in the
     * bucket of the one before, which spares a 64-bit division */
    int64_t bc_lo, bc_hi, bc_b;
    int64_t dd_exp_lo, dd_exp_hi, dd_exp; /* the same for the dedup horizon */
} part_t;

struct sw_engine {
    sw_engine_conf_t conf;
    sw_profiles_t profiles; /* owned copy */
    int64_t B;              /* bucket ms */
    int64_t lateness_buckets;
    uint32_t R, K, S;
    /* keys */
    wkey_t **table;
    size_t table_cap, nkeys;
    part_t *parts;
    size_t nparts;
    /* late data */
    wkey_t **dirty;
    size_t ndirty, dirty_cap;
    /* replay output */
    struct replayed {
        sw_alert_t a;
        int64_t start;
        int kind;
    } * replay;
    size_t nreplay, replay_cap;
    int replaying;
    /* on_bucket while replaying: the buckets outside [from, to] were
     * reported with figures the replay does not change */
    int64_t report_from, report_to;
    sw_detector_result_t last_r[NKIND]; /* of the last evaluation */
    uint32_t scratch[SW_DETECTOR_MAX_LOOKBACK];
    sw_engine_stats_t stats;
};

static size_t key_bytes(const sw_engine_t *e);

/* ------------------------------------------------------------ helpers */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Hashes short strings (section ids, event ids: every event has two) with
 * whole-word loads: 8 bytes at a time, and the rest as one overlapping
 * load of the last bytes, so there is no byte loop and no memcpy call.
 * The words read cover every byte, so equal lengths and words mean equal
 * strings. */
static inline uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    const uint64_t m = UINT64_C(0x9e3779b97f4a7c15);
    uint64_t w;
    h ^= n * m;
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, s + i, 8);
            h = (h ^ w) * m;
            h ^= h >> 29;
        }
        if (i == n)
            return h;
        memcpy(&w, s + n - 8, 8); /* overlaps the last word */
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        w = (uint64_t)a | ((uint64_t)b << 32);
    } else if (n > 0) {
        w = (uint64_t)s[0] | ((uint64_t)s[n / 2] << 8) |
            ((uint64_t)s[n - 1] << 16);
    } else {
        return h;
    }
    h = (h ^ w) * m;
    h ^= h >> 29;
    return h;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

static uint32_t next_pow2(uint64_t v)
{
    uint32_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

const char *sw_alert_state_name(sw_alert_state_t state)
{
    static const char *const n[] = {"raised", "updated", "resolved"};
    return (unsigned)state < 3 ? n[state] : "?";
}

const char *sw_level_name(sw_level_t level)
{
    static const char *const n[] = {"low", "medium", "high", "critical"};
    return (unsigned)level < 4 ? n[level] : "?";
}

void sw_engine_conf_default(sw_engine_conf_t *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->bucket_ms = SW_MS_PER_DAY;
    conf->lateness_ms = SW_MS_PER_DAY;
    conf->idle_ms = 0;
    conf->raise_after = 1;
    conf->resolve_after = 2;
    conf->update_min_change = 0.1;
    conf->dedup_capacity = (size_t)1 << 20;
}

void sw_profile_default(sw_profile_t *p)
{
    memset(p, 0, sizeof(*p));
    for (int k = 0; k < NKIND; k++)
        sw_detector_params_default((sw_detector_kind_t)k, &p->params[k]);
    p->enabled[SW_DET_EARS_C2] = 1;
    p->enabled[SW_DET_CUSUM] = 1;
    p->levels[0] = 1.5;
    p->levels[1] = 2.5;
    p->levels[2] = 4.0;
}

static uint32_t profile_lookback(const sw_profile_t *p)
{
    size_t l = 1;
    for (int k = 0; k < NKIND; k++)
        if (p->enabled[k]) {
            size_t x = sw_detector_lookback(&p->params[k]);
            if (x > l)
                l = x;
        }
    return (uint32_t)l;
}

static int profile_check(const sw_profile_t *p, const char *where, char *errstr,
                         size_t errstr_size)
{
    char e[256];
    for (int k = 0; k < NKIND; k++) {
        if (!p->enabled[k])
            continue;
        if (p->params[k].kind != (sw_detector_kind_t)k) {
            snprintf(errstr, errstr_size, "%s: detector %s: wrong kind", where,
                     sw_detector_name((sw_detector_kind_t)k));
            return -1;
        }
        if (sw_detector_params_validate(&p->params[k], e, sizeof(e))) {
            snprintf(errstr, errstr_size, "%s: detector %s: %s", where,
                     sw_detector_name((sw_detector_kind_t)k), e);
            return -1;
        }
    }
    if (!(p->levels[0] >= 1 && p->levels[1] >= p->levels[0] &&
          p->levels[2] >= p->levels[1] && isfinite(p->levels[2]))) {
        snprintf(errstr, errstr_size,
                 "%s: levels %g / %g / %g: expected ascending boundaries "
                 ">= 1 for medium, high and critical",
                 where, p->levels[0], p->levels[1], p->levels[2]);
        return -1;
    }
    return 0;
}

static int cmp_override(const void *a, const void *b)
{
    return strcmp(((const struct sw_profile_override *)a)->section,
                  ((const struct sw_profile_override *)b)->section);
}

/* A copy with the overrides sorted by section, for binary search. */
static int profiles_copy(sw_profiles_t *dst, const sw_profiles_t *src)
{
    *dst = *src;
    dst->v = NULL;
    if (src->n == 0)
        return 0;
    dst->v = malloc(src->n * sizeof(*dst->v));
    if (dst->v == NULL)
        return -1;
    memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
    qsort(dst->v, dst->n, sizeof(*dst->v), cmp_override);
    return 0;
}

/* The profile of a section, or NULL when strict and not listed. Later
 * duplicates of a section in the list are ignored (the first wins). */
static const sw_profile_t *profile_for(const sw_profiles_t *ps,
                                       const char *section, size_t len)
{
    char key[SW_SECTION_MAX + 1];
    if (len > SW_SECTION_MAX)
        return ps->strict ? NULL : &ps->def;
    memcpy(key, section, len);
    key[len] = '\0';
    size_t lo = 0, hi = ps->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ps->v[mid].section, key);
        if (c == 0) {
            while (mid > 0 && strcmp(ps->v[mid - 1].section, key) == 0)
                mid--;
            return &ps->v[mid].profile;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return ps->strict ? NULL : &ps->def;
}

static int check_profiles(const sw_profiles_t *ps, uint32_t *max_lookback,
                          char *errstr, size_t errstr_size)
{
    if (profile_check(&ps->def, "default profile", errstr, errstr_size))
        return -1;
    uint32_t l = profile_lookback(&ps->def);
    for (size_t i = 0; i < ps->n; i++) {
        char where[80];
        snprintf(where, sizeof(where), "section %s", ps->v[i].section);
        if (!sw_section_valid(ps->v[i].section, strlen(ps->v[i].section))) {
            snprintf(errstr, errstr_size, "%s: not a valid section id", where);
            return -1;
        }
        if (profile_check(&ps->v[i].profile, where, errstr, errstr_size))
            return -1;
        uint32_t x = profile_lookback(&ps->v[i].profile);
        if (x > l)
            l = x;
    }
    *max_lookback = l;
    return 0;
}

/* -------------------------------------------------------- construction */

sw_engine_t *sw_engine_new(const sw_engine_conf_t *conf,
                           const sw_profiles_t *profiles, char *errstr,
                           size_t errstr_size)
{
    const int64_t day = SW_MS_PER_DAY;
    if (conf->bucket_ms < SW_MS_PER_MIN || conf->bucket_ms > day ||
        day % conf->bucket_ms != 0) {
        snprintf(errstr, errstr_size,
                 "bucket: %lld ms is not accepted (accepted: 1 minute to 1 "
                 "day, dividing a day evenly, e.g. 1m, 5m, 15m, 1h, 6h, 1d)",
                 (long long)conf->bucket_ms);
        return NULL;
    }
    if (conf->lateness_ms < 0 || conf->lateness_ms > 7 * day) {
        snprintf(errstr, errstr_size,
                 "lateness: %lld ms is out of range (accepted: 0 to 7 days)",
                 (long long)conf->lateness_ms);
        return NULL;
    }
    if (conf->idle_ms < 0) {
        snprintf(errstr, errstr_size, "idle: must not be negative");
        return NULL;
    }
    if (conf->raise_after < 1 || conf->raise_after > 100 ||
        conf->resolve_after < 1 || conf->resolve_after > 100) {
        snprintf(errstr, errstr_size,
                 "raise_after %u / resolve_after %u: out of range "
                 "(accepted: 1..100)",
                 conf->raise_after, conf->resolve_after);
        return NULL;
    }
    if (!(conf->update_min_change >= 0 && conf->update_min_change <= 100)) {
        snprintf(errstr, errstr_size,
                 "update_min_change: %g is out of range (accepted: 0..100)",
                 conf->update_min_change);
        return NULL;
    }
    uint32_t lookback;
    if (check_profiles(profiles, &lookback, errstr, errstr_size))
        return NULL;
    sw_engine_t *e = calloc(1, sizeof(*e));
    if (e == NULL || profiles_copy(&e->profiles, profiles)) {
        free(e);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    e->conf = *conf;
    e->report_from = INT64_MIN;
    e->report_to = INT64_MAX;
    if (e->conf.dedup_capacity < 1024)
        e->conf.dedup_capacity = 1024;
    e->B = conf->bucket_ms;
    e->lateness_buckets = (conf->lateness_ms + e->B - 1) / e->B;
    uint32_t want =
        conf->max_lookback > lookback ? conf->max_lookback : lookback;
    if (want < 61)
        want = 61;
    if (want > SW_DETECTOR_MAX_LOOKBACK)
        want = SW_DETECTOR_MAX_LOOKBACK;
    e->S = (uint32_t)((e->lateness_buckets + 1 + 31) / 32);
    if (e->S == 0)
        e->S = 1;
    /* a replay after a late event starts up to S buckets before it and
     * reads a lookback before that: the ring holds all of it */
    e->R = next_pow2((uint64_t)want + (uint64_t)e->lateness_buckets + e->S + 3);
    e->K = next_pow2((uint64_t)(e->lateness_buckets + 1) / e->S + 4);
    return e;
}

void sw_engine_destroy(sw_engine_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    sw_engine_t *e = *self_p;
    for (size_t i = 0; i < e->table_cap; i++)
        free(e->table[i]);
    free(e->table);
    for (size_t p = 0; p < e->nparts; p++) {
        free(e->parts[p].keys);
        free(e->parts[p].dd);
        free(e->parts[p].dd_spare);
    }
    free(e->parts);
    free(e->dirty);
    free(e->replay);
    free(e->profiles.v);
    free(e);
    *self_p = NULL;
}

const sw_engine_stats_t *sw_engine_stats(sw_engine_t *self)
{
    size_t bytes = sizeof(*self) + self->table_cap * sizeof(self->table[0]) +
                   self->nkeys * key_bytes(self) +
                   self->nparts * sizeof(self->parts[0]) +
                   self->replay_cap * sizeof(self->replay[0]) +
                   self->dirty_cap * sizeof(self->dirty[0]);
    for (size_t i = 0; i < self->nparts; i++)
        bytes += self->parts[i].cap * sizeof(wkey_t *) +
                 self->parts[i].dd_cap * sizeof(dedup_entry_t) *
                     (self->parts[i].dd_spare ? 2 : 1);
    self->stats.state_bytes = bytes;
    return &self->stats;
}

/* -------------------------------------------------------------- alerts */

static sw_level_t level_of(const sw_profile_t *p, double score,
                           double threshold)
{
    double r = threshold > 0 ? score / threshold : score;
    if (!(r >= p->levels[0]))
        return SW_LEVEL_LOW;
    if (r < p->levels[1])
        return SW_LEVEL_MEDIUM;
    if (r < p->levels[2])
        return SW_LEVEL_HIGH;
    return SW_LEVEL_CRITICAL;
}

static void make_alert(const sw_engine_t *e, const wkey_t *k, int kind,
                       int64_t b, int64_t start, sw_alert_state_t state,
                       const sw_detector_result_t *r, sw_level_t level,
                       int64_t raised_at, int64_t at, sw_alert_t *a)
{
    /* "<section>[:<type>]:<detector>:2019-03-04T00:00Z", without printf:
     * transitions can be frequent */
    char *o = a->alert_id;
    memcpy(o, k->section, k->section_len);
    o += k->section_len;
    *o++ = ':';
    if (k->type >= 0) {
        const char *t = sw_event_type_name((sw_event_type_t)k->type);
        size_t n = strlen(t);
        memcpy(o, t, n);
        o += n;
        *o++ = ':';
    }
    const char *dn = sw_detector_name((sw_detector_kind_t)kind);
    size_t dl = strlen(dn);
    memcpy(o, dn, dl);
    o += dl;
    *o++ = ':';
    char ts[SW_TIME_STR_MAX];
    sw_time_format(start * e->B, ts);
    memcpy(o, ts, 16); /* "2019-03-04T00:00" */
    o[16] = 'Z';
    o[17] = '\0';
    a->state = state;
    memcpy(a->section, k->section, (size_t)k->section_len + 1);
    a->type = k->type;
    a->detector = (sw_detector_kind_t)kind;
    a->level = level;
    const sw_detector_params_t *p = &k->profile->params[kind];
    int64_t w = (kind == SW_DET_THRESHOLD || kind == SW_DET_RATIO)
                    ? (int64_t)p->window
                    : 1;
    a->window_start = (b - w + 1) * e->B;
    a->window_end = (b + 1) * e->B;
    a->observed = r->observed;
    a->expected = r->expected;
    a->score = r->score;
    a->threshold = r->threshold;
    a->raised_at = raised_at;
    a->at = at;
    a->retracted = 0;
}

/* The told bits: one per (detector, bucket of the ring), set while an
 * alert raised in that bucket has been told and not retracted. They are
 * indexed by the raise bucket (start + raise_after - 1), which, unlike the
 * start, always lies among the buckets a replay re-evaluates: every alert
 * a replay may take back is found, however many there were. */
static uint8_t *told_byte(const sw_engine_t *e, const wkey_t *k, int kind,
                          int64_t raised_in, uint8_t *bit)
{
    uint64_t x = (uint64_t)raised_in & (e->R - 1);
    *bit = (uint8_t)(1u << (x & 7));
    return &k->told[(size_t)kind * (e->R / 8) + x / 8];
}

static int64_t raise_bucket(const sw_engine_t *e, int64_t start)
{
    return start + (int64_t)e->conf.raise_after - 1;
}

static int told_get(const sw_engine_t *e, const wkey_t *k, int kind,
                    int64_t raised_in)
{
    uint8_t bit;
    return (*told_byte(e, k, kind, raised_in, &bit) & bit) != 0;
}

static void told_set(const sw_engine_t *e, wkey_t *k, int kind,
                     int64_t raised_in, int on)
{
    uint8_t bit;
    uint8_t *t = told_byte(e, k, kind, raised_in, &bit);
    *t = (uint8_t)(on ? *t | bit : *t & ~bit);
}

/* Tells the outside, and remembers what it was told. */
static void emit(sw_engine_t *e, wkey_t *k, int kind, const sw_alert_t *a,
                 int64_t start)
{
    emitted_t *em = &k->em[kind];
    switch (a->state) {
    case SW_ALERT_RAISED:
        em->active = 1;
        em->start = start;
        em->raised_at = a->raised_at;
        told_set(e, k, kind, raise_bucket(e, start), 1);
        break;
    case SW_ALERT_UPDATED:
        break;
    case SW_ALERT_RESOLVED:
        em->active = 0;
        break;
    }
    em->level = (uint8_t)a->level;
    em->score = (float)a->score;
    e->stats.alerts[a->state]++;
    if (a->retracted)
        e->stats.retracted++;
    uint32_t tseq = ++k->tseq[kind];
    if (e->conf.on_alert) {
        sw_alert_t out = *a;
        out.tseq = tseq;
        e->conf.on_alert(e->conf.opaque, &out);
    }
}

/* A transition of the state machine: emitted now, or kept for the
 * reconciliation when replaying. */
static void transition(sw_engine_t *e, wkey_t *k, int kind, int64_t b,
                       int64_t start, sw_alert_state_t state,
                       const sw_detector_result_t *r, sw_level_t level,
                       int64_t raised_at, int64_t at)
{
    if (!e->replaying) {
        sw_alert_t a;
        make_alert(e, k, kind, b, start, state, r, level, raised_at, at, &a);
        emit(e, k, kind, &a, start);
        return;
    }
    if (e->nreplay == e->replay_cap) {
        size_t cap = e->replay_cap ? 2 * e->replay_cap : 64;
        struct replayed *na = realloc(e->replay, cap * sizeof(*na));
        if (na == NULL)
            return; /* out of memory: this transition is lost */
        e->replay = na;
        e->replay_cap = cap;
    }
    struct replayed *rp = &e->replay[e->nreplay++];
    make_alert(e, k, kind, b, start, state, r, level, raised_at, at, &rp->a);
    rp->start = start;
    rp->kind = kind;
}

static int sm_active(const sm_t *s)
{
    return s->phase == PH_ACTIVE || s->phase == PH_RESOLVING;
}

/* One evaluation result into one state machine. */
static void sm_step(sw_engine_t *e, wkey_t *k, int kind, int64_t b,
                    const sw_detector_result_t *r, int64_t at)
{
    sm_t *s = &k->sm[kind];
    int alarm = r->evaluable && r->alarm;
    sw_level_t level = level_of(k->profile, r->score, r->threshold);
    uint32_t N = e->conf.raise_after, M = e->conf.resolve_after;
    switch (s->phase) {
    case PH_IDLE:
    case PH_PENDING:
        if (!alarm) {
            s->phase = PH_IDLE;
            s->run = 0;
            return;
        }
        if (s->phase == PH_IDLE) {
            s->start = b;
            s->run = 0;
        }
        s->run++;
        if (s->run < N) {
            s->phase = PH_PENDING;
            return;
        }
        s->phase = PH_ACTIVE;
        s->run = 0;
        /* the end of the bucket that raised it: a function of the counts,
         * not of when the next event happened to arrive, so that a replay,
         * another partitioning or backtest gives the same value */
        s->raised_at = (b + 1) * e->B;
        s->level = (uint8_t)level;
        s->score = (float)r->score;
        transition(e, k, kind, b, s->start, SW_ALERT_RAISED, r, level,
                   s->raised_at, at);
        return;
    case PH_ACTIVE:
    case PH_RESOLVING:
        if (alarm) {
            s->phase = PH_ACTIVE;
            s->run = 0;
            double old = s->score;
            if (level != s->level ||
                fabs(r->score - old) >
                    e->conf.update_min_change * fabs(old) + 1e-9) {
                s->level = (uint8_t)level;
                s->score = (float)r->score;
                transition(e, k, kind, b, s->start, SW_ALERT_UPDATED, r, level,
                           s->raised_at, at);
            }
            return;
        }
        s->run++;
        if (s->run < M) {
            s->phase = PH_RESOLVING;
            return;
        }
        s->phase = PH_IDLE;
        s->run = 0;
        transition(e, k, kind, b, s->start, SW_ALERT_RESOLVED, r,
                   (sw_level_t)s->level, s->raised_at, at);
        return;
    }
}

/* ---------------------------------------------------------------- keys */

static void ring_advance(const sw_engine_t *e, wkey_t *k, int64_t b)
{
    if (b <= k->head)
        return;
    int64_t from = k->head + 1;
    if (b - from >= (int64_t)e->R)
        from = b - e->R + 1;
    for (int64_t x = from; x <= b; x++) {
        k->ring[(uint64_t)x & (e->R - 1)] = 0;
        for (int kind = 0; kind < NKIND; kind++)
            told_set(e, k, kind, x, 0);
    }
    k->head = b;
}

static int key_idle(const wkey_t *k)
{
    for (int i = 0; i < NKIND; i++)
        if (k->sm[i].phase != PH_IDLE)
            return 0;
    return 1;
}

static void snapshot(const sw_engine_t *e, wkey_t *k, int64_t b)
{
    if ((uint64_t)(b + 1) % e->S != 0)
        return;
    uint32_t slot = (uint32_t)((uint64_t)b / e->S) & (e->K - 1);
    k->snap_tag[slot] = b;
    memcpy(&k->snap[(size_t)slot * NKIND], k->sm, sizeof(k->sm));
}

/* Tells on_bucket about section bucket b of k, whose detectors just gave
 * r[] (for the enabled ones) on the n counts in e->scratch. */
static void report_bucket(sw_engine_t *e, const wkey_t *k, int64_t b,
                          const sw_detector_result_t *r, size_t n)
{
    sw_bucket_eval_t ev;
    sw_bucket_figures(k->profile, r, e->scratch, n, &ev);
    sw_bucket_t out;
    out.section = k->section;
    out.section_len = k->section_len;
    out.partition = k->partition;
    out.start_ms = b * e->B;
    out.count = e->scratch[n - 1];
    out.expected = ev.expected;
    out.bound = ev.bound;
    out.alarm = ev.alarm;
    e->conf.on_bucket(e->conf.opaque, &out);
}

/* Evaluates every detector of k on closed bucket b. */
static void eval_bucket(sw_engine_t *e, wkey_t *k, int64_t b, int64_t at)
{
    ring_advance(e, k, b);
    int64_t lo = b - (int64_t)k->lookback + 1;
    if (lo < k->first)
        lo = k->first;
    size_t n = (size_t)(b - lo + 1);
    for (size_t i = 0; i < n; i++)
        e->scratch[i] = k->ring[(uint64_t)(lo + (int64_t)i) & (e->R - 1)];
    sw_detector_result_t rs[NKIND];
    for (int kind = 0; kind < NKIND; kind++) {
        if (!k->profile->enabled[kind])
            continue;
        sw_detector_result_t *r = &rs[kind];
        sw_detector_eval_valid(&k->profile->params[kind], e->scratch, n, r);
        e->stats.evaluations++;
        e->last_r[kind] = *r;
        sm_step(e, k, kind, b, r, at);
    }
    if (e->conf.on_bucket && k->type < 0 && b >= e->report_from &&
        b <= e->report_to)
        report_bucket(e, k, b, rs, n);
    snapshot(e, k, b);
}

/* Evaluates k's closed buckets up to `upto`, skipping stretches where the
 * key is idle and its whole lookback holds no event. */
static void eval_upto(sw_engine_t *e, wkey_t *k, int64_t upto, int64_t at)
{
    int64_t b = k->next_eval > k->first ? k->next_eval : k->first;
    for (; b <= upto; b++) {
        if (k->last_nonzero < b - (int64_t)k->lookback + 1 && key_idle(k)) {
            /* nothing can alarm from here to upto: idle snapshots */
            int64_t from = b;
            int64_t span = (int64_t)e->K * e->S;
            if (upto - from > span)
                from = upto - span;
            for (int64_t x = from; x <= upto; x++)
                snapshot(e, k, x);
            ring_advance(e, k, upto);
            break;
        }
        eval_bucket(e, k, b, at);
    }
    if (upto + 1 > k->next_eval)
        k->next_eval = upto + 1;
}

static part_t *get_part(sw_engine_t *e, int32_t p)
{
    if (p >= 0 && (size_t)p < e->nparts)
        return &e->parts[p];
    if (p < 0)
        return NULL;
    if ((size_t)p >= e->nparts) {
        size_t n = (size_t)p + 1;
        part_t *np = realloc(e->parts, n * sizeof(*np));
        if (np == NULL)
            return NULL;
        for (size_t i = e->nparts; i < n; i++) {
            memset(&np[i], 0, sizeof(np[i]));
            np[i].wm = INT64_MIN;
            np[i].closed = INT64_MIN;
            np[i].dd_purged = INT64_MIN;
            np[i].bc_lo = 0;
            np[i].bc_hi = 0; /* empty: the first lookup divides */
            np[i].dd_exp_lo = np[i].dd_exp_hi = 0;
        }
        e->parts = np;
        e->nparts = n;
    }
    return &e->parts[p];
}

static size_t key_bytes(const sw_engine_t *e)
{
    return sizeof(wkey_t) + e->R * sizeof(uint32_t) + e->K * sizeof(int64_t) +
           (size_t)e->K * NKIND * sizeof(sm_t) + (size_t)NKIND * (e->R / 8);
}

static int table_grow(sw_engine_t *e)
{
    size_t cap = e->table_cap ? 2 * e->table_cap : 1024;
    wkey_t **t = calloc(cap, sizeof(*t));
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < e->table_cap; i++) {
        wkey_t *k = e->table[i];
        if (k == NULL)
            continue;
        size_t j = k->hash & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = k;
    }
    free(e->table);
    e->table = t;
    e->table_cap = cap;
    return 0;
}

/* memcmp(a, b, n) == 0 for the short strings of section ids, with word
 * loads instead of a library call (ids are 5 to 40 bytes). */
static inline int same_bytes(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n < 8)
        return memcmp(a, b, n) == 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return 0;
    }
    if (i == n)
        return 1;
    memcpy(&x, a + n - 8, 8);
    memcpy(&y, b + n - 8, 8);
    return x == y;
}

static uint64_t section_hash(const char *section, size_t len)
{
    return hash_bytes(UINT64_C(0xcbf29ce484222325), section, len);
}

/* A key is (partition, section, type): a section seen on two partitions
 * (a producer with another partitioner) has separate windows on each, each
 * governed by its own partition's watermark and checkpoint. */
static uint64_t key_hash_of(uint64_t section_h, int32_t partition, int type)
{
    return mix(section_h ^ (uint64_t)(type + 2) ^
               ((uint64_t)(uint32_t)partition << 8));
}

static uint64_t key_hash(const char *section, size_t len, int32_t partition,
                         int type)
{
    return key_hash_of(section_hash(section, len), partition, type);
}

static uint64_t event_hash(const sw_event_t *ev)
{
    uint64_t src = (uint64_t)(unsigned char)ev->src[0] |
                   ((uint64_t)(unsigned char)ev->src[1] << 8);
    /* the source is mixed before the id is hashed onto it: xored into the
     * seed unmixed, its two bytes cancelled id bytes at the same bits,
     * and ("HR", "s-125") was a duplicate of ("HU", "s-122") */
    uint64_t h = mix(hash_bytes(mix(UINT64_C(0xcbf29ce484222325) ^ src), ev->id,
                                ev->id_len));
    return h ? h : 1;
}

static wkey_t *find_key(const sw_engine_t *e, const char *section, size_t len,
                        int32_t partition, int type, uint64_t h)
{
    if (e->table_cap == 0)
        return NULL;
    for (size_t j = h & (e->table_cap - 1);; j = (j + 1) & (e->table_cap - 1)) {
        wkey_t *k = e->table[j];
        if (k == NULL)
            return NULL;
        if (k->hash == h && k->type == type && k->section_len == len &&
            k->partition == partition && same_bytes(k->section, section, len))
            return k;
    }
}

static wkey_t *new_key(sw_engine_t *e, part_t *p, int32_t partition,
                       const char *section, size_t len, int type, uint64_t h,
                       const sw_profile_t *prof)
{
    if ((e->nkeys + 1) * 2 > e->table_cap && table_grow(e))
        return NULL;
    if (p->nkeys == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        wkey_t **nk = realloc(p->keys, cap * sizeof(*nk));
        if (nk == NULL)
            return NULL;
        p->keys = nk;
        p->cap = cap;
    }
    size_t bytes = (key_bytes(e) + 63) & ~(size_t)63;
    wkey_t *k = aligned_alloc(64, bytes);
    if (k == NULL)
        return NULL;
    memset(k, 0, bytes);
    k->hash = h;
    k->partition = partition;
    k->type = (int8_t)type;
    k->section_len = (uint8_t)len;
    memcpy(k->section, section, len);
    k->profile = prof;
    k->lookback = profile_lookback(prof);
    k->first = INT64_MAX;
    k->head = INT64_MIN / 2;
    k->next_eval = INT64_MIN;
    k->last_nonzero = INT64_MIN / 2;
    k->dirty_from = INT64_MAX;
    k->ring = (uint32_t *)(k + 1);
    k->snap_tag = (int64_t *)(k->ring + e->R);
    k->snap = (sm_t *)(k->snap_tag + e->K);
    k->told = (uint8_t *)(k->snap + (size_t)e->K * NKIND);
    for (uint32_t i = 0; i < e->K; i++)
        k->snap_tag[i] = INT64_MIN;
    size_t j = h & (e->table_cap - 1);
    while (e->table[j])
        j = (j + 1) & (e->table_cap - 1);
    e->table[j] = k;
    e->nkeys++;
    p->keys[p->nkeys++] = k;
    e->stats.keys = e->nkeys;
    if (type < 0 && e->conf.on_section)
        e->conf.on_section(e->conf.opaque, k->section, len);
    return k;
}

static void mark_dirty(sw_engine_t *e, wkey_t *k, int64_t b)
{
    if (k->dirty_from == INT64_MAX) {
        if (e->ndirty == e->dirty_cap) {
            size_t cap = e->dirty_cap ? 2 * e->dirty_cap : 64;
            wkey_t **nd = realloc(e->dirty, cap * sizeof(*nd));
            if (nd == NULL)
                return; /* out of memory: the late event stays counted */
            e->dirty = nd;
            e->dirty_cap = cap;
        }
        e->dirty[e->ndirty++] = k;
    }
    if (b < k->dirty_from)
        k->dirty_from = b;
}

/* Adds count to bucket b of key k. */
static void key_add(sw_engine_t *e, part_t *p, wkey_t *k, int64_t b,
                    uint32_t count)
{
    if (k->first == INT64_MAX) {
        k->first = b;
        k->next_eval = b;
        k->head = b - 1;
    }
    ring_advance(e, k, b);
    k->ring[(uint64_t)b & (e->R - 1)] += count;
    if (b > k->last_nonzero)
        k->last_nonzero = b;
    if (b < k->first)
        k->first = b;
    if (b <= p->closed) {
        e->stats.late_updates++;
        mark_dirty(e, k, b);
    }
}

/* -------------------------------------------------------------- dedup */

static int dedup_rebuild(part_t *p, size_t cap, int64_t expire_before)
{
    dedup_entry_t *t;
    if (cap == p->dd_cap && p->dd_spare != NULL) {
        t = p->dd_spare; /* a purge at the same size: no allocation */
        memset(t, 0, cap * sizeof(*t));
    } else {
        t = calloc(cap, sizeof(*t));
        if (t == NULL)
            return -1;
        free(p->dd_spare);
        p->dd_spare = NULL;
    }
    size_t used = 0;
    for (size_t i = 0; i < p->dd_cap; i++) {
        dedup_entry_t *d = &p->dd[i];
        if (d->h == 0 || d->bucket < expire_before)
            continue;
        size_t j = d->h & (cap - 1);
        while (t[j].h)
            j = (j + 1) & (cap - 1);
        t[j] = *d;
        used++;
    }
    if (cap == p->dd_cap) {
        p->dd_spare = p->dd;
    } else {
        free(p->dd);
        p->dd_spare = calloc(cap, sizeof(*t)); /* may fail: then allocate
                                                  at the next purge */
    }
    p->dd = t;
    p->dd_cap = cap;
    p->dd_used = used;
    return 0;
}

/* Returns 1 when (src, id) was seen within the horizon, else records it
 * and returns 0. */
static int dedup_seen(sw_engine_t *e, part_t *p, uint64_t h, int64_t b,
                      int64_t ts)
{
    /* the horizon of the watermark this event brings: what it expires
     * can no longer be matched by an event that is not late */
    int64_t wm = p->wm > ts ? p->wm : ts;
    int64_t horizon = wm - e->conf.lateness_ms;
    if (horizon < p->dd_exp_lo || horizon >= p->dd_exp_hi) {
        int64_t hb = floor_div(horizon, e->B);
        p->dd_exp_lo = hb * e->B;
        p->dd_exp_hi = p->dd_exp_lo + e->B;
        p->dd_exp = hb - 1;
    }
    int64_t expire_before = p->dd_exp;
    if ((p->dd_used + 1) * 10 > p->dd_cap * 7) {
        /* over 70 % full: drop expired entries (at most once per bucket
         * of watermark progress), then grow while over half full, up to
         * a table that holds dedup_capacity entries at half load */
        size_t cap = p->dd_cap ? p->dd_cap : 4096;
        size_t max_cap = (size_t)next_pow2(e->conf.dedup_capacity) * 2;
        if (p->dd_cap && p->dd_purged != expire_before) {
            p->dd_purged = expire_before;
            if (dedup_rebuild(p, cap, expire_before) != 0)
                return 0;
        }
        while ((p->dd_used + 1) * 2 > cap && cap < max_cap)
            cap *= 2;
        if (cap != p->dd_cap && dedup_rebuild(p, cap, expire_before) != 0)
            return 0;
        if ((p->dd_used + 1) * 10 > p->dd_cap * 9) {
            e->stats.dedup_overflow++;
            return 0; /* full of live entries: not recorded */
        }
    }
    size_t mask = p->dd_cap - 1;
    size_t free_slot = SIZE_MAX;
    for (size_t j = h & mask;; j = (j + 1) & mask) {
        dedup_entry_t *d = &p->dd[j];
        if (d->h == 0) {
            if (free_slot == SIZE_MAX) {
                free_slot = j;
                p->dd_used++;
            }
            break;
        }
        if (d->h == h && d->bucket >= expire_before)
            return 1;
        if (d->bucket < expire_before && free_slot == SIZE_MAX)
            free_slot = j; /* reuse, but keep looking for h */
    }
    p->dd[free_slot].h = h;
    p->dd[free_slot].bucket = b;
    return 0;
}

/* ------------------------------------------------------------ closing */

static void close_part(sw_engine_t *e, part_t *p, int64_t upto)
{
    if (upto <= p->closed)
        return;
    p->closed = upto;
    for (size_t i = 0; i < p->nkeys; i++) {
        wkey_t *k = p->keys[i];
        if (k->first <= upto)
            eval_upto(e, k, upto, p->wm);
    }
}

/* floor(ts / B) through the partition's one-bucket cache. */
static inline int64_t bucket_of(const sw_engine_t *e, part_t *p, int64_t ts)
{
    if (ts >= p->bc_lo && ts < p->bc_hi)
        return p->bc_b;
    int64_t b = floor_div(ts, e->B);
    p->bc_b = b;
    p->bc_lo = b * e->B;
    p->bc_hi = p->bc_lo + e->B;
    return b;
}

static void advance_part(sw_engine_t *e, part_t *p, int64_t wm)
{
    if (wm <= p->wm)
        return;
    p->wm = wm;
    int64_t upto = bucket_of(e, p, wm) - 1;
    if (upto > p->closed) {
        /* late data waiting must be settled before new buckets close, so
         * that the state machines see the buckets in order */
        if (e->ndirty)
            sw_engine_settle(e);
        close_part(e, p, upto);
    }
}

/* sw_engine_push with the section and event hashes already computed. */
static sw_reason_t push_hashed(sw_engine_t *e, part_t *p, int32_t partition,
                               const sw_event_t *ev, uint64_t sec_h,
                               uint64_t ev_h)
{
    if (p->wm != INT64_MIN && ev->ts_ms < p->wm - e->conf.lateness_ms) {
        e->stats.late++;
        return SW_REASON_LATE;
    }
    /* the section's key; its profile is looked up only for a new key */
    uint64_t h = key_hash_of(sec_h, partition, -1);
    wkey_t *k = find_key(e, ev->section, ev->section_len, partition, -1, h);
    const sw_profile_t *prof =
        k ? k->profile
          : profile_for(&e->profiles, ev->section, ev->section_len);
    if (prof == NULL) {
        e->stats.unknown_section++;
        return SW_REASON_UNKNOWN_SECTION;
    }
    int64_t b = bucket_of(e, p, ev->ts_ms);
    if (dedup_seen(e, p, ev_h, b, ev->ts_ms)) {
        e->stats.duplicates++;
        return SW_REASON_NONE;
    }
    /* the buckets this event's time closes are evaluated before it is
     * counted: counting moves the key's ring ahead to its bucket, which
     * may overwrite buckets that are still to be evaluated */
    if (ev->ts_ms > p->wm)
        advance_part(e, p, ev->ts_ms);
    p->events_seen++;
    e->stats.events++;
    if (k == NULL)
        k = new_key(e, p, partition, ev->section, ev->section_len, -1, h, prof);
    if (k != NULL) /* else out of memory: not counted for this key */
        key_add(e, p, k, b, ev->count);
    if (e->conf.by_type) {
        int type = (int)ev->type;
        uint64_t ht = key_hash_of(sec_h, partition, type);
        wkey_t *kt =
            find_key(e, ev->section, ev->section_len, partition, type, ht);
        if (kt == NULL)
            kt = new_key(e, p, partition, ev->section, ev->section_len, type,
                         ht, prof);
        if (kt != NULL)
            key_add(e, p, kt, b, ev->count);
    }
    /* a late event is reconciled at once, not at the end of the caller's
     * batch: the transitions then do not depend on how the input was cut
     * into batches, so a replay from a checkpoint repeats them exactly */
    if (e->ndirty)
        sw_engine_settle(e);
    return SW_REASON_NONE;
}

sw_reason_t sw_engine_push(sw_engine_t *self, int32_t partition,
                           const sw_event_t *ev)
{
    part_t *p = get_part(self, partition);
    if (p == NULL)
        return SW_REASON_UNKNOWN_SECTION;
    return push_hashed(self, p, partition, ev,
                       section_hash(ev->section, ev->section_len),
                       event_hash(ev));
}

/* How far ahead the batch pipeline looks: the hash-table slots of event
 * i + AHEAD are prefetched while event i is counted, and the key and ring
 * slot of event i + AHEAD / 2. */
#define AHEAD 16

void sw_engine_push_batch(sw_engine_t *self, int32_t partition,
                          const sw_event_t *const *evs, size_t n,
                          sw_reason_t *reasons)
{
    sw_engine_t *e = self;
    part_t *p = get_part(e, partition);
    uint64_t sh[2 * AHEAD], eh[2 * AHEAD]; /* by index mod 2 * AHEAD */
    if (p == NULL) {
        for (size_t i = 0; reasons && i < n; i++)
            reasons[i] = SW_REASON_UNKNOWN_SECTION;
        return;
    }
    for (size_t i = 0; i < n + AHEAD; i++) {
        if (i < n) { /* stage 1: hashes, table and dedup slots */
            const sw_event_t *ev = evs[i];
            uint64_t s_h = section_hash(ev->section, ev->section_len);
            uint64_t e_h = event_hash(ev);
            sh[i % (2 * AHEAD)] = s_h;
            eh[i % (2 * AHEAD)] = e_h;
            if (e->table_cap)
                __builtin_prefetch(&e->table[key_hash_of(s_h, partition, -1) &
                                             (e->table_cap - 1)]);
            if (p->dd_cap)
                __builtin_prefetch(&p->dd[e_h & (p->dd_cap - 1)]);
        }
        size_t j = i - AHEAD / 2;
        if (i >= AHEAD / 2 && j < n && e->table_cap) {
            /* stage 2: the key (if the slot holds it) and its ring slot */
            const wkey_t *k =
                e->table[key_hash_of(sh[j % (2 * AHEAD)], partition, -1) &
                         (e->table_cap - 1)];
            if (k) {
                int64_t b = bucket_of(e, p, evs[j]->ts_ms);
                __builtin_prefetch(k);
                __builtin_prefetch((const char *)k + 64);
                __builtin_prefetch((const char *)(k + 1) +
                                   ((uint64_t)b & (e->R - 1)) * 4);
            }
        }
        if (i >= AHEAD) {
            size_t x = i - AHEAD;
            sw_reason_t r =
                push_hashed(e, p, partition, evs[x], sh[x % (2 * AHEAD)],
                            eh[x % (2 * AHEAD)]);
            if (reasons)
                reasons[x] = r;
        }
    }
}

void sw_engine_advance(sw_engine_t *self, int32_t partition,
                       int64_t watermark_ms)
{
    if (partition >= 0) {
        part_t *p = get_part(self, partition);
        if (p)
            advance_part(self, p, watermark_ms);
        return;
    }
    for (size_t i = 0; i < self->nparts; i++)
        advance_part(self, &self->parts[i], watermark_ms);
}

int64_t sw_engine_watermark(const sw_engine_t *self, int32_t partition)
{
    if (partition < 0 || (size_t)partition >= self->nparts)
        return INT64_MIN;
    return self->parts[partition].wm;
}

void sw_engine_tick(sw_engine_t *self, int64_t now_ms)
{
    if (self->conf.idle_ms <= 0)
        return;
    for (size_t i = 0; i < self->nparts; i++) {
        part_t *p = &self->parts[i];
        if (p->events_seen != p->events_at_tick || p->active_wall == 0) {
            p->events_at_tick = p->events_seen;
            p->active_wall = now_ms;
            continue;
        }
        if (now_ms - p->active_wall >= self->conf.idle_ms && p->wm != INT64_MIN)
            advance_part(self, p, now_ms - self->conf.idle_ms);
    }
}

/* ------------------------------------------------------- late replays */

/* Replays k's closed buckets from the snapshot before dirty_from, then
 * reconciles what the new history holds with what was emitted. */
static void replay_key(sw_engine_t *e, wkey_t *k)
{
    part_t *p = &e->parts[k->partition];
    int64_t d = k->dirty_from;
    k->dirty_from = INT64_MAX;
    if (p->closed == INT64_MIN || d > p->closed)
        return;
    e->stats.recomputations++;
    int64_t bs = floor_div(d, e->S) * e->S - 1; /* last snapshot before d */
    sm_t start_state[NKIND];
    if (bs < k->first) {
        memset(start_state, 0, sizeof(start_state));
        bs = k->first - 1;
    } else {
        uint32_t slot = (uint32_t)((uint64_t)bs / e->S) & (e->K - 1);
        if (k->snap_tag[slot] == bs) {
            memcpy(start_state, &k->snap[(size_t)slot * NKIND],
                   sizeof(start_state));
        } else {
            /* no snapshot that far back: cannot happen within the
             * lateness; re-evaluate from the current state */
            memcpy(start_state, k->sm, sizeof(start_state));
            bs = k->next_eval - 1 < d - 1 ? k->next_eval - 1 : d - 1;
        }
    }
    memcpy(k->sm, start_state, sizeof(k->sm));
    memset(e->last_r, 0, sizeof(e->last_r));
    e->nreplay = 0;
    e->replaying = 1;
    /* a bucket's figures are a function of the counts of its lookback:
     * only those of d and of the buckets whose lookback reaches d change */
    e->report_from = d;
    e->report_to = d + (int64_t)k->lookback - 1;
    for (int64_t b = bs + 1; b <= p->closed; b++)
        eval_bucket(e, k, b, p->wm);
    e->report_from = INT64_MIN;
    e->report_to = INT64_MAX;
    e->replaying = 0;
    if (p->closed + 1 > k->next_eval)
        k->next_eval = p->closed + 1;

    for (int kind = 0; kind < NKIND; kind++) {
        if (!k->profile->enabled[kind])
            continue;
        emitted_t *em = &k->em[kind];
        const sw_detector_result_t *last = &e->last_r[kind];
        sm_t *s = &k->sm[kind];
        const int64_t none = INT64_MIN;
        /* the alert the new history ends with active, and what the
         * outside was last told of it */
        int64_t fin = sm_active(s) ? s->start : none;
        emitted_t told_fin = *em;
        int have_fin = em->active && em->start == fin;
        /* Does the alert the outside believes active exist in the new
         * history? If not, it is retracted before anything new is told. */
        if (em->active) {
            int exists = sm_active(&start_state[kind]) &&
                         start_state[kind].start == em->start;
            for (size_t i = 0; i < e->nreplay && !exists; i++)
                exists = e->replay[i].kind == kind &&
                         e->replay[i].a.state == SW_ALERT_RAISED &&
                         e->replay[i].start == em->start;
            if (!exists) {
                sw_alert_t a;
                make_alert(e, k, kind, p->closed, em->start, SW_ALERT_RESOLVED,
                           last, (sw_level_t)em->level, em->raised_at, p->wm,
                           &a);
                a.retracted = 1;
                emit(e, k, kind, &a, em->start);
                told_set(e, k, kind, raise_bucket(e, em->start), 0);
            }
        }
        /* Alerts told raised in the replayed buckets and resolved since:
         * retracted when the new history does not raise them. Their level
         * and raise time are not kept: low, and the end of the raise
         * bucket. */
        for (int64_t raised_in = bs + 1; raised_in <= p->closed; raised_in++) {
            int64_t st = raised_in - (int64_t)e->conf.raise_after + 1;
            if (!told_get(e, k, kind, raised_in) ||
                (em->active && st == em->start))
                continue;
            int exists = 0;
            for (size_t j = 0; j < e->nreplay && !exists; j++)
                exists = e->replay[j].kind == kind &&
                         e->replay[j].a.state == SW_ALERT_RAISED &&
                         e->replay[j].start == st;
            if (exists)
                continue;
            sw_alert_t a;
            make_alert(e, k, kind, p->closed, st, SW_ALERT_RESOLVED, last,
                       SW_LEVEL_LOW, (raised_in + 1) * e->B, p->wm, &a);
            a.retracted = 1;
            emitted_t keep = *em; /* what is told of the active one */
            emit(e, k, kind, &a, st);
            em->active = keep.active;
            em->level = keep.level;
            em->score = keep.score;
            told_set(e, k, kind, raised_in, 0);
        }
        /* The new history in order, against the alerts the outside holds
         * active: the one told active before (when it stands, it may come
         * after new ones) and one raised here; never more than these. */
        int64_t open[2] = {em->active ? em->start : none, none};
        for (size_t i = 0; i < e->nreplay; i++) {
            struct replayed *r = &e->replay[i];
            if (r->kind != kind)
                continue;
            int slot = open[0] == r->start ? 0 : open[1] == r->start ? 1 : -1;
            if (r->a.state == SW_ALERT_RAISED) {
                if (slot >= 0 ||
                    told_get(e, k, kind, raise_bucket(e, r->start)))
                    continue; /* the outside knows it already */
                emit(e, k, kind, &r->a, r->start);
                open[open[0] == none ? 0 : 1] = r->start;
                if (r->start == fin) {
                    told_fin = *em;
                    have_fin = 1;
                }
            } else if (r->a.state == SW_ALERT_RESOLVED && slot >= 0) {
                emit(e, k, kind, &r->a, r->start);
                open[slot] = none;
            }
        }
        /* An alert the new history holds active that the outside was
         * told resolved (a late event extended its run): raised again,
         * with the same id. */
        if (fin != none && open[0] != fin && open[1] != fin) {
            sw_alert_t a;
            make_alert(e, k, kind, p->closed, fin, SW_ALERT_RAISED, last,
                       (sw_level_t)s->level, s->raised_at, p->wm, &a);
            emit(e, k, kind, &a, fin);
            told_fin = *em;
            have_fin = 1;
        }
        /* what the outside now holds active: that alert, or none */
        if (fin != none && have_fin)
            *em = told_fin;
        else
            em->active = 0;
        /* the figures of an alert that stays active */
        if (sm_active(s) && em->active && em->start == s->start &&
            (em->level != s->level ||
             fabsf(em->score - s->score) >
                 (float)e->conf.update_min_change * fabsf(em->score) + 1e-6f)) {
            sw_alert_t a;
            make_alert(e, k, kind, p->closed, s->start, SW_ALERT_UPDATED, last,
                       (sw_level_t)s->level, em->raised_at, p->wm, &a);
            emit(e, k, kind, &a, s->start);
            /* told as the state machine holds it: the figures are those of
             * the latest bucket, which may be below the threshold while
             * the alert resolves; remembering those would tell the same
             * update again at every later replay */
            em->score = s->score;
        }
    }
}

void sw_engine_settle(sw_engine_t *self)
{
    /* replay_key never marks keys dirty, so the list does not grow here */
    for (size_t i = 0; i < self->ndirty; i++)
        replay_key(self, self->dirty[i]);
    self->ndirty = 0;
}

/* ------------------------------------------------------------ profiles */

int sw_engine_set_profiles(sw_engine_t *self, const sw_profiles_t *profiles,
                           char *errstr, size_t errstr_size)
{
    sw_engine_t *e = self;
    uint32_t lookback;
    if (check_profiles(profiles, &lookback, errstr, errstr_size))
        return -1;
    if ((uint64_t)lookback + (uint64_t)e->lateness_buckets + e->S + 3 > e->R) {
        snprintf(errstr, errstr_size,
                 "the new detectors need %u buckets of history, more than "
                 "the %u this engine keeps (restart with a larger "
                 "max_lookback)",
                 lookback, e->R - (uint32_t)e->lateness_buckets - e->S - 3);
        return -1;
    }
    sw_profiles_t np;
    if (profiles_copy(&np, profiles)) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    if (e->ndirty)
        sw_engine_settle(e);
    sw_profiles_t old = e->profiles;
    e->profiles = np;
    /* keys of sections a strict profile set no longer lists keep counting
     * with the default profile */
    for (size_t i = 0; i < e->table_cap; i++) {
        wkey_t *k = e->table[i];
        if (k == NULL)
            continue;
        const sw_profile_t *prof =
            profile_for(&e->profiles, k->section, k->section_len);
        if (prof == NULL)
            prof = &e->profiles.def;
        part_t *p = &e->parts[k->partition];
        /* keys of the default profile point into e->profiles, which now
         * holds the new one: compare with (and describe the alerts it
         * resolves by) the old copy */
        if (k->profile == &e->profiles.def)
            k->profile = &old.def;
        for (int kind = 0; kind < NKIND; kind++) {
            if (prof->enabled[kind] || !k->profile->enabled[kind])
                continue;
            /* this detector stops: its active alert is resolved */
            if (k->em[kind].active) {
                sw_alert_t a;
                sw_detector_result_t none = {0};
                make_alert(e, k, kind, p->closed, k->em[kind].start,
                           SW_ALERT_RESOLVED, &none,
                           (sw_level_t)k->em[kind].level, k->em[kind].raised_at,
                           p->wm, &a);
                emit(e, k, kind, &a, k->em[kind].start);
            }
            memset(&k->sm[kind], 0, sizeof(k->sm[kind]));
            for (uint32_t j = 0; j < e->K; j++)
                memset(&k->snap[(size_t)j * NKIND + (size_t)kind], 0,
                       sizeof(sm_t));
            memset(&k->told[(size_t)kind * (e->R / 8)], 0, e->R / 8);
        }
        k->profile = prof;
        k->lookback = profile_lookback(prof);
    }
    free(old.v);
    return 0;
}

/* --------------------------------------------------------- checkpoints */

#define CKPT_MAGIC "SWCK"
#define CKPT_VERSION                                                           \
    3 /* 2: told bits instead of the last 4 starts;                            \
       * 3: transition counters (2 is read with 0) */

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf_t;

static void w_bytes(wbuf_t *w, const void *d, size_t n)
{
    if (w->oom)
        return;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap - w->len < n)
            cap *= 2;
        unsigned char *np = realloc(w->p, cap);
        if (np == NULL) {
            w->oom = 1;
            return;
        }
        w->p = np;
        w->cap = cap;
    }
    memcpy(w->p + w->len, d, n);
    w->len += n;
}

static void w_u64(wbuf_t *w, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (unsigned char)v;
    w_bytes(w, b, n);
}

static void w_i64(wbuf_t *w, int64_t v)
{
    /* zigzag */
    w_u64(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void w_sm(wbuf_t *w, const sm_t *s)
{
    w_i64(w, s->start);
    w_i64(w, s->raised_at);
    w_bytes(w, &s->score, sizeof(float));
    unsigned char b[3] = {s->phase, s->run, s->level};
    w_bytes(w, b, 3);
}

typedef struct rbuf {
    const unsigned char *p, *end;
    int bad;
} rbuf_t;

static uint64_t r_u64(rbuf_t *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            r->bad = 1;
            return 0;
        }
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

static int64_t r_i64(rbuf_t *r)
{
    uint64_t u = r_u64(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static void r_bytes(rbuf_t *r, void *d, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        r->bad = 1;
        memset(d, 0, n);
        return;
    }
    memcpy(d, r->p, n);
    r->p += n;
}

static void r_sm(rbuf_t *r, sm_t *s)
{
    s->start = r_i64(r);
    s->raised_at = r_i64(r);
    r_bytes(r, &s->score, sizeof(float));
    unsigned char b[3];
    r_bytes(r, b, 3);
    s->phase = b[0] <= PH_RESOLVING ? b[0] : (r->bad = 1, PH_IDLE);
    s->run = b[1];
    s->level = b[2] <= SW_LEVEL_CRITICAL ? b[2] : (r->bad = 1, 0);
}

/* FNV-1a over a checkpoint, kept in its last 8 bytes (little endian): a
 * flipped or lost byte is refused rather than loaded as another state. */
static uint64_t ckpt_sum(const unsigned char *d, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= d[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

void *sw_engine_save(sw_engine_t *self, int32_t partition, size_t *len)
{
    sw_engine_t *e = self;
    if (e->ndirty)
        sw_engine_settle(e);
    wbuf_t w = {0};
    part_t empty = {.wm = INT64_MIN, .closed = INT64_MIN};
    part_t *p = partition >= 0 && (size_t)partition < e->nparts
                    ? &e->parts[partition]
                    : &empty;
    w_bytes(&w, CKPT_MAGIC, 4);
    w_u64(&w, CKPT_VERSION);
    w_i64(&w, e->B);
    w_u64(&w, e->R);
    w_u64(&w, e->K);
    w_u64(&w, e->S);
    w_i64(&w, p->wm);
    w_i64(&w, p->closed);
    int64_t expire_before =
        p->wm == INT64_MIN ? INT64_MIN
                           : floor_div(p->wm - e->conf.lateness_ms, e->B) - 1;
    size_t live = 0;
    for (size_t i = 0; i < p->dd_cap; i++)
        live += p->dd[i].h != 0 && p->dd[i].bucket >= expire_before;
    w_u64(&w, live);
    for (size_t i = 0; i < p->dd_cap; i++) {
        if (p->dd[i].h == 0 || p->dd[i].bucket < expire_before)
            continue;
        w_bytes(&w, &p->dd[i].h, 8);
        w_i64(&w, p->dd[i].bucket);
    }
    w_u64(&w, p->nkeys);
    for (size_t i = 0; i < p->nkeys; i++) {
        const wkey_t *k = p->keys[i];
        w_u64(&w, k->section_len);
        w_bytes(&w, k->section, k->section_len);
        w_i64(&w, k->type);
        w_i64(&w, k->first);
        w_i64(&w, k->head);
        w_i64(&w, k->next_eval);
        w_i64(&w, k->last_nonzero);
        for (uint32_t j = 0; j < e->R; j++)
            w_u64(&w, k->ring[j]);
        for (int kind = 0; kind < NKIND; kind++) {
            const emitted_t *em = &k->em[kind];
            w_sm(&w, &k->sm[kind]);
            w_i64(&w, em->start);
            w_i64(&w, em->raised_at);
            w_bytes(&w, &em->score, sizeof(float));
            unsigned char b[2] = {em->active, em->level};
            w_bytes(&w, b, 2);
            w_u64(&w, k->tseq[kind]);
        }
        w_bytes(&w, k->told, (size_t)NKIND * (e->R / 8));
        for (uint32_t j = 0; j < e->K; j++) {
            w_i64(&w, k->snap_tag[j]);
            if (k->snap_tag[j] != INT64_MIN)
                for (int kind = 0; kind < NKIND; kind++)
                    w_sm(&w, &k->snap[(size_t)j * NKIND + (size_t)kind]);
        }
    }
    if (!w.oom) {
        uint64_t sum = ckpt_sum(w.p, w.len);
        unsigned char b[8];
        for (int i = 0; i < 8; i++)
            b[i] = (unsigned char)(sum >> (8 * i));
        w_bytes(&w, b, 8);
    }
    if (w.oom) {
        free(w.p);
        return NULL;
    }
    *len = w.len;
    return w.p;
}

/* Drops every key of partition p and its dedup table. */
static void part_clear(sw_engine_t *e, part_t *p)
{
    for (size_t i = 0; i < p->nkeys; i++) {
        wkey_t *k = p->keys[i];
        /* take it out of the table, then re-insert the rest of its
         * probe run (linear probing deletion) */
        size_t mask = e->table_cap - 1;
        size_t j = k->hash & mask;
        while (e->table[j] != k)
            j = (j + 1) & mask;
        e->table[j] = NULL;
        for (size_t x = (j + 1) & mask; e->table[x]; x = (x + 1) & mask) {
            wkey_t *m = e->table[x];
            e->table[x] = NULL;
            size_t y = m->hash & mask;
            while (e->table[y])
                y = (y + 1) & mask;
            e->table[y] = m;
        }
        for (size_t d = 0; d < e->ndirty; d++)
            if (e->dirty[d] == k)
                e->dirty[d--] = e->dirty[--e->ndirty];
        free(k);
        e->nkeys--;
    }
    p->nkeys = 0;
    free(p->dd);
    free(p->dd_spare);
    p->dd = p->dd_spare = NULL;
    p->dd_cap = p->dd_used = 0;
    p->wm = p->closed = INT64_MIN;
    p->events_seen = p->events_at_tick = 0;
    p->active_wall = 0;
    e->stats.keys = e->nkeys;
}

void sw_engine_drop(sw_engine_t *self, int32_t partition)
{
    if (partition < 0 || (size_t)partition >= self->nparts)
        return;
    part_clear(self, &self->parts[partition]);
}

int sw_engine_load(sw_engine_t *self, int32_t partition, const void *data,
                   size_t len, char *errstr, size_t errstr_size)
{
    sw_engine_t *e = self;
    rbuf_t r = {data, (const unsigned char *)data + len, 0};
    char magic[4];
    r_bytes(&r, magic, 4);
    if (r.bad || memcmp(magic, CKPT_MAGIC, 4) != 0) {
        snprintf(errstr, errstr_size, "not a surgewatch checkpoint");
        return -1;
    }
    uint64_t version = r_u64(&r);
    if (version != CKPT_VERSION && version != 2) {
        snprintf(errstr, errstr_size,
                 "checkpoint version %llu (this build reads 2 and %d)",
                 (unsigned long long)version, CKPT_VERSION);
        return -1;
    }
    int64_t B = r_i64(&r);
    uint64_t R = r_u64(&r), K = r_u64(&r), S = r_u64(&r);
    if (B != e->B || R != e->R || K != e->K || S != e->S) {
        snprintf(errstr, errstr_size,
                 "checkpoint made with bucket %lld ms, ring %llu, %llu "
                 "snapshots every %llu; this engine has %lld ms, %u, %u, %u "
                 "(bucket size or lateness changed)",
                 (long long)B, (unsigned long long)R, (unsigned long long)K,
                 (unsigned long long)S, (long long)e->B, e->R, e->K, e->S);
        return -1;
    }
    const unsigned char *bytes = data;
    uint64_t sum = 0;
    for (int i = 0; len >= 8 && i < 8; i++)
        sum |= (uint64_t)bytes[len - 8 + i] << (8 * i);
    if (r.bad || len < 8 || (size_t)(r.p - bytes) > len - 8 ||
        ckpt_sum(bytes, len - 8) != sum) {
        snprintf(errstr, errstr_size,
                 "checkpoint corrupt or truncated (checksum mismatch)");
        return -1;
    }
    r.end = bytes + len - 8;
    part_t *p = get_part(e, partition);
    if (p == NULL) {
        snprintf(errstr, errstr_size, "bad partition %d", partition);
        return -1;
    }
    part_clear(e, p);
    p->wm = r_i64(&r);
    p->closed = r_i64(&r);
    uint64_t live = r_u64(&r);
    if (live > (uint64_t)(r.end - r.p) / 9) {
        snprintf(errstr, errstr_size, "checkpoint truncated (dedup)");
        goto bad;
    }
    size_t cap = 4096;
    while (cap < live * 2 + 2)
        cap *= 2;
    if (live && dedup_rebuild(p, cap, INT64_MIN) != 0)
        goto oom;
    for (uint64_t i = 0; i < live && !r.bad; i++) {
        dedup_entry_t d;
        r_bytes(&r, &d.h, 8);
        d.bucket = r_i64(&r);
        if (d.h == 0) {
            r.bad = 1;
            break;
        }
        size_t j = d.h & (p->dd_cap - 1);
        while (p->dd[j].h)
            j = (j + 1) & (p->dd_cap - 1);
        p->dd[j] = d;
        p->dd_used++;
    }
    uint64_t nkeys = r_u64(&r);
    for (uint64_t i = 0; i < nkeys && !r.bad; i++) {
        char section[SW_SECTION_MAX + 1];
        uint64_t slen = r_u64(&r);
        if (slen > SW_SECTION_MAX) {
            r.bad = 1;
            break;
        }
        r_bytes(&r, section, (size_t)slen);
        section[slen] = '\0';
        int64_t type = r_i64(&r);
        if (r.bad || !sw_section_valid(section, (size_t)slen) || type < -1 ||
            type >= SW_TYPE__COUNT) {
            r.bad = 1;
            break;
        }
        const sw_profile_t *prof =
            profile_for(&e->profiles, section, (size_t)slen);
        if (prof == NULL)
            prof = &e->profiles.def;
        uint64_t h = key_hash(section, (size_t)slen, partition, (int)type);
        if (find_key(e, section, (size_t)slen, partition, (int)type, h)) {
            r.bad = 1; /* the same key twice */
            break;
        }
        wkey_t *k =
            new_key(e, p, partition, section, (size_t)slen, (int)type, h, prof);
        if (k == NULL)
            goto oom;
        k->first = r_i64(&r);
        k->head = r_i64(&r);
        k->next_eval = r_i64(&r);
        k->last_nonzero = r_i64(&r);
        for (uint32_t j = 0; j < e->R; j++) {
            uint64_t c = r_u64(&r);
            k->ring[j] = c > UINT32_MAX ? (r.bad = 1, 0) : (uint32_t)c;
        }
        for (int kind = 0; kind < NKIND; kind++) {
            emitted_t *em = &k->em[kind];
            r_sm(&r, &k->sm[kind]);
            em->start = r_i64(&r);
            em->raised_at = r_i64(&r);
            r_bytes(&r, &em->score, sizeof(float));
            unsigned char b[2];
            r_bytes(&r, b, 2);
            em->active = b[0] != 0;
            em->level = b[1] <= SW_LEVEL_CRITICAL ? b[1] : 0;
            k->tseq[kind] = version >= 3 ? (uint32_t)r_u64(&r) : 0;
        }
        r_bytes(&r, k->told, (size_t)NKIND * (e->R / 8));
        for (uint32_t j = 0; j < e->K; j++) {
            k->snap_tag[j] = r_i64(&r);
            if (k->snap_tag[j] != INT64_MIN)
                for (int kind = 0; kind < NKIND; kind++)
                    r_sm(&r, &k->snap[(size_t)j * NKIND + (size_t)kind]);
        }
    }
    if (r.bad || r.p != r.end) {
        snprintf(errstr, errstr_size, "checkpoint corrupt or truncated");
        goto bad;
    }
    return 0;
oom:
    snprintf(errstr, errstr_size, "out of memory");
bad:
    part_clear(e, p);
    return -1;
}
