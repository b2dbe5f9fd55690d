#!/usr/bin/python3
"""Writes the seed corpora and dictionaries of the event fuzz targets.

    tests/fuzz/make-corpus.py     (needs python3-msgpack)

Output, replacing what is there (hand-added files in the corpus directories
are left alone):
    tests/fuzz/corpus/event_msgpack/   valid and invalid msgpack events
    tests/fuzz/corpus/event_line/      JSON lines ('0' selector byte) and
                                       CSV ('1' selector byte)
    tests/fuzz/event_msgpack.dict, tests/fuzz/event_line.dict

The fuzz targets validate with a fixed clock, FUZZ_NOW_MS in
fuzz_event_oracle.h (1700000000000, 2023-11-14T22:13:20Z); the times below
are chosen around it.
"""
import json
import os
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
NOW_MS = 1700000000000
TS = 1551441600000  # 2019-03-01T12:00:00Z

FIELDS = ["id", "src", "section", "ts", "type", "count", "nat", "bcp", "lat",
          "lon", "confidence"]
TYPES = ["irregular_crossing", "bcp_clandestine", "deterred", "facilitator",
         "refusal", "document_fraud", "illegal_stay"]
SECTIONS = ["HU-RS", "HR-SI/karlovac", "BA-HR", "MK-XK", "GR-TR/evros",
            "BG-TR", "PL-UA", "ES-MA/ceuta"]
COUNTRIES = ["HU", "RS", "HR", "SI", "XK", "AFG", "SYR", "TR"]

MINIMAL = {"id": "e-1", "src": "HU", "section": "HU-RS", "ts": TS,
           "type": "irregular_crossing", "count": 3}
FULL = dict(MINIMAL, id="hu-2019-000123", section="HR-SI/karlovac",
            type="bcp_clandestine", count=12, nat="AFG", bcp="Röszke",
            lat=46.1, lon=19.9, confidence=0.75)


DROP = object()  # with_(): remove the field


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def with_(base, **kw):
    """base with the fields of kw set (or removed when DROP)."""
    ev = dict(base)
    for k, v in kw.items():
        if v is DROP:
            ev.pop(k, None)
        else:
            ev[k] = v
    return ev


def msgpack_seeds():
    full = pack(FULL)
    return {
        # accepted
        "valid-minimal": pack(MINIMAL),
        "valid-full": full,
        "valid-nulls": pack(with_(MINIMAL, nat=None, bcp=None, lat=None,
                                  lon=None, confidence=None)),
        "valid-ts-near-future": pack(with_(MINIMAL, ts=NOW_MS + 3600 * 1000,
                                           type="illegal_stay", nat="SY")),
        # long forms: str8 key, map16 header, uint64 ts, float32 position
        "valid-long-forms": (
            b"\xde\x00\x08"
            + b"\xd9\x02id" + b"\xd9\x03x-1"
            + b"\xa3src" + b"\xa2XK"
            + b"\xa7section" + b"\xa5MK-XK"
            + b"\xa2ts" + b"\xcf" + struct.pack(">Q", TS)
            + b"\xa4type" + b"\xa7refusal"
            + b"\xa5count" + b"\xcd\x27\x10"
            + b"\xa3lat" + b"\xca" + struct.pack(">f", 41.5)
            + b"\xa3lon" + b"\xca" + struct.pack(">f", -21.25)),
        # rejected
        "bad-not-a-map": pack(["id", "e-1"]),
        "bad-truncated": full[:-3],
        "bad-trailing": pack(MINIMAL) + b"\xc0",
        "bad-unknown-field": pack(with_(MINIMAL, colour="red")),
        # a 7-entry map: the 6 of MINIMAL, then "id" again
        "bad-duplicate": b"\x87" + pack(MINIMAL)[1:] + pack("id")
        + pack("e-2"),
        "bad-count-zero": pack(with_(MINIMAL, count=0)),
        "bad-ts-old": pack(with_(MINIMAL, ts=946684799999)),
        "bad-ts-future": pack(with_(MINIMAL, ts=NOW_MS + 2 * 86400 * 1000)),
        "bad-ts-string": pack(with_(MINIMAL, ts="2019-03-01T12:00:00Z")),
        "bad-nested": pack(with_(MINIMAL, bcp={"name": "Röszke"})),
        "bad-utf8": pack(MINIMAL).replace(b"\xa3e-1", b"\xa3e\xc3\x28"),
        "bad-section": pack(with_(MINIMAL, section="RS-HU")),
        "bad-lat-only": pack(with_(MINIMAL, lat=46.1)),
        "bad-bool": pack(with_(MINIMAL, count=True)),
        "bad-missing": pack(with_(MINIMAL, type=DROP)),
        "bad-c1": b"\x81\xa2id\xc1",
        "bad-huge-map": b"\xdf\xff\xff\xff\xff",
        "bad-ext": pack(MINIMAL)[:-1] + b"\xd4\x01\x02",
    }


def json_event(ev):
    return json.dumps(ev, ensure_ascii=False, separators=(",", ":"))


def line_seeds():
    j_min = json_event(MINIMAL)
    j_full = json_event(FULL)
    json_files = {
        "json-valid": [j_min, j_full],
        "json-rfc3339": [
            json_event(with_(MINIMAL, ts="2019-03-01T12:00:00Z")),
            json_event(with_(MINIMAL, ts="2019-03-01T13:00:00.123+01:00")),
            json_event(with_(MINIMAL, ts="2016-12-31 23:59:60z")),
        ],
        "json-errors-between": [
            j_min, '{"id":"e-1",', j_full, "", "  ", j_min[:-1],
            j_min + " " + j_min, "[1,2]", "null", j_min],
        "json-escapes": [
            '{"id":"e\\u00e9\\ud83d\\ude00","src":"HU","section":"HU-RS",'
            '"ts":%d,"type":"deterred","count":1,"nat":null}' % TS,
            '{"id":"e\\u0000","src":"HU","section":"HU-RS","ts":%d,'
            '"type":"deterred","count":1}' % TS,
        ],
        "json-numbers": [
            json_event(with_(MINIMAL, count=1e3)),
            json_event(with_(MINIMAL, lat=-90, lon=180, confidence=1)),
            '{"id":"e","src":"HU","section":"HU-RS","ts":1.5e12,'
            '"type":"refusal","count":99999999999999999999}',
        ],
        "json-nested": [json_event(with_(MINIMAL, nat=["AFG"])),
                        json_event(with_(MINIMAL, bcp={"a": 1}))],
    }
    header = "id,src,section,ts,type,count,nat,bcp,lat,lon,confidence"
    csv_files = {
        "csv-valid": [
            header,
            "e-1,HU,HU-RS,%d,irregular_crossing,3,,,,," % TS,
            'hu-2,HR,HR-SI/karlovac,2019-03-01T12:00:00Z,bcp_clandestine,12,'
            'AFG,"Röszke, gate 2",46.1,19.9,0.75',
        ],
        "csv-reordered-bom": [
            "\ufefftype,count,ts,section,src,id",
            "deterred,1,%d,BA-HR,BA,x" % TS,
            'refusal,2,"2019-03-01 12:00:00+02:00",BA-HR,HR,"q""uote"',
        ],
        "csv-errors-between": [
            header,
            "e-1,HU,HU-RS,%d,irregular_crossing,3" % TS,
            'e-2,HU,HU-RS,%d,deterred,"3,,,,,' % TS,
            "e-3,HU,HU-RS,%d,deterred,x,,,,," % TS,
            "e-4,HU,HU-RS,%d,deterred,3,,,,,,," % TS,
            "e-5,HU,HU-RS,%d,deterred,3,,,1e999,0,\r" % TS,
            "e-6,HU,HU-RS,%d,deterred,3,,,,,0.5" % TS,
        ],
        "csv-bad-header": ["id,src,section,ts,type,count,colour",
                           "e-1,HU,HU-RS,%d,deterred,1,red" % TS],
        "csv-missing-column": ["id,src,ts,type,count",
                               "e-1,HU,%d,deterred,1" % TS],
    }
    seeds = {}
    for name, lines in json_files.items():
        seeds[name] = b"0" + "\n".join(lines).encode()
    for name, lines in csv_files.items():
        seeds[name] = b"1" + "\n".join(lines).encode()
    return seeds


def dict_line(value):
    out = []
    for b in value:
        if b == 0x22 or b == 0x5c or b < 0x20 or b > 0x7e:
            out.append("\\x%02x" % b)
        else:
            out.append(chr(b))
    return '"%s"' % "".join(out)


def write_dict(path, title, entries):
    seen = set()
    with open(path, "w") as f:
        f.write("# %s\n# Written by tests/fuzz/make-corpus.py.\n" % title)
        for e in entries:
            if e not in seen:
                seen.add(e)
                f.write(dict_line(e) + "\n")


def msgpack_dict():
    words = FIELDS + TYPES + SECTIONS + COUNTRIES
    entries = [pack(w) for w in words]
    entries += [pack(TS), pack(NOW_MS), pack(946684800000), pack(10000),
                pack(0.5), pack(-180.0), struct.pack(">f", 90.0)]
    # type bytes: nil, false, true, bin8, ext8, float32/64, uint8..64,
    # int8..64, fixext1, str8/16/32, array16, map16/32, the unused 0xc1
    entries += [bytes([b]) for b in
                (0xc0, 0xc2, 0xc3, 0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcd, 0xce,
                 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd9, 0xda, 0xdb, 0xdc,
                 0xde, 0xdf, 0xc1)]
    entries += [b"\x86", b"\x8b", b"\xde\x00\x0b", b"\xdf\x00\x00\x00\x0b"]
    return entries


def line_dict():
    words = FIELDS + TYPES + SECTIONS + COUNTRIES
    entries = [('"%s"' % w).encode() for w in words]
    entries += [('"%s":' % w).encode() for w in FIELDS]
    entries += [w.encode() for w in FIELDS + TYPES + SECTIONS]
    entries += [b"{", b"}", b"[", b"]", b":", b",", b"null", b"true",
                b"false", b"\\u0000", b"\\ud83d\\ude00", b"\\\"", b"1e999",
                b"-0.0", b"9223372036854775808", str(TS).encode(),
                b"2019-03-01T12:00:00Z", b"2019-03-01T12:00:00.123+01:00",
                b"\xef\xbb\xbf", b'""', b"\r", b"\n", b"\t",
                b"id,src,section,ts,type,count"]
    return entries


def write_corpus(dirname, seeds):
    d = os.path.join(HERE, "corpus", dirname)
    os.makedirs(d, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%s: %d files" % (os.path.relpath(d, HERE), len(seeds)))


def main():
    write_corpus("event_msgpack", msgpack_seeds())
    write_corpus("event_line", line_seeds())
    write_dict(os.path.join(HERE, "event_msgpack.dict"),
               "msgpack event fuzz dictionary", msgpack_dict())
    write_dict(os.path.join(HERE, "event_line.dict"),
               "JSON/CSV event line fuzz dictionary", line_dict())


if __name__ == "__main__":
    main()
