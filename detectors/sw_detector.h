/*
 * sw_detector: the surge detection methods, as pure functions of a series
 * of bucket counts (oldest first, the last one being the bucket under
 * evaluation). No state is carried between evaluations: CUSUM and EWMA run
 * their recursion over a bounded history each time. That makes every
 * result a function of the final counts only, so late events, replays from
 * a checkpoint and any arrival order give the same answers.
 *
 * Every result carries observed and expected (counts), and score and
 * threshold in the same units, with alarm = (score >= threshold) and any
 * minimum-count rule. docs/detectors.md gives each formula.
 */
#ifndef SW_DETECTOR_H
#define SW_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#define SW_DETECTOR_MAP(X)                                                     \
    X(THRESHOLD, "threshold")                                                  \
    X(RATIO, "ratio")                                                          \
    X(EARS_C1, "ears_c1")                                                      \
    X(EARS_C2, "ears_c2")                                                      \
    X(EARS_C3, "ears_c3")                                                      \
    X(CUSUM, "cusum")                                                          \
    X(EWMA, "ewma")

typedef enum {
#define SW__DET_ENUM(name, text) SW_DET_##name,
    SW_DETECTOR_MAP(SW__DET_ENUM)
#undef SW__DET_ENUM
        SW_DET__COUNT
} sw_detector_kind_t;

/* Longest series any detector may ask for (buckets, current included). */
#define SW_DETECTOR_MAX_LOOKBACK 400

/* Parameters of one detector. Only the fields of its kind are read; see
 * sw_detector_params_default() for the defaults and
 * sw_detector_params_validate() for the accepted ranges. */
typedef struct sw_detector_params {
    sw_detector_kind_t kind;
    /* threshold: sum of the last `window` buckets >= limit.
     * ratio: sum of the last `window` buckets compared with the mean sum
     * of the k windows of the same length just before it. */
    uint32_t window;  /* buckets, 1..100 (default 1) */
    double limit;     /* threshold: count, > 0 (default 100) */
    uint32_t k;       /* ratio: previous windows, 1..50 (default 4) */
    double ratio;     /* ratio: alarm factor, > 1 (default 2.0) */
    double min_count; /* every kind: no alarm while observed < min_count,
                       * >= 0 (default 0; ratio: 10) */
    /* EARS C1/C2/C3 */
    uint32_t baseline; /* buckets in the baseline, 2..100 (default 7) */
    double alpha;      /* one-sided significance, 0 < alpha < 0.5
                        * (default 0.001: z = 3.0902; ears_c3: 0.025,
                        * z = 1.96, the CDC's "C3 > 2") */
    double min_sigma;  /* floor for the baseline sd, >= 0 (default 0.5) */
    /* CUSUM */
    double cusum_k;        /* reference value k, >= 0 (default 1.04) */
    double cusum_h;        /* decision interval h, > 0 (default 2.26) */
    uint32_t history;      /* cusum, ewma: buckets the recursion runs over,
                            * 1..300 (default 28) */
    uint32_t guard;        /* cusum, ewma: guard band between baseline and
                            * the evaluated bucket, 0..30 (default 2) */
    int reset_after_alarm; /* cusum: S restarts at 0 after an alarm
                            * (default 1) */
    double min_mean;       /* cusum: floor for the baseline mean m, > 0
                            * (default 0.5) */
    /* EWMA */
    double lambda; /* smoothing, 0 < lambda <= 1 (default 0.4; 0.9 for
                    * sudden changes) */
} sw_detector_params_t;

typedef struct sw_detector_result {
    int evaluable; /* 0: not enough history; nothing else is meaningful */
    int alarm;
    double observed;  /* counts in the evaluated window */
    double expected;  /* what the baseline expects there */
    double score;     /* the detector's statistic */
    double threshold; /* alarm when score >= threshold */
} sw_detector_result_t;

/* The name of a kind ("ears_c1"), or "?". */
const char *sw_detector_name(sw_detector_kind_t kind);

/* Looks a kind up by name. Returns the kind, or -1. */
int sw_detector_lookup(const char *name, size_t len);

/* Fills *p with the defaults of a kind. */
void sw_detector_params_default(sw_detector_kind_t kind,
                                sw_detector_params_t *p);

/* Checks every parameter of p's kind against its range. Returns 0, or -1
 * with errstr saying which parameter, its value and the accepted range,
 * e.g. "alpha: 0.7 is out of range (accepted: 0 < alpha < 0.5)". */
int sw_detector_params_validate(const sw_detector_params_t *p, char *errstr,
                                size_t errstr_size);

/* Buckets of history (the evaluated one included) that p needs before it
 * can evaluate; never more than SW_DETECTOR_MAX_LOOKBACK. */
size_t sw_detector_lookback(const sw_detector_params_t *p);

/* Evaluates p on counts[0..n), counts[n-1] being the evaluated bucket.
 * Missing buckets inside the series are zeros. When n is smaller than
 * sw_detector_lookback(p) the result is not evaluable. Only the last
 * lookback counts are read. Never fails, never allocates. */
void sw_detector_eval(const sw_detector_params_t *p, const uint32_t *counts,
                      size_t n, sw_detector_result_t *out);

/* sw_detector_eval() without the parameter check, for callers that
 * validated p once (the engine validates every profile it is given).
 * Unchecked parameters can read outside counts. */
void sw_detector_eval_valid(const sw_detector_params_t *p,
                            const uint32_t *counts, size_t n,
                            sw_detector_result_t *out);

/* The alarm bound of the last bucket: the smallest count c such that p,
 * evaluated on counts[0..n) with counts[n-1] replaced by c (the others
 * held), alarms. Every detector's score, and the observed count that
 * min_count compares, is non-decreasing in the last count, so the answer
 * is found by search over 0 <= c < 2^31 (an exponential search from 1,
 * then bisection: about 2 log2(c) evaluations). p must be valid, as for
 * sw_detector_eval_valid(). Returns 0 with *bound set, or 1 when there is
 * none (the series is not evaluable, or no count below 2^31 alarms);
 * *bound is then untouched. Never allocates: the last lookback counts are
 * copied to the stack. */
int sw_detector_bound(const sw_detector_params_t *p, const uint32_t *counts,
                      size_t n, double *bound);

/* The upper quantile z with P(Z > z) = alpha for a standard normal Z, for
 * 0 < alpha < 1 (alpha 0.001 gives 3.0902). Absolute error below 1e-9. */
double sw_norm_upper_quantile(double alpha);

#endif
