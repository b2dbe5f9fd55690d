/*
 * sw_time: RFC 3339 <-> epoch milliseconds with pure arithmetic (Howard
 * Hinnant's days-from-civil), so parsing is fast, thread-safe and independent
 * of TZ.
 */
#include "sw_time.h"
#include "sw_err.h"

#include <stdio.h>
#include <time.h>

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

int64_t sw_time_from_civil(int year, int month, int day, int hour, int min,
                           int sec, int msec)
{
    return days_from_civil(year, month, day) * SW_MS_PER_DAY +
           hour * SW_MS_PER_HOUR + min * SW_MS_PER_MIN + sec * SW_MS_PER_SEC +
           msec;
}

/* Reads n decimal digits at s[*i]; returns -1 if any is not a digit. */
static int digits(const char *s, size_t len, size_t *i, int n)
{
    int v = 0;
    if (*i + (size_t)n > len)
        return -1;
    for (int k = 0; k < n; k++) {
        char c = s[*i + (size_t)k];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)n;
    return v;
}

static int expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return -1;
    (*i)++;
    return 0;
}

int sw_time_parse_rfc3339(const char *s, size_t len, int64_t *ms)
{
    size_t i = 0;
    int y = digits(s, len, &i, 4);
    if (y < 1 || expect(s, len, &i, '-'))
        return SW_ERR_PARSE;
    int mo = digits(s, len, &i, 2);
    if (mo < 1 || mo > 12 || expect(s, len, &i, '-'))
        return SW_ERR_PARSE;
    int d = digits(s, len, &i, 2);
    if (d < 1 || d > days_in_month(y, mo))
        return SW_ERR_PARSE;
    if (i >= len || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
        return SW_ERR_PARSE;
    i++;
    int h = digits(s, len, &i, 2);
    if (h < 0 || h > 23 || expect(s, len, &i, ':'))
        return SW_ERR_PARSE;
    int mi = digits(s, len, &i, 2);
    if (mi < 0 || mi > 59 || expect(s, len, &i, ':'))
        return SW_ERR_PARSE;
    int se = digits(s, len, &i, 2);
    /* A leap second (:60) is folded into the next second's start. */
    if (se < 0 || se > 60)
        return SW_ERR_PARSE;
    int frac = 0;
    if (i < len && s[i] == '.') {
        i++;
        int nd = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd < 3)
                frac = frac * 10 + (s[i] - '0');
            nd++;
            i++;
        }
        if (nd == 0 || nd > 9)
            return SW_ERR_PARSE;
        for (; nd < 3; nd++)
            frac *= 10;
    }
    int64_t offset_ms = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i] == '-' ? -1 : 1;
        i++;
        int oh = digits(s, len, &i, 2);
        if (oh < 0 || oh > 23 || expect(s, len, &i, ':'))
            return SW_ERR_PARSE;
        int om = digits(s, len, &i, 2);
        if (om < 0 || om > 59)
            return SW_ERR_PARSE;
        offset_ms = sign * (oh * SW_MS_PER_HOUR + om * SW_MS_PER_MIN);
    } else {
        return SW_ERR_PARSE;
    }
    if (i != len)
        return SW_ERR_PARSE;
    *ms = sw_time_from_civil(y, mo, d, h, mi, se, frac) - offset_ms;
    return 0;
}

static char *put_digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

/* Hand-formatted: alert ids and JSON lines format times on hot paths. */
char *sw_time_format(int64_t ms, char *buf)
{
    int64_t days = ms / SW_MS_PER_DAY;
    int64_t rem = ms % SW_MS_PER_DAY;
    if (rem < 0) {
        rem += SW_MS_PER_DAY;
        days--;
    }
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        snprintf(buf, SW_TIME_STR_MAX, "%d-%02d-%02dT00:00:00.000Z", y, m, d);
        return buf;
    }
    char *p = put_digits(buf, y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, (int)(rem / SW_MS_PER_HOUR), 2);
    *p++ = ':';
    p = put_digits(p, (int)(rem % SW_MS_PER_HOUR / SW_MS_PER_MIN), 2);
    *p++ = ':';
    p = put_digits(p, (int)(rem % SW_MS_PER_MIN / SW_MS_PER_SEC), 2);
    *p++ = '.';
    p = put_digits(p, (int)(rem % SW_MS_PER_SEC), 3);
    *p++ = 'Z';
    *p = '\0';
    return buf;
}

int64_t sw_clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sw_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
