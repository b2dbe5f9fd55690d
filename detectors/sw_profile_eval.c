/* sw_profile_eval: a bucket through a whole profile (sw_profile_eval.h). */
#include "sw_profile_eval.h"

#include <math.h>
#include <string.h>

void sw_bucket_figures(const sw_profile_t *p, const sw_detector_result_t *r,
                       const uint32_t *counts, size_t n, sw_bucket_eval_t *out)
{
    /* the detectors with a per-bucket baseline, in the order they are
     * asked for an expected value */
    static const int baseline[] = {SW_DET_EARS_C1, SW_DET_EARS_C2,
                                   SW_DET_EARS_C3, SW_DET_CUSUM, SW_DET_EWMA};
    out->expected = NAN;
    out->bound = NAN;
    out->alarm = 0;
    for (size_t i = 0; i < sizeof(baseline) / sizeof(baseline[0]); i++)
        if (p->enabled[baseline[i]] && r[baseline[i]].evaluable) {
            out->expected = r[baseline[i]].expected;
            break;
        }
    for (int kind = 0; kind < SW_DET__COUNT; kind++) {
        if (!p->enabled[kind])
            continue;
        if (r[kind].evaluable && r[kind].alarm)
            out->alarm = 1;
        double b;
        if (sw_detector_bound(&p->params[kind], counts, n, &b) == 0 &&
            (isnan(out->bound) || b < out->bound))
            out->bound = b;
    }
}

void sw_profile_eval_bucket(const sw_profile_t *p, const uint32_t *counts,
                            size_t n, sw_bucket_eval_t *out)
{
    sw_detector_result_t r[SW_DET__COUNT];
    memset(r, 0, sizeof(r));
    if (n == 0) {
        out->expected = out->bound = NAN;
        out->alarm = 0;
        return;
    }
    for (int kind = 0; kind < SW_DET__COUNT; kind++)
        if (p->enabled[kind])
            sw_detector_eval(&p->params[kind], counts, n, &r[kind]);
    sw_bucket_figures(p, r, counts, n, out);
}

size_t sw_profile_lookback(const sw_profile_t *p)
{
    size_t lb = 1;
    for (int kind = 0; kind < SW_DET__COUNT; kind++) {
        if (!p->enabled[kind])
            continue;
        size_t l = sw_detector_lookback(&p->params[kind]);
        if (l > lb)
            lb = l;
    }
    return lb;
}

const sw_profile_t *sw_profiles_find(const sw_profiles_t *ps,
                                     const char *section)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->v[i].section, section) == 0)
            return &ps->v[i].profile;
    return ps->strict ? NULL : &ps->def;
}
