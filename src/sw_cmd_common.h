/* Pieces that several subcommands share: Kafka settings from the config
 * file, the environment and flags. Entry-point code: prints its errors. */
#ifndef SW_CMD_COMMON_H
#define SW_CMD_COMMON_H

#include "sw_config.h"

#include <stddef.h>
#include <stdint.h>

#define SW_DEFAULT_BROKERS "127.0.0.1:9092"
#define SW_DEFAULT_TOPIC "border-events"

typedef struct sw_kafka_opts {
    const char *config_path; /* -c/--config, or NULL */
    const char *brokers;     /* -b/--brokers, or NULL */
    const char *topic;       /* -t/--topic, or NULL */
    sw_props_t flag_props;   /* -X key=value */
} sw_kafka_opts_t;

/* Resolves the Kafka settings, later sources winning: defaults, then the
 * config file's [kafka] section (brokers, topic, and any librdkafka property
 * by its own name), then the environment (SURGEWATCH_CONFIG,
 * SURGEWATCH_BROKERS, SURGEWATCH_TOPIC, SURGEWATCH_KAFKA_<PROPERTY> with
 * '.' written as '_'), then flags. Fills props (bootstrap.servers included)
 * and topic. Returns 0, or prints what is wrong (prefixed with cmd) and
 * returns -1. */
int sw_kafka_resolve(const char *cmd, const sw_kafka_opts_t *o,
                     sw_props_t *props, char *topic, size_t topic_size);

/* Takes the Kafka options -b, -t, -X and -c of getopt into o. Returns 1
 * when opt was one of them, 0 when it was not, -1 after printing what is
 * wrong with a -X (prefixed with cmd). */
int sw_kafka_opt(const char *cmd, int opt, const char *arg, sw_kafka_opts_t *o);

/* 1 when s ends with suffix. */
int sw_cmd_ends_with(const char *s, const char *suffix);

/* Prints "<cmd>: rejected by reason: bad_count=3 late=1" on stderr from a
 * count per sw_reason_t (SW_REASON__COUNT entries). */
void sw_cmd_print_reasons(const char *cmd, const uint64_t *reasons);

/* Help text lines for the options above, shared by the commands. */
#define SW_KAFKA_OPTIONS_HELP                                                  \
    "  -b, --brokers LIST       Kafka bootstrap servers, host:port[,...]\n"    \
    "                           (env SURGEWATCH_BROKERS; "                     \
    "default " SW_DEFAULT_BROKERS ")\n"                                        \
    "  -t, --topic NAME         events topic (env SURGEWATCH_TOPIC; "          \
    "default " SW_DEFAULT_TOPIC ")\n"                                          \
    "  -X, --property KEY=VAL   any librdkafka property, e.g.\n"               \
    "                           -X security.protocol=SASL_SSL; repeatable\n"   \
    "                           (env SURGEWATCH_KAFKA_<KEY>, '.' as '_',\n"    \
    "                           e.g. SURGEWATCH_KAFKA_SASL_USERNAME)\n"        \
    "  -c, --config FILE        config file; its [kafka] section takes\n"      \
    "                           brokers, topic and librdkafka properties\n"    \
    "                           (env SURGEWATCH_CONFIG)\n"

#endif
