#!/usr/bin/python3
"""Writes the seed corpora and dictionaries of the fuzz targets.

    tests/fuzz/make-corpus.py     (needs python3-msgpack)

Output, replacing what is there (hand-added files in the corpus directories
are left alone):
    tests/fuzz/corpus/event_msgpack/   valid and invalid msgpack events
    tests/fuzz/corpus/event_line/      JSON lines ('0' selector byte) and
                                       CSV ('1' selector byte)
    tests/fuzz/corpus/config/          config files ('0'), authorised-keys
                                       files ('1'), viewers files ('2')
    tests/fuzz/corpus/replay_request/  replay requests (msgpack maps)
    tests/fuzz/corpus/alert_wire/      alerts as the hub sends them ('0',
                                       msgpack) and as the log holds them
                                       ('1', JSON)
    tests/fuzz/corpus/ctl_args/        `surgewatch ctl` argument lists,
                                       NUL-separated
    tests/fuzz/corpus/http/            HTTP requests to the web view and
                                       /metrics (selector byte: fuzz_http.c)
    tests/fuzz/NAME.dict for each of them

The fuzz targets validate with a fixed clock, FUZZ_NOW_MS in
fuzz_event_oracle.h (1700000000000, 2023-11-14T22:13:20Z); the times below
are chosen around it.
"""
import datetime
import hashlib
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


# ------------------------------------------------------ config and access

Z85 = ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
       ".-:+=^!/*?&<>()[]{}@%$#")


def z85(raw):
    out = []
    for i in range(0, len(raw), 4):
        v = int.from_bytes(raw[i:i + 4], "big")
        chunk = []
        for _ in range(5):
            chunk.append(Z85[v % 85])
            v //= 85
        out.extend(reversed(chunk))
    return "".join(out)


def curve_key(n):
    """A made-up CURVE public key, Z85 (40 characters), the same each run."""
    return z85(hashlib.sha256(b"fuzz-key-%d" % n).digest())


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def example_config():
    """config/surgewatch.example.ini without its comments (under 4 KiB,
    the runner's -max_len)."""
    lines = []
    path = os.path.join(HERE, "..", "..", "config", "surgewatch.example.ini")
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split(" ;")[0].rstrip()
            if line and not line.lstrip().startswith((";", "#")):
                lines.append(line)
    return "\n".join(lines) + "\n"


DETECTOR_PARAMS = {
    "threshold": ["window", "limit", "min_count"],
    "ratio": ["window", "k", "ratio", "min_count"],
    "ears_c1": ["baseline", "alpha", "min_sigma", "min_count"],
    "ears_c2": ["baseline", "alpha", "min_sigma", "min_count"],
    "ears_c3": ["baseline", "alpha", "min_sigma", "min_count"],
    "cusum": ["k", "h", "baseline", "history", "guard", "reset", "min_mean",
              "min_count"],
    "ewma": ["lambda", "baseline", "history", "guard", "alpha", "min_sigma",
             "min_count"],
}
WINDOWS_KEYS = ["bucket", "lateness", "idle", "by_type", "strict_sections",
                "max_lookback", "dedup_capacity"]
ALERTS_KEYS = ["raise_after", "resolve_after", "update_min_change", "levels"]
TOKEN_OPERATOR = "OpErAtOr-fuzz_token-0123456789abcdefghijklm"
TOKEN_VIEWER = "ViEwEr-fuzz_token-0123456789abcdefghijklmno"


def config_seeds():
    cfg = {
        "example": example_config(),
        "profiles": "[detectors]\nrun = ears_c2, cusum\n"
                    "threshold.limit = 40\nlevels = 2, 3, 5\n"
                    "[alerts]\nlevels = 1.5, 2.5, 4\n"
                    "[section HU-RS]\nrun = threshold\nthreshold.limit = 20\n"
                    "[section \"HR-SI/karlovac\"]\newma.lambda = 0.9\n"
                    "[section  BA-HR ]\nlevels = 1, 1, 1\n",
        "every-param": "[section GR-TR/evros]\n" + "".join(
            "%s.%s = %s\n" % (d, p, "true" if p == "reset" else "2")
            for d, ps in DETECTOR_PARAMS.items() for p in ps),
        "windows-alerts": "[windows]\nbucket = 1h\nlateness = 90m\n"
                          "idle = 0s\nby_type = yes\nstrict_sections = on\n"
                          "max_lookback = 400\ndedup_capacity = 100\n"
                          "[alerts]\nraise_after = 2\nresolve_after = 3\n"
                          "update_min_change = 0.25\n"
                          "[section HU-RS]\nrun = ewma\n",
        "out-of-range": "[detectors]\newma.lambda = 0\ncusum.h = -1\n"
                        "[section HU-RS]\nears_c1.alpha = 0.5\n",
        "bad-values": "[detectors]\nthreshold.window = -1\n"
                      "threshold.limit = 1e999\ncusum.reset = maybe\n"
                      "run = ears_c9\n",
        "bad-section-id": "[section hu-rs]\nrun = threshold\n",
        "bad-section-extra": "[section HU-RS x]\nrun = threshold\n",
        "bad-syntax": "[detectors\nrun = threshold\n",
        "unknown-section": "[colour]\nred = 1\n",
        "before-any-section": "run = threshold\n[detectors]\n",
        "long-value": "[detectors]\nrun = " + "ears_c2, " * 20 + "cusum\n",
        "long-line": "[detectors]\n; " + "x" * 300 + "\nrun = ewma\n",
        "continuation": "[detectors]\nrun = threshold\n  ewma\n",
        "bom-crlf": "\ufeff[windows]\r\nbucket = 1d\r\n",
        "duplicates": "[detectors]\nrun = ewma\n[section HU-RS]\n"
                      "run = cusum\n[detectors]\nrun = threshold\n"
                      "[section \"HU-RS\"]\nrun = ewma\n",
        "other-sections": "[kafka]\nbrokers = k:9092\n[redis]\nurl = x\n"
                          "[worker]\ngroup = g\n[hub]\nweb = off\n",
    }
    k1, k2, k3 = curve_key(1), curve_key(2), curve_key(3)
    acl = {
        "acl-valid": "# public key (Z85)  name  sections\n"
                     "%s  centre-budapest  HU-RS,HR-RS\n"
                     "%s\tfrontex-hq\t*  # everything\n"
                     "\n%s centre.zagreb@x HR-SI/karlovac\n" % (k1, k2, k3),
        "acl-dup-key": "%s a HU-RS\n%s b HR-RS\n" % (k1, k1),
        "acl-dup-name": "%s a HU-RS\n%s a HR-RS\n" % (k1, k2),
        "acl-bad-key": "%s a HU-RS\n" % k1[:39],
        "acl-bad-section": "%s a HU-RS,,rs-hu\n" % k1,
        "acl-extra-field": "%s a HU-RS extra\n" % k1,
        "acl-two-fields": "%s a\n" % k1,
    }
    h1, h2 = token_hash(TOKEN_OPERATOR), token_hash(TOKEN_VIEWER)
    viewers = {
        "viewers-valid": "# sha256  name  role  sections\n"
                         "%s  wall-hq  viewer  *\n"
                         "%s  centre-bud  operator  HU-RS,HR-RS\n" % (h1, h2),
        "viewers-upper-hex": "%s a viewer HU-RS # note\n" % h1.upper(),
        "viewers-bad-role": "%s a admin *\n" % h1,
        "viewers-dup-hash": "%s a viewer *\n%s b viewer *\n" % (h1, h1),
        "viewers-dup-name": "%s a viewer *\n%s a viewer *\n" % (h1, h2),
        "viewers-short-hash": "%s a viewer *\n" % h1[:63],
        "viewers-bad-sections": "%s a viewer HU-RS,*\n" % h1,
    }
    seeds = {}
    for sel, group in (("0", cfg), ("1", acl), ("2", viewers)):
        for name, text in group.items():
            seeds[name] = sel.encode() + text.encode()
    return seeds


def config_dict():
    words = (["[detectors]", "[alerts]", "[windows]", "[kafka]", "[redis]",
              "[worker]", "[hub]", "[section ", "]", " = ", "\n", "\r\n",
              ";", "#", "\"", "run", "levels", "true", "false", "yes", "off",
              "1d", "24h", "90m", "15s", "100ms", "0", "-1", "0.5", "1e12",
              "1e999", "nan", "inf", "1.5, 2.5, 4", "viewer", "operator", "*",
              ",", "\t", "\ufeff"]
             + list(DETECTOR_PARAMS) + WINDOWS_KEYS + ALERTS_KEYS + SECTIONS
             + ["%s.%s" % (d, p) for d, ps in DETECTOR_PARAMS.items()
                for p in ps]
             + [curve_key(9), token_hash("x")])
    return [w.encode() for w in words]


# ----------------------------------------------------------------- replay

def replay_seeds():
    return {
        "status": pack({"op": "status", "id": 1, "prefixes": ["alert.HU-"],
                        "time": NOW_MS}),
        "range": pack({"op": "range", "id": 2, "from": 101, "to": 200,
                       "prefixes": [""], "limit": 1000}),
        "snapshot": pack({"op": "snapshot", "id": 3}),
        "range-limits": pack({"op": "range", "limit": 0, "from": 0,
                              "to": 2 ** 64 - 1}),
        "range-limit-high": pack({"op": "range", "limit": 20000}),
        "prefixes-16": pack({"op": "snapshot", "prefixes":
                             ["alert.%s." % s for s in SECTIONS]
                             + ["hb.", ""] * 4}),
        "prefix-47": pack({"op": "status", "prefixes": ["a" * 47]}),
        "unknown-op": pack({"op": "subscribe", "id": 4}),
        "unknown-key": pack({"op": "status", "colour": "red"}),
        "id-not-a-number": pack({"op": "status", "id": "x"}),
        # refused
        "bad-prefixes-17": pack({"op": "status", "prefixes": [""] * 17}),
        "bad-prefix-48": pack({"op": "status", "prefixes": ["a" * 48]}),
        "bad-prefix-int": pack({"op": "status", "prefixes": [1]}),
        "bad-op-long": pack({"op": "s" * 16}),
        "bad-op-int": pack({"op": 1}),
        "bad-no-op": pack({"id": 5}),
        "bad-time-negative": pack({"op": "status", "time": -1}),
        "bad-time-huge": pack({"op": "status", "time": 2 ** 63}),
        "bad-from-string": pack({"op": "range", "from": "101"}),
        "bad-not-a-map": pack(["op", "status"]),
        "bad-truncated": pack({"op": "range", "from": 101})[:-2],
        "trailing": pack({"op": "status"}) + b"\xc0",
        # a later key replaces an earlier one
        "op-twice": b"\x82" + pack("op") + pack("snapshot") + pack("op")
        + pack("range"),
        "map16": b"\xde\x00\x02" + pack("op") + b"\xd9\x06status"
        + pack("id") + b"\xcf" + struct.pack(">Q", 7),
    }


def replay_dict():
    words = ["op", "status", "range", "snapshot", "id", "from", "to",
             "limit", "time", "prefixes", "alert.", "alert.HU-", "hb.", ""]
    entries = [pack(w) for w in words]
    entries += [pack(NOW_MS), pack(2 ** 64 - 1), pack(2 ** 63), pack(10000),
                pack(10001), pack(-1)]
    entries += [bytes([b]) for b in
                (0xc0, 0xc2, 0xc3, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd9,
                 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x90, 0x9f, 0x80, 0x8f)]
    entries += [b"\xdc\x00\x10", b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff"]
    return entries


# ------------------------------------------------------------------ alerts

STATES = ["raised", "updated", "resolved"]
LEVELS = ["low", "medium", "high", "critical"]
DETECTORS = list(DETECTOR_PARAMS)
W_START = 1551657600000  # 2019-03-04T00:00:00Z
W_END = W_START + 86400000

ALERT = {"seq": 139, "prev": 101,
         "alert_id": "HU-RS:ears_c2:2019-03-04T00:00Z", "state": "raised",
         "section": "HU-RS", "detector": "ears_c2", "level": "high",
         "window_start": W_START, "window_end": W_END, "observed": 120.0,
         "expected": 40.5, "score": 3.2, "threshold": 3.09,
         "raised_at": W_END, "logged_at": W_END + 1234}


def rfc3339(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def log_json(a):
    """An alert as the Redis log holds it: times as RFC 3339 text."""
    j = dict(a)
    for k in ("window_start", "window_end", "raised_at", "acked_at"):
        if k in j and isinstance(j[k], int):
            j[k] = rfc3339(j[k])
    for k in ("prev", "logged_at"):
        j.pop(k, None)
    return json.dumps(j, ensure_ascii=False, separators=(",", ":"))


def alert_seeds():
    typed = with_(ALERT, alert_id="HR-SI/karlovac:irregular_crossing:cusum:"
                  "2019-03-04T00:00Z", section="HR-SI/karlovac",
                  type="irregular_crossing", detector="cusum",
                  level="critical")
    resolved = with_(ALERT, state="resolved", level="low", retracted=True)
    acked = with_(ALERT, state="updated", acked_by="anna",
                  acked_at=W_END + 3600000, ack_note="units deployed")
    mp = {
        "valid": pack(ALERT),
        "valid-typed": pack(typed),
        "valid-retracted": pack(resolved),
        "valid-acked": pack(acked),
        "valid-minimal": pack(with_(ALERT, prev=DROP, logged_at=DROP)),
        "valid-float32-negative": pack(ALERT).replace(
            pack(120.0), b"\xca" + struct.pack(">f", 120.0)).replace(
            pack(W_START), pack(-1)),
        "valid-unknown-key": pack(with_(ALERT, colour="red")),
        "bad-no-seq": pack(with_(ALERT, seq=DROP)),
        "bad-seq-zero": pack(with_(ALERT, seq=0)),
        "bad-state": pack(with_(ALERT, state="open")),
        "bad-section": pack(with_(ALERT, section="RS-HU")),
        "bad-ack-half": pack(with_(ALERT, acked_by="anna")),
        "bad-acked-at-zero": pack(with_(acked, acked_at=0)),
        "bad-nested": pack(with_(ALERT, observed=[1])),
        "bad-id-long": pack(with_(ALERT, alert_id="x" * 96)),
        "bad-trailing": pack(ALERT) + b"\xc0",
        "bad-truncated": pack(ALERT)[:-5],
    }
    js = {
        "json-log": log_json(ALERT),
        "json-typed": log_json(typed),
        "json-retracted": log_json(resolved),
        "json-acked": log_json(acked),
        "json-ms-times": json.dumps(with_(ALERT, prev=DROP)),
        "json-no-seq": log_json(with_(ALERT, seq=DROP)),
        "json-numbers": log_json(ALERT).replace("120.0", "1.2e2").replace(
            "40.5", "-0").replace("3.2", "32E-1"),
        "json-escapes": log_json(with_(acked, ack_note="a\"b\\c\u00e9\n",
                                       acked_by="an\u00f1a")),
        "json-offset-time": log_json(ALERT).replace(
            "2019-03-04T00:00:00.000Z", "2019-03-04T01:00:00+01:00"),
        "bad-json-array": "[1,2]",
        "bad-json-huge-number": log_json(ALERT).replace("3.2", "1e999"),
        "bad-json-cut": log_json(ALERT)[:-3],
        "bad-json-level": log_json(with_(ALERT, level="severe")),
        "bad-json-time": log_json(ALERT).replace("2019-03-05", "2019-02-30"),
    }
    seeds = {}
    for name, data in mp.items():
        seeds["mp-" + name] = b"0" + data
    for name, text in js.items():
        seeds[name] = b"1" + text.encode()
    return seeds


def alert_dict():
    keys = list(ALERT) + ["type", "retracted", "acked_by", "acked_at",
                          "ack_note"]
    words = keys + STATES + LEVELS + DETECTORS + TYPES + SECTIONS
    entries = [pack(w) for w in words]
    entries += [('"%s"' % w).encode() for w in words]
    entries += [('"%s":' % k).encode() for k in keys]
    entries += [pack(W_START), pack(2 ** 63 - 1), pack(-1), pack(1.5),
                b"\xca" + struct.pack(">f", 0.5), b"\xc3", b"\xc2", b"\xc0",
                b"\x8f", b"\xde\x00\x14", b"\xd9\x60"]
    entries += [rfc3339(W_START).encode(), b"9999-12-31T23:59:59.999Z",
                b"0001-01-01T00:00:00Z", b"+01:00", b"true", b"false",
                b"null", b"1e999", b"-0", b"9223372036854775807",
                b"\\u0000", b"\\\"", b"{", b"}", b":", b","]
    return entries


# --------------------------------------------------------------------- ctl

VERBS = ["get", "set", "unset", "list", "export", "import", "preview",
         "silence", "ack", "alerts", "audit"]
CTL_LONG = ["config", "redis", "redis-prefix", "redis-timeout", "as",
            "new-section", "dry-run", "json", "all", "until", "reason",
            "detector", "note", "since", "section", "action", "operator",
            "limit", "set", "unset", "file", "output", "events", "format",
            "quiet", "from", "to", "reorder", "partitions", "threads",
            "help"]


def ctl_seeds():
    cmds = {
        "get": ["get", "HU-RS", "-c", "c.ini"],
        "get-key-json": ["get", "default", "ears_c2.alpha", "--json"],
        "list": ["list", "HU-*"],
        "set": ["set", "HU-RS", "threshold.limit", "40", "--as", "anna"],
        "set-many": ["set", "HU-RS", "threshold.limit=40",
                     "run=threshold,cusum", "--dry-run"],
        "set-pattern": ["set", "GR-*", "ewma.lambda", "0.9",
                        "--new-section"],
        "unset-all": ["unset", "HU-RS", "*"],
        "export": ["export", "-o", "out.ini"],
        "import": ["import", "t.ini", "--dry-run"],
        "preview": ["preview", "--set", "HU-RS threshold.limit=40", "-e",
                    "e.jsonl", "--from", "2019-03-01", "--to",
                    "2019-07-01T00:00:00Z", "-f", "json", "--threads", "2",
                    "--partitions", "3", "--reorder", "1h"],
        "preview-file": ["preview", "--file=t.ini", "-e", "-", "--json",
                         "-q"],
        "preview-unset": ["preview", "--unset", "HU-RS run", "-e",
                          "e.jsonl"],
        "silence-add": ["silence", "add", "GR-*", "--until", "6h",
                        "--reason", "exercise", "--detector", "cusum"],
        "silence-list": ["silence", "list", "--all", "--json"],
        "silence-expire": ["silence", "expire", "s-1"],
        "ack": ["ack", "HU-RS:threshold:2026-11-22T00:00:00Z", "--note",
                "units deployed"],
        "alerts": ["alerts", "HU-RS"],
        "audit": ["audit", "--section", "HU-RS", "--since", "7d",
                  "--until", "2026-11-23", "--action", "set", "--operator",
                  "anna", "--limit", "10"],
        "bad-config": ["-c", "bad.ini", "get", "HU-RS"],
        "redis-url": ["-r", "redis://user:pass@10.0.0.1:6380/2",
                      "--redis-prefix", "x", "--redis-timeout", "100ms",
                      "list"],
        "help": ["--help"],
        "bad-limit": ["--limit", "0", "audit"],
        "bad-option-for-verb": ["get", "--dry-run", "HU-RS"],
        "bad-verb": ["frobnicate"],
        "bad-as": ["--as", "", "list"],
    }
    return {name: b"\0".join(a.encode() for a in args)
            for name, args in cmds.items()}


def ctl_dict():
    words = (VERBS + ["--" + o for o in CTL_LONG]
             + ["--" + o + "=" for o in CTL_LONG]
             + ["-c", "-r", "-o", "-e", "-f", "-q", "-h", "-", "--",
                "add", "list", "expire", "default", "HU-RS", "HU-*", "*",
                "GR-TR/evros", "run", "levels", "threshold.limit",
                "ewma.lambda", "cusum.reset", "=", " ", "40", "0.9", "1h",
                "7d", "90m", "2019-03-01", "2026-11-22T18:00:00Z",
                "1700000000000", "json", "csv", "msgpack", "c.ini", "t.ini",
                "bad.ini", "e.jsonl", "redis://127.0.0.1:6379/1",
                "redis://u:p@h:1", "seed", "set", "unset", "import",
                "silence.add", "silence.expire", "ack"])
    entries = [w.encode() for w in words]
    entries += [b"\0" + w.encode() + b"\0" for w in VERBS]
    return entries


# -------------------------------------------------------------------- http

# The selector byte of fuzz_http.c
HTTP_GET, HTTP_COOKIE, HTTP_NO_TOKEN = 1, 2, 3
HTTP_HEAD = 4
TOK_OPERATOR, TOK_VIEWER, TOK_UNKNOWN, TOK_ODD = 0, 8, 16, 24
HTTP_METRICS = 32


def http_seeds():
    op = TOKEN_OPERATOR
    structured = {
        "state": (HTTP_GET, "/api/state"),
        "state-viewer": (HTTP_GET | TOK_VIEWER, "/api/state"),
        "state-unknown-token": (HTTP_GET | TOK_UNKNOWN, "/api/state"),
        "state-odd-bearer": (HTTP_GET | TOK_ODD, "/api/state"),
        "state-no-token": (HTTP_NO_TOKEN, "/api/state"),
        "events": (HTTP_GET, "/api/events?from=100"),
        "events-viewer-resume": (HTTP_GET | TOK_VIEWER, "/api/events",
                                 "Last-Event-ID: 104"),
        "events-future": (HTTP_GET, "/api/events?from=4611686018427387904"),
        "events-older-than-memory": (HTTP_GET, "/api/events?from=1"),
        "events-bad-from": (HTTP_GET, "/api/events?from=-1"),
        "events-bad-last-id": (HTTP_GET, "/api/events",
                               "Last-Event-ID: 12x"),
        "section": (HTTP_GET, "/api/section?name=HU-RS&from=2019-03-01"
                    "&to=2019-06-01T00:00:00Z"),
        "section-viewer-hidden": (HTTP_GET | TOK_VIEWER,
                                  "/api/section?name=GR-TR"),
        "preview": (HTTP_GET, "/api/preview?name=HU-RS&from=1551398400000"
                    "&set=threshold.limit%3D140&set=run%3Dears_c2%2Ccusum"),
        "preview-viewer": (HTTP_GET | TOK_VIEWER,
                           "/api/preview?name=HU-RS&set=run%3Dewma"),
        "preview-no-set": (HTTP_GET, "/api/preview?name=HU-RS"),
        "page-cookie": (HTTP_COOKIE, "/"),
        "page-no-token": (HTTP_NO_TOKEN, "/index.html"),
        "token-query": (HTTP_NO_TOKEN, "/?token=%s&wall=1" % op),
        "token-query-bad": (HTTP_NO_TOKEN, "/?token=nope"),
        "head": (HTTP_GET | HTTP_HEAD, "/index.html"),
        "unknown-api": (HTTP_GET, "/api/nothing"),
        "unknown-page": (HTTP_GET, "/x%00y%22z"),
        "headers": (HTTP_GET, "/api/state", "Cookie: a=b; sw_token=x",
                    "Connection: keep-alive", "Accept: */*"),
        "metrics": (HTTP_METRICS | HTTP_NO_TOKEN, "/metrics"),
        "healthz": (HTTP_METRICS | HTTP_NO_TOKEN | HTTP_HEAD, "/healthz"),
    }
    seeds = {}
    for name, (sel, target, *headers) in structured.items():
        seeds[name] = bytes([sel]) + "\n".join([target] + headers).encode()
    raw = {
        "raw-post": "POST /api/state HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: 5\r\n\r\nhello",
        "raw-pipelined": ("GET /api/state HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: Bearer %s\r\n\r\n" % op) * 2,
        "raw-http10": "GET / HTTP/1.0\r\n\r\n",
        "raw-garbage": "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        "raw-chunked": "PUT /api/events HTTP/1.1\r\nHost: x\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0"
                       "\r\n\r\n",
        "raw-long-header": "GET /api/state HTTP/1.1\r\nX: " + "a" * 2000
                           + "\r\n\r\n",
    }
    for name, text in raw.items():
        seeds[name] = b"\0" + text.encode("latin-1")
    seeds["raw-metrics-delete"] = (bytes([HTTP_METRICS])
                                   + b"DELETE /metrics HTTP/1.1\r\n\r\n")
    return seeds


def http_dict():
    words = ["GET", "HEAD", "POST", "OPTIONS", " HTTP/1.1\r\n",
             " HTTP/1.0\r\n", "\r\n", "\r\n\r\n", "Host: ",
             "Authorization: Bearer ", "Cookie: sw_token=", "Last-Event-ID: ",
             "Content-Length: ", "Transfer-Encoding: chunked",
             "Connection: close", "Expect: 100-continue", "/", "/index.html",
             "/api/", "/api/state", "/api/events", "/api/section",
             "/api/preview", "/metrics", "/healthz", "?", "&", "=", "%",
             "%3D", "%2C", "%00", "+", "name=", "from=", "to=", "set=",
             "token=", "wall=1", "HU-RS", "GR-TR", "HR-SI/karlovac",
             "threshold.limit=140", "run=ears_c2,cusum", "2019-03-01",
             "2019-03-01T00:00:00Z", "1551398400000", "100", "104",
             "4611686018427387904", "18446744073709551615", "-1",
             TOKEN_OPERATOR, TOKEN_VIEWER, "\"section\":\"GR-TR\""]
    return [w.encode() for w in words]


def main():
    write_corpus("event_msgpack", msgpack_seeds())
    write_corpus("event_line", line_seeds())
    write_dict(os.path.join(HERE, "event_msgpack.dict"),
               "msgpack event fuzz dictionary", msgpack_dict())
    write_dict(os.path.join(HERE, "event_line.dict"),
               "JSON/CSV event line fuzz dictionary", line_dict())
    for name, seeds, title, entries in (
            ("config", config_seeds(), "config, authorised-keys and viewers "
             "file fuzz dictionary", config_dict()),
            ("replay_request", replay_seeds(), "replay request fuzz "
             "dictionary", replay_dict()),
            ("alert_wire", alert_seeds(), "alert decoder fuzz dictionary",
             alert_dict()),
            ("ctl_args", ctl_seeds(), "surgewatch ctl argument fuzz "
             "dictionary", ctl_dict()),
            ("http", http_seeds(), "web view and /metrics HTTP fuzz "
             "dictionary", http_dict())):
        write_corpus(name, seeds)
        write_dict(os.path.join(HERE, name + ".dict"), title, entries)


if __name__ == "__main__":
    main()
