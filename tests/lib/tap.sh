# Sourced by integration tests: TAP-style result lines that tests/run-all
# counts. `pass DESC`, `fail DESC [DETAIL...]`, `check DESC CMD...` (runs CMD,
# passes when it exits 0). Each script ends with `done_testing`, which exits
# non-zero when anything failed.
_tap_n=0
_tap_failed=0
pass() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1"; }
fail() {
    _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1))
    echo "not ok $_tap_n - $1"
    shift
    for l in "$@"; do echo "#   $l"; done
}
check() {
    local desc=$1; shift
    local out
    if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "command: $*" "$(echo "$out" | tail -15)"; fi
}
done_testing() { [ "$_tap_failed" -eq 0 ]; exit; }
# Fails the whole script loudly when a server it needs is not there.
require_env() {
    local v
    for v in "$@"; do
        if [ -z "${!v:-}" ]; then
            fail "environment: $v is not set (server not started?)"
            done_testing
        fi
    done
}
