/* sw_replay_req: the hub's replay requests (msgpack-c). */
#include "sw_replay_req.h"

#include <msgpack.h>
#include <stdio.h>
#include <string.h>

static int as_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    *v = o->via.u64;
    return 0;
}

int sw_replay_req_parse(const char *buf, size_t len, sw_replay_req_t *q,
                        char *err, size_t errsz)
{
    memset(q, 0, sizeof(*q));
    q->limit = SW_REPLAY_LIMIT_DEFAULT;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = -1;
    if (sw_mp_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP) {
        snprintf(err, errsz, "a request is one msgpack map (docs/alerts.md)");
        goto out;
    }
    const msgpack_object_map *m = &u.data.via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        if (sw_mp_str_eq(k, "op")) {
            if (v->type != MSGPACK_OBJECT_STR ||
                v->via.str.size >= sizeof(q->op)) {
                snprintf(err, errsz, "'op' must be a string");
                goto out;
            }
            /* all of it: a later "op" replaces an earlier one */
            memset(q->op, 0, sizeof(q->op));
            memcpy(q->op, v->via.str.ptr, v->via.str.size);
        } else if (sw_mp_str_eq(k, "id")) {
            as_u64(v, &q->id);
        } else if (sw_mp_str_eq(k, "from") || sw_mp_str_eq(k, "to") ||
                   sw_mp_str_eq(k, "limit")) {
            uint64_t x;
            if (as_u64(v, &x)) {
                snprintf(err, errsz, "'%.*s' must be a whole number >= 0",
                         (int)k->via.str.size, k->via.str.ptr);
                goto out;
            }
            if (sw_mp_str_eq(k, "from"))
                q->from = x;
            else if (sw_mp_str_eq(k, "to"))
                q->to = x;
            else
                q->limit = x;
        } else if (sw_mp_str_eq(k, "time")) {
            uint64_t x;
            if (as_u64(v, &x) || x > (uint64_t)INT64_MAX) {
                snprintf(err, errsz, "'time' must be ms since the epoch");
                goto out;
            }
            q->time = (int64_t)x;
            q->has_time = 1;
        } else if (sw_mp_str_eq(k, "prefixes")) {
            if (v->type != MSGPACK_OBJECT_ARRAY ||
                v->via.array.size > SW_REPLAY_PREFIXES_MAX) {
                snprintf(err, errsz,
                         "'prefixes' must be an array of at most "
                         "16 strings");
                goto out;
            }
            for (uint32_t j = 0; j < v->via.array.size; j++) {
                const msgpack_object *p = &v->via.array.ptr[j];
                if (p->type != MSGPACK_OBJECT_STR ||
                    p->via.str.size >= SW_TOPIC_MAX) {
                    snprintf(err, errsz,
                             "'prefixes' must hold strings of at most %d "
                             "bytes",
                             SW_TOPIC_MAX - 1);
                    goto out;
                }
                memcpy(q->prefixes[j], p->via.str.ptr, p->via.str.size);
                q->prefixes[j][p->via.str.size] = '\0';
            }
            q->nprefixes = v->via.array.size;
        }
    }
    if (q->op[0] == '\0') {
        snprintf(err, errsz, "no 'op' (accepted: status, range, snapshot)");
        goto out;
    }
    if (q->nprefixes == 0) {
        q->nprefixes = 1;
        q->prefixes[0][0] = '\0';
    }
    if (q->limit == 0 || q->limit > SW_REPLAY_LIMIT_MAX)
        q->limit = q->limit ? SW_REPLAY_LIMIT_MAX : SW_REPLAY_LIMIT_DEFAULT;
    rc = 0;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}
