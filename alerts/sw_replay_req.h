/*
 * sw_replay_req: a request to the hub's replay socket (docs/alerts.md,
 * "Replay and snapshot"): one msgpack map with "op" (status, range,
 * snapshot), and optionally "id", "from", "to", "limit", "time" and
 * "prefixes", read into a struct. Unknown keys are skipped; which op is
 * known is for the hub to say. Apart from the hub so that the parser can be
 * tested and fuzzed on its own (tests/fuzz/fuzz_replay_request.c).
 *
 * Library code: returns errors, prints nothing, allocates nothing that
 * outlives the call.
 */
#ifndef SW_REPLAY_REQ_H
#define SW_REPLAY_REQ_H

#include "sw_alert_wire.h"

#include <stddef.h>
#include <stdint.h>

#define SW_REPLAY_PREFIXES_MAX 16
#define SW_REPLAY_LIMIT_DEFAULT 1000 /* "limit" absent or 0 */
#define SW_REPLAY_LIMIT_MAX 10000    /* a larger "limit" is lowered to it */

typedef struct sw_replay_req {
    uint64_t id; /* echoed in the reply; 0 when absent or not a uint */
    char op[16]; /* NUL-terminated, never empty after a successful parse */
    uint64_t from, to; /* 0 when absent */
    uint64_t limit;    /* 1..SW_REPLAY_LIMIT_MAX */
    int64_t time;      /* ms since the epoch, when has_time */
    int has_time;
    /* topic prefixes, NUL-terminated; [""] (everything) when absent */
    char prefixes[SW_REPLAY_PREFIXES_MAX][SW_TOPIC_MAX];
    size_t nprefixes; /* 1..SW_REPLAY_PREFIXES_MAX */
} sw_replay_req_t;

/* Parses the request in buf[0..len) (one msgpack map; bytes after it are
 * ignored) into q. Returns 0, or -1 with errstr saying what is wrong, in
 * words the hub sends back to the requester. q is overwritten either way;
 * on error only q->id is meaningful (it may have been read before the
 * error). */
int sw_replay_req_parse(const char *buf, size_t len, sw_replay_req_t *q,
                        char *errstr, size_t errstr_size);

#endif
