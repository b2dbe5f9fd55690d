/*
 * sw_alertlog_check: drives sw_alert_log against a real Redis for
 * tests/integration/test_alert_log.sh. Writes a set of alert transitions
 * in pipelined batches, writes them all again (a replay), and checks that
 * the replay returned the same sequence numbers and that the numbers are
 * 1..n in order. Prints "n=<n> active=<m>"; the script checks Redis with
 * redis-cli. Exit 0 on success.
 *
 * usage: sw_alertlog_check URL PREFIX N
 */
#include "sw_alert_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sw_alertlog_check URL PREFIX N\n");
        return 2;
    }
    size_t n = (size_t)atol(argv[3]);
    char err[256];
    sw_alert_log_t *log =
        sw_alert_log_new(argv[1], argv[2], 2000, err, sizeof(err));
    if (log == NULL) {
        fprintf(stderr, "sw_alertlog_check: %s\n", err);
        return 1;
    }
    sw_alert_t *a = calloc(n, sizeof(*a));
    uint64_t *s1 = calloc(n, sizeof(*s1)), *s2 = calloc(n, sizeof(*s2));
    /* alerts of 3 transitions each: raised, updated, resolved; every
     * fourth alert stays active (no resolve) */
    size_t active = 0;
    for (size_t i = 0; i < n; i++) {
        size_t id = i / 3, step = i % 3;
        sw_alert_t *x = &a[i];
        snprintf(x->alert_id, sizeof(x->alert_id),
                 "HU-RS:ears_c2:2019-03-%02zuT00:00Z-%zu", id % 28 + 1, id);
        strcpy(x->section, "HU-RS");
        x->type = -1;
        x->detector = SW_DET_EARS_C2;
        x->state = step == 0     ? SW_ALERT_RAISED
                   : step == 1   ? SW_ALERT_UPDATED
                   : id % 4 == 0 ? SW_ALERT_UPDATED
                                 : SW_ALERT_RESOLVED;
        x->window_start = 1551398400000 + (int64_t)(id * 3 + step) * 86400000;
        x->window_end = x->window_start + 86400000;
        x->observed = 40 + (double)step;
        x->expected = 10;
        x->score = 5 + (double)step;
        x->threshold = 3.09;
        x->raised_at = x->window_end;
    }
    /* the active set the log must hold: alerts whose last transition is
     * not a resolve */
    for (size_t i = 0; i < n; i++)
        if ((i + 1 == n || i % 3 == 2) && a[i].state != SW_ALERT_RESOLVED)
            active++;
    for (size_t i = 0; i < n; i += 100) {
        size_t k = n - i < 100 ? n - i : 100;
        if (sw_alert_log_write(log, a + i, k, s1 + i, err, sizeof(err))) {
            fprintf(stderr, "sw_alertlog_check: write: %s\n", err);
            return 1;
        }
    }
    for (size_t i = 0; i < n; i += 250) { /* the replay, other batches */
        size_t k = n - i < 250 ? n - i : 250;
        if (sw_alert_log_write(log, a + i, k, s2 + i, err, sizeof(err))) {
            fprintf(stderr, "sw_alertlog_check: replay: %s\n", err);
            return 1;
        }
    }
    uint64_t base = s1[0];
    for (size_t i = 0; i < n; i++) {
        if (s1[i] != base + i) {
            fprintf(
                stderr, "sw_alertlog_check: seq %llu at %zu, expected %llu\n",
                (unsigned long long)s1[i], i, (unsigned long long)(base + i));
            return 1;
        }
        if (s2[i] != s1[i]) {
            fprintf(stderr,
                    "sw_alertlog_check: replay gave seq %llu for "
                    "transition %zu, first write %llu\n",
                    (unsigned long long)s2[i], i, (unsigned long long)s1[i]);
            return 1;
        }
    }
    printf("n=%zu active=%zu first=%llu last=%llu\n", n, active,
           (unsigned long long)s1[0], (unsigned long long)s1[n - 1]);
    free(a);
    free(s1);
    free(s2);
    sw_alert_log_destroy(&log);
    return 0;
}
