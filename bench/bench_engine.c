/*
 * bench_engine: the detection core on one core. 10 000 sections with a
 * mix of detectors (default ears_c2 + cusum; a third threshold + ewma; a
 * third ears_c1 + ratio), daily buckets, 24 h lateness, events in time
 * order with a few minutes of jitter, ids unique (de-duplication on).
 * Prints events/s for sw_engine_push (window update, de-duplication and
 * every detector evaluation as buckets close), evaluations/s, bytes of
 * state per section after each half of the run (memory must follow
 * sections and buckets, not events), and heap allocations counted during
 * the second half (malloc is wrapped in this program; must be 0).
 *
 * usage: bench_engine [SECTIONS] [EVENTS] [DAYS] [RUNS] [BUCKET_MINUTES]
 */
#include "sw_engine.h"
#include "sw_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_bench_alloc.h"

static uint64_t rng = 88172645463325252ull;
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

static uint64_t alerts;
static void on_alert(void *opaque, const sw_alert_t *a)
{
    (void)opaque;
    (void)a;
    alerts++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long nsec = argc > 1 ? atol(argv[1]) : 10000;
    long nev = argc > 2 ? atol(argv[2]) : 4000000;
    long days = argc > 3 ? atol(argv[3]) : 40;
    int runs = argc > 4 ? atoi(argv[4]) : 3;
    long bucket_min = argc > 5 ? atol(argv[5]) : 1440;
    if (nsec < 1 || nev < 2 || days < 1 || runs < 1 || runs > 15) {
        fprintf(stderr, "usage: bench_engine [SECTIONS] [EVENTS] [DAYS] "
                        "[RUNS] [BUCKET_MINUTES]\n");
        return 2;
    }
    /* profiles: default + overrides for two thirds of the sections */
    sw_profiles_t ps = {0};
    sw_profile_default(&ps.def);
    ps.v = calloc((size_t)nsec, sizeof(*ps.v));
    for (long i = 0; i < nsec; i++) {
        if (i % 3 == 0)
            continue;
        struct sw_profile_override *o = &ps.v[ps.n++];
        section_name(i, o->section);
        o->profile = ps.def;
        memset(o->profile.enabled, 0, sizeof(o->profile.enabled));
        if (i % 3 == 1) {
            o->profile.enabled[SW_DET_THRESHOLD] = 1;
            o->profile.enabled[SW_DET_EWMA] = 1;
            o->profile.params[SW_DET_THRESHOLD].limit = 40;
        } else {
            o->profile.enabled[SW_DET_EARS_C1] = 1;
            o->profile.enabled[SW_DET_RATIO] = 1;
        }
    }
    /* events, in time order with jitter, unique ids */
    sw_event_t *ev = malloc((size_t)nev * sizeof(*ev));
    if (ev == NULL) {
        fprintf(stderr, "out of memory for %ld events\n", nev);
        return 1;
    }
    int64_t t0 = sw_time_from_civil(2019, 1, 1, 0, 0, 0, 0);
    int64_t span = days * SW_MS_PER_DAY;
    for (long i = 0; i < nev; i++) {
        sw_event_t *e = &ev[i];
        sw_event_reset(e);
        long s = (long)(rnd() % (uint64_t)nsec);
        section_name(s, e->section);
        e->section_len = (uint8_t)strlen(e->section);
        memcpy(e->src, e->section, 2);
        e->src[2] = 0;
        e->id_len = (uint8_t)sprintf(e->id, "ev-%ld", i);
        e->ts_ms = t0 + span * i / nev + (int64_t)(rnd() % 600000);
        e->type = (sw_event_type_t)(rnd() % SW_TYPE__COUNT);
        e->count = 1 + (uint32_t)(rnd() % 4) + (rnd() % 50 == 0 ? 40 : 0);
        e->seen = SW_FIELDS_REQUIRED;
    }
    const sw_event_t **evp = malloc((size_t)nev * sizeof(*evp));
    for (long i = 0; i < nev; i++)
        evp[i] = &ev[i];
    double rate[16], evrate[16], steady[16];
    size_t bytes_half = 0, bytes_end = 0;
    unsigned long long allocs_second_half = 0, allocs_first_half = 0;
    uint64_t evals = 0, keys = 0;
    for (int r = 0; r < runs; r++) {
        sw_engine_conf_t conf;
        sw_engine_conf_default(&conf);
        conf.bucket_ms = bucket_min * SW_MS_PER_MIN;
        conf.on_alert = on_alert;
        char err[256];
        sw_engine_t *eng = sw_engine_new(&conf, &ps, err, sizeof(err));
        if (eng == NULL) {
            fprintf(stderr, "engine: %s\n", err);
            return 1;
        }
        unsigned long long f0 = sw_bench_allocs;
        int64_t a = sw_clock_mono_ns();
        long half = nev / 2;
        for (long i = 0; i < half; i += 256)
            sw_engine_push_batch(eng, 0, &evp[i],
                                 (size_t)(half - i < 256 ? half - i : 256),
                                 NULL);
        bytes_half = sw_engine_stats(eng)->state_bytes;
        uint64_t evals_half = sw_engine_stats(eng)->evaluations;
        int64_t mid = sw_clock_mono_ns();
        unsigned long long a0 = sw_bench_allocs;
        allocs_first_half = a0 - f0;
        for (long i = half; i < nev; i += 256)
            sw_engine_push_batch(eng, 0, &evp[i],
                                 (size_t)(nev - i < 256 ? nev - i : 256), NULL);
        allocs_second_half = sw_bench_allocs - a0;
        int64_t b = sw_clock_mono_ns();
        const sw_engine_stats_t *st = sw_engine_stats(eng);
        bytes_end = st->state_bytes;
        evals = st->evaluations;
        keys = st->keys;
        rate[r] = (double)nev / ((double)(b - a) / 1e9);
        steady[r] = (double)(nev - half) / ((double)(b - mid) / 1e9);
        evrate[r] = (double)(evals - evals_half) / ((double)(b - mid) / 1e9);
        sw_engine_destroy(&eng);
    }
    qsort(rate, (size_t)runs, sizeof(double), cmp_double);
    qsort(evrate, (size_t)runs, sizeof(double), cmp_double);
    char runs_text[256] = "";
    for (int r = 0, n = 0; r < runs; r++)
        n += snprintf(runs_text + n, sizeof(runs_text) - (size_t)n, "%s%.2f",
                      r ? " " : "", steady[r] / 1e6);
    qsort(steady, (size_t)runs, sizeof(double), cmp_double);
    printf("bench_engine: %ld sections (%llu keys), %ld events over %ld "
           "days, %ld-minute buckets, %d runs, median, one core\n",
           nsec, (unsigned long long)keys, nev, days, bucket_min, runs);
    printf("engine push (window update + dedup + detectors), after warm-up "
           "(second half): %.2f M events/s (%.0f ns/event; runs: %s)\n",
           steady[runs / 2] / 1e6, 1e9 / steady[runs / 2], runs_text);
    printf("whole run, including warm-up (keys and tables created, their "
           "pages first touched): %.2f M events/s\n",
           rate[runs / 2] / 1e6);
    printf("detector evaluations: %llu per run; %.2f M evaluations/s "
           "alongside the events in the second half\n",
           (unsigned long long)evals, evrate[runs / 2] / 1e6);
    printf("alerts per run: %llu\n", (unsigned long long)(alerts / runs));
    printf("state: %.0f bytes/section after %ld events, %.0f bytes/section "
           "after %ld events\n",
           (double)bytes_half / (double)keys, nev / 2,
           (double)bytes_end / (double)keys, nev);
    printf("heap allocations (malloc, calloc, realloc, aligned_alloc, all "
           "counted): %llu during the first half (warm-up: keys, tables), "
           "%llu during the second half (%ld events)\n",
           allocs_first_half, allocs_second_half, nev - nev / 2);
    free(evp);
    free(ev);
    free(ps.v);
    return 0;
}
