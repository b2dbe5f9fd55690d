# shellcheck shell=bash disable=SC2034,SC2154
# Sourced by the hub's integration tests: start, restart, stop and watch
# `surgewatch hub` and `surgewatch subscribe` processes on free loopback
# ports. Needs tap.sh sourced, `here` set (the test's directory), SW_BIN and
# REDIS_URL. Every process started here (and any given to hub_track) is
# killed with SIGKILL when the script exits, also on failure.
#
#   hub_setup NAME            HUB_W=$WORK/NAME (emptied); sets the EXIT trap
#                             (a caller adds its processes with hub_track)
#   hub_start NAME PREFIX [ARGS...]
#                             starts hub NAME (--name NAME, -m off) on
#                             $REDIS_URL with key prefix PREFIX; a restart
#                             keeps the ports of the first start. Log:
#                             $HUB_W/hub-NAME.log (appended). Returns once
#                             the hub follows the alert log (1 if it died
#                             or took over 60 s). HUB_PID[NAME] is its pid.
#   hub_ep NAME               the subscriber's -H value: tcp://..:PUB,tcp://..:REPLAY
#   sub_start NAME OUT [ARGS...]
#                             starts `surgewatch subscribe ARGS`, stdout
#                             appended to OUT, stderr to $HUB_W/sub-NAME.log
#                             (appended); returns once it has its start
#                             point (1 if not within 60 s). SUB_PID[NAME].
#   stop_proc PID             SIGTERM, up to 60 s to exit; prints nothing,
#                             returns the exit status (137 after a SIGKILL
#                             when it did not stop)
#   hub_track PID             kill PID too when the script exits
#   wait_until SECS CMD...    runs CMD every 0.2 s until it succeeds;
#                             returns 1 if it never did within SECS s
#   nlines FILE               complete lines in FILE (0 when missing)
#   stopped_field NAME KEY    from subscriber NAME's last "stopped" log
#                             line, the value of KEY (printed, live,
#                             replayed, duplicates, gaps, bad)
declare -A HUB_PID HUB_PUB HUB_REPLAY SUB_PID
_hub_pids=()

hub_track() { _hub_pids+=("$1"); }
_hub_cleanup() {
    local p
    for p in "${_hub_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
}
hub_setup() {
    require_env SW_BIN WORK REDIS_URL
    HUB_W=$WORK/$1
    rm -rf "$HUB_W" # outputs are appended to: start from nothing
    mkdir -p "$HUB_W"
    trap _hub_cleanup EXIT
}

wait_until() {
    local secs=$1 t0=$SECONDS
    shift
    until "$@"; do
        [ $((SECONDS - t0)) -ge "$secs" ] && return 1
        sleep 0.2
    done
}
nlines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
_grep_count() { local n; n=$(grep -c -- "$2" "$1" 2>/dev/null); echo "${n:-0}"; }
# process PID alive and FILE has more than N lines matching PATTERN
_started() { kill -0 "$1" 2>/dev/null && [ "$(_grep_count "$2" "$3")" -gt "$4" ]; }
_alive_or_done() { ! kill -0 "$1" 2>/dev/null || [ "$(_grep_count "$2" "$3")" -gt "$4" ]; }

hub_start() {
    local name=$1 prefix=$2 log before
    shift 2
    [ -n "${HUB_PUB[$name]:-}" ] || HUB_PUB[$name]=$("$here/../lib/free-port")
    [ -n "${HUB_REPLAY[$name]:-}" ] || HUB_REPLAY[$name]=$("$here/../lib/free-port")
    log=$HUB_W/hub-$name.log
    before=$(_grep_count "$log" "reading the alert log")
    "$SW_BIN" hub -r "$REDIS_URL" --redis-prefix "$prefix" --name "$name" \
        --pub "tcp://127.0.0.1:${HUB_PUB[$name]}" \
        --replay "tcp://127.0.0.1:${HUB_REPLAY[$name]}" -m off "$@" 2>> "$log" &
    HUB_PID[$name]=$!
    hub_track $!
    wait_until 60 _alive_or_done $! "$log" "reading the alert log" "$before"
    _started $! "$log" "reading the alert log" "$before"
}
hub_ep() { echo "tcp://127.0.0.1:${HUB_PUB[$1]},tcp://127.0.0.1:${HUB_REPLAY[$1]}"; }

sub_start() {
    local name=$1 out=$2 log before
    shift 2
    log=$HUB_W/sub-$name.log
    before=$(_grep_count "$log" "subscribe: connected")
    "$SW_BIN" subscribe "$@" >> "$out" 2>> "$log" &
    SUB_PID[$name]=$!
    hub_track $!
    wait_until 60 _alive_or_done $! "$log" "subscribe: connected" "$before"
    [ "$(_grep_count "$log" "subscribe: connected")" -gt "$before" ]
}

stop_proc() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null
    if ! wait_until 60 eval "! kill -0 $pid 2>/dev/null"; then
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 137
    fi
    wait "$pid" 2>/dev/null
}

stopped_field() {
    grep 'subscribe: stopped ' "$HUB_W/sub-$1.log" 2>/dev/null | tail -1 |
        sed -n "s/.* $2=\([0-9]*\).*/\1/p"
}
