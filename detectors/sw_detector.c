/*
 * sw_detector: the surge detection methods (fixed threshold, ratio to the
 * previous windows, EARS C1/C2/C3, Poisson CUSUM, EWMA) as pure functions
 * of a series of bucket counts. docs/detectors.md gives every formula; the
 * comments here say why the code does what it does.
 *
 * Nothing here allocates, prints or keeps state: each evaluation reads the
 * last sw_detector_lookback() counts and nothing else, so a late correction
 * of a past bucket is picked up by simply evaluating again.
 *
 * Every result is finite. The only divisions are by a count mean, a floored
 * sd or a floored mean; when a divisor is zero (a parameter floor set to 0)
 * or a quotient would overflow, the quotient becomes +-SCORE_INF, a large
 * finite stand-in for infinity, so comparisons and formatting still work.
 */
#include "sw_detector.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The stand-in for an infinite score (see the file comment). */
#define SCORE_INF 1e9

/* Upper bounds for parameters the header only bounds below: far beyond any
 * sensible setting, they exist to keep every result finite. */
#define COUNT_MAX 1e12 /* limit, min_count */
#define FACTOR_MAX 1e6 /* ratio, min_sigma, cusum_h, min_mean */
#define CUSUM_K_MAX 1e3

static const char *const kind_names[] = {
#define SW__DET_NAME(name, text) text,
    SW_DETECTOR_MAP(SW__DET_NAME)
#undef SW__DET_NAME
};

const char *sw_detector_name(sw_detector_kind_t kind)
{
    if ((unsigned)kind >= (unsigned)SW_DET__COUNT)
        return "?";
    return kind_names[kind];
}

int sw_detector_lookup(const char *name, size_t len)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < (int)SW_DET__COUNT; i++) {
        if (strlen(kind_names[i]) == len &&
            memcmp(kind_names[i], name, len) == 0)
            return i;
    }
    return -1;
}

void sw_detector_params_default(sw_detector_kind_t kind,
                                sw_detector_params_t *p)
{
    if (p == NULL)
        return;
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->window = 1;
    p->limit = 100.0;
    p->k = 4;
    p->ratio = 2.0;
    p->min_count = 0.0;
    p->baseline = 7;
    p->alpha = 0.001;
    p->min_sigma = 0.5;
    p->cusum_k = 1.04;
    p->cusum_h = 2.26;
    p->history = 28;
    p->guard = 2;
    p->reset_after_alarm = 1;
    p->min_mean = 0.5;
    p->lambda = 0.4;
    switch (kind) {
    case SW_DET_RATIO:
        /* a ratio of tiny counts is noise: 1 -> 3 is "x3" */
        p->min_count = 10.0;
        break;
    case SW_DET_EARS_C3:
        /* C3 sums up to three exceedances: the CDC flags C3 > 2, and R
         * surveillance's earsC defaults to alpha 0.025 (z = 1.96) for C3 */
        p->alpha = 0.025;
        break;
    case SW_DET_EWMA:
        /* ESSENCE: 28-day baseline, 2-day guard band */
        p->baseline = 28;
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------ validation */

__attribute__((format(printf, 3, 4))) static int
fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (errstr != NULL && errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int check_u32(const char *name, uint32_t v, uint32_t lo, uint32_t hi,
                     char *errstr, size_t errstr_size)
{
    if (v >= lo && v <= hi)
        return 0;
    return fail(errstr, errstr_size,
                "%s: %u is out of range (accepted: %u..%u)", name, (unsigned)v,
                (unsigned)lo, (unsigned)hi);
}

/* lo < v (lo_open) or lo <= v, and v < hi (hi_open) or v <= hi. Written so
 * that NaN fails every comparison and is rejected. */
static int check_dbl(const char *name, double v, double lo, int lo_open,
                     double hi, int hi_open, char *errstr, size_t errstr_size)
{
    int ok_lo = lo_open ? v > lo : v >= lo;
    int ok_hi = hi_open ? v < hi : v <= hi;
    if (ok_lo && ok_hi)
        return 0;
    return fail(errstr, errstr_size,
                "%s: %g is out of range (accepted: %g %s %s %s %g)", name, v,
                lo, lo_open ? "<" : "<=", name, hi_open ? "<" : "<=", hi);
}

#define CHECK_U32(field, lo, hi)                                               \
    do {                                                                       \
        if (check_u32(#field, p->field, lo, hi, errstr, errstr_size) < 0)      \
            return -1;                                                         \
    } while (0)

#define CHECK_DBL(field, lo, lo_open, hi, hi_open)                             \
    do {                                                                       \
        if (check_dbl(#field, p->field, lo, lo_open, hi, hi_open, errstr,      \
                      errstr_size) < 0)                                        \
            return -1;                                                         \
    } while (0)

/* The lookback of p without the clamp of sw_detector_lookback(); 64-bit so
 * that no valid or invalid combination overflows. */
static uint64_t raw_lookback(const sw_detector_params_t *p)
{
    uint64_t window = p->window, k = p->k, baseline = p->baseline;
    uint64_t history = p->history, guard = p->guard;
    switch (p->kind) {
    case SW_DET_THRESHOLD:
        return window;
    case SW_DET_RATIO:
        return window * (k + 1);
    case SW_DET_EARS_C1:
        return baseline + 1;
    case SW_DET_EARS_C2:
        return baseline + 3;
    case SW_DET_EARS_C3:
        return baseline + 5;
    case SW_DET_CUSUM:
        return history + guard + baseline;
    case SW_DET_EWMA:
        return history > baseline + guard + 1 ? history : baseline + guard + 1;
    default:
        return 0;
    }
}

int sw_detector_params_validate(const sw_detector_params_t *p, char *errstr,
                                size_t errstr_size)
{
    if (errstr != NULL && errstr_size > 0)
        errstr[0] = '\0';
    if (p == NULL)
        return fail(errstr, errstr_size, "no parameters");
    if ((unsigned)p->kind >= (unsigned)SW_DET__COUNT)
        return fail(errstr, errstr_size,
                    "kind: %d is out of range (accepted: 0..%d)", (int)p->kind,
                    (int)SW_DET__COUNT - 1);

    switch (p->kind) {
    case SW_DET_THRESHOLD:
        CHECK_U32(window, 1, 100);
        CHECK_DBL(limit, 0.0, 1, COUNT_MAX, 0);
        break;
    case SW_DET_RATIO:
        CHECK_U32(window, 1, 100);
        CHECK_U32(k, 1, 50);
        CHECK_DBL(ratio, 1.0, 1, FACTOR_MAX, 0);
        break;
    case SW_DET_EARS_C1:
    case SW_DET_EARS_C2:
    case SW_DET_EARS_C3:
        CHECK_U32(baseline, 2, 100);
        CHECK_DBL(alpha, 0.0, 1, 0.5, 1);
        CHECK_DBL(min_sigma, 0.0, 0, FACTOR_MAX, 0);
        break;
    case SW_DET_CUSUM:
        CHECK_U32(baseline, 2, 100);
        CHECK_DBL(cusum_k, 0.0, 0, CUSUM_K_MAX, 0);
        CHECK_DBL(cusum_h, 0.0, 1, FACTOR_MAX, 0);
        CHECK_U32(history, 1, 300);
        CHECK_U32(guard, 0, 30);
        if (p->reset_after_alarm != 0 && p->reset_after_alarm != 1)
            return fail(errstr, errstr_size,
                        "reset_after_alarm: %d is out of range "
                        "(accepted: 0 or 1)",
                        p->reset_after_alarm);
        CHECK_DBL(min_mean, 0.0, 1, FACTOR_MAX, 0);
        break;
    case SW_DET_EWMA:
        CHECK_U32(baseline, 2, 100);
        CHECK_DBL(alpha, 0.0, 1, 0.5, 1);
        CHECK_DBL(min_sigma, 0.0, 0, FACTOR_MAX, 0);
        CHECK_U32(history, 1, 300);
        CHECK_U32(guard, 0, 30);
        CHECK_DBL(lambda, 0.0, 1, 1.0, 0);
        break;
    default:
        break;
    }
    CHECK_DBL(min_count, 0.0, 0, COUNT_MAX, 0);

    /* each field is in range, but ratio and cusum multiply or add them */
    uint64_t lb = raw_lookback(p);
    if (lb > SW_DETECTOR_MAX_LOOKBACK) {
        if (p->kind == SW_DET_RATIO)
            return fail(errstr, errstr_size,
                        "window, k: window * (k + 1) = %u * %u = %llu buckets "
                        "is out of range (accepted: <= %d)",
                        (unsigned)p->window, (unsigned)p->k + 1,
                        (unsigned long long)lb, SW_DETECTOR_MAX_LOOKBACK);
        return fail(errstr, errstr_size,
                    "history, guard, baseline: history + guard + baseline = "
                    "%u + %u + %u = %llu buckets is out of range "
                    "(accepted: <= %d)",
                    (unsigned)p->history, (unsigned)p->guard,
                    (unsigned)p->baseline, (unsigned long long)lb,
                    SW_DETECTOR_MAX_LOOKBACK);
    }
    return 0;
}

size_t sw_detector_lookback(const sw_detector_params_t *p)
{
    if (p == NULL)
        return 1;
    uint64_t lb = raw_lookback(p);
    if (lb < 1)
        return 1;
    if (lb > SW_DETECTOR_MAX_LOOKBACK)
        return SW_DETECTOR_MAX_LOOKBACK;
    return (size_t)lb;
}

/* ------------------------------------------------------------ statistics */

/* num / den, finite: a zero (or negative) den gives +-SCORE_INF by the sign
 * of num (0 for 0 / 0); a quotient beyond +-SCORE_INF is clamped to it. */
static double safe_div(double num, double den)
{
    if (isnan(num) || isnan(den))
        return 0.0;
    if (!(den > 0.0))
        return num > 0.0 ? SCORE_INF : num < 0.0 ? -SCORE_INF : 0.0;
    double q = num / den;
    if (q > SCORE_INF)
        return SCORE_INF;
    if (q < -SCORE_INF)
        return -SCORE_INF;
    return q;
}

/* Sum of x[from .. from + count). Exact: at most 400 counts below 2^32. */
static double sum_of(const uint32_t *x, size_t from, size_t count)
{
    double s = 0.0;
    for (size_t i = 0; i < count; i++)
        s += (double)x[from + i];
    return s;
}

/* Mean and sample sd (n - 1) of x[from .. from + count), count >= 2. Two
 * passes: the textbook one-pass formula cancels badly on large counts. */
static void mean_sd(const uint32_t *x, size_t from, size_t count, double *mean,
                    double *sd)
{
    double m = sum_of(x, from, count) / (double)count;
    double ss = 0.0;
    for (size_t i = 0; i < count; i++) {
        double d = (double)x[from + i] - m;
        ss += d * d;
    }
    *mean = m;
    *sd = sqrt(ss / (double)(count - 1));
}

/* The EARS statistic of bucket x[i] against the b buckets ending `lag`
 * before it, x[i-lag-b+1 .. i-lag]: lag 1 for C1, 3 for C2 (a guard band
 * of 2). Stores the baseline mean in *mu_out. */
static double ears_stat(const sw_detector_params_t *p, const uint32_t *x,
                        size_t i, size_t lag, double *mu_out)
{
    double mu, sd;
    mean_sd(x, i - lag - p->baseline + 1, p->baseline, &mu, &sd);
    double sigma = sd > p->min_sigma ? sd : p->min_sigma;
    if (mu_out != NULL)
        *mu_out = mu;
    return safe_div((double)x[i] - mu, sigma);
}

static void eval_threshold(const sw_detector_params_t *p, const uint32_t *x,
                           size_t t, sw_detector_result_t *out)
{
    out->observed = sum_of(x, t + 1 - p->window, p->window);
    out->expected = p->limit;
    out->score = out->observed;
    out->threshold = p->limit;
}

static void eval_ratio(const sw_detector_params_t *p, const uint32_t *x,
                       size_t t, sw_detector_result_t *out)
{
    size_t w = p->window;
    double prev = 0.0;
    for (size_t j = 1; j <= p->k; j++)
        prev += sum_of(x, t + 1 - (j + 1) * w, w);
    out->observed = sum_of(x, t + 1 - w, w);
    out->expected = prev / (double)p->k;
    /* the expected value is a mean of integer sums: either 0 (then
     * safe_div gives SCORE_INF or 0) or at least 1/k */
    out->score = safe_div(out->observed, out->expected);
    out->threshold = p->ratio;
}

static void eval_ears(const sw_detector_params_t *p, const uint32_t *x,
                      size_t t, sw_detector_result_t *out)
{
    double z = sw_norm_upper_quantile(p->alpha);
    double mu = 0.0;
    out->observed = (double)x[t];
    out->threshold = z;
    switch (p->kind) {
    case SW_DET_EARS_C1:
        out->score = ears_stat(p, x, t, 1, &mu);
        break;
    case SW_DET_EARS_C2:
        out->score = ears_stat(p, x, t, 3, &mu);
        break;
    default: {
        /* CDC C3: the current day counts, unlike R surveillance's earsC */
        double c3 = 0.0;
        for (size_t i = t - 2; i <= t; i++) {
            double c2 = ears_stat(p, x, i, 3, &mu);
            c3 += c2 > 1.0 ? c2 - 1.0 : 0.0;
        }
        out->score = c3; /* mu is that of C2 at t, the last one */
        break;
    }
    }
    out->expected = mu;
}

static void eval_cusum(const sw_detector_params_t *p, const uint32_t *x,
                       size_t t, sw_detector_result_t *out)
{
    size_t b = p->baseline, g = p->guard;
    size_t first = t + 1 - p->history;
    double s = 0.0, m = 0.0;
    /* the baseline sum slides with j; exact, since counts are integers */
    double sum = sum_of(x, first - g - b, b);
    for (size_t j = first; j <= t; j++) {
        if (j > first)
            sum += (double)x[j - g - 1] - (double)x[j - g - b - 1];
        if (p->reset_after_alarm && s >= p->cusum_h)
            s = 0.0; /* the previous step alarmed: start over */
        m = sum / (double)b;
        if (m < p->min_mean)
            m = p->min_mean;
        double z = safe_div((double)x[j] - m, sqrt(m));
        s = s + z - p->cusum_k;
        if (s < 0.0)
            s = 0.0;
    }
    out->observed = (double)x[t];
    out->expected = m;
    out->score = s;
    out->threshold = p->cusum_h;
}

static void eval_ewma(const sw_detector_params_t *p, const uint32_t *x,
                      size_t t, sw_detector_result_t *out)
{
    double mu, sd;
    mean_sd(x, t - p->guard - p->baseline, p->baseline, &mu, &sd);
    double sigma = sd > p->min_sigma ? sd : p->min_sigma;
    double lambda = p->lambda;
    double e = mu;
    for (size_t j = t + 1 - p->history; j <= t; j++)
        e = lambda * (double)x[j] + (1.0 - lambda) * e;
    double sigma_e = sigma * sqrt(lambda / (2.0 - lambda));
    out->observed = (double)x[t];
    out->expected = mu;
    out->score = safe_div(e - mu, sigma_e);
    out->threshold = sw_norm_upper_quantile(p->alpha);
}

static void eval(const sw_detector_params_t *p, const uint32_t *counts,
                 size_t n, sw_detector_result_t *out);

void sw_detector_eval(const sw_detector_params_t *p, const uint32_t *counts,
                      size_t n, sw_detector_result_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (p == NULL || counts == NULL)
        return;
    /* unchecked parameters could index outside the series or divide by
     * zero: an invalid p is never evaluable */
    if (sw_detector_params_validate(p, NULL, 0) < 0)
        return;
    eval(p, counts, n, out);
}

void sw_detector_eval_valid(const sw_detector_params_t *p,
                            const uint32_t *counts, size_t n,
                            sw_detector_result_t *out)
{
    memset(out, 0, sizeof(*out));
    eval(p, counts, n, out);
}

static void eval(const sw_detector_params_t *p, const uint32_t *counts,
                 size_t n, sw_detector_result_t *out)
{
    size_t lb = sw_detector_lookback(p);
    if (n < lb)
        return;
    /* from here on x[0 .. lb) are the only counts read, x[t] the current */
    const uint32_t *x = counts + (n - lb);
    size_t t = lb - 1;

    switch (p->kind) {
    case SW_DET_THRESHOLD:
        eval_threshold(p, x, t, out);
        break;
    case SW_DET_RATIO:
        eval_ratio(p, x, t, out);
        break;
    case SW_DET_EARS_C1:
    case SW_DET_EARS_C2:
    case SW_DET_EARS_C3:
        eval_ears(p, x, t, out);
        break;
    case SW_DET_CUSUM:
        eval_cusum(p, x, t, out);
        break;
    case SW_DET_EWMA:
        eval_ewma(p, x, t, out);
        break;
    default:
        return;
    }
    out->evaluable = 1;
    out->alarm = out->score >= out->threshold && out->observed >= p->min_count;
}

/* ------------------------------------------------------- alarm bound */

/* Does p alarm on x[0 .. lb) with x[lb-1] = c? */
static int alarms_with(const sw_detector_params_t *p, uint32_t *x, size_t lb,
                       uint32_t c)
{
    sw_detector_result_t r;
    x[lb - 1] = c;
    memset(&r, 0, sizeof(r));
    eval(p, x, lb, &r);
    return r.evaluable && r.alarm;
}

int sw_detector_bound(const sw_detector_params_t *p, const uint32_t *counts,
                      size_t n, double *bound)
{
    /* the search space: 2^31 keeps every sum of a window exact in a double
     * and far from any count a section can have */
    const uint32_t top = UINT32_C(0x7fffffff);
    uint32_t x[SW_DETECTOR_MAX_LOOKBACK];
    size_t lb = sw_detector_lookback(p);
    if (p == NULL || counts == NULL || bound == NULL || n < lb)
        return 1;
    memcpy(x, counts + (n - lb), lb * sizeof(*x));
    if (alarms_with(p, x, lb, 0)) {
        *bound = 0.0;
        return 0;
    }
    /* alarm(lo) is false, alarm(hi) is true: find hi by doubling, which
     * costs little when the bound is small, as it nearly always is */
    uint32_t lo = 0, hi = 1;
    while (!alarms_with(p, x, lb, hi)) {
        if (hi == top)
            return 1;
        lo = hi;
        hi = hi > top / 2 ? top : hi * 2;
    }
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (alarms_with(p, x, lb, mid))
            hi = mid;
        else
            lo = mid;
    }
    *bound = (double)hi;
    return 0;
}

/* ------------------------------------------------------ normal quantile */

/*
 * Peter Acklam's rational approximation of the standard normal quantile
 * (relative error below 1.15e-9), refined by one step of Halley's method on
 * erfc() from <math.h>, which brings it to about machine precision. Hand
 * written rather than taken from GSL (gsl_cdf_ugaussian_Qinv) to keep the
 * library free of a dependency for a dozen lines.
 */
#define SQRT_2PI 2.50662827463100050242

static double norm_lower_quantile(double p) /* 0 < p <= 0.5 */
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    const double p_low = 0.02425;
    double x;
    if (p < p_low) {
        double q = sqrt(-2.0 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q +
             c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r +
             a[5]) *
            q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r +
             1.0);
    }
    /* Halley: f(x) = Phi(x) - p, f' = phi(x), f'' = -x phi(x) */
    double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
    double u = e * SQRT_2PI * exp(x * x / 2.0);
    return x - u / (1.0 + x * u / 2.0);
}

/* Out of (0, 1) the answer is that of the nearest representable case: NaN
 * gives 0, alpha <= 1e-300 gives z(1e-300) (about 37.05), alpha >= 1 gives
 * its negation. Never fails. */
static double quantile(double alpha);

/* Evaluations ask for the same few alphas again and again: remember the
 * last one (per thread, so the function stays safe to call anywhere). */
double sw_norm_upper_quantile(double alpha)
{
    static _Thread_local double last_alpha = -1.0, last_z;
    if (alpha == last_alpha)
        return last_z;
    double z = quantile(alpha);
    last_alpha = alpha;
    last_z = z;
    return z;
}

static double quantile(double alpha)
{
    const double tiny = 1e-300; /* exp(x*x/2) in Halley stays finite */
    if (isnan(alpha))
        return 0.0;
    if (alpha < tiny)
        alpha = tiny;
    if (alpha > 0.5) {
        double rest = 1.0 - alpha; /* exact for 0.5 <= alpha <= 1 */
        return norm_lower_quantile(rest < tiny ? tiny : rest);
    }
    return -norm_lower_quantile(alpha) + 0.0; /* +0.0: no -0 at 0.5 */
}
