#!/usr/bin/env bash
# The hub with CURVE (docs/security.md): releasability per key, live and by
# replay, for `surgewatch subscribe` and for tests/integration/pysub.py (a
# subscriber written from docs/alerts.md with pyzmq); unknown keys and
# plain-text clients get nothing; raw replay requests are filtered and bad
# ones answered ok=false; subscribers that lose live messages (stopped while
# the hub, with hwm 100, drops) repair them by replay within their sections;
# bad authorised-keys files are refused with FILE:LINE; SIGHUP reloads the
# keys. What subscribers print is compared with the Redis alert log read by
# redis-cli. Needs SW_BIN, SW_GEN, WORK, REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN SW_GEN WORK REDIS_URL
. "$here/../lib/redis.sh"
PY=/usr/bin/python3
writer="$(dirname "$SW_GEN")/sw_alert_writer"
pysub=$here/pysub.py
W=$WORK/hub_security
rm -rf "$W"
mkdir -p "$W"
cd "$W" || exit 1
pfx=hubsec-$$-$(date +%s)
SECTIONS=HU-RS,HR-RS,RS-XK,BG-TR,GR-TR
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    rcli --scan --pattern "$pfx:*" | xargs -r redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" DEL > /dev/null
}
trap cleanup EXIT
freeport() { "$here/../lib/free-port"; }

# ---------------------------------------------------------------- keys
for k in hub bud hq eve; do
    "$SW_BIN" keygen "$k" > /dev/null 2>&1 || fail "keygen $k"
done
pubkey() { sed -n 's/.*public-key = "\(.*\)"/\1/p' "$1.pub"; }
[ "$(stat -c %a bud.key)" = 600 ] && [ "$(stat -c %a bud.pub)" = 644 ] &&
    grep -q 'secret-key = "' bud.key && ! grep -q secret bud.pub &&
    [ "$(pubkey bud | wc -c)" = 41 ] &&
    pass "keygen: NAME.key (0600, with the secret key) and NAME.pub (0644, public key only)" ||
    fail "keygen files" "$(ls -l)"
cat > subscribers <<EOF
# public key (Z85)                        name             sections
$(pubkey bud) centre-budapest HU-RS,HR-RS
$(pubkey hq) frontex-hq *
EOF

# ------------------------------------------------- (g) bad configuration
rcfg() { # expected-message-regex description hub-args...
    local re=$1 desc=$2 out rc
    shift 2
    out=$(timeout 20 "$SW_BIN" hub -r "$REDIS_URL" --redis-prefix "$pfx-cfg" -m off \
        --pub "tcp://127.0.0.1:$(freeport)" --replay "tcp://127.0.0.1:$(freeport)" "$@" 2>&1)
    rc=$?
    [ $rc = 2 ] && grep -qE "$re" <<<"$out" && pass "$desc: exit 2, says '$(head -1 <<<"$out" | cut -c1-110)'" ||
        fail "$desc" "exit $rc" "$out"
}
{ echo "# comment"; echo; echo "$(pubkey bud) a HU-RS"; echo "not-a-key b HU-RS"; } > bad-key
rcfg 'bad-key:4: .*CURVE public key' "an authorised-keys line with a bad key (line 4)" \
    --curve-key hub.key --authorized-keys bad-key
{ echo "$(pubkey bud) a HU-RS"; echo "$(pubkey hq) b HU_RS"; } > bad-section
rcfg 'bad-section:2: .*section' "a bad section id (line 2)" --curve-key hub.key --authorized-keys bad-section
{ echo "$(pubkey bud) a HU-RS"; echo "$(pubkey hq) a HR-RS"; } > bad-name
rcfg 'bad-name:2: .*name' "a name used twice" --curve-key hub.key --authorized-keys bad-name
{ echo "$(pubkey bud) a HU-RS"; echo "# x"; echo "$(pubkey bud) b HR-RS"; } > bad-dup
rcfg 'bad-dup:3: .*twice' "a key listed twice" --curve-key hub.key --authorized-keys bad-dup
echo "$(pubkey bud) a" > bad-fields
rcfg 'bad-fields:1: .*three fields' "a line without sections" --curve-key hub.key --authorized-keys bad-fields
rcfg 'authorized_keys' "--curve-key without --authorized-keys" --curve-key hub.key
rcfg 'curve_key' "--authorized-keys without --curve-key" --authorized-keys subscribers
rcfg 'secret' "--curve-key with a public-only key file" --curve-key hub.pub --authorized-keys subscribers

# --------------------------------------------------------------- the hub
# 60 alerts over 5 sections before the hub starts: only replay has them
out=$("$writer" "$REDIS_URL" "$pfx" 60 0 "$SECTIONS" 2>&1) || fail "writer" "$out"
P=$(freeport)
Q=$(freeport)
M=$(freeport)
"$SW_BIN" hub -r "$REDIS_URL" --redis-prefix "$pfx" --pub "tcp://127.0.0.1:$P" \
    --replay "tcp://127.0.0.1:$Q" -m "127.0.0.1:$M" --curve-key hub.key \
    --authorized-keys subscribers --hwm 100 > hub.out 2> hub.log &
hub=$!
pids+=("$hub")
metric() { curl -s --max-time 2 "http://127.0.0.1:$M/metrics" | awk -v m="surgewatch_hub_$1" '$1 == m {print $2}'; }
wait_for() { # seconds command...: polls until the command succeeds
    local secs=$1 t0=$SECONDS
    shift
    while [ $((SECONDS - t0)) -lt "$secs" ]; do
        "$@" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}
wait_for 30 eval '[ "$(metric redis_up)" = 1 ]' && pass "CURVE hub started (metrics answer, Redis up)" ||
    { fail "hub start" "$(cat hub.log)"; done_testing; }
grep -q "curve=on" hub.log && grep -q "authorised_keys=2" hub.log &&
    pass "hub log: curve=on, authorised_keys=2" || fail "hub log at start" "$(cat hub.log)"

EP="tcp://127.0.0.1:$P,tcp://127.0.0.1:$Q"
declare -A PID
csub() { # name [args...]: surgewatch subscribe in the background
    local n=$1
    shift
    "$SW_BIN" subscribe -H "$EP" "$@" > "$n.out" 2> "$n.err" &
    pids+=("$!")
    PID[$n]=$!
}
psub() { # name [args...]: pysub.py in the background
    local n=$1
    shift
    "$PY" "$pysub" --pub "tcp://127.0.0.1:$P" --replay "tcp://127.0.0.1:$Q" "$@" > "$n.out" 2> "$n.err" &
    pids+=("$!")
    PID[$n]=$!
}
K=(--server-key hub.pub --key)
csub c_bud --from-seq 1 "${K[@]}" bud.key
csub c_hq --from-seq 1 "${K[@]}" hq.key
csub c_eve --from-seq 1 "${K[@]}" eve.key
csub c_plain --from-seq 1
csub c_wrong --from-seq 1 --server-key eve.pub --key hq.key # a listed key, the wrong hub key
psub p_bud "${K[@]}" bud.key --from-seq 1
psub p_bud_hu "${K[@]}" bud.key --from-seq 1 --prefix alert.HU-
psub p_bud_rs "${K[@]}" bud.key --from-seq 1 --prefix alert.RS-
psub p_hq "${K[@]}" hq.key --from-seq 1
psub p_eve "${K[@]}" eve.key --from-seq 1 --seconds 120
# a plain pyzmq SUB to everything, no CURVE
"$PY" - "tcp://127.0.0.1:$P" > p_plain.out 2>&1 <<'EOF' &
import sys, zmq
s = zmq.Context().socket(zmq.SUB)
s.setsockopt(zmq.SUBSCRIBE, b"")
s.connect(sys.argv[1])
while True:
    print(s.recv_multipart()[0].decode(errors="replace"), flush=True)
EOF
pids+=("$!")
PID[p_plain]=$!

# the Redis log by redis-cli: "seq section prev t" per entry
redis_log() {
    rcli XRANGE "$pfx:alerts" - + | "$PY" -c '
import json, re, sys
seq = None
lines = sys.stdin.read().split("\n")
for i, l in enumerate(lines):
    if re.fullmatch(r"[0-9]+-1", l):
        seq, f = l[:-2], {}
        j = i + 1
        while j + 1 < len(lines) and not re.fullmatch(r"[0-9]+-1", lines[j]):
            f[lines[j]] = lines[j + 1]
            j += 2
        print(seq, json.loads(f["alert"])["section"], f["prev"], f["t"])
'
}
seqs_of() { # section-regex: the seqs of those sections in the log
    awk -v re="$1" '$2 ~ re {print $1}' log.txt
}
nlines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }

# the subscribers have replayed 1..60 and subscribed live
redis_log > log.txt
n_hu_hr=$(seqs_of '^(HU-RS|HR-RS)$' | wc -l)
n_hu=$(seqs_of '^HU-' | wc -l)
wait_for 60 eval '[ "$(nlines c_bud.out)" -ge "$n_hu_hr" ] && [ "$(nlines p_bud.out)" -ge "$n_hu_hr" ] &&
    [ "$(nlines c_hq.out)" -ge 60 ] && [ "$(nlines p_hq.out)" -ge 60 ] && [ "$(nlines p_bud_hu.out)" -ge "$n_hu" ] &&
    [ "$(metric subscriptions_total)" -ge 12 ]' &&
    pass "replay from seq 1 done by every authorised subscriber, 12 subscriptions at the hub" ||
    fail "replay / subscriptions" "c_bud=$(nlines c_bud.out) p_bud=$(nlines p_bud.out) c_hq=$(nlines c_hq.out) p_hq=$(nlines p_hq.out) p_bud_hu=$(nlines p_bud_hu.out) subscriptions=$(metric subscriptions_total)"

# 50 live alerts, paced
out=$("$writer" "$REDIS_URL" "$pfx" 50 100 "$SECTIONS" 2>&1) || fail "writer (live)" "$out"
redis_log > log.txt
n_all=$(wc -l < log.txt)
n_hu_hr=$(seqs_of '^(HU-RS|HR-RS)$' | wc -l)
# shellcheck disable=SC2034 # (used in the eval below)
n_hu=$(seqs_of '^HU-' | wc -l)
[ "$n_all" = 110 ] && pass "the Redis log holds 110 alerts ($n_hu_hr of HU-RS/HR-RS)" || fail "log size" "$n_all"
wait_for 60 eval '[ "$(nlines c_bud.out)" -ge "$n_hu_hr" ] && [ "$(nlines p_bud.out)" -ge "$n_hu_hr" ] &&
    [ "$(nlines c_hq.out)" -ge 110 ] && [ "$(nlines p_hq.out)" -ge 110 ] && [ "$(nlines p_bud_hu.out)" -ge "$n_hu" ]' ||
    fail "waiting for the authorised subscribers" "c_bud=$(nlines c_bud.out) p_bud=$(nlines p_bud.out) c_hq=$(nlines c_hq.out) p_hq=$(nlines p_hq.out) p_bud_hu=$(nlines p_bud_hu.out)"
sleep 3 # the control subscribers have everything: the others had time too

# compare FILE SECTION-REGEX: exactly the log's seqs of those sections,
# each once, in seq order per section (globally for GLOBAL=1)
compare() {
    seqs_of "$2" > "want.$1"
    "$PY" - "$1" "want.$1" "${GLOBAL:-0}" <<'EOF'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1] + ".out")]
want = [int(x) for x in open(sys.argv[2])]
seqs = [a["seq"] for a in got]
assert len(seqs) == len(set(seqs)), "duplicates"
extra = sorted(set(seqs) - set(want))
missing = sorted(set(want) - set(seqs))
assert not extra and not missing, "extra %s missing %s" % (extra[:10], missing[:10])
if sys.argv[3] == "1":
    assert seqs == sorted(seqs), "not in global seq order"
for sec in set(a["section"] for a in got):
    s = [a["seq"] for a in got if a["section"] == sec]
    assert s == sorted(s), "section %s out of order" % sec
print("%d alerts" % len(seqs))
EOF
}
live_count() { sed -n 's/.* live=\([0-9]*\).*/\1/p' "$1" | tail -1; }
stop() { # name: SIGTERM, wait for its exit
    kill -TERM "${PID[$1]}" 2>/dev/null
    wait "${PID[$1]}" 2>/dev/null
}

# ----------------------------------------------------- (a) C, restricted
r=$(compare c_bud '^(HU-RS|HR-RS)$' 2>&1) &&
    pass "(a) subscribe with the HU-RS,HR-RS key, no prefix: exactly the log's HU-RS and HR-RS alerts, replay (1..60) and live (61..110): $r" ||
    fail "(a) restricted C subscriber" "$r"
# ----------------------------------------------------- (h) C, "*"
r=$(GLOBAL=1 compare c_hq '.' 2>&1) && pass "(h) subscribe with the '*' key: all 110 alerts of 5 sections, in seq order: $r" ||
    fail "(h) '*' C subscriber" "$r"
# ----------------------------------------------------- (d) Python, restricted and "*"
r=$(compare p_bud '^(HU-RS|HR-RS)$' 2>&1) &&
    pass "(d) pysub.py with the HU-RS,HR-RS key, no prefix: exactly the HU-RS and HR-RS alerts, replay and live: $r" ||
    fail "(d) restricted pysub" "$r"
r=$(compare p_bud_hu '^HU-' 2>&1) && pass "(d) pysub.py with the restricted key and prefix alert.HU-: exactly HU-RS: $r" ||
    fail "(d) pysub prefix alert.HU-" "$r"
r=$(GLOBAL=1 compare p_hq '.' 2>&1) && pass "(h) pysub.py with the '*' key: all 110, in seq order: $r" ||
    fail "(h) '*' pysub" "$r"
# the fields: pysub's msgpack keys against surgewatch subscribe's JSON and the Redis log
r=$("$PY" - <<'EOF' 2>&1
import datetime, json
def ms(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)
c = {a["seq"]: a for a in map(json.loads, open("c_bud.out"))}
p = {a["seq"]: a for a in map(json.loads, open("p_bud.out"))}
log = {int(l.split()[0]): l.split() for l in open("log.txt")}
assert c.keys() == p.keys() and c
for s, a in p.items():
    b = c[s]
    for k in ("alert_id", "state", "section", "level", "detector", "observed", "expected", "score", "threshold"):
        assert a[k] == b[k], (s, k, a[k], b[k])
    for k in ("window_start", "window_end", "raised_at"):
        assert a[k] == ms(b[k]), (s, k, a[k], b[k])
    assert a.get("type") == b.get("type") and a.get("retracted") == b.get("retracted"), s
    assert a["prev"] == int(log[s][2]) and a["logged_at"] == int(log[s][3]), (s, a["prev"], a["logged_at"], log[s])
print("%d alerts, 12 fields each; prev and logged_at equal the log's prev and t" % len(p))
EOF
) && pass "(d) pysub.py's fields equal surgewatch subscribe's for the same seqs: $r" || fail "(d) fields" "$r"

# ----------------------------------------------------- (b) (c) nothing for the others
[ ! -s c_eve.out ] && [ ! -s p_eve.out ] &&
    pass "(b) an unknown key (a valid key pair not in the file): nothing, from subscribe nor pysub.py" ||
    fail "(b) unknown key got output" "$(head -3 c_eve.out p_eve.out)"
d=$(metric auth_denied_total)
[ "${d:-0}" -gt 0 ] && pass "(b) surgewatch_hub_auth_denied_total=$d" || fail "(b) auth_denied_total" "${d:-none}"
grep -qF "connection refused: key not authorised key=$(pubkey eve)" hub.log &&
    pass "(b) hub log: 'connection refused: key not authorised key=<the key>'" || fail "(b) hub log" "$(tail -5 hub.log)"
[ ! -s c_plain.out ] && pass "(c) plain-text surgewatch subscribe against the CURVE hub: nothing" ||
    fail "(c) plain subscribe got output" "$(head -3 c_plain.out)"
[ ! -s p_plain.out ] && kill -0 "${PID[p_plain]}" 2>/dev/null &&
    pass "(c) plain pyzmq SUB to everything: no message at all (not even heartbeats)" ||
    fail "(c) plain pyzmq SUB" "$(head -3 p_plain.out)"
[ ! -s c_wrong.out ] && grep -q "handshake failed reason=\"cryptographic error.*code=0x11000001" hub.log &&
    pass "(c) a listed key with the wrong hub public key: nothing; hub log 'handshake failed ... code=0x11000001'" ||
    fail "(c) wrong server key" "$(head -3 c_wrong.out)" "$(grep 'handshake failed' hub.log | sort | uniq -c | head)"
h=$(metric handshakes_failed_total)
[ "${h:-0}" -gt 0 ] && pass "(c) surgewatch_hub_handshakes_failed_total=$h" || fail "(c) handshakes_failed_total" "${h:-none}"
grep -q "handshake failed reason=\"mechanism mismatch" hub.log && pass "(c) hub log: 'handshake failed reason=\"mechanism mismatch ...'" ||
    fail "(c) hub log" "$(tail -5 hub.log)"
[ ! -s p_bud_rs.out ] && pass "(d) pysub.py with the restricted key and prefix alert.RS-: nothing (live and replay)" ||
    fail "(d) prefix alert.RS- got output" "$(head -3 p_bud_rs.out)"
e=$(metric subscriptions_empty_total)
[ "${e:-0}" -gt 0 ] && pass "subscriptions_empty_total=$e (the alert.RS- subscription covered nothing visible)" ||
    fail "subscriptions_empty_total" "${e:-none}"
# connected now: subscribe and pysub.py with the keys of the file, SUB +
# DEALER each (c_bud, c_hq, p_bud, p_bud_hu, p_bud_rs, p_hq)
# the refused subscribers keep reconnecting: a snapshot taken while one of
# their handshakes is under way counts it for a moment, so poll the gauge
conns12() { c=$(metric connections); [ "${c:-none}" = 12 ]; }
wait_for 20 conns12
[ "${c:-none}" = 12 ] && pass "surgewatch_hub_connections=12: the 6 authorised subscribers' sockets, refused ones not counted" ||
    fail "surgewatch_hub_connections=$c, expected 12 (6 subscribers x SUB+DEALER, handshakes_failed_total=$h): a refused handshake is followed by ZMQ_EVENT_DISCONNECTED, which the gauge subtracts though it never counted the connection"

for n in c_bud c_hq c_eve c_plain c_wrong p_bud p_bud_hu p_bud_rs p_hq p_eve; do stop "$n"; done
kill "${PID[p_plain]}" 2>/dev/null
[ "$(live_count c_bud.err)" -gt 0 ] && [ "$(live_count p_bud.err)" -gt 0 ] &&
    pass "(a)(d) some alerts came live: subscribe live=$(live_count c_bud.err), pysub live=$(live_count p_bud.err)" ||
    fail "(a)(d) nothing came live" "$(tail -2 c_bud.err p_bud.err)"
grep -q "mode=per-section" c_bud.err && grep -q "mode=global" c_hq.err &&
    pass "status 'sections': subscribe runs per-section with the restricted key, global with '*'" ||
    fail "subscribe modes" "$(grep connected c_bud.err c_hq.err)"
grep -q 'everything=0' p_bud.err && grep -q 'everything=1' p_hq.err || fail "pysub modes" "$(cat p_bud.err p_hq.err)"

# ----------------------------------------------------- (e) (f) raw replay requests
rq() { # key-name: runs the python on stdin with a CURVE DEALER `d` and rt(frames)
    "$PY" - "tcp://127.0.0.1:$Q" "$1" "$pfx" "$REDIS_HOST" "$REDIS_PORT" 2>&1
}
preamble='
import json, subprocess, sys, msgpack, zmq, zmq.auth
ctx = zmq.Context()
d = ctx.socket(zmq.DEALER)
d.linger = 0
d.curve_serverkey = zmq.auth.load_certificate("hub.pub")[0]
d.curve_publickey, d.curve_secretkey = zmq.auth.load_certificate(sys.argv[2] + ".key")
d.connect(sys.argv[1])
def rt(frames):
    d.send_multipart(frames)
    assert d.poll(10000), "no reply in 10 s"
    return msgpack.unpackb(d.recv_multipart()[-1], raw=False)
def q(**m):
    return rt([msgpack.packb(m)])
def rcli(*a):
    return subprocess.run(["redis-cli", "-h", sys.argv[4], "-p", sys.argv[5]] + list(a),
                          capture_output=True, text=True, check=True).stdout.split("\n")[:-1]
log = [l.split() for l in open("log.txt")]
'
r=$(rq bud <<EOF
$preamble
mine = [int(l[0]) for l in log if l[1] in ("HU-RS", "HR-RS")]
x = q(op="range", id=1, **{"from": 1}, prefixes=["alert.RS-XK."])
assert x["ok"] and x["alerts"] == [] and x["next"] > x["seq"] == 110, x
x = q(op="range", id=2, **{"from": 1, "to": 110}, prefixes=["alert.RS-XK.", "alert.BG-", "alert.HU-RS."])
assert x["ok"] and {a["section"] for a in x["alerts"]} == {"HU-RS"}, x
got, frm = [], 1
while frm <= 110:  # limit 7, following next
    x = q(op="range", id=3, **{"from": frm}, prefixes=[""], limit=7)
    assert x["ok"] and len(x["alerts"]) <= 7 and x["next"] > frm, x
    got += [a["seq"] for a in x["alerts"]]
    frm = x["next"]
assert got == mine, (got, mine)
print("range for RS-XK: no alert; HU-RS only when asked for RS-XK, BG- and HU-RS; %d alerts by 7, following next, = the log's HU-RS/HR-RS" % len(got))
EOF
) && pass "(e) raw range requests with the restricted key: $r" || fail "(e) raw range" "$r"
r=$(rq bud <<EOF
$preamble
x = q(op="status", id=4)
assert x["ok"] and x["sections"] == ["HU-RS", "HR-RS"] and x["seq"] == 110 and x["first"] == 1, x
l = dict(zip(*[iter(rcli("HGETALL", sys.argv[3] + ":alerts:last"))] * 2))
assert x["last"] == {k: int(v) for k, v in l.items() if k in ("HU-RS", "HR-RS")}, (x["last"], l)
y = q(op="status", id=5, prefixes=["alert.RS-", "alert.GR-"])
assert y["ok"] and y["last"] == {} and y["sections"] == ["HU-RS", "HR-RS"], y
s = q(op="snapshot", id=6, prefixes=["alert."])
act = [json.loads(v) for v in rcli("HGETALL", sys.argv[3] + ":alerts:active")[1::2]]
want = sorted(a["seq"] for a in act if a["section"] in ("HU-RS", "HR-RS"))
assert s["ok"] and [a["seq"] for a in s["alerts"]] == want and want, (s, want)
print("status sections=%s last=%s; last={} for alert.RS-/alert.GR-; snapshot = the %d active HU-RS/HR-RS alerts of %d" % (x["sections"], x["last"], len(want), len(act)))
EOF
) && pass "(e) status and snapshot with the restricted key: $r" || fail "(e) status/snapshot" "$r"
r=$(rq hq <<EOF
$preamble
x = q(op="status", id=1)
assert x["ok"] and x["sections"] == "*" and len(x["last"]) == 5, x
print("sections='*', last has the 5 sections")
EOF
) && pass "(h) status with the '*' key: $r" || fail "(h) status '*'" "$r"
r=$(rq bud <<EOF
$preamble
for frames, want in (([b"\xc1\xc1"], "msgpack"), ([b""], "msgpack"), ([b"garbage"], "msgpack"),
                     ([msgpack.packb([1, 2])], "msgpack map"),
                     ([msgpack.packb({"op": "frobnicate", "id": 7})], "unknown op"),
                     ([msgpack.packb({"id": 8})], "op"),
                     ([msgpack.packb({"op": "range", "id": 9, "from": "x"})], "from"),
                     ([msgpack.packb({"op": "range", "id": 10, "prefixes": "alert."})], "prefixes")):
    x = rt(frames)
    assert x["ok"] is False and want in x["error"], (frames, x)
    if b"id" in frames[0]:
        assert x["id"] == msgpack.unpackb(frames[0])["id"], x
x = q(op="status", id=11)
assert x["ok"] and x["seq"] == 110, x
print("8 malformed requests answered ok=false with an error (ids echoed), then status ok")
EOF
) && pass "(f) malformed replay requests: $r" || fail "(f) malformed requests" "$r"
r=$(rq bud <<EOF
$preamble
x = q(op="status", id=424242)
assert x["ok"], x
x = rt([b"x"] * 9 + [msgpack.packb({"op": "status", "id": 5})])
assert x["ok"] is False and "too many frames" in x["error"], x
assert x["id"] in (0, 5), "the reply carries id=%d, the id of an earlier request (424242), not 0 or this one's" % x["id"]
print("ok=false, 'too many frames', id=%d" % x["id"])
EOF
) && pass "(f) a request of 10 frames: $r" || fail "(f) a request with too many frames" "$r"
kill -0 "$hub" 2>/dev/null && wait_for 10 eval '[ "$(metric replay_errors_total)" -ge 9 ]' &&
    pass "(f) the hub keeps serving; replay_errors_total=$(metric replay_errors_total) (the metrics are published every few seconds)" ||
    fail "(f) hub after bad requests" "replay_errors_total=$(metric replay_errors_total)" "$(tail -5 hub.log)"

# ----------------------------------------------------- loss and gap repair
# subscribers stopped (SIGSTOP) while 20000 alerts are published: the hub
# (hwm 100) drops their live messages; they repair the gaps by replay, per
# section, and must still print exactly the HU-RS and HR-RS alerts
# shellcheck disable=SC2034 # (used in the eval below)
s0=$(metric subscriptions_total)
csub c_gap "${K[@]}" bud.key --live
psub p_gap "${K[@]}" bud.key --live
wait_for 60 eval '[ "$(metric subscriptions_total)" -ge $((s0 + 4)) ] && grep -q "connected" c_gap.err' ||
    fail "loss test: subscribers not connected" "$(cat c_gap.err p_gap.err)"
sleep 1 # (pysub's start request; it is replayed anyway if late)
kill -STOP "${PID[c_gap]}" "${PID[p_gap]}"
out=$("$writer" "$REDIS_URL" "$pfx" 20000 0 "$SECTIONS" 2>&1) || fail "writer (20000)" "$out"
wait_for 120 eval '[ "$(metric published_seq)" = 20110 ]' || fail "hub did not publish up to 20110" "$(metric published_seq)"
kill -CONT "${PID[c_gap]}" "${PID[p_gap]}"
redis_log > log.txt
awk '$1 > 110' log.txt > log.new && mv log.new log.txt
n_hu_hr=$(seqs_of '^(HU-RS|HR-RS)$' | wc -l)
wait_for 180 eval '[ "$(nlines c_gap.out)" -ge "$n_hu_hr" ] && [ "$(nlines p_gap.out)" -ge "$n_hu_hr" ]' ||
    fail "loss test: waiting for the subscribers" "c_gap=$(nlines c_gap.out) p_gap=$(nlines p_gap.out) of $n_hu_hr"
sleep 2
stop c_gap
stop p_gap
r=$(compare c_gap '^(HU-RS|HR-RS)$' 2>&1) &&
    pass "after losing live messages, subscribe (restricted key) has exactly the HU-RS/HR-RS alerts 111..20110: $r; $(grep -o 'live=.*' c_gap.err | tail -1)" ||
    fail "loss: subscribe" "$r" "$(tail -3 c_gap.err)"
r=$(compare p_gap '^(HU-RS|HR-RS)$' 2>&1) &&
    pass "after losing live messages, pysub.py (restricted key) has exactly the HU-RS/HR-RS alerts 111..20110: $r; $(grep -o 'live=.*' p_gap.err | tail -1)" ||
    fail "loss: pysub" "$r" "$(tail -3 p_gap.err)"
redis_log > log.txt

# ----------------------------------------------------- SIGHUP
cat > subscribers <<EOF
$(pubkey bud) centre-budapest HU-RS
$(pubkey hq) frontex-hq *
$(pubkey eve) centre-pristina RS-XK
EOF
kill -HUP "$hub"
wait_for 30 grep -q "authorised keys reloaded keys=3" hub.log && pass "SIGHUP: authorised keys reloaded (3 keys)" ||
    fail "SIGHUP reload" "$(tail -3 hub.log)"
n_xk=$(seqs_of '^RS-XK$' | wc -l)
psub p_eve2 "${K[@]}" eve.key --from-seq 1 --count "$n_xk" --seconds 60
wait "${PID[p_eve2]}"
r=$(compare p_eve2 '^RS-XK$' 2>&1) && pass "after SIGHUP the added key (RS-XK) gets exactly the RS-XK alerts: $r" ||
    fail "added key after SIGHUP" "$r" "$(cat p_eve2.err)"
r=$(rq bud <<EOF
$preamble
x = q(op="status", id=1)
assert x["ok"] and x["sections"] == ["HU-RS"] and list(x["last"]) == ["HU-RS"], x
x = q(op="range", id=2, **{"from": 1}, limit=10000)
assert x["ok"] and {a["section"] for a in x["alerts"]} == {"HU-RS"}, x
print("sections=['HU-RS'], range holds HU-RS only")
EOF
) && pass "after SIGHUP the narrowed key's replay follows the new list: $r" || fail "narrowed key after SIGHUP" "$r"
echo "garbage line" >> subscribers
kill -HUP "$hub"
wait_for 30 grep -q "not reloaded" hub.log && kill -0 "$hub" 2>/dev/null &&
    pass "SIGHUP with a bad file: the hub keeps running with the old list" || fail "bad SIGHUP" "$(tail -3 hub.log)"
grep "not reloaded" hub.log | grep -q "subscribers:4:" || fail "bad SIGHUP names FILE:LINE" "$(grep 'not reloaded' hub.log)"
r=$(rq eve <<EOF
$preamble
x = q(op="status", id=1)
assert x["ok"] and x["sections"] == ["RS-XK"], x
print("sections=['RS-XK']")
EOF
) && pass "after the bad reload the previous list still holds: $r" || fail "list after bad reload" "$r"

# ----------------------------------------------------- stop
kill -TERM "$hub"
wait "$hub"
rc=$?
[ $rc = 0 ] && ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" hub.log &&
    pass "hub stopped by SIGTERM: exit 0, no sanitizer report" || fail "hub stop" "exit $rc" "$(tail -20 hub.log)"
done_testing
