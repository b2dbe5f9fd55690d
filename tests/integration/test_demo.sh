#!/usr/bin/env bash
# surgewatch demo, the README's main job: an embedded Kafka (librdkafka's
# mock cluster), its own redis-server, a worker, a hub and a subscriber,
# the Western Balkans scenario replayed at the default speed, one JSON line
# per alert transition (--json). Checked:
#   - options: --help, --bogus and --speed 0 (exit 2), redis-server
#     missing from PATH (exit 3 and how to install it);
#   - the whole replay in a clean environment (env -i, a private HOME and
#     TMPDIR): exit 0, every line an alert with the documented keys, seq
#     1..N each once, every surge of the scenario raised within 3 days of
#     its start, nothing raised in the quiet periods, and the transitions
#     exactly those of `surgewatch backtest` over the same events (but the
#     last day, which only backtest closes);
#   - nothing left behind: no process the demo started (redis-server, run,
#     hub, subscribe), no listening socket of theirs, no temporary
#     directory;
#   - SIGKILL of the demo: its children die with it (PR_SET_PDEATHSIG);
#     the next demo removes the directory the killed one left;
#   - SIGINT mid-replay: exit 130 within 15 s, nothing left behind.
# No servers needed (the demo starts its own). Needs SW_BIN and WORK (from
# tests/run-all). Standalone:
#   SW_BIN=build/san/surgewatch WORK=$(mktemp -d) tests/integration/test_demo.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/proc.sh"
require_env SW_BIN WORK
W=$WORK/demo
rm -rf "$W"
mkdir -p "$W/home" "$W/tmp"
PY=/usr/bin/python3
SW_BIN=$(cd "$(dirname "$SW_BIN")" && pwd)/$(basename "$SW_BIN")

# A clean environment: only HOME, TMPDIR (private, to see what is left in
# it), PATH, and the sanitizer options of the test run.
cleanenv=(env -i HOME="$W/home" TMPDIR="$W/tmp" PATH=/usr/bin:/bin)
[ -n "${ASAN_OPTIONS:-}" ] && cleanenv+=(ASAN_OPTIONS="$ASAN_OPTIONS")
[ -n "${UBSAN_OPTIONS:-}" ] && cleanenv+=(UBSAN_OPTIONS="$UBSAN_OPTIONS")



# The demo process under a pid: itself, or the descendant whose command is
# ".../surgewatch demo ...".
find_demo() {
    local p
    for p in "$1" $(descendants "$1"); do
        case "$(cmdline "$p")" in
            *surgewatch" demo "*) echo "$p"; return 0 ;;
        esac
    done
    return 1
}

# The number of lines of a file (0 when it does not exist).
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }

# While a demo runs: records the pids and command lines of its children
# (into $1.pids, "pid command...") and their listening ports ($1.ports).
record() { # prefix demo-pid
    local c
    for c in $(descendants "$2"); do
        grep -q "^$c " "$1.pids" 2> /dev/null && continue
        echo "$c $(cmdline "$c")" >> "$1.pids"
    done
    local pids
    pids=$( (echo "$2"; cut -d' ' -f1 "$1.pids" 2> /dev/null) | paste -sd'|')
    ss -ltnpH 2> /dev/null | grep -E "pid=($pids)," | awk '{print $4}' >> "$1.ports"
    sort -u -o "$1.ports" "$1.ports"
}

# Fails unless no recorded process is alive, none of their listening ports
# is held by one of them, and TMPDIR holds nothing.
check_nothing_left() { # prefix demo-pid description
    local prefix=$1 demo=$2 what=$3 left="" p cmd
    for p in "$demo" $(cut -d' ' -f1 "$prefix.pids" 2> /dev/null); do
        cmd=$(cmdline "$p")
        case "$cmd" in
            *surgewatch* | *redis-server*) left="$left $p($cmd)" ;;
        esac
    done
    if [ -z "$left" ]; then
        pass "$what: no process left ($(lines "$prefix.pids") children recorded)"
    else
        fail "$what: no process left" "still alive:$left"
    fi
    local pids held=""
    pids=$( (echo "$demo"; cut -d' ' -f1 "$prefix.pids" 2> /dev/null) | paste -sd'|')
    held=$(ss -ltnpH 2> /dev/null | grep -E "pid=($pids),")
    if [ -z "$held" ]; then
        pass "$what: no listening socket left ($(lines "$prefix.ports") were open: $(paste -sd' ' "$prefix.ports" 2> /dev/null))"
    else
        fail "$what: no listening socket left" "$held"
    fi
    local other=""
    while read -r port; do
        [ -z "$port" ] && continue
        l=$(ss -ltnpH "sport = :${port##*:}" 2> /dev/null)
        [ -n "$l" ] && other="$other; $port now held by: $l"
    done < "$prefix.ports"
    [ -n "$other" ] && echo "# note: ports reused since by other processes$other"
    local files
    files=$(ls -A "$W/tmp")
    if [ -z "$files" ]; then
        pass "$what: the temporary directory is gone (TMPDIR is empty)"
    else
        fail "$what: the temporary directory is gone" "TMPDIR holds: $files"
    fi
}

# 1. options
out=$("$SW_BIN" demo --help 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q '^usage: surgewatch demo' <<< "$out" &&
    grep -q 'Exit status' <<< "$out" && grep -q -- '--speed' <<< "$out"; then
    pass "demo --help: usage, options and exit status"
else
    fail "demo --help" "exit $rc" "$(head -3 <<< "$out")"
fi
out=$("$SW_BIN" demo --bogus 2>&1)
rc=$?
[ $rc -eq 2 ] && pass "demo --bogus: exit 2" || fail "demo --bogus: exit 2" "exit $rc: $out"
out=$("$SW_BIN" demo --speed 0 2>&1)
rc=$?
if [ $rc -eq 2 ] && grep -q -- "--speed '0'" <<< "$out"; then
    pass "demo --speed 0: exit 2 ($out)"
else
    fail "demo --speed 0: exit 2 with a message" "exit $rc: $out"
fi
out=$("$SW_BIN" demo --from 2019-05-01 --to 2019-04-01 2>&1)
rc=$?
[ $rc -eq 2 ] && pass "demo --from after --to: exit 2" || fail "demo --from after --to: exit 2" "exit $rc: $out"
out=$(env -i HOME="$W/home" TMPDIR="$W/tmp" PATH="$W/nowhere" "$SW_BIN" demo --json 2>&1)
rc=$?
if [ $rc -eq 3 ] && grep -q 'redis-server' <<< "$out" && grep -q 'apt-get install redis-server' <<< "$out"; then
    pass "demo without redis-server in PATH: exit 3, says how to install it"
else
    fail "demo without redis-server in PATH: exit 3" "exit $rc: $out"
fi

# 2. the scenario's truth and the events, for the checks below
"$SW_BIN" demo --truth > "$W/truth.json" 2> "$W/truth.err" &&
    "$SW_BIN" demo --print-config > "$W/demo.ini" &&
    "$SW_BIN" demo --dump-events > "$W/events.msgpack" 2>> "$W/truth.err" ||
    fail "demo --truth / --print-config / --dump-events" "$(cat "$W/truth.err")"
"$SW_BIN" backtest -q -c "$W/demo.ini" -f msgpack -e "$W/events.msgpack" \
    --reorder 0s --partitions 4 > "$W/backtest.jsonl" 2> "$W/backtest.err" ||
    fail "backtest of the demo's events" "$(tail -3 "$W/backtest.err")"
sed 's/^/# /' "$W/backtest.err"

# 3. the main job: the README's main-job command (the first command line
# after "# the main job" in README.md), with --json, in a clean environment
# and a private HOME: its set-up part ("scripts/install-deps && make")
# first, its output kept apart, then the demo itself
root=$(cd "$here/../.." && pwd)
main_cmd=$(awk '/^# the main job/ {f = 1; next} f && NF && !/^#/ {print; exit}' "$root/README.md")
case "$main_cmd" in
    *"&& build/surgewatch demo") pass "README's main-job command found: $main_cmd" ;;
    *) fail "README's main-job command ends with '&& build/surgewatch demo'" "found: '$main_cmd'" ;;
esac
setup=${main_cmd% && *}
run=${main_cmd##* && }
if (cd "$root" && "${cleanenv[@]}" timeout 900 bash -c "$setup") > "$W/setup.log" 2>&1; then
    pass "the main job's set-up part ran in the clean environment: $setup ($(tail -1 "$W/setup.log"))"
else
    fail "the main job's set-up part: $setup" "$(tail -10 "$W/setup.log")"
fi
echo "# running: $run --json (the whole scenario, about 2 minutes)"
start=$SECONDS
(cd "$root" && exec "${cleanenv[@]}" timeout 300 $run --json) > "$W/alerts.jsonl" 2> "$W/demo.err" &
job=$!
demo=""
while kill -0 "$job" 2> /dev/null; do
    [ -z "$demo" ] && demo=$(find_demo "$job")
    [ -n "$demo" ] && record "$W/main" "$demo"
    sleep 0.5
done
wait "$job"
rc=$?
if [ $rc -eq 0 ]; then
    pass "demo --json: exit 0 after $((SECONDS - start)) s"
else
    fail "demo --json: exit 0" "exit $rc after $((SECONDS - start)) s" "$(tail -20 "$W/demo.err")"
fi
sed 's/^/# stderr: /' "$W/demo.err" | head -20
for want in 'redis-server' 'surgewatch run' 'surgewatch hub' 'surgewatch subscribe'; do
    if grep -q " $want\|/$want" "$W/main.pids" 2> /dev/null ||
        grep -q "$want" "$W/main.pids" 2> /dev/null; then
        pass "the demo started its $want"
    else
        fail "the demo started its $want" "children seen: $(cat "$W/main.pids" 2> /dev/null)"
    fi
done
[ -n "$demo" ] || demo=0
check_nothing_left "$W/main" "$demo" "after the replay"

# The lines: alerts with the documented keys, seq 1..N once each, the
# surges raised, nothing in the quiet periods, the same as backtest.
out=$($PY - "$W/truth.json" "$W/alerts.jsonl" "$W/backtest.jsonl" << 'EOF' 2>&1
import datetime as dt
import json
import sys

truth = json.load(open(sys.argv[1]))
keys = {"seq", "alert_id", "state", "section", "detector", "level",
        "window_start", "window_end", "observed", "expected", "score",
        "threshold", "raised_at"}
alerts, bad = [], []
for n, line in enumerate(open(sys.argv[2]), 1):
    try:
        a = json.loads(line)
        missing = keys - set(a)
        if missing or a["state"] not in ("raised", "updated", "resolved") \
                or a["level"] not in ("low", "medium", "high", "critical"):
            bad.append("line %d: %s" % (n, line.strip()[:160]))
        alerts.append(a)
    except ValueError as e:
        bad.append("line %d: not JSON (%s): %s" % (n, e, line.strip()[:160]))


def result(ok, desc, details=()):
    print(("ok - " if ok else "not ok - ") + desc)
    for d in [] if ok else list(details)[:15]:
        print("#   " + d)


result(alerts and not bad, "%d JSON lines, each an alert transition with "
       "the keys of docs/alerts.md" % len(alerts), bad)
seqs = [a.get("seq") for a in alerts]
result(seqs == list(range(1, len(alerts) + 1)),
       "seq runs 1..%d, each once, in order" % len(alerts),
       ["got: %s" % seqs[:40]])

day = lambda t: dt.date.fromisoformat(t[:10])
raised = [a for a in alerts if a["state"] == "raised"]
for s in truth["surges"]:
    start = dt.date.fromisoformat(s["start"])
    hits = [a for a in raised if a["section"] == s["section"]
            and start <= day(a["window_start"]) <= start + dt.timedelta(3)]
    near = [a["alert_id"] for a in raised if a["section"] == s["section"]]
    result(bool(hits), "%s surge of %s raised within 3 days: %s" % (
        s["section"], s["start"], ", ".join(
            "%s +%dd (%s)" % (a["detector"],
                              (day(a["window_start"]) - start).days,
                              a["level"]) for a in hits) or "nothing"),
        ["raised for %s: %s" % (s["section"], near)])
quiet_bad = []
for q in truth["quiet"]:
    q0, q1 = dt.date.fromisoformat(q["from"]), dt.date.fromisoformat(q["to"])
    quiet_bad += ["%s in %s..%s (%s)" % (a["alert_id"], q["from"], q["to"],
                                         q["why"])
                  for a in raised if a["section"] in q["sections"]
                  and q0 <= day(a["window_start"]) <= q1]
result(not quiet_bad, "nothing raised in the %d quiet periods of the "
       "scenario" % len(truth["quiet"]), quiet_bad)

# the same transitions as backtest over the same events; backtest also
# closes the last day at the end of its input, the worker never sees it
last = truth["period"]["to"]
strip = lambda a: {k: v for k, v in a.items() if k != "seq"}
def by_id(rows):
    m = {}
    for a in rows:
        m.setdefault(a["alert_id"], []).append(strip(a))
    return m
bt = [json.loads(l) for l in open(sys.argv[3])]
extra = [a for a in bt if a["window_start"][:10] == last]
live, ref = by_id(alerts), by_id([a for a in bt if a not in extra])
diff = ["%s: live %s, backtest %s" % (k, live.get(k), ref.get(k))
        for k in sorted(set(live) | set(ref)) if live.get(k) != ref.get(k)]
result(not diff, "the live transitions are backtest's over the same events "
       "(%d, and %d of the last day that only backtest closes)" % (
           len(bt) - len(extra), len(extra)), diff)
EOF
)
while IFS= read -r line; do
    case "$line" in
        "ok - "*) pass "${line#ok - }" ;;
        "not ok - "*) fail "${line#not ok - }" ;;
        *) echo "$line" ;;
    esac
done <<< "$out"
grep -q 'surges caught 7 of 7' "$W/demo.err" &&
    pass "the summary on stderr: $(grep 'surges caught' "$W/demo.err" | sed 's/^surgewatch demo: //')" ||
    fail "the summary on stderr says every surge was caught" "$(tail -3 "$W/demo.err")"

# 4. SIGKILL: the children die with the demo
"${cleanenv[@]}" "$SW_BIN" demo --json --speed 2 > /dev/null 2> "$W/kill.err" &
job=$!
demo=$job
n=0
for _ in $(seq 1 600); do # until its four children run (up to 120 s)
    record "$W/kill" "$demo"
    n=$(lines "$W/kill.pids")
    [ "$n" -ge 4 ] && break
    kill -0 "$demo" 2> /dev/null || break
    sleep 0.2
done
sleep 1
record "$W/kill" "$demo"
kill -KILL "$demo" 2> /dev/null
wait "$demo" 2> /dev/null
alive=""
for _ in $(seq 1 150); do # the kernel's SIGKILL to each: up to 30 s
    alive=""
    for p in $(cut -d' ' -f1 "$W/kill.pids"); do
        case "$(cmdline "$p")" in
            *surgewatch* | *redis-server*) alive="$alive $p" ;;
        esac
    done
    [ -z "$alive" ] && break
    sleep 0.2
done
if [ "$n" -ge 4 ] && [ -z "$alive" ]; then
    pass "SIGKILL of the demo: its $n children died with it"
else
    fail "SIGKILL of the demo: its children die with it" "children recorded: $n; alive: $alive" "$(cat "$W/kill.pids" 2> /dev/null)"
fi
stale=$(ls -A "$W/tmp")
[ -n "$stale" ] && echo "# left by the killed demo (the next demo removes it): $stale"

# 5. SIGINT in the middle of the replay
"${cleanenv[@]}" "$SW_BIN" demo --json --speed 20 > "$W/int.jsonl" 2> "$W/int.err" &
demo=$!
for _ in $(seq 1 1200); do # until the first alert (up to 240 s)
    record "$W/int" "$demo"
    [ -s "$W/int.jsonl" ] && break
    kill -0 "$demo" 2> /dev/null || break
    sleep 0.2
done
record "$W/int" "$demo"
if kill -0 "$demo" 2> /dev/null; then
    t0=$SECONDS
    kill -INT "$demo"
    for _ in $(seq 1 75); do
        kill -0 "$demo" 2> /dev/null || break
        sleep 0.2
    done
    if kill -0 "$demo" 2> /dev/null; then
        fail "SIGINT mid-replay: the demo exits within 15 s" "still running after $((SECONDS - t0)) s"
        kill -KILL "$demo" 2> /dev/null
        wait "$demo" 2> /dev/null
    else
        wait "$demo"
        rc=$?
        if [ $rc -eq 130 ]; then
            pass "SIGINT mid-replay: exit 130 within 15 s ($(wc -l < "$W/int.jsonl") alert lines before it)"
        else
            fail "SIGINT mid-replay: exit 130" "exit $rc" "$(tail -10 "$W/int.err")"
        fi
    fi
    grep -q 'interrupted' "$W/int.err" && pass "SIGINT: the summary says interrupted" ||
        fail "SIGINT: the summary says interrupted" "$(tail -5 "$W/int.err")"
else
    wait "$demo"
    fail "SIGINT mid-replay: the demo was running when interrupted" "it exited $? first" "$(tail -10 "$W/int.err")"
fi
check_nothing_left "$W/int" "$demo" "after SIGINT"
done_testing
