#!/usr/bin/python3
"""Checks what an independent Kafka client (kcat) read back from a topic
against the source lines given to `surgewatch publish`.

kcat must have been run with  -f '%K\\t%k\\t%S\\t%s\\n'  so that keys and
payloads are length-prefixed (binary-safe). Payloads are decoded with the
python msgpack package (not our decoder). Every source line not listed in
--bad-lines must arrive exactly once, decoded equal to the source, keyed by
its section; nothing else may arrive.

usage: kafka_dump_check.py --dump DUMP --source FILE [--format json|csv]
                           [--bad-lines FILE] [--first-bad-stops]
Prints one summary line; exit 0 when everything matched.
"""
import argparse
import csv
import datetime
import json
import sys

import msgpack


def parse_dump(path):
    data = open(path, "rb").read()
    out, i = [], 0
    while i < len(data):
        j = data.index(b"\t", i)
        klen = int(data[i:j])
        key = data[j + 1:j + 1 + max(klen, 0)]
        i = j + 1 + max(klen, 0)
        assert data[i:i + 1] == b"\t", "dump format"
        j = data.index(b"\t", i + 1)
        plen = int(data[i + 1:j])
        payload = data[j + 1:j + 1 + plen]
        i = j + 1 + plen
        assert data[i:i + 1] == b"\n", "dump format"
        i += 1
        out.append((key, payload))
    return out


def to_ms(ts):
    if isinstance(ts, int):
        return ts
    if isinstance(ts, str) and ts.lstrip("-").isdigit():
        return int(ts)
    dt = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return round(dt.timestamp() * 1000)


def normalise(rec):
    """The source record as the contract says it must arrive."""
    ev = {}
    for k, v in rec.items():
        if v is None or v == "":
            continue
        if k == "ts":
            v = to_ms(v)
        elif k == "count":
            v = int(v)
        elif k in ("lat", "lon", "confidence"):
            v = float(v)
        ev[k] = v
    return ev


def read_source(path, fmt):
    lines = open(path, "rb").read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    recs = {}
    if fmt == "csv":
        header = next(csv.reader([lines[0].decode()]))
        for n, raw in enumerate(lines[1:], start=2):
            recs[n] = (raw, header)
    else:
        for n, raw in enumerate(lines, start=1):
            recs[n] = (raw, None)
    return recs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--format", default="json")
    ap.add_argument("--bad-lines")
    ap.add_argument("--first-bad-stops", action="store_true")
    a = ap.parse_args()

    bad = set()
    if a.bad_lines:
        bad = {int(x) for x in open(a.bad_lines).read().split()}
    src = read_source(a.source, a.format)
    stop_at = min(bad) if (a.first_bad_stops and bad) else None
    expected = {}
    for n, (raw, header) in src.items():
        if n in bad or (stop_at is not None and n > stop_at):
            continue
        if header is not None:
            rec = dict(zip(header, next(csv.reader([raw.decode()]))))
        else:
            rec = json.loads(raw)
        ev = normalise(rec)
        expected[ev["id"]] = ev

    got = parse_dump(a.dump)
    problems = []
    seen = set()
    for key, payload in got:
        ev = msgpack.unpackb(payload, raw=False, strict_map_key=True)
        eid = ev.get("id")
        if eid in seen:
            problems.append(f"duplicate event {eid}")
            continue
        seen.add(eid)
        if eid not in expected:
            problems.append(f"unexpected event {eid}: {ev}")
            continue
        want = expected[eid]
        if key.decode() != want["section"]:
            problems.append(f"{eid}: key {key!r}, section {want['section']}")
        if set(ev) != set(want):
            problems.append(f"{eid}: keys {sorted(ev)} != {sorted(want)}")
            continue
        for k, v in want.items():
            gv = ev[k]
            if isinstance(v, float):
                ok = isinstance(gv, float) and abs(gv - v) < 1e-9
            else:
                ok = gv == v and type(gv) is type(v)
            if not ok:
                problems.append(f"{eid}: {k} = {gv!r}, sent {v!r}")
    missing = set(expected) - seen
    for eid in sorted(missing)[:10]:
        problems.append(f"missing event {eid}")
    print(f"kafka_dump_check: {len(got)} read, {len(expected)} expected, "
          f"{len(missing)} missing, {len(problems)} problem(s)")
    for p in problems[:20]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
