/*
 * sw_time: event time as integer milliseconds since the Unix epoch (UTC),
 * RFC 3339 parsing and formatting without the C library's time zone state,
 * and the wall clock.
 */
#ifndef SW_TIME_H
#define SW_TIME_H

#include <stddef.h>
#include <stdint.h>

#define SW_MS_PER_SEC INT64_C(1000)
#define SW_MS_PER_MIN (60 * SW_MS_PER_SEC)
#define SW_MS_PER_HOUR (60 * SW_MS_PER_MIN)
#define SW_MS_PER_DAY (24 * SW_MS_PER_HOUR)

/* Size of a buffer that holds any sw_time_format() result with its NUL. */
#define SW_TIME_STR_MAX 32

/* Parses an RFC 3339 date-time of exactly len bytes (no NUL needed):
 * "2019-03-01T12:00:00Z", with an optional fraction of a second (digits past
 * the millisecond are truncated), 'Z' or a "+hh:mm"/"-hh:mm" offset, 'T', 't'
 * or one space between date and time. Years 0001..9999. Stores the instant
 * in *ms. Returns 0, or SW_ERR_PARSE when the text is not such a date-time
 * or names an impossible date (2019-02-29, 24:00:00). Never reads past len. */
int sw_time_parse_rfc3339(const char *s, size_t len, int64_t *ms);

/* Writes ms as "2019-03-01T12:00:00.000Z" into buf (SW_TIME_STR_MAX bytes).
 * Returns buf. Never fails for years 0001..9999; outside that range the
 * text is still NUL-terminated but not valid RFC 3339. */
char *sw_time_format(int64_t ms, char *buf);

/* Milliseconds since the epoch for a proleptic Gregorian date and time,
 * fields already range-checked by the caller. */
int64_t sw_time_from_civil(int year, int month, int day, int hour, int min,
                           int sec, int msec);

/* The wall clock (CLOCK_REALTIME) in milliseconds since the epoch. */
int64_t sw_clock_now_ms(void);

/* A monotonic clock in nanoseconds, for durations and rates. */
int64_t sw_clock_mono_ns(void);

#endif
