#!/usr/bin/env python3
"""Splits a scenario (JSON lines in time order) into chunks for
`surgewatch publish`, and makes about 1 % of garbage payloads per chunk for
kcat, each with the reason the worker must give it in the dead-letter topic.

usage: worker_feed.py EVENTS.jsonl CHUNKS OUTDIR

Writes OUTDIR/chunk-K.jsonl (K = 1..CHUNKS), OUTDIR/garbage-K.kcat (lines
"KEY<TAB>PAYLOAD" for `kcat -P -K '\\t'`), and OUTDIR/garbage.json: a list
of {"hex": payload, "reason": expected reason, "key": key}. Every payload
holds its own marker "g-N" so that it can be found again, and none holds a
tab or a newline byte (kcat's delimiters). Prints the counts.
"""
import datetime
import json
import os
import sys

import msgpack

DAY = 86400000


def ts_ms(text):
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def clean(b):
    return b"\n" not in b and b"\t" not in b


def event(n, section, ts, **over):
    e = {"id": "g-%d" % n, "src": section[:2], "section": section, "ts": ts,
         "type": "irregular_crossing", "count": 2}
    e.update(over)
    return {k: v for k, v in e.items() if v is not None}


def make(kind, n, section, max_ts):
    """One garbage payload of a kind, and the reason it must get."""
    ts = max_ts - 3 * DAY  # old enough to be a valid, but late, event
    # avoid tab/newline bytes in binary fields; steps of 65 537 ms change
    # more than the low bytes of a time (at most 18 h back)
    for bump in range(1000):
        t = ts - bump * 65537
        if kind == "json_text":  # JSON, not msgpack: the first byte is a fixint
            p, r = json.dumps(event(n, section, t)).encode(), "not_a_map"
        elif kind == "bad_byte":  # 0xc1 is never used in msgpack
            p, r = b"\xc1garbage g-%d" % n, "undecodable"
        elif kind == "truncated":
            p, r = msgpack.packb(event(n, section, t))[:-3], "truncated"
        elif kind == "trailing":
            p, r = msgpack.packb(event(n, section, t)) + b"XYZ", "trailing_bytes"
        elif kind == "bad_count":
            p, r = msgpack.packb(event(n, section, t, count=0)), "bad_count"
        elif kind == "bad_section":
            p, r = msgpack.packb(event(n, "ZZ-QQ", t)), "bad_section"
        elif kind == "missing_ts":
            p, r = msgpack.packb(event(n, section, None)), "missing_field"
        elif kind == "array":
            p, r = msgpack.packb(["g-%d" % n, section, t]), "not_a_map"
        elif kind == "late":
            p, r = msgpack.packb(event(n, section, t)), "late"
        elif kind == "unknown_section":  # valid, but not configured (strict)
            p, r = msgpack.packb(event(n, "AT-SI", max_ts - bump * 65537)), "unknown_section"
        else:
            raise ValueError(kind)
        if clean(p):
            return p, r
    raise RuntimeError("no clean payload for %s" % kind)


KINDS = ["json_text", "bad_byte", "truncated", "trailing", "bad_count",
         "bad_section", "missing_ts", "array", "late", "unknown_section"]


def main():
    src, chunks, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    lines = [l for l in open(src) if l.strip()]
    os.makedirs(out, exist_ok=True)
    per = (len(lines) + chunks - 1) // chunks
    garbage = []
    n = 0
    for k in range(chunks):
        part = lines[k * per:(k + 1) * per]
        with open(os.path.join(out, "chunk-%d.jsonl" % (k + 1)), "w") as f:
            f.writelines(part)
        # the newest event of each section in the chunk
        newest = {}
        for l in part:
            e = json.loads(l)
            t = ts_ms(e["ts"]) if isinstance(e["ts"], str) else e["ts"]
            newest[e["section"]] = max(newest.get(e["section"], 0), t)
        sections = sorted(newest)
        want = max(1, round(len(part) / 99))  # 1 % of all messages
        with open(os.path.join(out, "garbage-%d.kcat" % (k + 1)), "wb") as f:
            for i in range(want):
                n += 1
                kind = KINDS[n % len(KINDS)]
                section = sections[n % len(sections)]
                p, r = make(kind, n, section, newest[section])
                f.write(section.encode() + b"\t" + p + b"\n")
                garbage.append({"hex": p.hex(), "reason": r, "key": section,
                                "kind": kind})
    with open(os.path.join(out, "garbage.json"), "w") as f:
        json.dump(garbage, f)
    print("%d events in %d chunks, %d garbage payloads (%.2f %% of %d messages)"
          % (len(lines), chunks, len(garbage),
             100.0 * len(garbage) / (len(lines) + len(garbage)),
             len(lines) + len(garbage)))


if __name__ == "__main__":
    main()
