#!/usr/bin/env bash
# surgewatch backtest speed on one core: EVENTS generated events over 1 000
# sections and 3 years, read from a msgpack stream and from JSON lines
# (JSON_EVENTS of them), default settings (ears_c2 + cusum, daily buckets,
# 24 h lateness). Prints the time and events/s of each, medians of RUNS.
#
# usage: bench/bench_backtest.sh [EVENTS] [JSON_EVENTS] [RUNS]
#        (defaults 100000000, 5000000, 3)
# The generated files are kept in $SW_BENCH_DIR (default /tmp) for reuse.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-100000000}
JSON_EVENTS=${2:-5000000}
RUNS=${3:-3}
BIN=build/surgewatch
GEN=build/tests/tools/sw_gen_events
[ -x "$BIN" ] && [ -x "$GEN" ] || make -s -j2 all
dir=${SW_BENCH_DIR:-/tmp}
mp="$dir/sw-bench-$EVENTS.msgpack"
js="$dir/sw-bench-$JSON_EVENTS.jsonl"
if [ ! -s "$mp" ]; then
    echo "generating $EVENTS events into $mp ..." >&2
    "$GEN" --count "$EVENTS" --format msgpack --sections 1000 --days 1095 --seed 9 > "$mp"
fi
if [ ! -s "$js" ]; then
    echo "generating $JSON_EVENTS events into $js ..." >&2
    "$GEN" --count "$JSON_EVENTS" --format json --sections 1000 --days 1095 --seed 9 > "$js"
fi
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
run() { # file [command prefix...] -> "seconds rate"
    local f=$1; shift
    "$@" "$BIN" backtest -q --no-alerts "${EXTRA[@]}" -e "$f" 2>&1 >/dev/null \
        | sed -n 's/^backtest: \([0-9.]*\) s, \([0-9]*\) events\/s$/\1 \2/p'
}
secs=() rates=() jrates=()
for r in $(seq 1 "$RUNS"); do
    # msgpack: one core, one thread, as the requirement says
    EXTRA=(--threads 1)
    read -r s rate < <(run "$mp" taskset -c 0)
    secs+=("$s"); rates+=("$rate")
    # JSON lines: the default, decoding in a second thread
    EXTRA=()
    read -r _ jrate < <(run "$js")
    jrates+=("$jrate")
done
echo "bench_backtest: default settings, 1000 sections, 3 years, $RUNS runs"
echo "msgpack, $EVENTS events ($(du -hL "$mp" | cut -f1)), one core (taskset -c 0, --threads 1): median $(printf '%s\n' "${secs[@]}" | median) s, $(printf '%s\n' "${rates[@]}" | median) events/s (runs: ${secs[*]} s)"
echo "JSON lines, $JSON_EVENTS events, decoder thread + detector thread (2 cores): median $(printf '%s\n' "${jrates[@]}" | median) events/s (runs: ${jrates[*]})"
