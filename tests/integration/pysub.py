#!/usr/bin/python3
"""A surgewatch alert subscriber written from docs/alerts.md alone, with pyzmq
and msgpack (no project code): SUB for live alerts and heartbeats, DEALER for
replay requests, optional CURVE. Prints one JSON line per alert (the msgpack
keys as they came, times as integers), each seq once, in seq order per
section; fills gaps per section from "prev" and tails from heartbeats.

usage: pysub.py --pub tcp://H:P [--replay tcp://H:P2] [--server-key hub.pub
       --key me.key] [--prefix alert.HU-]... [--from-seq N | --live]
       [--count N] [--seconds S]
Default start: the snapshot. Exit 0 at --count/--seconds, 3 when the hub
never answered (a summary line goes to stderr)."""
import argparse
import json
import signal
import sys
import time

import msgpack
import zmq
import zmq.auth

ap = argparse.ArgumentParser()
ap.add_argument("--pub", required=True)
ap.add_argument("--replay", help="default: the PUB port + 1")
ap.add_argument("--server-key")
ap.add_argument("--key")
ap.add_argument("--prefix", action="append", default=[])
ap.add_argument("--from-seq", type=int, default=0)
ap.add_argument("--live", action="store_true")
ap.add_argument("--count", type=int, default=0)
ap.add_argument("--seconds", type=float, default=0)
o = ap.parse_args()
if bool(o.server_key) != bool(o.key):
    sys.exit("pysub: --server-key and --key go together")
if not o.replay:
    host, port = o.pub.rsplit(":", 1)
    o.replay = "%s:%d" % (host, int(port) + 1)
prefixes = o.prefix or [""]
deadline = time.monotonic() + o.seconds if o.seconds else None


class Stop(Exception):
    pass


def left_ms(cap):
    if deadline is None:
        return cap
    t = int((deadline - time.monotonic()) * 1000)
    if t <= 0:
        raise Stop()
    return min(t, cap)


def on_term(*_):
    raise Stop()


signal.signal(signal.SIGTERM, on_term)
ctx = zmq.Context()


def sock(kind):
    s = ctx.socket(kind)
    s.linger = 0
    if o.server_key:
        s.curve_serverkey = zmq.auth.load_certificate(o.server_key)[0]
        s.curve_publickey, s.curve_secretkey = zmq.auth.load_certificate(o.key)
    return s


sub = sock(zmq.SUB)
sub.rcvhwm = 100000
for p in prefixes:  # subscribe first (docs/alerts.md, step 1)
    sub.setsockopt(zmq.SUBSCRIBE, p.encode())
sub.setsockopt(zmq.SUBSCRIBE, b"hb.")
sub.connect(o.pub)
dealer = sock(zmq.DEALER)
dealer.connect(o.replay)
req_id = 0
answered = False


def request(op, prefix=None, **kw):
    """One request; resent every 2 s until the reply with its id comes."""
    global req_id, answered
    while True:
        req_id += 1
        msg = dict(op=op, id=req_id, prefixes=[prefix] if prefix else prefixes)
        msg.update(kw)
        t_end = time.monotonic() + 2
        try:
            dealer.send(msgpack.packb(msg), zmq.NOBLOCK)
        except zmq.Again:  # not connected (yet): wait and send again
            time.sleep(left_ms(200) / 1000)
            continue
        while time.monotonic() < t_end:
            if dealer.poll(left_ms(int((t_end - time.monotonic()) * 1000) + 1)):
                r = msgpack.unpackb(dealer.recv(), raw=False)
                if r.get("id") != req_id:
                    continue  # a late answer to an earlier request
                answered = True
                if not r.get("ok"):
                    sys.exit("pysub: hub refused %s: %s" % (op, r.get("error")))
                return r


n = dict(printed=0, live=0, replayed=0, gaps=0)
last = {}  # section -> last seq handled
floor = done = checked = 0
everything = False  # sees every section: global rule, next seq = done + 1


def emit(a, replayed):
    print(json.dumps(a), flush=True)
    n["printed"] += 1
    n["replayed" if replayed else "live"] += 1
    if o.count and n["printed"] >= o.count:
        raise Stop()


def handle(a, replayed):
    global done
    if everything:
        if a["seq"] <= done:
            return
        done = a["seq"]
    else:
        if a["seq"] <= last.get(a["section"], floor):
            return
        last[a["section"]] = a["seq"]
    emit(a, replayed)


def fill(frm, to, prefix=None):
    """range requests from frm to `to` (0: the latest), following next."""
    while to == 0 or frm <= to:
        r = request("range", prefix, **{"from": frm, "to": to})
        for a in r["alerts"]:
            handle(a, True)
        if r["next"] <= frm or (to == 0 and r["next"] > r["seq"]):
            return r["seq"]
        frm = r["next"]


def topic(section):
    return "alert.%s." % section


def on_heartbeat(hb):
    global checked
    if everything:
        if hb["seq"] > done:
            n["gaps"] += 1
            fill(done + 1, hb["seq"])
        return
    if hb["seq"] <= checked:
        return
    st = request("status")  # tail loss: sections ahead of what we handled
    for sec, s in st["last"].items():
        mine = last.get(sec, floor)
        if s > mine:
            n["gaps"] += 1
            fill(mine + 1, s, topic(sec))
    checked = max(checked, st["seq"])


def on_alert(a):
    if a["seq"] <= floor:
        return
    if everything:
        if a["seq"] > done + 1:
            n["gaps"] += 1
            fill(done + 1, a["seq"] - 1)
    else:
        mine = last.get(a["section"], floor)
        if a["prev"] > mine and a["seq"] > mine + 1:
            n["gaps"] += 1
            fill(mine + 1, a["seq"] - 1, topic(a["section"]))
    handle(a, False)


try:
    st = request("status")
    everything = st["sections"] == "*" and prefixes == [""]
    if o.live:
        floor = st["seq"]
    elif o.from_seq:
        floor = o.from_seq - 1
    else:
        snap = request("snapshot")
        floor = snap["seq"]
        for a in snap["alerts"]:
            emit(a, True)
    done = checked = floor
    if o.from_seq and not o.live:
        checked = fill(o.from_seq, 0) or floor
    while True:
        if not sub.poll(left_ms(500)):
            continue
        t, body = sub.recv_multipart()[:2]
        m = msgpack.unpackb(body, raw=False)
        if t == b"hb.":
            on_heartbeat(m)
        elif t.startswith(b"alert."):
            on_alert(m)
except (Stop, KeyboardInterrupt):
    pass
print("pysub: " + " ".join("%s=%d" % kv for kv in n.items())
      + " everything=%d" % everything, file=sys.stderr)
ctx.destroy(linger=0)
sys.exit(0 if answered else 3)
