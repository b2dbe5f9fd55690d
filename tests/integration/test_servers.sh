#!/usr/bin/env bash
# The test servers themselves: the Redis started by tests/run-all answers on
# loopback with persistence off in its own directory, and the Kafka broker
# answers metadata requests as a single KRaft node. Needs KAFKA_BOOTSTRAP,
# REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env KAFKA_BOOTSTRAP REDIS_URL
. "$here/../lib/redis.sh"
hostport=$REDIS_HOST:$REDIS_PORT
rc() { rcli "$@"; }
[ "$(rc ping)" = PONG ] && pass "redis-server answers PING on $hostport" || fail "redis PING"
[ "$(rc config get save | tail -1)" = "" ] && pass "redis: RDB snapshots off" || fail "redis: save is not ''"
[ "$(rc config get appendonly | tail -1)" = no ] && pass "redis: AOF off" || fail "redis: appendonly is not no"
case "$(rc config get dir | tail -1)" in
    "$WORK"/*) pass "redis: data directory inside the test work directory" ;;
    *) fail "redis: data directory" "$(rc config get dir | tail -1)" ;;
esac
case "$hostport" in 127.0.0.1:*) pass "redis listens on loopback" ;; *) fail "redis not on loopback" ;; esac
md=$(kcat -b "$KAFKA_BOOTSTRAP" -L -m 5 2>&1)
grep -q "1 brokers:" <<<"$md" && grep -q "(controller)" <<<"$md" \
    && pass "Kafka: one broker that is also the KRaft controller" \
    || fail "Kafka metadata" "$md"
done_testing
