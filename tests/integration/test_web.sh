#!/usr/bin/env bash
# The hub's web view (docs/web.md) end to end, in headless Chromium (Debian's
# chromium driven by playwright-core from tests/web, installed by
# scripts/install-deps) against a running `surgewatch demo --json --web
# 127.0.0.1:0 --web-viewers FILE`, the Western Balkans scenario from
# 2019-02-15 to 2019-04-25 at 2 days a second (the March 2019 surges; it
# ends with BA-RS's still on). Checked (tests/web/e2e.mjs):
#   - keygen --web-token: a token and the viewers-file line (sha256 of the
#     token, name, role, sections);
#   - the page loads (?token= -> the cookie, redirect to /, 200, drawn, one
#     tile per section, live, no console error, no failed request);
#   - each raised/updated alert turns its section's tile to the level the
#     alert lines imply within 2 s of the line on the demo's stdout
#     (the issue's bound; the measured max and median are printed), and
#     the final levels are those of the lines;
#   - a reconnect misses nothing: a proxy between the browser and the hub
#     resets every connection and refuses new ones for 3 s mid-replay; the
#     page shows "reconnecting", then "live", and at the end has seen every
#     seq of the lines exactly once; a page reloaded mid-run sees every seq
#     from its first on, and its feed is the never-reloaded page's;
#   - a viewer limited to two sections: exactly their tiles, feed items and
#     seqs; 403 for another section and for the preview; 401 without a
#     token or with a wrong one;
#   - the operator's section page: the chart of the period, a preview of a
#     lower alarm bound (ears_c2.alpha=0.01: more alarms, the counts of
#     api/preview shown, both charts), a bad value shown in #preview-error;
#   - screenshots in build/screenshots/ (SW_SCREENSHOTS to put them
#     elsewhere; kept after the run, which removes $WORK; paths printed);
#   - the demo exits 0; no process (surgewatch, redis-server, chromium) and
#     no listening socket of theirs is left, nor anything in TMPDIR.
# No servers needed (the demo starts its own). Needs SW_BIN and WORK (from
# tests/run-all). Standalone:
#   SW_BIN=build/san/surgewatch WORK=$(mktemp -d) tests/integration/test_web.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/proc.sh"
require_env SW_BIN WORK
root=$(cd "$here/../.." && pwd)
webdir=$root/tests/web
W=$WORK/web
SHOTS=${SW_SCREENSHOTS:-$root/build/screenshots}
rm -rf "$W" "$SHOTS"
mkdir -p "$W/home" "$W/tmp" "$SHOTS"
SW_BIN=$(cd "$(dirname "$SW_BIN")" && pwd)/$(basename "$SW_BIN")
CHROMIUM=${SW_CHROMIUM:-/usr/bin/chromium}
VIEWER_SECTIONS=HU-RS,HR-SI
DEMO_ARGS="--speed 2 --from 2019-02-15 --to 2019-04-25"

# 0. what the test runs on (scripts/install-deps installs both)
if [ ! -x "$CHROMIUM" ] || [ ! -f "$webdir/node_modules/playwright-core/package.json" ] || ! command -v node > /dev/null; then
    fail "headless Chromium and playwright-core are installed (scripts/install-deps)" \
        "$CHROMIUM: $(ls -l "$CHROMIUM" 2>&1)" "node: $(command -v node)" \
        "playwright-core: $(ls "$webdir/node_modules/playwright-core/package.json" 2>&1)"
    done_testing
fi
pass "Chromium ($("$CHROMIUM" --version 2> /dev/null | head -1)), node $(node --version), playwright-core $(node -p 'require(process.argv[1]).version' "$webdir/node_modules/playwright-core/package.json")"

# 1. the tokens: keygen --web-token prints "token: TOKEN" and "line: HASH NAME ROLE SECTIONS"
keygen() { # name role sections -> sets tok, line
    local out
    out=$("$SW_BIN" keygen --web-token "$1" --role "$2" --sections "$3" 2> "$W/keygen.err")
    local rc=$?
    tok=$(sed -n 's/^token: //p' <<< "$out")
    line=$(sed -n 's/^line: //p' <<< "$out")
    local want
    want="$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1) $1 $2 $3"
    if [ $rc -eq 0 ] && [ -n "$tok" ] && [ "$(wc -l <<< "$out")" -eq 2 ] && [ "$line" = "$want" ]; then
        pass "keygen --web-token $1 --role $2 --sections '$3': a token and its line (sha256 of the token, name, role, sections)"
    else
        fail "keygen --web-token $1 --role $2 --sections '$3': a token and its line" "exit $rc" \
            "output: $(sed 's/^token: .*/token: (hidden)/' <<< "$out" | paste -sd'|')" "stderr: $(cat "$W/keygen.err")" \
            "want line: (sha256 of the token) $1 $2 $3"
    fi
}
keygen wall-ops operator '*'
op_tok=$tok op_line=$line
keygen centre-zagreb viewer "$VIEWER_SECTIONS"
viewer_tok=$tok viewer_line=$line
out=$("$SW_BIN" keygen --web-token x --role king 2>&1)
rc=$?
[ $rc -eq 2 ] && pass "keygen --web-token x --role king: exit 2 ($out)" ||
    fail "keygen --web-token with a bad role: exit 2" "exit $rc: $out"
{
    echo "# sha256 of the token                                              name  role  sections"
    echo "$op_line"
    echo "$viewer_line"
} > "$W/viewers"
chmod 600 "$W/viewers"
sections=$("$SW_BIN" demo --truth | python3 -c 'import json, sys; print(",".join(json.load(sys.stdin)["sections"]))')
[ -n "$sections" ] || fail "demo --truth names the scenario's sections"

# 2. the browser against the demo (e2e.mjs starts the demo and reads its
# stdout); meanwhile record every process under it and their ports
record() { # prefix pid
    local c
    for c in $(descendants "$2"); do
        grep -q "^$c " "$1.pids" 2> /dev/null && continue
        echo "$c $(cmdline "$c")" >> "$1.pids"
    done
    local pids
    pids=$( (echo "$2"; cut -d' ' -f1 "$1.pids" 2> /dev/null) | paste -sd'|')
    ss -ltnpH 2> /dev/null | grep -E "pid=($pids)," | awk '{print $4}' >> "$1.ports"
    sort -u -o "$1.ports" "$1.ports"
}
echo "# running the demo ($DEMO_ARGS) with the browser, about a minute"
start=$SECONDS
(cd "$webdir" && exec env HOME="$W/home" TMPDIR="$W/tmp" SW_BIN="$SW_BIN" E2E_OUT="$W" E2E_SHOTS="$SHOTS" \
    E2E_VIEWERS="$W/viewers" E2E_OP_TOKEN="$op_tok" E2E_VIEWER_TOKEN="$viewer_tok" \
    E2E_VIEWER_SECTIONS="$VIEWER_SECTIONS" E2E_SECTIONS="$sections" E2E_SECTION=HU-RS \
    E2E_DEMO_ARGS="$DEMO_ARGS" E2E_PREVIEW_SET=ears_c2.alpha=0.01 E2E_CHROMIUM="$CHROMIUM" timeout 900 node e2e.mjs) > "$W/e2e.out" 2> "$W/e2e.err" &
job=$!
while kill -0 "$job" 2> /dev/null; do
    record "$W/run" "$job"
    sleep 0.5
done
wait "$job"
rc=$?
nres=0
while IFS= read -r l; do
    case "$l" in
        "ok - "*) pass "${l#ok - }"; nres=$((nres + 1)) ;;
        "not ok - "*) fail "${l#not ok - }"; nres=$((nres + 1)) ;;
        *) echo "$l" ;;
    esac
done < "$W/e2e.out"
if [ $rc -ne 0 ] && ! grep -q '^not ok' "$W/e2e.out"; then
    fail "e2e.mjs: exit 0" "exit $rc after $((SECONDS - start)) s, $nres checks" "$(tail -15 "$W/e2e.err")"
fi
[ -s "$W/e2e.err" ] && sed 's/^/# e2e stderr: /' "$W/e2e.err" | head -20

# 3. nothing left behind
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
left="" leftpids=""
for p in $(cut -d' ' -f1 "$W/run.pids" 2> /dev/null); do
    case "$(cmdline "$p")" in
        *surgewatch* | *redis-server* | *chrom*)
            left="$left $p($(cmdline "$p" | cut -c1-80))"
            leftpids="$leftpids $p"
            ;;
    esac
done
for want in ' demo ' 'redis-server' ' run ' ' hub ' ' subscribe ' 'chrom'; do
    grep -q -- "$want" "$W/run.pids" 2> /dev/null || echo "# note: no '$want' process was seen running"
done
if [ -z "$left" ]; then
    pass "no process left ($(lines "$W/run.pids") recorded: the demo, its children, the browser)"
else
    fail "no process left" "still alive:$left"
    for p in $leftpids; do kill -KILL "$p" 2> /dev/null; done
fi
pids=$(cut -d' ' -f1 "$W/run.pids" 2> /dev/null | paste -sd'|')
held=$([ -n "$pids" ] && ss -ltnpH 2> /dev/null | grep -E "pid=($pids),")
if [ -z "$held" ]; then
    pass "no listening socket left ($(lines "$W/run.ports") were open: $(paste -sd' ' "$W/run.ports" 2> /dev/null))"
else
    fail "no listening socket left" "$held"
fi
files=$(ls -A "$W/tmp")
[ -z "$files" ] && pass "nothing left in TMPDIR (the demo's directory, the browser's profile)" ||
    fail "nothing left in TMPDIR" "$files"
done_testing
