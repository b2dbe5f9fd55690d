/*
 * sw_http: a small read-only HTTP endpoint for operations, served by
 * libmicrohttpd in a thread of its own:
 *   GET /metrics   the Prometheus text exposition the owner last published
 *   GET /healthz   200 "ok" or 503 with the reason the owner last gave
 * Anything else gets 404 (or 405 for a method other than GET and HEAD).
 * The owner renders its texts on its own thread and hands them over with
 * sw_http_publish(); requests never touch the owner's state.
 */
#ifndef SW_HTTP_H
#define SW_HTTP_H

#include <netinet/in.h>
#include <stddef.h>

typedef struct sw_http sw_http_t;

/* Listens on "HOST:PORT" (an IPv4 address or "*" for every interface;
 * PORT 0 picks a free port). Returns NULL with errstr set when the address
 * is malformed (and what is accepted) or cannot be bound. */
sw_http_t *sw_http_start(const char *listen, char *errstr, size_t errstr_size);

/* Parses "HOST:PORT" as sw_http_start does. Returns 0, or -1 with errstr
 * saying what is wrong and what is accepted. */
int sw_http_parse_listen(const char *listen, struct sockaddr_in *out,
                         char *errstr, size_t errstr_size);

/* The port actually bound. */
int sw_http_port(const sw_http_t *self);

/* Replaces what /metrics and /healthz serve (both copied). healthy: 1 for
 * 200, 0 for 503; health is the body ("ok", or why not). Returns 0, or -1
 * when out of memory (the previous texts stay). */
int sw_http_publish(sw_http_t *self, const char *metrics, size_t len,
                    int healthy, const char *health);

/* Stops serving, frees (NULL is fine) and sets *self_p to NULL. */
void sw_http_stop(sw_http_t **self_p);

#endif
