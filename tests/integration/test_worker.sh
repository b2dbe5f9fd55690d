#!/usr/bin/env bash
# surgewatch run against the real Kafka broker and real redis-servers.
#
# The Western Balkans scenario (tests/scenario, 21 000 events in time
# order) is published in 24 chunks, 0.6 s apart, with about 1 % garbage
# payloads produced by kcat between the chunks (eight kinds of bad
# payloads, valid events three days late, and valid events for a section
# without a profile while strict_sections is on). Three consumer groups read
# the topic, each with its own Redis key prefix and dead-letter topic:
#   A  one worker, started when everything is published: the reference.
#      Its alert log must equal `surgewatch backtest` over the same events
#      with the same config (same ids, same transitions, same fields), and
#      its dead-letter topic must hold each garbage payload once, with its
#      reason and its source position.
#   B  two workers reading while the chunks arrive; one is killed with
#      kill -9 half-way. The survivor takes its partitions over from their
#      checkpoints and replays. The alert log must equal A's.
#   C  one worker with a redis-server of its own (append-only file) that
#      is shut down for 10 s mid-stream and started again. The worker
#      pauses, reports it on /healthz and /metrics, and resumes. The alert
#      log must equal A's.
# Every worker must stop on SIGTERM with exit status 0 within 15 s.
# Needs SW_BIN, WORK, KAFKA_BOOTSTRAP, REDIS_URL (tests/run-all starts them).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN WORK KAFKA_BOOTSTRAP REDIS_URL
. "$here/../lib/redis.sh"
PY=/usr/bin/python3
W=$WORK/worker
mkdir -p "$W"
B=$KAFKA_BOOTSTRAP
topic=worker-events-$$
# the scenario's settings, strict: every section of the scenario has a
# profile, and events for any other section are dead letters
ini=$W/strict.ini
{ cat "$here/../scenario/scenario.ini"; printf '\n[windows]\nstrict_sections = true\n'; } > "$ini"
CHUNKS=24
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -f "$W/redis-c/redis.pid" ] && kill "$(cat "$W/redis-c/redis.pid")" 2>/dev/null
}
trap cleanup EXIT

. "$here/../lib/worker.sh"

# --------------------------------------------- the events and the garbage
$PY "$here/../scenario/make_scenario.py" --out "$W/events.jsonl" --truth "$W/truth.json" 2> /dev/null
feed=$($PY "$here/worker_feed.py" "$W/events.jsonl" "$CHUNKS" "$W/feed" 2>&1) \
    && pass "events and garbage: $feed" \
    || { fail "worker_feed.py" "$feed"; done_testing; }
events=$(wc -l < "$W/events.jsonl")
ngarbage=$($PY -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$W/feed/garbage.json")
total=$((events + ngarbage))

"$SW_BIN" backtest -c "$ini" -e "$W/events.jsonl" > "$W/backtest.jsonl" 2> "$W/backtest.err" \
    || fail "backtest of the clean events" "$(tail -3 "$W/backtest.err")"
echo "# backtest: $(wc -l < "$W/backtest.jsonl") transitions over the $events clean events"

# the first chunk creates the topic (4 partitions)
publish_chunk() {
    "$SW_BIN" publish -q -b "$B" -t "$topic" "$W/feed/chunk-$1.jsonl" 2>> "$W/publish.err" \
        || fail "publish chunk $1" "$(tail -3 "$W/publish.err")"
    kcat -P -b "$B" -t "$topic" -K $'\t' -l "$W/feed/garbage-$1.kcat" 2>> "$W/kcat.err" \
        || fail "kcat garbage $1" "$(tail -3 "$W/kcat.err")"
}
publish_chunk 1

# --------------------------------------- C's redis-server, with an AOF
rc_dir=$W/redis-c
mkdir -p "$rc_dir"
rc_port=$("$here/../lib/free-port")
RC_URL=redis://127.0.0.1:$rc_port
start_redis_c() {
    redis-server --bind 127.0.0.1 --port "$rc_port" --save '' --appendonly yes \
        --appendfsync always --dir "$rc_dir" --daemonize yes \
        --pidfile "$rc_dir/redis.pid" --logfile "$rc_dir/redis.log" || return 1
    for _ in $(seq 1 50); do
        [ "$(redis-cli -p "$rc_port" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    return 1
}
start_redis_c || { fail "a second redis-server for group C starts"; done_testing; }

# ----------------------------------------- B (two workers) and C start
start_worker b1 grp-b-$$ "$REDIS_URL" wb-$$ --checkpoint-events 2500 --checkpoint-interval 1h
start_worker b2 grp-b-$$ "$REDIS_URL" wb-$$ --checkpoint-events 2500 --checkpoint-interval 1h
start_worker c1 grp-c-$$ "$RC_URL" wc-$$ --checkpoint-interval 1s
t0=$SECONDS
until [ "$(msum surgewatch_partitions_owned b1 b2)" = 4 ] &&
    [ "$(msum surgewatch_partitions_owned c1)" = 4 ] && [ "$(metrics b1 | grep -c '^surgewatch_partitions_owned [1-9]')" = 1 ] &&
    [ "$(metrics b2 | grep -c '^surgewatch_partitions_owned [1-9]')" = 1 ]; do
    if [ $((SECONDS - t0)) -gt 60 ]; then
        fail "groups B and C formed within 60 s" "b1: $(tail -3 "$W/b1.log")" "b2: $(tail -3 "$W/b2.log")"
        done_testing
    fi
    sleep 0.3
done
pass "B's two workers share the 4 partitions, C owns 4 ($((SECONDS - t0)) s)"

# ------------------------------------------------ the stream, with faults
killed_consumed=0 killed_alerts=0
for k in $(seq 2 "$CHUNKS"); do
    publish_chunk "$k"
    sleep 0.6
    if [ "$k" = 7 ]; then # amid the alerts of March 2019
        redis-cli -p "$rc_port" shutdown > /dev/null 2>&1
        redis_stopped=$SECONDS
        echo "# chunk $k: C's redis-server shut down"
    fi
    if [ "$k" = 9 ]; then
        h=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${WPORT[c1]}/healthz")
        body=$(curl -s "http://127.0.0.1:${WPORT[c1]}/healthz")
        up=$(metrics c1 | awk '$1 == "surgewatch_redis_up" {print $2}')
        [ "$h" = 503 ] && [ "$up" = 0 ] \
            && pass "C while Redis is down: /healthz 503 ($body), surgewatch_redis_up 0" \
            || fail "C while Redis is down: /healthz 503, redis_up 0" "got $h ($body), redis_up=$up"
    fi
    if [ "$k" = 10 ]; then # amid the alerts of April 2019
        killed_consumed=$(msum surgewatch_events_consumed_total b1)
        killed_alerts=$(msum surgewatch_alerts_total b1)
        kill -9 "${WPID[b1]}"
        wait "${WPID[b1]}" 2> /dev/null
        echo "# chunk $k: worker b1 killed with kill -9 after consuming $killed_consumed messages and writing $killed_alerts alert transitions"
    fi
    if [ -n "${redis_stopped:-}" ] && [ $((SECONDS - redis_stopped)) -ge 10 ]; then
        start_redis_c || fail "C's redis-server starts again"
        echo "# chunk $k: C's redis-server started again after $((SECONDS - redis_stopped)) s"
        redis_stopped=
    fi
done
if [ -n "${redis_stopped:-}" ]; then
    sleep $((10 - (SECONDS - redis_stopped) > 0 ? 10 - (SECONDS - redis_stopped) : 0))
    start_redis_c || fail "C's redis-server starts again"
    echo "# C's redis-server started again after $((SECONDS - redis_stopped)) s"
fi
echo "# published $events events and $ngarbage garbage payloads: $total messages"

# ------------------------------------------------ the reference: group A
start_worker a1 grp-a-$$ "$REDIS_URL" wa-$$
wait_consumed "$total" 90 a1 \
    && pass "A: one worker read all $total messages" \
    || fail "A: one worker read all $total messages" "$(metrics a1 | grep -E '^surgewatch_(next_offset|partitions)')" "$(tail -5 "$W/a1.log")"
wait_consumed "$total" 90 b2 \
    && pass "B: the surviving worker owns the 4 partitions and read to the end" \
    || fail "B: the surviving worker read to the end" "$(metrics b2 | grep -E '^surgewatch_(next_offset|partitions)')" "$(tail -5 "$W/b2.log")"
wait_consumed "$total" 90 c1 \
    && pass "C: read to the end after the Redis outage" \
    || fail "C: read to the end" "$(metrics c1 | grep -E '^surgewatch_(next_offset|partitions|redis)')" "$(tail -5 "$W/c1.log")"

# what the metrics say, before the workers stop
ma=$(metrics a1)
rej=$(awk '$1 ~ /^surgewatch_events_rejected_total/ {s += $2} END {print s+0}' <<< "$ma")
cons=$(awk '$1 == "surgewatch_events_consumed_total" {print $2}' <<< "$ma")
cnt=$(awk '$1 == "surgewatch_events_counted_total" {print $2}' <<< "$ma")
[ "$cons" = "$total" ] && [ "$cnt" = "$events" ] && [ "$rej" = "$ngarbage" ] \
    && pass "A's /metrics: $cons consumed, $cnt counted, $rej rejected" \
    || fail "A's /metrics: $total consumed, $events counted, $ngarbage rejected" "got $cons, $cnt, $rej"
for m in consumer_lag_total checkpoint_age_seconds checkpoint_duration_seconds redis_errors_total \
    'alerts_total{state="raised"}' 'events_rejected_total{reason="late"}'; do
    grep -q "^surgewatch_$m" <<< "$ma" || fail "A's /metrics has surgewatch_$m"
done
h=$(curl -s "http://127.0.0.1:${WPORT[a1]}/healthz")
[ "$h" = "ok: 4 partitions, lag 0" ] && pass "A's /healthz: $h" || fail "A's /healthz says ok" "got: $h"
b2_consumed=$(msum surgewatch_events_consumed_total b2)
# how much of the replay were alert transitions depends on which
# partitions b1 held (test_worker_late.sh has a replay that always holds
# some): reported, not checked
echo "# B: b1 wrote $killed_alerts alert transitions before kill -9; b2 wrote" \
    "$(msum surgewatch_alerts_total b2), of which $(msum surgewatch_alerts_repeated_total b2)" \
    "were replays the log already held and left unchanged"
replayed=$((killed_consumed + b2_consumed - total))
[ "$replayed" -gt 0 ] \
    && pass "B replayed $replayed messages after kill -9 (b1 read $killed_consumed, b2 $b2_consumed, of $total)" \
    || fail "B replayed messages after kill -9" "b1 read $killed_consumed, b2 $b2_consumed, of $total"
echo "# B: b2's partition loads: $(grep -c 'partition loaded' "$W/b2.log") from a checkpoint," \
    "$(grep -c 'partition has no checkpoint' "$W/b2.log") without one (read from the beginning)"
grep -q "redis unreachable" "$W/c1.log" && grep -q "redis reachable again" "$W/c1.log" \
    && pass "C logged the outage and the recovery: $(grep -o 'redis reachable again.*' "$W/c1.log" | head -1)" \
    || fail "C logged the Redis outage and recovery" "$(grep -i redis "$W/c1.log" | tail -5)"

stop_worker a1
stop_worker b2
stop_worker c1
for n in b1 a1 b2 c1; do
    if grep -q "ERROR: AddressSanitizer\|runtime error:" "$W/$n.log"; then
        fail "worker $n: no sanitizer report" "$(grep -A5 'AddressSanitizer\|runtime error' "$W/$n.log" | head -10)"
    fi
done

# ------------------------------------------------------ the alert logs
dump_log "wa-$$" "$W/log-a.txt"
dump_log "wb-$$" "$W/log-b.txt"
dump_log "wc-$$" "$W/log-c.txt" "$RC_URL"
pycheck log "$W/log-a.txt" "$W/backtest.jsonl"
pycheck log "$W/log-b.txt" "$W/log-a.txt" --log-ref
pycheck log "$W/log-c.txt" "$W/log-a.txt" --log-ref
active_a=$(redis-cli -u "$REDIS_URL" HLEN "wa-$$:alerts:active")
active_c=$(redis-cli -u "$RC_URL" HLEN "wc-$$:alerts:active")
[ "$active_a" = "$active_c" ] && pass "active alerts: A and C agree ($active_a)" \
    || fail "active alerts: A and C agree" "A $active_a, C $active_c"

# -------------------------------------------------- the dead letters
for g in a b c; do
    kcat -C -b "$B" -t "$topic.dlq-grp-$g-$$" -e -q -f '%h\t%s\n' > "$W/dlq-$g.txt" 2> "$W/kcat-dlq.err"
done
pycheck dlq "$W/feed/garbage.json" "$W/dlq-a.txt" once
pycheck dlq "$W/feed/garbage.json" "$W/dlq-b.txt" at-least-once
# what B's workers said about partitions, seeks, gaps and dead letters
grep -hE "lost|seek|offsets missing|dead letter|ERROR|loaded|no checkpoint" "$W/b1.log" "$W/b2.log" |
    sed 's/^/# B: /' | head -20
pycheck dlq "$W/feed/garbage.json" "$W/dlq-c.txt" at-least-once
# a sample of A's dead letters: the source position holds the same payload
n=0
while read -r part off hx; do
    got=$(kcat -C -b "$B" -t "$topic" -p "$part" -o "$off" -c 1 -e -q -f '%s' | od -An -v -tx1 | tr -d ' \n')
    [ "$got" = "$hx" ] && n=$((n + 1)) || fail "dead letter source $part/$off holds the payload" "got ${got:0:40}"
done < "$W/dlq-a.txt.positions"
[ "$n" -gt 0 ] && pass "$n sampled dead letters: source.partition/source.offset point at the same payload"
done_testing
