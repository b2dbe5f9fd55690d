#!/usr/bin/env python3
"""One run of bench/bench_hub.sh against a hub that is already running.

  latency BIN WRITER REDIS_URL PREFIX PUB REPLAY N RATE SECTIONS WORKDIR [HUB_PID REDIS_PID]
      One `surgewatch subscribe --from-seq 1` whose standard output comes
      here through a pipe; once it is connected, sw_alert_writer writes N
      alerts at RATE/s and records "seq write_ns" per alert (CLOCK_REALTIME
      just before the Redis write of its batch). Each chunk read from the
      pipe is stamped with time.time_ns() when read (the same clock); every
      line completed by that chunk arrived then. latency = arrival - write.
      The subscriber prints each seq once, in order: the run ends when N
      lines have arrived (or nothing new came for 15 s after the writer
      finished); the subscriber is then stopped by SIGTERM and its closing
      log line ("stopped printed=.. live=.. replayed=..") is read. CPU
      time (cores over the writer's run) of the writer, redis-server, the
      hub, the subscriber and this reader is printed too.

  fanout BIN WRITER REDIS_URL PREFIX PUB REPLAY N SUBS SECTIONS WORKDIR HUB_PID METRICS [TEMPLATE]
      SUBS `surgewatch subscribe --from-seq 1 -n N` (output to /dev/null;
      each exits by itself once it has printed N alerts, i.e. seq 1..N);
      once all are connected the writer writes N alerts as fast as it can
      (RATE 0). The window runs from the first write to the exit of the
      last subscriber. The hub's /metrics (METRICS = HOST:PORT) is polled
      every 50 ms; the hub refreshes it once a second.
      With TEMPLATE (a key prefix holding an alert log of N alerts written
      beforehand), nothing is written: the template's keys are copied to
      staging keys before the subscribers start, then renamed to PREFIX's
      (O(1)) once they are connected, the stream last: the hub, blocked in
      XREAD on the empty log, finds N alerts at once (a burst; the hub's
      own pace). The window starts at that rename.

Prints one line of key=value fields.
"""
import atexit
import http.client
import math
import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time

SEQ = re.compile(rb'^\{"seq":(\d+),', re.M)
STOPPED = re.compile(
    r"stopped printed=(\d+) live=(\d+) replayed=(\d+) duplicates=(\d+) gaps=(\d+)")
TICK = os.sysconf("SC_CLK_TCK")


CHILDREN = []  # killed on the way out, so that a failed run leaves none


@atexit.register
def _kill_children():
    for p in CHILDREN:
        if p.returncode is None and p.poll() is None:
            p.kill()
            p.wait()


def fail(msg):
    print("error=%s" % msg.replace(" ", "_"))
    sys.exit(1)


def cpu_s(pid):
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def start_sub(binp, pub, replay, log, extra, stdout):
    err = open(log, "w")
    p = subprocess.Popen([binp, "subscribe", "-H", pub + "," + replay,
                          "--from-seq", "1"] + extra,
                         stdout=stdout, stderr=err)
    err.close()
    CHILDREN.append(p)
    return p


def wait_connected(procs, logs, timeout=15.0):
    end = time.time() + timeout
    pending = set(range(len(procs)))
    while pending and time.time() < end:
        for i in list(pending):
            if procs[i].poll() is not None:
                fail("subscriber %d exited %d before connecting: %s" % (
                    i, procs[i].returncode, open(logs[i]).read()[-300:]))
            if "connected hubs=" in open(logs[i]).read():
                pending.discard(i)
        time.sleep(0.02)
    if pending:
        fail("subscribers %s not connected within %d s" % (sorted(pending), timeout))
    # the subscription travels to the hub's XPUB on its own connection
    time.sleep(0.5)


def closing(log):
    m = None
    for m in STOPPED.finditer(open(log).read()):
        pass
    if m is None:
        return None
    return dict(zip(("printed", "live", "replayed", "dups", "gaps"),
                    map(int, m.groups())))


def read_times(path):
    w = {}
    with open(path, "rb") as f:
        for line in f:
            s, t = line.split()
            w[int(s)] = int(t)
    return w


def pct(sorted_v, p):
    if not sorted_v:
        return 0
    # nearest rank
    k = max(0, min(len(sorted_v) - 1, math.ceil(p * len(sorted_v) - 1e-9) - 1))
    return sorted_v[k]


def latency(a):
    binp, writer, url, prefix, pub, replay = a[:6]
    n, rate = int(a[6]), a[7]
    sections, work = a[8], a[9]
    others = [int(x) for x in a[10:12]]  # hub, redis-server
    log = os.path.join(work, "sub.log")
    times = os.path.join(work, "times")
    sub = start_sub(binp, pub, replay, log, [], subprocess.PIPE)
    wait_connected([sub], [log])
    fd = sub.stdout.fileno()
    c0 = [cpu_s(p) for p in others + [sub.pid]] + [time.process_time()]
    t_c0 = time.time()
    wr = subprocess.Popen([writer, url, prefix, str(n), rate, sections, times],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seqs, arr = [], []
    rest = b""
    lines = 0
    last_progress = time.time()
    writer_done = None
    while lines < n:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            data = os.read(fd, 1 << 20)
            t = time.time_ns()
            if not data:
                break
            buf = rest + data
            cut = buf.rfind(b"\n") + 1
            rest = buf[cut:]
            if cut:
                got = SEQ.findall(buf, 0, cut)
                seqs.extend(got)
                arr.extend([t] * len(got))
                lines += buf.count(b"\n", 0, cut)
                last_progress = time.time()
        if writer_done is None and wr.poll() is not None:
            writer_done = time.time()
            if wr.returncode != 0:
                sub.kill()
                fail("writer exited %d: %s" % (wr.returncode, wr.stdout.read().decode()))
        if writer_done is not None and time.time() - max(writer_done, last_progress) > 15:
            break
    wr.wait()
    if wr.returncode != 0:
        fail("writer exited %d" % wr.returncode)
    # CPU from the writer's start to the last line (or the time-out)
    c1 = [cpu_s(p) for p in others + [sub.pid]] + [time.process_time()]
    wcpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    wcpu = wcpu.ru_utime + wcpu.ru_stime
    wall = time.time() - t_c0
    cores = [(b - a) / wall for a, b in zip(c0, c1)]
    names = (["hub", "redis"] if others else []) + ["subscriber", "reader"]
    cpu = "writer:%.2f," % (wcpu / wall) + ",".join(
        "%s:%.2f" % kv for kv in zip(names, cores))
    sub.send_signal(signal.SIGTERM)
    tail = sub.stdout.read()  # to EOF
    extra = tail.count(b"\n")
    rc = sub.wait()
    st = closing(log)
    if st is None:
        fail("no closing line from the subscriber (exit %d): %s" % (rc, open(log).read()[-300:]))
    w = read_times(times)
    lat = []
    uniq = set()
    for s, t in zip(seqs, arr):
        s = int(s)
        uniq.add(s)
        if s in w:
            lat.append(t - w[s])
    lat.sort()
    ws = sorted(w.values())
    wsecs = (ws[-1] - ws[0]) / 1e9 if len(ws) > 1 else 0
    neg = sum(1 for x in lat if x < 0)
    print("arrived=%d unique=%d expected=%d after_sigterm=%d write_rate=%d write_secs=%.2f "
          "p50_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%d negative=%d "
          "printed=%d live=%d replayed=%d dups=%d gaps=%d sub_exit=%d cpu=%s" % (
              lines, len(uniq), n, extra, (len(ws) - 1) / wsecs if wsecs else 0, wsecs,
              pct(lat, .50) / 1000, pct(lat, .99) / 1000, pct(lat, .999) / 1000,
              (lat[-1] if lat else 0) / 1000, (sum(lat) / len(lat) if lat else 0) / 1000,
              neg, st["printed"], st["live"], st["replayed"], st["dups"], st["gaps"], rc, cpu))


def scrape(conn_box, hostport):
    host, port = hostport.rsplit(":", 1)
    for _ in (0, 1):
        c = conn_box.get("c")
        if c is None:
            c = conn_box["c"] = http.client.HTTPConnection(host, int(port), timeout=2)
        try:
            c.request("GET", "/metrics")
            body = c.getresponse().read().decode()
            v = {}
            for line in body.splitlines():
                if line.startswith("surgewatch_hub_alerts_"):
                    k, _, val = line.rpartition(" ")
                    v[k] = int(float(val))
            return v
        except (OSError, http.client.HTTPException):
            c.close()
            conn_box.pop("c", None)
    return {}


KEYS = ("alerts:seq", "alerts:seen", "alerts:active", "alerts:last", "alerts")


def redis_cmd(url, *args):
    """One command on a fresh connection (redis://host:port, no auth)."""
    hp = url.split("://", 1)[1].split("/", 1)[0]
    host, port = hp.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    out = b"*%d\r\n" % len(args)
    for x in args:
        x = x.encode() if isinstance(x, str) else x
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    s.sendall(out)
    reply = s.recv(4096)
    s.close()
    if reply.startswith(b"-"):
        fail("redis %s: %s" % (args[0], reply.decode().strip()))
    return reply


def fanout(a):
    binp, writer, url, prefix, pub, replay = a[:6]
    n, nsubs = int(a[6]), int(a[7])
    sections, work, hub_pid, metrics = a[8], a[9], int(a[10]), a[11]
    template = a[12] if len(a) > 12 else None
    if template:
        for k in KEYS:
            redis_cmd(url, "COPY", "%s:%s" % (template, k), "%sstg:%s" % (prefix, k))
    logs = [os.path.join(work, "fan-%d.log" % i) for i in range(nsubs)]
    times = os.path.join(work, "times")
    subs = [start_sub(binp, pub, replay, logs[i], ["-n", str(n)], subprocess.DEVNULL)
            for i in range(nsubs)]
    wait_connected(subs, logs)
    done = [None] * nsubs

    cpu = [0.0] * nsubs
    rcs = [None] * nsubs

    def waiter(i):
        # reaped here, with its CPU time (the Popen object is told)
        _, status, ru = os.wait4(subs[i].pid, 0)
        done[i] = time.time_ns()
        cpu[i] = ru.ru_utime + ru.ru_stime
        rcs[i] = os.waitstatus_to_exitcode(status)
        subs[i].returncode = rcs[i]

    ths = [threading.Thread(target=waiter, args=(i,), daemon=True) for i in range(nsubs)]
    for t in ths:
        t.start()
    box = {}
    samples = []
    cpu_hub0 = cpu_s(hub_pid)
    t_start = time.time()
    if template:
        wr = None
        for k in KEYS:
            if k == "alerts":
                t_start = time.time()
                first_w = time.time_ns()
            redis_cmd(url, "RENAME", "%sstg:%s" % (prefix, k), "%s:%s" % (prefix, k))
    else:
        wr = subprocess.Popen([writer, url, prefix, str(n), "0", sections, times],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    timed_out = False
    while any(d is None for d in done):
        v = scrape(box, metrics)
        samples.append((time.time_ns(), v.get("surgewatch_hub_alerts_published_total", -1),
                        v.get("surgewatch_hub_alerts_read_total", -1)))
        if time.time() - t_start > 120:
            timed_out = True
            break
        time.sleep(0.05)
    cpu_hub1 = cpu_s(hub_pid)
    t_end = time.time_ns()
    if wr is not None:
        wr.wait()
        if wr.returncode != 0:
            fail("writer exited %d: %s" % (wr.returncode, wr.stdout.read().decode()))
    for i, p in enumerate(subs):
        if done[i] is None:
            p.send_signal(signal.SIGTERM)
    for t in ths:
        t.join(10)
    if any(d is None for d in done):
        fail("a subscriber did not stop on SIGTERM")
    # a last sample: the hub refreshes its metrics once a second
    time.sleep(1.1)
    v = scrape(box, metrics)
    samples.append((time.time_ns(), v.get("surgewatch_hub_alerts_published_total", -1),
                    v.get("surgewatch_hub_alerts_read_total", -1)))
    if template:
        ws = [first_w]
    else:
        ws = sorted(read_times(times).values())
        first_w = ws[0]
    last_w = ws[-1]
    secs = (max(done) - first_w) / 1e9
    sts = [closing(l) for l in logs]
    if any(s is None for s in sts):
        fail("a subscriber logged no closing line")
    complete = sum(1 for s in sts if s["printed"] >= n)
    # the hub's publish rate: /metrics is refreshed once a second, so a
    # sample's value is that of the last refresh. The times at which the
    # value changed are refresh times (known to the 50 ms poll): the rate
    # between the first and the last change strictly inside (0, n), when
    # there are two; and the first sample at n (up to a second late).
    changes = []
    prev_v = 0
    t1 = None
    for t, pv, _ in samples:
        if pv != prev_v and 0 < pv < n:
            changes.append((t, pv))
        if pv >= n and t1 is None:
            t1 = t
        prev_v = max(prev_v, pv)
    pub_rate, pub_secs = 0, 0
    if len(changes) >= 2 and changes[-1][0] > changes[0][0]:
        pub_secs = (changes[-1][0] - changes[0][0]) / 1e9
        pub_rate = (changes[-1][1] - changes[0][1]) / pub_secs
    pub_done = ((t1 - first_w) / 1e9) if t1 else -1
    # the hub's CPU over the window (writer start .. last subscriber)
    wall = (t_end - t_start * 1e9) / 1e9
    print("rate=%d secs=%.3f complete=%d/%d write_rate=%d write_secs=%.3f "
          "sub_secs=%s printed=%s live=%s replayed=%s gaps=%s dups=%s "
          "hub_rate=%d hub_rate_secs=%.2f hub_published_at=%.2f hub_published=%d "
          "hub_cpu=%.2f hub_us_per_alert=%.1f sub_cpu_s=%.2f subs_cores=%.2f timed_out=%d sub_exit=%s" % (
              n / secs, secs, complete, nsubs,
              (len(ws) - 1) / ((last_w - first_w) / 1e9) if last_w > first_w else 0,
              (last_w - first_w) / 1e9,
              ",".join("%.2f" % ((d - first_w) / 1e9) for d in done),
              ",".join(str(s["printed"]) for s in sts),
              ",".join(str(s["live"]) for s in sts),
              ",".join(str(s["replayed"]) for s in sts),
              ",".join(str(s["gaps"]) for s in sts),
              ",".join(str(s["dups"]) for s in sts),
              pub_rate, pub_secs, pub_done, prev_v,
              (cpu_hub1 - cpu_hub0) / wall, (cpu_hub1 - cpu_hub0) / n * 1e6,
              sum(cpu) / nsubs, sum(cpu) / secs, timed_out, ",".join(map(str, rcs))))


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("latency", "fanout"):
        sys.stderr.write(__doc__)
        sys.exit(2)
    (latency if sys.argv[1] == "latency" else fanout)(sys.argv[2:])
