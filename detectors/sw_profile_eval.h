/*
 * sw_profile_eval: one closed bucket of a section seen through its whole
 * profile, for pictures rather than alerts (the hub's web view, the
 * workers' series in Redis; docs/web.md): what the detectors expected
 * there, the smallest count that would have set one off, and whether one
 * did. No state, no allocation.
 */
#ifndef SW_PROFILE_EVAL_H
#define SW_PROFILE_EVAL_H

#include "sw_engine.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sw_bucket_eval {
    double expected; /* the first per-bucket baseline among the enabled
                      * detectors (EARS, CUSUM, EWMA, in that order) that
                      * could evaluate; NAN when none */
    double bound;    /* the smallest count of the bucket with which some
                      * enabled detector alarms, the others held; NAN when
                      * none would */
    int alarm;       /* some enabled detector alarmed */
} sw_bucket_eval_t;

/* The figures of the bucket counts[n-1] from the results r[kind] its
 * profile's enabled detectors gave on counts[0..n) (the engine has them
 * already): alarm and expected from r, bound by sw_detector_bound. */
void sw_bucket_figures(const sw_profile_t *p, const sw_detector_result_t *r,
                       const uint32_t *counts, size_t n, sw_bucket_eval_t *out);

/* Evaluates p on counts[0..n), counts[n-1] being the bucket. */
void sw_profile_eval_bucket(const sw_profile_t *p, const uint32_t *counts,
                            size_t n, sw_bucket_eval_t *out);

/* Buckets of history (the evaluated one included) p's detectors need. */
size_t sw_profile_lookback(const sw_profile_t *p);

/* The profile of a section in ps: its override, else the default; NULL
 * when ps is strict and the section has no override. */
const sw_profile_t *sw_profiles_find(const sw_profiles_t *ps,
                                     const char *section);

#endif
