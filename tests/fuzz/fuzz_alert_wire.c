/*
 * Fuzz target: the alert decoders of sw_alert_wire.h, what a subscriber
 * reads from the hub (sw_alert_unpack: a msgpack map) and what the hub and
 * its web view read from the Redis alert log (sw_alert_from_json). The
 * first byte selects the decoder (even: msgpack, odd: JSON); the rest is
 * the input, in an exact-size heap copy.
 *
 * Oracles, on every accepted alert: its fields obey sw_engine.h and
 * sw_alert_wire.h; it packs to msgpack and unpacks to the same fields (the
 * hub's path to subscribers); and its JSON text (sw_wire_alert_to_json,
 * what `subscribe` prints and the web view serves) is read back by
 * sw_alert_from_json into an alert with the same fields, whose text is
 * stable from then on (times in years 0001..9999: see check_json_trip).
 */
#include "sw_alert_wire.h"
#include "sw_detector.h"
#include "sw_engine.h"
#include "sw_event.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            __builtin_trap();                                                  \
    } while (0)

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static void check_alert(const sw_wire_alert_t *w)
{
    const sw_alert_t *a = &w->a;
    size_t il = strnlen(a->alert_id, sizeof(a->alert_id));
    CHECK(il > 0 && il < sizeof(a->alert_id));
    size_t sl = strnlen(a->section, sizeof(a->section));
    CHECK(sl < sizeof(a->section) && sw_section_valid(a->section, sl));
    CHECK((unsigned)a->state <= SW_ALERT_RESOLVED);
    CHECK((unsigned)a->level <= SW_LEVEL_CRITICAL);
    CHECK((unsigned)a->detector < SW_DET__COUNT);
    CHECK(a->type == -1 || (a->type >= 0 && a->type < SW_TYPE__COUNT));
    CHECK(a->retracted == 0 || a->retracted == 1);
    CHECK(a->at == 0 && a->tseq == 0);
    CHECK(w->logged_at >= 0);
    CHECK(memchr(w->acked_by, '\0', sizeof(w->acked_by)) != NULL);
    CHECK(memchr(w->ack_note, '\0', sizeof(w->ack_note)) != NULL);
    if (w->acked_at > 0)
        CHECK(w->acked_by[0] != '\0');
    else
        CHECK(w->acked_at == 0);
}

static void check_same(const sw_wire_alert_t *x, const sw_wire_alert_t *y)
{
    const sw_alert_t *a = &x->a, *b = &y->a;
    CHECK(strcmp(a->alert_id, b->alert_id) == 0);
    CHECK(strcmp(a->section, b->section) == 0);
    CHECK(a->state == b->state && a->type == b->type &&
          a->detector == b->detector && a->level == b->level);
    CHECK(a->window_start == b->window_start &&
          a->window_end == b->window_end && a->raised_at == b->raised_at);
    CHECK(same_double(a->observed, b->observed) &&
          same_double(a->expected, b->expected) &&
          same_double(a->score, b->score) &&
          same_double(a->threshold, b->threshold));
    CHECK(a->retracted == b->retracted);
    CHECK(x->seq == y->seq && x->prev == y->prev &&
          x->logged_at == y->logged_at);
    CHECK(x->acked_at == y->acked_at);
    if (x->acked_at > 0)
        CHECK(strcmp(x->acked_by, y->acked_by) == 0 &&
              strcmp(x->ack_note, y->ack_note) == 0);
}

/* hub -> subscriber: msgpack and back */
static void check_msgpack_trip(const sw_wire_alert_t *w0)
{
    sw_wire_alert_t w = *w0, back;
    if (w.seq == 0)
        w.seq = 1; /* the hub takes it from the log entry's id */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    CHECK(sw_alert_pack(&pk, &w) == 0);
    char err[256];
    memset(&back, 0x5a, sizeof(back));
    CHECK(sw_alert_unpack(sb.data, sb.size, &back, err, sizeof(err)) == 0);
    check_alert(&back);
    check_same(&w, &back);
    msgpack_sbuffer_destroy(&sb);
}

/* Everything but the numbers (printed with %.6g) is the same. */
static void check_same_but_numbers(const sw_wire_alert_t *x,
                                   const sw_wire_alert_t *y)
{
    sw_wire_alert_t z = *y;
    z.a.observed = x->a.observed;
    z.a.expected = x->a.expected;
    z.a.score = x->a.score;
    z.a.threshold = x->a.threshold;
    z.logged_at = x->logged_at; /* not in the text */
    z.prev = x->prev;
    check_same(x, &z);
}

/* The times sw_time_format writes as RFC 3339: years 0001..9999. The
 * decoders take any int64 ms (tests/unit/test_alert_wire.c packs INT64_MAX
 * on purpose); the text of a time outside is not RFC 3339 (sw_time.h), so
 * the JSON trip below is for alerts within. */
#define TIME_MIN INT64_C(-62135596800000) /* 0001-01-01T00:00:00.000Z */
#define TIME_MAX INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */

static int time_ok(int64_t ms)
{
    return ms >= TIME_MIN && ms <= TIME_MAX;
}

/* alert -> JSON text -> alert with the same fields -> the same text */
static void check_json_trip(const sw_wire_alert_t *w)
{
    if (!time_ok(w->a.window_start) || !time_ok(w->a.window_end) ||
        !time_ok(w->a.raised_at) || (w->acked_at > 0 && !time_ok(w->acked_at)))
        return;
    static char j1[SW_WIRE_JSON_MAX], j2[SW_WIRE_JSON_MAX],
        j3[SW_WIRE_JSON_MAX];
    size_t n1 = sw_wire_alert_to_json(w, j1, sizeof(j1));
    CHECK(n1 > 0 && n1 < sizeof(j1) && strlen(j1) == n1);
    sw_wire_alert_t b1, b2;
    char err[256];
    memset(&b1, 0x5a, sizeof(b1));
    CHECK(sw_alert_from_json(j1, n1, &b1, err, sizeof(err)) == 0);
    check_alert(&b1);
    check_same_but_numbers(w, &b1);
    /* numbers: the text is stable from the first reading on (-0 reads
     * back as 0, and %.6g rounds once) */
    size_t n2 = sw_wire_alert_to_json(&b1, j2, sizeof(j2));
    CHECK(n2 > 0);
    memset(&b2, 0x5a, sizeof(b2));
    CHECK(sw_alert_from_json(j2, n2, &b2, err, sizeof(err)) == 0);
    size_t n3 = sw_wire_alert_to_json(&b2, j3, sizeof(j3));
    CHECK(n3 == n2 && memcmp(j2, j3, n2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int json = data[0] & 1;
    size_t len = size - 1;
    char *buf = malloc(len ? len : 1);
    if (buf == NULL)
        return 0;
    if (len)
        memcpy(buf, data + 1, len);

    sw_wire_alert_t w;
    char err[256];
    memset(&w, 0xa5, sizeof(w));
    memset(err, 0, sizeof(err));
    int rc = json ? sw_alert_from_json(buf, len, &w, err, sizeof(err))
                  : sw_alert_unpack(buf, len, &w, err, sizeof(err));
    if (rc != 0) {
        CHECK(rc == -1 && err[0] != '\0');
    } else {
        check_alert(&w);
        if (!json)
            CHECK(w.seq >= 1);
        check_msgpack_trip(&w);
        check_json_trip(&w);
    }
    free(buf);
    return 0;
}
