#!/usr/bin/env bash
# The configuration file: docs/configuration.md, config/surgewatch.example.ini
# and the code cannot drift apart, and every kind of configuration error is
# reported with the file, the line and the key.
#   (a) the example loads (backtest and publish --dry-run); every key of the
#       example is documented in the table of its section; every key the code
#       accepts (read from its own "accepted: ..." messages) is documented and
#       in the example; every documented key is accepted; the example's
#       [windows], [alerts] and [detectors] values are the built-in defaults
#       and the documented defaults
#   (b) exact error messages for unknown sections and keys, bad values,
#       unknown detectors, parameters out of range and bad section ids
# Needs SW_BIN, SW_GEN and WORK (from tests/run-all); no servers.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN SW_GEN WORK
root=$(cd "$here/../.." && pwd)
doc="$root/docs/configuration.md"
example="$root/config/surgewatch.example.ini"
W=$WORK/config
mkdir -p "$W"
PY=/usr/bin/python3

# ------------------------------------------------- (a) the example loads
"$SW_BIN" backtest -c "$example" -e /dev/null > "$W/ex.out" 2> "$W/ex.err"
rc=$?
[ "$rc" -eq 0 ] && [ ! -s "$W/ex.out" ] \
    && pass "backtest -c config/surgewatch.example.ini -e /dev/null: exit 0" \
    || fail "backtest -c config/surgewatch.example.ini -e /dev/null: exit 0" "exit $rc" "$(head -3 "$W/ex.err")"
"$SW_BIN" publish -n -q -c "$example" /dev/null > /dev/null 2> "$W/pub.err"
rc=$?
[ "$rc" -eq 0 ] \
    && pass "publish --dry-run -c config/surgewatch.example.ini accepts its [kafka] section" \
    || fail "publish --dry-run -c config/surgewatch.example.ini" "exit $rc" "$(head -3 "$W/pub.err")"

"$SW_BIN" run -c "$example" --check-config > "$W/run.out" 2> "$W/run.err"
rc=$?
[ "$rc" -eq 0 ] \
    && pass "run --check-config -c config/surgewatch.example.ini accepts its [worker] and [redis]" \
    || fail "run --check-config -c config/surgewatch.example.ini: exit 0" "exit $rc" "$(head -3 "$W/run.err")"
"$SW_BIN" hub -c "$example" --check-config > "$W/hub.out" 2> "$W/hub.err"
rc=$?
[ "$rc" -eq 0 ] \
    && pass "hub --check-config -c config/surgewatch.example.ini accepts its [hub] and [redis]" \
    || fail "hub --check-config -c config/surgewatch.example.ini: exit 0" "exit $rc" "$(head -3 "$W/hub.err")"

# ------------------------------ (a) the keys the code accepts, in its words
probe() { # section key: the first line of backtest's complaint about it
    printf '[%s]\n%s = 1\n' "$1" "$2" > "$W/probe.ini"
    "$SW_BIN" backtest -c "$W/probe.ini" -e /dev/null 2>&1 > /dev/null | head -1
}
accepted() { # text: the list inside "(accepted...: LIST)"
    sed -n 's/.*(accepted[^:]*: \([^)]*\)).*/\1/p' <<< "$1"
}
{
    echo "sections: $(accepted "$(probe bogus_section x)")"
    echo "windows: $(accepted "$(probe windows bogus)")"
    echo "alerts: $(accepted "$(probe alerts bogus)")"
    echo "detectors: $(accepted "$(probe detectors bogus)")"
    dets=$(accepted "$(probe detectors bogus.alpha)")
    echo "detector names: $dets"
    for d in ${dets//,/ }; do
        echo "params $d: $(accepted "$(probe detectors "$d.bogus")")"
    done
    printf '[kafka]\nbogus = 1\n' > "$W/probe.ini"
    echo "kafka: $(accepted "$("$SW_BIN" publish -n -q -c "$W/probe.ini" /dev/null 2>&1 | head -1)")"
    for sec in worker redis; do
        printf '[%s]\nbogus = 1\n' "$sec" > "$W/probe.ini"
        echo "$sec: $(accepted "$("$SW_BIN" run -c "$W/probe.ini" --check-config 2>&1 | head -1)")"
    done
    printf '[hub]\nbogus = 1\n' > "$W/probe.ini"
    echo "hub: $(accepted "$("$SW_BIN" hub -c "$W/probe.ini" --check-config 2>&1 | head -1)")"
} > "$W/code-keys.txt"
sed 's/^/# code accepts /' "$W/code-keys.txt"

check "docs/configuration.md, config/surgewatch.example.ini and the code list the same keys" \
    $PY - "$W/code-keys.txt" "$doc" "$example" <<'PYEOF'
import re, sys
code_f, doc_f, ex_f = sys.argv[1:4]
errors = []

# the code's own lists
code = {}
for line in open(code_f):
    name, _, rest = line.rstrip("\n").partition(": ")
    code[name] = [w.strip() for w in rest.split(",") if w.strip()]
for k in ("sections", "windows", "alerts", "detectors", "detector names", "kafka",
          "worker", "redis", "hub"):
    if not code.get(k):
        errors.append("could not read the code's list of %s" % k)
sections = [s.split()[0] for s in code["sections"]]  # "section XX-YY" -> section
accepts = {"windows": set(code["windows"]), "alerts": set(code["alerts"]),
           "worker": set(code["worker"]), "redis": set(code["redis"]),
           "hub": set(code["hub"])}
# "run, levels, or DETECTOR.PARAMETER such as ears_c1.alpha"
det_keys = {w.split()[-1] for w in code["detectors"] if w.split()[-1].islower()}
det_keys = {k for k in det_keys if "." not in k}
for d in code["detector names"]:
    params = code.get("params " + d, [])
    if not params:
        errors.append("could not read the parameters of %s" % d)
    det_keys |= {"%s.%s" % (d, p) for p in params}
accepts["detectors"] = det_keys
accepts["section"] = det_keys
kafka_fixed = {w.split()[-1] for w in code["kafka"] if " " not in w.strip()}
accepts["kafka"] = kafka_fixed  # plus any librdkafka property (a key with '.')

# the documentation: "| `key` |" rows under "## [section]" headings
documented = {}
heading = None
for line in open(doc_f):
    m = re.match(r"^## \[([a-z]+)", line)
    if m:
        heading = m.group(1)
        documented.setdefault(heading, {})
        continue
    if line.startswith("## "):
        heading = None
    m = re.match(r"^\| `([A-Za-z0-9_.]+)` \|([^|]*)\|([^|]*)\|", line)
    if m and heading:
        documented[heading][m.group(1)] = m.group(3).strip()
for s in sections:
    if s not in documented:
        errors.append("docs/configuration.md has no '## [%s]' section" % s)
doc_keys = {s: {k for k in v if k not in ("DETECTOR.PARAMETER", "NAME.OF.PROPERTY")}
            for s, v in documented.items()}
doc_keys["section"] = doc_keys.get("detectors", set())

# the example: keys per section (inline " ;" comments removed)
example = {}
sec = None
for n, line in enumerate(open(ex_f), 1):
    line = line.rstrip("\n")
    if not line.strip() or line.lstrip()[0] in ";#":
        continue
    m = re.match(r"^\[(.*)\]\s*$", line)
    if m:
        sec = m.group(1)
        continue
    key, _, value = line.partition("=")
    value = re.split(r"\s;", value)[0].strip()
    example.setdefault(sec, []).append((key.strip(), value, n))
kind = lambda s: "section" if s.startswith("section ") else s

# 1. every key of the example is documented (and accepted)
for s, kvs in example.items():
    for key, value, n in kvs:
        k = kind(s)
        if k == "kafka" and "." in key:
            continue  # a librdkafka property: documented as NAME.OF.PROPERTY
        if key not in doc_keys.get(k, ()):
            errors.append("example line %d: [%s] %s is not documented" % (n, s, key))
        if key not in accepts.get(k, ()):
            errors.append("example line %d: [%s] %s is not a key the code lists" % (n, s, key))
# 2. every key the code accepts is documented and in the example
for k, keys in accepts.items():
    ex = {key for s, kvs in example.items() if kind(s) == k for key, _, _ in kvs}
    for key in sorted(keys):
        if key not in doc_keys.get(k, ()):
            errors.append("[%s] %s is accepted by the code but not documented" % (k, key))
        if k != "section" and key not in ex:
            errors.append("[%s] %s is accepted by the code but not in the example" % (k, key))
# 3. every documented key is accepted by the code
for k, keys in doc_keys.items():
    for key in sorted(keys - accepts.get(k, set())):
        errors.append("[%s] %s is documented but the code does not accept it" % (k, key))
# 4. the example's default-profile values are the documented defaults
def norm(v):
    v = v.strip("`").replace(" ", "")
    try:
        return repr(float(v))
    except ValueError:
        return v.lower()
for s in ("windows", "alerts", "detectors"):
    for key, value, n in example.get(s, []):
        want = documented.get(s, {}).get(key)
        if want is not None and norm(want) != norm(value):
            errors.append("example line %d: [%s] %s = %s but the documented default is %s"
                          % (n, s, key, value, want))
for e in errors:
    print(e)
total = sum(len(v) for v in example.values())
print("%d keys in the example, %d documented, %d accepted by the code" % (
    total, sum(len(v) for v in doc_keys.values()), sum(len(v) for v in accepts.values())))
sys.exit(1 if errors else 0)
PYEOF

# the example's [windows], [alerts] and [detectors] are the built-in defaults:
# every detector run with the example's values alerts exactly like every
# detector run with nothing else set
"$SW_GEN" --count 30000 --seed 5 --days 120 --sections 4 > "$W/events.jsonl"
all="threshold, ratio, ears_c1, ears_c2, ears_c3, cusum, ewma"
sed -n '/^\[section /q;p' "$example" | sed "s/^run = .*/run = $all/" > "$W/defaults-example.ini"
printf '[detectors]\nrun = %s\n' "$all" > "$W/defaults-bare.ini"
"$SW_BIN" backtest -q -c "$W/defaults-example.ini" -e "$W/events.jsonl" > "$W/a.jsonl" 2> /dev/null
"$SW_BIN" backtest -q -c "$W/defaults-bare.ini" -e "$W/events.jsonl" > "$W/b.jsonl" 2> /dev/null
if [ -s "$W/a.jsonl" ] && cmp -s "$W/a.jsonl" "$W/b.jsonl"; then
    pass "the example's [windows], [alerts] and [detectors] values are the built-in defaults ($(wc -l < "$W/a.jsonl") identical alert transitions)"
else
    fail "the example's [windows], [alerts] and [detectors] values are the built-in defaults" \
        "$(diff "$W/a.jsonl" "$W/b.jsonl" | head -4)"
fi

# --------------------------------------------- (b) errors: file, line, key
n=0
expect_error() { # description, ini text (printf format), expected message
    local desc=$1 text=$2 want=$3
    n=$((n + 1))
    local f="$W/err$n.ini"
    printf "$text" > "$f"
    local got rc
    "$SW_BIN" backtest -c "$f" -e /dev/null > /dev/null 2> "$f.err"
    rc=$?
    got=$(head -1 "$f.err")
    want="surgewatch backtest: $f${want}"
    if [ "$rc" -eq 2 ] && [ "$got" = "$want" ]; then
        pass "$desc: exit 2, $(basename "$f")${3%%: *}: ..."
    else
        fail "$desc" "exit $rc (want 2)" "got:  $got" "want: $want"
    fi
}
ACC_DET='(accepted: threshold, ratio, ears_c1, ears_c2, ears_c3, cusum, ewma)'
expect_error "unknown section" \
    '[windows]\nbucket = 1d\n\n[detector]\nrun = cusum\n' \
    ':5: unknown section [detector] (accepted: kafka, windows, alerts, detectors, section XX-YY)'
expect_error "a key before any section" \
    'bucket = 1d\n' \
    ':1: unknown section [] (accepted: kafka, windows, alerts, detectors, section XX-YY)'
expect_error "unknown key in [windows]" \
    '; comment\n[windows]\nbukcet = 1d\n' \
    ':3: [windows] bukcet: unknown key (accepted: bucket, lateness, idle, by_type, strict_sections, max_lookback, dedup_capacity)'
expect_error "unknown key in [alerts]" \
    '[alerts]\nraise_after = 1\nraise = 2\n' \
    ':3: [alerts] raise: unknown key (accepted: raise_after, resolve_after, update_min_change, levels)'
expect_error "unknown key in [detectors]" \
    '[detectors]\nalpha = 0.01\n' \
    ':2: [detectors] alpha: unknown key (accepted: run, levels, or DETECTOR.PARAMETER such as ears_c1.alpha)'
expect_error "unknown parameter of a detector" \
    '[detectors]\n\ncusum.alpha = 0.01\n' \
    ':3: [detectors] cusum.alpha: unknown parameter (accepted for cusum: k, h, baseline, history, guard, reset, min_mean, min_count)'
expect_error "unknown detector in a key of a section" \
    '[section HU-RS]\nears_c4.alpha = 0.01\n' \
    ":2: [section HU-RS] ears_c4.alpha: unknown detector \"ears_c4\" $ACC_DET"
expect_error "bad duration" \
    '[windows]\nbucket = 1d\nlateness = 24\n' \
    ':3: [windows] lateness: "24" is not a duration (accepted: a whole number with a unit ms, s, m, h or d, e.g. 15m, 24h, 1d)'
expect_error "bad duration unit" \
    '[windows]\nbucket = 1w\n' \
    ':2: [windows] bucket: "1w" is not a duration (accepted: a whole number with a unit ms, s, m, h or d, e.g. 15m, 24h, 1d)'
expect_error "bad number" \
    '[detectors]\nears_c2.alpha = 0,001\n' \
    ':2: [detectors] ears_c2.alpha: "0,001" is not a number'
expect_error "bad whole number" \
    '[alerts]\nresolve_after = two\n' \
    ':2: [alerts] resolve_after: "two" is not a whole number (accepted: 0..1000000)'
expect_error "negative whole number" \
    '[section BA-HR]\nears_c2.baseline = -7\n' \
    ':2: [section BA-HR] ears_c2.baseline: "-7" is not a whole number (accepted: 0..1000000)'
expect_error "bad boolean" \
    '[windows]\nby_type = maybe\n' \
    ':2: [windows] by_type: "maybe" is not a boolean (accepted: true, false)'
expect_error "bad levels" \
    '[alerts]\nlevels = 2, 1.5, 4\n' \
    ':2: [alerts] levels: "2, 1.5, 4" is not three ascending numbers >= 1 (the score / threshold at which an alert is medium, high, critical; e.g. 1.5, 2.5, 4)'
expect_error "unknown detector name in run" \
    '[detectors]\nrun = ears_c2, earsc3\n' \
    ":2: [detectors] run: unknown detector \"earsc3\" $ACC_DET"
expect_error "unknown detector name in a section's run" \
    '[detectors]\nrun = cusum\n[section GR-MK]\nrun = cusum farrington\n' \
    ":4: [section GR-MK] run: unknown detector \"farrington\" $ACC_DET"
expect_error "parameter out of range: names the line, the parameter and its range" \
    '[detectors]\nrun = ears_c2\nears_c2.alpha = 0.7\n' \
    ':3: [detectors] ears_c2.alpha: 0.7 is out of range (accepted: 0 < alpha < 0.5)'
expect_error "parameter out of range, by its key name (cusum.k, not cusum_k)" \
    '[detectors]\ncusum.k = -1\n' \
    ':2: [detectors] cusum.k: -1 is out of range (accepted: 0 <= k <= 1000)'
expect_error "parameter out of range in a section" \
    '[detectors]\nrun = ears_c2\n[section "HR-SI/karlovac"]\nrun = ewma\newma.lambda = 1.5\n' \
    ':5: [section "HR-SI/karlovac"] ewma.lambda: 1.5 is out of range (accepted: 0 < lambda <= 1)'
expect_error "parameter out of range that a section inherits: the [detectors] line" \
    '[section HU-RS]\nrun = ears_c1\n[detectors]\nrun = cusum\nears_c1.baseline = 1\n' \
    ':5: [detectors] ears_c1.baseline: 1 is out of range (accepted: 2..100)'
expect_error "parameter out of range of a detector that does not run" \
    '[detectors]\nrun = ears_c2, cusum\newma.alpha = 0.5\n' \
    ':3: [detectors] ewma.alpha: 0.5 is out of range (accepted: 0 < alpha < 0.5)'
expect_error "parameters out of range together" \
    '[detectors]\ncusum.history = 300\n[section HU-RS]\ncusum.baseline = 100\n' \
    ':4: [section HU-RS] cusum.baseline: history + guard + baseline = 300 + 2 + 100 = 402 buckets is out of range (accepted: <= 400)'
expect_error "bad section id (not in ascending order)" \
    '[detectors]\nrun = cusum\n[section RS-HU]\ncusum.h = 4\n' \
    ':4: [section RS-HU]: "RS-HU" is not a section id (accepted: e.g. HU-RS, HR-SI/karlovac; see docs/events.md)'
expect_error "bad section id (lower case)" \
    '[section hu-rs]\ncusum.h = 4\n' \
    ':2: [section hu-rs]: "hu-rs" is not a section id (accepted: e.g. HU-RS, HR-SI/karlovac; see docs/events.md)'
expect_error "bad section id (words after it)" \
    '[section HU-RS north]\ncusum.h = 4\n' \
    ':2: [section HU-RS north]: "HU-RS north" is not a section id (accepted: e.g. HU-RS, HR-SI/karlovac; see docs/events.md)'
expect_error "an indented line continues the key above it" \
    '[windows]\nbucket = 1d\n  lateness = 2h\n' \
    ':3: [windows] bucket: "lateness = 2h" is not a duration (accepted: a whole number with a unit ms, s, m, h or d, e.g. 15m, 24h, 1d)'
# checked by the engine when it starts: the file and the setting, no line
expect_error "bucket that does not divide a day (checked by the engine: no line)" \
    '[windows]\nbucket = 7m\n' \
    ': bucket: 420000 ms is not accepted (accepted: 1 minute to 1 day, dividing a day evenly, e.g. 1m, 5m, 15m, 1h, 6h, 1d)'
expect_error "raise_after 0 (checked by the engine: no line)" \
    '[alerts]\nraise_after = 0\n' \
    ': raise_after 0 / resolve_after 2: out of range (accepted: 1..100)'

# [kafka] is checked by the commands that read it
printf '[windows]\nbucket = 1d\n[kafka]\nbrokers = 127.0.0.1:9092\nbogus = 1\n' > "$W/kafka.ini"
got=$("$SW_BIN" publish -n -q -c "$W/kafka.ini" /dev/null 2>&1 >/dev/null | head -1)
want="surgewatch publish: $W/kafka.ini:5: [kafka] bogus: unknown key (accepted: brokers, topic, or a librdkafka property such as security.protocol)"
[ "$got" = "$want" ] && pass "publish: unknown [kafka] key names file, line and key" \
    || fail "publish: unknown [kafka] key names file, line and key" "got:  $got" "want: $want"
"$SW_BIN" backtest -c "$W/kafka.ini" -e /dev/null > /dev/null 2>&1 \
    && pass "backtest skips [kafka]" || fail "backtest skips [kafka]"

# the file comes from -c, else SURGEWATCH_CONFIG; -c wins
got=$(SURGEWATCH_CONFIG="$W/err1.ini" "$SW_BIN" backtest -e /dev/null 2>&1 >/dev/null | head -1)
case "$got" in
    *"err1.ini:5: unknown section [detector]"*) pass "backtest reads SURGEWATCH_CONFIG" ;;
    *) fail "backtest reads SURGEWATCH_CONFIG" "got: $got" ;;
esac
SURGEWATCH_CONFIG="$W/err1.ini" "$SW_BIN" backtest -c "$example" -e /dev/null > /dev/null 2>&1 \
    && pass "-c overrides SURGEWATCH_CONFIG" || fail "-c overrides SURGEWATCH_CONFIG"
got=$("$SW_BIN" backtest -c "$W/no-such.ini" -e /dev/null 2>&1 >/dev/null | head -1)
[ "$got" = "surgewatch backtest: $W/no-such.ini: cannot open: No such file or directory" ] \
    && pass "a missing config file is named" || fail "a missing config file is named" "got: $got"

# a few things the reference promises
printf '[windows]\nbucket = 1d ; one a day\nlateness: 2h\nidle = 0s\n[section HU-RS]\nrun = cusum\n[section "HU-RS"]\ncusum.h = 4\n' > "$W/ok.ini"
"$SW_BIN" backtest -c "$W/ok.ini" -e /dev/null > /dev/null 2> "$W/ok.err" \
    && pass "inline ' ;' comments, 'key: value', 0s, and one section named with and without quotes" \
    || fail "inline comments, key: value, quoted sections" "$(head -2 "$W/ok.err")"
printf '[windows]\nstrict_sections = true\n[section HU-RS]\nrun = cusum\n' > "$W/strict.ini"
printf '%s\n' '{"id":"1","src":"HU","section":"HU-RS","ts":"2019-03-01T10:00:00Z","type":"deterred","count":3}' \
    '{"id":"2","src":"HR","section":"HR-RS","ts":"2019-03-01T11:00:00Z","type":"deterred","count":3}' > "$W/two.jsonl"
"$SW_BIN" backtest -c "$W/strict.ini" -e "$W/two.jsonl" 2>&1 >/dev/null | grep -q '1 counted.* 1 unknown section' \
    && pass "strict_sections: events of sections without a profile are rejected" \
    || fail "strict_sections rejects unlisted sections" "$("$SW_BIN" backtest -c "$W/strict.ini" -e "$W/two.jsonl" 2>&1 | head -1)"
done_testing
