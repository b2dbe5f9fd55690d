#!/usr/bin/python3
"""The soak test (issue 9): the whole pipeline on real servers for a while,
with faults at random moments, then an exact comparison with a backtest.

usage: tests/soak/run [--seconds N] [--seed S] [--rate R] [--speed X]
                      [--keep] [--work DIR]
       tests/soak/run --check-only DIR      (the checks again, on a kept DIR)

Environment: SOAK_SECONDS (default 600), SOAK_SEED (default: from the
clock, printed), SOAK_RATE (events a second, default 500), SOAK_SPEED
(simulated seconds a wall second, default 600), SOAK_BIN (default
build/surgewatch), SOAK_KEEP=1 (keep the work directory after a pass),
TMPDIR.

What runs (all on loopback, all started here, none shared with the test
harness): a Kafka broker (tests/kafka/broker; restarted on the same port
from the same command line and data directory), a redis-server with the
append-only file (appendfsync always), the events topic (4 partitions) and
its dead-letter topic TOPIC.dlq, two workers in one group, two hubs on
that Redis, four subscribers each on both hubs from seq 1 (s3 is the one
paused; s4 takes only the HU- and HR- sections), and the publisher:
feed.py writing generated events at a steady rate into `surgewatch
publish` through a pipe, and into events.jsonl.

Faults, at seeded random moments spread over the run, one after the other
(a fault ends when what it broke is whole again), every type at least once
(once more per 300 s of run): kill -9 of a worker and its restart; kill -9
of a hub and its restart (same name and ports); a Redis restart (SHUTDOWN,
then the same port and directory); a Kafka broker restart; subscriber s3
stopped with SIGSTOP for 10-20 s; a burst of garbage payloads produced with
kcat; a threshold change of section SK-UA with `surgewatch ctl set`.

At the end: the publisher stops, the workers read everything and stop, the
hubs and subscribers deliver everything and stop, then the checks (TAP
lines, counted by tests/run-all) and a summary table. Exit status 0 only
when every check passed; the work directory is kept on failure (its path
printed). tests/soak/README.md explains every check and the table.
"""
import argparse
import collections
import datetime
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import feed  # noqa: E402  (the sections and the stream)

TOPIC = "soak-events"
DLQ = TOPIC + ".dlq"
GROUP = "soak"
PREFIX = "sw"
NPART = 4
CTL_SECTION = feed.CTL_SECTION
CTL_LIMITS = [50, 40, 60, 35, 65, 45, 55, 30, 70]  # [0]: soak.ini's
SUB_PREFIXES = {"s4": ["HU-", "HR-"]}
PAUSED_SUB = "s3"
FAULTS = ["worker", "hub", "redis", "broker", "pause", "garbage", "threshold"]
FAULT_NAMES = {"worker": "worker kill -9 + restart",
               "hub": "hub kill -9 + restart",
               "redis": "Redis restart",
               "broker": "Kafka broker restart",
               "pause": "subscriber SIGSTOP/SIGCONT",
               "garbage": "garbage burst (kcat)",
               "threshold": "threshold change (ctl set)"}
# memory: "no growth once warm" (README.md): the median VmRSS of the last
# fifth of a process's samples (during the publishing) against the median
# of its second fifth
RSS_GROWTH_FRAC = 0.10
RSS_GROWTH_KB = 8 * 1024
RSS_MIN_SAMPLES = 20
SAMPLE_EVERY = 2.0


def now():
    return time.time()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def scrape(port, timeout=3):
    """{metric name: summed value} and {name{labels}: value} of /metrics."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                    timeout=timeout) as r:
            body = r.read().decode("utf-8", "replace")
    except Exception:
        return None
    out = collections.defaultdict(float)
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        k, _, v = line.rpartition(" ")
        try:
            val = float(v)
        except ValueError:
            continue
        name = k.split("{", 1)[0]
        if "{" in k and val < 0:
            continue  # a partition not read yet says -1
        out[name] += val
    return out


def redis_cmd(port, *args, timeout=2.0):
    """One command over RESP; the reply (bytes, int, list) or None."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return None
    try:
        req = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            req += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(req)
        f = s.makefile("rb")

        def read():
            line = f.readline()
            if not line:
                raise OSError("closed")
            t, rest = line[:1], line[1:-2]
            if t == b"+":
                return rest
            if t == b"-":
                raise OSError(rest.decode())
            if t == b":":
                return int(rest)
            if t == b"$":
                n = int(rest)
                if n < 0:
                    return None
                d = f.read(n + 2)
                return d[:-2]
            if t == b"*":
                n = int(rest)
                return None if n < 0 else [read() for _ in range(n)]
            raise OSError("bad reply")
        return read()
    except OSError:
        return None
    finally:
        s.close()


def ms_of(v):
    if isinstance(v, (int, float)):
        return int(v)
    return int(datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
               .timestamp() * 1000)


def tail(path, n=5):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 8192))
            return [l.decode("utf-8", "replace")
                    for l in f.read().splitlines()[-n:]]
    except OSError:
        return []


def count_in(path, text):
    try:
        with open(path, "rb") as f:
            return f.read().count(text.encode())
    except OSError:
        return 0


class Proc:
    """A component: its current process, and its history."""

    def __init__(self, name, kind):
        self.name, self.kind = name, kind
        self.popen = None
        self.pid = None
        self.pids = []        # every pid it had, in order
        self.starts = []      # wall times of its starts
        self.down = False     # being broken on purpose (a fault)
        self.unexpected = []  # exits nobody asked for
        self.exit = None      # exit status at the end
        self.port = None      # metrics port (workers, hubs)


class Soak:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        self.t0 = now()
        self.rng = random.Random("%s/faults" % a.seed)
        self.grng = random.Random("%s/garbage" % a.seed)
        self.lock = threading.RLock()
        self.procs = collections.OrderedDict()
        self.faults = []
        self.changes = []
        self.garbage = []
        self.garbage_shas = set()
        self.notes = []
        self.failures_early = []  # problems found while running
        self.stop_sampling = threading.Event()
        self.limit_idx = 0
        os.makedirs(os.path.join(self.work, "garbage"), exist_ok=True)
        self.rss = open(os.path.join(self.work, "rss.csv"), "a")
        self.rss.write("t,name,pid,rss_kb\n")

    # ------------------------------------------------------------ output
    def t(self):
        return now() - self.t0

    def say(self, msg):
        print("# [%6.1f s] %s" % (self.t(), msg), flush=True)

    def path(self, *p):
        return os.path.join(self.work, *p)

    # ---------------------------------------------------------- registry
    def proc(self, name, kind):
        if name not in self.procs:
            self.procs[name] = Proc(name, kind)
        return self.procs[name]

    def started(self, p, pid, popen=None):
        with self.lock:
            p.popen, p.pid = popen, pid
            p.pids.append(pid)
            p.starts.append(self.t())

    # ------------------------------------------------------------ broker
    def start_broker(self):
        p = self.proc("kafka", "broker")
        d = self.path("kafka")
        out = subprocess.run([os.path.join(ROOT, "tests/kafka/broker"), "start", d],
                             capture_output=True, text=True)
        with open(self.path("kafka-start.log"), "a") as f:
            f.write(out.stderr)
        m = re.search(r"KAFKA_BOOTSTRAP=(\S+)", out.stdout)
        if out.returncode != 0 or not m:
            raise RuntimeError("the Kafka broker did not start: %s" % out.stderr[-800:])
        self.bootstrap = m.group(1)
        pid = int(open(os.path.join(d, "kafka.pid")).read())
        # a restart runs the very same command line (same ports, same data)
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            self.broker_argv = [x.decode() for x in f.read().split(b"\0") if x]
        self.broker_cwd = os.readlink("/proc/%d/cwd" % pid)
        self.started(p, pid)

    def broker_ready(self):
        try:
            out = subprocess.run(["kcat", "-b", self.bootstrap, "-L", "-m", "2"],
                                 capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            return False
        return "broker 1 at" in out.stdout

    def stop_broker(self, grace=60):
        p = self.procs["kafka"]
        pid = p.pid
        how = "SIGTERM"
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        if not self.wait(grace, lambda: not alive(pid), step=0.2):
            os.kill(pid, signal.SIGKILL)
            how = "SIGTERM, then SIGKILL after %d s" % grace
            self.wait(30, lambda: not alive(pid), step=0.2)
        if p.popen is not None:
            p.popen.wait()
        return how

    def restart_broker(self):
        p = self.procs["kafka"]
        d = self.path("kafka")
        out = open(os.path.join(d, "broker.out"), "ab")
        pop = subprocess.Popen(self.broker_argv, cwd=self.broker_cwd, stdin=subprocess.DEVNULL,
                               stdout=out, stderr=out, start_new_session=True)
        out.close()
        with open(os.path.join(d, "kafka.pid"), "w") as f:
            f.write("%d\n" % pop.pid)
        self.started(p, pop.pid, pop)
        ok = self.wait(240, lambda: pop.poll() is None and self.broker_ready(), step=0.5)
        if not ok:
            raise RuntimeError("the Kafka broker did not come back on %s: %s"
                               % (self.bootstrap, " | ".join(tail(os.path.join(d, "broker.log")))))

    # ------------------------------------------------------------- redis
    def start_redis(self):
        p = self.proc("redis", "redis")
        d = self.path("redis")
        os.makedirs(d, exist_ok=True)
        if not getattr(self, "redis_port", None):
            self.redis_port = free_port()
            self.redis_url = "redis://127.0.0.1:%d" % self.redis_port
        subprocess.run(["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
                        "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                        "--dir", d, "--daemonize", "yes", "--pidfile", os.path.join(d, "redis.pid"),
                        "--logfile", os.path.join(d, "redis.log")], check=True)
        if not self.wait(30, lambda: redis_cmd(self.redis_port, "PING") == b"PONG", step=0.1):
            raise RuntimeError("redis-server did not answer on port %d: %s"
                               % (self.redis_port, " | ".join(tail(os.path.join(d, "redis.log")))))
        pid = int(open(os.path.join(d, "redis.pid")).read())
        self.started(p, pid)

    def stop_redis(self):
        p = self.procs["redis"]
        pid = p.pid
        subprocess.run(["redis-cli", "-p", str(self.redis_port), "shutdown"],
                       capture_output=True, timeout=60)
        if not self.wait(60, lambda: not alive(pid), step=0.1):
            os.kill(pid, signal.SIGKILL)
            return "SHUTDOWN did not stop it in 60 s: SIGKILL"
        return "SHUTDOWN"

    # ------------------------------------------------------------ topics
    def partitions(self, topic):
        out = subprocess.run(["kcat", "-b", self.bootstrap, "-L", "-t", topic],
                             capture_output=True, text=True, timeout=30).stdout
        m = re.search(r'topic "%s" with (\d+) partitions' % re.escape(topic), out)
        return int(m.group(1)) if m else 0

    def create_topics(self):
        # the broker creates a topic of num.partitions (4) on the first
        # metadata request that names it
        for t in (TOPIC, DLQ):
            if not self.wait(60, lambda: self.partitions(t) > 0, step=0.5):
                raise RuntimeError("topic %s was not created" % t)
        self.npart = self.partitions(TOPIC)
        if self.npart < NPART:
            raise RuntimeError("topic %s has %d partitions, want %d" % (TOPIC, self.npart, NPART))

    def end_offsets(self, topic, n):
        args = ["kcat", "-b", self.bootstrap, "-Q"]
        for i in range(n):
            args += ["-t", "%s:%d:-1" % (topic, i)]
        out = subprocess.run(args, capture_output=True, text=True, timeout=60).stdout
        got = {int(a): int(b) for a, b in re.findall(r"\[(\d+)\] offset (\d+)", out)}
        return got if len(got) == n else None

    # ----------------------------------------------------------- workers
    def start_worker(self, name):
        p = self.proc(name, "worker")
        p.port = free_port()
        log = open(self.path(name + ".log"), "ab")
        pop = subprocess.Popen(
            [self.bin, "run", "-b", self.bootstrap, "-t", TOPIC, "-c", self.ini, "-g", GROUP,
             "-r", self.redis_url, "--redis-prefix", PREFIX, "-m", "127.0.0.1:%d" % p.port,
             "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        self.started(p, pop.pid, pop)
        if not self.wait(60, lambda: pop.poll() is not None or scrape(p.port) is not None):
            raise RuntimeError("worker %s: no /metrics within 60 s" % name)
        if pop.poll() is not None:
            raise RuntimeError("worker %s exited %s at start: %s"
                               % (name, pop.returncode, " | ".join(tail(self.path(name + ".log")))))

    def workers(self):
        return [p for p in self.procs.values() if p.kind == "worker"]

    def wmetrics(self):
        out = {}
        for p in self.workers():
            if p.popen is not None and p.popen.poll() is None:
                out[p.name] = scrape(p.port)
        return out

    def group_whole(self):
        """Every running worker answers and owns partitions, and together
        they own them all (once each)."""
        ms = self.wmetrics()
        if not ms or any(m is None for m in ms.values()):
            return False
        owned = [m.get("surgewatch_partitions_owned", 0) for m in ms.values()]
        return sum(owned) == self.npart and min(owned) >= 1

    # -------------------------------------------------------------- hubs
    def start_hub(self, name):
        p = self.proc(name, "hub")
        if p.port is None:
            p.port = free_port()
            p.pub, p.replay = free_port(), free_port()
        logp = self.path(name + ".log")
        before = count_in(logp, "reading the alert log")
        log = open(logp, "ab")
        pop = subprocess.Popen(
            [self.bin, "hub", "-r", self.redis_url, "--redis-prefix", PREFIX, "--name", name,
             "--pub", "tcp://127.0.0.1:%d" % p.pub, "--replay", "tcp://127.0.0.1:%d" % p.replay,
             "-m", "127.0.0.1:%d" % p.port],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        self.started(p, pop.pid, pop)
        if not self.wait(60, lambda: pop.poll() is not None
                         or count_in(logp, "reading the alert log") > before):
            raise RuntimeError("hub %s: not following the alert log within 60 s" % name)
        if pop.poll() is not None:
            raise RuntimeError("hub %s exited %s at start: %s"
                               % (name, pop.returncode, " | ".join(tail(logp))))

    def hubs(self):
        return [p for p in self.procs.values() if p.kind == "hub"]

    # ------------------------------------------------------- subscribers
    def start_sub(self, name):
        p = self.proc(name, "subscriber")
        logp = self.path(name + ".log")
        before = count_in(logp, "subscribe: connected")
        args = [self.bin, "subscribe"]
        for h in self.hubs():
            args += ["-H", "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d" % (h.pub, h.replay)]
        args += ["--from-seq", "1"] + SUB_PREFIXES.get(name, [])
        out = open(self.path(name + ".jsonl"), "ab")
        log = open(logp, "ab")
        pop = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=log)
        out.close()
        log.close()
        self.started(p, pop.pid, pop)
        if not self.wait(60, lambda: pop.poll() is not None
                         or count_in(logp, "subscribe: connected") > before):
            raise RuntimeError("subscriber %s: not connected within 60 s" % name)
        if pop.poll() is not None:
            raise RuntimeError("subscriber %s exited %s at start: %s"
                               % (name, pop.returncode, " | ".join(tail(logp))))

    def subs(self):
        return [p for p in self.procs.values() if p.kind == "subscriber"]

    # --------------------------------------------------------- publisher
    def start_publisher(self):
        fp = self.proc("feed", "feed")
        pp = self.proc("publish", "publish")
        self.feed_log = open(self.path("feed.log"), "ab")
        fpop = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "feed.py"), "--seed", str(self.a.seed),
             "--rate", str(self.a.rate), "--speed", str(self.a.speed), "--t0", str(self.sim_t0),
             "--out", self.path("events.jsonl"), "--progress", self.path("progress.tsv"),
             "--stats", self.path("feed.json")],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.feed_log)
        log = open(self.path("publish.log"), "ab")
        ppop = subprocess.Popen(
            [self.bin, "publish", "-b", self.bootstrap, "-t", TOPIC, "-q",
             "-X", "message.timeout.ms=900000"],
            stdin=fpop.stdout, stdout=subprocess.DEVNULL, stderr=log)
        fpop.stdout.close()
        log.close()
        self.started(fp, fpop.pid, fpop)
        self.started(pp, ppop.pid, ppop)

    def progress(self):
        """The feed's last progress line: (wall_ms, index, max_ts)."""
        try:
            with open(self.path("progress.tsv")) as f:
                lines = [l.split() for l in f if l.endswith("\n")]
            return tuple(map(int, lines[-1])) if lines else (0, 0, 0)
        except OSError:
            return (0, 0, 0)

    # ----------------------------------------------------------- helpers
    def wait(self, secs, cond, step=0.3):
        end = now() + secs
        while True:
            try:
                if cond():
                    return True
            except Exception:
                pass
            if now() >= end:
                return False
            time.sleep(step)

    def kill9(self, p):
        with self.lock:
            p.down = True
        pid = p.pid
        os.kill(pid, signal.SIGKILL)
        if p.popen is not None:
            p.popen.wait()
        else:
            self.wait(30, lambda: not alive(pid), step=0.1)
        return pid

    def term(self, p, secs=60):
        """SIGTERM; the exit status (137 after SIGKILL when it did not stop)."""
        with self.lock:
            p.down = True
        if p.popen is None or p.popen.poll() is not None:
            return p.popen.returncode if p.popen else None
        p.popen.send_signal(signal.SIGTERM)
        try:
            return p.popen.wait(secs)
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait()
            return 137

    def check_alive(self):
        """Processes that exited on their own: recorded (a failure) and
        started again, so that the run goes on."""
        for p in list(self.procs.values()):
            if p.down or p.kind in ("feed", "publish"):
                continue
            if p.kind in ("redis", "broker"):
                dead = not alive(p.pid)
                rc = None
            else:
                dead = p.popen is not None and p.popen.poll() is not None
                rc = p.popen.returncode if dead else None
            if not dead:
                continue
            logp = self.path(("kafka/broker.log" if p.kind == "broker" else
                              "redis/redis.log" if p.kind == "redis" else p.name + ".log"))
            ev = {"t": round(self.t(), 1), "name": p.name, "pid": p.pid, "status": rc,
                  "log": tail(logp, 8)}
            p.unexpected.append(ev)
            self.say("UNEXPECTED: %s (pid %d) exited by itself, status %s; last log lines:"
                     % (p.name, p.pid, rc))
            for l in ev["log"]:
                print("#     " + l[:300])
            try:
                {"worker": self.start_worker, "hub": self.start_hub,
                 "subscriber": self.start_sub}.get(p.kind, lambda n: None)(p.name)
                if p.kind == "redis":
                    self.start_redis()
                elif p.kind == "broker":
                    self.restart_broker()
            except Exception as e:
                self.say("could not start %s again: %s" % (p.name, e))

    # ----------------------------------------------------------- sampler
    def sampler(self):
        rm = open(self.path("redis_mem.csv"), "a")
        rm.write("t,pid,used_memory_kb\n")
        while not self.stop_sampling.is_set():
            t = self.t()
            with self.lock:
                items = [(p.name, p.pid) for p in self.procs.values()
                         if p.pid and p.kind != "feed"]
            for name, pid in items:
                v = rss_kb(pid)
                if v is not None:
                    self.rss.write("%.1f,%s,%d,%d\n" % (t, name, pid, v))
            info = redis_cmd(self.redis_port, "INFO", "memory", timeout=1.0)
            if isinstance(info, bytes):
                m = re.search(rb"used_memory:(\d+)", info)
                if m:
                    rm.write("%.1f,%d,%d\n" % (t, self.procs["redis"].pid, int(m.group(1)) // 1024))
            self.rss.flush()
            rm.flush()
            self.stop_sampling.wait(SAMPLE_EVERY)
        rm.close()

    # ------------------------------------------------------------ faults
    def schedule(self):
        S = self.a.seconds
        rounds = max(1, S // 300)
        a, b = max(15.0, 0.08 * S), 0.85 * S
        kinds = []
        for _ in range(rounds):
            r = list(FAULTS)
            self.rng.shuffle(r)
            while kinds and r[0] == kinds[-1]:  # the same type never twice in a row
                self.rng.shuffle(r)
            kinds += r
        slot = (b - a) / len(kinds)
        return [(a + i * slot + self.rng.uniform(0, slot * 0.8), k) for i, k in enumerate(kinds)]

    def fault(self, kind):
        f = {"type": kind, "t": round(self.t(), 1)}
        getattr(self, "fault_" + kind)(f)
        f["end"] = round(self.t(), 1)
        self.faults.append(f)
        self.say("fault %-9s done (%.1f s): %s" % (kind, f["end"] - f["t"], f["detail"]))

    def fault_worker(self, f):
        p = self.procs[self.rng.choice(["w1", "w2"])]
        m = scrape(p.port) or {}
        down = self.rng.uniform(2, 10)
        pid = self.kill9(p)
        self.say("killed -9 %s (pid %d), restarting in %.1f s" % (p.name, pid, down))
        time.sleep(down)
        self.start_worker(p.name)
        p.down = False
        t = now()
        whole = self.wait(180, self.group_whole, step=0.5)
        f["target"] = p.name
        f["detail"] = ("%s pid %d killed -9 after %d messages consumed, %d transitions written; "
                       "down %.1f s; pid %d; the group owned the %d partitions again %s"
                       % (p.name, pid, m.get("surgewatch_events_consumed_total", -1),
                          m.get("surgewatch_alerts_total", -1), down, p.pid, self.npart,
                          "%.1f s later" % (now() - t) if whole else "NOT within 180 s"))
        if not whole:
            self.failures_early.append("after %s's restart the group did not own the partitions" % p.name)

    def fault_hub(self, f):
        p = self.procs[self.rng.choice(["h1", "h2"])]
        down = self.rng.uniform(1, 6)
        pid = self.kill9(p)
        self.say("killed -9 %s (pid %d), restarting in %.1f s" % (p.name, pid, down))
        time.sleep(down)
        self.start_hub(p.name)
        p.down = False
        resumed = [l for l in tail(self.path(p.name + ".log"), 20) if "reading the alert log" in l]
        f["target"] = p.name
        f["detail"] = "%s pid %d killed -9; down %.1f s; pid %d: %s" % (
            p.name, pid, down, p.pid,
            resumed[-1].split("hub: ", 1)[-1][:120] if resumed else "?")

    def fault_redis(self, f):
        p = self.procs["redis"]
        p.down = True
        pid = p.pid
        how = self.stop_redis()
        down = self.rng.uniform(2, 8)
        self.say("redis-server (pid %d) stopped (%s), starting again in %.1f s" % (pid, how, down))
        time.sleep(down)
        self.start_redis()
        p.down = False
        t = now()
        ok = self.wait(120, lambda: all(m and m.get("surgewatch_redis_up") == 1
                                        for m in self.wmetrics().values()))
        f["target"] = "redis"
        f["detail"] = ("pid %d stopped by %s; down %.1f s; pid %d on the same port and "
                       "directory; the workers saw it again %s"
                       % (pid, how, down, p.pid, "%.1f s later" % (now() - t) if ok else "NOT within 120 s"))
        if not ok:
            self.failures_early.append("the workers did not see Redis again after its restart")

    def fault_broker(self, f):
        p = self.procs["kafka"]
        p.down = True
        pid = p.pid
        t = now()
        how = self.stop_broker()
        stop_s = now() - t
        down = self.rng.uniform(2, 8)
        self.say("Kafka broker (pid %d) stopped (%s, %.1f s), starting again in %.1f s"
                 % (pid, how, stop_s, down))
        time.sleep(down)
        t = now()
        self.restart_broker()
        up_s = now() - t
        p.down = False
        t = now()
        whole = self.wait(240, lambda: self.group_whole() and all(
            m.get("surgewatch_kafka_up") == 1 for m in self.wmetrics().values()), step=0.5)
        f["target"] = "kafka"
        f["detail"] = ("pid %d stopped by %s in %.1f s; down %.1f s; pid %d answering on %s "
                       "after %.1f s; workers whole again %s"
                       % (pid, how, stop_s, down, p.pid, self.bootstrap, up_s,
                          "%.1f s later" % (now() - t) if whole else "NOT within 240 s"))
        if not whole:
            self.failures_early.append("after the broker restart the workers did not own the partitions")

    def fault_pause(self, f):
        p = self.procs[PAUSED_SUB]
        secs = self.rng.uniform(10, 20)
        os.kill(p.pid, signal.SIGSTOP)
        self.say("%s (pid %d) stopped with SIGSTOP for %.1f s" % (p.name, p.pid, secs))
        time.sleep(secs)
        os.kill(p.pid, signal.SIGCONT)
        f["target"] = p.name
        f["detail"] = "%s pid %d SIGSTOP, SIGCONT %.1f s later" % (p.name, p.pid, secs)

    def fault_garbage(self, f):
        n = self.grng.randint(40, 120)
        base = len(self.garbage)
        batch = [self.make_garbage(base + i + 1) for i in range(n)]
        key = self.grng.choice(feed.REGULAR)
        half = n // 2
        ok = True
        err = ""
        for group, k in ((batch[:half], key), (batch[half:], None)):
            files = []
            for g in group:
                fn = self.path("garbage", "g-%d.bin" % g["n"])
                with open(fn, "wb") as fh:
                    fh.write(bytes.fromhex(g["hex"]))
                files.append(fn)
                g["key"] = k
            args = ["kcat", "-P", "-b", self.bootstrap, "-t", TOPIC, "-X", "acks=all"]
            if k:
                args += ["-k", k]
            r = subprocess.run(args + files, capture_output=True, text=True, timeout=120)
            if r.returncode != 0 or "rror" in r.stderr:
                ok = False
                err += r.stderr[-300:]
        for g in batch:
            g["t"] = round(self.t(), 1)
        self.garbage += batch
        kinds = collections.Counter(g["kind"] for g in batch)
        f["target"] = TOPIC
        f["detail"] = "%d payloads (%s), %d keyed %s, %d without a key%s" % (
            n, ", ".join("%s %d" % kv for kv in sorted(kinds.items())), half, key, n - half,
            "" if ok else "; kcat FAILED: " + err)
        if not ok:
            self.failures_early.append("kcat could not produce a garbage burst: " + err)

    def make_garbage(self, n):
        import msgpack
        r = self.grng
        kinds = ["random", "truncated", "wrong_type", "bad_count", "unknown_field", "not_a_map",
                 "trailing", "json_text", "nested", "bad_section", "in_future", "too_old"]
        kind = r.choice(kinds)
        sec = r.choice(feed.REGULAR)
        ts = self.sim_t0 + 3600000

        def ev(**over):
            e = {"id": "garbage-%s-%d" % (self.a.seed, n), "src": sec[:2], "section": sec,
                 "ts": ts, "type": "deterred", "count": 2}
            e.update(over)
            return {k: v for k, v in e.items() if v is not None}
        seen = self.garbage_shas
        for _ in range(100):
            if kind == "random":
                p, why = r.randbytes(r.randint(1, 200)), None
            elif kind == "truncated":
                full = msgpack.packb(ev())
                p, why = full[:r.randint(1, len(full) - 1)], "truncated"
            elif kind == "wrong_type":
                k = r.choice(["count", "ts", "id", "section"])
                v = {"count": "2", "ts": str(ts), "id": 12345 + n, "section": True}[k]
                p, why = msgpack.packb(ev(**{k: v})), "wrong_type"
            elif kind == "bad_count":
                p, why = msgpack.packb(ev(count=r.choice([0, 10001]))), "bad_count"
            elif kind == "unknown_field":
                p, why = msgpack.packb(dict(ev(), colour="blue")), "unknown_field"
            elif kind == "not_a_map":
                p, why = msgpack.packb(["garbage-%d" % n, sec, ts]), "not_a_map"
            elif kind == "trailing":
                p, why = msgpack.packb(ev()) + b"XYZ", "trailing_bytes"
            elif kind == "json_text":
                p, why = json.dumps(ev()).encode(), "not_a_map"
            elif kind == "nested":
                p, why = msgpack.packb(ev(count={"n": 2})), "nested"
            elif kind == "bad_section":
                p, why = msgpack.packb(ev(section="ZZ-QQ")), "bad_section"
            elif kind == "in_future":
                p, why = msgpack.packb(ev(ts=int(now() * 1000) + 3 * 86400000)), "ts_in_future"
            else:
                p, why = msgpack.packb(ev(ts=r.randint(0, 946684799999))), "ts_too_old"
            sha = hashlib.sha256(p).hexdigest()
            if sha not in seen:  # every payload different: found again by its bytes
                seen.add(sha)
                return {"n": n, "kind": kind, "reason": why, "hex": p.hex(), "sha": sha}
        raise RuntimeError("no new garbage payload of kind %s" % kind)

    def fault_threshold(self, f):
        old = CTL_LIMITS[self.limit_idx]
        self.limit_idx += 1
        new = CTL_LIMITS[self.limit_idx % len(CTL_LIMITS)]
        t_cmd = self.t()
        r = subprocess.run([self.bin, "ctl", "-r", self.redis_url, "--redis-prefix", PREFIX,
                            "-c", self.ini, "set", CTL_SECTION, "threshold.limit", str(new),
                            "--as", "soak"], capture_output=True, text=True, timeout=60)
        v = redis_cmd(self.redis_port, "GET", "%s:thresholds:version" % PREFIX)
        version = int(v) if v else -1
        ok = r.returncode == 0
        applied = ok and self.wait(60, lambda: all(
            m and m.get("surgewatch_thresholds_version", 0) >= version
            for m in self.wmetrics().values()), step=0.1)
        t_applied = self.t()
        # the newest event time written by the feed once both workers run
        # the new version: any transition whose window ends after it was
        # computed with the new version (or a later one)
        wall = int(now() * 1000)
        self.wait(30, lambda: self.progress()[0] >= wall + 300, step=0.1)
        _, idx, e_applied = self.progress()
        ch = {"version": version, "old": old, "new": new, "t_cmd": round(t_cmd, 1),
              "t_applied": round(t_applied, 1), "e_applied": e_applied, "index": idx,
              "ok": bool(applied)}
        self.changes.append(ch)
        f["target"] = CTL_SECTION
        f["detail"] = ("ctl set %s threshold.limit %s -> %s: version %d, %s%s; events after "
                       "index %d (event time %s) are counted with it"
                       % (CTL_SECTION, old, new, version,
                          "applied by every worker %.1f s after" % (t_applied - t_cmd) if applied
                          else "NOT APPLIED by every worker within 60 s",
                          "" if ok else " (ctl exit %d: %s)" % (r.returncode, r.stderr.strip()[-200:]),
                          idx, datetime.datetime.fromtimestamp(e_applied / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")))
        if not applied:
            self.failures_early.append("threshold change %s -> %s not applied" % (old, new))

    # --------------------------------------------------------------- run
    def run(self):
        a = self.a
        self.load_start = open("/proc/loadavg").read().split()[0]
        self.bin = self.path("bin", "surgewatch")
        os.makedirs(self.path("bin"), exist_ok=True)
        shutil.copy2(a.bin, self.bin)  # restarts use this very binary
        self.ini = self.path("soak.ini")
        shutil.copy2(os.path.join(HERE, "soak.ini"), self.ini)
        # simulated time: whole days, far enough back for the whole run
        span = (a.seconds * 2 + 900) * a.speed * 1000
        self.sim_t0 = ((int(now() * 1000) - span) // 86400000 - 1) * 86400000
        self.say("work directory %s; seed %s; %d s at %d events/s, simulated time x%d from %s"
                 % (self.work, a.seed, a.seconds, a.rate, a.speed,
                    datetime.datetime.fromtimestamp(self.sim_t0 / 1000, datetime.timezone.utc).strftime("%Y-%m-%d")))
        self.start_broker()
        self.say("Kafka broker pid %d on %s" % (self.procs["kafka"].pid, self.bootstrap))
        self.start_redis()
        self.say("redis-server pid %d on %s (appendonly yes, appendfsync always)"
                 % (self.procs["redis"].pid, self.redis_url))
        self.create_topics()
        self.say("topics %s (%d partitions) and %s" % (TOPIC, self.npart, DLQ))
        for w in ("w1", "w2"):
            self.start_worker(w)
        if not self.wait(120, self.group_whole, step=0.5):
            raise RuntimeError("the two workers did not share the %d partitions within 120 s" % self.npart)
        self.say("workers w1 (pid %d), w2 (pid %d) share the partitions"
                 % (self.procs["w1"].pid, self.procs["w2"].pid))
        for h in ("h1", "h2"):
            self.start_hub(h)
        for s in ("s1", "s2", "s3", "s4"):
            self.start_sub(s)
        self.say("hubs h1, h2; subscribers s1..s4 on both (s3 is paused later; s4: %s)"
                 % " ".join(SUB_PREFIXES["s4"]))
        self.sampler_thread = threading.Thread(target=self.sampler, daemon=True)
        self.sampler_thread.start()
        self.start_publisher()
        self.t_pub = self.t()
        self.say("publishing: feed.py | surgewatch publish (pid %d)" % self.procs["publish"].pid)
        plan = self.schedule()
        self.say("fault plan: " + ", ".join("%.0f s %s" % (self.t_pub + t, k) for t, k in plan))
        for at, kind in plan:
            while self.t() < self.t_pub + at:
                self.check_alive()
                if self.procs["publish"].popen.poll() is not None:
                    raise RuntimeError("surgewatch publish exited %s during the run: %s" % (
                        self.procs["publish"].popen.returncode, " | ".join(tail(self.path("publish.log")))))
                time.sleep(0.5)
            self.check_alive()
            self.fault(kind)
        # publish until the planned end, and at least 20 s after the last fault
        end = max(self.t_pub + a.seconds, self.t() + 20)
        while self.t() < end:
            self.check_alive()
            time.sleep(0.5)
        self.finish()

    def finish(self):
        self.notes_end = {}
        fp, pp = self.procs["feed"], self.procs["publish"]
        fp.popen.send_signal(signal.SIGTERM)
        fp.exit = fp.popen.wait()
        self.t_pub_end = self.t()
        self.say("feed stopped; waiting for surgewatch publish to deliver everything")
        try:
            pp.exit = pp.popen.wait(1000)
        except subprocess.TimeoutExpired:
            pp.popen.kill()
            pp.exit = pp.popen.wait()
        fp.down = pp.down = True
        self.feed_stats = json.load(open(self.path("feed.json")))
        offs = self.end_offsets(TOPIC, self.npart)
        self.topic_total = sum(offs.values()) if offs else -1
        self.say("publish exited %s; the topic holds %d messages (%s)" % (
            pp.exit, self.topic_total, offs))
        total = self.topic_total

        def consumed():
            ms = self.wmetrics()
            if not ms or any(m is None for m in ms.values()):
                return False
            s = lambda k: sum(m.get(k, 0) for m in ms.values())
            return (s("surgewatch_partitions_owned") == self.npart and
                    s("surgewatch_next_offset") == total and s("surgewatch_alerts_pending") == 0)
        self.consumed_ok = self.wait(600, lambda: (self.check_alive() or True) and consumed(), step=1)
        ms = self.wmetrics()
        self.worker_metrics = {k: dict(v or {}) for k, v in ms.items()}
        self.say("workers %s everything (%s)" % (
            "consumed" if self.consumed_ok else "did NOT consume",
            ", ".join("%s next_offset %d" % (k, (v or {}).get("surgewatch_next_offset", -1))
                      for k, v in ms.items())))
        for p in self.workers():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % p.port, timeout=5) as r:
                    with open(self.path("metrics-%s.txt" % p.name), "wb") as f:
                        f.write(r.read())
            except Exception:
                pass
        for p in self.workers():
            p.exit = self.term(p)
            p.clean_stop = count_in(self.path(p.name + ".log"), "INFO run: stopped consumed=") > 0
        v = redis_cmd(self.redis_port, "GET", "%s:alerts:seq" % PREFIX)
        self.final_seq = int(v) if v else 0
        self.say("workers stopped (%s); the alert log is at seq %d" % (
            ", ".join("%s exit %s" % (p.name, p.exit) for p in self.workers()), self.final_seq))
        self.hubs_ok = self.wait(600, lambda: all(
            (scrape(h.port) or {}).get("surgewatch_hub_published_seq") == self.final_seq
            for h in self.hubs()), step=1)
        log = self.dump_log()
        want = {}
        for s in self.subs():
            pf = SUB_PREFIXES.get(s.name)
            want[s.name] = sum(1 for _, e in log if not pf or any(e["section"].startswith(x) for x in pf))

        def delivered(s):
            try:
                with open(self.path(s.name + ".jsonl"), "rb") as f:
                    return f.read().count(b"\n") >= want[s.name]
            except OSError:
                return False
        self.subs_ok = self.wait(600, lambda: all(delivered(s) for s in self.subs()), step=1)
        time.sleep(2)  # a duplicate or stray line would still come now
        self.say("hubs %s seq %d; subscribers %s" % (
            "published up to" if self.hubs_ok else "did NOT publish up to", self.final_seq,
            "delivered what they should" if self.subs_ok else "did NOT deliver everything"))
        for s in self.subs():
            s.exit = self.term(s)
        for h in self.hubs():
            h.exit = self.term(h)
        self.stop_sampling.set()
        self.sampler_thread.join()
        self.dump_dlq()
        self.dump_topic()
        self.load_end = open("/proc/loadavg").read().split()[0]
        self.procs["redis"].down = True
        self.stop_redis()
        self.procs["kafka"].down = True
        self.stop_broker()
        self.procs["redis"].exit = self.procs["kafka"].exit = 0
        self.save_meta()

    def dump_log(self):
        out = subprocess.run(["redis-cli", "-p", str(self.redis_port), "--json", "XRANGE",
                              "%s:alerts" % PREFIX, "-", "+"], capture_output=True, text=True)
        with open(self.path("log.json"), "w") as f:
            f.write(out.stdout)
        return read_log(self.path("log.json"))

    def dump_topic(self):
        """Every message's Kafka timestamp (CreateTime: when surgewatch
        publish handed it to librdkafka) and payload, for the latency row."""
        with open(self.path("topic.bin"), "wb") as f:
            subprocess.run(["kcat", "-C", "-b", self.bootstrap, "-t", TOPIC, "-e", "-q", "-f",
                            "\nSOAKREC %T %S\n%s"], stdout=f, timeout=600)

    def dump_dlq(self):
        with open(self.path("dlq.bin"), "wb") as f:
            subprocess.run(["kcat", "-C", "-b", self.bootstrap, "-t", DLQ, "-e", "-q", "-f",
                            "\nSOAKREC %p %o %S\n%s\nSOAKHDR %h\n"], stdout=f, timeout=300)

    def save_meta(self):
        meta = {
            "seed": self.a.seed, "seconds": self.a.seconds, "rate": self.a.rate,
            "speed": self.a.speed, "sim_t0": self.sim_t0, "npart": self.npart,
            "t_pub": self.t_pub, "t_pub_end": self.t_pub_end, "wall_t0": self.t0,
            "bootstrap": self.bootstrap, "redis": self.redis_url,
            "topic_total": self.topic_total, "final_seq": self.final_seq,
            "consumed_ok": self.consumed_ok, "hubs_ok": self.hubs_ok, "subs_ok": self.subs_ok,
            "worker_metrics": self.worker_metrics, "faults": self.faults,
            "changes": self.changes, "garbage": self.garbage,
            "failures_early": self.failures_early,
            "load_start": self.load_start, "load_end": self.load_end,
            "procs": [{"name": p.name, "kind": p.kind, "pids": p.pids, "starts": p.starts,
                       "unexpected": p.unexpected, "exit": p.exit,
                       "clean_stop": getattr(p, "clean_stop", None)}
                      for p in self.procs.values()],
        }
        with open(self.path("meta.json"), "w") as f:
            json.dump(meta, f, indent=1)

    def kill_all(self):
        """On an interruption or an error: every process started here."""
        self.stop_sampling.set()
        for p in self.procs.values():
            if p.kind in ("redis", "broker"):
                continue
            if p.popen is not None and p.popen.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    p.popen.kill()
                    p.popen.wait(10)
                except Exception:
                    pass
        if "redis" in self.procs and alive(self.procs["redis"].pid):
            try:
                self.stop_redis()
            except Exception:
                os.kill(self.procs["redis"].pid, signal.SIGKILL)
        if "kafka" in self.procs and alive(self.procs["kafka"].pid):
            try:
                self.stop_broker(grace=20)
            except Exception:
                pass


# ================================================================ checks
def read_log(path):
    """[(seq, alert dict)] of the published entries, in stream order."""
    raw = open(path).read().strip()
    out = []
    for eid, fields in json.loads(raw or "[]"):
        f = dict(zip(fields[0::2], fields[1::2]))
        if "silenced" in f:
            continue
        s, n = eid.split("-")
        if n != "1":
            continue
        out.append((int(s), json.loads(f["alert"])))
    return out


def canon(a):
    a = dict(a)
    a.pop("seq", None)
    return json.dumps(a, sort_keys=True)


def median(xs):
    return statistics.median(xs) if xs else 0


class Checks:
    def __init__(self, work, binary):
        self.work = work
        self.bin = binary
        self.n = 0
        self.failed = 0
        self.rows = []

    def path(self, *p):
        return os.path.join(self.work, *p)

    def check(self, ok, desc, *details):
        self.n += 1
        if ok:
            print("ok %d - %s" % (self.n, desc))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, desc))
        for d in details:
            if d:
                print("#   " + str(d)[:600])
        return ok

    def run(self):
        m = self.meta = json.load(open(self.path("meta.json")))
        procs = {p["name"]: p for p in m["procs"]}
        self.procs = procs
        fs = json.load(open(self.path("feed.json")))
        self.feed = fs

        # -------------------------------------------------- the run itself
        kinds = collections.Counter(f["type"] for f in m["faults"])
        self.check(all(kinds[k] >= 1 for k in FAULTS),
                   "every fault type at least once: %s" % ", ".join(
                       "%s x%d" % (k, kinds[k]) for k in FAULTS))
        for e in m["failures_early"]:
            self.check(False, "during the run: " + e)
        unexp = [(p["name"], u) for p in m["procs"] for u in p["unexpected"]]
        self.check(not unexp, "no process exited by itself (%d components, %d processes)"
                   % (len(procs), sum(len(p["pids"]) for p in m["procs"])),
                   *["%s pid %s exited %s at %s s: %s" % (n, u["pid"], u["status"], u["t"],
                                                          " | ".join(u["log"][-3:]))
                     for n, u in unexp])

        # ------------------------------------------------------ publishing
        pub = procs["publish"]
        summary = [l for l in tail(self.path("publish.log"), 20) if l.startswith("publish: ")]
        sline = next((l for l in summary if " sent, " in l), "")
        msent = re.search(r"publish: (\d+) lines, (\d+) sent, (\d+) rejected, (\d+) failed", sline)
        self.sent = int(msent.group(2)) if msent else -1
        self.check(pub["exit"] == 0 and msent and int(msent.group(1)) == fs["messages"] ==
                   int(msent.group(2)) and msent.group(3) == "0" and msent.group(4) == "0",
                   "surgewatch publish: exit 0, every line the feed wrote sent (%d messages: "
                   "%d events, %d of them sent twice, %d late)"
                   % (fs["messages"], fs["events"], fs["resent"], fs["late"]),
                   "exit %s; %s" % (pub["exit"], sline))
        ngarb = len(m["garbage"])
        self.check(m["topic_total"] == fs["messages"] + ngarb,
                   "the events topic holds exactly the %d messages + %d garbage payloads"
                   % (fs["messages"], ngarb), "end offsets add up to %d" % m["topic_total"])
        wm = m["worker_metrics"]
        self.check(m["consumed_ok"],
                   "the workers read the %d messages to the end (%d partitions owned, nothing pending)"
                   % (m["topic_total"], m["npart"]),
                   json.dumps({k: {x: v.get("surgewatch_" + x) for x in
                                   ("partitions_owned", "next_offset", "alerts_pending",
                                    "consumer_lag_total")} for k, v in wm.items()}))
        ws = [p for p in m["procs"] if p["kind"] == "worker"]
        self.check(all(p["exit"] == 0 and p["clean_stop"] for p in ws),
                   "workers stop on SIGTERM: exit 0 after checkpointing",
                   *["%s exit %s" % (p["name"], p["exit"]) for p in ws])

        # ------------------------------------------------------- the log
        log = read_log(self.path("log.json"))
        self.log = log
        seqs = [s for s, _ in log]
        self.check(seqs == list(range(1, len(log) + 1)) and len(log) == m["final_seq"],
                   "alert log: seq 1..%d, in order, no gap" % len(log),
                   "" if seqs == list(range(1, len(log) + 1)) else "first gaps: %s" % [
                       (a, b) for a, b in zip(seqs, seqs[1:]) if b != a + 1][:5])
        # ------------------------------------------- the backtest, exactly
        bt = subprocess.run([self.bin, "backtest", "-c", self.path("soak.ini"), "-e",
                             self.path("events.jsonl"), "--reorder", "0s", "--partitions",
                             str(m["npart"]), "-q"], capture_output=True, text=True)
        with open(self.path("backtest.jsonl"), "w") as f:
            f.write(bt.stdout)
        with open(self.path("backtest.err"), "w") as f:
            f.write(bt.stderr)
        ref = [json.loads(l) for l in bt.stdout.splitlines() if l.strip()]
        self.bt_summary = [l for l in bt.stderr.splitlines() if l.startswith("backtest:")]
        # a transition written twice: the log holds it more often than the
        # engine emits it (the engine can emit the same figures twice for one
        # alert: counted below, and the same in the log as in the backtest)
        cnt = collections.Counter(canon(a) for _, a in log)
        refc = collections.Counter(canon(a) for a in ref)
        twice = [k for k, c in cnt.items() if c > max(1, refc[k])]
        self.check(not twice, "alert log: no transition written twice (%d transitions)" % len(log),
                   *["%d times: %s" % (cnt[t], t) for t in twice[:3]])
        last = {}
        self.repeats = []
        for a in ref:
            c = canon(a)
            if last.get(a["alert_id"]) == c:
                self.repeats.append(a)
            last[a["alert_id"]] = c
        if self.repeats:
            print("# FINDING (engine, not the pipeline): the backtest itself emits %d transition(s) "
                  "identical to the previous transition of the same alert (the log holds them "
                  "as the backtest does); README.md, 'Repeated transitions'" % len(self.repeats))
            for a in self.repeats[:3]:
                print("#   backtest seq %s: %s %s %s window %s..%s observed %s score %s"
                      % (a.get("seq"), a["alert_id"], a["state"], a["level"], a["window_start"],
                         a["window_end"], a["observed"], a["score"]))
        # The end of the stream: a worker closes a bucket when its partition's
        # watermark (the newest event time read) passes the bucket's end;
        # backtest also closes, at the end of its input, the bucket of the
        # newest event of all (cmd_backtest.c, run_input). Transitions of
        # buckets the workers cannot have closed yet are left out of both
        # sides (the log may hold none), and counted.
        wm, wm_bad = self.watermarks(m["npart"])
        closed = lambda a: ms_of(a["window_end"]) <= wm.get(self.part_of(a["section"], m["npart"]), 0)
        tail_bt = [a for a in ref if not closed(a)]
        tail_log = [a for _, a in log if not closed(a)]
        mine = collections.Counter(canon(a) for _, a in log if a["section"] != CTL_SECTION and closed(a))
        theirs = collections.Counter(canon(a) for a in ref if a["section"] != CTL_SECTION and closed(a))
        missing = list((theirs - mine).elements())
        extra = list((mine - theirs).elements())
        self.cmp = (sum(mine.values()), sum(theirs.values()), len(missing), len(extra), len(tail_bt))
        ctl_n = sum(1 for _, a in log if a["section"] == CTL_SECTION)
        self.check(not wm_bad and not tail_log,
                   "the end of the stream: each worker's watermark is its partition's newest event "
                   "time; %d backtest transitions of buckets still open in the workers (backtest "
                   "closes them at the end of its input) are left out, and the log holds none"
                   % len(tail_bt), *wm_bad,
                   *["in the log beyond its partition's watermark: %s %s window_end %s"
                     % (a["alert_id"], a["state"], a["window_end"]) for a in tail_log[:3]])
        self.check(bt.returncode == 0 and not missing and not extra and theirs,
                   "alert log = backtest over the same %d events (--reorder 0s --partitions %d), "
                   "%s left out: %d transitions each, none missing, none extra"
                   % (fs["messages"], m["npart"], CTL_SECTION, sum(theirs.values())),
                   "backtest exit %d; log %d transitions (+%d of %s), backtest %d; missing %d, extra %d"
                   % (bt.returncode, sum(mine.values()), ctl_n, CTL_SECTION, sum(theirs.values()),
                      len(missing), len(extra)),
                   *["missing: " + x for x in missing[:4]], *["extra: " + x for x in extra[:4]])
        if missing or extra:
            with open(self.path("diff.txt"), "w") as f:
                for x in missing:
                    f.write("missing " + x + "\n")
                for x in extra:
                    f.write("extra " + x + "\n")
        self.check_threshold(log)

        # ---------------------------------------------------- subscribers
        byseq = {s: a for s, a in log}
        self.subrows = []
        for p in m["procs"]:
            if p["kind"] != "subscriber":
                continue
            self.check_sub(p, byseq)

        # ------------------------------------------------ dead letters
        self.check_dlq(m)

        # -------------------------------------------------------- memory
        self.check_rss(m)
        try:
            self.latency = self.publish_latency()
        except Exception as e:
            self.latency = "not measured (%s)" % e
        hubs = [p for p in m["procs"] if p["kind"] == "hub"]
        self.check(all(p["exit"] == 0 for p in hubs) and m["hubs_ok"],
                   "hubs published up to seq %d and stop on SIGTERM with exit 0" % m["final_seq"],
                   *["%s exit %s" % (p["name"], p["exit"]) for p in hubs])
        return self.failed == 0

    @staticmethod
    def part_of(section, n):
        """librdkafka's default partitioner for a keyed message
        (consistent_random: CRC-32 of the key), as publish and backtest use."""
        return zlib.crc32(section.encode()) % n

    def watermarks(self, n):
        """{partition: end of its newest closed bucket, ms} from the events,
        checked against the workers' last /metrics."""
        newest = {}
        with open(self.path("events.jsonl"), "rb") as f:
            for l in f:
                e = json.loads(l)
                p = self.part_of(e["section"], n)
                newest[p] = max(newest.get(p, 0), e["ts"])
        reported = {}
        for name in ("w1", "w2"):
            try:
                for line in open(self.path("metrics-%s.txt" % name)):
                    mm = re.match(r'surgewatch_watermark_seconds\{.*partition="(\d+)"\} (\S+)', line)
                    if mm:
                        reported[int(mm.group(1))] = round(float(mm.group(2)) * 1000)
            except OSError:
                pass
        if not reported:
            return {p: t // 60000 * 60000 for p, t in newest.items()}, [
                "the workers' last /metrics were not saved (metrics-w1.txt, metrics-w2.txt)"]
        bad = ["partition %d: the workers report a watermark of %s, its newest event is %d"
               % (p, reported.get(p), t) for p, t in sorted(newest.items()) if reported.get(p) != t]
        return {p: t // 60000 * 60000 for p, t in newest.items()}, bad

    def check_threshold(self, log):
        """SK-UA: every threshold transition whose window ends after a
        change was applied carries that change's limit or a later one."""
        m = self.meta
        ch = [c for c in m["changes"] if c["ok"]]
        limits = [CTL_LIMITS[0]] + [c["new"] for c in m["changes"]]
        tr = [a for _, a in log if a["section"] == CTL_SECTION and a["detector"] == "threshold"]
        bad = []
        per = []
        for i, c in enumerate(ch):
            allowed = set(limits[i + 1:])
            after = [a for a in tr if ms_of(a["window_end"]) > c["e_applied"]]
            nxt = ch[i + 1]["e_applied"] if i + 1 < len(ch) else None
            mine = [a for a in after if nxt is None or ms_of(a["window_end"]) <= nxt]
            with_new = sum(1 for a in mine if a["threshold"] == c["new"])
            per.append("%s -> %s: %d transitions after it, %d with threshold %s"
                       % (c["old"], c["new"], len(mine), with_new, c["new"]))
            for a in after:
                if a["threshold"] not in allowed:
                    bad.append("%s %s window_end %s threshold %s (after the change to %s)"
                               % (a["alert_id"], a["state"], a["window_end"], a["threshold"], c["new"]))
            # SK-UA surges every 150 buckets for 25 (feed.py): a period of
            # 180 buckets or more holds one, whose alert must have the limit
            span = ((nxt if nxt is not None else self.feed["max_ts"]) - c["e_applied"]) // 60000
            if with_new == 0 and span >= 180:
                bad.append("no transition with the new limit %s in the %d buckets after the change"
                           % (c["new"], span))
            if with_new == 0 and span < 180:
                per[-1] += " (%d buckets: too few to require one)" % span
        before = [a for a in tr if not ch or ms_of(a["window_end"]) <= ch[0]["e_applied"]]
        old0 = sum(1 for a in before if a["threshold"] == CTL_LIMITS[0])
        # its first surge ends at bucket 125
        need_old = not ch or ch[0]["e_applied"] >= m["sim_t0"] + 130 * 60000
        self.ctl_row = "; ".join(per)
        self.check(ch and not bad and (old0 > 0 or not need_old) and len(ch) == len(m["changes"]),
                   "%s (kept out of the exact comparison): %d threshold transitions; %d before the "
                   "first change with limit %s; after each change only its limit or a later one: %s"
                   % (CTL_SECTION, len(tr), old0, CTL_LIMITS[0], "; ".join(per) or "no change made"),
                   *bad[:5])

    def check_sub(self, p, byseq):
        name = p["name"]
        pf = SUB_PREFIXES.get(name)
        want = [s for s, a in sorted(byseq.items())
                if not pf or any(a["section"].startswith(x) for x in pf)]
        lines = open(self.path(name + ".jsonl"), "rb").read().split(b"\n")
        partial = lines[-1] != b""
        got = []
        bad = 0
        for l in lines[:-1]:
            try:
                got.append(json.loads(l))
            except ValueError:
                bad += 1
        seqs = [a.get("seq") for a in got]
        c = collections.Counter(seqs)
        wantset = set(want)
        missing = [s for s in want if s not in c]
        dups = sorted(s for s, k in c.items() if k > 1)
        outside = [s for s in c if s not in wantset]
        if pf:  # in seq order per section
            order = 0
            lastsec = {}
            for a in got:
                if a.get("seq", 0) <= lastsec.get(a.get("section"), 0):
                    order += 1
                lastsec[a.get("section")] = a.get("seq", 0)
        else:
            order = sum(1 for x, y in zip(seqs, seqs[1:]) if isinstance(x, int) and
                        isinstance(y, int) and y <= x)
        differ = 0
        for a in got:
            s = a.get("seq")
            if s in byseq:
                b = dict(a)
                del b["seq"]
                if b != byseq[s]:
                    differ += 1
        st = {}
        for l in tail(self.path(name + ".log"), 50):
            if "subscribe: stopped " in l:
                st = dict(re.findall(r"(\w+)=(\d+)", l.split("stopped ", 1)[1]))
        gaps = 0
        if not pf:
            gaps = sum(1 for x, y in zip(seqs, seqs[1:]) if isinstance(x, int) and
                       isinstance(y, int) and y > x + 1)
        row = {"name": name, "sections": " ".join(pf) if pf else "all", "want": len(want),
               "lines": len(got), "missing": len(missing), "dups": len(dups),
               "outside": len(outside), "order": order, "gaps": gaps, "differ": differ,
               "bad": bad + partial, "exit": p["exit"], "stats": st,
               "restarts": len(p["pids"]) - 1}
        self.subrows.append(row)
        what = ("seqs 1..%d" % len(want)) if not pf else ("the %d alerts of %s" % (len(want), "/".join(pf)))
        self.check(not missing and not dups and not outside and not order and not differ
                   and not bad and not partial and p["exit"] == 0,
                   "subscriber %s%s: exactly %s, each once, in order, each equal to its log entry; exit 0"
                   % (name, " (paused)" if name == PAUSED_SUB else "", what),
                   "lines %d, missing %d %s, duplicated %d %s, not wanted %d %s, out of order %d, "
                   "differing %d, unreadable %d, exit %s"
                   % (len(got), len(missing), missing[:5], len(dups), dups[:5], len(outside),
                      outside[:5], order, differ, bad + partial, p["exit"]))

    def check_dlq(self, m):
        data = open(self.path("dlq.bin"), "rb").read()
        recs = []
        pos = 0
        marker = b"\nSOAKREC "
        while True:
            i = data.find(marker, pos)
            if i < 0:
                break
            j = data.index(b"\n", i + len(marker))
            part, off, size = data[i + len(marker):j].split()
            size = int(size)
            payload = data[j + 1:j + 1 + max(size, 0)]
            k = j + 1 + max(size, 0)
            assert data[k:k + 9] == b"\nSOAKHDR ", "dlq.bin: bad record at %d" % i
            nxt = data.find(marker, k + 9)
            hdr = data[k + 9:nxt if nxt >= 0 else len(data)].rstrip(b"\n").decode("utf-8", "replace")
            mr = re.match(r"reason=([a-z_]+)", hdr)
            sp = re.findall(r"source\.partition=(-?\d+)", hdr)
            so = re.findall(r"source\.offset=(-?\d+)", hdr)
            recs.append({"sha": hashlib.sha256(payload).hexdigest(), "reason": mr.group(1) if mr else None,
                         "src": (int(sp[-1]), int(so[-1])) if sp and so else None,
                         "payload": payload})
            pos = k
        # a dead letter is identified by its source position (partition,
        # offset): a second copy from the same position is a re-send after a
        # worker restart; every garbage payload (found by its bytes; the
        # feed makes them all different) must come from exactly one position
        want = collections.defaultdict(list)
        for g in m["garbage"]:
            want[g["sha"]].append(g)
        srcs = collections.defaultdict(set)
        for r in recs:
            srcs[r["sha"]].add(r["src"])
        other = [r for r in recs if r["sha"] not in want]
        missing, moved = [], []
        for sha, gs in want.items():
            if len(srcs[sha]) < len(gs):
                missing += gs[len(srcs[sha]):]
            elif len(srcs[sha]) > len(gs):
                moved += gs
        wrong = []
        for r in recs:
            g = want.get(r["sha"], [None])[0]
            if g and g["reason"] and r["reason"] != g["reason"]:
                wrong.append("%s g-%d: reason %s, expected %s" % (g["kind"], g["n"], r["reason"], g["reason"]))
        distinct = sum(len(srcs[sha]) for sha in want)
        resent = sum(1 for r in recs if r["sha"] in want) - distinct
        self.dlq_row = {"messages": len(recs), "garbage": len(m["garbage"]),
                        "distinct": distinct, "resent": resent, "other": len(other)}
        reasons = collections.Counter(r["reason"] for r in recs if r["sha"] in want)
        self.check(not missing and not other and not wrong and not moved,
                   "dead-letter topic %s: all %d garbage payloads (byte for byte), each with its "
                   "reason, nothing else (no valid event): %d messages, %d of them sent again "
                   "after a worker restart (at-least-once, same source offset)"
                   % (DLQ, len(m["garbage"]), len(recs), resent),
                   "reasons: " + ", ".join("%s %d" % kv for kv in sorted(reasons.items(), key=str)),
                   *["missing: g-%d %s %s" % (g["n"], g["kind"], g["hex"][:60]) for g in missing[:5]],
                   *["not garbage: reason %s source %s payload %r" % (r["reason"], r["src"], r["payload"][:120])
                     for r in other[:5]],
                   *wrong[:5],
                   *["g-%d (%d sent) at %d source positions %s" % (g["n"], len(want[g["sha"]]),
                                                               len(srcs[g["sha"]]), sorted(srcs[g["sha"]]))
                     for g in moved[:3]])

    def publish_latency(self):
        """How long events waited in surgewatch publish: from the feed's
        write into the pipe (progress.tsv) to the message's CreateTime."""
        import msgpack
        prog = []
        for l in open(self.path("progress.tsv")):
            w, i, _ = l.split()
            prog.append((int(i), int(w)))
        pos = collections.defaultdict(list)
        with open(self.path("events.jsonl"), "rb") as f:
            for idx, l in enumerate(f):
                pos[json.loads(l)["id"]].append(idx)
        data = open(self.path("topic.bin"), "rb").read()
        marker = b"\nSOAKREC "
        delays = []
        seen = collections.Counter()
        p = data.find(marker)
        import bisect
        keys = [i for i, _ in prog]
        while p >= 0:
            j = data.index(b"\n", p + len(marker))
            ts, size = map(int, data[p + len(marker):j].split())
            payload = data[j + 1:j + 1 + max(size, 0)]
            p = data.find(marker, j + 1 + max(size, 0))
            try:
                e = msgpack.unpackb(payload)
                ev_id = e["id"] if isinstance(e, dict) else None
            except Exception:
                continue
            if not isinstance(ev_id, str) or ev_id not in pos:
                continue
            k = seen[ev_id]
            seen[ev_id] += 1
            if k >= len(pos[ev_id]):
                continue
            idx = pos[ev_id][k]
            r = bisect.bisect_left(keys, idx + 1)  # the record written after it
            if r < len(prog):
                delays.append((ts - prog[r][1]) / 1000.0)
        if not delays:
            return "not measured"
        delays.sort()
        q = lambda x: delays[min(len(delays) - 1, int(x * len(delays)))]
        return ("pipe -> Kafka CreateTime over %d events: median %.1f s, p99 %.1f s, max %.1f s "
                "(README.md, 'Publish latency')" % (len(delays), q(0.5), q(0.99), delays[-1]))

    def check_rss(self, m):
        t_end = m["t_pub_end"]
        samples = collections.defaultdict(list)
        for line in open(self.path("rss.csv")):
            if line.startswith("t,"):
                continue
            t, name, pid, kb = line.strip().split(",")
            samples[(name, int(pid))].append((float(t), int(kb)))
        used = collections.defaultdict(list)
        try:
            for line in open(self.path("redis_mem.csv")):
                if line.startswith("t,"):
                    continue
                t, pid, kb = line.strip().split(",")
                used[int(pid)].append((float(t), int(kb)))
        except OSError:
            pass
        kinds = {p["name"]: p["kind"] for p in m["procs"]}
        self.rssrows = []
        bad = []
        judged = 0
        for (name, pid), ss in samples.items():
            kind = kinds.get(name, "?")
            run = [(t, kb) for t, kb in ss if t <= t_end]
            row = {"name": name, "pid": pid, "n": len(ss), "start": ss[0][1], "end": ss[-1][1],
                   "max": max(kb for _, kb in ss), "verdict": ""}
            if kind == "broker":
                row["verdict"] = "reported only (JVM heap, -Xmx1g)"
            elif len(run) < RSS_MIN_SAMPLES:
                row["verdict"] = "too short to judge (%d samples while publishing)" % len(run)
            else:
                k = len(run) // 5
                w2 = [kb for _, kb in run[k:2 * k]]
                w5 = [kb for _, kb in run[-k:]]
                a, b = median(w2), median(w5)
                growth = b - a
                bound = RSS_GROWTH_FRAC * a + RSS_GROWTH_KB
                extra = ""
                if kind == "redis":
                    # the alert log is never trimmed: Redis grows by the data it
                    # holds; what is judged is RSS beyond used_memory's growth
                    u = used.get(pid, [])
                    t2 = (run[k][0], run[2 * k - 1][0])
                    t5 = (run[-k][0], run[-1][0])
                    u2 = median([kb for t, kb in u if t2[0] <= t <= t2[1]])
                    u5 = median([kb for t, kb in u if t5[0] <= t <= t5[1]])
                    growth -= max(0, u5 - u2)
                    extra = ", used_memory +%.1f MiB" % ((u5 - u2) / 1024)
                row.update({"w2": a, "w5": b, "growth": growth, "bound": bound})
                judged += 1
                if growth > bound:
                    row["verdict"] = "GREW"
                    bad.append("%s pid %d: %.1f -> %.1f MiB (+%.1f MiB%s; bound %.1f MiB)"
                               % (name, pid, a / 1024, b / 1024, (b - a) / 1024, extra, bound / 1024))
                else:
                    row["verdict"] = "steady" + extra
            self.rssrows.append(row)
        self.check(judged > 0 and not bad,
                   "memory: no growth once warm for the %d processes judged (median VmRSS of the "
                   "last fifth of the publishing vs the second fifth: at most +%d %% + %d MiB; "
                   "Redis: beyond the growth of its data)"
                   % (judged, RSS_GROWTH_FRAC * 100, RSS_GROWTH_KB // 1024), *bad)

    # ---------------------------------------------------------- the table
    def table(self, ok):
        m = self.meta
        P = print
        mib = lambda kb: "%.1f" % (kb / 1024.0)
        P("")
        P("== surgewatch soak: %d s publishing (%.0f s planned), seed %s, %d events/s, simulated time x%d"
          % (m["t_pub_end"] - m["t_pub"], m["seconds"], m["seed"], m["rate"], m["speed"]))
        P("")
        P("components                      pids (one per start)                  exit")
        for p in m["procs"]:
            if p["kind"] == "feed":
                continue
            P("  %-10s %-18s %-38s %s%s" % (p["name"], p["kind"], " ".join(map(str, p["pids"]))[:38],
                                           p["exit"], "  UNEXPECTED EXITS %d" % len(p["unexpected"])
                                           if p["unexpected"] else ""))
        P("")
        P("faults (%d; seconds from the start of publishing)" % len(m["faults"]))
        for f in m["faults"]:
            P("  %6.1f  %6.1f s  %-30s %s" % (f["t"] - m["t_pub"], f["end"] - f["t"],
                                              FAULT_NAMES[f["type"]], f["detail"]))
        P("")
        fs = self.feed
        P("counts")
        rows = [
            ("events published", "%d messages: %d events + %d sent twice; %d late (up to 30 min); "
             "%d sent by surgewatch publish" % (fs["messages"], fs["events"], fs["resent"], fs["late"], self.sent)),
            ("simulated time", "%s .. %s" % (
                datetime.datetime.fromtimestamp(fs["t0"] / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                datetime.datetime.fromtimestamp(fs["max_ts"] / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"))),
            ("garbage sent", "%d payloads in %d bursts" % (len(m["garbage"]),
                                                           sum(1 for f in m["faults"] if f["type"] == "garbage"))),
            ("events topic", "%d messages in %d partitions" % (m["topic_total"], m["npart"])),
            ("dead-letter topic", "%(messages)d messages: the %(distinct)d source positions of the "
             "%(garbage)d garbage payloads, %(resent)d sent again, %(other)d others" % self.dlq_row),
            ("alert log", "%d transitions (seq 1..%d)" % (len(self.log), m["final_seq"])),
            ("backtest", "%d transitions without %s; log %d without it; missing %d, extra %d; "
             "%d more of buckets still open in the workers at the end (left out)"
             % (self.cmp[1], CTL_SECTION, self.cmp[0], self.cmp[2], self.cmp[3], self.cmp[4])),
            (CTL_SECTION, self.ctl_row or "no threshold change"),
            ("engine repeats", "%d transition(s) identical to the previous one of the same alert, "
             "in the backtest as in the log%s" % (len(self.repeats), (": " + ", ".join(
                 "%s %s" % (a["alert_id"], a["state"]) for a in self.repeats[:3])) if self.repeats else "")),
            ("publish latency", self.latency),
            ("feed", "largest lag behind its schedule %.2f s; load average %s at the start, %s at the end"
             % (fs["max_lag_s"], m.get("load_start", "?"), m.get("load_end", "?"))),
        ]
        for k, v in rows:
            P("  %-18s %s" % (k, v))
        P("")
        P("subscribers  sections   delivered  expected  missing  dups  order  differ  exit  "
          "(subscribe's own count: printed live replayed duplicates gaps)")
        for r in self.subrows:
            st = r["stats"]
            P("  %-9s  %-9s  %9d  %8d  %7d  %4d  %5d  %6d  %4s  (%s %s %s %s %s)"
              % (r["name"], r["sections"], r["lines"], r["want"], r["missing"], r["dups"],
                 r["order"], r["differ"], r["exit"], st.get("printed", "?"), st.get("live", "?"),
                 st.get("replayed", "?"), st.get("duplicates", "?"), st.get("gaps", "?")))
        P("")
        P("memory (VmRSS MiB)  pid      samples  start  2nd fifth  last fifth    end    max  verdict")
        for r in sorted(self.rssrows, key=lambda r: (r["name"], r["pid"])):
            P("  %-17s %-8d %7d %6s %10s %11s %6s %6s  %s"
              % (r["name"], r["pid"], r["n"], mib(r["start"]),
                 mib(r["w2"]) if "w2" in r else "-", mib(r["w5"]) if "w5" in r else "-",
                 mib(r["end"]), mib(r["max"]), r["verdict"]))
        P("")
        P("verdict: %s (%d checks, %d failed)" % ("PASS" if ok else "FAIL", self.n, self.failed))


def on_term(sig, frame):
    raise KeyboardInterrupt()


def main():
    ap = argparse.ArgumentParser(description="surgewatch soak test (tests/soak/README.md)")
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS", 600)))
    ap.add_argument("--seed", default=os.environ.get("SOAK_SEED") or str(int(time.time()) % 1000000))
    ap.add_argument("--rate", type=int, default=int(os.environ.get("SOAK_RATE", 500)))
    ap.add_argument("--speed", type=int, default=int(os.environ.get("SOAK_SPEED", 600)))
    ap.add_argument("--bin", default=os.environ.get("SOAK_BIN") or os.path.join(ROOT, "build/surgewatch"))
    ap.add_argument("--work")
    ap.add_argument("--keep", action="store_true", default=os.environ.get("SOAK_KEEP") == "1")
    ap.add_argument("--check-only", metavar="DIR")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    if a.check_only:
        c = Checks(a.check_only, os.path.join(a.check_only, "bin", "surgewatch"))
        ok = c.run()
        c.table(ok)
        return 0 if ok else 1
    if a.seconds < 60:
        ap.error("--seconds: at least 60")
    if not os.access(a.bin, os.X_OK):
        print("not ok 1 - %s is not built (make -j2)" % a.bin)
        return 1
    a.work = a.work or tempfile.mkdtemp(prefix="surgewatch-soak.", dir=os.environ.get("TMPDIR", "/tmp"))
    os.makedirs(a.work, exist_ok=True)
    s = Soak(a)
    ok = False
    try:
        s.run()
    except KeyboardInterrupt:
        s.say("interrupted: stopping everything")
        s.kill_all()
        print("not ok 1 - soak interrupted; work directory kept: %s" % a.work)
        return 130
    except Exception as e:
        import traceback
        traceback.print_exc(file=sys.stdout)
        s.kill_all()
        print("not ok 1 - soak could not run to the end: %s" % e)
        print("# work directory kept: %s" % a.work)
        return 1
    c = Checks(a.work, s.bin)
    try:
        ok = c.run()
        c.table(ok)
    except Exception:
        import traceback
        traceback.print_exc(file=sys.stdout)
        print("not ok %d - the checks ran to the end" % (c.n + 1))
        ok = False
    if ok and not a.keep:
        shutil.rmtree(a.work, ignore_errors=True)
    else:
        print("work directory %s: %s" % ("kept" if not ok else "kept (--keep)", a.work))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
