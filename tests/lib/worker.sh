# Sourced by the worker's integration tests: start, watch and stop
# `surgewatch run` processes, and check alert logs. Needs tap.sh sourced
# and `here` set; B (bootstrap), topic, W (work dir), PY come from
# worker_setup or the caller, ini from the caller; start_worker reads
# $topic and $ini when it is called.
declare -A WPID WPORT
# worker_setup NAME: needs the servers; W=$WORK/NAME, B (the broker),
# topic=NAME-PID, PY, and workers started later killed when the script ends
worker_setup() {
    require_env SW_BIN WORK KAFKA_BOOTSTRAP REDIS_URL
    PY=/usr/bin/python3
    W=$WORK/$1
    mkdir -p "$W"
    B=$KAFKA_BOOTSTRAP
    topic=$1-$$
    pids=()
    trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done' EXIT
}
# start_worker NAME GROUP REDIS_URL PREFIX [ARGS...]
start_worker() {
    local name=$1 group=$2 url=$3 prefix=$4
    shift 4
    local port
    port=$("$here/../lib/free-port")
    "$SW_BIN" run -b "$B" -t "$topic" -c "$ini" -g "$group" -r "$url" \
        --redis-prefix "$prefix" --dlq-topic "$topic.dlq-$group" \
        -m "127.0.0.1:$port" -X session.timeout.ms=6000 \
        -X heartbeat.interval.ms=500 "$@" 2> "$W/$name.log" &
    WPID[$name]=$!
    WPORT[$name]=$port
    pids+=("$!")
}
metrics() { curl -s --max-time 2 "http://127.0.0.1:${WPORT[$1]}/metrics"; }
# sum of a metric over the workers named
msum() {
    local m=$1 total=0 v
    shift
    for n in "$@"; do
        # (a partition not read yet says -1)
        v=$(metrics "$n" | awk -v m="$m" '$1 ~ "^"m"({|$)" && $2 > 0 {s += $2} END {printf "%d", s}')
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
# wait_consumed TOTAL SECONDS NAME...: every partition owned by one of the
# workers and read up to the end of the topic
wait_consumed() {
    local total=$1 secs=$2
    shift 2
    local t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$secs" ]; do
        if [ "$(msum surgewatch_partitions_owned "$@")" = 4 ] &&
            [ "$(msum surgewatch_next_offset "$@")" = "$total" ]; then
            return 0
        fi
        sleep 0.3
    done
    return 1
}
# stop_worker NAME: SIGTERM, exit status 0 within 15 s
stop_worker() {
    local name=$1 pid=${WPID[$1]} t0 rc
    t0=$(date +%s%N)
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        fail "worker $name stops on SIGTERM within 15 s" "$(tail -5 "$W/$name.log")"
        kill -9 "$pid"
        return
    fi
    wait "$pid"
    rc=$?
    local ms=$((($(date +%s%N) - t0) / 1000000))
    if [ "$rc" -eq 0 ] && grep -q "INFO run: stopped consumed=" "$W/$name.log"; then
        pass "worker $name: SIGTERM -> checkpointed, left the group, exit 0 in $ms ms"
    else
        fail "worker $name: SIGTERM -> exit 0" "exit $rc after $ms ms" "$(tail -8 "$W/$name.log")"
    fi
}
dump_log() { # PREFIX FILE [URL]
    redis-cli -u "${3:-$REDIS_URL}" --raw XRANGE "$1:alerts" - + > "$2"
}
pycheck() { # runs worker_check.py, turns its lines into TAP results
    local out line
    out=$($PY "$here/worker_check.py" "$@" 2>&1)
    while IFS= read -r line; do
        case "$line" in
            "ok - "*) pass "${line#ok - }" ;;
            "not ok - "*) fail "${line#not ok - }" ;;
            *) echo "$line" ;;
        esac
    done <<< "$out"
    grep -q '^\(not \)\?ok - ' <<< "$out" || fail "worker_check.py $1 ran" "$(tail -5 <<< "$out")"
}

