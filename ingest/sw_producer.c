/* sw_producer: idempotent event producer and dead-letter producer. */
#include "sw_producer.h"
#include "sw_err.h"
#include "sw_log.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events are handed to librdkafka in batches (rd_kafka_produce_batch):
 * one call and one queue lock per BATCH messages instead of per message.
 * Keys and payloads wait in an arena owned by the producer. */
#define BATCH 1024
#define BATCH_MSG_MAX 1024 /* larger messages go one by one */

struct sw_producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    rd_kafka_topic_t *dlq;
    char dlq_name[256];
    sw_producer_stats_t stats;
    rd_kafka_message_t batch[BATCH];
    size_t nbatch;
    unsigned char *arena; /* BATCH * BATCH_MSG_MAX bytes */
    size_t arena_used;
    char batch_error[256]; /* a send error found when the batch went out */
};

/* Defaults for throughput with no loss; any of them can be overridden. */
static const char *const defaults[][2] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"compression.type", "lz4"},
    {"linger.ms", "5"},
    {"batch.num.messages", "10000"},
    {"queue.buffering.max.messages", "1000000"},
    {"queue.buffering.max.kbytes", "1048576"},
    {"message.timeout.ms", "120000"},
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    sw_producer_t *p = opaque;
    if (m->err) {
        p->stats.failed++;
        snprintf(p->stats.last_error, sizeof(p->stats.last_error), "%s: %s",
                 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    } else {
        p->stats.delivered++;
    }
}

void sw_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf)
{
    (void)rk;
    /* syslog levels: 0..3 error, 4 warning, 5..6 info, 7 debug */
    sw_log_level_t l = level <= 3   ? SW_LOG_ERROR
                       : level == 4 ? SW_LOG_WARN
                       : level <= 6 ? SW_LOG_INFO
                                    : SW_LOG_DEBUG;
    SW_LOG(l, "kafka", "%s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    /* Transport errors are retried by librdkafka; say so once each. */
    SW_WARN("kafka", "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err),
            reason);
}

sw_producer_t *sw_producer_new(const sw_props_t *props, const char *topic,
                               char *errstr, size_t errstr_size)
{
    sw_producer_t *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    if (p == NULL || conf == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (topic == NULL || *topic == '\0' ||
        strlen(topic) + 5 > sizeof(p->dlq_name)) {
        snprintf(errstr, errstr_size, "invalid topic name");
        goto fail;
    }
    snprintf(p->dlq_name, sizeof(p->dlq_name), "%s.dlq", topic);
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], err,
                              sizeof(err)) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "default %s=%s: %s", defaults[i][0],
                     defaults[i][1], err);
            goto fail;
        }
    }
    for (size_t i = 0; i < props->n; i++) {
        const sw_prop_t *pr = &props->v[i];
        if (rd_kafka_conf_set(conf, pr->key, pr->value, err, sizeof(err)) !=
            RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "Kafka property %s (from %s): %s",
                     pr->key, pr->origin ? pr->origin : "?", err);
            goto fail;
        }
    }
    if (sw_props_find(props, "bootstrap.servers") == NULL) {
        snprintf(errstr, errstr_size, "no broker list (bootstrap.servers)");
        goto fail;
    }
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_log_cb(conf, sw_kafka_log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (p->rk == NULL) {
        snprintf(errstr, errstr_size, "cannot create the producer: %s", err);
        goto fail;
    }
    conf = NULL; /* owned by p->rk now */
    p->arena = malloc((size_t)BATCH * BATCH_MSG_MAX);
    if (p->arena == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    p->topic = rd_kafka_topic_new(p->rk, topic, NULL);
    if (p->topic == NULL) {
        snprintf(errstr, errstr_size, "topic %s: %s", topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    return p;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    sw_producer_destroy(&p);
    return NULL;
}

void sw_producer_destroy(sw_producer_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    sw_producer_t *p = *self_p;
    if (p->topic)
        rd_kafka_topic_destroy(p->topic);
    if (p->dlq)
        rd_kafka_topic_destroy(p->dlq);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    free(p->arena);
    free(p);
    *self_p = NULL;
}

/* Why a message could not be queued: the producer's fatal error when it
 * has one (the idempotent producer stops for good), else err. */
static void describe_error(sw_producer_t *self, rd_kafka_resp_err_t err,
                           char *errstr, size_t errstr_size)
{
    char fatal[256] = "";
    if (rd_kafka_fatal_error(self->rk, fatal, sizeof(fatal)))
        snprintf(errstr, errstr_size, "fatal producer error: %s", fatal);
    else
        snprintf(errstr, errstr_size, "%s", rd_kafka_err2str(err));
}

/* Produces with retries while the local queue is full. */
static int produce(sw_producer_t *self, rd_kafka_topic_t *rkt, const void *key,
                   size_t key_len, const void *payload, size_t len,
                   rd_kafka_headers_t *hdrs, int timeout_ms, char *errstr,
                   size_t errstr_size)
{
    int waited = 0;
    for (;;) {
        rd_kafka_resp_err_t err;
        if (hdrs)
            err = rd_kafka_producev(self->rk, RD_KAFKA_V_RKT(rkt),
                                    RD_KAFKA_V_KEY((void *)key, key_len),
                                    RD_KAFKA_V_VALUE((void *)payload, len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        else
            err = rd_kafka_producev(self->rk, RD_KAFKA_V_RKT(rkt),
                                    RD_KAFKA_V_KEY((void *)key, key_len),
                                    RD_KAFKA_V_VALUE((void *)payload, len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            self->stats.queued++;
            return 0;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            describe_error(self, err, errstr, errstr_size);
            return SW_ERR_KAFKA;
        }
        if (waited >= timeout_ms) {
            snprintf(errstr, errstr_size,
                     "producer queue still full after %d ms (broker "
                     "unreachable or too slow)",
                     waited);
            return SW_ERR_FULL;
        }
        rd_kafka_poll(self->rk, 100);
        waited += 100;
    }
}

/* Hands the waiting batch to librdkafka, retrying what did not fit in its
 * queue for up to timeout_ms. Returns 0, SW_ERR_FULL or SW_ERR_KAFKA with
 * errstr set (messages that failed for good are counted as failed). */
static int flush_batch(sw_producer_t *self, int timeout_ms, char *errstr,
                       size_t errstr_size)
{
    size_t done = 0;
    int waited = 0, rc = 0;
    while (done < self->nbatch) {
        rd_kafka_produce_batch(self->topic, RD_KAFKA_PARTITION_UA,
                               RD_KAFKA_MSG_F_COPY, self->batch + done,
                               (int)(self->nbatch - done));
        size_t i = done;
        for (; i < self->nbatch; i++) {
            rd_kafka_resp_err_t err = self->batch[i].err;
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                self->stats.queued++;
            } else {
                self->stats.failed++;
                describe_error(self, err, errstr, errstr_size);
                snprintf(self->stats.last_error, sizeof(self->stats.last_error),
                         "%s", errstr);
                rc = SW_ERR_KAFKA;
            }
        }
        /* produce_batch stops at the first message that did not fit: the
         * ones after it were not tried and carry no error yet */
        for (size_t j = i; j < self->nbatch; j++)
            self->batch[j].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        done = i;
        if (done == self->nbatch)
            break;
        if (waited >= timeout_ms) {
            self->stats.failed += self->nbatch - done;
            snprintf(errstr, errstr_size,
                     "producer queue still full after %d ms (broker "
                     "unreachable or too slow)",
                     waited);
            rc = SW_ERR_FULL;
            break;
        }
        rd_kafka_poll(self->rk, 100);
        waited += 100;
    }
    self->nbatch = 0;
    self->arena_used = 0;
    return rc;
}

int sw_producer_send(sw_producer_t *self, const void *key, size_t key_len,
                     const void *payload, size_t len, int timeout_ms,
                     char *errstr, size_t errstr_size)
{
    if (key_len + len > BATCH_MSG_MAX) {
        int rc = flush_batch(self, timeout_ms, errstr, errstr_size);
        if (rc)
            return rc;
        return produce(self, self->topic, key, key_len, payload, len, NULL,
                       timeout_ms, errstr, errstr_size);
    }
    unsigned char *m = self->arena + self->arena_used;
    memcpy(m, key, key_len);
    memcpy(m + key_len, payload, len);
    self->arena_used += key_len + len;
    rd_kafka_message_t *msg = &self->batch[self->nbatch++];
    memset(msg, 0, sizeof(*msg));
    msg->key = key_len ? m : NULL;
    msg->key_len = key_len;
    msg->payload = m + key_len;
    msg->len = len;
    if (self->nbatch == BATCH)
        return flush_batch(self, timeout_ms, errstr, errstr_size);
    return 0;
}

int sw_dlq_send(sw_producer_t *self, const void *key, size_t key_len,
                const void *payload, size_t len, const char *reason,
                const char *detail, const char *source_topic,
                int32_t source_partition, int64_t source_offset, int timeout_ms,
                char *errstr, size_t errstr_size)
{
    if (self->dlq == NULL) {
        self->dlq = rd_kafka_topic_new(self->rk, self->dlq_name, NULL);
        if (self->dlq == NULL) {
            snprintf(errstr, errstr_size, "topic %s: %s", self->dlq_name,
                     rd_kafka_err2str(rd_kafka_last_error()));
            return SW_ERR_KAFKA;
        }
    }
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);
    if (h == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return SW_ERR_NOMEM;
    }
    char part[16], off[24];
    snprintf(part, sizeof(part), "%" PRId32, source_partition);
    snprintf(off, sizeof(off), "%" PRId64, source_offset);
    rd_kafka_header_add(h, "reason", -1, reason, -1);
    rd_kafka_header_add(h, "detail", -1, detail ? detail : "", -1);
    rd_kafka_header_add(h, "source.topic", -1, source_topic ? source_topic : "",
                        -1);
    rd_kafka_header_add(h, "source.partition", -1, part, -1);
    rd_kafka_header_add(h, "source.offset", -1, off, -1);
    int rc = produce(self, self->dlq, key, key_len, payload, len, h, timeout_ms,
                     errstr, errstr_size);
    if (rc != 0)
        rd_kafka_headers_destroy(h); /* not handed over on failure */
    return rc;
}

int sw_producer_check(sw_producer_t *self, int timeout_ms, char *errstr,
                      size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(self->rk, 0, self->topic, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "no answer from the brokers: %s",
                 rd_kafka_err2str(err));
        return SW_ERR_KAFKA;
    }
    int rc = 0;
    rd_kafka_resp_err_t terr =
        md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (terr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        snprintf(errstr, errstr_size,
                 "topic %s does not exist yet; the first message creates it "
                 "if the brokers allow auto-creation, otherwise every "
                 "delivery fails",
                 md->topics[0].topic);
        rc = 1;
    } else if (terr != RD_KAFKA_RESP_ERR_NO_ERROR &&
               terr != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
        snprintf(errstr, errstr_size, "topic %s: %s", md->topics[0].topic,
                 rd_kafka_err2str(md->topics[0].err));
        rc = SW_ERR_KAFKA;
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

int sw_producer_hand_over(sw_producer_t *self, int timeout_ms, char *errstr,
                          size_t errstr_size)
{
    if (self->nbatch == 0)
        return 0;
    return flush_batch(self, timeout_ms, errstr, errstr_size);
}

void sw_producer_poll(sw_producer_t *self, int timeout_ms)
{
    rd_kafka_poll(self->rk, timeout_ms);
}

int sw_producer_flush(sw_producer_t *self, int timeout_ms)
{
    char errstr[256];
    if (self->nbatch)
        flush_batch(self, timeout_ms, errstr, sizeof(errstr));
    rd_kafka_flush(self->rk, timeout_ms);
    return rd_kafka_outq_len(self->rk);
}

const sw_producer_stats_t *sw_producer_stats(const sw_producer_t *self)
{
    return &self->stats;
}

int sw_producer_set_dlq_topic(sw_producer_t *self, const char *name,
                              char *errstr, size_t errstr_size)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= sizeof(self->dlq_name) ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") != n) {
        snprintf(errstr, errstr_size,
                 "bad dead-letter topic name (accepted: 1..%zu of "
                 "[A-Za-z0-9._-])",
                 sizeof(self->dlq_name) - 1);
        return SW_ERR_INVAL;
    }
    if (self->dlq) {
        rd_kafka_topic_destroy(self->dlq);
        self->dlq = NULL;
    }
    memcpy(self->dlq_name, name, n + 1);
    return 0;
}

const char *sw_producer_dlq_topic(const sw_producer_t *self)
{
    return self->dlq_name;
}
