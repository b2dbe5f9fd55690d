#!/usr/bin/env bash
# Bytes of state per border section: in a worker's memory, in its
# checkpoints and in Redis.
#
# 1. build/bench/bench_state RUNS 10 30 1000 10000 (its header says how):
#    the detection state of 1 000 and 10 000 sections at the worker's
#    default settings, without and with by_type, in memory
#    (sw_engine_stats) and as checkpoints (sw_engine_save), split into
#    what follows the sections and what follows the events (the
#    de-duplication table of the ids within the 24 h lateness).
# 2. A real `surgewatch run` (default settings, series_keep 400) over
#    EVENTS generated events on SECTIONS sections over DAYS days, in a
#    4-partition topic of a real local Kafka broker, with a real
#    redis-server (both started here, stopped at the end). RUNS times, each
#    with a fresh group and Redis prefix: once the worker has read every
#    event and written every series bucket (/metrics: events consumed,
#    surgewatch_series_pending 0, surgewatch_alerts_pending 0), its
#    surgewatch_engine_keys and surgewatch_engine_state_bytes are read; it
#    is stopped with SIGTERM (it checkpoints every partition; exit 0
#    required), then Redis is asked:
#      PREFIX:ckpt:TOPIC:P         STRLEN (the value: header + engine state)
#                                  and MEMORY USAGE ... SAMPLES 0
#      PREFIX:series:SECTION       ZCARD, OBJECT ENCODING, MEMORY USAGE
#                                  SAMPLES 0 (exact), of every section
#      PREFIX:alerts, :alerts:seen XLEN / HLEN and MEMORY USAGE, for the
#                                  alert log's bytes per transition
#      INFO memory                 used_memory before the run and after
#                                  (the whole prefix, allocator included)
#    Per section = the sum over the keys / the sections the worker holds
#    (surgewatch_engine_keys: sw_gen_events --sections N folds the
#    sub-sections of HR-SI/karlovac into it, so 1 000 asked give 943);
#    medians of the runs.
#
# usage: bench/bench_state.sh [SECTIONS] [DAYS] [EVENTS] [RUNS]
#        (defaults 1000, 450, 1350000, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
SECTIONS=${1:-1000}
DAYS=${2:-450}
EVENTS=${3:-1350000}
RUNS=${4:-3}
BIN=build/surgewatch
GEN=build/tests/tools/sw_gen_events
STATE=build/bench/bench_state
[ -x "$BIN" ] && [ -x "$GEN" ] && [ -x "$STATE" ] || make -s -j2 all
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench-state.XXXXXX")
wpid=
cleanup() {
    [ -n "$wpid" ] && kill -9 "$wpid" 2>/dev/null || true
    tests/redis/server stop "$work/redis" 2>/dev/null || true
    tests/kafka/broker stop "$work/kafka" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "bench_state: $*" >&2
    exit 1
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f", a/b}'; }

# 1. the engine alone
"$STATE" "$RUNS" 10 30 1000 10000 || fail "build/bench/bench_state failed"
echo

# 2. a real worker, then Redis
tests/kafka/broker start "$work/kafka" > "$work/kenv" 2>/dev/null
. "$work/kenv"
tests/redis/server start "$work/redis" > "$work/renv" 2>/dev/null
. "$work/renv"
rcli() { redis-cli -u "$REDIS_URL" --raw "$@"; }
"$GEN" --count "$EVENTS" --sections "$SECTIONS" --days "$DAYS" --seed 7 > "$work/events.jsonl"
topic=bench-state-$$
out=$("$BIN" publish -q -b "$KAFKA_BOOTSTRAP" -t "$topic" "$work/events.jsonl" 2>&1) ||
    fail "publish failed: $out"
grep -q "$EVENTS sent, 0 rejected, 0 failed" <<<"$out" || fail "publish: $out"
rm -f "$work/events.jsonl"

metric() { # PORT NAME: the value of an unlabelled metric
    curl -s --max-time 2 "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'
}
ck_len=() ck_mem=() se_mem=() se_med=() se_card=() wk_bytes=() wk_keys=() al_tr=() al_mem=() used=()
enc= nseries=
for r in $(seq 1 "$RUNS"); do
    pfx=bs$$r$r
    port=$(tests/lib/free-port)
    used0=$(rcli INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
    "$BIN" run -b "$KAFKA_BOOTSTRAP" -t "$topic" -g "bs-$$-$r" -r "$REDIS_URL" \
        --redis-prefix "$pfx" -m "127.0.0.1:$port" --log-level warn \
        > /dev/null 2> "$work/w-$r.log" &
    wpid=$!
    t0=$SECONDS
    while :; do
        [ $((SECONDS - t0)) -lt 300 ] || fail "run $r: the worker did not read the $EVENTS events within 300 s"
        kill -0 "$wpid" 2>/dev/null || { cat "$work/w-$r.log" >&2; fail "run $r: the worker exited"; }
        m=$(curl -s --max-time 2 "http://127.0.0.1:$port/metrics" || true)
        c=$(awk '$1 == "surgewatch_events_consumed_total" {print $2}' <<<"$m")
        o=$(awk '$1 == "surgewatch_partitions_owned" {print $2}' <<<"$m")
        sp=$(awk '$1 == "surgewatch_series_pending" {print $2}' <<<"$m")
        ap=$(awk '$1 == "surgewatch_alerts_pending" {print $2}' <<<"$m")
        if [ "${c:-0}" -ge "$EVENTS" ] && [ "${o:-0}" = 4 ] && [ "${sp:-1}" = 0 ] && [ "${ap:-1}" = 0 ]; then
            break
        fi
        sleep 0.5
    done
    sleep 1 # one more metrics refresh after the last write
    wk_bytes+=("$(metric "$port" surgewatch_engine_state_bytes)")
    wk_keys+=("$(metric "$port" surgewatch_engine_keys)")
    kill -TERM "$wpid"
    rc=0
    wait "$wpid" || rc=$?
    wpid=
    [ "$rc" = 0 ] || { cat "$work/w-$r.log" >&2; fail "run $r: the worker exited $rc after SIGTERM"; }
    # checkpoints
    keys=$(rcli --scan --pattern "$pfx:ckpt:*")
    [ "$(wc -l <<<"$keys")" = 4 ] || fail "run $r: $(wc -l <<<"$keys") checkpoint keys, not 4"
    l=0 mu=0
    for k in $keys; do
        l=$((l + $(rcli STRLEN "$k")))
        mu=$((mu + $(rcli MEMORY USAGE "$k" SAMPLES 0)))
    done
    ck_len+=("$l") ck_mem+=("$mu")
    # series: every section's sorted set, in one pipeline
    rcli --scan --pattern "$pfx:series:*" | grep -v ":series:meta$" > "$work/series-$r"
    nseries=$(wc -l < "$work/series-$r")
    sed 's/^/MEMORY USAGE /; s/$/ SAMPLES 0/' "$work/series-$r" | rcli > "$work/mem-$r"
    sed 's/^/ZCARD /' "$work/series-$r" | rcli > "$work/card-$r"
    se_mem+=("$(awk '{s += $1} END {printf "%d", s}' "$work/mem-$r")")
    se_med+=("$(median < "$work/mem-$r")")
    se_card+=("$(median < "$work/card-$r")")
    enc=$(rcli OBJECT ENCODING "$(head -1 "$work/series-$r")")
    # the alert log
    tr=$(rcli XLEN "$pfx:alerts")
    am=$(($(rcli MEMORY USAGE "$pfx:alerts" SAMPLES 0) + $(rcli MEMORY USAGE "$pfx:alerts:seen" SAMPLES 0)))
    al_tr+=("$tr") al_mem+=("$am")
    used1=$(rcli INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
    used+=("$((used1 - used0))")
    echo "run $r: worker state ${wk_bytes[-1]} bytes, ${wk_keys[-1]} keys; checkpoints $l bytes (MEMORY USAGE $mu); $nseries series keys, $(awk '{s += $1} END {printf "%d", s}' "$work/mem-$r") bytes, median ZCARD ${se_card[-1]}; alert log $tr transitions, $am bytes; used_memory +$((used1 - used0))" >&2
done

m_bytes=$(printf '%s\n' "${wk_bytes[@]}" | median)
m_keys=$(printf '%s\n' "${wk_keys[@]}" | median)
m_ckl=$(printf '%s\n' "${ck_len[@]}" | median)
m_ckm=$(printf '%s\n' "${ck_mem[@]}" | median)
m_sem=$(printf '%s\n' "${se_mem[@]}" | median)
m_semed=$(printf '%s\n' "${se_med[@]}" | median)
m_card=$(printf '%s\n' "${se_card[@]}" | median)
m_tr=$(printf '%s\n' "${al_tr[@]}" | median)
m_alm=$(printf '%s\n' "${al_mem[@]}" | median)
m_used=$(printf '%s\n' "${used[@]}" | median)
ns=$m_keys # one key per section (no by_type)
echo "bench_state, a real worker: $EVENTS events on $ns sections (sw_gen_events --sections $SECTIONS) over $DAYS days ($(div "$EVENTS" "$((ns * DAYS))") per section per day), 4 partitions, default settings (series_keep 400), redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'); medians of $RUNS runs"
echo "worker memory (surgewatch_engine_state_bytes / surgewatch_engine_keys): $m_bytes bytes for $m_keys keys (sections), $(div "$m_bytes" "$ns") bytes/section (runs: ${wk_bytes[*]})"
echo "checkpoints in Redis, PREFIX:ckpt:TOPIC:0..3 after SIGTERM: STRLEN $m_ckl bytes = $(div "$m_ckl" "$ns") bytes/section; MEMORY USAGE $m_ckm bytes = $(div "$m_ckm" "$ns") bytes/section (runs: ${ck_len[*]} / ${ck_mem[*]})"
echo "series in Redis, PREFIX:series:SECTION ($nseries keys, median ZCARD $m_card buckets, encoding $enc): MEMORY USAGE median $m_semed bytes/section, all $m_sem bytes = $(div "$m_sem" "$ns") bytes/section (runs: ${se_mem[*]})"
echo "alert log, PREFIX:alerts + PREFIX:alerts:seen: $m_tr transitions, $m_alm bytes = $(div "$m_alm" "$m_tr") bytes/transition (runs: ${al_mem[*]})"
echo "Redis used_memory grown by the whole prefix (checkpoints, series, alert log, thresholds, ...): $m_used bytes = $(div "$m_used" "$ns") bytes/section (runs: ${used[*]})"
