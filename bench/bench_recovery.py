#!/usr/bin/env python3
"""Recovery after a worker is killed: bench/bench_recovery.sh runs this
against the broker and redis-server it started (its header says what is
measured); this program feeds the topic, runs the workers, kills them and
takes the times.

Every run has its own topic (4 partitions, auto-created by the feed),
consumer group and Redis prefix. The feed: `surgewatch publish` reading
JSON lines from a pipe, into which a thread of this program writes the
events file's lines at RATE lines/s (every 5 ms, the lines due by then).
"Sent" is the number of lines written into the pipe so far.

A worker's /metrics is read every 50 ms (a kept-alive connection; the
worker refreshes it every 250 ms, so every time below is known to about
0.3 s). Its position is the sum over the 4 partitions of
surgewatch_next_offset (the owner's; a partition nobody owns counts 0), and
"behind" = sent - position, in events or in seconds of feed (/ RATE).

Run:
  1. start the feed; wait until the topic has its 4 partitions; start the
     worker(s); wait until the partitions are all owned (both workers own
     some, in the pair mode) and the workers are less than THETA s of feed
     behind, without a break, for WARM s (so that checkpoints, every 5 s,
     have been written), then for a further 0 to 5 s drawn at random (a
     generator seeded with the run's name, so the same in every session):
     the kill falls anywhere between two checkpoints;
  2. kill -9 one worker (pair: the second; restart modes: the only one),
     having kept its last /metrics (next and checkpoint offsets);
  3. restart modes only: start a new worker with the same group and prefix
     at once ("restart"), or once the killed one's session has expired
     ("restart-late": session.timeout.ms + 1 s after the kill);
  4. poll the survivor (pair) or the new worker: "assigned" is the first
     snapshot in which it owns the 4 partitions (the worker loads a
     partition's checkpoint in its assignment callback, so the
     checkpoint is loaded by then); "caught up" the first snapshot after
     that in which it is THETA s of feed behind or less;
  5. events re-read: for each partition that moved, the offset the killed
     worker had reached by its last snapshot (its /metrics, at most ~0.3 s
     before the kill) minus the checkpoint offset the new owner loaded
     (its log line `partition loaded ... offset=N`): a lower bound; the
     killed worker may have read up to 0.3 s of its share of the feed
     more. "To read at the assignment": what had been sent by the
     assigned snapshot minus the loaded checkpoint offsets (moved
     partitions) and the survivor's own next offsets then (the replay and
     the backlog together). The new owner's surgewatch_alerts_repeated_total counts the
     alert transitions it wrote again (the log held them already).
  6. stop the feed (publish must exit 0: every line delivered) and the
     remaining worker with SIGTERM (must exit 0).

usage: bench_recovery.py --bin B --bootstrap HOST:PORT --redis URL
       --events FILE --rate N --runs N --modes pair,restart,restart-late
       --configs NAME:PROPS;NAME:PROPS --work DIR [--warm S] [--theta S]
  PROPS: comma-separated librdkafka key=value given to the workers as -X
"""
import argparse
import http.client
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

NPARTS = 4
POLL = 0.05


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Feeder:
    """Writes the events file's lines into `surgewatch publish` at RATE/s."""

    def __init__(self, a, topic, data, offs, errpath):
        self.data, self.offs, self.rate = data, offs, a.rate
        self.errf = open(errpath, "w")
        self.p = subprocess.Popen(
            [a.bin, "publish", "-q", "-b", a.bootstrap, "-t", topic, "-"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=self.errf, bufsize=0)
        self.sent = 0
        self.exhausted = False
        self.stopping = False
        self.t0 = time.time()
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        fd = self.p.stdin.fileno()
        n = len(self.offs) - 1
        while not self.stopping:
            target = min(n, int(self.rate * (time.time() - self.t0)))
            if target > self.sent:
                buf = memoryview(self.data)[self.offs[self.sent]:self.offs[target]]
                while len(buf):
                    k = os.write(fd, buf)
                    buf = buf[k:]
                self.sent = target
            if target >= n:
                self.exhausted = True
                return
            time.sleep(0.005)

    def close(self):
        self.stopping = True
        self.th.join()
        self.p.stdin.close()
        try:
            rc = self.p.wait(120)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "timeout"
        self.errf.close()
        return rc


LABELLED = re.compile(r'^(surgewatch_[a-z_]+)\{[^}]*partition="(\d+)"\}\s+(\S+)$')


class Worker:
    def __init__(self, a, name, topic, group, prefix, props, logpath):
        self.name, self.port, self.logpath = name, free_port(), logpath
        cmd = [a.bin, "run", "-b", a.bootstrap, "-t", topic, "-g", group,
               "-r", a.redis, "--redis-prefix", prefix,
               "-m", "127.0.0.1:%d" % self.port, "--log-level", "info"]
        for kv in props:
            cmd += ["-X", kv]
        self.log = open(logpath, "w")
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                  stderr=self.log)
        self.conn = None
        self.last = None  # the last snapshot read, with its time

    def scrape(self):
        body = None
        for _ in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=1)
            try:
                self.conn.request("GET", "/metrics")
                body = self.conn.getresponse().read().decode()
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
        if body is None:
            return None
        m = {"next": {}, "ckpt": {}, "age": {}, "t": time.time()}
        for line in body.splitlines():
            if not line or line[0] == "#":
                continue
            g = LABELLED.match(line)
            if g:
                key = {"surgewatch_next_offset": "next",
                       "surgewatch_checkpoint_offset": "ckpt",
                       "surgewatch_checkpoint_age_seconds": "age"}.get(g.group(1))
                if key:
                    m[key][int(g.group(2))] = float(g.group(3))
                continue
            k, _, v = line.partition(" ")
            if "{" not in k:
                try:
                    m[k] = float(v)
                except ValueError:
                    pass
        self.last = m
        return m

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()
        self.log.close()

    def stop(self):
        """SIGTERM; the exit status (or 'timeout')."""
        if self.p.poll() is not None:
            return self.p.returncode
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = "timeout"
        self.log.close()
        return rc

    def loaded(self):
        """{partition: (offset, checkpoint_age_s)} from `partition loaded`."""
        out = {}
        with open(self.logpath) as f:
            for line in f:
                g = re.search(r"partition loaded .*partition=(\d+) offset=(\d+) "
                              r"checkpoint_age_s=(\d+)", line)
                if g:
                    out[int(g.group(1))] = (int(g.group(2)), int(g.group(3)))
        return out


def position(snaps):
    """Sum over the partitions of the owners' next offsets."""
    pos = {}
    for m in snaps:
        if m is None:
            continue
        for p, v in m["next"].items():
            pos[p] = max(pos.get(p, 0), max(v, 0))
    return sum(pos.values()), len(pos)


def topic_ready(a, topic):
    out = subprocess.run(["kcat", "-b", a.bootstrap, "-L", "-t", topic],
                         capture_output=True, text=True).stdout
    return ("with %d partitions" % NPARTS) in out


class RunFailed(Exception):
    pass


def one_run(a, data, offs, mode, cname, props, session_ms, r):
    tag = "%s-%s-%d" % (mode, cname, r)
    topic = "rec-%d-%s" % (os.getpid(), tag)
    group, prefix = "g-" + topic, "p%d%s" % (os.getpid(), tag.replace("-", ""))
    logs = os.path.join(a.work, tag)
    os.makedirs(logs, exist_ok=True)
    feed = Feeder(a, topic, data, offs, os.path.join(logs, "publish.err"))
    workers = []
    res = {"mode": mode, "config": cname, "run": r}
    try:
        t = time.time()
        while not topic_ready(a, topic):
            if time.time() - t > 30:
                raise RunFailed("the topic did not appear within 30 s")
            time.sleep(0.2)
        n = 2 if mode == "pair" else 1
        for i in range(n):
            workers.append(Worker(a, "w%d" % (i + 1), topic, group, prefix,
                                  props, os.path.join(logs, "w%d.log" % (i + 1))))
        # 1. steady state
        steady_since, behind_hist = None, []
        hold = a.warm + random.Random(tag).uniform(0, 5.0)
        t_start = time.time()
        while True:
            if time.time() - t_start > 180:
                raise RunFailed("no steady state within 180 s")
            for w in workers:
                if not w.alive():
                    raise RunFailed("%s exited during the warm-up" % w.name)
            sent = feed.sent
            snaps = [w.scrape() for w in workers]
            now = time.time()
            pos, nown = position(snaps)
            owned = [int(m.get("surgewatch_partitions_owned", 0)) if m else 0
                     for m in snaps]
            behind = (sent - pos) / a.rate
            ok = (sum(owned) == NPARTS and nown == NPARTS and min(owned) >= 1
                  and behind <= a.theta)
            if ok:
                if steady_since is None:
                    steady_since, behind_hist = now, []
                behind_hist.append(behind)
                if now - steady_since >= hold:
                    break
            else:
                steady_since = None
            time.sleep(POLL)
        res["steady_behind"] = statistics.median(behind_hist)
        res["warmup"] = time.time() - t_start
        # 2. the kill
        victim = workers[-1]
        vlast = victim.last
        res["victim_parts"] = sorted(vlast["next"])
        res["victim_ckpt_age"] = max(0.0, max(vlast["age"].values())) if vlast["age"] else -1
        t_kill = time.time()
        victim.kill()
        res["sent_at_kill"] = feed.sent
        # 3. the restart
        if mode == "pair":
            watch = workers[0]
            t_ref = t_kill
        else:
            if mode == "restart-late":
                while time.time() - t_kill < session_ms / 1000 + 1:
                    time.sleep(POLL)
            t_ref = time.time()
            watch = Worker(a, "w1b", topic, group, prefix, props,
                           os.path.join(logs, "w1b.log"))
            workers.append(watch)
        reb0 = watch.last.get("surgewatch_rebalances_total", 0) if watch.last else 0
        # 4. assigned, caught up
        t_assigned = t_caught = None
        while True:
            now = time.time()
            if now - t_kill > 180:
                raise RunFailed("not caught up within 180 s of the kill")
            if not watch.alive():
                raise RunFailed("%s exited after the kill" % watch.name)
            sent = feed.sent
            m = watch.scrape()
            if m is None:
                time.sleep(POLL)
                continue
            pos, nown = position([m])
            behind = (sent - pos) / a.rate
            if t_assigned is None and m.get("surgewatch_partitions_owned") == NPARTS:
                t_assigned = m["t"]
                sent_a, next_a = sent, dict(m["next"])
            if t_assigned is not None and nown == NPARTS and behind <= a.theta:
                t_caught = m["t"]
                break
            time.sleep(POLL)
        time.sleep(1.0)
        last = watch.scrape() or watch.last
        loaded = watch.loaded()
        reread, ages = 0, []
        to_read = sent_a - sum(max(v, 0) for p, v in next_a.items()
                               if p not in res["victim_parts"])
        for p in res["victim_parts"]:
            if p not in loaded:
                raise RunFailed("%s did not log `partition loaded` for "
                                "partition %d" % (watch.name, p))
            reread += max(vlast["next"][p], 0) - loaded[p][0]
            to_read -= loaded[p][0]
            ages.append(loaded[p][1])
        res.update({
            "assigned": t_assigned - t_ref,
            "caught": t_caught - t_ref,
            "assigned_to_caught": t_caught - t_assigned,
            "since_kill": t_caught - t_kill,
            "reread": int(reread),
            "loaded_age": max(ages),
            "to_read": to_read,
            "repeated": int(last.get("surgewatch_alerts_repeated_total", 0)),
            "rebalances": int(last.get("surgewatch_rebalances_total", 0) - reb0),
            "load_errors": int(last.get("surgewatch_checkpoint_load_errors_total", 0)),
        })
    finally:
        rcs = [w.stop() for w in workers if w.alive()]
        frc = feed.close()
    res["exhausted"] = feed.exhausted
    if frc != 0:
        raise RunFailed("publish exited %s (%s)" % (frc, open(os.path.join(
            logs, "publish.err")).read().strip()[-300:]))
    if any(rc != 0 for rc in rcs):
        raise RunFailed("a worker exited %s after SIGTERM" % rcs)
    return res


def fmt_runs(v, f="%.2f"):
    return " ".join(f % x for x in v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--redis", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--rate", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modes", default="pair,restart,restart-late")
    ap.add_argument("--configs", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--warm", type=float, default=6.0)
    ap.add_argument("--theta", type=float, default=0.5)
    a = ap.parse_args()
    data = open(a.events, "rb").read()
    offs = [0]
    i = data.find(b"\n")
    while i >= 0:
        offs.append(i + 1)
        i = data.find(b"\n", i + 1)
    configs = []
    for c in a.configs.split(";"):
        name, _, props = c.partition(":")
        props = [p for p in props.split(",") if p]
        session = 10000  # the worker's default
        for p in props:
            if p.startswith("session.timeout.ms="):
                session = int(p.split("=", 1)[1])
        configs.append((name, props, session))
    failed = []
    results = {}
    for mode in a.modes.split(","):
        for cname, props, session in configs:
            for r in range(1, a.runs + 1):
                try:
                    res = one_run(a, data, offs, mode, cname, props, session, r)
                except RunFailed as e:
                    failed.append("%s, %s, run %d: %s" % (mode, cname, r, e))
                    print("FAILED " + failed[-1], file=sys.stderr, flush=True)
                    continue
                results.setdefault((mode, cname), []).append(res)
                print("%s %s run %d: %s" % (mode, cname, r, res),
                      file=sys.stderr, flush=True)
    med = statistics.median
    print("bench_recovery: feed %d events/s (surgewatch publish from a pipe), "
          "topics of 4 partitions, 1 000 sections, default worker settings "
          "(checkpoint_interval 5s); kill -9; %d runs each, medians; times "
          "from /metrics read every 50 ms (refreshed every 250 ms: about "
          "0.3 s); caught up = at most %.1f s of feed behind" % (
              a.rate, a.runs, a.theta))
    for cname, props, session in configs:
        print("config %s: %s" % (cname, " ".join("-X " + p for p in props) or
                                 "no -X (session.timeout.ms 10000, the worker's "
                                 "default; heartbeat.interval.ms 3000, "
                                 "librdkafka's)"))
    titles = {
        "pair": "2 workers, one killed: the survivor takes its partitions",
        "restart": "1 worker killed and restarted at once",
        "restart-late": "1 worker killed, restarted once its session has expired",
    }
    for mode in a.modes.split(","):
        for cname, props, session in configs:
            rs = results.get((mode, cname), [])
            if not rs:
                continue
            v = lambda k: [x[k] for x in rs]
            ref = "kill" if mode == "pair" else "restart"
            print("%s, %s (session.timeout.ms %d):" % (titles[mode], cname, session))
            print("  %s -> partitions assigned (checkpoints loaded): median %.2f s "
                  "(runs: %s)" % (ref, med(v("assigned")), fmt_runs(v("assigned"))))
            print("  %s -> caught up with the feed: median %.2f s (runs: %s)%s" % (
                ref, med(v("caught")), fmt_runs(v("caught")),
                "" if mode == "pair" else "; from the kill: median %.2f s" %
                med(v("since_kill"))))
            print("  assigned -> caught up (replay from the checkpoints + the "
                  "backlog): median %.2f s (runs: %s); to read at the "
                  "assignment: median %d events (runs: %s)" % (
                      med(v("assigned_to_caught")),
                      fmt_runs(v("assigned_to_caught")), med(v("to_read")),
                      fmt_runs(v("to_read"), "%d")))
            print("  events re-read (at-least-once; the killed worker's last "
                  "offsets - the checkpoints loaded, partitions %s): median %d "
                  "(runs: %s; checkpoint age at the kill up to %s s); alert "
                  "transitions written again: %s" % (
                      ",".join(str(p) for p in rs[0]["victim_parts"]) if mode == "pair"
                      else "all 4", med(v("reread")), fmt_runs(v("reread"), "%d"),
                      fmt_runs(v("victim_ckpt_age"), "%.1f"),
                      fmt_runs(v("repeated"), "%d")))
            print("  steady state before the kill: median %.2f s of feed behind "
                  "(runs: %s); rebalances seen by the %s: %s; checkpoint load "
                  "errors: %s%s" % (
                      med(v("steady_behind")), fmt_runs(v("steady_behind")),
                      "survivor" if mode == "pair" else "new worker",
                      fmt_runs(v("rebalances"), "%d"),
                      fmt_runs(v("load_errors"), "%d"),
                      "; THE FEED RAN OUT in some run" if any(v("exhausted")) else ""))
    if failed:
        print("FAILED runs:")
        for f in failed:
            print("  " + f)
        sys.exit(1)


if __name__ == "__main__":
    main()
