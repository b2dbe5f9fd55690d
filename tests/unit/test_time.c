/*
 * Unit tests for sw_time: RFC 3339 parsing and formatting, civil dates.
 * Expected instants are written out by hand (checked against `date -u -d`).
 * Every parse goes through a copy allocated to the exact length of the text,
 * so the ASan build catches a read past it.
 */
#include "sw_err.h"
#include "sw_time.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static int parse_exact(const char *s, size_t len, int64_t *ms)
{
    char *c = malloc(len);
    assert_true(c != NULL || len == 0);
    if (len > 0)
        memcpy(c, s, len);
    int rc = sw_time_parse_rfc3339(c, len, ms);
    free(c);
    return rc;
}

static void expect_instant(const char *text, int64_t want)
{
    int64_t ms = INT64_C(-123456789);
    int rc = parse_exact(text, strlen(text), &ms);
    if (rc != 0)
        fail_msg("\"%s\" rejected (%d)", text, rc);
    if (ms != want)
        fail_msg("\"%s\": got %lld, expected %lld", text, (long long)ms,
                 (long long)want);
}

static void expect_rejected(const char *text, size_t len)
{
    int64_t ms = INT64_C(-123456789);
    int rc = parse_exact(text, len, &ms);
    if (rc != SW_ERR_PARSE)
        fail_msg("\"%.*s\": got %d (ms %lld), expected SW_ERR_PARSE", (int)len,
                 text, rc, (long long)ms);
    assert_int_equal(ms, INT64_C(-123456789)); /* untouched */
}

#define REJECT(lit) expect_rejected(lit, sizeof(lit) - 1)

/* ---------------------------------------------------------- known instants */

static void test_epoch(void **state)
{
    (void)state;
    expect_instant("1970-01-01T00:00:00Z", 0);
    expect_instant("1970-01-01T00:00:00.001Z", 1);
    expect_instant("1969-12-31T23:59:59.999Z", -1);
}

static void test_year_2000(void **state)
{
    (void)state;
    expect_instant("2000-01-01T00:00:00Z", INT64_C(946684800000));
    expect_instant("1999-12-31T23:59:59.999Z", INT64_C(946684799999));
}

static void test_2019_03_01(void **state)
{
    (void)state;
    expect_instant("2019-03-01T12:00:00Z", INT64_C(1551441600000));
}

static void test_leap_days(void **state)
{
    (void)state;
    expect_instant("2020-02-29T00:00:00Z", INT64_C(1582934400000));
    expect_instant("2020-03-01T00:00:00Z", INT64_C(1583020800000));
    /* divisible by 400 */
    expect_instant("2000-02-29T12:00:00Z", INT64_C(951825600000));
    expect_instant("2024-02-29T23:59:59.999Z", INT64_C(1709251199999));
}

static void test_offsets(void **state)
{
    (void)state;
    expect_instant("2019-03-01T13:00:00+01:00", INT64_C(1551441600000));
    expect_instant("2019-03-01T06:30:00-05:30", INT64_C(1551441600000));
    expect_instant("2019-03-01T12:00:00+00:00", INT64_C(1551441600000));
    expect_instant("2019-03-01T12:00:00-00:00", INT64_C(1551441600000));
    /* the offset moves the instant across a day and a year */
    expect_instant("2019-03-02T01:45:00+13:45", INT64_C(1551441600000));
    expect_instant("1999-12-31T23:00:00-01:00", INT64_C(946684800000));
    expect_instant("2000-01-01T00:59:00+23:59", INT64_C(946602000000));
}

static void test_lower_case_and_space(void **state)
{
    (void)state;
    expect_instant("2019-03-01t12:00:00z", INT64_C(1551441600000));
    expect_instant("2019-03-01 12:00:00Z", INT64_C(1551441600000));
    expect_instant("2019-03-01t12:00:00.5z", INT64_C(1551441600500));
}

static void test_fractions(void **state)
{
    (void)state;
    expect_instant("2019-03-01T12:00:00.5Z", INT64_C(1551441600500));
    expect_instant("2019-03-01T12:00:00.05Z", INT64_C(1551441600050));
    expect_instant("2019-03-01T12:00:00.123Z", INT64_C(1551441600123));
    expect_instant("2019-03-01T12:00:00.1239Z", INT64_C(1551441600123));
    expect_instant("2019-03-01T12:00:00.123456789Z", INT64_C(1551441600123));
    expect_instant("2019-03-01T12:00:00.999999999Z", INT64_C(1551441600999));
    expect_instant("2019-03-01T12:00:00.000000001Z", INT64_C(1551441600000));
    expect_instant("2019-03-01T13:00:00.75+01:00", INT64_C(1551441600750));
}

static void test_leap_second(void **state)
{
    (void)state;
    /* :60 is folded into the start of the next second */
    expect_instant("2016-12-31T23:59:60Z", INT64_C(1483228800000));
    expect_instant("2016-12-31T23:59:60.5Z", INT64_C(1483228800500));
}

static void test_extreme_years(void **state)
{
    (void)state;
    expect_instant("0001-01-01T00:00:00Z", INT64_C(-62135596800000));
    expect_instant("9999-12-31T23:59:59.999Z", INT64_C(253402300799999));
    expect_instant("2100-03-01T00:00:00Z", INT64_C(4107542400000));
}

/* ----------------------------------------------------------- bad text */

static void test_impossible_dates(void **state)
{
    (void)state;
    REJECT("2019-02-29T00:00:00Z");
    REJECT("2100-02-29T00:00:00Z");
    REJECT("1900-02-29T00:00:00Z");
    REJECT("2019-04-31T00:00:00Z");
    REJECT("2019-02-30T00:00:00Z");
    REJECT("2019-13-01T00:00:00Z");
    REJECT("2019-00-10T00:00:00Z");
    REJECT("2019-01-00T00:00:00Z");
    REJECT("2019-01-32T00:00:00Z");
    REJECT("0000-01-01T00:00:00Z");
}

static void test_impossible_times(void **state)
{
    (void)state;
    REJECT("2019-03-01T24:00:00Z");
    REJECT("2019-03-01T23:60:00Z");
    REJECT("2019-03-01T23:59:61Z");
    REJECT("2019-03-01T12:00:00+24:00");
    REJECT("2019-03-01T12:00:00+01:60");
}

static void test_missing_zone(void **state)
{
    (void)state;
    REJECT("2019-03-01T12:00:00");
    REJECT("2019-03-01T12:00:00.123");
}

static void test_bad_zone(void **state)
{
    (void)state;
    REJECT("2019-03-01T12:00:00+01");
    REJECT("2019-03-01T12:00:00+0100");
    REJECT("2019-03-01T12:00:00+1:00");
    REJECT("2019-03-01T12:00:00 Z");
    REJECT("2019-03-01T12:00:00UTC");
    REJECT("2019-03-01T12:00:00X");
}

static void test_garbage(void **state)
{
    (void)state;
    REJECT("hello");
    REJECT("2019-03-01");
    REJECT("2019-3-1T12:00:00Z");
    REJECT("2019-03-01T12:00Z");
    REJECT("2019-03-01T1:00:00Z");
    REJECT("2019/03/01T12:00:00Z");
    REJECT("2019-03-01X12:00:00Z");
    REJECT("2019-03-01T12-00-00Z");
    REJECT("+2019-03-01T12:00:00Z");
    REJECT(" 2019-03-01T12:00:00Z");
    REJECT("20190301T120000Z");
    REJECT("1551441600000");
    REJECT("2019-03-01T12:00:00.Z");
    REJECT("2019-03-01T12:00:00,5Z");
    REJECT("2019-03-01T12:00:00.-5Z");
    REJECT("2019-03-01T12:00:00\0Z");
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    REJECT("2019-03-01T12:00:00Zx");
    REJECT("2019-03-01T12:00:00Z ");
    REJECT("2019-03-01T12:00:00ZZ");
    REJECT("2019-03-01T12:00:00+01:00:00");
    REJECT("2019-03-01T12:00:00Z\n");
    REJECT("2019-03-01T12:00:00Z\0");
}

static void test_empty(void **state)
{
    (void)state;
    REJECT("");
}

static void test_ten_fraction_digits(void **state)
{
    (void)state;
    REJECT("2019-03-01T12:00:00.1234567890Z");
    REJECT("2019-03-01T12:00:00.0000000000Z");
    /* nine is the limit */
    expect_instant("2019-03-01T12:00:00.000000000Z", INT64_C(1551441600000));
}

static void test_every_prefix_rejected(void **state)
{
    (void)state;
    /* len is honoured: no prefix of a valid time parses, and the copy of
     * each ends at its allocation, so nothing past len is read */
    static const char *const texts[] = {
        "2019-03-01T12:00:00Z",
        "2019-03-01T12:00:00.123456789+01:30",
    };
    for (size_t t = 0; t < 2; t++)
        for (size_t len = 0; len < strlen(texts[t]); len++)
            expect_rejected(texts[t], len);
}

static void test_prefix_of_longer_text(void **state)
{
    (void)state;
    /* the text need not be NUL-terminated: only len bytes count */
    static const char s[] = "2019-03-01T12:00:00Zjunk";
    int64_t ms = 0;
    assert_int_equal(parse_exact(s, 20, &ms), 0);
    assert_int_equal(ms, INT64_C(1551441600000));
}

/* ------------------------------------------------------------- format */

static void expect_format(int64_t ms, const char *want)
{
    char buf[SW_TIME_STR_MAX];
    memset(buf, 'x', sizeof(buf));
    assert_ptr_equal(sw_time_format(ms, buf), buf);
    assert_string_equal(buf, want);
}

static void test_format_known(void **state)
{
    (void)state;
    expect_format(0, "1970-01-01T00:00:00.000Z");
    expect_format(-1, "1969-12-31T23:59:59.999Z");
    expect_format(INT64_C(946684800000), "2000-01-01T00:00:00.000Z");
    expect_format(INT64_C(1551441600123), "2019-03-01T12:00:00.123Z");
    expect_format(INT64_C(1582934400000), "2020-02-29T00:00:00.000Z");
    expect_format(INT64_C(1709251199999), "2024-02-29T23:59:59.999Z");
    expect_format(INT64_C(4102444800000), "2100-01-01T00:00:00.000Z");
    expect_format(INT64_C(-62135596800000), "0001-01-01T00:00:00.000Z");
    expect_format(INT64_C(253402300799999), "9999-12-31T23:59:59.999Z");
}

static void test_format_out_of_range_is_terminated(void **state)
{
    (void)state;
    /* not valid RFC 3339, but a NUL-terminated string within the buffer */
    char buf[SW_TIME_STR_MAX + 8];
    memset(buf, 'x', sizeof(buf));
    sw_time_format(INT64_C(253402300800000) * 40, buf);
    assert_true(memchr(buf, '\0', SW_TIME_STR_MAX) != NULL);
    assert_int_equal(buf[SW_TIME_STR_MAX], 'x');
    memset(buf, 'x', sizeof(buf));
    sw_time_format(INT64_C(-62135596800001), buf);
    assert_true(memchr(buf, '\0', SW_TIME_STR_MAX) != NULL);
    assert_int_equal(buf[SW_TIME_STR_MAX], 'x');
}

/* splitmix64: a fixed sequence, the same on every run */
static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void test_round_trip_random_instants(void **state)
{
    (void)state;
    const int64_t lo = INT64_C(946684800000);  /* 2000-01-01 */
    const int64_t hi = INT64_C(4102444800000); /* 2100-01-01 */
    uint64_t seed = 42;
    for (int i = 0; i < 200000; i++) {
        int64_t ms = lo + (int64_t)(next_random(&seed) % (uint64_t)(hi - lo));
        char buf[SW_TIME_STR_MAX];
        sw_time_format(ms, buf);
        assert_int_equal(strlen(buf), 24);
        int64_t back = 0;
        if (parse_exact(buf, strlen(buf), &back) != 0 || back != ms)
            fail_msg("%lld -> \"%s\" -> %lld", (long long)ms, buf,
                     (long long)back);
        /* and against the C library's calendar */
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char want[SW_TIME_STR_MAX];
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        assert_memory_equal(buf, want, 19);
        assert_int_equal(atoi(buf + 20), ms % 1000);
    }
}

static void test_round_trip_day_boundaries(void **state)
{
    (void)state;
    /* the first and last ms of every day from 2000 to 2100 */
    for (int64_t day = INT64_C(10957); day < INT64_C(47482); day++) {
        for (int k = 0; k < 2; k++) {
            int64_t ms = day * SW_MS_PER_DAY + (k ? SW_MS_PER_DAY - 1 : 0);
            char buf[SW_TIME_STR_MAX];
            sw_time_format(ms, buf);
            int64_t back = 0;
            assert_int_equal(parse_exact(buf, strlen(buf), &back), 0);
            assert_int_equal(back, ms);
        }
    }
}

static void test_from_civil(void **state)
{
    (void)state;
    assert_int_equal(sw_time_from_civil(1970, 1, 1, 0, 0, 0, 0), 0);
    assert_int_equal(sw_time_from_civil(2019, 3, 1, 12, 0, 0, 0),
                     INT64_C(1551441600000));
    assert_int_equal(sw_time_from_civil(2020, 2, 29, 23, 59, 59, 999),
                     INT64_C(1583020799999));
    assert_int_equal(sw_time_from_civil(1969, 12, 31, 23, 59, 59, 999), -1);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t before = (int64_t)time(NULL) * 1000;
    int64_t now = sw_clock_now_ms();
    int64_t after = (int64_t)time(NULL) * 1000 + 1000;
    assert_true(now >= before && now <= after);
    int64_t a = sw_clock_mono_ns();
    int64_t b = sw_clock_mono_ns();
    assert_true(a > 0 && b >= a);
}

#define T(f) cmocka_unit_test(f)

int main(void)
{
    static const struct CMUnitTest tests[] = {
        T(test_epoch),
        T(test_year_2000),
        T(test_2019_03_01),
        T(test_leap_days),
        T(test_offsets),
        T(test_lower_case_and_space),
        T(test_fractions),
        T(test_leap_second),
        T(test_extreme_years),
        T(test_impossible_dates),
        T(test_impossible_times),
        T(test_missing_zone),
        T(test_bad_zone),
        T(test_garbage),
        T(test_trailing_bytes),
        T(test_empty),
        T(test_ten_fraction_digits),
        T(test_every_prefix_rejected),
        T(test_prefix_of_longer_text),
        T(test_format_known),
        T(test_format_out_of_range_is_terminated),
        T(test_round_trip_random_instants),
        T(test_round_trip_day_boundaries),
        T(test_from_civil),
        T(test_clocks),
    };
    return cmocka_run_group_tests_name("sw_time", tests, NULL, NULL);
}
