/*
 * surgewatch run: the ingest worker. A member of a Kafka consumer group on
 * the events topic; every event of its partitions goes through the
 * detection core, every rejected payload to the dead-letter topic, every
 * alert transition to the Redis alert log.
 *
 * Exactly-once effect. Each partition's detection state is checkpointed
 * to Redis together with the offset of the next event to read, in one
 * value (ingest/sw_checkpoint). A worker that is assigned a partition
 * loads its checkpoint and starts reading at that offset, so a crash
 * replays at most the events since the last checkpoint. The replay gives
 * the same transitions (the core is deterministic, alert ids come from the
 * data) and the alert log ignores a transition it already holds. For that
 * to hold, a checkpoint is only written when every alert before it is in
 * the log and every dead letter before it is acknowledged by the broker.
 *
 * Redis unreachable: consumption pauses (the group membership is kept),
 * reconnection is retried with a growing delay, and reading resumes at the
 * first event not yet processed. SIGTERM/SIGINT: the current batch is
 * finished, every partition checkpointed, offsets committed, the group
 * left.
 */
#include "sw_alert_log.h"
#include "sw_checkpoint.h"
#include "sw_cmd.h"
#include "sw_cmd_common.h"
#include "sw_cmd_settings.h"
#include "sw_config.h"
#include "sw_engine.h"
#include "sw_err.h"
#include "sw_event.h"
#include "sw_http.h"
#include "sw_log.h"
#include "sw_producer.h"
#include "sw_redis.h"
#include "sw_settings.h"
#include "sw_thresholds.h"
#include "sw_time.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MOD "run"
#define BATCH 1024
#define ALERT_CHUNK 500
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define DLQ_PAYLOAD_MAX 65536
#define SERIES_MAX 100000 /* buckets waiting for Redis; the oldest go */
#define SERIES_CHUNK 500  /* buckets per pipelined round trip */

static const char help[] =
    "usage: surgewatch run [OPTIONS]\n"
    "\n"
    "The ingest worker: joins a Kafka consumer group on the events topic,\n"
    "counts each event in the windows of its border section, runs the\n"
    "detectors, and writes every alert transition to the Redis alert log.\n"
    "Rejected payloads go to the dead-letter topic with their reason.\n"
    "Start as many workers (on as many machines) as the topic has\n"
    "partitions: they share the partitions, and a partition's detection\n"
    "state moves with it through Redis checkpoints.\n"
    "\n"
    "Kafka:\n" SW_KAFKA_OPTIONS_HELP
    "  -g, --group NAME         consumer group ([worker] group, env\n"
    "                           SURGEWATCH_GROUP; default surgewatch)\n"
    "      --dlq-topic NAME     dead-letter topic ([worker] dlq_topic, env\n"
    "                           SURGEWATCH_DLQ_TOPIC; default TOPIC.dlq)\n"
    "\n"
    "Redis:\n" SW_REDIS_OPTIONS_HELP "\n"
    "Worker:\n"
    "      --checkpoint-events N   checkpoint a partition after N events\n"
    "                           ([worker] checkpoint_events, env\n"
    "                           SURGEWATCH_CHECKPOINT_EVENTS; default 200000)\n"
    "      --checkpoint-interval DUR  ... or after DUR, whichever comes\n"
    "                           first ([worker] checkpoint_interval, env\n"
    "                           SURGEWATCH_CHECKPOINT_INTERVAL; default 5s)\n"
    "  -m, --metrics HOST:PORT  serve /metrics (Prometheus) and /healthz;\n"
    "                           'off' to disable ([worker] metrics, env\n"
    "                           SURGEWATCH_METRICS; default 127.0.0.1:9464)\n"
    "      --log-level LEVEL    error, warn, info or debug ([worker]\n"
    "                           log_level, env SURGEWATCH_LOG_LEVEL;\n"
    "                           default info)\n"
    "      --series-keep N      buckets of each section kept in Redis for\n"
    "                           the hub's web view, 0..100000; 0 writes\n"
    "                           none ([worker] series_keep, env\n"
    "                           SURGEWATCH_SERIES_KEEP; default 400)\n"
    "      --check-config       check every setting, print them with where\n"
    "                           each came from, and exit\n"
    "  -h, --help               this text\n"
    "\n"
    "The detection settings ([windows], [alerts], [detectors], [section\n"
    "...]) come from the config file, as for `surgewatch backtest`; the\n"
    "thresholds ([detectors], [alerts] levels, [section ...]) only on the\n"
    "first start of all: they are then stored in Redis, where `surgewatch\n"
    "ctl` changes them, and every worker applies a change within a second\n"
    "without a restart (docs/operators.md).\n"
    "Later sources win: defaults, config file, environment, flags.\n"
    "\n"
    "Log lines go to standard error: time, level, module, message with\n"
    "key=value fields.\n"
    "\n"
    "Exit status: 0 stopped by SIGTERM/SIGINT after checkpointing;\n"
    "1 a fatal Kafka error; 2 bad options or configuration.\n"
    "\n"
    "Example:\n"
    "  surgewatch run -c /etc/surgewatch.ini -b kafka1:9092,kafka2:9092 \\\n"
    "      -r redis://surgewatch:secret@redis:6379/0 -m 0.0.0.0:9464\n";

/* ---------------------------------------------------------- settings */

enum {
    S_GROUP,
    S_DLQ_TOPIC,
    S_CKPT_EVENTS,
    S_CKPT_INTERVAL,
    S_METRICS,
    S_LOG_LEVEL,
    S_SERIES_KEEP,
    S_REDIS_URL,
    S_REDIS_PREFIX,
    S_REDIS_TIMEOUT,
    S__COUNT
};

static const sw_opt_spec_t spec[S__COUNT] = {
    [S_GROUP] = {"worker", "group", "SURGEWATCH_GROUP", "--group",
                 "surgewatch"},
    [S_DLQ_TOPIC] = {"worker", "dlq_topic", "SURGEWATCH_DLQ_TOPIC",
                     "--dlq-topic", ""},
    [S_CKPT_EVENTS] = {"worker", "checkpoint_events",
                       "SURGEWATCH_CHECKPOINT_EVENTS", "--checkpoint-events",
                       "200000"},
    [S_CKPT_INTERVAL] = {"worker", "checkpoint_interval",
                         "SURGEWATCH_CHECKPOINT_INTERVAL",
                         "--checkpoint-interval", "5s"},
    [S_METRICS] = {"worker", "metrics", "SURGEWATCH_METRICS", "--metrics",
                   "127.0.0.1:9464"},
    [S_LOG_LEVEL] = {"worker", "log_level", "SURGEWATCH_LOG_LEVEL",
                     "--log-level", "info"},
    [S_SERIES_KEEP] = {"worker", "series_keep", "SURGEWATCH_SERIES_KEEP",
                       "--series-keep", "400"},
    SW_REDIS_OPT_SPECS,
};

typedef struct run_conf {
    sw_opt_value_t s[S__COUNT];
    char group[256];
    char dlq_topic[256];
    uint64_t ckpt_events;
    int64_t ckpt_interval_ms;
    int metrics_off;
    int log_level;
    uint32_t series_keep; /* 0: no series written */
    int redis_timeout_ms;
} run_conf_t;

static void bad(const run_conf_t *c, int i, const char *why)
{
    sw_opt_bad("run", &spec[i], &c->s[i], why);
}

static int name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") == n;
}

/* Reads [worker] and [redis] of the config file (unknown keys are
 * errors), then the environment; flags were stored before. Validates. */
static int resolve_run_conf(run_conf_t *c, const sw_config_t *cfg,
                            const char *flags[S__COUNT])
{
    if (sw_opts_resolve("run", spec, S__COUNT, c->s, cfg, flags))
        return -1;
    if (!name_ok(c->s[S_GROUP].value, 200)) {
        bad(c, S_GROUP,
            "not a group name (accepted: 1..200 of "
            "[A-Za-z0-9._-])");
        return -1;
    }
    snprintf(c->group, sizeof(c->group), "%s", c->s[S_GROUP].value);
    if (c->s[S_DLQ_TOPIC].value[0] && !name_ok(c->s[S_DLQ_TOPIC].value, 200)) {
        bad(c, S_DLQ_TOPIC,
            "not a topic name (accepted: 1..200 of "
            "[A-Za-z0-9._-]; empty = TOPIC.dlq)");
        return -1;
    }
    snprintf(c->dlq_topic, sizeof(c->dlq_topic), "%s", c->s[S_DLQ_TOPIC].value);
    unsigned long long ne;
    if (sw_parse_uint(c->s[S_CKPT_EVENTS].value, 1, 100000000, &ne)) {
        bad(c, S_CKPT_EVENTS, "not a whole number in 1..100000000");
        return -1;
    }
    c->ckpt_events = ne;
    if (sw_parse_duration(c->s[S_CKPT_INTERVAL].value, &c->ckpt_interval_ms) ||
        c->ckpt_interval_ms < 100 || c->ckpt_interval_ms > 3600000) {
        bad(c, S_CKPT_INTERVAL, "not a duration in 100ms..1h (e.g. 5s)");
        return -1;
    }
    c->metrics_off = strcmp(c->s[S_METRICS].value, "off") == 0;
    if (sw_log_level_parse(c->s[S_LOG_LEVEL].value, &c->log_level)) {
        bad(c, S_LOG_LEVEL,
            "unknown level (accepted: error, warn, info, "
            "debug)");
        return -1;
    }
    unsigned long long keep;
    if (sw_parse_uint(c->s[S_SERIES_KEEP].value, 0, 100000, &keep)) {
        bad(c, S_SERIES_KEEP,
            "not a whole number in 0..100000 (buckets kept per section; "
            "0 = no series written)");
        return -1;
    }
    c->series_keep = (uint32_t)keep;
    return sw_opts_redis_check("run", spec, c->s, S_REDIS_URL, S_REDIS_PREFIX,
                               S_REDIS_TIMEOUT, &c->redis_timeout_ms);
}

/* ------------------------------------------------------------ worker */

typedef struct part_state {
    int owned;     /* assigned to this worker */
    int ready;     /* its checkpoint is loaded and reading starts from it */
    int paused;    /* paused by us (Redis down, or waiting for its state) */
    int dirty;     /* state changed since the last checkpoint */
    int need_seek; /* a message came past next_offset: seek back to it */
    int64_t gap_checked;  /* next_offset when a seek there was done, or -2 */
    int64_t next_offset;  /* the next offset to process; -1: from the start */
    int64_t ckpt_offset;  /* the offset of the last checkpoint, or -1 */
    int64_t ckpt_wall_ms; /* when it was written (or loaded) */
    uint64_t since_ckpt;  /* events since the last checkpoint */
    int64_t last_event_ms;
    int64_t high; /* the end offset last seen, -1 unknown */
} part_state_t;

typedef struct metrics {
    uint64_t consumed, skipped;
    uint64_t rejected[SW_REASON__COUNT];
    uint64_t dlq_failed;
    uint64_t dlq_cut; /* dead letters whose payload was cut */
    uint64_t alerts[3];
    uint64_t alert_repeats; /* transitions the log already held */
    uint64_t ckpt_count, ckpt_failed, ckpt_load_errors;
    double ckpt_last_s, ckpt_sum_s;
    uint64_t ckpt_last_bytes;
    uint64_t redis_errors, kafka_errors;
    uint64_t rebalances;
    uint64_t offset_gaps;
    uint64_t seeks;
    uint64_t th_applied, th_refused, released;
    uint64_t series_written, series_dropped;
} metrics_t;

/* A section bucket waiting to be written to PREFIX:series:SECTION. */
typedef struct series_entry {
    int64_t start_ms;
    double expected, bound; /* NAN: none */
    uint32_t count;
    uint32_t sec; /* index into worker_t.ssec */
    uint8_t alarm;
} series_entry_t;

/* A section the series were written for, found by name through a hash
 * index. touched: written since the last trim and PUBLISH. */
typedef struct series_sec {
    char name[SW_SECTION_MAX + 1];
    uint8_t touched;
} series_sec_t;

typedef struct worker {
    run_conf_t conf;
    sw_settings_t settings; /* the live ones: the file's engine settings,
                             * the thresholds of Redis */
    /* live thresholds (config/sw_thresholds.h) */
    sw_threshold_set_t seed; /* the config file's, stored on first start */
    const char *config_path;
    sw_th_keys_t thk;
    uint64_t th_version;  /* applied; 0: the file's until Redis answers */
    uint64_t th_refused;  /* a version that could not be applied */
    int th_seeded;        /* the seed step ran on this connection */
    int engine_used;      /* partitions were assigned: keep its state */
    redisContext *th_sub; /* SUBSCRIBE PREFIX:thresholds */
    int64_t th_sub_retry_ms;
    char (*new_sections)[SW_SECTION_MAX + 1]; /* for PREFIX:sections */
    size_t nnew, new_cap;
    char operator[128];
    char topic[256];
    char redis_url_shown[600];
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    sw_producer_t *dlq;
    sw_engine_t *engine;
    sw_alert_log_t *log;
    sw_checkpoint_store_t *store;
    uint64_t log_repeats_seen; /* sw_alert_log_repeats of this connection */
    int dlq_broken;            /* a dead letter was lost: no checkpoints */
    int seek_wanted;           /* some partition has need_seek */
    int64_t dlq_warned_ms;
    int64_t last_commit_ms;
    sw_http_t *http;

    part_state_t *parts;
    size_t nparts;

    /* alert transitions not yet in the log */
    sw_alert_t *pending;
    size_t npending, pending_cap;
    int oom;

    /* section buckets not yet in PREFIX:series:*, a ring of up to
     * SERIES_MAX that grows by doubling; the sections they belong to */
    series_entry_t *series;
    size_t series_cap, series_head, series_len;
    series_sec_t *ssec;
    size_t nssec, ssec_cap;
    uint32_t *ssec_idx; /* open addressing: index + 1, 0 empty */
    size_t ssec_idx_cap;
    uint32_t ssec_last; /* the section of the last call, or UINT32_MAX */
    char *spub;         /* the PUBLISH message, reused */
    size_t spub_cap;
    int64_t series_warned_ms;

    int redis_down;
    int64_t redis_down_since, redis_retry_at;
    int redis_backoff;
    char redis_error[256];
    int64_t redis_logged_ms;

    int kafka_down;
    int64_t kafka_down_since;
    char kafka_error[256];
    int64_t kafka_logged_ms, kafka_probed_ms;
    int fatal;

    metrics_t m;
    int64_t started_ms;
    char *mbuf;
    size_t mcap;
} worker_t;

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
    (void)sig;
    stop_requested++;
}

static void part_reset(part_state_t *ps)
{
    memset(ps, 0, sizeof(*ps));
    ps->next_offset = ps->ckpt_offset = ps->high = -1;
    ps->gap_checked = -2;
}

static part_state_t *part_get(worker_t *w, int32_t p)
{
    if (p < 0)
        return NULL;
    if ((size_t)p >= w->nparts) {
        size_t n = (size_t)p + 1;
        part_state_t *np = realloc(w->parts, n * sizeof(*np));
        if (np == NULL)
            return NULL;
        for (size_t i = w->nparts; i < n; i++)
            part_reset(&np[i]);
        w->parts = np;
        w->nparts = n;
    }
    return &w->parts[p];
}

static void on_alert(void *opaque, const sw_alert_t *a)
{
    worker_t *w = opaque;
    if (w->npending == w->pending_cap) {
        size_t cap = w->pending_cap ? w->pending_cap * 2 : 1024;
        sw_alert_t *np = realloc(w->pending, cap * sizeof(*np));
        if (np == NULL) {
            w->oom = 1; /* reported and fatal: an alert would be lost */
            return;
        }
        w->pending = np;
        w->pending_cap = cap;
    }
    w->pending[w->npending++] = *a;
}

/* A section's first window: remembered for PREFIX:sections (what `ctl`
 * accepts), written at the next tick. */
static void on_section(void *opaque, const char *section, size_t len)
{
    worker_t *w = opaque;
    if (w->nnew == w->new_cap) {
        size_t cap = w->new_cap ? w->new_cap * 2 : 64;
        void *nv = realloc(w->new_sections, cap * sizeof(*w->new_sections));
        if (nv == NULL)
            return; /* only ctl's list of known sections misses it */
        w->new_sections = nv;
        w->new_cap = cap;
    }
    memcpy(w->new_sections[w->nnew], section, len);
    w->new_sections[w->nnew][len] = '\0';
    w->nnew++;
}

/* ------------------------------------------------------------ series */

static uint64_t name_hash(const char *s, size_t len)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * UINT64_C(1099511628211);
    return h;
}

/* Rebuilds the hash index of the series sections with cap slots (a power
 * of two). 0, or -1 out of memory (the old one stays). */
static int ssec_reindex(worker_t *w, size_t cap)
{
    uint32_t *idx = calloc(cap, sizeof(*idx));
    if (idx == NULL)
        return -1;
    for (size_t i = 0; i < w->nssec; i++) {
        const char *n = w->ssec[i].name;
        size_t j = name_hash(n, strlen(n)) & (cap - 1);
        while (idx[j])
            j = (j + 1) & (cap - 1);
        idx[j] = (uint32_t)i + 1;
    }
    free(w->ssec_idx);
    w->ssec_idx = idx;
    w->ssec_idx_cap = cap;
    return 0;
}

/* The index of a section among the series sections, added when new
 * (the only allocation, once per section). UINT32_MAX: out of memory. */
static uint32_t ssec_find(worker_t *w, const char *name, size_t len)
{
    uint32_t last = w->ssec_last;
    if (last < w->nssec && strlen(w->ssec[last].name) == len &&
        memcmp(w->ssec[last].name, name, len) == 0)
        return last;
    if (len > SW_SECTION_MAX)
        return UINT32_MAX;
    if ((w->nssec + 1) * 2 > w->ssec_idx_cap &&
        ssec_reindex(w, w->ssec_idx_cap ? w->ssec_idx_cap * 2 : 64))
        return UINT32_MAX;
    size_t j = name_hash(name, len) & (w->ssec_idx_cap - 1);
    for (; w->ssec_idx[j]; j = (j + 1) & (w->ssec_idx_cap - 1)) {
        uint32_t i = w->ssec_idx[j] - 1;
        if (strlen(w->ssec[i].name) == len &&
            memcmp(w->ssec[i].name, name, len) == 0)
            return w->ssec_last = i;
    }
    if (w->nssec == w->ssec_cap) {
        size_t cap = w->ssec_cap ? w->ssec_cap * 2 : 64;
        series_sec_t *nv = realloc(w->ssec, cap * sizeof(*nv));
        if (nv == NULL)
            return UINT32_MAX;
        w->ssec = nv;
        w->ssec_cap = cap;
    }
    uint32_t i = (uint32_t)w->nssec++;
    memcpy(w->ssec[i].name, name, len);
    w->ssec[i].name[len] = '\0';
    w->ssec[i].touched = 0;
    w->ssec_idx[j] = i + 1;
    return w->ssec_last = i;
}

/* The ring of waiting buckets has no room: grow it (doubling, up to
 * SERIES_MAX), else let the oldest go. */
static void series_make_room(worker_t *w)
{
    if (w->series_cap < SERIES_MAX) {
        size_t cap = w->series_cap ? w->series_cap * 2 : 1024;
        if (cap > SERIES_MAX)
            cap = SERIES_MAX;
        series_entry_t *nv = malloc(cap * sizeof(*nv));
        if (nv != NULL) {
            for (size_t i = 0; i < w->series_len; i++)
                nv[i] = w->series[(w->series_head + i) % w->series_cap];
            free(w->series);
            w->series = nv;
            w->series_cap = cap;
            w->series_head = 0;
            return;
        }
    }
    if (w->series_len == 0)
        return; /* no memory for even one: the caller drops its bucket */
    /* Redis has been away for a long while: the oldest bucket goes (the
     * newest tell the hub more) */
    w->series_head = (w->series_head + 1) % w->series_cap;
    w->series_len--;
    w->m.series_dropped++;
}

/* A section bucket was evaluated (again): queued for the next tick. Only
 * a new section or a growth of the ring allocates. */
static void on_bucket(void *opaque, const sw_bucket_t *b)
{
    worker_t *w = opaque;
    uint32_t sec = ssec_find(w, b->section, b->section_len);
    if (sec == UINT32_MAX) {
        w->m.series_dropped++;
        return;
    }
    if (w->series_len == w->series_cap)
        series_make_room(w);
    if (w->series_len == w->series_cap) {
        w->m.series_dropped++;
        return;
    }
    series_entry_t *e =
        &w->series[(w->series_head + w->series_len) % w->series_cap];
    w->series_len++;
    e->start_ms = b->start_ms;
    e->count = b->count;
    e->expected = b->expected;
    e->bound = b->bound;
    e->alarm = (uint8_t)(b->alarm != 0);
    e->sec = sec;
}

/* -------------------------------------------------------------- Kafka */

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque)
{
    worker_t *w = opaque;
    w->m.kafka_errors++;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char fe[256];
        rd_kafka_fatal_error(rk, fe, sizeof(fe));
        SW_ERROR(MOD, "fatal Kafka error: %s", fe);
        w->fatal = 1;
        return;
    }
    int64_t now = sw_clock_now_ms();
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !w->kafka_down) {
        w->kafka_down = 1;
        w->kafka_down_since = now;
    }
    snprintf(w->kafka_error, sizeof(w->kafka_error), "%s: %s",
             rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    /* librdkafka retries by itself; say so at most every 10 s */
    if (now - w->kafka_logged_ms >= 10000) {
        w->kafka_logged_ms = now;
        SW_WARN(MOD, "kafka error=%s reason=\"%s\" (librdkafka retries)",
                rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    }
}

static rd_kafka_topic_partition_list_t *owned_list(worker_t *w)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)w->nparts + 1);
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i].owned)
            rd_kafka_topic_partition_list_add(l, w->topic, (int32_t)i);
    return l;
}

/* The partitions of `parts` that we hold paused (or know nothing of). */
static rd_kafka_topic_partition_list_t *
paused_among(worker_t *w, const rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if ((size_t)p >= w->nparts || w->parts[p].paused)
            rd_kafka_topic_partition_list_add(l, w->topic, p);
    }
    return l;
}

/* Seeks the partitions of l to their offsets. Returns -1 when nothing was
 * sought (said in a log line); else 0, each element's err telling whether
 * that partition was (a fetcher not started yet refuses). */
static int seek_list(worker_t *w, rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_error_t *e = rd_kafka_seek_partitions(w->rk, l, 5000);
    if (e == NULL)
        return 0;
    SW_WARN(MOD, "seek error=\"%s\"; retrying", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return -1;
}

static void commit_offsets(worker_t *w, int async)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)w->nparts + 1);
    for (size_t i = 0; i < w->nparts; i++) {
        part_state_t *ps = &w->parts[i];
        if (ps->ckpt_offset < 0)
            continue;
        rd_kafka_topic_partition_list_add(l, w->topic, (int32_t)i)->offset =
            ps->ckpt_offset;
    }
    if (l->cnt) {
        rd_kafka_resp_err_t e = rd_kafka_commit(w->rk, l, async);
        if (e)
            SW_DEBUG(MOD, "commit error=%s", rd_kafka_err2name(e));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* -------------------------------------------------------------- Redis */

static void redis_close(worker_t *w)
{
    w->log_repeats_seen = 0;
    w->th_seeded = 0;
    if (w->th_sub) {
        redisFree(w->th_sub);
        w->th_sub = NULL;
    }
    sw_alert_log_destroy(&w->log);
    sw_checkpoint_store_destroy(&w->store);
}

static int redis_open(worker_t *w, char *err, size_t errsz)
{
    if (w->log == NULL)
        w->log = sw_alert_log_new(w->conf.s[S_REDIS_URL].value,
                                  w->conf.s[S_REDIS_PREFIX].value,
                                  w->conf.redis_timeout_ms, err, errsz);
    if (w->log && w->store == NULL)
        w->store = sw_checkpoint_store_new(
            w->conf.s[S_REDIS_URL].value, w->conf.s[S_REDIS_PREFIX].value,
            w->conf.redis_timeout_ms, err, errsz);
    if (w->log == NULL || w->store == NULL) {
        redis_close(w);
        return -1;
    }
    return 0;
}

static void pause_all(worker_t *w)
{
    rd_kafka_topic_partition_list_t *l = owned_list(w);
    if (l->cnt)
        rd_kafka_pause_partitions(w->rk, l);
    for (int i = 0; i < l->cnt; i++)
        w->parts[l->elems[i].partition].paused = 1;
    rd_kafka_topic_partition_list_destroy(l);
}

/* Redis failed: close the connections, pause reading, retry later. */
static void redis_failed(worker_t *w, const char *what, const char *err)
{
    int64_t now = sw_clock_now_ms();
    w->m.redis_errors++;
    snprintf(w->redis_error, sizeof(w->redis_error), "%s: %s", what, err);
    redis_close(w);
    if (!w->redis_down) {
        w->redis_down = 1;
        w->redis_down_since = now;
        w->redis_backoff = BACKOFF_MIN_MS;
        w->redis_logged_ms = now;
        SW_WARN(MOD,
                "redis unreachable url=%s error=\"%s: %s\"; pausing "
                "consumption, retrying",
                w->redis_url_shown, what, err);
    } else {
        w->redis_backoff *= 2;
        if (w->redis_backoff > BACKOFF_MAX_MS)
            w->redis_backoff = BACKOFF_MAX_MS;
        if (now - w->redis_logged_ms >= 30000) {
            w->redis_logged_ms = now;
            SW_WARN(MOD, "redis still unreachable for %llds error=\"%s: %s\"",
                    (long long)((now - w->redis_down_since) / 1000), what, err);
        }
    }
    w->redis_retry_at = now + w->redis_backoff;
    pause_all(w);
}

/* Writes the pending transitions to the alert log. 0, or -1 (Redis). */
static int flush_alerts(worker_t *w)
{
    if (w->npending == 0)
        return 0;
    if (w->redis_down || w->log == NULL)
        return -1;
    char err[256];
    for (size_t off = 0; off < w->npending; off += ALERT_CHUNK) {
        size_t n = w->npending - off;
        if (n > ALERT_CHUNK)
            n = ALERT_CHUNK;
        if (sw_alert_log_write(w->log, w->pending + off, n, NULL, err,
                               sizeof(err)) != 0) {
            /* the chunks before are written; writing them again is
             * harmless, so keep it simple: keep them all */
            redis_failed(w, "alert log", err);
            return -1;
        }
    }
    w->m.alert_repeats += sw_alert_log_repeats(w->log) - w->log_repeats_seen;
    w->log_repeats_seen = sw_alert_log_repeats(w->log);
    for (size_t i = 0; i < w->npending; i++)
        w->m.alerts[w->pending[i].state]++;
    w->npending = 0;
    return 0;
}

/* --------------------------------------------------------- checkpoints */

/* Saves partition p's state with its offset. 0 saved or nothing to save,
 * -1 not saved (it will be tried again). */
static int checkpoint(worker_t *w, int32_t p)
{
    part_state_t *ps = &w->parts[p];
    if (!ps->owned || !ps->ready || !ps->dirty || ps->next_offset < 0)
        return 0;
    /* an alert lost to memory exhaustion, or a dead letter lost: never
     * move the offset past it (a restart replays from here) */
    if (w->oom || w->dlq_broken || w->redis_down || flush_alerts(w))
        return -1;
    int64_t t0 = sw_clock_mono_ns();
    size_t len;
    void *state = sw_engine_save(w->engine, p, &len);
    if (state == NULL) {
        w->m.ckpt_failed++;
        SW_ERROR(MOD, "checkpoint partition=%d error=\"out of memory\"", p);
        return -1;
    }
    char err[256];
    int64_t now = sw_clock_now_ms();
    int rc = sw_checkpoint_save(w->store, w->topic, p, ps->next_offset, now,
                                state, len, err, sizeof(err));
    free(state);
    if (rc != 0) {
        w->m.ckpt_failed++;
        redis_failed(w, "checkpoint", err);
        return -1;
    }
    double secs = (double)(sw_clock_mono_ns() - t0) / 1e9;
    w->m.ckpt_count++;
    w->m.ckpt_last_s = secs;
    w->m.ckpt_sum_s += secs;
    w->m.ckpt_last_bytes = len;
    ps->ckpt_offset = ps->next_offset;
    ps->ckpt_wall_ms = now;
    ps->dirty = 0;
    ps->since_ckpt = 0;
    SW_DEBUG(MOD, "checkpoint partition=%d offset=%lld bytes=%zu ms=%.1f", p,
             (long long)ps->ckpt_offset, len, secs * 1e3);
    return 0;
}

/* Every dead letter queued so far acknowledged by the broker, waiting up to
 * timeout_ms: 1 yes, 0 no (checkpoints wait: they must not move an offset
 * past a dead letter that is not stored). A dead letter that failed for
 * good stops checkpoints until a restart replays it. */
static int dlq_settled(worker_t *w, int timeout_ms)
{
    const sw_producer_stats_t *ds = sw_producer_stats(w->dlq);
    if (ds->queued != ds->delivered + ds->failed)
        sw_producer_flush(w->dlq, timeout_ms);
    if (!w->dlq_broken && (ds->failed || w->m.dlq_failed)) {
        w->dlq_broken = 1;
        SW_ERROR(MOD,
                 "dead letters lost failed=%llu error=\"%s\"; no more "
                 "checkpoints: fix the dead-letter topic and restart the "
                 "worker, which replays from the last checkpoint",
                 (unsigned long long)(ds->failed + w->m.dlq_failed),
                 ds->last_error);
    }
    int64_t now = sw_clock_now_ms();
    if (ds->queued != ds->delivered + ds->failed) {
        w->m.ckpt_failed++;
        if (now - w->dlq_warned_ms < 10000)
            return 0;
        w->dlq_warned_ms = now;
        SW_WARN(MOD,
                "checkpoints wait reason=\"%llu dead letters not yet "
                "acknowledged by the broker\"",
                (unsigned long long)(ds->queued - ds->delivered - ds->failed));
        return 0;
    }
    return !w->dlq_broken;
}

/* A checkpoint of ps is due: changed, and N events or T ms since the
 * last one (or any change, when forced). */
static int ckpt_due(const worker_t *w, const part_state_t *ps, int force,
                    int64_t now)
{
    return ps->owned && ps->ready && ps->dirty &&
           (force || ps->since_ckpt >= w->conf.ckpt_events ||
            now - ps->ckpt_wall_ms >= w->conf.ckpt_interval_ms);
}

static void checkpoint_all(worker_t *w, int force)
{
    int64_t now = sw_clock_now_ms();
    int any = 0, due = 0;
    for (size_t i = 0; i < w->nparts; i++)
        due |= ckpt_due(w, &w->parts[i], force, now);
    if (!due || w->redis_down || !dlq_settled(w, force ? 10000 : 200))
        return;
    for (size_t i = 0; i < w->nparts && !w->redis_down; i++)
        if (ckpt_due(w, &w->parts[i], force, now) &&
            checkpoint(w, (int32_t)i) == 0)
            any = 1;
    /* The group's committed offsets are for the usual Kafka tools only
     * (the resume point is the checkpoint), so they are committed seldom:
     * librdkafka 2.0.2 declares the assignment lost when a commit meets a
     * rebalance (ILLEGAL_GENERATION, librdkafka#4059), and a lost
     * assignment costs a replay. */
    if (any && (force || now - w->last_commit_ms >= 30000)) {
        w->last_commit_ms = now;
        commit_offsets(w, !force);
    }
}

/* load_state(): Redis is unreachable, the partition waits */
#define LOAD_WAIT INT64_MIN

/* Loads partition p's checkpoint into the engine. Returns the offset to
 * start from (>= 0, or RD_KAFKA_OFFSET_BEGINNING), or LOAD_WAIT. */
static int64_t load_state(worker_t *w, int32_t p)
{
    part_state_t *ps = &w->parts[p];
    char err[256];
    if (w->redis_down || w->store == NULL)
        return LOAD_WAIT;
    int64_t offset, saved;
    void *state = NULL;
    size_t len;
    int rc = sw_checkpoint_load(w->store, w->topic, p, &offset, &saved, &state,
                                &len, err, sizeof(err));
    if (rc == SW_ERR_REDIS) {
        redis_failed(w, "checkpoint load", err);
        return LOAD_WAIT;
    }
    if (rc == SW_ERR_NOMEM) {
        SW_ERROR(MOD, "checkpoint load partition=%d error=\"%s\"", p, err);
        w->fatal = 1;
        return LOAD_WAIT;
    }
    int64_t now = sw_clock_now_ms();
    if (rc == 1 &&
        sw_engine_load(w->engine, p, state, len, err, sizeof(err)) == 0) {
        free(state);
        ps->next_offset = ps->ckpt_offset = offset;
        ps->ckpt_wall_ms = now;
        SW_INFO(MOD,
                "partition loaded topic=%s partition=%d offset=%lld "
                "checkpoint_age_s=%lld bytes=%zu",
                w->topic, p, (long long)offset,
                (long long)((now - saved) / 1000), len);
        return offset;
    }
    free(state);
    sw_engine_drop(w->engine, p);
    if (rc == 1 || rc == SW_ERR_PARSE) {
        /* a checkpoint this build cannot use (another bucket size, a
         * corrupt value): start over from the oldest event kept */
        w->m.ckpt_load_errors++;
        SW_ERROR(MOD,
                 "checkpoint unusable topic=%s partition=%d error=\"%s\"; "
                 "reading the partition from its beginning",
                 w->topic, p, err);
    } else {
        SW_INFO(MOD,
                "partition has no checkpoint topic=%s partition=%d; reading "
                "from its beginning",
                w->topic, p);
    }
    ps->next_offset = ps->ckpt_offset = -1;
    ps->ckpt_wall_ms = now;
    return RD_KAFKA_OFFSET_BEGINNING;
}

/* Partitions waiting for their state, and partitions paused while Redis
 * was down: load what is missing, seek each to its next offset, resume. */
static void resume_all(worker_t *w)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)w->nparts + 1);
    for (size_t i = 0; i < w->nparts && !w->redis_down; i++) {
        part_state_t *ps = &w->parts[i];
        if (!ps->owned || !ps->paused)
            continue;
        if (!ps->ready) {
            int64_t off = load_state(w, (int32_t)i);
            if (off == LOAD_WAIT)
                break;
            ps->ready = 1;
        }
        rd_kafka_topic_partition_list_add(l, w->topic, (int32_t)i)->offset =
            ps->next_offset >= 0 ? ps->next_offset : RD_KAFKA_OFFSET_BEGINNING;
    }
    /* nothing sought: all stay paused, tried again later */
    if (!w->redis_down && l->cnt && seek_list(w, l) == 0) {
        rd_kafka_topic_partition_list_t *go =
            rd_kafka_topic_partition_list_new(l->cnt);
        for (int i = 0; i < l->cnt; i++) {
            if (l->elems[i].err) { /* e.g. its fetcher not started yet */
                SW_DEBUG(MOD, "seek partition=%d error=%s; retrying",
                         l->elems[i].partition,
                         rd_kafka_err2name(l->elems[i].err));
                continue;
            }
            rd_kafka_topic_partition_list_add(go, w->topic,
                                              l->elems[i].partition);
            /* (not gap_checked: a resume may still skip offsets, and the
             * seek-back must then happen once more) */
            w->parts[l->elems[i].partition].paused = 0;
        }
        if (go->cnt)
            rd_kafka_resume_partitions(w->rk, go);
        rd_kafka_topic_partition_list_destroy(go);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Partitions where a message came past next_offset: seek them back to it.
 * One that cannot be sought yet keeps need_seek and is tried again. */
static void seek_pending(worker_t *w)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)w->nparts + 1);
    for (size_t i = 0; i < w->nparts; i++) {
        part_state_t *ps = &w->parts[i];
        if (ps->owned && ps->need_seek)
            rd_kafka_topic_partition_list_add(l, w->topic, (int32_t)i)->offset =
                ps->next_offset;
    }
    int failed = l->cnt && seek_list(w, l) != 0;
    w->seek_wanted = failed;
    for (int i = 0; i < l->cnt && !failed; i++) {
        part_state_t *ps = &w->parts[l->elems[i].partition];
        if (l->elems[i].err) {
            w->seek_wanted = 1;
            continue;
        }
        ps->need_seek = 0;
        ps->gap_checked = ps->next_offset;
        w->m.seeks++;
        SW_INFO(MOD,
                "seek topic=%s partition=%d offset=%lld (messages came from "
                "further on)",
                w->topic, l->elems[i].partition, (long long)ps->next_offset);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static int any_paused(const worker_t *w)
{
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i].owned && w->parts[i].paused)
            return 1;
    return 0;
}

/* ------------------------------------------------------ live thresholds */

/* Swaps in new detector profiles with sw_engine_set_profiles, which keeps
 * every window. Only when they need more history than the engine's ring
 * holds, and no partition was ever assigned, a new engine sized for them
 * replaces it: the ring size is part of every checkpoint, so it must not
 * shrink with a live change and make the checkpoints unusable at the next
 * restart. 0, or -1 with err set (the old ones stay). */
static int th_apply(worker_t *w, sw_settings_t *ns, char *err, size_t errsz)
{
    if (sw_engine_set_profiles(w->engine, &ns->profiles, err, errsz)) {
        if (w->engine_used)
            return -1;
        sw_engine_t *e = sw_engine_new(&ns->engine, &ns->profiles, err, errsz);
        if (e == NULL)
            return -1;
        sw_engine_destroy(&w->engine);
        w->engine = e;
    }
    sw_settings_deinit(&w->settings);
    w->settings.profiles = ns->profiles;
    ns->profiles.v = NULL;
    ns->profiles.n = 0;
    return 0;
}

/* Seeds the thresholds on first start, then applies the stored version
 * when it is not the one applied. Returns -1 when Redis failed (handled). */
static int th_sync(worker_t *w)
{
    if (w->redis_down || w->log == NULL)
        return -1;
    redisContext *c = sw_alert_log_redis(w->log);
    char err[512];
    if (!w->th_seeded) {
        int seeded = 0;
        const char *src = w->config_path ? w->config_path : "built-in defaults";
        if (sw_thresholds_seed(c, &w->thk, &w->seed, w->operator, src, &seeded,
                               err, sizeof(err))) {
            redis_failed(w, "thresholds", err);
            return -1;
        }
        w->th_seeded = 1;
        if (seeded)
            SW_INFO(MOD,
                    "thresholds stored in Redis for the first time from=%s "
                    "settings=%zu version=1; from now on Redis holds them "
                    "(surgewatch ctl)",
                    src, w->seed.n);
    }
    uint64_t v;
    if (sw_thresholds_version(c, &w->thk, &v, err, sizeof(err))) {
        redis_failed(w, "thresholds", err);
        return -1;
    }
    if (v == w->th_version || v == w->th_refused)
        return 0;
    sw_threshold_set_t set = {0};
    size_t bad = 0;
    if (sw_thresholds_read(c, &w->thk, &set, &bad, err, sizeof(err))) {
        sw_threshold_set_deinit(&set);
        redis_failed(w, "thresholds", err);
        return -1;
    }
    if (bad)
        SW_WARN(MOD, "thresholds: skipped %zu malformed fields of %s", bad,
                w->thk.hash);
    sw_settings_t ns;
    uint64_t from = w->th_version;
    if (sw_thresholds_build(&w->settings, &set, &ns, err, sizeof(err)) ||
        th_apply(w, &ns, err, sizeof(err))) {
        w->th_refused = set.version;
        w->m.th_refused++;
        SW_ERROR(MOD,
                 "thresholds version=%" PRIu64 " not applied: %s; keeping "
                 "version=%" PRIu64,
                 set.version, err, from);
    } else {
        w->th_version = set.version;
        w->th_refused = 0;
        w->m.th_applied++;
        SW_INFO(MOD,
                "thresholds version=%" PRIu64 " applied settings=%zu "
                "previous=%" PRIu64 "%s",
                set.version, set.n, from,
                w->engine_used ? " (windows kept)" : "");
    }
    sw_settings_deinit(&ns);
    sw_threshold_set_deinit(&set);
    return 0;
}

/* The notification channel: read without blocking; any message means
 * "a new version" (th_sync reads which). A lost connection is reopened
 * later; the periodic version check covers the meantime. */
static void th_listen(worker_t *w, int64_t now)
{
    if (w->redis_down)
        return;
    char err[256];
    if (w->th_sub == NULL) {
        if (now < w->th_sub_retry_ms)
            return;
        w->th_sub_retry_ms = now + 5000;
        redisContext *c =
            sw_redis_connect(w->conf.s[S_REDIS_URL].value,
                             w->conf.redis_timeout_ms, err, sizeof(err));
        if (c == NULL)
            return;
        redisReply *r = redisCommand(c, "SUBSCRIBE %s", w->thk.channel);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            SW_WARN(MOD, "SUBSCRIBE %s failed: %s", w->thk.channel,
                    r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
            if (r)
                freeReplyObject(r);
            redisFree(c);
            return;
        }
        freeReplyObject(r);
        w->th_sub = c;
        th_sync(w); /* a change made before the subscription */
        return;
    }
    struct pollfd pfd = {w->th_sub->fd, POLLIN, 0};
    if (poll(&pfd, 1, 0) <= 0)
        return;
    int notified = 0;
    if (redisBufferRead(w->th_sub) == REDIS_OK) {
        void *r = NULL;
        while (redisGetReplyFromReader(w->th_sub, &r) == REDIS_OK && r) {
            notified = 1;
            freeReplyObject(r);
            r = NULL;
        }
    }
    if (w->th_sub->err) {
        redisFree(w->th_sub);
        w->th_sub = NULL;
    }
    if (notified)
        th_sync(w);
}

/* A figure of a series member: "%.6g", or "-" for none. */
static const char *series_num(double v, const char *fmt, char *buf, size_t cap)
{
    if (isnan(v))
        return "-";
    snprintf(buf, cap, fmt, v);
    return buf;
}

/* A refused series command (an error reply, e.g. NOPERM from an ACL that
 * lacks the series keys): logged at most once a minute; detection goes
 * on. */
static void series_refused(worker_t *w, const char *what, const char *err)
{
    int64_t now = sw_clock_now_ms();
    if (w->series_warned_ms && now - w->series_warned_ms < 60000)
        return;
    w->series_warned_ms = now;
    SW_WARN(MOD,
            "series write refused command=%s error=\"%s\" dropped_so_far=%llu "
            "(the hub's web view misses these buckets; detection goes on)",
            what, err, (unsigned long long)w->m.series_dropped);
}

/* Reads n pipelined replies. Returns the number of error replies among
 * them (the last one's text in err), or -1 when the connection failed
 * (handled: redis_failed). ok[i], when ok is not NULL, tells which
 * succeeded. */
static int series_replies(worker_t *w, redisContext *c, size_t n, uint8_t *ok,
                          char *err, size_t errsz)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL) {
            char e[256]; /* redis_failed frees c: copy its message first */
            snprintf(e, sizeof(e), "%s", c->errstr);
            redis_failed(w, "series", e);
            return -1;
        }
        int good = r->type != REDIS_REPLY_ERROR;
        if (!good) {
            bad++;
            snprintf(err, errsz, "%s", r->str ? r->str : "error");
        }
        if (ok)
            ok[i] = (uint8_t)good;
        freeReplyObject(r);
    }
    return bad;
}

/* Writes the waiting section buckets to PREFIX:series:SECTION (one sorted
 * set per section: score the bucket start, member "START COUNT EXPECTED
 * BOUND ALARM"; a bucket written again replaces its member), trims each
 * set written to the last series_keep buckets, records bucket_ms in
 * PREFIX:series:meta and publishes the sections written on PREFIX:series.
 * Pipelined, SERIES_CHUNK buckets a round trip. 0, or -1 when Redis failed
 * (handled; what is not written waits for the next time). */
static int series_flush(worker_t *w)
{
    if (w->conf.series_keep == 0 || w->redis_down || w->log == NULL)
        return 0;
    redisContext *c = sw_alert_log_redis(w->log);
    const char *pfx = w->conf.s[S_REDIS_PREFIX].value;
    char err[256] = "";
    uint8_t ok[2 * SERIES_CHUNK];
    int touched = 0;
    while (w->series_len > 0) {
        size_t n = w->series_len < SERIES_CHUNK ? w->series_len : SERIES_CHUNK;
        for (size_t i = 0; i < n; i++) {
            const series_entry_t *e =
                &w->series[(w->series_head + i) % w->series_cap];
            char member[160], eb[32], bb[32];
            /* the bound is a whole count: %.10g keeps it exact */
            snprintf(member, sizeof(member), "%lld %u %s %s %d",
                     (long long)e->start_ms, e->count,
                     series_num(e->expected, "%.6g", eb, sizeof(eb)),
                     series_num(e->bound, "%.10g", bb, sizeof(bb)), e->alarm);
            const char *sec = w->ssec[e->sec].name;
            if (redisAppendCommand(c, "ZREMRANGEBYSCORE %s:series:%s %lld %lld",
                                   pfx, sec, (long long)e->start_ms,
                                   (long long)e->start_ms) != REDIS_OK ||
                redisAppendCommand(c, "ZADD %s:series:%s %lld %s", pfx, sec,
                                   (long long)e->start_ms,
                                   member) != REDIS_OK) {
                redis_failed(w, "series", "out of memory");
                return -1;
            }
        }
        int bad = series_replies(w, c, 2 * n, ok, err, sizeof(err));
        if (bad < 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            const series_entry_t *e =
                &w->series[(w->series_head + i) % w->series_cap];
            if (ok[2 * i + 1]) {
                w->m.series_written++;
                w->ssec[e->sec].touched = 1;
                touched = 1;
            } else {
                w->m.series_dropped++;
            }
        }
        if (bad)
            series_refused(w, "ZADD", err);
        w->series_head = (w->series_head + n) % w->series_cap;
        w->series_len -= n;
    }
    if (w->series_len == 0)
        w->series_head = 0;
    for (size_t i = 0; i < w->nssec && !touched; i++)
        touched = w->ssec[i].touched; /* left from a failed round */
    if (!touched)
        return 0;
    /* trim what was written, then tell the hubs which sections changed */
    size_t ncmd = 0, len = 0;
    for (size_t i = 0; i < w->nssec; i++) {
        if (!w->ssec[i].touched)
            continue;
        const char *sec = w->ssec[i].name;
        size_t need = len + strlen(sec) + 2;
        if (need > w->spub_cap) {
            size_t cap = w->spub_cap ? w->spub_cap : 1024;
            while (cap < need)
                cap *= 2;
            char *nb = realloc(w->spub, cap);
            if (nb == NULL) {
                redis_failed(w, "series", "out of memory");
                return -1;
            }
            w->spub = nb;
            w->spub_cap = cap;
        }
        len += (size_t)sprintf(w->spub + len, "%s%s", len ? " " : "", sec);
        if (redisAppendCommand(c, "ZREMRANGEBYRANK %s:series:%s 0 %lld", pfx,
                               sec, -(long long)w->conf.series_keep - 1) !=
            REDIS_OK) {
            redis_failed(w, "series", "out of memory");
            return -1;
        }
        ncmd++;
    }
    if (redisAppendCommand(c, "HSET %s:series:meta bucket_ms %lld", pfx,
                           (long long)w->settings.engine.bucket_ms) !=
            REDIS_OK ||
        redisAppendCommand(c, "PUBLISH %s:series %s", pfx, w->spub) !=
            REDIS_OK) {
        redis_failed(w, "series", "out of memory");
        return -1;
    }
    ncmd += 2;
    int bad = series_replies(w, c, ncmd, NULL, err, sizeof(err));
    if (bad < 0)
        return -1;
    if (bad)
        series_refused(w, "ZREMRANGEBYRANK/HSET/PUBLISH", err);
    for (size_t i = 0; i < w->nssec; i++)
        w->ssec[i].touched = 0;
    return 0;
}

/* Once a second: the sections first seen, the silences whose time is up
 * (their held alerts are published), the thresholds version, the series
 * of the web view. */
static void redis_tick(worker_t *w)
{
    if (w->redis_down || w->log == NULL)
        return;
    redisContext *c = sw_alert_log_redis(w->log);
    char err[256];
    if (w->nnew) {
        for (size_t i = 0; i < w->nnew; i++)
            redisAppendCommand(c, "SADD %s %s", w->thk.sections,
                               w->new_sections[i]);
        for (size_t i = 0; i < w->nnew; i++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL) {
                /* redis_failed frees c: copy its message first */
                snprintf(err, sizeof(err), "%s", c->errstr);
                redis_failed(w, "sections", err);
                return;
            }
            freeReplyObject(r);
        }
        w->nnew = 0;
    }
    int ended = 0, published = 0;
    if (sw_alert_log_release(w->log, NULL, NULL, NULL, &ended, &published, err,
                             sizeof(err))) {
        redis_failed(w, "silences", err);
        return;
    }
    if (ended || published) {
        w->m.released += (uint64_t)published;
        SW_INFO(MOD, "silences ended=%d held alerts published=%d", ended,
                published);
    }
    th_sync(w);
    series_flush(w);
}

static void redis_retry(worker_t *w)
{
    int64_t now = sw_clock_now_ms();
    if (now < w->redis_retry_at)
        return;
    char err[256];
    if (redis_open(w, err, sizeof(err)) != 0) {
        redis_failed(w, "connect", err);
        return;
    }
    w->redis_down = 0;
    if (flush_alerts(w) != 0)
        return;
    SW_INFO(MOD, "redis reachable again url=%s after_s=%lld; resuming",
            w->redis_url_shown,
            (long long)((now - w->redis_down_since) / 1000));
    resume_all(w);
}

/* ---------------------------------------------------------- rebalance */

static void on_assign(worker_t *w, rd_kafka_topic_partition_list_t *parts)
{
    int64_t now = sw_clock_now_ms();
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        part_state_t *ps = part_get(w, tp->partition);
        if (ps == NULL) {
            SW_ERROR(MOD, "out of memory on assignment");
            w->fatal = 1;
            return;
        }
        part_reset(ps);
        ps->owned = 1;
        w->engine_used = 1;
        ps->last_event_ms = now;
        int64_t off = load_state(w, tp->partition);
        if (off == LOAD_WAIT) {
            /* Redis is down: read nothing until the state is loaded */
            ps->paused = 1;
            SW_WARN(MOD,
                    "partition assigned topic=%s partition=%d; waiting for "
                    "Redis to load its checkpoint",
                    w->topic, tp->partition);
        } else {
            ps->ready = 1;
            tp->offset = off;
        }
    }
}

static void on_revoke(worker_t *w, rd_kafka_topic_partition_list_t *parts,
                      int lost)
{
    int can_save = 0;
    if (!lost) {
        flush_alerts(w);
        can_save = dlq_settled(w, 5000);
    }
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        part_state_t *ps = part_get(w, p);
        if (ps == NULL || !ps->owned)
            continue;
        const char *saved = "no (the next owner replays from the last "
                            "checkpoint)";
        if (!ps->dirty || ps->next_offset < 0)
            saved = "unchanged";
        else if (can_save && checkpoint(w, p) == 0)
            saved = "yes"; /* no offset commit here: see checkpoint_all */
        SW_INFO(MOD,
                "partition %s topic=%s partition=%d offset=%lld "
                "checkpointed=%s",
                lost ? "lost" : "revoked", w->topic, p,
                (long long)ps->next_offset, saved);
        sw_engine_drop(w->engine, p);
        part_reset(ps);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    worker_t *w = opaque;
    int cooperative =
        strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    w->m.rebalances++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(w, parts);
        if (cooperative)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        /* Partitions waiting for Redis (or paused by an outage during the
         * loads) stay paused. Pause and resume are used for nothing else:
         * librdkafka 2.0.2's batch consumer can skip offsets around them
         * (fixed in 2.1.0); the seek-back in process_run() catches that. */
        rd_kafka_topic_partition_list_t *pz = paused_among(w, parts);
        if (pz->cnt)
            rd_kafka_pause_partitions(rk, pz);
        rd_kafka_topic_partition_list_destroy(pz);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        /* librdkafka keeps a partition's pause across a revoke and a later
         * assignment: resume what we paused before letting it go */
        rd_kafka_topic_partition_list_t *rz = paused_among(w, parts);
        on_revoke(w, parts, rd_kafka_assignment_lost(rk));
        if (rz->cnt)
            rd_kafka_resume_partitions(rk, rz);
        rd_kafka_topic_partition_list_destroy(rz);
        if (cooperative)
            e = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    } else {
        SW_ERROR(MOD, "rebalance error=%s", rd_kafka_err2name(err));
        rd_kafka_assign(rk, NULL);
    }
    if (e) {
        SW_ERROR(MOD, "rebalance error=\"%s\"", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    int n = 0;
    for (size_t i = 0; i < w->nparts; i++)
        n += w->parts[i].owned;
    SW_INFO(MOD, "rebalance %s partitions=%d owned=%d",
            err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assigned"
                                                        : "revoked",
            parts->cnt, n);
}

/* ------------------------------------------------------------ events */

static void reject(worker_t *w, const rd_kafka_message_t *m, sw_reason_t r,
                   const char *detail)
{
    w->m.rejected[r]++;
    char err[256];
    /* A payload too big for any producer (a poison pill: it would stop
     * every checkpoint) goes as its first DLQ_PAYLOAD_MAX bytes; the whole
     * message stays in the events topic at source.offset. */
    size_t len = m->len;
    char big[320];
    if (len > DLQ_PAYLOAD_MAX) {
        snprintf(big, sizeof(big),
                 "%s; payload of %zu bytes cut to its first %d in this dead "
                 "letter",
                 detail, m->len, DLQ_PAYLOAD_MAX);
        detail = big;
        len = DLQ_PAYLOAD_MAX;
        w->m.dlq_cut++;
    }
    if (sw_dlq_send(w->dlq, m->key, m->key_len, m->payload ? m->payload : "",
                    len, sw_reason_name(r), detail, w->topic, m->partition,
                    m->offset, 1000, err, sizeof(err)) != 0) {
        /* counted; logged at most every 10 s (no log line per event) */
        int64_t now = sw_clock_now_ms();
        if (w->m.dlq_failed++ == 0 || now - w->dlq_warned_ms >= 10000) {
            w->dlq_warned_ms = now;
            SW_ERROR(MOD,
                     "dead letter not sent partition=%d offset=%lld "
                     "reason=%s error=\"%s\" failed_so_far=%llu",
                     m->partition, (long long)m->offset, sw_reason_name(r), err,
                     (unsigned long long)w->m.dlq_failed);
        }
    }
}

typedef struct batch {
    rd_kafka_message_t *msgs[BATCH];
    sw_event_t evs[BATCH];
    const sw_event_t *evp[BATCH];
    int idx[BATCH];
    sw_reason_t res[BATCH];
} batch_t;

/* Messages [i, j) are of one partition. */
static void process_run(worker_t *w, batch_t *b, size_t i, size_t j,
                        int64_t now)
{
    int32_t p = b->msgs[i]->partition;
    part_state_t *ps = part_get(w, p);
    if (ps == NULL || !ps->owned || !ps->ready || ps->paused || ps->need_seek) {
        w->m.skipped += j - i; /* read again after the seek */
        return;
    }
    size_t ne = 0, processed = 0;
    sw_event_err_t err;
    for (size_t k = i; k < j; k++) {
        const rd_kafka_message_t *m = b->msgs[k];
        if (m->offset < ps->next_offset) {
            w->m.skipped++; /* already processed (a re-fetch) */
            continue;
        }
        if (ps->next_offset >= 0 && m->offset > ps->next_offset) {
            if (ps->gap_checked != ps->next_offset) {
                /* Not where this partition must go on: librdkafka
                 * 2.0.2's batch consumer can skip offsets around a
                 * rebalance or a pause/resume (fixed in 2.1.0). Seek to
                 * next_offset (after the batch) and read nothing of the
                 * partition until then. */
                ps->need_seek = 1;
                w->seek_wanted = 1;
                w->m.skipped += j - k;
                break;
            }
            /* a seek to next_offset, and still not there: gone */
            w->m.offset_gaps++;
            SW_WARN(MOD,
                    "offsets missing topic=%s partition=%d from=%lld to=%lld "
                    "(deleted by retention before they were processed?)",
                    w->topic, p, (long long)ps->next_offset,
                    (long long)m->offset - 1);
        }
        ps->next_offset = m->offset + 1;
        processed++;
        w->m.consumed++;
        /* the future-time rule against the message's timestamp, not the
         * wall clock: a replay decides as the first reading did */
        int64_t mts = rd_kafka_message_timestamp(m, NULL);
        if (sw_event_decode_msgpack(m->payload ? m->payload : "", m->len,
                                    mts > 0 ? mts : now, &b->evs[ne],
                                    &err) == 0) {
            b->evp[ne] = &b->evs[ne];
            b->idx[ne++] = (int)k;
        } else {
            reject(w, m, err.reason, err.msg);
        }
    }
    if (ne) {
        sw_engine_push_batch(w->engine, p, b->evp, ne, b->res);
        for (size_t k = 0; k < ne; k++) {
            if (b->res[k] == SW_REASON_NONE)
                continue;
            const rd_kafka_message_t *m = b->msgs[b->idx[k]];
            char detail[192];
            if (b->res[k] == SW_REASON_LATE)
                snprintf(detail, sizeof(detail),
                         "ts: older than the watermark of partition %d "
                         "minus the lateness (%lld ms)",
                         p, (long long)w->settings.engine.lateness_ms);
            else
                snprintf(detail, sizeof(detail), "section: %s",
                         sw_reason_desc(b->res[k]));
            reject(w, m, b->res[k], detail);
        }
    }
    if (processed) {
        ps->since_ckpt += processed;
        ps->dirty = 1;
        ps->last_event_ms = now;
    }
}

static void handle_error(worker_t *w, const rd_kafka_message_t *m)
{
    w->m.kafka_errors++;
    int64_t now = sw_clock_now_ms();
    if (now - w->kafka_logged_ms < 10000)
        return;
    w->kafka_logged_ms = now;
    if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
        SW_WARN(MOD, "topic %s does not exist (yet); waiting for it", w->topic);
    else
        SW_WARN(MOD, "kafka error=%s reason=\"%s\"", rd_kafka_err2name(m->err),
                rd_kafka_message_errstr(m));
}

/* The idle rule of [windows] idle: a partition that has been read to its
 * end and has had no event for `idle` has its watermark follow the wall
 * clock. Only caught-up partitions: a backlog is not idleness. */
static void idle_tick(worker_t *w, int64_t now)
{
    int64_t idle = w->settings.engine.idle_ms;
    if (idle <= 0 || w->redis_down)
        return;
    for (size_t i = 0; i < w->nparts; i++) {
        part_state_t *ps = &w->parts[i];
        if (!ps->owned || !ps->ready || ps->paused || ps->high < 0 ||
            ps->next_offset < ps->high || now - ps->last_event_ms < idle)
            continue;
        int64_t wm = sw_engine_watermark(w->engine, (int32_t)i);
        if (wm != INT64_MIN && wm < now - idle) {
            sw_engine_advance(w->engine, (int32_t)i, now - idle);
            ps->dirty = 1;
        }
    }
}

/* After "all brokers down", the next message clears the state; on an
 * idle topic there may be none, so ask a broker for metadata every 5 s. */
static void kafka_probe(worker_t *w, int64_t now)
{
    if (!w->kafka_down || now - w->kafka_probed_ms < 5000)
        return;
    w->kafka_probed_ms = now;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(w->rk, 0, NULL, &md, 500) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_metadata_destroy(md);
        SW_INFO(MOD, "kafka reachable again after_s=%lld",
                (long long)((now - w->kafka_down_since) / 1000));
        w->kafka_down = 0;
    }
}

/* ------------------------------------------------------------ metrics */

static void mprintf(worker_t *w, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void mprintf(worker_t *w, size_t *len, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(w->mbuf + *len, w->mcap - *len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < w->mcap - *len) {
            *len += (size_t)n;
            return;
        }
        size_t cap = w->mcap * 2 + (size_t)n;
        char *nb = realloc(w->mbuf, cap);
        if (nb == NULL)
            return;
        w->mbuf = nb;
        w->mcap = cap;
    }
}

#define COUNTER(name, help, value)                                             \
    mprintf(w, &len,                                                           \
            "# HELP surgewatch_" name " " help "\n# TYPE surgewatch_" name     \
            " counter\nsurgewatch_" name " %llu\n",                            \
            (unsigned long long)(value))
#define GAUGE(name, help, fmt, value)                                          \
    mprintf(w, &len,                                                           \
            "# HELP surgewatch_" name " " help "\n# TYPE surgewatch_" name     \
            " gauge\nsurgewatch_" name " " fmt "\n",                           \
            value)

static void update_high(worker_t *w)
{
    for (size_t i = 0; i < w->nparts; i++) {
        part_state_t *ps = &w->parts[i];
        int64_t lo, hi;
        if (ps->owned &&
            rd_kafka_get_watermark_offsets(w->rk, w->topic, (int32_t)i, &lo,
                                           &hi) == 0 &&
            hi >= 0)
            ps->high = hi;
    }
}

static void publish_metrics(worker_t *w, int64_t now)
{
    if (w->http == NULL)
        return;
    size_t len = 0;
    const sw_engine_stats_t *es = sw_engine_stats(w->engine);
    COUNTER("events_consumed_total",
            "Messages read from the events topic and processed.",
            w->m.consumed);
    COUNTER("events_counted_total", "Events counted in windows.", es->events);
    COUNTER("events_duplicate_total",
            "Re-sent events (same source and id) counted once.",
            es->duplicates);
    mprintf(w, &len,
            "# HELP surgewatch_events_rejected_total Messages sent to the "
            "dead-letter topic, by reason.\n"
            "# TYPE surgewatch_events_rejected_total counter\n");
    for (int r = 1; r < SW_REASON__COUNT; r++)
        mprintf(w, &len,
                "surgewatch_events_rejected_total{reason=\"%s\"} %llu\n",
                sw_reason_name((sw_reason_t)r),
                (unsigned long long)w->m.rejected[r]);
    COUNTER("dead_letters_cut_total",
            "Dead letters of payloads over 64 KiB, sent cut to their first "
            "64 KiB (the whole message stays at its source offset).",
            w->m.dlq_cut);
    COUNTER("dead_letters_failed_total",
            "Dead letters that could not be queued or delivered.",
            w->m.dlq_failed + sw_producer_stats(w->dlq)->failed);
    mprintf(w, &len,
            "# HELP surgewatch_alerts_total Alert transitions written to the "
            "alert log, by state.\n# TYPE surgewatch_alerts_total counter\n");
    for (int s = 0; s < 3; s++)
        mprintf(w, &len, "surgewatch_alerts_total{state=\"%s\"} %llu\n",
                sw_alert_state_name((sw_alert_state_t)s),
                (unsigned long long)w->m.alerts[s]);
    COUNTER("alerts_repeated_total",
            "Transitions the alert log already held (replays after a "
            "restart or a takeover), left unchanged.",
            w->m.alert_repeats);
    GAUGE("alerts_pending", "Alert transitions waiting for Redis.", "%zu",
          w->npending);
    int owned = 0;
    int64_t lag_total = 0;
    mprintf(w, &len,
            "# HELP surgewatch_consumer_lag_messages Messages in the "
            "partition after the next one to process.\n"
            "# TYPE surgewatch_consumer_lag_messages gauge\n");
    for (size_t i = 0; i < w->nparts; i++) {
        part_state_t *ps = &w->parts[i];
        if (!ps->owned)
            continue;
        owned++;
        int64_t lag = -1;
        if (ps->high >= 0)
            lag = ps->high - (ps->next_offset >= 0 ? ps->next_offset : 0);
        if (lag < 0)
            lag = 0;
        lag_total += lag;
        mprintf(w, &len,
                "surgewatch_consumer_lag_messages{topic=\"%s\",partition="
                "\"%zu\"} %lld\n",
                w->topic, i, (long long)lag);
    }
    mprintf(w, &len,
            "# HELP surgewatch_next_offset The next offset to process (-1: "
            "from the beginning).\n"
            "# TYPE surgewatch_next_offset gauge\n");
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i].owned)
            mprintf(w, &len,
                    "surgewatch_next_offset{topic=\"%s\",partition=\"%zu\"} "
                    "%lld\n",
                    w->topic, i, (long long)w->parts[i].next_offset);
    mprintf(w, &len,
            "# HELP surgewatch_checkpoint_offset The offset stored with the "
            "partition's last checkpoint (-1: none yet).\n"
            "# TYPE surgewatch_checkpoint_offset gauge\n");
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i].owned)
            mprintf(w, &len,
                    "surgewatch_checkpoint_offset{topic=\"%s\",partition="
                    "\"%zu\"} %lld\n",
                    w->topic, i, (long long)w->parts[i].ckpt_offset);
    mprintf(w, &len,
            "# HELP surgewatch_checkpoint_age_seconds Time since the "
            "partition's last checkpoint (or its assignment).\n"
            "# TYPE surgewatch_checkpoint_age_seconds gauge\n");
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i].owned)
            mprintf(w, &len,
                    "surgewatch_checkpoint_age_seconds{topic=\"%s\","
                    "partition=\"%zu\"} %.3f\n",
                    w->topic, i,
                    (double)(now - w->parts[i].ckpt_wall_ms) / 1e3);
    mprintf(w, &len,
            "# HELP surgewatch_watermark_seconds The partition's event-time "
            "watermark.\n# TYPE surgewatch_watermark_seconds gauge\n");
    for (size_t i = 0; i < w->nparts; i++) {
        int64_t wm = sw_engine_watermark(w->engine, (int32_t)i);
        if (w->parts[i].owned && wm != INT64_MIN)
            mprintf(w, &len,
                    "surgewatch_watermark_seconds{topic=\"%s\",partition="
                    "\"%zu\"} %.3f\n",
                    w->topic, i, (double)wm / 1e3);
    }
    GAUGE("consumer_lag_total", "Sum of the lag of the owned partitions.",
          "%lld", (long long)lag_total);
    GAUGE("partitions_owned", "Partitions assigned to this worker.", "%d",
          owned);
    COUNTER("checkpoints_total", "Checkpoints written.", w->m.ckpt_count);
    COUNTER("checkpoints_failed_total", "Checkpoints not written.",
            w->m.ckpt_failed);
    COUNTER("checkpoint_load_errors_total",
            "Checkpoints that could not be used (the partition was read "
            "from its beginning).",
            w->m.ckpt_load_errors);
    GAUGE("checkpoint_duration_seconds",
          "Duration of the last checkpoint (serialise and write).", "%.6f",
          w->m.ckpt_last_s);
    mprintf(w, &len,
            "# HELP surgewatch_checkpoint_duration_seconds_sum Total time "
            "spent checkpointing.\n# TYPE "
            "surgewatch_checkpoint_duration_seconds_sum counter\n"
            "surgewatch_checkpoint_duration_seconds_sum %.6f\n",
            w->m.ckpt_sum_s);
    GAUGE("checkpoint_bytes", "Size of the last checkpoint.", "%llu",
          (unsigned long long)w->m.ckpt_last_bytes);
    COUNTER("redis_errors_total", "Failed Redis operations.",
            w->m.redis_errors);
    GAUGE("redis_up", "1 when Redis is reachable.", "%d", !w->redis_down);
    GAUGE("thresholds_version",
          "Version of the live thresholds applied (0: the config file's, "
          "Redis not read yet).",
          "%llu", (unsigned long long)w->th_version);
    COUNTER("thresholds_applied_total",
            "Threshold versions applied without a restart.", w->m.th_applied);
    COUNTER("thresholds_refused_total",
            "Threshold versions that could not be applied (logged; the "
            "previous ones stay).",
            w->m.th_refused);
    COUNTER("silenced_released_total",
            "Alerts held back by a silence and published when it ended.",
            w->m.released);
    COUNTER("series_written_total",
            "Section buckets written to PREFIX:series:SECTION for the hub's "
            "web view (a bucket updated by late events counts again).",
            w->m.series_written);
    COUNTER("series_dropped_total",
            "Section buckets never written: more than 100000 waiting for "
            "Redis (the oldest go), or a write refused.",
            w->m.series_dropped);
    GAUGE("series_pending", "Section buckets waiting to be written.", "%zu",
          w->series_len);
    GAUGE("kafka_up",
          "0 after librdkafka reported every broker down, until one answers.",
          "%d", !w->kafka_down);
    COUNTER("kafka_errors_total", "Kafka client errors (retried).",
            w->m.kafka_errors);
    COUNTER("rebalances_total", "Consumer group rebalances.", w->m.rebalances);
    COUNTER("events_skipped_total",
            "Messages before the next offset to process (read again after a "
            "seek), not processed twice.",
            w->m.skipped);
    COUNTER("seeks_total",
            "Times a partition was sought back to its next offset because "
            "messages came from further on.",
            w->m.seeks);
    COUNTER("offset_gaps_total",
            "Times the first message after a checkpoint was past its offset "
            "(messages deleted before they were processed).",
            w->m.offset_gaps);
    GAUGE("engine_keys", "Series (section or section and type) in memory.",
          "%llu", (unsigned long long)es->keys);
    GAUGE("engine_state_bytes", "Memory held by windows and dedup tables.",
          "%llu", (unsigned long long)es->state_bytes);
    GAUGE("start_time_seconds", "When the worker started.", "%.3f",
          (double)w->started_ms / 1e3);

    char health[512];
    int healthy = 0;
    if (w->redis_down)
        snprintf(health, sizeof(health),
                 "redis unreachable for %lld s (%s); consumption paused",
                 (long long)((now - w->redis_down_since) / 1000),
                 w->redis_error);
    else if (w->kafka_down)
        snprintf(
            health, sizeof(health), "all Kafka brokers down for %lld s (%s)",
            (long long)((now - w->kafka_down_since) / 1000), w->kafka_error);
    else if (w->dlq_broken)
        snprintf(health, sizeof(health),
                 "dead letters lost (%s); checkpoints stopped: restart the "
                 "worker once the dead-letter topic works",
                 sw_producer_stats(w->dlq)->last_error);
    else if (stop_requested)
        snprintf(health, sizeof(health), "stopping");
    else {
        healthy = 1;
        snprintf(health, sizeof(health), "ok: %d partitions, lag %lld", owned,
                 (long long)lag_total);
    }
    sw_http_publish(w->http, w->mbuf, len, healthy, health);
}

static uint64_t total_rejected(const worker_t *w)
{
    uint64_t t = 0;
    for (int r = 0; r < SW_REASON__COUNT; r++)
        t += w->m.rejected[r];
    return t;
}

/* ------------------------------------------------------------- main */

/* Properties only a consumer or only a producer reads: each client gets
 * the others' left out, so that librdkafka does not warn about them. */
static int consumer_only(const char *k)
{
    static const char *const pre[] = {"group.",
                                      "session.timeout.ms",
                                      "heartbeat.",
                                      "partition.assignment",
                                      "auto.offset.reset",
                                      "enable.auto.",
                                      "auto.commit.",
                                      "fetch.",
                                      "max.poll.",
                                      "queued.",
                                      "isolation.level",
                                      "enable.partition.eof",
                                      "check.crcs",
                                      "consume.callback.max.messages",
                                      "allow.auto.create"};
    for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
        if (strncmp(k, pre[i], strlen(pre[i])) == 0)
            return 1;
    return 0;
}

static int producer_only(const char *k)
{
    static const char *const pre[] = {"enable.idempotence",
                                      "acks",
                                      "request.required.acks",
                                      "linger.ms",
                                      "queue.buffering.",
                                      "batch.",
                                      "compression.",
                                      "message.timeout.ms",
                                      "delivery.timeout.ms",
                                      "retries",
                                      "message.send.max.retries",
                                      "transactional.id",
                                      "transaction.",
                                      "partitioner",
                                      "enable.gapless.guarantee",
                                      "sticky.partitioning",
                                      "retry.backoff"};
    for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
        if (strncmp(k, pre[i], strlen(pre[i])) == 0)
            return 1;
    return 0;
}

/* The consumer's configuration: our defaults, then the user's
 * properties, then the group. NULL with errstr set when one is refused. */
static rd_kafka_conf_t *kafka_conf(worker_t *w, const sw_props_t *props,
                                   char *errstr, size_t errsz)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    static const char *const defaults[][2] = {
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"session.timeout.ms", "10000"},
        {"fetch.max.bytes", "52428800"},
        {"queued.min.messages", "1000000"},
        {"queued.max.messages.kbytes", "1048576"},
    };
    char err[512];
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (rd_kafka_conf_set(kc, defaults[i][0], defaults[i][1], err,
                              sizeof(err)) != RD_KAFKA_CONF_OK)
            goto bad;
    for (size_t i = 0; i < props->n; i++) {
        const sw_prop_t *pr = &props->v[i];
        /* producer tuning in [kafka] is for publish and the dead letters */
        if (producer_only(pr->key))
            continue;
        if (rd_kafka_conf_set(kc, pr->key, pr->value, err, sizeof(err)) !=
            RD_KAFKA_CONF_OK) {
            snprintf(errstr, errsz, "%s = %s (%s): %s", pr->key, pr->value,
                     pr->origin ? pr->origin : "?", err);
            rd_kafka_conf_destroy(kc);
            return NULL;
        }
    }
    if (rd_kafka_conf_set(kc, "group.id", w->conf.group, err, sizeof(err)) !=
        RD_KAFKA_CONF_OK)
        goto bad;
    return kc;
bad:
    snprintf(errstr, errsz, "%s", err);
    rd_kafka_conf_destroy(kc);
    return NULL;
}

static int kafka_setup(worker_t *w, const sw_props_t *props, char *errstr,
                       size_t errsz)
{
    char err[512];
    rd_kafka_conf_t *kc = kafka_conf(w, props, errstr, errsz);
    if (kc == NULL)
        return -1;
    rd_kafka_conf_set_opaque(kc, w);
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_error_cb(kc, kafka_error_cb);
    rd_kafka_conf_set_log_cb(kc, sw_kafka_log_cb);
    w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
    if (w->rk == NULL) {
        snprintf(errstr, errsz, "cannot create the Kafka consumer: %s", err);
        return -1;
    }
    rd_kafka_poll_set_consumer(w->rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, w->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(w->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        snprintf(errstr, errsz, "subscribe to %s: %s", w->topic,
                 rd_kafka_err2str(e));
        return -1;
    }
    w->queue = rd_kafka_queue_get_consumer(w->rk);
    return 0;
}

static void print_conf(const worker_t *w, const sw_props_t *props)
{
    printf("[kafka] topic = %s\n", w->topic);
    for (size_t i = 0; i < props->n; i++) {
        const char *k = props->v[i].key;
        int secret = strstr(k, "password") || strstr(k, "secret");
        printf("[kafka] %s = %s  (%s)\n", k, secret ? "***" : props->v[i].value,
               props->v[i].origin ? props->v[i].origin : "?");
    }
    sw_opts_print(spec, w->conf.s, S__COUNT);
    const sw_engine_conf_t *ec = &w->settings.engine;
    printf("[windows] bucket = %llds, lateness = %llds, idle = %llds, by_type "
           "= %s; %zu section profiles%s\n",
           (long long)(ec->bucket_ms / 1000),
           (long long)(ec->lateness_ms / 1000), (long long)(ec->idle_ms / 1000),
           ec->by_type ? "true" : "false", w->settings.profiles.n,
           w->settings.profiles.strict ? " (strict)" : "");
}

int sw_cmd_run(int argc, char **argv)
{
    enum {
        O_DLQ = 256,
        O_CKPT_EVENTS,
        O_CKPT_INTERVAL,
        O_LOG_LEVEL,
        O_REDIS_PREFIX,
        O_REDIS_TIMEOUT,
        O_SERIES_KEEP,
        O_CHECK
    };
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"property", required_argument, NULL, 'X'},
        {"config", required_argument, NULL, 'c'},
        {"group", required_argument, NULL, 'g'},
        {"dlq-topic", required_argument, NULL, O_DLQ},
        {"redis", required_argument, NULL, 'r'},
        {"redis-prefix", required_argument, NULL, O_REDIS_PREFIX},
        {"redis-timeout", required_argument, NULL, O_REDIS_TIMEOUT},
        {"checkpoint-events", required_argument, NULL, O_CKPT_EVENTS},
        {"checkpoint-interval", required_argument, NULL, O_CKPT_INTERVAL},
        {"metrics", required_argument, NULL, 'm'},
        {"log-level", required_argument, NULL, O_LOG_LEVEL},
        {"series-keep", required_argument, NULL, O_SERIES_KEEP},
        {"check-config", no_argument, NULL, O_CHECK},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sw_kafka_opts_t ko = {0};
    const char *flags[S__COUNT] = {0};
    int check_only = 0;
    int opt;
    int status = SW_EXIT_USAGE;
    while ((opt = getopt_long(argc, argv, "b:t:X:c:g:r:m:h", longopts, NULL)) !=
           -1) {
        int k = sw_kafka_opt("run", opt, optarg, &ko);
        if (k < 0)
            goto out_props;
        if (k > 0)
            continue;
        switch (opt) {
        case 'g':
            flags[S_GROUP] = optarg;
            break;
        case O_DLQ:
            flags[S_DLQ_TOPIC] = optarg;
            break;
        case 'r':
            flags[S_REDIS_URL] = optarg;
            break;
        case O_REDIS_PREFIX:
            flags[S_REDIS_PREFIX] = optarg;
            break;
        case O_REDIS_TIMEOUT:
            flags[S_REDIS_TIMEOUT] = optarg;
            break;
        case O_CKPT_EVENTS:
            flags[S_CKPT_EVENTS] = optarg;
            break;
        case O_CKPT_INTERVAL:
            flags[S_CKPT_INTERVAL] = optarg;
            break;
        case 'm':
            flags[S_METRICS] = optarg;
            break;
        case O_LOG_LEVEL:
            flags[S_LOG_LEVEL] = optarg;
            break;
        case O_SERIES_KEEP:
            flags[S_SERIES_KEEP] = optarg;
            break;
        case O_CHECK:
            check_only = 1;
            break;
        case 'h':
            fputs(help, stdout);
            status = SW_EXIT_OK;
            goto out_props;
        default:
            fprintf(stderr, "Try 'surgewatch run --help'.\n");
            goto out_props;
        }
    }
    if (optind < argc) {
        fprintf(stderr,
                "surgewatch run: unexpected argument '%s' (run takes only "
                "options; try 'surgewatch run --help')\n",
                argv[optind]);
        goto out_props;
    }

    static worker_t wk;
    worker_t *w = &wk;
    memset(w, 0, sizeof(*w));
    sw_props_t props = {0};
    sw_config_t *cfg = NULL;
    char errstr[1024];
    sw_settings_default(&w->settings);
    if (sw_kafka_resolve("run", &ko, &props, w->topic, sizeof(w->topic)))
        goto out;
    const char *path =
        ko.config_path ? ko.config_path : getenv("SURGEWATCH_CONFIG");
    if (path && *path) {
        cfg = sw_config_load(path, errstr, sizeof(errstr));
        if (cfg == NULL ||
            sw_settings_load(cfg, &w->settings, errstr, sizeof(errstr))) {
            fprintf(stderr, "surgewatch run: %s\n", errstr);
            goto out;
        }
    }
    if (cfg && sw_thresholds_from_config(cfg, &w->seed, NULL, errstr,
                                         sizeof(errstr))) {
        fprintf(stderr, "surgewatch run: %s\n", errstr);
        goto out;
    }
    w->config_path = path && *path ? path : NULL;
    if (resolve_run_conf(&w->conf, cfg, flags))
        goto out;
    sw_th_keys_init(&w->thk, w->conf.s[S_REDIS_PREFIX].value);
    {
        char host[64] = "";
        gethostname(host, sizeof(host) - 1);
        snprintf(w->operator, sizeof(w->operator), "worker@%s", host);
    }
    sw_log_level = w->conf.log_level;
    sw_redact_url(w->conf.s[S_REDIS_URL].value, w->redis_url_shown,
                  sizeof(w->redis_url_shown));
    w->settings.engine.on_alert = on_alert;
    w->settings.engine.on_section = on_section;
    /* the series for the web view; without them the engine spares the
     * bound searches */
    w->settings.engine.on_bucket = w->conf.series_keep ? on_bucket : NULL;
    w->ssec_last = UINT32_MAX;
    w->settings.engine.opaque = w;
    w->engine = sw_engine_new(&w->settings.engine, &w->settings.profiles,
                              errstr, sizeof(errstr));
    if (w->engine == NULL) {
        fprintf(stderr, "surgewatch run: %s\n", errstr);
        goto out;
    }
    if (check_only) {
        rd_kafka_conf_t *kc = kafka_conf(w, &props, errstr, sizeof(errstr));
        if (kc == NULL) {
            fprintf(stderr, "surgewatch run: Kafka property %s\n", errstr);
            goto out;
        }
        rd_kafka_conf_destroy(kc);
        print_conf(w, &props);
        printf("configuration ok\n");
        status = SW_EXIT_OK;
        goto out;
    }
    sw_props_t pprops = {0};
    for (size_t i = 0; i < props.n; i++)
        if (!consumer_only(props.v[i].key) &&
            sw_props_set(&pprops, props.v[i].key, props.v[i].value,
                         props.v[i].origin)) {
            fprintf(stderr, "surgewatch run: out of memory\n");
            sw_props_deinit(&pprops);
            goto out;
        }
    w->dlq = sw_producer_new(&pprops, w->topic, errstr, sizeof(errstr));
    sw_props_deinit(&pprops);
    if (w->dlq == NULL || (w->conf.dlq_topic[0] &&
                           sw_producer_set_dlq_topic(w->dlq, w->conf.dlq_topic,
                                                     errstr, sizeof(errstr)))) {
        fprintf(stderr, "surgewatch run: dead-letter producer: %s\n", errstr);
        goto out;
    }
    if (!w->conf.metrics_off) {
        w->http =
            sw_http_start(w->conf.s[S_METRICS].value, errstr, sizeof(errstr));
        if (w->http == NULL) {
            fprintf(stderr, "surgewatch run: metrics (%s): %s\n",
                    w->conf.s[S_METRICS].origin, errstr);
            goto out;
        }
    }
    w->started_ms = sw_clock_now_ms();
    w->mcap = 16384;
    w->mbuf = malloc(w->mcap);
    if (w->mbuf == NULL) {
        fprintf(stderr, "surgewatch run: out of memory\n");
        goto out;
    }
    signal(SIGPIPE, SIG_IGN); /* a Redis reset must be an error, not death */
    /* Redis first: assignments need it to load their state */
    if (redis_open(w, errstr, sizeof(errstr)) != 0)
        redis_failed(w, "connect", errstr);
    else
        th_sync(w); /* the live thresholds, before any window exists */
    if (kafka_setup(w, &props, errstr, sizeof(errstr))) {
        fprintf(stderr, "surgewatch run: %s\n", errstr);
        goto out;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    SW_INFO(MOD,
            "started topic=%s group=%s dlq=%s redis=%s prefix=%s metrics=%s "
            "checkpoint_events=%llu checkpoint_interval_ms=%lld "
            "series_keep=%u",
            w->topic, w->conf.group, sw_producer_dlq_topic(w->dlq),
            w->redis_url_shown, w->conf.s[S_REDIS_PREFIX].value,
            w->http ? w->conf.s[S_METRICS].value : "off",
            (unsigned long long)w->conf.ckpt_events,
            (long long)w->conf.ckpt_interval_ms, w->conf.series_keep);
    if (w->http) {
        const char *mv = w->conf.s[S_METRICS].value;
        SW_INFO(MOD, "metrics on http://%.*s:%d/metrics and /healthz",
                (int)(strrchr(mv, ':') - mv), mv, sw_http_port(w->http));
    }

    static batch_t b;
    int64_t last_tick = 0, last_pub = 0;
    while (!stop_requested && !w->fatal && !w->oom) {
        if (w->redis_down)
            redis_retry(w);
        ssize_t n = rd_kafka_consume_batch_queue(w->queue, 100, b.msgs, BATCH);
        int64_t now = sw_clock_now_ms();
        if (n < 0) {
            SW_ERROR(MOD, "consume error=%s",
                     rd_kafka_err2name(rd_kafka_last_error()));
            n = 0;
        }
        size_t i = 0;
        while (i < (size_t)n) {
            if (b.msgs[i]->err) {
                handle_error(w, b.msgs[i]);
                i++;
                continue;
            }
            size_t j = i + 1;
            while (j < (size_t)n && !b.msgs[j]->err &&
                   b.msgs[j]->partition == b.msgs[i]->partition)
                j++;
            process_run(w, &b, i, j, now);
            i = j;
        }
        if (n > 0) {
            w->kafka_down = 0;
            sw_engine_settle(w->engine);
        }
        for (size_t k = 0; k < (size_t)n; k++)
            rd_kafka_message_destroy(b.msgs[k]);
        sw_producer_poll(w->dlq, 0);
        if (w->seek_wanted)
            seek_pending(w);
        th_listen(w, now);
        if (now - last_tick >= 1000) {
            last_tick = now;
            redis_tick(w);
            update_high(w);
            idle_tick(w, now);
            kafka_probe(w, now);
            if (!w->redis_down && any_paused(w))
                resume_all(w);
        }
        if (w->npending && !w->redis_down)
            flush_alerts(w);
        if (!w->redis_down)
            checkpoint_all(w, 0);
        if (w->http && now - last_pub >= 250) {
            last_pub = now;
            publish_metrics(w, now);
        }
    }
    if (w->oom)
        SW_ERROR(MOD, "out of memory for alert transitions; stopping without "
                      "a checkpoint (the next owner replays)");

    /* shutdown: the last batch is processed; write, checkpoint, leave */
    int64_t t_stop = sw_clock_now_ms();
    SW_INFO(MOD, "stopping: writing alerts and checkpoints");
    while (!w->fatal && !w->oom && stop_requested < 2 &&
           (w->redis_down || w->npending) &&
           sw_clock_now_ms() - t_stop < 10000) {
        if (w->redis_down) {
            redis_retry(w);
            nanosleep(&(struct timespec){0, 50000000}, NULL);
        } else {
            flush_alerts(w);
        }
    }
    if (!w->fatal && !w->oom && !w->redis_down) {
        series_flush(w);
        checkpoint_all(w, 1);
    }
    if (w->redis_down)
        SW_WARN(MOD, "redis unreachable at shutdown: the partitions' next "
                     "owners replay from their last checkpoints");
    sw_producer_flush(w->dlq, 10000);
    rd_kafka_consumer_close(w->rk);
    SW_INFO(MOD,
            "stopped consumed=%llu counted=%llu rejected=%llu "
            "alerts_raised=%llu alerts_updated=%llu alerts_resolved=%llu "
            "checkpoints=%llu",
            (unsigned long long)w->m.consumed,
            (unsigned long long)sw_engine_stats(w->engine)->events,
            (unsigned long long)total_rejected(w),
            (unsigned long long)w->m.alerts[0],
            (unsigned long long)w->m.alerts[1],
            (unsigned long long)w->m.alerts[2],
            (unsigned long long)w->m.ckpt_count);
    status = (w->fatal || w->oom) ? SW_EXIT_REJECTED : SW_EXIT_OK;
out:
    if (w->queue)
        rd_kafka_queue_destroy(w->queue);
    if (w->rk)
        rd_kafka_destroy(w->rk);
    sw_http_stop(&w->http);
    sw_producer_destroy(&w->dlq);
    redis_close(w);
    sw_engine_destroy(&w->engine);
    sw_settings_deinit(&w->settings);
    sw_threshold_set_deinit(&w->seed);
    free(w->new_sections);
    sw_config_destroy(&cfg);
    sw_props_deinit(&props);
    free(w->parts);
    free(w->pending);
    free(w->series);
    free(w->ssec);
    free(w->ssec_idx);
    free(w->spub);
    free(w->mbuf);
out_props:
    sw_props_deinit(&ko.flag_props);
    return status;
}
