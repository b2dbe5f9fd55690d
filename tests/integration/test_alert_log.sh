#!/usr/bin/env bash
# The Redis alert log (alerts/sw_alert_log) against the real redis-server:
# a gap-free sequence, idempotent replays from another process, the active
# set, a lost script cache, ACL users, bad URLs. Redis is checked with
# redis-cli, not with our client. Needs REDIS_URL, SW_GEN, WORK.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env REDIS_URL SW_GEN WORK
tool="$(dirname "$SW_GEN")/sw_alertlog_check"
. "$here/../lib/redis.sh"
host=$REDIS_HOST
port=$REDIS_PORT
rc() { rcli "$@"; }
pfx=it-$(date +%s)-$$

out=$("$tool" "$REDIS_URL" "$pfx" 1000 2>&1)
[ $? -eq 0 ] && pass "1000 transitions written in batches and replayed: same sequence numbers, 1..1000 in order ($out)" \
    || fail "alert log write/replay" "$out"
active=$(sed -n 's/.*active=\([0-9]*\).*/\1/p' <<<"$out")
[ "$(rc XLEN "$pfx:alerts")" = 1000 ] && pass "the stream holds 1000 entries, no duplicate from the replay" \
    || fail "XLEN" "$(rc XLEN "$pfx:alerts")"
# entries: id, then field/value lines (alert JSON, prev, t)
ids=$(rc XRANGE "$pfx:alerts" - + | grep -E '^[0-9]+-[0-9]+$')
first=$(head -1 <<<"$ids"); last=$(tail -1 <<<"$ids")
[ "$first" = 1-1 ] && [ "$last" = 1000-1 ] && [ "$(wc -l <<<"$ids")" = 1000 ] \
    && pass "stream entry ids are the sequence numbers 1..1000" || fail "stream ids" "$first .. $last"
[ "$(rc HLEN "$pfx:alerts:active")" = "$active" ] && pass "active set holds the $active alerts not resolved" \
    || fail "active set" "$(rc HLEN "$pfx:alerts:active") != $active"
rc XRANGE "$pfx:alerts" 1-1 1-1 | sed -n '/^alert$/{n;p}' | /usr/bin/python3 -c '
import json, sys
a = json.loads(sys.stdin.read())
assert a["state"] == "raised" and a["section"] == "HU-RS", a
' && pass "entries carry the alert as JSON" || fail "entry JSON"
rc --json XRANGE "$pfx:alerts" - + > "$WORK/alertlog-$$.json"
rc --json HGETALL "$pfx:alerts:last" > "$WORK/alertlog-last-$$.json"
rc --json HGETALL "$pfx:alerts:active" > "$WORK/alertlog-active-$$.json"
check "each entry's prev is its section's previous seq, t its write time; :last and :active agree with the stream" \
    /usr/bin/python3 - "$WORK/alertlog-$$.json" "$WORK/alertlog-last-$$.json" "$WORK/alertlog-active-$$.json" <<'PYEOF'
import json, sys, time
log = json.load(open(sys.argv[1]))
last_h = {k: int(v) for k, v in json.load(open(sys.argv[2])).items()}
active = json.load(open(sys.argv[3]))
last, now = {}, time.time() * 1000
for eid, fields in log:
    seq = int(eid.split("-")[0])
    f = dict(zip(fields[::2], fields[1::2]))
    a = json.loads(f["alert"])
    assert int(f["prev"]) == last.get(a["section"], 0), (seq, f["prev"], last.get(a["section"]))
    assert now - 600000 < int(f["t"]) <= now + 1000, (seq, f["t"])
    last[a["section"]] = seq
assert last == last_h, (last, last_h)
for aid, j in active.items():
    a = json.loads(j)
    assert a["alert_id"] == aid and a["state"] != "resolved" and a["seq"] >= 1, a
PYEOF

# another process replays everything after Redis lost its script cache
rc SCRIPT FLUSH > /dev/null
out=$("$tool" "$REDIS_URL" "$pfx" 1000 2>&1)
[ $? -eq 0 ] && [ "$(rc XLEN "$pfx:alerts")" = 1000 ] \
    && pass "a new process replaying after SCRIPT FLUSH: script reloaded, same numbers, nothing added" \
    || fail "replay after script flush" "$out"

# an ACL user with a password
rc ACL SETUSER "sw-$pfx" on '>s3cret' '~*' '+@all' > /dev/null
out=$("$tool" "redis://sw-$pfx:s3cret@$host:$port" "$pfx-acl" 30 2>&1)
[ $? -eq 0 ] && pass "an ACL user with a password (redis://user:password@host:port)" || fail "ACL user" "$out"
out=$("$tool" "redis://sw-$pfx:wrong@$host:$port" "$pfx-acl" 3 2>&1)
[ $? -ne 0 ] && grep -q 'AUTH' <<<"$out" && pass "a wrong password is refused with the AUTH error" || fail "wrong password" "$out"
rc ACL DELUSER "sw-$pfx" > /dev/null

out=$("$tool" "http://$host:$port" x 1 2>&1)
[ $? -ne 0 ] && grep -q 'bad Redis URL' <<<"$out" && pass "a bad URL says what is accepted" || fail "bad URL" "$out"
closed=$("$here/../lib/free-port")
out=$("$tool" "redis://127.0.0.1:$closed" x 1 2>&1)
[ $? -ne 0 ] && grep -q "127.0.0.1:$closed" <<<"$out" && pass "an unreachable Redis is named in the error" || fail "unreachable" "$out"
done_testing
