#!/usr/bin/env bash
# surgewatch hub, subscribe and keygen: options and their errors.
#  - --help of each names every option (and the hub's config keys and
#    variables);
#  - bad flags, values and config keys are refused with exit 2 and a
#    message that names the setting and says what is accepted;
#  - keygen writes a key pair in the certificate format, the secret file
#    mode 0600, and refuses to overwrite without --force;
#  - a hub whose port is taken exits 3; a hub without Redis keeps running,
#    says so on /healthz (503) and in its log, publishes once Redis is
#    there, and stops on SIGTERM with 0.
# Needs SW_BIN, WORK, REDIS_URL, SW_GEN.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN WORK REDIS_URL SW_GEN
W=$WORK/hub-cli
rm -rf "$W"
mkdir -p "$W"
freeport() { "$here/../lib/free-port"; }

out=$("$SW_BIN" hub --help)
rc=$?
missing=""
for k in --pub --replay --name --heartbeat --hwm --start --curve-key --authorized-keys \
    "--redis " --redis-prefix --redis-timeout --metrics --log-level --check-config --config \
    SURGEWATCH_HUB_PUB SURGEWATCH_HUB_CURVE_KEY SURGEWATCH_REDIS_URL "[hub] pub" "[hub] authorized_keys"; do
    grep -qF -- "$k" <<< "$out" || missing="$missing '$k'"
done
[ "$rc" = 0 ] && [ -z "$missing" ] && pass "hub --help: exit 0, lists every setting, config key and variable" \
    || fail "hub --help lists every setting" "exit $rc, missing:$missing"
out=$("$SW_BIN" subscribe --help)
rc=$?
missing=""
for k in --hub --server-key --key --from-seq --since --live --format --count --hwm --log-level SURGEWATCH_HUBS; do
    grep -qF -- "$k" <<< "$out" || missing="$missing '$k'"
done
[ "$rc" = 0 ] && [ -z "$missing" ] && pass "subscribe --help: exit 0, lists every option" \
    || fail "subscribe --help lists every option" "exit $rc, missing:$missing"

refuse() { # DESC EXPECTED-TEXT COMMAND ARGS...
    local desc=$1 want=$2
    shift 2
    local err rc
    err=$(timeout 20 "$SW_BIN" "$@" 2>&1 > /dev/null)
    rc=$?
    if [ "$rc" = 2 ] && grep -qF -- "$want" <<< "$err"; then
        pass "refused with exit 2: $desc: $(head -1 <<< "$err")"
    else
        fail "refused with exit 2: $desc" "exit $rc" "$err"
    fi
}
refuse "hub --pub 7781" "accepted: tcp://HOST:PORT" hub --pub 7781 --check-config
refuse "hub --replay tcp://h:99999" "accepted: tcp://HOST:PORT" hub --replay tcp://h:99999 --check-config
refuse "hub --pub = --replay" "the same endpoint as pub" hub --pub tcp://127.0.0.1:5 --replay tcp://127.0.0.1:5 --check-config
refuse "hub --name 'a b'" "accepted: 1..100 of [A-Za-z0-9._-]" hub --name "a b" --check-config
refuse "hub --heartbeat 5" "not a duration in 100ms..60s" hub --heartbeat 5 --check-config
refuse "hub --hwm 10" "not a whole number in 100..100000000" hub --hwm 10 --check-config
refuse "hub --start first" "accepted: 'latest' or a sequence number >= 1" hub --start first --check-config
refuse "hub --curve-key without --authorized-keys" "curve_key and authorized_keys go together" \
    hub --curve-key /nonexistent --check-config
refuse "hub --curve-key missing file" "No such file or directory" \
    hub --curve-key "$W/none.key" --authorized-keys "$W/none" --check-config
SURGEWATCH_HUB_HWM=x refuse "hub SURGEWATCH_HUB_HWM=x" "SURGEWATCH_HUB_HWM='x'" hub --check-config
printf '[hub]\nheartbeat = 0s\n' > "$W/bad.ini"
refuse "hub config [hub] heartbeat = 0s" "bad.ini:2: [hub] heartbeat = '0s'" hub -c "$W/bad.ini" --check-config
printf '[hub]\npubb = tcp://127.0.0.1:1\n' > "$W/bad.ini"
refuse "hub config unknown key" "[hub] pubb: unknown key (accepted: pub, replay" hub -c "$W/bad.ini" --check-config
refuse "hub stray argument" "unexpected argument 'x'" hub x
refuse "subscribe --hub localhost" "accepted: tcp://HOST:PORT" subscribe --hub localhost
refuse "subscribe --format xml" "accepted: json, table" subscribe --format xml
refuse "subscribe --from-seq 0" "accepted: a whole number >= 1" subscribe --from-seq 0
refuse "subscribe --since yesterday" "accepted: RFC 3339" subscribe --since yesterday
refuse "subscribe --since and --live" "exclude each other" subscribe --since 1h --live
refuse "subscribe bad section prefix" "not a section prefix" subscribe 'HU RS'
refuse "subscribe --server-key without --key" "go together" subscribe --server-key "$W/x.pub"
refuse "subscribe --count -1" "not a whole number >= 1" subscribe --count -1

# keygen
(cd "$W" && "$SW_BIN" keygen centre > pub.txt 2> keygen.err)
rc=$?
mode=$(stat -c %a "$W/centre.key" 2>/dev/null)
pubk=$(sed -n 's/.*public-key = "\(.*\)"/\1/p' "$W/centre.pub" 2>/dev/null)
[ "$rc" = 0 ] && [ "$mode" = 600 ] && [ "$pubk" = "$(cat "$W/pub.txt")" ] && [ ${#pubk} = 40 ] \
    && grep -q 'secret-key = "' "$W/centre.key" && ! grep -q secret-key "$W/centre.pub" \
    && pass "keygen NAME: NAME.key (mode 600, both keys) and NAME.pub (public only), prints the public key" \
    || fail "keygen NAME" "exit $rc mode $mode pub '$pubk'" "$(cat "$W/keygen.err")"
(cd "$W" && "$SW_BIN" keygen centre > /dev/null 2> keygen2.err)
rc=$?
[ "$rc" = 1 ] && grep -qF -- "--force" "$W/keygen2.err" && [ "$(sed -n 's/.*public-key = "\(.*\)"/\1/p' "$W/centre.pub")" = "$pubk" ] \
    && pass "keygen refuses to overwrite a key pair without --force" \
    || fail "keygen overwrite" "exit $rc" "$(cat "$W/keygen2.err")"
(cd "$W" && "$SW_BIN" keygen --force centre > /dev/null 2>&1)
[ "$(sed -n 's/.*public-key = "\(.*\)"/\1/p' "$W/centre.pub")" != "$pubk" ] \
    && pass "keygen --force replaces it" || fail "keygen --force"
/usr/bin/python3 -c '
import sys, zmq.auth
pub, sec = zmq.auth.load_certificate(sys.argv[1])
assert len(pub) == 40 and len(sec) == 40
assert zmq.curve_public(sec) == pub
' "$W/centre.key" && pass "pyzmq's zmq.auth.load_certificate reads keygen's file, and the keys belong together" \
    || fail "pyzmq reads the key file"

# a port already taken: exit 3 with the endpoint in the message
busy=$(freeport)
/usr/bin/python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(30)' "$busy" &
holder=$!
sleep 0.5
err=$(timeout 20 "$SW_BIN" hub -r "$REDIS_URL" --pub "tcp://127.0.0.1:$busy" --replay "tcp://127.0.0.1:$(freeport)" -m off 2>&1)
rc=$?
kill "$holder" 2>/dev/null
[ "$rc" = 3 ] && grep -qF "cannot bind pub tcp://127.0.0.1:$busy" <<< "$err" \
    && pass "a taken pub port: exit 3, the endpoint named" || fail "taken port" "exit $rc" "$err"

# no Redis yet: the hub runs, says so, and publishes once Redis is there
rport=$(freeport); pub=$(freeport); rep=$(freeport); mport=$(freeport)
"$SW_BIN" hub -r "redis://127.0.0.1:$rport" --redis-timeout 500ms --pub "tcp://127.0.0.1:$pub" \
    --replay "tcp://127.0.0.1:$rep" -m "127.0.0.1:$mport" --name cli > "$W/hub.out" 2> "$W/hub.log" &
hub=$!
trap 'kill $hub 2>/dev/null; redis-cli -p $rport shutdown nosave >/dev/null 2>&1' EXIT
code=""
for _ in $(seq 1 100); do
    code=$(curl -s -o "$W/health" -w '%{http_code}' "http://127.0.0.1:$mport/healthz" 2>/dev/null)
    [ "$code" = 503 ] && break
    sleep 0.2
done
[ "$code" = 503 ] && grep -q "Redis unreachable" "$W/hub.log" \
    && pass "no Redis: /healthz 503 ($(cat "$W/health")), a log line says so, the hub keeps running" \
    || fail "hub without Redis" "healthz $code" "$(tail -3 "$W/hub.log")"
redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --dir "$W" --daemonize yes > /dev/null
"$SW_BIN" subscribe -H "tcp://127.0.0.1:$pub,tcp://127.0.0.1:$rep" --count 30 > "$W/sub.out" 2> "$W/sub.log" &
sub=$!
for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/healthz")" = 200 ] && break
    sleep 0.2
done
sleep 1
"$(dirname "$SW_GEN")/sw_alert_writer" "redis://127.0.0.1:$rport" sw 30 0 HU-RS,HR-RS > /dev/null
for _ in $(seq 1 150); do kill -0 $sub 2>/dev/null || break; sleep 0.2; done
kill $sub 2>/dev/null
n=$(wc -l < "$W/sub.out")
[ "$n" = 30 ] && pass "Redis started later: the hub publishes, a subscriber gets all 30 alerts" \
    || fail "hub after Redis came up" "$n lines" "$(tail -3 "$W/hub.log")" "$(tail -3 "$W/sub.log")"
for _ in $(seq 1 50); do # /metrics is refreshed every second
    m=$(curl -s "http://127.0.0.1:$mport/metrics")
    grep -q '^surgewatch_hub_alerts_published_total 30$' <<< "$m" && break
    sleep 0.2
done
grep -q '^surgewatch_hub_alerts_published_total 30$' <<< "$m" && grep -q '^surgewatch_hub_redis_up 1$' <<< "$m" \
    && pass "/metrics: 30 published, redis_up 1" || fail "hub metrics" "$(grep -E 'published_total|redis_up' <<< "$m")"
undocumented=""
for name in $(sed -n 's/^\(surgewatch_hub_[a-z_]*\) .*/\1/p' <<< "$m"); do
    grep -qF "\`$name\`" "$here/../../docs/operations.md" || undocumented="$undocumented $name"
done
[ -z "$undocumented" ] && pass "every metric the hub serves is documented in docs/operations.md" \
    || fail "hub metrics not in docs/operations.md:$undocumented"
[ "$(redis-cli -p "$rport" GET sw:hub:cli:published)" = 30 ] \
    && pass "the hub's resume point in Redis: sw:hub:cli:published = 30" \
    || fail "resume point" "$(redis-cli -p "$rport" GET sw:hub:cli:published)"
ep="tcp://127.0.0.1:$pub,tcp://127.0.0.1:$rep"
n=$(timeout 30 "$SW_BIN" subscribe -H "$ep" --since 1h --count 30 2> "$W/since.log" | wc -l)
[ "$n" = 30 ] && pass "subscribe --since 1h: the 30 alerts logged in the last hour (found by their write time)" \
    || fail "subscribe --since 1h" "$n lines" "$(tail -3 "$W/since.log")"
timeout 30 "$SW_BIN" subscribe -H "$ep" --since "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" --count 1 \
    > "$W/future.out" 2> "$W/future.log" &
fut=$!
sleep 2
"$(dirname "$SW_GEN")/sw_alert_writer" "redis://127.0.0.1:$rport" sw 1 0 HU-RS > /dev/null
wait $fut
grep -q '"seq":31,' "$W/future.out" && [ "$(wc -l < "$W/future.out")" = 1 ] \
    && pass "subscribe --since a future time: nothing from the past, then the next live alert (seq 31)" \
    || fail "subscribe --since a future time" "$(cat "$W/future.out")" "$(tail -3 "$W/future.log")"
out=$(timeout 30 "$SW_BIN" subscribe -H "$ep" --from-seq 1 --count 31 -f table 2> "$W/table.log")
[ "$(wc -l <<< "$out")" = 31 ] && grep -q "^ *1  .*HU-RS" <<< "$out" && grep -q "^ *31  .*HU-RS" <<< "$out" \
    && pass "subscribe --from-seq 1 -f table: 31 table lines, seq first" \
    || fail "subscribe -f table" "$(head -3 <<< "$out")" "$(tail -3 "$W/table.log")"
# a log entry that is not an alert (written by hand): the hub counts and
# skips it, a subscriber prints the alerts around it and goes on
seq=$(redis-cli -p "$rport" INCR sw:alerts:seq)
redis-cli -p "$rport" XADD sw:alerts "$seq-1" alert '{"not":"an alert"}' prev 0 t 0 > /dev/null
"$SW_BIN" subscribe -H "$ep" --from-seq 31 --count 2 > "$W/bad.out" 2> "$W/bad.log" &
badsub=$!
sleep 1
"$(dirname "$SW_GEN")/sw_alert_writer" "redis://127.0.0.1:$rport" sw 1 0 HU-RS > /dev/null
for _ in $(seq 1 100); do kill -0 $badsub 2>/dev/null || break; sleep 0.2; done
kill $badsub 2>/dev/null
for _ in $(seq 1 50); do
    m=$(curl -s "http://127.0.0.1:$mport/metrics")
    grep -q '^surgewatch_hub_bad_log_entries_total 1$' <<< "$m" && break
    sleep 0.2
done
[ "$seq" = 32 ] && [ "$(sed -n 's/.*"seq":\([0-9]*\),.*/\1/p' "$W/bad.out" | tr '\n' ' ')" = "31 33 " ] \
    && grep -q '^surgewatch_hub_bad_log_entries_total 1$' <<< "$m" \
    && grep -q 'alert log entry seq=32 not published: missing field' "$W/hub.log" \
    && pass "a malformed log entry (seq 32): counted and logged by the hub, the subscriber prints 31 and 33" \
    || fail "malformed log entry" "seq $seq; printed: $(cat "$W/bad.out" | cut -c1-40)" \
        "$(grep -E 'bad_log' <<< "$m")" "$(tail -3 "$W/bad.log")"
kill -TERM $hub
wait $hub
rc=$?
[ "$rc" = 0 ] && grep -q "stopping published_seq=33" "$W/hub.log" \
    && pass "SIGTERM: exit 0, the last published seq logged" || fail "hub SIGTERM" "exit $rc" "$(tail -3 "$W/hub.log")"
done_testing
