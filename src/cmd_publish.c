/*
 * surgewatch publish: the national centre's tool. Reads events as JSON lines
 * or CSV, validates each with the event contract, and produces the valid
 * ones as msgpack to the events topic, keyed by section, through the
 * idempotent producer. Bad lines are reported with file, line and reason
 * and do not stop the good ones (unless --strict).
 */
#include "sw_cmd.h"
#include "sw_cmd_common.h"
#include "sw_err.h"
#include "sw_event.h"
#include "sw_event_text.h"
#include "sw_lines.h"
#include "sw_log.h"
#include "sw_producer.h"
#include "sw_ring.h"
#include "sw_time.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MAX_LINE 65536
#define SEND_TIMEOUT_MS 30000

static const char help[] =
    "usage: surgewatch publish [OPTIONS] [FILE...]\n"
    "\n"
    "Reads border-detection events as JSON lines or CSV from each FILE (or\n"
    "standard input when there is none, or FILE is '-'), validates each one,\n"
    "and produces the valid ones as msgpack to the events topic, keyed by\n"
    "section, with an idempotent Kafka producer. Waits for every delivery\n"
    "report, then prints a summary. The event format is in docs/events.md.\n"
    "\n"
    "Options:\n" SW_KAFKA_OPTIONS_HELP
    "  -f, --format FMT         json or csv (default: csv for a *.csv FILE,\n"
    "                           json otherwise); CSV needs a header row\n"
    "  -n, --dry-run            validate and report only; connect to nothing\n"
    "      --strict             stop at the first rejected line: it and\n"
    "                           everything after it are not sent\n"
    "      --dlq                also send every rejected line, unchanged, to\n"
    "                           TOPIC.dlq with its reason in Kafka headers\n"
    "      --max-line BYTES     longest line accepted (default 65536)\n"
    "  -q, --quiet              no line per rejection, only the summary\n"
    "      --progress           a progress line every second (default when\n"
    "                           standard error is a terminal)\n"
    "      --log-level LEVEL    error, warn, info (default) or debug\n"
    "  -h, --help               this text\n"
    "\n"
    "Exit status: 0 every line sent and delivered; 1 some lines rejected or\n"
    "not delivered; 2 bad options or configuration; 3 the brokers could not\n"
    "be reached; 130 interrupted.\n"
    "\n"
    "Examples:\n"
    "  surgewatch publish -b kafka1:9092 events.jsonl\n"
    "  surgewatch publish --format csv --dry-run < detections.csv\n"
    "  surgewatch publish -X security.protocol=SASL_SSL \\\n"
    "      -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=ncc-hu \\\n"
    "      -X sasl.password=... events.jsonl\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* With a producer, reading and encoding run in a thread of their own and
 * hand encoded events (and dead letters) over in batches through a ring;
 * the main thread gives them to the producer and serves its reports. */
#define OUT_ENTRIES 2048
#define OUT_ARENA (OUT_ENTRIES * 640)
#define OUT_BATCHES 4

typedef struct out_entry {
    uint32_t off;     /* in the arena: key, then value */
    uint16_t key_len; /* events: the section; dead letters: 0 */
    uint32_t len;
    uint8_t dlq;         /* a rejected line for TOPIC.dlq */
    uint8_t reason;      /* dead letters: sw_reason_t */
    uint16_t detail_len; /* dead letters: the message follows the value */
    uint64_t lineno;
    const char *name; /* the input's name (argv or "<stdin>") */
} out_entry_t;

typedef struct out_batch {
    size_t n, used;
    out_entry_t e[OUT_ENTRIES];
    unsigned char arena[OUT_ARENA];
} out_batch_t;

typedef struct outbox {
    sw_ring_t ring; /* counts the OUT_BATCHES buffers */
    out_batch_t *b;
    out_batch_t *cur; /* the reader's batch being filled */
} outbox_t;

typedef struct {
    /* options */
    int format; /* -1: by file name */
    int dry_run, strict, dlq, quiet, progress;
    size_t max_line;
    /* run state */
    sw_producer_t *producer;
    sw_json_decoder_t *json;
    sw_csv_decoder_t *csv;
    char topic[256];
    uint64_t lines, valid, rejected, send_failed;
    uint64_t reasons[SW_REASON__COUNT];
    int64_t t0_ns, last_progress_ns;
    int stop; /* --strict tripped, or a fatal send error (atomic) */
    int fatal;
    outbox_t *ob; /* two threads: the reader's side of the ring */
} publish_t;

static void report_rejection(publish_t *p, const char *name, uint64_t lineno,
                             const sw_event_err_t *err)
{
    __atomic_fetch_add(&p->rejected, 1, __ATOMIC_RELAXED);
    p->reasons[err->reason]++;
    if (!p->quiet)
        fprintf(stderr, "%s:%llu: rejected (%s): %s\n", name,
                (unsigned long long)lineno, sw_reason_name(err->reason),
                err->msg);
}

static void progress(publish_t *p, int final)
{
    int64_t now = sw_clock_mono_ns();
    if (!final && now - p->last_progress_ns < 1000000000)
        return;
    p->last_progress_ns = now;
    double s = (double)(now - p->t0_ns) / 1e9;
    const sw_producer_stats_t *st =
        p->producer ? sw_producer_stats(p->producer) : NULL;
    fprintf(stderr,
            "\rpublish: %llu lines, %llu valid, %llu rejected, %llu "
            "delivered, %.0f lines/s   %s",
            (unsigned long long)__atomic_load_n(&p->lines, __ATOMIC_RELAXED),
            (unsigned long long)__atomic_load_n(&p->valid, __ATOMIC_RELAXED),
            (unsigned long long)__atomic_load_n(&p->rejected, __ATOMIC_RELAXED),
            (unsigned long long)(st ? st->delivered : 0),
            s > 0 ? (double)__atomic_load_n(&p->lines, __ATOMIC_RELAXED) / s
                  : 0.0,
            final ? "\n" : "");
}

static void send_dlq(publish_t *p, const char *name, uint64_t lineno,
                     const char *line, size_t len, sw_reason_t reason,
                     const char *detail)
{
    char errstr[256], src[300];
    snprintf(src, sizeof(src), "%s:%llu", name, (unsigned long long)lineno);
    if (sw_dlq_send(p->producer, NULL, 0, line, len, sw_reason_name(reason),
                    detail, src, -1, -1, SEND_TIMEOUT_MS, errstr,
                    sizeof(errstr)) != 0) {
        fprintf(stderr, "surgewatch publish: %s: cannot queue for %s: %s\n",
                src, sw_producer_dlq_topic(p->producer), errstr);
        p->send_failed++;
    }
}

static void send_event(publish_t *p, const char *name, uint64_t lineno,
                       const void *key, size_t key_len, const void *val,
                       size_t len)
{
    char errstr[256];
    int rc = sw_producer_send(p->producer, key, key_len, val, len,
                              SEND_TIMEOUT_MS, errstr, sizeof(errstr));
    if (rc != 0) {
        fprintf(stderr, "surgewatch publish: %s:%llu: not sent: %s\n", name,
                (unsigned long long)lineno, errstr);
        p->send_failed++;
        if (rc == SW_ERR_KAFKA) {
            __atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
            p->fatal = 1;
        }
    }
}

/* The producer's waiting messages to librdkafka now (the input paused). */
static void hand_over(publish_t *p)
{
    char errstr[256];
    if (sw_producer_hand_over(p->producer, SEND_TIMEOUT_MS, errstr,
                              sizeof(errstr)) != 0) {
        fprintf(stderr, "surgewatch publish: not sent: %s\n", errstr);
        p->send_failed++;
    }
}

/* The reader publishes its current batch (possibly the last). */
static void outbox_publish(outbox_t *ob, int done)
{
    sw_ring_write_end(&ob->ring, ob->cur != NULL, done);
    ob->cur = NULL;
}

/* Room for one more entry of `bytes` in the reader's batch. */
static out_batch_t *outbox_room(outbox_t *ob, size_t bytes)
{
    if (ob->cur != NULL &&
        (ob->cur->n == OUT_ENTRIES || OUT_ARENA - ob->cur->used < bytes))
        outbox_publish(ob, 0);
    if (ob->cur == NULL) {
        ob->cur = &ob->b[sw_ring_write_begin(&ob->ring)];
        ob->cur->n = ob->cur->used = 0;
    }
    return ob->cur;
}

/* An encoded event, or a rejected line for the dead-letter topic: sent
 * now (one thread), or queued for the main thread. */
static void out_event(publish_t *p, const char *name, uint64_t lineno,
                      const char *key, size_t key_len, const void *val,
                      size_t len)
{
    if (p->ob == NULL) {
        send_event(p, name, lineno, key, key_len, val, len);
        return;
    }
    out_batch_t *b = outbox_room(p->ob, key_len + len);
    out_entry_t *e = &b->e[b->n++];
    *e = (out_entry_t){.off = (uint32_t)b->used,
                       .key_len = (uint16_t)key_len,
                       .len = (uint32_t)len,
                       .lineno = lineno,
                       .name = name};
    memcpy(b->arena + b->used, key, key_len);
    memcpy(b->arena + b->used + key_len, val, len);
    b->used += key_len + len;
}

static void out_dlq(publish_t *p, const char *name, uint64_t lineno,
                    const char *line, size_t len, const sw_event_err_t *err)
{
    size_t dl = strlen(err->msg);
    if (p->ob == NULL) {
        send_dlq(p, name, lineno, line, len, err->reason, err->msg);
        return;
    }
    /* main uses one thread when --dlq lines could exceed this */
    out_batch_t *b = outbox_room(p->ob, len + dl);
    out_entry_t *e = &b->e[b->n++];
    *e = (out_entry_t){.off = (uint32_t)b->used,
                       .len = (uint32_t)len,
                       .dlq = 1,
                       .reason = (uint8_t)err->reason,
                       .detail_len = (uint16_t)dl,
                       .lineno = lineno,
                       .name = name};
    memcpy(b->arena + b->used, line, len);
    memcpy(b->arena + b->used + len, err->msg, dl);
    b->used += len + dl;
}

/* The main thread's side: sends what the reader queued. */
static void outbox_drain(publish_t *p, outbox_t *ob)
{
    size_t bi;
    while (sw_ring_read_begin(&ob->ring, &bi)) {
        out_batch_t *b = &ob->b[bi];
        for (size_t i = 0; i < b->n; i++) {
            const out_entry_t *e = &b->e[i];
            const unsigned char *m = b->arena + e->off;
            if (e->dlq) {
                char detail[sizeof(((sw_event_err_t *)0)->msg)];
                size_t dl = e->detail_len < sizeof(detail) - 1
                                ? e->detail_len
                                : sizeof(detail) - 1;
                memcpy(detail, m + e->len, dl);
                detail[dl] = '\0';
                send_dlq(p, e->name, e->lineno, (const char *)m, e->len,
                         (sw_reason_t)e->reason, detail);
            } else {
                send_event(p, e->name, e->lineno, m, e->key_len, m + e->key_len,
                           e->len);
            }
        }
        int partial = b->n < OUT_ENTRIES;
        sw_ring_read_end(&ob->ring);
        /* a batch handed over early (the input paused, or its arena was
         * full): its messages go out now, not with the next full batch */
        if (partial)
            hand_over(p);
        /* serve delivery reports as they come, not only when the
         * producer's queue is full */
        sw_producer_poll(p->producer, 0);
        if (p->progress)
            progress(p, 0);
    }
}

/* One line: decode, validate, encode, hand over. */
static void handle_line(publish_t *p, int format, const char *name,
                        uint64_t lineno, const char *line, size_t len,
                        int64_t now_ms)
{
    sw_event_t ev;
    sw_event_err_t err;
    int rc = format == SW_FORMAT_CSV
                 ? sw_csv_decode_line(p->csv, line, len, now_ms, &ev, &err)
                 : sw_json_decode_line(p->json, line, len, now_ms, &ev, &err);
    if (rc != 0) {
        report_rejection(p, name, lineno, &err);
        if (p->dlq && !p->dry_run)
            out_dlq(p, name, lineno, line, len, &err);
        if (p->strict)
            __atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_fetch_add(&p->valid, 1, __ATOMIC_RELAXED);
    if (p->dry_run)
        return;
    unsigned char buf[SW_EVENT_MSGPACK_MAX];
    size_t n = sw_event_encode_msgpack(&ev, buf, sizeof(buf));
    out_event(p, name, lineno, ev.section, ev.section_len, buf, n);
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

/* Reads one input. Returns 0, or -1 when it could not be read at all. */
/* Before the line reader reads its descriptor: when nothing is waiting
 * there (a live feed on a pipe between two events), the reader thread's
 * batch goes to the main thread now instead of when 2048 lines are in. */
typedef struct read_ctx {
    publish_t *p;
    int fd;
} read_ctx_t;

static void before_read(void *opaque)
{
    read_ctx_t *c = opaque;
    outbox_t *ob = c->p->ob;
    struct pollfd pfd = {c->fd, POLLIN, 0};
    if (ob == NULL) {
        /* one thread: the producer's own batch goes to librdkafka */
        if (c->p->producer && poll(&pfd, 1, 0) == 0)
            hand_over(c->p);
        return;
    }
    if (ob->cur != NULL && ob->cur->n > 0 && poll(&pfd, 1, 0) == 0)
        outbox_publish(ob, 0);
}

static int publish_file(publish_t *p, const char *path)
{
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "surgewatch publish: %s: cannot open: %s\n", path,
                strerror(errno));
        return -1;
    }
    int format = p->format >= 0 ? p->format
                 : (!is_stdin && sw_cmd_ends_with(path, ".csv"))
                     ? SW_FORMAT_CSV
                     : SW_FORMAT_JSON;
    sw_lines_t lr;
    if (sw_lines_init(&lr, fd, p->max_line) != 0) {
        fprintf(stderr, "surgewatch publish: out of memory\n");
        if (!is_stdin)
            close(fd);
        return -1;
    }
    read_ctx_t rctx = {p, fd};
    lr.before_read = before_read;
    lr.opaque = &rctx;
    int header_done = format != SW_FORMAT_CSV;
    int rc = 0;
    int64_t now_ms = sw_clock_now_ms();
    const char *line;
    size_t len;
    for (;;) {
        if (interrupted || __atomic_load_n(&p->stop, __ATOMIC_RELAXED))
            break;
        int r = sw_lines_next(&lr, &line, &len);
        if (r == 0)
            break;
        if (r == SW_ERR_IO) {
            fprintf(stderr, "surgewatch publish: %s: read error: %s\n", name,
                    strerror(errno));
            rc = -1;
            break;
        }
        if ((lr.lineno & 0xffff) == 0) {
            now_ms = sw_clock_now_ms();
            /* with a reader thread, the producer and the progress line
             * belong to the main thread (outbox_drain) */
            if (p->ob == NULL && p->progress)
                progress(p, 0);
            if (p->ob == NULL && p->producer)
                sw_producer_poll(p->producer, 0);
        }
        if (r == SW_ERR_RANGE) {
            sw_event_err_t err;
            __atomic_fetch_add(&p->lines, 1, __ATOMIC_RELAXED);
            sw_event_fail(&err, SW_REASON_TOO_LONG, -1,
                          "line of %zu bytes is too long (accepted: up to "
                          "%zu, see --max-line)",
                          len, p->max_line);
            report_rejection(p, name, lr.lineno, &err);
            if (p->strict)
                __atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (lr.lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
            line += 3, len -= 3; /* UTF-8 byte order mark */
        if (is_blank(line, len))
            continue;
        if (!header_done) {
            sw_event_err_t err;
            if (sw_csv_decoder_header(p->csv, line, len, &err) != 0) {
                fprintf(stderr,
                        "surgewatch publish: %s:%llu: bad CSV header: %s\n",
                        name, (unsigned long long)lr.lineno, err.msg);
                rc = -1;
                if (p->strict)
                    __atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
                break;
            }
            header_done = 1;
            continue;
        }
        __atomic_fetch_add(&p->lines, 1, __ATOMIC_RELAXED);
        handle_line(p, format, name, lr.lineno, line, len, now_ms);
    }
    sw_lines_deinit(&lr);
    if (!is_stdin)
        close(fd);
    return rc;
}

typedef struct reader_args {
    publish_t *p;
    int argc;
    char **argv;
    int failed;
} reader_args_t;

static void read_all(reader_args_t *a)
{
    publish_t *p = a->p;
    if (optind >= a->argc) {
        a->failed |= publish_file(p, "-") != 0;
        return;
    }
    for (int i = optind; i < a->argc && !interrupted &&
                         !__atomic_load_n(&p->stop, __ATOMIC_RELAXED);
         i++)
        a->failed |= publish_file(p, a->argv[i]) != 0;
}

static void *reader_main(void *arg)
{
    reader_args_t *a = arg;
    read_all(a);
    outbox_publish(a->p->ob, 1);
    return NULL;
}

enum {
    OPT_STRICT = 256,
    OPT_DLQ,
    OPT_MAX_LINE,
    OPT_PROGRESS,
    OPT_LOG_LEVEL,
};

int sw_cmd_publish(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"property", required_argument, NULL, 'X'},
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"dry-run", no_argument, NULL, 'n'},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"dlq", no_argument, NULL, OPT_DLQ},
        {"max-line", required_argument, NULL, OPT_MAX_LINE},
        {"quiet", no_argument, NULL, 'q'},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    publish_t p = {.format = -1, .max_line = DEFAULT_MAX_LINE};
    sw_kafka_opts_t ko = {0};
    sw_props_t props = {0};
    int status = SW_EXIT_USAGE;
    int opt;
    p.progress = isatty(STDERR_FILENO);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "b:t:X:c:f:nqh", longopts, NULL)) !=
           -1) {
        int k = sw_kafka_opt("publish", opt, optarg, &ko);
        if (k < 0)
            goto out;
        if (k > 0)
            continue;
        switch (opt) {
        case 'f':
            if (strcmp(optarg, "json") == 0 || strcmp(optarg, "jsonl") == 0)
                p.format = SW_FORMAT_JSON;
            else if (strcmp(optarg, "csv") == 0)
                p.format = SW_FORMAT_CSV;
            else {
                fprintf(stderr,
                        "surgewatch publish: --format %s: unknown format "
                        "(accepted: json, csv)\n",
                        optarg);
                goto out;
            }
            break;
        case 'n':
            p.dry_run = 1;
            break;
        case OPT_STRICT:
            p.strict = 1;
            break;
        case OPT_DLQ:
            p.dlq = 1;
            break;
        case OPT_MAX_LINE: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || *end || v < 256 || v > (64u << 20)) {
                fprintf(stderr,
                        "surgewatch publish: --max-line %s: expected a "
                        "number of bytes from 256 to 67108864\n",
                        optarg);
                goto out;
            }
            p.max_line = (size_t)v;
            break;
        }
        case 'q':
            p.quiet = 1;
            break;
        case OPT_PROGRESS:
            p.progress = 1;
            break;
        case OPT_LOG_LEVEL:
            if (sw_log_level_parse(optarg, &sw_log_level) != 0) {
                fprintf(stderr,
                        "surgewatch publish: --log-level %s: expected error, "
                        "warn, info or debug\n",
                        optarg);
                goto out;
            }
            break;
        case 'h':
            fputs(help, stdout);
            status = SW_EXIT_OK;
            goto out;
        default:
            fprintf(stderr, "Try 'surgewatch publish --help'.\n");
            goto out;
        }
    }
    if (sw_kafka_resolve("publish", &ko, &props, p.topic, sizeof(p.topic)))
        goto out;

    p.json = sw_json_decoder_new();
    p.csv = sw_csv_decoder_new();
    if (p.json == NULL || p.csv == NULL) {
        fprintf(stderr, "surgewatch publish: out of memory\n");
        goto out;
    }
    if (!p.dry_run) {
        char errstr[512];
        p.producer = sw_producer_new(&props, p.topic, errstr, sizeof(errstr));
        if (p.producer == NULL) {
            fprintf(stderr, "surgewatch publish: %s\n", errstr);
            goto out;
        }
        int crc = sw_producer_check(p.producer, 10000, errstr, sizeof(errstr));
        if (crc == 1)
            SW_WARN("publish", "%s", errstr);
        else if (crc != 0) {
            fprintf(stderr, "surgewatch publish: brokers %s: %s\n",
                    sw_props_find(&props, "bootstrap.servers")->value, errstr);
            status = SW_EXIT_UNAVAILABLE;
            goto out;
        }
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    p.t0_ns = p.last_progress_ns = sw_clock_mono_ns();
    reader_args_t ra = {&p, argc, argv, 0};
    outbox_t ob = {0};
    pthread_t reader;
    int threaded = 0;
    /* two threads, unless a dead letter could be larger than a batch */
    int ring = 0;
    if (p.producer && !(p.dlq && p.max_line + 256 > OUT_ARENA / 2) &&
        (ob.b = malloc(OUT_BATCHES * sizeof(*ob.b))) != NULL)
        ring = sw_ring_init(&ob.ring, OUT_BATCHES) == 0;
    if (ring) {
        p.ob = &ob;
        if (pthread_create(&reader, NULL, reader_main, &ra) == 0) {
            threaded = 1;
            outbox_drain(&p, &ob);
            pthread_join(reader, NULL);
        } else {
            p.ob = NULL;
        }
    }
    if (!threaded)
        read_all(&ra);
    int read_failed = ra.failed;

    if (p.producer) {
        /* Wait for every delivery report; message.timeout.ms bounds it. */
        while (sw_producer_flush(p.producer, 1000) > 0) {
            if (p.progress)
                progress(&p, 0);
        }
    }
    if (p.progress)
        progress(&p, 1);

    double secs = (double)(sw_clock_mono_ns() - p.t0_ns) / 1e9;
    const sw_producer_stats_t *st =
        p.producer ? sw_producer_stats(p.producer) : NULL;
    uint64_t failed = p.send_failed + (st ? st->failed : 0);
    if (p.dry_run)
        fprintf(stderr,
                "publish: dry run: %llu lines, %llu valid, %llu rejected "
                "(%.2f s)\n",
                (unsigned long long)p.lines, (unsigned long long)p.valid,
                (unsigned long long)p.rejected, secs);
    else
        fprintf(stderr,
                "publish: %llu lines, %llu sent, %llu rejected, %llu failed "
                "to topic %s (%.2f s, %.0f events/s)\n",
                (unsigned long long)p.lines,
                (unsigned long long)(st->delivered),
                (unsigned long long)p.rejected, (unsigned long long)failed,
                p.topic, secs, secs > 0 ? (double)st->delivered / secs : 0.0);
    if (p.rejected > 0)
        sw_cmd_print_reasons("publish", p.reasons);
    if (st && st->failed > 0)
        fprintf(stderr, "publish: last delivery error: %s\n", st->last_error);
    if (p.strict && p.stop && !p.fatal)
        fprintf(stderr, "publish: stopped at the first rejected line "
                        "(--strict)\n");
    if (interrupted) {
        fprintf(stderr, "publish: interrupted\n");
        status = SW_EXIT_INTERRUPTED;
    } else if (p.rejected > 0 || failed > 0 || read_failed) {
        status = SW_EXIT_REJECTED;
    } else {
        status = SW_EXIT_OK;
    }
    if (ring)
        sw_ring_deinit(&ob.ring);
    free(ob.b);
out:
    sw_producer_destroy(&p.producer);
    sw_json_decoder_destroy(&p.json);
    sw_csv_decoder_destroy(&p.csv);
    sw_props_deinit(&props);
    sw_props_deinit(&ko.flag_props);
    return status;
}
