#!/usr/bin/env bash
# surgewatch run with late data and a crash, against the real broker and
# redis-server. The scenario's events arrive out of order: about 30 % of
# them 1 to 20 hours after their event time (within the 24 h lateness), so
# that closed daily buckets are corrected again and again and alerts are
# updated (and raised, resolved) by late reconciliation. Published in 12
# chunks, 0.5 s apart.
#   E  one worker after everything is published: its alert log must equal
#      `surgewatch backtest --reorder 0s --partitions 4` over the file in
#      arrival order (the same late corrections in the same order, and a
#      watermark per partition as in the 4-partition topic).
#   D  two workers while the chunks arrive, one killed with kill -9
#      half-way: the log must equal E's, nothing missing, nothing twice.
#      The replay after the takeover goes through late reconciliations,
#      whose transitions must repeat exactly (they do not depend on how the
#      input was cut into batches).
#   F  one worker that checkpoints only when it stops: f1 reads the first
#      half and stops with SIGTERM (checkpoint at the half); f2 loads it,
#      reads the second half and is killed with kill -9 (no checkpoint
#      since); f3 loads the half checkpoint and replays the whole second
#      half. Every transition f2 wrote comes again from f3 and the log
#      keeps it once; the log must equal E's.
# Needs SW_BIN, WORK, KAFKA_BOOTSTRAP, REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/worker.sh"
worker_setup worker-late
ini="$here/../scenario/scenario.ini"

$PY "$here/../scenario/make_scenario.py" --out "$W/events.jsonl" --truth "$W/truth.json" 2> /dev/null
# arrival order: 30 % of the events 1..20 h late, seeded
$PY - "$W/events.jsonl" "$W/arrival.jsonl" <<'EOF'
import datetime, json, random, sys
random.seed(7)
rows = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    t = int(datetime.datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp() * 1000)
    delay = random.randint(1, 20) * 3600000 if random.random() < 0.3 else 0
    rows.append((t + delay, t, line))
rows.sort(key=lambda r: (r[0], r[1]))
open(sys.argv[2], "w").writelines(r[2] for r in rows)
EOF
total=$(wc -l < "$W/arrival.jsonl")
# the worker's view: input order within each partition, a watermark per
# partition (the topic has 4)
"$SW_BIN" backtest -c "$ini" -e "$W/arrival.jsonl" --reorder 0s --partitions 4 \
    > "$W/backtest.jsonl" 2> "$W/backtest.err"
late=$(sed -n 's/.* \([0-9]*\) late corrections.*/\1/p' "$W/backtest.err")
[ "${late:-0}" -gt 1000 ] \
    && pass "the arrival order has $late late corrections; backtest --reorder 0s --partitions 4: $(wc -l < "$W/backtest.jsonl") transitions" \
    || fail "the arrival order has late corrections" "$(cat "$W/backtest.err")"
split -n l/12 -d "$W/arrival.jsonl" "$W/chunk-"
chunks=("$W"/chunk-*)
"$SW_BIN" publish -q -b "$B" -t "$topic" "${chunks[0]}" 2>> "$W/publish.err"

F_ARGS=(--checkpoint-events 100000000 --checkpoint-interval 1h)
start_worker f1 grp-f-$$ "$REDIS_URL" wf-$$ "${F_ARGS[@]}"
start_worker d1 grp-d-$$ "$REDIS_URL" wd-$$ --checkpoint-events 1500 --checkpoint-interval 1h
start_worker d2 grp-d-$$ "$REDIS_URL" wd-$$ --checkpoint-events 1500 --checkpoint-interval 1h
t0=$SECONDS
until [ "$(msum surgewatch_partitions_owned d1 d2)" = 4 ] &&
    [ "$(metrics d1 | grep -c '^surgewatch_partitions_owned [1-9]')" = 1 ] &&
    [ "$(metrics d2 | grep -c '^surgewatch_partitions_owned [1-9]')" = 1 ]; do
    if [ $((SECONDS - t0)) -gt 60 ]; then
        fail "group D formed within 60 s" "$(tail -3 "$W/d1.log")" "$(tail -3 "$W/d2.log")"
        done_testing
    fi
    sleep 0.3
done
pass "D's two workers share the 4 partitions ($((SECONDS - t0)) s)"
killed=0
for i in $(seq 1 $((${#chunks[@]} - 1))); do
    "$SW_BIN" publish -q -b "$B" -t "$topic" "${chunks[$i]}" 2>> "$W/publish.err" \
        || fail "publish ${chunks[$i]}" "$(tail -3 "$W/publish.err")"
    sleep 0.5
    if [ "$i" = 5 ]; then # the March 2019 surge is in this part
        killed=$(msum surgewatch_events_consumed_total d1)
        kill -9 "${WPID[d1]}"
        wait "${WPID[d1]}" 2> /dev/null
        echo "# chunk $i: worker d1 killed with kill -9 after consuming $killed events"
    fi
    if [ "$i" = 6 ]; then # F: f1 stops at the half, f2 goes on
        half=$(cat "${chunks[@]:0:7}" | wc -l)
        wait_consumed "$half" 60 f1 || fail "F: f1 read the first $half events" "$(tail -3 "$W/f1.log")"
        stop_worker f1
        grep -q "INFO run: stopped .* checkpoints=[1-9]" "$W/f1.log" \
            || fail "F: f1 checkpointed when it stopped" "$(tail -5 "$W/f1.log")"
        start_worker f2 grp-f-$$ "$REDIS_URL" wf-$$ "${F_ARGS[@]}"
    fi
done
wait_consumed "$total" 90 f2 || fail "F: f2 read to the end" "$(tail -5 "$W/f2.log")"
f2_alerts=$(msum surgewatch_alerts_total f2)
f2_loads=$(grep -c "partition loaded" "$W/f2.log")
kill -9 "${WPID[f2]}"
wait "${WPID[f2]}" 2> /dev/null
start_worker f3 grp-f-$$ "$REDIS_URL" wf-$$
wait_consumed "$total" 90 f3 || fail "F: f3 read to the end" "$(tail -5 "$W/f3.log")"
f3_rep=$(msum surgewatch_alerts_repeated_total f3)
f3_all=$(msum surgewatch_alerts_total f3)
f3_loads=$(grep -c "partition loaded" "$W/f3.log")
[ "$f2_alerts" -gt 0 ] && [ "$f3_rep" = "$f2_alerts" ] && [ "$f3_all" = "$f2_alerts" ] &&
    [ "$f2_loads" -ge 1 ] && [ "$f3_loads" = "$f2_loads" ] \
    && pass "F: f3 loaded the $f3_loads checkpoints f2 had started from and replayed the second half: all $f2_alerts transitions f2 wrote came again, the log kept each once" \
    || fail "F: f3 replays exactly what f2 wrote after the checkpoint" \
        "f2 wrote $f2_alerts (loads $f2_loads); f3 wrote $f3_all, $f3_rep repeated (loads $f3_loads)"

start_worker e1 grp-e-$$ "$REDIS_URL" we-$$
wait_consumed "$total" 90 e1 && pass "E: one worker read all $total events" \
    || fail "E: one worker read all $total events" "$(tail -5 "$W/e1.log")"
wait_consumed "$total" 90 d2 && pass "D: the surviving worker owns the 4 partitions and read to the end" \
    || fail "D: the surviving worker read to the end" "$(tail -5 "$W/d2.log")"
lc=$(metrics e1 | awk '$1 == "surgewatch_events_counted_total" {print $2}')
[ "$lc" = "$total" ] && pass "E counted all $total events (late ones included: none beyond the lateness)" \
    || fail "E counted all $total events" "counted $lc"
d2c=$(msum surgewatch_events_consumed_total d2)
rep=$(msum surgewatch_alerts_repeated_total d2)
# (how many alert transitions the replay held depends on which partitions
# d1 had: F above is the case that always has some)
[ $((killed + d2c)) -gt "$total" ] \
    && pass "D replayed $((killed + d2c - total)) events after kill -9, $rep of them alert transitions the log already held" \
    || fail "D replayed events after kill -9" "d1 $killed + d2 $d2c of $total; $rep repeated"
stop_worker e1
stop_worker d2
stop_worker f3
dump_log "we-$$" "$W/log-e.txt"
dump_log "wd-$$" "$W/log-d.txt"
pycheck log "$W/log-e.txt" "$W/backtest.jsonl"
pycheck log "$W/log-d.txt" "$W/log-e.txt" --log-ref
dump_log "wf-$$" "$W/log-f.txt"
pycheck log "$W/log-f.txt" "$W/log-e.txt" --log-ref
done_testing
