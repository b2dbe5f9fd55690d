#!/usr/bin/python3
"""Checks surgewatch backtest alerts against the scenario's ground truth.

usage: check_alerts.py TRUTH.json ALERTS.jsonl

TRUTH.json comes from make_scenario.py, ALERTS.jsonl from
`surgewatch backtest` (one alert transition per line). Prints TAP-style
lines, "ok - ..." or "not ok - ..." followed by "#" details, for:
  - the scenario itself: every generated volume within the range of the
    source figure it stands for, and the collapse a drop of more than 90 %;
  - every surge: a `raised` alert for its section whose window_start and
    whose alert id's start date are both on the surge's first day or the
    day after (detection delay 0 or 1 day); the delay is printed;
  - every quiet period: no `raised` alert for its sections whose
    window_start or id start date falls inside it;
  - the collapse: no alert raised in its first ten days.
Then, as comments, what the collapse did to the alerts, and the raised
alerts that belong to no surge and no quiet period (not checked).
Exits 1 when any check failed. Python 3 standard library only.
"""

import datetime as dt
import json
import sys

ONE_DAY = dt.timedelta(days=1)


def day(text):
    """The date of an RFC 3339 time ("2019-03-04T00:00:00.000Z")."""
    return dt.date.fromisoformat(text[:10])


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def result(self, ok, desc, details=()):
        self.n += 1
        if not ok:
            self.failed += 1
        print("%s - %s" % ("ok" if ok else "not ok", desc))
        for d in details:
            print("#   %s" % d)


def load_alerts(path):
    """Every transition, with its date fields parsed."""
    alerts = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            a = json.loads(line)
            a["_line"] = n
            a["_ws"] = day(a["window_start"])
            # alert_id = "<key>:<detector>:<start>", the start being the
            # bucket where the alarm run began (it holds ':' itself)
            prefix = "%s:%s:" % (a["section"], a["detector"])
            if not a["alert_id"].startswith(prefix):
                raise SystemExit("%s:%d: alert id %s does not start with %s" %
                                 (path, n, a["alert_id"], prefix))
            a["_id_start"] = day(a["alert_id"][len(prefix):])
            alerts.append(a)
    return alerts


def describe(a):
    return ("%s %s %s (id %s): observed %g, expected %.1f, score %.2f >= "
            "%.2f" % (a["section"], a["detector"], a["window_start"][:10],
                      a["alert_id"], a["observed"], a["expected"], a["score"],
                      a["threshold"]))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    truth = json.load(open(sys.argv[1]))
    alerts = load_alerts(sys.argv[2])
    raised = [a for a in alerts if a["state"] == "raised"]
    tap = Tap()
    used = set()

    # the scenario is what it claims to be
    off = [f for f in truth["figures"] if not f["ok"]]
    tap.result(not off, "generated volumes match the %d source figures of "
               "DOMAIN.md" % len(truth["figures"]),
               ["%s %s..%s: %d persons, accepted %d..%d (%s)" %
                (f["section"], f["months"][0], f["months"][-1], f["generated"],
                 f["low"], f["high"], f["source"]) for f in off])
    c = truth["collapse"]
    tap.result(c["drop"] > 90, "the collapse of %s .. %s cuts flows by more "
               "than 90 %% (%.1f -> %.1f persons a day: -%.1f %%)" %
               (c["from"], c["to"], c["per_day_before"], c["per_day_after"],
                c["drop"]))

    # every surge is raised within a day of its start
    delays = []
    for s in truth["surges"]:
        sec, start = s["section"], dt.date.fromisoformat(s["start"])
        hits = [a for a in raised if a["section"] == sec and
                start <= a["_ws"] <= start + ONE_DAY and
                start <= a["_id_start"] <= start + ONE_DAY]
        month = [a for a in raised if a["section"] == sec and
                 start <= a["_ws"] < start + 30 * ONE_DAY]
        if hits:
            delay = min((a["_ws"] - start).days for a in hits)
            delays.append("%s %s: %d" % (sec, start, delay))
            used.update(a["_line"] for a in hits)
            dets = ", ".join(sorted("%s +%dd (%s)" % (
                a["detector"], (a["_ws"] - start).days, a["level"])
                for a in hits))
            tap.result(True, "%s surge of %s raised after %d day(s): %s [%s]; "
                       "%d alert(s) raised for %s in its first 30 days" %
                       (sec, start, delay, dets, s["shape"], len(month), sec))
        else:
            near = [a for a in raised if a["section"] == sec and
                    abs((a["_ws"] - start).days) <= 10]
            delays.append("%s %s: missed" % (sec, start))
            tap.result(False, "%s surge of %s raised within a day [%s]" %
                       (sec, start, s["shape"]),
                       ["raised for %s within 10 days of it: %s" %
                        (sec, "; ".join(describe(a) for a in near) or
                         "nothing")])

    # nothing is raised in the quiet periods
    quiet_alerts = 0
    for q in truth["quiet"]:
        q0 = dt.date.fromisoformat(q["from"])
        q1 = dt.date.fromisoformat(q["to"])
        secs = set(q["sections"])
        bad = [a for a in raised if a["section"] in secs and
               (q0 <= a["_ws"] <= q1 or q0 <= a["_id_start"] <= q1)]
        used.update(a["_line"] for a in bad)
        quiet_alerts += len(bad)
        who = ("every section" if len(secs) == len(truth["sections"])
               else ", ".join(sorted(secs)))
        tap.result(not bad, "nothing raised %s .. %s on %s (%s)" %
                   (q["from"], q["to"], who, q["why"]),
                   [describe(a) for a in bad[:20]])

    # the collapse is a drop: no surge alert
    c0 = dt.date.fromisoformat(c["from"])
    c1 = dt.date.fromisoformat(c["to"]) + 6 * ONE_DAY
    during = [a for a in alerts if c0 <= a["_ws"] <= c1]
    up = [a for a in during if a["state"] == "raised"]
    tap.result(not up, "the collapse raises no alert in %s .. %s" % (c0, c1),
               [describe(a) for a in up])
    print("# the collapse, %s .. %s: %d raised, %d updated, %d resolved; "
          "every detector of surgewatch is one-sided (it looks for rises), "
          "so nothing flags the drop itself" % (
              c0, c1, len(up),
              sum(a["state"] == "updated" for a in during),
              sum(a["state"] == "resolved" for a in during)))
    for a in during:
        if a["state"] == "resolved":
            print("#   resolved %s %s (raised %s) on %s: observed %g, "
                  "expected %.1f" % (a["section"], a["detector"],
                                     a["alert_id"].split(":", 2)[2],
                                     a["window_start"][:10], a["observed"],
                                     a["expected"]))

    others = [a for a in raised if a["_line"] not in used]
    print("# detection delays in days: %s" % "; ".join(delays))
    print("# alerts raised in the quiet periods: %d" % quiet_alerts)
    print("# %d alerts raised in all; %d of them after a surge's second day "
          "or outside the checked periods (not checked):" %
          (len(raised), len(others)))
    for a in others:
        print("#   " + describe(a))
    print("# %d checks, %d failed" % (tap.n, tap.failed))
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
