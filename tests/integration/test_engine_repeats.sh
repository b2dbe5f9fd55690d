#!/usr/bin/env bash
# Late events replaying a key whose alert is resolving must not tell the
# same `updated` transition again at every replay (found by the soak test,
# tests/soak: four identical updates of one CUSUM alert in a live log).
# Input: 2 234 events of BA-RS from a soak run, in their arrival order
# (tests/integration/data/engine-repeat-ba-rs.jsonl.gz, with late events up
# to 30 minutes), and the soak's detection settings. Checks, with
# `surgewatch backtest --reorder 0s` (arrival order, as a worker sees it):
#   - no transition (alert id, state, window, figures, level) twice;
#   - the alerts that stand at the end (the last state of each alert id)
#     are those of the same events in event-time order.
# Needs SW_BIN and WORK; no servers.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN WORK
W=$WORK/engine-repeats
mkdir -p "$W"
gzip -dc "$here/data/engine-repeat-ba-rs.jsonl.gz" > "$W/events.jsonl"
cfg=$here/data/engine-repeat.ini
"$SW_BIN" backtest -c "$cfg" -e "$W/events.jsonl" --reorder 0s > "$W/arrival.out" 2> "$W/arrival.err" ||
    fail "backtest --reorder 0s" "$(tail -3 "$W/arrival.err")"
"$SW_BIN" backtest -c "$cfg" -e "$W/events.jsonl" --reorder 1h > "$W/ordered.out" 2> "$W/ordered.err" ||
    fail "backtest --reorder 1h" "$(tail -3 "$W/ordered.err")"
r=$(/usr/bin/python3 - "$W/arrival.out" "$W/ordered.out" <<'PY'
import json, sys
from collections import Counter
a = [json.loads(l) for l in open(sys.argv[1])]
o = [json.loads(l) for l in open(sys.argv[2])]
key = lambda x: (x["alert_id"], x["state"], x["window_start"], x["observed"],
                 x["expected"], x["score"], x["threshold"], x["level"])
twice = [k for k, n in Counter(map(key, a)).items() if n > 1]
def standing(rows):
    last = {}
    for x in rows:
        last[x["alert_id"]] = x["state"] != "resolved"
    return sorted(k for k, v in last.items() if v)
print(len(a), len(twice), standing(a) == standing(o), twice[:3])
PY
)
read -r n dup same rest <<< "$r"
[ "${dup:-x}" = 0 ] && [ "${n:-0}" -gt 20 ] &&
    pass "arrival order: $n transitions, none told twice" ||
    fail "arrival order: no transition twice" "$r"
[ "${same:-x}" = True ] &&
    pass "the alerts that stand at the end are those of event-time order" ||
    fail "standing alerts equal event-time order's" "$r"
done_testing
