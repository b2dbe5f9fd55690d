#!/usr/bin/env bash
# docker/ checked as far as this machine can check it. Docker Hub is out of
# reach here, so no image is pulled, built or started (docker/README.md says
# what was and was not run). What is checked:
#   1. docker/compose.yaml is a valid Compose file: `docker-compose config`
#      (Debian's docker-compose, the Compose Specification), then its
#      wiring read from that output with python3-yaml: every service of the
#      demo, health checks, depends_on conditions that can be met, ports,
#      hosts and passwords that agree with docker/surgewatch.ini, the Kafka
#      image of the version the tests run (tests/kafka/pom.xml)
#   2. docker/Dockerfile: the build stage installs the -dev package of every
#      pkg-config module of the Makefile (and libcsv), copies every source
#      directory the binary is built from; the runtime stage installs the
#      package of every shared library build/surgewatch needs (readelf),
#      every package named exists in Debian 12 (apt-cache), non-root user,
#      ENTRYPOINT surgewatch
#   3. the services' own commands, run here: the surgewatch ones with the
#      compose arguments and environment (paths of the container mapped to
#      the repository), `run` and `hub` --check-config, the scenario
#      generator and `publish --dry-run`, `subscribe`'s flags; the redis
#      service's command and health check with Debian's redis-server 7; the
#      kafka service's health check with the test broker's Kafka jars
#   4. the stack on loopback: the same commands against the test broker and
#      a redis-server with the compose password: the scenario published, two
#      workers, a hub and a subscriber, health checks (docker/healthz) green,
#      and the subscriber prints exactly the alerts of `surgewatch backtest
#      --partitions 4 --reorder 0s` over the same events
# Needs SW_BIN, WORK, KAFKA_BOOTSTRAP (from tests/run-all) and the normal
# build build/surgewatch (scripts/test builds it), docker-compose and
# python3-yaml (scripts/install-deps).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
require_env SW_BIN WORK
root=$(cd "$here/../.." && pwd)
D=$root/docker
W=$WORK/docker-files
rm -rf "$W"
mkdir -p "$W"
PY=/usr/bin/python3
NORMAL_BIN=${SW_NORMAL_BIN:-$root/build/surgewatch}
pids=()
redis_pid=
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
    [ -n "$redis_pid" ] && kill -9 "$redis_pid" 2> /dev/null
}
trap cleanup EXIT

# python prints "ok<TAB>DESC" or "fail<TAB>DESC<TAB>DETAIL..." lines
report() {
    local kind desc rest
    while IFS=$'\t' read -r kind desc rest; do
        case $kind in
            ok) pass "$desc" ;;
            fail) IFS=$'\t' read -r -a det <<< "$rest"; fail "$desc" "${det[@]}" ;;
            *) echo "# $kind $desc $rest" ;;
        esac
    done
}

# --------------------------------------------------------------- the files
for f in Dockerfile compose.yaml surgewatch.ini healthz README.md; do
    [ -s "$D/$f" ] && pass "docker/$f exists" || fail "docker/$f exists"
done
[ -x "$D/healthz" ] && pass "docker/healthz is executable" || fail "docker/healthz is executable"

# ------------------------------------------- 1. compose.yaml: docker-compose
if ! command -v docker-compose > /dev/null; then
    fail "docker-compose is installed (Debian's docker-compose: scripts/install-deps)"
    done_testing
fi
if ! $PY -c 'import yaml' 2> /dev/null; then
    fail "python3-yaml is installed (scripts/install-deps)"
    done_testing
fi
# no REDIS_PASSWORD from the caller: the file's own default
if (cd "$D" && env -u REDIS_PASSWORD docker-compose -f compose.yaml config -q) > "$W/config-q.out" 2>&1; then
    pass "docker-compose -f docker/compose.yaml config -q: a valid Compose file ($(docker-compose version --short 2> /dev/null))"
else
    fail "docker-compose -f docker/compose.yaml config -q" "$(head -5 "$W/config-q.out")"
fi
(cd "$D" && env -u REDIS_PASSWORD docker-compose -f compose.yaml config) > "$W/compose.yaml" 2> "$W/config.err" \
    || fail "docker-compose config" "$(head -5 "$W/config.err")"

# the wiring, from the normalised file (anchors merged, variables set,
# relative paths made absolute)
$PY - "$W/compose.yaml" "$D/surgewatch.ini" "$root" > "$W/wiring.tap" <<'PYEOF'
import configparser, re, sys, yaml
compose_f, ini_f, root = sys.argv[1:4]
c = yaml.safe_load(open(compose_f))
ini = configparser.ConfigParser(inline_comment_prefixes=(" ;",), strict=False, interpolation=None)
ini.read(ini_f)
S = c.get("services", {})
def ok(d): print("ok\t" + d)
def fail(d, *det): print("\t".join(["fail", d] + [str(x) for x in det]))
def check(cond, d, *det): ok(d) if cond else fail(d, *det)
def cmd(s): # the command as a list
    v = S[s].get("command", [])
    return v if isinstance(v, list) else v.split()
def env(s):
    e = S[s].get("environment") or {}
    if isinstance(e, list):
        e = dict(x.split("=", 1) for x in e)
    return {k: ("" if v is None else str(v)) for k, v in e.items()}
def port_of(endpoint):
    return int(endpoint.rsplit(":", 1)[1])
# volumes and ports in either form (docker-compose 1.x prints the short one,
# Compose v2 the long one)
def vols(s):
    out = []
    for v in S[s].get("volumes", []):
        if isinstance(v, str):
            src, _, rest = v.partition(":")
            v = {"source": src, "target": rest.split(":")[0],
                 "type": "bind" if src.startswith((".", "/")) else "volume"}
        out.append(v)
    return out
def ports(s):
    out = []
    for p in S[s].get("ports", []):
        if isinstance(p, str):
            parts = p.split("/")[0].split(":")
            p = {"target": parts[-1], "published": parts[-2] if len(parts) > 1 else None,
                 "host_ip": parts[0] if len(parts) > 2 else None}
        out.append(p)
    return out

want = ["kafka", "topics", "redis", "scenario", "worker1", "worker2", "hub", "publisher", "subscriber"]
missing = [s for s in want if s not in S]
check(not missing, "compose: the services " + ", ".join(want), "missing: %s" % missing)
if missing:
    sys.exit(0)

# depends_on: every dependency has a condition that can be met
bad = []
for s, d in S.items():
    for dep, spec in (d.get("depends_on") or {}).items():
        cond = (spec or {}).get("condition")
        if cond == "service_healthy" and "healthcheck" not in S.get(dep, {}):
            bad.append("%s waits for %s to be healthy, which has no healthcheck" % (s, dep))
        elif cond == "service_completed_successfully" and S.get(dep, {}).get("restart", "no") != "no":
            bad.append("%s waits for %s to complete, which restarts" % (s, dep))
        elif cond not in ("service_healthy", "service_completed_successfully"):
            bad.append("%s -> %s: condition %s (want service_healthy or service_completed_successfully)" % (s, dep, cond))
check(not bad, "compose: every depends_on has a condition that can be met", *bad)
want_deps = {"topics": {"kafka"}, "worker1": {"kafka", "topics", "redis"},
             "worker2": {"kafka", "topics", "redis"}, "hub": {"redis"},
             "publisher": {"scenario", "topics"}, "subscriber": {"hub"}}
bad = ["%s lacks %s" % (s, sorted(w - set(S[s].get("depends_on") or {})))
       for s, w in want_deps.items() if not w <= set(S[s].get("depends_on") or {})]
check(not bad, "compose: start order kafka -> topics -> workers -> publisher; redis -> hub -> subscriber", *bad)
bad = [s for s in ("kafka", "redis", "worker1", "worker2", "hub")
       if not (S[s].get("healthcheck") or {}).get("test")]
check(not bad, "compose: kafka, redis, both workers and the hub have a health check", "without: %s" % bad)
bad = [s for s in ("topics", "scenario", "publisher") if S[s].get("restart", "no") != "no"]
check(not bad, "compose: topics, scenario and publisher are one-shots (restart: \"no\")", "restarting: %s" % bad)

# the surgewatch services: one image, built from docker/Dockerfile, with the config
sw = [s for s in S if S[s].get("image") == "surgewatch:local"]
bad = []
for s in sw:
    b = S[s].get("build") or {}
    if b.get("dockerfile") != "docker/Dockerfile" or b.get("context") != root:
        bad.append("%s: build %s" % (s, b))
    cfg = env(s).get("SURGEWATCH_CONFIG")
    if not any(v.get("target") == cfg and v.get("source", "").endswith("docker/surgewatch.ini") for v in vols(s)):
        bad.append("%s: SURGEWATCH_CONFIG=%s is not docker/surgewatch.ini" % (s, cfg))
check(set(sw) == {"worker1", "worker2", "hub", "publisher", "subscriber"} and not bad,
      "compose: worker1, worker2, hub, publisher, subscriber run surgewatch:local (docker/Dockerfile, repository root) with docker/surgewatch.ini",
      "surgewatch services: %s" % sorted(sw), *bad)
check(cmd("worker1")[:1] == ["run"] and cmd("worker2")[:1] == ["run"] and cmd("hub")[:1] == ["hub"]
      and cmd("publisher")[:1] == ["publish"] and cmd("subscriber")[:1] == ["subscribe"],
      "compose: the workers run `surgewatch run`, the hub `hub`, the publisher `publish`, the subscriber `subscribe`")

# Kafka: the version the tests run, KRaft, the topic of surgewatch.ini with 4 partitions
pom = open(root + "/tests/kafka/pom.xml").read()
kv = re.search(r"<kafka.version>(.*)</kafka.version>", pom).group(1)
check(S["kafka"]["image"] == S["topics"]["image"] == "apache/kafka:" + kv,
      "compose: kafka and topics use apache/kafka:%s, the version of tests/kafka/pom.xml" % kv,
      "kafka: %s, topics: %s" % (S["kafka"]["image"], S["topics"]["image"]))
ke = env("kafka")
check("broker" in ke.get("KAFKA_PROCESS_ROLES", "") and "controller" in ke.get("KAFKA_PROCESS_ROLES", "")
      and ke.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").startswith(ke.get("KAFKA_NODE_ID", "?") + "@kafka:")
      and ke.get("CLUSTER_ID"),
      "compose: kafka is a single KRaft node (broker and controller, its own voter, a CLUSTER_ID)")
brokers = ini.get("kafka", "brokers")
check(brokers == "kafka:9092" and "PLAINTEXT://kafka:9092" in ke.get("KAFKA_ADVERTISED_LISTENERS", ""),
      "compose: [kafka] brokers = %s is the broker's advertised PLAINTEXT listener" % brokers,
      ke.get("KAFKA_ADVERTISED_LISTENERS"))
hc = " ".join(S["kafka"]["healthcheck"]["test"])
check("/opt/kafka/bin/kafka-broker-api-versions.sh" in hc or "/opt/kafka/bin/kafka-topics.sh" in hc,
      "compose: kafka's health check asks the broker with a script of the image (/opt/kafka/bin)", hc)
topic = ini.get("kafka", "topic")
tc = " ".join(cmd("topics"))
check(re.search(r"--create --if-not-exists\s+--topic %s --partitions 4 " % re.escape(topic), tc)
      and re.search(r"--topic %s\.dlq " % re.escape(topic), tc),
      "compose: topics creates %s (4 partitions) and %s.dlq, the topics of surgewatch.ini" % (topic, topic), tc)

# Redis: one password in the server, its health check and the surgewatch URL
rc = cmd("redis")
pw = rc[rc.index("--requirepass") + 1] if "--requirepass" in rc else None
urls = {s: env(s).get("SURGEWATCH_REDIS_URL", "") for s in ("worker1", "worker2", "hub")}
bad = [s for s, u in urls.items() if u != "redis://:%s@redis:6379/0" % pw]
check(pw and env("redis").get("REDISCLI_AUTH") == pw and not bad,
      "compose: redis requires a password; its health check and SURGEWATCH_REDIS_URL of the workers and the hub use it",
      "requirepass %s, REDISCLI_AUTH %s, urls %s" % (pw, env("redis").get("REDISCLI_AUTH"), urls))
check(S["redis"]["image"].startswith("redis:7"), "compose: redis:7 (ACL selectors of docs/security.md need Redis 7)")
check(ini.get("redis", "url").startswith("redis://redis:6379"), "surgewatch.ini: [redis] url names the redis service")

# ports: the health checks, the published ports and the subscriber's -H
# agree with surgewatch.ini
wport = port_of(ini.get("worker", "metrics"))
hport = port_of(ini.get("hub", "metrics"))
pub, rep = port_of(ini.get("hub", "pub")), port_of(ini.get("hub", "replay"))
def published(s):
    return {int(p["target"]) for p in ports(s)}
bad = []
for s, port in (("worker1", wport), ("worker2", wport), ("hub", hport)):
    t = S[s]["healthcheck"]["test"]
    if t[:2] != ["CMD", "surgewatch-healthz"] or t[2:] != [str(port)]:
        bad.append("%s: %s (want surgewatch-healthz %d)" % (s, t, port))
check(not bad, "compose: the workers' and the hub's health checks probe [worker] metrics (%d) and [hub] metrics (%d)" % (wport, hport), *bad)
check(wport in published("worker1") and wport in published("worker2") and {pub, rep, hport} <= published("hub"),
      "compose: ports published: worker metrics %d, hub %d (live), %d (replay), %d (metrics)" % (wport, pub, rep, hport),
      "worker1 %s worker2 %s hub %s" % (published("worker1"), published("worker2"), published("hub")))
webport = port_of(ini.get("hub", "web"))
check(webport in published("hub"),
      "compose: the hub publishes its web view's port (%d, [hub] web)" % webport,
      "hub %s" % published("hub"))
bad = ["%s: %s" % (s, p) for s in S for p in ports(s) if p.get("host_ip") != "127.0.0.1"]
check(not bad, "compose: every published port is bound to 127.0.0.1 only (the hub speaks plain text)", "not: %s" % bad)
sc = cmd("subscriber")
hubs = [sc[i + 1] for i, a in enumerate(sc) if a in ("-H", "--hub")]
check(hubs == ["tcp://hub:%d,tcp://hub:%d" % (pub, rep)],
      "compose: the subscriber connects to the hub service's pub (%d) and replay (%d) sockets" % (pub, rep), "-H %s" % hubs)

# the events: the scenario writes what the publisher reads, in one volume
scn = cmd("scenario")
out = scn[scn.index("--out") + 1] if "--out" in scn else None
pubf = cmd("publisher")[-1]
def vol(s, target):
    return [v for v in vols(s) if out and out.startswith(v["target"] + "/")]
sv, pv = vol("scenario", out), vol("publisher", out)
check(out == pubf and sv and pv and sv[0]["type"] == pv[0]["type"] == "volume" and sv[0]["source"] == pv[0]["source"],
      "compose: the publisher reads %s, which the scenario writes, through one named volume" % out,
      "scenario --out %s in %s; publisher reads %s in %s" % (out, sv, pubf, pv))
bind = [v for v in vols("scenario") if v.get("type") == "bind"]
script = scn[1] if len(scn) > 1 else ""
src = [b["source"] + script[len(b["target"]):] for b in bind if script.startswith(b["target"] + "/")]
check(src and src[0] == root + "/tests/scenario/make_scenario.py",
      "compose: scenario runs tests/scenario/make_scenario.py from the repository", "%s -> %s" % (script, src))
PYEOF
report < "$W/wiring.tap"

# docker/surgewatch.ini carries the scenario's detection settings unchanged
strip_ini() { sed -n '/^\[windows\]/,$p' "$1" | sed -e 's/[[:space:]];.*//' -e '/^[;#]/d' -e '/^[[:space:]]*$/d'; }
if diff <(strip_ini "$root/tests/scenario/scenario.ini") <(strip_ini "$D/surgewatch.ini") > "$W/ini.diff"; then
    pass "docker/surgewatch.ini: [windows] .. [section ...] are those of tests/scenario/scenario.ini"
else
    fail "docker/surgewatch.ini: the detection settings of tests/scenario/scenario.ini" "$(head -6 "$W/ini.diff")"
fi

# ------------------------------------------------------- 2. the Dockerfile
# stage N's lines (continuations joined)
$PY - "$D/Dockerfile" "$root/Makefile" "$W" <<'PYEOF' > "$W/dockerfile.tap"
import json, os, re, sys
df, mk, W = sys.argv[1:4]
lines, cur = [], ""
for l in open(df):
    l = l.rstrip("\n")
    if l.lstrip().startswith("#") and not cur:
        continue
    if l.endswith("\\"):
        cur += l[:-1] + " "
        continue
    cur += l
    if cur.strip():
        lines.append(cur.strip())
    cur = ""
stages = []
for l in lines:
    ins, _, arg = l.partition(" ")
    if ins.upper() == "FROM":
        stages.append({"from": arg, "lines": []})
    elif stages:
        stages[-1]["lines"].append((ins.upper(), arg))
def ok(d): print("ok\t" + d)
def fail(d, *det): print("\t".join(["fail", d] + [str(x) for x in det]))
def check(c, d, *det): ok(d) if c else fail(d, *det)
check(len(stages) == 2 and re.match(r"debian:12\s+AS\s+build$", stages[0]["from"], re.I)
      and stages[1]["from"] == "debian:12-slim",
      "Dockerfile: two stages, FROM debian:12 AS build and FROM debian:12-slim",
      [s["from"] for s in stages])
if len(stages) != 2:
    sys.exit(0)
def apt(stage):
    pk = []
    for ins, arg in stage["lines"]:
        if ins == "RUN":
            for m in re.finditer(r"apt-get install ([^&;|]*)", arg):
                pk += [w for w in m.group(1).split() if not w.startswith("-")]
    return pk
build, run = apt(stages[0]), apt(stages[1])
open(W + "/build-packages", "w").write("\n".join(build) + "\n")
open(W + "/runtime-packages", "w").write("\n".join(run) + "\n")
# what the build stage copies and makes
copies = [a.split() for i, a in stages[0]["lines"] if i == "COPY"]
copied = {c[0].rstrip("/") for c in copies if not c[0].startswith("--")}
mkf = open(mk).read().replace("\\\n", " ")
srcs = []
for var in ("LIB_SRCS", "CMD_SRCS"):
    m = re.search(r"^%s\s*:=(.*)$" % var, mkf, re.M)
    srcs += m.group(1).split() if m else []
dirs = sorted({s.split("/")[0] for s in srcs})
check(srcs and "Makefile" in copied and set(dirs) <= copied,
      "Dockerfile: the build stage copies the Makefile and every directory of LIB_SRCS and CMD_SRCS (%s)" % ", ".join(dirs),
      "copied: %s" % sorted(copied))
makes = [a for i, a in stages[0]["lines"] if i == "RUN" and re.search(r"\bmake\b", a)]
check(makes and not any("SAN=1" in a for a in makes) and any("build/surgewatch" in a for a in makes),
      "Dockerfile: the build stage runs the normal make (not SAN=1) of build/surgewatch", makes)
rl = stages[1]["lines"]
users = [a for i, a in rl if i == "USER"]
check(users and users[-1] not in ("root", "0") and any(i == "RUN" and "useradd --system" in a and users[-1] in a for i, a in rl),
      "Dockerfile: the runtime stage makes a system user and runs as it (USER %s)" % (users[-1] if users else None), users)
ep = [a for i, a in rl if i == "ENTRYPOINT"]
check(ep and json.loads(ep[-1]) == ["surgewatch"], "Dockerfile: ENTRYPOINT [\"surgewatch\"]", ep)
cp = [a for i, a in rl if i == "COPY"]
check(any(a.startswith("--from=build ") and a.split()[-1] == "/usr/local/bin/surgewatch" for a in cp)
      and any(a.split()[0] == "docker/healthz" and a.split()[-1] == "/usr/local/bin/surgewatch-healthz" for a in cp),
      "Dockerfile: the runtime stage gets build/surgewatch and docker/healthz (surgewatch-healthz) in /usr/local/bin", cp)
check(not any(p.endswith("-dev") for p in run) and not any(i == "HEALTHCHECK" for i, a in rl),
      "Dockerfile: no -dev package and no image-wide HEALTHCHECK in the runtime stage", run)
PYEOF
report < "$W/dockerfile.tap"

# the -dev packages: the one that ships each pkg-config module of the
# Makefile's PKGS (and jemalloc), and libcsv's (no .pc file)
pkgs=$(sed -n 's/^PKGS *:= *//p' "$root/Makefile")
missing=()
for m in $pkgs jemalloc; do
    pc=$(pkg-config --variable=pcfiledir "$m" 2> /dev/null)/$m.pc
    p=$(dpkg -S "$pc" 2> /dev/null | head -1 | cut -d: -f1)
    [ -z "$p" ] && p=$(dpkg -S "$(readlink -f "$pc")" 2> /dev/null | head -1 | cut -d: -f1)
    if [ -z "$p" ]; then missing+=("$m: no installed package ships $m.pc"); continue; fi
    grep -qx "$p" "$W/build-packages" || missing+=("$m: $p")
done
csv=$(dpkg -S "$(realpath -s "$(gcc -print-file-name=libcsv.so)")" 2> /dev/null | head -1 | cut -d: -f1)
[ -n "$csv" ] && ! grep -qx "$csv" "$W/build-packages" && missing+=("-lcsv: $csv")
[ -n "$csv" ] || missing+=("-lcsv: no installed package ships libcsv.so")
[ ${#missing[@]} -eq 0 ] \
    && pass "Dockerfile: the build stage installs the -dev package of every pkg-config module of the Makefile ($pkgs jemalloc) and libcsv-dev" \
    || fail "Dockerfile: the build stage lacks -dev packages" "${missing[@]}"

# the runtime packages: every NEEDED library of the normal binary comes from
# a package of the runtime stage, or from one every Debian image has (an
# Essential package or a dependency of one: libc6)
base=$({
    dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" {print $1}'
    dpkg-query -W -f='${Essential}|${Pre-Depends}, ${Depends}\n' | awk -F'|' '$1 == "yes" {print $2}' |
        tr ',' '\n' | sed -e 's/[(|].*//' -e 's/:.*//' -e 's/ //g'
} | sort -u)
if [ ! -x "$NORMAL_BIN" ]; then
    fail "the normal build $NORMAL_BIN exists (make)"
else
    missing=() found=()
    while read -r lib; do
        path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64|64bit/ {print $NF; exit}')
        [ -z "$path" ] && path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
        p=$(dpkg -S "$(readlink -f "$path")" 2> /dev/null | head -1 | cut -d: -f1)
        [ -z "$p" ] && p=$(dpkg -S "$path" 2> /dev/null | head -1 | cut -d: -f1)
        if [ -z "$p" ]; then missing+=("$lib: no package found"); continue; fi
        if grep -qx "$p" "$W/runtime-packages"; then found+=("$lib:$p")
        elif grep -qx "$p" <<< "$base"; then found+=("$lib:$p(base)")
        else missing+=("$lib: $p")
        fi
    done < <(readelf -d "$NORMAL_BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    [ ${#missing[@]} -eq 0 ] && [ ${#found[@]} -gt 0 ] \
        && pass "Dockerfile: the runtime stage installs the package of every library build/surgewatch needs (${#found[@]}: ${found[*]})" \
        || fail "Dockerfile: the runtime stage lacks packages of libraries build/surgewatch needs" "${missing[@]}"
fi
# every package named exists in Debian 12 (the apt lists of this Debian 12
# machine; scripts/install-deps runs apt-get update)
. /etc/os-release
if [ "${VERSION_ID:-}" != 12 ]; then
    fail "this machine is Debian 12 (the package checks compare with its apt lists)" "${PRETTY_NAME:-?}"
else
    bad=()
    while read -r p; do
        [ -z "$p" ] && continue
        apt-cache show --no-all-versions "$p" 2> /dev/null | grep -q '^Version:' || bad+=("$p")
    done < <(cat "$W/build-packages" "$W/runtime-packages")
    [ ${#bad[@]} -eq 0 ] \
        && pass "Dockerfile: all $(cat "$W/build-packages" "$W/runtime-packages" | grep -c .) packages it installs exist in Debian 12 (apt-cache show)" \
        || fail "Dockerfile: packages unknown to Debian 12's apt lists" "${bad[@]}"
fi

# ------------------------------- 3. the services' commands, run here
# args SERVICE: the service's command, one argument per line, with the
# container paths of its volumes mapped to this machine (bind mounts to
# their source, named volumes to $W/vol-NAME); ENV lines as NAME=VALUE
$PY - "$W/compose.yaml" "$W" <<'PYEOF'
import os, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
W = sys.argv[2]
for s, d in c["services"].items():
    maps = []
    for v in d.get("volumes", []):
        if isinstance(v, str):  # docker-compose 1.x: SOURCE:TARGET[:MODE]
            src, _, rest = v.partition(":")
            v = {"source": src, "target": rest.split(":")[0],
                 "type": "bind" if src.startswith((".", "/")) else "volume"}
        src = v["source"] if v.get("type") == "bind" else os.path.join(W, "vol-" + v["source"])
        if v.get("type") != "bind":
            os.makedirs(src, exist_ok=True)
        maps.append((v["target"], src))
    maps.sort(key=lambda m: -len(m[0]))
    def mp(a):
        for t, src in maps:
            if a == t or a.startswith(t + "/"):
                return src + a[len(t):]
        return a
    cmd = d.get("command", [])
    cmd = cmd if isinstance(cmd, list) else cmd.split()
    with open(os.path.join(W, "cmd." + s), "w") as f:
        f.write("".join(mp(str(a)) + "\n" for a in cmd))
    e = d.get("environment") or {}
    with open(os.path.join(W, "env." + s), "w") as f:
        f.write("".join("%s=%s\n" % (k, mp("" if v is None else str(v))) for k, v in e.items()))
PYEOF
svc_args() { mapfile -t ARGS < "$W/cmd.$1"; mapfile -t ENVS < "$W/env.$1"; }

for s in worker1 hub; do
    svc_args "$s"
    if env "${ENVS[@]}" "$SW_BIN" "${ARGS[@]}" --check-config > "$W/check-$s.out" 2>&1 \
        && grep -q 'configuration ok' "$W/check-$s.out"; then
        pass "$s: surgewatch ${ARGS[*]} --check-config with its environment: configuration ok"
    else
        fail "$s: surgewatch ${ARGS[*]} --check-config" "$(tail -3 "$W/check-$s.out")"
    fi
done
svc_args worker1
grep -q "url = redis://:\*\*\*@redis:6379/0  (environment)" "$W/check-worker1.out" \
    && pass "worker1: the Redis URL with the password comes from SURGEWATCH_REDIS_URL, shown as ***" \
    || fail "worker1: the Redis URL from SURGEWATCH_REDIS_URL" "$(grep 'redis\] url' "$W/check-worker1.out")"

# the scenario (Debian's python3 for the image's) and the publisher's file
svc_args scenario
ARGS[0]=$PY
if "${ARGS[@]}" > "$W/scenario.out" 2>&1; then
    pass "scenario: python3 ${ARGS[*]:1} (as in the one-shot service)"
else
    fail "scenario: the generator" "$(tail -3 "$W/scenario.out")"
fi
svc_args publisher
events=${ARGS[${#ARGS[@]} - 1]}
if env "${ENVS[@]}" "$SW_BIN" "${ARGS[@]}" --dry-run > "$W/pub-dry.out" 2>&1 \
    && grep -Eq 'dry run: ([0-9]+) lines, \1 valid, 0 rejected' "$W/pub-dry.out"; then
    pass "publisher: surgewatch ${ARGS[*]} --dry-run: $(grep -o 'dry run: [^(]*' "$W/pub-dry.out")"
else
    fail "publisher: surgewatch ${ARGS[*]} --dry-run" "$(tail -3 "$W/pub-dry.out")"
fi
svc_args subscriber
"$SW_BIN" subscribe --help > "$W/sub-help.txt" 2>&1
bad=()
for a in "${ARGS[@]:1}"; do
    case $a in -*) grep -qE -- "(^|[ ,])$a([ ,=]|$)" "$W/sub-help.txt" || bad+=("$a") ;; esac
done
[ ${#bad[@]} -eq 0 ] && pass "subscriber: every option of '${ARGS[*]}' is in surgewatch subscribe --help" \
    || fail "subscriber: options unknown to surgewatch subscribe" "${bad[@]}"

# the redis service: its command and health check, with Debian's redis 7
svc_args redis
rport=$("$here/../lib/free-port")
mkdir -p "$W/redis"
(cd "$W/redis" && exec "${ARGS[@]}" --port "$rport" --bind 127.0.0.1 --save '' --dir "$W/redis" \
    > "$W/redis/log" 2>&1) &
redis_pid=$!
hc=$($PY -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["services"]["redis"]["healthcheck"]["test"][1])' "$W/compose.yaml")
hc=${hc//redis-cli/redis-cli -p $rport}
wait_until() { local s=$1 t0=$SECONDS; shift; until "$@"; do [ $((SECONDS - t0)) -ge "$s" ] && return 1; sleep 0.2; done; }
if wait_until 20 env "${ENVS[@]}" sh -c "$hc"; then
    pass "redis: '${ARGS[*]}' (redis-server $(redis-server --version | grep -o 'v=[0-9.]*')) and its health check '$hc' with REDISCLI_AUTH: PONG"
else
    fail "redis: the service's command and health check" "$(tail -3 "$W/redis/log")"
fi
env -u REDISCLI_AUTH sh -c "$hc" 2> /dev/null \
    && fail "redis: the health check fails without the password" \
    || pass "redis: without the password the health check fails (NOAUTH)"

# ------------------------------------------- 4. the stack on loopback
if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
    fail "environment: KAFKA_BOOTSTRAP is not set (the stack on loopback needs the test broker)"
    done_testing
fi
# the kafka service's health check: kafka-broker-api-versions.sh runs
# kafka.admin.BrokerApiVersionsCommand (Kafka 3.7); run that class from the
# jars of the test broker (same version) with the check's arguments
kv=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/tests/kafka/pom.xml")
jars=${SW_KAFKA_JARS:-$HOME/.cache/surgewatch/kafka-$kv}
kcheck() { # BOOTSTRAP: the health check's command with its broker replaced
    local hc
    hc=$($PY -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["services"]["kafka"]["healthcheck"]["test"][1])' "$W/compose.yaml")
    case $hc in /opt/kafka/bin/kafka-broker-api-versions.sh\ *) ;; *) echo "not kafka-broker-api-versions.sh: $hc"; return 2 ;; esac
    hc=${hc#/opt/kafka/bin/kafka-broker-api-versions.sh }
    hc=${hc//localhost:9092/$1}
    eval "java -Dlog4j.configuration=file:/dev/null -cp '$jars/*' kafka.admin.BrokerApiVersionsCommand $hc"
}
if [ ! -f "$jars/kafka_2.13-$kv.jar" ]; then
    fail "kafka: the health check needs the Kafka $kv jars of tests/kafka/broker in $jars"
elif kcheck "$KAFKA_BOOTSTRAP" 2> "$W/kcheck.err" && ! kcheck 127.0.0.1:1 2> /dev/null; then
    pass "kafka: its health check (kafka-broker-api-versions.sh, Kafka $kv) passes against the test broker and fails without one"
else
    fail "kafka: the health check's command" "$(tail -3 "$W/kcheck.err")"
fi

topic=docker-files-$$
group=docker-files-$$
# the compose hosts, on this machine
svc_args worker1
redis_url=$(printf '%s\n' "${ENVS[@]}" | sed -n 's/^SURGEWATCH_REDIS_URL=//p')
local_redis=${redis_url/@redis:6379/@127.0.0.1:$rport}
over_env() { # the service's environment with the Redis host mapped
    local e
    for e in "${ENVS[@]}"; do
        case $e in SURGEWATCH_REDIS_URL=*) echo "SURGEWATCH_REDIS_URL=$local_redis" ;; *) echo "$e" ;; esac
    done
}

# publisher first: it creates the topic (the test broker makes 4 partitions,
# as the topics service does)
svc_args publisher
mapfile -t E < <(over_env)
if env "${E[@]}" "$SW_BIN" "${ARGS[@]}" -b "$KAFKA_BOOTSTRAP" -t "$topic" > "$W/publish.out" 2>&1; then
    pass "publisher: surgewatch ${ARGS[*]} (-b the test broker -t $topic): $(grep -o '[0-9]* sent' "$W/publish.out" | head -1)"
else
    fail "publisher: surgewatch ${ARGS[*]}" "$(tail -3 "$W/publish.out")"
fi
# the reference: backtest as a worker over a topic of 4 partitions
"$SW_BIN" backtest -c "$D/surgewatch.ini" -e "$events" --partitions 4 --reorder 0s -q \
    > "$W/backtest.jsonl" 2> "$W/backtest.err"
expected=$(wc -l < "$W/backtest.jsonl")
[ "$expected" -gt 0 ] && pass "backtest --partitions 4 --reorder 0s over the scenario: $expected alert transitions" \
    || fail "backtest over the scenario gives alerts" "$(tail -2 "$W/backtest.err")"

declare -A MPORT
for s in worker1 worker2; do
    svc_args "$s"
    mapfile -t E < <(over_env)
    MPORT[$s]=$("$here/../lib/free-port")
    env "${E[@]}" "$SW_BIN" "${ARGS[@]}" -b "$KAFKA_BOOTSTRAP" -t "$topic" -g "$group" \
        --dlq-topic "$topic.dlq" -m "127.0.0.1:${MPORT[$s]}" -X session.timeout.ms=6000 \
        -X heartbeat.interval.ms=500 2> "$W/$s.log" &
    pids+=($!)
done
svc_args hub
mapfile -t E < <(over_env)
MPORT[hub]=$("$here/../lib/free-port")
hpub=$("$here/../lib/free-port")
hrep=$("$here/../lib/free-port")
env "${E[@]}" "$SW_BIN" "${ARGS[@]}" --pub "tcp://127.0.0.1:$hpub" --replay "tcp://127.0.0.1:$hrep" \
    -m "127.0.0.1:${MPORT[hub]}" 2> "$W/hub.log" &
pids+=($!)
for s in worker1 worker2 hub; do
    if wait_until 60 "$D/healthz" "${MPORT[$s]}" 2> /dev/null; then
        pass "$s: docker/healthz ${MPORT[$s]} (the compose health check) passes once it runs"
    else
        "$D/healthz" "${MPORT[$s]}" 2> "$W/healthz-$s.err"
        fail "$s: docker/healthz ${MPORT[$s]}" "$(cat "$W/healthz-$s.err")" "$(tail -3 "$W/$s.log")"
    fi
done

svc_args subscriber
sargs=()
skip=0
for a in "${ARGS[@]}"; do
    if [ "$skip" = 1 ]; then sargs+=("tcp://127.0.0.1:$hpub,tcp://127.0.0.1:$hrep"); skip=0; continue; fi
    case $a in -H | --hub) skip=1 ;; esac
    sargs+=("$a")
done
"$SW_BIN" "${sargs[@]}" -n "$expected" > "$W/subscriber.jsonl" 2> "$W/subscriber.log" &
spid=$!
pids+=($spid)
if wait_until 180 eval "! kill -0 $spid 2> /dev/null"; then
    wait "$spid"
    src=$?
else
    src=timeout
fi
got=$(wc -l < "$W/subscriber.jsonl")
norm() { $PY -c '
import json, sys
for l in open(sys.argv[1]):
    a = json.loads(l)
    print(json.dumps({k: a.get(k) for k in ("alert_id", "state", "section", "detector", "level", "observed", "expected", "score", "threshold", "window_start", "window_end")}, sort_keys=True))
' "$1" | sort; }
if [ "$src" = 0 ] && [ "$got" -eq "$expected" ] && cmp -s <(norm "$W/backtest.jsonl") <(norm "$W/subscriber.jsonl"); then
    pass "subscriber: surgewatch ${sargs[*]} printed the $got alert transitions of the backtest (two workers, one hub)"
else
    fail "subscriber: the alerts of the backtest through two workers and the hub" \
        "exit $src, $got of $expected lines" "$(diff <(norm "$W/backtest.jsonl") <(norm "$W/subscriber.jsonl") | head -4)" \
        "$(tail -2 "$W/subscriber.log")"
fi

# the workers stop on SIGTERM (compose down), checkpointing into Redis
bad=()
for i in 0 1; do
    kill -TERM "${pids[$i]}" 2> /dev/null
    wait "${pids[$i]}"
    rc=$?
    s=worker$((i + 1))
    [ "$rc" -eq 0 ] && grep -q 'INFO run: stopped consumed=' "$W/$s.log" || bad+=("$s: exit $rc: $(tail -1 "$W/$s.log")")
done
[ ${#bad[@]} -eq 0 ] && pass "worker1, worker2: SIGTERM (docker compose stop) -> checkpointed, exit 0" \
    || fail "the workers stop on SIGTERM with exit 0" "${bad[@]}"

# the health check says no: a hub whose Redis is gone answers 503, and
# nothing listening is a failure too
kill -TERM "$redis_pid" 2> /dev/null
wait "$redis_pid" 2> /dev/null
redis_pid=
if wait_until 30 eval "! '$D/healthz' ${MPORT[hub]} 2> '$W/healthz-down.err'"; then
    pass "hub: docker/healthz fails once Redis is down ($(cat "$W/healthz-down.err"))"
else
    fail "hub: docker/healthz fails once Redis is down"
fi
for p in "${pids[@]}"; do kill -TERM "$p" 2> /dev/null; done
for p in "${pids[@]}"; do wait "$p" 2> /dev/null; done
pids=()
"$D/healthz" "${MPORT[worker1]}" 2> "$W/healthz-gone.err" \
    && fail "docker/healthz fails when nothing listens" \
    || pass "docker/healthz fails when nothing listens ($(cat "$W/healthz-gone.err"))"
done_testing
