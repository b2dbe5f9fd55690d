#!/usr/bin/env bash
# The hub's web view API (docs/web.md) against a real redis-server, with
# plain HTTP clients (curl, Python's http.client: tests/integration/
# web_api_check.py) and no browser: `surgewatch hub --web 127.0.0.1:PORT
# --web-viewers FILE -m 127.0.0.1:PORT` on a fresh key prefix, with four
# viewers from `surgewatch keygen --web-token`: ops (operator, *), wall
# (viewer, *), lim (viewer, HU-RS,HR-SI) and gone (viewer, *).
#   1. access: 401 without or with a wrong token (JSON naming the accepted
#      ways; the page: a login form), /?token= -> 303 with the cookie
#      (HttpOnly, SameSite=Strict) and the token out of the address, the
#      cookie and Bearer work; the limited viewer sees only its sections in
#      /api/state (sections, active, recent, compared with Redis) and in
#      its event stream (the exact seqs of the log), 403 for another
#      section; viewers get 403 on /api/preview, operators 200;
#   2. SIGHUP: a viewer removed from the file loses access (401) and its
#      open stream ends; put back, it works; a broken file keeps the old
#      viewers (logged);
#   3. bad requests: 405, 404, 400 with messages naming what is accepted,
#      counted in /metrics (web_bad_requests_total, web_denied_total); the
#      hub stays up;
#   4. the event stream: 300 alerts written before the hub starts (its
#      memory starts empty): from=1 delivers 1..300 from the Redis log,
#      then the live ones; Last-Event-ID (which wins over from) resumes
#      exactly after it; a stream cut every 120 alerts and reopened with
#      the last id received, while 1000 alerts are written at 200/s, loses
#      and duplicates nothing;
#   5. series and silences: buckets written in the workers' format reach
#      open streams (event: series) after the PUBLISH, /api/state and
#      /api/section return exactly the stored buckets; a `ctl silence add`
#      reaches open streams (event: silences) and /api/state, for the
#      viewers whose sections it covers;
#   6. preview: threshold.limit proposed against the stored counts of 30
#      buckets: alarm exactly where count >= limit, bound = limit, alarms,
#      changes.
# No timed assertion: every wait is a polling loop with a generous limit.
# Needs SW_BIN (the tools are beside it in tests/tools, or beside SW_GEN),
# WORK, REDIS_URL. Standalone:
#   SW_BIN=build/san/surgewatch WORK=$(mktemp -d) REDIS_URL=redis://... \
#       tests/integration/test_web_api.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN WORK REDIS_URL
. "$here/../lib/hub.sh"
. "$here/../lib/redis.sh"
hub_setup web-api
W=$HUB_W
PY=/usr/bin/python3
CHK=$here/web_api_check.py
if [ -n "${SW_GEN:-}" ]; then tools=$(dirname "$SW_GEN"); else tools=$(dirname "$SW_BIN")/tests/tools; fi
writer=$tools/sw_alert_writer
[ -x "$writer" ] || { fail "tool $writer is built (make SAN=1)"; done_testing; }
SECTIONS=HU-RS,HR-SI,GR-MK,HR-RS,RS-XK,HU-UA
LIM=HU-RS,HR-SI
pfx=webapi-$(date +%s)-$$
export PFX=$pfx REDIS=$REDIS_URL

# relay ARGS...: runs the helper; its "ok - " / "not ok - " lines (and the
# "#   " lines under a failure) become this script's results
relay() {
    local rline desc="" rc d
    local -a detail=()
    "$PY" "$CHK" "$@" > "$W/relay.out" 2>&1
    rc=$?
    flush() {
        if [ -n "$desc" ]; then fail "$desc" "${detail[@]}"; fi
        desc="" detail=()
    }
    while IFS= read -r rline; do
        case "$rline" in
            "ok - "*) d=${rline#ok - }; flush; pass "$d" ;;
            "not ok - "*) d=${rline#not ok - }; flush; desc=$d ;;
            "#   "*) if [ -n "$desc" ]; then detail+=("${rline#\#   }"); else echo "$rline"; fi ;;
            *) if [ -n "$desc" ]; then detail+=("$rline"); else echo "# $rline"; fi ;;
        esac
    done < "$W/relay.out"
    flush
    [ $rc -eq 0 ] || fail "web_api_check.py $1 exits 0" "exit $rc" "$(tail -5 "$W/relay.out")"
}
log_seq() { rcli GET "$pfx:alerts:seq"; }
write() { # N RATE: N alerts over the six sections (foreground)
    "$writer" "$REDIS_URL" "$pfx" "$1" "$2" "$SECTIONS" >> "$W/writer.log" 2>&1 ||
        fail "sw_alert_writer $*" "$(tail -3 "$W/writer.log")"
}
declare -A SSE
# sse NAME TOKEN [ARGS]: an event stream read in the background into
# $W/NAME.ev (web_api_check.py sse)
sse() {
    local name=$1
    shift
    "$PY" "$CHK" sse "$W/$name.ev" "$@" 2>> "$W/sse-$name.err" &
    SSE[$name]=$!
    hub_track $!
}
sse_stop() { kill "${SSE[$1]}" 2> /dev/null; wait "${SSE[$1]}" 2> /dev/null; }
waitev() { "$PY" "$CHK" wait "$@"; }
status() { "$PY" "$CHK" status "$1" "$2" 2> /dev/null; } # TOKEN PATH
settle() { sleep 1.5; } # a duplicate or a stray alert would show up by now

# ----------------------------------------------------------- the viewers
declare -A TOK LINE
for v in "ops operator *" "wall viewer *" "lim viewer $LIM" "gone viewer *"; do
    read -r name role secs <<< "$v"
    out=$("$SW_BIN" keygen --web-token "$name" --role "$role" --sections "$secs" 2> "$W/keygen.err")
    TOK[$name]=$(sed -n 's/^token: //p' <<< "$out")
    LINE[$name]=$(sed -n 's/^line: //p' <<< "$out")
    [ -n "${TOK[$name]}" ] && [ -n "${LINE[$name]}" ] ||
        { fail "keygen --web-token $name" "$out" "$(cat "$W/keygen.err")"; done_testing; }
done
viewers() { # NAME...: the viewers file with these viewers
    {
        echo "# sha256 of the token   name   role   sections"
        for n in "$@"; do echo "${LINE[$n]}"; done
    } > "$W/viewers.tmp" && mv "$W/viewers.tmp" "$W/viewers"
}
viewers ops wall lim gone
ALL="${TOK[ops]} ${TOK[wall]} ${TOK[lim]}"

# ------------------------------------------------- Redis before the hub
rcli SADD "$pfx:sections" HU-RS HR-SI GR-MK HR-RS RS-XK HU-UA PL-UA > /dev/null
"$PY" "$CHK" seed || fail "the series seeded"
"$SW_BIN" ctl -r "$REDIS_URL" --redis-prefix "$pfx" --as test set PL-UA run=threshold threshold.limit=40 \
    > "$W/ctl.log" 2>&1 || fail "ctl set PL-UA run=threshold threshold.limit=40" "$(tail -3 "$W/ctl.log")"
# three runs (the writer cycles each alert id raised -> updated ->
# resolved, ids round-robin over the sections): the runs of 19 and 23 end
# with an active alert of HU-RS and of HR-SI, the one of 258 with none
for n in 19 23 258; do write $n 0; done
[ "$(log_seq)" = 300 ] && pass "4: 300 alerts over $SECTIONS in the log before the hub starts" ||
    fail "4: 300 alerts in the log" "seq $(log_seq)"

WPORT=$("$here/../lib/free-port")
MPORT=$("$here/../lib/free-port")
export WEB=http://127.0.0.1:$WPORT
hub_start web "$pfx" -m "127.0.0.1:$MPORT" --web "127.0.0.1:$WPORT" --web-viewers "$W/viewers"
started=$?
HLOG=$W/hub-web.log
HPID=${HUB_PID[web]}
if [ $started -ne 0 ] || ! wait_until 30 eval '[ "$(status "${TOK[ops]}" /api/state)" = 200 ]'; then
    fail "the hub with --web started and answers" "$(tail -5 "$HLOG")"
    done_testing
fi
grep -q "from seq=301 (latest)" "$HLOG" && pass "4: the hub starts at the latest seq (its memory holds none of the 300)" ||
    fail "4: the hub starts at the latest seq" "$(grep 'reading the alert log' "$HLOG")"

# ------------------------------------------------- 4. the event stream
sse all "${TOK[wall]}" --from 1
sse lim "${TOK[lim]}" --from 1
sse gone "${TOK[gone]}" --from 1
sse live "${TOK[wall]}"
nlim=$("$PY" "$CHK" logcount "$LIM" 1 300)
waitev "$W/all.ev" --alerts 300 &&
    pass "4: /api/events?from=1 delivers 300 alerts from the Redis log before any new one is written" ||
    fail "4: /api/events?from=1 delivers the 300 alerts of the log (the hub's memory is empty)" "$(waitev "$W/all.ev" --alerts 300 --timeout 0)"
waitev "$W/lim.ev" --alerts "$nlim" > /dev/null
waitev "$W/live.ev" --hello > /dev/null
settle
check "4: from=1: exactly seqs 1..300, in order, each once, each equal to its log entry, after hello" \
    "$PY" "$CHK" seqcheck "$W/all.ev" 1 300 --hello-first
check "4: from=1 as the viewer of $LIM: exactly the $nlim seqs of its sections in 1..300" \
    "$PY" "$CHK" seqcheck "$W/lim.ev" 1 300 --sections "$LIM" --hello-first
write 100 0
waitev "$W/all.ev" --alerts 400 > /dev/null
waitev "$W/live.ev" --alerts 100 > /dev/null
settle
check "4: then the live ones: exactly 1..400" "$PY" "$CHK" seqcheck "$W/all.ev" 1 400
check "4: a stream opened without from (on the hub with 300 in the log) gets exactly the new 301..400" \
    "$PY" "$CHK" seqcheck "$W/live.ev" 301 400 --hello-first

sse leid "${TOK[wall]}" --last-id 150
sse leid2 "${TOK[wall]}" --last-id 350 --from 5
sse leidl "${TOK[lim]}" --last-id 150
waitev "$W/leid.ev" --alerts 250 > /dev/null
waitev "$W/leid2.ev" --alerts 50 > /dev/null
waitev "$W/leidl.ev" --alerts "$("$PY" "$CHK" logcount "$LIM" 151 400)" > /dev/null
settle
check "4: Last-Event-ID: 150 (header) delivers exactly 151..400" "$PY" "$CHK" seqcheck "$W/leid.ev" 151 400 --hello-first
check "4: Last-Event-ID: 350 wins over from=5: exactly 351..400" "$PY" "$CHK" seqcheck "$W/leid2.ev" 351 400
check "4: Last-Event-ID: 150 as the viewer of $LIM: exactly its sections' seqs in 151..400" \
    "$PY" "$CHK" seqcheck "$W/leidl.ev" 151 400 --sections "$LIM"
for n in leid leid2 leidl; do sse_stop $n; done

# cut every 120 alerts, reopened with the last id 0.7 s later, while 1000
# alerts are written at 200/s
"$writer" "$REDIS_URL" "$pfx" 1000 200 "$SECTIONS" >> "$W/writer.log" 2>&1 &
WPID=$!
hub_track $WPID
sse cut "${TOK[wall]}" --last-id 400 --cut 120 --until 1400
wait_until 120 eval "! kill -0 ${SSE[cut]} 2>/dev/null" || fail "4: the cut stream reached seq 1400 within 120 s"
wait "$WPID" || fail "sw_alert_writer 1000 at 200/s" "$(tail -3 "$W/writer.log")"
[ "$(log_seq)" = 1400 ] || fail "4: 1400 alerts in the log" "seq $(log_seq)"
conns=$(grep -c '"status": 200' "$W/cut.ev")
cuts=$(grep -c '"end": "cut after' "$W/cut.ev")
during=$(grep '"end": "cut after' "$W/cut.ev" | grep -cE '"log_seq": ([0-9]{1,3}|1[0-3][0-9]{2})[,}]')
[ "$cuts" -ge 3 ] && [ "$during" -ge 2 ] &&
    pass "4: the stream was cut and reopened $cuts times, $during of them while the writer ran ($conns connections)" ||
    fail "4: the stream was cut and reopened at least 3 times, at least twice while the writer ran" "$(grep '"end"' "$W/cut.ev")"
check "4: across the cuts (Last-Event-ID = the last id received): exactly 401..1400, in order, nothing lost or duplicated, hello first on each connection" \
    "$PY" "$CHK" seqcheck "$W/cut.ev" 401 1400 --hello-first
nlim=$("$PY" "$CHK" logcount "$LIM" 1 1400)
waitev "$W/all.ev" --alerts 1400 > /dev/null
waitev "$W/lim.ev" --alerts "$nlim" > /dev/null
settle
check "4: the stream open since from=1: exactly 1..1400" "$PY" "$CHK" seqcheck "$W/all.ev" 1 1400
check "1: the stream of the viewer of $LIM: exactly the $nlim seqs of its sections in 1..1400, each equal to its log entry" \
    "$PY" "$CHK" seqcheck "$W/lim.ev" 1 1400 --sections "$LIM"

# ------------------------------------------------------------ 1. access
relay access "${TOK[ops]}" "${TOK[wall]}" "${TOK[lim]}" "$LIM"
# the same with curl: the redirect and the cookie jar
code=$(curl -s -o /dev/null -c "$W/jar" -w '%{http_code} %{redirect_url}' "$WEB/?token=${TOK[wall]}")
code2=$(curl -s -o "$W/state.json" -b "$W/jar" -w '%{http_code}' "$WEB/api/state")
[ "${code%% *}" = 303 ] && [ "${code#* }" = "$WEB/" ] && [ "$code2" = 200 ] &&
    grep -q '"name":"wall"' "$W/state.json" &&
    pass "1: curl: /?token= -> 303 to $WEB/, and its cookie jar then gets /api/state" ||
    fail "1: curl: /?token= -> 303 to /, the cookie then works" "got '$code', then $code2: $(head -c 200 "$W/state.json")"

# ------------------------------------------------------ 3. bad requests
relay bad "http://127.0.0.1:$MPORT/metrics" "${TOK[ops]}" "${TOK[wall]}" "${TOK[lim]}"
kill -0 "$HPID" 2> /dev/null && [ "$(status "${TOK[ops]}" /api/state)" = 200 ] &&
    pass "3: the hub is still up (pid $HPID) and /api/state answers 200" ||
    fail "3: the hub is still up after the bad requests" "$(tail -5 "$HLOG")"

# -------------------------------------------- 5. series; 6. the preview
relay series "${TOK[wall]}" "${TOK[lim]}"
relay secalerts "$SW_BIN" "${TOK[wall]}"
relay preview "${TOK[ops]}"
relay silences "$SW_BIN" "${TOK[wall]}" "${TOK[lim]}"

# --------------------------------------------------------------- 2. SIGHUP
reloaded() { grep -c "web viewers reloaded" "$HLOG"; }
if [ -s "$W/gone.ev" ] && ! grep -q '"end"' "$W/gone.ev"; then
    pass "2: gone's event stream is open (since the start)"
else
    fail "2: gone's event stream is open" "$(tail -3 "$W/gone.ev")"
fi
r0=$(reloaded)
viewers ops wall lim
kill -HUP "$HPID"
wait_until 30 eval '[ "$(reloaded)" -gt '"$r0"' ]' &&
    pass "2: SIGHUP: logged $(grep "web viewers reloaded" "$HLOG" | tail -1 | sed 's/.*INFO hub: //')" ||
    fail "2: SIGHUP: 'web viewers reloaded' logged" "$(tail -3 "$HLOG")"
wait_until 30 eval '[ "$(status "${TOK[gone]}" /api/state)" = 401 ]' &&
    pass "2: a viewer removed from the file: its token gets 401 after SIGHUP" ||
    fail "2: a viewer removed from the file gets 401 after SIGHUP" "status $(status "${TOK[gone]}" /api/state)"
waitev "$W/gone.ev" --end --timeout 30 > /dev/null &&
    pass "2: its open event stream ended ($(grep '"end"' "$W/gone.ev" | tail -1))" ||
    fail "2: the removed viewer's open event stream ends" "$(tail -2 "$W/gone.ev")"
codes=$(for t in $ALL; do status "$t" /api/state; done | paste -sd' ')
[ "$codes" = "200 200 200" ] && pass "2: the others still get 200" || fail "2: the others still get 200" "$codes"
r0=$(reloaded)
viewers ops wall lim gone
kill -HUP "$HPID"
wait_until 30 eval '[ "$(reloaded)" -gt '"$r0"' ]'
wait_until 30 eval '[ "$(status "${TOK[gone]}" /api/state)" = 200 ]' &&
    pass "2: put back in the file, SIGHUP: its token works again (200)" ||
    fail "2: a viewer put back works after SIGHUP" "status $(status "${TOK[gone]}" /api/state)"
sse gone2 "${TOK[gone]}"
waitev "$W/gone2.ev" --hello > /dev/null && pass "2: and it can open an event stream again" ||
    fail "2: the viewer put back can open an event stream" "$(tail -2 "$W/gone2.ev")"
# a broken file (gone left out, and a bad line): the old viewers stay
e0=$(grep -c "web viewers not reloaded" "$HLOG")
viewers ops wall lim
echo "not-a-hash broken viewer *" >> "$W/viewers"
kill -HUP "$HPID"
if wait_until 30 eval '[ "$(grep -c "web viewers not reloaded" "$HLOG")" -gt '"$e0"' ]'; then
    pass "2: a broken viewers file on SIGHUP is refused, logged: $(grep "web viewers not reloaded" "$HLOG" | tail -1 | sed 's/.*hub: //')"
else
    fail "2: a broken viewers file on SIGHUP is logged" "$(tail -3 "$HLOG")"
fi
codes=$(for t in $ALL ${TOK[gone]}; do status "$t" /api/state; done | paste -sd' ')
settle # a stream that ends would have ended by now
[ "$codes" = "200 200 200 200" ] && ! grep -q '"end"' "$W/gone2.ev" &&
    pass "2: the old viewers stay: all four tokens (gone too, left out of the broken file) get 200, gone's stream stays open" ||
    fail "2: after a broken file the old viewers stay" "ops wall lim gone: $codes" "$(tail -1 "$W/gone2.ev")"
viewers ops wall lim gone
r0=$(reloaded)
kill -HUP "$HPID"
wait_until 30 eval '[ "$(reloaded)" -gt '"$r0"' ]' || fail "2: the repaired file is reloaded" "$(tail -3 "$HLOG")"

# ------------------------------------------- compression, streams closed
# the page and /api/state gzipped when asked (identical once inflated),
# plain when not
curl -s -H "Authorization: Bearer ${TOK[ops]}" "$WEB/api/state" -o "$W/state.plain"
curl -s -H "Authorization: Bearer ${TOK[ops]}" -H "Accept-Encoding: gzip" \
    -D "$W/state.hdr" "$WEB/api/state" -o "$W/state.gz"
curl -s -H "Authorization: Bearer ${TOK[ops]}" -H "Accept-Encoding: gzip" \
    -D "$W/page.hdr" "$WEB/" -o "$W/page.gz"
if grep -qi '^Content-Encoding: gzip' "$W/state.hdr" && grep -qi '^Content-Encoding: gzip' "$W/page.hdr" &&
    cmp -s <(gzip -dc "$W/state.gz" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); d.pop("now"); print(json.dumps(d, sort_keys=True))') \
        <("$PY" -c 'import json,sys; d=json.load(sys.stdin); d.pop("now"); print(json.dumps(d, sort_keys=True))' < "$W/state.plain") &&
    gzip -dc "$W/page.gz" | cmp -s - "$here/../../web/index.html" &&
    ! grep -qi '^Content-Encoding' <(curl -s -D - -o /dev/null -H "Authorization: Bearer ${TOK[ops]}" "$WEB/api/state"); then
    pass "gzip when asked: / ($(stat -c %s "$W/page.gz") bytes for $(stat -c %s "$here/../../web/index.html")) and /api/state ($(stat -c %s "$W/state.gz") for $(stat -c %s "$W/state.plain")) inflate to the plain answers; plain without Accept-Encoding"
else
    fail "gzip when asked, plain otherwise" "$(cat "$W/state.hdr" "$W/page.hdr" | grep -i encoding)"
fi
# a viewer that goes away is noticed without waiting for a write: the
# first write to an idle stream is its keep-alive after 15 s, so a gauge
# back at 0 within 8 s means the hub saw the close itself
streams() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk '$1 == "surgewatch_hub_web_streams" {print $2}'; }
for n in "${!SSE[@]}"; do sse_stop "$n"; done
if wait_until 8 eval '[ "$(streams)" = 0 ]'; then
    pass "streams whose viewers closed them are gone from surgewatch_hub_web_streams (0) within seconds, with nothing written to them"
else
    fail "closed streams are noticed" "surgewatch_hub_web_streams $(streams)"
fi
cnt=6
for i in $(seq 1 $cnt); do
    curl -sN -H "Authorization: Bearer ${TOK[wall]}" "$WEB/api/events" -o /dev/null &
    hub_track $!
done
wait_until 20 eval '[ "$(streams)" = '"$cnt"' ]' || true
open=$(streams)
pkill -f "curl -sN -H Authorization: Bearer ${TOK[wall]}" 2> /dev/null
if [ "$open" = "$cnt" ] && wait_until 8 eval '[ "$(streams)" = 0 ]'; then
    pass "$cnt idle streams opened then dropped by their clients: the gauge goes $cnt -> 0"
else
    fail "idle streams dropped by their clients are closed" "open $open, now $(streams)"
fi

# ---------------------------------------------------------------- the end
kill -0 "$HPID" 2> /dev/null && [ "$(status "${TOK[ops]}" /api/state)" = 200 ] &&
    pass "the hub (pid $HPID) is up to the end: /api/state 200" || fail "the hub is up to the end" "$(tail -5 "$HLOG")"
stop_proc "$HPID"
rc=$?
[ $rc -eq 0 ] && pass "the hub stops on SIGTERM with event streams open: exit 0" ||
    fail "the hub stops on SIGTERM with exit 0" "exit $rc" "$(tail -8 "$HLOG")"
if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$HLOG"; then
    fail "no sanitizer report in the hub's log" "$(grep -m3 -A8 -E "AddressSanitizer|LeakSanitizer|runtime error:" "$HLOG")"
else
    pass "no sanitizer report in the hub's log"
fi
done_testing
