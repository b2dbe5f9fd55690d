#!/usr/bin/env bash
# surgewatch run while workers join and leave the group. The scenario's
# events (in time order) are published in 16 chunks, 0.5 s apart. Worker g1
# runs throughout; meanwhile workers g2, g3, g4 join one after the other,
# each is given partitions (loaded from the checkpoints g1 wrote when it
# let them go), reads for a while and leaves with SIGTERM (checkpointing
# them for g1 to load back). Every move goes through a checkpoint. The
# group's alert log must equal `surgewatch backtest` over the same events:
# nothing missing, nothing twice.
# Needs SW_BIN, WORK, KAFKA_BOOTSTRAP, REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/worker.sh"
worker_setup worker-churn
ini="$here/../scenario/scenario.ini"

$PY "$here/../scenario/make_scenario.py" --out "$W/events.jsonl" --truth "$W/truth.json" 2> /dev/null
total=$(wc -l < "$W/events.jsonl")
"$SW_BIN" backtest -c "$ini" -e "$W/events.jsonl" > "$W/backtest.jsonl" 2> /dev/null
split -n l/16 -d "$W/events.jsonl" "$W/chunk-"
chunks=("$W"/chunk-*)
"$SW_BIN" publish -q -b "$B" -t "$topic" "${chunks[0]}" 2>> "$W/publish.err"

start_worker g1 grp-g-$$ "$REDIS_URL" wg-$$ --checkpoint-interval 1s
joined=0 moved=0
for i in $(seq 1 $((${#chunks[@]} - 1))); do
    "$SW_BIN" publish -q -b "$B" -t "$topic" "${chunks[$i]}" 2>> "$W/publish.err" \
        || fail "publish ${chunks[$i]}" "$(tail -3 "$W/publish.err")"
    case $i in
        2 | 6 | 10) # a worker joins ...
            n=g$((i / 4 + 2))
            start_worker "$n" grp-g-$$ "$REDIS_URL" wg-$$ --checkpoint-interval 1s
            cur=$n
            t0=$SECONDS
            until [ "$(metrics "$n" | awk '$1 == "surgewatch_partitions_owned" {print $2}')" -ge 1 ] 2> /dev/null; do
                [ $((SECONDS - t0)) -gt 30 ] && break
                sleep 0.2
            done
            owned=$(metrics "$n" | awk '$1 == "surgewatch_partitions_owned" {print $2}')
            [ "${owned:-0}" -ge 1 ] && joined=$((joined + 1))
            echo "# chunk $i: $n joined and owns ${owned:-0} partitions"
            ;;
        4 | 8 | 12) # ... and leaves
            moved=$((moved + $(metrics "$cur" | awk '$1 == "surgewatch_partitions_owned" {print $2}')))
            stop_worker "$cur"
            echo "# chunk $i: $cur left"
            ;;
    esac
    sleep 0.5
done
[ "$joined" = 3 ] && pass "three workers joined one after the other, each given partitions ($moved moves each way)" \
    || fail "three workers joined and were given partitions" "joined $joined"
wait_consumed "$total" 90 g1 && pass "g1 owns the 4 partitions again and read all $total events" \
    || fail "g1 read all $total events" "$(tail -5 "$W/g1.log")"
loads=$(grep -c "partition loaded" "$W/g1.log")
[ "$loads" -ge 3 ] && pass "g1 loaded its partitions back from the leavers' checkpoints $loads times" \
    || fail "g1 loaded partitions back from checkpoints" "$(grep partition "$W/g1.log" | tail -5)"
stop_worker g1
dump_log "wg-$$" "$W/log.txt"
pycheck log "$W/log.txt" "$W/backtest.jsonl"
done_testing
