#!/usr/bin/env bash
# Redis with passwords and ACL users, for every program (docs/security.md,
# "Redis: passwords and ACL users"). A redis-server of its own, whose default
# user has a password (requirepass), gets the four users of the page, created
# with the ACL SETUSER lines read from docs/security.md (only PASSWORD is
# replaced), so that the page and this test cannot drift apart. Then:
#  - a worker as sw-worker (URL in SURGEWATCH_REDIS_URL) stores the first
#    thresholds, counts events, raises an alert, records sections and
#    checkpoints, subscribes to the thresholds channel, applies a change,
#    holds alerts under silences and releases one when its time is up;
#  - a hub as sw-hub publishes every alert to a subscriber and keeps its
#    resume point;
#  - ctl as sw-ctl sets a threshold, adds and expires silences, acks an
#    alert and reads the audit log;
#  - the auditor reads the audit log, thresholds, alerts and silences, and
#    every changing verb fails with NOPERM and changes nothing;
#  - no user but the administrator can XDEL, XTRIM, DEL, UNLINK, SET,
#    EXPIRE or RENAME the audit log; the documented gap (XADD MAXLEN) shows
#    in XINFO STREAM as documented;
#  - a wrong password: ctl exits 3 naming WRONGPASS; run and hub keep
#    running, say so in their log and on /healthz (503), and exit 0 on
#    SIGTERM; no password: ctl exits 3 naming NOAUTH; the plain password of
#    the default user (redis://:PASSWORD@) works.
# Needs SW_BIN, WORK, KAFKA_BOOTSTRAP, and redis-server / redis-cli 7.0 or
# later (selectors, %R~ key patterns). REDIS_URL is not used: the test
# starts its own server and stops it at the end.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/hub.sh"
require_env SW_BIN WORK KAFKA_BOOTSTRAP
root=$(cd "$here/../.." && pwd)
doc=$root/docs/security.md
PY=/usr/bin/python3
W=$WORK/redis-acl
rm -rf "$W"
mkdir -p "$W"
HUB_W=$W # sub_start's logs
B=$KAFKA_BOOTSTRAP
topic=redis-acl-$$
freeport() { "$here/../lib/free-port"; }
rand() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }

# ------------------------------------------------ a redis-server of its own
RDIR=$W/redis
mkdir -p "$RDIR"
RPORT=$(freeport)
ADMINPW=admin-$(rand)
stop_redis() {
    [ -f "$RDIR/redis.pid" ] || return 0
    local pid
    pid=$(cat "$RDIR/redis.pid")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    rm -f "$RDIR/redis.pid"
}
cleanup() {
    _hub_cleanup # every process given to hub_track
    stop_redis
}
trap cleanup EXIT
command -v redis-server > /dev/null && command -v redis-cli > /dev/null || {
    fail "redis-server and redis-cli are installed (scripts/install-deps)"
    done_testing
}
# the password in a file of mode 0600, not on the command line
(
    umask 077
    cat > "$RDIR/redis.conf" <<EOF
bind 127.0.0.1
port $RPORT
save ""
appendonly no
dir $RDIR
daemonize yes
pidfile $RDIR/redis.pid
logfile $RDIR/redis.log
requirepass $ADMINPW
EOF
)
redis-server "$RDIR/redis.conf" > /dev/null 2>&1
admin() { redis-cli -h 127.0.0.1 -p "$RPORT" --user default --pass "$ADMINPW" --no-auth-warning "$@"; }
as_user() { # USER COMMAND...: redis-cli as a user of the page
    local u=$1
    shift
    redis-cli -h 127.0.0.1 -p "$RPORT" --user "$u" --pass "${PW[$u]}" --no-auth-warning "$@" 2>&1
}
wait_until 10 eval '[ "$(admin PING 2>/dev/null)" = PONG ]' || {
    fail "redis-server with requirepass answers on 127.0.0.1:$RPORT" "$(tail -5 "$RDIR/redis.log")"
    done_testing
}
version=$(admin INFO server | sed -n 's/^redis_version:\([0-9]*\)\..*/\1/p' | tr -d '\r')
[ "${version:-0}" -ge 7 ] && pass "redis-server $version with a password for the default user" \
    || { fail "redis-server 7.0 or later (selectors, %R~ key patterns)" "version: $version"; done_testing; }
out=$(redis-cli -h 127.0.0.1 -p "$RPORT" PING 2>&1)
grep -q NOAUTH <<< "$out" && pass "a client without a password is refused: $out" \
    || fail "a client without a password is refused" "got: $out"

# ---------------------------------------- the users, as docs/security.md says
declare -A PW URL
mapfile -t lines < <(grep -E '^ACL SETUSER sw-[a-z]+ ' "$doc")
users=()
for l in "${lines[@]}"; do users+=("$(awk '{print $3}' <<< "$l")"); done
if [ "${users[*]}" = "sw-worker sw-hub sw-ctl sw-auditor" ]; then
    pass "docs/security.md gives one ACL SETUSER line each for sw-worker, sw-hub, sw-ctl, sw-auditor"
else
    fail "docs/security.md gives one ACL SETUSER line each for sw-worker, sw-hub, sw-ctl, sw-auditor" \
        "found: ${users[*]:-none}"
    done_testing
fi
bad=""
for i in "${!lines[@]}"; do
    u=${users[$i]}
    l=${lines[$i]}
    PW[$u]=$(rand)
    URL[$u]=redis://$u:${PW[$u]}@127.0.0.1:$RPORT
    [ "$(grep -o '>PASSWORD' <<< "$l" | wc -l)" = 1 ] || bad="$bad $u: no single >PASSWORD;"
    # redis-cli reads the line as it would be typed: the selector in
    # parentheses is several words, which Redis joins again
    reply=$(printf '%s\n' "${l/>PASSWORD/>${PW[$u]}}" | admin 2>&1)
    [ "$reply" = OK ] || bad="$bad $u: $reply;"
done
[ -z "$bad" ] && pass "redis-server accepts the four lines of the page as they are" \
    || fail "redis-server accepts the four lines of the page" "$bad"
wrongpw=not-the-password-$$

# ------------------------------------------------------------------ helpers
# ctl_as USER NAME ARGS...: surgewatch ctl with USER's URL in
# SURGEWATCH_REDIS_URL (the way the page recommends); stdout in $W/NAME.out,
# stderr in $W/NAME.err; returns ctl's exit status
ctl_as() {
    local u=$1 name=$2
    shift 2
    SURGEWATCH_REDIS_URL=${URL[$u]} "$SW_BIN" ctl "$@" > "$W/$name.out" 2> "$W/$name.err"
}
# sub_has ALERT_ID STATE [KEY=VALUE...]: the subscriber printed that alert
# transition (JSON line) with those keys
sub_has() {
    $PY - "$W/sub.jsonl" "$@" <<'EOF'
import json, sys
path, aid, state, *kv = sys.argv[1:]
want = dict(x.split("=", 1) for x in kv)
for line in open(path):
    try:
        a = json.loads(line)
    except ValueError:
        continue
    if a.get("alert_id") == aid and a.get("state") == state and \
            all(str(a.get(k)) == v for k, v in want.items()):
        sys.exit(0)
sys.exit(1)
EOF
}
# log_entry ALERT_ID FIELD: prints the value of FIELD of the alert log entry
# (as the administrator reads it) of the last transition of ALERT_ID
log_entry() {
    admin --raw XRANGE sw:alerts - + > "$W/log.txt"
    $PY - "$W/log.txt" "$1" "$2" <<'EOF'
import sys
path, aid, field = sys.argv[1:]
lines = open(path).read().split("\n")
# --raw XRANGE: id, then field, value, field, value ... until the next id
entries, cur = [], None
for l in lines:
    if l and l[0].isdigit() and "-" in l and " " not in l and "{" not in l:
        cur = {"id": l, "fields": []}
        entries.append(cur)
    elif cur is not None:
        cur["fields"].append(l)
found = None
for e in entries:
    f = dict(zip(e["fields"][0::2], e["fields"][1::2]))
    if '"alert_id":"%s"' % aid in f.get("alert", ""):
        found = dict(f, id=e["id"])
if found and field in found:
    print(found[field])
EOF
}
# log_has ALERT_ID FIELD VALUE: some entry of ALERT_ID has FIELD = VALUE
log_has() {
    admin --raw XRANGE sw:alerts - + > "$W/log2.txt"
    $PY - "$W/log2.txt" "$@" <<'EOF'
import sys
path, aid, field, value = sys.argv[1:]
lines = open(path).read().split("\n")
entries, cur = [], None
for l in lines:
    if l and l[0].isdigit() and "-" in l and " " not in l and "{" not in l:
        cur = []
        entries.append(cur)
    elif cur is not None:
        cur.append(l)
for e in entries:
    f = dict(zip(e[0::2], e[1::2]))
    if '"alert_id":"%s"' % aid in f.get("alert", "") and f.get(field) == value:
        sys.exit(0)
sys.exit(1)
EOF
}
wmetric() { # the worker's metric (exact name with labels)
    curl -s --max-time 2 "http://127.0.0.1:$WMP/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
hmetric() {
    curl -s --max-time 2 "http://127.0.0.1:$HMP/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
events() { # FILE then lines "ID SECTION HOUR COUNT" on stdin (2019-03-01)
    $PY -c '
import json, sys
for line in sys.stdin:
    i, sec, h, c = line.split()
    print(json.dumps({"id": "acl-" + i, "src": sec[:2], "section": sec,
                      "ts": "2019-03-01T%02d:00:00Z" % int(h),
                      "type": "irregular_crossing", "count": int(c)}))' > "$1"
}
publish() { # FILE
    "$SW_BIN" publish -q -b "$B" -t "$topic" "$1" 2>> "$W/publish.err" \
        || fail "publish $(basename "$1")" "$(tail -3 "$W/publish.err")"
}

# ------------------------------------------------ hub and subscriber first
HPUB=$(freeport)
HREP=$(freeport)
HMP=$(freeport)
SURGEWATCH_REDIS_URL=${URL[sw-hub]} "$SW_BIN" hub --name hub1 --pub "tcp://127.0.0.1:$HPUB" \
    --replay "tcp://127.0.0.1:$HREP" -m "127.0.0.1:$HMP" 2> "$W/hub.log" &
HUBPID=$!
hub_track $HUBPID
if wait_until 60 grep -q "reading the alert log" "$W/hub.log" && kill -0 $HUBPID 2>/dev/null; then
    pass "hub as sw-hub (URL in SURGEWATCH_REDIS_URL) reads the alert log"
else
    fail "hub as sw-hub reads the alert log" "$(tail -5 "$W/hub.log")"
fi
sub_start s1 "$W/sub.jsonl" -H "tcp://127.0.0.1:$HPUB,tcp://127.0.0.1:$HREP" \
    || fail "subscriber connected to the hub" "$(tail -5 "$W/sub-s1.log")"

# ------------------------------------------------------- worker as sw-worker
# resolve_after 100: no alert resolves while the test runs (sections may
# share a partition, whose watermark then closes the buckets of both)
cat > "$W/w.ini" <<'EOF'
[windows]
bucket = 1h
lateness = 24h
[alerts]
resolve_after = 100
[detectors]
run = threshold
threshold.limit = 10
EOF
# GR-MK and HR-RS: one person each, so that they are known sections; HU-RS:
# 15 persons in the 11:00 bucket (limit 10), closed by the 12:00 event
events "$W/batch1.jsonl" <<'EOF'
1 GR-MK 8 1
2 HR-RS 8 1
3 HU-RS 10 3
4 HU-RS 11 15
5 HU-RS 12 1
EOF
publish "$W/batch1.jsonl"
WMP=$(freeport)
SURGEWATCH_REDIS_URL=${URL[sw-worker]} "$SW_BIN" run -b "$B" -t "$topic" -c "$W/w.ini" \
    -g "grp-$$" --dlq-topic "$topic.dlq" -m "127.0.0.1:$WMP" --checkpoint-interval 1s \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 2> "$W/worker.log" &
WPID=$!
hub_track $WPID
HU=HU-RS:threshold:2019-03-01T11:00Z
GR=GR-MK:threshold:2019-03-01T13:00Z
HR=HR-RS:threshold:2019-03-01T15:00Z

raised() { [ "$(wmetric 'surgewatch_alerts_total{state="raised"}')" = 1 ]; }
wait_until 90 raised && pass "worker as sw-worker counted the events and raised 1 alert" \
    || fail "worker as sw-worker raised the alert" "raised=$(wmetric 'surgewatch_alerts_total{state="raised"}')" \
        "$(tail -5 "$W/worker.log")"
grep -q "thresholds stored in Redis for the first time" "$W/worker.log" &&
    [ "$(admin --raw XRANGE sw:audit - + | grep -cx seed)" -ge 2 ] &&
    [ "$(admin GET sw:thresholds:version)" = 1 ] \
    && pass "worker as sw-worker stored the config's thresholds as version 1, with seed entries in the audit log" \
    || fail "worker stored the first thresholds (seed)" "$(grep thresholds "$W/worker.log" | head -3)" \
        "version: $(admin GET sw:thresholds:version)"
[ "$(log_entry "$HU" prev)" = 0 ] && [ -n "$(log_entry "$HU" alert)" ] \
    && pass "the alert is in the alert log: $HU, entry $(log_entry "$HU" id)" \
    || fail "the alert is in the alert log" "$(head -c 600 "$W/log.txt")"
wait_until 30 sub_has "$HU" raised && pass "hub as sw-hub published it: the subscriber printed $HU raised" \
    || fail "the subscriber printed $HU" "$(cat "$W/sub.jsonl")" "$(tail -3 "$W/hub.log")"
known() { [ "$(admin SMEMBERS sw:sections | sort | tr '\n' ' ')" = "GR-MK HR-RS HU-RS " ]; }
wait_until 15 known && pass "worker recorded the sections it counted (SADD sw:sections): $(admin SMEMBERS sw:sections | tr '\n' ' ')" \
    || fail "worker recorded the sections" "$(admin SMEMBERS sw:sections | tr '\n' ' ')"
ckpt() { [ -n "$(admin --scan --pattern "sw:ckpt:$topic:*")" ]; }
wait_until 20 ckpt && [ "$(wmetric surgewatch_checkpoints_failed_total)" = 0 ] \
    && pass "worker wrote checkpoints: $(admin --scan --pattern "sw:ckpt:$topic:*" | sort | tr '\n' ' ')" \
    || fail "worker wrote checkpoints" "failed=$(wmetric surgewatch_checkpoints_failed_total)"
resume() { [ "$(admin GET sw:hub:hub1:published)" -ge 1 ] 2>/dev/null; }
wait_until 15 resume && pass "hub recorded its resume point sw:hub:hub1:published = $(admin GET sw:hub:hub1:published)" \
    || fail "hub recorded its resume point" "GET: $(admin GET sw:hub:hub1:published)"
[ "$(admin PUBSUB NUMSUB sw:thresholds | tail -1)" = 1 ] \
    && pass "worker subscribed to the thresholds channel sw:thresholds" \
    || fail "worker subscribed to sw:thresholds" "$(admin PUBSUB NUMSUB sw:thresholds | tr '\n' ' ')" \
        "$(grep SUBSCRIBE "$W/worker.log" | tail -2)"

# ----------------------------------------------------------- ctl as sw-ctl
ctl_as sw-ctl set1 set HU-RS threshold.limit 20 --as anna
rc=$?
[ "$rc" = 0 ] && [ "$(admin GET sw:thresholds:version)" = 2 ] &&
    [ "$(admin HGET sw:thresholds 'HU-RS threshold.limit')" = 20 ] \
    && pass "ctl as sw-ctl: set HU-RS threshold.limit 20 -> version 2 ($(tail -1 "$W/set1.out"))" \
    || fail "ctl as sw-ctl: set" "exit $rc" "$(cat "$W/set1.err" "$W/set1.out")"
applied() { [ "$(wmetric surgewatch_thresholds_version)" = 2 ]; }
wait_until 15 applied && pass "worker applied version 2: $(grep -o 'thresholds version=2 applied.*' "$W/worker.log")" \
    || fail "worker applied version 2" "$(grep thresholds "$W/worker.log" | tail -3)"

ctl_as sw-ctl sil1 silence add 'GR-*' --until 1h --reason 'exercise' --as anna
rc=$?
s1=$(sed -n 's/^silence \(s[0-9]*\):.*/\1/p' "$W/sil1.out")
[ "$rc" = 0 ] && [ -n "$s1" ] && pass "ctl as sw-ctl: silence add 'GR-*' -> $s1" \
    || fail "ctl as sw-ctl: silence add" "exit $rc" "$(cat "$W/sil1.err" "$W/sil1.out")"
# GR-MK: 25 persons at 13:00, closed by the 14:00 event: raised while
# silenced, so held (logged, not published)
events "$W/batch2.jsonl" <<'EOF'
6 GR-MK 13 25
7 GR-MK 14 1
EOF
publish "$W/batch2.jsonl"
held() { [ "$(admin HEXISTS sw:alerts:held "$1")" = 1 ]; }
if wait_until 60 held "$GR" && [ "$(log_entry "$GR" silenced)" = "$s1" ]; then
    pass "worker held $GR under $s1: log entry $(log_entry "$GR" id) with silenced=$s1"
else
    fail "worker held $GR under the silence" "$(tail -3 "$W/worker.log")"
fi
hub_held() { [ "$(hmetric surgewatch_hub_held_entries_total)" -ge 1 ] 2>/dev/null; }
if wait_until 15 hub_held && ! grep -q "\"$GR\"" "$W/sub.jsonl"; then
    pass "the hub skipped the held entry (held_entries_total $(hmetric surgewatch_hub_held_entries_total)): the subscriber did not get it"
else
    fail "the hub skips the held entry" "held_entries_total=$(hmetric surgewatch_hub_held_entries_total)" \
        "$(grep "$GR" "$W/sub.jsonl")"
fi
ctl_as sw-ctl exp1 silence expire "$s1" --as anna
rc=$?
[ "$rc" = 0 ] && pass "ctl as sw-ctl: silence expire $s1 ($(head -1 "$W/exp1.out"))" \
    || fail "ctl as sw-ctl: silence expire" "exit $rc" "$(cat "$W/exp1.err" "$W/exp1.out")"
wait_until 30 sub_has "$GR" raised && [ "$(log_entry "$GR" released)" = "$s1" ] \
    && pass "ctl released the held alert: the subscriber printed $GR raised, log field released=$s1" \
    || fail "the held alert is published when ctl ends the silence" "$(cat "$W/sub.jsonl")"

# a silence that runs out: the worker releases its held alert
ctl_as sw-ctl sil2 silence add HR-RS --until 30s --reason 'night shift handover' --as anna
rc=$?
s2=$(sed -n 's/^silence \(s[0-9]*\):.*/\1/p' "$W/sil2.out")
[ "$rc" = 0 ] && [ -n "$s2" ] && pass "ctl as sw-ctl: silence add HR-RS --until 30s -> $s2" \
    || fail "ctl as sw-ctl: silence add HR-RS" "exit $rc" "$(cat "$W/sil2.err" "$W/sil2.out")"
events "$W/batch3.jsonl" <<'EOF'
8 HR-RS 15 30
9 HR-RS 16 1
EOF
publish "$W/batch3.jsonl"
# (the held entry stays in the log after the release: no race with it)
if wait_until 60 log_has "$HR" silenced "$s2"; then
    pass "worker held $HR under $s2 (a log entry with silenced=$s2)"
else
    fail "worker held $HR under $s2 (raised within the 30 s of the silence)" "$(tail -3 "$W/worker.log")"
fi
released() { [ "$(wmetric surgewatch_silenced_released_total)" = 1 ]; }
wait_until 60 released && wait_until 30 sub_has "$HR" raised && [ "$(log_entry "$HR" released)" = "$s2" ] \
    && pass "the silence ran out and the worker released $HR: $(grep -o 'silences ended=.*' "$W/worker.log" | tail -1)" \
    || fail "the worker releases the held alert when the silence runs out" \
        "released_total=$(wmetric surgewatch_silenced_released_total)" "$(tail -3 "$W/worker.log")"

ctl_as sw-ctl ack1 ack "$HU" --note 'units deployed' --as anna
rc=$?
[ "$rc" = 0 ] && pass "ctl as sw-ctl: ack $HU ($(head -1 "$W/ack1.out"))" \
    || fail "ctl as sw-ctl: ack" "exit $rc" "$(cat "$W/ack1.err" "$W/ack1.out")"
wait_until 30 sub_has "$HU" updated acked_by=anna "ack_note=units deployed" \
    && pass "the subscriber printed the acknowledgement: $HU updated, acked_by anna" \
    || fail "the subscriber printed the acknowledgement" "$(tail -2 "$W/sub.jsonl")"

ctl_as sw-ctl audit1 audit --json
rc=$?
acts=$($PY -c '
import json, sys
print(" ".join(sorted({json.loads(l)["action"] for l in open(sys.argv[1]) if l.strip()})))' "$W/audit1.out" 2>&1)
[ "$rc" = 0 ] && [ "$acts" = "ack seed set silence.add silence.expire" ] \
    && pass "ctl as sw-ctl: audit lists $(wc -l < "$W/audit1.out") entries, actions: $acts" \
    || fail "ctl as sw-ctl: audit" "exit $rc" "actions: $acts" "$(cat "$W/audit1.err")"

# ------------------------------------------------------------- the auditor
ctl_as sw-auditor audit2 audit --json
rc=$?
[ "$rc" = 0 ] && [ -s "$W/audit2.out" ] && cmp -s "$W/audit1.out" "$W/audit2.out" \
    && pass "ctl as sw-auditor: audit, the same $(wc -l < "$W/audit2.out") entries" \
    || fail "ctl as sw-auditor: audit" "exit $rc" "$(cat "$W/audit2.err")"
ctl_as sw-auditor get1 get HU-RS threshold.limit
rc=$?
[ "$rc" = 0 ] && grep -q 'threshold.limit *= *20 ' "$W/get1.out" \
    && pass "ctl as sw-auditor: get HU-RS threshold.limit: $(grep threshold.limit "$W/get1.out" | tr -s ' ')" \
    || fail "ctl as sw-auditor: get" "exit $rc" "$(cat "$W/get1.err" "$W/get1.out")"
bad=""
for verb in "list" "export" "alerts" "silence list --all"; do
    # shellcheck disable=SC2086
    ctl_as sw-auditor ro $verb || bad="$bad '$verb': exit $?, $(head -1 "$W/ro.err");"
done
ctl_as sw-auditor ro2 audit -r "${URL[sw-auditor]}/1" || bad="$bad 'audit' on /1: exit $?, $(head -1 "$W/ro2.err");"
ctl_as sw-auditor pv preview --set 'HU-RS threshold.limit=12' -c "$W/w.ini" -e "$W/batch1.jsonl" -q ||
    bad="$bad 'preview': exit $?, $(head -1 "$W/pv.err");"
[ -z "$bad" ] && pass "ctl as sw-auditor: list, export, alerts, silence list --all, preview, audit on database 1: exit 0" \
    || fail "ctl as sw-auditor: the reading verbs" "$bad"
snapshot() { # what a refused change must leave as it was
    echo "version $(admin GET sw:thresholds:version)"
    admin HGETALL sw:thresholds | paste - - | sort
    echo "audit $(admin XLEN sw:audit) alerts $(admin XLEN sw:alerts) silences $(admin HLEN sw:silences)"
}
refused() { # NAME DESC ARGS...: ctl as the auditor fails with NOPERM and changes nothing
    local name=$1 desc=$2 rc before
    shift 2
    before=$(snapshot)
    ctl_as sw-auditor "$name" "$@" --as eve
    rc=$?
    if { [ "$rc" = 3 ] || [ "$rc" = 1 ]; } && grep -q NOPERM "$W/$name.err" && [ "$(snapshot)" = "$before" ]; then
        pass "ctl as sw-auditor: $desc refused, exit $rc, nothing changed: $(head -1 "$W/$name.err")"
    else
        fail "ctl as sw-auditor: $desc refused with NOPERM, nothing changed" "exit $rc" \
            "$(cat "$W/$name.err" "$W/$name.out")" "before: $before" "after: $(snapshot)"
    fi
}
refused noset "set HU-RS threshold.limit 5" set HU-RS threshold.limit 5
refused nosil "silence add 'HU-*'" silence add 'HU-*' --until 1h --reason test
refused noack "ack $HU" ack "$HU" --note test
out=$(as_user sw-auditor XINFO STREAM sw:audit)
len=$(sed -n '/^length$/{n;p;}' <<< "$out")
added=$(sed -n '/^entries-added$/{n;p;}' <<< "$out")
[ -n "$len" ] && [ "$len" = "$added" ] && [ "$len" = "$(admin XLEN sw:audit)" ] \
    && pass "sw-auditor reads XINFO STREAM sw:audit: entries-added = length = $len (untouched)" \
    || fail "sw-auditor reads XINFO STREAM sw:audit" "$out"

# ------------------------------------------------ the audit log, append-only
first=$(admin --raw XRANGE sw:audit - + COUNT 1 | head -1)
before=$(admin XLEN sw:audit)
for u in sw-ctl sw-worker sw-hub sw-auditor; do
    bad=""
    for cmd in "XDEL sw:audit $first" "XTRIM sw:audit MAXLEN 0" "DEL sw:audit" "UNLINK sw:audit" \
        "SET sw:audit x" "EXPIRE sw:audit 1" "RENAME sw:audit sw:audit2"; do
        # shellcheck disable=SC2086
        out=$(as_user "$u" $cmd)
        grep -q '^NOPERM' <<< "$out" || bad="$bad [$cmd: $out]"
    done
    [ -z "$bad" ] && pass "$u gets NOPERM for XDEL, XTRIM, DEL, UNLINK, SET, EXPIRE, RENAME of sw:audit" \
        || fail "$u cannot delete or overwrite sw:audit" "$bad"
done
[ "$(admin TYPE sw:audit)" = stream ] && [ "$(admin XLEN sw:audit)" = "$before" ] \
    && pass "the audit log is intact: a stream of $before entries" \
    || fail "the audit log is intact" "type $(admin TYPE sw:audit), $(admin XLEN sw:audit) entries (was $before)"

# ---------------------------------------------------------- metrics, logs
[ "$(wmetric surgewatch_redis_errors_total)" = 0 ] && [ "$(wmetric surgewatch_redis_up)" = 1 ] &&
    ! grep -q 'NOPERM\|unreachable' "$W/worker.log" \
    && pass "worker as sw-worker: no Redis error all along (redis_errors_total 0, no NOPERM in its log)" \
    || fail "worker as sw-worker: no Redis error" "errors=$(wmetric surgewatch_redis_errors_total)" \
        "$(grep 'NOPERM\|unreachable' "$W/worker.log" | head -3)"
[ "$(hmetric surgewatch_hub_redis_errors_total)" = 0 ] && ! grep -q 'NOPERM\|unreachable' "$W/hub.log" \
    && pass "hub as sw-hub: no Redis error all along" \
    || fail "hub as sw-hub: no Redis error" "errors=$(hmetric surgewatch_hub_redis_errors_total)" \
        "$(grep 'NOPERM\|unreachable' "$W/hub.log" | head -3)"
denied=$(admin ACL LOG 100 | awk 'prev == "username" {print} {prev = $0}' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
echo "# ACL LOG, refusals by user: $denied"

stop_proc "$WPID"
rc=$?
[ "$rc" = 0 ] && pass "worker as sw-worker: SIGTERM -> exit 0" || fail "worker: SIGTERM -> exit 0" "exit $rc" "$(tail -3 "$W/worker.log")"
stop_proc "${SUB_PID[s1]}" > /dev/null
stop_proc "$HUBPID"
rc=$?
[ "$rc" = 0 ] && pass "hub as sw-hub: SIGTERM -> exit 0" || fail "hub: SIGTERM -> exit 0" "exit $rc"

# ------------------------------------------ wrong or missing password
URL_BAD=redis://sw-ctl:$wrongpw@127.0.0.1:$RPORT
SURGEWATCH_REDIS_URL=$URL_BAD "$SW_BIN" ctl audit > /dev/null 2> "$W/bad-ctl.err"
rc=$?
[ "$rc" = 3 ] && grep -q WRONGPASS "$W/bad-ctl.err" && ! grep -qF "$wrongpw" "$W/bad-ctl.err" \
    && pass "ctl with a wrong password: exit 3, $(head -1 "$W/bad-ctl.err")" \
    || fail "ctl with a wrong password: exit 3 naming WRONGPASS, the password not shown" "exit $rc" "$(cat "$W/bad-ctl.err")"
"$SW_BIN" ctl -r "redis://127.0.0.1:$RPORT" audit > /dev/null 2> "$W/noauth.err"
rc=$?
[ "$rc" = 3 ] && grep -q NOAUTH "$W/noauth.err" \
    && pass "ctl without a password: exit 3, $(head -1 "$W/noauth.err")" \
    || fail "ctl without a password: exit 3 naming NOAUTH" "exit $rc" "$(cat "$W/noauth.err")"
SURGEWATCH_REDIS_URL=redis://:$ADMINPW@127.0.0.1:$RPORT "$SW_BIN" ctl audit --action set > "$W/plain.out" 2> "$W/plain.err"
rc=$?
[ "$rc" = 0 ] && grep -q 'anna  *set  *HU-RS' "$W/plain.out" \
    && pass "the default user's password alone (redis://:PASSWORD@host:port) logs in: ctl audit --action set" \
    || fail "redis://:PASSWORD@ logs in as the default user" "exit $rc" "$(cat "$W/plain.err" "$W/plain.out")"

# run and hub keep running, say why, and stop with 0
WMP=$(freeport)
SURGEWATCH_REDIS_URL=redis://sw-worker:$wrongpw@127.0.0.1:$RPORT "$SW_BIN" run -b "$B" -t "$topic" \
    -c "$W/w.ini" -g "grp2-$$" --dlq-topic "$topic.dlq" -m "127.0.0.1:$WMP" 2> "$W/bad-run.log" &
BADW=$!
hub_track $BADW
HMP=$(freeport)
SURGEWATCH_REDIS_URL=redis://sw-hub:$wrongpw@127.0.0.1:$RPORT "$SW_BIN" hub --name hub2 \
    --pub "tcp://127.0.0.1:$(freeport)" --replay "tcp://127.0.0.1:$(freeport)" \
    -m "127.0.0.1:$HMP" 2> "$W/bad-hub.log" &
BADH=$!
hub_track $BADH
health() { # PORT: "CODE BODY"
    curl -s --max-time 2 -w ' %{http_code}' "http://127.0.0.1:$1/healthz" | tr -d '\n'
}
wait_until 20 eval 'health "$WMP" | grep -q WRONGPASS'
h=$(health "$WMP")
if grep -q 'WARN run: redis unreachable .*error="connect: AUTH: WRONGPASS' "$W/bad-run.log" &&
    [ "${h##* }" = 503 ] && grep -q WRONGPASS <<< "$h" && kill -0 $BADW 2>/dev/null &&
    ! grep -qF "$wrongpw" "$W/bad-run.log"; then
    pass "run with a wrong password keeps running: /healthz 503 '${h% *}'"
else
    fail "run with a wrong password: WARN line naming WRONGPASS, /healthz 503, still running" \
        "healthz: $h" "$(head -3 "$W/bad-run.log")"
fi
wait_until 20 grep -q 'Redis unreachable.*WRONGPASS' "$W/bad-hub.log" 2> /dev/null
h=$(health "$HMP")
if grep -q 'WARN hub: Redis unreachable .*error="AUTH: WRONGPASS' "$W/bad-hub.log" &&
    [ "${h##* }" = 503 ] && kill -0 $BADH 2>/dev/null && ! grep -qF "$wrongpw" "$W/bad-hub.log"; then
    pass "hub with a wrong password keeps running: /healthz 503, $(grep -o 'WARN hub: Redis unreachable.*' "$W/bad-hub.log" | head -1 | cut -c1-120)"
else
    fail "hub with a wrong password: WARN line naming WRONGPASS, /healthz 503, still running" \
        "healthz: $h" "$(head -3 "$W/bad-hub.log")"
fi
stop_proc "$BADW"
rc=$?
[ "$rc" = 0 ] && pass "run with a wrong password: SIGTERM -> exit 0 (run --help: 0 after SIGTERM)" \
    || fail "run with a wrong password: SIGTERM -> exit 0" "exit $rc" "$(tail -3 "$W/bad-run.log")"
stop_proc "$BADH"
rc=$?
[ "$rc" = 0 ] && pass "hub with a wrong password: SIGTERM -> exit 0 (hub --help: 0 after SIGTERM)" \
    || fail "hub with a wrong password: SIGTERM -> exit 0" "exit $rc" "$(tail -3 "$W/bad-hub.log")"

# ------------------------------ the documented gap: XADD MAXLEN, and its trace
out=$(as_user sw-ctl XADD sw:audit MAXLEN 0 '*' action forged)
info=$(as_user sw-auditor XINFO STREAM sw:audit)
len=$(sed -n '/^length$/{n;p;}' <<< "$info")
added=$(sed -n '/^entries-added$/{n;p;}' <<< "$info")
if [ -n "$len" ] && [ -n "$added" ] && [ "$added" -gt "$len" ]; then
    pass "documented limit: XADD MAXLEN by sw-ctl cut the audit log ($out), and XINFO STREAM shows it: entries-added $added > length $len"
else
    fail "XINFO STREAM shows an audit log cut by XADD MAXLEN" "XADD: $out" "$info"
fi
done_testing
