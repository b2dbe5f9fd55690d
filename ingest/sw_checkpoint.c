/* sw_checkpoint: partition state and offset in one Redis value. */
#include "sw_checkpoint.h"
#include "sw_err.h"
#include "sw_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "SWCP"
#define VERSION 1
#define HEADER 24 /* magic 4, version 4, offset 8, saved_ms 8 */

struct sw_checkpoint_store {
    redisContext *c;
    char prefix[65];
};

sw_checkpoint_store_t *sw_checkpoint_store_new(const char *url,
                                               const char *prefix,
                                               int timeout_ms, char *errstr,
                                               size_t errstr_size)
{
    if (prefix == NULL || *prefix == '\0' || strlen(prefix) > 64) {
        snprintf(errstr, errstr_size,
                 "bad key prefix (accepted: 1..64 characters)");
        return NULL;
    }
    sw_checkpoint_store_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
    s->c = sw_redis_connect(url, timeout_ms, errstr, errstr_size);
    if (s->c == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void sw_checkpoint_store_destroy(sw_checkpoint_store_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    if ((*self_p)->c)
        redisFree((*self_p)->c);
    free(*self_p);
    *self_p = NULL;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void key_of(const sw_checkpoint_store_t *s, const char *topic,
                   int32_t partition, char *key, size_t size)
{
    snprintf(key, size, "%s:ckpt:%s:%d", s->prefix, topic, (int)partition);
}

int sw_checkpoint_save(sw_checkpoint_store_t *self, const char *topic,
                       int32_t partition, int64_t offset, int64_t saved_ms,
                       const void *state, size_t len, char *errstr,
                       size_t errstr_size)
{
    unsigned char *v = malloc(HEADER + len);
    if (v == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return SW_ERR_NOMEM;
    }
    memcpy(v, MAGIC, 4);
    v[4] = VERSION, v[5] = v[6] = v[7] = 0;
    put64(v + 8, (uint64_t)offset);
    put64(v + 16, (uint64_t)saved_ms);
    if (len)
        memcpy(v + HEADER, state, len);
    char key[400];
    key_of(self, topic, partition, key, sizeof(key));
    const char *argv[] = {"SET", key, (const char *)v};
    size_t argl[] = {3, strlen(key), HEADER + len};
    redisReply *r = redisCommandArgv(self->c, 3, argv, argl);
    free(v);
    int bad =
        sw_redis_reply_error(self->c, r, "checkpoint SET", errstr, errstr_size);
    if (r)
        freeReplyObject(r);
    return bad ? SW_ERR_REDIS : 0;
}

int sw_checkpoint_load(sw_checkpoint_store_t *self, const char *topic,
                       int32_t partition, int64_t *offset, int64_t *saved_ms,
                       void **state, size_t *len, char *errstr,
                       size_t errstr_size)
{
    char key[400];
    key_of(self, topic, partition, key, sizeof(key));
    const char *argv[] = {"GET", key};
    size_t argl[] = {3, strlen(key)};
    redisReply *r = redisCommandArgv(self->c, 2, argv, argl);
    if (sw_redis_reply_error(self->c, r, "checkpoint GET", errstr,
                             errstr_size)) {
        if (r)
            freeReplyObject(r);
        return SW_ERR_REDIS;
    }
    int rc;
    if (r->type == REDIS_REPLY_NIL) {
        rc = 0;
    } else if (r->type != REDIS_REPLY_STRING || r->len < HEADER ||
               memcmp(r->str, MAGIC, 4) != 0 || r->str[4] != VERSION) {
        snprintf(errstr, errstr_size,
                 "%s is not a surgewatch checkpoint of version %d", key,
                 VERSION);
        rc = SW_ERR_PARSE;
    } else {
        size_t n = r->len - HEADER;
        *state = malloc(n ? n : 1);
        if (*state == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            rc = SW_ERR_NOMEM;
        } else {
            memcpy(*state, r->str + HEADER, n);
            *len = n;
            *offset = (int64_t)get64((const unsigned char *)r->str + 8);
            *saved_ms = (int64_t)get64((const unsigned char *)r->str + 16);
            rc = 1;
        }
    }
    freeReplyObject(r);
    return rc;
}
