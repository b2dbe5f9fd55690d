#!/usr/bin/python3
"""The soak's publisher feed: generated, valid border-detection events,
written as JSON lines to standard output (a pipe into `surgewatch publish`)
at a steady wall-clock rate, each line also appended to an events file so
that the backtest reads exactly what was published.

usage: feed.py --seed S --rate R --speed X --t0 MS --out EVENTS.jsonl
               --progress PROGRESS.tsv --stats STATS.json [--max-seconds N]

Event times advance in simulated time, X simulated seconds per wall second
(600: ten minutes a second, ten 1-minute buckets closing every second),
from T0 (ms, in the past). Event i (0, 1, 2, ...) is due at wall time
start + i / R and has the simulated time T0 + i * X / R seconds; everything
about it (section, type, count, late shift, re-send) comes from the seed,
so the stream is the same whatever the machine's speed: only how much of it
is written depends on how long the feed runs. The feed stops on SIGTERM or
SIGINT (after the batch it is writing), after --max-seconds, or when the
simulated time would come within two hours of the wall clock.

Sections (docs/events.md ids): twelve "regular" ones and SK-UA, the one
whose threshold the soak changes with `surgewatch ctl set` (soak.py keeps it
out of the exact comparison). The event mass is split between the sections
by weight: 1 normally, a surge factor (3..6) while a section surges. Each
regular section surges at seeded moments (a gap of 120..480 buckets, 8..40
buckets long); SK-UA surges every 150 buckets for 25 (x5), so that its
threshold detector alerts before and after any change.

About 2 % of the events are late (their time 1..30 simulated minutes before
their place in the stream, within the soak's 1 h lateness) and 0.5 % are sent
twice (the same line again 5..50 events later; counted once by the worker
and by backtest).

PROGRESS.tsv gets a line "WALL_MS INDEX MAX_TS" about four times a second and
at the end: WALL_MS the wall clock after the line INDEX (events written so
far) was written, MAX_TS the newest event time written so far. STATS.json at
the end: counts and the largest lag behind the schedule.
"""
import argparse
import json
import os
import random
import signal
import sys
import time

REGULAR = ["AL-GR", "BA-HR", "BA-RS", "BG-TR", "GR-MK", "GR-TR", "HR-RS",
           "HR-SI", "HU-RS", "HU-UA", "MK-RS", "PL-UA"]
CTL_SECTION = "SK-UA"
SECTIONS = REGULAR + [CTL_SECTION]
TYPES = ["irregular_crossing", "bcp_clandestine", "deterred", "facilitator",
         "refusal", "document_fraud", "illegal_stay"]
NATS = ["AFG", "SYR", "PAK", "IRQ", "MA", "DZ", "TUR", "BGD", "IN", "UA"]
BUCKET_MS = 60000

stop = False


def on_signal(sig, frame):
    global stop
    stop = True


def surge_plan(seed, section, nbuckets):
    """[(first_bucket, last_bucket_exclusive, factor)] for one section."""
    if section == CTL_SECTION:
        return [(b, b + 25, 5.0) for b in range(100, nbuckets, 150)]
    r = random.Random("%s/%s/surges" % (seed, section))
    plan = []
    b = r.randint(60, 300)
    while b < nbuckets:
        n = r.randint(8, 40)
        plan.append((b, b + n, r.uniform(3.0, 6.0)))
        b += n + r.randint(120, 480)
    return plan


class Stream:
    """The deterministic event stream: next() gives the next JSON line."""

    def __init__(self, seed, rate, speed, t0, horizon_buckets):
        self.seed, self.rate, self.speed, self.t0 = seed, rate, speed, t0
        self.r = random.Random("%s/events" % seed)
        self.plans = {s: surge_plan(seed, s, horizon_buckets) for s in SECTIONS}
        self.i = 0        # index of the next generated event
        self.resend = []  # [(due_index, line)]
        self.late = self.dups = 0
        self._bucket = None

    def weights(self, bucket):
        if bucket != self._bucket:
            w = []
            for s in SECTIONS:
                f = 1.0
                for a, b, k in self.plans[s]:
                    if a <= bucket < b:
                        f = k
                        break
                    if a > bucket:
                        break
                w.append(f)
            self._weights, self._bucket = w, bucket
        return self._weights

    def ts_of(self, i):
        return self.t0 + (i * self.speed * 1000) // self.rate

    def next(self):
        """(line, ts) of the next message of the stream."""
        r = self.r
        if self.resend and self.resend[0][0] <= self.i:
            _, line, ts = self.resend.pop(0)
            self.dups += 1
            return line, ts
        i = self.i
        self.i += 1
        ts = self.ts_of(i)
        bucket = (ts - self.t0) // BUCKET_MS
        section = r.choices(SECTIONS, self.weights(bucket))[0]
        if r.random() < 0.02:  # late: within the soak's 1 h lateness
            ts -= r.randint(60000, 30 * 60000)
            ts = max(ts, self.t0)
            self.late += 1
        e = {"id": "soak-%s-%d" % (self.seed, i),
             "src": section[:2] if r.random() < 0.5 else section[3:5],
             "section": section, "ts": ts, "type": r.choice(TYPES),
             "count": r.choice((1, 1, 2, 2, 3))}
        if r.random() < 0.3:
            e["nat"] = r.choice(NATS)
        line = json.dumps(e, separators=(",", ":")) + "\n"
        if r.random() < 0.005:
            self.resend.append((i + r.randint(5, 50), line, ts))
            self.resend.sort(key=lambda x: x[0])
        return line, ts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", required=True)
    ap.add_argument("--rate", type=int, required=True)
    ap.add_argument("--speed", type=int, required=True)
    ap.add_argument("--t0", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--progress", required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--max-seconds", type=float, default=7 * 86400)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    # the simulated time must stay two hours behind the wall clock
    limit_ts = int(time.time() * 1000) - 2 * 3600 * 1000
    horizon = int((limit_ts - a.t0) // BUCKET_MS) + 1
    st = Stream(a.seed, a.rate, a.speed, a.t0, horizon)
    out = sys.stdout.buffer
    events = open(a.out, "ab")
    prog = open(a.progress, "a")
    start = time.monotonic()
    wall0 = time.time()
    written = 0
    max_ts = 0
    max_lag = 0.0
    last_prog = 0.0
    why = "signal"
    while True:
        if stop:
            break
        now = time.monotonic() - start
        if now >= a.max_seconds:
            why = "max-seconds"
            break
        due = int(now * a.rate) + 1  # messages due by now (the first at 0)
        if due <= written:
            time.sleep(min(0.01, (written + 1) / a.rate - now + 0.0005))
            continue
        max_lag = max(max_lag, (due - written) / a.rate)
        n = min(due - written, max(1, a.rate // 10))  # at most 0.1 s per write
        chunk = []
        over = False
        for _ in range(n):
            line, ts = st.next()
            if ts >= limit_ts:
                over = True
                break
            chunk.append(line)
            max_ts = max(max_ts, ts)
        data = b"".join(l.encode() for l in chunk)
        events.write(data)
        events.flush()
        try:
            out.write(data)
            out.flush()
        except BrokenPipeError:
            why = "broken pipe"
            written += len(chunk)
            break
        written += len(chunk)
        if over:
            why = "simulated time reached the wall clock"
            break
        if now - last_prog >= 0.25:
            prog.write("%d %d %d\n" % (int(time.time() * 1000), written, max_ts))
            prog.flush()
            last_prog = now
    prog.write("%d %d %d\n" % (int(time.time() * 1000), written, max_ts))
    prog.close()
    events.close()
    out.close()
    with open(a.stats, "w") as f:
        json.dump({"messages": written, "events": written - st.dups,
                   "resent": st.dups, "late": st.late, "max_ts": max_ts,
                   "t0": a.t0, "seconds": time.time() - wall0,
                   "max_lag_s": round(max_lag, 3), "stopped_by": why,
                   "surges": {s: len([p for p in st.plans[s] if p[0] * BUCKET_MS + a.t0 <= max_ts])
                              for s in SECTIONS}}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
