#!/usr/bin/env bash
# surgewatch publish throughput to a real local Kafka broker (KRaft, started
# here and stopped at the end), JSON lines in, msgpack out, idempotent
# producer with acks=all. Prints the median of RUNS runs of EVENTS events.
#
# usage: bench/bench_publish.sh [EVENTS] [RUNS]   (defaults 2000000, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-2000000}
RUNS=${2:-5}
BIN=build/surgewatch
GEN=build/tests/tools/sw_gen_events
[ -x "$BIN" ] && [ -x "$GEN" ] || make -s -j2 all
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench.XXXXXX")
trap 'tests/kafka/broker stop "$work/kafka" 2>/dev/null; rm -rf "$work"' EXIT
tests/kafka/broker start "$work/kafka" > "$work/env"
. "$work/env"
"$GEN" --count "$EVENTS" --seed 3 > "$work/events.jsonl"
topic=bench-publish-$$
# create the topic (auto-creation, 4 partitions) outside the timed runs
head -1 "$work/events.jsonl" | "$BIN" publish -q -b "$KAFKA_BOOTSTRAP" -t "$topic" 2>/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
rates=()
dry=()
for r in $(seq 1 "$RUNS"); do
    out=$("$BIN" publish -q -b "$KAFKA_BOOTSTRAP" -t "$topic" "$work/events.jsonl" 2>&1)
    rate=$(sed -n 's/.*s, \([0-9]*\) events\/s).*/\1/p' <<<"$out")
    grep -q "$EVENTS sent, 0 rejected, 0 failed" <<<"$out" || { echo "run $r failed: $out" >&2; exit 1; }
    rates+=("$rate")
    t0=$(date +%s.%N)
    "$BIN" publish -n -q "$work/events.jsonl" 2>/dev/null
    t1=$(date +%s.%N)
    dry+=("$(awk -v n="$EVENTS" -v a="$t0" -v b="$t1" 'BEGIN{printf "%d", n/(b-a)}')")
done
m=$(printf '%s\n' "${rates[@]}" | median)
d=$(printf '%s\n' "${dry[@]}" | median)
echo "bench_publish: $EVENTS events x $RUNS runs, JSON lines -> msgpack -> Kafka $KAFKA_BOOTSTRAP (1 broker, 4 partitions, acks=all, idempotent, lz4)"
echo "publish to broker: median $m events/s (runs: ${rates[*]})"
echo "publish --dry-run (parse + validate only): median $d events/s (runs: ${dry[*]})"
