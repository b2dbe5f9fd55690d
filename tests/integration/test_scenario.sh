#!/usr/bin/env bash
# The realistic scenario: twenty months of daily border-detection events on
# seven Western Balkans sections built from the figures of DOMAIN.md (a
# winter baseline, the March 2019 rise, the February 2020 GR-MK surge, the
# March 2020 collapse) by tests/scenario/make_scenario.py, backtested with
# the duty officer's settings of tests/scenario/scenario.ini. Every surge
# must be raised within a day of its start, and the quiet weeks must raise
# nothing; tests/scenario/check_alerts.py compares the alerts with the
# generator's ground truth and prints the detection delays.
# Needs SW_BIN and WORK (from tests/run-all); no servers. Standalone:
#   SW_BIN=build/surgewatch WORK=$(mktemp -d) tests/integration/test_scenario.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN WORK
sc="$here/../scenario"
W=$WORK/scenario
mkdir -p "$W"
PY=/usr/bin/python3

# 1. the scenario: generated, reproducible, every event valid
if $PY "$sc/make_scenario.py" --out "$W/events.jsonl" --truth "$W/truth.json" \
    --summary > "$W/summary.txt" 2> "$W/gen.err"; then
    pass "make_scenario.py: $(cat "$W/gen.err")"
else
    fail "make_scenario.py runs" "$(tail -5 "$W/gen.err")"
    done_testing
fi
sed 's/^/# /' "$W/summary.txt"
$PY "$sc/make_scenario.py" --out "$W/again.jsonl" --truth "$W/again.json" 2> /dev/null
if cmp -s "$W/events.jsonl" "$W/again.jsonl" && cmp -s "$W/truth.json" "$W/again.json"; then
    pass "the scenario is reproducible: the same seed gives the same events and truth"
else
    fail "the scenario is reproducible"
fi

# 2. the backtest
start=$SECONDS
"$SW_BIN" backtest -c "$sc/scenario.ini" -e "$W/events.jsonl" > "$W/alerts.jsonl" 2> "$W/backtest.err"
rc=$?
if [ "$rc" -eq 0 ]; then
    pass "backtest -c tests/scenario/scenario.ini: exit 0 in $((SECONDS - start)) s"
else
    fail "backtest -c tests/scenario/scenario.ini: exit 0" "exit $rc" "$(tail -5 "$W/backtest.err")"
fi
sed 's/^/# /' "$W/backtest.err"
events=$(wc -l < "$W/events.jsonl")
grep -q "^backtest: $events events read, $events counted, 0 rejected, 0 duplicates, 0 late" "$W/backtest.err" \
    && pass "all $events generated events are valid and counted" \
    || fail "all $events generated events are valid and counted" "$(head -3 "$W/backtest.err")"

# 3. the alerts against the ground truth: check_alerts.py prints "ok - ..."
# and "not ok - ..." lines (counted here) with "#" details
out=$($PY "$sc/check_alerts.py" "$W/truth.json" "$W/alerts.jsonl" 2>&1)
rc=$?
while IFS= read -r line; do
    case "$line" in
        "ok - "*) pass "${line#ok - }" ;;
        "not ok - "*) fail "${line#not ok - }" ;;
        *) echo "$line" ;;
    esac
done <<< "$out"
if [ "$rc" -ne 0 ] && ! grep -q '^not ok - ' <<< "$out"; then
    fail "check_alerts.py ran" "exit $rc"
fi

# 4. for comparison (not checked): what the built-in defaults would raise
"$SW_BIN" backtest -q -e "$W/events.jsonl" > "$W/defaults.jsonl" 2> /dev/null
$PY "$sc/check_alerts.py" "$W/truth.json" "$W/defaults.jsonl" > "$W/defaults.txt" 2>&1
echo "# with the built-in defaults (no config) instead:" \
    "$(grep -c '^ok - .* surge of ' "$W/defaults.txt") of $(grep -c ' surge of ' "$W/defaults.txt")" \
    "surges raised within a day, $(sed -n 's/^# alerts raised in the quiet periods: //p' "$W/defaults.txt")" \
    "alerts raised in the quiet periods"
done_testing
