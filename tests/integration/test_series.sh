#!/usr/bin/env bash
# The series of the hub's web view (docs/web.md, "Where the series come
# from"): every worker writes each evaluated bucket of each section to
# PREFIX:series:SECTION, trims it to [worker] series_keep, records bucket_ms
# in PREFIX:series:meta and publishes the sections written on PREFIX:series.
#
# Three sections, 60 days of daily buckets in 2019 (every day has events, so
# no bucket is skipped as idle); the events of day 59 close days 0..58. Three
# consumer groups read the same topic, each with its own key prefix:
#   A  series_keep = 1000 from the config file: every closed bucket is in
#      Redis, once, with its exact count; bucket 59 (open) is not; meta
#      bucket_ms is 86400000; a redis-cli SUBSCRIBE listener sees the
#      sections published. expected and bound follow the detector
#      definitions: HU-RS runs threshold (limit 50): no expected, bound 50;
#      GR-MK runs ears_c2: expected = the baseline mean, bound =
#      ceil(mean + z sd) (docs/detectors.md), recomputed here; HR-RS runs
#      ears_c2 and cusum: alarm = 1 on every bucket where `surgewatch
#      backtest` raises, and each alarm run starts with a raise. On every
#      bucket alarm = (count >= bound). A late event then updates day 58 of
#      HU-RS, over the limit: its member is replaced (count and alarm),
#      not added to.
#   B  --series-keep 10: each set holds days 49..58 only.
#   C  SURGEWATCH_SERIES_KEEP=0: nothing under C's series keys, metric 0.
# And --series-keep / SURGEWATCH_SERIES_KEEP / [worker] series_keep with bad
# values: exit 2 with a message naming the setting and the accepted range.
# Needs SW_BIN, WORK, KAFKA_BOOTSTRAP, REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/worker.sh"
worker_setup series
. "$here/../lib/redis.sh"
DAY=86400000
T0=1546300800000 # 2019-01-01T00:00:00Z
SECTIONS="GR-MK HR-RS HU-RS"

# ------------------------------------------------------- bad values first
bad_value() { # DESC WANT(message) ARGS... (env assignments before --)
    local desc=$1 want=$2
    shift 2
    local out rc
    out=$(env "$@" --check-config 2>&1 > /dev/null)
    rc=$?
    if [ "$rc" = 2 ] && [ "$out" = "$want" ]; then
        pass "$desc: exit 2, $out"
    else
        fail "$desc: exit 2 with a clear message" "exit $rc" "got:  $out" "want: $want"
    fi
}
acc="not a whole number in 0..100000 (buckets kept per section; 0 = no series written)"
bad_value "--series-keep -1" "surgewatch run: --series-keep '-1': $acc" \
    "$SW_BIN" run --series-keep -1
bad_value "--series-keep 100001" "surgewatch run: --series-keep '100001': $acc" \
    "$SW_BIN" run --series-keep 100001
bad_value "--series-keep abc" "surgewatch run: --series-keep 'abc': $acc" \
    "$SW_BIN" run --series-keep abc
bad_value "SURGEWATCH_SERIES_KEEP=10x" "surgewatch run: SURGEWATCH_SERIES_KEEP='10x': $acc" \
    SURGEWATCH_SERIES_KEEP=10x "$SW_BIN" run
printf '[worker]\nseries_keep = 4e2\n' > "$W/bad.ini"
bad_value "[worker] series_keep = 4e2" "surgewatch run: $W/bad.ini:2: [worker] series_keep = '4e2': $acc" \
    "$SW_BIN" run -c "$W/bad.ini"
out=$("$SW_BIN" run --series-keep 100000 --check-config 2>&1)
grep -q '^\[worker\] series_keep = 100000  (command line)$' <<< "$out" \
    && pass "--series-keep 100000 is accepted (--check-config: $(grep series_keep <<< "$out"))" \
    || fail "--series-keep 100000 is accepted" "$out"
out=$("$SW_BIN" run --check-config 2>&1)
grep -q '^\[worker\] series_keep = 400  (default)$' <<< "$out" \
    && pass "series_keep defaults to 400" || fail "series_keep defaults to 400" "$(grep series_keep <<< "$out")"

# ---------------------------------------------------------------- events
ini=$W/series.ini
cat > "$ini" <<'EOF'
[windows]
bucket = 1d
lateness = 24h
[alerts]
resolve_after = 1
[detectors]
run = ears_c2, cusum
[section HU-RS]
run = threshold
threshold.limit = 50
[section GR-MK]
run = ears_c2
[worker]
series_keep = 1000
EOF
# two events per section and day, days 0..59; surges on a few days
$PY - "$W/events.jsonl" "$W/counts.json" <<'EOF'
import json, random, sys
rng = random.Random(7)
T0, DAY = 1546300800000, 86400000
surge = {"HU-RS": {20: 61, 21: 55, 45: 70}, "GR-MK": {30: 90, 31: 40},
         "HR-RS": {40: 75, 41: 80, 42: 85, 50: 60}}
counts = {}
with open(sys.argv[1], "w") as out:
    n = 0
    for d in range(60):
        for sec in ("HU-RS", "GR-MK", "HR-RS"):
            total = surge[sec].get(d, rng.randint(12, 30))
            counts.setdefault(sec, []).append(total)
            first = rng.randint(1, total - 1)
            for h, c in ((9, first), (16, total - first)):
                n += 1
                out.write(json.dumps({"id": "s-%d" % n, "src": sec[:2], "section": sec,
                                      "ts": T0 + d * DAY + h * 3600000,
                                      "type": "irregular_crossing", "count": c}) + "\n")
json.dump(counts, open(sys.argv[2], "w"))
EOF
nevents=$(wc -l < "$W/events.jsonl")
"$SW_BIN" backtest -q -c "$ini" -e "$W/events.jsonl" > "$W/backtest.jsonl" 2> "$W/backtest.err" \
    || fail "backtest of the events" "$(tail -3 "$W/backtest.err")"
echo "# $nevents events, backtest: $(wc -l < "$W/backtest.jsonl") transitions"

# the listener first, then the events and the workers
redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" SUBSCRIBE "sa-$$:series" > "$W/sub.txt" 2>&1 &
SUBPID=$!
pids+=("$SUBPID")
t0=$SECONDS
until [ "$(rcli PUBSUB NUMSUB "sa-$$:series" | tail -1)" = 1 ] || [ $((SECONDS - t0)) -gt 10 ]; do sleep 0.1; done
"$SW_BIN" publish -q -b "$B" -t "$topic" "$W/events.jsonl" 2> "$W/publish.err" \
    || fail "publish the events" "$(tail -3 "$W/publish.err")"
start_worker a1 grp-a-$$ "$REDIS_URL" sa-$$
start_worker b1 grp-b-$$ "$REDIS_URL" sb-$$ --series-keep 10
SURGEWATCH_SERIES_KEEP=0 start_worker c1 grp-c-$$ "$REDIS_URL" sc-$$

wait_consumed "$nevents" 90 a1 || fail "A read the $nevents events" "$(tail -5 "$W/a1.log")"
wait_consumed "$nevents" 90 b1 || fail "B read the $nevents events" "$(tail -5 "$W/b1.log")"
wait_consumed "$nevents" 90 c1 || fail "C read the $nevents events" "$(tail -5 "$W/c1.log")"

# every set complete (59 buckets in A, 10 in B, up to day 58): written
# within a tick or two
full() { # PREFIX N: every section's set has N members, the last day 58
    local s
    for s in $SECTIONS; do
        [ "$(rcli ZCARD "$1:series:$s")" = "$2" ] &&
            [ "$(rcli ZCOUNT "$1:series:$s" $((T0 + 58 * DAY)) +inf)" = 1 ] || return 1
    done
}
wait_full() {
    local t0=$SECONDS
    while [ $((SECONDS - t0)) -lt 30 ]; do full "$@" && return 0; sleep 0.3; done
    return 1
}
wait_full "sa-$$" 59 && pass "A: each of the 3 sections has 59 buckets in sa-$$:series:SECTION" \
    || fail "A: 59 buckets per section" "$(for s in $SECTIONS; do echo "$s $(rcli ZCARD "sa-$$:series:$s")"; done)" \
        "$(grep -i 'series\|WARN\|ERROR' "$W/a1.log" | tail -3)"
wait_full "sb-$$" 10 && pass "B: --series-keep 10 keeps 10 buckets per section" \
    || fail "B: 10 buckets per section" "$(for s in $SECTIONS; do echo "$s $(rcli ZCARD "sb-$$:series:$s")"; done)"

dump() { # PREFIX FILE: "SECTION SCORE MEMBER" lines
    local s
    for s in $SECTIONS; do
        rcli --raw ZRANGE "$1:series:$s" 0 -1 WITHSCORES | paste - - |
            awk -v s="$s" -F'\t' '{print s "\t" $2 "\t" $1}'
    done > "$2"
}
dump "sa-$$" "$W/a.tsv"
dump "sb-$$" "$W/b.tsv"

# the content, against the counts, the detector definitions and backtest
check "A: every closed bucket once with its exact count, expected and bound as the detectors define them, alarms as backtest raises" \
    $PY - "$W/a.tsv" "$W/counts.json" "$W/backtest.jsonl" 0 <<'EOF'
import json, math, statistics, sys
tsv, counts_f, bt_f, first = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
T0, DAY, Z = 1546300800000, 86400000, 3.090232306167813
counts = json.load(open(counts_f))
errors = []
rows = {}
for line in open(tsv):
    sec, score, member = line.rstrip("\n").split("\t")
    f = member.split(" ")
    if len(f) != 5:
        errors.append("%s: member %r is not 5 fields" % (sec, member))
        continue
    start = int(f[0])
    if float(score) != start:
        errors.append("%s: score %s != start %s" % (sec, score, f[0]))
    num = lambda x: None if x == "-" else float(x)
    d = (start - T0) // DAY
    if (sec, d) in rows:
        errors.append("%s day %d twice" % (sec, d))
    rows[(sec, d)] = (int(f[1]), num(f[2]), num(f[3]), int(f[4]))
raises = {}
for line in open(bt_f):
    a = json.loads(line)
    if a["state"] == "raised":
        import datetime
        t = datetime.datetime.strptime(a["raised_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        end = int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
        raises.setdefault(a["section"], set()).add((end - T0) // DAY - 1)
for sec in ("GR-MK", "HR-RS", "HU-RS"):
    days = sorted(d for s, d in rows if s == sec)
    want = list(range(first, 59))
    if days != want:
        errors.append("%s: days %s, expected %d..58" % (sec, days, first))
    c = counts[sec]
    prev_alarm = 0
    for d in days:
        count, exp, bound, alarm = rows[(sec, d)]
        if count != c[d]:
            errors.append("%s day %d: count %d, published %d" % (sec, d, count, c[d]))
        # a bound is the first alarming count: alarm iff count >= bound
        if alarm != (bound is not None and count >= bound):
            errors.append("%s day %d: alarm %d with count %d, bound %s" % (sec, d, alarm, count, bound))
        if sec == "HU-RS" and (exp is not None or bound != 50):
            errors.append("HU-RS day %d: expected %s bound %s, want - and 50" % (d, exp, bound))
        if sec in ("GR-MK", "HR-RS"):
            if d < 9:  # ears_c2 needs 10 buckets, cusum 37
                if exp is not None or (sec == "GR-MK" and bound is not None):
                    errors.append("%s day %d: expected %s bound %s before ears_c2 can evaluate" % (sec, d, exp, bound))
            else:
                base = c[d - 9:d - 2]
                mu = statistics.mean(base)
                sd = max(statistics.stdev(base), 0.5)
                if exp is None or abs(exp - mu) > 1e-5 * max(1, mu):
                    errors.append("%s day %d: expected %s, ears_c2 mean %.6g" % (sec, d, exp, mu))
                v = mu + Z * sd
                if sec == "GR-MK" and (bound is None or not (v - 1e-6 <= bound < v + 1)):
                    errors.append("GR-MK day %d: bound %s, ceil(mean + z sd) = ceil(%.6f)" % (d, bound, v))
                if sec == "HR-RS" and (bound is None or bound > math.ceil(v - 1e-9)):
                    errors.append("HR-RS day %d: bound %s above ears_c2's %d" % (d, bound, math.ceil(v)))
        # backtest raises on an alarming bucket, and every run of alarms
        # starts with a raise (raise_after 1, resolve_after 1)
        raised = d in raises.get(sec, ())
        if raised and not alarm:
            errors.append("%s day %d: backtest raises, alarm 0" % (sec, d))
        if alarm and not prev_alarm and not raised and d > first:
            errors.append("%s day %d: an alarm run starts without a raise in backtest" % (sec, d))
        prev_alarm = alarm
    if first == 0:
        missing = sorted(x for x in raises.get(sec, ()) if x <= 58 and x not in days)
        if missing:
            errors.append("%s: backtest raises on days %s, not in the series" % (sec, missing))
n_alarm = sum(r[3] for r in rows.values())
n_raise = sum(len([x for x in v if x <= 58]) for v in raises.values())
if first == 0 and (n_alarm < 5 or n_raise < 3):
    errors.append("too few alarms (%d) or raises (%d) to mean anything" % (n_alarm, n_raise))
for e in errors[:15]:
    print(e)
print("%d buckets, %d alarming, %d raises in backtest" % (len(rows), n_alarm, n_raise))
sys.exit(1 if errors else 0)
EOF
check "B: days 49..58 of each section, the same members as A's" \
    $PY - "$W/b.tsv" "$W/a.tsv" <<'EOF'
import sys
b = [l for l in open(sys.argv[1])]
a = [l for l in open(sys.argv[2])]
T0, DAY = 1546300800000, 86400000
keep = [l for l in a if (int(float(l.split("\t")[1])) - T0) // DAY >= 49]
if sorted(b) != sorted(keep):
    print("B:", "".join(sorted(b))[:600])
    print("A's last 10:", "".join(sorted(keep))[:600])
    sys.exit(1)
EOF
[ "$(rcli HGET "sa-$$:series:meta" bucket_ms)" = "$DAY" ] && [ "$(rcli HGET "sb-$$:series:meta" bucket_ms)" = "$DAY" ] \
    && pass "PREFIX:series:meta bucket_ms = $DAY (A and B)" \
    || fail "meta bucket_ms" "A: $(rcli HGET "sa-$$:series:meta" bucket_ms) B: $(rcli HGET "sb-$$:series:meta" bucket_ms)"
open=$(rcli ZCOUNT "sa-$$:series:HU-RS" $((T0 + 59 * DAY)) +inf)
[ "$open" = 0 ] && pass "day 59, still open, is not in the series" || fail "day 59 is not in the series" "$open members"

# the listener: messages on sa-PID:series naming the sections written
got=$(awk 'prev == "sa-'$$':series" && before == "message" {print} {before = prev; prev = $0}' "$W/sub.txt" |
    tr ' ' '\n' | sort -u | tr '\n' ' ')
[ "$got" = "GR-MK HR-RS HU-RS " ] \
    && pass "SUBSCRIBE sa-$$:series: $(grep -c '^message$' "$W/sub.txt") messages naming $got" \
    || fail "PUBLISH on sa-$$:series names the sections" "got: $got" "$(head -c 400 "$W/sub.txt")"

# metrics
wa=$(metrics a1 | awk '$1 == "surgewatch_series_written_total" {print $2}')
da=$(metrics a1 | awk '$1 == "surgewatch_series_dropped_total" {print $2}')
[ "${wa:-0}" -ge 177 ] && [ "$da" = 0 ] \
    && pass "A's /metrics: series_written_total $wa (>= 3 x 59), series_dropped_total 0" \
    || fail "A's series metrics" "written=$wa dropped=$da"

# ------------------------------------------------------- a late event
hu58=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["HU-RS"][58])' "$W/counts.json")
s58=$((T0 + 58 * DAY))
# enough to take day 58 over the limit: its alarm changes too
late=$((55 - hu58))
printf '{"id":"late-1","src":"HU","section":"HU-RS","ts":%d,"type":"irregular_crossing","count":%d}\n' \
    $((s58 + 20 * 3600000)) "$late" > "$W/late.jsonl"
"$SW_BIN" publish -q -b "$B" -t "$topic" "$W/late.jsonl" 2>> "$W/publish.err" || fail "publish the late event"
updated() { [ "$(rcli ZRANGEBYSCORE "sa-$$:series:HU-RS" "$s58" "$s58" | cut -d' ' -f2)" = 55 ]; }
t0=$SECONDS
until updated || [ $((SECONDS - t0)) -gt 30 ]; do sleep 0.3; done
m=$(rcli ZRANGEBYSCORE "sa-$$:series:HU-RS" "$s58" "$s58")
want="$s58 55 - 50 1"
[ "$m" = "$want" ] && [ "$(rcli ZCARD "sa-$$:series:HU-RS")" = 59 ] \
    && pass "a late event ($late persons) into day 58 of HU-RS replaced its member: '$m' (was count $hu58, no alarm), still 59 buckets" \
    || fail "the late event updates day 58 of HU-RS in place" "got: '$m'" "want: '$want'" \
        "ZCARD $(rcli ZCARD "sa-$$:series:HU-RS")"
t0=$SECONDS
until [ "$(rcli ZRANGEBYSCORE "sb-$$:series:HU-RS" "$s58" "$s58")" = "$want" ] || [ $((SECONDS - t0)) -gt 30 ]; do
    sleep 0.3
done
[ "$(rcli ZRANGEBYSCORE "sb-$$:series:HU-RS" "$s58" "$s58")" = "$want" ] && [ "$(rcli ZCARD "sb-$$:series:HU-RS")" = 10 ] \
    && pass "B too, and still 10 buckets" \
    || fail "B: the late event updates day 58" "$(rcli ZRANGE "sb-$$:series:HU-RS" 0 -1)"

# ------------------------------------------------------ series_keep 0
wc0=$(metrics c1 | awk '$1 == "surgewatch_series_written_total" {print $2}')
stop_worker a1
stop_worker b1
stop_worker c1 # its shutdown would write what waits, if anything did
keys=$(rcli --scan --pattern "sc-$$:series*" | tr '\n' ' ')
[ -z "$keys" ] && [ "$wc0" = 0 ] && grep -q 'series_keep=0' "$W/c1.log" \
    && pass "C (SURGEWATCH_SERIES_KEEP=0): no sc-$$:series* key, series_written_total 0" \
    || fail "C writes no series" "keys: $keys" "written: $wc0" "$(grep started "$W/c1.log")"
[ -z "$(rcli --scan --pattern "sc-$$:series*")" ] && [ -n "$(rcli --scan --pattern "sc-$$:alerts*")" ] \
    && pass "C still wrote its alert log" || fail "C still wrote its alert log"
kill "$SUBPID" 2> /dev/null
for n in a1 b1 c1; do
    if grep -q "ERROR: AddressSanitizer\|runtime error:\|WARN run: series" "$W/$n.log"; then
        fail "worker $n: no sanitizer report, no refused series write" \
            "$(grep -A5 'AddressSanitizer\|runtime error\|WARN run: series' "$W/$n.log" | head -10)"
    fi
done
done_testing
