#!/usr/bin/env bash
# The alert hub (`surgewatch hub`, docs/alerts.md) with a real redis-server
# (started here, stopped at the end). Every run has its own hub (fresh
# ports) and its own Redis key prefix. Alerts are written into the alert
# log by build/tests/tools/sw_alert_writer (the workers' own Redis writer,
# sw_alert_log), spread over 8 sections.
#
# Latency, RUNS runs at 1 000 alerts/s (SECS s each) and RUNS at 50 000
# alerts/s (50 000 x HI_SECS alerts; the writer falls behind that pace on
# this machine, so such a run lasts longer and the rate reached is
# printed; a batch behind schedule is written at once). Each run: one
# `surgewatch subscribe --from-seq 1` (the optimized build), started and
# connected before the first write, feeds its standard output through a
# pipe to
# bench/bench_hub_latency.py, which stamps every chunk it reads with
# time.time_ns(); latency = that arrival time - the writer's CLOCK_REALTIME
# just before the Redis write of the alert's batch (at 50 000/s the writer
# writes 50 alerts per ms, at 1 000/s one per ms). So a figure is writer ->
# Redis (Lua script) -> hub (XREAD, msgpack) -> ZeroMQ TCP -> subscriber
# (JSON, stdout, flushed after each poll batch) -> pipe -> reader. Figures:
# nearest-rank percentiles of every alert of a run, then the median of the
# runs; "arrived" counts the lines the subscriber printed, "replayed" those
# it fetched from the replay socket instead of the live feed.
#
# Fan-out, RUNS runs: SUBS subscribers (`subscribe --from-seq 1 -n FAN_N`,
# output to /dev/null, each exits once it has printed all FAN_N) connected
# to one hub, then FAN_N alerts written as fast as the writer goes (rate
# 0, batches of 500). The rate is FAN_N / (last subscriber's exit - first
# write). The hub's /metrics (surgewatch_hub_alerts_published_total) is
# polled every 50 ms, but the hub refreshes it once a second: its publish
# rate is only known to about a second. With a writer this fast the
# figure is the writer's rate (printed next to it): the subscribers finish
# within a few tens of ms of the last write.
#
# Fan-out from a backlog, RUNS runs: the same SUBS subscribers, but the
# FAN_N alerts were written once beforehand under a template prefix; a
# run copies them to staging keys, and once the subscribers are connected
# renames them (O(1)) to the hub's prefix: the hub, blocked in XREAD on
# the empty log, finds FAN_N alerts at once and goes at its own pace
# (1000 entries per XREAD). This is the hub's capacity, not the writer's;
# subscribers that fall behind by more than the hub's queue (hwm 100 000)
# lose live alerts and fetch them by replay.
#
# The machine has 2 cores: writer, redis-server, the hub (reader and main
# threads), the subscriber(s) and the reader all share them. Nothing is
# asserted; a run that failed (hub or subscriber crash, writer error) fails
# the script.
#
# usage: bench/bench_hub.sh [SECS] [RUNS] [FAN_N] [SUBS] [HI_SECS]
#        (defaults 10, 3, 200000, 10, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
RUNS=${2:-3}
FAN_N=${3:-200000}
SUBS=${4:-10}
HI_SECS=${5:-5}
BIN=build/surgewatch
WRITER=build/tests/tools/sw_alert_writer
PY=bench/bench_hub_latency.py
SECTIONS=HU-RS,HR-RS,RS-XK,HU-UA,SK-UA,PL-UA,RO-UA,HU-RO
[ -x "$BIN" ] && [ -x "$WRITER" ] || make -s -j2 all
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench.XXXXXX")
hub_pid=
cleanup() {
    [ -n "$hub_pid" ] && kill -9 "$hub_pid" 2>/dev/null || true
    tests/redis/server stop "$work/redis" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "bench_hub: $*" >&2
    exit 1
}
tests/redis/server start "$work/redis" > "$work/renv" 2>/dev/null
. "$work/renv"

free_ports() { # N distinct free ports
    local ps=() p
    while [ "${#ps[@]}" -lt "$1" ]; do
        p=$(tests/lib/free-port)
        [[ " ${ps[*]} " == *" $p "* ]] || ps+=("$p")
    done
    echo "${ps[*]}"
}

# start_hub TAG [metrics]: a hub on a fresh prefix, waiting for its
# reader; with "metrics", /metrics on a free port too. Sets hub_pid, pub,
# replay, prefix, hublog (and metrics).
start_hub() {
    local tag=$1 mp=${2:-} m=off ports try rc
    prefix=bh$$$tag
    hublog=$work/hub-$tag.log
    # a port found free may be taken by someone else before the hub binds
    # it (exit 3): then again with other ports
    for try in 1 2 3; do
        read -r -a ports <<<"$(free_ports 3)"
        pub=tcp://127.0.0.1:${ports[0]} replay=tcp://127.0.0.1:${ports[1]}
        [ -n "$mp" ] && m=127.0.0.1:${ports[2]} metrics=$m
        "$BIN" hub -r "$REDIS_URL" --redis-prefix "$prefix" --pub "$pub" \
            --replay "$replay" -m "$m" > "$hublog" 2>&1 &
        hub_pid=$!
        for _ in $(seq 1 100); do
            grep -q "reading the alert log" "$hublog" && return 0
            kill -0 "$hub_pid" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$hub_pid" 2>/dev/null; then
            cat "$hublog" >&2
            fail "hub $tag did not start reading the log within 5 s"
        fi
        rc=0
        wait "$hub_pid" || rc=$?
        hub_pid=
        [ "$rc" = 3 ] || { cat "$hublog" >&2; fail "hub $tag exited $rc"; }
        echo "hub $tag: a port was taken (exit 3); again with others" >&2
    done
    cat "$hublog" >&2
    fail "hub $tag could not bind its sockets"
}

stop_hub() {
    local rc=0
    kill -TERM "$hub_pid"
    wait "$hub_pid" || rc=$?
    hub_pid=
    [ "$rc" = 0 ] || { cat "$hublog" >&2; fail "hub exited $rc after SIGTERM"; }
    if grep -qv " INFO " "$hublog"; then
        echo "hub log ($1) has warnings:" >&2
        grep -v " INFO " "$hublog" | head -5 | sed 's/^/    /' >&2
    fi
}

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v u="$1" 'BEGIN{printf (u < 10000 ? "%.2f" : "%.1f"), u / 1000}'; }

# ---- latency
lat_table=()
lat_notes=()
p99_1k=
for rate in 1000 50000; do
    n=$((rate * SECS))
    [ "$rate" = 1000 ] || n=$((rate * HI_SECS))
    p50s=() p99s=() p999s=() maxs=() wrs=()
    for r in $(seq 1 "$RUNS"); do
        start_hub "l${rate}r$r"
        mkdir -p "$work/l$rate-$r"
        line=$(python3 "$PY" latency "$BIN" "$WRITER" "$REDIS_URL" "$prefix" "$pub" \
            "$replay" "$n" "$rate" "$SECTIONS" "$work/l$rate-$r" "$hub_pid" "$(cat "$work/redis/redis.pid")") ||
            { cat "$hublog" "$work/l$rate-$r/sub.log" >&2; fail "latency $rate/s run $r: $line"; }
        stop_hub "latency $rate/s run $r"
        echo "latency $rate/s run $r: $line" >&2
        wrs+=("$(field write_rate "$line")")
        p50s+=("$(field p50_us "$line")") p99s+=("$(field p99_us "$line")")
        p999s+=("$(field p999_us "$line")") maxs+=("$(field max_us "$line")")
        lat_notes+=("$rate/s run $r: $(field arrived "$line") of $n arrived ($(field unique "$line") distinct seqs), live $(field live "$line"), replayed $(field replayed "$line"), gaps $(field gaps "$line"), duplicates $(field dups "$line"); written at $(field write_rate "$line")/s over $(field write_secs "$line") s; p50 $(ms "${p50s[-1]}") p99 $(ms "${p99s[-1]}") p99.9 $(ms "${p999s[-1]}") max $(ms "${maxs[-1]}") ms; CPU in cores $(field cpu "$line" | tr , ' ')")
    done
    m50=$(printf '%s\n' "${p50s[@]}" | median)
    m99=$(printf '%s\n' "${p99s[@]}" | median)
    m999=$(printf '%s\n' "${p999s[@]}" | median)
    mmax=$(printf '%s\n' "${maxs[@]}" | median)
    [ "$rate" = 1000 ] && p99_1k=$m99
    mwr=$(printf '%s\n' "${wrs[@]}" | median)
    lat_table+=("| $rate/s | $mwr/s | $(ms "$m50") | $(ms "$m99") | $(ms "$m999") | $(ms "$mmax") | $(for v in "${p99s[@]}"; do printf '%s ' "$(ms "$v")"; done)|")
done

# ---- fan-out
fan_rates=() hub_rates=() fan_notes=()
for r in $(seq 1 "$RUNS"); do
    start_hub "f$r" metrics
    mkdir -p "$work/f-$r"
    line=$(python3 "$PY" fanout "$BIN" "$WRITER" "$REDIS_URL" "$prefix" "$pub" "$replay" \
        "$FAN_N" "$SUBS" "$SECTIONS" "$work/f-$r" "$hub_pid" "$metrics") ||
        { cat "$hublog" >&2; fail "fan-out run $r: $line"; }
    stop_hub "fan-out run $r"
    echo "fan-out run $r: $line" >&2
    fan_rates+=("$(field rate "$line")")
    hub_rates+=("$(field hub_rate "$line")")
    fan_notes+=("run $r: $(field rate "$line")/s, last subscriber done $(field secs "$line") s after the first write; writer $(field write_rate "$line")/s ($(field write_secs "$line") s); subscribers with all $FAN_N: $(field complete "$line"); done at (s) $(field sub_secs "$line"); replayed per subscriber $(field replayed "$line"); gaps $(field gaps "$line"); hub published $(field hub_published "$line"), all of them by its refresh $(field hub_published_at "$line") s after the first write, $(field hub_rate "$line")/s between its first and last refresh inside the run (0: fewer than two); hub CPU $(field hub_cpu "$line") cores, $(field hub_us_per_alert "$line") us per alert; CPU per subscriber $(field sub_cpu_s "$line") s, the $SUBS together $(field subs_cores "$line") cores")
done
mf=$(printf '%s\n' "${fan_rates[@]}" | median)
mh=$(printf '%s\n' "${hub_rates[@]}" | median)

# ---- fan-out from a backlog
tpl=bh$$tpl
out=$("$WRITER" "$REDIS_URL" "$tpl" "$FAN_N" 0 "$SECTIONS") || fail "template writer: $out"
bk_rates=() bk_hub=() bk_notes=()
for r in $(seq 1 "$RUNS"); do
    start_hub "b$r" metrics
    mkdir -p "$work/b-$r"
    line=$(python3 "$PY" fanout "$BIN" "$WRITER" "$REDIS_URL" "$prefix" "$pub" "$replay" \
        "$FAN_N" "$SUBS" "$SECTIONS" "$work/b-$r" "$hub_pid" "$metrics" "$tpl") ||
        { cat "$hublog" >&2; fail "backlog fan-out run $r: $line"; }
    stop_hub "backlog fan-out run $r"
    echo "backlog fan-out run $r: $line" >&2
    bk_rates+=("$(field rate "$line")")
    bk_hub+=("$(field hub_rate "$line")")
    bk_notes+=("run $r: $(field rate "$line")/s, last subscriber done $(field secs "$line") s after the rename; subscribers with all $FAN_N: $(field complete "$line"); done at (s) $(field sub_secs "$line"); replayed per subscriber $(field replayed "$line"); gaps $(field gaps "$line"); hub published $(field hub_published "$line"), all of them by its refresh $(field hub_published_at "$line") s after the rename, $(field hub_rate "$line")/s between its first and last refresh inside the run (0: fewer than two); hub CPU $(field hub_cpu "$line") cores, $(field hub_us_per_alert "$line") us per alert; CPU per subscriber $(field sub_cpu_s "$line") s, the $SUBS together $(field subs_cores "$line") cores")
done
mb=$(printf '%s\n' "${bk_rates[@]}" | median)
mbh=$(printf '%s\n' "${bk_hub[@]}" | median)

verdict=met
awk -v v="$p99_1k" 'BEGIN{exit !(v >= 5000)}' && verdict="NOT met"
echo "bench_hub: redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), one hub, alerts over 8 sections, $RUNS runs each, medians of the runs"
echo
echo "Latency, alert write (sw_alert_writer, before the Redis write) to a line read from"
echo "\`surgewatch subscribe\`'s standard output, $SECS s per run:"
echo
echo "| rate asked | rate written | p50 ms | p99 ms | p99.9 ms | max ms | p99 of each run, ms |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${lat_table[@]}"
echo
echo "Target: p99 under 5 ms at 1 000 alerts/s: measured $(ms "$p99_1k") ms ($verdict)."
echo
echo "At 1 000/s each alert is written alone; at 50 000/s the writer writes batches of 50"
echo "(pipelined), all stamped with the batch's start, so a figure includes the time Redis"
echo "takes for the batch's earlier alerts. When the writer cannot keep the asked rate"
echo "(\"rate written\" below it), a batch behind schedule is written at once: the run then"
echo "measures the pipeline at the writer's (and Redis's) limit, with queues forming"
echo "whenever it writes faster than the rest drains; CPU use per process is listed below."
echo
printf -- '- %s\n' "${lat_notes[@]}"
echo
echo "Fan-out: $FAN_N alerts written as fast as possible, $SUBS subscribers on one hub:"
echo "median $mf alerts/s from the first write to the last subscriber holding all of them"
echo "(runs: ${fan_rates[*]}); the hub's publish rate from /metrics: median $mh alerts/s"
echo "(runs: ${hub_rates[*]}; refreshed once a second, so rough)."
echo
printf -- '- %s\n' "${fan_notes[@]}"
echo
echo "Fan-out from a backlog: $FAN_N alerts already in the log when the hub finds them,"
echo "$SUBS subscribers: median $mb alerts/s from the moment they appear to the last"
echo "subscriber holding all of them (runs: ${bk_rates[*]}); the hub's publish rate"
echo "from /metrics: median $mbh alerts/s (runs: ${bk_hub[*]}; 0: the run was too short"
echo "for two refreshes inside it)."
echo
printf -- '- %s\n' "${bk_notes[@]}"
