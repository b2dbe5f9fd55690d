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
# Every rate is timed from the first message consumed to the last, so the
# group join (about 3 s for the worker) is outside the window. The workers
# are timed through /metrics (surgewatch_events_consumed_total, summed over
# the workers), polled every 20 ms; the worker publishes its metrics every
# 250 ms, so each end of its window is known to about 0.25 s. "inner" is
# the rate between the first and the last metrics snapshot strictly inside
# the window (both known to the poll interval). Workers are then stopped
# with SIGTERM and must exit 0 with exactly EVENTS consumed. "cpu" is CPU
# time over wall time inside the window (1.00 = one core of the two).
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

tests/kafka/broker start "$work/kafka" > "$work/kenv"
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

# The poller: GETs /metrics of every worker every 20 ms (one process, kept
# connections: a curl process per poll costs about 9 ms of CPU, half a core
# at this pace on a 2-core machine, which would be taken from the worker).
cat > "$work/poll.py" <<'PY'
import http.client, sys, time
events, timeout = int(sys.argv[1]), float(sys.argv[2])
broker = int(sys.argv[3])
workers = [tuple(map(int, a.split(":"))) for a in sys.argv[4:]]  # pid:port
conns = {}
tick = 100.0  # os.sysconf("SC_CLK_TCK") on Linux

def cpu(pid):
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / tick
    except OSError:
        return 0.0

def alive(pid):
    try:
        st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
        return st != "Z"
    except OSError:
        return False

def scrape(port):
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
            body = None
    v = {}
    for line in (body or "").splitlines():
        if line.startswith("#"):
            continue
        k, _, val = line.rpartition(" ")
        if k in ("surgewatch_events_consumed_total", "surgewatch_events_counted_total",
                 "surgewatch_rebalances_total", "surgewatch_partitions_owned"):
            v[k] = int(float(val))
        elif k.startswith("surgewatch_events_rejected_total"):
            v["rejected"] = v.get("rejected", 0) + int(float(val))
    return v

def poll():
    vs = [scrape(port) for _, port in workers]
    return time.time(), vs, sum(v.get("surgewatch_events_consumed_total", 0) for v in vs)

start = time.time()
t0 = c0 = None
seen_v, seen_t = 0, None  # the current sum and when it was first seen
inner = None
while True:
    t, vs, s = poll()
    for pid, _ in workers:
        if not alive(pid):
            print("error=worker_%d_exited" % pid)
            sys.exit(1)
    if t - start > timeout:
        print("error=timeout consumed=%d" % s)
        sys.exit(1)
    if s != seen_v:
        if t0 is not None and s < events:
            inner = (seen_t, seen_v, t, s)
        seen_v, seen_t = s, t
    if t0 is None and s > 0:
        t0, c0 = t, s
        cpu0 = [cpu(p) for p, _ in workers] + [cpu(broker)]
        reb0 = [v.get("surgewatch_rebalances_total", 0) for v in vs]
    if s >= events:
        t1 = t
        cpu1 = [cpu(p) for p, _ in workers] + [cpu(broker)]
        break
    time.sleep(0.02)
time.sleep(0.6)  # two more metrics snapshots: anything read twice shows
t, vs, s = poll()
secs = t1 - t0
ir = 0
if inner and inner[2] > t0:
    ir = (inner[3] - c0) / (inner[2] - t0)
print("rate=%d secs=%.3f first_seen=%d inner_rate=%d final=%d counted=%d rejected=%d "
      "owned=%s rebalances_at_first=%s rebalances=%s cpu_workers=%s cpu_broker=%.2f" % (
          events / secs, secs, c0, ir, s,
          sum(v.get("surgewatch_events_counted_total", 0) for v in vs),
          sum(v.get("rejected", 0) for v in vs),
          ",".join(str(v.get("surgewatch_partitions_owned", -1)) for v in vs),
          ",".join(map(str, reb0)),
          ",".join(str(v.get("surgewatch_rebalances_total", -1)) for v in vs),
          ",".join("%.2f" % ((b - a) / secs) for a, b in zip(cpu0[:-1], cpu1[:-1])),
          (cpu1[-1] - cpu0[-1]) / secs))
PY

# bare RUN [decode]: one bench_consumer in a fresh group; prints its rate
bare() {
    local line
    line=$("$CONS" "$KAFKA_BOOTSTRAP" "$topic" "bw-$$-$1-bare${2:-}" "$EVENTS" ${2:+"$2"}) ||
        fail "bench_consumer ${2:-} (run $1) failed: $line"
    echo "$line" >> "$work/bare.log"
    sed -n 's/.*from the first: \([0-9]*\) msgs\/s, cpu \([0-9.]*\) cores.*/\1 \2/p' <<<"$line"
}

# workers RUN K: K `surgewatch run` in a fresh group with a fresh Redis
# prefix, started together; prints the poller's line
workers() {
    local r=$1 k=$2 i port args=() ports=() line rc
    wpids=()
    for i in $(seq 1 "$k"); do
        port=$(tests/lib/free-port)
        while [[ " ${ports[*]} " == *" $port "* ]]; do port=$(tests/lib/free-port); done
        ports+=("$port")
    done
    for i in $(seq 1 "$k"); do
        "$BIN" run -b "$KAFKA_BOOTSTRAP" -t "$topic" -g "bw-$$-$r-w$k" -r "$REDIS_URL" \
            --redis-prefix "bw$$r${r}w$k" -m "127.0.0.1:${ports[i - 1]}" \
            -X session.timeout.ms=6000 --log-level warn 2> "$work/w-$r-$k-$i.log" &
        wpids+=($!)
        args+=("$!:${ports[i - 1]}")
    done
    line=$(python3 "$work/poll.py" "$EVENTS" 300 "$broker_pid" "${args[@]}") || {
        for i in $(seq 1 "$k"); do cat "$work/w-$r-$k-$i.log" >&2; done
        fail "$k worker(s), run $r: $line"
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
    grep -q "final=$EVENTS " <<<"$line" ||
        fail "$k worker(s), run $r: consumed total is not $EVENTS: $line"
    for i in $(seq 1 "$k"); do
        if [ -s "$work/w-$r-$k-$i.log" ]; then
            echo "  (worker $i of $k, run $r, logged:" >&2
            sed 's/^/    /' "$work/w-$r-$k-$i.log" | head -5 >&2
        fi
    done
    echo "$line"
}

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

b_r=() b_c=() d_r=() d_c=() w1=() w1i=() w2=() w2i=() notes=()
for r in $(seq 1 "$RUNS"); do
    read -r rate c < <(bare "$r")
    b_r+=("$rate") b_c+=("$c")
    read -r rate c < <(bare "$r" decode)
    d_r+=("$rate") d_c+=("$c")
    l1=$(workers "$r" 1)
    w1+=("$(field rate "$l1")") w1i+=("$(field inner_rate "$l1")")
    l2=$(workers "$r" 2)
    w2+=("$(field rate "$l2")") w2i+=("$(field inner_rate "$l2")")
    echo "run $r: bare ${b_r[-1]}/s (cpu ${b_c[-1]}), decode ${d_r[-1]}/s (cpu ${d_c[-1]})" >&2
    echo "  1 worker:  $l1" >&2
    echo "  2 workers: $l2" >&2
    notes+=("run $r, 1 worker:  $(field rate "$l1")/s in $(field secs "$l1") s, inner $(field inner_rate "$l1")/s, cpu worker $(field cpu_workers "$l1") broker $(field cpu_broker "$l1")")
    reb0=$(field rebalances_at_first "$l2") reb=$(field rebalances "$l2")
    moved=no
    [ "$reb0" = "$reb" ] || moved="yes (rebalances per worker at the first event $reb0, at the end $reb)"
    notes+=("run $r, 2 workers: $(field rate "$l2")/s in $(field secs "$l2") s, inner $(field inner_rate "$l2")/s, cpu workers $(field cpu_workers "$l2") broker $(field cpu_broker "$l2"), partitions $(field owned "$l2"), rebalance inside the window: $moved")
done

mb=$(printf '%s\n' "${b_r[@]}" | median)
md=$(printf '%s\n' "${d_r[@]}" | median)
m1=$(printf '%s\n' "${w1[@]}" | median)
m1i=$(printf '%s\n' "${w1i[@]}" | median)
m2=$(printf '%s\n' "${w2[@]}" | median)
m2i=$(printf '%s\n' "${w2i[@]}" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
echo "bench_worker: $EVENTS events x $RUNS runs, topic of $nparts partitions on Kafka $KAFKA_BOOTSTRAP (1 broker), redis-server, medians"
echo "bare consumer (consume + destroy):           median $mb msgs/s (runs: ${b_r[*]}; cpu cores: ${b_c[*]})"
echo "bare consumer + msgpack decode:              median $md msgs/s (runs: ${d_r[*]}; cpu cores: ${d_c[*]})"
echo "surgewatch run, 1 worker:                    median $m1 events/s (runs: ${w1[*]}; inner: ${w1i[*]})"
echo "surgewatch run, 2 workers, started together: median $m2 events/s (runs: ${w2[*]}; inner: ${w2i[*]})"
echo "ratio worker/bare: 1 worker $(ratio "$m1" "$mb") (inner $(ratio "$m1i" "$mb")), 2 workers $(ratio "$m2" "$mb") (inner $(ratio "$m2i" "$mb")); decode/bare $(ratio "$md" "$mb")"
printf '%s\n' "${notes[@]}"
echo "every worker exited 0 on SIGTERM with $EVENTS events consumed in total"
