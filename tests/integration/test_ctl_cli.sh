#!/usr/bin/env bash
# surgewatch ctl: the operators' command line against a real Redis.
#  - --help names every verb; no verb or an unknown verb: exit 2 naming the
#    accepted verbs;
#  - every bad argument, value, section, pattern, silence, ack and audit
#    filter is refused with exit 2 (an unreachable Redis with 3) and a clear
#    message, and changes NOTHING: the whole Redis state of the prefix is
#    dumped before and after each refusal and compared;
#  - the first ctl call on an empty prefix stores the config's thresholds as
#    version 1 (audit "seed"), a later config does not reseed; set, unset,
#    pattern set, dry run, "no change", list/get sources, export -> import
#    round trip, import refusals, and the operator (--as, login name,
#    SURGEWATCH_OPERATOR) are checked against Redis read with redis-cli;
#  - audit filters (--section, --action, --operator, --since, --limit,
#    --json) against an independent reading of the audit stream;
#  - 10 concurrent `ctl set`: the version goes up by exactly 10 and the audit
#    gets exactly 10 entries (optimistic retry on conflicts).
# Needs SW_BIN, WORK and REDIS_URL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN WORK REDIS_URL
. "$here/../lib/redis.sh"
W=$WORK/ctl-cli
rm -rf "$W"
mkdir -p "$W"
PY=/usr/bin/python3
# every prefix of this script: unique, so parallel runs do not collide
P0=ctlcli-$$
PA=$P0-a # refusals; sections made known with SADD (as the workers do)
PB=$P0-b # happy paths; sections known from a -c config's [section ...]
PE=$P0-e # stays empty: refusals as the very first call
PC=$P0-c # concurrency
PF=$P0-f # audit filters
export SURGEWATCH_OPERATOR=tester
unset SURGEWATCH_REDIS_URL SURGEWATCH_REDIS_PREFIX SURGEWATCH_CONFIG
cleanup() {
    rcli --scan --pattern "$P0-*" | while read -r k; do rcli DEL "$k" > /dev/null; done
}
trap cleanup EXIT

# ctl PREFIX ARGS...: ctl against the test Redis
ctl() {
    local p=$1
    shift
    "$SW_BIN" ctl -r "$REDIS_URL" --redis-prefix "$p" "$@"
}

# dump PREFIX: the whole Redis state ctl may touch under PREFIX
dump() {
    local p=$1
    echo "keys: $(rcli --scan --pattern "$p:*" | LC_ALL=C sort | tr '\n' ' ')"
    echo "thresholds:"
    rcli --raw HGETALL "$p:thresholds" | paste - - | LC_ALL=C sort
    echo "version: $(rcli --raw GET "$p:thresholds:version")"
    echo "audit: $(rcli XLEN "$p:audit") last $(rcli --raw XREVRANGE "$p:audit" + - COUNT 1 | head -1)"
    echo "silences:"
    rcli --raw HGETALL "$p:silences" | paste - - | LC_ALL=C sort
    echo "silences:active: $(rcli --raw ZRANGE "$p:silences:active" 0 -1 WITHSCORES | tr '\n' ' ')"
    echo "silences:seq: $(rcli --raw GET "$p:silences:seq")"
    echo "alerts: $(rcli XLEN "$p:alerts")"
    echo "sections: $(rcli --raw SMEMBERS "$p:sections" | LC_ALL=C sort | tr '\n' ' ')"
}

# hash PREFIX: the thresholds hash, "SCOPE KEY<TAB>VALUE" lines, sorted
hash() { rcli --raw HGETALL "$1:thresholds" | paste - - | LC_ALL=C sort; }
version() { rcli --raw GET "$1:thresholds:version"; }
alen() { rcli XLEN "$1:audit"; }
last_id() { rcli --raw XREVRANGE "$1:audit" + - COUNT 1 | head -1; }

# audit_tsv PREFIX [AFTER_ID]: the audit entries (after AFTER_ID) read with
# redis-cli: id action operator scope key old new version note, tab-separated
audit_tsv() {
    local start=-
    [ -n "${2:-}" ] && start="($2"
    rcli --json XRANGE "$1:audit" "$start" + | $PY -c '
import json, sys
for eid, f in json.load(sys.stdin):
    d = dict(zip(f[::2], f[1::2]))
    print("\t".join([eid] + [d.get(k, "") for k in
          ("action", "operator", "scope", "key", "old", "new", "version", "note")]))'
}

# refuse_rc CODE DESC PHRASE PREFIX ARGS...: ctl ARGS exits CODE, its
# message holds PHRASE, and the prefix's Redis state is unchanged.
refuse_rc() {
    local want_rc=$1 desc=$2 want=$3 p=$4
    shift 4
    local before after err rc
    before=$(dump "$p")
    err=$(ctl "$p" "$@" 2>&1 > /dev/null)
    rc=$?
    after=$(dump "$p")
    if [ "$rc" = "$want_rc" ] && grep -qF -- "$want" <<< "$err" && [ "$before" = "$after" ]; then
        pass "refused (exit $want_rc), nothing changed: $desc: $(head -1 <<< "$err" | cut -c1-150)"
    else
        fail "refused (exit $want_rc), nothing changed: $desc" "exit $rc (want $want_rc)" \
            "message: $err" "wanted phrase: $want" \
            "state diff: $(diff <(echo "$before") <(echo "$after") | head -20)"
    fi
}
refuse() { refuse_rc 2 "$@"; }

# ------------------------------------------------------------- 1. verbs
VERBS="get set unset list export import preview silence ack alerts audit"
out=$("$SW_BIN" ctl --help)
rc=$?
missing=""
for v in $VERBS; do
    grep -qE "^  $v( |$)" <<< "$out" || missing="$missing $v"
done
[ "$rc" = 0 ] && [ -z "$missing" ] && pass "ctl --help: exit 0, describes every verb ($VERBS)" \
    || fail "ctl --help: exit 0, describes every verb" "exit $rc, missing:$missing"
for args in "" "frob"; do
    # shellcheck disable=SC2086
    err=$("$SW_BIN" ctl $args 2>&1 > /dev/null)
    rc=$?
    missing=""
    for v in $VERBS; do grep -qw -- "$v" <<< "$err" || missing="$missing $v"; done
    [ "$rc" = 2 ] && [ -z "$missing" ] && pass "ctl ${args:-(no verb)}: exit 2 naming the accepted verbs: $err" \
        || fail "ctl ${args:-(no verb)}: exit 2 naming the accepted verbs" "exit $rc, missing:$missing" "$err"
done

# -------------------------------------------------- 2. refusals change nothing
# A refusal as the very first call on an empty prefix writes nothing at all
# (not even the seed).
printf '[detectors]\nrun = ears_c2, cusum, threshold\nthreshold.limit = 30\n' > "$W/e.ini"
refuse "bad value as the first call on an empty prefix (no seed written)" '"abc" is not a number' \
    "$PE" -c "$W/e.ini" set default threshold.limit abc
out=$(ctl "$PE" -c "$W/e.ini" --dry-run set default threshold.limit 31 2>&1)
rc=$?
keys=$(rcli --scan --pattern "$PE:*")
[ "$rc" = 0 ] && [ -z "$keys" ] && grep -qF "default threshold.limit: 30 -> 31" <<< "$out" \
    && pass "--dry-run as the first call: shows the change against the config's thresholds, writes no key" \
    || fail "--dry-run as the first call writes nothing" "exit $rc, keys: $keys" "$out"

# Make sections known the way production does: every worker SADDs a
# section to PREFIX:sections when it first counts an event of it.
rcli SADD "$PA:sections" HU-RS HR-RS RS-XK > /dev/null
ctl "$PA" get default > /dev/null 2>&1 # seeds version 1 (built-in defaults)
ctl "$PA" set HU-RS cusum.h 3 > /dev/null 2>&1
ctl "$PA" silence add HR-RS --until 2h --reason 'state before the refusals' > /dev/null 2>&1
[ "$(version "$PA")" = 2 ] && [ "$(rcli HLEN "$PA:silences")" = 1 ] \
    && pass "refusal prefix prepared: version 2, one silence" \
    || fail "refusal prefix prepared" "version $(version "$PA"), silences $(rcli HLEN "$PA:silences")"

refuse "set of an unknown (valid-looking) section HU-XX" "section HU-XX is not known" \
    "$PA" set HU-XX threshold.limit 5
refuse "set of a malformed section id hu_rs" '"hu_rs" is not a section' "$PA" set hu_rs threshold.limit 5
refuse "set of a malformed section id RS-HU (pair not sorted)" '"RS-HU" is not a section' \
    "$PA" set RS-HU threshold.limit 5
refuse "set of a pattern matching no known section 'ZZ-*'" "matches no known section" \
    "$PA" set 'ZZ-*' threshold.limit 5
refuse "ears_c2.alpha 0.7" "0.7 is out of range (accepted: 0 < alpha < 0.5)" \
    "$PA" set HU-RS ears_c2.alpha 0.7
refuse "threshold.window 0" "0 is out of range (accepted: 1..100)" "$PA" set HU-RS threshold.window 0
refuse "levels '3, 2, 1'" "is not three ascending numbers" "$PA" set default levels '3, 2, 1'
refuse "threshold.limit abc" '"abc" is not a number' "$PA" set HU-RS threshold.limit abc
refuse "cusum.reset maybe" '"maybe" is not a boolean (accepted: true, false)' \
    "$PA" set HU-RS cusum.reset maybe
refuse "unknown detector foo.limit" 'unknown detector "foo" (accepted: threshold' \
    "$PA" set HU-RS foo.limit 5
refuse "unknown parameter threshold.lmit" "unknown parameter (accepted for threshold: window, limit, min_count)" \
    "$PA" set HU-RS threshold.lmit 5
refuse "empty value (SCOPE KEY '')" "empty value" "$PA" set HU-RS threshold.limit ''
refuse "empty value (KEY=)" "empty value" "$PA" set HU-RS threshold.limit=
refuse "several KEY=VALUE, one bad: none is written" "0.7 is out of range" \
    "$PA" set HU-RS threshold.limit=5 ears_c2.alpha=0.7 cusum.h=4
refuse "unset of a setting the scope does not have" "HR-RS has no threshold.limit of its own" \
    "$PA" unset HR-RS threshold.limit
refuse "--as ''" "--as '': not an operator name" "$PA" --as '' set HU-RS cusum.h 4
refuse "silence add: --until in the past (RFC 3339)" "is in the past" \
    "$PA" silence add HU-RS --until 2020-01-01T00:00:00Z --reason test
refuse "silence add: unparsable --until" "--until 'soon': not a time or duration" \
    "$PA" silence add HU-RS --until soon --reason test
refuse "silence add: no --reason" "--reason TEXT is required" "$PA" silence add HU-RS --until 1h
refuse "silence add: unknown --detector" "--detector foo: unknown detector" \
    "$PA" silence add HU-RS --until 1h --reason test --detector foo
refuse "silence add: a pattern matching no known section" "'ZZ-*' matches no known section" \
    "$PA" silence add 'ZZ-*' --until 1h --reason test
refuse "silence add: invalid pattern characters 'HU-?'" '"HU-?" is not a section or pattern' \
    "$PA" silence add 'HU-?' --until 1h --reason test
refuse "silence add: invalid pattern characters 'HU RS'" '"HU RS" is not a section or pattern' \
    "$PA" silence add 'HU RS' --until 1h --reason test
refuse "silence expire of an unknown id s99" "no silence s99" "$PA" silence expire s99
refuse "silence expire of a malformed id x1" '"x1" is not a silence id' "$PA" silence expire x1
refuse "ack of an unknown alert id" "is not an active alert" "$PA" ack 'HU-RS:ears_c2:2026-01-01T00:00:00Z'
refuse "audit --since yesterday" "--since 'yesterday': not a time or duration" "$PA" audit --since yesterday
refuse "audit --action frob" "--action 'frob': unknown (accepted: seed, set" "$PA" audit --action frob
refuse "audit --limit 0" "--limit '0': accepted: a whole number in 1..100000000" "$PA" audit --limit 0
refuse "an option that does not apply (get --note)" "--note does not apply to 'get'" \
    "$PA" get HU-RS x --note y
refuse "a bad Redis URL" "accepted: redis://" "$PA" -r http://localhost:1 get default
port=$("$here/../lib/free-port")
refuse_rc 3 "an unreachable Redis (nothing listening on 127.0.0.1:$port)" "127.0.0.1:$port" \
    "$PA" -r "redis://127.0.0.1:$port" set HU-RS cusum.h 4

# ------------------------------------------------------- 3. happy paths
# Sections known from the config's [section ...] entries (quoted and not).
cat > "$W/b1.ini" << 'EOF'
[kafka]
brokers = 127.0.0.1:1
[windows]
bucket = 1d
[detectors]
run = ears_c2, cusum, threshold
threshold.limit = 30
cusum.h = 2.5
[alerts]
raise_after = 1
levels = 1.5, 2.5, 5
[section "HU-RS"]
threshold.limit = 50
[section HU-UA]
cusum.h = 3
EOF
expect_seed=$(printf 'HU-RS threshold.limit\t50\nHU-UA cusum.h\t3\ndefault cusum.h\t2.5\ndefault levels\t1.5, 2.5, 5\ndefault run\tears_c2, cusum, threshold\ndefault threshold.limit\t30\n' | LC_ALL=C sort)
# (verbs that only read store nothing: check, then make a change that
# changes nothing, which stores the seed)
ctl "$PB" -c "$W/b1.ini" --as seeder get default > /dev/null 2>&1
[ -z "$(version "$PB")" ] && [ "$(rcli EXISTS "$PB:thresholds")" = 0 ] \
    && pass "get on an empty prefix shows the config's thresholds and stores nothing" \
    || fail "get stores nothing" "version '$(version "$PB")'" "$(hash "$PB")"
err=$(ctl "$PB" -c "$W/b1.ini" --as seeder set default threshold.limit 30 2>&1 > /dev/null)
rc=$?
got=$(hash "$PB")
[ "$rc" = 0 ] && [ "$got" = "$expect_seed" ] && [ "$(version "$PB")" = 1 ] \
    && pass "first call on an empty prefix stores the config's thresholds as version 1: $err" \
    || fail "first call stores the config's thresholds as version 1" "exit $rc, version $(version "$PB")" \
        "got: $got" "want: $expect_seed" "$err"
seed=$(audit_tsv "$PB")
bad=$(awk -F'\t' -v f="$W/b1.ini" '$2 != "seed" || $3 != "seeder" || $8 != "1" || $9 != f' <<< "$seed")
[ "$(wc -l <<< "$seed")" = 6 ] && [ -z "$bad" ] \
    && pass "the seed is audited: 6 entries, action seed, operator = --as, version 1, note = the config file" \
    || fail "the seed is audited" "$seed"
seeded_fields=$(awk -F'\t' '{print $4 " " $5 "\t" $7}' <<< "$seed" | LC_ALL=C sort)
[ "$seeded_fields" = "$expect_seed" ] && pass "each seed audit entry names its scope, key and new value" \
    || fail "each seed audit entry names its scope, key and new value" "$seeded_fields"
sed -e 's/threshold.limit = 30/threshold.limit = 35/' -e 's/cusum.h = 3/cusum.h = 4/' "$W/b1.ini" > "$W/b2.ini"
before=$(dump "$PB")
err=$(ctl "$PB" -c "$W/b2.ini" get default 2>&1 > /dev/null)
rc=$?
[ "$rc" = 0 ] && [ "$before" = "$(dump "$PB")" ] && ! grep -q "stored those" <<< "$err" \
    && pass "a second config with other values does not reseed (Redis is the truth)" \
    || fail "a second config does not reseed" "exit $rc" "$err" "$(diff <(echo "$before") <(dump "$PB"))"
rcli SADD "$PB:sections" HR-RS RS-XK > /dev/null # seen by the workers

# set: one version per call, one audit entry per changed setting
v0=$(version "$PB")
id0=$(last_id "$PB")
out=$(ctl "$PB" -c "$W/b1.ini" --as anna set HU-RS threshold.limit 60 2>&1)
rc=$?
new=$(audit_tsv "$PB" "$id0")
want=$(printf 'set\tanna\tHU-RS\tthreshold.limit\t50\t60\t%s\t' $((v0 + 1)))
[ "$rc" = 0 ] && [ "$(version "$PB")" = $((v0 + 1)) ] && [ "$(cut -f2- <<< "$new")" = "$want" ] \
    && grep -qF "HU-RS threshold.limit: 50 -> 60" <<< "$out" \
    && pass "set: version +1, one audit entry with old 50, new 60, operator anna" \
    || fail "set: version +1, one audit entry" "exit $rc, version $v0 -> $(version "$PB")" "audit: $new" "want: $want" "$out"
v0=$(version "$PB")
id0=$(last_id "$PB")
out=$(ctl "$PB" -c "$W/b1.ini" --as bob set RS-XK cusum.h=4 cusum.k=1.2 threshold.limit=20 2>&1)
rc=$?
new=$(audit_tsv "$PB" "$id0")
want=$(printf 'set\tbob\tRS-XK\tcusum.h\t\t4\t%s\t\nset\tbob\tRS-XK\tcusum.k\t\t1.2\t%s\t\nset\tbob\tRS-XK\tthreshold.limit\t\t20\t%s\t' \
    $((v0 + 1)) $((v0 + 1)) $((v0 + 1)))
[ "$rc" = 0 ] && [ "$(version "$PB")" = $((v0 + 1)) ] && [ "$(cut -f2- <<< "$new")" = "$want" ] \
    && pass "set with 3 KEY=VALUE: one version (+1), three audit entries (old empty, new, operator)" \
    || fail "set with 3 KEY=VALUE: one version, three audit entries" "exit $rc, version $v0 -> $(version "$PB")" \
        "audit: $new" "want: $want" "$out"
before=$(dump "$PB")
out=$(ctl "$PB" -c "$W/b1.ini" set RS-XK cusum.h=4 cusum.k=1.2 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -q "no change" <<< "$out" && [ "$before" = "$(dump "$PB")" ] \
    && pass "setting the same values again: 'no change', version and audit untouched" \
    || fail "setting the same values again: no change" "exit $rc" "$out" "$(diff <(echo "$before") <(dump "$PB"))"
out=$(ctl "$PB" -c "$W/b1.ini" --dry-run set HU-RS threshold.limit 77 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -qF "HU-RS threshold.limit: 60 -> 77" <<< "$out" && grep -q "nothing was written" <<< "$out" \
    && [ "$before" = "$(dump "$PB")" ] \
    && pass "--dry-run shows 'HU-RS threshold.limit: 60 -> 77' and writes nothing" \
    || fail "--dry-run shows the change and writes nothing" "exit $rc" "$out" "$(diff <(echo "$before") <(dump "$PB"))"
out=$(ctl "$PB" -c "$W/b1.ini" --dry-run unset HU-UA cusum.h 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -qF "HU-UA cusum.h: 3 -> (inherited)" <<< "$out" && [ "$before" = "$(dump "$PB")" ] \
    && pass "--dry-run unset shows 'HU-UA cusum.h: 3 -> (inherited)' and writes nothing" \
    || fail "--dry-run unset writes nothing" "exit $rc" "$out"

# a pattern: every known section it matches (HU-RS, HU-UA), no other
v0=$(version "$PB")
id0=$(last_id "$PB")
h0=$(hash "$PB")
out=$(ctl "$PB" -c "$W/b1.ini" set 'HU-*' ewma.lambda 0.3 2>&1)
rc=$?
new=$(audit_tsv "$PB" "$id0" | cut -f4,5,7 | tr '\t' ' ')
added=$(diff <(echo "$h0") <(hash "$PB") | grep '^[<>]')
[ "$rc" = 0 ] && [ "$(version "$PB")" = $((v0 + 1)) ] \
    && [ "$added" = "$(printf '> HU-RS ewma.lambda\t0.3\n> HU-UA ewma.lambda\t0.3')" ] \
    && [ "$new" = "$(printf 'HU-RS ewma.lambda 0.3\nHU-UA ewma.lambda 0.3')" ] \
    && pass "set 'HU-*': HU-RS and HU-UA changed (not HR-RS, RS-XK), one version, two audit entries" \
    || fail "set 'HU-*' changes HU-RS and HU-UA only" "exit $rc" "hash diff: $added" "audit: $new" "$out"
# --new-section: a section nobody has seen
out=$(ctl "$PB" -c "$W/b1.ini" --new-section set AT-HU cusum.h 5 2>&1)
rc=$?
[ "$rc" = 0 ] && [ "$(rcli --raw HGET "$PB:thresholds" "AT-HU cusum.h")" = 5 ] \
    && pass "--new-section sets a section no worker has seen" || fail "--new-section" "exit $rc" "$out"

# unset: back to the inherited value
getj() { # PREFIX SCOPE KEY: "value source" from get --json
    ctl "$1" -c "$W/b1.ini" --json get "$2" "$3" 2> /dev/null | $PY -c '
import json, sys
o = json.loads(sys.stdin.read())
s = o["settings"]
assert len(s) == 1, s
print(s[0]["value"], s[0]["source"])'
}
a=$(getj "$PB" HU-UA cusum.h)
out=$(ctl "$PB" -c "$W/b1.ini" unset HU-UA cusum.h 2>&1)
rc=$?
b=$(getj "$PB" HU-UA cusum.h)
[ "$a" = "3 override" ] && [ "$rc" = 0 ] && [ "$b" = "2.5 default" ] \
    && [ -z "$(rcli --raw HGET "$PB:thresholds" "HU-UA cusum.h")" ] \
    && pass "unset HU-UA cusum.h: '$a' -> '$b' (the inherited default)" \
    || fail "unset goes back to the inherited value" "before '$a', after '$b', exit $rc" "$out"
last=$(audit_tsv "$PB" | tail -1 | cut -f2,3,4,5,6,7)
[ "$last" = "$(printf 'unset\ttester\tHU-UA\tcusum.h\t3\t')" ] \
    && pass "unset is audited: action unset, old 3, new empty, operator from SURGEWATCH_OPERATOR" \
    || fail "unset is audited" "$last"
a=$(getj "$PB" HR-RS ewma.lambda)
[ "${a#* }" = "built-in" ] && pass "get --json: a setting nobody set is built-in ($a)" \
    || fail "get --json: built-in source" "$a"

# list --json: every known section and default, each setting's source
# computed independently from the hash
ctl "$PB" -c "$W/b1.ini" --json --all list > "$W/list.json" 2> "$W/list.err"
rc=$?
hash "$PB" > "$W/hash.tsv"
res=$($PY - "$W/list.json" "$W/hash.tsv" << 'EOF'
import json, sys
h = {}
for l in open(sys.argv[2]):
    f, v = l.rstrip("\n").split("\t")
    h[f] = v
scopes, bad, n_over = [], [], 0
for l in open(sys.argv[1]):
    o = json.loads(l)
    sc = o["scope"]
    scopes.append(sc)
    for s in o["settings"]:
        k = s["key"]
        if sc != "default" and f"{sc} {k}" in h:
            want = "override"
            n_over += 1
            if s["value"] != h[f"{sc} {k}"]:
                bad.append(f"{sc} {k} value {s['value']} != {h[sc + ' ' + k]}")
        elif f"default {k}" in h:
            want = "default"
        else:
            want = "built-in"
        if s["source"] != want:
            bad.append(f"{sc} {k}: source {s['source']}, want {want}")
want_scopes = ["default", "AT-HU", "HR-RS", "HU-RS", "HU-UA", "RS-XK"]
if scopes != want_scopes:
    bad.append(f"scopes {scopes} != {want_scopes}")
n_hash = sum(1 for f in h if not f.startswith("default "))
if n_over != n_hash:
    bad.append(f"{n_over} overrides listed, the hash has {n_hash}")
print(n_over, "; ".join(bad[:5]) if bad else "ok")
EOF
)
[ "$rc" = 0 ] && [ "${res#* }" = ok ] && [ "${res%% *}" -ge 7 ] \
    && pass "list --json: default and every known section, each setting's source (override/default/built-in) as the hash says (${res%% *} overrides)" \
    || fail "list --json marks overrides" "exit $rc: $res" "$(head -c 600 "$W/list.err")"

# export -> import round trip
ctl "$PB" -c "$W/b1.ini" export -o "$W/exp.ini" 2> /dev/null
rc=$?
h_exp=$(hash "$PB")
ctl "$PB" -c "$W/b1.ini" set HU-RS threshold.limit=99 ears_c2.alpha=0.01 > /dev/null 2>&1
ctl "$PB" -c "$W/b1.ini" unset RS-XK cusum.h > /dev/null 2>&1
ctl "$PB" -c "$W/b1.ini" set default run 'ears_c2, cusum' > /dev/null 2>&1
changed=$(hash "$PB")
id0=$(last_id "$PB")
v0=$(version "$PB")
out=$(ctl "$PB" -c "$W/b1.ini" --as imp import "$W/exp.ini" 2>&1)
rc2=$?
new=$(audit_tsv "$PB" "$id0")
[ "$rc" = 0 ] && [ "$rc2" = 0 ] && [ "$changed" != "$h_exp" ] && [ "$(hash "$PB")" = "$h_exp" ] \
    && pass "export, change 4 settings, import the export: the hash is exactly the exported one" \
    || fail "export -> import round trip" "exit $rc/$rc2" "$(diff <(echo "$h_exp") <(hash "$PB"))" "$out"
bad=$(awk -F'\t' -v f="$W/exp.ini" -v v=$((v0 + 1)) '$2 != "import" || $3 != "imp" || $8 != v || $9 != f' <<< "$new")
[ "$(wc -l <<< "$new")" = 4 ] && [ -z "$bad" ] && [ "$(version "$PB")" = $((v0 + 1)) ] \
    && pass "the import is one version with 4 audit entries: action import, operator, note = the file" \
    || fail "the import is audited" "$new"
# a modified export
sed -e 's/^threshold.limit = 60$/threshold.limit = 65/' "$W/exp.ini" > "$W/mod.ini"
printf '\n[section HR-RS]\nears_c2.alpha = 0.005\n' >> "$W/mod.ini"
want=$(printf '%s\nHR-RS ears_c2.alpha\t0.005\n' "$(sed 's/^HU-RS threshold.limit\t60$/HU-RS threshold.limit\t65/' <<< "$h_exp")" | LC_ALL=C sort)
out=$(ctl "$PB" -c "$W/b1.ini" import "$W/mod.ini" 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -q "threshold.limit = 65" "$W/mod.ini" && [ "$(hash "$PB")" = "$want" ] \
    && pass "import of an edited export: exactly the file's settings (HU-RS threshold.limit 65, HR-RS ears_c2.alpha added)" \
    || fail "import of an edited export" "exit $rc" "$(diff <(echo "$want") <(hash "$PB"))" "$out"
cp "$W/mod.ini" "$W/bad.ini"
printf 'cusum.h = 0\n' >> "$W/bad.ini"
n=$(wc -l < "$W/bad.ini")
refuse "import of a file with a bad value names FILE:LINE" "bad.ini:$n: [section HR-RS] cusum.h: 0 is out of range" \
    "$PB" -c "$W/b1.ini" import "$W/bad.ini"
printf '[detectors]\nthreshold.limit = 5\n[section HU-RS HR-RS]\ncusum.h = 4\n' > "$W/bad2.ini"
refuse "import of a file with a malformed section header names FILE:LINE" "bad2.ini:4: [section HU-RS HR-RS]" \
    "$PB" -c "$W/b1.ini" import "$W/bad2.ini"
refuse "import of a missing file" "nothing was changed" "$PB" -c "$W/b1.ini" import "$W/no-such.ini"
# other sections are ignored, with a note
cp "$W/b1.ini" "$W/full.ini"
out=$(ctl "$PB" -c "$W/b1.ini" import "$W/full.ini" 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -qF "full.ini: 3 settings of other sections" <<< "$out" && grep -q "ignored" <<< "$out" \
    && [ "$(hash "$PB")" = "$expect_seed" ] \
    && pass "import ignores [kafka], [windows], [alerts] raise_after with a note; the thresholds are the file's" \
    || fail "import ignores other sections with a note" "exit $rc" "$out" "$(diff <(echo "$expect_seed") <(hash "$PB"))"

# the operator: login name without --as, SURGEWATCH_OPERATOR, --as over it
me=$(id -un)
env -u SURGEWATCH_OPERATOR "$SW_BIN" ctl -r "$REDIS_URL" --redis-prefix "$PB" set HR-RS cusum.h 3.1 > /dev/null 2>&1
op=$(audit_tsv "$PB" | tail -1 | cut -f3)
[ "$op" = "$me" ] && pass "without --as or SURGEWATCH_OPERATOR the operator is the login name ($me)" \
    || fail "operator from the login name" "got '$op', want '$me'"
SURGEWATCH_OPERATOR=night-shift ctl "$PB" set HR-RS cusum.h 3.2 > /dev/null 2>&1
op=$(audit_tsv "$PB" | tail -1 | cut -f3)
[ "$op" = night-shift ] && pass "SURGEWATCH_OPERATOR=night-shift is the operator" \
    || fail "operator from SURGEWATCH_OPERATOR" "got '$op'"
SURGEWATCH_OPERATOR=night-shift ctl "$PB" --as 'Anna K.' set HR-RS cusum.h 3.3 > /dev/null 2>&1
op=$(audit_tsv "$PB" | tail -1 | cut -f3)
[ "$op" = 'Anna K.' ] && pass "--as wins over SURGEWATCH_OPERATOR" || fail "--as wins over SURGEWATCH_OPERATOR" "got '$op'"

# ------------------------------------------------------- 4. audit filters
rcli SADD "$PF:sections" HU-RS HU-UA RS-XK > /dev/null
ctl "$PF" --as alice set HU-RS cusum.h 3 > /dev/null 2>&1
ctl "$PF" --as bob set RS-XK cusum.h 3 > /dev/null 2>&1
ctl "$PF" --as alice silence add 'HU-*' --until 1h --reason drill > /dev/null 2>&1
sleep 0.02
cut_id=$(last_id "$PF")
sleep 0.02
ctl "$PF" --as bob silence add RS-XK --until 1h --reason drill > /dev/null 2>&1
ctl "$PF" --as carol set HU-RS cusum.h=4 cusum.k=1.1 > /dev/null 2>&1
ctl "$PF" --as alice unset HU-RS cusum.k > /dev/null 2>&1
ctl "$PF" --as bob silence expire s1 > /dev/null 2>&1
ctl "$PF" --as carol set default cusum.h 2.4 > /dev/null 2>&1
audit_tsv "$PF" > "$W/f.tsv"
[ "$(wc -l < "$W/f.tsv")" = 10 ] && pass "audit filter prefix: 10 entries (seed, 6 threshold changes, 3 silence entries)" \
    || fail "audit filter prefix has 10 entries" "$(cat "$W/f.tsv")"
# aud ARGS...: the ids ctl audit --json prints
aud() { ctl "$PF" --json audit "$@" 2> /dev/null | $PY -c '
import json, sys
for l in sys.stdin: print(json.loads(l)["id"])'; }
# want AWK-CONDITION: the ids of f.tsv whose fields meet the condition
want() { awk -F'\t' "$1 {print \$1}" "$W/f.tsv"; }
got=$(aud --section HU-RS)
exp=$(want '$4 == "HU-RS" || $4 == "HU-*"')
[ -n "$got" ] && [ "$got" = "$exp" ] && [ "$(wc -l <<< "$got")" = 6 ] \
    && pass "audit --section HU-RS: the 6 entries of HU-RS and of the silence 'HU-*' covering it" \
    || fail "audit --section HU-RS" "got: $got" "want: $exp"
got=$(aud --section 'HU-*')
exp=$(want '$4 ~ /^HU-/')
[ -n "$got" ] && [ "$got" = "$exp" ] && pass "audit --section 'HU-*': every entry of a section it matches" \
    || fail "audit --section 'HU-*'" "got: $got" "want: $exp"
got=$(aud --action set)
exp=$(want '$2 == "set"')
[ "$(wc -l <<< "$got")" = 5 ] && [ "$got" = "$exp" ] && pass "audit --action set: the 5 set entries" \
    || fail "audit --action set" "got: $got" "want: $exp"
got=$(aud --action silence.add)
exp=$(want '$2 == "silence.add"')
[ "$(wc -l <<< "$got")" = 2 ] && [ "$got" = "$exp" ] && pass "audit --action silence.add: the 2 silences" \
    || fail "audit --action silence.add" "got: $got" "want: $exp"
got=$(aud --operator bob)
exp=$(want '$3 == "bob"')
[ "$(wc -l <<< "$got")" = 3 ] && [ "$got" = "$exp" ] && pass "audit --operator bob: bob's 3 entries" \
    || fail "audit --operator bob" "got: $got" "want: $exp"
got=$(aud --operator carol --action set --section HU-RS)
exp=$(want '$3 == "carol" && $2 == "set" && $4 == "HU-RS"')
[ "$(wc -l <<< "$got")" = 2 ] && [ "$got" = "$exp" ] && pass "audit filters combine (--operator carol --action set --section HU-RS)" \
    || fail "audit filters combine" "got: $got" "want: $exp"
got=$(aud --since 1h)
exp=$(want 1)
[ "$got" = "$exp" ] && pass "audit --since 1h: all 10 entries" || fail "audit --since 1h" "got: $got"
got=$(aud --since 2000-01-01)
[ "$got" = "$exp" ] && pass "audit --since 2000-01-01 (a date): all 10 entries" || fail "audit --since DATE" "got: $got"
t=$($PY -c '
import datetime, sys
ms = int(sys.argv[1].split("-")[0]) + 1
print(datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000))' "$cut_id")
got=$(aud --since "$t")
exp=$(awk -F'\t' -v c="${cut_id%-*}" '($1 + 0) > c + 0 {print $1}' "$W/f.tsv")
[ "$(wc -l <<< "$exp")" = 6 ] && [ "$got" = "$exp" ] \
    && pass "audit --since $t (RFC 3339, 1 ms after entry $cut_id): only the 6 later entries" \
    || fail "audit --since RFC 3339" "got: $got" "want: $exp"
got=$(aud --until "$t")
exp=$(awk -F'\t' -v c="${cut_id%-*}" '($1 + 0) <= c + 0 {print $1}' "$W/f.tsv")
[ "$(wc -l <<< "$exp")" = 4 ] && [ "$got" = "$exp" ] && pass "audit --until $t: only the 4 earlier entries" \
    || fail "audit --until RFC 3339" "got: $got" "want: $exp"
got=$(aud --limit 3)
[ "$got" = "$(tail -3 "$W/f.tsv" | cut -f1)" ] && pass "audit --limit 3: the 3 latest entries" \
    || fail "audit --limit 3" "got: $got"
got=$(aud --action set --limit 2)
[ "$got" = "$(want '$2 == "set"' | tail -2)" ] && pass "audit --limit applies after the filters (the 2 latest sets)" \
    || fail "audit --action set --limit 2" "got: $got"
ctl "$PF" --json audit > "$W/audit.json" 2> /dev/null
res=$($PY - "$W/audit.json" "$W/f.tsv" << 'EOF'
import json, sys
keys = ["id", "time", "operator", "action", "scope", "key", "old", "new", "version", "note"]
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
bad = []
lines = open(sys.argv[1]).read().splitlines()
if len(lines) != len(rows):
    bad.append(f"{len(lines)} lines, {len(rows)} entries")
for l, r in zip(lines, rows):
    o = json.loads(l)
    if sorted(o) != sorted(keys):
        bad.append(f"keys {sorted(o)}")
    ms = int(r[0].split("-")[0])
    import datetime
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)
    want = dict(zip(keys, [r[0], t] + r[2:4] + r[4:]))
    want = {"id": r[0], "time": t, "action": r[1], "operator": r[2], "scope": r[3], "key": r[4],
            "old": r[5], "new": r[6], "version": r[7], "note": r[8]}
    for k in keys:
        if o.get(k) != want[k]:
            bad.append(f"{r[0]} {k}: {o.get(k)!r} != {want[k]!r}")
print("; ".join(bad[:5]) if bad else "ok")
EOF
)
[ "$res" = ok ] && pass "audit --json: one JSON object per entry with exactly id, time (RFC 3339 of the id), operator, action, scope, key, old, new, version, note, as stored" \
    || fail "audit --json fields" "$res"

# ------------------------------------------------------- 5. concurrency
rcli SADD "$PC:sections" HU-RS > /dev/null
ctl "$PC" set default cusum.h 2.3 > /dev/null 2>&1
v0=$(version "$PC")
a0=$(alen "$PC")
id0=$(last_id "$PC")
pids=""
i=0
for kv in threshold.limit=41 threshold.window=2 threshold.min_count=1 cusum.h=3 cusum.k=1.1 \
    cusum.guard=3 cusum.min_mean=0.6 ears_c2.alpha=0.002 ears_c2.min_sigma=0.6 ewma.lambda=0.25; do
    i=$((i + 1))
    ctl "$PC" --as "p$i" set HU-RS "$kv" > "$W/par.$i" 2>&1 &
    pids="$pids $!"
done
rcs=""
for p in $pids; do
    wait "$p"
    rcs="$rcs$?"
done
[ "$rcs" = 0000000000 ] && pass "10 concurrent ctl set: all exit 0" \
    || fail "10 concurrent ctl set: all exit 0" "exit codes $rcs" "$(cat "$W"/par.*)"
[ "$(version "$PC")" = $((v0 + 10)) ] && pass "10 concurrent ctl set: the version went up by exactly 10 ($v0 -> $((v0 + 10)))" \
    || fail "10 concurrent ctl set: version +10" "$v0 -> $(version "$PC")"
new=$(audit_tsv "$PC" "$id0")
vers=$(cut -f8 <<< "$new" | sort -n | tr '\n' ' ')
keys=$(cut -f5 <<< "$new" | sort -u | wc -l)
[ "$(alen "$PC")" = $((a0 + 10)) ] && [ "$keys" = 10 ] && [ "$vers" = "$(seq $((v0 + 1)) $((v0 + 10)) | tr '\n' ' ')" ] \
    && pass "10 concurrent ctl set: exactly 10 new audit entries, 10 keys, versions $((v0 + 1))..$((v0 + 10)) once each" \
    || fail "10 concurrent ctl set: 10 audit entries" "$new"
[ "$(hash "$PC" | grep -c '^HU-RS ')" = 10 ] && pass "10 concurrent ctl set: all 10 settings stored" \
    || fail "10 concurrent ctl set: all 10 stored" "$(hash "$PC")"

done_testing
