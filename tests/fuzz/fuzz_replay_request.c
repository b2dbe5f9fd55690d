/*
 * Fuzz target: the hub's replay request parser (sw_replay_req_parse, the
 * msgpack map a subscriber sends to the ROUTER socket) on arbitrary bytes.
 *
 * Oracle: a second, plain reading of the same map (msgpack-c's object
 * tree, behind the same guard against huge container headers,
 * sw_mp_unpack_next; key by key, the last occurrence of a key winning as
 * in the parser's loop) says what every field of an accepted request must
 * be, and that a refused one had a reason to be refused.
 */
#include "sw_alert_wire.h"
#include "sw_replay_req.h"

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

static int is_key(const msgpack_object *k, const char *s)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(s) &&
           memcmp(k->via.str.ptr, s, k->via.str.size) == 0;
}

static int is_uint(const msgpack_object *v)
{
    return v->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

/* 1 when the request in o (a map) must be refused. */
static int must_refuse(const msgpack_object_map *m)
{
    int op = 0;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        if (is_key(k, "op")) {
            if (v->type != MSGPACK_OBJECT_STR || v->via.str.size >= 16)
                return 1;
            op = v->via.str.size > 0 && v->via.str.ptr[0] != '\0';
        } else if (is_key(k, "from") || is_key(k, "to") || is_key(k, "limit")) {
            if (!is_uint(v))
                return 1;
        } else if (is_key(k, "time")) {
            if (!is_uint(v) || v->via.u64 > (uint64_t)INT64_MAX)
                return 1;
        } else if (is_key(k, "prefixes")) {
            if (v->type != MSGPACK_OBJECT_ARRAY ||
                v->via.array.size > SW_REPLAY_PREFIXES_MAX)
                return 1;
            for (uint32_t j = 0; j < v->via.array.size; j++) {
                const msgpack_object *p = &v->via.array.ptr[j];
                if (p->type != MSGPACK_OBJECT_STR ||
                    p->via.str.size >= SW_TOPIC_MAX)
                    return 1;
            }
        }
    }
    return !op;
}

/* The fields of an accepted request are those of the map. */
static void check_accepted(const msgpack_object_map *m,
                           const sw_replay_req_t *q)
{
    const msgpack_object *op = NULL, *prefixes = NULL;
    uint64_t id = 0, from = 0, to = 0, limit = 0;
    int64_t time = 0;
    int has_time = 0;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        if (is_key(k, "op"))
            op = v;
        else if (is_key(k, "id") && is_uint(v))
            id = v->via.u64;
        else if (is_key(k, "from"))
            from = v->via.u64;
        else if (is_key(k, "to"))
            to = v->via.u64;
        else if (is_key(k, "limit"))
            limit = v->via.u64;
        else if (is_key(k, "time")) {
            time = (int64_t)v->via.u64;
            has_time = 1;
        } else if (is_key(k, "prefixes"))
            prefixes = v;
    }
    CHECK(op != NULL);
    /* the last op, all of it (it may hold a NUL; the rest is zeros) */
    CHECK(memchr(q->op, '\0', sizeof(q->op)) != NULL);
    CHECK(op->via.str.size < sizeof(q->op));
    CHECK(memcmp(q->op, op->via.str.ptr, op->via.str.size) == 0);
    for (size_t i = op->via.str.size; i < sizeof(q->op); i++)
        CHECK(q->op[i] == '\0');
    CHECK(q->op[0] != '\0');
    CHECK(q->id == id && q->from == from && q->to == to);
    if (limit == 0)
        CHECK(q->limit == SW_REPLAY_LIMIT_DEFAULT);
    else if (limit > SW_REPLAY_LIMIT_MAX)
        CHECK(q->limit == SW_REPLAY_LIMIT_MAX);
    else
        CHECK(q->limit == limit);
    CHECK(q->has_time == has_time && q->time == time);
    size_t np = prefixes ? prefixes->via.array.size : 0;
    if (np == 0) {
        CHECK(q->nprefixes == 1 && q->prefixes[0][0] == '\0');
    } else {
        CHECK(q->nprefixes == np);
        for (size_t j = 0; j < np; j++) {
            const msgpack_object *p = &prefixes->via.array.ptr[j];
            CHECK(memchr(q->prefixes[j], '\0', SW_TOPIC_MAX) != NULL);
            CHECK(memcmp(q->prefixes[j], p->via.str.ptr, p->via.str.size) == 0);
            CHECK(q->prefixes[j][p->via.str.size] == '\0');
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size heap copy: one byte of over-read is a report */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    if (size)
        memcpy(buf, data, size);

    sw_replay_req_t q;
    char err[512];
    memset(&q, 0xa5, sizeof(q));
    memset(err, 0, sizeof(err));
    int rc = sw_replay_req_parse(buf, size, &q, err, sizeof(err));

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int map =
        sw_mp_unpack_next(&u, buf, size, &off) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP;
    if (!map || must_refuse(&u.data.via.map)) {
        CHECK(rc == -1);
        CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
    } else {
        CHECK(rc == 0);
        check_accepted(&u.data.via.map, &q);
    }
    msgpack_unpacked_destroy(&u);
    free(buf);
    return 0;
}
