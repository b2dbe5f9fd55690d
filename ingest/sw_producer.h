/*
 * sw_producer: a librdkafka idempotent producer for the events topic, and
 * the dead-letter producer that sends rejected payloads to "<topic>.dlq"
 * unchanged, with the reason and the source position as Kafka headers.
 *
 * The producer belongs to one thread. Delivery reports are handled inside
 * sw_producer_send()/sw_producer_poll()/sw_producer_flush() on that thread
 * and only counted: the caller reads the counters.
 */
#ifndef SW_PRODUCER_H
#define SW_PRODUCER_H

#include "sw_config.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sw_producer sw_producer_t;

typedef struct sw_producer_stats {
    uint64_t queued;      /* accepted by sw_producer_send / sw_dlq_send */
    uint64_t delivered;   /* acknowledged by the broker */
    uint64_t failed;      /* delivery failed for good */
    char last_error[256]; /* the most recent delivery error, or "" */
} sw_producer_stats_t;

/* Creates a producer. props are librdkafka properties, applied over the
 * project's defaults (enable.idempotence=true, acks=all, lz4 compression,
 * a large queue); "bootstrap.servers" is required. topic names the events
 * topic; its dead-letter topic is topic + ".dlq". Returns NULL with errstr
 * set when a property is unknown or invalid, or the client cannot be made. */
sw_producer_t *sw_producer_new(const sw_props_t *props, const char *topic,
                               char *errstr, size_t errstr_size);

/* Flushes nothing: call sw_producer_flush() first to wait for deliveries.
 * Frees the producer (NULL is fine) and sets *self_p to NULL. */
void sw_producer_destroy(sw_producer_t **self_p);

/* Queues one message for the events topic; key and payload are copied.
 * Messages are handed to librdkafka in batches of up to 1024: a batch goes
 * out when it is full, and on sw_producer_flush(). When librdkafka's queue
 * is full it serves delivery reports and retries for up to timeout_ms.
 * Returns 0, SW_ERR_FULL when the queue stayed full, or SW_ERR_KAFKA
 * (fatal producer error); then errstr says why, and the messages of the
 * batch that failed are counted in stats.failed. */
int sw_producer_send(sw_producer_t *self, const void *key, size_t key_len,
                     const void *payload, size_t len, int timeout_ms,
                     char *errstr, size_t errstr_size);

/* Hands the messages waiting for a full batch to librdkafka now (a live
 * feed that paused), without waiting for their delivery. Same returns as
 * sw_producer_send. */
int sw_producer_hand_over(sw_producer_t *self, int timeout_ms, char *errstr,
                          size_t errstr_size);

/* Queues a rejected payload for the dead-letter topic, unchanged, with
 * headers: "reason" (a sw_reason_t name), "detail" (the readable message),
 * "source.topic", "source.partition" and "source.offset" (decimal text;
 * partition and offset may be -1 when the payload did not come from Kafka,
 * e.g. a line of `surgewatch publish`). Same returns as sw_producer_send. */
int sw_dlq_send(sw_producer_t *self, const void *key, size_t key_len,
                const void *payload, size_t len, const char *reason,
                const char *detail, const char *source_topic,
                int32_t source_partition, int64_t source_offset, int timeout_ms,
                char *errstr, size_t errstr_size);

/* Asks the brokers for the events topic's metadata, waiting up to
 * timeout_ms, so that a wrong broker list fails at once instead of after
 * message.timeout.ms. Returns 0; 1 with errstr set when the topic does not
 * exist (yet: brokers may create it on the first message); or SW_ERR_KAFKA
 * with errstr set. */
int sw_producer_check(sw_producer_t *self, int timeout_ms, char *errstr,
                      size_t errstr_size);

/* Serves delivery reports without blocking longer than timeout_ms. */
void sw_producer_poll(sw_producer_t *self, int timeout_ms);

/* Waits up to timeout_ms for every queued message to be delivered or to
 * fail. Returns the number still outstanding (0 when all are done). */
int sw_producer_flush(sw_producer_t *self, int timeout_ms);

/* The counters. Borrowed; valid until the producer is destroyed. */
const sw_producer_stats_t *sw_producer_stats(const sw_producer_t *self);

/* Sends dead letters to `name` instead of "<topic>.dlq". Returns 0, or
 * SW_ERR_INVAL with errstr set when the name is not a valid topic name. */
int sw_producer_set_dlq_topic(sw_producer_t *self, const char *name,
                              char *errstr, size_t errstr_size);

/* A librdkafka log callback (rd_kafka_conf_set_log_cb) that writes its
 * lines through sw_log, syslog levels mapped to ours, for every client the
 * project makes. */
void sw_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf);

/* The name of the dead-letter topic. Borrowed. */
const char *sw_producer_dlq_topic(const sw_producer_t *self);

#endif
