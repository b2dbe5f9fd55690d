/*
 * sw_alert_writer: writes synthetic alert transitions into the Redis alert
 * log with the workers' own writer (sw_alert_log), for the hub's tests and
 * benchmark. Transitions are spread round-robin over the given sections;
 * every fourth alert id goes raised -> updated -> resolved.
 *
 * usage: sw_alert_writer URL PREFIX N RATE SECTIONS [TIMES_FILE]
 *   N       transitions to write
 *   RATE    per second (0: as fast as possible, batches of 500)
 *   SECTIONS  comma-separated section ids, e.g. HU-RS,HR-RS,RS-XK
 *   TIMES_FILE  when given: one line "seq write_ns" per transition, the
 *           CLOCK_REALTIME time just before its write (for latency)
 * Environment: SW_WRITER_RUN=R fixes the run-unique part of the alert ids,
 * so that a second run continues the alerts of the first (transitions it
 * wrote already are repeats, which the log ignores).
 * Prints "wrote N first=S last=S" on success. Exit 0, 1 on a Redis error.
 */
#include "sw_alert_log.h"
#include "sw_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: sw_alert_writer URL PREFIX N RATE SECTIONS "
                        "[TIMES_FILE]\n");
        return 2;
    }
    long n = atol(argv[3]);
    double rate = atof(argv[4]);
    char *secs[256];
    int nsec = 0;
    char *list = strdup(argv[5]);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && nsec < 256;
         t = strtok_r(NULL, ",", &save))
        secs[nsec++] = t;
    if (n <= 0 || nsec == 0) {
        fprintf(stderr, "sw_alert_writer: N > 0 and at least one section\n");
        return 2;
    }
    FILE *times = argc == 7 ? fopen(argv[6], "w") : NULL;
    char err[256];
    sw_alert_log_t *log =
        sw_alert_log_new(argv[1], argv[2], 5000, err, sizeof(err));
    if (log == NULL) {
        fprintf(stderr, "sw_alert_writer: %s\n", err);
        return 1;
    }
    /* a run-unique id part, so that two runs never collide */
    long run = getenv("SW_WRITER_RUN") ? atol(getenv("SW_WRITER_RUN"))
                                       : (long)(now_ns() / 1000 % 1000000000);
    int batch = rate <= 0 ? 500 : (rate >= 2000 ? (int)(rate / 1000) : 1);
    sw_alert_t *b = calloc((size_t)batch, sizeof(*b));
    uint64_t *seqs = calloc((size_t)batch, sizeof(*seqs));
    int64_t *t_ns = calloc((size_t)batch, sizeof(*t_ns));
    uint64_t first = 0, last = 0;
    int64_t start = now_ns();
    for (long i = 0; i < n;) {
        int k = 0;
        for (; k < batch && i < n; k++, i++) {
            sw_alert_t *a = &b[k];
            memset(a, 0, sizeof(*a));
            long id = i / 3; /* three transitions per alert id */
            const char *sec = secs[id % nsec];
            snprintf(a->section, sizeof(a->section), "%s", sec);
            snprintf(a->alert_id, sizeof(a->alert_id), "%s:ewma:%ld-%ld", sec,
                     run, id);
            a->state = (sw_alert_state_t)(i % 3);
            a->type = -1;
            a->detector = (sw_detector_kind_t)(id % 3);
            a->level = (sw_level_t)(i % 4);
            a->window_start = 1763798400000LL + id * 3600000LL;
            a->window_end = a->window_start + 3600000LL;
            a->raised_at = a->window_end;
            a->observed = 100 + (double)(i % 50);
            a->expected = 40.5;
            a->score = 3.25;
            a->threshold = 2.0;
            a->tseq = (uint32_t)(i % 3) + 1;
        }
        if (rate > 0) {
            /* paced: the batch's scheduled time */
            int64_t due = start + (int64_t)((double)(i - k) * 1e9 / rate);
            int64_t wait = due - now_ns();
            if (wait > 0) {
                struct timespec ts = {wait / 1000000000, wait % 1000000000};
                nanosleep(&ts, NULL);
            }
        }
        int64_t t = now_ns();
        for (int j = 0; j < k; j++)
            t_ns[j] = t;
        if (sw_alert_log_write(log, b, (size_t)k, seqs, err, sizeof(err))) {
            fprintf(stderr, "sw_alert_writer: %s\n", err);
            return 1;
        }
        if (first == 0)
            first = seqs[0];
        last = seqs[k - 1];
        for (int j = 0; times && j < k; j++)
            fprintf(times, "%llu %lld\n", (unsigned long long)seqs[j],
                    (long long)t_ns[j]);
    }
    if (times)
        fclose(times);
    printf("wrote %ld first=%llu last=%llu\n", n, (unsigned long long)first,
           (unsigned long long)last);
    sw_alert_log_destroy(&log);
    free(b);
    free(seqs);
    free(t_ns);
    free(list);
    return 0;
}
