/*
 * surgewatch backtest: runs the detection core over past events from a
 * file (JSON lines, CSV or a msgpack stream) in event-time order and prints
 * every alert transition as one JSON line, then a summary on stderr. It is
 * how an operator tries a threshold before applying it, so it is built for
 * speed: events are decoded without allocation, sorted input passes through
 * a FIFO, and only out-of-order events go through a heap.
 */
#include "sw_alert.h"
#include "sw_cmd.h"
#include "sw_cmd_common.h"
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
    "  -h, --help            this text\n"
    "\n"
    "Events should come roughly in time order: each may be up to the\n"
    "configured lateness (default 24h) older than the newest before it;\n"
    "older ones are counted as late, as the live worker would.\n"
    "\n"
    "Exit status: 0 done (rejected events are counted in the summary);\n"
    "1 the input could not be read; 2 bad options or configuration.\n"
    "\n"
    "Examples:\n"
    "  surgewatch backtest -c surgewatch.ini -e events-2019.jsonl\n"
    "  surgewatch backtest -c proposed.ini -e past.msgpack --from 2019-03-01\n";

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

typedef struct backtest {
    sw_engine_t *engine;
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
        fprintf(stderr, "backtest: more rejected events are only counted "
                        "(see the summary)\n");
}

/* Pushes the waiting batch through the engine. */
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
            bt->results[i] = sw_engine_push(bt->engine, part, ev);
        }
    } else {
        sw_engine_push_batch(bt->engine, 0, bt->batch, bt->nbatch, bt->results);
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
        fprintf(stderr, "surgewatch backtest: out of memory\n");
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
            fprintf(stderr, "surgewatch backtest: %s: read error: %s\n", name,
                    strerror(errno));
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
                        "surgewatch backtest: %s:%llu: bad CSV "
                        "header: %s\n",
                        name, (unsigned long long)lr.lineno, err.msg);
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
        fprintf(stderr, "surgewatch backtest: out of memory\n");
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
                        "surgewatch backtest: %s: the msgpack stream is "
                        "broken at byte %llu; nothing after it is read\n",
                        name, (unsigned long long)offset);
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
            fprintf(stderr, "surgewatch backtest: %s: read error: %s\n", name,
                    strerror(errno));
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
            fprintf(stderr,
                    "surgewatch backtest: %s:%llu: bad CSV header: %s\n", name,
                    (unsigned long long)(line - 1),
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
        fprintf(stderr, "surgewatch backtest: cannot start decoder threads\n");
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

enum {
    OPT_FROM = 256,
    OPT_TO,
    OPT_NO_ALERTS,
    OPT_REORDER,
    OPT_THREADS,
    OPT_PARTITIONS
};

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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = getenv("SURGEWATCH_CONFIG");
    const char *events = "-";
    int format = -1; /* 0 json, 1 csv, 2 msgpack */
    int threads = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
    backtest_t bt = {.from_ms = INT64_MIN,
                     .to_ms = INT64_MAX,
                     .max_ts = INT64_MIN,
                     .reorder_ms = -1,
                     .partitions = 1};
    sw_settings_t settings;
    sw_config_t *cfg = NULL;
    int status = SW_EXIT_USAGE;
    int fd = -1;
    char errstr[512];
    sw_settings_default(&settings);
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
            if (!strcmp(optarg, "json") || !strcmp(optarg, "jsonl"))
                format = 0;
            else if (!strcmp(optarg, "csv"))
                format = 1;
            else if (!strcmp(optarg, "msgpack"))
                format = 2;
            else {
                fprintf(stderr,
                        "surgewatch backtest: --format %s: unknown format "
                        "(accepted: json, csv, msgpack)\n",
                        optarg);
                goto out;
            }
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
        case OPT_THREADS:
            if (strcmp(optarg, "1") == 0)
                threads = 1;
            else if (strcmp(optarg, "2") == 0)
                threads = 2;
            else {
                fprintf(stderr,
                        "surgewatch backtest: --threads %s: accepted: 1 or 2\n",
                        optarg);
                goto out;
            }
            break;
        case OPT_PARTITIONS: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || n < 1 || n > 10000) {
                fprintf(stderr,
                        "surgewatch backtest: --partitions %s: accepted: a "
                        "whole number in 1..10000\n",
                        optarg);
                goto out;
            }
            bt.partitions = (int32_t)n;
            break;
        }
        case OPT_REORDER:
            if (sw_parse_duration(optarg, &bt.reorder_ms)) {
                fprintf(stderr,
                        "surgewatch backtest: --reorder %s: not a duration "
                        "(accepted: a whole number with a unit ms, s, m, h "
                        "or d, e.g. 30m, 1h)\n",
                        optarg);
                goto out;
            }
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
    if (config_path && *config_path) {
        cfg = sw_config_load(config_path, errstr, sizeof(errstr));
        if (cfg == NULL ||
            sw_settings_load(cfg, &settings, errstr, sizeof(errstr))) {
            fprintf(stderr, "surgewatch backtest: %s\n", errstr);
            goto out;
        }
    }
    settings.engine.on_alert = on_alert;
    settings.engine.opaque = &bt;
    bt.engine = sw_engine_new(&settings.engine, &settings.profiles, errstr,
                              sizeof(errstr));
    if (bt.engine == NULL) {
        fprintf(stderr, "surgewatch backtest: %s%s%s\n",
                config_path ? config_path : "", config_path ? ": " : "",
                errstr);
        goto out;
    }

    if (bt.reorder_ms < 0)
        bt.reorder_ms = SW_MS_PER_HOUR;
    if (bt.reorder_ms > settings.engine.lateness_ms)
        bt.reorder_ms = settings.engine.lateness_ms;
    if (format < 0)
        format = sw_cmd_ends_with(events, ".csv") ? 1
                 : sw_cmd_ends_with(events, ".msgpack") ||
                         sw_cmd_ends_with(events, ".mp")
                     ? 2
                     : 0;
    int is_stdin = strcmp(events, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : events;
    fd = is_stdin ? STDIN_FILENO : open(events, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "surgewatch backtest: %s: cannot open: %s\n", events,
                strerror(errno));
        status = SW_EXIT_REJECTED;
        goto out;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

    int64_t t0 = sw_clock_mono_ns();
    int64_t now = sw_clock_now_ms();
    bt.reported_p = &bt.reported;
    int rc;
    if (threads > 1 && format != 2 &&
        run_parallel_lines(&bt, fd, name, format == 1, now, &rc) == 0)
        ; /* decoded by two decoder threads */
    else
        rc = threads > 1 ? run_two_threads(&bt, fd, name, format, now)
                         : read_input(&bt, fd, name, format, now);
    drain(&bt);
    if (bt.max_ts != INT64_MIN) {
        /* close the bucket that holds the newest event */
        int64_t B = settings.engine.bucket_ms;
        int64_t last = bt.max_ts / B * B + B;
        sw_engine_advance(bt.engine, -1, last);
    }
    sw_engine_settle(bt.engine);
    fflush(stdout);
    double secs = (double)(sw_clock_mono_ns() - t0) / 1e9;
    const sw_engine_stats_t *st = sw_engine_stats(bt.engine);
    fprintf(stderr,
            "backtest: %llu events read, %llu counted, %llu rejected, %llu "
            "duplicates, %llu late, %llu outside --from/--to, %llu unknown "
            "section\n",
            (unsigned long long)bt.read, (unsigned long long)st->events,
            (unsigned long long)bt.rejected, (unsigned long long)st->duplicates,
            (unsigned long long)bt.late, (unsigned long long)bt.out_of_range,
            (unsigned long long)bt.unknown_section);
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
    if (fd > STDIN_FILENO)
        close(fd);
    ro_free(&bt.q);
    sw_engine_destroy(&bt.engine);
    sw_settings_deinit(&settings);
    sw_config_destroy(&cfg);
    return status;
}
