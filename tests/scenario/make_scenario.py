#!/usr/bin/python3
"""Builds the realistic Western Balkans scenario for surgewatch.

Daily border-detection events from 2018-10-01 to 2020-05-31 on seven
sections, with daily volumes derived from the figures of
/work/shared/DOMAIN.md (joint Europol / Frontex / EASO report on the Western
Balkans, July 2018 - June 2019; EU / Western Balkans JHA consultation, spring
2020):

  GR-MK  about 20 000 a year; "rising above 2 100 / month in March-July
         2019"; 7 410 prevented attempts in Q1 2020 (+86 %), peak in late
         February 2020; 1 629 in March 2020
  HU-RS  peak in March 2019: 930; about 630 over the following quarter
  HR-RS  620 in March 2019; about 150 over the following quarter
  BA-HR  over 4 100 in H1 2019; peak 1 000 in May, about 900 in June
  HR-SI  March 2019 over 1 000, April 1 400, May about 1 400, June 1 200
  AL-GR  6 893 in 2018, 11 890 in 2019 (about 33 a day)
  BA-RS  600 to 1 000 deterred crossings a month April-June 2019
  all    mid-March 2020 closures cut flows by more than 90 % in days
         (Serbia: 4 863 prevented 1 Jan - 15 Mar 2020, 243 after)

Each section has a piecewise-linear expected daily count of persons. The
surges are steps (for GR-MK in 2020 a two-day ramp) so that their start
date is well defined; the seasonal rise of AL-GR is a slow ramp over three
months and is deliberately not a surge. A day's number of persons is drawn
from a Poisson distribution around the expected count (seeded: the same
seed gives the same file), then split into individual records with
realistic group sizes and event types; facilitators are added at the yearly
rates of the report. Records are written as JSON lines sorted by event
time.

Outputs:
  --out FILE      the events (JSON lines, the contract of docs/events.md)
  --truth FILE    the ground truth (JSON): every surge with its section and
                  start date, the quiet periods in which nothing may be
                  raised, the collapse, the source figures with what was
                  generated for them, and the persons generated per month
  --seed N        the random seed (default 20190304)
  --summary       print the generated totals next to the source figures

Python 3 standard library only.
"""

import argparse
import datetime as dt
import json
import math
import random
import sys

D = dt.date
FIRST = D(2018, 10, 1)
LAST = D(2020, 5, 31)

# ---------------------------------------------------------------- volumes
#
# Knots (date, persons per day): the expected count is linear between two
# knots; a knot dated the day after the previous one makes a step. Every
# section collapses on 2020-03-14 .. 2020-03-17 (the closures), see COLLAPSE.
#
# Calibration (expected persons, facilitators not included; --summary prints
# the generated totals next to the figures):
#   GR-MK  winter 2018-19 32/day (~990/month) so that Q1 2019 is ~3 990 and
#          Q1 2020 (7 410) is +86 %; step to 72/day on 2019-03-04 (March
#          ~2 110, April-July ~2 200/month, "above 2 100"); a slow decline to
#          60/day by December; 2020: Jan 1 860, Feb 1-19 60/day, a two-day
#          ramp 60 -> 170 -> 290/day from 2020-02-20 (Feb ~4 000: the peak),
#          95/day from 2 March, then the collapse to 7/day (March ~1 600).
#   HU-RS  winter 5/day (150/month); step to 32/day on 2019-03-04 (March
#          ~920); 6.5/day from April (~630 over the quarter).
#   HR-RS  winter 1.5/day; step to 22/day on 2019-03-04 (March ~620);
#          1.5/day from April (~150 over the quarter).
#   HR-SI  winter 10/day; step to 46/day on 2019-03-11 (March ~1 065); April
#          47/day (1 410), May 45 (1 395), June 40 (1 200).
#   BA-HR  winter 12/day; step to 30/day on 2019-03-18 (March ~620); April
#          30/day, May 32.3 (1 000), June 30 (900): H1 ~4 100.
#   BA-RS  winter 8/day; step to 25/day on 2019-04-01; April 750, May 960,
#          June 660.
#   AL-GR  19-22/day in winter (2018: ~6 900/year); a slow ramp to 40/day
#          from March to May 2019, 40 in summer, back to 30 by December:
#          2019 ~12 100 (about 33 a day).
KNOTS = {
    "GR-MK": [
        (D(2018, 10, 1), 55), (D(2018, 11, 30), 32),
        (D(2019, 3, 3), 32), (D(2019, 3, 4), 72),
        (D(2019, 7, 31), 72), (D(2019, 12, 1), 60),
        (D(2020, 2, 19), 60), (D(2020, 2, 20), 170), (D(2020, 2, 21), 290),
        (D(2020, 3, 1), 290), (D(2020, 3, 2), 95),
        (D(2020, 3, 13), 95),
    ],
    "HU-RS": [
        (D(2018, 10, 1), 9), (D(2018, 11, 30), 5),
        (D(2019, 3, 3), 5), (D(2019, 3, 4), 32),
        (D(2019, 3, 31), 32), (D(2019, 4, 1), 6.5),
        (D(2019, 9, 30), 6.5), (D(2019, 12, 1), 6),
        (D(2020, 3, 13), 6),
    ],
    "HR-RS": [
        (D(2018, 10, 1), 3), (D(2018, 11, 30), 1.5),
        (D(2019, 3, 3), 1.5), (D(2019, 3, 4), 22),
        (D(2019, 3, 31), 22), (D(2019, 4, 1), 1.5),
        (D(2020, 3, 13), 1.5),
    ],
    "HR-SI": [
        (D(2018, 10, 1), 18), (D(2018, 11, 30), 10),
        (D(2019, 3, 10), 10), (D(2019, 3, 11), 46),
        (D(2019, 3, 31), 46), (D(2019, 4, 1), 47),
        (D(2019, 4, 30), 47), (D(2019, 5, 1), 45),
        (D(2019, 5, 31), 45), (D(2019, 6, 1), 40),
        (D(2019, 6, 30), 40), (D(2019, 11, 30), 12),
        (D(2020, 3, 13), 12),
    ],
    "BA-HR": [
        (D(2018, 10, 1), 20), (D(2018, 11, 30), 12),
        (D(2019, 3, 17), 12), (D(2019, 3, 18), 30),
        (D(2019, 4, 30), 30), (D(2019, 5, 1), 32.3),
        (D(2019, 5, 31), 32.3), (D(2019, 6, 1), 30),
        (D(2019, 6, 30), 30), (D(2019, 11, 30), 14),
        (D(2020, 3, 13), 14),
    ],
    "BA-RS": [
        (D(2018, 10, 1), 12), (D(2018, 11, 30), 8),
        (D(2019, 3, 31), 8), (D(2019, 4, 1), 25),
        (D(2019, 4, 30), 25), (D(2019, 5, 1), 31),
        (D(2019, 5, 31), 31), (D(2019, 6, 1), 22),
        (D(2019, 6, 30), 22), (D(2019, 11, 30), 10),
        (D(2020, 3, 13), 10),
    ],
    "AL-GR": [
        (D(2018, 10, 1), 19), (D(2018, 11, 30), 21),
        (D(2019, 2, 28), 22), (D(2019, 5, 31), 40),
        (D(2019, 8, 31), 40), (D(2019, 12, 31), 30),
        (D(2020, 3, 13), 30),
    ],
}

# The closures: the share of the pre-closure level left on each day, then
# COLLAPSE_FLOOR until the end (a drop of 93 %, "more than 90 % in days").
COLLAPSE = [(D(2020, 3, 14), 0.6), (D(2020, 3, 15), 0.3),
            (D(2020, 3, 16), 0.12)]
COLLAPSE_FLOOR = 0.07
COLLAPSE_FIRST, COLLAPSE_LAST = D(2020, 3, 14), D(2020, 3, 17)

# The surges, with a start date that the shapes above make exact.
SURGES = [
    ("GR-MK", D(2019, 3, 4), "step 32 -> 72 persons/day: the March 2019 rise "
     "(above 2 100 a month March-July 2019)"),
    ("HU-RS", D(2019, 3, 4), "step 5 -> 32/day: the March 2019 peak (930)"),
    ("HR-RS", D(2019, 3, 4), "step 1.5 -> 22/day: 620 in March 2019"),
    ("HR-SI", D(2019, 3, 11), "step 10 -> 46/day: over 1 000 in March 2019"),
    ("BA-HR", D(2019, 3, 18), "step 12 -> 30/day: the rise to the May 2019 "
     "peak (over 4 100 in H1 2019)"),
    ("BA-RS", D(2019, 4, 1), "step 8 -> 25/day: 600-1 000 deterred a month "
     "April-June 2019"),
    ("GR-MK", D(2020, 2, 20), "two-day ramp 60 -> 170 -> 290/day: the "
     "February 2020 surge (7 410 in Q1 2020, +86 %)"),
]

SECTIONS = list(KNOTS)

# Periods in which no alert may be raised (section "*" = every section).
QUIET = [
    ("*", D(2018, 12, 1), D(2019, 2, 28),
     "winter baseline 2018-19, before the March 2019 rise"),
    ("*", D(2019, 12, 1), D(2020, 2, 19),
     "winter baseline 2019-20, before the February 2020 surge"),
    ("AL-GR BA-HR BA-RS HR-RS HR-SI HU-RS", D(2020, 2, 20), D(2020, 3, 13),
     "the other sections while GR-MK surges"),
    ("*", COLLAPSE_FIRST, LAST,
     "the March 2020 collapse (a drop) and the weeks after it"),
]

# The figures of the sources that the generated volumes must match, as
# (section, months, low, high, what the source says). "About" figures get
# +-15 %, "over" / "above" figures -5 % (a month of Poisson noise) to +20 %.
Q2_2019 = ["2019-04", "2019-05", "2019-06"]
FIGURES = [
    ("GR-MK", ["2019-01", "2019-02", "2019-03"], 3390, 4580,
     "Q1 2019: 7 410 / 1.86 = 3 984 (+-15 %)"),
    ("GR-MK", ["2019-03"], 1995, 2520, "above 2 100 / month March-July 2019"),
    ("GR-MK", ["2019-04"], 1995, 2520, "above 2 100 / month March-July 2019"),
    ("GR-MK", ["2019-07"], 1995, 2520, "above 2 100 / month March-July 2019"),
    ("GR-MK", ["2020-01", "2020-02", "2020-03"], 6670, 8150,
     "Q1 2020: 7 410 (+-10 %)"),
    ("GR-MK", ["2020-03"], 1385, 1875, "March 2020: 1 629"),
    ("HU-RS", ["2019-03"], 790, 1070, "March 2019 peak: 930"),
    ("HU-RS", Q2_2019, 535, 725, "the following quarter: about 630"),
    ("HR-RS", ["2019-03"], 525, 715, "March 2019: 620"),
    ("HR-RS", Q2_2019, 120, 180, "the following quarter: about 150 (+-20 %)"),
    ("BA-HR", ["2019-%02d" % m for m in range(1, 7)], 3895, 4920,
     "H1 2019: over 4 100"),
    ("BA-HR", ["2019-05"], 850, 1150, "May 2019 peak: 1 000"),
    ("BA-HR", ["2019-06"], 765, 1035, "June 2019: about 900"),
    ("HR-SI", ["2019-03"], 950, 1200, "March 2019: over 1 000"),
    ("HR-SI", ["2019-04"], 1190, 1610, "April 2019: 1 400"),
    ("HR-SI", ["2019-05"], 1190, 1610, "May 2019: about 1 400"),
    ("HR-SI", ["2019-06"], 1020, 1380, "June 2019: about 1 200"),
    ("AL-GR", ["2019-%02d" % m for m in range(1, 13)], 10100, 13670,
     "2019: 11 890 (about 33 a day)"),
    ("BA-RS", ["2019-04"], 570, 1050, "600 to 1 000 a month April-June 2019"),
    ("BA-RS", ["2019-05"], 570, 1050, "600 to 1 000 a month April-June 2019"),
    ("BA-RS", ["2019-06"], 570, 1050, "600 to 1 000 a month April-June 2019"),
]

# ---------------------------------------------------------------- records

# Facilitators detected a year (the report), added on top of the flows.
FACILITATORS = {"HU-RS": 143, "AL-GR": 125, "GR-MK": 69, "HR-RS": 52,
                "BA-HR": 43, "HR-SI": 40, "BA-RS": 30}

# Who reports on a section (src), with weights.
REPORTERS = {
    "GR-MK": [("MK", 85), ("GR", 15)],
    "HU-RS": [("HU", 90), ("RS", 10)],
    "HR-RS": [("HR", 80), ("RS", 20)],
    "HR-SI": [("SI", 75), ("HR", 25)],
    "BA-HR": [("HR", 60), ("BA", 40)],
    "BA-RS": [("BA", 70), ("RS", 30)],
    "AL-GR": [("AL", 85), ("GR", 15)],
}

# Event types of the persons (facilitators come separately), with weights.
TYPES = {
    "GR-MK": [("deterred", 55), ("irregular_crossing", 35),
              ("bcp_clandestine", 6), ("document_fraud", 2), ("refusal", 2)],
    "HU-RS": [("irregular_crossing", 55), ("deterred", 22),
              ("bcp_clandestine", 15), ("refusal", 5), ("document_fraud", 3)],
    "HR-RS": [("irregular_crossing", 60), ("deterred", 22),
              ("bcp_clandestine", 10), ("illegal_stay", 8)],
    "HR-SI": [("irregular_crossing", 70), ("illegal_stay", 15),
              ("bcp_clandestine", 10), ("document_fraud", 5)],
    "BA-HR": [("deterred", 60), ("irregular_crossing", 30),
              ("illegal_stay", 10)],
    "BA-RS": [("deterred", 70), ("irregular_crossing", 25),
              ("refusal", 5)],
    "AL-GR": [("irregular_crossing", 60), ("deterred", 20),
              ("illegal_stay", 10), ("document_fraud", 6), ("refusal", 4)],
}

NATIONALITIES = [("AFG", 24), ("PAK", 22), ("SYR", 12), ("IRQ", 9),
                 ("IRN", 7), ("MAR", 6), ("DZA", 6), ("BGD", 5), ("TUR", 3),
                 ("LBY", 2), ("PSE", 2), ("AL", 2)]

BCPS = {
    "GR-MK": ["Gevgelija", "Bogorodica", "Dojran"],
    "HU-RS": ["Roszke", "Tompa", "Kelebia", "Horgos"],
    "HR-RS": ["Bajakovo", "Tovarnik", "Ilok"],
    "HR-SI": ["Bregana", "Obrezje", "Macelj"],
    "BA-HR": ["Izacic", "Maljevac", "Gradiska"],
    "BA-RS": ["Karakaj", "Raca", "Vardiste"],
    "AL-GR": ["Kakavija", "Kapshtice", "Tre Urat"],
}

# Rough centre of each section (lat, lon) for the optional coordinates.
PLACES = {"GR-MK": (41.14, 22.50), "HU-RS": (46.15, 19.90),
          "HR-RS": (45.10, 19.20), "HR-SI": (45.85, 15.60),
          "BA-HR": (45.05, 15.90), "BA-RS": (44.40, 19.20),
          "AL-GR": (40.10, 20.35)}


def pick(rng, weighted):
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for v, w in weighted:
        x -= w
        if x < 0:
            return v
    return weighted[-1][0]


def poisson(rng, lam):
    """Exact Poisson draw: sums of Knuth's method on chunks of <= 30."""
    n = 0
    while lam > 0:
        part = min(lam, 30.0)
        lam -= part
        limit, p = math.exp(-part), rng.random()
        while p > limit:
            n += 1
            p *= rng.random()
    return n


def geometric(rng, p):
    """1, 2, 3 ... with P(k) = p (1-p)^(k-1)."""
    return 1 + int(math.log(1.0 - rng.random()) / math.log(1.0 - p))


def group_size(rng, typ):
    """Persons in one record: small groups mostly, now and then a truck."""
    if typ == "bcp_clandestine":
        if rng.random() < 0.04:
            return rng.randint(20, 80)  # "groups of 79 ... in one truck"
        return geometric(rng, 0.22)
    if typ == "deterred":
        return min(geometric(rng, 0.12), 60)
    if typ == "irregular_crossing":
        if rng.random() < 0.02:
            return rng.randint(15, 45)
        return geometric(rng, 0.3)
    if typ == "illegal_stay":
        return geometric(rng, 0.45)
    return 1 if rng.random() < 0.8 else 2  # refusal, document_fraud


def expected(section, day):
    """Expected persons on a day (before the collapse factor)."""
    knots = KNOTS[section]
    if day <= knots[0][0]:
        v = knots[0][1]
    elif day >= knots[-1][0]:
        v = knots[-1][1]
    else:
        for (d0, v0), (d1, v1) in zip(knots, knots[1:]):
            if d0 <= day <= d1:
                span = (d1 - d0).days
                v = v0 + (v1 - v0) * (day - d0).days / span
                break
    factor = 1.0
    if day >= COLLAPSE_FIRST:
        factor = COLLAPSE_FLOOR
        for d, f in COLLAPSE:
            if day == d:
                factor = f
    return v * factor


def days():
    d = FIRST
    while d <= LAST:
        yield d
        d += dt.timedelta(days=1)


def iso(d):
    return d.isoformat()


def build(seed):
    rng = random.Random(seed)
    records = []  # (ts_ms, json text)
    monthly = {s: {} for s in SECTIONS}
    daily = {}  # day -> persons on every section together
    seq = {}
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    for day in days():
        day0 = dt.datetime(day.year, day.month, day.day,
                           tzinfo=dt.timezone.utc)
        base_ms = int((day0 - epoch).total_seconds()) * 1000
        for s in SECTIONS:
            lam = expected(s, day)
            persons = poisson(rng, lam)
            fac_rate = FACILITATORS[s] / 365.0
            if day >= COLLAPSE_FIRST:
                fac_rate *= COLLAPSE_FLOOR
            groups = []
            left = persons
            while left > 0:
                typ = pick(rng, TYPES[s])
                n = min(group_size(rng, typ), left)
                groups.append((typ, n))
                left -= n
            for _ in range(poisson(rng, fac_rate)):
                groups.append(("facilitator", 1 if rng.random() < 0.85 else 2))
            total = 0
            for typ, n in groups:
                total += n
                src = pick(rng, REPORTERS[s])
                seq[src] = seq.get(src, 0) + 1
                ts = base_ms + rng.randrange(86400) * 1000
                when = day0 + dt.timedelta(milliseconds=ts - base_ms)
                ev = {"id": "%s-%d-%06d" % (src, day.year, seq[src]),
                      "src": src, "section": s,
                      "ts": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "type": typ, "count": n}
                if typ != "facilitator" and rng.random() < 0.85:
                    ev["nat"] = pick(rng, NATIONALITIES)
                elif typ == "facilitator" and rng.random() < 0.7:
                    ev["nat"] = pick(rng, [(src, 3), ("AFG", 1), ("PAK", 1),
                                           ("SYR", 1)])
                if typ in ("bcp_clandestine", "refusal", "document_fraud"):
                    ev["bcp"] = rng.choice(BCPS[s])
                elif rng.random() < 0.5:
                    lat, lon = PLACES[s]
                    ev["lat"] = round(lat + rng.uniform(-0.25, 0.25), 5)
                    ev["lon"] = round(lon + rng.uniform(-0.25, 0.25), 5)
                if rng.random() < 0.6:
                    ev["confidence"] = rng.choice([0.7, 0.8, 0.9, 1.0])
                records.append((ts, json.dumps(ev, separators=(",", ":"))))
            key = day.strftime("%Y-%m")
            monthly[s][key] = monthly[s].get(key, 0) + total
            daily[day] = daily.get(day, 0) + total
    records.sort(key=lambda r: r[0])
    return records, monthly, daily


def figures(monthly):
    """The FIGURES with what was generated, and whether it fits."""
    out = []
    for s, months, lo, hi, what in FIGURES:
        got = sum(monthly[s].get(m, 0) for m in months)
        out.append({"section": s, "months": months, "generated": got,
                    "low": lo, "high": hi, "source": what,
                    "ok": lo <= got <= hi})
    return out


def collapse_drop(daily):
    """Persons a day on every section together, in the two weeks before the
    closures and from the day after them to the end."""
    before = [d for d in daily if D(2020, 3, 1) <= d < COLLAPSE_FIRST]
    after = [d for d in daily if d > COLLAPSE_LAST]
    b = sum(daily[d] for d in before) / len(before)
    a = sum(daily[d] for d in after) / len(after)
    return b, a


def truth(seed, monthly, daily):
    quiet = []
    for secs, a, b, why in QUIET:
        quiet.append({"sections": SECTIONS if secs == "*" else secs.split(),
                      "from": iso(a), "to": iso(b), "why": why})
    before, after = collapse_drop(daily)
    return {
        "period": {"from": iso(FIRST), "to": iso(LAST)},
        "seed": seed,
        "sections": SECTIONS,
        "surges": [{"section": s, "start": iso(d), "shape": why}
                   for s, d, why in SURGES],
        "quiet": quiet,
        "collapse": {"from": iso(COLLAPSE_FIRST), "to": iso(COLLAPSE_LAST),
                     "per_day_before": round(before, 1),
                     "per_day_after": round(after, 1),
                     "drop": round(100 * (1 - after / before), 1),
                     "note": "a drop: surge detectors must not raise"},
        "figures": figures(monthly),
        "monthly_persons": monthly,
    }


def summary(monthly, daily, out):
    print("%-6s %-17s %9s %13s  %s" % ("sect", "months", "generated",
                                      "accepted", "source"), file=out)
    for f in figures(monthly):
        m = f["months"]
        label = m[0] if len(m) == 1 else m[0] + ".." + m[-1]
        print("%-6s %-17s %9d %6d..%-6d %s%s" % (
            f["section"], label, f["generated"], f["low"], f["high"],
            f["source"], "" if f["ok"] else "  <- OUTSIDE"), file=out)
    before, after = collapse_drop(daily)
    print("all    collapse: %.1f persons a day before, %.1f after: -%.1f %%" %
          (before, after, 100 * (1 - after / before)), file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="events, JSON lines")
    ap.add_argument("--truth", required=True, help="ground truth, JSON")
    ap.add_argument("--seed", type=int, default=20190304)
    ap.add_argument("--summary", action="store_true",
                    help="print monthly totals next to the sources' figures")
    a = ap.parse_args()
    records, monthly, daily = build(a.seed)
    with open(a.out, "w") as f:
        for _, line in records:
            f.write(line)
            f.write("\n")
    with open(a.truth, "w") as f:
        json.dump(truth(a.seed, monthly, daily), f, indent=1,
                  sort_keys=True)
        f.write("\n")
    if a.summary:
        summary(monthly, daily, sys.stdout)
    print("make_scenario: %d events, %d persons, %d sections, %d surges, "
          "seed %d" % (len(records), sum(sum(m.values()) for m in
                                        monthly.values()),
                       len(SECTIONS), len(SURGES), a.seed), file=sys.stderr)


if __name__ == "__main__":
    main()
