/*
 * sw_redis: a hiredis connection from a URL, shared by everything that
 * keeps state in Redis:
 *   redis://[[user]:password@]host[:port][/db]
 * A password authenticates (AUTH user password for an ACL user); /db
 * selects the database. Timeouts bound the connection and every command.
 */
#ifndef SW_REDIS_H
#define SW_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

/* Connects, authenticates, selects. Returns the context (free it with
 * redisFree), or NULL with errstr saying what is wrong: a malformed URL
 * (and what is accepted), an unreachable host:port, refused credentials. */
redisContext *sw_redis_connect(const char *url, int timeout_ms, char *errstr,
                               size_t errstr_size);

/* 1 when url has the form above, else 0 (nothing is connected). */
int sw_redis_url_valid(const char *url);

/* When r is NULL or an error reply, fills errstr with "what: reason" and
 * returns -1; else returns 0. Frees nothing. */
int sw_redis_reply_error(redisContext *c, redisReply *r, const char *what,
                         char *errstr, size_t errstr_size);

#endif
