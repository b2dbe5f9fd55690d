/*
 * sw_alert: the alert record's text form. The record itself (sw_alert_t)
 * comes from the detection core (detectors/sw_engine.h).
 */
#ifndef SW_ALERT_H
#define SW_ALERT_H

#include "sw_engine.h"

#include <stddef.h>
#include <stdint.h>

/* Size that always holds sw_alert_to_json()'s output and its NUL. */
#define SW_ALERT_JSON_MAX 640

/* Writes the alert as one JSON object with the alert keys of the wire
 * contract (seq only when seq > 0; times as RFC 3339 strings; "type" for a
 * (section, type) key; "retracted" only when set), NUL-terminated.
 * Returns the length, or 0 when cap is too small. */
size_t sw_alert_to_json(const sw_alert_t *a, uint64_t seq, char *buf,
                        size_t cap);

#endif
