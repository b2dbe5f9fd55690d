#!/usr/bin/env bash
# What a threshold change would do, before it is applied: `surgewatch
# backtest --compare proposed.ini` (the engine of `ctl preview`) runs the
# detectors with the current and the proposed settings over the same past
# events in one pass and lists, per section, the alerts the change adds and
# removes. Its answer must be exactly what two plain backtests give, compared
# alert by alert in Python here: an alert stands when it was raised and its
# last transition is not a retracting resolve; its level is the highest of
# its transitions, its peak score the highest of its raised/updated ones (with
# that transition's threshold), resolved_at the window end of its last
# transition when that is a resolve. Needs SW_BIN, WORK; no servers.
# Standalone:
#   SW_BIN=build/surgewatch SW_GEN=build/tests/tools/sw_gen_events \
#   WORK=$(mktemp -d) tests/integration/test_preview.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN SW_GEN WORK
sc="$here/../scenario"
W=$WORK/preview
mkdir -p "$W"
PY=/usr/bin/python3
bt() { "$SW_BIN" backtest "$@"; }

# The independent computation: two plain backtest outputs -> the expected
# changes; compared with what --compare --json printed (and its summary).
cp "$here/preview_expect.py" "$W/expect.py"

# 1. the Western Balkans scenario (tests/scenario: daily counts on seven
# sections, seven surges). Current: the duty officer's settings plus a
# daily limit of 40 on HR-SI. Proposed: that limit raised to 60 (fewer
# alerts) and EARS C2 on BA-HR loosened from alpha 1e-6 to 5e-4 (more).
if ! $PY "$sc/make_scenario.py" --out "$W/wb.jsonl" --truth "$W/wb-truth.json" 2> "$W/gen.err"; then
    fail "make_scenario.py runs" "$(tail -5 "$W/gen.err")"
    done_testing
fi
cp "$sc/scenario.ini" "$W/current.ini"
cat >> "$W/current.ini" <<'EOF'

[section HR-SI]
; the operator's plain daily limit
run = ears_c2, cusum, threshold
threshold.limit = 40
EOF
cp "$W/current.ini" "$W/proposed.ini"
cat >> "$W/proposed.ini" <<'EOF'

[section HR-SI]
threshold.limit = 60

[section BA-HR]
ears_c2.alpha = 0.0005
EOF

bt -c "$W/current.ini" -e "$W/wb.jsonl" > "$W/cur.alerts" 2> /dev/null
bt -c "$W/proposed.ini" -e "$W/wb.jsonl" > "$W/prop.alerts" 2> /dev/null
bt -c "$W/current.ini" --compare "$W/proposed.ini" --json -e "$W/wb.jsonl" \
    > "$W/cmp.json" 2> "$W/cmp.err"
rc=$?
[ "$rc" -eq 0 ] && pass "backtest --compare proposed.ini --json: exit 0" \
    || fail "backtest --compare --json: exit 0" "exit $rc" "$(tail -5 "$W/cmp.err")"
sed 's/^/# /' "$W/cmp.err"
if out=$($PY "$W/expect.py" "$W/cur.alerts" "$W/prop.alerts" "$W/cmp.json" "$W/cmp.err" 2>&1); then
    pass "scenario: --compare lists exactly the alerts two backtests add and remove ($out)"
else
    fail "scenario: --compare lists exactly the alerts two backtests add and remove" "$(echo "$out" | tail -8)"
fi
$PY - "$W/cmp.json" > "$W/cmp.sections" <<'PYEOF'
import json, sys
print(" ".join(sorted({json.loads(l)["section"] + ":" + json.loads(l)["change"] for l in open(sys.argv[1])})))
PYEOF
grep -q 'HR-SI:removed' "$W/cmp.sections" && grep -q 'BA-HR:added' "$W/cmp.sections" \
    && pass "the raised limit removes HR-SI alerts, the loosened alpha adds BA-HR ones ($(cat "$W/cmp.sections"))" \
    || fail "changes where the settings changed" "$(cat "$W/cmp.sections")"

# 2. the table: a heading per section, "+" for each added, "-" for each removed
bt -c "$W/current.ini" --compare "$W/proposed.ini" -e "$W/wb.jsonl" > "$W/table.txt" 2> /dev/null
rc=$?
sed 's/^/# /' "$W/table.txt"
check "table mode: exit $rc, every added id on a '  + ' line, every removed on a '  - ' line, a heading per section" \
    $PY - "$W/cmp.json" "$W/table.txt" "$rc" <<'PYEOF'
import json, sys, collections
changes = [json.loads(l) for l in open(sys.argv[1])]
table = open(sys.argv[2]).read().splitlines()
assert sys.argv[3] == "0", "exit " + sys.argv[3]
lines = [l for l in table if l.startswith("  + ") or l.startswith("  - ")]
assert len(lines) == len(changes), (len(lines), len(changes))
for c in changes:
    sign = "+" if c["change"] == "added" else "-"
    mine = [l for l in lines if l.split()[1] == c["alert_id"]]
    assert len(mine) == 1 and mine[0].startswith(f"  {sign} "), (c, mine)
    want = "active" if c["resolved_at"] is None else c["resolved_at"][:16] + "Z"
    assert c["detector"] in mine[0] and c["level"] in mine[0] and want in mine[0], (c, mine[0])
per = collections.Counter((c["section"], c["change"]) for c in changes)
for s in {c["section"] for c in changes}:
    h = f"{s}: {per[(s, 'added')]} added, {per[(s, 'removed')]} removed"
    assert h in table, (h, table[:5])
PYEOF

# 3. a second scenario: generated events on 17 sections, 6-hour buckets
# counted per event type as well (by_type: the "type" field), the built-in
# detectors with alpha loosened and CUSUM's h lowered (adds and removes on
# every section, some alerts still active at the end)
"$SW_GEN" --count 60000 --days 120 --seed 21 > "$W/gen.jsonl"
printf '[windows]\nbucket = 6h\nby_type = true\n' > "$W/g-current.ini"
cp "$W/g-current.ini" "$W/g-proposed.ini"
printf '\n[detectors]\nears_c2.alpha = 0.0002\ncusum.h = 1.5\n' >> "$W/g-proposed.ini"
bt -c "$W/g-current.ini" -e "$W/gen.jsonl" > "$W/g-cur.alerts" 2> /dev/null
bt -c "$W/g-proposed.ini" -e "$W/gen.jsonl" > "$W/g-prop.alerts" 2> /dev/null
bt -c "$W/g-current.ini" --compare "$W/g-proposed.ini" --json -e "$W/gen.jsonl" \
    > "$W/g-cmp.json" 2> "$W/g-cmp.err"
rc=$?
if [ "$rc" -eq 0 ] && out=$($PY "$W/expect.py" "$W/g-cur.alerts" "$W/g-prop.alerts" \
    "$W/g-cmp.json" "$W/g-cmp.err" --by-type 2>&1); then
    pass "6-hour buckets by type: --compare lists exactly the changes ($out)"
else
    fail "6-hour buckets by type: --compare lists exactly the changes" "exit $rc" "$(echo "$out" | tail -8)"
fi
# ...and over the same events up to 12 h out of order, fed as they come
# (--reorder 0s): late corrections, alerts retracted, still exact
$PY - "$W/gen.jsonl" "$W/shuffled.jsonl" <<'PYEOF'
import datetime, json, random, sys
rnd = random.Random(5)
lines = open(sys.argv[1]).read().splitlines()
def ms(l):
    t = json.loads(l)["ts"]
    if isinstance(t, int):
        return t
    return int(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1000)
keyed = sorted(lines, key=lambda l: ms(l) + rnd.randrange(0, 12 * 3600 * 1000))
open(sys.argv[2], "w").write("\n".join(keyed) + "\n")
PYEOF
bt --reorder 0s -c "$W/g-current.ini" -e "$W/shuffled.jsonl" > "$W/s-cur.alerts" 2> "$W/s-cur.err"
bt --reorder 0s -c "$W/g-proposed.ini" -e "$W/shuffled.jsonl" > "$W/s-prop.alerts" 2> /dev/null
bt --reorder 0s -c "$W/g-current.ini" --compare "$W/g-proposed.ini" --json -e "$W/shuffled.jsonl" \
    > "$W/s-cmp.json" 2> "$W/s-cmp.err"
rc=$?
retracted=$(sed -n 's/.*(\([0-9]*\) retracted)$/\1/p' "$W/s-cur.err")
if [ "$rc" -eq 0 ] && [ "${retracted:-0}" -gt 0 ] && out=$($PY "$W/expect.py" "$W/s-cur.alerts" \
    "$W/s-prop.alerts" "$W/s-cmp.json" "$W/s-cmp.err" --by-type 2>&1); then
    pass "events up to 12 h out of order, --reorder 0s ($retracted alerts retracted by late data): still exact ($out)"
else
    fail "events out of order: --compare still exact" "exit $rc, retracted ${retracted:-?}" "$(echo "${out:-}" | tail -8)"
fi
# the alerts that stand are a function of the final counts, so the same
# ones change (their transitions, hence peaks, depend on the arrival order)
check "...and the same alerts added and removed as over the events in order, raised and resolved at the same times" \
    $PY - "$W/g-cmp.json" "$W/s-cmp.json" <<'PYEOF'
import json, sys
def keys(path):
    return [tuple(json.loads(l)[f] for f in ("change", "alert_id", "raised_at", "resolved_at"))
            for l in open(path)]
a, b = keys(sys.argv[1]), keys(sys.argv[2])
assert a == b, (len(a), len(b), sorted(set(a) ^ set(b))[:4])
PYEOF

# 4. the same comparison however the events are fed: partitions, threads,
# standard input, msgpack
bt -c "$W/current.ini" --compare "$W/proposed.ini" --json --partitions 4 -e "$W/wb.jsonl" > "$W/p4.json" 2> /dev/null
cmp -s "$W/cmp.json" "$W/p4.json" && pass "--partitions 4: the same JSON lines" \
    || fail "--partitions 4 changes the comparison" "$(diff "$W/cmp.json" "$W/p4.json" | head -4)"
bt -c "$W/current.ini" --compare "$W/proposed.ini" --json --threads 1 -e "$W/wb.jsonl" > "$W/t1.json" 2> /dev/null
cmp -s "$W/cmp.json" "$W/t1.json" && pass "--threads 1: the same JSON lines" \
    || fail "--threads 1 changes the comparison" "$(diff "$W/cmp.json" "$W/t1.json" | head -4)"
bt -c "$W/g-current.ini" --compare "$W/g-proposed.ini" --json --threads 1 --partitions 4 \
    -e "$W/gen.jsonl" > "$W/g-t1p4.json" 2> /dev/null
cmp -s "$W/g-cmp.json" "$W/g-t1p4.json" && pass "by type, --threads 1 --partitions 4: the same JSON lines" \
    || fail "by type, --threads 1 --partitions 4 changes the comparison" "$(diff "$W/g-cmp.json" "$W/g-t1p4.json" | head -4)"
bt -c "$W/current.ini" --compare "$W/proposed.ini" --json < "$W/wb.jsonl" > "$W/stdin.json" 2> /dev/null
cmp -s "$W/cmp.json" "$W/stdin.json" && pass "events from standard input: the same JSON lines" \
    || fail "standard input changes the comparison"
"$SW_GEN" --count 60000 --days 120 --seed 21 --format msgpack > "$W/gen.msgpack"
bt -c "$W/g-current.ini" --compare "$W/g-proposed.ini" --json -e "$W/gen.msgpack" > "$W/g-mp.json" 2> /dev/null
cmp -s "$W/g-cmp.json" "$W/g-mp.json" && pass "the same events as a msgpack stream: the same JSON lines" \
    || fail "msgpack input changes the comparison"

# 5. identical settings: no change, no JSON line
bt -c "$W/current.ini" --compare "$W/current.ini" -e "$W/wb.jsonl" > "$W/same.txt" 2> "$W/same.err"
rc=$?
n=$($PY -c "import sys; sys.path.insert(0, '$W'); import expect; print(len(expect.standing('$W/cur.alerts')))")
grep -qx "no change: the proposed settings give the same alerts ($n alerts)" "$W/same.txt" && [ "$rc" -eq 0 ] \
    && [ "$(wc -l < "$W/same.txt")" -eq 1 ] \
    && pass "identical settings: exit 0, 'no change: ... ($n alerts)'" \
    || fail "identical settings: no change" "exit $rc" "$(head -3 "$W/same.txt")"
bt -c "$W/current.ini" --compare "$W/current.ini" --json -e "$W/wb.jsonl" > "$W/same.json" 2> "$W/same-json.err"
rc=$?
[ "$rc" -eq 0 ] && [ ! -s "$W/same.json" ] && grep -q '^no change' "$W/same-json.err" \
    && grep -q "; 0 added, 0 removed in 0 sections" "$W/same-json.err" \
    && pass "identical settings with --json: no JSON line, 'no change' in the summary" \
    || fail "identical settings with --json" "exit $rc" "$(head -3 "$W/same.json")" "$(tail -3 "$W/same-json.err")"

# 6. refusals
printf '[windows]\nbucket = 1h\n' > "$W/hourly.ini"
bt -c "$W/current.ini" --compare "$W/hourly.ini" -e "$W/wb.jsonl" > "$W/r1.out" 2> "$W/r1.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q '\[windows\] bucket differs (current 1d, proposed 1h)' "$W/r1.err" && [ ! -s "$W/r1.out" ] \
    && pass "--compare with another bucket: exit 2, the setting named ($(head -1 "$W/r1.err" | cut -c1-90)...)" \
    || fail "--compare with another bucket" "exit $rc" "$(cat "$W/r1.err")"
printf '[alerts]\nresolve_after = 3\n' > "$W/resolve.ini"
bt --compare "$W/resolve.ini" -e "$W/wb.jsonl" > /dev/null 2> "$W/r2.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q '\[alerts\] resolve_after differs' "$W/r2.err" \
    && pass "--compare with another resolve_after: exit 2, the setting named" \
    || fail "--compare with another resolve_after" "exit $rc" "$(cat "$W/r2.err")"
bt -c "$W/current.ini" --compare "$W/nope.ini" -e "$W/wb.jsonl" > /dev/null 2> "$W/r3.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q 'nope.ini' "$W/r3.err" \
    && pass "--compare with a missing file: exit 2 naming it" \
    || fail "--compare with a missing file" "exit $rc" "$(cat "$W/r3.err")"
printf '[detectors]\nears_c2.alpha = 0.7\n' > "$W/bad.ini"
bt -c "$W/current.ini" --compare "$W/bad.ini" -e "$W/wb.jsonl" > /dev/null 2> "$W/r4.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q 'bad.ini:2: \[detectors\] ears_c2.alpha' "$W/r4.err" \
    && pass "--compare with an invalid value: exit 2 with file:line" \
    || fail "--compare with an invalid value" "exit $rc" "$(cat "$W/r4.err")"
bt -c "$W/current.ini" --json -e "$W/wb.jsonl" > "$W/r5.out" 2> "$W/r5.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q -- '--json is only for --compare' "$W/r5.err" && [ ! -s "$W/r5.out" ] \
    && pass "--json without --compare: exit 2" \
    || fail "--json without --compare" "exit $rc" "$(cat "$W/r5.err")"
bt -c "$W/current.ini" --compare "$W/proposed.ini" -e "$W/nope.jsonl" > /dev/null 2> "$W/r6.err"
rc=$?
[ "$rc" -eq 1 ] && grep -q 'cannot open' "$W/r6.err" \
    && pass "--compare with a missing events file: exit 1, cannot open" \
    || fail "--compare with a missing events file" "exit $rc" "$(cat "$W/r6.err")"
"$SW_BIN" backtest --help > "$W/help.txt"
grep -q -- '--compare FILE' "$W/help.txt" && grep -q -- '--json' "$W/help.txt" \
    && grep -q 'backtest -c surgewatch.ini --compare proposed.ini' "$W/help.txt" \
    && pass "backtest --help describes --compare and --json, with an example" \
    || fail "backtest --help describes --compare"
done_testing
