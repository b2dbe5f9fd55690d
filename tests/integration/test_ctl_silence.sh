#!/usr/bin/env bash
# Silences and acks, end to end through the hub to a subscriber: a real
# redis-server, `surgewatch hub`, two subscribers of everything from seq 1
# (`surgewatch subscribe` and tests/integration/pysub.py, which decodes the
# raw msgpack), and a real `surgewatch run` worker on an idle topic, whose
# once-a-second tick ends the silences whose time is up. Alerts are written
# by sw_alert_writer, through the workers' own alert-log script.
#   0. before any silence: P1 (HU-RS) and B0 (HR-RS) raised, published.
#   1. `ctl silence add 'HU-*' --until 20s` (s1). Alerts of HU-RS and HR-RS:
#      HR-RS ones reach both subscribers live; HU-RS ones reach neither and
#      are in the log marked silenced=s1 with ids "<seq>-N" (N >= 2); the
#      published seqs stay 1..n and the subscribers see no gap; the hub
#      counts the held entries (surgewatch_hub_held_entries_total).
#   2. `ctl alerts` shows the held alerts as held:s1; `ctl silence list`
#      shows s1 active.
#   3. two held alerts that resolve during s1 are never published.
#   4. `ctl ack` of a held alert (A1): recorded (audit), not published; at
#      the end of s1 published once, as raised, with the ack fields.
#   5. s1's time is up: the worker publishes the still-active held alerts
#      (A1, A2) within ~2 s, each once, with the next seqs, released=s1 in
#      the log; `ctl silence list --all` shows s1 ended.
#   6. `ctl silence expire` of a silence until 1h (s2), with an alert held:
#      published at once; the audit has silence.add and silence.expire with
#      their operators.
#   7. an alert raised before a silence (P2, RS-XK, raised before s2) keeps
#      being published: its update and resolve go out during s2. (P1: its
#      ack during s1 goes out.)
#   8. `ctl ack P1 --note 'units "deployed"; 5/km — ok'`: both subscribers
#      print the update with acked_by, ack_note, acked_at (pysub: the raw
#      msgpack); `ctl alerts` shows the acker; a subscriber started after
#      the ack gets it in its snapshot (as HGETALL :active has it).
#   9. every subscriber's output is the log's published entries, line by
#      line, each field; late subscribers from seq 1 (replay over the held
#      entries) too, with no gap.
#  10. what ctl accepts, the hub must publish and ctl must show: an ack
#      whose note is 500 DEL characters (6 bytes each in the log's JSON),
#      an ack whose note or operator is not UTF-8, a silence whose reason
#      is not UTF-8: each refused (exit 2, nothing written) or else
#      published by the hub / listed by `ctl silence list`.
# Needs SW_BIN, SW_GEN, WORK, KAFKA_BOOTSTRAP, REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN SW_GEN WORK KAFKA_BOOTSTRAP REDIS_URL
. "$here/../lib/worker.sh"
. "$here/../lib/hub.sh"
. "$here/../lib/redis.sh"
worker_setup ctl-silence # W, B, topic, PY
hub_setup ctl-silence    # HUB_W = W, emptied; the EXIT trap kills what is tracked
writer="$(dirname "$SW_GEN")/sw_alert_writer"
[ -x "$writer" ] || { fail "tool $writer not built"; done_testing; }
pfx=ctls-$(date +%s)-$$
NOTE8='units "deployed"; 5/km — ok'
NOTE4='seen while held'

ctl() { "$SW_BIN" ctl -r "$REDIS_URL" --redis-prefix "$pfx" "$@"; }
# wr SECTIONS N [RATE]: N transitions (every alert raised, updated,
# resolved: 3 per alert id, ids round-robin over SECTIONS); prints nothing
wr() {
    "$writer" "$REDIS_URL" "$pfx" "$2" "${3:-0}" "$1" >> "$W/writer.log" 2>&1 ||
        fail "sw_alert_writer $*" "$(tail -3 "$W/writer.log")"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# chk CMD ARGS...: the checker (below) against the log
chk() { $PY "$W/check.py" "$REDIS_HOST" "$REDIS_PORT" "$pfx" "$@"; }
# tap DESC CMD...: pass with CMD's output, or fail with it
tap() {
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then pass "$desc: $out"; else fail "$desc" "$out"; fi
}
# the alert ids of SECTION in the log, in order of first appearance
ids_of() {
    rcli --raw XRANGE "$pfx:alerts" - + | grep -o "\"alert_id\":\"$1:[^\"]*\"" |
        cut -d'"' -f4 | awk '!seen[$0]++'
}
seq_now() { rcli GET "$pfx:alerts:seq"; }
# has OUT ALERT_ID N: OUT has at least N lines of ALERT_ID
has() { [ "$(chk count "$1" "$2")" -ge "$3" ]; }
both_have() { has "$W/a.out" "$1" "$2" && has "$W/p.out" "$1" "$2"; }
# printed_upto SEQ: both subscribers have printed SEQ lines
printed_upto() { [ "$(nlines "$W/a.out")" -ge "$1" ] && [ "$(nlines "$W/p.out")" -ge "$1" ]; }
hub_metric() { curl -s --max-time 2 "http://127.0.0.1:$HMPORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# field JSON_LINE KEY (Python: the value, strings as they are)
field() { $PY -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print(v if v is not None else "")' "$1" "$2"; }

# ------------------------------------------------------------- the checker
cat > "$W/check.py" << 'EOF'
"""The Redis alert log (redis-cli, an independent client) against what the
subscribers printed. usage: check.py HOST PORT PREFIX CMD ARGS...
  published-range                 "1 n" after checking the published seqs
                                  are 1..n and PREFIX:alerts:seq is n
  held SID ALERT_ID...            the entries of these alerts: held ones
                                  marked silenced=SID, ids <last seq>-N;
                                  none published unless released=SID
  released SID SEQ0 ALERT_ID...   exactly one released=SID entry per alert,
                                  seqs SEQ0+1.., state raised
  verify OUT c|py FIRST LAST [SKIP]
                                  OUT (after SKIP lines) is exactly the
                                  published alerts FIRST..LAST, in order, each
                                  once, each equal to its log entry
  snapshot OUT N ACTIVE_JSON      OUT's first N lines are the active alerts
  count OUT ALERT_ID              lines of OUT with this alert_id
Prints problems and exits 1, or a one-line summary and exits 0."""
import calendar
import json
import subprocess
import sys
import time

host, port, prefix, cmd = sys.argv[1:5]
args = sys.argv[5:]


def rcli(*a):
    return subprocess.run(["redis-cli", "-h", host, "-p", port, "--json"] + list(a),
                          check=True, capture_output=True, text=True).stdout


def stream():
    """[(ms, n, fields, alert)] in stream order."""
    out = []
    for eid, f in json.loads(rcli("XRANGE", prefix + ":alerts", "-", "+")):
        d = dict(zip(f[0::2], f[1::2]))
        ms, n = (int(x) for x in eid.split("-"))
        out.append((ms, n, d, json.loads(d["alert"])))
    return out


def rfc(ms):  # as sw_time_format writes it
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def ms_of(text):
    base, frac = (text[:-1].split(".") + ["0"])[:2]
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(frac.ljust(3, "0")[:3])


def done(problems, summary):
    for p in problems:
        print(p)
    if not problems:
        print(summary)
    sys.exit(1 if problems else 0)


def published(s):
    return {ms: (d, a) for ms, n, d, a in s if n == 1 and ms >= 1}


def lines_of(path):
    out = []
    for l in open(path, encoding="utf-8").read().splitlines():
        try:
            out.append(json.loads(l))
        except ValueError:
            out.append({"unparsed": l[:100]})
    return out


if cmd == "published-range":
    s = stream()
    seqs = [ms for ms, n, d, a in s if n == 1 and ms >= 1]
    latest = int(json.loads(rcli("GET", prefix + ":alerts:seq")) or 0)
    problems = []
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append("published seqs are not 1..n in stream order: %s" % seqs[:60])
    if latest != len(seqs):
        problems.append("%s:alerts:seq is %d, %d published entries" % (prefix, latest, len(seqs)))
    done(problems, "1 %d" % len(seqs))

elif cmd == "held":
    sid, ids = args[0], set(args[1:])
    s = stream()
    problems, n_held, last_pub, examples = [], 0, 0, []
    for ms, n, d, a in s:
        if n == 1 and ms >= 1:
            last_pub = ms
            if a["alert_id"] in ids and d.get("released") != sid:
                problems.append("%d-1 publishes %s (%s), a held alert" % (ms, a["alert_id"], a["state"]))
            continue
        if a["alert_id"] not in ids:
            continue
        n_held += 1
        eid = "%d-%d" % (ms, n)
        if d.get("silenced") != sid:
            problems.append("%s: silenced=%r, expected %s" % (eid, d.get("silenced"), sid))
        if ms != last_pub or n < (1 if ms == 0 else 2):
            problems.append("%s: expected <last published seq %d>-N, N >= 2" % (eid, last_pub))
        if "prev" in d:
            problems.append("%s: a held entry has a prev field" % eid)
        if len(examples) < 4:
            examples.append("%s %s" % (eid, a["state"]))
    seen = {a["alert_id"] for ms, n, d, a in s if a["alert_id"] in ids}
    if seen != ids:
        problems.append("not in the log at all: %s" % sorted(ids - seen))
    done(problems, "%d held entries of %d alerts, silenced=%s, e.g. %s"
         % (n_held, len(ids), sid, ", ".join(examples)))

elif cmd == "released":
    sid, seq0, ids = args[0], int(args[1]), args[2:]
    rel = [(ms, n, d, a) for ms, n, d, a in stream() if d.get("released") == sid]
    problems = []
    got = sorted(a["alert_id"] for ms, n, d, a in rel)
    if got != sorted(ids):
        problems.append("released=%s entries are of %s, expected one each of %s" % (sid, got, sorted(ids)))
    seqs = sorted(ms for ms, n, d, a in rel)
    if seqs != list(range(seq0 + 1, seq0 + 1 + len(rel))):
        problems.append("released seqs %s, expected %d.." % (seqs, seq0 + 1))
    for ms, n, d, a in rel:
        if n != 1:
            problems.append("%d-%d: a released entry that is not <seq>-1" % (ms, n))
        if a["state"] != "raised":
            problems.append("%d-%d: state %s, expected raised" % (ms, n, a["state"]))
        if "prev" not in d or "t" not in d:
            problems.append("%d-%d: no prev or t field" % (ms, n))
    done(problems, " ".join("%d-%d %s" % (ms, n, a["alert_id"]) for ms, n, d, a in rel))

elif cmd == "verify":
    out, kind, first, last = args[0], args[1], int(args[2]), int(args[3])
    skip = int(args[4]) if len(args) > 4 else 0
    pub = published(stream())
    got = lines_of(out)[skip:]
    problems = []
    seqs = [a.get("seq") for a in got]
    if seqs != list(range(first, last + 1)):
        problems.append("seqs printed %s, expected %d..%d" % (seqs[:80], first, last))
    mism = 0
    for a in got:
        s = a.get("seq")
        if s not in pub:
            continue
        d, exp = pub[s]
        exp = dict(exp, seq=s)
        if kind == "c":  # the log's JSON, acked_at as RFC 3339
            if "acked_at" in exp:
                exp["acked_at"] = rfc(exp["acked_at"])
        else:  # pysub: the msgpack map, times as ms, prev and logged_at
            for k in ("window_start", "window_end", "raised_at"):
                exp[k] = ms_of(exp[k])
            exp.update(prev=int(d["prev"]), logged_at=int(d["t"]))
        if a != exp:
            mism += 1
            if mism <= 3:
                keys = sorted(k for k in set(a) | set(exp) if a.get(k) != exp.get(k))
                problems.append("seq %d differs from the log in %s: printed %s, log %s"
                                % (s, keys, {k: a.get(k) for k in keys}, {k: exp.get(k) for k in keys}))
    if mism:
        problems.append("%d printed alerts differ from their log entry" % mism)
    done(problems, "%d alerts, seqs %d..%d, each once, in order, every field equal to the log"
         % (len(got), first, last))

elif cmd == "snapshot":
    out, n = args[0], int(args[1])
    active = json.load(open(args[2]))
    if isinstance(active, list):  # RESP2: a flat list
        active = dict(zip(active[0::2], active[1::2]))
    got = lines_of(out)[:n]
    want = sorted((json.loads(v) for v in active.values()), key=lambda a: a["seq"])
    for a in want:
        if "acked_at" in a:
            a["acked_at"] = rfc(a["acked_at"])
    problems = []
    if got != want:
        problems.append("snapshot lines %s != active alerts %s"
                        % ([(a.get("seq"), a.get("alert_id")) for a in got],
                           [(a["seq"], a["alert_id"]) for a in want]))
    done(problems, "%d active alerts, seqs %s" % (len(want), " ".join(str(a["seq"]) for a in want)))

elif cmd == "count":
    print(sum(a.get("alert_id") == args[1] for a in lines_of(args[0])))

else:
    sys.exit("check.py: unknown command %s" % cmd)
EOF

# ------------------------------------------------------------- processes
cat > "$W/worker.ini" << 'EOF'
[windows]
bucket = 1m
lateness = 1h
[detectors]
run = threshold
threshold.limit = 10
EOF
ini=$W/worker.ini
start_worker w1 grp-$$ "$REDIS_URL" "$pfx" # an idle topic: only its tick works
hub_track "${WPID[w1]}"
HMPORT=$("$here/../lib/free-port")
hub_start h1 "$pfx" -m "127.0.0.1:$HMPORT" ||
    { fail "hub started" "$(tail -5 "$W/hub-h1.log")"; done_testing; }
sub_start A "$W/a.out" -H "$(hub_ep h1)" --from-seq 1 ||
    { fail "subscriber A started" "$(tail -5 "$W/sub-A.log")"; done_testing; }
$PY "$here/pysub.py" --pub "tcp://127.0.0.1:${HUB_PUB[h1]}" \
    --replay "tcp://127.0.0.1:${HUB_REPLAY[h1]}" --from-seq 1 > "$W/p.out" 2> "$W/p.err" &
PPID_SUB=$!
hub_track $PPID_SUB
wait_until 60 eval "metrics w1 | grep -q '^surgewatch_partitions_owned 4'" ||
    { fail "worker w1 started" "$(tail -5 "$W/w1.log")"; done_testing; }
sleep 1.5 # the subscribers' SUB connections (a first alert lost live would be a gap)

# ------------------------------------------------------------- 0. before
wr HU-RS 1
wr HR-RS 1
P1=$(ids_of HU-RS | head -1)

wait_until 30 printed_upto 2 ||
    fail "0: both subscribers print the first 2 alerts" "a: $(nlines "$W/a.out") p: $(nlines "$W/p.out")"

# ------------------------------------------------------------- 1. s1
out=$(ctl --as ops-1 silence add 'HU-*' --until 20s --reason drill 2>&1)
rc=$?
s1_json=$(rcli HGET "$pfx:silences" s1)
S1_UNTIL=$(field "$s1_json" until)
[ $rc = 0 ] && [[ "$out" == "silence s1: HU-*"* ]] && [ -n "$S1_UNTIL" ] &&
    pass "1: ctl silence add 'HU-*' --until 20s --as ops-1 -> s1 ($out)" ||
    fail "1: ctl silence add -> s1" "exit $rc: $out" "$s1_json"
seq_s1=$(seq_now)
wr HU-RS,HR-RS 12 # 2 HU-RS and 2 HR-RS alerts, each raised, updated, resolved
mapfile -t HU_CYCLED < <(ids_of HU-RS | tail -n +2)
wr HU-RS 1 # A1: raised, held
wr HU-RS 2 # A2: raised and updated, held
A1=$(ids_of HU-RS | sed -n 4p)
A2=$(ids_of HU-RS | sed -n 5p)
wr HR-RS 2 # B1: raised and updated, published
B1=$(ids_of HR-RS | sed -n 4p)
# 8. the ack of P1, published before s1: goes out
out8=$(ctl --as ops-4 ack "$P1" --note "$NOTE8" 2>&1)
rc8=$?
# 4. the ack of A1, held by s1: recorded, not published
out4=$(ctl --as ops-3 ack "$A1" --note "$NOTE4" 2>&1)
rc4=$?
seq_mid=$(seq_now)
[ ${#HU_CYCLED[@]} = 2 ] && [ -n "$A1" ] && [ -n "$A2" ] ||
    fail "1: the HU-RS alerts written during s1 are in the log" "cycled: ${HU_CYCLED[*]} A1=$A1 A2=$A2"
[ $rc8 = 0 ] && [[ "$out8" == *"published as seq"* ]] &&
    pass "8: ctl ack P1 (published before s1) --note ... --as ops-4: $out8" ||
    fail "8: ctl ack P1 is published" "exit $rc8: $out8"
[ $rc4 = 0 ] && [[ "$out4" == *"held by a silence"* ]] &&
    pass "4: ctl ack A1 (held) --as ops-3: $out4" || fail "4: ctl ack of a held alert" "exit $rc4: $out4"
# 13 published so far: P1 B0, 6 HR-RS, B1 x2, P1's ack; held: 6 + A1 + A2 x2 + A1's ack
[ "$seq_mid" = $((seq_s1 + 9)) ] &&
    pass "1: during s1 the seq went from $seq_s1 to $seq_mid: 6 HR-RS + 2 B1 + 1 ack published, the 10 HU-RS entries took none" ||
    fail "1: only the HR-RS transitions and P1's ack took seqs during s1" "seq $seq_s1 -> $seq_mid, expected +9"
wait_until 30 printed_upto "$seq_mid" ||
    fail "1: both subscribers print the alerts published during s1" "a: $(nlines "$W/a.out") p: $(nlines "$W/p.out") of $seq_mid"

# ------------------------------------------------ checks while s1 is active
tap "1: the HU-RS entries written during s1 are held" chk held s1 "${HU_CYCLED[@]}" "$A1" "$A2"
tap "1: the published seqs are 1..n, no gap" chk published-range
held_n=$(rcli --raw XRANGE "$pfx:alerts" - + | grep -cx 'silenced')
[ "$held_n" = 10 ] && pass "1: 10 entries in the log carry a silenced field" ||
    fail "1: 10 held entries in the log" "$held_n"
if wait_until 10 eval '[ "$(hub_metric surgewatch_hub_held_entries_total)" = "$held_n" ]'; then
    pass "1: hub metric surgewatch_hub_held_entries_total = $held_n"
else
    fail "1: hub metric surgewatch_hub_held_entries_total = $held_n" "$(hub_metric surgewatch_hub_held_entries_total)"
fi
bad=""
for id in "${HU_CYCLED[@]}" "$A1" "$A2"; do
    for o in a p; do
        n=$(chk count "$W/$o.out" "$id")
        [ "$n" = 0 ] || bad="$bad $o:$id=$n"
    done
done
n_hr=$(($(grep -c '"section": \?"HR-RS"' "$W/a.out") + $(grep -c '"section": "HR-RS"' "$W/p.out")))
[ -z "$bad" ] && [ "$n_hr" = 18 ] &&
    pass "1: no held alert reached a subscriber; the 9 HR-RS alerts reached both" ||
    fail "1: held alerts reach no subscriber, HR-RS ones reach both" "printed:$bad" "HR-RS lines (a+p): $n_hr, expected 18"

alerts=$(ctl alerts 2>&1)
ok=1
grep -E "^held:s1 +updated +HU-RS .* ops-3 +$A1\$" <<< "$alerts" > /dev/null || ok=0
grep -E "^held:s1 +updated +HU-RS .* - +$A2\$" <<< "$alerts" > /dev/null || ok=0
grep -E "^[0-9]+ +updated +HU-RS .* ops-4 +$P1\$" <<< "$alerts" > /dev/null || ok=0
for id in "${HU_CYCLED[@]}"; do grep -q -- "$id" <<< "$alerts" && ok=0; done
[ $ok = 1 ] && pass "2: ctl alerts: A1 held:s1 (updated: acked by ops-3), A2 held:s1, P1 acked by ops-4, the resolved ones gone" ||
    fail "2: ctl alerts shows the held alerts as held:s1" "$alerts"
sl=$(ctl silence list 2>&1)
grep -Eq "^s1 +active +HU-\* +\* .* ops-1 +drill$" <<< "$sl" &&
    pass "2: ctl silence list: s1 active (HU-*, by ops-1, drill)" || fail "2: ctl silence list shows s1 active" "$sl"
ajson=$(ctl alerts --json 2>&1)
a1j=$(grep -F "\"alert_id\":\"$A1\"" <<< "$ajson")
[ "$(field "$a1j" held_by)" = s1 ] && [ "$(field "$a1j" acked_by)" = ops-3 ] &&
    [ "$(field "$a1j" ack_note)" = "$NOTE4" ] &&
    pass "2: ctl alerts --json: A1 held_by s1, acked_by ops-3, ack_note kept" ||
    fail "2: ctl alerts --json for A1" "$a1j"

# 8. a subscriber started now gets P1 acknowledged in its snapshot
rcli --json HGETALL "$pfx:alerts:active" > "$W/active-s.json"
n_active=$($PY -c 'import json,sys; a=json.load(open(sys.argv[1])); print(len(a) if isinstance(a, dict) else len(a)//2)' "$W/active-s.json")
seq_snap=$(seq_now)
sub_start S "$W/s.out" -H "$(hub_ep h1)" ||
    fail "8: snapshot subscriber S started" "$(tail -3 "$W/sub-S.log")"
wait_until 30 eval '[ $(nlines "$W/s.out") -ge $n_active ]'
tap "8: subscriber S started after the acks: its snapshot is HGETALL :active" chk snapshot "$W/s.out" "$n_active" "$W/active-s.json"
p1s=$(grep -F "\"alert_id\":\"$P1\"" "$W/s.out" | head -1)
[ "$(field "$p1s" acked_by)" = ops-4 ] && [ "$(field "$p1s" ack_note)" = "$NOTE8" ] &&
    ! grep -qF -e "$A1" -e "$A2" "$W/s.out" &&
    pass "8: S's snapshot has P1 acked by ops-4 with the note; no held alert in it" ||
    fail "8: S's snapshot has P1 acknowledged and no held alert" "$p1s"
[ "$(now_ms)" -lt "$S1_UNTIL" ] &&
    pass "1: the checks above ran while s1 was active ($(($S1_UNTIL - $(now_ms))) ms left)" ||
    fail "1: the checks above ran while s1 was active (the machine was too slow: they prove less)" \
        "now $(now_ms), until $S1_UNTIL"

# 8. P1's ack as the subscribers printed it
la=$(grep -F "\"alert_id\":\"$P1\"" "$W/a.out" | tail -1)
lp=$(grep -F "\"alert_id\": \"$P1\"" "$W/p.out" | tail -1)
logj=$(rcli --raw XRANGE "$pfx:alerts" - + | grep -F "\"alert_id\":\"$P1\"" | tail -1)
ack_ms=$(field "$logj" acked_at)
ack_rfc=$($PY -c 'import sys,time; m=int(sys.argv[1]); print(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(m // 1000)) + ".%03dZ" % (m % 1000))' "${ack_ms:-0}")
ok=1
for l in "$la" "$lp"; do
    [ "$(field "$l" state)" = updated ] && [ "$(field "$l" acked_by)" = ops-4 ] &&
        [ "$(field "$l" ack_note)" = "$NOTE8" ] || ok=0
done
[ "$(field "$la" acked_at)" = "$ack_rfc" ] && [ "$(field "$lp" acked_at)" = "$ack_ms" ] || ok=0
[ $ok = 1 ] && [ -n "$ack_ms" ] &&
    pass "8: both subscribers print P1's update: state updated, acked_by ops-4, ack_note '$NOTE8', acked_at $ack_rfc (pysub: $ack_ms ms, the raw msgpack)" ||
    fail "8: the subscribers print P1's ack" "subscribe: $la" "pysub: $lp" "log: $logj"
aud=$(ctl audit --action ack --json 2>&1)
grep -F "\"key\":\"$A1\"" <<< "$aud" | grep -qF '"operator":"ops-3"' &&
    grep -F "\"key\":\"$P1\"" <<< "$aud" | grep -F '"operator":"ops-4"' | grep -qF "5/km" &&
    pass "4/8: the audit has both acks (A1 by ops-3, held; P1 by ops-4 with its note)" ||
    fail "4/8: ctl audit --action ack" "$aud"

# ------------------------------------------------------------- 5. s1 ends
seq_end=$seq_mid # nothing was written since
if wait_until $(((S1_UNTIL - $(now_ms)) / 1000 + 20)) eval 'both_have "$A1" 1 && both_have "$A2" 1'; then
    pass "5: at the end of s1 both subscribers print A1 and A2"
else
    fail "5: at the end of s1 both subscribers print A1 and A2" "$(tail -3 "$W/w1.log")"
fi
tap "5: released=s1: A1 and A2 once each, next seqs, as raised" chk released s1 "$seq_end" "$A1" "$A2"
rel_t=$(rcli --raw XRANGE "$pfx:alerts" "$((seq_end + 1))-1" "$((seq_end + 2))-1" | grep -A1 -x t | grep -v -x t | grep -v -- -- | sort -n | tail -1)
late=$((${rel_t:-0} - S1_UNTIL))
[ -n "$rel_t" ] && [ "$late" -ge 0 ] && [ "$late" -le 2500 ] &&
    pass "5: the worker published them $late ms after s1's time was up (its once-a-second tick; allowed ~2 s)" ||
    fail "5: the worker publishes the held alerts within ~2 s of s1's end" "t=$rel_t until=$S1_UNTIL late=$late ms"
a1l=$(grep -F "\"alert_id\": \"$A1\"" "$W/p.out")
a1c=$(grep -F "\"alert_id\":\"$A1\"" "$W/a.out")
[ "$(field "$a1l" state)" = raised ] && [ "$(field "$a1l" acked_by)" = ops-3 ] &&
    [ "$(field "$a1l" ack_note)" = "$NOTE4" ] && [ "$(field "$a1l" acked_at)" -gt 0 ] &&
    [ "$(field "$a1c" acked_by)" = ops-3 ] && [ "$(field "$a1c" state)" = raised ] &&
    pass "4: A1, acked while held, is published once, as raised, with acked_by ops-3, ack_note, acked_at" ||
    fail "4: A1 published with the ack fields" "pysub: $a1l" "subscribe: $a1c"
[ "$(field "$(grep -F "\"alert_id\": \"$A2\"" "$W/p.out")" state)" = raised ] &&
    pass "5: A2 (held as updated) is published as raised" || fail "5: A2 published as raised" "$(grep -F "$A2" "$W/p.out")"
n_rel=$(metrics w1 | awk '$1 == "surgewatch_silenced_released_total" {print $2}')
[ "$n_rel" = 2 ] && grep -q "silences ended=1 held alerts published=2" "$W/w1.log" &&
    pass "5: it was the worker: surgewatch_silenced_released_total 2, log 'silences ended=1 held alerts published=2'" ||
    fail "5: the worker released them" "metric $n_rel" "$(grep silences "$W/w1.log")"
sla=$(ctl silence list --all --json 2>&1)
s1l=$(grep -F '"id":"s1"' <<< "$sla")
[ "$(field "$s1l" state)" = ended ] && ! grep -q '^s1 ' <<< "$(ctl silence list)" &&
    pass "5: ctl silence list --all: s1 ended ($(field "$s1l" ended)); not in the active list" ||
    fail "5: s1 ended" "$sla"
[ "$(rcli HLEN "$pfx:alerts:held")" = 0 ] && [ -n "$(rcli HGET "$pfx:alerts:active" "$A1")" ] &&
    [ -z "$(rcli HGET "$pfx:alerts:active" "${HU_CYCLED[0]}")" ] &&
    pass "3/5: nothing held any more; A1 active; the alerts resolved during s1 neither held nor active" ||
    fail "3/5: held and active sets after s1" "held: $(rcli HKEYS "$pfx:alerts:held")"
# a new HU-RS alert now: not held
seq_b=$(seq_now)
wr HU-RS 1
[ "$(seq_now)" = $((seq_b + 1)) ] && pass "5: after s1 a new HU-RS alert takes a seq (published)" ||
    fail "5: a new HU-RS alert after s1 is published" "seq $seq_b -> $(seq_now)"

# ------------------------------------------------------- 6/7. s2, expired
"$writer" "$REDIS_URL" "$pfx" 3 0.2 RS-XK >> "$W/writer.log" 2>&1 & # P2: raised now, the rest 5 s apart
wpid=$!
hub_track $wpid
wait_until 30 eval '[ -n "$(ids_of RS-XK)" ]'
kill -STOP $wpid
P2=$(ids_of RS-XK | head -1)
n_p2=$(rcli --raw XRANGE "$pfx:alerts" - + | grep -cF "\"alert_id\":\"$P2\"")
out=$(ctl --as ops-5 silence add 'RS-*' --until 1h --reason exercise 2>&1)
rc=$?
kill -CONT $wpid
[ $rc = 0 ] && [[ "$out" == "silence s2: RS-*"* ]] && [ "$n_p2" = 1 ] &&
    pass "6: P2 (RS-XK) raised and published, then ctl silence add 'RS-*' --until 1h --as ops-5 -> s2" ||
    fail "6: s2 added after P2 was raised (and before its update)" "exit $rc: $out" "P2 entries then: $n_p2"
wr RS-XK 1 # H2: held by s2
H2=$(ids_of RS-XK | sed -n 2p)
wait "$wpid" || fail "the background writer" "$(tail -3 "$W/writer.log")"
p2_pub=$(rcli --raw XRANGE "$pfx:alerts" - + | grep -F "\"alert_id\":\"$P2\"" | grep -o '"state":"[a-z]*"' | tr '\n' ' ')
wait_until 30 eval 'both_have "$P2" 3' &&
    pass "7: P2, raised before s2, has its update and resolve published during s2; both subscribers print all 3 ($p2_pub)" ||
    fail "7: P2's update and resolve go out during s2" "log: $p2_pub" "a: $(chk count "$W/a.out" "$P2") p: $(chk count "$W/p.out" "$P2")"
tap "6: H2, raised during s2, is held" chk held s2 "$H2"
seq_x=$(seq_now)
[ "$(chk count "$W/a.out" "$H2")" = 0 ] && [ "$(chk count "$W/p.out" "$H2")" = 0 ] ||
    fail "6: H2 is not printed while s2 is active"
out=$(ctl --as ops-2 silence expire s2 2>&1)
rc=$?
logged=$(rcli --raw XRANGE "$pfx:alerts" "$((seq_x + 1))-1" "$((seq_x + 1))-1")
[ $rc = 0 ] && [[ "$out" == *"expired by ops-2; 1 held alert published"* ]] &&
    grep -qF "\"alert_id\":\"$H2\"" <<< "$logged" && grep -qx released <<< "$logged" &&
    pass "6: ctl silence expire s2 --as ops-2: $out; seq $((seq_x + 1)) is H2 (released=s2) when ctl returns" ||
    fail "6: ctl silence expire s2 publishes H2 at once" "exit $rc: $out" "$logged"
tap "6: released=s2" chk released s2 "$seq_x" "$H2"
wait_until 30 eval 'both_have "$H2" 1' && pass "6: both subscribers print H2" ||
    fail "6: both subscribers print H2"
out=$(ctl --as ops-2 silence expire s2 2>&1)
rc=$?
[ $rc = 1 ] && pass "6: expiring s2 again: exit 1 ($out)" || fail "6: expiring an ended silence: exit 1" "exit $rc: $out"
aud=$(ctl audit --json 2>&1)
ok=1
grep '"action":"silence.add"' <<< "$aud" | grep '"key":"s1"' | grep -q '"operator":"ops-1"' || ok=0
grep '"action":"silence.add"' <<< "$aud" | grep '"key":"s2"' | grep -q '"operator":"ops-5"' || ok=0
grep '"action":"silence.expire"' <<< "$aud" | grep '"key":"s2"' | grep -q '"operator":"ops-2"' || ok=0
[ "$(grep -c '"action":"silence.expire"' <<< "$aud")" = 1 ] || ok=0
[ $ok = 1 ] && pass "6: audit: silence.add s1 by ops-1, silence.add s2 by ops-5, silence.expire s2 by ops-2 (once)" ||
    fail "6: the audit of the silences" "$aud"

# ------------------------------------------------------------- 9. outputs
LAST=$(seq_now)
wait_until 30 printed_upto "$LAST"
sleep 1.5 # a grace period in which a duplicate or a stray alert would still show up
tap "9: the log's published seqs" chk published-range
tap "9: subscribe (C) from seq 1 = the log's published entries" chk verify "$W/a.out" c 1 "$LAST"
tap "9: pysub.py from seq 1 = the log's published entries (raw msgpack)" chk verify "$W/p.out" py 1 "$LAST"
tap "8/9: subscriber S: after its snapshot, seqs $((seq_snap + 1))..$LAST" chk verify "$W/s.out" c $((seq_snap + 1)) "$LAST" "$n_active"
# line by line: seq, alert_id, state of subscribe against XRANGE
diff <(rcli --json XRANGE "$pfx:alerts" - + | $PY -c '
import json, sys
for eid, f in json.load(sys.stdin):
    ms, n = eid.split("-")
    if n == "1" and ms != "0":
        a = json.loads(dict(zip(f[0::2], f[1::2]))["alert"])
        print(ms, a["alert_id"], a["state"])') \
    <($PY -c '
import json, sys
for l in open(sys.argv[1]):
    a = json.loads(l)
    print(a["seq"], a["alert_id"], a["state"])' "$W/a.out") > "$W/diff9" &&
    pass "9: subscribe's lines (seq alert_id state) equal XRANGE's published entries, $LAST lines" ||
    fail "9: subscribe's lines equal XRANGE" "$(head -10 "$W/diff9")"
for id in "${HU_CYCLED[@]}"; do
    [ "$(chk count "$W/a.out" "$id")$(chk count "$W/p.out" "$id")$(chk count "$W/s.out" "$id")" = 000 ] ||
        fail "3: $id, resolved while held, is never published"
done
[ "$(chk count "$W/a.out" "$A1")$(chk count "$W/p.out" "$A1")" = 11 ] &&
    [ "$(chk count "$W/a.out" "$A2")$(chk count "$W/p.out" "$A2")" = 11 ] &&
    pass "3/4/5: A1 and A2 printed exactly once by each subscriber; the 2 alerts resolved during s1 never" ||
    fail "3/4/5: once each" "A1 $(chk count "$W/a.out" "$A1")/$(chk count "$W/p.out" "$A1") A2 $(chk count "$W/a.out" "$A2")/$(chk count "$W/p.out" "$A2")"

# late subscribers from seq 1: replay across the held entries
sub_start L "$W/l.out" -H "$(hub_ep h1)" --from-seq 1 ||
    fail "late subscriber L started" "$(tail -3 "$W/sub-L.log")"
$PY "$here/pysub.py" --pub "tcp://127.0.0.1:${HUB_PUB[h1]}" \
    --replay "tcp://127.0.0.1:${HUB_REPLAY[h1]}" --from-seq 1 > "$W/q.out" 2> "$W/q.err" &
QPID=$!
hub_track $QPID
wait_until 30 eval '[ $(nlines "$W/l.out") -ge $LAST ] && [ $(nlines "$W/q.out") -ge $LAST ]'
sleep 1.5 # as above; and a heartbeat or two, which would show a missed tail
for s in A S L; do
    stop_proc "${SUB_PID[$s]}" || fail "subscriber $s stops on SIGTERM, exit 0" "$(tail -3 "$W/sub-$s.log")"
done
for p in $PPID_SUB $QPID; do stop_proc $p || fail "pysub.py $p stops on SIGTERM" "exit $?"; done
tap "9: late subscribe --from-seq 1 (replay over the held entries)" chk verify "$W/l.out" c 1 "$LAST"
tap "9: late pysub.py --from-seq 1" chk verify "$W/q.out" py 1 "$LAST"
gaps=""
for s in A S L; do gaps="$gaps $s:$(stopped_field "$s" gaps)"; done
for f in p q; do gaps="$gaps $f:$(grep -o 'gaps=[0-9]*' "$W/$f.err" | tail -1 | cut -d= -f2)"; done
[ "$gaps" = " A:0 S:0 L:0 p:0 q:0" ] &&
    pass "1/9: no subscriber saw a gap (the held entries take no seq):$gaps" ||
    fail "1/9: no subscriber saw a gap" "$gaps" "$(grep -h -i -e gap -e fetching "$W"/sub-*.log | tail -5)"
grep -q 'live=[1-9]' <<< "$(grep 'subscribe: stopped' "$W/sub-A.log")" && grep -q 'live=[1-9]' "$W/p.err" &&
    pass "1: the first subscribers got the alerts live ($(grep -o 'live=[0-9]* replayed=[0-9]*' "$W/sub-A.log" | tail -1); pysub $(grep -o 'live=[0-9]* replayed=[0-9]*' "$W/p.err"))" ||
    fail "1: alerts reached the subscribers live" "$(tail -1 "$W/sub-A.log")" "$(cat "$W/p.err")"

# ------------------------------------------- operator text the log holds
# What ctl accepts, the hub must be able to publish: it is refused (exit 2,
# nothing changed) or else published (not skipped as a bad log entry).
# accepted_or_refused DESC CMD...
accepted_or_refused() {
    local desc=$1 s0 out rc
    shift
    s0=$(seq_now)
    out=$("$@" 2>&1)
    rc=$?
    out=$(cat -v <<< "$out") # (no raw bytes that are not UTF-8 in TAP lines)
    if [ $rc = 2 ] && [ "$(seq_now)" = "$s0" ]; then
        pass "$desc: refused, exit 2, nothing written ($out)"
    elif [ $rc = 0 ] && [ "$(seq_now)" = $((s0 + 1)) ] &&
        wait_until 10 eval '[ "$(hub_metric surgewatch_hub_log_seq)" = $((s0 + 1)) ]' &&
        [ "$(hub_metric surgewatch_hub_bad_log_entries_total)" = 0 ]; then
        pass "$desc: accepted and published by the hub (seq $((s0 + 1)))"
    else
        fail "$desc: refused (exit 2) or published" "exit $rc: $out" "seq $s0 -> $(seq_now)" \
            "hub: $(grep 'not published' "$W/hub-h1.log" | tail -1 | cat -v)"
    fi
}
DEL500=$($PY -c 'import sys; sys.stdout.write(chr(127) * 500)')
accepted_or_refused "10: ctl ack with a note of 500 DEL characters (JSON \\u007f each)" \
    ctl --as ops-6 ack "$B1" --note "$DEL500"
accepted_or_refused "10: ctl ack with a note that is not UTF-8" \
    ctl --as ops-6 ack "$B1" --note "$(printf 'bad \xff\xfe')"
accepted_or_refused "10: ctl ack by an operator name that is not UTF-8" \
    ctl --as "$(printf 'ops-\xff')" ack "$B1"
# a silence: refused, or else listed (an active silence ctl cannot show
# would hold alerts back with no trace)
out=$(ctl --as ops-6 silence add 'RS-*' --until 1h --reason "$(printf 'bad \xff')" 2>&1)
rc=$?
out=$(cat -v <<< "$out")
if [ $rc = 2 ]; then
    pass "10: ctl silence add with a reason that is not UTF-8: refused, exit 2 ($out)"
elif [ $rc = 0 ] && sid=$(sed -n 's/^silence \(s[0-9]*\):.*/\1/p' <<< "$out") &&
    [ -n "$sid" ] && ctl silence list | grep -q "^$sid "; then
    pass "10: ctl silence add with a reason that is not UTF-8: accepted and listed"
else
    fail "10: ctl silence add with a reason that is not UTF-8: refused (exit 2) or listed by ctl silence list" \
        "exit $rc: $out" "$(ctl silence list 2>&1 | cat -v)"
fi

# 11. an acknowledgement stays with the alert: the worker's next transition
# of an acked alert (its JSON knows nothing of the ack) keeps acked_by,
# acked_at and ack_note, in the log and in the active hash
run11=$((RANDOM * 1000 + 11))
SW_WRITER_RUN=$run11 "$writer" "$REDIS_URL" "$pfx" 1 0 HR-RS >> "$W/writer.log" 2>&1
A11="HR-RS:ewma:$run11-0"
ctl --as ops-11 ack "$A11" --note 'kept' > /dev/null 2>&1
SW_WRITER_RUN=$run11 "$writer" "$REDIS_URL" "$pfx" 2 0 HR-RS >> "$W/writer.log" 2>&1
tap "11: the update after an ack (written by the workers' script) keeps the ack" \
    $PY - "$REDIS_HOST" "$REDIS_PORT" "$pfx" "$A11" <<'PYEOF'
import json, subprocess, sys
host, port, pfx, aid = sys.argv[1:5]
def rc(*a):
    return subprocess.run(["redis-cli", "-h", host, "-p", port, "--raw", *a],
                          capture_output=True, text=True, check=True).stdout
rows = rc("XRANGE", pfx + ":alerts", "-", "+").split("\n")
mine = [json.loads(l) for l in rows if l.startswith("{") and aid in l]
states = [m["state"] for m in mine]
assert states == ["raised", "updated", "updated"], states  # raise, ack, update
last = mine[-1]
assert last.get("acked_by") == "ops-11" and last.get("ack_note") == "kept", last
assert last["acked_at"] == mine[1]["acked_at"], (last, mine[1])
act = json.loads(rc("HGET", pfx + ":alerts:active", aid))
assert act.get("acked_by") == "ops-11" and act["seq"] > 0, act
print("states %s, the last update acked by %s" % (states, last["acked_by"]))
PYEOF

stop_proc "${HUB_PID[h1]}" || fail "hub stops on SIGTERM, exit 0" "$(tail -3 "$W/hub-h1.log")"
stop_worker w1
done_testing
