#!/usr/bin/env python3
"""HTTP, server-sent events and Redis checks of the hub's web view API
(docs/web.md) for test_web_api.sh. Standard library only: HTTP with
http.client, Redis with redis-cli (python3-redis is not guaranteed).

Check phases print TAP-ish lines ("ok - DESC" / "not ok - DESC" with
"#   DETAIL" lines under a failure) that the shell script relays; other
subcommands exit 0 or 1 (a message on stdout when 1).

usage (the environment gives WEB=http://127.0.0.1:PORT, REDIS=redis://...,
PFX=the key prefix):
  seed                      series, sections and meta of the test in Redis
  sse OUT TOKEN [--from N] [--last-id N] [--cut N --until SEQ]
                            an event stream; every event appended to OUT as
                            a JSON line {"c": CONNECTION, "ev", "id",
                            "data"}, plus {"c", "status"} per connection and
                            {"c", "end": WHY} when a connection ends. --cut:
                            close after N alerts and reopen with
                            Last-Event-ID = the last id received, until an
                            alert with id >= SEQ arrived
  wait OUT (--alerts N | --seq S | --end | --hello) [--timeout SECS]
                            until OUT holds that (exit 1 on the timeout)
  seqcheck OUT FIRST LAST [--sections A,B] [--hello-first]
                            the alert events of OUT are exactly the
                            published log entries FIRST..LAST (of those
                            sections), in order, once, each equal to its
                            log entry
  access TOK_OP TOK_WALL TOK_LIM LIM_SECTIONS        (TAP lines)
  bad METRICS_URL TOK_OP TOK_WALL TOK_LIM             (TAP lines)
  series TOK_WALL TOK_LIM                             (TAP lines)
  secalerts SW_BIN TOK_WALL                           (TAP lines)
  preview TOK_OP                                      (TAP lines)
  silences SW_BIN TOK_WALL TOK_LIM                    (TAP lines)
  status TOKEN PATH         prints the HTTP status of GET PATH
  logcount SECTIONS FIRST LAST
                            the number of published log entries of those
                            sections in FIRST..LAST
"""
import datetime
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

WEB = os.environ.get("WEB", "")
REDIS = os.environ.get("REDIS", "")
PFX = os.environ.get("PFX", "")
DAY = 86400000
T0 = 1546300800000  # 2019-01-01T00:00:00Z
MAR1 = 1551398400000  # 2019-03-01T00:00:00Z
# PL-UA, 30 daily buckets from 2019-03-01: the preview's counts
PREVIEW_COUNTS = [12, 45, 38, 40, 41, 7, 60, 39, 50, 51, 49, 22, 80, 40, 0,
                  33, 55, 47, 39, 41, 70, 18, 44, 52, 36, 61, 29, 48, 40, 90]
PREVIEW_LIMIT = 40  # the current threshold.limit of PL-UA (set by the script)


# ------------------------------------------------------------------ TAP

class Tap:
    def __init__(self):
        self.failed = 0

    def ok(self, cond, desc, *detail):
        if cond:
            print("ok - " + desc)
        else:
            self.failed += 1
            print("not ok - " + desc)
            for d in detail:
                for line in str(d).splitlines() or [""]:
                    print("#   " + line[:400])
        sys.stdout.flush()
        return cond


# ----------------------------------------------------------------- Redis

def rcli(*args, js=False):
    cmd = ["redis-cli", "-u", REDIS] + (["--json"] if js else []) + \
        [str(a) for a in args]
    out = subprocess.run(cmd, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out) if js else out.strip()


def log_entries():
    """The published log entries: {seq: alert dict (without seq)}, and
    their order."""
    raw = rcli("XRANGE", PFX + ":alerts", "-", "+", js=True) or []
    out = {}
    for eid, fields in raw:
        s, _, n = eid.partition("-")
        f = dict(zip(fields[0::2], fields[1::2]))
        if n != "1" or int(s) < 1 or "silenced" in f:
            continue
        out[int(s)] = json.loads(f["alert"])
    return out


def bucket_of(member):
    p = member.split()
    num = (lambda x: None if x == "-" else (int(x) if x.lstrip("-").isdigit()
                                            else float(x)))
    return [int(p[0]), num(p[1]), num(p[2]), num(p[3]), int(p[4])]


def members(section):
    return [bucket_of(m) for m in
            rcli("ZRANGE", "%s:series:%s" % (PFX, section), 0, -1, js=True)]


# ------------------------------------------------------------------ HTTP

def hostport():
    u = urllib.parse.urlparse(WEB)
    return u.hostname, u.port


def req(path, token=None, method="GET", headers=None, body=None,
        cookie=None, timeout=30):
    """(status, {lower-case header: [values]}, body bytes). A stream
    (text/event-stream) is not read: its body is b"" and the connection is
    closed."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if cookie is not None:
        h["Cookie"] = cookie
    c = http.client.HTTPConnection(*hostport(), timeout=timeout)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        hd = {}
        for k, v in r.getheaders():
            hd.setdefault(k.lower(), []).append(v)
        if "text/event-stream" in hd.get("content-type", [""])[0]:
            data = b""
        else:
            data = r.read()
        return r.status, hd, data
    finally:
        c.close()


def jreq(path, token=None, **kw):
    """(status, JSON or None, headers, raw body)"""
    st, hd, data = req(path, token, **kw)
    try:
        js = json.loads(data.decode("utf-8"))
    except ValueError:
        js = None
    return st, js, hd, data


def short(data, n=300):
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    return data if len(data) <= n else data[:n] + "..."


def is_json_error(st, js, hd, want_status, *words):
    """A JSON error answer with that status whose message holds words."""
    ct = hd.get("content-type", [""])[0]
    msg = js.get("error") if isinstance(js, dict) else None
    return (st == want_status and ct.startswith("application/json") and
            isinstance(msg, str) and all(w in msg for w in words))


# ---------------------------------------------------------- event streams

class Stream:
    """An SSE connection read by a thread; events in self.events (dicts
    ev/id/data), self.ended once the server closed it."""

    def __init__(self, token, query="", headers=None):
        h = {"Accept": "text/event-stream"}
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        self.c = http.client.HTTPConnection(*hostport(), timeout=120)
        self.c.request("GET", "/api/events" + query, headers=h)
        self.r = self.c.getresponse()
        self.status = self.r.status
        self.events = []
        self.ended = None
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            for e in read_events(self.r):
                with self.lock:
                    self.events.append(e)
            self.ended = "closed by the server"
        except Exception as x:  # noqa: BLE001 (closed by us, or a timeout)
            self.ended = "error: %r" % x

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def wait(self, pred, secs=60):
        t0 = time.time()
        while time.time() - t0 < secs:
            if pred(self.snapshot()):
                return True
            if self.ended:
                return pred(self.snapshot())
            time.sleep(0.1)
        return False

    def close(self):
        try:
            self.c.sock and self.c.sock.shutdown(2)
        except OSError:
            pass
        self.c.close()


def read_events(resp):
    """Yields {"ev", "id", "data"} for each event of an SSE response."""
    ev, eid, data = None, None, []
    while True:
        line = resp.readline()
        if not line:
            return
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data or ev:
                d = "\n".join(data)
                try:
                    d = json.loads(d)
                except ValueError:
                    pass
                yield {"ev": ev or "message", "id": eid, "data": d}
            ev, eid, data = None, None, []
            continue
        if line.startswith(":"):
            continue
        k, _, v = line.partition(":")
        v = v[1:] if v.startswith(" ") else v
        if k == "event":
            ev = v
        elif k == "id":
            eid = v
        elif k == "data":
            data.append(v)


def cmd_sse(a):
    out, token = a[0], a[1]
    opts = dict(zip(a[2::2], a[3::2]))
    cut = int(opts.get("--cut", 0))
    until = int(opts.get("--until", 0))
    last = opts.get("--last-id")
    frm = opts.get("--from")
    f = open(out, "a", encoding="utf-8")

    def put(o):
        f.write(json.dumps(o) + "\n")
        f.flush()

    conn = 0
    while True:
        conn += 1
        h = {"Accept": "text/event-stream", "Authorization": "Bearer " + token}
        if last is not None:
            h["Last-Event-ID"] = str(last)
        c = http.client.HTTPConnection(*hostport(), timeout=300)
        c.request("GET", "/api/events" + ("?from=%s" % frm if frm else ""),
                  headers=h)
        r = c.getresponse()
        put({"c": conn, "status": r.status})
        if r.status != 200:
            put({"c": conn, "end": "status %d: %s" % (r.status,
                                                      short(r.read()))})
            return 1
        n, why, done = 0, "closed by the server", False
        try:
            for e in read_events(r):
                e["c"] = conn
                put(e)
                if e["ev"] == "alert":
                    n += 1
                    last = e["id"]
                    if until and int(e["id"]) >= until:
                        why, done = "reached %d" % until, True
                        break
                    if cut and n >= cut:
                        why = "cut after %d alerts" % n
                        break
        except Exception as x:  # noqa: BLE001
            why = "error: %r" % x
        try:
            c.sock and c.sock.shutdown(2)
        except OSError:
            pass
        c.close()
        end = {"c": conn, "end": why}
        if why.startswith("cut") and REDIS and PFX:
            end["log_seq"] = int(rcli("GET", PFX + ":alerts:seq") or 0)
        put(end)
        if not cut or done or why.startswith("closed") or \
                why.startswith("error"):
            return 0
        time.sleep(0.7)  # the writer goes on meanwhile


def read_out(path):
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def cmd_wait(a):
    path, what = a[0], a[1]
    arg = a[2] if len(a) > 2 and not a[2].startswith("--") else None
    secs = float(a[a.index("--timeout") + 1]) if "--timeout" in a else 60
    t0 = time.time()
    while True:
        evs = read_out(path)
        alerts = [e for e in evs if e.get("ev") == "alert"]
        if what == "--alerts" and len(alerts) >= int(arg):
            return 0
        if what == "--seq" and any(int(e["id"]) >= int(arg) for e in alerts):
            return 0
        if what == "--end" and any("end" in e for e in evs):
            return 0
        if what == "--hello" and any(e.get("ev") == "hello" for e in evs):
            return 0
        if time.time() - t0 > secs:
            print("%s: not within %d s: %d alerts (last id %s), %d lines, "
                  "last line %s" % (what, secs, len(alerts),
                                    alerts[-1]["id"] if alerts else None,
                                    len(evs), evs[-1] if evs else None))
            return 1
        time.sleep(0.2)


def compare_alerts(got, first, last, sections=None, log=None):
    """Problems of a list of ALERT dicts (in the order received) against
    the published log entries first..last (of sections)."""
    log = log if log is not None else log_entries()
    want = [s for s in sorted(log) if first <= s <= last and
            (sections is None or log[s].get("section") in sections)]
    seqs = [g.get("seq") for g in got]
    problems = []
    if not want:
        problems.append("the log holds no entry in %d..%d" % (first, last))
    if seqs != want:
        cnt = {}
        for s in seqs:
            cnt[s] = cnt.get(s, 0) + 1
        ws = set(want)
        missing = [s for s in want if s not in cnt]
        dups = sorted(s for s, k in cnt.items() if k > 1)
        extra = sorted((s for s in cnt if s not in ws), key=str)
        disorder = [(seqs[i - 1], seqs[i]) for i in range(1, len(seqs))
                    if isinstance(seqs[i], int) and
                    isinstance(seqs[i - 1], int) and seqs[i] <= seqs[i - 1]]
        problems.append("%d alerts received for %d wanted; missing %d %s; "
                        "duplicated %d %s; not wanted %d %s; out of order "
                        "%d %s" % (len(seqs), len(want), len(missing),
                                   missing[:8], len(dups), dups[:8],
                                   len(extra), extra[:8], len(disorder),
                                   disorder[:5]))
    mism = 0
    for g in got:
        s = g.get("seq")
        if s in log:
            b = dict(g)
            del b["seq"]
            if b != log[s]:
                mism += 1
                if mism <= 2:
                    keys = sorted(k for k in set(b) | set(log[s])
                                  if b.get(k) != log[s].get(k))
                    problems.append("seq %s differs from its log entry in %s:"
                                    " got %s, log %s" % (
                                        s, keys, {k: b.get(k) for k in keys},
                                        {k: log[s].get(k) for k in keys}))
    if mism:
        problems.append("%d alerts differ from their log entry" % mism)
    return problems


def cmd_seqcheck(a):
    path, first, last = a[0], int(a[1]), int(a[2])
    secs = None
    if "--sections" in a:
        secs = set(a[a.index("--sections") + 1].split(","))
    evs = read_out(path)
    problems = []
    got = []
    for e in evs:
        if e.get("ev") != "alert":
            continue
        d = e.get("data")
        if not isinstance(d, dict):
            problems.append("an alert event's data is not a JSON object: %r"
                            % (d,))
            continue
        if str(d.get("seq")) != str(e.get("id")):
            problems.append("event id %s != data seq %s" % (e.get("id"),
                                                            d.get("seq")))
        got.append(d)
    if "--hello-first" in a:
        conns = {}
        for e in evs:
            if "ev" in e:
                conns.setdefault(e["c"], e["ev"])
        bad = {c: ev for c, ev in conns.items() if ev != "hello"}
        if bad:
            problems.append("connections whose first event is not hello: %s"
                            % bad)
    problems += compare_alerts(got, first, last, secs)
    for p in problems:
        print(p)
    return 1 if problems else 0


# -------------------------------------------------------------- seeding

def series_member(start, count, exp, bound, alarm):
    return "%d %s %s %s %d" % (start, count, exp, bound, alarm)


def cmd_seed(_a):
    """HU-RS: 60 daily buckets from 2019-01-01 (some with - for expected
    and bound); GR-MK: 10; HR-SI: 5, one of them with a count of 1234567;
    PL-UA: the preview's 30 from 2019-03-01."""
    cmds = [["HSET", PFX + ":series:meta", "bucket_ms", DAY]]
    args = []
    for i in range(60):
        st = T0 + i * DAY
        c = 10 + (i * 7) % 23
        if i % 7 == 3:
            m = series_member(st, c, "-", "-", 0)
        else:
            exp = "%.6g" % (14 + (i % 5) * 0.25)
            bound = 25 + i % 4
            m = series_member(st, c, exp, bound, 1 if c >= bound else 0)
        args += [st, m]
    cmds.append(["ZADD", PFX + ":series:HU-RS"] + args)
    args = []
    for i in range(10):
        st = T0 + (50 + i) * DAY
        args += [st, series_member(st, 5 + i, "6.5", 12, 1 if 5 + i >= 12
                                   else 0)]
    cmds.append(["ZADD", PFX + ":series:GR-MK"] + args)
    args = []
    for i in range(5):
        st = T0 + (55 + i) * DAY
        c = 1234567 if i == 4 else 900 + i
        args += [st, series_member(st, c, "1000.5" if i < 4 else "1.2e+06",
                                   1234568 if i == 4 else 1300, 0)]
    cmds.append(["ZADD", PFX + ":series:HR-SI"] + args)
    args = []
    for i, c in enumerate(PREVIEW_COUNTS):
        st = MAR1 + i * DAY
        args += [st, series_member(st, c, "-", PREVIEW_LIMIT,
                                   1 if c >= PREVIEW_LIMIT else 0)]
    cmds.append(["ZADD", PFX + ":series:PL-UA"] + args)
    for c in cmds:
        rcli(*c)
    return 0


# ----------------------------------------------------------- 1. access

def set_cookie_ok(values, token):
    for v in values:
        parts = [p.strip() for p in v.split(";")]
        attrs = {p.split("=", 1)[0].lower(): (p.split("=", 1) + [""])[1]
                 for p in parts[1:]}
        if parts[0] == "sw_token=" + token and "httponly" in attrs and \
                attrs.get("samesite", "").lower() == "strict":
            return True
    return False


def phase_access(t, a):
    op, wall, lim, lim_secs = a[0], a[1], a[2], a[3].split(",")
    st, js, hd, raw = jreq("/api/state")
    t.ok(is_json_error(st, js, hd, 401, "Authorization: Bearer", "sw_token",
                       "token="),
         "1: GET /api/state without a token: 401, JSON error naming the "
         "accepted ways (Bearer, the sw_token cookie, ?token=)",
         "got %d %s: %s" % (st, hd.get("content-type"), short(raw)))
    st, hd, raw = req("/")
    body = raw.decode("utf-8", "replace")
    t.ok(st == 401 and hd.get("content-type", [""])[0].startswith(
        "text/html") and "<form" in body and 'name="token"' in body,
        "1: GET / without a token: 401, an HTML form asking for the token",
        "got %d %s: %s" % (st, hd.get("content-type"), short(raw)))
    bad = "x" + op[1:] if op[0] != "x" else "y" + op[1:]
    res = [jreq("/api/state", bad)[0],
           jreq("/api/state", cookie="sw_token=" + bad)[0],
           req("/?token=" + urllib.parse.quote(bad))[0],
           jreq("/api/state", "")[0]]
    t.ok(res == [401, 401, 401, 401],
         "1: a wrong token (Bearer, cookie, /?token=, empty Bearer): 401",
         "got %s" % res)
    st, hd, raw = req("/?token=" + urllib.parse.quote(wall))
    loc = (hd.get("location") or [""])[0]
    target = urllib.parse.urljoin(WEB + "/?token=" + wall, loc)
    tu = urllib.parse.urlparse(target)
    t.ok(st == 303 and set_cookie_ok(hd.get("set-cookie", []), wall) and
         loc != "" and wall not in loc and tu.path == "/" and
         wall not in tu.query,
         "1: GET /?token=GOOD: 303, Set-Cookie sw_token (HttpOnly, "
         "SameSite=Strict), Location / without the token",
         "got %d, Set-Cookie %s, Location %r (-> %s)" % (
             st, hd.get("set-cookie"), loc, target))
    st, js, hd, raw = jreq("/api/state", cookie="sw_token=" + wall)
    st2, hd2, raw2 = req("/", cookie="sw_token=" + wall)
    t.ok(st == 200 and isinstance(js, dict) and
         js.get("viewer") == {"name": "wall", "role": "viewer"} and
         st2 == 200 and b"<html" in raw2.lower(),
         "1: the sw_token cookie then works: /api/state 200 as "
         "{name: wall, role: viewer}, / 200 (the page)",
         "got /api/state %d %s; / %d %s" % (st, short(raw, 200), st2,
                                           short(raw2, 80)))
    st, js, hd, raw = jreq("/api/state", op)
    t.ok(st == 200 and isinstance(js, dict) and
         js.get("viewer") == {"name": "ops", "role": "operator"} and
         hd.get("content-type", [""])[0].startswith("application/json"),
         "1: Authorization: Bearer works: /api/state 200 JSON as "
         "{name: ops, role: operator}",
         "got %d %s: %s" % (st, hd.get("content-type"), short(raw, 200)))

    # the limited viewer's state against Redis
    log = log_entries()
    all_secs = sorted(rcli("SMEMBERS", PFX + ":sections", js=True))
    active = {k: json.loads(v) for k, v in
              (rcli("HGETALL", PFX + ":alerts:active", js=True) or {}).items()}
    logseq = int(rcli("GET", PFX + ":alerts:seq"))
    for name, tok, secs in (("wall", wall, None), ("lim", lim, lim_secs)):
        st, js, hd, raw = jreq("/api/state", tok)
        if not t.ok(st == 200 and isinstance(js, dict),
                    "1: /api/state of %s: 200" % name, short(raw)):
            continue
        vis = (lambda s: True) if secs is None else (lambda s: s in secs)
        want_secs = [s for s in all_secs if vis(s)]
        got_secs = [s.get("section") for s in js.get("sections", [])]
        t.ok(got_secs == want_secs,
             "1: /api/state of %s: sections are exactly %s (of %s)" % (
                 name, ",".join(want_secs), ",".join(all_secs)),
             "got %s" % got_secs)
        want_act = {k: v for k, v in active.items() if vis(v["section"])}
        got_act = js.get("active", [])
        got_map = {x.get("alert_id"): x for x in got_act}
        t.ok(len(got_map) == len(got_act) and got_map == want_act,
             "1: /api/state of %s: active is exactly the %d active alerts "
             "(of %d) of its sections, as in %s:alerts:active" % (
                 name, len(want_act), len(active), PFX),
             "got %d: %s" % (len(got_act), sorted(got_map)[:6]),
             "want %d: %s" % (len(want_act), sorted(want_act)[:6]),
             "differing: %s" % [k for k in set(got_map) | set(want_act)
                                if got_map.get(k) != want_act.get(k)][:4])
        levels = {}
        order = ["low", "medium", "high", "critical"]
        for x in want_act.values():
            cur = levels.get(x["section"])
            if cur is None or order.index(x["level"]) > order.index(cur):
                levels[x["section"]] = x["level"]
        got_lv = {s.get("section"): s.get("level")
                  for s in js.get("sections", [])}
        want_lv = {s: levels.get(s) for s in want_secs}
        t.ok(got_lv == want_lv,
             "1: /api/state of %s: each section's level is the highest of "
             "its active alerts (null: none)" % name,
             "got %s" % got_lv, "want %s" % want_lv)
        recent = js.get("recent", [])
        want_rec = [s for s in sorted(log) if vis(log[s]["section"])][-50:]
        probs = compare_alerts(recent, want_rec[0] if want_rec else 1,
                               logseq, secs and set(secs), log)
        t.ok(not probs and len(recent) == min(50, len(want_rec)),
             "1: /api/state of %s: recent is the last 50 transitions of its "
             "sections, oldest first, each equal to its log entry" % name,
             *probs)
        t.ok(js.get("seq") == logseq and js.get("bucket_ms") == DAY and
             isinstance(js.get("now"), int),
             "1: /api/state of %s: seq = %s:alerts:seq (%d), bucket_ms = %d,"
             " now" % (name, PFX, logseq, DAY),
             "got seq %s bucket_ms %s now %s" % (
                 js.get("seq"), js.get("bucket_ms"), js.get("now")))

    st, js, hd, raw = jreq("/api/section?name=GR-MK", lim)
    t.ok(is_json_error(st, js, hd, 403),
         "1: the limited viewer: /api/section?name=GR-MK -> 403 JSON error",
         "got %d: %s" % (st, short(raw)))
    st, js, hd, raw = jreq("/api/section?name=HU-RS", lim)
    t.ok(st == 200 and isinstance(js, dict) and js.get("section") == "HU-RS",
         "1: the limited viewer: /api/section?name=HU-RS -> 200",
         "got %d: %s" % (st, short(raw)))
    q = "/api/preview?name=HU-RS&set=threshold.limit%3D30"
    r1 = jreq(q, wall)
    r2 = jreq(q, lim)
    t.ok(is_json_error(r1[0], r1[1], r1[2], 403) and
         is_json_error(r2[0], r2[1], r2[2], 403),
         "1: a viewer (all sections, or limited) gets 403 on /api/preview",
         "got %d %s; %d %s" % (r1[0], short(r1[3]), r2[0], short(r2[3])))
    st, js, hd, raw = jreq(q, op)
    t.ok(st == 200 and isinstance(js, dict) and "proposed" in js,
         "1: an operator gets 200 on /api/preview",
         "got %d: %s" % (st, short(raw)))


# ------------------------------------------------------ 3. bad requests

def metrics(url):
    c = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(c.hostname, c.port, timeout=30)
    conn.request("GET", c.path or "/metrics")
    body = conn.getresponse().read().decode()
    conn.close()
    m = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            m[k] = float(v)
    return m


def fresh_metrics(url):
    """The hub publishes its metrics once a second: a snapshot published
    after this call began (its heartbeats_total, one a second, moved on
    since the first look), so that it counts every request made before."""
    first = metrics(url)
    k = "surgewatch_hub_heartbeats_total"
    t0 = time.time()
    while time.time() - t0 < 30:
        m = metrics(url)
        if m.get(k) != first.get(k):
            return m
        time.sleep(0.1)
    return m


def phase_bad(t, a):
    murl, op, wall, lim = a[0], a[1], a[2], a[3]
    m0 = fresh_metrics(murl)
    counts = {"bad": 0, "denied": 0}

    def count(st):
        if st in (400, 404, 405):
            counts["bad"] += 1
        elif st in (401, 403):
            counts["denied"] += 1

    def bad(desc, path, want, words=(), token=op, **kw):
        st, js, hd, raw = jreq(path, token, **kw)
        count(st)
        t.ok(is_json_error(st, js, hd, want, *words),
             "3: %s -> %d JSON error%s" % (
                 desc, want, (" naming " + ", ".join(repr(w) for w in words))
                 if words else ""),
             "got %d %s: %s" % (st, hd.get("content-type"), short(raw)))

    bad("POST /api/state", "/api/state", 405, ("GET",), method="POST")
    bad("POST /api/state with a body", "/api/state", 405, ("GET",),
        method="POST", body=b"a=1&b=2",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    bad("DELETE /", "/", 405, ("GET",), method="DELETE")
    bad("GET /nope (no token)", "/nope", 404, ("accepted",), token=None)
    bad("GET /api/nope", "/api/nope", 404, ("accepted",))
    acc_sec = ("accepted", "HU-RS")
    bad("/api/section without name", "/api/section", 400, acc_sec)
    bad("/api/section?name=hu-rs", "/api/section?name=hu-rs", 400, acc_sec)
    bad("/api/section?name=HU-RS%2F..%2Fx",
        "/api/section?name=HU-RS%2F..%2Fx", 400, acc_sec)
    acc_t = ("accepted", "RFC 3339")
    bad("/api/section?name=HU-RS&from=garbage",
        "/api/section?name=HU-RS&from=garbage", 400, acc_t)
    bad("/api/section?name=HU-RS&to=2019-13-45",
        "/api/section?name=HU-RS&to=2019-13-45", 400, acc_t)
    bad("/api/section with from after to",
        "/api/section?name=HU-RS&from=2019-02-01&to=2019-01-01", 400)
    bad("/api/section over 1990-01-01..2019-12-31 (10957 buckets)",
        "/api/section?name=HU-RS&from=1990-01-01&to=2019-12-31", 400,
        ("5000",))
    bad("/api/section over exactly 5001 buckets",
        "/api/section?name=HU-RS&from=%d&to=%d" % (T0, T0 + 5000 * DAY), 400,
        ("5000",))
    bad("/api/events?from=garbage", "/api/events?from=garbage", 400,
        ("from",))
    bad("/api/events?from=0", "/api/events?from=0", 400, ("from",))
    bad("/api/events?from=-1", "/api/events?from=-1", 400, ("from",))
    bad("/api/events with Last-Event-ID: abc", "/api/events", 400,
        ("Last-Event-ID",), headers={"Last-Event-ID": "abc"})
    bad("/api/preview without set", "/api/preview?name=PL-UA", 400,
        ("set", "accepted"))
    bad("/api/preview?set=nokey", "/api/preview?name=PL-UA&set=nokey", 400,
        ("nokey", "accepted"))
    bad("/api/preview?set=ears_c2.alpha=0.9",
        "/api/preview?name=PL-UA&set=ears_c2.alpha%3D0.9", 400,
        ("0.9 is out of range (accepted: 0 < alpha < 0.5)",))
    bad("/api/preview?set=nosuch.key=1",
        "/api/preview?name=PL-UA&set=nosuch.key%3D1", 400,
        ("unknown",))
    bad("/api/preview over 1990-01-01..2019-12-31",
        "/api/preview?name=PL-UA&from=1990-01-01&to=2019-12-31"
        "&set=threshold.limit%3D50", 400, ("5000",))
    bad("/api/preview without name", "/api/preview?set=threshold.limit%3D5",
        400, acc_sec)
    # refused: no token, not visible, not an operator
    bad("/api/state with a wrong token", "/api/state", 401, (),
        token="nope")
    bad("/api/section?name=GR-MK (limited viewer)",
        "/api/section?name=GR-MK", 403, (), token=lim)
    bad("/api/preview as a viewer", "/api/preview?name=HU-RS&set=threshold"
        ".limit%3D30", 403, (), token=wall)
    m1 = fresh_metrics(murl)
    kb, kd = "surgewatch_hub_web_bad_requests_total", \
        "surgewatch_hub_web_denied_total"
    db = m1.get(kb, -1) - m0.get(kb, 0)
    dd = m1.get(kd, -1) - m0.get(kd, 0)
    t.ok(kb in m1 and db == counts["bad"],
         "3: /metrics %s went up by the %d answers 400/404/405" % (
             kb, counts["bad"]),
         "before %s after %s" % (m0.get(kb), m1.get(kb)),
         "after: %s" % {k: v for k, v in m1.items() if "_web_" in k})
    t.ok(kd in m1 and dd == counts["denied"],
         "3: /metrics %s went up by the %d answers 401/403" % (
             kd, counts["denied"]),
         "before %s after %s" % (m0.get(kd), m1.get(kd)))


# -------------------------------------------------- 5. series, silences

def phase_series(t, a):
    wall, lim = a[0], a[1]
    sw = Stream(wall)
    sl = Stream(lim)
    hello = (lambda evs: any(e["ev"] == "hello" for e in evs))
    if not t.ok(sw.status == 200 and sl.status == 200 and sw.wait(hello) and
                sl.wait(hello),
                "5: event streams of wall and lim open (hello)",
                "status %s %s" % (sw.status, sl.status)):
        return
    # a new bucket of HU-RS (day 60) and of GR-MK (day 60), then the
    # notification as a worker sends it
    hu = series_member(T0 + 60 * DAY, 33, "24.5", 31, 1)
    gr = series_member(T0 + 60 * DAY, 17, "-", 12, 1)
    rcli("ZADD", PFX + ":series:HU-RS", T0 + 60 * DAY, hu)
    rcli("ZADD", PFX + ":series:GR-MK", T0 + 60 * DAY, gr)
    rcli("PUBLISH", PFX + ":series", "HU-RS GR-MK")

    def has(sec, b):
        return lambda evs: any(e["ev"] == "series" and isinstance(
            e["data"], dict) and e["data"].get("section") == sec and
            e["data"].get("bucket") == b for e in evs)
    want_hu, want_gr = bucket_of(hu), bucket_of(gr)
    ok_w = sw.wait(lambda evs: has("HU-RS", want_hu)(evs) and
                   has("GR-MK", want_gr)(evs), 30)
    t.ok(ok_w, "5: after PUBLISH %s:series 'HU-RS GR-MK', an open stream gets"
         " event: series {section: HU-RS, bucket: %s} and GR-MK's %s" % (
             PFX, want_hu, want_gr),
         "series events: %s" % [e["data"] for e in sw.snapshot()
                                if e["ev"] == "series"][:6])
    ok_l = sl.wait(has("HU-RS", want_hu), 30)
    time.sleep(1.0)  # a stray GR-MK event would show up by now
    lser = [e["data"] for e in sl.snapshot() if e["ev"] == "series"]
    t.ok(ok_l and all(isinstance(d, dict) and d.get("section") == "HU-RS"
                      for d in lser),
         "5: the limited viewer's stream gets HU-RS's bucket and no series "
         "event of GR-MK", "series events: %s" % lser[:6])
    stored = {e["data"]["section"]: [] for e in sw.snapshot()
              if e["ev"] == "series" and isinstance(e["data"], dict)}
    bad = []
    for e in sw.snapshot():
        if e["ev"] == "series" and isinstance(e["data"], dict):
            d = e["data"]
            if d.get("bucket") not in members(d.get("section")):
                bad.append(d)
    t.ok(not bad, "5: every series event of the stream is a stored bucket "
         "(%s)" % ",".join(sorted(stored)), "not stored: %s" % bad[:4])
    # a late event changes day 59 of HU-RS: the member replaced, notified
    old59 = [m for m in rcli("ZRANGEBYSCORE", PFX + ":series:HU-RS",
                             T0 + 59 * DAY, T0 + 59 * DAY, js=True)]
    new59 = series_member(T0 + 59 * DAY, 77, "15", 26, 1)
    for m in old59:
        rcli("ZREM", PFX + ":series:HU-RS", m)
    rcli("ZADD", PFX + ":series:HU-RS", T0 + 59 * DAY, new59)
    rcli("PUBLISH", PFX + ":series", "HU-RS")
    t.ok(sw.wait(has("HU-RS", bucket_of(new59)), 30),
         "5: a bucket updated by late events (HU-RS day 59 -> count 77) "
         "reaches the open stream", "series events: %s" % [
             e["data"] for e in sw.snapshot() if e["ev"] == "series"][-4:])
    sw.close()
    sl.close()

    st, js, hd, raw = jreq("/api/state", wall)
    secs = {s.get("section"): s for s in (js or {}).get("sections", [])}
    for sec in ("HU-RS", "GR-MK", "PL-UA"):
        want = members(sec)[-48:]
        got = secs.get(sec, {}).get("series")
        t.ok(st == 200 and got == want,
             "5: /api/state: %s's series = the last %d stored buckets, "
             "oldest first, '-' as null" % (sec, len(want)),
             "got %d: %s" % (len(got or []), short(json.dumps(got), 300)),
             "want %d: %s" % (len(want), short(json.dumps(want), 300)))
    want = members("HR-SI")
    got = secs.get("HR-SI", {}).get("series")
    t.ok(got == want,
         "5: /api/state: HR-SI's series holds the stored count 1234567 and "
         "bound 1234568 exactly (integers of 7 digits)",
         "got  %s" % json.dumps(got), "want %s" % json.dumps(want))
    hu_all = members("HU-RS")

    def day(i):
        return datetime.datetime.fromtimestamp(
            (T0 + i * DAY) / 1000, datetime.timezone.utc).strftime("%Y-%m-%d")
    for q, lo, hi in (
            ("from=%s&to=%s" % (day(9), day(19)), 9, 19),
            ("from=%s&to=%s" % (urllib.parse.quote(day(20) + "T00:00:00Z"),
                                urllib.parse.quote(day(40) + "T00:00:00Z")),
             20, 40),
            ("from=%d&to=%d" % (T0 + 55 * DAY, T0 + 70 * DAY), 55, 70),
            ("", 61 - 90, 60)):
        st, js, hd, raw = jreq("/api/section?name=HU-RS" +
                               ("&" + q if q else ""), wall)
        want = [b for b in hu_all if T0 + lo * DAY <= b[0] <= T0 + hi * DAY]
        got = (js or {}).get("series")
        t.ok(st == 200 and got == want and js.get("bucket_ms") == DAY,
             "5: /api/section?name=HU-RS%s: exactly the %d stored buckets of "
             "the period" % ("&" + q if q else " (default: the last 90 "
                             "buckets)", len(want)),
             "got %d %s: %s" % (st, len(got or []), short(json.dumps(got))),
             "want starts %s..%s" % (want[0][0] if want else None,
                                     want[-1][0] if want else None))


def iso_ms(v):
    return int(datetime.datetime.fromisoformat(
        v.replace("Z", "+00:00")).timestamp() * 1000)


def phase_secalerts(t, a):
    """The alerts of /api/section: the transitions of the section whose
    window ends in the period. The writer's runs each start their windows
    at the same time: the period chosen lies after the windows of the
    first two runs (seq <= 400), inside those of the third."""
    sw_bin, wall = a[0], a[1]
    log = log_entries()
    hu = [dict(log[s], seq=s) for s in sorted(log)
          if log[s]["section"] == "HU-RS"]
    st, js, hd, raw = jreq("/api/section?name=HU-RS&from=%d&to=%d" % (
        min(iso_ms(x["window_end"]) for x in hu) // DAY * DAY,
        max(iso_ms(x["window_end"]) for x in hu) // DAY * DAY), wall)
    got = (js or {}).get("alerts")
    t.ok(st == 200 and got == hu,
         "5: /api/section?name=HU-RS over all its alert windows: alerts = "
         "its %d transitions, oldest first, each as in the log" % len(hu),
         "got %d %s" % (st, [x.get("seq") for x in got or []][:10]),
         "want %s" % [x["seq"] for x in hu][:10])
    early = max(iso_ms(log[s]["window_end"]) for s in log if s <= 400)
    lo = (early // DAY + 2) * DAY
    hi = lo + 2 * DAY

    def period(sec):
        st, js, hd, raw = jreq("/api/section?name=%s&from=%d&to=%d" % (
            sec, lo, hi), wall)
        got = [x.get("seq") for x in (js or {}).get("alerts", [])]
        al = [(s, iso_ms(log[s]["window_end"])) for s in sorted(log)
              if log[s]["section"] == sec]
        inner = [s for s, e in al if lo < e < hi + DAY]
        outer = [s for s, e in al if lo <= e <= hi + DAY]
        return (st == 200 and set(inner) <= set(got) <= set(outer) and
                got == sorted(got) and len(inner) > 0), st, got, inner

    day = datetime.datetime.fromtimestamp(
        lo / 1000, datetime.timezone.utc).strftime("%Y-%m-%d")
    ok, st, got, inner = period("HU-RS")
    t.ok(ok, "5: /api/section?name=HU-RS over 3 days from %s: alerts = the "
         "%d transitions whose window ends in the period, oldest first" % (
             day, len(inner)), "got %d %s" % (st, got[:12]),
         "want %s" % inner[:12])
    # an acknowledgement of an older alert: its transition (later seq,
    # the alert's own older window) must not hide the newer ones
    active = {k: json.loads(v) for k, v in
              (rcli("HGETALL", PFX + ":alerts:active", js=True) or {}).items()}
    old = sorted((x for x in active.values()
                  if iso_ms(x["window_end"]) < lo), key=lambda x: x["seq"])
    if not t.ok(old, "5: an active alert with a window before the period "
                "(to acknowledge)", "active: %s" % list(active)):
        return
    x = old[0]
    sec = x["section"]
    ok0, st0, got0, inner0 = period(sec)
    r = subprocess.run([sw_bin, "ctl", "-r", REDIS, "--redis-prefix", PFX,
                        "--as", "anna", "ack", x["alert_id"], "--note",
                        "seen"], capture_output=True, text=True)
    log2 = log_entries()
    acks = [s for s in log2 if s > max(log) and
            log2[s].get("alert_id") == x["alert_id"]]
    ok1, st1, got1, inner1 = period(sec)
    t.ok(r.returncode == 0 and acks and ok0 and ok1 and got1 == got0,
         "5: after `ctl ack` of an older alert of %s (window ending %s, "
         "ack seq %s), /api/section?name=%s over the 3 days still lists the "
         "%d transitions whose window ends there" % (
             sec, x["window_end"], acks, sec, len(inner0)),
         "ctl ack: exit %d %s" % (r.returncode, r.stderr.strip()[:200]),
         "before the ack: %d %s (want %s)" % (st0, got0[:10], inner0[:10]),
         "after the ack:  %d %s (want %s)" % (st1, got1[:10], inner1[:10]))


def phase_silences(t, a):
    sw_bin, wall, lim = a[0], a[1], a[2]
    sw = Stream(wall)
    sl = Stream(lim)
    sw.wait(lambda evs: any(e["ev"] == "hello" for e in evs))
    sl.wait(lambda evs: any(e["ev"] == "hello" for e in evs))

    def ctl(*args):
        return subprocess.run([sw_bin, "ctl", "-r", REDIS, "--redis-prefix",
                               PFX, "--as", "anna"] + list(args),
                              capture_output=True, text=True)
    r = ctl("silence", "add", "GR-*", "--until", "6h", "--reason",
            "joint exercise")
    stored = rcli("HGETALL", PFX + ":silences", js=True) or {}
    sid = next(iter(stored), None)
    if not t.ok(r.returncode == 0 and sid,
                "5: ctl silence add 'GR-*' --until 6h: exit 0, stored",
                "exit %d: %s %s" % (r.returncode, r.stdout, r.stderr)):
        return
    raw = json.loads(stored[sid])

    def sil_has(i):
        return lambda evs: any(e["ev"] == "silences" and isinstance(
            e["data"], list) and any(isinstance(s, dict) and s.get("id") == i
                                     for s in e["data"]) for e in evs)
    ok = sw.wait(sil_has(sid), 30)
    evs = [e["data"] for e in sw.snapshot() if e["ev"] == "silences"]
    t.ok(ok, "5: an open stream gets event: silences holding %s within "
         "seconds" % sid, "silences events: %s" % evs[-3:])
    got = next((s for d in evs if isinstance(d, list) for s in d
                if isinstance(s, dict) and s.get("id") == sid), {})
    keys = {"id", "sections", "detector", "until", "reason", "created_by",
            "created"}

    def rfc(v):
        try:
            return isinstance(v, str) and datetime.datetime.fromisoformat(
                v.replace("Z", "+00:00")).timestamp() * 1000
        except ValueError:
            return False
    t.ok(keys <= set(got) and got.get("sections") == "GR-*" and
         got.get("reason") == "joint exercise" and
         got.get("created_by") == "anna" and got.get("detector") == "*",
         "5: the SILENCE: id, sections GR-*, detector, until, reason, "
         "created_by, created", "got %s" % got)
    t.ok(rfc(got.get("until")) and rfc(got.get("created")) and
         abs(rfc(got.get("until")) - raw["until"]) < 1000,
         "5: the SILENCE's until and created are RFC 3339 times (docs/web.md"
         ": 'times RFC 3339')",
         "got until=%r created=%r" % (got.get("until"), got.get("created")),
         "stored in Redis: %s" % stored[sid])
    time.sleep(0.5)
    lev = [e["data"] for e in sl.snapshot() if e["ev"] == "silences"]
    t.ok(not any(isinstance(d, list) and any(
        isinstance(s, dict) and s.get("id") == sid for s in d) for d in lev),
        "5: the limited viewer's (HU-RS,HR-SI) stream does not get the GR-* "
        "silence", "silences events: %s" % lev)
    sw_ids = [s.get("id") for s in (jreq("/api/state", wall)[1] or {}).get(
        "silences", [])]
    sl_ids = [s.get("id") for s in (jreq("/api/state", lim)[1] or {}).get(
        "silences", [])]
    t.ok(sid in sw_ids and sid not in sl_ids,
         "5: /api/state lists the GR-* silence for the all-seeing viewer, "
         "not for the viewer of HU-RS,HR-SI",
         "wall: %s; lim: %s" % (sw_ids, sl_ids))
    r = ctl("silence", "add", "HU-*", "--until", "2h", "--reason", "drill")
    stored2 = rcli("HGETALL", PFX + ":silences", js=True) or {}
    sid2 = next((k for k in stored2 if k != sid), None)
    ok = r.returncode == 0 and sid2 and sl.wait(sil_has(sid2), 30)
    sl_ids = [s.get("id") for s in (jreq("/api/state", lim)[1] or {}).get(
        "silences", [])]
    t.ok(ok and sid2 in sl_ids and sid not in sl_ids,
         "5: a silence of 'HU-*' reaches the limited viewer's stream and "
         "its /api/state (the GR-* one still not)",
         "ctl exit %d %s; lim /api/state silences: %s" % (
             r.returncode, r.stderr.strip(), sl_ids))
    r = ctl("silence", "expire", sid)

    def latest_without(evs):
        last = [e["data"] for e in evs if e["ev"] == "silences" and
                isinstance(e["data"], list)]
        ids = [s.get("id") for s in last[-1] if isinstance(s, dict)] \
            if last else []
        return sid not in ids and sid2 in ids
    ok = r.returncode == 0 and sw.wait(latest_without, 30)
    sw_ids = [s.get("id") for s in (jreq("/api/state", wall)[1] or {}).get(
        "silences", [])]
    t.ok(ok and sid not in sw_ids and sid2 in sw_ids,
         "5: ctl silence expire %s: the stream gets the silences without it,"
         " /api/state no longer lists it" % sid,
         "ctl exit %d %s; wall /api/state silences: %s" % (
             r.returncode, r.stderr.strip(), sw_ids))
    sw.close()
    sl.close()


# ----------------------------------------------------------- 6. preview

def phase_preview(t, a):
    op = a[0]
    starts = [MAR1 + i * DAY for i in range(len(PREVIEW_COUNTS))]
    st, js, hd, raw = jreq("/api/section?name=PL-UA&from=2019-03-01&to="
                           "2019-03-30", op)
    sets = {(s.get("key"), s.get("scope")): s.get("value")
            for s in (js or {}).get("settings", [])}
    t.ok(st == 200 and sets.get(("run", "PL-UA")) == "threshold" and
         sets.get(("threshold.limit", "PL-UA")) == str(PREVIEW_LIMIT),
         "6: /api/section?name=PL-UA: settings hold run=threshold and "
         "threshold.limit=%d of scope PL-UA" % PREVIEW_LIMIT,
         "got %d settings %s" % (st, (js or {}).get("settings")))
    for limit in (50, 30):
        q = ("/api/preview?name=PL-UA&from=2019-03-01&to=2019-03-30"
             "&set=threshold.limit%%3D%d" % limit)
        st, js, hd, raw = jreq(q, op)
        if not t.ok(st == 200 and isinstance(js, dict),
                    "6: %s: 200" % q, "got %d: %s" % (st, short(raw))):
            continue
        for side, lim in (("current", PREVIEW_LIMIT), ("proposed", limit)):
            want = [[s, c, None, lim, 1 if c >= lim else 0]
                    for s, c in zip(starts, PREVIEW_COUNTS)]
            got = (js.get(side) or {}).get("series")
            diff = [(g, w) for g, w in zip(got or [], want) if g != w]
            t.ok(got == want,
                 "6: preview limit %d, %s side (limit %d): the 30 buckets "
                 "with their counts, expected null, bound %d, alarm exactly "
                 "where count >= %d" % (limit, side, lim, lim, lim),
                 "got %d buckets; first differences (got, want): %s" % (
                     len(got or []), diff[:4]))
            n = sum(1 for c in PREVIEW_COUNTS if c >= lim)
            t.ok((js.get(side) or {}).get("alarms") == n,
                 "6: preview limit %d, %s side: alarms = %d (the buckets "
                 "with count >= %d)" % (limit, side, n, lim),
                 "got %s" % (js.get(side) or {}).get("alarms"))
        want_ch = [{"key": "threshold.limit", "from": str(PREVIEW_LIMIT),
                    "to": str(limit)}]
        t.ok(js.get("changes") == want_ch and js.get("section") == "PL-UA"
             and js.get("bucket_ms") == DAY,
             "6: preview limit %d: changes = %s" % (limit, want_ch),
             "got %s" % js.get("changes"))


def cmd_logcount(a):
    """the number of published log entries FIRST..LAST of SECTIONS"""
    secs, first, last = set(a[0].split(",")), int(a[1]), int(a[2])
    log = log_entries()
    print(sum(1 for s in log if first <= s <= last and
              log[s]["section"] in secs))
    return 0


def cmd_status(a):
    print(req(a[1], a[0])[0])
    return 0


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    simple = {"seed": cmd_seed, "sse": cmd_sse, "wait": cmd_wait,
              "seqcheck": cmd_seqcheck, "status": cmd_status,
              "logcount": cmd_logcount}
    if cmd in simple:
        return simple[cmd](a)
    phases = {"access": phase_access, "bad": phase_bad,
              "series": phase_series, "preview": phase_preview,
              "secalerts": phase_secalerts,
              "silences": phase_silences}
    t = Tap()
    try:
        phases[cmd](t, a)
    except Exception as x:  # noqa: BLE001: a crash is a failure, not a stop
        import traceback
        t.ok(False, "%s: the checks ran to the end" % cmd,
             traceback.format_exc())
    return 0


if __name__ == "__main__":
    sys.exit(main())
