#!/usr/bin/env bash
# `surgewatch ctl preview`: the LIVE thresholds (read from Redis) against the
# same plus proposed changes, over past events; per section the alerts the
# change adds and removes. Checked against two plain backtest runs (one with
# the live thresholds written out as a config file, one with the change),
# compared in Python (preview_expect.py). Preview writes nothing. Needs
# SW_BIN, SW_GEN, WORK, REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN WORK REDIS_URL
sc="$here/../scenario"
W=$WORK/ctl-preview
mkdir -p "$W"
PY=/usr/bin/python3
P=ctlprev-$$
ctl() { "$SW_BIN" ctl -r "$REDIS_URL" --redis-prefix "$P" --as analyst-1 "$@"; }
state() { # everything preview must not touch
    redis-cli -u "$REDIS_URL" HGETALL "$P:thresholds" | sort
    redis-cli -u "$REDIS_URL" GET "$P:thresholds:version"
    redis-cli -u "$REDIS_URL" XLEN "$P:audit"
}

if ! $PY "$sc/make_scenario.py" --out "$W/wb.jsonl" --truth "$W/wb-truth.json" 2> "$W/gen.err"; then
    fail "make_scenario.py runs" "$(tail -5 "$W/gen.err")"
    done_testing
fi
# the live settings: the scenario's, plus a daily limit of 40 on HR-SI,
# stored in Redis by the first ctl call that changes something (the seed,
# as a worker's first start would; verbs that only read store nothing)
cp "$sc/scenario.ini" "$W/live.ini"
cat >> "$W/live.ini" <<'EOF'

[section HR-SI]
run = ears_c2, cusum, threshold
threshold.limit = 40
EOF
out=$(ctl -c "$W/live.ini" get HR-SI threshold.limit 2> "$W/seed.err")
v=$(redis-cli -u "$REDIS_URL" GET "$P:thresholds:version")
echo "$out" | grep -q "HR-SI threshold.limit = 40 *(override)" && [ -z "$v" ] \
    && pass "before anything is stored, get shows live.ini's value and writes nothing ($out)" \
    || fail "get before the seed" "$out" "version '$v'" "$(cat "$W/seed.err")"
ctl -c "$W/live.ini" set HR-SI threshold.min_count 0 > "$W/seed.out" 2> "$W/seed.err"
v=$(redis-cli -u "$REDIS_URL" GET "$P:thresholds:version")
l=$(redis-cli -u "$REDIS_URL" HGET "$P:thresholds" "HR-SI threshold.limit")
[ "$v" = 2 ] && [ "$l" = 40 ] && grep -q "stored those of .*live.ini as version 1" "$W/seed.err" \
    && pass "the first change stores live.ini's thresholds as version 1, then itself as version 2" \
    || fail "seed on the first change" "version '$v' limit '$l'" "$(cat "$W/seed.out" "$W/seed.err")"

# the reference: two plain backtests. The live thresholds, exported from
# Redis, appended to the engine settings of live.ini ([windows], [alerts]).
ctl -c "$W/live.ini" export -o "$W/exported.ini" 2> /dev/null
$PY -c '
import sys
keep, out = True, []
for line in sys.stdin:
    s = line.strip()
    if s.startswith("["):
        keep = s in ("[windows]", "[alerts]")
    if keep:
        out.append(line)
sys.stdout.write("".join(out))' < "$W/live.ini" > "$W/engine.ini"
cat "$W/engine.ini" "$W/exported.ini" > "$W/current.ini"
cp "$W/current.ini" "$W/proposed.ini"
cat >> "$W/proposed.ini" <<'EOF'

[section HR-SI]
threshold.limit = 60

[section BA-HR]
ears_c2.alpha = 0.0005
EOF
"$SW_BIN" backtest -c "$W/current.ini" -e "$W/wb.jsonl" > "$W/cur.alerts" 2> /dev/null
"$SW_BIN" backtest -c "$W/proposed.ini" -e "$W/wb.jsonl" > "$W/prop.alerts" 2> /dev/null
"$SW_BIN" backtest -c "$W/live.ini" -e "$W/wb.jsonl" > "$W/live.alerts" 2> /dev/null
cmp -s "$W/cur.alerts" "$W/live.alerts" \
    && pass "the exported live thresholds give the same alerts as live.ini ($(wc -l < "$W/cur.alerts") transitions)" \
    || fail "export is faithful" "$(diff "$W/cur.alerts" "$W/live.alerts" | head -5)"

cp "$here/preview_expect.py" "$W/expect.py"
before=$(state)
ctl -c "$W/live.ini" preview --set 'HR-SI threshold.limit=60' \
    --set 'BA-HR ears_c2.alpha=0.0005' -e "$W/wb.jsonl" --json \
    > "$W/prev.json" 2> "$W/prev.err"
rc=$?
sed 's/^/# /' "$W/prev.err"
[ "$rc" -eq 0 ] && pass "ctl preview --set ... --json: exit 0" \
    || fail "ctl preview: exit 0" "exit $rc" "$(tail -5 "$W/prev.err")"
if out=$($PY "$W/expect.py" "$W/cur.alerts" "$W/prop.alerts" "$W/prev.json" "$W/prev.err" 2>&1); then
    pass "ctl preview lists exactly the alerts two backtests add and remove ($out)"
else
    fail "ctl preview lists exactly the alerts two backtests add and remove" "$(echo "$out" | tail -8)"
fi
grep -q "HR-SI threshold.limit: 40 -> 60" "$W/prev.err" && grep -q "BA-HR ears_c2.alpha: (inherited) -> 0.0005" "$W/prev.err" \
    && pass "preview names the proposed changes against the live version" \
    || fail "preview names the changes" "$(head -5 "$W/prev.err")"
[ "$(state)" = "$before" ] && pass "preview wrote nothing (thresholds, version, audit unchanged)" \
    || fail "preview wrote nothing" "$(diff <(echo "$before") <(state) | head -5)"

# the same proposal as a file (the whole thresholds: proposed.ini's)
ctl -c "$W/live.ini" preview --file "$W/proposed.ini" -e "$W/wb.jsonl" --json \
    > "$W/prev-file.json" 2> /dev/null
cmp -s "$W/prev.json" "$W/prev-file.json" \
    && pass "preview --file proposed.ini gives the same changes as the --set flags" \
    || fail "preview --file" "$(diff "$W/prev.json" "$W/prev-file.json" | head -5)"

# the table for a person
ctl -c "$W/live.ini" preview --set 'HR-SI threshold.limit=60' \
    --set 'BA-HR ears_c2.alpha=0.0005' -e "$W/wb.jsonl" > "$W/prev.txt" 2> /dev/null
sed 's/^/# /' "$W/prev.txt"
n_add=$(grep -c '"change":"added"' "$W/prev.json")
n_rem=$(grep -c '"change":"removed"' "$W/prev.json")
[ "$(grep -c '^  + ' "$W/prev.txt")" = "$n_add" ] && [ "$(grep -c '^  - ' "$W/prev.txt")" = "$n_rem" ] \
    && pass "table: $n_add '+' lines and $n_rem '-' lines, as in the JSON" \
    || fail "table lines" "$(head -20 "$W/prev.txt")"

# the current side is what Redis holds NOW: apply the raise, then preview
# going back to 40: the HR-SI changes come out the other way round
ctl -c "$W/live.ini" set HR-SI threshold.limit 60 > /dev/null 2>&1
ctl -c "$W/live.ini" preview --set 'HR-SI threshold.limit=40' -e "$W/wb.jsonl" --json \
    > "$W/back.json" 2> /dev/null
check "after 'set HR-SI threshold.limit 60', previewing 40 again gives the HR-SI changes the other way round" \
    $PY - "$W/prev.json" "$W/back.json" <<'PYEOF'
import json, sys
first = [json.loads(l) for l in open(sys.argv[1])]
back = [json.loads(l) for l in open(sys.argv[2])]
def ids(rows, change):
    return {e["alert_id"] for e in rows if e["section"] == "HR-SI" and e["change"] == change}
assert ids(first, "removed") and ids(first, "removed") == ids(back, "added"), \
    (sorted(ids(first, "removed")), sorted(ids(back, "added")))
assert ids(first, "added") == ids(back, "removed"), \
    (sorted(ids(first, "added")), sorted(ids(back, "removed")))
assert {e["section"] for e in back} == {"HR-SI"}, back
PYEOF

# refusals: nothing proposed, malformed --set, a value out of range, an
# unknown section, a missing events file
before=$(state)
refuse() { # DESC EXIT PHRASE ARGS...
    local desc=$1 want=$2 phrase=$3 out rc
    shift 3
    out=$(ctl -c "$W/live.ini" preview "$@" 2>&1 > /dev/null)
    rc=$?
    if [ "$rc" = "$want" ] && echo "$out" | grep -q -- "$phrase" && [ "$(state)" = "$before" ]; then
        pass "preview $desc: exit $rc, \"$(echo "$out" | tail -1 | cut -c1-110)\""
    else
        fail "preview $desc: exit $want with '$phrase', nothing changed" "exit $rc: $out"
    fi
}
refuse "with nothing proposed" 2 "nothing proposed" -e "$W/wb.jsonl"
refuse "--set without '='" 2 "expected 'SCOPE KEY=VALUE'" --set 'HR-SI threshold.limit' -e "$W/wb.jsonl"
refuse "--set out of range" 2 "out of range" --set 'BA-HR ears_c2.alpha=0.9' -e "$W/wb.jsonl"
refuse "--set of an unknown section" 2 "not known" --set 'HU-XK threshold.limit=5' -e "$W/wb.jsonl"
refuse "--file and --set together" 2 "does not combine" --file "$W/proposed.ini" --set 'HR-SI threshold.limit=5' -e "$W/wb.jsonl"
refuse "of a missing events file" 1 "cannot open" --set 'HR-SI threshold.limit=50' -e "$W/nope.jsonl"

redis-cli -u "$REDIS_URL" --scan --pattern "$P:*" | xargs -r redis-cli -u "$REDIS_URL" DEL > /dev/null
done_testing
