#!/usr/bin/env bash
# surgewatch run and the wall clock ([windows] idle). Events of a quiet
# section, all in one 1-minute bucket that ended half a minute ago, are
# published; nothing comes after them. With idle = 0s (the default) the
# bucket stays open, as nothing later arrives: no alert. With idle = 2s, the
# partition, read to its end and quiet for 2 s, has its watermark follow the
# wall clock, the bucket closes and its threshold alert is raised.
# Needs SW_BIN, WORK, KAFKA_BOOTSTRAP, REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/worker.sh"
worker_setup worker-idle

for idle in 0s 2s; do
    cat > "$W/idle-$idle.ini" <<EOF
[windows]
bucket = 1m
lateness = 1h
idle = $idle
[detectors]
run = threshold
threshold.limit = 10
EOF
done
# 12 persons on AT-SI in the minute before last, time-stamped now
$PY - > "$W/events.jsonl" <<'EOF'
import json, time
now = int(time.time() * 1000)
start = (now // 60000 - 2) * 60000  # a minute that ended 60..120 s ago
for i in range(12):
    print(json.dumps({"id": "idle-%d" % i, "src": "AT", "section": "AT-SI",
                      "ts": start + 1000 * i, "type": "irregular_crossing",
                      "count": 1}))
EOF
"$SW_BIN" publish -q -b "$B" -t "$topic" "$W/events.jsonl" 2> "$W/publish.err" \
    || fail "publish" "$(cat "$W/publish.err")"

ini=$W/idle-0s.ini
start_worker n1 grp-n-$$ "$REDIS_URL" wn-$$
ini=$W/idle-2s.ini
start_worker i1 grp-i-$$ "$REDIS_URL" wi-$$
wait_consumed 12 60 n1 || fail "idle 0s: the worker read the 12 events" "$(tail -3 "$W/n1.log")"
wait_consumed 12 60 i1 || fail "idle 2s: the worker read the 12 events" "$(tail -3 "$W/i1.log")"
raised=0
for _ in $(seq 1 50); do # up to 10 s: 2 s idle, then the next 1-s tick
    raised=$(metrics i1 | awk '$1 == "surgewatch_alerts_total{state=\"raised\"}" {print $2}')
    [ "${raised:-0}" -ge 1 ] && break
    sleep 0.2
done
[ "${raised:-0}" = 1 ] \
    && pass "idle 2s: quiet and read to its end, the partition's watermark followed the clock and the alert was raised" \
    || fail "idle 2s: the alert is raised by the wall clock" "raised=$raised" "$(tail -5 "$W/i1.log")"
n_raised=$(metrics n1 | awk '$1 == "surgewatch_alerts_total{state=\"raised\"}" {print $2}')
[ "$n_raised" = 0 ] && pass "idle 0s: the bucket stays open, no alert" \
    || fail "idle 0s: no alert" "raised=$n_raised"
stop_worker n1
stop_worker i1
redis-cli -u "$REDIS_URL" --raw XRANGE "wi-$$:alerts" - + > "$W/log.txt"
grep -q '"alert_id":"AT-SI:threshold:' "$W/log.txt" \
    && pass "the alert is in the log: $(grep -o '"alert_id":"[^"]*"' "$W/log.txt")" \
    || fail "the alert is in the log" "$(cat "$W/log.txt")"
done_testing
