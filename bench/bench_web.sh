#!/usr/bin/env bash
# The hub's web view (`surgewatch hub --web`, docs/web.md) with 1 000
# sections and 100 viewers: the page's own size, GET /api/state, and the
# hub's memory as viewers connect, receive alerts, leave and come back.
#
# A real redis-server (started here on a free loopback port in a temporary
# directory, stopped at the end). VIEWERS tokens from `surgewatch keygen
# --web-token` (half see `*`, half 2-20 entries: a base section "AA-BB",
# which covers its subsections, or one section), in a --web-viewers file.
# Each of RUNS runs has a fresh Redis prefix and its own hub (fresh
# ports): bench/bench_web.py populates the prefix in the workers' formats
# (PREFIX:sections with 1 000 sections, 40 pairs AA-BB each with 24
# subsections AA-BB/segNN; PREFIX:series:SECTION with 400 daily buckets;
# PREFIX:series:meta bucket_ms) and NPRE alerts through
# build/tests/tools/sw_alert_writer (the workers' Lua writer, so the log,
# the active set and the per-section seqs are real; NACTIVE more make
# that many alerts active), then the hub starts and bench_web.py measures,
# in this order (its header says how): idle RSS; GET / (bytes, and gzip
# -9 of them) and GET /api/state (bytes and time, median of 11) for a `*`
# and a restricted viewer; what hello says on a stream without ?from; RSS
# with the VIEWERS streams of GET /api/events?from=SEQ+1 open (one Python
# thread reads them all); N alerts written at RATE/s while they are
# connected, each viewer's alerts checked against the log (exactly those
# of its sections, once, in order), latency and delivery rate; the time
# the hub takes to end the streams once the client has closed them, RSS
# 1 s and 11 s later; all of them back with Last-Event-ID: 1 (a catch-up
# of the whole log, beyond the hub's ring: from Redis), its time and peak
# RSS; the same close again; CATCHUPS such rounds, so that memory the hub
# keeps from one round to the next shows.
# VmRSS, VmHWM and Threads come from /proc/HUB_PID/status.
#
# The machine has 2 cores: the hub, redis-server, the writers and the
# Python client share them (the client's CPU and the load average are
# printed). Nothing is asserted; a crash of the hub, a hub that does not
# exit 0 on SIGTERM or a failing step (a stream without its hello, an HTTP
# error) ends the runs: the figures of the runs done so far are printed,
# then what failed, and the script exits 1.
#
# usage: bench/bench_web.sh [N] [RATE] [VIEWERS]   (defaults 20000, 1000, 100)
# env:   RUNS (default 3), NPRE (alerts in the log before the hub starts,
#        default 4000), NACTIVE (alerts left active, default 200),
#        CATCHUPS (catch-up rounds, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
RATE=${2:-1000}
VIEWERS=${3:-100}
RUNS=${RUNS:-3}
NPRE=${NPRE:-4000}
BIN=build/surgewatch
WRITER=build/tests/tools/sw_alert_writer
PY=bench/bench_web.py
[ -x "$BIN" ] && [ -x "$WRITER" ] || make -s -j2 all
[[ "$("$BIN" hub --help 2>&1)" == *--web-viewers* ]] ||
    { echo "bench_web: $BIN hub has no --web (build the hub's web view first)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench-web.XXXXXX")
hub_pid=
cleanup() {
    [ -n "$hub_pid" ] && kill -9 "$hub_pid" 2>/dev/null || true
    tests/redis/server stop "$work/redis" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "bench_web: $*" >&2
    exit 1
}
failed=
# run_fail MSG: ends the runs (the figures so far are still printed)
run_fail() {
    echo "bench_web: $*" >&2
    failed=$*
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

# start_hub TAG: a hub on $prefix with --web, /metrics, its own ZeroMQ
# ports, waiting for its reader. Sets hub_pid, web, metrics, hublog, hubcmd.
start_hub() {
    local tag=$1 ports try rc
    hublog=$work/hub-$tag.log
    for try in 1 2 3; do
        read -r -a ports <<<"$(free_ports 4)"
        web=127.0.0.1:${ports[0]} metrics=127.0.0.1:${ports[1]}
        hubcmd=("$BIN" hub -r "$REDIS_URL" --redis-prefix "$prefix"
            --pub "tcp://127.0.0.1:${ports[2]}" --replay "tcp://127.0.0.1:${ports[3]}"
            -m "$metrics" --web "$web" --web-viewers "$work/viewers")
        "${hubcmd[@]}" > "$hublog" 2>&1 &
        hub_pid=$!
        for _ in $(seq 1 200); do
            grep -q "reading the alert log" "$hublog" && return 0
            kill -0 "$hub_pid" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$hub_pid" 2>/dev/null; then
            cat "$hublog" >&2
            fail "hub $tag did not start reading the log within 10 s"
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

notes=()
stop_hub() { # returns 1 when the hub had died or did not exit 0
    local rc=0
    if ! kill -0 "$hub_pid" 2>/dev/null; then
        wait "$hub_pid" || rc=$?
        hub_pid=
        tail -20 "$hublog" >&2
        run_fail "the hub of run $1 had died (exit status $rc; its last log line: $(tail -1 "$hublog" | cut -c1-200))"
        return 1
    fi
    kill -TERM "$hub_pid"
    wait "$hub_pid" || rc=$?
    hub_pid=
    if [ "$rc" != 0 ]; then
        tail -20 "$hublog" >&2
        run_fail "the hub of run $1 exited $rc after SIGTERM (its last log line: $(tail -1 "$hublog" | cut -c1-200))"
        return 1
    fi
    local w
    w=$(grep -cv " INFO " "$hublog" || true)
    if [ "$w" != 0 ]; then
        echo "hub log (run $1) has $w lines other than INFO:" >&2
        grep -v " INFO " "$hublog" | head -5 | sed 's/^/    /' >&2
        notes+=("run $1: the hub logged $w lines other than INFO, the first: $(grep -v " INFO " "$hublog" | head -1 | cut -c1-200)")
    fi
}

python3 "$PY" viewers "$BIN" "$VIEWERS" "$work" >&2 || fail "making the viewers failed"
jsons=()
for r in $(seq 1 "$RUNS"); do
    prefix=bw$$r$r
    out=$(python3 "$PY" populate "$REDIS_URL" "$prefix" "$WRITER" "$NPRE" "$work") ||
        fail "populating run $r: $out"
    echo "run $r populate: $out" >&2
    start_hub "r$r"
    if ! line=$(python3 "$PY" run "$hub_pid" "$web" "$metrics" "$REDIS_URL" "$prefix" \
        "$WRITER" "$N" "$RATE" "$work" "$work/run$r.json"); then
        tail -20 "$hublog" >&2
        stop_hub "$r" || true
        if [ -n "$failed" ]; then failed="$failed; run $r: $line"; else run_fail "run $r: $line"; fi
        break
    fi
    echo "run $r: $line" >&2
    stop_hub "$r" || break
    jsons+=("$work/run$r.json")
    # the next run starts from an empty Redis (and keeps the machine's memory free)
    redis-cli -u "$REDIS_URL" flushall > /dev/null
done
[ "${#jsons[@]}" -gt 0 ] && python3 "$PY" report "${jsons[@]}"
for n in "${notes[@]}"; do echo "- $n"; done
echo
echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'); commands of a run (ports and prefix vary):"
echo
echo "    surgewatch keygen --web-token viewer-001 --role viewer --sections AL-GR,HU-RS/seg03,...   # x $VIEWERS, into the --web-viewers file"
echo "    bench/bench_web.py populate REDIS_URL PREFIX build/tests/tools/sw_alert_writer $NPRE   # 1000 sections, 400 buckets each, $NPRE alerts"
echo "    ${hubcmd[*]}" | sed -e "s|$REDIS_URL|REDIS_URL|" -e "s|--redis-prefix [^ ]*|--redis-prefix PREFIX|" -e "s|$work/|WORK/|g" -e 's|127\.0\.0\.1:[0-9]*|127.0.0.1:PORT|g' -e 's|^    build/|    |'
echo "    bench/bench_web.py run HUB_PID WEB METRICS REDIS_URL PREFIX build/tests/tools/sw_alert_writer $N $RATE WORK OUT"
echo "    (its writers: sw_alert_writer REDIS_URL PREFIX $((N / 4)) $(awk -v r="$RATE" 'BEGIN{print r/4}') SECTIONS_OF_ONE_QUARTER TIMES_FILE, 4 at once)"
if [ -n "$failed" ]; then
    echo
    echo "FAILED after ${#jsons[@]} of $RUNS runs: $failed"
    exit 1
fi
