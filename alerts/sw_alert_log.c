/* sw_alert_log: idempotent, sequenced alert log in Redis (hiredis, Lua). */
#include "sw_alert_log.h"
#include "sw_alert.h"
#include "sw_err.h"
#include "sw_redis.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS: stream, seq, seen, active, last. ARGV: transition key, alert id,
 * state, JSON (without seq), section. Returns {seq, 1 when written now /
 * 0 when it was there}. The stream entry holds the JSON, the seq of the
 * section's previous alert (prev, for gap detection per section) and the
 * Redis time of the write (t, ms). The active hash holds the JSON with its
 * seq. */
static const char script[] =
    "local s = redis.call('HGET', KEYS[3], ARGV[1])\n"
    "if s then return {tonumber(s), 0} end\n"
    "local seq = redis.call('INCR', KEYS[2])\n"
    "local prev = redis.call('HGET', KEYS[5], ARGV[5]) or '0'\n"
    "local now = redis.call('TIME')\n"
    "local t = now[1] * 1000 + math.floor(now[2] / 1000)\n"
    "redis.call('XADD', KEYS[1], seq .. '-1', 'alert', ARGV[4], 'prev', prev,"
    " 't', t)\n"
    "redis.call('HSET', KEYS[3], ARGV[1], seq)\n"
    "redis.call('HSET', KEYS[5], ARGV[5], seq)\n"
    "if ARGV[3] == 'resolved' then redis.call('HDEL', KEYS[4], ARGV[2])\n"
    "else redis.call('HSET', KEYS[4], ARGV[2],"
    " '{\"seq\":' .. seq .. ',' .. string.sub(ARGV[4], 2)) end\n"
    "return {seq, 1}\n";

struct sw_alert_log {
    redisContext *c;
    char sha[41];
    char k_stream[128], k_seq[128], k_seen[128], k_active[128], k_last[128];
    uint64_t repeats;
};

sw_alert_log_t *sw_alert_log_new(const char *url, const char *prefix,
                                 int timeout_ms, char *errstr,
                                 size_t errstr_size)
{
    if (prefix == NULL || *prefix == '\0' || strlen(prefix) > 64) {
        snprintf(errstr, errstr_size,
                 "bad key prefix (accepted: 1..64 "
                 "characters)");
        return NULL;
    }
    sw_alert_log_t *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    snprintf(l->k_stream, sizeof(l->k_stream), "%s:alerts", prefix);
    snprintf(l->k_seq, sizeof(l->k_seq), "%s:alerts:seq", prefix);
    snprintf(l->k_seen, sizeof(l->k_seen), "%s:alerts:seen", prefix);
    snprintf(l->k_active, sizeof(l->k_active), "%s:alerts:active", prefix);
    snprintf(l->k_last, sizeof(l->k_last), "%s:alerts:last", prefix);
    l->c = sw_redis_connect(url, timeout_ms, errstr, errstr_size);
    if (l->c == NULL)
        goto fail;
    redisReply *r;
    r = redisCommand(l->c, "SCRIPT LOAD %s", script);
    if (sw_redis_reply_error(l->c, r, "SCRIPT LOAD", errstr, errstr_size) ||
        r->type != REDIS_REPLY_STRING || r->len != 40) {
        if (r && r->type != REDIS_REPLY_ERROR)
            snprintf(errstr, errstr_size, "SCRIPT LOAD: unexpected reply");
        if (r)
            freeReplyObject(r);
        goto fail;
    }
    memcpy(l->sha, r->str, 40);
    freeReplyObject(r);
    return l;
fail:
    sw_alert_log_destroy(&l);
    return NULL;
}

void sw_alert_log_destroy(sw_alert_log_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    if ((*self_p)->c)
        redisFree((*self_p)->c);
    free(*self_p);
    *self_p = NULL;
}

static int write_batch(sw_alert_log_t *self, const sw_alert_t *alerts, size_t n,
                       uint64_t *seqs, int *noscript, char *errstr,
                       size_t errstr_size);

int sw_alert_log_write(sw_alert_log_t *self, const sw_alert_t *alerts, size_t n,
                       uint64_t *seqs, char *errstr, size_t errstr_size)
{
    int noscript = 0;
    int rc = write_batch(self, alerts, n, seqs, &noscript, errstr, errstr_size);
    if (rc == 0 || !noscript)
        return rc;
    /* Redis lost its script cache (a restart): load it again and write
     * the batch again; what was written is not written twice */
    redisReply *r = redisCommand(self->c, "SCRIPT LOAD %s", script);
    if (sw_redis_reply_error(self->c, r, "SCRIPT LOAD", errstr, errstr_size)) {
        if (r)
            freeReplyObject(r);
        return SW_ERR_REDIS;
    }
    freeReplyObject(r);
    return write_batch(self, alerts, n, seqs, &noscript, errstr, errstr_size);
}

static int write_batch(sw_alert_log_t *self, const sw_alert_t *alerts, size_t n,
                       uint64_t *seqs, int *noscript, char *errstr,
                       size_t errstr_size)
{
    if (self->c->err) {
        snprintf(errstr, errstr_size, "Redis connection: %s", self->c->errstr);
        return SW_ERR_REDIS;
    }
    for (size_t i = 0; i < n; i++) {
        const sw_alert_t *a = &alerts[i];
        char json[SW_ALERT_JSON_MAX], tkey[SW_ALERT_ID_MAX + 64];
        size_t jl = sw_alert_to_json(a, 0, json, sizeof(json));
        /* tseq tells apart two transitions of one alert with the same
         * state and window (updates while late data is reconciled) */
        int tl =
            snprintf(tkey, sizeof(tkey), "%s|%s|%lld|%s%lu", a->alert_id,
                     sw_alert_state_name(a->state), (long long)a->window_end,
                     a->retracted ? "r" : "", (unsigned long)a->tseq);
        const char *state = sw_alert_state_name(a->state);
        const char *argv[] = {"EVALSHA",      self->sha,    "5",
                              self->k_stream, self->k_seq,  self->k_seen,
                              self->k_active, self->k_last, tkey,
                              a->alert_id,    state,        json,
                              a->section};
        size_t argl[] = {7,
                         40,
                         1,
                         strlen(self->k_stream),
                         strlen(self->k_seq),
                         strlen(self->k_seen),
                         strlen(self->k_active),
                         strlen(self->k_last),
                         (size_t)tl,
                         strlen(a->alert_id),
                         strlen(state),
                         jl,
                         strlen(a->section)};
        if (redisAppendCommandArgv(self->c, 13, argv, argl) != REDIS_OK) {
            snprintf(errstr, errstr_size, "Redis: %s", self->c->errstr);
            return SW_ERR_REDIS;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(self->c, (void **)&r) != REDIS_OK || r == NULL) {
            snprintf(errstr, errstr_size, "Redis: %s",
                     self->c->err ? self->c->errstr : "no reply");
            return SW_ERR_REDIS; /* the connection is unusable now */
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_INTEGER) {
            if (seqs)
                seqs[i] = (uint64_t)r->element[0]->integer;
            if (r->element[1]->type == REDIS_REPLY_INTEGER &&
                r->element[1]->integer == 0)
                self->repeats++;
        } else if (rc == 0) {
            snprintf(errstr, errstr_size, "alert log script: %s",
                     r->type == REDIS_REPLY_ERROR ? r->str
                                                  : "unexpected reply");
            if (r->type == REDIS_REPLY_ERROR &&
                strncmp(r->str, "NOSCRIPT", 8) == 0)
                *noscript = 1;
            rc = SW_ERR_REDIS;
        }
        freeReplyObject(r);
    }
    return rc;
}

uint64_t sw_alert_log_repeats(const sw_alert_log_t *self)
{
    return self->repeats;
}
