/*
 * Unit tests for sw_detector: every detector on short series whose results
 * were worked out by hand (the arithmetic is in the comment next to each
 * case) and cross-checked with an independent Python reference using only
 * the standard library (statistics.mean, statistics.stdev,
 * statistics.NormalDist). The tests contain literal numbers only.
 *
 * Notation: x[i] is the i-th count of the series (oldest first), t the
 * evaluated bucket (the last one), mu / sd the mean and sample sd (n - 1)
 * of a baseline, z the upper alpha quantile of the standard normal.
 *
 * Every evaluation goes through eval_exact(), which copies the series into
 * an allocation of exactly its length, so that the ASan build (make SAN=1)
 * reports any read outside it, and fills the result with garbage first.
 */
#include "sw_detector.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TOL 1e-9
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* z for alpha 0.001 and 0.025 (Python: -NormalDist().inv_cdf(alpha)) */
#define Z001 3.090232306167813
#define Z025 1.9599639845400538
/* the finite stand-in for an infinite score */
#define BIG 1e9

/* ------------------------------------------------------------- helpers */

static sw_detector_params_t params(sw_detector_kind_t kind)
{
    sw_detector_params_t p;
    sw_detector_params_default(kind, &p);
    return p;
}

static sw_detector_result_t eval_exact(const sw_detector_params_t *p,
                                       const uint32_t *counts, size_t n)
{
    uint32_t *copy = malloc(n > 0 ? n * sizeof(*copy) : 1);
    assert_non_null(copy);
    if (n > 0)
        memcpy(copy, counts, n * sizeof(*copy));
    sw_detector_result_t r;
    memset(&r, 0xa5, sizeof(r));
    sw_detector_eval(p, copy, n, &r);
    free(copy);
    return r;
}

static void near_at(int line, const char *what, double got, double want)
{
    if (!isfinite(got))
        fail_msg("line %d: %s = %g is not finite", line, what, got);
    if (!(fabs(got - want) <= TOL * fmax(1.0, fabs(want))))
        fail_msg("line %d: %s = %.17g, expected %.17g", line, what, got, want);
}

static void check_at(int line, const sw_detector_result_t *r, int alarm,
                     double observed, double expected, double score,
                     double threshold)
{
    if (r->evaluable != 1)
        fail_msg("line %d: not evaluable", line);
    near_at(line, "observed", r->observed, observed);
    near_at(line, "expected", r->expected, expected);
    near_at(line, "score", r->score, score);
    near_at(line, "threshold", r->threshold, threshold);
    if (r->alarm != alarm)
        fail_msg("line %d: alarm = %d, expected %d", line, r->alarm, alarm);
}

/* CHECK(params, series, n, alarm, observed, expected, score, threshold) */
#define CHECK(p, x, n, alarm, obs, exp, score, thr)                            \
    do {                                                                       \
        sw_detector_result_t r_ = eval_exact(&(p), (x), (n));                  \
        check_at(__LINE__, &r_, alarm, obs, exp, score, thr);                  \
    } while (0)

static void not_evaluable_at(int line, const sw_detector_params_t *p,
                             const uint32_t *x, size_t n)
{
    sw_detector_result_t r = eval_exact(p, x, n);
    if (r.evaluable != 0 || r.alarm != 0)
        fail_msg("line %d: evaluable %d alarm %d, expected 0 0", line,
                 r.evaluable, r.alarm);
    if (r.observed != 0.0 || r.expected != 0.0 || r.score != 0.0 ||
        r.threshold != 0.0)
        fail_msg("line %d: a non-evaluable result is not all zero", line);
}

#define NOT_EVALUABLE(p, x, n) not_evaluable_at(__LINE__, &(p), (x), (n))

/* n == lookback is evaluable, n == lookback - 1 is not. */
static void first_evaluable_at(int line, const sw_detector_params_t *p,
                               const uint32_t *x, size_t lookback)
{
    if (sw_detector_lookback(p) != lookback)
        fail_msg("line %d: lookback %zu, expected %zu", line,
                 sw_detector_lookback(p), lookback);
    not_evaluable_at(line, p, x, lookback - 1);
    sw_detector_result_t r = eval_exact(p, x, lookback);
    if (r.evaluable != 1)
        fail_msg("line %d: n == lookback is not evaluable", line);
}

#define FIRST_EVALUABLE(p, x, lb) first_evaluable_at(__LINE__, &(p), (x), (lb))

/* -------------------------------------------------- names and defaults */

static void test_names(void **state)
{
    (void)state;
    static const char *const names[] = {
        "threshold", "ratio", "ears_c1", "ears_c2", "ears_c3", "cusum", "ewma"};
    assert_int_equal(N_OF(names), SW_DET__COUNT);
    for (int i = 0; i < (int)SW_DET__COUNT; i++) {
        assert_string_equal(sw_detector_name((sw_detector_kind_t)i), names[i]);
        assert_int_equal(sw_detector_lookup(names[i], strlen(names[i])), i);
    }
    assert_string_equal(sw_detector_name(SW_DET__COUNT), "?");
    assert_string_equal(sw_detector_name((sw_detector_kind_t)-1), "?");
    /* the length counts, not a terminating NUL */
    assert_int_equal(sw_detector_lookup("ears_c1", 6), -1);
    assert_int_equal(sw_detector_lookup("ears_c1x", 7), SW_DET_EARS_C1);
    assert_int_equal(sw_detector_lookup("ears_c1x", 8), -1);
    assert_int_equal(sw_detector_lookup("EWMA", 4), -1);
    assert_int_equal(sw_detector_lookup("", 0), -1);
    assert_int_equal(sw_detector_lookup(NULL, 0), -1);
}

static void test_defaults(void **state)
{
    (void)state;
    char err[256];
    /* lookbacks: threshold window = 1; ratio 1 * (4 + 1) = 5; C1 7 + 1;
     * C2 7 + 3; C3 7 + 5; cusum 28 + 2 + 7 = 37; ewma max(28, 28+2+1) */
    static const size_t lookback[] = {1, 5, 8, 10, 12, 37, 31};
    for (int i = 0; i < (int)SW_DET__COUNT; i++) {
        sw_detector_params_t p = params((sw_detector_kind_t)i);
        assert_int_equal(p.kind, i);
        if (sw_detector_params_validate(&p, err, sizeof(err)) != 0)
            fail_msg("defaults of %s rejected: %s",
                     sw_detector_name((sw_detector_kind_t)i), err);
        assert_string_equal(err, "");
        assert_int_equal(sw_detector_lookback(&p), lookback[i]);
    }
    sw_detector_params_t p = params(SW_DET_THRESHOLD);
    assert_int_equal(p.window, 1);
    assert_true(p.limit == 100.0 && p.min_count == 0.0);
    p = params(SW_DET_RATIO);
    assert_int_equal(p.window, 1);
    assert_int_equal(p.k, 4);
    assert_true(p.ratio == 2.0 && p.min_count == 10.0);
    p = params(SW_DET_EARS_C1);
    assert_int_equal(p.baseline, 7);
    assert_true(p.alpha == 0.001 && p.min_sigma == 0.5);
    assert_true(params(SW_DET_EARS_C2).alpha == 0.001);
    assert_true(params(SW_DET_EARS_C3).alpha == 0.025);
    p = params(SW_DET_CUSUM);
    assert_int_equal(p.baseline, 7);
    assert_int_equal(p.guard, 2);
    assert_int_equal(p.history, 28);
    assert_int_equal(p.reset_after_alarm, 1);
    assert_true(p.cusum_k == 1.04 && p.cusum_h == 2.26 && p.min_mean == 0.5);
    p = params(SW_DET_EWMA);
    assert_int_equal(p.baseline, 28);
    assert_int_equal(p.guard, 2);
    assert_int_equal(p.history, 28);
    assert_true(p.lambda == 0.4 && p.alpha == 0.001 && p.min_sigma == 0.5);
    sw_detector_params_default(SW_DET_EWMA, NULL); /* no crash */
}

/* ------------------------------------------------------------ threshold */

static void test_threshold(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_THRESHOLD);
    p.window = 3;
    p.limit = 10;
    static const uint32_t x[] = {1, 2, 3, 4, 5};
    /* observed = 3 + 4 + 5 = 12 >= 10: alarm; expected = limit */
    CHECK(p, x, 5, 1, 12, 10, 12, 10);
    /* prefix of 3: 1 + 2 + 3 = 6 < 10 */
    CHECK(p, x, 3, 0, 6, 10, 6, 10);
    FIRST_EVALUABLE(p, x, 3);
    /* 3 + 3 + 4 = 10 >= 10: the limit itself alarms */
    static const uint32_t at[] = {3, 3, 4};
    CHECK(p, at, 3, 1, 10, 10, 10, 10);
    static const uint32_t below[] = {3, 3, 3};
    CHECK(p, below, 3, 0, 9, 10, 9, 10);
    /* min_count 13 > 12: the score still says 12, but no alarm */
    p.min_count = 13;
    CHECK(p, x, 5, 0, 12, 10, 12, 10);
    p.min_count = 12; /* 12 >= 12 */
    CHECK(p, x, 5, 1, 12, 10, 12, 10);
}

static void test_threshold_edges(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_THRESHOLD);
    p.window = 3;
    p.limit = 10;
    /* only the last window counts: 1 + 2 + 3 = 6 */
    static const uint32_t old_spike[] = {4000000000u, 1, 2, 3};
    CHECK(p, old_spike, 4, 0, 6, 10, 6, 10);
    /* all zero: 0 < 10 */
    static const uint32_t zeros[] = {0, 0, 0};
    CHECK(p, zeros, 3, 0, 0, 10, 0, 10);
    /* a gap: 7 + 0 + 3 = 10 */
    static const uint32_t gap[] = {7, 0, 3};
    CHECK(p, gap, 3, 1, 10, 10, 10, 10);
    /* 100 buckets of 2^32 - 1: 429496729500, exact in a double */
    static uint32_t huge[100];
    for (size_t i = 0; i < N_OF(huge); i++)
        huge[i] = UINT32_MAX;
    p.window = 100;
    p.limit = 1e12;
    CHECK(p, huge, 100, 0, 429496729500.0, 1e12, 429496729500.0, 1e12);
}

/* ---------------------------------------------------------------- ratio */

static void test_ratio(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_RATIO);
    p.window = 2;
    p.k = 3;
    p.min_count = 0;
    /* windows, oldest first: [1 3] = 4, [2 4] = 6, [0 2] = 2, current
     * [5 7] = 12; expected = (4 + 6 + 2) / 3 = 4; score = 12 / 4 = 3 >= 2 */
    static const uint32_t x[] = {1, 3, 2, 4, 0, 2, 5, 7};
    CHECK(p, x, 8, 1, 12, 4, 3, 2);
    FIRST_EVALUABLE(p, x, 8); /* 2 * (3 + 1) */
    /* gaps: [5 0] = 5, [0 5] = 5, [4 0] = 4 -> 14 / 3; current [9 9] = 18;
     * score = 18 / (14 / 3) = 54 / 14 = 3.857142857142857 */
    static const uint32_t gaps[] = {5, 0, 0, 5, 4, 0, 9, 9};
    CHECK(p, gaps, 8, 1, 18, 14.0 / 3.0, 3.857142857142857, 2);
}

static void test_ratio_boundary_and_min_count(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_RATIO); /* w 1, k 4, 2.0, 10 */
    /* expected = (2 + 4 + 6 + 8) / 4 = 5; 10 / 5 = 2 >= 2, 10 >= 10 */
    static const uint32_t x[] = {2, 4, 6, 8, 10};
    CHECK(p, x, 5, 1, 10, 5, 2, 2);
    FIRST_EVALUABLE(p, x, 5);
    /* expected = (1 + 2 + 3 + 4) / 4 = 2.5; 7 / 2.5 = 2.8 >= 2, but
     * 7 < min_count 10 */
    static const uint32_t small[] = {1, 2, 3, 4, 7};
    CHECK(p, small, 5, 0, 7, 2.5, 2.8, 2);
    p.min_count = 0;
    CHECK(p, small, 5, 1, 7, 2.5, 2.8, 2);
    /* the same series one higher: 8 / 2.5 = 3.2; ratio 3.5 > 3.2 */
    p.ratio = 3.5;
    static const uint32_t eight[] = {1, 2, 3, 4, 8};
    CHECK(p, eight, 5, 0, 8, 2.5, 3.2, 3.5);
}

static void test_ratio_expected_zero(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_RATIO);
    p.window = 2;
    p.k = 3;
    p.min_count = 0;
    /* previous windows all 0: expected 0, observed 3 + 4 = 7 > 0: the
     * score is the finite stand-in for infinity, 1e9 */
    static const uint32_t x[] = {0, 0, 0, 0, 0, 0, 3, 4};
    CHECK(p, x, 8, 1, 7, 0, BIG, 2);
    p.min_count = 10; /* 7 < 10 */
    CHECK(p, x, 8, 0, 7, 0, BIG, 2);
    /* 0 / 0: score 0 */
    static const uint32_t zeros[8] = {0};
    CHECK(p, zeros, 8, 0, 0, 0, 0, 2);
    /* expected 0 < observed only in the current window: not evaluable
     * one bucket short */
    NOT_EVALUABLE(p, x + 1, 7);
}

/* -------------------------------------------------------------- EARS C1 */

static void test_c1(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EARS_C1);
    /* baseline x[0..6] = 1 3 1 3 1 3 2: mu = 14 / 7 = 2, deviations
     * -1 1 -1 1 -1 1 0, sum of squares 6, sd = sqrt(6 / 6) = 1;
     * score = (6 - 2) / 1 = 4 >= z(0.001) = 3.0902 */
    static const uint32_t x[] = {1, 3, 1, 3, 1, 3, 2, 6};
    CHECK(p, x, 8, 1, 6, 2, 4, Z001);
    FIRST_EVALUABLE(p, x, 8);
    /* x_t = 5: (5 - 2) / 1 = 3 < 3.0902 */
    static const uint32_t five[] = {1, 3, 1, 3, 1, 3, 2, 5};
    CHECK(p, five, 8, 0, 5, 2, 3, Z001);
    /* below the mean: (0 - 2) / 1 = -2 */
    static const uint32_t low[] = {1, 3, 1, 3, 1, 3, 2, 0};
    CHECK(p, low, 8, 0, 0, 2, -2, Z001);
    /* min_count 7 > 6 */
    p.min_count = 7;
    CHECK(p, x, 8, 0, 6, 2, 4, Z001);
    /* a min_sigma above sd: sigma = 2, (6 - 2) / 2 = 2 */
    p.min_count = 0;
    p.min_sigma = 2;
    CHECK(p, x, 8, 0, 6, 2, 2, Z001);
    /* alpha 0.025: 4 >= 1.96 */
    p.min_sigma = 0.5;
    p.alpha = 0.025;
    CHECK(p, x, 8, 1, 6, 2, 4, Z025);
}

static void test_c1_zero_variance(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EARS_C1);
    /* baseline 5 x 7: mu 5, sd 0 -> min_sigma 0.5; (7 - 5) / 0.5 = 4 */
    static const uint32_t x[] = {5, 5, 5, 5, 5, 5, 5, 7};
    CHECK(p, x, 8, 1, 7, 5, 4, Z001);
    /* (6 - 5) / 0.5 = 2 */
    static const uint32_t six[] = {5, 5, 5, 5, 5, 5, 5, 6};
    CHECK(p, six, 8, 0, 6, 5, 2, Z001);
    /* no floor: 2 / 0 is the stand-in 1e9, 0 / 0 is 0, -2 / 0 is -1e9 */
    p.min_sigma = 0;
    CHECK(p, x, 8, 1, 7, 5, BIG, Z001);
    static const uint32_t flat[] = {5, 5, 5, 5, 5, 5, 5, 5};
    CHECK(p, flat, 8, 0, 5, 5, 0, Z001);
    static const uint32_t dip[] = {5, 5, 5, 5, 5, 5, 5, 3};
    CHECK(p, dip, 8, 0, 3, 5, -BIG, Z001);
}

static void test_c1_zeros_and_gaps(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EARS_C1);
    /* all zero: mu 0, sd 0 -> 0.5; (0 - 0) / 0.5 = 0 */
    static const uint32_t zeros[8] = {0};
    CHECK(p, zeros, 8, 0, 0, 0, 0, Z001);
    /* gaps in the baseline 0 4 0 4 0 4 2: mu = 14 / 7 = 2, deviations
     * -2 2 -2 2 -2 2 0, squares 24, sd = sqrt(24 / 6) = 2;
     * (9 - 2) / 2 = 3.5 */
    static const uint32_t gaps[] = {0, 4, 0, 4, 0, 4, 2, 9};
    CHECK(p, gaps, 8, 1, 9, 2, 3.5, Z001);
    /* a first bucket after silence: (1 - 0) / 0.5 = 2 */
    static const uint32_t first[] = {0, 0, 0, 0, 0, 0, 0, 1};
    CHECK(p, first, 8, 0, 1, 0, 2, Z001);
}

static void test_c1_late_correction(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EARS_C1);
    static const uint32_t before[] = {1, 3, 1, 3, 1, 3, 2, 6};
    CHECK(p, before, 8, 1, 6, 2, 4, Z001);
    /* late events raise x[2] from 1 to 8: baseline 1 3 8 3 1 3 2, mu =
     * 21 / 7 = 3, deviations -2 0 5 0 -2 0 -1, squares 34, sd =
     * sqrt(34 / 6) = 2.3804761428476167; (6 - 3) / sd = 1.260252075625209 */
    static const uint32_t after[] = {1, 3, 8, 3, 1, 3, 2, 6};
    CHECK(p, after, 8, 0, 6, 3, 1.260252075625209, Z001);
    /* and back: the result is a function of the counts only */
    CHECK(p, before, 8, 1, 6, 2, 4, Z001);
}

static void test_c1_reads_only_lookback(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EARS_C1);
    /* the two oldest buckets are outside the lookback of 8 */
    static const uint32_t x[] = {1000, 999, 1, 3, 1, 3, 1, 3, 2, 6};
    CHECK(p, x, 10, 1, 6, 2, 4, Z001);
}

/* -------------------------------------------------------------- EARS C2 */

static void test_c2(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EARS_C2);
    /* baseline x[0..6] = t-9..t-3 = 1 3 1 3 1 3 2 (mu 2, sd 1), guard band
     * x[7], x[8] = 100 100 ignored; (6 - 2) / 1 = 4 */
    static const uint32_t x[] = {1, 3, 1, 3, 1, 3, 2, 100, 100, 6};
    CHECK(p, x, 10, 1, 6, 2, 4, Z001);
    FIRST_EVALUABLE(p, x, 10);
    /* other guard-band values: the same result */
    static const uint32_t quiet[] = {1, 3, 1, 3, 1, 3, 2, 0, 0, 6};
    CHECK(p, quiet, 10, 1, 6, 2, 4, Z001);
    /* C1 on the same series sees the 100s: baseline 3 1 3 1 3 2 100 ...
     * (checked only for being different) */
    sw_detector_params_t c1 = params(SW_DET_EARS_C1);
    sw_detector_result_t r = eval_exact(&c1, x, 10);
    assert_true(r.evaluable && !r.alarm && r.score < 0);
    /* zero variance, floored: baseline 5 x 7, (7 - 5) / 0.5 = 4 */
    static const uint32_t flat[] = {5, 5, 5, 5, 5, 5, 5, 0, 0, 7};
    CHECK(p, flat, 10, 1, 7, 5, 4, Z001);
    /* all zero */
    static const uint32_t zeros[10] = {0};
    CHECK(p, zeros, 10, 0, 0, 0, 0, Z001);
}

/* -------------------------------------------------------------- EARS C3 */

/* x[0..8] = 2, then 3 4 2. Lookback 7 + 5 = 12, t = 11.
 * C2 at 9:  baseline x[0..6] all 2: mu 2, sd 0 -> 0.5; (3 - 2)/0.5 = 2
 * C2 at 10: baseline x[1..7] all 2:                  (4 - 2)/0.5 = 4
 * C2 at 11: baseline x[2..8] all 2:                  (2 - 2)/0.5 = 0
 * C3 = max(0, 2 - 1) + max(0, 4 - 1) + max(0, 0 - 1) = 1 + 3 + 0 = 4 */
static const uint32_t c3_series[] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 4, 2};

static void test_c3(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EARS_C3); /* alpha 0.025 */
    /* observed x_t = 2, expected = mu of C2 at t = 2; 4 >= 1.96 */
    CHECK(p, c3_series, 12, 1, 2, 2, 4, Z025);
    FIRST_EVALUABLE(p, c3_series, 12);
    /* alpha 0.001: 4 >= 3.0902 still */
    p.alpha = 0.001;
    CHECK(p, c3_series, 12, 1, 2, 2, 4, Z001);
    /* min_count 3 > x_t = 2: no alarm although C3 is high */
    p.min_count = 3;
    CHECK(p, c3_series, 12, 0, 2, 2, 4, Z001);
}

static void test_c3_vs_c2(void **state)
{
    (void)state;
    sw_detector_params_t c2 = params(SW_DET_EARS_C2);
    sw_detector_params_t c3 = params(SW_DET_EARS_C3);
    /* C2 at 9, 10, 11 (prefixes of 10, 11, 12), as in the comment above */
    CHECK(c2, c3_series, 10, 0, 3, 2, 2, Z001);
    CHECK(c2, c3_series, 11, 1, 4, 2, 4, Z001);
    CHECK(c2, c3_series, 12, 0, 2, 2, 0, Z001);
    /* and C3 is the sum of their excesses over 1 */
    double sum = 0;
    for (size_t n = 10; n <= 12; n++) {
        sw_detector_result_t r = eval_exact(&c2, c3_series, n);
        sum += fmax(0.0, r.score - 1.0);
    }
    sw_detector_result_t r3 = eval_exact(&c3, c3_series, 12);
    assert_true(fabs(r3.score - sum) < TOL);
    /* C2 scores below 1 contribute nothing: baseline 2s, then 2 2 2 gives
     * C2 = 0 0 0 and C3 = 0 */
    static const uint32_t flat[12] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    CHECK(c3, flat, 12, 0, 2, 2, 0, Z025);
}

static void test_c3_counts_the_current_day(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EARS_C3);
    /* x[0..10] = 2, x_t = 5: C2 at 9 and 10 are 0, C2 at t = (5 - 2) / 0.5
     * = 6; C3 = 0 + 0 + 5 = 5 >= 1.96. (R's earsC ignores day t and would
     * not alarm here: its partial sum over t-2, t-1 is 0.) */
    static const uint32_t x[] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 5};
    CHECK(p, x, 12, 1, 5, 2, 5, Z025);
}

/* The worked example of docs/detectors.md. Day 12 (t = 11), baselines of
 * C2 (t-9..t-3), values from the Python reference:
 *   C2 at day 10: baseline 5 7 4 6 5 6 7, mu 40/7, sd 1.1127...,
 *                 (6 - 5.714) / 1.1127 = 0.2568 -> 0
 *   C2 at day 11: baseline 7 4 6 5 6 7 5, mu 40/7, (5 - 5.714) / 1.1127
 *                 = -0.6419 -> 0
 *   C2 at day 12: baseline 4 6 5 6 7 5 6, mu 39/7 = 5.571428571428571,
 *                 sd 0.9759000729485332, (14 - 5.5714) / 0.9759 =
 *                 8.636715645594519 -> 7.636715645594519
 * Day 13: C2 = -0.6419, 8.6367, 0.2070 -> C3 = 7.636715645594519 again,
 * mu at day 13 = baseline 6 5 6 7 5 6 6 = 41/7 = 5.857142857142857. */
static void test_c3_docs_example(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EARS_C3);
    static const uint32_t x[] = {5, 7, 4, 6, 5, 6, 7, 5, 6, 6, 5, 14, 6};
    CHECK(p, x, 12, 1, 14, 39.0 / 7.0, 7.636715645594519, Z025);
    CHECK(p, x, 13, 1, 6, 41.0 / 7.0, 7.636715645594519, Z025);
}

/* ---------------------------------------------------------------- CUSUM */

/* baseline 2, guard 2, history 3: lookback 3 + 2 + 2 = 7. For step j,
 * m_j = mean(x[j-4], x[j-3]). Series 4 4 4 4 4 4 8 9 6: every m is 4,
 * sqrt(m) = 2, so z_j = (x_j - 4) / 2: 4 -> 0, 8 -> 2, 9 -> 2.5, 6 -> 1. */
static const uint32_t cusum_series[] = {4, 4, 4, 4, 4, 4, 8, 9, 6};

static sw_detector_params_t cusum_small(void)
{
    sw_detector_params_t p = params(SW_DET_CUSUM);
    p.baseline = 2;
    p.guard = 2;
    p.history = 3;
    return p;
}

static void test_cusum_accumulation(void **state)
{
    (void)state;
    sw_detector_params_t p = cusum_small();
    FIRST_EVALUABLE(p, cusum_series, 7);
    /* n = 7, steps x = 4 4 8: S = max(0, 0 + 0 - 1.04) = 0, 0, then
     * max(0, 0 + 2 - 1.04) = 0.96 < 2.26 */
    CHECK(p, cusum_series, 7, 0, 8, 4, 0.96, 2.26);
    /* n = 8, steps 4 8 9: 0, 0.96, 0.96 + 2.5 - 1.04 = 2.42 >= 2.26 */
    CHECK(p, cusum_series, 8, 1, 9, 4, 2.42, 2.26);
    /* k = 0 (plain sum of z), n = 9, steps 8 9 6: 2 + 2.5 + 1 = 5.5 */
    p.cusum_k = 0;
    p.cusum_h = 100;
    CHECK(p, cusum_series, 9, 0, 6, 4, 5.5, 100);
}

static void test_cusum_reset(void **state)
{
    (void)state;
    sw_detector_params_t p = cusum_small();
    /* n = 9, steps 8 9 6: 0.96, 2.42 >= 2.26 -> alarm at a step before the
     * last, S restarts at 0; then max(0, 0 + 1 - 1.04) = 0 */
    CHECK(p, cusum_series, 9, 0, 6, 4, 0, 2.26);
    /* without the reset: 2.42 + 1 - 1.04 = 2.38 >= 2.26 */
    p.reset_after_alarm = 0;
    CHECK(p, cusum_series, 9, 1, 6, 4, 2.38, 2.26);
    /* the bounded history forgets: n = 9 with history 1 sees only the last
     * step, max(0, 0 + 1 - 1.04) = 0 */
    p.history = 1;
    CHECK(p, cusum_series, 9, 0, 6, 4, 0, 2.26);
}

static void test_cusum_min_mean_and_zeros(void **state)
{
    (void)state;
    sw_detector_params_t p = cusum_small();
    /* all zero: m = max(0.5, 0) = 0.5, z = -0.5 / sqrt(0.5) < 0, S = 0 */
    static const uint32_t zeros[7] = {0};
    CHECK(p, zeros, 7, 0, 0, 0.5, 0, 2.26);
    /* a first event after silence, x_t = 3: z = (3 - 0.5) / sqrt(0.5) =
     * 2.5 * sqrt(2) = 3.5355339059327378; S = 3.5355 - 1.04 =
     * 2.4955339059327378 >= 2.26 */
    static const uint32_t spike[] = {0, 0, 0, 0, 0, 0, 3};
    CHECK(p, spike, 7, 1, 3, 0.5, 2.4955339059327378, 2.26);
    /* min_count 4 > 3 */
    p.min_count = 4;
    CHECK(p, spike, 7, 0, 3, 0.5, 2.4955339059327378, 2.26);
}

static void test_cusum_late_correction(void **state)
{
    (void)state;
    sw_detector_params_t p = cusum_small();
    CHECK(p, cusum_series, 8, 1, 9, 4, 2.42, 2.26);
    /* x[3] corrected from 4 to 16: n = 8, steps j = 5, 6, 7:
     * m_5 = mean(x1, x2) = 4,  z = (4 - 4) / 2 = 0           -> S 0
     * m_6 = mean(x2, x3) = 10, z = (8 - 10) / sqrt(10) < 0   -> S 0
     * m_7 = mean(x3, x4) = 10, z = (9 - 10) / sqrt(10) < 0   -> S 0 */
    static const uint32_t corrected[] = {4, 4, 4, 16, 4, 4, 8, 9};
    CHECK(p, corrected, 8, 0, 9, 10, 0, 2.26);
}

static void test_cusum_defaults(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_CUSUM);
    /* 36 fives then 10: lookback 28 + 2 + 7 = 37; every m = 5, the first
     * 27 steps have z = 0 (S = 0); last z = (10 - 5) / sqrt(5) = sqrt(5) =
     * 2.2360679774997898, S = 2.2361 - 1.04 = 1.1960679774997898 < 2.26 */
    uint32_t x[37];
    for (size_t i = 0; i < 36; i++)
        x[i] = 5;
    x[36] = 10;
    CHECK(p, x, 37, 0, 10, 5, 1.1960679774997898, 2.26);
    FIRST_EVALUABLE(p, x, 37);
}

/* ----------------------------------------------------------------- EWMA */

/* baseline 5, guard 1, history 3: lookback max(3, 5 + 1 + 1) = 7, t = 6,
 * baseline x[0..4], E runs over x[4], x[5], x[6]. */
static sw_detector_params_t ewma_small(double lambda)
{
    sw_detector_params_t p = params(SW_DET_EWMA);
    p.baseline = 5;
    p.guard = 1;
    p.history = 3;
    p.lambda = lambda;
    return p;
}

static void test_ewma(void **state)
{
    (void)state;
    /* baseline 1 3 1 3 2: mu 2, squares 1+1+1+1+0 = 4, sd = sqrt(4/4) = 1 */
    static const uint32_t x[] = {1, 3, 1, 3, 2, 5, 7};
    /* lambda 0.4: E = 2 -> 0.4*2 + 0.6*2 = 2 -> 0.4*5 + 0.6*2 = 3.2 ->
     * 0.4*7 + 0.6*3.2 = 4.72; sigma_E = 1 * sqrt(0.4 / 1.6) = 0.5;
     * score = (4.72 - 2) / 0.5 = 5.44 */
    sw_detector_params_t p = ewma_small(0.4);
    CHECK(p, x, 7, 1, 7, 2, 5.44, Z001);
    FIRST_EVALUABLE(p, x, 7);
    /* lambda 0.9: E = 2 -> 2 -> 0.9*5 + 0.1*2 = 4.7 -> 0.9*7 + 0.1*4.7 =
     * 6.77; sigma_E = sqrt(0.9 / 1.1) = 0.9045340337332909; score =
     * 4.77 / 0.9045340337332909 = 5.273433416665085 */
    p = ewma_small(0.9);
    CHECK(p, x, 7, 1, 7, 2, 5.273433416665085, Z001);
}

static void test_ewma_gradual_and_sudden(void **state)
{
    (void)state;
    /* gradual: guard 3 so that x[5..8] are outside the baseline 1 3 1 3 2
     * (mu 2, sd 1); lookback max(3, 5 + 3 + 1) = 9; E over 4 4 4.
     * lambda 0.4: 2 -> 2.8 -> 3.28 -> 3.568; (3.568 - 2) / 0.5 = 3.136
     * lambda 0.9: 2 -> 3.8 -> 3.98 -> 3.998; 1.998 / 0.9045340337332909 =
     * 2.2088721103766966 */
    static const uint32_t gradual[] = {1, 3, 1, 3, 2, 2, 4, 4, 4};
    sw_detector_params_t p = ewma_small(0.4);
    p.guard = 3;
    CHECK(p, gradual, 9, 1, 4, 2, 3.136, Z001);
    p.lambda = 0.9;
    CHECK(p, gradual, 9, 0, 4, 2, 2.2088721103766966, Z001);
    /* sudden: baseline 0 2 4 2 2: mu 2, squares 4+0+4+0+0 = 8, sd =
     * sqrt(2); E over 2 2 7.
     * lambda 0.4: E = 2 -> 2 -> 2 + 0.4*5 = 4; sigma_E = sqrt(2) * 0.5;
     *   2 / 0.7071067811865476 = 2.8284271247461903 < 3.09
     * lambda 0.9: E = 2 + 0.9*5 = 6.5; sigma_E = sqrt(2) *
     *   0.9045340337332909 = 1.2792042981336627; 4.5 / 1.2792 =
     *   3.517811819867572 */
    static const uint32_t sudden[] = {0, 2, 4, 2, 2, 2, 7};
    p = ewma_small(0.4);
    CHECK(p, sudden, 7, 0, 7, 2, 2.8284271247461903, Z001);
    p.lambda = 0.9;
    CHECK(p, sudden, 7, 1, 7, 2, 3.517811819867572, Z001);
}

static void test_ewma_lambda_1_is_c2(void **state)
{
    (void)state;
    /* lambda 1, history 1: E = x_t, sigma_E = sigma: the C2 statistic */
    sw_detector_params_t p = params(SW_DET_EWMA);
    p.baseline = 7;
    p.guard = 2;
    p.history = 1;
    p.lambda = 1;
    static const uint32_t x[] = {1, 3, 1, 3, 1, 3, 2, 100, 100, 6};
    CHECK(p, x, 10, 1, 6, 2, 4, Z001);
    FIRST_EVALUABLE(p, x, 10);
}

static void test_ewma_zero_variance(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EWMA);
    p.baseline = 7;
    p.guard = 2;
    p.history = 1;
    /* baseline 5 x 7: sd 0 -> 0.5; E = 0.4*7 + 0.6*5 = 5.8; sigma_E =
     * 0.5 * 0.5 = 0.25; (5.8 - 5) / 0.25 = 3.2 */
    static const uint32_t x[] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 7};
    CHECK(p, x, 10, 1, 7, 5, 3.2, Z001);
    /* without a floor: 0.8 / 0 is the stand-in 1e9 */
    p.min_sigma = 0;
    CHECK(p, x, 10, 1, 7, 5, BIG, Z001);
}

static void test_ewma_defaults(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EWMA);
    /* 30 threes then 6: lookback max(28, 28 + 2 + 1) = 31; baseline
     * x[0..27] all 3 (sd 0 -> 0.5); E stays 3 for 27 steps, then 0.4*6 +
     * 0.6*3 = 4.2; sigma_E = 0.5 * sqrt(0.4 / 1.6) = 0.25; 1.2 / 0.25 = 4.8 */
    uint32_t x[31];
    for (size_t i = 0; i < 30; i++)
        x[i] = 3;
    x[30] = 6;
    CHECK(p, x, 31, 1, 6, 3, 4.8, Z001);
    FIRST_EVALUABLE(p, x, 31);
    /* all zero */
    static const uint32_t zeros[31] = {0};
    CHECK(p, zeros, 31, 0, 0, 0, 0, Z001);
}

/* --------------------------------------------------------- all kinds */

static uint32_t lcg_next(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 16;
}

/* For every kind: a series with older buckets in front gives the same
 * result as the last lookback buckets alone; every field is finite, also
 * with the floors at 0 or tiny and counts of 2^32 - 1. */
static void test_all_kinds_window_and_finite(void **state)
{
    (void)state;
    uint32_t seed = 12345;
    static uint32_t x[SW_DETECTOR_MAX_LOOKBACK + 50];
    for (int kind = 0; kind < (int)SW_DET__COUNT; kind++) {
        for (int variant = 0; variant < 3; variant++) {
            sw_detector_params_t p = params((sw_detector_kind_t)kind);
            if (variant > 0) {
                p.min_sigma = 0;
                p.min_mean = 1e-300;
                p.alpha = variant == 1 ? 1e-300 : 0.4999;
                p.lambda = variant == 1 ? 1e-300 : 1;
                p.history = 300;
                p.guard = 0;
                p.baseline = 100;
                p.window = 100;
                p.k = 3;
            }
            char err[256];
            if (sw_detector_params_validate(&p, err, sizeof(err)) != 0)
                fail_msg("%s: %s", sw_detector_name(p.kind), err);
            size_t lb = sw_detector_lookback(&p);
            assert_true(lb >= 1 && lb <= SW_DETECTOR_MAX_LOOKBACK);
            for (int round = 0; round < 20; round++) {
                size_t n = lb + 50;
                for (size_t i = 0; i < n; i++) {
                    uint32_t v = lcg_next(&seed);
                    x[i] = round % 4 == 0   ? (v & 1 ? UINT32_MAX : 0)
                           : round % 4 == 1 ? v % 3
                           : round % 4 == 2 ? 7
                                            : v;
                }
                sw_detector_result_t full = eval_exact(&p, x, n);
                sw_detector_result_t last = eval_exact(&p, x + 50, lb);
                assert_int_equal(full.evaluable, 1);
                assert_memory_equal(&full, &last, sizeof(full));
                assert_true(isfinite(full.observed) &&
                            isfinite(full.expected) && isfinite(full.score) &&
                            isfinite(full.threshold));
                assert_int_equal(full.alarm, full.score >= full.threshold &&
                                                 full.observed >= p.min_count);
            }
        }
    }
}

static void test_eval_bad_input(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EARS_C1);
    static const uint32_t x[] = {1, 3, 1, 3, 1, 3, 2, 6};
    sw_detector_result_t r;
    memset(&r, 0xa5, sizeof(r));
    sw_detector_eval(&p, NULL, 8, &r);
    assert_int_equal(r.evaluable, 0);
    memset(&r, 0xa5, sizeof(r));
    sw_detector_eval(NULL, x, 8, &r);
    assert_int_equal(r.evaluable, 0);
    sw_detector_eval(&p, x, 8, NULL); /* no crash */
    NOT_EVALUABLE(p, x, 0);
    /* invalid parameters are never evaluable */
    p.alpha = NAN;
    NOT_EVALUABLE(p, x, 8);
    p = params(SW_DET_RATIO);
    p.window = 100;
    p.k = 50; /* lookback 5100, clamped to 400 but rejected */
    assert_int_equal(sw_detector_lookback(&p), SW_DETECTOR_MAX_LOOKBACK);
    static uint32_t many[SW_DETECTOR_MAX_LOOKBACK];
    NOT_EVALUABLE(p, many, SW_DETECTOR_MAX_LOOKBACK);
    p.kind = SW_DET__COUNT;
    NOT_EVALUABLE(p, many, SW_DETECTOR_MAX_LOOKBACK);
}

/* ------------------------------------------------------ normal quantile */

static void test_norm_upper_quantile(void **state)
{
    (void)state;
    assert_true(fabs(sw_norm_upper_quantile(0.001) - 3.090232306) < 1e-6);
    assert_true(fabs(sw_norm_upper_quantile(0.05) - 1.644853627) < 1e-6);
    assert_true(sw_norm_upper_quantile(0.5) == 0.0);
    /* to 1e-9, against Python's NormalDist().inv_cdf (Wichura AS241) */
    assert_true(fabs(sw_norm_upper_quantile(0.001) - 3.090232306167813) < 1e-9);
    assert_true(fabs(sw_norm_upper_quantile(0.05) - 1.6448536269514726) < 1e-9);
    assert_true(fabs(sw_norm_upper_quantile(0.025) - 1.9599639845400538) <
                1e-9);
    assert_true(fabs(sw_norm_upper_quantile(0.01) - 2.3263478740408408) < 1e-9);
    assert_true(fabs(sw_norm_upper_quantile(0.3) - 0.5244005127080407) < 1e-9);
    assert_true(fabs(sw_norm_upper_quantile(1e-10) - 6.361340902404056) < 1e-9);
    /* the Acklam region boundary p_low = 0.02425, both sides */
    assert_true(fabs(sw_norm_upper_quantile(0.02425) - 1.9729610513118845) <
                1e-9);
    assert_true(fabs(sw_norm_upper_quantile(0.0242) - 1.9738394633131993) <
                1e-9);
    /* symmetry */
    assert_true(fabs(sw_norm_upper_quantile(0.975) + 1.9599639845400538) <
                1e-9);
    /* outside (0, 1): finite, by the nearest case; NaN gives 0 */
    double top = sw_norm_upper_quantile(0.0);
    assert_true(isfinite(top) && top > 37.0 && top < 38.0);
    assert_true(sw_norm_upper_quantile(-1.0) == top);
    assert_true(sw_norm_upper_quantile(1.0) == -top);
    assert_true(sw_norm_upper_quantile(2.0) == -top);
    assert_true(sw_norm_upper_quantile(NAN) == 0.0);
}

/* ----------------------------------------------------------- validation */

static void rejected_at(int line, const sw_detector_params_t *p,
                        const char *want)
{
    char err[256];
    memset(err, 'x', sizeof(err));
    int rc = sw_detector_params_validate(p, err, sizeof(err));
    if (rc != -1)
        fail_msg("line %d: accepted, expected \"%s\"", line, want);
    if (strcmp(err, want) != 0)
        fail_msg("line %d: \"%s\", expected \"%s\"", line, err, want);
    /* and never evaluable */
    static uint32_t zeros[SW_DETECTOR_MAX_LOOKBACK];
    not_evaluable_at(line, p, zeros, SW_DETECTOR_MAX_LOOKBACK);
}

static void accepted_at(int line, const sw_detector_params_t *p)
{
    char err[256];
    if (sw_detector_params_validate(p, err, sizeof(err)) != 0)
        fail_msg("line %d: rejected: %s", line, err);
}

/* REJECT(kind, field, value, message): the defaults of kind with one
 * field changed */
#define REJECT(kind, field, value, msg)                                        \
    do {                                                                       \
        sw_detector_params_t p_ = params(kind);                                \
        p_.field = (value);                                                    \
        rejected_at(__LINE__, &p_, msg);                                       \
    } while (0)

#define ACCEPT(kind, field, value)                                             \
    do {                                                                       \
        sw_detector_params_t p_ = params(kind);                                \
        p_.field = (value);                                                    \
        accepted_at(__LINE__, &p_);                                            \
    } while (0)

static void test_validate_threshold_ratio(void **state)
{
    (void)state;
    const sw_detector_kind_t T = SW_DET_THRESHOLD, R = SW_DET_RATIO;
    REJECT(T, window, 0, "window: 0 is out of range (accepted: 1..100)");
    REJECT(T, window, 101, "window: 101 is out of range (accepted: 1..100)");
    ACCEPT(T, window, 1);
    ACCEPT(T, window, 100);
    REJECT(T, limit, 0,
           "limit: 0 is out of range (accepted: 0 < limit <= 1e+12)");
    REJECT(T, limit, -5,
           "limit: -5 is out of range (accepted: 0 < limit <= 1e+12)");
    REJECT(T, limit, INFINITY,
           "limit: inf is out of range (accepted: 0 < limit <= 1e+12)");
    REJECT(T, limit, NAN,
           "limit: nan is out of range (accepted: 0 < limit <= 1e+12)");
    ACCEPT(T, limit, 0.5);
    ACCEPT(T, limit, 1e12);
    REJECT(T, min_count, -1,
           "min_count: -1 is out of range (accepted: 0 <= min_count <= "
           "1e+12)");
    REJECT(T, min_count, NAN,
           "min_count: nan is out of range (accepted: 0 <= min_count <= "
           "1e+12)");
    REJECT(T, min_count, 2e12,
           "min_count: 2e+12 is out of range (accepted: 0 <= min_count <= "
           "1e+12)");
    ACCEPT(T, min_count, 0);
    /* parameters of other kinds are not read */
    ACCEPT(T, alpha, 0.9);
    ACCEPT(T, k, 0);

    REJECT(R, window, 0, "window: 0 is out of range (accepted: 1..100)");
    REJECT(R, window, 101, "window: 101 is out of range (accepted: 1..100)");
    REJECT(R, k, 0, "k: 0 is out of range (accepted: 1..50)");
    REJECT(R, k, 51, "k: 51 is out of range (accepted: 1..50)");
    ACCEPT(R, k, 50);
    REJECT(R, ratio, 1,
           "ratio: 1 is out of range (accepted: 1 < ratio <= 1e+06)");
    REJECT(R, ratio, 0.5,
           "ratio: 0.5 is out of range (accepted: 1 < ratio <= 1e+06)");
    REJECT(R, ratio, 2e6,
           "ratio: 2e+06 is out of range (accepted: 1 < ratio <= 1e+06)");
    REJECT(R, ratio, NAN,
           "ratio: nan is out of range (accepted: 1 < ratio <= 1e+06)");
    ACCEPT(R, ratio, 1.01);
    REJECT(R, min_count, -0.5,
           "min_count: -0.5 is out of range (accepted: 0 <= min_count <= "
           "1e+12)");
    /* window * (k + 1) must fit the lookback */
    sw_detector_params_t p = params(R);
    p.window = 100;
    p.k = 3; /* 400 */
    accepted_at(__LINE__, &p);
    assert_int_equal(sw_detector_lookback(&p), 400);
    p.k = 4; /* 500 */
    rejected_at(__LINE__, &p,
                "window, k: window * (k + 1) = 100 * 5 = 500 buckets is out "
                "of range (accepted: <= 400)");
}

static void test_validate_ears(void **state)
{
    (void)state;
    for (int kind = SW_DET_EARS_C1; kind <= SW_DET_EARS_C3; kind++) {
        const sw_detector_kind_t K = (sw_detector_kind_t)kind;
        REJECT(K, baseline, 1,
               "baseline: 1 is out of range (accepted: 2..100)");
        REJECT(K, baseline, 101,
               "baseline: 101 is out of range (accepted: 2..100)");
        ACCEPT(K, baseline, 2);
        ACCEPT(K, baseline, 100);
        REJECT(K, alpha, 0.7,
               "alpha: 0.7 is out of range (accepted: 0 < alpha < 0.5)");
        REJECT(K, alpha, 0.5,
               "alpha: 0.5 is out of range (accepted: 0 < alpha < 0.5)");
        REJECT(K, alpha, 0,
               "alpha: 0 is out of range (accepted: 0 < alpha < 0.5)");
        REJECT(K, alpha, -0.1,
               "alpha: -0.1 is out of range (accepted: 0 < alpha < 0.5)");
        REJECT(K, alpha, NAN,
               "alpha: nan is out of range (accepted: 0 < alpha < 0.5)");
        ACCEPT(K, alpha, 0.4999);
        ACCEPT(K, alpha, 1e-12);
        REJECT(K, min_sigma, -0.1,
               "min_sigma: -0.1 is out of range (accepted: 0 <= min_sigma "
               "<= 1e+06)");
        REJECT(K, min_sigma, NAN,
               "min_sigma: nan is out of range (accepted: 0 <= min_sigma "
               "<= 1e+06)");
        REJECT(K, min_sigma, INFINITY,
               "min_sigma: inf is out of range (accepted: 0 <= min_sigma "
               "<= 1e+06)");
        ACCEPT(K, min_sigma, 0);
        REJECT(K, min_count, -1,
               "min_count: -1 is out of range (accepted: 0 <= min_count <= "
               "1e+12)");
        ACCEPT(K, lambda, 0); /* not an EARS parameter */
    }
}

static void test_validate_cusum(void **state)
{
    (void)state;
    const sw_detector_kind_t C = SW_DET_CUSUM;
    REJECT(C, baseline, 1, "baseline: 1 is out of range (accepted: 2..100)");
    REJECT(C, baseline, 101,
           "baseline: 101 is out of range (accepted: 2..100)");
    REJECT(C, cusum_k, -0.1,
           "cusum_k: -0.1 is out of range (accepted: 0 <= cusum_k <= "
           "1000)");
    REJECT(C, cusum_k, 1001,
           "cusum_k: 1001 is out of range (accepted: 0 <= cusum_k <= "
           "1000)");
    REJECT(C, cusum_k, NAN,
           "cusum_k: nan is out of range (accepted: 0 <= cusum_k <= "
           "1000)");
    ACCEPT(C, cusum_k, 0);
    REJECT(C, cusum_h, 0,
           "cusum_h: 0 is out of range (accepted: 0 < cusum_h <= 1e+06)");
    REJECT(C, cusum_h, 2e6,
           "cusum_h: 2e+06 is out of range (accepted: 0 < cusum_h <= "
           "1e+06)");
    REJECT(C, cusum_h, NAN,
           "cusum_h: nan is out of range (accepted: 0 < cusum_h <= 1e+06)");
    REJECT(C, history, 0, "history: 0 is out of range (accepted: 1..300)");
    REJECT(C, history, 301, "history: 301 is out of range (accepted: 1..300)");
    REJECT(C, guard, 31, "guard: 31 is out of range (accepted: 0..30)");
    ACCEPT(C, guard, 0);
    ACCEPT(C, history, 1);
    REJECT(C, reset_after_alarm, 2,
           "reset_after_alarm: 2 is out of range (accepted: 0 or 1)");
    REJECT(C, reset_after_alarm, -1,
           "reset_after_alarm: -1 is out of range (accepted: 0 or 1)");
    ACCEPT(C, reset_after_alarm, 0);
    REJECT(C, min_mean, 0,
           "min_mean: 0 is out of range (accepted: 0 < min_mean <= 1e+06)");
    REJECT(C, min_mean, NAN,
           "min_mean: nan is out of range (accepted: 0 < min_mean <= "
           "1e+06)");
    REJECT(C, min_count, NAN,
           "min_count: nan is out of range (accepted: 0 <= min_count <= "
           "1e+12)");
    /* history + guard + baseline must fit the lookback */
    sw_detector_params_t p = params(C);
    p.history = 300;
    p.guard = 0;
    p.baseline = 100; /* 400 */
    accepted_at(__LINE__, &p);
    p.guard = 30; /* 430 */
    rejected_at(__LINE__, &p,
                "history, guard, baseline: history + guard + baseline = "
                "300 + 30 + 100 = 430 buckets is out of range "
                "(accepted: <= 400)");
}

static void test_validate_ewma(void **state)
{
    (void)state;
    const sw_detector_kind_t E = SW_DET_EWMA;
    REJECT(E, baseline, 1, "baseline: 1 is out of range (accepted: 2..100)");
    REJECT(E, alpha, 0.5,
           "alpha: 0.5 is out of range (accepted: 0 < alpha < 0.5)");
    REJECT(E, min_sigma, -1,
           "min_sigma: -1 is out of range (accepted: 0 <= min_sigma <= "
           "1e+06)");
    REJECT(E, history, 0, "history: 0 is out of range (accepted: 1..300)");
    REJECT(E, history, 301, "history: 301 is out of range (accepted: 1..300)");
    REJECT(E, guard, 31, "guard: 31 is out of range (accepted: 0..30)");
    REJECT(E, lambda, 0,
           "lambda: 0 is out of range (accepted: 0 < lambda <= 1)");
    REJECT(E, lambda, 1.1,
           "lambda: 1.1 is out of range (accepted: 0 < lambda <= 1)");
    REJECT(E, lambda, NAN,
           "lambda: nan is out of range (accepted: 0 < lambda <= 1)");
    ACCEPT(E, lambda, 1);
    ACCEPT(E, lambda, 0.9);
    REJECT(E, min_count, -1,
           "min_count: -1 is out of range (accepted: 0 <= min_count <= "
           "1e+12)");
    ACCEPT(E, cusum_h, 0); /* not an EWMA parameter */
    /* the largest EWMA: max(300, 100 + 30 + 1) = 300 */
    sw_detector_params_t p = params(E);
    p.history = 300;
    p.baseline = 100;
    p.guard = 30;
    accepted_at(__LINE__, &p);
    assert_int_equal(sw_detector_lookback(&p), 300);
    p.history = 10; /* max(10, 131) */
    assert_int_equal(sw_detector_lookback(&p), 131);
}

static void test_validate_misc(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EWMA);
    p.kind = SW_DET__COUNT;
    rejected_at(__LINE__, &p, "kind: 7 is out of range (accepted: 0..6)");
    char err[64];
    assert_int_equal(sw_detector_params_validate(NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "no parameters");
    /* no errstr, or a short one: still -1, still terminated */
    p = params(SW_DET_EWMA);
    p.lambda = 2;
    assert_int_equal(sw_detector_params_validate(&p, NULL, 0), -1);
    char small[8];
    assert_int_equal(sw_detector_params_validate(&p, small, sizeof(small)), -1);
    assert_string_equal(small, "lambda:");
    /* success clears errstr */
    p.lambda = 0.4;
    strcpy(err, "stale");
    assert_int_equal(sw_detector_params_validate(&p, err, sizeof(err)), 0);
    assert_string_equal(err, "");
}

/* ---------------------------------------------------------- alarm bound */

/* sw_detector_bound on an allocation of exactly n counts (ASan sees any
 * read outside it). Returns its status; *bound is -1 when untouched. */
static int bound_exact(const sw_detector_params_t *p, const uint32_t *counts,
                       size_t n, double *bound)
{
    uint32_t *copy = malloc(n > 0 ? n * sizeof(*copy) : 1);
    assert_non_null(copy);
    if (n > 0)
        memcpy(copy, counts, n * sizeof(*copy));
    *bound = -1.0;
    int rc = sw_detector_bound(p, copy, n, bound);
    /* the caller's series is not changed */
    if (n > 0 && memcmp(copy, counts, n * sizeof(*copy)) != 0)
        fail_msg("sw_detector_bound changed the series");
    free(copy);
    return rc;
}

static void bound_is_at(int line, const sw_detector_params_t *p,
                        const uint32_t *x, size_t n, double want)
{
    double b;
    int rc = bound_exact(p, x, n, &b);
    if (rc != 0)
        fail_msg("line %d: no bound, expected %g", line, want);
    if (b != want)
        fail_msg("line %d: bound %.17g, expected %g", line, b, want);
}

static void no_bound_at(int line, const sw_detector_params_t *p,
                        const uint32_t *x, size_t n)
{
    double b;
    int rc = bound_exact(p, x, n, &b);
    if (rc != 1 || b != -1.0)
        fail_msg("line %d: rc %d bound %g, expected none (1, untouched)", line,
                 rc, b);
}

#define BOUND_IS(p, x, n, want) bound_is_at(__LINE__, &(p), (x), (n), (want))
#define NO_BOUND(p, x, n) no_bound_at(__LINE__, &(p), (x), (n))

static void test_bound_threshold(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_THRESHOLD);
    /* window 1, limit 100: the limit, whatever the last count is now */
    static const uint32_t one[] = {5};
    static const uint32_t big[] = {500};
    BOUND_IS(p, one, 1, 100);
    BOUND_IS(p, big, 1, 100);
    /* window 3: 30 + 40 + c >= 100 from c = 30 */
    p.window = 3;
    static const uint32_t w3[] = {999, 30, 40, 7};
    BOUND_IS(p, w3, 4, 30);
    /* the earlier buckets reach the limit alone: any count alarms */
    static const uint32_t over[] = {60, 50, 0};
    BOUND_IS(p, over, 3, 0);
    /* a fractional limit: 100.5 is reached from 101 */
    p.window = 1;
    p.limit = 100.5;
    BOUND_IS(p, one, 1, 101);
    /* min_count above the limit wins */
    p.limit = 100;
    p.min_count = 150;
    BOUND_IS(p, one, 1, 150);
    /* no count below 2^31 reaches 1e12 */
    p.min_count = 0;
    p.limit = 1e12;
    NO_BOUND(p, one, 1);
    /* the largest count searched alarms: 2^31 - 1 */
    p.limit = 2147483647.0;
    BOUND_IS(p, one, 1, 2147483647.0);
    p.limit = 2147483648.0;
    NO_BOUND(p, one, 1);
}

static void test_bound_ratio(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_RATIO);
    /* previous windows 10, 20, 30, 40: mean 25, ratio 2 -> 50 */
    static const uint32_t x[] = {10, 20, 30, 40, 3};
    BOUND_IS(p, x, 5, 50);
    /* a zero baseline: any count > 0 is an infinite ratio, so min_count
     * (10) decides */
    static const uint32_t zero[] = {0, 0, 0, 0, 0};
    BOUND_IS(p, zero, 5, 10);
    p.min_count = 0;
    BOUND_IS(p, zero, 5, 1);
}

static void test_bound_ears_c2(void **state)
{
    (void)state;
    sw_detector_params_t p = params(SW_DET_EARS_C2);
    /* baseline x[0..7) = 10 12 11 13 9 10 12: mu = 11, squared deviations
     * 1 1 0 4 4 1 1 = 12, sd = sqrt(12 / 6) = 1.4142135623730951;
     * mu + z sd = 11 + 3.090232306167813 * 1.4142135623730951
     * = 15.370268..., so 16 alarms and 15 does not. x[7], x[8] are the
     * guard band and do not count. */
    static const uint32_t x[] = {10, 12, 11, 13, 9, 10, 12, 500, 0, 1};
    BOUND_IS(p, x, 10, 16);
    sw_detector_result_t r;
    uint32_t y[10];
    memcpy(y, x, sizeof(y));
    y[9] = 15;
    r = eval_exact(&p, y, 10);
    assert_int_equal(r.alarm, 0);
    y[9] = 16;
    r = eval_exact(&p, y, 10);
    assert_int_equal(r.alarm, 1);
    /* a flat baseline: sigma is min_sigma 0.5; 11 + 3.0902 * 0.5 = 12.545 */
    static const uint32_t flat[] = {11, 11, 11, 11, 11, 11, 11, 0, 0, 0};
    BOUND_IS(p, flat, 10, 13);
    /* the bound is ceil(mu + z sigma) on any baseline: the formula of
     * docs/detectors.md against the search */
    uint32_t s = 12345;
    for (int it = 0; it < 200; it++) {
        uint32_t z[10];
        uint32_t scale = it % 3 == 0 ? 5 : it % 3 == 1 ? 60 : 4000;
        for (int i = 0; i < 10; i++) {
            s = s * 1103515245u + 12345u;
            z[i] = (s >> 8) % (scale + 1);
        }
        double mu = 0, ss = 0;
        for (int i = 0; i < 7; i++)
            mu += z[i];
        mu /= 7;
        for (int i = 0; i < 7; i++)
            ss += (z[i] - mu) * (z[i] - mu);
        double sd = sqrt(ss / 6);
        double sigma = sd > 0.5 ? sd : 0.5;
        double v = mu + Z001 * sigma;
        double b;
        assert_int_equal(bound_exact(&p, z, 10, &b), 0);
        /* v itself a whole number (or within rounding of one) may go
         * either way; everything else must be exactly ceil(v) */
        if (fabs(v - round(v)) > 1e-9 && b != ceil(v))
            fail_msg("round %d: bound %g, expected ceil(%.17g) = %g", it, b, v,
                     ceil(v));
        if (!(b >= v - 1e-9 && b < v + 1))
            fail_msg("round %d: bound %g is not the first count >= %.17g", it,
                     b, v);
    }
}

/* One random series, its bound, and the evaluation on each side of it. */
static void bound_brackets(const sw_detector_params_t *p, uint32_t *x, size_t n,
                           const char *what)
{
    double b;
    int rc = bound_exact(p, x, n, &b);
    uint32_t keep = x[n - 1];
    sw_detector_result_t r;
    if (rc == 1) {
        /* none: not even the largest count searched alarms */
        x[n - 1] = UINT32_C(0x7fffffff);
        r = eval_exact(p, x, n);
        if (r.alarm)
            fail_msg("%s: no bound, but 2^31 - 1 alarms", what);
        x[n - 1] = keep;
        return;
    }
    if (!(b >= 0 && b <= 2147483647.0 && b == floor(b)))
        fail_msg("%s: bound %.17g is not a count", what, b);
    x[n - 1] = (uint32_t)b;
    r = eval_exact(p, x, n);
    if (!r.evaluable || !r.alarm)
        fail_msg("%s: count %g (the bound) does not alarm", what, b);
    if (b > 0) {
        x[n - 1] = (uint32_t)b - 1;
        r = eval_exact(p, x, n);
        if (r.alarm)
            fail_msg("%s: count %g (the bound - 1) alarms", what, b - 1);
    }
    x[n - 1] = keep;
}

static void test_bound_every_kind_random(void **state)
{
    (void)state;
    /* each kind with its defaults and with settings that change its
     * shape: windows, reset, lambda, min_count */
    sw_detector_params_t ps[32];
    size_t np = 0;
    for (int k = 0; k < (int)SW_DET__COUNT; k++) {
        ps[np++] = params((sw_detector_kind_t)k);
        sw_detector_params_t q = params((sw_detector_kind_t)k);
        q.min_count = 25;
        q.window = 3;
        q.k = 2;
        q.limit = 120;
        q.reset_after_alarm = 0;
        q.lambda = 0.9;
        q.baseline = 4;
        q.history = 10;
        q.guard = 1;
        q.alpha = 0.01;
        q.cusum_k = 0.5;
        q.cusum_h = 4;
        char err[256];
        if (sw_detector_params_validate(&q, err, sizeof(err)))
            fail_msg("%s: %s", sw_detector_name(q.kind), err);
        ps[np++] = q;
    }
    uint32_t s = 777;
    uint32_t x[SW_DETECTOR_MAX_LOOKBACK];
    int with_bound = 0, none = 0, zero = 0;
    for (size_t i = 0; i < np; i++) {
        size_t lb = sw_detector_lookback(&ps[i]);
        for (int it = 0; it < 60; it++) {
            uint32_t scale = it % 4 == 0   ? 3
                             : it % 4 == 1 ? 40
                             : it % 4 == 2 ? 1000
                                           : 100000;
            size_t n = lb + (size_t)(it % 5);
            for (size_t j = 0; j < n; j++) {
                s = s * 1103515245u + 12345u;
                x[j] = (s >> 8) % (scale + 1);
                /* sometimes a surge in the history (cusum, ewma, ratio) */
                if (it % 7 == 3 && j + 3 >= n)
                    x[j] += 5 * scale;
            }
            char what[96];
            snprintf(what, sizeof(what), "%s #%zu round %d",
                     sw_detector_name(ps[i].kind), i, it);
            bound_brackets(&ps[i], x, n, what);
            double b;
            int rc = bound_exact(&ps[i], x, n, &b);
            with_bound += rc == 0;
            none += rc == 1;
            zero += rc == 0 && b == 0;
        }
    }
    /* the rounds reach the interesting cases */
    assert_true(with_bound > 500);
    assert_true(zero > 0);
}

static void test_bound_not_evaluable(void **state)
{
    (void)state;
    static const uint32_t x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    for (int k = 0; k < (int)SW_DET__COUNT; k++) {
        sw_detector_params_t p = params((sw_detector_kind_t)k);
        size_t lb = sw_detector_lookback(&p);
        if (lb > 1)
            NO_BOUND(p, x, lb - 1 < N_OF(x) ? lb - 1 : N_OF(x));
        NO_BOUND(p, x, 0);
        double b = -1;
        assert_int_equal(sw_detector_bound(&p, NULL, 5, &b), 1);
        assert_true(b == -1);
        assert_int_equal(sw_detector_bound(NULL, x, 5, &b), 1);
        assert_int_equal(sw_detector_bound(&p, x, N_OF(x), NULL), 1);
    }
    /* the first evaluable length has a bound (ears_c2: 10 counts) */
    sw_detector_params_t p = params(SW_DET_EARS_C2);
    double b;
    assert_int_equal(bound_exact(&p, x, 10, &b), 0);
    assert_int_equal(bound_exact(&p, x, 9, &b), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_threshold_edges),
        cmocka_unit_test(test_ratio),
        cmocka_unit_test(test_ratio_boundary_and_min_count),
        cmocka_unit_test(test_ratio_expected_zero),
        cmocka_unit_test(test_c1),
        cmocka_unit_test(test_c1_zero_variance),
        cmocka_unit_test(test_c1_zeros_and_gaps),
        cmocka_unit_test(test_c1_late_correction),
        cmocka_unit_test(test_c1_reads_only_lookback),
        cmocka_unit_test(test_c2),
        cmocka_unit_test(test_c3),
        cmocka_unit_test(test_c3_vs_c2),
        cmocka_unit_test(test_c3_counts_the_current_day),
        cmocka_unit_test(test_c3_docs_example),
        cmocka_unit_test(test_cusum_accumulation),
        cmocka_unit_test(test_cusum_reset),
        cmocka_unit_test(test_cusum_min_mean_and_zeros),
        cmocka_unit_test(test_cusum_late_correction),
        cmocka_unit_test(test_cusum_defaults),
        cmocka_unit_test(test_ewma),
        cmocka_unit_test(test_ewma_gradual_and_sudden),
        cmocka_unit_test(test_ewma_lambda_1_is_c2),
        cmocka_unit_test(test_ewma_zero_variance),
        cmocka_unit_test(test_ewma_defaults),
        cmocka_unit_test(test_all_kinds_window_and_finite),
        cmocka_unit_test(test_eval_bad_input),
        cmocka_unit_test(test_norm_upper_quantile),
        cmocka_unit_test(test_validate_threshold_ratio),
        cmocka_unit_test(test_validate_ears),
        cmocka_unit_test(test_validate_cusum),
        cmocka_unit_test(test_validate_ewma),
        cmocka_unit_test(test_validate_misc),
        cmocka_unit_test(test_bound_threshold),
        cmocka_unit_test(test_bound_ratio),
        cmocka_unit_test(test_bound_ears_c2),
        cmocka_unit_test(test_bound_every_kind_random),
        cmocka_unit_test(test_bound_not_evaluable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
