/*
 * The round-trip oracle shared by the event fuzz targets: a decoded event
 * must obey the contract, encode to msgpack, decode back to the same fields
 * and re-encode to the same bytes. Any violation aborts with
 * __builtin_trap() so libFuzzer keeps the input.
 */
#ifndef FUZZ_EVENT_ORACLE_H
#define FUZZ_EVENT_ORACLE_H

#include "sw_event.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The validating clock of every fuzz target: 2023-11-14T22:13:20Z. */
#define FUZZ_NOW_MS INT64_C(1700000000000)

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            __builtin_trap();                                                  \
    } while (0)

static int fuzz_same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static int fuzz_all_upper(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return 0;
    return 1;
}

/* The rules of sw_event.h hold for a successfully decoded event. */
static void fuzz_check_valid(const sw_event_t *ev)
{
    FUZZ_CHECK((ev->seen & SW_FIELDS_REQUIRED) == SW_FIELDS_REQUIRED);
    FUZZ_CHECK((ev->seen >> SW_F__COUNT) == 0);
    FUZZ_CHECK(ev->nulls == 0);
    FUZZ_CHECK(ev->id_len >= 1 && ev->id_len <= SW_EVENT_ID_MAX);
    FUZZ_CHECK(strlen(ev->id) == ev->id_len);
    FUZZ_CHECK(sw_utf8_valid(ev->id, ev->id_len));
    FUZZ_CHECK(strlen(ev->src) == 2 && fuzz_all_upper(ev->src, 2));
    FUZZ_CHECK(strlen(ev->section) == ev->section_len);
    FUZZ_CHECK(sw_section_valid(ev->section, ev->section_len));
    FUZZ_CHECK(ev->ts_ms >= SW_EVENT_TS_MIN &&
               ev->ts_ms <= FUZZ_NOW_MS + SW_EVENT_TS_FUTURE_MAX);
    FUZZ_CHECK((unsigned)ev->type < SW_TYPE__COUNT);
    FUZZ_CHECK(ev->count >= 1 && ev->count <= SW_EVENT_COUNT_MAX);
    size_t nat = strlen(ev->nat);
    if (SW_EV_HAS(ev, SW_F_NAT))
        FUZZ_CHECK((nat == 2 || nat == 3) && fuzz_all_upper(ev->nat, nat));
    else
        FUZZ_CHECK(nat == 0);
    if (SW_EV_HAS(ev, SW_F_BCP)) {
        FUZZ_CHECK(ev->bcp_len >= 1 && ev->bcp_len <= SW_BCP_MAX);
        FUZZ_CHECK(strlen(ev->bcp) == ev->bcp_len);
        FUZZ_CHECK(sw_utf8_valid(ev->bcp, ev->bcp_len));
    } else {
        FUZZ_CHECK(ev->bcp_len == 0 && ev->bcp[0] == '\0');
    }
    FUZZ_CHECK(SW_EV_HAS(ev, SW_F_LAT) == SW_EV_HAS(ev, SW_F_LON));
    if (SW_EV_HAS(ev, SW_F_LAT))
        FUZZ_CHECK(ev->lat >= -90 && ev->lat <= 90 && ev->lon >= -180 &&
                   ev->lon <= 180);
    if (SW_EV_HAS(ev, SW_F_CONFIDENCE))
        FUZZ_CHECK(ev->confidence >= 0 && ev->confidence <= 1);
}

/* Every field that has a value is the same in a and b. */
static void fuzz_check_same(const sw_event_t *a, const sw_event_t *b)
{
    FUZZ_CHECK(a->seen == b->seen);
    FUZZ_CHECK(a->ts_ms == b->ts_ms);
    FUZZ_CHECK(a->type == b->type);
    FUZZ_CHECK(a->count == b->count);
    FUZZ_CHECK(a->id_len == b->id_len);
    FUZZ_CHECK(memcmp(a->id, b->id, (size_t)a->id_len + 1) == 0);
    FUZZ_CHECK(memcmp(a->src, b->src, sizeof(a->src)) == 0);
    FUZZ_CHECK(a->section_len == b->section_len);
    FUZZ_CHECK(memcmp(a->section, b->section, (size_t)a->section_len + 1) == 0);
    FUZZ_CHECK(strcmp(a->nat, b->nat) == 0);
    FUZZ_CHECK(a->bcp_len == b->bcp_len);
    FUZZ_CHECK(memcmp(a->bcp, b->bcp, (size_t)a->bcp_len + 1) == 0);
    if (SW_EV_HAS(a, SW_F_LAT)) {
        FUZZ_CHECK(fuzz_same_double(a->lat, b->lat));
        FUZZ_CHECK(fuzz_same_double(a->lon, b->lon));
    }
    if (SW_EV_HAS(a, SW_F_CONFIDENCE))
        FUZZ_CHECK(fuzz_same_double(a->confidence, b->confidence));
}

/* ev was just decoded successfully (with FUZZ_NOW_MS as the clock): check
 * it, encode it, decode the encoding, compare, and re-encode. */
static void fuzz_round_trip(const sw_event_t *ev)
{
    fuzz_check_valid(ev);

    unsigned char buf[SW_EVENT_MSGPACK_MAX];
    size_t n = sw_event_encode_msgpack(ev, buf, sizeof(buf));
    FUZZ_CHECK(n > 0 && n <= sizeof(buf));
    /* exact-size copy so the decoder's reads past the end are caught */
    unsigned char *copy = malloc(n);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, buf, n);

    sw_event_t back;
    sw_event_err_t err;
    memset(&back, 0x5a, sizeof(back));
    int rc = sw_event_decode_msgpack(copy, n, FUZZ_NOW_MS, &back, &err);
    free(copy);
    FUZZ_CHECK(rc == 0);
    fuzz_check_valid(&back);
    fuzz_check_same(ev, &back);

    /* the encoding is canonical: the same event gives the same bytes */
    unsigned char buf2[SW_EVENT_MSGPACK_MAX];
    size_t n2 = sw_event_encode_msgpack(&back, buf2, sizeof(buf2));
    FUZZ_CHECK(n2 == n && memcmp(buf, buf2, n) == 0);

    /* a buffer one byte short is refused, not overrun */
    unsigned char *tight = malloc(n - 1 ? n - 1 : 1);
    FUZZ_CHECK(tight != NULL);
    FUZZ_CHECK(sw_event_encode_msgpack(ev, tight, n - 1) == 0);
    free(tight);
}

/* A rejection names a reason and, if any, a valid field. */
static void fuzz_check_err(const sw_event_err_t *err)
{
    FUZZ_CHECK(err->reason > SW_REASON_NONE && err->reason < SW_REASON__COUNT);
    FUZZ_CHECK(strcmp(sw_reason_name(err->reason), "?") != 0);
    FUZZ_CHECK(err->field >= -1 && err->field < SW_F__COUNT);
    FUZZ_CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
}

#endif
