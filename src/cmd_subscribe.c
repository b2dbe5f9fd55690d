/*
 * surgewatch subscribe: receives alerts from one or more hubs and prints
 * each once, as a JSON line or a table line (docs/alerts.md, "How a
 * subscriber stays complete"):
 *
 *   - one SUB socket connected to every hub (ZeroMQ reconnects it), and
 *     one DEALER per hub for replay requests;
 *   - start: subscribe first, then a snapshot of the active alerts (or a
 *     replay from a sequence number or a time), then the queued live
 *     alerts the start did not cover;
 *   - de-duplication by seq (two hubs send each alert twice);
 *   - gaps: when the subscriber sees every section, the global rule (the
 *     next seq is the last + 1); else per section with each alert's prev;
 *     a heartbeat beyond what was checked triggers a check for a lost
 *     tail. Missing alerts are fetched by replay from any hub that
 *     answers.
 */
#include "sw_acl.h"
#include "sw_alert.h"
#include "sw_alert_wire.h"
#include "sw_cmd.h"
#include "sw_cmd_settings.h"
#include "sw_log.h"
#include "sw_settings.h"
#include "sw_time.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define MOD "subscribe"
#define MAX_HUBS 8
#define MAX_PREFIXES 16
#define REQUEST_TIMEOUT_MS 2000
#define STATUS_EVERY_MS 1000

static const char help[] =
    "usage: surgewatch subscribe [OPTIONS] [SECTION-PREFIX...]\n"
    "\n"
    "Receives surge alerts from one or more hubs and prints each alert\n"
    "once, in order, as a JSON line (the keys of docs/alerts.md, as from\n"
    "'surgewatch backtest') or a table line. Missed alerts (a slow link, a\n"
    "hub restart, a subscriber restart) are fetched from a hub's replay\n"
    "socket; the same alert from two hubs is printed once.\n"
    "\n"
    "SECTION-PREFIX: a section id (HU-RS) or the start of one (HU-); none\n"
    "means every section the key may see.\n"
    "\n"
    "Hubs:\n"
    "  -H, --hub PUB[,REPLAY]   a hub's PUB endpoint, and its replay\n"
    "                           endpoint (default: the PUB port + 1);\n"
    "                           repeatable (env SURGEWATCH_HUBS, endpoints\n"
    "                           separated by spaces; default\n"
    "                           tcp://127.0.0.1:7781)\n"
    "      --server-key KEY     the hubs' CURVE public key: 40 Z85\n"
    "                           characters or a key file (env\n"
    "                           SURGEWATCH_SERVER_KEY); turns CURVE on\n"
    "      --key FILE           this subscriber's key pair from 'surgewatch\n"
    "                           keygen' (env SURGEWATCH_KEY); needed with\n"
    "                           --server-key\n"
    "\n"
    "Start (default: the alerts active now, then live):\n"
    "      --from-seq N         every alert from sequence number N on\n"
    "      --since TIME         every alert logged since TIME (RFC 3339,\n"
    "                           e.g. 2026-11-22T08:00:00Z, or a duration\n"
    "                           back from now, e.g. 2h)\n"
    "      --live               no snapshot: only alerts from now on\n"
    "\n"
    "Output:\n"
    "  -f, --format FMT         json (default) or table\n"
    "  -n, --count N            exit after printing N alerts\n"
    "      --hwm N              live messages queued before ZeroMQ drops\n"
    "                           (they are then fetched by replay; default\n"
    "                           100000)\n"
    "      --log-level LEVEL    error, warn, info (default) or debug;\n"
    "                           log lines go to standard error\n"
    "  -h, --help               this text\n"
    "\n"
    "Exit status: 0 stopped by SIGTERM/SIGINT or after --count; 2 bad\n"
    "options; 3 no hub could be used.\n"
    "\n"
    "Examples:\n"
    "  surgewatch subscribe -H tcp://hub1:7781 -H tcp://hub2:7781 HU- HR-RS\n"
    "  surgewatch subscribe --server-key hub.pub --key budapest.key \\\n"
    "      -H tcp://hub1:7781 --since 6h -f table\n";

typedef struct hubconn {
    char pub[256], replay[256];
    void *dealer;
} hubconn_t;

/* Sections seen, with the last seq handled for each. */
typedef struct secmap {
    char (*name)[SW_SECTION_MAX + 1];
    uint64_t *last;
    size_t n, cap;
} secmap_t;

/* Alerts held while a gap is filled. */
typedef struct held {
    sw_wire_alert_t *v;
    size_t n, cap;
} held_t;

typedef struct sub {
    void *zctx, *sub;
    hubconn_t hubs[MAX_HUBS];
    int nhubs, cur; /* cur: the hub replay requests go to */
    char prefixes[MAX_PREFIXES][SW_TOPIC_MAX];
    int nprefixes;
    char server_key[SW_Z85_KEY_LEN + 1], public_key[SW_Z85_KEY_LEN + 1],
        secret_key[SW_Z85_KEY_LEN + 1];
    int curve;
    int table;
    uint64_t count; /* 0: no limit */
    int hwm;

    int global;        /* sees every section: the next seq is last + 1 */
    uint64_t floor;    /* alerts up to here are covered by the start */
    uint64_t done;     /* global mode: the last seq handled */
    uint64_t checked;  /* the log seq up to which tails were checked */
    int64_t status_ms; /* last tail check (section mode) */
    secmap_t secs;
    uint64_t req_id;
    int started; /* the start point is set */

    uint64_t printed, live, replayed, dups, gaps, bad;
    int64_t last_hb_ms; /* the last heartbeat from any hub (or the start) */
    int no_hb_warned;
    int failed; /* no hub answered a request: give up (exit 3) */
} sub_t;

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ------------------------------------------------------------ output */

static int print_alert(sub_t *s, const sw_wire_alert_t *w, int from_replay)
{
    if (s->table) {
        char ws[SW_TIME_STR_MAX];
        printf("%8" PRIu64 "  %s  %-12s %-10s %-8s %-8s %8.1f %8.1f  %s%s%s\n",
               w->seq, sw_time_format(w->a.window_end, ws), w->a.section,
               sw_detector_name(w->a.detector), sw_alert_state_name(w->a.state),
               sw_level_name(w->a.level), w->a.observed, w->a.expected,
               w->a.alert_id, w->acked_at > 0 ? "  acked by " : "",
               w->acked_at > 0 ? w->acked_by : "");
    } else {
        static char json[SW_WIRE_JSON_MAX];
        if (sw_wire_alert_to_json(w, json, sizeof(json)) == 0)
            return 0;
        puts(json);
    }
    s->printed++;
    if (from_replay)
        s->replayed++;
    else
        s->live++;
    if (s->count && s->printed >= s->count)
        stop_requested = 1;
    return 1;
}

static uint64_t *sec_last(sub_t *s, const char *section)
{
    secmap_t *m = &s->secs;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->name[i], section) == 0)
            return &m->last[i];
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        void *a = realloc(m->name, nc * sizeof(*m->name));
        if (a == NULL)
            return NULL;
        m->name = a;
        void *b = realloc(m->last, nc * sizeof(*m->last));
        if (b == NULL)
            return NULL;
        m->last = b;
        m->cap = nc;
    }
    snprintf(m->name[m->n], sizeof(m->name[m->n]), "%s", section);
    m->last[m->n] = s->floor;
    return &m->last[m->n++];
}

/* Prints w unless it was handled already. */
static void handle(sub_t *s, const sw_wire_alert_t *w, int from_replay)
{
    if (s->global) {
        if (w->seq <= s->done) {
            s->dups++;
            return;
        }
        s->done = w->seq;
        print_alert(s, w, from_replay);
        return;
    }
    uint64_t *last = sec_last(s, w->a.section);
    if (last == NULL || w->seq <= *last) {
        s->dups += last != NULL;
        return;
    }
    *last = w->seq;
    print_alert(s, w, from_replay);
}

/* ----------------------------------------------------------- replay */

static uint64_t map_u64(const msgpack_object *o, const char *k)
{
    const msgpack_object *v = sw_mp_map_get(o, k);
    return v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0;
}

/* A reply: the bytes and the objects unpacked from them (which point
 * into the bytes). Each caller keeps its own while it uses the objects. */
typedef struct reply {
    msgpack_unpacked u;
    char *buf;
    size_t cap;
} reply_t;

static void reply_init(reply_t *r)
{
    memset(r, 0, sizeof(*r));
    msgpack_unpacked_init(&r->u);
}

static void reply_destroy(reply_t *r)
{
    msgpack_unpacked_destroy(&r->u);
    free(r->buf);
}

/* Unpacks a reply's bytes into r. Returns 0, or -1 when they are not one
 * msgpack object (or out of memory). */
static int reply_set(reply_t *r, const void *data, size_t len)
{
    if (len > r->cap) {
        char *nb = realloc(r->buf, len);
        if (nb == NULL)
            return -1;
        r->buf = nb;
        r->cap = len;
    }
    if (len)
        memcpy(r->buf, data, len);
    msgpack_unpacked_destroy(&r->u);
    msgpack_unpacked_init(&r->u);
    size_t off = 0;
    return sw_mp_unpack_next(&r->u, r->buf, len, &off) == MSGPACK_UNPACK_SUCCESS
               ? 0
               : -1;
}

typedef struct reqargs {
    const char *op;
    uint64_t from, to;
    int64_t time;
    const char *prefix; /* NULL: the subscription's prefixes */
} reqargs_t;

/* Sends a request to the hubs in turn until one answers (ok or not).
 * Fills u with the reply. Returns 0, or -1 when stopping or no hub
 * answered in a full round of tries. */
static int request(sub_t *s, const reqargs_t *a, reply_t *rp)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = -1;
    for (int attempt = 0; attempt < 3 * s->nhubs && !stop_requested;
         attempt++) {
        hubconn_t *hc = &s->hubs[s->cur];
        uint64_t id = ++s->req_id;
        sb.size = 0;
        msgpack_pack_map(&pk, 3 + (a->from > 0) + (a->to > 0) + (a->time > 0));
        sw_mp_pack_cstr(&pk, "op");
        sw_mp_pack_cstr(&pk, a->op);
        sw_mp_pack_cstr(&pk, "id");
        msgpack_pack_uint64(&pk, id);
        sw_mp_pack_cstr(&pk, "prefixes");
        if (a->prefix) {
            msgpack_pack_array(&pk, 1);
            sw_mp_pack_cstr(&pk, a->prefix);
        } else {
            msgpack_pack_array(&pk, (size_t)s->nprefixes);
            for (int i = 0; i < s->nprefixes; i++)
                sw_mp_pack_cstr(&pk, s->prefixes[i]);
        }
        if (a->from) {
            sw_mp_pack_cstr(&pk, "from");
            msgpack_pack_uint64(&pk, a->from);
        }
        if (a->to) {
            sw_mp_pack_cstr(&pk, "to");
            msgpack_pack_uint64(&pk, a->to);
        }
        if (a->time) {
            sw_mp_pack_cstr(&pk, "time");
            msgpack_pack_int64(&pk, a->time);
        }
        /* ZMQ_IMMEDIATE: EAGAIN when this hub is not connected */
        if (zmq_send(hc->dealer, sb.data, sb.size, ZMQ_DONTWAIT) < 0) {
            SW_DEBUG(MOD, "replay %s not connected, trying the next hub",
                     hc->replay);
            s->cur = (s->cur + 1) % s->nhubs;
            if (attempt + 1 >= s->nhubs) {
                struct timespec ts = {0, 200000000L};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        int64_t deadline = sw_clock_now_ms() + REQUEST_TIMEOUT_MS;
        for (;;) {
            int64_t left = deadline - sw_clock_now_ms();
            if (left <= 0 || stop_requested)
                break;
            zmq_pollitem_t it = {hc->dealer, 0, ZMQ_POLLIN, 0};
            if (zmq_poll(&it, 1, (long)left) <= 0)
                continue;
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, hc->dealer, 0) < 0) {
                zmq_msg_close(&m);
                continue;
            }
            int ok = reply_set(rp, zmq_msg_data(&m), zmq_msg_size(&m)) == 0;
            zmq_msg_close(&m);
            const msgpack_object *u = &rp->u.data;
            if (!ok || map_u64(u, "id") != id)
                continue; /* a late answer to an earlier request */
            const msgpack_object *okv = sw_mp_map_get(u, "ok");
            if (okv == NULL || okv->type != MSGPACK_OBJECT_BOOLEAN ||
                !okv->via.boolean) {
                const msgpack_object *e = sw_mp_map_get(u, "error");
                SW_ERROR(
                    MOD, "hub %s refused the %s request: %.*s", hc->replay,
                    a->op,
                    e && e->type == MSGPACK_OBJECT_STR ? (int)e->via.str.size
                                                       : 1,
                    e && e->type == MSGPACK_OBJECT_STR ? e->via.str.ptr : "?");
                rc = -1;
                goto out;
            }
            rc = 0;
            goto out;
        }
        if (stop_requested)
            break;
        SW_WARN(MOD, "no answer from %s in %d ms; trying the next hub",
                hc->replay, REQUEST_TIMEOUT_MS);
        s->cur = (s->cur + 1) % s->nhubs;
    }
out:
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Prints the alerts of a reply's "alerts" array; a snapshot's are
 * printed as they are (they are the start), a range's de-duplicated. */
static void handle_alerts(sub_t *s, const msgpack_object *reply, int snapshot)
{
    const msgpack_object *arr = sw_mp_map_get(reply, "alerts");
    if (arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < arr->via.array.size && !stop_requested; i++) {
        sw_wire_alert_t w;
        char err[256];
        if (sw_alert_unpack_obj(&arr->via.array.ptr[i], &w, err, sizeof(err))) {
            s->bad++;
            SW_WARN(MOD, "replay: an alert not understood: %s", err);
            continue;
        }
        if (snapshot)
            print_alert(s, &w, 1);
        else
            handle(s, &w, 1);
    }
}

/* Fetches and prints the alerts from..to (to 0: up to the latest) of one
 * topic prefix (NULL: the subscription's). Returns 0 or -1. */
static int fill(sub_t *s, uint64_t from, uint64_t to, const char *prefix)
{
    reply_t r;
    reply_init(&r);
    int rc = 0;
    while (!stop_requested && (to == 0 || from <= to)) {
        reqargs_t a = {"range", from, to, 0, prefix};
        if (request(s, &a, &r)) {
            rc = -1;
            break;
        }
        handle_alerts(s, &r.u.data, 0);
        uint64_t next = map_u64(&r.u.data, "next");
        uint64_t latest = map_u64(&r.u.data, "seq");
        if (to == 0 && from > latest)
            break; /* asked beyond the end: nothing more */
        if (next <= from) {
            SW_ERROR(MOD,
                     "a hub answered a range from seq=%" PRIu64
                     " with next=%" PRIu64 "; giving up this fill",
                     from, next);
            rc = -1;
            break;
        }
        from = next;
        if (to == 0 && from > latest)
            break;
    }
    /* global mode sees everything: a range read to its end is handled,
     * even where the log held no alert to print (an entry the hub could
     * not decode), so the same range is not asked for again */
    if (rc == 0 && s->global && to && s->done < to && !stop_requested) {
        SW_WARN(MOD,
                "seq=%" PRIu64 "..%" PRIu64
                " not in the hub's answers (not well-formed in the log?)",
                s->done + 1, to);
        s->done = to;
    }
    reply_destroy(&r);
    return rc;
}

/* Section mode: asks which sections moved on, and fetches those whose
 * last alert was not handled. */
static int check_tails(sub_t *s)
{
    reply_t r;
    reply_init(&r);
    reqargs_t a = {"status", 0, 0, 0, NULL};
    int rc = request(s, &a, &r);
    s->status_ms = sw_clock_now_ms();
    if (rc == 0) {
        uint64_t latest = map_u64(&r.u.data, "seq");
        const msgpack_object *last = sw_mp_map_get(&r.u.data, "last");
        for (uint32_t i = 0; last && last->type == MSGPACK_OBJECT_MAP &&
                             i < last->via.map.size && rc == 0;
             i++) {
            const msgpack_object *k = &last->via.map.ptr[i].key;
            const msgpack_object *v = &last->via.map.ptr[i].val;
            if (k->type != MSGPACK_OBJECT_STR ||
                v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                k->via.str.size > SW_SECTION_MAX)
                continue;
            char sec[SW_SECTION_MAX + 1];
            memcpy(sec, k->via.str.ptr, k->via.str.size);
            sec[k->via.str.size] = '\0';
            uint64_t *mine = sec_last(s, sec);
            if (mine && v->via.u64 > *mine) {
                char topic[SW_TOPIC_MAX];
                sw_alert_topic(sec, topic);
                s->gaps++;
                SW_INFO(MOD,
                        "section=%s behind: last seen seq=%" PRIu64
                        ", the log has seq=%" PRIu64 "; fetching",
                        sec, *mine, v->via.u64);
                rc = fill(s, *mine + 1, v->via.u64, topic);
            }
        }
        if (rc == 0 && latest > s->checked)
            s->checked = latest;
    }
    reply_destroy(&r);
    return rc;
}

/* ------------------------------------------------------------- live */

/* The alerts before seq could not be fetched: seq is not printed either
 * (it would hide the hole); the next heartbeat's check fetches them all. */
static void fill_failed(sub_t *s, uint64_t seq)
{
    if (stop_requested)
        return;
    SW_WARN(MOD,
            "could not fetch the alerts before seq=%" PRIu64
            " (no hub answered); retrying at the next heartbeat",
            seq);
    s->checked = 0; /* per-section mode: the status check must run */
}

/* One live message: an alert or a heartbeat. */
static void on_live(sub_t *s, zmq_msg_t *topic, zmq_msg_t *body)
{
    const char *t = zmq_msg_data(topic);
    size_t tl = zmq_msg_size(topic);
    char err[256];
    if (tl == 3 && memcmp(t, "hb.", 3) == 0) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        if (sw_mp_unpack_next(&u, zmq_msg_data(body), zmq_msg_size(body),
                              &off) == MSGPACK_UNPACK_SUCCESS) {
            uint64_t seq = map_u64(&u.data, "seq");
            const msgpack_object *name = sw_mp_map_get(&u.data, "hub");
            int64_t now = sw_clock_now_ms();
            char nm[128] = "?";
            if (name && name->type == MSGPACK_OBJECT_STR)
                snprintf(nm, sizeof(nm), "%.*s", (int)name->via.str.size,
                         name->via.str.ptr);
            if (s->no_hb_warned) {
                SW_INFO(MOD, "heartbeats again, from hub=%s", nm);
                s->no_hb_warned = 0;
            }
            s->last_hb_ms = now;
            if (s->global && seq > s->done) {
                s->gaps++;
                SW_INFO(MOD,
                        "hub=%s is at seq=%" PRIu64 ", last handled %" PRIu64
                        "; fetching the rest",
                        nm, seq, s->done);
                fill(s, s->done + 1, seq, NULL);
            } else if (!s->global && seq > s->checked &&
                       now - s->status_ms >= STATUS_EVERY_MS) {
                check_tails(s);
            }
        }
        msgpack_unpacked_destroy(&u);
        return;
    }
    sw_wire_alert_t w;
    if (sw_alert_unpack(zmq_msg_data(body), zmq_msg_size(body), &w, err,
                        sizeof(err))) {
        s->bad++;
        SW_WARN(MOD, "live message on topic '%.*s' not understood: %s",
                (int)(tl > 60 ? 60 : tl), t, err);
        return;
    }
    if (w.seq <= s->floor) {
        s->dups++;
        return;
    }
    if (s->global) {
        if (w.seq > s->done + 1) {
            s->gaps++;
            SW_INFO(MOD, "gap: seq=%" PRIu64 "..%" PRIu64 " missing; fetching",
                    s->done + 1, w.seq - 1);
            if (fill(s, s->done + 1, w.seq - 1, NULL)) {
                fill_failed(s, w.seq);
                return;
            }
        }
    } else {
        uint64_t *last = sec_last(s, w.a.section);
        if (last && w.prev > *last && w.seq > *last + 1) {
            char sec_topic[SW_TOPIC_MAX];
            sw_alert_topic(w.a.section, sec_topic);
            s->gaps++;
            SW_INFO(MOD,
                    "gap in section=%s: after seq=%" PRIu64
                    " the previous is seq=%" PRIu64 "; fetching",
                    w.a.section, *last, w.prev);
            if (fill(s, *last + 1, w.seq - 1, sec_topic)) {
                fill_failed(s, w.seq);
                return;
            }
        }
    }
    handle(s, &w, 0);
}

/* Reads what the SUB socket has, up to max messages. Returns how many. */
static int drain(sub_t *s, int max)
{
    int n = 0;
    for (; n < max && !stop_requested; n++) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, s->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            break;
        }
        zmq_msg_init(&body);
        if (!zmq_msg_more(&topic) || zmq_msg_recv(&body, s->sub, 0) < 0) {
            s->bad++;
        } else {
            while (zmq_msg_more(&body)) { /* extra frames: skipped */
                zmq_msg_t x;
                zmq_msg_init(&x);
                zmq_msg_recv(&x, s->sub, 0);
                int more = zmq_msg_more(&x);
                zmq_msg_close(&x);
                if (!more)
                    break;
            }
            on_live(s, &topic, &body);
        }
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
    return n;
}

/* ------------------------------------------------------------ set-up */

static void curve_client(sub_t *s, void *sock)
{
    if (!s->curve)
        return;
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, s->server_key, SW_Z85_KEY_LEN);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, s->public_key, SW_Z85_KEY_LEN);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, s->secret_key, SW_Z85_KEY_LEN);
}

/* "PUB[,REPLAY]" into a hub entry. Returns 0, or -1 after printing. */
static int add_hub(sub_t *s, const char *arg)
{
    if (s->nhubs == MAX_HUBS) {
        fprintf(stderr, "surgewatch subscribe: at most %d hubs\n", MAX_HUBS);
        return -1;
    }
    hubconn_t *hc = &s->hubs[s->nhubs];
    const char *comma = strchr(arg, ',');
    size_t pl = comma ? (size_t)(comma - arg) : strlen(arg);
    const char *colon = NULL;
    for (const char *p = arg; p < arg + pl; p++)
        if (*p == ':')
            colon = p;
    unsigned long long port = 0;
    char portbuf[8] = "";
    if (colon && (size_t)(arg + pl - colon - 1) < sizeof(portbuf)) {
        memcpy(portbuf, colon + 1, (size_t)(arg + pl - colon - 1));
        portbuf[arg + pl - colon - 1] = '\0';
    }
    if (pl >= sizeof(hc->pub) || strncmp(arg, "tcp://", 6) != 0 ||
        colon == NULL || colon < arg + 7 ||
        sw_parse_uint(portbuf, 1, 65535, &port) || (!comma && port == 65535) ||
        (comma && (strncmp(comma + 1, "tcp://", 6) != 0 ||
                   strlen(comma + 1) >= sizeof(hc->replay)))) {
        fprintf(stderr,
                "surgewatch subscribe: --hub '%s': not a hub address "
                "(accepted: tcp://HOST:PORT or tcp://HOST:PORT,tcp://HOST:"
                "PORT for the PUB and replay endpoints)\n",
                arg);
        return -1;
    }
    memcpy(hc->pub, arg, pl);
    hc->pub[pl] = '\0';
    if (comma)
        snprintf(hc->replay, sizeof(hc->replay), "%s", comma + 1);
    else
        snprintf(hc->replay, sizeof(hc->replay), "%.*s:%llu",
                 (int)(colon - arg), arg, port + 1);
    s->nhubs++;
    return 0;
}

static int load_server_key(sub_t *s, const char *arg)
{
    char err[512], secret[SW_Z85_KEY_LEN + 1];
    if (sw_z85_key_valid(arg, NULL)) {
        snprintf(s->server_key, sizeof(s->server_key), "%s", arg);
        return 0;
    }
    if (sw_curve_load(arg, s->server_key, secret, 0, err, sizeof(err))) {
        fprintf(stderr,
                "surgewatch subscribe: --server-key: neither a 40-character "
                "Z85 key nor a readable key file: %s\n",
                err);
        return -1;
    }
    return 0;
}

/* The start: snapshot, range from a seq, or live only. Returns 0 or -1. */
static int start(sub_t *s, int live_only, uint64_t from_seq, int64_t since)
{
    if (s->started) /* an earlier try got this far: go on from there */
        return from_seq && !live_only
                   ? fill(s, s->global ? s->done + 1 : from_seq, 0, NULL)
                   : 0;
    reply_t r;
    reply_init(&r);
    reqargs_t st = {"status", 0, 0, since, NULL};
    if (request(s, &st, &r)) {
        reply_destroy(&r);
        return -1;
    }
    const msgpack_object *secs = sw_mp_map_get(&r.u.data, "sections");
    int sees_all = secs && secs->type == MSGPACK_OBJECT_STR &&
                   secs->via.str.size == 1 && secs->via.str.ptr[0] == '*';
    s->global = sees_all && s->nprefixes == 1 && s->prefixes[0][0] == '\0';
    uint64_t latest = map_u64(&r.u.data, "seq");
    if (since)
        from_seq = map_u64(&r.u.data, "time_seq");
    SW_INFO(MOD, "connected hubs=%d latest_seq=%" PRIu64 " mode=%s start=%s",
            s->nhubs, latest, s->global ? "global" : "per-section",
            live_only ? "live" : (from_seq ? "from-seq" : "snapshot"));
    int rc = 0;
    if (live_only) {
        s->floor = latest;
    } else if (from_seq) {
        s->floor = from_seq - 1;
    } else {
        reqargs_t sn = {"snapshot", 0, 0, 0, NULL};
        rc = request(s, &sn, &r);
        if (rc == 0) {
            s->floor = map_u64(&r.u.data, "seq");
            handle_alerts(s, &r.u.data, 1); /* in seq order */
        }
    }
    reply_destroy(&r);
    if (rc)
        return -1;
    s->started = 1;
    s->done = s->floor;
    s->checked = s->floor;
    if (!live_only && from_seq)
        rc = fill(s, from_seq, 0, NULL);
    return rc;
}

int sw_cmd_subscribe(int argc, char **argv)
{
    enum { O_SERVER_KEY = 256, O_KEY, O_FROM, O_SINCE, O_LIVE, O_HWM, O_LOG };
    static const struct option longopts[] = {
        {"hub", required_argument, NULL, 'H'},
        {"server-key", required_argument, NULL, O_SERVER_KEY},
        {"key", required_argument, NULL, O_KEY},
        {"from-seq", required_argument, NULL, O_FROM},
        {"since", required_argument, NULL, O_SINCE},
        {"live", no_argument, NULL, O_LIVE},
        {"format", required_argument, NULL, 'f'},
        {"count", required_argument, NULL, 'n'},
        {"hwm", required_argument, NULL, O_HWM},
        {"log-level", required_argument, NULL, O_LOG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static sub_t sub;
    sub_t *s = &sub;
    memset(s, 0, sizeof(*s));
    s->hwm = 100000;
    const char *server_key = getenv("SURGEWATCH_SERVER_KEY");
    const char *key_file = getenv("SURGEWATCH_KEY");
    uint64_t from_seq = 0;
    int64_t since = 0;
    int live_only = 0, opt, starts = 0;
    unsigned long long x;
    while ((opt = getopt_long(argc, argv, "H:f:n:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'H':
            if (add_hub(s, optarg))
                return SW_EXIT_USAGE;
            break;
        case O_SERVER_KEY:
            server_key = optarg;
            break;
        case O_KEY:
            key_file = optarg;
            break;
        case O_FROM:
            if (sw_parse_uint(optarg, 1, UINT64_MAX / 2, &x)) {
                fprintf(stderr,
                        "surgewatch subscribe: --from-seq '%s': not a "
                        "sequence number (accepted: a whole number >= 1)\n",
                        optarg);
                return SW_EXIT_USAGE;
            }
            from_seq = x;
            starts++;
            break;
        case O_SINCE: {
            int64_t ms;
            if (sw_time_parse_rfc3339(optarg, strlen(optarg), &ms) == 0)
                since = ms;
            else if (sw_parse_duration(optarg, &ms) == 0 && ms > 0)
                since = sw_clock_now_ms() - ms;
            else {
                fprintf(stderr,
                        "surgewatch subscribe: --since '%s': not a time "
                        "(accepted: RFC 3339 like 2026-11-22T08:00:00Z, or "
                        "a duration back from now like 90m, 6h, 2d)\n",
                        optarg);
                return SW_EXIT_USAGE;
            }
            if (since <= 0)
                since = 1;
            starts++;
            break;
        }
        case O_LIVE:
            live_only = 1;
            starts++;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                s->table = 0;
            else if (strcmp(optarg, "table") == 0)
                s->table = 1;
            else {
                fprintf(stderr,
                        "surgewatch subscribe: --format '%s': unknown "
                        "(accepted: json, table)\n",
                        optarg);
                return SW_EXIT_USAGE;
            }
            break;
        case 'n':
            if (sw_parse_uint(optarg, 1, UINT64_MAX / 2, &x)) {
                fprintf(stderr,
                        "surgewatch subscribe: --count '%s': not a whole "
                        "number >= 1\n",
                        optarg);
                return SW_EXIT_USAGE;
            }
            s->count = x;
            break;
        case O_HWM:
            if (sw_parse_uint(optarg, 10, 100000000, &x)) {
                fprintf(stderr,
                        "surgewatch subscribe: --hwm '%s': not a whole "
                        "number in 10..100000000\n",
                        optarg);
                return SW_EXIT_USAGE;
            }
            s->hwm = (int)x;
            break;
        case O_LOG:
            if (sw_log_level_parse(optarg, &sw_log_level)) {
                fprintf(stderr,
                        "surgewatch subscribe: --log-level '%s': unknown "
                        "(accepted: error, warn, info, debug)\n",
                        optarg);
                return SW_EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(help, stdout);
            return SW_EXIT_OK;
        default:
            fprintf(stderr, "Try 'surgewatch subscribe --help'.\n");
            return SW_EXIT_USAGE;
        }
    }
    if (starts > 1) {
        fprintf(stderr, "surgewatch subscribe: --from-seq, --since and "
                        "--live exclude each other (accepted: one of them)\n");
        return SW_EXIT_USAGE;
    }
    if (s->nhubs == 0) {
        const char *env = getenv("SURGEWATCH_HUBS");
        char buf[2048];
        snprintf(buf, sizeof(buf), "%s",
                 env && *env ? env : "tcp://127.0.0.1:7781");
        for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t;
             t = strtok_r(NULL, " \t", &save))
            if (add_hub(s, t))
                return SW_EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        const char *p = argv[i];
        size_t n = strlen(p);
        if (s->nprefixes == MAX_PREFIXES || n == 0 || n > SW_SECTION_MAX ||
            strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789-/_") != n) {
            fprintf(stderr,
                    "surgewatch subscribe: '%s': not a section prefix "
                    "(accepted: up to %d section ids or starts of one, like "
                    "HU-RS or HU-)\n",
                    p, MAX_PREFIXES);
            return SW_EXIT_USAGE;
        }
        /* a whole section id: exactly that section (and subsections) */
        snprintf(s->prefixes[s->nprefixes++], SW_TOPIC_MAX, "alert.%s", p);
    }
    if (s->nprefixes == 0)
        s->prefixes[s->nprefixes++][0] = '\0';
    if (!server_key != !key_file) {
        fprintf(stderr, "surgewatch subscribe: --server-key and --key go "
                        "together (accepted: both for a CURVE hub, neither "
                        "for a plain one)\n");
        return SW_EXIT_USAGE;
    }
    if (server_key) {
        char err[512];
        if (load_server_key(s, server_key))
            return SW_EXIT_USAGE;
        if (sw_curve_load(key_file, s->public_key, s->secret_key, 1, err,
                          sizeof(err))) {
            fprintf(stderr, "surgewatch subscribe: --key: %s\n", err);
            return SW_EXIT_USAGE;
        }
        s->curve = 1;
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    s->zctx = zmq_ctx_new();
    s->sub = zmq_socket(s->zctx, ZMQ_SUB);
    int zero = 0, one = 1, ivl = 1000, ttl = 3000;
    zmq_setsockopt(s->sub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s->sub, ZMQ_RCVHWM, &s->hwm, sizeof(s->hwm));
    /* no ZMTP heartbeats on the SUB socket: libzmq 4.3.4 aborts when one
     * times out while the receive queue is full (a stalled reader;
     * zeromq/libzmq#3937). TCP keepalive finds a vanished hub instead,
     * and the hub's heartbeats tell the application. */
    int ka = 1, ka_idle = 10, ka_intvl = 5, ka_cnt = 3;
    zmq_setsockopt(s->sub, ZMQ_TCP_KEEPALIVE, &ka, sizeof(ka));
    zmq_setsockopt(s->sub, ZMQ_TCP_KEEPALIVE_IDLE, &ka_idle, sizeof(ka_idle));
    zmq_setsockopt(s->sub, ZMQ_TCP_KEEPALIVE_INTVL, &ka_intvl,
                   sizeof(ka_intvl));
    zmq_setsockopt(s->sub, ZMQ_TCP_KEEPALIVE_CNT, &ka_cnt, sizeof(ka_cnt));
    curve_client(s, s->sub);
    for (int i = 0; i < s->nprefixes; i++)
        zmq_setsockopt(s->sub, ZMQ_SUBSCRIBE, s->prefixes[i],
                       strlen(s->prefixes[i]));
    zmq_setsockopt(s->sub, ZMQ_SUBSCRIBE, "hb.", 3);
    int status = SW_EXIT_OK;
    for (int i = 0; i < s->nhubs; i++) {
        hubconn_t *hc = &s->hubs[i];
        hc->dealer = zmq_socket(s->zctx, ZMQ_DEALER);
        zmq_setsockopt(hc->dealer, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_setsockopt(hc->dealer, ZMQ_IMMEDIATE, &one, sizeof(one));
        zmq_setsockopt(hc->dealer, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl));
        zmq_setsockopt(hc->dealer, ZMQ_HEARTBEAT_TIMEOUT, &ttl, sizeof(ttl));
        curve_client(s, hc->dealer);
        if (zmq_connect(s->sub, hc->pub) ||
            zmq_connect(hc->dealer, hc->replay)) {
            fprintf(stderr, "surgewatch subscribe: cannot connect to %s: %s\n",
                    hc->pub, zmq_strerror(errno));
            status = SW_EXIT_USAGE;
            goto out;
        }
    }
    /* subscribed: now the start point (the Clone pattern) */
    for (int tries = 0; !stop_requested && start(s, live_only, from_seq, since);
         tries++) {
        SW_WARN(MOD, "no hub answered at the replay endpoint%s %s%s; retrying",
                s->nhubs > 1 ? "s" : "", s->hubs[0].replay,
                s->nhubs > 1 ? ", ..." : "");
        struct timespec ts = {tries < 5 ? 1 : 5, 0};
        nanosleep(&ts, NULL); /* a signal cuts it short */
    }
    fflush(stdout);
    int64_t last_hb_check = sw_clock_now_ms();
    s->last_hb_ms = last_hb_check;
    while (!stop_requested) {
        zmq_pollitem_t it = {s->sub, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&it, 1, 500);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0)
            drain(s, 1000);
        fflush(stdout);
        int64_t now = sw_clock_now_ms();
        if (now - last_hb_check >= 1000) {
            last_hb_check = now;
            if (now - s->last_hb_ms > 3500 && !s->no_hb_warned) {
                SW_WARN(MOD, "no heartbeat from any hub for 3s: no live "
                             "alerts until a hub is back");
                s->no_hb_warned = 1;
            }
        }
    }
    fflush(stdout);
    SW_INFO(MOD,
            "stopped printed=%" PRIu64 " live=%" PRIu64 " replayed=%" PRIu64
            " duplicates=%" PRIu64 " gaps=%" PRIu64 " bad=%" PRIu64,
            s->printed, s->live, s->replayed, s->dups, s->gaps, s->bad);
out:
    zmq_close(s->sub);
    for (int i = 0; i < s->nhubs; i++)
        if (s->hubs[i].dealer)
            zmq_close(s->hubs[i].dealer);
    zmq_ctx_term(s->zctx);
    free(s->secs.name);
    free(s->secs.last);
    return status;
}
