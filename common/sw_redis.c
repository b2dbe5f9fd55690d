/* sw_redis: hiredis connections from redis:// URLs. */
#include "sw_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sw_redis_reply_error(redisContext *c, redisReply *r, const char *what,
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

int sw_redis_url_valid(const char *url)
{
    char user[256], pass[256], host[256];
    int port, db;
    return url && parse_url(url, user, pass, host, &port, &db) == 0;
}

redisContext *sw_redis_connect(const char *url, int timeout_ms, char *errstr,
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
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err) {
        snprintf(errstr, errstr_size, "Redis %s:%d: %s", host, port,
                 c ? c->errstr : "cannot allocate a context");
        goto fail;
    }
    redisSetTimeout(c, tv);
    redisReply *r;
    if (pass[0]) {
        r = user[0] ? redisCommand(c, "AUTH %s %s", user, pass)
                    : redisCommand(c, "AUTH %s", pass);
        int bad = sw_redis_reply_error(c, r, "AUTH", errstr, errstr_size);
        if (r)
            freeReplyObject(r);
        if (bad)
            goto fail;
    }
    if (db) {
        r = redisCommand(c, "SELECT %d", db);
        int bad = sw_redis_reply_error(c, r, "SELECT", errstr, errstr_size);
        if (r)
            freeReplyObject(r);
        if (bad)
            goto fail;
    }
    return c;
fail:
    if (c)
        redisFree(c);
    return NULL;
}
