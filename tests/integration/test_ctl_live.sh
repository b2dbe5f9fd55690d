#!/usr/bin/env bash
# Live thresholds with the real worker (issue 6): `surgewatch ctl set` on a
# running `surgewatch run`, no restart.
#
# One section, HU-RS, in compressed event time: one 1-minute bucket every
# 0.25 s of wall time (ctl_live_feed.py, through `surgewatch publish`),
# every sum of 3 consecutive buckets in 150..189, just under the section's
# limit of 200 (threshold detector, window 3). The feeder records what it
# sent per bucket, so the window sums are known independently of the
# worker. Mid-stream:
#   1. `ctl set HU-RS threshold.limit 140 --as duty-officer-anna`: the
#      alert is in the log within one second of ctl's return, with
#      threshold 140 and observed = the feeder's sum over its window (the
#      windows kept the counts made before the change); same worker pid,
#      log "(windows kept)", metrics, audit entry with the operator.
#   2. the hash changed and the version bumped without PUBLISH (a missed
#      notification), limit 195 above the band: the periodic version check
#      applies it within 3 s, and the alert resolves.
#   3. versions the worker cannot apply, written past ctl's checks: a limit
#      that is no number, a window longer than the engine's history. Both
#      refused with a log line and surgewatch_thresholds_refused_total,
#      once each; the worker keeps running with the previous version.
#   4. a valid `ctl set` applies again: the alert is back within 1 s.
# The feeder holds after buckets 24 and 110 until ctl has run, so that the
# changes come at known points: the alert's window must hold buckets
# counted before the change.
# Then a low tail resolves the alert, and the worker is restarted with a
# config whose limits are 999: Redis keeps 140 (the config seeded Redis on
# the first start only, audit action seed), the new worker applies it, and
# the next hover raises an alert with threshold 140.
# Last, a second group with a default window of 70 buckets shortens it to 3
# live and restarts: the checkpoint stays usable (the ring size it records
# must not follow the live change). Every transition in the log has
# observed = the feeder's own sum over its window.
# Needs SW_BIN, WORK, KAFKA_BOOTSTRAP, REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/worker.sh"
worker_setup ctl-live
PFX=cl-$$
GRP=grp-cl-$$
SECTION=HU-RS
mkdir -p "$W/feed"
: > "$W/sent.tsv"

for lim in 200 999; do
    def=$((lim == 200 ? 250 : 999))
    cat > "$W/limit-$lim.ini" <<EOF
[windows]
bucket = 1m
lateness = 1h
by_type = false
[detectors]
run = threshold
threshold.window = 3
threshold.limit = $def
[section HU-RS]
threshold.limit = $lim
EOF
done

ctl() { "$SW_BIN" ctl -r "$REDIS_URL" --redis-prefix "$PFX" "$@"; }
rc() { redis-cli -u "$REDIS_URL" --raw "$@"; }
chk() { $PY "$here/ctl_live_check.py" "$@"; }
mval() { metrics "$1" | awk -v m="$2" '$1 == m {print $2}'; }
now_ms() { date +%s%3N; }
feed() { # FROM TO
    $PY "$here/ctl_live_feed.py" feed "$W/plan.tsv" "$1" "$2" "$W/sent.tsv" \
        "$SW_BIN" "$B" "$topic" "$SECTION" 0.25 "$W/feed" 2>> "$W/feed.err"
}
nsent() { wc -l < "$W/sent.tsv"; }
# events the feeder sent in buckets FROM..TO
events_in() { awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b {s += $4} END {print s + 0}' "$W/sent.tsv"; }
alive() { kill -0 "$1" 2> /dev/null; }
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
    local secs=$1 t0
    shift
    t0=$(now_ms)
    until "$@"; do
        [ $(($(now_ms) - t0)) -gt $((secs * 1000)) ] && return 1
        sleep 0.1
    done
}
metric_is() { [ "$(mval "$1" "$2")" = "$3" ]; }
metric_ge() { [ "$(mval "$1" "$2")" -ge "$3" ] 2> /dev/null; }
sent_ge() { [ "$(nsent)" -ge "$1" ]; }
# found NAME STATE AFTER_MS: the first such transition, as JSON in $W/NAME.json
found() { chk find "$REDIS_URL" "$PFX" "$2" "$3" > "$W/$1.json"; }
jf() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$W/$1.json" "$2"; }
# hold K: the feeder has sent buckets 0..K and waits (ctl_live_feed.py's
# holds); the worker counted all their events. go K lets the feeder go on.
hold() {
    local t0=$SECONDS
    until [ -e "$W/hold-$1.ready" ]; do
        if ! alive "$FEED" || [ $((SECONDS - t0)) -gt 90 ]; then
            [ -e "$W/hold-$1.ready" ] && break
            return 1
        fi
        sleep 0.02
    done
    wait_for 30 metric_ge w1 surgewatch_events_counted_total "$(events_in 0 "$1")"
}
go() { touch "$W/hold-$1.go"; }
# wait_bucket N: the feeder has sent N buckets and the worker counted the
# events of all but the last two
wait_bucket() {
    local t0=$SECONDS
    until sent_ge "$1"; do
        # the feeder stopped (a failed publish) or is stuck
        if ! alive "$FEED" || [ $((SECONDS - t0)) -gt 90 ]; then
            sent_ge "$1" && break
            return 1
        fi
        sleep 0.1
    done
    wait_for 30 metric_ge w1 surgewatch_events_counted_total "$(events_in 0 $(($1 - 3)))"
}
# check_raise NAME T_BEFORE T_AFTER LIMIT K WHAT: the first raised alert
# logged at or after T_BEFORE (ms, before ctl ran) is in the log within
# 1000 ms of T_AFTER (ctl returned), with threshold LIMIT and observed =
# the feeder's sum over its 3-bucket window, a window that holds buckets
# up to K, counted before the change (a worker that lost its windows
# could only alarm on a window of 3 buckets counted after it)
check_raise() {
    local name=$1 tb=$2 ta=$3 lim=$4 k=$5 what=$6 t delay thr obs ws we sum nb early i0 i1
    if ! wait_for 10 found "$name" raised "$tb"; then
        fail "$what: an alert is raised after the change" \
            "none in the log 10 s after it; last transitions: $(rc XREVRANGE "$PFX:alerts" + - COUNT 2 | tr '\n' ' ' | cut -c1-400)" \
            "$(grep thresholds "$W/w1.log" | tail -3)"
        return 1
    fi
    t=$(jf "$name" t)
    delay=$((t - ta))
    thr=$(jf "$name" threshold)
    obs=$(jf "$name" observed)
    ws=$(jf "$name" ws)
    we=$(jf "$name" we)
    read -r sum nb <<< "$(chk window "$W/sent.tsv" "$ws" "$we")"
    # the window's buckets, and how many of them are among 0..K
    i0=$(((ws - START) / 60000))
    i1=$(((we - START) / 60000 - 1))
    early=$(awk -v a="$ws" -v b="$we" -v k="$k" '$2 >= a && $2 < b && $1 <= k {n++} END {print n + 0}' "$W/sent.tsv")
    [ "$delay" -le 1000 ] \
        && pass "$what: the alert $(jf "$name" alert_id) is in the log $delay ms after ctl returned (bound 1000 ms)" \
        || fail "$what: the alert is in the log within 1000 ms of the change" \
            "logged at t=$t, ctl returned at $ta: $delay ms"
    [ "$thr" = "$lim" ] && [ "$nb" = 3 ] && [ "$obs" = "$sum" ] && [ "$early" -ge 1 ] \
        && pass "$what: its threshold is $thr, observed $obs = the feeder's sum over its window, buckets $i0..$i1, $early of them counted before the change: the windows kept their counts" \
        || fail "$what: threshold $lim, observed = the feeder's sum over its 3-bucket window, which holds buckets counted before the change (0..$k)" \
            "threshold $thr, observed $obs, window buckets $i0..$i1 ($ws..$we): the feeder sent $sum in $nb buckets"
}

# ----------------------------------------------------------- the stream
START=$((($(date +%s) / 60 - 600) * 60000)) # ten hours ago, whole minutes
# buckets 0..149 hover, 150..155 low (the alert resolves), 156..169 hover
# (after the restart)
$PY "$here/ctl_live_feed.py" plan "$W/plan.tsv" $$ "$START" hover:150 low:6 hover:14
# the first bucket creates the topic
feed 0 0 || { fail "the first bucket is published" "$(tail -3 "$W/feed.err")"; done_testing; }

# ----------------------------------------- first start: the config seeds
ini=$W/limit-200.ini
start_worker w1 "$GRP" "$REDIS_URL" "$PFX"
W1=${WPID[w1]}
if ! wait_for 60 metric_is w1 surgewatch_partitions_owned 4; then
    fail "the worker owns the topic's 4 partitions" "$(tail -5 "$W/w1.log")"
    done_testing
fi
seedlog=$(grep -c "thresholds stored in Redis for the first time" "$W/w1.log")
v=$(rc GET "$PFX:thresholds:version")
mv=$(mval w1 surgewatch_thresholds_version)
[ "$seedlog" = 1 ] && [ "$v" = 1 ] && [ "$mv" = 1 ] \
    && pass "first start: the worker stored the config's thresholds in Redis as version 1 and applies it ($(grep -o 'thresholds stored.*settings=[0-9]*' "$W/w1.log"))" \
    || fail "first start: the config's thresholds stored as version 1" \
        "log lines: $seedlog, Redis version '$v', metrics version '$mv'" "$(grep thresholds "$W/w1.log")"
ctl audit --json > "$W/audit-seed.json" 2> "$W/ctl.err"
nseed=$(chk audit "$W/audit-seed.json" action=seed version=1 | sed -n 1p)
hu=$(chk audit "$W/audit-seed.json" action=seed scope=HU-RS key=threshold.limit new=200 version=1 | sed -n 1p)
df=$(chk audit "$W/audit-seed.json" action=seed scope=default key=threshold.limit new=250 version=1 | sed -n 1p)
op=$(chk audit "$W/audit-seed.json" action=seed | sed -n 2p | $PY -c 'import json,sys; print(json.loads(sys.stdin.read() or "{}").get("operator",""))')
[ "$nseed" = 4 ] && [ "$hu" = 1 ] && [ "$df" = 1 ] && [[ "$op" == worker@* ]] \
    && pass "the audit has the seed: 4 settings, action seed, version 1, operator $op (HU-RS limit 200, default limit 250)" \
    || fail "the audit has the seed of the config's 4 settings" \
        "seed entries $nseed, HU-RS limit 200: $hu, default limit 250: $df, operator '$op'" "$(cat "$W/audit-seed.json")"

# ----------------------------------------------- the stream, and changes
# the feeder stops after buckets 24 and 110 until told to go on: the
# changes come at known points of the stream
$PY "$here/ctl_live_feed.py" feed "$W/plan.tsv" 1 155 "$W/sent.tsv" "$SW_BIN" "$B" \
    "$topic" "$SECTION" 0.25 "$W/feed" 24,110 "$W/hold" 2>> "$W/feed.err" &
FEED=$!
pids+=("$FEED")
if ! hold 24; then
    fail "the worker counts the stream" "sent $(nsent) buckets; counted $(mval w1 surgewatch_events_counted_total) events" "$(tail -3 "$W/w1.log")" "$(tail -3 "$W/feed.err")"
    done_testing
fi
applied0=$(mval w1 surgewatch_thresholds_applied_total)
counted0=$(mval w1 surgewatch_events_counted_total)
n0=$(rc XLEN "$PFX:alerts")

# 1. the limit lowered below the band
tb=$(now_ms)
out=$(ctl set "$SECTION" threshold.limit 140 --as duty-officer-anna 2>&1)
crc=$?
ta=$(now_ms)
go 24
V1=$(rc GET "$PFX:thresholds:version")
[ "$crc" = 0 ] && [ "$V1" = 2 ] \
    && pass "ctl set $SECTION threshold.limit 140 --as duty-officer-anna after buckets 0..24 ($counted0 events counted), mid-stream: version $V1 ($((ta - tb)) ms)" \
    || fail "ctl set $SECTION threshold.limit 140" "exit $crc, version '$V1'" "$out"
before=$(chk before "$REDIS_URL" "$PFX" "$tb")
[ "$n0" = 0 ] && [ "$before" = 0 ] \
    && pass "no alert before the change: the 3-bucket sums (150..189) stayed under the limit of 200 for the $(awk -v t="$tb" '$5 < t' "$W/sent.tsv" | wc -l) buckets sent before it" \
    || fail "no alert before the change" "$n0 log entries when ctl ran, $before written before it"
check_raise s1 "$tb" "$ta" 140 24 "limit 200 -> 140"
wait_for 3 metric_is w1 surgewatch_thresholds_version "$V1" \
    && metric_ge w1 surgewatch_thresholds_applied_total $((applied0 + 1)) \
    && pass "metrics: surgewatch_thresholds_version $V1, surgewatch_thresholds_applied_total $applied0 -> $(mval w1 surgewatch_thresholds_applied_total)" \
    || fail "metrics: thresholds_version $V1, thresholds_applied_total increased" \
        "version $(mval w1 surgewatch_thresholds_version), applied $applied0 -> $(mval w1 surgewatch_thresholds_applied_total)"
line=$(grep "thresholds version=$V1 applied" "$W/w1.log")
alive "$W1" && [[ "$line" == *"(windows kept)"* ]] \
    && pass "the same worker (pid $W1) applied it: ${line#*INFO run: }" \
    || fail "the running worker applied version $V1, windows kept" "pid $W1 alive: $(alive "$W1" && echo yes || echo no)" "log: $line"
ctl audit --json --section "$SECTION" > "$W/audit-1.json" 2> "$W/ctl.err"
a1=$(chk audit "$W/audit-1.json" action=set scope=HU-RS key=threshold.limit old=200 new=140 operator=duty-officer-anna version="$V1")
[ "$(sed -n 1p <<< "$a1")" = 1 ] \
    && pass "ctl audit --section HU-RS: $(sed -n 2p <<< "$a1")" \
    || fail "the audit has the change: set HU-RS threshold.limit 200 -> 140 by duty-officer-anna, version $V1" "$(cat "$W/audit-1.json")" "$(cat "$W/ctl.err")"

# 2. a missed notification: the hash changed, no PUBLISH
wait_bucket 60 || fail "the stream goes on (60 buckets)" "sent $(nsent)"
rc HSET "$PFX:thresholds" "$SECTION threshold.limit" 195 > /dev/null
V2=$(rc INCR "$PFX:thresholds:version")
t2=$(now_ms)
if wait_for 3 metric_is w1 surgewatch_thresholds_version "$V2"; then
    pass "a change without notification (HSET limit 195, INCR version, no PUBLISH): the periodic check applied version $V2 after $(($(now_ms) - t2)) ms (bound 3 s)"
else
    fail "a change without notification is applied within 3 s" \
        "metrics version $(mval w1 surgewatch_thresholds_version), Redis $V2" "$(grep thresholds "$W/w1.log" | tail -2)"
fi
if wait_for 10 found s2 resolved "$t2"; then
    [ "$(jf s2 threshold)" = 195 ] \
        && pass "the live windows are judged by it: the alert resolved $(($(jf s2 t) - t2)) ms later (threshold $(jf s2 threshold), observed $(jf s2 observed))" \
        || fail "the alert resolves under the limit 195" "$(cat "$W/s2.json")"
else
    fail "with limit 195 above the band the alert resolves" "$(grep thresholds "$W/w1.log" | tail -2)"
fi

# 3. versions that cannot be applied, written past ctl's checks
refused_ok() { # NAME VERSION REFUSED_TOTAL GREP WHAT
    local ln
    if wait_for 3 metric_is w1 surgewatch_thresholds_refused_total "$3"; then
        ln=$(grep "thresholds version=$2 not applied" "$W/w1.log")
        if alive "$W1" && metric_is w1 surgewatch_thresholds_version "$V2" && [[ "$ln" == *"$4"*"keeping version=$V2"* ]]; then
            pass "$5: refused_total $3, version stays $V2, worker running: ${ln#*ERROR run: }"
        else
            fail "$5: refused with a log line, previous version kept" "alive: $(alive "$W1" && echo yes || echo no)" \
                "metrics version $(mval w1 surgewatch_thresholds_version)" "log: $ln"
        fi
    else
        fail "$5: surgewatch_thresholds_refused_total becomes $3" \
            "it is $(mval w1 surgewatch_thresholds_refused_total)" "$(grep thresholds "$W/w1.log" | tail -2)"
    fi
}
wait_bucket 75 || fail "the stream goes on (75 buckets)" "sent $(nsent)"
r0=$(mval w1 surgewatch_thresholds_refused_total)
c3=$(mval w1 surgewatch_events_counted_total)
rc HSET "$PFX:thresholds" "$SECTION threshold.limit" many > /dev/null
V3=$(rc INCR "$PFX:thresholds:version")
rc PUBLISH "$PFX:thresholds" "$V3" > /dev/null
refused_ok bad "$V3" $((r0 + 1)) '"many" is not a number' "version $V3 (limit 'many')"
sleep 2.5 # the periodic check runs twice: the refused version is not retried
[ "$(mval w1 surgewatch_thresholds_refused_total)" = $((r0 + 1)) ] \
    && pass "a refused version is refused once, not at every periodic check" \
    || fail "a refused version is refused once" "refused_total $(mval w1 surgewatch_thresholds_refused_total), was $r0"
wait_bucket 90 || fail "the stream goes on (90 buckets)" "sent $(nsent)"
rc HSET "$PFX:thresholds" "$SECTION threshold.limit" 195 "$SECTION threshold.window" 100 > /dev/null
V4=$(rc INCR "$PFX:thresholds:version")
rc PUBLISH "$PFX:thresholds" "$V4" > /dev/null
refused_ok long "$V4" $((r0 + 2)) 'buckets of history' "version $V4 (window 100: more history than the engine keeps)"
c4=$(mval w1 surgewatch_events_counted_total)
[ "$c4" -gt "$c3" ] && pass "while refusing, the worker kept counting ($c3 -> $c4 events)" \
    || fail "the worker keeps counting while refusing" "$c3 -> $c4"

# 4. a valid change applies again
hold 110 || fail "the stream goes on (buckets 0..110 sent and counted)" "sent $(nsent)"
tb=$(now_ms)
out=$(ctl -c "$ini" set "$SECTION" threshold.limit=140 threshold.window=3 --as duty-officer-anna 2>&1)
crc=$?
ta=$(now_ms)
go 110
V5=$(rc GET "$PFX:thresholds:version")
[ "$crc" = 0 ] && [ "$V5" = $((V4 + 1)) ] \
    && pass "ctl set $SECTION threshold.limit=140 threshold.window=3: version $V5" \
    || fail "ctl set $SECTION threshold.limit=140 threshold.window=3" "exit $crc, version '$V5' (was $V4)" "$out"
check_raise s5 "$tb" "$ta" 140 110 "after the refused versions, limit 195 -> 140"
wait_for 3 metric_is w1 surgewatch_thresholds_version "$V5" \
    && grep -q "thresholds version=$V5 applied.*(windows kept)" "$W/w1.log" \
    && pass "version $V5 applied by the same worker (pid $W1), windows kept" \
    || fail "version $V5 applied, windows kept" "metrics version $(mval w1 surgewatch_thresholds_version)" "$(grep thresholds "$W/w1.log" | tail -2)"
ctl audit --json --section "$SECTION" > "$W/audit-5.json" 2> "$W/ctl.err"
a5=$(chk audit "$W/audit-5.json" action=set scope=HU-RS operator=duty-officer-anna version="$V5")
grep -q '"key":"threshold.limit","old":"195","new":"140"' <<< "$a5" &&
    grep -q '"key":"threshold.window","old":"100","new":"3"' <<< "$a5" \
    && pass "the audit has version $V5: limit 195 -> 140 and window 100 -> 3 by duty-officer-anna" \
    || fail "the audit has version $V5's two changes" "$a5"

# the low tail: the alert resolves
wait "$FEED" && pass "the feeder published buckets 1..155 ($(awk '$1 <= 155' "$W/sent.tsv" | wc -l) records)" \
    || fail "the feeder published the stream" "$(tail -3 "$W/feed.err")"
total=$(events_in 0 155)
wait_for 30 metric_is w1 surgewatch_events_counted_total "$total" \
    || fail "the worker counted all $total events" "counted $(mval w1 surgewatch_events_counted_total)"
if wait_for 10 found s6 resolved "$(jf s5 t)"; then
    pass "the low tail resolved the alert (observed $(jf s6 observed))"
else
    fail "the low tail resolves the alert" "$(rc XREVRANGE "$PFX:alerts" + - COUNT 2 | tr '\n' ' ' | cut -c1-400)"
fi
[ "$(grep -c 'INFO run: started' "$W/w1.log")" = 1 ] && alive "$W1" \
    && pass "one worker process throughout (pid $W1, started once)" \
    || fail "one worker process throughout" "$(grep 'INFO run: started' "$W/w1.log")"

# ----------------------- restart with other limits: Redis stays the truth
stop_worker w1
ini=$W/limit-999.ini
tr=$(now_ms)
start_worker w2 "$GRP" "$REDIS_URL" "$PFX"
if ! wait_for 60 metric_is w2 surgewatch_partitions_owned 4; then
    fail "the restarted worker owns the 4 partitions" "$(tail -5 "$W/w2.log")"
    done_testing
fi
v=$(rc GET "$PFX:thresholds:version")
mv=$(mval w2 surgewatch_thresholds_version)
hl=$(rc HGET "$PFX:thresholds" "$SECTION threshold.limit")
dl=$(rc HGET "$PFX:thresholds" "default threshold.limit")
ctl audit --json --action seed > "$W/audit-seed2.json" 2> "$W/ctl.err"
nseed2=$(wc -l < "$W/audit-seed2.json")
! grep -q "thresholds stored in Redis" "$W/w2.log" && [ "$v" = "$V5" ] && [ "$mv" = "$V5" ] &&
    [ "$hl" = 140 ] && [ "$dl" = 250 ] && [ "$nseed2" = 4 ] \
    && pass "restart with a config of limit 999: Redis still holds HU-RS 140 (default 250), version $v unchanged, no new seed; the worker applies it: $(grep -o "thresholds version=$V5 applied.*" "$W/w2.log")" \
    || fail "the config seeds Redis on the first start only" \
        "Redis version '$v' (want $V5), metrics version '$mv', HU-RS limit '$hl', default limit '$dl', seed entries $nseed2" \
        "$(grep thresholds "$W/w2.log")"
echo "# w2: $(grep -c 'partition loaded' "$W/w2.log") partitions loaded from checkpoints"
feed 156 169 || fail "the feeder published buckets 156..169" "$(tail -3 "$W/feed.err")"
if wait_for 20 found s7 raised "$tr"; then
    read -r sum nb <<< "$(chk window "$W/sent.tsv" "$(jf s7 ws)" "$(jf s7 we)")"
    [ "$(jf s7 threshold)" = 140 ] && [ "$(jf s7 observed)" = "$sum" ] && [ "$nb" = 3 ] \
        && pass "after the restart the alert is raised with the Redis limit: threshold $(jf s7 threshold), observed $(jf s7 observed) = the feeder's sum" \
        || fail "after the restart: threshold 140, observed = the feeder's sum" \
            "threshold $(jf s7 threshold), observed $(jf s7 observed), feeder $sum in $nb buckets"
else
    fail "after the restart the hover raises an alert (limit 140 from Redis, not 999)" \
        "$(grep thresholds "$W/w2.log")" "$(tail -3 "$W/w2.log")"
fi
stop_worker w2

# ------------ a live change that shortens the history, then a restart
# The ring a worker keeps per series is sized when it starts (the history
# its detectors need, at least 61 buckets, plus the lateness) and is part of
# every checkpoint. A live change to a shorter window must not make the
# next start size it differently: the checkpoints would be unusable, and
# every partition read again from its beginning with empty windows. A
# second group reads the same topic with a default window of 70 buckets.
cat > "$W/ring.ini" <<EOF
[windows]
bucket = 1m
lateness = 1h
by_type = false
[detectors]
run = threshold
threshold.window = 70
threshold.limit = 100000
EOF
ini=$W/ring.ini
start_worker r1 "grp-clr-$$" "$REDIS_URL" "clr-$$"
total=$(events_in 0 169)
wait_for 60 metric_is r1 surgewatch_events_counted_total "$total" \
    || fail "a second group reads the topic" "counted $(mval r1 surgewatch_events_counted_total) of $total" "$(tail -3 "$W/r1.log")"
out=$("$SW_BIN" ctl -r "$REDIS_URL" --redis-prefix "clr-$$" set default threshold.window 3 --as duty-officer-anna 2>&1) \
    || fail "ctl set default threshold.window 3" "$out"
wait_for 5 metric_is r1 surgewatch_thresholds_version 2 \
    && pass "window 70 -> 3 applied live: $(grep -o 'thresholds version=2 applied.*' "$W/r1.log")" \
    || fail "window 70 -> 3 applied live" "$(grep thresholds "$W/r1.log" | tail -2)"
stop_worker r1
start_worker r2 "grp-clr-$$" "$REDIS_URL" "clr-$$"
loaded() { grep -q "partition loaded\|checkpoint unusable" "$W/r2.log"; }
wait_for 60 loaded
# (the metrics follow the log within 250 ms)
if grep -q "partition loaded" "$W/r2.log" && ! grep -q "checkpoint unusable" "$W/r2.log" &&
    wait_for 3 metric_is r2 surgewatch_checkpoint_load_errors_total 0; then
    pass "restarted after it, the worker loads the checkpoint: $(grep -o 'partition loaded.*' "$W/r2.log" | head -1)"
else
    fail "restarted after a live change to a shorter window, the worker loads its checkpoint" \
        "$(grep -h "loaded\|unusable\|no checkpoint" "$W/r2.log" | cut -c1-300)" \
        "checkpoint_load_errors_total $(mval r2 surgewatch_checkpoint_load_errors_total)"
fi
stop_worker r2

# ------------------------------------------------------- the whole log
out=$(chk sums "$REDIS_URL" "$PFX" "$W/sent.tsv" 3)
while IFS= read -r l; do
    case "$l" in
        "ok - "*) pass "${l#ok - }" ;;
        "not ok - "*) fail "${l#not ok - }" ;;
        *) echo "$l" ;;
    esac
done <<< "$out"
grep -q '^\(not \)\?ok - ' <<< "$out" || fail "ctl_live_check.py sums ran" "$out"
for n in w1 w2 r1 r2; do
    if grep -q "ERROR: AddressSanitizer\|runtime error:" "$W/$n.log"; then
        fail "worker $n: no sanitizer report" "$(grep -A5 'AddressSanitizer\|runtime error' "$W/$n.log" | head -10)"
    fi
done
done_testing
