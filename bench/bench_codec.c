/*
 * bench_codec: the event codec on one core. Decodes a file of JSON lines
 * (and the same events as CSV and msgpack) several times and prints the
 * median rate of each step, plus the heap allocations made per event during
 * the timed loops (malloc is counted by wrapping it in this program), which
 * must be 0.
 *
 * usage: bench_codec FILE.jsonl [RUNS]
 */
#include "sw_event.h"
#include "sw_event_text.h"
#include "sw_time.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_bench_alloc.h"

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

typedef struct {
    const char *name;
    double rate[32];
    unsigned long long allocs;
} result_t;

static void print_result(result_t *r, int runs, size_t n)
{
    double m = median(r->rate, runs);
    printf("%-22s %8.2f M events/s  %6.0f ns/event  allocations/event: %.4f\n",
           r->name, m / 1e6, 1e9 / m, (double)r->allocs / ((double)n * runs));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_codec FILE.jsonl [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 32)
        runs = 5;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        perror("read");
        return 1;
    }
    fclose(f);
    text[size] = '\0';

    /* index the lines */
    size_t n = 0, cap = 1 << 20;
    const char **lines = malloc(cap * sizeof(*lines));
    size_t *lens = malloc(cap * sizeof(*lens));
    for (char *p = text; p < text + size;) {
        char *nl = memchr(p, '\n', (size_t)(text + size - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(text + size - p);
        if (n == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof(*lines));
            lens = realloc(lens, cap * sizeof(*lens));
        }
        lines[n] = p;
        lens[n++] = len;
        p += len + 1;
    }
    int64_t now = sw_clock_now_ms();
    sw_event_t *evs = malloc(n * sizeof(*evs));
    unsigned char *mp = malloc(n * SW_EVENT_MSGPACK_MAX);
    size_t *mplen = malloc(n * sizeof(*mplen));
    char **csv = malloc(n * sizeof(*csv));
    sw_json_decoder_t *jd = sw_json_decoder_new();
    sw_csv_decoder_t *cd = sw_csv_decoder_new();
    sw_event_err_t err;
    result_t rj = {"json decode+validate", {0}, 0};
    result_t rc = {"csv decode+validate", {0}, 0};
    result_t re = {"msgpack encode", {0}, 0};
    result_t rd = {"msgpack decode+validate", {0}, 0};

    /* prepare CSV rows from the decoded events (untimed) */
    for (size_t i = 0; i < n; i++) {
        if (sw_json_decode_line(jd, lines[i], lens[i], now, &evs[i], &err)) {
            fprintf(stderr, "line %zu: %s\n", i + 1, err.msg);
            return 1;
        }
        char buf[512];
        const sw_event_t *e = &evs[i];
        int k = snprintf(buf, sizeof(buf), "%s,%s,%s,%lld,%s,%u,%s,,", e->id,
                         e->src, e->section, (long long)e->ts_ms,
                         sw_event_type_name(e->type), e->count, e->nat);
        if (SW_EV_HAS(e, SW_F_LAT))
            snprintf(buf + k, sizeof(buf) - (size_t)k, "%.5f,%.5f,", e->lat,
                     e->lon);
        else
            snprintf(buf + k, sizeof(buf) - (size_t)k, ",,");
        csv[i] = strdup(buf);
    }
    const char *hdr = "id,src,section,ts,type,count,nat,bcp,lat,lon,confidence";
    if (sw_csv_decoder_header(cd, hdr, strlen(hdr), &err)) {
        fprintf(stderr, "header: %s\n", err.msg);
        return 1;
    }

    for (int r = 0; r < runs; r++) {
        sw_event_t ev;
        unsigned long long a0 = sw_bench_allocs;
        int64_t t0 = sw_clock_mono_ns();
        for (size_t i = 0; i < n; i++)
            if (sw_json_decode_line(jd, lines[i], lens[i], now, &ev, &err))
                abort();
        int64_t t1 = sw_clock_mono_ns();
        rj.allocs += sw_bench_allocs - a0;
        rj.rate[r] = (double)n / ((double)(t1 - t0) / 1e9);

        a0 = sw_bench_allocs;
        t0 = sw_clock_mono_ns();
        for (size_t i = 0; i < n; i++)
            if (sw_csv_decode_line(cd, csv[i], strlen(csv[i]), now, &ev, &err))
                abort();
        t1 = sw_clock_mono_ns();
        rc.allocs += sw_bench_allocs - a0;
        rc.rate[r] = (double)n / ((double)(t1 - t0) / 1e9);

        a0 = sw_bench_allocs;
        t0 = sw_clock_mono_ns();
        for (size_t i = 0; i < n; i++)
            mplen[i] = sw_event_encode_msgpack(
                &evs[i], mp + i * SW_EVENT_MSGPACK_MAX, SW_EVENT_MSGPACK_MAX);
        t1 = sw_clock_mono_ns();
        re.allocs += sw_bench_allocs - a0;
        re.rate[r] = (double)n / ((double)(t1 - t0) / 1e9);

        a0 = sw_bench_allocs;
        t0 = sw_clock_mono_ns();
        for (size_t i = 0; i < n; i++)
            if (sw_event_decode_msgpack(mp + i * SW_EVENT_MSGPACK_MAX, mplen[i],
                                        now, &ev, &err))
                abort();
        t1 = sw_clock_mono_ns();
        rd.allocs += sw_bench_allocs - a0;
        rd.rate[r] = (double)n / ((double)(t1 - t0) / 1e9);
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += mplen[i];
    printf("bench_codec: %zu events, %d runs, medians, one core\n", n, runs);
    print_result(&rj, runs, n);
    print_result(&rc, runs, n);
    print_result(&re, runs, n);
    print_result(&rd, runs, n);
    printf("msgpack size: %.1f bytes/event on average (JSON: %.1f)\n",
           (double)bytes / (double)n, (double)size / (double)n);
    return 0;
}
