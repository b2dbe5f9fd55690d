/*
 * sw_checkpoint_check: the worker's crash path without Kafka, against a
 * real Redis, for tests/integration/test_checkpoint.sh. A straight run
 * feeds events to an engine; a second run stops half-way, stores each
 * partition's state and offset in Redis (sw_checkpoint_save), and a third
 * engine loads them back (sw_checkpoint_load) and resumes at the stored
 * offsets. The alert transitions of runs two and three together must equal
 * the straight run's, field for field.
 *
 * usage: sw_checkpoint_check URL PREFIX        (exit 0 when equal)
 *        sw_checkpoint_check URL PREFIX load   (prints the load result)
 */
#include "sw_checkpoint.h"
#include "sw_engine.h"
#include "sw_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 60000
#define PARTS 2

typedef struct rec {
    sw_alert_t v[20000];
    size_t n;
} rec_t;

static void on_alert(void *o, const sw_alert_t *a)
{
    rec_t *r = o;
    if (r->n < sizeof(r->v) / sizeof(r->v[0]))
        r->v[r->n++] = *a;
}

static sw_event_t ev[N];
static rec_t straight, split;

static sw_engine_t *engine(rec_t *r)
{
    sw_engine_conf_t c;
    sw_engine_conf_default(&c);
    c.on_alert = on_alert;
    c.opaque = r;
    static sw_profiles_t ps;
    sw_profile_default(&ps.def);
    ps.def.enabled[SW_DET_THRESHOLD] = 1;
    ps.def.params[SW_DET_THRESHOLD].limit = 60;
    char err[256];
    sw_engine_t *e = sw_engine_new(&c, &ps, err, sizeof(err));
    if (e == NULL)
        fprintf(stderr, "engine: %s\n", err);
    return e;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    char err[256];
    sw_checkpoint_store_t *st =
        sw_checkpoint_store_new(argv[1], argv[2], 2000, err, sizeof(err));
    if (st == NULL) {
        fprintf(stderr, "sw_checkpoint_check: %s\n", err);
        return 1;
    }
    if (argc == 4) { /* just report what loading partition 0 gives */
        int64_t off, at;
        void *state = NULL;
        size_t len;
        int rc = sw_checkpoint_load(st, "events", 0, &off, &at, &state, &len,
                                    err, sizeof(err));
        printf("load=%d %s\n", rc, rc < 0 ? err : "");
        free(state);
        sw_checkpoint_store_destroy(&st);
        return 0;
    }
    static const char *const secs[] = {"HU-RS", "GR-MK", "BA-HR",
                                       "HR-SI", "AL-GR", "BA-RS"};
    uint64_t x = 12345;
    int64_t t0 = sw_time_from_civil(2019, 1, 1, 0, 0, 0, 0);
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        sw_event_t *e = &ev[i];
        sw_event_reset(e);
        int s = (int)(x % 6);
        strcpy(e->section, secs[s]);
        e->section_len = (uint8_t)strlen(e->section);
        memcpy(e->src, e->section, 3);
        e->src[2] = 0;
        e->id_len = (uint8_t)sprintf(e->id, "c-%d", i % 50 == 7 ? i - 3 : i);
        e->ts_ms = t0 + (int64_t)i * 8 * 60000 + (int64_t)(x >> 40) % 3600000;
        e->type = SW_TYPE_DETERRED;
        e->count =
            1 + (uint32_t)((x >> 20) % 4) + ((x >> 30) % 40 == 0 ? 30 : 0);
        e->seen = SW_FIELDS_REQUIRED;
    }
    /* each section sits on one partition, as with Kafka keys */
#define PART(i) ((ev[i].section[0] + ev[i].section[1]) % PARTS)
    sw_engine_t *a = engine(&straight);
    for (int i = 0; i < N; i++)
        sw_engine_push(a, PART(i), &ev[i]);
    sw_engine_settle(a);
    sw_engine_destroy(&a);

    /* run 2: until the middle, then checkpoint every partition; the
     * offset stored is the index of the next event of that partition */
    sw_engine_t *b = engine(&split);
    int mid = N / 2;
    for (int i = 0; i < mid; i++)
        sw_engine_push(b, PART(i), &ev[i]);
    sw_engine_settle(b);
    for (int p = 0; p < PARTS; p++) {
        size_t len;
        void *state = sw_engine_save(b, p, &len);
        if (state == NULL ||
            sw_checkpoint_save(st, "events", p, mid, 1700000000000, state, len,
                               err, sizeof(err)) != 0) {
            fprintf(stderr, "save: %s\n", err);
            return 1;
        }
        free(state);
    }
    sw_engine_destroy(&b); /* the crash */

    /* run 3: a new owner loads from Redis and resumes at the offsets */
    sw_engine_t *c = engine(&split);
    int64_t resume[PARTS];
    for (int p = 0; p < PARTS; p++) {
        int64_t off, at;
        void *state = NULL;
        size_t len;
        int rc = sw_checkpoint_load(st, "events", p, &off, &at, &state, &len,
                                    err, sizeof(err));
        if (rc != 1 || at != 1700000000000 ||
            sw_engine_load(c, p, state, len, err, sizeof(err)) != 0) {
            fprintf(stderr, "load partition %d: rc %d %s\n", p, rc, err);
            return 1;
        }
        resume[p] = off;
        free(state);
    }
    for (int i = 0; i < N; i++)
        if (i >= resume[PART(i)])
            sw_engine_push(c, PART(i), &ev[i]);
    sw_engine_settle(c);
    sw_engine_destroy(&c);

    if (straight.n < 10 || straight.n != split.n) {
        fprintf(stderr, "transitions: straight %zu, with a checkpoint %zu\n",
                straight.n, split.n);
        return 1;
    }
    for (size_t i = 0; i < straight.n; i++) {
        const sw_alert_t *p = &straight.v[i], *q = &split.v[i];
        if (strcmp(p->alert_id, q->alert_id) || p->state != q->state ||
            p->window_end != q->window_end || p->observed != q->observed ||
            p->score != q->score || p->raised_at != q->raised_at ||
            p->level != q->level || p->retracted != q->retracted) {
            fprintf(stderr, "transition %zu differs: %s %s / %s %s\n", i,
                    p->alert_id, sw_alert_state_name(p->state), q->alert_id,
                    sw_alert_state_name(q->state));
            return 1;
        }
    }
    printf("transitions=%zu equal through a Redis checkpoint\n", straight.n);
    sw_checkpoint_store_destroy(&st);
    return 0;
}
