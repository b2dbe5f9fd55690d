/*
 * surgewatch hub: the alert fan-out (docs/alerts.md). Three threads:
 *
 *   reader   follows the Redis alert log with blocking XREADs, turns each
 *            entry into the msgpack alert and hands it to the main thread
 *            over an inproc pipe; records how far it got in Redis, so a
 *            restarted hub goes on from there;
 *   main     publishes on the XPUB socket (never blocking: a subscriber
 *            whose queue is full loses messages, nobody else waits),
 *            sends heartbeats, turns each subscription into the topics the
 *            subscriber's key may see (manual XPUB subscriptions), answers
 *            ZAP requests (CURVE key -> name), serves /metrics;
 *   replay   answers status / range / snapshot requests on the ROUTER
 *            socket from Redis, filtered the same way.
 */
#include "hub_web.h"
#include "sw_acl.h"
#include "sw_alert_log.h"
#include "sw_alert_wire.h"
#include "sw_cmd.h"
#include "sw_cmd_settings.h"
#include "sw_config.h"
#include "sw_err.h"
#include "sw_http.h"
#include "sw_log.h"
#include "sw_redis.h"
#include "sw_replay_req.h"
#include "sw_settings.h"
#include "sw_time.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <msgpack.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define MOD "hub"
#define READ_COUNT 1000
#define RANGE_SCAN_MAX 10000
#define BACKOFF_MAX_MS 5000
#define PIPE_EP "inproc://sw-hub-alerts"
#define MON_EP "inproc://sw-hub-monitor"
#define ZAP_EP "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "surgewatch"

static const char help[] =
    "usage: surgewatch hub [OPTIONS]\n"
    "\n"
    "The alert fan-out: follows the Redis alert log that the workers\n"
    "write, and publishes every alert on a ZeroMQ PUB socket with the\n"
    "topic alert.<section>. (msgpack, docs/alerts.md), with a heartbeat\n"
    "every second. A replay socket serves missed alerts by sequence\n"
    "number and a snapshot of the active alerts. Run two or more hubs over\n"
    "the same Redis for availability; subscribers connect to all of them.\n"
    "\n"
    "Sockets:\n"
    "      --pub ENDPOINT       live alerts and heartbeats ([hub] pub, env\n"
    "                           SURGEWATCH_HUB_PUB; default\n"
    "                           tcp://127.0.0.1:7781)\n"
    "      --replay ENDPOINT    replay and snapshot requests ([hub] replay,\n"
    "                           env SURGEWATCH_HUB_REPLAY; default\n"
    "                           tcp://127.0.0.1:7782)\n"
    "      --name NAME          this hub's name, in heartbeats and its\n"
    "                           Redis resume key ([hub] name, env\n"
    "                           SURGEWATCH_HUB_NAME; default hub-PORT)\n"
    "      --heartbeat DUR      heartbeat interval ([hub] heartbeat, env\n"
    "                           SURGEWATCH_HUB_HEARTBEAT; default 1s)\n"
    "      --hwm N              messages queued per subscriber before its\n"
    "                           live messages are dropped ([hub] hwm, env\n"
    "                           SURGEWATCH_HUB_HWM; default 100000)\n"
    "      --start WHERE        where a hub without a resume point starts:\n"
    "                           'latest' (only new alerts) or a sequence\n"
    "                           number ([hub] start, env\n"
    "                           SURGEWATCH_HUB_START; default latest)\n"
    "\n"
    "Security (docs/security.md):\n"
    "      --curve-key FILE     this hub's key pair (from 'surgewatch\n"
    "                           keygen'); turns CURVE on for both sockets\n"
    "                           ([hub] curve_key, env\n"
    "                           SURGEWATCH_HUB_CURVE_KEY)\n"
    "      --authorized-keys FILE  the subscriber keys allowed in, each with\n"
    "                           the sections it may see\n"
    "                           ([hub] authorized_keys, env\n"
    "                           SURGEWATCH_HUB_AUTHORIZED_KEYS); required\n"
    "                           with --curve-key; reread on SIGHUP\n"
    "\n"
    "Web view (docs/web.md):\n"
    "      --web HOST:PORT      serve the situational picture (a page and\n"
    "                           its JSON/server-sent-events API) there;\n"
    "                           'off' to disable ([hub] web, env\n"
    "                           SURGEWATCH_HUB_WEB; default off)\n"
    "      --web-viewers FILE   who may look: token hash, name, role and\n"
    "                           sections per line (from 'surgewatch keygen\n"
    "                           --web-token'); without it everybody sees\n"
    "                           everything ([hub] web_viewers, env\n"
    "                           SURGEWATCH_HUB_WEB_VIEWERS); reread on\n"
    "                           SIGHUP\n"
    "\n"
    "Redis:\n" SW_REDIS_OPTIONS_HELP "\n"
    "Operations:\n"
    "  -c, --config FILE        config file with [hub] and [redis]\n"
    "                           (env SURGEWATCH_CONFIG)\n"
    "  -m, --metrics HOST:PORT  serve /metrics and /healthz; 'off' to\n"
    "                           disable ([hub] metrics, env\n"
    "                           SURGEWATCH_HUB_METRICS; default\n"
    "                           127.0.0.1:9465)\n"
    "      --log-level LEVEL    error, warn, info or debug ([hub]\n"
    "                           log_level, env SURGEWATCH_LOG_LEVEL;\n"
    "                           default info)\n"
    "      --check-config       check every setting, print them with where\n"
    "                           each came from, and exit\n"
    "  -h, --help               this text\n"
    "\n"
    "Later sources win: defaults, config file, environment, flags.\n"
    "Exit status: 0 stopped by SIGTERM/SIGINT; 2 bad options or\n"
    "configuration; 3 a socket could not be bound.\n"
    "\n"
    "Example:\n"
    "  surgewatch hub -r redis://redis:6379 --pub tcp://*:7781 \\\n"
    "      --replay tcp://*:7782 --curve-key /etc/surgewatch/hub.key \\\n"
    "      --authorized-keys /etc/surgewatch/subscribers\n";

/* ---------------------------------------------------------- settings */

enum {
    S_PUB,
    S_REPLAY,
    S_NAME,
    S_HEARTBEAT,
    S_HWM,
    S_START,
    S_CURVE_KEY,
    S_AUTH_KEYS,
    S_METRICS,
    S_WEB,
    S_WEB_VIEWERS,
    S_LOG_LEVEL,
    S_REDIS_URL,
    S_REDIS_PREFIX,
    S_REDIS_TIMEOUT,
    S__COUNT
};

static const sw_opt_spec_t spec[S__COUNT] = {
    [S_PUB] = {"hub", "pub", "SURGEWATCH_HUB_PUB", "--pub",
               "tcp://127.0.0.1:7781"},
    [S_REPLAY] = {"hub", "replay", "SURGEWATCH_HUB_REPLAY", "--replay",
                  "tcp://127.0.0.1:7782"},
    [S_NAME] = {"hub", "name", "SURGEWATCH_HUB_NAME", "--name", ""},
    [S_HEARTBEAT] = {"hub", "heartbeat", "SURGEWATCH_HUB_HEARTBEAT",
                     "--heartbeat", "1s"},
    [S_HWM] = {"hub", "hwm", "SURGEWATCH_HUB_HWM", "--hwm", "100000"},
    [S_START] = {"hub", "start", "SURGEWATCH_HUB_START", "--start", "latest"},
    [S_CURVE_KEY] = {"hub", "curve_key", "SURGEWATCH_HUB_CURVE_KEY",
                     "--curve-key", ""},
    [S_AUTH_KEYS] = {"hub", "authorized_keys", "SURGEWATCH_HUB_AUTHORIZED_KEYS",
                     "--authorized-keys", ""},
    [S_METRICS] = {"hub", "metrics", "SURGEWATCH_HUB_METRICS", "--metrics",
                   "127.0.0.1:9465"},
    [S_WEB] = {"hub", "web", "SURGEWATCH_HUB_WEB", "--web", "off"},
    [S_WEB_VIEWERS] = {"hub", "web_viewers", "SURGEWATCH_HUB_WEB_VIEWERS",
                       "--web-viewers", ""},
    [S_LOG_LEVEL] = {"hub", "log_level", "SURGEWATCH_LOG_LEVEL", "--log-level",
                     "info"},
    SW_REDIS_OPT_SPECS,
};

typedef struct hub_conf {
    sw_opt_value_t s[S__COUNT];
    int64_t heartbeat_ms;
    int hwm;
    uint64_t start_seq; /* 0: latest */
    int log_level;
    int redis_timeout_ms;
    char name[128];
    char url_shown[600];
} hub_conf_t;

static void bad(const hub_conf_t *c, int i, const char *why)
{
    sw_opt_bad("hub", &spec[i], &c->s[i], why);
}

/* tcp://host:port or ipc://path; returns 1 when it looks like one. */
static int endpoint_ok(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0)
        return ep[6] != '\0';
    if (strncmp(ep, "tcp://", 6) != 0)
        return 0;
    const char *colon = strrchr(ep + 6, ':');
    unsigned long long port;
    return colon && colon > ep + 6 &&
           sw_parse_uint(colon + 1, 1, 65535, &port) == 0;
}

static int resolve_conf(hub_conf_t *c, const sw_config_t *cfg,
                        const char *flags[S__COUNT])
{
    if (sw_opts_resolve("hub", spec, S__COUNT, c->s, cfg, flags))
        return -1;
    for (int i = S_PUB; i <= S_REPLAY; i++)
        if (!endpoint_ok(c->s[i].value)) {
            bad(c, i,
                "not an endpoint (accepted: tcp://HOST:PORT, tcp://*:PORT "
                "or ipc://PATH)");
            return -1;
        }
    if (strcmp(c->s[S_PUB].value, c->s[S_REPLAY].value) == 0) {
        bad(c, S_REPLAY, "the same endpoint as pub (accepted: another one)");
        return -1;
    }
    const char *name = c->s[S_NAME].value;
    if (name[0] == '\0') {
        const char *colon = strrchr(c->s[S_PUB].value, ':');
        snprintf(c->name, sizeof(c->name), "hub-%s", colon ? colon + 1 : "ipc");
    } else {
        size_t n = strlen(name);
        if (n > 100 || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789._-") != n) {
            bad(c, S_NAME, "not a name (accepted: 1..100 of [A-Za-z0-9._-])");
            return -1;
        }
        snprintf(c->name, sizeof(c->name), "%s", name);
    }
    if (sw_parse_duration(c->s[S_HEARTBEAT].value, &c->heartbeat_ms) ||
        c->heartbeat_ms < 100 || c->heartbeat_ms > 60000) {
        bad(c, S_HEARTBEAT, "not a duration in 100ms..60s (e.g. 1s)");
        return -1;
    }
    unsigned long long x;
    if (sw_parse_uint(c->s[S_HWM].value, 100, 100000000, &x)) {
        bad(c, S_HWM, "not a whole number in 100..100000000");
        return -1;
    }
    c->hwm = (int)x;
    if (strcmp(c->s[S_START].value, "latest") == 0)
        c->start_seq = 0;
    else if (sw_parse_uint(c->s[S_START].value, 1, UINT64_MAX / 2, &x) == 0)
        c->start_seq = x;
    else {
        bad(c, S_START, "accepted: 'latest' or a sequence number >= 1");
        return -1;
    }
    if (!c->s[S_CURVE_KEY].value[0] != !c->s[S_AUTH_KEYS].value[0]) {
        bad(c, c->s[S_CURVE_KEY].value[0] ? S_CURVE_KEY : S_AUTH_KEYS,
            "curve_key and authorized_keys go together (accepted: both, "
            "or neither for a hub without security)");
        return -1;
    }
    if (sw_log_level_parse(c->s[S_LOG_LEVEL].value, &c->log_level)) {
        bad(c, S_LOG_LEVEL,
            "unknown level (accepted: error, warn, info, debug)");
        return -1;
    }
    if (sw_opts_redis_check("hub", spec, c->s, S_REDIS_URL, S_REDIS_PREFIX,
                            S_REDIS_TIMEOUT, &c->redis_timeout_ms))
        return -1;
    sw_redact_url(c->s[S_REDIS_URL].value, c->url_shown, sizeof(c->url_shown));
    return 0;
}

/* --------------------------------------------------------------- hub */

typedef struct hub {
    hub_conf_t c;
    void *zctx;
    void *pub, *pipe_in, *zap, *mon, *mon_router, *router;
    char public_key[SW_Z85_KEY_LEN + 1], secret_key[SW_Z85_KEY_LEN + 1];
    int curve;
    pthread_rwlock_t acl_lock; /* acl: written by a SIGHUP reload (main),
                                * read by ZAP (main) and replay */
    sw_acl_t *acl;
    char k_stream[128], k_seq[128], k_active[128], k_last[128], k_resume[256];
    sw_http_t *http;
    hub_web_t *web; /* NULL: --web off */
    pthread_t reader_t, replay_t;
    int reader_started, replay_started;

    uint64_t published_seq; /* main: last seq published */
    int64_t last_hb_ms;
    int64_t started_ms;

    /* counters, written by one thread each, read by main for metrics */
    _Atomic uint64_t m_read, m_bad_entries, m_log_gaps, m_redis_errors;
    _Atomic uint64_t m_held;
    _Atomic uint64_t m_replay_requests, m_replay_errors, m_replay_alerts;
    _Atomic uint64_t m_log_seq; /* latest seq seen in the log */
    _Atomic int redis_up;
    uint64_t m_published, m_heartbeats, m_subscriptions, m_denied_subs;
    uint64_t m_zap_ok, m_zap_denied, m_handshake_failed, m_connections,
        m_disconnected;
} hub_t;

static volatile sig_atomic_t stop_requested, reload_requested;
static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stop_requested = 1;
}

/* Sleeps up to ms, in slices, returning early when asked to stop. */
static void nap(int64_t ms)
{
    while (ms > 0 && !stop_requested) {
        int64_t s = ms > 100 ? 100 : ms;
        struct timespec ts = {0, (long)s * 1000000L};
        nanosleep(&ts, NULL);
        ms -= s;
    }
}

static uint64_t id_seq(const char *id)
{
    uint64_t ms;
    return sw_alert_log_id_parse(id, &ms);
}

/* ------------------------------------------------------------ reader */

/* GET key as a number; 0 when absent. Returns -1 on a Redis error. */
static int get_u64(redisContext *rc, const char *key, uint64_t *out, char *err,
                   size_t errsz)
{
    redisReply *r = redisCommand(rc, "GET %s", key);
    if (sw_redis_reply_error(rc, r, "GET", err, errsz)) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    *out = r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    return 0;
}

static void *reader_main(void *arg)
{
    hub_t *h = arg;
    void *out = zmq_socket(h->zctx, ZMQ_PAIR);
    int hwm = 100000;
    zmq_setsockopt(out, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_connect(out, PIPE_EP);
    redisContext *rc = NULL;
    int backoff = 100;
    int64_t logged_ms = 0;
    uint64_t next = 0;        /* the next seq to publish; 0: not known yet */
    char held_after[48] = ""; /* the last held entry read after next - 1 */
    uint64_t held_ms = 0;
    uint64_t saved = 0;
    char err[512];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    while (!stop_requested) {
        if (rc == NULL) {
            rc = sw_redis_connect(h->c.s[S_REDIS_URL].value,
                                  h->c.redis_timeout_ms, err, sizeof(err));
            if (rc == NULL)
                goto redis_failed;
            /* blocking reads wait up to 500 ms; the timeout must exceed it */
            struct timeval tv = {(h->c.redis_timeout_ms + 500) / 1000,
                                 ((h->c.redis_timeout_ms + 500) % 1000) * 1000};
            redisSetTimeout(rc, tv);
            if (next == 0) {
                uint64_t resume = 0, latest = 0;
                if (get_u64(rc, h->k_resume, &resume, err, sizeof(err)) ||
                    get_u64(rc, h->k_seq, &latest, err, sizeof(err)))
                    goto redis_failed;
                if (resume > 0)
                    next = resume + 1;
                else if (h->c.start_seq > 0)
                    next = h->c.start_seq;
                else
                    next = latest + 1;
                saved = next - 1;
                hub_web_set_start(h->web, next);
                SW_INFO(MOD,
                        "reading the alert log key=%s from seq=%" PRIu64
                        " (%s) latest=%" PRIu64,
                        h->k_stream, next,
                        resume ? "resume point of this hub"
                               : (h->c.start_seq ? "--start" : "latest"),
                        latest);
            }
            if (!atomic_load(&h->redis_up))
                SW_INFO(MOD, "Redis reachable url=%s", h->c.url_shown);
            atomic_store(&h->redis_up, 1);
            backoff = 100;
        }
        /* record the resume point with the read: one round trip */
        if (saved + 1 < next) {
            redisAppendCommand(rc, "SET %s %llu", h->k_resume,
                               (unsigned long long)(next - 1));
        }
        /* after the last entry read: a published "<seq>-1" or an entry
         * held back by a silence after it ("<seq>-N") */
        char after[48];
        if (held_after[0] && held_ms == next - 1)
            snprintf(after, sizeof(after), "%s", held_after);
        else if (next == 1)
            snprintf(after, sizeof(after), "0-0");
        else
            snprintf(after, sizeof(after), "%llu-1",
                     (unsigned long long)(next - 1));
        redisAppendCommand(rc, "XREAD COUNT %d BLOCK 500 STREAMS %s %s",
                           READ_COUNT, h->k_stream, after);
        redisReply *r = NULL;
        if (saved + 1 < next) {
            if (redisGetReply(rc, (void **)&r) != REDIS_OK || r == NULL ||
                r->type == REDIS_REPLY_ERROR) {
                snprintf(err, sizeof(err), "SET %s: %s", h->k_resume,
                         r ? r->str : rc->errstr);
                if (r)
                    freeReplyObject(r);
                goto redis_failed;
            }
            freeReplyObject(r);
            saved = next - 1;
        }
        if (redisGetReply(rc, (void **)&r) != REDIS_OK || r == NULL) {
            snprintf(err, sizeof(err), "XREAD: %s",
                     rc->err ? rc->errstr : "no reply");
            goto redis_failed;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(err, sizeof(err), "XREAD: %s", r->str);
            freeReplyObject(r);
            goto redis_failed;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->elements == 2) {
            const redisReply *entries = r->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                const redisReply *e = entries->element[i];
                sw_wire_alert_t w;
                uint64_t ms = 0;
                uint64_t seq =
                    e->type == REDIS_REPLY_ARRAY && e->elements &&
                            e->element[0]->type == REDIS_REPLY_STRING
                        ? sw_alert_log_id_parse(e->element[0]->str, &ms)
                        : 0;
                if (seq == 0) {
                    /* held back by a silence: logged, not published */
                    if (e->type == REDIS_REPLY_ARRAY && e->elements &&
                        e->element[0]->type == REDIS_REPLY_STRING &&
                        e->element[0]->len < sizeof(held_after)) {
                        snprintf(held_after, sizeof(held_after), "%s",
                                 e->element[0]->str);
                        held_ms = ms;
                        atomic_fetch_add(&h->m_held, 1);
                    }
                    continue;
                }
                if (seq != next) {
                    atomic_fetch_add(&h->m_log_gaps, 1);
                    SW_WARN(MOD,
                            "alert log skips from seq=%" PRIu64
                            " to seq=%" PRIu64 " (trimmed?)",
                            next, seq);
                }
                atomic_fetch_add(&h->m_read, 1);
                if (sw_alert_log_entry_decode(e, &w, err, sizeof(err))) {
                    atomic_fetch_add(&h->m_bad_entries, 1);
                    SW_WARN(MOD,
                            "alert log entry seq=%" PRIu64 " not published: %s",
                            seq, err);
                    next = seq + 1;
                    continue;
                }
                char topic[SW_TOPIC_MAX];
                size_t tl = sw_alert_topic(w.a.section, topic);
                sb.size = 0;
                if (sw_alert_pack(&pk, &w))
                    continue;
                /* blocks only when the main thread is 100k behind */
                if (zmq_send(out, topic, tl, ZMQ_SNDMORE) < 0 ||
                    zmq_send(out, sb.data, sb.size, ZMQ_SNDMORE) < 0 ||
                    zmq_send(out, &seq, sizeof(seq), 0) < 0)
                    break; /* stopping (the context was shut down) */
                hub_web_alert(h->web, &w);
                next = seq + 1;
            }
            if (next - 1 > atomic_load(&h->m_log_seq))
                atomic_store(&h->m_log_seq, next - 1);
        }
        freeReplyObject(r);
        continue;

    redis_failed:
        atomic_fetch_add(&h->m_redis_errors, 1);
        if (atomic_exchange(&h->redis_up, 0) ||
            sw_clock_now_ms() - logged_ms > 10000) {
            SW_WARN(MOD, "Redis unreachable url=%s error=\"%s\"; retrying",
                    h->c.url_shown, err);
            logged_ms = sw_clock_now_ms();
        }
        if (rc) {
            redisFree(rc);
            rc = NULL;
        }
        nap(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    if (rc) {
        if (saved + 1 < next) {
            redisReply *r = redisCommand(rc, "SET %s %llu", h->k_resume,
                                         (unsigned long long)(next - 1));
            if (r)
                freeReplyObject(r);
        }
        redisFree(rc);
    }
    msgpack_sbuffer_destroy(&sb);
    int linger = 0;
    zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_close(out);
    return NULL;
}

/* ------------------------------------------------------------ replay */

/* The ACL entry of the connection a message came on: NULL when security
 * is off (everything visible); *denied when CURVE is on and the user id is
 * unknown (the key was removed since it connected). */
static const sw_acl_entry_t *who(hub_t *h, zmq_msg_t *m, int *denied)
{
    *denied = 0;
    if (!h->curve)
        return NULL;
    const char *uid = zmq_msg_gets(m, "User-Id");
    const sw_acl_entry_t *e =
        uid ? sw_acl_find_name(h->acl, uid, strlen(uid)) : NULL;
    if (e == NULL)
        *denied = 1;
    return e;
}

/* A replay request (alerts/sw_replay_req.h). */
typedef sw_replay_req_t request_t;

/* 1 when the alert's topic matches one of q's prefixes and e may see it. */
static int wanted(const request_t *q, const sw_acl_entry_t *e,
                  const char *section)
{
    char topic[SW_TOPIC_MAX];
    size_t tl = sw_alert_topic(section, topic);
    if (!sw_acl_topic_visible(e, topic, tl))
        return 0;
    for (size_t i = 0; i < q->nprefixes; i++) {
        size_t pl = strlen(q->prefixes[i]);
        if (tl >= pl && memcmp(topic, q->prefixes[i], pl) == 0)
            return 1;
    }
    return 0;
}

/* The start of a successful reply: a map of nkeys keys, with id and
 * ok = true among them. */
static void pack_reply_head(msgpack_packer *pk, size_t nkeys, uint64_t id)
{
    msgpack_pack_map(pk, nkeys);
    sw_mp_pack_cstr(pk, "id");
    msgpack_pack_uint64(pk, id);
    sw_mp_pack_cstr(pk, "ok");
    msgpack_pack_true(pk);
}

/* "alerts": [the n alerts]. */
static void pack_alerts(msgpack_packer *pk, const sw_wire_alert_t *ws, size_t n)
{
    sw_mp_pack_cstr(pk, "alerts");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        sw_alert_pack(pk, &ws[i]);
}

/* Packs the "last" map (section -> seq) from an HGETALL reply. */
static void pack_last(msgpack_packer *pk, const redisReply *r,
                      const request_t *q, const sw_acl_entry_t *e)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        n += wanted(q, e, r->element[i]->str);
    sw_mp_pack_cstr(pk, "last");
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (wanted(q, e, r->element[i]->str)) {
            sw_mp_pack_cstr(pk, r->element[i]->str);
            msgpack_pack_uint64(pk, strtoull(r->element[i + 1]->str, NULL, 10));
        }
}

typedef struct replay {
    hub_t *h;
    redisContext *rc;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char err[512];
} replay_t;

static redisReply *cmd(replay_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->rc, fmt, ap);
    va_end(ap);
    if (sw_redis_reply_error(r->rc, rep, "Redis", r->err, sizeof(r->err))) {
        if (rep)
            freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

/* The first seq logged at or after t (latest + 1 when none): a binary
 * search over the log's seq range by the entries' write time. */
static int seq_at_time(replay_t *r, uint64_t first, uint64_t latest, int64_t t,
                       uint64_t *out)
{
    uint64_t lo = first, hi = latest + 1; /* answer in [lo, hi] */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        redisReply *x = cmd(r, "XRANGE %s %llu-1 + COUNT 1", r->h->k_stream,
                            (unsigned long long)mid);
        if (x == NULL)
            return -1;
        int64_t et = INT64_MAX;
        uint64_t eseq = latest + 1;
        if (x->elements == 1) {
            const redisReply *f = x->element[0]->element[1];
            eseq = id_seq(x->element[0]->element[0]->str);
            for (size_t i = 0; i + 1 < f->elements; i += 2)
                if (strcmp(f->element[i]->str, "t") == 0)
                    et = strtoll(f->element[i + 1]->str, NULL, 10);
        }
        freeReplyObject(x);
        if (et >= t)
            hi = mid;
        else
            lo = (eseq > mid ? eseq : mid) + 1;
    }
    *out = lo;
    return 0;
}

/* Builds the reply to q into r->sb. Returns 0, or -1 with r->err set (a
 * Redis failure; the caller answers ok=false). */
static int answer(replay_t *r, const request_t *q, const sw_acl_entry_t *e)
{
    hub_t *h = r->h;
    msgpack_packer *pk = &r->pk;
    r->sb.size = 0;
    if (strcmp(q->op, "status") == 0) {
        redisReply *seq = cmd(r, "GET %s", h->k_seq);
        if (seq == NULL)
            return -1;
        redisReply *last = cmd(r, "HGETALL %s", h->k_last);
        redisReply *first =
            last ? cmd(r, "XRANGE %s - + COUNT 1", h->k_stream) : NULL;
        if (first == NULL) {
            freeReplyObject(seq);
            if (last)
                freeReplyObject(last);
            return -1;
        }
        uint64_t latest =
            seq->type == REDIS_REPLY_STRING ? strtoull(seq->str, NULL, 10) : 0;
        uint64_t fms = 0;
        uint64_t fseq = first->elements
                            ? sw_alert_log_id_parse(
                                  first->element[0]->element[0]->str, &fms)
                            : 1;
        if (fseq == 0) /* a held entry first: the next seq after it */
            fseq = fms + 1;
        uint64_t tseq = 0;
        if (q->has_time && seq_at_time(r, fseq, latest, q->time, &tseq)) {
            freeReplyObject(seq);
            freeReplyObject(last);
            freeReplyObject(first);
            return -1;
        }
        pack_reply_head(pk, 7 + (size_t)q->has_time, q->id);
        sw_mp_pack_cstr(pk, "hub");
        sw_mp_pack_cstr(pk, h->c.name);
        sw_mp_pack_cstr(pk, "seq");
        msgpack_pack_uint64(pk, latest);
        sw_mp_pack_cstr(pk, "first");
        msgpack_pack_uint64(pk, fseq);
        sw_mp_pack_cstr(pk, "sections");
        if (e == NULL || e->all) {
            sw_mp_pack_cstr(pk, "*");
        } else {
            msgpack_pack_array(pk, e->nsections);
            for (size_t i = 0; i < e->nsections; i++)
                sw_mp_pack_cstr(pk, e->sections[i]);
        }
        pack_last(pk, last, q, e);
        if (q->has_time) {
            sw_mp_pack_cstr(pk, "time_seq");
            msgpack_pack_uint64(pk, tseq);
        }
        freeReplyObject(seq);
        freeReplyObject(last);
        freeReplyObject(first);
        return 0;
    }
    if (strcmp(q->op, "range") == 0) {
        redisReply *seq = cmd(r, "GET %s", h->k_seq);
        if (seq == NULL)
            return -1;
        uint64_t latest =
            seq->type == REDIS_REPLY_STRING ? strtoull(seq->str, NULL, 10) : 0;
        freeReplyObject(seq);
        uint64_t from = q->from ? q->from : 1;
        uint64_t to = q->to && q->to < latest ? q->to : latest;
        uint64_t next = from;
        redisReply *x = NULL;
        if (from <= to) {
            /* not COUNT to - from + 1: entries held back by a silence lie
             * between the published ones and count too */
            x = cmd(r, "XRANGE %s %llu-1 %llu-1 COUNT %d", h->k_stream,
                    (unsigned long long)from, (unsigned long long)to,
                    RANGE_SCAN_MAX);
            if (x == NULL)
                return -1;
        }
        /* first pass: which entries go in, up to the limit */
        size_t n = 0, scanned = 0;
        static sw_wire_alert_t ws[10000];
        for (size_t i = 0; x && i < x->elements && n < q->limit; i++) {
            char e2[256];
            uint64_t ms;
            uint64_t s =
                sw_alert_log_id_parse(x->element[i]->element[0]->str, &ms);
            scanned = i + 1;
            next = ms + 1;
            if (s == 0)
                continue; /* held back by a silence */
            if (sw_alert_log_entry_decode(x->element[i], &ws[n], e2,
                                          sizeof(e2)))
                continue; /* counted by the reader; skipped here too */
            if (wanted(q, e, ws[n].a.section))
                n++;
        }
        if (x && scanned == x->elements && x->elements < RANGE_SCAN_MAX)
            next = to + 1; /* everything up to `to` was read */
        pack_reply_head(pk, 5, q->id);
        pack_alerts(pk, ws, n);
        sw_mp_pack_cstr(pk, "next");
        msgpack_pack_uint64(pk, next);
        sw_mp_pack_cstr(pk, "seq");
        msgpack_pack_uint64(pk, latest);
        if (x)
            freeReplyObject(x);
        atomic_fetch_add(&h->m_replay_alerts, n);
        return 0;
    }
    if (strcmp(q->op, "snapshot") == 0) {
        /* one transaction: the active set, the last per section and the
         * seq they correspond to, as one consistent view */
        redisAppendCommand(r->rc, "MULTI");
        redisAppendCommand(r->rc, "GET %s", h->k_seq);
        redisAppendCommand(r->rc, "HGETALL %s", h->k_active);
        redisAppendCommand(r->rc, "HGETALL %s", h->k_last);
        redisAppendCommand(r->rc, "EXEC");
        redisReply *x = NULL;
        for (int i = 0; i < 5; i++) {
            redisReply *y = NULL;
            if (redisGetReply(r->rc, (void **)&y) != REDIS_OK || y == NULL) {
                snprintf(r->err, sizeof(r->err), "Redis: %s",
                         r->rc->err ? r->rc->errstr : "no reply");
                if (x)
                    freeReplyObject(x);
                return -1;
            }
            if (i < 4)
                freeReplyObject(y);
            else
                x = y;
        }
        if (x->type != REDIS_REPLY_ARRAY || x->elements != 3) {
            snprintf(r->err, sizeof(r->err), "snapshot transaction failed");
            freeReplyObject(x);
            return -1;
        }
        const redisReply *seq = x->element[0], *act = x->element[1],
                         *last = x->element[2];
        uint64_t latest =
            seq->type == REDIS_REPLY_STRING ? strtoull(seq->str, NULL, 10) : 0;
        size_t n = 0;
        sw_wire_alert_t *ws = calloc(act->elements / 2 + 1, sizeof(*ws));
        if (ws == NULL) {
            freeReplyObject(x);
            snprintf(r->err, sizeof(r->err), "out of memory");
            return -1;
        }
        for (size_t i = 0; i + 1 < act->elements; i += 2) {
            char e2[256];
            const redisReply *v = act->element[i + 1];
            if (sw_alert_from_json(v->str, v->len, &ws[n], e2, sizeof(e2)) ||
                ws[n].seq == 0)
                continue;
            if (wanted(q, e, ws[n].a.section))
                n++;
        }
        /* in seq order */
        for (size_t i = 1; i < n; i++) {
            sw_wire_alert_t t = ws[i];
            size_t j = i;
            for (; j > 0 && ws[j - 1].seq > t.seq; j--)
                ws[j] = ws[j - 1];
            ws[j] = t;
        }
        pack_reply_head(pk, 5, q->id);
        pack_alerts(pk, ws, n);
        sw_mp_pack_cstr(pk, "seq");
        msgpack_pack_uint64(pk, latest);
        pack_last(pk, last, q, e);
        free(ws);
        freeReplyObject(x);
        atomic_fetch_add(&h->m_replay_alerts, n);
        return 0;
    }
    snprintf(r->err, sizeof(r->err),
             "unknown op '%s' (accepted: status, range, snapshot)", q->op);
    return 1;
}

static void pack_error(replay_t *r, uint64_t id, const char *why)
{
    r->sb.size = 0;
    msgpack_pack_map(&r->pk, 3);
    sw_mp_pack_cstr(&r->pk, "id");
    msgpack_pack_uint64(&r->pk, id);
    sw_mp_pack_cstr(&r->pk, "ok");
    msgpack_pack_false(&r->pk);
    sw_mp_pack_cstr(&r->pk, "error");
    sw_mp_pack_cstr(&r->pk, why);
}

static void *replay_main(void *arg)
{
    replay_t r = {.h = arg};
    hub_t *h = r.h;
    msgpack_sbuffer_init(&r.sb);
    msgpack_packer_init(&r.pk, &r.sb, msgpack_sbuffer_write);
    zmq_msg_t frames[8];
    while (!stop_requested) {
        zmq_pollitem_t it = {h->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 200) <= 0)
            continue;
        /* [identity][(empty)][body]: the envelope is echoed */
        int nf = 0, more = 1, too_many = 0;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, h->router, 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            if (nf < 8)
                frames[nf++] = m;
            else {
                too_many = 1;
                zmq_msg_close(&m);
            }
        }
        if (nf < 2) {
            for (int i = 0; i < nf; i++)
                zmq_msg_close(&frames[i]);
            continue;
        }
        atomic_fetch_add(&h->m_replay_requests, 1);
        zmq_msg_t *body = &frames[nf - 1];
        request_t q;
        char why[512];
        int denied;
        pthread_rwlock_rdlock(&h->acl_lock);
        const sw_acl_entry_t *e = who(h, body, &denied);
        int rc;
        if (too_many) {
            snprintf(why, sizeof(why), "too many frames in a request");
            rc = 1;
        } else if (sw_replay_req_parse(zmq_msg_data(body), zmq_msg_size(body),
                                       &q, why, sizeof(why))) {
            rc = 1;
        } else if (denied) {
            snprintf(why, sizeof(why), "this key is no longer authorised");
            rc = 1;
        } else {
            if (r.rc == NULL)
                r.rc = sw_redis_connect(h->c.s[S_REDIS_URL].value,
                                        h->c.redis_timeout_ms, r.err,
                                        sizeof(r.err));
            rc = r.rc ? answer(&r, &q, e) : -1;
            if (rc)
                snprintf(why, sizeof(why), "%s", r.err);
            if (rc < 0 && r.rc) {
                redisFree(r.rc); /* reconnect at the next request */
                r.rc = NULL;
            }
        }
        pthread_rwlock_unlock(&h->acl_lock);
        if (rc) {
            atomic_fetch_add(&h->m_replay_errors, 1);
            SW_DEBUG(MOD, "replay request refused: %s", why);
            pack_error(&r, too_many ? 0 : q.id, why);
        }
        /* the peer may be gone (ROUTER_MANDATORY: EHOSTUNREACH): then the
         * rest of the envelope is dropped */
        int sent = 1;
        for (int i = 0; i < nf - 1; i++) {
            if (!sent || zmq_msg_send(&frames[i], h->router,
                                      ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
                sent = 0;
                zmq_msg_close(&frames[i]);
            }
        }
        if (sent)
            zmq_send(h->router, r.sb.data, r.sb.size, ZMQ_DONTWAIT);
        zmq_msg_close(body);
    }
    if (r.rc)
        redisFree(r.rc);
    msgpack_sbuffer_destroy(&r.sb);
    return NULL;
}

/* -------------------------------------------------------------- main */

typedef struct sub_ctx {
    hub_t *h;
    int subscribe;
    int n;
} sub_ctx_t;

static void apply_sub(void *opaque, const char *p, size_t len)
{
    sub_ctx_t *s = opaque;
    zmq_setsockopt(s->h->pub, s->subscribe ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, p,
                   len);
    s->n++;
}

/* A (un)subscription from a subscriber: applied as the topics its key may
 * see. */
static void on_subscription(hub_t *h)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, h->pub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return;
    }
    const char *d = zmq_msg_data(&m);
    size_t n = zmq_msg_size(&m);
    if (n >= 1 && (d[0] == 0 || d[0] == 1)) {
        int denied;
        const sw_acl_entry_t *e = who(h, &m, &denied);
        const char *uid = zmq_msg_gets(&m, "User-Id");
        sub_ctx_t s = {h, d[0] == 1, 0};
        if (!denied)
            sw_acl_map_prefix(e, d + 1, n - 1, apply_sub, &s);
        if (s.subscribe) {
            h->m_subscriptions++;
            if (s.n == 0)
                h->m_denied_subs++;
        }
        SW_LOG(s.subscribe && s.n == 0 ? SW_LOG_INFO : SW_LOG_DEBUG, MOD,
               "%s prefix=\"%.*s\" user=%s topics=%d%s",
               s.subscribe ? "subscription" : "unsubscription",
               (int)(n - 1 > 60 ? 60 : n - 1), d + 1, uid && *uid ? uid : "-",
               s.n,
               s.n == 0 && s.subscribe ? " (nothing visible to this key)" : "");
    }
    zmq_msg_close(&m);
}

/* ZAP (RFC 27): a CURVE client key -> 200 with its name as user id, or
 * 400. */
static void on_zap(hub_t *h)
{
    zmq_msg_t f[7];
    int nf = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, h->zap, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (nf < 7)
            f[nf++] = m;
        else
            zmq_msg_close(&m);
    }
    const char *status = "400", *text = "unknown key", *uid = "";
    char name[SW_ACL_NAME_MAX + 1];
    char addr[64] = "?", key_z85[SW_Z85_KEY_LEN + 1] = "?";
    if (nf == 7 && zmq_msg_size(&f[5]) == 5 &&
        memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
        zmq_msg_size(&f[6]) == 32) {
        snprintf(addr, sizeof(addr), "%.*s", (int)zmq_msg_size(&f[3]),
                 (const char *)zmq_msg_data(&f[3]));
        zmq_z85_encode(key_z85, zmq_msg_data(&f[6]), 32);
        pthread_rwlock_rdlock(&h->acl_lock);
        const sw_acl_entry_t *e = sw_acl_find_key(h->acl, zmq_msg_data(&f[6]));
        if (e) {
            snprintf(name, sizeof(name), "%s", e->name);
            status = "200";
            text = "OK";
            uid = name;
        }
        pthread_rwlock_unlock(&h->acl_lock);
    } else {
        text = "CURVE required";
    }
    if (status[0] == '2') {
        h->m_zap_ok++;
        SW_INFO(MOD, "subscriber authenticated user=%s address=%s", uid, addr);
    } else {
        h->m_zap_denied++;
        SW_WARN(MOD, "connection refused: key not authorised key=%s address=%s",
                key_z85, addr);
    }
    if (nf >= 2) {
        zmq_send(h->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(h->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
        zmq_send(h->zap, status, 3, ZMQ_SNDMORE);
        zmq_send(h->zap, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(h->zap, uid, strlen(uid), ZMQ_SNDMORE);
        zmq_send(h->zap, "", 0, 0);
    }
    for (int i = 0; i < nf; i++)
        zmq_msg_close(&f[i]);
}

/* One socket monitor event of the XPUB or ROUTER socket, if one is
 * queued: returns 1, else 0. */
static int monitor_event(hub_t *h, void *mon)
{
    zmq_msg_t ev, ep;
    zmq_msg_init(&ev);
    zmq_msg_init(&ep);
    if (zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) < 0 || !zmq_msg_more(&ev) ||
        zmq_msg_recv(&ep, mon, 0) < 0) {
        zmq_msg_close(&ev);
        zmq_msg_close(&ep);
        return 0;
    }
    uint16_t id = 0;
    uint32_t value = 0;
    if (zmq_msg_size(&ev) >= 6) {
        memcpy(&id, zmq_msg_data(&ev), 2);
        memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4);
    }
    switch (id) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        h->m_connections++;
        break;
    case ZMQ_EVENT_DISCONNECTED:
        h->m_disconnected++;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: {
        h->m_handshake_failed++;
        /* a refused client retries every few seconds: one line per reason
         * per 10 s */
        static int64_t logged_ms[4];
        static uint64_t quiet[4];
        int r = id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH                 ? 0
                : value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH ? 1
                : value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC      ? 2
                                                                      : 3;
        static const char *const why[4] = {
            "key not authorised",
            "mechanism mismatch (a plain-text client on a CURVE hub, or the "
            "reverse)",
            "cryptographic error (a client with the wrong hub key?)",
            "protocol error"};
        int64_t now = sw_clock_now_ms();
        if (now - logged_ms[r] < 10000) {
            quiet[r]++;
            break;
        }
        SW_WARN(MOD,
                "handshake failed reason=\"%s\" code=0x%x (%" PRIu64
                " more of these in the last 10s not logged)",
                why[r], value, quiet[r]);
        logged_ms[r] = now;
        quiet[r] = 0;
        break;
    }
    default:
        break;
    }
    zmq_msg_close(&ev);
    zmq_msg_close(&ep);
    return 1;
}

/* Takes every queued event of a monitor, so that a refused handshake and
 * the disconnection that follows it are counted together. */
static void on_monitor(hub_t *h, void *mon)
{
    while (monitor_event(h, mon))
        ;
}

static void heartbeat(hub_t *h, int64_t now)
{
    msgpack_sbuffer s;
    msgpack_sbuffer_init(&s);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    sw_mp_pack_cstr(&pk, "hub");
    sw_mp_pack_cstr(&pk, h->c.name);
    sw_mp_pack_cstr(&pk, "seq");
    msgpack_pack_uint64(&pk, h->published_seq);
    sw_mp_pack_cstr(&pk, "time");
    msgpack_pack_int64(&pk, now);
    zmq_send(h->pub, "hb.", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(h->pub, s.data, s.size, ZMQ_DONTWAIT);
    msgpack_sbuffer_destroy(&s);
    h->m_heartbeats++;
    h->last_hb_ms = now;
}

/* Publishes what the reader handed over (at most max messages). Returns
 * how many. */
static int forward(hub_t *h, int max)
{
    int n = 0;
    for (; n < max; n++) {
        zmq_msg_t topic, body, seq;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, h->pipe_in, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            break;
        }
        zmq_msg_init(&body);
        zmq_msg_init(&seq);
        zmq_msg_recv(&body, h->pipe_in, 0);
        zmq_msg_recv(&seq, h->pipe_in, 0);
        if (zmq_msg_size(&seq) == sizeof(uint64_t))
            memcpy(&h->published_seq, zmq_msg_data(&seq), sizeof(uint64_t));
        /* XPUB never blocks: a full subscriber queue drops for that
         * subscriber only */
        zmq_msg_send(&topic, h->pub, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_msg_send(&body, h->pub, ZMQ_DONTWAIT);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
        zmq_msg_close(&seq);
        h->m_published++;
    }
    return n;
}

static char *mbuf;
static size_t mlen, mcap;
static void mprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mprintf(const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(mbuf ? mbuf + mlen : NULL, mbuf ? mcap - mlen : 0,
                          fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (mbuf && mlen + (size_t)n < mcap) {
            mlen += (size_t)n;
            return;
        }
        size_t nc = mcap ? mcap * 2 : 8192;
        while (nc < mlen + (size_t)n + 1)
            nc *= 2;
        char *nb = realloc(mbuf, nc);
        if (nb == NULL)
            return;
        mbuf = nb;
        mcap = nc;
    }
}

static void publish_metrics(hub_t *h, int64_t now)
{
    if (h->http == NULL)
        return;
    mlen = 0;
    uint64_t log_seq = atomic_load(&h->m_log_seq);
#define M(name, type, helptext, fmt, val)                                      \
    mprintf("# HELP surgewatch_hub_" name " " helptext "\n"                    \
            "# TYPE surgewatch_hub_" name " " type "\n"                        \
            "surgewatch_hub_" name " " fmt "\n",                               \
            val)
    M("alerts_read_total", "counter", "Alert log entries read.", "%" PRIu64,
      atomic_load(&h->m_read));
    M("alerts_published_total", "counter",
      "Alerts published on the PUB socket.", "%" PRIu64, h->m_published);
    M("bad_log_entries_total", "counter",
      "Log entries that are not a well-formed alert (not published).",
      "%" PRIu64, atomic_load(&h->m_bad_entries));
    M("held_entries_total", "counter",
      "Log entries held back by a silence (logged, not published).", "%" PRIu64,
      atomic_load(&h->m_held));
    M("log_gaps_total", "counter", "Places where the log skipped a seq.",
      "%" PRIu64, atomic_load(&h->m_log_gaps));
    M("published_seq", "gauge", "Seq of the last alert published.", "%" PRIu64,
      h->published_seq);
    M("log_seq", "gauge", "Latest seq the reader saw in the log.", "%" PRIu64,
      log_seq);
    M("heartbeats_total", "counter", "Heartbeats sent.", "%" PRIu64,
      h->m_heartbeats);
    M("subscriptions_total", "counter", "Subscriptions received.", "%" PRIu64,
      h->m_subscriptions);
    M("subscriptions_empty_total", "counter",
      "Subscriptions that covered nothing the key may see.", "%" PRIu64,
      h->m_denied_subs);
    /* a refused handshake is followed by a disconnection too */
    int64_t open_conns =
        (int64_t)h->m_connections -
        ((int64_t)h->m_disconnected - (int64_t)h->m_handshake_failed);
    M("connections", "gauge",
      "Connections open with a completed handshake (both sockets).", "%" PRId64,
      open_conns < 0 ? 0 : open_conns);
    M("handshakes_failed_total", "counter",
      "Connections refused in the handshake (wrong mechanism, bad key).",
      "%" PRIu64, h->m_handshake_failed);
    M("auth_ok_total", "counter", "CURVE keys accepted.", "%" PRIu64,
      h->m_zap_ok);
    M("auth_denied_total", "counter", "CURVE keys refused.", "%" PRIu64,
      h->m_zap_denied);
    M("replay_requests_total", "counter", "Replay requests received.",
      "%" PRIu64, atomic_load(&h->m_replay_requests));
    M("replay_errors_total", "counter", "Replay requests answered ok=false.",
      "%" PRIu64, atomic_load(&h->m_replay_errors));
    M("replay_alerts_total", "counter", "Alerts sent in replay answers.",
      "%" PRIu64, atomic_load(&h->m_replay_alerts));
    M("redis_up", "gauge", "1 when the reader's Redis connection works.", "%d",
      atomic_load(&h->redis_up));
    M("redis_errors_total", "counter", "Redis failures of the reader.",
      "%" PRIu64, atomic_load(&h->m_redis_errors));
    if (h->web) {
        hub_web_stats_t ws;
        hub_web_stats(h->web, &ws);
        M("web_requests_total", "counter", "Web view requests.", "%" PRIu64,
          ws.requests);
        M("web_denied_total", "counter",
          "Web requests refused (no valid token, section not visible).",
          "%" PRIu64, ws.denied);
        M("web_bad_requests_total", "counter",
          "Web requests refused as malformed (400, 404, 405).", "%" PRIu64,
          ws.bad_requests);
        M("web_streams", "gauge", "Event streams open.", "%" PRIu64,
          ws.streams_open);
        M("web_streams_total", "counter", "Event streams opened.", "%" PRIu64,
          ws.streams_total);
        M("web_streamed_alerts_total", "counter",
          "Alerts sent on event streams.", "%" PRIu64, ws.streamed_alerts);
        M("web_catchup_reads_total", "counter",
          "Reads of the Redis log for streams behind the hub's memory.",
          "%" PRIu64, ws.catchup_reads);
        M("web_redis_errors_total", "counter",
          "Redis failures of the web view.", "%" PRIu64, ws.redis_errors);
    }
    M("uptime_seconds", "gauge", "Seconds since start.", "%.3f",
      (double)(now - h->started_ms) / 1000.0);
#undef M
    int healthy = atomic_load(&h->redis_up);
    sw_http_publish(h->http, mbuf ? mbuf : "", mlen, healthy,
                    healthy ? "ok" : "Redis unreachable");
}

static void *zsock(hub_t *h, int type, char *err, size_t errsz)
{
    void *s = zmq_socket(h->zctx, type);
    if (s == NULL)
        snprintf(err, errsz, "zmq_socket: %s", zmq_strerror(errno));
    int linger = 0;
    if (s)
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    return s;
}

/* CURVE server options on a socket. */
static void curve_server(hub_t *h, void *s)
{
    if (!h->curve)
        return;
    int one = 1;
    zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one));
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, h->secret_key, SW_Z85_KEY_LEN);
    zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN));
}

static int open_sockets(hub_t *h, char *err, size_t errsz)
{
    h->zctx = zmq_ctx_new();
    if (h->curve) {
        /* the ZAP handler must be bound before the first handshake */
        if ((h->zap = zsock(h, ZMQ_REP, err, errsz)) == NULL)
            return -1;
        if (zmq_bind(h->zap, ZAP_EP)) {
            snprintf(err, errsz, "ZAP handler: %s", zmq_strerror(errno));
            return -1;
        }
    }
    if ((h->pipe_in = zsock(h, ZMQ_PAIR, err, errsz)) == NULL)
        return -1;
    int hwm = 100000;
    zmq_setsockopt(h->pipe_in, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_bind(h->pipe_in, PIPE_EP);
    if ((h->pub = zsock(h, ZMQ_XPUB, err, errsz)) == NULL ||
        (h->router = zsock(h, ZMQ_ROUTER, err, errsz)) == NULL)
        return -1;
    int one = 1, ivl = 1000, ttl = 3000;
    zmq_setsockopt(h->pub, ZMQ_XPUB_MANUAL, &one, sizeof(one));
    zmq_setsockopt(h->pub, ZMQ_SNDHWM, &h->c.hwm, sizeof(h->c.hwm));
    zmq_setsockopt(h->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    for (int i = 0; i < 2; i++) {
        void *s = i ? h->router : h->pub;
        zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl));
        zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &ttl, sizeof(ttl));
        curve_server(h, s);
    }
    /* monitor both sockets for connections and refused handshakes */
    int events = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    zmq_socket_monitor(h->pub, MON_EP "-pub", events);
    zmq_socket_monitor(h->router, MON_EP "-router", events);
    if ((h->mon = zsock(h, ZMQ_PAIR, err, errsz)) == NULL ||
        (h->mon_router = zsock(h, ZMQ_PAIR, err, errsz)) == NULL)
        return -1;
    zmq_connect(h->mon, MON_EP "-pub");
    zmq_connect(h->mon_router, MON_EP "-router");
    for (int i = 0; i < 2; i++) {
        const char *ep = i ? h->c.s[S_REPLAY].value : h->c.s[S_PUB].value;
        if (zmq_bind(i ? h->router : h->pub, ep)) {
            snprintf(err, errsz, "cannot bind %s %s: %s", i ? "replay" : "pub",
                     ep, zmq_strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int load_acl(hub_t *h, char *err, size_t errsz)
{
    sw_acl_t *acl = sw_acl_load(h->c.s[S_AUTH_KEYS].value, err, errsz);
    if (acl == NULL)
        return -1;
    /* waits for a replay request in progress (the only other reader
     * outside this thread) */
    pthread_rwlock_wrlock(&h->acl_lock);
    sw_acl_t *old = h->acl;
    h->acl = acl;
    pthread_rwlock_unlock(&h->acl_lock);
    sw_acl_free(&old);
    return 0;
}

int sw_cmd_hub(int argc, char **argv)
{
    enum {
        O_PUB = 256,
        O_REPLAY,
        O_NAME,
        O_HEARTBEAT,
        O_HWM,
        O_START,
        O_CURVE_KEY,
        O_AUTH_KEYS,
        O_LOG_LEVEL,
        O_WEB,
        O_WEB_VIEWERS,
        O_REDIS_PREFIX,
        O_REDIS_TIMEOUT,
        O_CHECK
    };
    static const struct option longopts[] = {
        {"pub", required_argument, NULL, O_PUB},
        {"replay", required_argument, NULL, O_REPLAY},
        {"name", required_argument, NULL, O_NAME},
        {"heartbeat", required_argument, NULL, O_HEARTBEAT},
        {"hwm", required_argument, NULL, O_HWM},
        {"start", required_argument, NULL, O_START},
        {"curve-key", required_argument, NULL, O_CURVE_KEY},
        {"authorized-keys", required_argument, NULL, O_AUTH_KEYS},
        {"config", required_argument, NULL, 'c'},
        {"redis", required_argument, NULL, 'r'},
        {"redis-prefix", required_argument, NULL, O_REDIS_PREFIX},
        {"redis-timeout", required_argument, NULL, O_REDIS_TIMEOUT},
        {"metrics", required_argument, NULL, 'm'},
        {"log-level", required_argument, NULL, O_LOG_LEVEL},
        {"web", required_argument, NULL, O_WEB},
        {"web-viewers", required_argument, NULL, O_WEB_VIEWERS},
        {"check-config", no_argument, NULL, O_CHECK},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const int opt_setting[][2] = {
        {O_PUB, S_PUB},
        {O_REPLAY, S_REPLAY},
        {O_NAME, S_NAME},
        {O_HEARTBEAT, S_HEARTBEAT},
        {O_HWM, S_HWM},
        {O_START, S_START},
        {O_CURVE_KEY, S_CURVE_KEY},
        {O_AUTH_KEYS, S_AUTH_KEYS},
        {'r', S_REDIS_URL},
        {O_REDIS_PREFIX, S_REDIS_PREFIX},
        {O_REDIS_TIMEOUT, S_REDIS_TIMEOUT},
        {'m', S_METRICS},
        {O_LOG_LEVEL, S_LOG_LEVEL},
        {O_WEB, S_WEB},
        {O_WEB_VIEWERS, S_WEB_VIEWERS},
    };
    const char *flags[S__COUNT] = {0};
    const char *config_path = NULL;
    int check_only = 0, opt;
    while ((opt = getopt_long(argc, argv, "c:r:m:h", longopts, NULL)) != -1) {
        int done = 0;
        for (size_t i = 0; i < sizeof(opt_setting) / sizeof(opt_setting[0]);
             i++)
            if (opt_setting[i][0] == opt) {
                flags[opt_setting[i][1]] = optarg;
                done = 1;
            }
        if (done)
            continue;
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case O_CHECK:
            check_only = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return SW_EXIT_OK;
        default:
            fprintf(stderr, "Try 'surgewatch hub --help'.\n");
            return SW_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr,
                "surgewatch hub: unexpected argument '%s' (hub takes only "
                "options; try 'surgewatch hub --help')\n",
                argv[optind]);
        return SW_EXIT_USAGE;
    }
    static hub_t hub;
    hub_t *h = &hub;
    memset(h, 0, sizeof(*h));
    pthread_rwlock_init(&h->acl_lock, NULL);
    char err[1024];
    int status = SW_EXIT_USAGE;
    sw_config_t *cfg = NULL;
    if (config_path == NULL)
        config_path = getenv("SURGEWATCH_CONFIG");
    if (config_path && *config_path) {
        cfg = sw_config_load(config_path, err, sizeof(err));
        if (cfg == NULL) {
            fprintf(stderr, "surgewatch hub: %s\n", err);
            return SW_EXIT_USAGE;
        }
    }
    int rc = resolve_conf(&h->c, cfg, flags);
    sw_config_destroy(&cfg);
    if (rc)
        return SW_EXIT_USAGE;
    sw_log_level = h->c.log_level;
    h->curve = h->c.s[S_CURVE_KEY].value[0] != '\0';
    if (h->curve) {
        if (sw_curve_load(h->c.s[S_CURVE_KEY].value, h->public_key,
                          h->secret_key, 1, err, sizeof(err))) {
            sw_opt_bad("hub", &spec[S_CURVE_KEY], &h->c.s[S_CURVE_KEY], err);
            return SW_EXIT_USAGE;
        }
        if (load_acl(h, err, sizeof(err))) {
            sw_opt_bad("hub", &spec[S_AUTH_KEYS], &h->c.s[S_AUTH_KEYS], err);
            return SW_EXIT_USAGE;
        }
    }
    if (h->c.s[S_WEB_VIEWERS].value[0]) {
        sw_viewers_t *vs =
            sw_viewers_load(h->c.s[S_WEB_VIEWERS].value, err, sizeof(err));
        if (vs == NULL) {
            sw_opt_bad("hub", &spec[S_WEB_VIEWERS], &h->c.s[S_WEB_VIEWERS],
                       err);
            sw_acl_free(&h->acl);
            return SW_EXIT_USAGE;
        }
        if (check_only)
            printf("web viewers: %zu\n", vs->n);
        sw_viewers_free(&vs);
    }
    if (check_only) {
        sw_opts_print(spec, h->c.s, S__COUNT);
        if (h->curve)
            printf("curve: on, hub public key %s, %zu authorised keys\n",
                   h->public_key, h->acl->n);
        else
            printf("curve: off (plain text, every subscriber sees every "
                   "section)\n");
        printf("configuration ok\n");
        sw_acl_free(&h->acl);
        return SW_EXIT_OK;
    }
    const char *prefix = h->c.s[S_REDIS_PREFIX].value;
    snprintf(h->k_stream, sizeof(h->k_stream), "%.64s:alerts", prefix);
    snprintf(h->k_seq, sizeof(h->k_seq), "%.64s:alerts:seq", prefix);
    snprintf(h->k_active, sizeof(h->k_active), "%.64s:alerts:active", prefix);
    snprintf(h->k_last, sizeof(h->k_last), "%.64s:alerts:last", prefix);
    snprintf(h->k_resume, sizeof(h->k_resume), "%.64s:hub:%.100s:published",
             prefix, h->c.name);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (open_sockets(h, err, sizeof(err))) {
        fprintf(stderr, "surgewatch hub: %s\n", err);
        status = SW_EXIT_UNAVAILABLE;
        goto out;
    }
    if (strcmp(h->c.s[S_METRICS].value, "off") != 0) {
        h->http = sw_http_start(h->c.s[S_METRICS].value, err, sizeof(err));
        if (h->http == NULL) {
            fprintf(stderr, "surgewatch hub: metrics (%s): %s\n",
                    h->c.s[S_METRICS].origin, err);
            status = SW_EXIT_UNAVAILABLE;
            goto out;
        }
    }
    if (strcmp(h->c.s[S_WEB].value, "off") != 0) {
        hub_web_conf_t wc = {
            .listen = h->c.s[S_WEB].value,
            .viewers_path = h->c.s[S_WEB_VIEWERS].value,
            .redis_url = h->c.s[S_REDIS_URL].value,
            .redis_timeout_ms = h->c.redis_timeout_ms,
            .prefix = prefix,
            .hub_name = h->c.name,
        };
        h->web = hub_web_start(&wc, err, sizeof(err));
        if (h->web == NULL) {
            fprintf(stderr, "surgewatch hub: web (%s): %s\n",
                    h->c.s[S_WEB].origin, err);
            status = SW_EXIT_UNAVAILABLE;
            goto out;
        }
        const char *wl = h->c.s[S_WEB].value;
        int loopback = strncmp(wl, "127.", 4) == 0;
        SW_INFO(MOD, "web view at http://%.*s:%d/ viewers=%s",
                (int)(strrchr(wl, ':') - wl), wl, hub_web_port(h->web),
                h->c.s[S_WEB_VIEWERS].value[0] ? h->c.s[S_WEB_VIEWERS].value
                                               : "none (no access control)");
        if (!h->c.s[S_WEB_VIEWERS].value[0] && !loopback)
            SW_WARN(MOD,
                    "the web view listens on %s without --web-viewers: "
                    "anybody who reaches it sees every section",
                    wl);
    }
    h->started_ms = sw_clock_now_ms();
    pthread_create(&h->reader_t, NULL, reader_main, h);
    h->reader_started = 1;
    pthread_create(&h->replay_t, NULL, replay_main, h);
    h->replay_started = 1;
    SW_INFO(MOD,
            "started name=%s pub=%s replay=%s curve=%s redis=%s prefix=%s "
            "metrics=%s",
            h->c.name, h->c.s[S_PUB].value, h->c.s[S_REPLAY].value,
            h->curve ? "on" : "off", h->c.url_shown, prefix,
            h->http ? h->c.s[S_METRICS].value : "off");
    if (h->curve)
        SW_INFO(MOD, "curve public_key=%s authorised_keys=%zu", h->public_key,
                h->acl->n);

    int64_t last_metrics = 0, last_pub_ms = 0;
    int published_since_hb = 0;
    while (!stop_requested) {
        if (reload_requested) {
            reload_requested = 0;
            if (h->web) {
                if (hub_web_reload(h->web, err, sizeof(err)))
                    SW_ERROR(MOD,
                             "web viewers not reloaded, the old ones "
                             "stay: %s",
                             err);
                else
                    SW_INFO(MOD, "web viewers reloaded viewers=%zu",
                            hub_web_viewers(h->web));
            }
            if (h->curve) {
                if (load_acl(h, err, sizeof(err)))
                    SW_ERROR(MOD,
                             "authorised keys not reloaded, the old "
                             "ones stay: %s",
                             err);
                else
                    SW_INFO(MOD,
                            "authorised keys reloaded keys=%zu "
                            "(connected subscribers keep their "
                            "subscriptions until they reconnect)",
                            h->acl->n);
            }
        }
        int64_t now = sw_clock_now_ms();
        long wait = (long)(h->last_hb_ms + h->c.heartbeat_ms - now);
        if (wait < 0)
            wait = 0;
        if (published_since_hb && wait > 20)
            wait = 20;
        zmq_pollitem_t items[5] = {
            {h->pipe_in, 0, ZMQ_POLLIN, 0}, {h->pub, 0, ZMQ_POLLIN, 0},
            {h->mon, 0, ZMQ_POLLIN, 0},     {h->mon_router, 0, ZMQ_POLLIN, 0},
            {h->zap, 0, ZMQ_POLLIN, 0},
        };
        int n = zmq_poll(items, h->zap ? 5 : 4, wait);
        if (n < 0 && errno != EINTR)
            break;
        now = sw_clock_now_ms();
        if (n > 0) {
            if (items[4].revents & ZMQ_POLLIN)
                on_zap(h);
            if (items[1].revents & ZMQ_POLLIN)
                on_subscription(h);
            if (items[2].revents & ZMQ_POLLIN)
                on_monitor(h, h->mon);
            if (items[3].revents & ZMQ_POLLIN)
                on_monitor(h, h->mon_router);
            if (items[0].revents & ZMQ_POLLIN) {
                int k = forward(h, 1000);
                if (k > 0) {
                    published_since_hb = 1;
                    last_pub_ms = now;
                }
            }
        }
        /* a heartbeat every interval, and one as soon as a burst ends, so
         * that a subscriber learns of a lost tail at once */
        if (now - h->last_hb_ms >= h->c.heartbeat_ms ||
            (published_since_hb && now - last_pub_ms >= 20)) {
            heartbeat(h, now);
            published_since_hb = 0;
        }
        if (now - last_metrics >= 1000) {
            on_monitor(h, h->mon);
            on_monitor(h, h->mon_router);
            publish_metrics(h, now);
            last_metrics = now;
        }
    }
    SW_INFO(MOD, "stopping published_seq=%" PRIu64 " published=%" PRIu64,
            h->published_seq, h->m_published);
    status = SW_EXIT_OK;
out:
    stop_requested = 1;
    /* wakes a reader blocked on a full pipe; its unsent alerts are not
     * counted in its resume point */
    if (h->zctx)
        zmq_ctx_shutdown(h->zctx);
    if (h->reader_started)
        pthread_join(h->reader_t, NULL);
    if (h->replay_started)
        pthread_join(h->replay_t, NULL);
    sw_http_stop(&h->http);
    hub_web_stop(&h->web);
    if (h->pub) {
        zmq_socket_monitor(h->pub, NULL, 0);
        zmq_close(h->pub);
    }
    if (h->router) {
        zmq_socket_monitor(h->router, NULL, 0);
        zmq_close(h->router);
    }
    if (h->mon)
        zmq_close(h->mon);
    if (h->mon_router)
        zmq_close(h->mon_router);
    if (h->pipe_in)
        zmq_close(h->pipe_in);
    if (h->zap)
        zmq_close(h->zap);
    if (h->zctx)
        zmq_ctx_term(h->zctx);
    sw_acl_free(&h->acl);
    free(mbuf);
    mbuf = NULL;
    mlen = mcap = 0;
    return status;
}
