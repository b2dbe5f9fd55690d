/*
 * bench_consumer: a bare librdkafka consumer, the yardstick for the worker
 * (`surgewatch run`). It joins a consumer group with the consumer settings
 * the worker uses (kafka_conf() in src/cmd_run.c, session.timeout.ms=6000
 * as in the tests), reads with rd_kafka_consume_batch_queue in batches of
 * 1024 like the worker, and destroys each message; with `decode` it also
 * decodes each payload with sw_event_decode_msgpack, nothing more (no
 * detection core, no Redis, no dead letters). It stops after N messages
 * and prints one line with the rate, timed from the first message received
 * to the Nth, so that joining the group is outside the measured window.
 *
 * usage: bench_consumer BROKERS TOPIC GROUP N [decode]
 *
 * Exit status: 0 after N messages; 1 on a Kafka error, on a payload that
 * does not decode (with `decode`), or after 120 s without a message.
 */
#include "sw_event.h"
#include "sw_time.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define BATCH 1024
#define IDLE_LIMIT_NS (INT64_C(120) * 1000000000)

/* CPU time of the process (every thread, user + system), seconds. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6 || (argc == 6 && strcmp(argv[5], "decode"))) {
        fprintf(stderr,
                "usage: bench_consumer BROKERS TOPIC GROUP N [decode]\n");
        return 2;
    }
    const char *brokers = argv[1], *topic = argv[2], *group = argv[3];
    char *end;
    unsigned long long want = strtoull(argv[4], &end, 10);
    if (*end || want == 0) {
        fprintf(stderr, "bench_consumer: N must be a positive number\n");
        return 2;
    }
    int decode = argc == 6;

    static const char *const props[][2] = {
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"session.timeout.ms", "6000"},
        {"fetch.max.bytes", "52428800"},
        {"queued.min.messages", "1000000"},
        {"queued.max.messages.kbytes", "1048576"},
    };
    char err[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (rd_kafka_conf_set(kc, props[i][0], props[i][1], err, sizeof(err)) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, "bench_consumer: %s: %s\n", props[i][0], err);
            return 1;
        }
    if (rd_kafka_conf_set(kc, "bootstrap.servers", brokers, err, sizeof(err)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(kc, "group.id", group, err, sizeof(err)) !=
            RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench_consumer: %s\n", err);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "bench_consumer: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        fprintf(stderr, "bench_consumer: subscribe %s: %s\n", topic,
                rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return 1;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);

    static rd_kafka_message_t *msgs[BATCH];
    static sw_event_t ev;
    sw_event_err_t everr;
    unsigned long long got = 0, bad = 0, errors = 0;
    unsigned long long bytes = 0;
    int64_t t_first = 0, t_last = 0, t_idle = sw_clock_mono_ns();
    double cpu_first = 0, cpu_last = 0;
    int status = 0;
    while (got < want) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 100, msgs, BATCH);
        int64_t now_ns = sw_clock_mono_ns();
        if (n < 0) {
            fprintf(stderr, "bench_consumer: consume: %s\n",
                    rd_kafka_err2str(rd_kafka_last_error()));
            status = 1;
            break;
        }
        if (n == 0) {
            if (now_ns - t_idle > IDLE_LIMIT_NS) {
                fprintf(stderr,
                        "bench_consumer: no message for 120 s after %llu of "
                        "%llu\n",
                        got, want);
                status = 1;
                break;
            }
            continue;
        }
        t_idle = now_ns;
        int64_t now_ms = decode ? sw_clock_now_ms() : 0;
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err) {
                if (errors++ < 5)
                    fprintf(stderr, "bench_consumer: %s\n",
                            rd_kafka_message_errstr(m));
            } else {
                if (got == 0) {
                    t_first = now_ns;
                    cpu_first = cpu_seconds();
                }
                got++;
                bytes += m->len;
                if (decode &&
                    sw_event_decode_msgpack(m->payload ? m->payload : "",
                                            m->len, now_ms, &ev, &everr) != 0)
                    bad++;
            }
            rd_kafka_message_destroy(m);
        }
        t_last = now_ns;
    }
    cpu_last = cpu_seconds();
    if (got >= want) {
        double secs = (double)(t_last - t_first) / 1e9;
        printf("bench_consumer%s: %llu messages (%.1f bytes avg) in %.3f s "
               "from the first: %.0f msgs/s, cpu %.2f cores (%llu "
               "undecodable, %llu consumer errors)\n",
               decode ? " decode" : "", got, (double)bytes / (double)got, secs,
               secs > 0 ? (double)got / secs : 0.0,
               secs > 0 ? (cpu_last - cpu_first) / secs : 0.0, bad, errors);
        fflush(stdout);
        if (bad)
            status = 1;
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return status;
}
