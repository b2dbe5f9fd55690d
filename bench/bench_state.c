/*
 * bench_state: bytes of detection state per border section, in a worker's
 * memory (sw_engine_stats: state_bytes, keys) and in its checkpoints
 * (sw_engine_save, the value a worker stores in Redis under
 * PREFIX:ckpt:TOPIC:PARTITION, plus a 20-odd byte header), at the worker's
 * default settings (sw_settings_default: daily buckets, 24 h lateness,
 * ears_c2 + cusum, the default ring), without and with by_type.
 *
 * For each SECTIONS count: EVENTS_PER_DAY events per section and day over
 * DAYS days (times spread over each day, a random event type each, unique
 * ids), the sections spread over 4 partitions as a 4-partition topic would
 * hold them. The engine's memory has a fixed part per key (window ring,
 * alert state machines, snapshots, the key table) and a de-duplication
 * table per partition that holds the (src, id) of every event within the
 * lateness (here about EVENTS_PER_DAY x 2 days per section; grown to 2 to
 * 4 slots of 16 bytes per id kept, and a spare table of the same size for
 * purges). To tell them apart the same events are also pushed into a
 * second engine with one section per partition (the same ids, so the same
 * de-duplication tables): what the first holds more, divided by the
 * sections more, is the per-section part; what the second holds is the
 * de-duplication part (and 4 sections). The checkpoint is split the same
 * way (it keeps the live ids: 8 bytes of hash + the bucket, varint).
 *
 * Each run builds both engines from scratch; the bytes are deterministic
 * (the output says when runs differ); the save and load times of the
 * checkpoints (all 4 partitions, sw_engine_save then sw_engine_load into
 * a fresh engine: what a worker taking the partitions over does before it
 * reads on) are medians of the runs.
 *
 * usage: bench_state [RUNS] [EVENTS_PER_DAY] [DAYS] [SECTIONS...]
 *        (defaults 3, 10, 30, 1000 10000)
 */
#include "sw_engine.h"
#include "sw_settings.h"
#include "sw_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPART 4

static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const base[] = {
    "GR-MK", "BA-HR", "HR-SI", "HU-RS", "BA-ME", "HR-RS", "AL-ME", "BA-RS",
    "AL-GR", "RO-RS", "BG-RS", "MK-RS", "RS-XK", "ME-RS", "AL-XK", "AL-MK"};
#define NBASE 16

static void section_name(long i, char *out)
{
    if (i < NBASE)
        strcpy(out, base[i]);
    else
        sprintf(out, "%s/s%05ld", base[i % NBASE], i);
}

static void on_alert(void *opaque, const sw_alert_t *a)
{
    (void)a;
    (*(uint64_t *)opaque)++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* reads a varint of a checkpoint header */
static uint64_t r_u64(const unsigned char **p)
{
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        unsigned char b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80))
            break;
    }
    return v;
}

typedef struct figures {
    uint64_t bytes, keys, alerts, counted;
    size_t ckpt[NPART], ckpt_total;
    double save_ms, load_ms;
    unsigned ring, snaps;
} figures_t;

/* Pushes the events into a fresh engine (one_section: every event of
 * partition p goes to one section of p) and measures. 0 or -1. */
static int measure(long nsec, long per_day, long days, int by_type,
                   int one_section, figures_t *f)
{
    sw_settings_t s;
    sw_settings_default(&s);
    s.engine.by_type = by_type;
    uint64_t alerts = 0;
    s.engine.on_alert = on_alert;
    s.engine.opaque = &alerts;
    char err[256];
    sw_engine_t *eng = sw_engine_new(&s.engine, &s.profiles, err, sizeof(err));
    if (eng == NULL) {
        fprintf(stderr, "bench_state: engine: %s\n", err);
        return -1;
    }
    /* one day's events, by partition */
    size_t per_part_cap = (size_t)(nsec * per_day) + 16;
    sw_event_t *ev[NPART];
    const sw_event_t **evp[NPART];
    size_t n[NPART];
    for (int p = 0; p < NPART; p++) {
        ev[p] = malloc(per_part_cap * sizeof(sw_event_t));
        evp[p] = malloc(per_part_cap * sizeof(*evp[p]));
        if (ev[p] == NULL || evp[p] == NULL) {
            fprintf(stderr, "bench_state: out of memory\n");
            return -1;
        }
    }
    /* the same pseudo-random sequence in both engines */
    rng = 88172645463325252ull;
    int64_t t0 = sw_time_from_civil(2019, 1, 1, 0, 0, 0, 0);
    long id = 0;
    for (long d = 0; d < days; d++) {
        memset(n, 0, sizeof(n));
        for (long sec = 0; sec < nsec; sec++) {
            int p = (int)(sec % NPART);
            char name[SW_SECTION_MAX + 1];
            section_name(sec, name);
            for (long j = 0; j < per_day; j++) {
                sw_event_t *e = &ev[p][n[p]];
                sw_event_reset(e);
                if (one_section)
                    sprintf(e->section, "YY-ZZ/p%d", p);
                else
                    strcpy(e->section, name);
                e->section_len = (uint8_t)strlen(e->section);
                memcpy(e->src, name, 2); /* the same ids in both engines */
                e->src[2] = 0;
                e->id_len = (uint8_t)sprintf(e->id, "ev-%ld", id++);
                e->ts_ms = t0 + d * SW_MS_PER_DAY +
                           (int64_t)(rnd() % (uint64_t)SW_MS_PER_DAY);
                e->type = (sw_event_type_t)(rnd() % SW_TYPE__COUNT);
                e->count = 1 + (uint32_t)(rnd() % 4);
                e->seen = SW_FIELDS_REQUIRED;
                evp[p][n[p]] = e;
                n[p]++;
            }
        }
        for (int p = 0; p < NPART; p++)
            for (size_t i = 0; i < n[p]; i += 256)
                sw_engine_push_batch(eng, p, &evp[p][i],
                                     n[p] - i < 256 ? n[p] - i : 256, NULL);
    }
    sw_engine_settle(eng);
    const sw_engine_stats_t *st = sw_engine_stats(eng);
    f->bytes = st->state_bytes;
    f->keys = st->keys;
    f->counted = st->events;
    f->alerts = alerts;
    if (st->late || st->duplicates || st->dedup_overflow) {
        fprintf(stderr,
                "bench_state: unexpected late=%llu duplicates=%llu "
                "dedup_overflow=%llu\n",
                (unsigned long long)st->late,
                (unsigned long long)st->duplicates,
                (unsigned long long)st->dedup_overflow);
        return -1;
    }
    /* checkpoints: save every partition, load them into a fresh engine */
    void *data[NPART];
    f->ckpt_total = 0;
    int64_t a = sw_clock_mono_ns();
    for (int p = 0; p < NPART; p++) {
        data[p] = sw_engine_save(eng, p, &f->ckpt[p]);
        if (data[p] == NULL) {
            fprintf(stderr, "bench_state: save: out of memory\n");
            return -1;
        }
        f->ckpt_total += f->ckpt[p];
    }
    int64_t b = sw_clock_mono_ns();
    f->save_ms = (double)(b - a) / 1e6;
    {
        const unsigned char *q = (const unsigned char *)data[0] + 4;
        r_u64(&q); /* version */
        r_u64(&q); /* bucket ms */
        f->ring = (unsigned)r_u64(&q);
        f->snaps = (unsigned)r_u64(&q);
    }
    sw_engine_t *e2 = sw_engine_new(&s.engine, &s.profiles, err, sizeof(err));
    if (e2 == NULL) {
        fprintf(stderr, "bench_state: engine: %s\n", err);
        return -1;
    }
    a = sw_clock_mono_ns();
    for (int p = 0; p < NPART; p++)
        if (sw_engine_load(e2, p, data[p], f->ckpt[p], err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_state: load: %s\n", err);
            return -1;
        }
    b = sw_clock_mono_ns();
    f->load_ms = (double)(b - a) / 1e6;
    if (sw_engine_stats(e2)->keys != f->keys) {
        fprintf(stderr, "bench_state: loaded %llu keys, saved %llu\n",
                (unsigned long long)sw_engine_stats(e2)->keys,
                (unsigned long long)f->keys);
        return -1;
    }
    for (int p = 0; p < NPART; p++) {
        free(data[p]);
        free(ev[p]);
        free(evp[p]);
    }
    sw_engine_destroy(&e2);
    sw_engine_destroy(&eng);
    sw_settings_deinit(&s);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 3;
    long per_day = argc > 2 ? atol(argv[2]) : 10;
    long days = argc > 3 ? atol(argv[3]) : 30;
    long def_secs[] = {1000, 10000};
    int nsecs = argc > 4 ? argc - 4 : 2;
    if (runs < 1 || runs > 15 || per_day < 1 || days < 3) {
        fprintf(stderr, "usage: bench_state [RUNS] [EVENTS_PER_DAY] [DAYS] "
                        "[SECTIONS...]\n");
        return 2;
    }
    sw_settings_t s;
    sw_settings_default(&s);
    printf("bench_state: worker defaults (bucket %lld min, lateness %lld h, "
           "ears_c2 + cusum), %d partitions, %ld events per section per "
           "day over %ld days, %d runs\n",
           (long long)(s.engine.bucket_ms / SW_MS_PER_MIN),
           (long long)(s.engine.lateness_ms / SW_MS_PER_HOUR), NPART, per_day,
           days, runs);
    printf("%-8s %-8s %6s %7s | %-43s | %-40s | %s\n", "sections", "by_type",
           "keys", "ring", "memory bytes/section: total = keys + dedup",
           "checkpoint bytes/section: total = keys + ids",
           "checkpoints of all sections, MB and ms (save, load)");
    for (int i = 0; i < nsecs; i++) {
        long nsec = argc > 4 ? atol(argv[4 + i]) : def_secs[i];
        if (nsec <= NPART) {
            fprintf(stderr, "bench_state: SECTIONS must be > %d\n", NPART);
            return 2;
        }
        for (int by_type = 0; by_type < 2; by_type++) {
            figures_t fa[16], fb[16];
            double save[16], load[16];
            int differ = 0;
            for (int r = 0; r < runs; r++) {
                if (measure(nsec, per_day, days, by_type, 0, &fa[r]) ||
                    measure(nsec, per_day, days, by_type, 1, &fb[r]))
                    return 1;
                save[r] = fa[r].save_ms;
                load[r] = fa[r].load_ms;
                differ |= fa[r].bytes != fa[0].bytes ||
                          fa[r].ckpt_total != fa[0].ckpt_total ||
                          fb[r].bytes != fb[0].bytes;
            }
            const figures_t *A = &fa[0], *B = &fb[0];
            double more = (double)(nsec - NPART);
            double mem_total = (double)A->bytes / (double)nsec;
            double mem_keys = (double)(A->bytes - B->bytes) / more;
            double mem_dd = mem_total - mem_keys;
            double ck_total = (double)A->ckpt_total / (double)nsec;
            double ck_keys = (double)(A->ckpt_total - B->ckpt_total) / more;
            double ck_ids = ck_total - ck_keys;
            char cols[64];
            snprintf(cols, sizeof(cols), "%.0f = %.0f + %.0f", mem_total,
                     mem_keys, mem_dd);
            char ccols[64];
            snprintf(ccols, sizeof(ccols), "%.0f = %.0f + %.0f", ck_total,
                     ck_keys, ck_ids);
            printf("%-8ld %-8s %6llu %7u | %-43s | %-40s | %.2f MB, "
                   "%.1f ms, %.1f ms%s\n",
                   nsec, by_type ? "yes" : "no", (unsigned long long)A->keys,
                   A->ring, cols, ccols, (double)A->ckpt_total / 1e6,
                   median(save, runs), median(load, runs),
                   differ ? " (BYTES DIFFER BETWEEN RUNS)" : "");
        }
    }
    printf("keys: series in memory (a section, and with by_type also each "
           "(section, type) seen); ring: buckets of history per key; dedup: "
           "the (src, id) table of the 4 partitions, which follows the "
           "events within the lateness, not the sections; ids: the live ids "
           "in the checkpoints\n");
    sw_settings_deinit(&s);
    return 0;
}
