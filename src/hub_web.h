/*
 * hub_web: the hub's web view (docs/web.md). One page (web/index.html,
 * compiled in) and a JSON + server-sent-events API over libmicrohttpd,
 * a thread per connection. Alerts come from the hub's reader
 * (hub_web_alert) into a ring that every event stream reads; a stream
 * that falls behind the ring, or resumes from an older seq, reads the
 * Redis alert log instead. A follower thread reads the workers' series
 * notifications and the active silences from Redis. Access: the viewers
 * file (sw_viewers_load), the same section rules as the ZeroMQ side.
 */
#ifndef HUB_WEB_H
#define HUB_WEB_H

#include "sw_alert_wire.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hub_web_conf {
    const char *listen;       /* HOST:PORT */
    const char *viewers_path; /* "" or NULL: no access control */
    const char *redis_url;
    int redis_timeout_ms;
    const char *prefix;
    const char *hub_name;
} hub_web_conf_t;

typedef struct hub_web hub_web_t;

typedef struct hub_web_stats {
    uint64_t requests, denied, bad_requests, streams_open, streams_total,
        streamed_alerts, catchup_reads, redis_errors;
} hub_web_stats_t;

/* Starts serving. Returns NULL with errstr set (a bad address, a bad
 * viewers file, a port that cannot be bound). */
hub_web_t *hub_web_start(const hub_web_conf_t *conf, char *errstr,
                         size_t errstr_size);

int hub_web_port(const hub_web_t *self);

/* Where the hub's reader starts (the first seq it will hand over): older
 * seqs are read from the Redis log when a stream asks for them. */
void hub_web_set_start(hub_web_t *self, uint64_t next);

/* A published alert (called by the hub's reader thread, in seq order). */
void hub_web_alert(hub_web_t *self, const sw_wire_alert_t *w);

/* Rereads the viewers file; on error the old one stays. Streams of
 * viewers no longer listed end. Returns 0 or -1 with errstr set. */
int hub_web_reload(hub_web_t *self, char *errstr, size_t errstr_size);

/* The number of viewers listed (0 without access control). */
size_t hub_web_viewers(hub_web_t *self);

void hub_web_stats(hub_web_t *self, hub_web_stats_t *out);

/* Stops serving (ends every stream), frees, sets *self_p to NULL. */
void hub_web_stop(hub_web_t **self_p);

#endif
