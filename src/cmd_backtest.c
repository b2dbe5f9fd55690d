/*
 * surgewatch backtest: runs the detection core over past events from a
 * file (JSON lines, CSV or a msgpack stream) in event-time order and prints
 * every alert transition as one JSON line, then a summary on stderr. It is
 * how an operator tries a threshold before applying it, so it is built for
 * speed: events are decoded without allocation, sorted input passes through
 * a FIFO, and only out-of-order events go through a heap.
 *
 * The same pass can feed two engines, one with the current and one with
 * the proposed settings, identically (sw_backtest_compare, sw_compare.h):
 * `backtest --compare` and `ctl preview` list the alerts a change adds and
 * removes.
 */
#include "sw_alert.h"
#include "sw_cmd.h"
#include "sw_cmd_common.h"
#include "sw_cmd_settings.h"
#include "sw_compare.h"
#include "sw_config.h"
#include "sw_engine.h"
#include "sw_err.h"
#include "sw_event.h"
#include "sw_event_text.h"
#include "sw_lines.h"
#include "sw_ring.h"
#include "sw_settings.h"
#include "sw_time.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_REPORTED 100

static const char help[] =
    "usage: surgewatch backtest [OPTIONS] [--events FILE|-]\n"
    "\n"
    "Runs the detectors over past events, in event-time order, with the\n"
    "settings of a config file, and prints every alert transition (raised,\n"
    "updated, resolved) as one JSON line on standard output, then a\n"
    "summary on standard error. The same core runs in `surgewatch run`.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE     detection settings ([windows], [alerts],\n"
    "                        [detectors], [section XX-YY]); built-in\n"
    "                        defaults without it (env SURGEWATCH_CONFIG)\n"
    "  -e, --events FILE     events to read; '-' or none: standard input\n"
    "  -f, --format FMT      json, csv or msgpack (default: from the file\n"
    "                        name: .csv, .msgpack/.mp, else json)\n"
    "      --from TIME       ignore events before TIME (RFC 3339, a date\n"
    "                        YYYY-MM-DD, or epoch milliseconds)\n"
    "      --to TIME         ignore events at or after TIME\n"
    "      --reorder DUR     events up to DUR out of time order are sorted\n"
    "                        (0s: none; they reach the detectors in input\n"
    "                        order, as a worker reads a partition)\n"
    "                        before the detectors see them (default 1h, at\n"
    "                        most the lateness); later ones, within the\n"
    "                        lateness, reach them as late corrections, as\n"
    "                        in the live worker\n"
    "      --partitions N    count each section in the partition of a topic\n"
    "                        of N partitions that `publish` would put it in,\n"
    "                        each partition with its own watermark, as\n"
    "                        `surgewatch run` does (default 1: one\n"
    "                        watermark for all; the same alerts for events in\n"
    "                        time order, not for late ones)\n"
    "  -q, --quiet           no line per rejected event, only the summary\n"
    "      --threads N       1: everything on one core; 2: decoding in\n"
    "                        threads of their own (two for a file of JSON\n"
    "                        or CSV lines; default 2 when the machine has\n"
    "                        more than one core); the same results\n"
    "      --no-alerts       print no alert lines (summary only)\n"
    "      --compare FILE    try a change: FILE is a second config file, the\n"
    "                        proposed settings (-c, or the defaults, being\n"
    "                        the current ones); both run over the events in\n"
    "                        one pass, and instead of every transition it\n"
    "                        prints, per section, the alerts the proposed\n"
    "                        settings add (+) and remove (-), exactly as two\n"
    "                        backtests compared alert by alert would. Only\n"
    "                        the detector profiles may differ: [windows] and\n"
    "                        raise_after, resolve_after, update_min_change\n"
    "                        must be the same in both\n"
    "      --json            with --compare: one JSON line per added or\n"
    "                        removed alert instead of the table\n"
    "  -h, --help            this text\n"
    "\n"
    "Events should come roughly in time order: each may be up to the\n"
    "configured lateness (default 24h) older than the newest before it;\n"
    "older ones are counted as late, as the live worker would.\n"
    "\n"
    "Exit status: 0 done (rejected events are counted in the summary);\n"
    "1 the input could not be read; 2 bad options or configuration (or\n"
    "settings that --compare cannot compare).\n"
    "\n"
    "Examples:\n"
    "  surgewatch backtest -c surgewatch.ini -e events-2019.jsonl\n"
    "  surgewatch backtest -c proposed.ini -e past.msgpack --from 2019-03-01\n"
    "  surgewatch backtest -c surgewatch.ini --compare proposed.ini \\\n"
    "                      -e events-2019.jsonl\n";

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---------------------------------------------------- reorder buffer */

/* Events wait in a slab; the FIFO and the heap hold 16-byte references
 * (time, slab slot), so reordering moves no event around. */
typedef struct ref {
    int64_t ts;
    uint64_t slot;
} ref_t;

typedef struct reorder {
    sw_event_t *slab;
    uint64_t *free_slots;
    size_t slab_cap, nfree, slab_used;
    ref_t *fifo; /* in time order, as they came */
    size_t fcap, fhead, flen;
    ref_t *heap; /* those that came out of order */
    size_t hcap, hlen;
    int64_t last_in;
    int oom;
} reorder_t;

static int grow(void **p, size_t *cap, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : 4096;
    void *np = realloc(*p, ncap * elem);
    if (np == NULL)
        return -1;
    *p = np;
    *cap = ncap;
    return 0;
}

/* A free slab slot to decode the next event into, or NULL (out of
 * memory). ro_push() files it; ro_release() gives it back unused. */
static sw_event_t *ro_slot(reorder_t *q, uint64_t *slot)
{
    if (q->nfree) {
        *slot = q->free_slots[--q->nfree];
    } else {
        if (q->slab_used == q->slab_cap) {
            size_t cap = q->slab_cap;
            if (grow((void **)&q->slab, &cap, sizeof(sw_event_t)))
                return NULL;
            size_t fcap = q->slab_cap;
            if (grow((void **)&q->free_slots, &fcap, sizeof(uint64_t)))
                return NULL;
            q->slab_cap = cap;
        }
        *slot = q->slab_used++;
    }
    return &q->slab[*slot];
}

/* Files the event decoded into `slot`. */
static void ro_push(reorder_t *q, uint64_t slot)
{
    const sw_event_t *ev = &q->slab[slot];
    ref_t ref = {ev->ts_ms, slot};
    if (q->flen == 0 || ev->ts_ms >= q->last_in) {
        if (q->flen == q->fcap) {
            size_t old = q->fcap, ncap = old;
            ref_t *np = NULL;
            if (grow((void **)&np, &ncap, sizeof(ref_t))) {
                q->oom = 1;
                return;
            }
            for (size_t i = 0; i < q->flen; i++) /* unwrap the ring */
                np[i] = q->fifo[(q->fhead + i) % old];
            free(q->fifo);
            q->fifo = np;
            q->fcap = ncap;
            q->fhead = 0;
        }
        q->fifo[(q->fhead + q->flen++) % q->fcap] = ref;
        q->last_in = ev->ts_ms;
        return;
    }
    if (q->hlen == q->hcap &&
        grow((void **)&q->heap, &q->hcap, sizeof(ref_t))) {
        q->oom = 1;
        return;
    }
    size_t i = q->hlen++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (q->heap[parent].ts <= ref.ts)
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = ref;
}

static size_t ro_len(const reorder_t *q)
{
    return q->flen + q->hlen;
}

static int64_t ro_min_ts(const reorder_t *q)
{
    int64_t m = INT64_MAX;
    if (q->flen)
        m = q->fifo[q->fhead].ts;
    if (q->hlen && q->heap[0].ts < m)
        m = q->heap[0].ts;
    return m;
}

/* Takes the oldest event out; it stays in its slab slot until
 * ro_release(slot). */
static const sw_event_t *ro_pop(reorder_t *q, uint64_t *slot)
{
    ref_t r;
    if (q->flen && (q->hlen == 0 || q->fifo[q->fhead].ts <= q->heap[0].ts)) {
        r = q->fifo[q->fhead];
        q->fhead = (q->fhead + 1) % q->fcap;
        q->flen--;
    } else {
        r = q->heap[0];
        ref_t last = q->heap[--q->hlen];
        size_t i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= q->hlen)
                break;
            if (c + 1 < q->hlen && q->heap[c + 1].ts < q->heap[c].ts)
                c++;
            if (last.ts <= q->heap[c].ts)
                break;
            q->heap[i] = q->heap[c];
            i = c;
        }
        if (q->hlen)
            q->heap[i] = last;
    }
    *slot = r.slot;
    return &q->slab[r.slot];
}

static void ro_release(reorder_t *q, uint64_t slot)
{
    q->free_slots[q->nfree++] = slot;
}

static void ro_free(reorder_t *q)
{
    free(q->slab);
    free(q->free_slots);
    free(q->fifo);
    free(q->heap);
}

/* ----------------------------------------------------------- handoff */

/* With two threads, one decodes (JSON parsing is most of the work) and
 * the other sorts and runs the detectors. Decoded events cross in batches
 * through a ring of HANDOFF_BATCHES buffers: the decoder fills buffer
 * w % K, the detector thread empties buffer r % K. */
#define HANDOFF_EVENTS 1024
#define HANDOFF_BATCHES 8

typedef struct handoff_batch {
    size_t n;
    int end_of_chunk; /* the last batch of an input chunk (parallel mode) */
    sw_event_t ev[HANDOFF_EVENTS];
} handoff_batch_t;

typedef struct handoff {
    sw_ring_t ring; /* counts the HANDOFF_BATCHES buffers */
    handoff_batch_t *b;
    handoff_batch_t *cur; /* the decoder's batch being filled */
} handoff_t;

/* ------------------------------------------------------------- state */

/* Engines one pass can feed: one for a backtest, two for a comparison. */
#define MAX_ENGINES 2

typedef struct backtest {
    const char *cmd; /* for messages: "backtest" or "ctl preview" */
    /* every event reaches each engine in the same way: the same partition,
     * the same batches, the same advance and settle at the end */
    sw_engine_t *engines[MAX_ENGINES];
    int nengines;
    reorder_t q;
    int64_t reorder_ms; /* the sorting horizon */
    int64_t from_ms, to_ms;
    int64_t max_ts;
    int quiet, no_alerts;
    int32_t partitions; /* as a Kafka topic of this many partitions */
    uint64_t read, rejected, out_of_range, late, unknown_section;
    uint64_t reasons[SW_REASON__COUNT];
    uint64_t seq;
    uint64_t reported;
    uint64_t *reported_p; /* &reported of the main state, for every view */
    handoff_t *ho;        /* two threads: the decoder's side of the ring */
    int has_pending;      /* a slab slot is held for the next decode */
    uint64_t pending;
    /* events released by the reorder buffer wait here, as slab slots, for
     * one batch push (the slab may move until then); the slots are freed
     * after it */
    const sw_event_t *batch[256];
    uint64_t batch_slot[256];
    size_t nbatch;
    sw_reason_t results[256];
} backtest_t;

static void on_alert(void *opaque, const sw_alert_t *a)
{
    backtest_t *bt = opaque;
    bt->seq++;
    if (bt->no_alerts)
        return;
    char buf[SW_ALERT_JSON_MAX];
    size_t n = sw_alert_to_json(a, bt->seq, buf, sizeof(buf) - 1);
    buf[n++] = '\n';
    fwrite(buf, 1, n, stdout);
}

static void reject(backtest_t *bt, const char *name, uint64_t where,
                   const char *unit, const sw_event_err_t *err)
{
    bt->rejected++;
    bt->reasons[err->reason]++;
    if (bt->quiet)
        return;
    /* several decoder threads may share the counter */
    uint64_t n = __atomic_fetch_add(bt->reported_p, 1, __ATOMIC_RELAXED);
    if (n < MAX_REPORTED)
        fprintf(stderr, "%s:%s%llu: rejected (%s): %s\n", name, unit,
                (unsigned long long)where, sw_reason_name(err->reason),
                err->msg);
    else if (n == MAX_REPORTED)
        fprintf(stderr,
                "%s: more rejected events are only counted (see the "
                "summary)\n",
                bt->cmd);
}

/* Pushes the waiting batch through every engine, the same way. The
 * results (late, unknown section) are those of the first engine; the
 * others' are in their stats. */
static void flush_batch(backtest_t *bt)
{
    if (bt->nbatch == 0)
        return;
    for (size_t i = 0; i < bt->nbatch; i++)
        bt->batch[i] = &bt->q.slab[bt->batch_slot[i]];
    if (bt->partitions > 1) {
        /* each section in the partition librdkafka's default partitioner
         * (the one of `publish` and kcat) gives its key, as the worker
         * sees it: every partition with its own watermark */
        for (size_t i = 0; i < bt->nbatch; i++) {
            const sw_event_t *ev = bt->batch[i];
            int32_t part = rd_kafka_msg_partitioner_consistent_random(
                NULL, ev->section, ev->section_len, bt->partitions, NULL, NULL);
            bt->results[i] = sw_engine_push(bt->engines[0], part, ev);
            for (int e = 1; e < bt->nengines; e++)
                sw_engine_push(bt->engines[e], part, ev);
        }
    } else {
        sw_engine_push_batch(bt->engines[0], 0, bt->batch, bt->nbatch,
                             bt->results);
        for (int e = 1; e < bt->nengines; e++)
            sw_engine_push_batch(bt->engines[e], 0, bt->batch, bt->nbatch,
                                 NULL);
    }
    for (size_t i = 0; i < bt->nbatch; i++) {
        if (bt->results[i] == SW_REASON_LATE)
            bt->late++;
        else if (bt->results[i] == SW_REASON_UNKNOWN_SECTION)
            bt->unknown_section++;
        ro_release(&bt->q, bt->batch_slot[i]);
    }
    bt->nbatch = 0;
}

static void feed_next(backtest_t *bt)
{
    uint64_t slot;
    ro_pop(&bt->q, &slot);
    bt->batch_slot[bt->nbatch++] = slot;
    if (bt->nbatch == sizeof(bt->batch) / sizeof(bt->batch[0]))
        flush_batch(bt);
}

/* Where the next event is decoded. One thread: a slab slot, so that a
 * valid event is never copied on its way to the engine. Two threads: the
 * decoder's current handoff batch. NULL when out of memory. */
static sw_event_t *slab_slot(backtest_t *bt)
{
    if (!bt->has_pending) {
        if (ro_slot(&bt->q, &bt->pending) == NULL) {
            bt->q.oom = 1;
            return NULL;
        }
        bt->has_pending = 1;
    }
    return &bt->q.slab[bt->pending];
}

static sw_event_t *next_slot(backtest_t *bt)
{
    handoff_t *ho = bt->ho;
    if (ho == NULL)
        return slab_slot(bt);
    if (ho->cur == NULL) {
        ho->cur = &ho->b[sw_ring_write_begin(&ho->ring)];
        ho->cur->n = 0;
        ho->cur->end_of_chunk = 0;
    }
    return &ho->cur->ev[ho->cur->n];
}

/* The decoder publishes its current batch (possibly the last one). */
static void handoff_publish(handoff_t *ho, int done)
{
    sw_ring_write_end(&ho->ring, ho->cur != NULL, done);
    ho->cur = NULL;
}

/* The event in the pending slab slot: into the reorder buffer; release
 * what is due. */
static void accept_pending(backtest_t *bt)
{
    const sw_event_t *ev = &bt->q.slab[bt->pending];
    if (ev->ts_ms > bt->max_ts)
        bt->max_ts = ev->ts_ms;
    bt->has_pending = 0;
    ro_push(&bt->q, bt->pending);
    /* events within the sorting horizon of the newest may still be
     * preceded by another: release only what is older than that */
    while (ro_len(&bt->q) &&
           (bt->reorder_ms == 0 || /* 0: in input order, as they came */
            ro_min_ts(&bt->q) < bt->max_ts - bt->reorder_ms))
        feed_next(bt);
}

/* The detector side: one handed-over batch into the reorder buffer. */
static void take_batch(backtest_t *bt, const handoff_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        sw_event_t *slot = slab_slot(bt);
        if (slot == NULL)
            break;
        *slot = b->ev[i];
        accept_pending(bt);
    }
}

/* A decoded, valid event in the slot next_slot() gave. */
static void take(backtest_t *bt)
{
    handoff_t *ho = bt->ho;
    const sw_event_t *ev =
        ho ? &ho->cur->ev[ho->cur->n] : &bt->q.slab[bt->pending];
    if (ev->ts_ms < bt->from_ms || ev->ts_ms >= bt->to_ms) {
        bt->out_of_range++;
        return; /* the slot is used again for the next event */
    }
    if (ho == NULL) {
        accept_pending(bt);
        return;
    }
    if (++ho->cur->n == HANDOFF_EVENTS)
        handoff_publish(ho, 0);
}

static void drain(backtest_t *bt)
{
    while (ro_len(&bt->q))
        feed_next(bt);
    flush_batch(bt);
}

/* ---------------------------------------------------------- readers */

static int read_lines(backtest_t *bt, int fd, const char *name, int csv,
                      int64_t now)
{
    sw_lines_t lr;
    sw_json_decoder_t *jd = sw_json_decoder_new();
    sw_csv_decoder_t *cd = sw_csv_decoder_new();
    int rc = 0;
    if (jd == NULL || cd == NULL || sw_lines_init(&lr, fd, 65536) != 0) {
        fprintf(stderr, "surgewatch %s: out of memory\n", bt->cmd);
        sw_json_decoder_destroy(&jd);
        sw_csv_decoder_destroy(&cd);
        return -1;
    }
    int header = csv;
    const char *line;
    size_t len;
    sw_event_err_t err;
    while (!interrupted) {
        int r = sw_lines_next(&lr, &line, &len);
        if (r == 0)
            break;
        if (r == SW_ERR_IO) {
            fprintf(stderr, "surgewatch %s: %s: read error: %s\n", bt->cmd,
                    name, strerror(errno));
            rc = -1;
            break;
        }
        if (r == SW_ERR_RANGE) {
            bt->read++;
            sw_event_fail(&err, SW_REASON_TOO_LONG, -1,
                          "line of %zu bytes is too long (accepted: up to "
                          "65536)",
                          len);
            reject(bt, name, lr.lineno, "", &err);
            continue;
        }
        if (lr.lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
            line += 3, len -= 3;
        if (len == 0 || strspn(line, " \t") >= len)
            continue;
        if (header) {
            if (sw_csv_decoder_header(cd, line, len, &err) != 0) {
                fprintf(stderr,
                        "surgewatch %s: %s:%llu: bad CSV "
                        "header: %s\n",
                        bt->cmd, name, (unsigned long long)lr.lineno, err.msg);
                rc = -1;
                break;
            }
            header = 0;
            continue;
        }
        bt->read++;
        sw_event_t *ev = next_slot(bt);
        if (ev == NULL) {
            rc = -1;
            break;
        }
        int d = csv ? sw_csv_decode_line(cd, line, len, now, ev, &err)
                    : sw_json_decode_line(jd, line, len, now, ev, &err);
        if (d != 0)
            reject(bt, name, lr.lineno, "", &err);
        else
            take(bt);
    }
    sw_lines_deinit(&lr);
    sw_json_decoder_destroy(&jd);
    sw_csv_decoder_destroy(&cd);
    return rc;
}

static int read_msgpack(backtest_t *bt, int fd, const char *name, int64_t now)
{
    size_t cap = 4u << 20, start = 0, end = 0;
    char *buf = NULL;
    int eof = 0, rc = 0;
    /* a regular file is mapped whole and decoded in place; a pipe is read
     * through a buffer */
    struct stat sb;
    void *map = MAP_FAILED;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            /* no MADV_SEQUENTIAL: it drops pages behind the reader, so a
             * second run over the same file reads it from disk again */
            buf = map;
            cap = end = (size_t)sb.st_size;
            eof = 1;
        }
    }
    if (buf == NULL && (buf = malloc(cap)) == NULL) {
        fprintf(stderr, "surgewatch %s: out of memory\n", bt->cmd);
        return -1;
    }
    uint64_t offset = 0; /* of buf[start] in the input */
    sw_event_err_t err;
    while (!interrupted) {
        if (start < end) {
            size_t used = 0;
            sw_event_t *ev = next_slot(bt);
            if (ev == NULL) {
                rc = -1;
                break;
            }
            int d = sw_event_decode_msgpack_stream(buf + start, end - start,
                                                   now, ev, &err, &used);
            if (used > 0) {
                bt->read++;
                if (d == 0)
                    take(bt);
                else
                    reject(bt, name, offset, "byte ", &err);
                start += used;
                offset += used;
                continue;
            }
            if (eof || end - start == cap) {
                bt->read++;
                reject(bt, name, offset, "byte ", &err);
                fprintf(stderr,
                        "surgewatch %s: %s: the msgpack stream is "
                        "broken at byte %llu; nothing after it is read\n",
                        bt->cmd, name, (unsigned long long)offset);
                rc = -1;
                break;
            }
        } else if (eof) {
            break;
        }
        /* need more bytes */
        memmove(buf, buf + start, end - start);
        end -= start;
        start = 0;
        ssize_t n = read(fd, buf + end, cap - end);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "surgewatch %s: %s: read error: %s\n", bt->cmd,
                    name, strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0)
            eof = 1;
        end += (size_t)n;
    }
    if (map != MAP_FAILED)
        munmap(map, (size_t)sb.st_size);
    else
        free(buf);
    return rc;
}

typedef struct decoder_args {
    backtest_t *bt;
    int fd, format;
    const char *name;
    int64_t now;
    int rc;
} decoder_args_t;

static int read_input(backtest_t *bt, int fd, const char *name, int format,
                      int64_t now)
{
    return format == 2 ? read_msgpack(bt, fd, name, now)
                       : read_lines(bt, fd, name, format == 1, now);
}

static void *decoder_main(void *arg)
{
    decoder_args_t *a = arg;
    a->rc = read_input(a->bt, a->fd, a->name, a->format, a->now);
    handoff_publish(a->bt->ho, 1);
    return NULL;
}

/* The detector side of two threads: sorts and counts what the decoder
 * hands over, until it is done. */
static void consume(backtest_t *bt, handoff_t *ho)
{
    size_t i;
    while (sw_ring_read_begin(&ho->ring, &i)) {
        take_batch(bt, &ho->b[i]);
        sw_ring_read_end(&ho->ring);
    }
}

/* ------------------------------------------- parallel line decoding */

/* JSON parsing is most of a JSON backtest's work, so a regular file of
 * lines is cut into chunks at line ends and two decoder threads take the
 * chunks in turn (chunk i to decoder i % 2), each through its own handoff
 * ring; the detector thread empties the rings in chunk order, so the
 * events reach the detectors in input order, exactly as with one decoder.
 */
#define NDEC 2
#define CHUNK_BYTES (1u << 20)

/* set when the detector thread stops early: decoders stop too */
static int decoders_stop;

typedef struct chunk {
    size_t start, end; /* byte range, whole lines */
    uint64_t first_line;
} chunk_t;

typedef struct decoder {
    backtest_t view; /* a copy of the state with its own ring and counters */
    handoff_t ho;
    const char *data;
    const chunk_t *chunks;
    size_t nchunks, first; /* chunks first, first + NDEC, ... */
    const char *name;
    const char *header; /* the CSV header line, or NULL */
    size_t header_len;
    int64_t now;
    int rc;
} decoder_t;

static void decode_chunk(decoder_t *d, const chunk_t *c, sw_json_decoder_t *jd,
                         sw_csv_decoder_t *cd)
{
    backtest_t *bt = &d->view;
    sw_event_err_t err;
    uint64_t lineno = c->first_line;
    const char *p = d->data + c->start, *end = d->data + c->end;
    while (p < end && !interrupted &&
           !__atomic_load_n(&decoders_stop, __ATOMIC_RELAXED)) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        size_t len = (size_t)(stop - p);
        const char *line = p;
        p = nl ? nl + 1 : end;
        uint64_t no = lineno++;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (len == 0 || strspn(line, " \t") >= len)
            continue;
        bt->read++;
        if (len > 65536) {
            sw_event_fail(&err, SW_REASON_TOO_LONG, -1,
                          "line of %zu bytes is too long (accepted: up to "
                          "65536)",
                          len);
            reject(bt, d->name, no, "", &err);
            continue;
        }
        sw_event_t *ev = next_slot(bt);
        int r = cd ? sw_csv_decode_line(cd, line, len, d->now, ev, &err)
                   : sw_json_decode_line(jd, line, len, d->now, ev, &err);
        if (r != 0)
            reject(bt, d->name, no, "", &err);
        else
            take(bt);
    }
    /* the chunk's last batch, marked, even when empty */
    next_slot(bt);
    bt->ho->cur->end_of_chunk = 1;
    handoff_publish(bt->ho, 0);
}

static void *parallel_decoder_main(void *arg)
{
    decoder_t *d = arg;
    sw_json_decoder_t *jd = sw_json_decoder_new();
    sw_csv_decoder_t *cd = d->header ? sw_csv_decoder_new() : NULL;
    sw_event_err_t err;
    if (jd == NULL || (d->header && cd == NULL)) {
        d->rc = -1;
    } else if (cd &&
               sw_csv_decoder_header(cd, d->header, d->header_len, &err) != 0) {
        d->rc = -1; /* checked by the caller already */
    } else {
        for (size_t i = d->first;
             i < d->nchunks && !interrupted &&
             !__atomic_load_n(&decoders_stop, __ATOMIC_RELAXED);
             i += NDEC)
            decode_chunk(d, &d->chunks[i], jd, cd);
    }
    sw_json_decoder_destroy(&jd);
    sw_csv_decoder_destroy(&cd);
    handoff_publish(&d->ho, 1);
    return NULL;
}

/* Empties the rings in chunk order. Returns when every chunk is done or a
 * decoder stopped early. */
static void consume_chunks(backtest_t *bt, decoder_t *dec, size_t nchunks)
{
    for (size_t c = 0; c < nchunks; c++) {
        handoff_t *ho = &dec[c % NDEC].ho;
        for (;;) {
            size_t i;
            if (!sw_ring_read_begin(&ho->ring, &i))
                return; /* that decoder ended early (interrupted) */
            take_batch(bt, &ho->b[i]);
            int last = ho->b[i].end_of_chunk;
            sw_ring_read_end(&ho->ring);
            if (last)
                break;
        }
    }
}

/* Decodes a regular file of JSON or CSV lines with NDEC decoder threads.
 * Returns -1 when the input is not a regular file that can be mapped (the
 * caller then uses one decoder), else 0 with *rc the reading status. */
static int run_parallel_lines(backtest_t *bt, int fd, const char *name, int csv,
                              int64_t now, int *rc)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0)
        return -1;
    size_t size = (size_t)sb.st_size;
    char *data = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED)
        return -1;
    *rc = 0;
    size_t pos = 0;
    uint64_t line = 1;
    if (size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    /* CSV: the first non-blank line is the header */
    const char *header = NULL;
    size_t header_len = 0;
    while (csv && pos < size && header == NULL) {
        const char *nl = memchr(data + pos, '\n', size - pos);
        size_t len = (nl ? (size_t)(nl - data) : size) - pos;
        const char *l = data + pos;
        pos += len + (nl != NULL);
        line++;
        if (len > 0 && l[len - 1] == '\r')
            len--;
        if (len == 0 || strspn(l, " \t") >= len)
            continue;
        sw_csv_decoder_t *cd = sw_csv_decoder_new();
        sw_event_err_t err;
        if (cd == NULL || sw_csv_decoder_header(cd, l, len, &err) != 0) {
            fprintf(stderr, "surgewatch %s: %s:%llu: bad CSV header: %s\n",
                    bt->cmd, name, (unsigned long long)(line - 1),
                    cd ? err.msg : "out of memory");
            sw_csv_decoder_destroy(&cd);
            munmap(data, size);
            *rc = -1;
            return 0;
        }
        sw_csv_decoder_destroy(&cd);
        header = l;
        header_len = len;
    }
    /* chunks of about CHUNK_BYTES, cut after a newline, with their first
     * line numbers */
    size_t cap = size / CHUNK_BYTES + 2, n = 0;
    chunk_t *chunks = malloc(cap * sizeof(*chunks));
    decoder_t *dec = calloc(NDEC, sizeof(*dec));
    if (chunks == NULL || dec == NULL) {
        free(chunks);
        free(dec);
        munmap(data, size);
        return -1;
    }
    while (pos < size) {
        size_t end = pos + CHUNK_BYTES < size ? pos + CHUNK_BYTES : size;
        if (end < size) {
            const char *nl = memchr(data + end, '\n', size - end);
            end = nl ? (size_t)(nl - data) + 1 : size;
        }
        chunks[n].start = pos;
        chunks[n].end = end;
        chunks[n].first_line = line;
        /* a plain counting loop: the compiler vectorises it */
        uint64_t lines = 0;
        for (size_t q = pos; q < end; q++)
            lines += data[q] == '\n';
        line += lines;
        n++;
        pos = end;
    }
    pthread_t th[NDEC];
    int started = 0;
    for (int i = 0; i < NDEC; i++) {
        decoder_t *d = &dec[i];
        d->view = *bt;
        d->view.read = d->view.rejected = d->view.out_of_range = 0;
        memset(d->view.reasons, 0, sizeof(d->view.reasons));
        d->view.ho = &d->ho;
        d->ho.b = malloc(HANDOFF_BATCHES * sizeof(*d->ho.b));
        sw_ring_init(&d->ho.ring, HANDOFF_BATCHES);
        d->data = data;
        d->chunks = chunks;
        d->nchunks = n;
        d->first = (size_t)i;
        d->name = name;
        d->header = header;
        d->header_len = header_len;
        d->now = now;
        if (d->ho.b == NULL ||
            pthread_create(&th[i], NULL, parallel_decoder_main, d) != 0)
            break;
        started++;
    }
    decoders_stop = 0;
    if (started == NDEC)
        consume_chunks(bt, dec, n);
    __atomic_store_n(&decoders_stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < started; i++) {
        /* a decoder may wait for ring space: throw away what is left
         * until it says it is done */
        sw_ring_discard_until_done(&dec[i].ho.ring);
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NDEC; i++) {
        decoder_t *d = &dec[i];
        bt->read += d->view.read;
        bt->rejected += d->view.rejected;
        bt->out_of_range += d->view.out_of_range;
        for (int r = 0; r < SW_REASON__COUNT; r++)
            bt->reasons[r] += d->view.reasons[r];
        if (d->rc)
            *rc = -1;
        sw_ring_deinit(&d->ho.ring);
        free(d->ho.b);
    }
    if (started != NDEC) {
        fprintf(stderr, "surgewatch %s: cannot start decoder threads\n",
                bt->cmd);
        *rc = -1;
    }
    free(chunks);
    free(dec);
    munmap(data, size);
    return 0;
}

/* Runs the decoder in a thread of its own and the detectors here. Falls
 * back to one thread when a thread cannot be had. */
static int run_two_threads(backtest_t *bt, int fd, const char *name, int format,
                           int64_t now)
{
    handoff_t ho = {0};
    ho.b = malloc(HANDOFF_BATCHES * sizeof(*ho.b));
    if (ho.b == NULL)
        return read_input(bt, fd, name, format, now);
    if (sw_ring_init(&ho.ring, HANDOFF_BATCHES) != 0) {
        free(ho.b);
        return read_input(bt, fd, name, format, now);
    }
    decoder_args_t a = {bt, fd, format, name, now, 0};
    bt->ho = &ho;
    pthread_t th;
    int rc;
    if (pthread_create(&th, NULL, decoder_main, &a) != 0) {
        bt->ho = NULL;
        rc = read_input(bt, fd, name, format, now);
    } else {
        consume(bt, &ho);
        pthread_join(th, NULL);
        bt->ho = NULL;
        rc = a.rc;
    }
    sw_ring_deinit(&ho.ring);
    free(ho.b);
    return rc;
}

/* ------------------------------------------------ one pass, N engines */

/* 0 json, 1 csv, 2 msgpack, from the file name */
static int format_from_name(const char *events)
{
    if (sw_cmd_ends_with(events, ".csv"))
        return 1;
    if (sw_cmd_ends_with(events, ".msgpack") || sw_cmd_ends_with(events, ".mp"))
        return 2;
    return 0;
}

/* The sorting horizon: the one asked for (-1: 1 h), at most the lateness. */
static int64_t reorder_horizon(int64_t requested, int64_t lateness_ms)
{
    int64_t r = requested < 0 ? SW_MS_PER_HOUR : requested;
    return r > lateness_ms ? lateness_ms : r;
}

/* Opens the events file ("-": standard input) and sets *name for the
 * messages. Returns the descriptor, or -1 after saying why. */
static int open_events(const char *cmd, const char *events, const char **name)
{
    int is_stdin = strcmp(events, "-") == 0;
    *name = is_stdin ? "<stdin>" : events;
    int fd = is_stdin ? STDIN_FILENO : open(events, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fprintf(stderr, "surgewatch %s: %s: cannot open: %s\n", cmd, events,
                strerror(errno));
    return fd;
}

/* SIGINT and SIGTERM stop the reading (the previous handlers in old[],
 * when old is not NULL). */
static void catch_signals(struct sigaction *old)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    interrupted = 0;
    sigaction(SIGINT, &sa, old ? &old[0] : NULL);
    sigaction(SIGTERM, &sa, old ? &old[1] : NULL);
}

/* Runs the events of fd through every engine of bt, fed identically:
 * decodes and sorts them, then closes the bucket that holds the newest
 * event in each engine and settles it. Returns the reading status: 0, or
 * -1 when the input could not be read whole (said on stderr). */
static int run_input(backtest_t *bt, int fd, const char *name, int format,
                     int threads, int64_t bucket_ms)
{
    int64_t now = sw_clock_now_ms();
    bt->reported_p = &bt->reported;
    int rc;
    if (threads > 1 && format != 2 &&
        run_parallel_lines(bt, fd, name, format == 1, now, &rc) == 0)
        ; /* decoded by two decoder threads */
    else
        rc = threads > 1 ? run_two_threads(bt, fd, name, format, now)
                         : read_input(bt, fd, name, format, now);
    drain(bt);
    for (int e = 0; e < bt->nengines; e++) {
        if (bt->max_ts != INT64_MIN) {
            /* close the bucket that holds the newest event */
            int64_t last = bt->max_ts / bucket_ms * bucket_ms + bucket_ms;
            sw_engine_advance(bt->engines[e], -1, last);
        }
        sw_engine_settle(bt->engines[e]);
    }
    return rc;
}

/* The summary's first line: what became of the events. */
static void print_counts(const backtest_t *bt, const sw_engine_stats_t *st)
{
    fprintf(stderr,
            "%s: %llu events read, %llu counted, %llu rejected, %llu "
            "duplicates, %llu late, %llu outside --from/--to, %llu unknown "
            "section\n",
            bt->cmd, (unsigned long long)bt->read,
            (unsigned long long)st->events, (unsigned long long)bt->rejected,
            (unsigned long long)st->duplicates, (unsigned long long)bt->late,
            (unsigned long long)bt->out_of_range,
            (unsigned long long)bt->unknown_section);
}

static void close_input(backtest_t *bt, int fd)
{
    if (fd > STDIN_FILENO)
        close(fd);
    ro_free(&bt->q);
    for (int e = 0; e < bt->nengines; e++)
        sw_engine_destroy(&bt->engines[e]);
}

/* -------------------------------------------------------- comparison */

/* What one run's transitions say about an alert. */
typedef struct cmp_alert {
    char alert_id[SW_ALERT_ID_MAX];
    char section[SW_SECTION_MAX + 1];
    int type; /* of a (section, type) key, or -1 */
    sw_detector_kind_t detector;
    sw_level_t level;    /* the highest of its transitions */
    double peak_score;   /* the highest of its raised/updated transitions */
    double threshold;    /* of that transition */
    int64_t raised_at;   /* as its last transition says */
    int64_t resolved_at; /* the window end of its last transition, when
                          * that is a resolve */
    uint8_t raised;      /* it had a raised transition */
    uint8_t has_peak;
    uint8_t resolved;  /* its last transition is a resolve */
    uint8_t retracted; /* ... with `retracted` set */
} cmp_alert_t;

/* The alerts of one run, by id. */
typedef struct cmp_run {
    cmp_alert_t *v;
    size_t n, cap;
    uint32_t *index; /* open addressing: 1 + position in v; 0: empty */
    size_t icap;     /* a power of two, more than 2n */
    int oom;
} cmp_run_t;

static uint64_t id_hash(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* The alert's entry, or NULL. */
static const cmp_alert_t *cmp_find(const cmp_run_t *r, const char *id)
{
    if (r->icap == 0)
        return NULL;
    for (size_t i = id_hash(id) & (r->icap - 1);; i = (i + 1) & (r->icap - 1)) {
        uint32_t x = r->index[i];
        if (x == 0)
            return NULL;
        if (strcmp(r->v[x - 1].alert_id, id) == 0)
            return &r->v[x - 1];
    }
}

static void cmp_index_put(uint32_t *index, size_t icap, const char *id,
                          uint32_t x)
{
    size_t i = id_hash(id) & (icap - 1);
    while (index[i] != 0)
        i = (i + 1) & (icap - 1);
    index[i] = x;
}

/* The alert's entry, a new one when it has none, or NULL (out of memory). */
static cmp_alert_t *cmp_get(cmp_run_t *r, const sw_alert_t *a)
{
    cmp_alert_t *c = (cmp_alert_t *)cmp_find(r, a->alert_id);
    if (c != NULL)
        return c;
    if (r->n >= UINT32_MAX - 1)
        return NULL;
    if ((r->n + 1) * 2 >= r->icap) {
        size_t icap = r->icap ? r->icap * 2 : 1024;
        uint32_t *index = calloc(icap, sizeof(*index));
        if (index == NULL)
            return NULL;
        for (size_t j = 0; j < r->n; j++)
            cmp_index_put(index, icap, r->v[j].alert_id, (uint32_t)(j + 1));
        free(r->index);
        r->index = index;
        r->icap = icap;
    }
    if (r->n == r->cap && grow((void **)&r->v, &r->cap, sizeof(*r->v)))
        return NULL;
    c = &r->v[r->n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->alert_id, sizeof(c->alert_id), "%s", a->alert_id);
    snprintf(c->section, sizeof(c->section), "%s", a->section);
    c->type = a->type;
    c->detector = a->detector;
    c->level = a->level;
    cmp_index_put(r->index, r->icap, c->alert_id, (uint32_t)r->n);
    return c;
}

/* Numbers as sw_alert_to_json writes them: never NaN or infinity. */
static double json_num(double v)
{
    return isfinite(v) ? v : (v > 0 ? 1e300 : (v < 0 ? -1e300 : 0));
}

/* The on_alert of a compared engine: every transition into its run. */
static void on_compare_alert(void *opaque, const sw_alert_t *a)
{
    cmp_run_t *r = opaque;
    cmp_alert_t *c = cmp_get(r, a);
    if (c == NULL) {
        r->oom = 1;
        return;
    }
    if (a->level > c->level)
        c->level = a->level;
    if (a->state != SW_ALERT_RESOLVED) {
        double score = json_num(a->score);
        if (!c->has_peak || score > c->peak_score) {
            c->peak_score = score;
            c->threshold = json_num(a->threshold);
            c->has_peak = 1;
        }
    }
    if (a->state == SW_ALERT_RAISED)
        c->raised = 1;
    c->raised_at = a->raised_at;
    c->resolved = a->state == SW_ALERT_RESOLVED;
    c->retracted = c->resolved && a->retracted;
    if (c->resolved)
        c->resolved_at = a->window_end;
}

static int cmp_stands(const cmp_alert_t *c)
{
    return c->raised && !(c->resolved && c->retracted);
}

static void cmp_free(cmp_run_t *r)
{
    free(r->v);
    free(r->index);
    memset(r, 0, sizeof(*r));
}

typedef struct cmp_change {
    const cmp_alert_t *a;
    int added; /* else removed */
} cmp_change_t;

/* By section, then raised_at, then alert_id. */
static int change_order(const void *x, const void *y)
{
    const cmp_alert_t *a = ((const cmp_change_t *)x)->a;
    const cmp_alert_t *b = ((const cmp_change_t *)y)->a;
    int c = strcmp(a->section, b->section);
    if (c != 0)
        return c;
    if (a->raised_at != b->raised_at)
        return a->raised_at < b->raised_at ? -1 : 1;
    return strcmp(a->alert_id, b->alert_id);
}

static void print_change_json(const cmp_change_t *ch)
{
    const cmp_alert_t *a = ch->a;
    char ra[SW_TIME_STR_MAX], re[SW_TIME_STR_MAX],
        resolved[SW_TIME_STR_MAX + 2];
    char type[48] = "";
    if (a->type >= 0)
        snprintf(type, sizeof(type), "\"type\":\"%s\",",
                 sw_event_type_name((sw_event_type_t)a->type));
    if (a->resolved)
        snprintf(resolved, sizeof(resolved), "\"%s\"",
                 sw_time_format(a->resolved_at, re));
    else
        snprintf(resolved, sizeof(resolved), "null");
    printf("{\"change\":\"%s\",\"alert_id\":\"%s\",\"section\":\"%s\",%s"
           "\"detector\":\"%s\",\"level\":\"%s\",\"peak_score\":%.6g,"
           "\"threshold\":%.6g,\"raised_at\":\"%s\",\"resolved_at\":%s}\n",
           ch->added ? "added" : "removed", a->alert_id, a->section, type,
           sw_detector_name(a->detector), sw_level_name(a->level),
           a->peak_score, a->threshold, sw_time_format(a->raised_at, ra),
           resolved);
}

/* "2019-03-05T00:00Z": buckets start on whole minutes */
static char *short_time(int64_t ms, char *buf)
{
    sw_time_format(ms, buf);
    if (strlen(buf) > 16) {
        buf[16] = 'Z';
        buf[17] = '\0';
    }
    return buf;
}

/* A heading per section with changes, then a line per alert. */
static void print_change_table(const cmp_change_t *ch, size_t n)
{
    int w = (int)strlen("alert");
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(ch[i].a->alert_id) > w)
            w = (int)strlen(ch[i].a->alert_id);
    printf("    %-*s  %-9s  %-8s  %-17s  %-17s  %s\n", w, "alert", "detector",
           "level", "raised at", "resolved at", "peak score / threshold");
    for (size_t i = 0; i < n;) {
        size_t j = i, added = 0;
        while (j < n && strcmp(ch[j].a->section, ch[i].a->section) == 0)
            added += ch[j++].added != 0;
        printf("%s: %zu added, %zu removed\n", ch[i].a->section, added,
               j - i - added);
        for (; i < j; i++) {
            const cmp_alert_t *a = ch[i].a;
            char ra[SW_TIME_STR_MAX], re[SW_TIME_STR_MAX];
            printf("  %c %-*s  %-9s  %-8s  %-17s  %-17s  %.6g / %.6g\n",
                   ch[i].added ? '+' : '-', w, a->alert_id,
                   sw_detector_name(a->detector), sw_level_name(a->level),
                   short_time(a->raised_at, ra),
                   a->resolved ? short_time(a->resolved_at, re) : "active",
                   a->peak_score, a->threshold);
        }
    }
}

/* A duration as a config file writes it ("1d", "90s", "0s"). */
static void format_duration(int64_t ms, char *buf, size_t cap)
{
    static const struct {
        int64_t unit;
        const char *name;
    } units[] = {{SW_MS_PER_DAY, "d"},
                 {SW_MS_PER_HOUR, "h"},
                 {SW_MS_PER_MIN, "m"},
                 {SW_MS_PER_SEC, "s"}};
    if (ms == 0) {
        snprintf(buf, cap, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (ms % units[i].unit == 0) {
            snprintf(buf, cap, "%lld%s", (long long)(ms / units[i].unit),
                     units[i].name);
            return;
        }
    snprintf(buf, cap, "%lldms", (long long)ms);
}

/* 0 when the two settings differ at most in their detector profiles;
 * else -1 with errstr naming the first setting that differs. */
static int settings_differ(const sw_settings_t *cur, const sw_settings_t *prop,
                           char *errstr, size_t errstr_size)
{
    const sw_engine_conf_t *x = &cur->engine, *y = &prop->engine;
    const char *what = NULL;
    char a[64], b[64];
#define DURATION(field, name)                                                  \
    if (what == NULL && x->field != y->field) {                                \
        what = name;                                                           \
        format_duration(x->field, a, sizeof(a));                               \
        format_duration(y->field, b, sizeof(b));                               \
    }
#define BOOLEAN(xv, yv, name)                                                  \
    if (what == NULL && !(xv) != !(yv)) {                                      \
        what = name;                                                           \
        snprintf(a, sizeof(a), "%s", (xv) ? "true" : "false");                 \
        snprintf(b, sizeof(b), "%s", (yv) ? "true" : "false");                 \
    }
#define NUMBER(field, fmt, type, name)                                         \
    if (what == NULL && x->field != y->field) {                                \
        what = name;                                                           \
        snprintf(a, sizeof(a), fmt, (type)x->field);                           \
        snprintf(b, sizeof(b), fmt, (type)y->field);                           \
    }
    DURATION(bucket_ms, "[windows] bucket")
    DURATION(lateness_ms, "[windows] lateness")
    DURATION(idle_ms, "[windows] idle")
    BOOLEAN(x->by_type, y->by_type, "[windows] by_type")
    BOOLEAN(cur->profiles.strict, prop->profiles.strict,
            "[windows] strict_sections")
    NUMBER(max_lookback, "%lu", unsigned long, "[windows] max_lookback")
    NUMBER(dedup_capacity, "%zu", size_t, "[windows] dedup_capacity")
    NUMBER(raise_after, "%lu", unsigned long, "[alerts] raise_after")
    NUMBER(resolve_after, "%lu", unsigned long, "[alerts] resolve_after")
    NUMBER(update_min_change, "%g", double, "[alerts] update_min_change")
#undef DURATION
#undef BOOLEAN
#undef NUMBER
    if (what == NULL)
        return 0;
    snprintf(errstr, errstr_size, "%s differs (current %s, proposed %s)", what,
             a, b);
    return -1;
}

int sw_backtest_compare(const sw_compare_opts_t *o,
                        const sw_settings_t *current,
                        const sw_settings_t *proposed)
{
    static const char *const which[2] = {"current", "proposed"};
    const char *cmd = o->cmd ? o->cmd : "backtest";
    char errstr[512];
    if (o->events == NULL || o->format < -1 || o->format > 2 ||
        o->partitions < 1 || (o->threads != 1 && o->threads != 2)) {
        fprintf(stderr,
                "surgewatch %s: bad comparison options (events file, "
                "format, partitions >= 1, threads 1 or 2)\n",
                cmd);
        return SW_EXIT_USAGE;
    }
    if (settings_differ(current, proposed, errstr, sizeof(errstr))) {
        fprintf(stderr,
                "surgewatch %s: the settings cannot be compared: %s; only "
                "the detector profiles ([detectors], [section ...], levels) "
                "may differ\n",
                cmd, errstr);
        return SW_EXIT_USAGE;
    }
    const sw_settings_t *in[2] = {current, proposed};
    cmp_run_t runs[2];
    memset(runs, 0, sizeof(runs));
    backtest_t bt = {.cmd = cmd,
                     .from_ms = o->from_ms,
                     .to_ms = o->to_ms,
                     .max_ts = INT64_MIN,
                     .quiet = o->quiet,
                     .partitions = o->partitions,
                     .nengines = 2};
    int status = SW_EXIT_USAGE;
    int fd = -1;
    cmp_change_t *ch = NULL;
    for (int e = 0; e < 2; e++) {
        sw_engine_conf_t conf = in[e]->engine; /* a copy: ours to set */
        conf.on_alert = on_compare_alert;
        conf.on_section = NULL; /* the opaque is ours: no other callback */
        conf.opaque = &runs[e];
        bt.engines[e] =
            sw_engine_new(&conf, &in[e]->profiles, errstr, sizeof(errstr));
        if (bt.engines[e] == NULL) {
            fprintf(stderr, "surgewatch %s: the %s settings: %s\n", cmd,
                    which[e], errstr);
            goto out;
        }
    }
    bt.reorder_ms = reorder_horizon(o->reorder_ms, current->engine.lateness_ms);
    int format = o->format < 0 ? format_from_name(o->events) : o->format;
    const char *name;
    fd = open_events(cmd, o->events, &name);
    if (fd < 0) {
        status = SW_EXIT_REJECTED;
        goto out;
    }
    struct sigaction old[2];
    catch_signals(old);
    int64_t t0 = sw_clock_mono_ns();
    int rc =
        run_input(&bt, fd, name, format, o->threads, current->engine.bucket_ms);
    double secs = (double)(sw_clock_mono_ns() - t0) / 1e9;
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);

    /* the summary: the events as backtest counts them (the current
     * engine's; the proposed one's too when they differ) */
    const sw_engine_stats_t *st = sw_engine_stats(bt.engines[0]);
    const sw_engine_stats_t *sp = sw_engine_stats(bt.engines[1]);
    print_counts(&bt, st);
    if (sp->events != st->events || sp->duplicates != st->duplicates ||
        sp->late != st->late || sp->unknown_section != st->unknown_section)
        fprintf(stderr,
                "%s: with the proposed settings: %llu counted, %llu "
                "duplicates, %llu late, %llu unknown section\n",
                cmd, (unsigned long long)sp->events,
                (unsigned long long)sp->duplicates,
                (unsigned long long)sp->late,
                (unsigned long long)sp->unknown_section);
    fprintf(stderr, "%s: %.2f s, %.0f events/s, two settings\n", cmd, secs,
            secs > 0 ? (double)bt.read / secs : 0.0);
    if (bt.rejected)
        sw_cmd_print_reasons(cmd, bt.reasons);
    if (bt.q.oom) {
        fprintf(stderr,
                "surgewatch %s: out of memory in the reorder buffer; some "
                "events were dropped\n",
                cmd);
        rc = -1;
    }
    if (interrupted) {
        fprintf(stderr, "%s: interrupted; nothing compared\n", cmd);
        status = SW_EXIT_INTERRUPTED;
        goto out;
    }
    if (runs[0].oom || runs[1].oom) {
        fprintf(stderr,
                "surgewatch %s: out of memory: the alerts cannot be "
                "compared\n",
                cmd);
        status = SW_EXIT_REJECTED;
        goto out;
    }

    /* what stands in one run and not in the other */
    size_t stands[2] = {0, 0}, nch = 0, added = 0, sections = 0;
    ch = malloc((runs[0].n + runs[1].n + 1) * sizeof(*ch));
    if (ch == NULL) {
        fprintf(stderr, "surgewatch %s: out of memory\n", cmd);
        status = SW_EXIT_REJECTED;
        goto out;
    }
    for (int e = 0; e < 2; e++) {
        for (size_t i = 0; i < runs[e].n; i++) {
            const cmp_alert_t *c = &runs[e].v[i];
            if (!cmp_stands(c))
                continue;
            stands[e]++;
            const cmp_alert_t *other = cmp_find(&runs[1 - e], c->alert_id);
            if (other != NULL && cmp_stands(other))
                continue;
            ch[nch].a = c;
            ch[nch++].added = e == 1;
            added += e == 1;
        }
    }
    qsort(ch, nch, sizeof(*ch), change_order);
    for (size_t i = 0; i < nch; i++)
        if (i == 0 || strcmp(ch[i].a->section, ch[i - 1].a->section) != 0)
            sections++;
    if (nch == 0)
        fprintf(o->json ? stderr : stdout,
                "no change: the proposed settings give the same alerts (%zu "
                "alerts)\n",
                stands[0]);
    else if (o->json)
        for (size_t i = 0; i < nch; i++)
            print_change_json(&ch[i]);
    else
        print_change_table(ch, nch);
    fflush(stdout);
    fprintf(stderr,
            "compare: current %zu alerts, proposed %zu alerts; %zu added, "
            "%zu removed in %zu sections\n",
            stands[0], stands[1], added, nch - added, sections);
    status = rc ? SW_EXIT_REJECTED : SW_EXIT_OK;
out:
    close_input(&bt, fd);
    free(ch);
    cmp_free(&runs[0]);
    cmp_free(&runs[1]);
    return status;
}

/* ------------------------------------------------------------ command */

static int parse_time(const char *s, int64_t *ms)
{
    size_t len = strlen(s);
    char *end;
    if (len == 10 && s[4] == '-' && s[7] == '-') {
        char buf[32];
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        return sw_time_parse_rfc3339(buf, strlen(buf), ms) ? -1 : 0;
    }
    if (sw_time_parse_rfc3339(s, len, ms) == 0)
        return 0;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end && !errno) {
        *ms = v;
        return 0;
    }
    return -1;
}

/* Reads the detection settings of a config file over the defaults (path
 * NULL or empty: the defaults). Returns 0, or -1 after printing the
 * file:line message. */
static int load_settings(const char *path, sw_settings_t *s)
{
    char errstr[512];
    sw_settings_default(s);
    if (path == NULL || *path == '\0')
        return 0;
    sw_config_t *cfg = sw_config_load(path, errstr, sizeof(errstr));
    int rc = cfg == NULL || sw_settings_load(cfg, s, errstr, sizeof(errstr));
    if (rc)
        fprintf(stderr, "surgewatch backtest: %s\n", errstr);
    sw_config_destroy(&cfg);
    return rc ? -1 : 0;
}

enum {
    OPT_FROM = 256,
    OPT_TO,
    OPT_NO_ALERTS,
    OPT_REORDER,
    OPT_THREADS,
    OPT_PARTITIONS,
    OPT_COMPARE,
    OPT_JSON
};

int sw_compare_event_opt(const char *cmd, const char *name, const char *arg,
                         sw_compare_opts_t *o)
{
    unsigned long long n;
    if (strcmp(name, "format") == 0) {
        if (!strcmp(arg, "json") || !strcmp(arg, "jsonl"))
            o->format = 0;
        else if (!strcmp(arg, "csv"))
            o->format = 1;
        else if (!strcmp(arg, "msgpack"))
            o->format = 2;
        else
            goto bad;
    } else if (strcmp(name, "threads") == 0) {
        if (strcmp(arg, "1") && strcmp(arg, "2"))
            goto bad;
        o->threads = arg[0] - '0';
    } else if (strcmp(name, "partitions") == 0) {
        if (sw_parse_uint(arg, 1, 10000, &n))
            goto bad;
        o->partitions = (int32_t)n;
    } else if (strcmp(name, "reorder") == 0) {
        if (sw_parse_duration(arg, &o->reorder_ms))
            goto bad;
    } else {
        fprintf(stderr, "surgewatch %s: --%s: not an event option\n", cmd,
                name);
        return -1;
    }
    return 0;
bad:
    fprintf(stderr, "surgewatch %s: --%s %s: %s\n", cmd, name, arg,
            strcmp(name, "format") == 0
                ? "unknown format (accepted: json, csv, msgpack)"
            : strcmp(name, "threads") == 0 ? "accepted: 1 or 2"
            : strcmp(name, "partitions") == 0
                ? "accepted: a whole number in 1..10000"
                : "not a duration (accepted: a whole number with a unit ms, "
                  "s, m, h or d, e.g. 30m, 1h)");
    return -1;
}

int sw_cmd_backtest(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"events", required_argument, NULL, 'e'},
        {"format", required_argument, NULL, 'f'},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"quiet", no_argument, NULL, 'q'},
        {"no-alerts", no_argument, NULL, OPT_NO_ALERTS},
        {"reorder", required_argument, NULL, OPT_REORDER},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"compare", required_argument, NULL, OPT_COMPARE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = getenv("SURGEWATCH_CONFIG");
    const char *compare_path = NULL;
    const char *events = "-";
    int format = -1; /* 0 json, 1 csv, 2 msgpack */
    int threads = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
    int json = 0;
    backtest_t bt = {.cmd = "backtest",
                     .from_ms = INT64_MIN,
                     .to_ms = INT64_MAX,
                     .max_ts = INT64_MIN,
                     .reorder_ms = -1,
                     .partitions = 1};
    sw_settings_t settings, proposed;
    int status = SW_EXIT_USAGE;
    int fd = -1;
    char errstr[512];
    sw_settings_default(&settings);
    sw_settings_default(&proposed);
    sw_compare_opts_t eo = {
        .format = -1, .reorder_ms = -1, .partitions = 1, .threads = threads};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:e:f:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'e':
            events = optarg;
            break;
        case 'f':
            if (sw_compare_event_opt("backtest", "format", optarg, &eo))
                goto out;
            break;
        case OPT_FROM:
        case OPT_TO:
            if (parse_time(optarg, opt == OPT_FROM ? &bt.from_ms : &bt.to_ms)) {
                fprintf(stderr,
                        "surgewatch backtest: --%s %s: not a time (accepted: "
                        "RFC 3339, YYYY-MM-DD, or epoch milliseconds)\n",
                        opt == OPT_FROM ? "from" : "to", optarg);
                goto out;
            }
            break;
        case 'q':
            bt.quiet = 1;
            break;
        case OPT_NO_ALERTS:
            bt.no_alerts = 1;
            break;
        case OPT_COMPARE:
            compare_path = optarg;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_THREADS:
        case OPT_PARTITIONS:
        case OPT_REORDER:
            if (sw_compare_event_opt("backtest",
                                     opt == OPT_THREADS      ? "threads"
                                     : opt == OPT_PARTITIONS ? "partitions"
                                                             : "reorder",
                                     optarg, &eo))
                goto out;
            break;
        case 'h':
            fputs(help, stdout);
            status = SW_EXIT_OK;
            goto out;
        default:
            fprintf(stderr, "Try 'surgewatch backtest --help'.\n");
            goto out;
        }
    }
    format = eo.format;
    threads = eo.threads;
    bt.partitions = eo.partitions;
    bt.reorder_ms = eo.reorder_ms;
    if (optind < argc) {
        if (optind + 1 == argc && strcmp(events, "-") == 0) {
            events = argv[optind];
        } else {
            fprintf(stderr,
                    "surgewatch backtest: unexpected argument '%s' (one "
                    "events file, with --events or alone)\n",
                    argv[optind]);
            goto out;
        }
    }
    if (json && compare_path == NULL) {
        fprintf(stderr, "surgewatch backtest: --json is only for --compare "
                        "(without it every alert transition is a JSON line "
                        "already)\n");
        goto out;
    }
    if (compare_path != NULL && bt.no_alerts) {
        fprintf(stderr, "surgewatch backtest: --no-alerts is not for "
                        "--compare (it prints only the changes)\n");
        goto out;
    }
    if (load_settings(config_path, &settings))
        goto out;
    if (compare_path != NULL) {
        if (*compare_path == '\0') {
            fprintf(stderr, "surgewatch backtest: --compare: a config file "
                            "name is needed\n");
            goto out;
        }
        if (load_settings(compare_path, &proposed))
            goto out;
        sw_compare_opts_t co = {.cmd = "backtest",
                                .events = events,
                                .format = format,
                                .from_ms = bt.from_ms,
                                .to_ms = bt.to_ms,
                                .reorder_ms = bt.reorder_ms,
                                .partitions = bt.partitions,
                                .threads = threads,
                                .quiet = bt.quiet,
                                .json = json};
        status = sw_backtest_compare(&co, &settings, &proposed);
        goto out;
    }
    settings.engine.on_alert = on_alert;
    settings.engine.opaque = &bt;
    bt.engines[0] = sw_engine_new(&settings.engine, &settings.profiles, errstr,
                                  sizeof(errstr));
    if (bt.engines[0] == NULL) {
        fprintf(stderr, "surgewatch backtest: %s%s%s\n",
                config_path ? config_path : "", config_path ? ": " : "",
                errstr);
        goto out;
    }
    bt.nengines = 1;

    bt.reorder_ms = reorder_horizon(bt.reorder_ms, settings.engine.lateness_ms);
    if (format < 0)
        format = format_from_name(events);
    const char *name;
    fd = open_events(bt.cmd, events, &name);
    if (fd < 0) {
        status = SW_EXIT_REJECTED;
        goto out;
    }
    catch_signals(NULL);
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

    int64_t t0 = sw_clock_mono_ns();
    int rc =
        run_input(&bt, fd, name, format, threads, settings.engine.bucket_ms);
    fflush(stdout);
    double secs = (double)(sw_clock_mono_ns() - t0) / 1e9;
    const sw_engine_stats_t *st = sw_engine_stats(bt.engines[0]);
    print_counts(&bt, st);
    fprintf(stderr,
            "backtest: %llu keys, %llu evaluations, %llu late corrections; "
            "alerts: %llu raised, %llu updated, %llu resolved (%llu "
            "retracted)\n",
            (unsigned long long)st->keys, (unsigned long long)st->evaluations,
            (unsigned long long)st->late_updates,
            (unsigned long long)st->alerts[SW_ALERT_RAISED],
            (unsigned long long)st->alerts[SW_ALERT_UPDATED],
            (unsigned long long)st->alerts[SW_ALERT_RESOLVED],
            (unsigned long long)st->retracted);
    fprintf(stderr, "backtest: %.2f s, %.0f events/s\n", secs,
            secs > 0 ? (double)bt.read / secs : 0.0);
    if (bt.rejected)
        sw_cmd_print_reasons("backtest", bt.reasons);
    if (bt.q.oom) {
        fprintf(stderr, "surgewatch backtest: out of memory in the reorder "
                        "buffer; some events were dropped\n");
        rc = -1;
    }
    if (interrupted) {
        fprintf(stderr, "backtest: interrupted\n");
        status = SW_EXIT_INTERRUPTED;
    } else {
        status = rc ? SW_EXIT_REJECTED : SW_EXIT_OK;
    }
out:
    close_input(&bt, fd);
    sw_settings_deinit(&settings);
    sw_settings_deinit(&proposed);
    return status;
}
