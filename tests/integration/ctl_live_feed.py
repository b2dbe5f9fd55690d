#!/usr/bin/env python3
"""The event stream of test_ctl_live.sh: one section in compressed event
time, one 1-minute bucket of event time every PERIOD seconds of wall time.

usage:
  ctl_live_feed.py plan OUT.tsv SEED START_MS PHASE...
      PHASE is KIND:N, KIND hover (every sum of 3 consecutive hover buckets
      is in 150..189) or low (a bucket of 5..15 persons). Writes one line
      per bucket: "INDEX BUCKET_START_MS COUNT".
  ctl_live_feed.py feed PLAN.tsv FROM TO SENT.tsv SW_BIN BROKERS TOPIC
      SECTION PERIOD WORKDIR [HOLDS HOLD_PREFIX]
      Publishes buckets FROM..TO (inclusive) of the plan in order, each
      with `SW_BIN publish` (the product's own publisher), as a few events
      whose counts add up to the bucket's count, time-stamped inside the
      bucket. After each publish returned (delivered), appends to SENT.tsv
      "INDEX BUCKET_START_MS COUNT EVENTS WALL_MS". Exits 1 on a failed
      publish. HOLDS: bucket indices (comma-separated) after which the
      feeder creates HOLD_PREFIX-INDEX.ready and waits (up to 60 s) for
      HOLD_PREFIX-INDEX.go before it goes on, so that the test can make a
      change at a known point of the stream: every bucket up to INDEX sent,
      the next one not yet.

The test computes the expected window sums from SENT.tsv, independently of
the worker.
"""
import json
import os
import random
import subprocess
import sys
import time

MINUTE = 60000


def plan(out, seed, start_ms, phases):
    rnd = random.Random(seed)
    counts = []
    for ph in phases:
        kind, n = ph.split(":")
        for _ in range(int(n)):
            if kind == "hover":
                counts.append(rnd.randint(50, 63))  # 3 of them: 150..189
            elif kind == "low":
                counts.append(rnd.randint(5, 15))
            else:
                sys.exit("unknown phase kind %r" % kind)
    with open(out, "w") as f:
        for i, c in enumerate(counts):
            f.write("%d %d %d\n" % (i, start_ms + i * MINUTE, c))


def split(rnd, count):
    """count persons as 2..4 events (each at least 1 person)."""
    k = min(count, rnd.randint(2, 4))
    cuts = sorted(rnd.sample(range(1, count), k - 1)) if k > 1 else []
    parts, prev = [], 0
    for c in cuts + [count]:
        parts.append(c - prev)
        prev = c
    return parts


def hold(prefix, idx):
    open("%s-%d.ready" % (prefix, idx), "w").close()
    until = time.monotonic() + 60
    while not os.path.exists("%s-%d.go" % (prefix, idx)):
        if time.monotonic() > until:
            sys.stderr.write("no %s-%d.go after 60 s\n" % (prefix, idx))
            return 1
        time.sleep(0.005)
    return 0


def feed(planf, first, last, sent, sw, brokers, topic, section, period, work,
         holds=(), hold_prefix=None):
    rows = [tuple(map(int, l.split())) for l in open(planf) if l.strip()]
    rows = [r for r in rows if first <= r[0] <= last]
    rnd = random.Random(first * 7919 + last)
    src = section.split("-")[0]
    next_at = time.monotonic()
    for idx, start, count in rows:
        parts = split(rnd, count)
        path = os.path.join(work, "bucket-%d.jsonl" % idx)
        with open(path, "w") as f:
            for j, c in enumerate(parts):
                ts = start + 1000 + j * (58000 // len(parts))
                f.write(json.dumps({"id": "live-%d-%d" % (idx, j), "src": src,
                                    "section": section, "ts": ts,
                                    "type": "irregular_crossing",
                                    "count": c}) + "\n")
        now = time.monotonic()
        if next_at > now:
            time.sleep(next_at - now)
        next_at = max(next_at, now) + period
        r = subprocess.run([sw, "publish", "-q", "-b", brokers, "-t", topic,
                            path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        if r.returncode != 0:
            sys.stderr.write("publish of bucket %d failed (exit %d): %s\n"
                             % (idx, r.returncode, r.stderr.decode()[-500:]))
            return 1
        with open(sent, "a") as f:
            f.write("%d %d %d %d %d\n" % (idx, start, count, len(parts),
                                          int(time.time() * 1000)))
        if idx in holds:
            if hold(hold_prefix, idx):
                return 1
            next_at = max(next_at, time.monotonic())
    return 0


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "plan":
        plan(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
        return 0
    if len(sys.argv) in (12, 14) and sys.argv[1] == "feed":
        a = sys.argv
        holds = tuple(int(x) for x in a[12].split(",")) if len(a) == 14 else ()
        return feed(a[2], int(a[3]), int(a[4]), a[5], a[6], a[7], a[8], a[9],
                    float(a[10]), a[11], holds, a[13] if holds else None)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
