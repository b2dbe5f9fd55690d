#!/usr/bin/env bash
# surgewatch run and a payload too big to dead-letter whole: a 2 MB message
# (kcat, allowed by the broker) among valid events. The worker's dead-letter
# producer takes at most 1 MB, so sending it whole would fail, and a failed
# dead letter stops every checkpoint. The worker sends its first 64 KiB
# instead, says so in the detail header, counts it, and goes on
# checkpointing; the whole message stays at its source offset.
# Needs SW_BIN, WORK, KAFKA_BOOTSTRAP, REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/worker.sh"
worker_setup worker-poison
printf '[windows]\nidle = 0s\n' > "$W/w.ini"
ini=$W/w.ini

"$SW_GEN" --count 2000 --seed 4 --sections 2 > "$W/events.jsonl"
head -1000 "$W/events.jsonl" > "$W/before.jsonl"
tail -n +1001 "$W/events.jsonl" > "$W/after.jsonl"
"$SW_BIN" publish -q -b "$B" -t "$topic" "$W/before.jsonl" 2> "$W/publish.err"
$PY -c "import sys; sys.stdout.write('HU-RS\t' + 'x' * 2000000 + '\n')" |
    kcat -P -b "$B" -t "$topic" -K $'\t' -X message.max.bytes=10000000 2> "$W/kcat.err" \
    || fail "kcat produces a 2 MB message" "$(cat "$W/kcat.err")"
"$SW_BIN" publish -q -b "$B" -t "$topic" "$W/after.jsonl" 2>> "$W/publish.err"

start_worker p1 grp-p-$$ "$REDIS_URL" wp-$$ --checkpoint-interval 500ms
wait_consumed 2001 60 p1 && pass "the worker read the 2 001 messages, the 2 MB one among them" \
    || fail "the worker read the 2 001 messages" "$(tail -5 "$W/p1.log")"
sleep 1.5 # a checkpoint interval after the end
m=$(metrics p1)
val() { awk -v k="$1" '$1 == k {print $2}' <<< "$m"; }
cut=$(val surgewatch_dead_letters_cut_total)
failed=$(val surgewatch_dead_letters_failed_total)
counted=$(val surgewatch_events_counted_total)
[ "$cut" = 1 ] && [ "$failed" = 0 ] && [ "$counted" = 2000 ] \
    && pass "/metrics: 1 dead letter cut, 0 failed, 2000 events counted" \
    || fail "/metrics: 1 cut, 0 failed, 2000 counted" "cut=$cut failed=$failed counted=$counted"
ck=$(metrics p1 | awk '$1 ~ /^surgewatch_checkpoint_offset/ && $2 > 0 {s += $2} END {print s+0}')
[ "$ck" = 2001 ] && pass "checkpoints went on past it: their offsets add up to the 2 001 messages" \
    || fail "checkpoints went on past the big message" "checkpoint offsets add up to $ck"
h=$(curl -s "http://127.0.0.1:${WPORT[p1]}/healthz")
[[ "$h" == ok:* ]] && pass "/healthz: $h" || fail "/healthz ok" "$h"
stop_worker p1
kcat -C -b "$B" -t "$topic.dlq-grp-p-$$" -e -q -f '%S\t%h\n' > "$W/dlq.txt" 2> /dev/null
n=$(wc -l < "$W/dlq.txt")
line=$(head -1 "$W/dlq.txt")
if [ "$n" = 1 ] && [[ "$line" == 65536$'\t'* ]] && grep -q "payload of 2000000 bytes cut to its first 65536" <<< "$line" &&
    grep -q "source.offset=1000" <<< "$line"; then
    pass "one dead letter: 65536 bytes, $(grep -o 'reason=[a-z_]*' <<< "$line"), the cut said in detail, source.offset=1000"
else
    fail "one dead letter of 65536 bytes pointing at offset 1000" "$n lines" "${line:0:300}"
fi
done_testing
