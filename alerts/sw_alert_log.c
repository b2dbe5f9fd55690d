/* sw_alert_log: idempotent, sequenced alert log in Redis (hiredis, Lua). */
#include "sw_alert_log.h"
#include "sw_alert.h"
#include "sw_err.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS: stream, seq, seen, active. ARGV: transition key, alert id, state,
 * JSON. Returns {seq, 1 when written now / 0 when it was there}. */
static const char script[] =
    "local s = redis.call('HGET', KEYS[3], ARGV[1])\n"
    "if s then return {tonumber(s), 0} end\n"
    "local seq = redis.call('INCR', KEYS[2])\n"
    "redis.call('XADD', KEYS[1], seq .. '-1', 'alert', ARGV[4])\n"
    "redis.call('HSET', KEYS[3], ARGV[1], seq)\n"
    "if ARGV[3] == 'resolved' then redis.call('HDEL', KEYS[4], ARGV[2])\n"
    "else redis.call('HSET', KEYS[4], ARGV[2], ARGV[4]) end\n"
    "return {seq, 1}\n";

struct sw_alert_log {
    redisContext *c;
    char sha[41];
    char k_stream[128], k_seq[128], k_seen[128], k_active[128];
};

static int reply_error(redisContext *c, redisReply *r, const char *what,
                       char *errstr, size_t errstr_size)
{
    if (r == NULL)
        snprintf(errstr, errstr_size, "%s: %s", what,
                 c->err ? c->errstr : "no reply");
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(errstr, errstr_size, "%s: %s", what, r->str);
    else
        return 0;
    return -1;
}

/* Splits redis://[[user]:pass@]host[:port][/db]. */
static int parse_url(const char *url, char *user, char *pass, char *host,
                     int *port, int *db)
{
    const size_t max = 256;
    if (strncmp(url, "redis://", 8) != 0)
        return -1;
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    user[0] = pass[0] = '\0';
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon == NULL || (size_t)(colon - p) >= max ||
            (size_t)(at - colon - 1) >= max)
            return -1;
        memcpy(user, p, (size_t)(colon - p));
        user[colon - p] = '\0';
        memcpy(pass, colon + 1, (size_t)(at - colon - 1));
        pass[at - colon - 1] = '\0';
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= max)
        return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    p += hl;
    *port = 6379;
    *db = 0;
    char *end;
    if (*p == ':') {
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 1 || v > 65535)
            return -1;
        *port = (int)v;
        p = end;
    }
    if (*p == '/') {
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 0 || v > 10000 || *end)
            return -1;
        *db = (int)v;
        p = end;
    }
    return *p ? -1 : 0;
}

sw_alert_log_t *sw_alert_log_new(const char *url, const char *prefix,
                                 int timeout_ms, char *errstr,
                                 size_t errstr_size)
{
    char user[256], pass[256], host[256];
    int port, db;
    if (parse_url(url, user, pass, host, &port, &db) != 0) {
        snprintf(errstr, errstr_size,
                 "bad Redis URL \"%s\" (accepted: "
                 "redis://[[user]:password@]host[:port][/db])",
                 url);
        return NULL;
    }
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
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    l->c = redisConnectWithTimeout(host, port, tv);
    if (l->c == NULL || l->c->err) {
        snprintf(errstr, errstr_size, "Redis %s:%d: %s", host, port,
                 l->c ? l->c->errstr : "cannot allocate a context");
        goto fail;
    }
    redisSetTimeout(l->c, tv);
    redisReply *r;
    if (pass[0]) {
        r = user[0] ? redisCommand(l->c, "AUTH %s %s", user, pass)
                    : redisCommand(l->c, "AUTH %s", pass);
        int bad = reply_error(l->c, r, "AUTH", errstr, errstr_size);
        if (r)
            freeReplyObject(r);
        if (bad)
            goto fail;
    }
    if (db) {
        r = redisCommand(l->c, "SELECT %d", db);
        int bad = reply_error(l->c, r, "SELECT", errstr, errstr_size);
        if (r)
            freeReplyObject(r);
        if (bad)
            goto fail;
    }
    r = redisCommand(l->c, "SCRIPT LOAD %s", script);
    if (reply_error(l->c, r, "SCRIPT LOAD", errstr, errstr_size) ||
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
    if (reply_error(self->c, r, "SCRIPT LOAD", errstr, errstr_size)) {
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
        char json[SW_ALERT_JSON_MAX], tkey[SW_ALERT_ID_MAX + 48];
        size_t jl = sw_alert_to_json(a, 0, json, sizeof(json));
        int tl =
            snprintf(tkey, sizeof(tkey), "%s|%s|%lld%s", a->alert_id,
                     sw_alert_state_name(a->state), (long long)a->window_end,
                     a->retracted ? "|retracted" : "");
        const char *state = sw_alert_state_name(a->state);
        const char *argv[] = {"EVALSHA",      self->sha,   "4",
                              self->k_stream, self->k_seq, self->k_seen,
                              self->k_active, tkey,        a->alert_id,
                              state,          json};
        size_t argl[] = {7,
                         40,
                         1,
                         strlen(self->k_stream),
                         strlen(self->k_seq),
                         strlen(self->k_seen),
                         strlen(self->k_active),
                         (size_t)tl,
                         strlen(a->alert_id),
                         strlen(state),
                         jl};
        if (redisAppendCommandArgv(self->c, 11, argv, argl) != REDIS_OK) {
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
