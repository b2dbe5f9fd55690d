#!/usr/bin/env bash
# surgewatch run: options, configuration errors, and an unreachable broker.
#  - --help lists every setting with its config key and environment name;
#  - bad flags, values, config keys and URLs are refused with exit 2 and a
#    message that names the setting, where it came from and what is accepted;
#  - --check-config shows each setting's value and origin, the Redis
#    password hidden; later sources win (file < environment < flag);
#  - with no broker listening, the worker keeps running, reports the broker
#    on /healthz (503) and in its log, and still stops on SIGTERM with 0.
# Needs SW_BIN, WORK and REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN WORK REDIS_URL
W=$WORK/run-cli
mkdir -p "$W"

out=$("$SW_BIN" run --help)
rc=$?
missing=""
for k in "--group" "--dlq-topic" "--redis " "--redis-prefix" "--redis-timeout" \
    "--checkpoint-events" "--checkpoint-interval" "--metrics" "--log-level" \
    "--check-config" "--brokers" "--topic" "--property" "--config" \
    SURGEWATCH_GROUP SURGEWATCH_REDIS_URL SURGEWATCH_METRICS SURGEWATCH_CHECKPOINT_EVENTS \
    "[worker] group" "[redis] url" "[worker] checkpoint_interval"; do
    grep -qF -- "$k" <<< "$out" || missing="$missing '$k'"
done
[ "$rc" = 0 ] && [ -z "$missing" ] && pass "run --help: exit 0, lists every setting, config key and variable" \
    || fail "run --help lists every setting" "exit $rc, missing:$missing"

# refuse: what, where from, what is accepted
refuse() { # DESC EXPECTED-TEXT ARGS...
    local desc=$1 want=$2
    shift 2
    local err rc
    err=$("$SW_BIN" run "$@" --check-config 2>&1 > /dev/null)
    rc=$?
    if [ "$rc" = 2 ] && grep -qF -- "$want" <<< "$err"; then
        pass "refused with exit 2: $desc: $(head -1 <<< "$err")"
    else
        fail "refused with exit 2: $desc" "exit $rc" "$err"
    fi
}
refuse "--checkpoint-events abc" "not a whole number in 1..100000000" --checkpoint-events abc
refuse "--checkpoint-events 0" "not a whole number in 1..100000000" --checkpoint-events 0
refuse "--checkpoint-interval 5" "not a duration in 100ms..1h" --checkpoint-interval 5
refuse "--redis http://x" "accepted: redis://[[user]:password@]host[:port][/db]" --redis http://x
refuse "--log-level loud" "accepted: error, warn, info, debug" --log-level loud
refuse "--group 'a b'" "accepted: 1..200 of [A-Za-z0-9._-]" --group "a b"
refuse "-X no.such.property=1" 'No such configuration property: "no.such.property"' -X no.such.property=1
refuse "an unexpected argument" "run takes only options" extra
printf '[worker]\ncheckpoint_events = 100\nbogus = 1\n' > "$W/bad.ini"
refuse "[worker] bogus in a config file" "bad.ini:3: [worker] bogus: unknown key (accepted: group, dlq_topic" -c "$W/bad.ini"
printf '[redis]\ntimeout = 2 s\n' > "$W/bad2.ini"
refuse "[redis] timeout = 2 s" "bad2.ini:2: [redis] timeout = '2 s': not a duration in 100ms..60s" -c "$W/bad2.ini"
err=$(SURGEWATCH_CHECKPOINT_INTERVAL=forever "$SW_BIN" run --check-config 2>&1 > /dev/null)
grep -qF "SURGEWATCH_CHECKPOINT_INTERVAL='forever': not a duration" <<< "$err" \
    && pass "a bad environment value names the environment: $err" \
    || fail "a bad environment value names the environment" "$err"
"$SW_BIN" run --metrics 127.0.0.1:99999 -r "$REDIS_URL" -b 127.0.0.1:1 > /dev/null 2> "$W/port.err"
rc=$?
[ "$rc" = 2 ] && grep -q "bad listen address" "$W/port.err" \
    && pass "a bad metrics address is refused: $(head -1 "$W/port.err")" \
    || fail "a bad metrics address is refused" "exit $rc" "$(head -3 "$W/port.err")"

# precedence and redaction
printf '[worker]\ngroup = from-file\ncheckpoint_events = 1000\n[redis]\nurl = redis://ops:s3cret@10.0.0.5:6380/2\n' > "$W/ok.ini"
out=$(SURGEWATCH_GROUP=from-env "$SW_BIN" run -c "$W/ok.ini" --checkpoint-events 5000 --check-config 2>&1)
rc=$?
if [ "$rc" = 0 ] && grep -qF "[worker] group = from-env  (environment)" <<< "$out" &&
    grep -qF "[worker] checkpoint_events = 5000  (command line)" <<< "$out" &&
    grep -qF "[redis] url = redis://ops:***@10.0.0.5:6380/2  (ok.ini:5)" <<< "$(sed "s|$W/||" <<< "$out")" &&
    ! grep -q s3cret <<< "$out"; then
    pass "--check-config: flag > environment > file, each with its origin, the password hidden"
else
    fail "--check-config shows precedence and hides the password" "exit $rc" "$out"
fi

# no broker: the worker runs, says so, and stops cleanly
port=$("$here/../lib/free-port")
dead=$("$here/../lib/free-port")
"$SW_BIN" run -b "127.0.0.1:$dead" -t nowhere -r "$REDIS_URL" --redis-prefix cli-$$ \
    -m "127.0.0.1:$port" 2> "$W/nobroker.log" &
pid=$!
code=""
for _ in $(seq 1 100); do
    code=$(curl -s -o "$W/h.txt" -w '%{http_code}' "http://127.0.0.1:$port/healthz")
    [ "$code" = 503 ] && grep -q "Kafka brokers down" "$W/h.txt" && break
    sleep 0.1
done
[ "$code" = 503 ] && grep -q "Kafka brokers down" "$W/h.txt" \
    && pass "no broker: /healthz 503: $(cat "$W/h.txt")" \
    || fail "no broker: /healthz 503" "got $code: $(cat "$W/h.txt" 2>/dev/null)" "$(tail -3 "$W/nobroker.log")"
grep -q "kafka error=" "$W/nobroker.log" \
    && pass "no broker: logged: $(grep -m1 -o 'kafka error=.*' "$W/nobroker.log")" \
    || fail "no broker: logged" "$(tail -3 "$W/nobroker.log")"
kill -0 "$pid" 2> /dev/null && pass "no broker: the worker keeps running (librdkafka retries)" \
    || fail "no broker: the worker keeps running"
t0=$SECONDS
kill -TERM "$pid"
for _ in $(seq 1 150); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2> /dev/null; then
    fail "no broker: SIGTERM stops the worker within 15 s"
    kill -9 "$pid"
else
    wait "$pid"
    rc=$?
    [ "$rc" = 0 ] && pass "no broker: SIGTERM -> exit 0 in $((SECONDS - t0)) s" \
        || fail "no broker: SIGTERM -> exit 0" "exit $rc" "$(tail -5 "$W/nobroker.log")"
fi
done_testing
