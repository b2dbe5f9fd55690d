#!/usr/bin/env bash
# surgewatch backtest end to end: input formats, the sorting horizon, time
# range, rejected input, broken streams, errors. Needs SW_BIN, SW_GEN, WORK.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN SW_GEN WORK
W=$WORK/backtest
mkdir -p "$W"
PY=/usr/bin/python3
bt() { "$SW_BIN" backtest "$@"; }

"$SW_GEN" --count 60000 --days 120 --seed 21 > "$W/ev.jsonl"
"$SW_GEN" --count 60000 --days 120 --seed 21 --format msgpack > "$W/ev.msgpack"

# 1. the same events as JSON lines and as a msgpack stream: the same alerts
bt -e "$W/ev.jsonl" > "$W/a.json" 2> "$W/a.err"; rc=$?
[ "$rc" -eq 0 ] && pass "backtest over JSON lines exits 0" || fail "backtest JSON exit" "exit $rc" "$(tail -3 "$W/a.err")"
n=$(wc -l < "$W/a.json")
[ "$n" -gt 10 ] && pass "it prints alert transitions ($n lines)" || fail "too few alerts: $n"
bt -e "$W/ev.msgpack" > "$W/b.json" 2> "$W/b.err"
cmp -s "$W/a.json" "$W/b.json" && pass "msgpack stream gives the same alert lines as JSON lines" \
    || fail "msgpack vs JSON alerts differ" "$(diff "$W/a.json" "$W/b.json" | head -4)"
check "every alert line is JSON with the alert keys of the contract, seq 1..n" \
    $PY - "$W/a.json" <<'PYEOF'
import json, sys
keys = {"seq","alert_id","state","section","detector","level","window_start",
        "window_end","observed","expected","score","threshold","raised_at"}
for n, line in enumerate(open(sys.argv[1]), start=1):
    a = json.loads(line)
    missing = keys - set(a)
    assert not missing, (n, missing)
    assert a["seq"] == n, (n, a["seq"])
    assert a["state"] in ("raised", "updated", "resolved"), a
    assert a["level"] in ("low", "medium", "high", "critical"), a
    assert a["alert_id"].startswith(a["section"] + ":" + a["detector"] + ":"), a
PYEOF
grep -q '^backtest: 60000 events read, 60000 counted, 0 rejected' "$W/a.err" \
    && pass "summary on stderr counts the events" || fail "summary" "$(cat "$W/a.err")"

bt --threads 1 -e "$W/ev.jsonl" > "$W/a1.json" 2>/dev/null
bt --threads 2 -e "$W/ev.jsonl" > "$W/a2.json" 2>/dev/null
cmp -s "$W/a1.json" "$W/a2.json" && cmp -s "$W/a.json" "$W/a1.json" \
    && pass "--threads 1 and --threads 2 print the same alert lines" \
    || fail "--threads changes the alerts"
bt --threads 3 -e "$W/ev.jsonl" > /dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && pass "--threads 3 is a usage error" || fail "--threads 3" "exit $rc"

# 2. arrival order within the sorting horizon does not matter
$PY - "$W/ev.jsonl" "$W/shuffled.jsonl" <<'PYEOF'
import json, random, sys
rnd = random.Random(5)
lines = open(sys.argv[1]).read().splitlines()
def ms(l):
    t = json.loads(l)["ts"]
    if isinstance(t, int):
        return t
    import datetime
    return int(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1000)
# displace each event by up to 2 h of event time
keyed = sorted(lines, key=lambda l: ms(l) + rnd.randrange(0, 2 * 3600 * 1000))
open(sys.argv[2], "w").write("\n".join(keyed) + "\n")
PYEOF
bt --reorder 4h -e "$W/ev.jsonl" > "$W/c.json" 2>/dev/null
bt --reorder 4h -e "$W/shuffled.jsonl" > "$W/d.json" 2> "$W/d.err"
cmp -s "$W/c.json" "$W/d.json" && pass "shuffled input (2 h) with --reorder 4h: identical alert lines" \
    || fail "shuffled input changes the alerts" "$(diff "$W/c.json" "$W/d.json" | head -4)"
grep -q ' 0 late corrections' "$W/d.err" && pass "no late corrections when the horizon covers the disorder" \
    || fail "late corrections" "$(grep keys "$W/d.err")"
bt -e "$W/shuffled.jsonl" > "$W/e.json" 2> "$W/e.err"
if grep -q ' 0 late corrections' "$W/e.err"; then
    fail "disorder beyond the default 1 h horizon should reach the engine as late corrections"
else
    pass "disorder beyond the 1 h default reaches the detectors as late corrections ($(sed -n 's/.*, \([0-9]*\) late corrections.*/\1/p' "$W/e.err"))"
fi
check "...and the alerts that stand are the same ids" \
    $PY - "$W/c.json" "$W/e.json" <<'PYEOF'
import json, sys
def standing(path):
    raised, retracted = set(), set()
    for l in open(path):
        a = json.loads(l)
        if a["state"] == "raised":
            raised.add(a["alert_id"])
        if a.get("retracted"):
            retracted.add(a["alert_id"])
    return raised - retracted
a, b = standing(sys.argv[1]), standing(sys.argv[2])
assert a == b, (sorted(a ^ b)[:5], len(a), len(b))
print(len(a), "alerts stand in both")
PYEOF

# 3. --from / --to
bt --from 2019-02-01 --to 2019-03-01 -e "$W/ev.jsonl" > "$W/f.json" 2> "$W/f.err"
check "--from/--to: every alert window lies inside the range" \
    $PY -c "
import json,sys
for l in open('$W/f.json'):
    a=json.loads(l); assert '2019-02-01' <= a['window_start'] < '2019-03-02', a
"
grep -q 'outside --from/--to' "$W/f.err" && pass "summary counts events outside the range" || fail "range summary"

# 4. bad input is reported and counted, the good events still count
"$SW_GEN" --count 5000 --seed 3 --bad-every 50 --bad-list "$W/bad.lines" > "$W/bad.jsonl"
bt -e "$W/bad.jsonl" > /dev/null 2> "$W/g.err"; rc=$?
[ "$rc" -eq 0 ] && grep -q '5000 events read, 4900 counted, 100 rejected' "$W/g.err" \
    && pass "100 bad lines of 5000: reported and counted, 4900 counted, exit 0" \
    || fail "bad lines" "exit $rc" "$(grep '^backtest' "$W/g.err")"
named=$(grep -c 'bad.jsonl:[0-9]*: rejected' "$W/g.err")
[ "$named" -eq 100 ] && pass "each of the first 100 rejections is named with its line" || fail "named $named"

# a file of several 1 MiB chunks, decoded by two threads: every rejection
# still carries its own line number, and the alerts equal one thread's
"$SW_GEN" --count 30000 --seed 4 --bad-every 300 --bad-list "$W/bad2.lines" > "$W/bad2.jsonl"
bt --threads 2 -e "$W/bad2.jsonl" > "$W/m2.json" 2> "$W/m2.err"
bt --threads 1 -e "$W/bad2.jsonl" > "$W/m1.json" 2> /dev/null
sed -n 's|^.*/bad2.jsonl:\([0-9]*\): rejected.*|\1|p' "$W/m2.err" | sort -n > "$W/m2.named"
if diff -q "$W/m2.named" <(sort -n "$W/bad2.lines") > /dev/null; then
    pass "two decoder threads over $(( $(wc -c < "$W/bad2.jsonl") / 1048576 + 1 )) chunks: every rejection names its own line"
else
    fail "parallel decoding line numbers" "$(diff "$W/m2.named" <(sort -n "$W/bad2.lines") | head -5)"
fi
cmp -s "$W/m1.json" "$W/m2.json" && pass "two decoder threads: the same alert lines as one" \
    || fail "parallel decoding changes the alerts"

# 5. a broken msgpack stream: exit 1 and say where
head -c 100000 "$W/ev.msgpack" > "$W/cut.msgpack"
printf '\xc1' >> "$W/cut.msgpack"
bt -e "$W/cut.msgpack" > /dev/null 2> "$W/h.err"; rc=$?
[ "$rc" -eq 1 ] && grep -q 'broken at byte' "$W/h.err" \
    && pass "a broken msgpack stream: exit 1 naming the byte" || fail "broken stream" "exit $rc" "$(tail -2 "$W/h.err")"
cat "$W/ev.msgpack" | bt -f msgpack > "$W/i.json" 2>/dev/null
cmp -s "$W/a.json" "$W/i.json" && pass "msgpack from a pipe (standard input) gives the same alerts" \
    || fail "msgpack from stdin differs"

# 6. usage errors
bt --from yesterday -e "$W/ev.jsonl" > /dev/null 2> "$W/j.err"; rc=$?
[ "$rc" -eq 2 ] && grep -q 'accepted: RFC 3339' "$W/j.err" && pass "a bad --from says what is accepted" || fail "bad --from" "exit $rc"
bt --reorder soon -e "$W/ev.jsonl" > /dev/null 2> "$W/k.err"; rc=$?
[ "$rc" -eq 2 ] && pass "a bad --reorder is a usage error" || fail "bad --reorder" "exit $rc"
bt -e "$W/nope.jsonl" > /dev/null 2> "$W/l.err"; rc=$?
[ "$rc" -eq 1 ] && grep -q 'cannot open' "$W/l.err" && pass "a missing events file: exit 1, cannot open" || fail "missing file" "exit $rc"
"$SW_BIN" backtest --help | grep -q -- '--reorder' && pass "backtest --help lists its options" || fail "help"
done_testing
