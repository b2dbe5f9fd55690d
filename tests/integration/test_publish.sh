#!/usr/bin/env bash
# surgewatch publish against a real Kafka broker, read back with kcat (an
# independent client) and decoded with Python's msgpack (an independent
# decoder). Needs KAFKA_BOOTSTRAP, SW_BIN, SW_GEN, WORK from tests/run-all.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env KAFKA_BOOTSTRAP SW_BIN SW_GEN WORK
B=$KAFKA_BOOTSTRAP
W=$WORK/publish
mkdir -p "$W"
run_id=$(date +%s)-$$
PY=/usr/bin/python3
CHECK="$PY $here/kafka_dump_check.py"

dump() { # topic file: every message of the topic, length-prefixed
    kcat -C -b "$B" -t "$1" -o beginning -e -q -f '%K\t%k\t%S\t%s\n' > "$2"
}

# 1. 100 000 valid events, JSON lines, read back by kcat
t1=it-events-$run_id
"$SW_GEN" --count 100000 --seed 7 > "$W/100k.jsonl"
if "$SW_BIN" publish -q -b "$B" -t "$t1" "$W/100k.jsonl" 2> "$W/pub1.err"; then
    pass "publish 100000 events: exit 0"
else
    fail "publish 100000 events: exit 0" "$(tail -5 "$W/pub1.err")"
fi
grep -q '100000 lines, 100000 sent, 0 rejected, 0 failed' "$W/pub1.err" \
    && pass "publish summary counts 100000 sent" \
    || fail "publish summary counts 100000 sent" "$(tail -3 "$W/pub1.err")"
dump "$t1" "$W/dump1"
check "kcat reads back all 100000, each decodes to what was sent, keyed by section" \
    $CHECK --dump "$W/dump1" --source "$W/100k.jsonl"

# 2. 1 % malformed JSON lines: exactly the good ones arrive, every bad one named
t2=it-bad-$run_id
"$SW_GEN" --count 20000 --seed 11 --bad-every 100 --bad-list "$W/bad2.lines" > "$W/bad.jsonl"
"$SW_BIN" publish -b "$B" -t "$t2" "$W/bad.jsonl" 2> "$W/pub2.err"
rc=$?
[ "$rc" -eq 1 ] && pass "publish with rejected lines exits 1" \
    || fail "publish with rejected lines exits 1" "exit $rc"
sed -n 's|^.*/bad.jsonl:\([0-9]*\): rejected (.*|\1|p' "$W/pub2.err" | sort -n > "$W/named2"
if diff -q <(sort -n "$W/bad2.lines") "$W/named2" >/dev/null; then
    pass "every one of the $(wc -l < "$W/bad2.lines") bad JSON lines is named with its line number"
else
    fail "every bad JSON line is named" "$(diff <(sort -n "$W/bad2.lines") "$W/named2" | head -5)"
fi
grep -q '20000 lines, 19800 sent, 200 rejected, 0 failed' "$W/pub2.err" \
    && pass "summary: 19800 sent, 200 rejected" \
    || fail "summary: 19800 sent, 200 rejected" "$(grep '^publish:' "$W/pub2.err")"
dump "$t2" "$W/dump2"
check "exactly the good JSON lines arrive" \
    $CHECK --dump "$W/dump2" --source "$W/bad.jsonl" --bad-lines "$W/bad2.lines"

# 3. the same with CSV
t3=it-csv-$run_id
"$SW_GEN" --count 5000 --seed 13 --format csv --bad-every 100 --bad-list "$W/bad3.lines" > "$W/bad.csv"
"$SW_BIN" publish -b "$B" -t "$t3" "$W/bad.csv" 2> "$W/pub3.err"
sed -n 's|^.*/bad.csv:\([0-9]*\): rejected (.*|\1|p' "$W/pub3.err" | sort -n > "$W/named3"
if diff -q <(sort -n "$W/bad3.lines") "$W/named3" >/dev/null; then
    pass "every bad CSV row is named with its line number"
else
    fail "every bad CSV row is named" "$(diff <(sort -n "$W/bad3.lines") "$W/named3" | head -5)"
fi
dump "$t3" "$W/dump3"
check "exactly the good CSV rows arrive" \
    $CHECK --format csv --dump "$W/dump3" --source "$W/bad.csv" --bad-lines "$W/bad3.lines"

# 4. dead-letter topic: rejected lines, unchanged, with their reason in headers
t4=it-dlq-$run_id
"$SW_BIN" publish -q --dlq -b "$B" -t "$t4" "$W/bad.jsonl" 2> "$W/pub4.err"
kcat -C -b "$B" -t "$t4.dlq" -o beginning -e -q \
    -f '%h\t%S\t%s\n' > "$W/dlq4"
check "the dead-letter topic holds each rejected line unchanged with reason, detail and source headers" \
    $PY - "$W/dlq4" "$W/bad.jsonl" "$W/bad2.lines" <<'PYEOF'
import re, sys
dump, src, badf = sys.argv[1:4]
lines = open(src, "rb").read().split(b"\n")
bad = [int(x) for x in open(badf).read().split()]
want = {f"{src}:{n}": lines[n - 1] for n in bad}
data = open(dump, "rb").read()
got, i = {}, 0
reasons = set()
while i < len(data):
    j = data.index(b"\t", i)
    # kcat prints headers as k=v,k=v; the detail text may hold commas
    parts = re.split(r",(?=(?:reason|detail|source\.topic|source\.partition|source\.offset)=)",
                     data[i:j].decode())
    hdrs = dict(h.split("=", 1) for h in parts)
    k = data.index(b"\t", j + 1)
    n = int(data[j + 1:k])
    payload = data[k + 1:k + 1 + n]
    i = k + 1 + n + 1
    for h in ("reason", "detail", "source.topic", "source.partition", "source.offset"):
        assert h in hdrs, f"header {h} missing: {hdrs}"
    assert hdrs["reason"] and hdrs["detail"], hdrs
    reasons.add(hdrs["reason"])
    got[hdrs["source.topic"]] = payload
assert set(got) == set(want), (len(got), len(want))
for k, v in want.items():
    assert got[k] == v, (k, got[k], v)
assert len(reasons) >= 6, reasons
print(f"{len(got)} dead letters, reasons {sorted(reasons)}")
PYEOF

# 5. --dry-run connects to nothing
closed_port=$("$here/../lib/free-port")
"$SW_BIN" publish -n -q -b "127.0.0.1:$closed_port" "$W/100k.jsonl" 2> "$W/dry.err"
rc=$?
[ "$rc" -eq 0 ] && grep -q 'dry run: 100000 lines, 100000 valid, 0 rejected' "$W/dry.err" \
    && pass "--dry-run validates 100000 lines with no broker" \
    || fail "--dry-run validates with no broker" "exit $rc" "$(cat "$W/dry.err" | tail -3)"

# 6. unreachable brokers: a clear message and exit 3, not a hang
start=$SECONDS
"$SW_BIN" publish -b "127.0.0.1:$closed_port" -t x "$W/bad.jsonl" > /dev/null 2> "$W/down.err"
rc=$?
if [ "$rc" -eq 3 ] && grep -q "brokers 127.0.0.1:$closed_port" "$W/down.err"; then
    pass "unreachable brokers: exit 3 after $((SECONDS - start)) s with a message naming them"
else
    fail "unreachable brokers: exit 3" "exit $rc" "$(tail -3 "$W/down.err")"
fi

# 7. --strict stops at the first bad line; the lines before it are delivered
t7=it-strict-$run_id
"$SW_BIN" publish -q --strict -b "$B" -t "$t7" "$W/bad.jsonl" 2> "$W/pub7.err"
rc=$?
first_bad=$(head -1 "$W/bad2.lines")
dump "$t7" "$W/dump7"
if [ "$rc" -eq 1 ] && grep -q "$((first_bad - 1)) sent, 1 rejected" "$W/pub7.err"; then
    pass "--strict: exit 1, $((first_bad - 1)) lines sent, stopped at line $first_bad"
else
    fail "--strict stops at the first bad line" "exit $rc" "$(grep '^publish' "$W/pub7.err")"
fi
check "--strict: exactly the lines before the first bad one arrive" \
    $CHECK --dump "$W/dump7" --source "$W/bad.jsonl" --bad-lines "$W/bad2.lines" --first-bad-stops

# 8. standard input, and a librdkafka property passed through -X
t8=it-stdin-$run_id
head -1000 "$W/100k.jsonl" | "$SW_BIN" publish -q -b "$B" -t "$t8" -X client.id=it-stdin -X compression.type=zstd 2> "$W/pub8.err"
rc=$?
dump "$t8" "$W/dump8"
head -1000 "$W/100k.jsonl" > "$W/1k.jsonl"
[ "$rc" -eq 0 ] && pass "publish from standard input with -X properties: exit 0" \
    || fail "publish from standard input" "exit $rc" "$(tail -3 "$W/pub8.err")"
check "events from standard input (zstd-compressed) arrive intact" \
    $CHECK --dump "$W/dump8" --source "$W/1k.jsonl"
"$SW_BIN" publish -q -b "$B" -X no.such.property=1 "$W/1k.jsonl" 2> "$W/badprop.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q 'no.such.property' "$W/badprop.err" \
    && pass "an unknown librdkafka property is a usage error naming it" \
    || fail "an unknown librdkafka property is a usage error" "exit $rc" "$(cat "$W/badprop.err")"

# 9. settings from a config file, overridden by the environment, then flags
t9=it-conf-$run_id
cat > "$W/sw.ini" <<INI
; surgewatch config used by the integration test
[kafka]
brokers = $B
topic = $t9-file
client.id = it-config
INI
"$SW_BIN" publish -q -c "$W/sw.ini" "$W/1k.jsonl" 2> "$W/pub9.err"
rc=$?
grep -q "to topic $t9-file " "$W/pub9.err" && [ "$rc" -eq 0 ] \
    && pass "config file [kafka] brokers and topic are used" \
    || fail "config file [kafka] settings" "exit $rc" "$(tail -3 "$W/pub9.err")"
SURGEWATCH_CONFIG="$W/sw.ini" SURGEWATCH_TOPIC="$t9-env" "$SW_BIN" publish -q "$W/1k.jsonl" 2> "$W/pub9b.err"
grep -q "to topic $t9-env " "$W/pub9b.err" \
    && pass "SURGEWATCH_TOPIC overrides the config file (SURGEWATCH_CONFIG)" \
    || fail "environment overrides config" "$(tail -3 "$W/pub9b.err")"
SURGEWATCH_TOPIC="$t9-env" "$SW_BIN" publish -q -c "$W/sw.ini" -t "$t9-flag" "$W/1k.jsonl" 2> "$W/pub9c.err"
grep -q "to topic $t9-flag " "$W/pub9c.err" \
    && pass "--topic overrides the environment" \
    || fail "flag overrides environment" "$(tail -3 "$W/pub9c.err")"
printf '[kafka]\nbrokers = %s\nbogus = 1\n' "$B" > "$W/bad.ini"
"$SW_BIN" publish -q -c "$W/bad.ini" "$W/1k.jsonl" 2> "$W/pub9d.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "bad.ini:3: \[kafka\] bogus: unknown key" "$W/pub9d.err" \
    && pass "an unknown config key is an error naming file, line and key" \
    || fail "unknown config key" "exit $rc" "$(cat "$W/pub9d.err")"
printf '[kafka\nbrokers = x\n' > "$W/syntax.ini"
"$SW_BIN" publish -q -c "$W/syntax.ini" "$W/1k.jsonl" 2> "$W/pub9e.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "syntax.ini:1: syntax error" "$W/pub9e.err" \
    && pass "a config syntax error names file and line" \
    || fail "config syntax error" "exit $rc" "$(cat "$W/pub9e.err")"
"$SW_BIN" publish -q --format xml "$W/1k.jsonl" 2> "$W/pub9f.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "accepted: json, csv" "$W/pub9f.err" \
    && pass "a bad --format says what is accepted" \
    || fail "bad --format" "exit $rc" "$(cat "$W/pub9f.err")"


# 10. a live feed on a pipe: an event is sent while the pipe stays open
# (the reader hands over its batch whenever its input has nothing more to
# give, not only every 2048 lines or at the end; the soak test found events
# held for seconds at 500/s, and a slow feed held until its end)
t10=sw-test-live-$run_id
rm -f "$W/live.fifo"; mkfifo "$W/live.fifo"
{ head -1 "$W/1k.jsonl"; sleep 40; } > "$W/live.fifo" &
wpid=$!
"$SW_BIN" publish -q -b "$B" -t "$t10" < "$W/live.fifo" 2> "$W/live.err" &
ppid=$!
seen=0
: > "$W/live.out"
for _ in $(seq 1 40); do
    sleep 0.5
    kcat -C -b "$B" -t "$t10" -o beginning -e -q -f '%s\n' > "$W/live.out" 2> /dev/null
    [ -s "$W/live.out" ] && { seen=1; break; }
done
[ "$seen" = 1 ] && kill -0 $ppid 2> /dev/null &&
    pass "a live feed: the first event reaches Kafka while its pipe is still open" ||
    fail "a live feed: the first event reaches Kafka while the pipe is open" "kcat saw: $(wc -c < "$W/live.out") bytes" "$(cat "$W/live.err")"
pkill -P $wpid 2> /dev/null # the sleep: the pipe ends, publish exits
wait $wpid $ppid 2> /dev/null

done_testing
