#!/usr/bin/env bash
# The terminal view of `surgewatch demo`, captured with tmux (a detached
# session of 100x30, capture-pane) and checked:
#   - the header shows a simulated day that advances between captures;
#   - the seven sections, each with its count and expected count;
#   - once March 2019 has passed, alert lines with a level; colour escapes
#     in the capture (capture-pane -e);
#   - Ctrl-C (send-keys C-c): the demo exits with 130, its last screen says
#     so, and nothing is left (no process, no listening socket, no
#     temporary directory);
#   - --no-color, and NO_COLOR=1: no colour escape anywhere in the capture
#     (capture-pane -e keeps them), the run ends by itself with exit 0 and
#     its summary.
# tmux is required (scripts/install-deps installs it): without it this test
# fails, it does not skip. Needs SW_BIN and WORK (from tests/run-all).
# Standalone:
#   SW_BIN=build/san/surgewatch WORK=$(mktemp -d) tests/integration/test_demo_tmux.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/proc.sh"
require_env SW_BIN WORK
W=$WORK/demo-tmux
rm -rf "$W"
mkdir -p "$W/home" "$W/tmp"
SW_BIN=$(cd "$(dirname "$SW_BIN")" && pwd)/$(basename "$SW_BIN")

if ! command -v tmux > /dev/null 2>&1; then
    fail "tmux is installed (scripts/install-deps installs it)" "tmux not found in PATH=$PATH"
    done_testing
fi
pass "tmux is installed: $(tmux -V)"

# A tmux server of our own (its own socket, no user config), started in a
# clean environment: the panes get only HOME, TMPDIR, PATH, TERM (tmux
# sets it) and the sanitizer options.
sock=$W/tmux.sock
printf 'set -g remain-on-exit on\nset -g status off\n' > "$W/tmux.conf"
tenv=(env -i HOME="$W/home" TMPDIR="$W/tmp" PATH=/usr/bin:/bin TERM=xterm-256color)
[ -n "${ASAN_OPTIONS:-}" ] && tenv+=(ASAN_OPTIONS="$ASAN_OPTIONS")
[ -n "${UBSAN_OPTIONS:-}" ] && tenv+=(UBSAN_OPTIONS="$UBSAN_OPTIONS")
tm() { tmux -S "$sock" "$@"; }
cleanup() { tm kill-server > /dev/null 2>&1; }
trap cleanup EXIT

# Starts a session running the demo with the given arguments; the demo's
# exit status goes to $W/NAME.rc (bash keeps waiting on Ctrl-C: `trap :`).
start_session() { # name extra-env demo-args...
    local name=$1 extra=$2
    shift 2
    rm -f "$W/$name.rc"
    local cmd
    cmd="trap : INT; $extra \"\$0\" demo \"\$@\"; echo \$? > '$W/$name.rc'"
    if tm has-session 2> /dev/null; then
        tm new-session -d -s "$name" -x 100 -y 30 bash -c "$cmd" "$SW_BIN" "$@"
    else
        "${tenv[@]}" tmux -S "$sock" -f "$W/tmux.conf" new-session -d -s "$name" \
            -x 100 -y 30 bash -c "$cmd" "$SW_BIN" "$@"
    fi
}

lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }

# Records the demo and its children (pid command) and their listening
# ports, under the session's pane.
record() { # name
    local pane p
    pane=$(tm display -p -t "$1" '#{pane_pid}' 2> /dev/null) || return 0
    for p in $(descendants "$pane"); do
        grep -q "^$p " "$W/$1.pids" 2> /dev/null && continue
        case "$(cmdline "$p")" in
            *surgewatch* | *redis-server*) echo "$p $(cmdline "$p")" >> "$W/$1.pids" ;;
        esac
    done
    [ -f "$W/$1.pids" ] || return 0
    local pids
    pids=$(cut -d' ' -f1 "$W/$1.pids" | paste -sd'|')
    ss -ltnpH 2> /dev/null | grep -E "pid=($pids)," | awk '{print $4}' >> "$W/$1.ports"
    sort -u -o "$W/$1.ports" "$W/$1.ports"
}

pane_dead() { [ "$(tm display -p -t "$1" '#{pane_dead}' 2> /dev/null)" = 1 ]; }
capture() { tm capture-pane -p -t "$1"; }           # text only
capture_e() { tm capture-pane -p -e -t "$1"; }      # with the escapes

# Waits until the pane's command has ended (up to $2 seconds).
wait_dead() { # name seconds
    for _ in $(seq 1 $(($2 * 5))); do
        pane_dead "$1" && [ -f "$W/$1.rc" ] && return 0
        sleep 0.2
    done
    return 1
}

check_nothing_left() { # name description
    local left="" p
    for p in $(cut -d' ' -f1 "$W/$1.pids" 2> /dev/null); do
        case "$(cmdline "$p")" in
            *surgewatch* | *redis-server*) left="$left $p($(cmdline "$p"))" ;;
        esac
    done
    if [ -n "$left" ]; then
        fail "$2: no process left" "alive:$left"
    else
        pass "$2: no process left ($(lines "$W/$1.pids") recorded: the demo and its children)"
    fi
    local pids held=""
    pids=$(cut -d' ' -f1 "$W/$1.pids" 2> /dev/null | paste -sd'|')
    [ -n "$pids" ] && held=$(ss -ltnpH 2> /dev/null | grep -E "pid=($pids),")
    if [ -z "$held" ]; then
        pass "$2: no listening socket left ($(lines "$W/$1.ports") were open)"
    else
        fail "$2: no listening socket left" "$held"
    fi
    local files
    files=$(ls -A "$W/tmp")
    if [ -z "$files" ]; then
        pass "$2: no temporary directory left"
    else
        fail "$2: no temporary directory left" "TMPDIR holds: $files"
    fi
}

DAY_RE='simulated day (20[0-9][0-9]-[0-9][0-9]-[0-9][0-9])'
ALERT_RE='^20[0-9-]{8} (raised|updated|resolved) +[A-Z]{2}-[A-Z]{2} +[a-z0-9_]+ +(low|medium|high|critical) '

# 1. the live view, then Ctrl-C
start_session view "" --from 2019-02-01 --to 2019-12-31 --speed 8
first="" later="" alert_screen="" day=""
for _ in $(seq 1 900); do # up to 180 s on a loaded machine
    record view
    screen=$(capture view)
    day=$(grep -oE "$DAY_RE" <<< "$screen" | head -1 | awk '{print $3}')
    if [ -n "$day" ]; then
        if [ -z "$first" ]; then
            first=$day
            echo "$screen" > "$W/first.txt"
        elif [ "$day" \> "$first" ] && [ -z "$later" ]; then
            later=$day
            echo "$screen" > "$W/later.txt"
        fi
    fi
    if [ -n "$later" ] && [ "$day" \> "2019-03-10" ] && grep -qE "$ALERT_RE" <<< "$screen"; then
        alert_screen=$screen
        echo "$screen" > "$W/alerts.txt"
        capture_e view > "$W/alerts.esc"
        break
    fi
    pane_dead view && break
    sleep 0.2
done
record view
if [ -n "$first" ] && [ -n "$later" ]; then
    pass "the header shows the simulated day, and it advances: $first, then $later"
else
    fail "the header shows a simulated day that advances" "first: '$first', later: '$later'" \
        "$(capture view | head -8)"
fi
screen=${alert_screen:-$(capture view)}
missing=""
for s in GR-MK HU-RS HR-RS HR-SI BA-HR BA-RS AL-GR; do
    grep -qE "^$s +[0-9]+ +[0-9]+\.[0-9] +\[" <<< "$screen" || missing="$missing $s"
done
if [ -z "$missing" ]; then
    pass "the seven sections, each with its count and expected count"
else
    fail "the seven sections, each with its count and expected count" "missing:$missing" "$screen"
fi
if [ -n "$alert_screen" ]; then
    pass "after March 2019 ($day): alert lines with a level, e.g. '$(grep -E "$ALERT_RE" <<< "$alert_screen" | head -1 | sed 's/  */ /g')'"
    sed 's/^/# /' "$W/alerts.txt"
else
    fail "after March 2019: alert lines with a level" "last screen:" "$(capture view)"
fi
if grep -q $'\e\[[0-9;]*m' "$W/alerts.esc" 2> /dev/null; then
    pass "the view is in colour (SGR escapes in capture-pane -e)"
else
    fail "the view is in colour (SGR escapes in capture-pane -e)"
fi
if pane_dead view; then
    fail "Ctrl-C: the demo was still running when Ctrl-C was sent" "it had ended: $(capture view | tail -5)"
else
    tm send-keys -t view C-c
    if wait_dead view 60; then
        rc=$(cat "$W/view.rc")
        [ "$rc" = 130 ] && pass "Ctrl-C: the demo exits, with status 130" ||
            fail "Ctrl-C: the demo exits with status 130" "status $rc" "$(capture view | tail -8)"
        capture view > "$W/after-c-c.txt"
        if grep -q 'interrupted' "$W/after-c-c.txt" &&
            grep -q 'everything the demo started has stopped' "$W/after-c-c.txt"; then
            pass "Ctrl-C: the last screen says it was interrupted and everything stopped"
        else
            fail "Ctrl-C: the last screen says it was interrupted and everything stopped" "$(tail -12 "$W/after-c-c.txt")"
        fi
    else
        fail "Ctrl-C: the demo exits (within 60 s)" "$(capture view | tail -8)"
    fi
fi
check_nothing_left view "after Ctrl-C"

# 2. --no-color: no colour escape at all; the run ends by itself
for variant in flag env; do
    if [ $variant = flag ]; then
        start_session plain-$variant "" --no-color --from 2019-02-20 --to 2019-03-20 --speed 10
        what="--no-color"
    else
        start_session plain-$variant "export NO_COLOR=1;" --from 2019-02-20 --to 2019-03-20 --speed 10
        what="NO_COLOR=1"
    fi
    seen_alert=0
    : > "$W/plain-$variant.esc"
    for _ in $(seq 1 900); do
        record plain-$variant
        capture_e plain-$variant > "$W/plain-$variant.now"
        cat "$W/plain-$variant.now" >> "$W/plain-$variant.esc"
        grep -qE "$ALERT_RE" "$W/plain-$variant.now" && seen_alert=1
        pane_dead plain-$variant && [ -f "$W/plain-$variant.rc" ] && break
        sleep 0.2
    done
    capture_e plain-$variant >> "$W/plain-$variant.esc"
    if wait_dead plain-$variant 5; then
        rc=$(cat "$W/plain-$variant.rc")
        [ "$rc" = 0 ] && pass "$what: the short replay ends by itself with status 0" ||
            fail "$what: the replay ends with status 0" "status $rc" "$(capture plain-$variant | tail -8)"
    else
        fail "$what: the replay ends by itself" "$(capture plain-$variant | tail -8)"
    fi
    if grep -q $'\e\[[0-9;]*m' "$W/plain-$variant.esc"; then
        fail "$what: no colour escape in any capture (capture-pane -e)" \
            "$(grep -m3 $'\e\[[0-9;]*m' "$W/plain-$variant.esc" | cat -v)"
    else
        pass "$what: no colour escape in $(grep -c 'simulated day' "$W/plain-$variant.esc") captures (capture-pane -e)"
    fi
    [ $seen_alert = 1 ] && pass "$what: alert lines were shown" ||
        fail "$what: alert lines were shown" "$(capture plain-$variant)"
    if capture plain-$variant | grep -q 'caught on its first day\|caught .* after its start'; then
        pass "$what: the summary at the end says which surges were caught"
    else
        fail "$what: the summary at the end" "$(capture plain-$variant | tail -12)"
    fi
    check_nothing_left plain-$variant "$what run"
done
done_testing
