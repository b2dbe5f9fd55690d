#!/usr/bin/env bash
# The ingest worker (`surgewatch run`) against a bare librdkafka consumer on
# the same topic of a real local Kafka broker (KRaft, started here), with a
# real redis-server (started here); both stopped at the end (issue 4).
#
# EVENTS generated events are published once (4 partitions). Then RUNS
# times, each with fresh consumer groups and a fresh Redis key prefix:
#   bare    build/bench/bench_consumer: consume and destroy, no decoding
#   decode  the same, plus sw_event_decode_msgpack of each payload
#   1 w     one `surgewatch run` (default settings, daily buckets)
#   2 w     two `surgewatch run` in one group, started together
# Every rate is EVENTS over the time from the first message consumed to the
# last, so joining the group (about 3 s) is outside the window. The workers
# are timed through /metrics (surgewatch_events_consumed_total, summed over
# the workers), polled every 20 ms: the window runs from the first poll
# where the sum is > 0 to the first poll where it reached its final value
# (>= EVENTS; above when a worker read events twice, "replayed"). A worker
# publishes its metrics every 250 ms, so each end is known to about 0.25 s;
# "inner" is the rate between the first snapshot and the last one below
# EVENTS, both known to the poll interval. Workers are then stopped with
# SIGTERM and must exit 0; fewer than EVENTS consumed once every partition
# is read to its end fails the benchmark (after the figures). "cpu" is CPU
# time over wall time inside the window (1.00 = one core of the two).
#
# Two workers started together join one first assignment: the broker of
# this benchmark waits 4 s for the members of a new group
# (group.initial.rebalance.delay.ms). Should a rebalance still fall inside
# the window, the output says so. The workers commit group offsets at most
# every 30 s and never in a rebalance (with librdkafka 2.0.2 a commit that
# meets a rebalance fails with ILLEGAL_GENERATION and the assignment is
# declared lost, librdkafka#4059; the next owner then replays from the last
# checkpoint, and the output counts those events as "replayed").
#
# BENCH_WORKER_PROPS="key=value ..." adds -X properties to the workers only
# (default none), to try Kafka settings against the same bare consumer.
#
# usage: bench/bench_worker.sh [EVENTS] [RUNS]   (defaults 2000000, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-2000000}
RUNS=${2:-3}
BIN=build/surgewatch
GEN=build/tests/tools/sw_gen_events
CONS=build/bench/bench_consumer
[ -x "$BIN" ] && [ -x "$GEN" ] && [ -x "$CONS" ] || make -s -j2 all
work=$(mktemp -d "${TMPDIR:-/tmp}/sw-bench.XXXXXX")
wpids=()
cleanup() {
    for p in "${wpids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    tests/redis/server stop "$work/redis" 2>/dev/null || true
    tests/kafka/broker stop "$work/kafka" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "bench_worker: $*" >&2
    exit 1
}

# a new group waits 4 s for more members before its first assignment, so
# that two workers started together share the partitions from the start
# (the window then holds no rebalance); the bare consumer waits too, outside
# its window
SW_KAFKA_GROUP_DELAY_MS=4000 tests/kafka/broker start "$work/kafka" > "$work/kenv"
. "$work/kenv"
tests/redis/server start "$work/redis" > "$work/renv"
. "$work/renv"
broker_pid=$(cat "$work/kafka/kafka.pid")

"$GEN" --count "$EVENTS" --seed 3 > "$work/events.jsonl"
topic=bench-worker-$$
out=$("$BIN" publish -q -b "$KAFKA_BOOTSTRAP" -t "$topic" "$work/events.jsonl" 2>&1) ||
    fail "publish failed: $out"
grep -q "$EVENTS sent, 0 rejected, 0 failed" <<<"$out" || fail "publish: $out"
nparts=$(kcat -b "$KAFKA_BOOTSTRAP" -L -t "$topic" 2>/dev/null | sed -n 's/.* with \([0-9]*\) partitions.*/\1/p')
[ -n "$nparts" ] && [ "$nparts" -gt 0 ] || fail "no partitions for $topic"
sizes=$(for p in $(seq 0 $((nparts - 1))); do echo "-t $topic:$p:-1"; done |
    xargs kcat -b "$KAFKA_BOOTSTRAP" -Q 2>/dev/null | sed -n 's/.* \[\([0-9]*\)\] offset \([0-9]*\).*/\1 \2/p' |
    sort -n | awk '{printf "%s%d", (NR > 1 ? " " : ""), $2}')
read -r -a xprops <<<"${BENCH_WORKER_PROPS:-}"
xargs_=()
for kv in "${xprops[@]}"; do xargs_+=(-X "$kv"); done

# The poller: GETs /metrics of every worker every 20 ms (one process, kept
# connections: a curl process per poll costs about 9 ms of CPU, half a core
# at this pace on a 2-core machine, which would be taken from the worker).
cat > "$work/poll.py" <<'PY'
import http.client, sys, time
events, timeout, nparts = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
broker = int(sys.argv[4])
workers = [tuple(map(int, a.split(":"))) for a in sys.argv[5:]]  # pid:port
pids = [p for p, _ in workers] + [broker]
conns = {}
tick = 100.0  # USER_HZ

def cpu():
    out = []
    for pid in pids:
        try:
            f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
            out.append((int(f[11]) + int(f[12])) / tick)
        except OSError:
            out.append(0.0)
    return out

def alive(pid):
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

KEYS = ("surgewatch_events_consumed_total", "surgewatch_events_counted_total",
        "surgewatch_rebalances_total", "surgewatch_partitions_owned",
        "surgewatch_consumer_lag_total")

def scrape(port):
    body = ""
    for attempt in (0, 1):
        c = conns.get(port)
        if c is None:
            c = conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            c.request("GET", "/metrics")
            body = c.getresponse().read().decode()
            break
        except (OSError, http.client.HTTPException):
            c.close()
            del conns[port]
    v = {}
    for line in body.splitlines():
        if line.startswith("#"):
            continue
        k, _, val = line.rpartition(" ")
        if k in KEYS:
            v[k] = int(float(val))
        elif k.startswith("surgewatch_events_rejected_total"):
            v["rejected"] = v.get("rejected", 0) + int(float(val))
    return v

def total(vs, k):
    return sum(v.get(k, 0) for v in vs)

start = time.time()
t0 = None
seen_v, seen_t, seen_cpu = 0, None, None  # the current sum, when first seen
inner = None
while True:
    vs = [scrape(port) for _, port in workers]
    t = time.time()
    s = total(vs, KEYS[0])
    for pid, _ in workers:
        if not alive(pid):
            print("error=worker_%d_exited consumed=%d" % (pid, s))
            sys.exit(1)
    if t - start > timeout:
        print("error=timeout consumed=%d" % s)
        sys.exit(1)
    if s != seen_v:
        if t0 is not None and s < events:
            inner = (seen_t, seen_v)  # the last snapshot below EVENTS
        seen_v, seen_t, seen_cpu = s, t, cpu()
    if t0 is None and s > 0:
        t0, c0, cpu0 = t, s, seen_cpu
        reb0 = [v.get(KEYS[2], 0) for v in vs]
    # done: every event consumed, every partition owned with no lag, and
    # nothing new for 2 s (events read twice after a lost assignment push
    # the sum past EVENTS before the end)
    settled = (t0 is not None and total(vs, KEYS[3]) == nparts
               and total(vs, KEYS[4]) == 0)
    if settled and s >= events and t - seen_t >= 2.0:
        break
    # every partition read to its end, yet fewer than EVENTS consumed
    if settled and s < events and t - seen_t >= 10.0:
        break
    time.sleep(0.02)
t1, cpu1 = seen_t, seen_cpu
secs = t1 - t0
ir = (inner[1] - c0) / (inner[0] - t0) if inner and inner[0] > t0 else 0
print("rate=%d secs=%.3f first_seen=%d inner_rate=%d final=%d replayed=%d missing=%d "
      "counted=%d rejected=%d owned=%s rebalances_at_first=%s rebalances=%s "
      "cpu_workers=%s cpu_broker=%.2f" % (
          min(s, events) / secs, secs, c0, ir, s, max(s - events, 0),
          max(events - s, 0), total(vs, KEYS[1]),
          total(vs, "rejected"),
          ",".join(str(v.get(KEYS[3], -1)) for v in vs),
          ",".join(map(str, reb0)),
          ",".join(str(v.get(KEYS[2], -1)) for v in vs),
          ",".join("%.2f" % ((b - a) / secs) for a, b in zip(cpu0[:-1], cpu1[:-1])),
          (cpu1[-1] - cpu0[-1]) / secs))
PY

# bare RUN [decode]: one bench_consumer in a fresh group; sets brate and
# bcpu (its rate and CPU use)
bare() {
    local line
    line=$("$CONS" "$KAFKA_BOOTSTRAP" "$topic" "bw-$$-$1-bare${2:-}" "$EVENTS" ${2:+"$2"}) ||
        fail "bench_consumer ${2:-} (run $1) failed: $line"
    read -r brate bcpu < <(sed -n 's/.*from the first: \([0-9]*\) msgs\/s, cpu \([0-9.]*\) cores.*/\1 \2/p' <<<"$line")
    [ -n "$brate" ] || fail "bench_consumer ${2:-} (run $1): $line"
}

# workers RUN K: K `surgewatch run` in a fresh group with a fresh Redis
# prefix, started together; sets wline (the poller's line). Not run in a
# subshell: on failure the EXIT trap kills the workers by their pids.
workers() {
    local r=$1 k=$2 i port args=() ports=() rc
    wpids=()
    for i in $(seq 1 "$k"); do
        port=$(tests/lib/free-port)
        while [[ " ${ports[*]} " == *" $port "* ]]; do port=$(tests/lib/free-port); done
        ports+=("$port")
    done
    for i in $(seq 1 "$k"); do
        "$BIN" run -b "$KAFKA_BOOTSTRAP" -t "$topic" -g "bw-$$-$r-w$k" -r "$REDIS_URL" \
            --redis-prefix "bw$$r${r}w$k" -m "127.0.0.1:${ports[i - 1]}" \
            -X session.timeout.ms=6000 "${xargs_[@]}" --log-level warn \
            > /dev/null 2> "$work/w-$r-$k-$i.log" &
        wpids+=($!)
        args+=("$!:${ports[i - 1]}")
    done
    wline=$(python3 "$work/poll.py" "$EVENTS" 300 "$nparts" "$broker_pid" "${args[@]}") || {
        for i in $(seq 1 "$k"); do cat "$work/w-$r-$k-$i.log" >&2; done
        fail "$k worker(s), run $r: $wline"
    }
    for i in $(seq 1 "$k"); do kill -TERM "${wpids[i - 1]}"; done
    for i in $(seq 1 "$k"); do
        rc=0
        wait "${wpids[i - 1]}" || rc=$?
        if [ "$rc" != 0 ]; then
            cat "$work/w-$r-$k-$i.log" >&2
            fail "worker $i of $k (run $r) exited $rc after SIGTERM"
        fi
    done
    wpids=()
    for i in $(seq 1 "$k"); do
        if [ -s "$work/w-$r-$k-$i.log" ]; then
            echo "worker $i of $k, run $r, logged $(wc -l < "$work/w-$r-$k-$i.log") lines, first:" >&2
            head -3 "$work/w-$r-$k-$i.log" | cut -c1-300 | sed 's/^/    /' >&2
        fi
    done
}

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

b_r=() b_c=() d_r=() d_c=() w1=() w1i=() w2=() w2i=() notes=() missing=0
for r in $(seq 1 "$RUNS"); do
    bare "$r"
    b_r+=("$brate") b_c+=("$bcpu")
    bare "$r" decode
    d_r+=("$brate") d_c+=("$bcpu")
    workers "$r" 1
    l1=$wline
    workers "$r" 2
    l2=$wline
    echo "run $r: bare ${b_r[-1]}/s (cpu ${b_c[-1]}), decode ${d_r[-1]}/s (cpu ${d_c[-1]})" >&2
    echo "  1 worker:  $l1" >&2
    echo "  2 workers: $l2" >&2
    for k in 1 2; do
        l=$l1
        [ "$k" = 2 ] && l=$l2
        if [ "$k" = 1 ]; then
            w1+=("$(field rate "$l")") w1i+=("$(field inner_rate "$l")")
        else
            w2+=("$(field rate "$l")") w2i+=("$(field inner_rate "$l")")
        fi
        reb0=$(field rebalances_at_first "$l") reb=$(field rebalances "$l")
        moved=no
        [ "$reb0" = "$reb" ] || moved="YES (rebalance callbacks per worker $reb0 at the first event, $reb at the end)"
        rep=$(field replayed "$l")
        [ "$rep" = 0 ] || rep="$rep: events read twice (an assignment lost in the rebalance)"
        miss=$(field missing "$l")
        if [ "$miss" != 0 ]; then
            rep="$rep; MISSING $miss: every partition was read to its end but only $(field final "$l") of $EVENTS events were consumed"
            missing=1
            keep=${TMPDIR:-/tmp}/sw-bench-worker-logs.$$
            mkdir -p "$keep" && cp "$work"/w-"$r"-"$k"-*.log "$keep"/
            echo "run $r, $k worker(s): $miss events missing; worker logs kept in $keep" >&2
        fi
        notes+=("run $r, $k worker(s): $(field rate "$l")/s in $(field secs "$l") s, inner $(field inner_rate "$l")/s; cpu worker(s) $(field cpu_workers "$l"), broker $(field cpu_broker "$l"); partitions at the end $(field owned "$l"); rebalance inside the window: $moved; replayed $rep")
    done
done

mb=$(printf '%s\n' "${b_r[@]}" | median)
md=$(printf '%s\n' "${d_r[@]}" | median)
m1=$(printf '%s\n' "${w1[@]}" | median)
m1i=$(printf '%s\n' "${w1i[@]}" | median)
m2=$(printf '%s\n' "${w2[@]}" | median)
m2i=$(printf '%s\n' "${w2i[@]}" | median)
echo "bench_worker: $EVENTS events x $RUNS runs, Kafka $KAFKA_BOOTSTRAP (1 broker), topic of $nparts partitions holding $sizes events, redis-server; medians${BENCH_WORKER_PROPS:+; workers with -X $BENCH_WORKER_PROPS}"
echo "bare consumer (consume + destroy):           median $mb msgs/s (runs: ${b_r[*]}; cpu cores: ${b_c[*]})"
echo "bare consumer + msgpack decode:              median $md msgs/s (runs: ${d_r[*]}; cpu cores: ${d_c[*]})"
echo "surgewatch run, 1 worker:                    median $m1 events/s (runs: ${w1[*]}; inner: ${w1i[*]})"
echo "surgewatch run, 2 workers, started together: median $m2 events/s (runs: ${w2[*]}; inner: ${w2i[*]})"
echo "ratio to the bare consumer: 1 worker $(ratio "$m1" "$mb") (inner $(ratio "$m1i" "$mb")), 2 workers $(ratio "$m2" "$mb") (inner $(ratio "$m2i" "$mb")); bare + decode $(ratio "$md" "$mb")"
printf '%s\n' "${notes[@]}"
echo "every worker exited 0 on SIGTERM"
# events lost are a failure, after the figures
[ "$missing" = 0 ] || fail "events were missing (see above)"
