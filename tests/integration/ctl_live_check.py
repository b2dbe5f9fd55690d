#!/usr/bin/env python3
"""Reads the alert log (Redis stream PREFIX:alerts, with redis-cli), the
feeder's record of what it sent (ctl_live_feed.py's SENT.tsv) and
`surgewatch ctl audit --json` output for test_ctl_live.sh.

usage:
  ctl_live_check.py find URL PREFIX STATE AFTER_MS
      the first log entry (in log order) of section HU-RS's threshold
      series with state STATE and write time t >= AFTER_MS, as one JSON
      line {id, t, alert_id, state, threshold, observed, ws, we} (ws, we:
      window_start and window_end in ms); exit 1 when there is none
  ctl_live_check.py before URL PREFIX MS
      how many log entries have a write time t < MS
  ctl_live_check.py window SENT.tsv WS WE
      "SUM N": the persons the feeder sent in the buckets starting in
      WS <= start < WE, and how many such buckets it sent
  ctl_live_check.py sums URL PREFIX SENT.tsv WINDOW
      one "ok - "/"not ok - " line: every transition in the log has
      observed = the feeder's sum over its window, a window of WINDOW
      buckets the feeder all sent
  ctl_live_check.py audit FILE FIELD=VALUE...
      the entries of FILE (JSON lines of `ctl audit --json`) whose fields
      all have those values: their count, then each one
"""
import datetime
import json
import subprocess
import sys


def ms(v):
    if isinstance(v, (int, float)):
        return int(v)
    return int(datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
               .timestamp() * 1000)


def log(url, prefix):
    out = subprocess.run(["redis-cli", "-u", url, "--json", "XRANGE",
                          prefix + ":alerts", "-", "+"], check=True,
                         capture_output=True, text=True).stdout
    entries = []
    for eid, fields in json.loads(out or "[]"):
        f = dict(zip(fields[0::2], fields[1::2]))
        a = json.loads(f.get("alert", "{}"))
        entries.append({"id": eid, "t": int(f.get("t", 0)),
                        "alert_id": a.get("alert_id"),
                        "state": a.get("state"),
                        "section": a.get("section"),
                        "type": a.get("type"),
                        "detector": a.get("detector"),
                        "threshold": a.get("threshold"),
                        "observed": a.get("observed"),
                        "ws": ms(a["window_start"]) if "window_start" in a
                        else None,
                        "we": ms(a["window_end"]) if "window_end" in a
                        else None})
    return entries


def sent(path):
    rows = []
    for line in open(path):
        if line.strip():
            idx, start, count, nev, wall = map(int, line.split())
            rows.append((start, count))
    return rows


def window(rows, ws, we):
    got = [c for s, c in rows if ws <= s < we]
    return sum(got), len(got)


def main():
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "find":
        for e in log(a[1], a[2]):
            if (e["section"] == "HU-RS" and e["type"] is None and
                    e["detector"] == "threshold" and e["state"] == a[3] and
                    e["t"] >= int(a[4])):
                print(json.dumps(e))
                return 0
        return 1
    if len(a) == 4 and a[0] == "before":
        print(sum(1 for e in log(a[1], a[2]) if e["t"] < int(a[3])))
        return 0
    if len(a) == 4 and a[0] == "window":
        print("%d %d" % window(sent(a[1]), ms(int(a[2])), ms(int(a[3]))))
        return 0
    if len(a) == 5 and a[0] == "sums":
        rows, n, bad = sent(a[3]), 0, []
        for e in log(a[1], a[2]):
            n += 1
            s, k = window(rows, e["ws"], e["we"])
            if k != int(a[4]) or e["observed"] != s:
                bad.append("%s %s %s window %d..%d: observed %s, the feeder "
                           "sent %d in %d buckets" % (e["id"], e["alert_id"],
                                                      e["state"], e["ws"],
                                                      e["we"], e["observed"],
                                                      s, k))
        if n and not bad:
            print("ok - all %d transitions in the log: observed = the "
                  "feeder's own sum over their %s-bucket window" % (n, a[4]))
        else:
            print("not ok - every transition's observed is the feeder's sum "
                  "over its window (%d transitions, %d differ)" % (n, len(bad)))
            for b in bad[:10]:
                print("#   " + b)
        return 0
    if len(a) >= 2 and a[0] == "audit":
        want = dict(kv.split("=", 1) for kv in a[2:])
        got = []
        for line in open(a[1]):
            if line.strip():
                e = json.loads(line)
                if all(str(e.get(k)) == v for k, v in want.items()):
                    got.append(line.strip())
        print(len(got))
        for g in got:
            print(g)
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
