#!/usr/bin/env bash
# Recovery time after a worker is killed (kill -9), with a real local Kafka
# broker (KRaft, tests/kafka/broker) and a real redis-server (both started
# here, stopped at the end), while the topic is fed at a steady RATE
# events/s (generated events, 1 000 sections, in time order):
#   pair          2 workers in one group; one is killed: (a) the time until
#                 the survivor owns its partitions (the group waits
#                 session.timeout.ms for the dead member, then rebalances;
#                 the survivor loads their checkpoints), (b) the time until
#                 it has caught up with the feed again;
#   restart       1 worker killed and restarted at once (same group, same
#                 Redis prefix): the time from the restart until it owns
#                 the partitions (the group still waits for the dead
#                 member's session to expire) and until it has caught up
#                 (checkpoint load + replay + the backlog);
#   restart-late  the same, restarted once the dead member's session has
#                 expired: restart -> caught up is then the join, the
#                 checkpoint load and the replay alone;
# and in each, the events read twice (at-least-once: from the checkpoints
# to where the killed worker had got). bench/bench_recovery.py says how
# each figure is taken. Every mode runs with each configuration of
# CONFIGS: "default" (the worker's session.timeout.ms 10000, librdkafka's
# heartbeat.interval.ms 3000) and "fast" (-X session.timeout.ms=6000, the
# broker's group.min.session.timeout.ms, -X heartbeat.interval.ms=500, as
# the integration tests run). Nothing is asserted on the times; a run that
# fails (no steady state, a worker that exits, publish or a worker not
# exiting 0 at the end) is reported after the figures and the script exits 1.
#
# usage: bench/bench_recovery.sh [RATE] [RUNS] [MODES]
#        (defaults 20000, 3, pair,restart,restart-late)
# env:   CONFIGS (default
#        "default:;fast:session.timeout.ms=6000,heartbeat.interval.ms=500")
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-20000}
RUNS=${2:-3}
MODES=${3:-pair,restart,restart-late}
CONFIGS=${CONFIGS:-"default:;fast:session.timeout.ms=6000,heartbeat.interval.ms=500"}
BIN=build/surgewatch
GEN=build/tests/tools/sw_gen_events
[ -x "$BIN" ] && [ -x "$GEN" ] || make -s -j2 all
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench-recovery.XXXXXX")
cleanup() {
    tests/redis/server stop "$work/redis" 2>/dev/null || true
    tests/kafka/broker stop "$work/kafka" 2>/dev/null || true
    if [ -n "${KEEP_LOGS:-}" ]; then echo "logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
tests/kafka/broker start "$work/kafka" > "$work/kenv" 2>/dev/null
. "$work/kenv"
tests/redis/server start "$work/redis" > "$work/renv" 2>/dev/null
. "$work/renv"
# 90 s of feed per run at most (a run takes about 30 s): events over 60
# days, about 1.4 events per section per day and second of feed
"$GEN" --count $((RATE * 90)) --sections 1000 --days 60 --seed 11 > "$work/events.jsonl"
python3 bench/bench_recovery.py --bin "$BIN" --bootstrap "$KAFKA_BOOTSTRAP" \
    --redis "$REDIS_URL" --events "$work/events.jsonl" --rate "$RATE" \
    --runs "$RUNS" --modes "$MODES" --configs "$CONFIGS" --work "$work"
