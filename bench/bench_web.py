#!/usr/bin/env python3
"""The helper of bench/bench_web.sh: the hub's web view (docs/web.md) with
1 000 sections and 100 viewers. bench_web.sh starts redis-server and the
hub; everything else is here.

  viewers BIN NVIEWERS WORKDIR
      Makes NVIEWERS tokens with `BIN keygen --web-token NAME --role viewer
      --sections LIST`: the even ones see `*`, the odd ones 2..20 entries
      (a base section "AA-BB", which covers its 24 subsections, with
      probability 1/4, else one section), fixed seed. Writes
      WORKDIR/viewers (the --web-viewers file) and WORKDIR/viewers.json
      (name, token, sections).

  populate REDIS_URL PREFIX WRITER NPRE WORKDIR
      Writes the 1 000 sections (40 land borders "AA-BB", each with 24
      subsections "AA-BB/segNN") into Redis in the workers'
      formats (docs/web.md): SADD PREFIX:sections, a sorted set
      PREFIX:series:SECTION of 400 daily buckets each (score: the start,
      member "START COUNT EXPECTED BOUND ALARM", "-" for null), HSET
      PREFIX:series:meta bucket_ms 86400000; then NPRE alerts through 4
      sw_alert_writer (the workers' own Lua writer; it takes at most 256
      sections, so 4 of them take 250 sections each), as fast as they go.
      The writer takes every alert id through raised, updated, resolved,
      so that leaves few alerts active: NACTIVE more writers of 2
      transitions (raised, updated) on NACTIVE sections make that many
      active alerts (env NACTIVE, default 200).

  run HUB_PID WEB METRICS REDIS_URL PREFIX WRITER N RATE WORKDIR OUT
      One run against a hub that is running, its memory (VmRSS, VmHWM,
      Threads of /proc/HUB_PID/status) at each step:
        idle      a second after the hub is up
        page      after K=11 GET / and 11 GET /api/state for a `*` viewer
                  and 11 for a restricted one (sizes, times: the median;
                  the gzip -9 size of the bytes for reference, and whether
                  the hub itself compresses when asked)
        (probe)   one stream opened without ?from, to read what its hello
                  says on a hub that has published nothing since it
                  started (the log's seq is known); closed at once
        connected every viewer holds an open GET /api/events?from=SEQ+1,
                  SEQ being /api/state's seq (as web/index.html does), and
                  got its `hello`
        live      after N alerts written at RATE/s (4 writers in
                  parallel, RATE/4 each) with every viewer connected, and
                  every viewer has all the alerts it should have (or
                  nothing came for 15 s)
        closed    the client closes every stream; then the hub's gauge
                  surgewatch_hub_web_streams is polled until 0 (at most
                  60 s; the time is reported: the hub ends a stream when
                  a write to it fails); RSS 1 s after that
        catch-up  all viewers reconnect with Last-Event-ID: 1, so the hub
                  sends each every visible alert after seq 1 (the whole
                  log, more than the hub's ring of 8192: from Redis); the
                  step's RSS is taken once every viewer has all of them;
                  then they close as above. CATCHUPS rounds (env, default
                  2), so that memory kept from one round to the next shows;
                  RSS 11 s after the last close too
      The peak RSS while alerts flow and during the catch-up is sampled
      every 20 ms. Each viewer's alerts are checked against the log read
      back from Redis (XRANGE PREFIX:alerts, section of each seq): exactly
      the seqs >= SEQ+1 (live) or > 1 (catch-up) whose section its
      entries cover, each once, in increasing order, the data's seq equal
      to the event's id. Latency: the arrival of an alert's bytes at the
      client (time.time_ns() when read) minus the writer's CLOCK_REALTIME
      just before the alert's Redis write. All the streams are read by
      one thread (selectors, raw sockets, chunked transfer decoded); its
      CPU time is reported. Writes OUT (JSON) and prints one summary line.

  report RUN.json...
      The table of the runs (medians, and every run's value).
"""
import array
import gzip
import http.client
import json
import math
import os
import queue
import random
import re
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")
# 40 land borders of the region (ids as in docs/events.md: ascending codes)
BASES = ("AL-GR AL-ME AL-MK AL-XK AT-HU AT-SI BA-HR BA-ME BA-RS BG-GR BG-MK BG-RO BG-RS "
         "BG-TR BY-LT BY-LV BY-PL BY-UA EE-RU FI-NO FI-RU GR-MK GR-TR HR-HU HR-ME HR-RS "
         "HR-SI HU-RO HU-RS HU-SK HU-UA LT-RU LV-RU MD-RO MD-UA ME-RS MK-RS PL-UA RO-UA "
         "RS-XK").split()
NPAIRS, NSUB, NBUCKETS, BUCKET_MS = 40, 24, 400, 86400000
K_REQ = 11
CATCHUPS = max(1, int(os.environ.get("CATCHUPS", "2")))
WRITERS = 4
CHILDREN = []


def fail(msg):
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
    print("error: %s" % msg, file=sys.stderr)
    print("error=%s" % msg.replace(" ", "_"))
    sys.exit(1)


# ---------------------------------------------------------------- sections
def bases():
    assert len(BASES) == NPAIRS and all(b[:2] < b[3:] for b in BASES)
    return sorted(BASES)


def sections():
    out = []
    for b in bases():
        out.append(b)
        out += ["%s/seg%02d" % (b, k) for k in range(1, NSUB + 1)]
    return sorted(out)


def visible(entries, sec):
    if entries is None:  # "*"
        return True
    for e in entries:
        if sec == e or sec.startswith(e + "/"):
            return True
    return False


# ---------------------------------------------------------------- redis
class Redis:
    """The bare RESP client this needs (python3-redis is not installed)."""

    def __init__(self, url):
        m = re.match(r"redis://(?:([^:@/]*)(?::([^@/]*))?@)?([^:/]+)(?::(\d+))?(?:/(\d+))?$", url)
        if not m:
            fail("bad redis url %s" % url)
        self.s = socket.create_connection((m.group(3), int(m.group(4) or 6379)), 10)
        self.f = self.s.makefile("rb")
        if m.group(2):
            self.cmd(*(["AUTH", m.group(1), m.group(2)] if m.group(1) else ["AUTH", m.group(2)]))
        if m.group(5):
            self.cmd("SELECT", m.group(5))

    @staticmethod
    def enc(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += [b"$%d\r\n" % len(a), a, b"\r\n"]
        return b"".join(out)

    def read(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest
        if t == b"-":
            raise RuntimeError("redis: " + rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("redis: connection lost")

    def cmd(self, *args):
        self.s.sendall(self.enc(args))
        return self.read()

    def pipe(self, cmds):
        self.s.sendall(b"".join(self.enc(c) for c in cmds))
        return [self.read() for _ in cmds]


def log_sections(r, prefix, after):
    """seq -> section of every published alert with seq > after."""
    out = {}
    start = "%d-2" % after if after > 0 else "-"
    while True:
        rows = r.cmd("XRANGE", prefix + ":alerts", start, "+", "COUNT", 5000)
        if not rows:
            return out
        for eid, fields in rows:
            s, _, part = eid.decode().partition("-")
            start = "(" + eid.decode()
            if part != "1" or int(s) <= after:
                continue  # a held alert (not published), see docs/alerts.md
            f = dict(zip(fields[::2], fields[1::2]))
            out[int(s)] = json.loads(f[b"alert"])["section"]


# ---------------------------------------------------------------- viewers
def cmd_viewers(binp, n, work):
    rng = random.Random(11)
    secs = sections()
    bs = bases()
    lines, views = [], []
    for i in range(n):
        name = "viewer-%03d" % i
        if i % 2 == 0:
            entries = ["*"]
        else:
            entries = set()
            want = rng.randint(2, 20)
            while len(entries) < want:
                entries.add(rng.choice(bs) if rng.random() < 0.25 else rng.choice(secs))
            # an entry inside a base entry adds nothing: keep the list as drawn
            entries = sorted(entries)
        out = subprocess.run([binp, "keygen", "--web-token", name, "--role", "viewer",
                              "--sections", ",".join(entries)],
                             capture_output=True, text=True)
        tok = re.search(r"^token: *(\S+)", out.stdout, re.M)
        line = re.search(r"^line: *(.+)$", out.stdout, re.M)
        if out.returncode != 0 or not tok or not line:
            fail("keygen --web-token %s exited %d: %s %s" % (
                name, out.returncode, out.stdout[-300:], out.stderr[-300:]))
        lines.append(line.group(1).strip())
        views.append({"name": name, "token": tok.group(1),
                      "sections": None if entries == ["*"] else entries})
    with open(os.path.join(work, "viewers"), "w") as f:
        f.write("# %d viewers made by bench/bench_web.py\n" % n)
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(work, "viewers.json"), "w") as f:
        json.dump(views, f)
    seen = [sum(visible(v["sections"], s) for s in secs) for v in views]
    print("viewers=%d all=%d restricted=%d sections_seen_restricted=%s" % (
        n, sum(v["sections"] is None for v in views),
        sum(v["sections"] is not None for v in views),
        ",".join(str(x) for v, x in zip(views, seen) if v["sections"] is not None)))


# ---------------------------------------------------------------- populate
def writer_groups():
    secs = sections()
    return [secs[k::WRITERS] for k in range(WRITERS)]


def cmd_populate(url, prefix, writer, npre, work):
    t0 = time.time()
    r = Redis(url)
    secs = sections()
    rng = random.Random(3)
    r.cmd("SADD", prefix + ":sections", *secs)
    r.cmd("HSET", prefix + ":series:meta", "bucket_ms", BUCKET_MS)
    day0 = (int(time.time() * 1000) // BUCKET_MS - (NBUCKETS - 1)) * BUCKET_MS
    cmds = []
    for sec in secs:
        base = rng.choice([1, 3, 8, 20, 60, 150])
        counts = []
        args = ["ZADD", prefix + ":series:" + sec]
        for k in range(NBUCKETS):
            c = max(0, int(rng.gauss(base, math.sqrt(base) + 1)))
            if rng.random() < 0.01:
                c *= 4  # a surge
            if len(counts) >= 28:
                exp = sum(counts[-28:]) / 28.0
                bound = int(exp + 3 * math.sqrt(exp) + 1.5)
                e, b, al = "%.2f" % exp, str(bound), int(c >= bound)
            else:
                e, b, al = "-", "-", 0
            counts.append(c)
            start = day0 + k * BUCKET_MS
            args += [start, "%d %d %s %s %d" % (start, c, e, b, al)]
        cmds.append(args)
        if len(cmds) == 50:
            r.pipe(cmds)
            cmds = []
    if cmds:
        r.pipe(cmds)
    nz = r.cmd("ZCARD", prefix + ":series:" + secs[0])
    t1 = time.time()
    procs = []
    for k, g in enumerate(writer_groups()):
        p = subprocess.Popen([writer, url, prefix, str(npre // WRITERS), "0", ",".join(g)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        CHILDREN.append(p)
        procs.append(p)
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            fail("sw_alert_writer exited %d: %s" % (p.returncode, err.strip()))
    nact = int(os.environ.get("NACTIVE", "200"))
    for i0 in range(0, nact, 10):
        procs = []
        for i in range(i0, min(nact, i0 + 10)):
            p = subprocess.Popen([writer, url, prefix, "2", "0", secs[i * 997 % len(secs)]],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            CHILDREN.append(p)
            procs.append(p)
        for p in procs:
            out, err = p.communicate()
            if p.returncode != 0:
                fail("sw_alert_writer exited %d: %s" % (p.returncode, err.strip()))
    seq = int(r.cmd("GET", prefix + ":alerts:seq") or 0)
    active = r.cmd("HLEN", prefix + ":alerts:active")
    used = re.search(rb"used_memory:(\d+)", r.cmd("INFO", "memory")).group(1).decode()
    print("sections=%d buckets=%d series_secs=%.2f alerts=%d active=%d alerts_secs=%.2f "
          "redis_used_memory=%s" % (r.cmd("SCARD", prefix + ":sections"), nz, t1 - t0, seq,
                                    active, time.time() - t1, used))


# ---------------------------------------------------------------- /proc
def status(pid):
    out = {}
    try:
        for line in open("/proc/%d/status" % pid):
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def loadavg():
    return float(open("/proc/loadavg").read().split()[0])


def cpu_s(pid):
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def self_cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


class Sampler(threading.Thread):
    """The peak VmRSS of a pid, polled every 20 ms while on."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.on, self.quit = pid, 0, False, False

    def start_peak(self):
        self.peak = status(self.pid).get("VmRSS", 0)
        self.on = True

    def stop_peak(self):
        self.on = False
        return max(self.peak, status(self.pid).get("VmRSS", 0))

    def run(self):
        while not self.quit:
            if self.on:
                self.peak = max(self.peak, status(self.pid).get("VmRSS", 0))
            time.sleep(0.02)


# ---------------------------------------------------------------- SSE client
SEQ_IN_DATA = re.compile(rb'"seq": *(\d+)')


class Stream:
    """One viewer's GET /api/events, fed by the Loop's thread."""

    def __init__(self, view, host, port, last_id=None, from_seq=None):
        self.view = view
        self.raw = b""
        self.head = None
        self.status = 0
        self.chunked = False
        self.cbuf = b""
        self.crem = 0
        self.ccrlf = False
        self.buf = b""
        self.hello = None
        self.seqs = array.array("q")
        self.times = array.array("q")
        self.last = 0
        self.disorder = 0
        self.badseq = 0
        self.other = {}
        self.closed = False
        self.error = None
        self.body = b""
        path = "/api/events" + ("?from=%d" % from_seq if from_seq is not None else "")
        req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
               "Accept: text/event-stream\r\nCache-Control: no-cache\r\n" % (
                   path, host, port, view["token"]))
        if last_id is not None:
            req += "Last-Event-ID: %d\r\n" % last_id
        self.sock = socket.create_connection((host, port), 10)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 18)
        self.sock.sendall((req + "\r\n").encode())
        self.sock.setblocking(False)

    def dechunk(self, data):
        self.cbuf += data
        out = []
        while self.cbuf:
            if self.crem:
                take = self.cbuf[:self.crem]
                out.append(take)
                self.cbuf = self.cbuf[len(take):]
                self.crem -= len(take)
                if self.crem:
                    break
                self.ccrlf = True
            if self.ccrlf:
                if len(self.cbuf) < 2:
                    break
                self.cbuf = self.cbuf[2:]
                self.ccrlf = False
            i = self.cbuf.find(b"\r\n")
            if i < 0:
                break
            size = int(self.cbuf[:i].split(b";")[0], 16)
            self.cbuf = self.cbuf[i + 2:]
            if size == 0:
                self.closed = True
                break
            self.crem = size
        return b"".join(out)

    def feed(self, data, now):
        if self.head is None:
            self.raw += data
            i = self.raw.find(b"\r\n\r\n")
            if i < 0:
                return
            self.head = self.raw[:i].decode("latin-1")
            data = self.raw[i + 4:]
            self.raw = b""
            try:
                self.status = int(self.head.split()[1])
            except (IndexError, ValueError):
                self.status = -1
            self.chunked = bool(re.search(r"(?im)^transfer-encoding:\s*chunked", self.head))
        if self.chunked:
            data = self.dechunk(data)
        if self.status != 200:
            self.body += data
            return
        if b"\r" in data or self.buf.endswith(b"\r"):
            data = (self.buf + data).replace(b"\r\n", b"\n")
            self.buf = b""
            if data.endswith(b"\r"):
                self.buf, data = b"\r", data[:-1]
            data = data.replace(b"\r", b"\n")
        self.buf += data
        if b"\n\n" not in self.buf:
            return
        parts = self.buf.split(b"\n\n")
        self.buf = parts.pop()
        for ev in parts:
            self.event(ev, now)

    def event(self, ev, now):
        etype, eid, data = b"message", None, []
        for ln in ev.split(b"\n"):
            if not ln or ln[:1] == b":":
                continue
            k, _, v = ln.partition(b":")
            if v[:1] == b" ":
                v = v[1:]
            if k == b"event":
                etype = v
            elif k == b"id":
                eid = v
            elif k == b"data":
                data.append(v)
        if not data and etype == b"message":
            return  # a comment-only block
        if etype == b"alert":
            try:
                seq = int(eid)
            except (TypeError, ValueError):
                self.badseq += 1
                return
            m = SEQ_IN_DATA.search(data[0]) if data else None
            if not m or int(m.group(1)) != seq:
                self.badseq += 1
            if seq <= self.last:
                self.disorder += 1
            self.last = max(self.last, seq)
            self.seqs.append(seq)
            self.times.append(now)
        elif etype == b"hello":
            try:
                self.hello = json.loads(b"\n".join(data))
            except ValueError:
                self.hello = {"seq": -1}
        else:
            k = etype.decode("latin-1")
            self.other[k] = self.other.get(k, 0) + 1


class Loop(threading.Thread):
    """Reads every stream; other threads hand it work through call()."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sel = selectors.DefaultSelector()
        self.q = queue.Queue()
        self.rp, self.wp = os.pipe()
        os.set_blocking(self.rp, False)
        self.sel.register(self.rp, selectors.EVENT_READ, None)
        self.bytes = 0

    def call(self, fn):
        done = threading.Event()
        box = []

        def job():
            box.append(fn())
            done.set()
        self.q.put(job)
        os.write(self.wp, b"x")
        done.wait()
        return box[0]

    def add(self, streams):
        def job():
            for st in streams:
                self.sel.register(st.sock, selectors.EVENT_READ, st)
        self.call(job)

    def close_all(self, streams):
        def job():
            for st in streams:
                if not st.closed:
                    self.sel.unregister(st.sock)
                st.sock.close()
                st.closed = True
        self.call(job)

    def run(self):
        while True:
            for key, _ in self.sel.select(1.0):
                st = key.data
                if st is None:
                    try:
                        os.read(self.rp, 4096)
                    except BlockingIOError:
                        pass
                    while not self.q.empty():
                        self.q.get()()
                    continue
                try:
                    data = st.sock.recv(1 << 18)
                except BlockingIOError:
                    continue
                except OSError as e:
                    st.error = str(e)
                    data = b""
                now = time.time_ns()
                if not data:
                    self.sel.unregister(st.sock)
                    st.closed = True
                    continue
                self.bytes += len(data)
                st.feed(data, now)


# ---------------------------------------------------------------- HTTP
def get(host, port, path, token, accept_gzip=False):
    h = {"Authorization": "Bearer " + token}
    if accept_gzip:
        h["Accept-Encoding"] = "gzip"
    t0 = time.perf_counter()
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("GET", path, headers=h)
    resp = c.getresponse()
    body = resp.read()
    dt = time.perf_counter() - t0
    c.close()
    return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), body, dt


def pct(sorted_v, p):
    if not sorted_v:
        return 0
    return sorted_v[min(len(sorted_v) - 1, max(0, int(math.ceil(p / 100.0 * len(sorted_v))) - 1))]


def metrics_text(mhost, mport):
    try:
        c = http.client.HTTPConnection(mhost, mport, timeout=5)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        return text
    except OSError as e:
        return "unavailable (%s)" % e


def metrics_web(mhost, mport):
    """The hub's /metrics lines about the web side (name contains web)."""
    lines = [ln for ln in metrics_text(mhost, mport).splitlines()
             if "web" in ln and not ln.startswith("#")]
    return "; ".join(lines[:12]) or "(no web lines)"


def open_streams(mhost, mport):
    """The hub's gauge of open event streams, or None."""
    m = re.search(r"(?m)^surgewatch_hub_web_streams (\d+)", metrics_text(mhost, mport))
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- run
def cmd_run(hub_pid, web, metrics, url, prefix, writer, n, rate, work, out):
    host, port = web.rsplit(":", 1)
    port = int(port)
    mhost, mport = metrics.rsplit(":", 1)
    views = json.load(open(os.path.join(work, "viewers.json")))
    star = next(v for v in views if v["sections"] is None)
    restricted = next(v for v in views if v["sections"] is not None)
    secs = sections()
    res = {"viewers": len(views), "sections": len(secs), "n": n, "rate": rate, "mem": {},
           "notes": [], "load": [loadavg()]}
    sampler = Sampler(hub_pid)
    sampler.start()

    def alive():
        if not os.path.exists("/proc/%d" % hub_pid) or \
                open("/proc/%d/stat" % hub_pid).read().rsplit(")", 1)[1].split()[0] == "Z":
            fail("the hub (pid %d) died; its log says why" % hub_pid)

    def mem(step):
        alive()
        s = status(hub_pid)
        s["cpu_s"] = round(cpu_s(hub_pid), 2)
        s["metrics"] = metrics_web(mhost, int(mport))
        res["mem"][step] = s
        print("step %s: %s" % (step, s), file=sys.stderr)

    # the web side answers (bench_web.sh waited for the log line already)
    end = time.time() + 15
    while True:
        try:
            st, _, _, _ = get(host, port, "/api/state", star["token"])
            if st == 200:
                break
        except OSError:
            pass
        if time.time() > end:
            fail("GET /api/state did not answer 200 within 15 s")
        alive()
        time.sleep(0.1)
    time.sleep(1.0)
    mem("idle")
    r = Redis(url)
    seq0 = int(r.cmd("GET", prefix + ":alerts:seq") or 0)

    # ---- the page's own size, and /api/state
    page = {}
    st, hd, body, dt = get(host, port, "/", star["token"])
    if st != 200:
        fail("GET / answered %d: %r" % (st, body[:200]))
    page["page_bytes"] = len(body)
    page["page_gzip9"] = len(gzip.compress(body, 9))
    page["page_type"] = hd.get("content-type", "")
    page["page_gz_served"] = None
    st, hd, gbody, _ = get(host, port, "/", star["token"], accept_gzip=True)
    if hd.get("content-encoding", "").lower() == "gzip":
        page["page_gz_served"] = len(gbody)
    st, hd, body401, _ = get(host, port, "/", "not-a-token")
    page["page_401_status"] = st
    page["page_401_bytes"] = len(body401)
    times = {"page": [], "star": [], "restricted": []}
    sizes = {}
    for _ in range(K_REQ):
        _, _, b, dt = get(host, port, "/", star["token"])
        times["page"].append(dt)
        for k, v in (("star", star), ("restricted", restricted)):
            st, hd, b, dt = get(host, port, "/api/state", v["token"])
            if st != 200:
                fail("GET /api/state (%s) answered %d: %r" % (v["name"], st, b[:200]))
            times[k].append(dt)
            sizes[k] = b
    page["state_gz_served"] = None
    st, hd, gb, _ = get(host, port, "/api/state", star["token"], accept_gzip=True)
    if hd.get("content-encoding", "").lower() == "gzip":
        page["state_gz_served"] = len(gb)
    for k in ("star", "restricted"):
        b = sizes[k]
        page[k + "_bytes"] = len(b)
        page[k + "_gzip9"] = len(gzip.compress(b, 9))
        page[k + "_ms"] = round(statistics.median(times[k]) * 1000, 2)
        page[k + "_ms_all"] = [round(t * 1000, 2) for t in times[k]]
        try:
            j = json.loads(b)
            page[k + "_nsections"] = len(j.get("sections", []))
            page[k + "_nseries"] = sum(len(s.get("series") or []) for s in j.get("sections", []))
            page[k + "_nactive"] = len(j.get("active", []))
            page[k + "_nrecent"] = len(j.get("recent", []))
            page[k + "_seq"] = j.get("seq")
        except ValueError as e:
            page[k + "_json_error"] = str(e)
    page["page_ms"] = round(statistics.median(times["page"]) * 1000, 2)
    page["restricted_name"] = restricted["name"]
    page["restricted_entries"] = restricted["sections"]
    page["restricted_visible"] = sum(visible(restricted["sections"], s) for s in secs)
    res["page"] = page
    print("page: %s" % {k: v for k, v in page.items() if not k.endswith("_all")},
          file=sys.stderr)

    loop = Loop()
    loop.start()

    def connect(last_id=None, from_seq=None, vs=None):
        streams = [Stream(v, host, port, last_id, from_seq) for v in (vs or views)]
        loop.add(streams)
        end = time.time() + 60
        while time.time() < end:
            if all(s.hello is not None or s.closed or (s.head and s.status != 200)
                   for s in streams):
                break
            time.sleep(0.02)
        bad = [s for s in streams if s.hello is None]
        if bad:
            s = bad[0]
            fail("%d of %d streams without hello within 60 s; first: %s status %d closed %s "
                 "head %r body %r" % (len(bad), len(streams), s.view["name"], s.status,
                                      s.closed, (s.head or "")[:200], s.body[:200]))
        return streams

    # ---- a stream without ?from (what does hello say on a hub that has
    # published nothing since it started?); closed at once, the hub notices
    # when it next writes to it
    probe = connect(vs=[star])
    res["probe_hello_seq"] = probe[0].hello.get("seq")
    res["probe_log_seq"] = seq0
    loop.close_all(probe)
    time.sleep(1.0)
    mem("page")  # the probe's stream is still open on the hub's side

    # ---- 100 viewers connected, from the state's seq on, as the page does
    # (web/index.html: EventSource('api/events?from=' + (state.seq + 1)))
    from_seq = (page.get("star_seq") or seq0) + 1
    t_conn = time.time()
    live = connect(from_seq=from_seq)
    res["connect_secs"] = round(time.time() - t_conn, 3)
    hellos = sorted(set(s.hello.get("seq") for s in live))
    res["hello_seqs"] = hellos
    res["from_seq"] = from_seq
    time.sleep(1.0)
    mem("connected")

    # ---- N alerts at RATE/s, all connected
    groups = writer_groups()
    cpu0, ccpu0, b0 = cpu_s(hub_pid), self_cpu(), loop.bytes
    sampler.start_peak()
    procs, tfiles = [], []
    for k, g in enumerate(groups):
        tf = os.path.join(work, "times-%d" % k)
        tfiles.append(tf)
        p = subprocess.Popen([writer, url, prefix, str(n // WRITERS), "%g" % (rate / WRITERS),
                              ",".join(g), tf],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        CHILDREN.append(p)
        procs.append(p)
    for p in procs:
        o, e = p.communicate()
        if p.returncode != 0:
            fail("sw_alert_writer exited %d: %s" % (p.returncode, e.strip()))
    wt = {}
    for tf in tfiles:
        for line in open(tf):
            s, t = line.split()
            wt[int(s)] = int(t)
    first_w, last_w = min(wt.values()), max(wt.values())
    seqmap = log_sections(r, prefix, 0)
    last = max(seqmap)
    exp = [sum(1 for q, sec in seqmap.items() if q >= from_seq and visible(s.view["sections"], sec))
           for s in live]

    def wait_all(streams, expected, idle_limit=15.0):
        prev, t_prev = -1, time.time()
        while True:
            got = sum(len(s.seqs) for s in streams)
            if all(len(s.seqs) >= e for s, e in zip(streams, expected)):
                return True
            if got != prev:
                prev, t_prev = got, time.time()
            elif time.time() - t_prev > idle_limit:
                return False
            if any(s.closed for s in streams):
                pass  # counted in the check
            time.sleep(0.05)

    complete = wait_all(live, exp)
    peak_live = sampler.stop_peak()
    cpu_live, ccpu_live = cpu_s(hub_pid) - cpu0, self_cpu() - ccpu0
    mem("live")
    res["mem"]["live"]["peak_rss"] = peak_live

    def check(streams, after_of, label):
        """Per class: delivered, expected, exact, missing, extra, dups."""
        cls = {}
        for s in streams:
            c = cls.setdefault("all" if s.view["sections"] is None else "restricted",
                               {"viewers": 0, "delivered": 0, "expected": 0, "exact": 0,
                                "missing": 0, "extra": 0, "dups": 0, "disorder": 0,
                                "badseq": 0, "closed": 0, "other": {}})
            a = after_of(s)
            want = set(q for q, sec in seqmap.items() if q > a and visible(s.view["sections"], sec))
            got = list(s.seqs)
            gs = set(got)
            c["viewers"] += 1
            c["delivered"] += len(got)
            c["expected"] += len(want)
            c["missing"] += len(want - gs)
            c["extra"] += len(gs - want)
            c["dups"] += len(got) - len(gs)
            c["disorder"] += s.disorder
            c["badseq"] += s.badseq
            c["closed"] += int(s.closed)
            c["exact"] += int(gs == want and len(got) == len(gs))
            for k, v in s.other.items():
                c["other"][k] = c["other"].get(k, 0) + v
        print("%s: %s" % (label, cls), file=sys.stderr)
        return cls

    res["live"] = check(live, lambda s: from_seq - 1, "live")
    lat = array.array("q")
    last_arr = 0
    for s in live:
        for q, t in zip(s.seqs, s.times):
            w = wt.get(q)
            if w is not None:
                lat.append(t - w)
                last_arr = max(last_arr, t)
    lat = sorted(lat)
    delivered = len(lat)
    secs_total = (last_arr - first_w) / 1e9 if last_arr else 0
    res["live_stats"] = {
        "complete": complete, "written": len(wt), "first_seq": min(wt), "last_seq": max(wt),
        "write_secs": round((last_w - first_w) / 1e9, 3),
        "write_rate": round(len(wt) / max(1e-9, (last_w - first_w) / 1e9)),
        "delivered": delivered, "secs": round(secs_total, 3),
        "delivery_rate": round(delivered / secs_total) if secs_total else 0,
        "drain_ms": round((last_arr - last_w) / 1e6, 1) if last_arr else None,
        "p50_ms": round(pct(lat, 50) / 1e6, 2), "p99_ms": round(pct(lat, 99) / 1e6, 2),
        "p999_ms": round(pct(lat, 99.9) / 1e6, 2), "max_ms": round(pct(lat, 100) / 1e6, 2),
        "hub_cpu_cores": round(cpu_live / max(1e-9, secs_total), 2),
        "client_cpu_cores": round(ccpu_live / max(1e-9, secs_total), 2),
        "client_mib": round((loop.bytes - b0) / 1048576, 1),
    }
    print("live: %s" % res["live_stats"], file=sys.stderr)

    def closed(streams, step, later):
        """Closes them; waits (60 s at most) until the hub's gauge of open
        streams is 0; RSS 1 s (and with later, 11 s) after."""
        loop.close_all(streams)
        t0 = time.time()
        while True:
            n_open = open_streams(mhost, int(mport))
            if n_open == 0 or n_open is None or time.time() - t0 > 60:
                break
            time.sleep(0.1)
        res[step + "_reaped_secs"] = round(time.time() - t0, 2) if n_open == 0 else None
        res[step + "_still_open"] = n_open
        time.sleep(1.0)
        mem(step)
        if later:
            time.sleep(10.0)
            mem(step + "_10s")

    # ---- they close
    closed(live, "closed", False)

    # ---- they come back with Last-Event-ID: 1, CATCHUPS times
    res["catchup"], res["catchup_stats"] = [], []
    for k in range(1, CATCHUPS + 1):
        cpu0, ccpu0, b0 = cpu_s(hub_pid), self_cpu(), loop.bytes
        sampler.start_peak()
        t0 = time.time_ns()
        back = connect(last_id=1)
        t_hello = time.time_ns()
        exp = [sum(1 for q, sec in seqmap.items() if q > 1 and visible(s.view["sections"], sec))
               for s in back]
        complete = wait_all(back, exp)
        peak_cu = sampler.stop_peak()
        cpu_cu, ccpu_cu = cpu_s(hub_pid) - cpu0, self_cpu() - ccpu0
        done = max((s.times[-1] for s in back if len(s.times)), default=t0)
        per_viewer_done = sorted((s.times[-1] - t0) / 1e9 for s in back if len(s.times))
        ndel = sum(len(s.seqs) for s in back)
        secs_cu = (done - t0) / 1e9
        res["catchup"].append(check(back, lambda s: 1, "catch-up %d" % k))
        res["catchup_stats"].append({
            "complete": complete, "last_seq": last, "delivered": ndel,
            "secs": round(secs_cu, 3), "rate": round(ndel / secs_cu) if secs_cu > 0 else 0,
            "hellos_secs": round((t_hello - t0) / 1e9, 3),
            "viewer_done_p50_s": round(pct(per_viewer_done, 50), 3),
            "hub_cpu_cores": round(cpu_cu / max(1e-9, secs_cu), 2),
            "client_cpu_cores": round(ccpu_cu / max(1e-9, secs_cu), 2),
            "client_mib": round((loop.bytes - b0) / 1048576, 1),
        })
        print("catch-up %d: %s" % (k, res["catchup_stats"][-1]), file=sys.stderr)
        time.sleep(1.0)
        mem("catchup%d" % k)
        res["mem"]["catchup%d" % k]["peak_rss"] = peak_cu
        closed(back, "closed_c%d" % k, k == CATCHUPS)
        for st in back:  # keep the client's memory small
            st.seqs, st.times = array.array("q"), array.array("q")
    sampler.quit = True
    res["load"].append(loadavg())
    with open(out, "w") as f:
        json.dump(res, f)
    m = res["mem"]
    print("idle_rss=%d connected_rss=%d live_rss=%d closed_rss=%s hwm=%d threads=%d "
          "live_exact=%d/%d catchup_exact=%s" % (
              m["idle"]["VmRSS"], m["connected"]["VmRSS"], m["live"]["VmRSS"],
              ",".join(str(m[k]["VmRSS"]) for k in m if k.startswith("closed") and
                       not k.endswith("_10s")),
              m["closed_c%d" % CATCHUPS]["VmHWM"], m["connected"]["Threads"],
              sum(c["exact"] for c in res["live"].values()), len(live),
              ",".join("%d/%d" % (sum(c["exact"] for c in x.values()), len(views))
                       for x in res["catchup"])))


# ---------------------------------------------------------------- report
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def mib(kb):
    return "-" if kb is None else "%.1f" % (kb / 1024.0)


def cmd_report(files):
    runs = [json.load(open(f)) for f in files]
    R = len(runs)
    r0 = runs[0]
    p0 = r0["page"]

    def all_of(fn):
        out = []
        for r in runs:
            try:
                out.append(fn(r))
            except (KeyError, TypeError):
                out.append(None)
        return out

    def fmt_runs(vals, f):
        return " ".join("-" if v is None else f(v) for v in vals)

    def same_or_runs(vals):
        return str(vals[0]) if len(set(vals)) == 1 else "%d (runs: %s)" % (
            med(vals), fmt_runs(vals, str))

    print("bench_web: `surgewatch hub --web`, %d sections (%d buckets each in Redis), "
          "%d viewers (%d see `*`, %d 2-20 entries), %d runs, each with its own hub and "
          "Redis prefix; medians of the runs" % (
              r0["sections"], NBUCKETS, r0["viewers"],
              r0["live"].get("all", {}).get("viewers", 0),
              r0["live"].get("restricted", {}).get("viewers", 0), R))
    print()
    print("The page's own size (GET / with a valid token; the same bytes every run):")
    print()
    print("| what | bytes | gzip -9 | served gzipped (Accept-Encoding: gzip) | time, median ms |")
    print("|---|---|---|---|---|")
    gz = p0.get("page_gz_served")
    print("| GET / (%s) | %d | %d | %s | %s |" % (
        p0.get("page_type", "?") or "?", p0["page_bytes"], p0["page_gzip9"],
        "no" if gz is None else "%d bytes" % gz,
        "%.2f" % med(all_of(lambda r: r["page"]["page_ms"]))))
    print("| GET / without a valid token (HTTP %d) | %d | | | |" % (
        p0["page_401_status"], p0["page_401_bytes"]))
    for k, label in (("star", "GET /api/state, a `*` viewer"),
                     ("restricted", "GET /api/state, %s (%d entries: %d sections)" % (
                         p0["restricted_name"], len(p0["restricted_entries"]),
                         p0["restricted_visible"]))):
        gz = p0.get("state_gz_served") if k == "star" else None
        print("| %s | %s | %s | %s | %s (runs: %s) |" % (
            label, same_or_runs(all_of(lambda r: r["page"][k + "_bytes"])),
            same_or_runs(all_of(lambda r: r["page"][k + "_gzip9"])),
            ("no" if gz is None else "%d bytes" % gz) if k == "star" else "",
            "%.2f" % med(all_of(lambda r: r["page"][k + "_ms"])),
            fmt_runs(all_of(lambda r: r["page"][k + "_ms"]), lambda v: "%.2f" % v)))
    print()
    print("/api/state holds (run 1): `*` viewer %s sections, %s buckets, %s active alerts, "
          "%s recent, seq %s; the restricted viewer %s sections, %s active." % (
              p0.get("star_nsections"), p0.get("star_nseries"), p0.get("star_nactive"),
              p0.get("star_nrecent"), p0.get("star_seq"), p0.get("restricted_nsections"),
              p0.get("restricted_nactive")))
    print("Times: %d requests each per run, one new connection each, the hub otherwise idle; "
          "the median of a run, then the median of the runs." % K_REQ)
    print()
    print("The hub's memory (/proc/PID/status, MiB; median of the runs, then each run):")
    print()
    print("| state | VmRSS | VmHWM | threads | VmRSS of each run |")
    print("|---|---|---|---|---|")
    nc = len(r0["catchup_stats"])
    steps = [("idle", "idle, 1 s after start (alert log and 1 000 series in Redis)"),
             ("page", "after %d x GET /, %d x 2 GET /api/state, 1 stream opened and "
              "closed" % (K_REQ, K_REQ)),
             ("connected", "%d viewers connected to /api/events" % r0["viewers"]),
             ("live", "after %d alerts delivered live to the %d" % (r0["n"], r0["viewers"])),
             ("closed", "the %d closed their streams: 1 s after the hub ended them all" %
              r0["viewers"])]
    for k in range(1, nc + 1):
        steps += [("catchup%d" % k, "catch-up %d: the %d back with Last-Event-ID: 1, all "
                   "caught up" % (k, r0["viewers"])),
                  ("closed_c%d" % k, "closed again: 1 s after the hub ended them all")]
    steps.append(("closed_c%d_10s" % nc, "... 11 s after"))
    for k, label in steps:
        rss = all_of(lambda r: r["mem"][k]["VmRSS"])
        print("| %s | %s | %s | %s | %s |" % (
            label, mib(med(rss)), mib(med(all_of(lambda r: r["mem"][k]["VmHWM"]))),
            "%g" % med(all_of(lambda r: r["mem"][k]["Threads"])), fmt_runs(rss, mib)))
    for k, label in [("live", "peak while the alerts were delivered live")] + [
            ("catchup%d" % k, "peak during catch-up %d" % k) for k in range(1, nc + 1)]:
        pk = all_of(lambda r: r["mem"][k]["peak_rss"])
        print("| %s (sampled every 20 ms) | %s | | | %s |" % (label, mib(med(pk)),
                                                                fmt_runs(pk, mib)))
    pv = all_of(lambda r: (r["mem"]["connected"]["VmRSS"] - r["mem"]["page"]["VmRSS"])
                / r["viewers"])
    pvi = all_of(lambda r: (r["mem"]["connected"]["VmRSS"] - r["mem"]["idle"]["VmRSS"])
                 / r["viewers"])
    print()
    print("Per viewer: (RSS with %d connected - RSS before they connected) / %d = median "
          "%.1f KiB (runs: %s); counted from idle: %.1f KiB (runs: %s)." % (
              r0["viewers"], r0["viewers"], med(pv), fmt_runs(pv, lambda v: "%.1f" % v),
              med(pvi), fmt_runs(pvi, lambda v: "%.1f" % v)))
    print("RSS once every stream had ended, minus before the first connected, after the "
          "live round and after each catch-up round, MiB: %s." % "; ".join(
              "run %d: %s" % (i, " ".join("%+.1f" % ((r["mem"][k]["VmRSS"] -
                                                      r["mem"]["page"]["VmRSS"]) / 1024.0)
                                          for k in ["closed"] + ["closed_c%d" % j for j in
                                                                 range(1, nc + 1)]))
              for i, r in enumerate(runs, 1)))
    for step, what in [("closed", "the live round")] + [
            ("closed_c%d" % k, "catch-up %d" % k) for k in range(1, nc + 1)]:
        rs = all_of(lambda r: r[step + "_reaped_secs"])
        still = [x for x in all_of(lambda r: r[step + "_still_open"]) if x]
        print("The client closes the %d streams of %s: the hub's gauge "
              "surgewatch_hub_web_streams is at 0 after %s s (runs)%s." % (
                  r0["viewers"], what, fmt_runs(rs, lambda v: "%.1f" % v),
                  "" if not still else "; still open after 60 s: %s" % still))
    print()
    ls = all_of(lambda r: r["live_stats"])
    print("Live delivery: %d alerts written at %d/s asked (%s/s written; 4 sw_alert_writer, "
          "250 sections each), every viewer connected:" % (r0["n"], r0["rate"],
                                                        fmt_runs([x["write_rate"] for x in ls], str)))
    print()
    print("| viewers | delivered / expected (all runs) | viewers exact | missing | extra | "
          "duplicates | out of order |")
    print("|---|---|---|---|---|---|---|")
    for phase, title in [("live", "live")] + [
            ("catchup%d" % k, "catch-up %d" % k) for k in range(1, nc + 1)]:
        for c in ("all", "restricted"):
            if phase == "live":
                vals = all_of(lambda r: r["live"][c])
            else:
                vals = all_of(lambda r: r["catchup"][int(phase[7:]) - 1][c])
            if not any(vals):
                continue
            s = lambda f: sum(v[f] for v in vals if v)
            print("| %s, %s (%d each run) | %d / %d | %d / %d | %d | %d | %d | %d |" % (
                title, "`*`" if c == "all" else "restricted", vals[0]["viewers"],
                s("delivered"), s("expected"), s("exact"), s("viewers"), s("missing"),
                s("extra"), s("dups"), s("disorder")))
    print()
    print("| figure | median | runs |")
    print("|---|---|---|")
    for key, label, f in (
            ("delivery_rate", "alert events delivered to viewers per s (first write to last arrival)", "%d"),
            ("secs", "first write to last arrival, s", "%.2f"),
            ("drain_ms", "last write to last arrival, ms", "%.1f"),
            ("p50_ms", "latency write -> viewer, p50 ms", "%.2f"),
            ("p99_ms", "latency p99 ms", "%.2f"),
            ("p999_ms", "latency p99.9 ms", "%.2f"),
            ("max_ms", "latency max ms", "%.2f"),
            ("hub_cpu_cores", "hub CPU, cores", "%.2f"),
            ("client_cpu_cores", "client CPU (all %d streams, one Python thread), cores" %
             r0["viewers"], "%.2f")):
        vals = [x.get(key) for x in ls]
        print("| %s | %s | %s |" % (label, f % med(vals), fmt_runs(vals, lambda v: f % v)))
    cs = [x for r in runs for x in r["catchup_stats"]]
    for key, label, f in (
            ("delivered", "catch-up: alert events sent to the %d viewers" % r0["viewers"], "%d"),
            ("secs", "catch-up: connect to the last viewer complete, s", "%.2f"),
            ("rate", "catch-up: alert events per s", "%d"),
            ("hellos_secs", "catch-up: all %d connected (hello), s" % r0["viewers"], "%.2f"),
            ("hub_cpu_cores", "catch-up: hub CPU, cores", "%.2f"),
            ("client_cpu_cores", "catch-up: client CPU, cores", "%.2f")):
        vals = [x.get(key) for x in cs]
        print("| %s | %s | %s |" % (label, f % med(vals), fmt_runs(vals, lambda v: f % v)))
    print()
    print("Catch-up figures: every round of every run (%d rounds a run), in order." % nc)
    notes = []
    notes.append("the live streams are opened with ?from=STATE_SEQ+1 as the page does; their "
                 "hello said seq %s (runs; the log was at %s)" % (
                     fmt_runs(all_of(lambda r: r["hello_seqs"]), lambda v: ",".join(map(str, v))),
                     fmt_runs(all_of(lambda r: r["from_seq"] - 1), str)))
    notes.append("a stream opened without ?from on the fresh hub (before any alert was written "
                 "since its start): hello seq %s, the log at %s (runs)" % (
                     fmt_runs(all_of(lambda r: r["probe_hello_seq"]), str),
                     fmt_runs(all_of(lambda r: r["probe_log_seq"]), str)))
    for i, r in enumerate(runs, 1):
        for n in r.get("notes", []):
            notes.append("run %d: %s" % (i, n))
        if not r["live_stats"]["complete"]:
            notes.append("run %d: the live phase ended on 15 s without progress" % i)
        for k, x in enumerate(r["catchup_stats"], 1):
            if not x["complete"]:
                notes.append("run %d: catch-up %d ended on 15 s without progress" % (i, k))
        oth = r["live"].get("all", {}).get("other", {})
        if oth:
            notes.append("run %d: other events on the live `*` streams: %s" % (i, oth))
    notes.append("load average (1 min) at the start and the end of each run: %s; above 2 "
                 "the 2 cores are shared with other work and the latencies show it" %
                 ", ".join("%.1f/%.1f" % tuple(r["load"]) for r in runs))
    notes.append("the hub's /metrics web lines with the viewers connected (run 1): %s" %
                 r0["mem"]["connected"].get("metrics"))
    print()
    for n in notes:
        print("- " + n)


def main():
    a = sys.argv[1:]
    if not a:
        print(__doc__)
        sys.exit(2)
    if a[0] == "viewers":
        cmd_viewers(a[1], int(a[2]), a[3])
    elif a[0] == "populate":
        cmd_populate(a[1], a[2], a[3], int(a[4]), a[5])
    elif a[0] == "run":
        cmd_run(int(a[1]), a[2], a[3], a[4], a[5], a[6], int(a[7]), float(a[8]), a[9], a[10])
    elif a[0] == "report":
        cmd_report(a[1:])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
