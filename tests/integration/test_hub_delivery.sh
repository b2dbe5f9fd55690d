#!/usr/bin/env bash
# Delivery through `surgewatch hub` to `surgewatch subscribe`, with real
# processes, sockets and redis-server (docs/alerts.md): every alert written
# to the Redis alert log reaches each subscriber exactly once, in seq order,
# and equal to the log entry, while things go wrong:
#   1. 10000 alerts; subscriber A is killed -9 mid-stream, stays down while
#      alerts are written and is restarted from its last seq + 1; subscriber
#      B (--hwm 10) writes into a slow pipe that also stalls for 6 s, so
#      that its live messages are lost (hub --hwm 100): B must notice and
#      recover them by replay;
#   2. the hub is killed -9 mid-stream, alerts are written while it is down,
#      and it is restarted with the same name (its Redis resume point);
#   3. two hubs on one Redis, a subscriber on both; one hub is killed -9;
#   4. the default start: a snapshot of the active alerts (as in Redis),
#      then the live ones.
# Outputs are checked by a Python script against the Redis stream (read with
# redis-cli). Alerts are written in chunks by sw_alert_writer, so that what
# happens "while a process is down" does not depend on timing.
# Needs SW_BIN, SW_GEN (for the tools directory), WORK, REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN SW_GEN WORK REDIS_URL
. "$here/../lib/hub.sh"
. "$here/../lib/redis.sh"
hub_setup hub-delivery
W=$HUB_W
PY=/usr/bin/python3
writer="$(dirname "$SW_GEN")/sw_alert_writer"
SECTIONS=HU-RS,HR-RS,RS-XK,HU-UA,SK-UA,RO-UA,PL-UA
pfx=hubd-$(date +%s)-$$
[ -x "$writer" ] || { fail "tool $writer not built"; done_testing; }

# write PREFIX N RATE: N alerts into PREFIX's log (foreground)
write() {
    "$writer" "$REDIS_URL" "$1" "$2" "$3" "$SECTIONS" >> "$W/writer.log" 2>&1 ||
        fail "sw_alert_writer $*" "$(tail -3 "$W/writer.log")"
}
# write_bg PREFIX N RATE: the same in the background; WPID is its pid
write_bg() {
    "$writer" "$REDIS_URL" "$1" "$2" "$3" "$SECTIONS" >> "$W/writer.log" 2>&1 &
    WPID=$!
    hub_track $WPID
}
wait_writer() { wait "$WPID" || fail "sw_alert_writer (background)" "$(tail -3 "$W/writer.log")"; }
log_seq() { rcli GET "$1:alerts:seq"; }
kill9() { kill -9 "$1" 2> /dev/null; wait "$1" 2> /dev/null; }
# wait_lines FILE N PID: until FILE has at least N lines, or process PID
# (what writes FILE) is gone; 60 s at most
wait_lines() { wait_until 60 eval "[ \$(nlines '$1') -ge $2 ] || ! kill -0 $3 2>/dev/null"; }
# settle: a grace period after a subscriber printed what was expected, in
# which a duplicate or a stray alert would still show up (not a timing
# assertion: nothing fails because something was slow)
settle() { sleep 1.5; }

# verify OUT PREFIX FIRST LAST [ACTIVE_JSON]: OUT holds exactly the alerts
# FIRST..LAST of PREFIX's log, in order, each once, each equal to the log
# entry (alert_id, state, section and every other field); with ACTIVE_JSON
# (HGETALL PREFIX:alerts:active as JSON), OUT starts with exactly those
# alerts, in seq order, as a snapshot.
verify() {
    $PY - "$REDIS_HOST" "$REDIS_PORT" "$@" << 'EOF'
import json, subprocess, sys
host, port, out, prefix, first, last = sys.argv[1:7]
first, last = int(first), int(last)
active = json.load(open(sys.argv[7])) if len(sys.argv) > 7 else None
raw = subprocess.run(["redis-cli", "-h", host, "-p", port, "--json", "XRANGE",
                      prefix + ":alerts", "%d-1" % first, "%d-1" % last],
                     check=True, capture_output=True, text=True).stdout
log = {}
for eid, fields in json.loads(raw):
    f = dict(zip(fields[0::2], fields[1::2]))
    log[int(eid.split("-")[0])] = json.loads(f["alert"])
problems = []
if sorted(log) != list(range(first, last + 1)):
    problems.append("the Redis log itself does not hold %d..%d" % (first, last))
lines = open(out, encoding="utf-8").read().splitlines()
got = []
for i, l in enumerate(lines):
    try:
        got.append(json.loads(l))
    except ValueError:
        problems.append("line %d is not JSON: %r" % (i + 1, l[:120]))
        got.append({"seq": None})
if active is not None:
    snap = sorted((json.loads(v) for v in active.values()), key=lambda a: a["seq"])
    head, got = got[:len(snap)], got[len(snap):]
    ids = sorted(a.get("alert_id", "?") for a in head)
    if ids != sorted(active):
        problems.append("snapshot alert_ids %s != active set %s" % (ids, sorted(active)))
    elif head != snap:
        problems.append("snapshot lines differ from the active set (order or fields): %s"
                        % [a.get("seq") for a in head])
seqs = [a.get("seq") for a in got]
want = list(range(first, last + 1))
if seqs != want:
    c = {}
    for s in seqs:
        c[s] = c.get(s, 0) + 1
    missing = [s for s in want if s not in c]
    dups = sorted(s for s, k in c.items() if k > 1)
    extra = sorted((s for s in c if not isinstance(s, int) or not first <= s <= last), key=str)
    disorder = [i for i in range(1, len(seqs)) if isinstance(seqs[i], int)
                and isinstance(seqs[i - 1], int) and seqs[i] <= seqs[i - 1]]
    problems.append("seqs: %d lines for %d alerts; missing %d %s; duplicated %d %s; "
                    "outside %d %s; out of order at %d lines %s"
                    % (len(seqs), len(want), len(missing), missing[:8], len(dups), dups[:8],
                       len(extra), extra[:8], len(disorder),
                       [(seqs[i - 1], seqs[i]) for i in disorder[:5]]))
mism = 0
for a in got:
    s = a.get("seq")
    if s in log:
        b = dict(a)
        del b["seq"]
        if b != log[s]:
            mism += 1
            if mism <= 3:
                keys = sorted(k for k in set(b) | set(log[s]) if b.get(k) != log[s].get(k))
                problems.append("seq %s differs from the log in %s (printed %s, log %s)"
                                % (s, keys, {k: b.get(k) for k in keys},
                                   {k: log[s].get(k) for k in keys}))
if mism:
    problems.append("%d printed alerts differ from their log entry" % mism)
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
}
# the last complete line's seq in FILE, after cutting a partial last line
# (a process killed with -9 can leave half a line of its stdio buffer)
cut_partial() {
    $PY - "$1" << 'EOF'
import json, sys
p = sys.argv[1]
data = open(p, "rb").read()
if data and not data.endswith(b"\n"):
    data = data[:data.rfind(b"\n") + 1]
    open(p, "wb").write(data)
    print("cut", end=" ")
lines = data.splitlines()
print(json.loads(lines[-1])["seq"] if lines else 0)
EOF
}
# stop_sub NAME DESC: SIGTERM -> exit 0 with its "stopped" line
stop_sub() {
    local rc
    stop_proc "${SUB_PID[$1]}"
    rc=$?
    if [ $rc -eq 0 ] && [ -n "$(stopped_field "$1" printed)" ]; then
        pass "$2: subscriber $1 stops on SIGTERM, exit 0 ($(grep 'subscribe: stopped' "$W/sub-$1.log" | tail -1 | sed 's/.*stopped //'))"
    else
        fail "$2: subscriber $1 stops on SIGTERM with exit 0" "exit $rc" "$(tail -5 "$W/sub-$1.log")"
    fi
}
# stop_hub NAME DESC: SIGTERM -> exit 0
stop_hub() {
    local rc
    stop_proc "${HUB_PID[$1]}"
    rc=$?
    [ $rc -eq 0 ] && pass "$2: hub $1 stops on SIGTERM, exit 0" ||
        fail "$2: hub $1 stops on SIGTERM with exit 0" "exit $rc" "$(tail -5 "$W/hub-$1.log")"
}
# started STATUS DESC LOG: after hub_start/sub_start; when it failed, a
# failure with LOG's tail, and the end of the script (the rest needs it)
started() {
    [ "$1" -eq 0 ] && return 0
    fail "$2 started" "$(tail -5 "$3" 2> /dev/null)"
    done_testing
}

# ---------------------------------------------------------------- 1.
# Subscriber A: killed -9 after 2000 printed alerts, down while 4000 are
# written, restarted with --from-seq (last printed + 1), output appended,
# while the last 2000 are written (more slowly, so that its replay usually
# catches up and hands over to the live feed).
# Subscriber B: its stdout goes through a pipe to slow_reader.py (1000
# lines/s, and a 6 s stall after 1000 lines), its ZeroMQ queue is 10 and the
# hub's per-subscriber queue 100: B blocks on its output and falls thousands
# behind. A slow rate alone is not enough: the kernel's TCP buffers on
# loopback (the hub's send buffer grows to 4 MB) can hold the whole stream
# of ~3 MB, so nothing need be dropped; the stall, longer than the 3 s
# ZeroMQ heartbeat timeout of the hub's and the subscriber's sockets, makes
# the connection (and what is queued on it) go. Either way B must notice the
# loss, fetch it by replay, and not die.
p1=$pfx-1
hub_start h1 "$p1" --hwm 100
started $? "1: hub h1" "$W/hub-h1.log"
mkfifo "$W/b.fifo"
$PY "$here/slow_reader.py" "$W/b.out" 1000 1000 6 < "$W/b.fifo" &
rpid=$!
hub_track $rpid
sub_start A "$W/a.out" -H "$(hub_ep h1)" --from-seq 1
started $? "1: subscriber A" "$W/sub-A.log"
sub_start B "$W/b.fifo" -H "$(hub_ep h1)" --from-seq 1 --hwm 10
started $? "1: subscriber B" "$W/sub-B.log"
write_bg "$p1" 4000 2500
wait_lines "$W/a.out" 2000 "${SUB_PID[A]}" || fail "1: A printed 2000 alerts" "$(tail -3 "$W/sub-A.log")"
kill9 "${SUB_PID[A]}"
killed_at=$(log_seq "$p1")
wait_writer
write "$p1" 4000 2500 # A is down
last=$(cut_partial "$W/a.out")
echo "# A killed -9 when the log was at seq $killed_at; its last complete line: seq ${last#cut }$([ "${last#cut }" = "$last" ] || echo ' (a partial line after it was cut)')"
last=${last#cut }
write_bg "$p1" 2000 1000
sub_start A "$W/a.out" -H "$(hub_ep h1)" --from-seq $((last + 1))
started $? "1: subscriber A (restart)" "$W/sub-A.log"
wait_writer
[ "$(log_seq "$p1")" = 10000 ] && pass "1: 10000 alerts written (4000, 4000 with A down, 2000)" ||
    fail "1: 10000 alerts written" "seq $(log_seq "$p1")"
wait_lines "$W/a.out" 10000 "${SUB_PID[A]}"
wait_lines "$W/b.out" 10000 $rpid
settle
stop_sub A 1
stop_sub B 1
wait $rpid 2> /dev/null
check "1: A (killed -9, restarted with --from-seq $((last + 1))): exactly seqs 1..10000 in order, each equal to its log entry" \
    verify "$W/a.out" "$p1" 1 10000
check "1: B (throttled: slow pipe, --hwm 10, hub --hwm 100): exactly seqs 1..10000 in order, each equal to its log entry" \
    verify "$W/b.out" "$p1" 1 10000
r=$(stopped_field B replayed) g=$(stopped_field B gaps)
[ "${r:-0}" -gt 0 ] || [ "${g:-0}" -gt 0 ] &&
    pass "1: B's live messages were really dropped and recovered (replayed=$r gaps=$g)" ||
    fail "1: B's throttle made the hub drop live messages (replayed > 0 or gaps > 0)" \
        "$(grep 'subscribe: stopped' "$W/sub-B.log" || tail -3 "$W/sub-B.log")"
r=$(stopped_field A replayed)
[ "${r:-0}" -gt 0 ] && pass "1: restarted A fetched what it missed by replay (replayed=$r)" ||
    fail "1: restarted A fetched what it missed by replay" "$(grep 'subscribe: stopped' "$W/sub-A.log")"
stop_hub h1 1

# ---------------------------------------------------------------- 2.
# The hub is killed -9 after the subscriber printed 1000 alerts, 2000 are
# written while it is down, it is restarted with the same name (so from its
# resume point in Redis) while 2000 more are written.
p2=$pfx-2
hub_start h2 "$p2"
started $? "2: hub h2" "$W/hub-h2.log"
sub_start S2 "$W/s2.out" -H "$(hub_ep h2)" --from-seq 1
started $? "2: subscriber S2" "$W/sub-S2.log"
write_bg "$p2" 2000 2500
wait_lines "$W/s2.out" 1000 "${SUB_PID[S2]}" || fail "2: S2 printed 1000 alerts" "$(tail -3 "$W/sub-S2.log")"
kill9 "${HUB_PID[h2]}"
echo "# hub h2 killed -9 when the log was at seq $(log_seq "$p2")"
wait_writer
write "$p2" 2000 2500 # the hub is down
write_bg "$p2" 2000 2500
hub_start h2 "$p2"
started $? "2: hub h2 (restart)" "$W/hub-h2.log"
wait_writer
resumed=$(grep 'reading the alert log' "$W/hub-h2.log" | tail -1)
grep -q 'resume point of this hub' <<< "$resumed" &&
    pass "2: the restarted hub goes on from its resume point (${resumed#*INFO hub: })" ||
    fail "2: the restarted hub goes on from its resume point in Redis" "$resumed"
wait_lines "$W/s2.out" 6000 "${SUB_PID[S2]}"
settle
stop_sub S2 2
check "2: a subscriber across a hub killed -9 and restarted: exactly seqs 1..6000 in order, each equal to its log entry" \
    verify "$W/s2.out" "$p2" 1 6000
stop_hub h2 2

# ---------------------------------------------------------------- 3.
# Two hubs on one Redis; C connects to both. D, also on both, stops by
# itself after 1500 alerts, before the kill: its duplicates show that both
# hubs delivered. Hub 3a (C's first, its replay hub) is killed -9 after C
# printed 1500; 3000 more are written with one hub left.
p3=$pfx-3
hub_start h3a "$p3"
started $? "3: hub h3a" "$W/hub-h3a.log"
hub_start h3b "$p3"
started $? "3: hub h3b" "$W/hub-h3b.log"
sub_start C "$W/c.out" -H "$(hub_ep h3a)" -H "$(hub_ep h3b)" --from-seq 1
started $? "3: subscriber C" "$W/sub-C.log"
sub_start D "$W/d.out" -H "$(hub_ep h3a)" -H "$(hub_ep h3b)" --from-seq 1 --count 1500
started $? "3: subscriber D" "$W/sub-D.log"
write_bg "$p3" 3000 2500
wait_until 60 eval "! kill -0 ${SUB_PID[D]} 2>/dev/null"
wait "${SUB_PID[D]}"
rc=$?
d=$(stopped_field D duplicates)
[ $rc -eq 0 ] && [ "${d:-0}" -gt 0 ] && [ "$(stopped_field D printed)" = 1500 ] &&
    pass "3: before the kill, both hubs delivered: D (on both, --count 1500) exits 0 with duplicates=$d" ||
    fail "3: before the kill, D (on both hubs, --count 1500) exits 0 with duplicates > 0" \
        "exit $rc" "$(tail -3 "$W/sub-D.log")"
check "3: D printed exactly seqs 1..1500 in order" verify "$W/d.out" "$p3" 1 1500
wait_lines "$W/c.out" 1500 "${SUB_PID[C]}" || fail "3: C printed 1500 alerts" "$(tail -3 "$W/sub-C.log")"
kill9 "${HUB_PID[h3a]}"
echo "# hub h3a killed -9 when the log was at seq $(log_seq "$p3")"
wait_writer
write "$p3" 3000 2500 # one hub left
wait_lines "$W/c.out" 6000 "${SUB_PID[C]}"
settle
stop_sub C 3
check "3: C on two hubs, one killed -9: exactly seqs 1..6000 in order, each equal to its log entry" \
    verify "$W/c.out" "$p3" 1 6000
d=$(stopped_field C duplicates)
[ "${d:-0}" -gt 0 ] && pass "3: C de-duplicated what both hubs sent (duplicates=$d)" ||
    fail "3: C saw both hubs' copies (duplicates > 0)" "$(grep 'subscribe: stopped' "$W/sub-C.log")"
stop_hub h3b 3

# ---------------------------------------------------------------- 4.
# Alerts exist, some active: each writer run leaves its last alert id
# raised or updated (the writer cycles raised -> updated -> resolved), the
# 300-run leaves none. A subscriber started with the default (snapshot)
# prints exactly the active set of Redis, then the 2000 written after.
p4=$pfx-4
hub_start h4 "$p4"
started $? "4: hub h4" "$W/hub-h4.log"
i=0
for n in 301 4 302 7 300 11 14 16 19; do
    "$writer" "$REDIS_URL" "$p4" "$n" 0 "$(cut -d, -f$((i % 7 + 1)) <<< "$SECTIONS")" >> "$W/writer.log" 2>&1 ||
        fail "4: sw_alert_writer $n" "$(tail -3 "$W/writer.log")"
    i=$((i + 1))
done
before=$(log_seq "$p4")
rcli --json HGETALL "$p4:alerts:active" > "$W/active.json"
nact=$(rcli HLEN "$p4:alerts:active")
[ "$nact" = 8 ] && pass "4: $before alerts in the log, 8 of them active" ||
    fail "4: the writer runs leave 8 active alerts" "HLEN $nact"
sub_start E "$W/e.out" -H "$(hub_ep h4)"
started $? "4: subscriber E (snapshot start)" "$W/sub-E.log"
write "$p4" 2000 2500
wait_lines "$W/e.out" $((nact + 2000)) "${SUB_PID[E]}"
settle
stop_sub E 4
check "4: snapshot start: the $nact active alerts (as HGETALL $p4:alerts:active, in seq order), then exactly seqs $((before + 1))..$((before + 2000))" \
    verify "$W/e.out" "$p4" $((before + 1)) $((before + 2000)) "$W/active.json"
stop_hub h4 4

# ---------------------------------------------------------------- 5.
# A gap that cannot be filled yet is not skipped. The hub is killed -9, 200
# alerts are written, and a hub comes back on the same PUB port but with its
# replay socket elsewhere: the subscriber sees the gap, no replay answers,
# so it prints nothing past the gap (printing on would leave a hole for
# good). When a hub with the replay socket is back, it fills the gap and
# goes on: exactly 1..500 in order.
p5=$pfx-5
hub_start h5 "$p5"
started $? "5: hub h5" "$W/hub-h5.log"
sub_start G "$W/g.out" -H "$(hub_ep h5)" --from-seq 1
started $? "5: subscriber G" "$W/sub-G.log"
write "$p5" 100 0
wait_lines "$W/g.out" 100 "${SUB_PID[G]}"
kill9 "${HUB_PID[h5]}"
write "$p5" 200 0 # while no hub runs
# the same PUB port, another replay port: the subscriber's replay is gone
HUB_REPLAY[h5x]=$("$here/../lib/free-port")
HUB_PUB[h5x]=${HUB_PUB[h5]}
hub_start h5x "$p5" --start 301
started $? "5: hub h5x (same PUB port, replay elsewhere)" "$W/hub-h5x.log"
write "$p5" 100 0
wait_until 60 grep -q "could not fetch the alerts before" "$W/sub-G.log" &&
    [ "$(nlines "$W/g.out")" = 100 ] &&
    pass "5: gap not fillable (no replay): nothing printed past seq 100, a warning logged" ||
    fail "5: unfillable gap" "$(nlines "$W/g.out") lines" "$(tail -3 "$W/sub-G.log")"
stop_hub h5x 5
hub_start h5 "$p5" # back on both of its ports
started $? "5: hub h5 (restart)" "$W/hub-h5.log"
write "$p5" 100 0
wait_lines "$W/g.out" 500 "${SUB_PID[G]}"
settle
stop_sub G 5
check "5: once a replay answers: exactly seqs 1..500 in order, each equal to its log entry" \
    verify "$W/g.out" "$p5" 1 500
stop_hub h5 5

done_testing
