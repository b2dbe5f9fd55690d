#!/usr/bin/env python3
"""Checks for tests/integration/test_worker.sh. Prints TAP-like lines
("ok - ..." / "not ok - ...", "# ..." details); exit 0 when all are ok.

  worker_check.py log XRANGE.txt [REFERENCE.jsonl] [--backtest]
      XRANGE.txt: `redis-cli --raw XRANGE PREFIX:alerts - +` output.
      Checks that the sequence numbers are 1..n without a gap and that no
      transition is there twice (the same record, field for field).
      With REFERENCE (JSON lines: backtest's output, or another log dumped
      the same way with --log-ref), checks that both hold the same
      transitions, field for field (seq aside).

  worker_check.py dlq GARBAGE.json DLQ.txt (once|at-least-once)
      DLQ.txt: `kcat -C -e -f '%h\\t%s\\n'` output of the dead-letter topic.
      Checks that every garbage payload is there with its expected reason
      (exactly once, or at least once), and nothing else.
"""
import collections
import json
import re
import sys

results = []


def check(ok, name, *details):
    results.append(ok)
    print("%s - %s" % ("ok" if ok else "not ok", name))
    for d in details:
        print("#   %s" % d)


def read_log(path):
    """[(seq, alert dict)] from redis-cli --raw XRANGE output."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    i = 0
    while i + 2 < len(lines) + 1 and i < len(lines):
        m = re.match(r"^(\d+)-(\d+)$", lines[i])
        if m and i + 2 < len(lines) and lines[i + 1] == "alert":
            out.append((int(m.group(1)), json.loads(lines[i + 2])))
            i += 3
        else:
            i += 1
    return out


def canon(a):
    a = dict(a)
    a.pop("seq", None)
    return json.dumps(a, sort_keys=True)


def cmd_log(args):
    log = read_log(args[0])
    seqs = [s for s, _ in log]
    check(seqs == list(range(1, len(log) + 1)),
          "alert log %s: sequence numbers 1..%d, in order, no gap" % (args[0].split("/")[-1], len(log)),
          "first seqs: %s" % seqs[:10])
    # a transition written twice is the same record twice; two updates of
    # one window with different figures (late data) are two transitions
    dup = [k for k, c in collections.Counter(canon(a) for _, a in log).items() if c > 1]
    check(not dup, "alert log: no transition written twice (%d transitions)" % len(log),
          *["twice: %s" % (d,) for d in dup[:5]])
    if len(args) > 1:
        if "--log-ref" in args:
            ref = [a for _, a in read_log(args[1])]
        else:
            ref = [json.loads(l) for l in open(args[1]) if l.strip()]
        mine = collections.Counter(canon(a) for _, a in log)
        theirs = collections.Counter(canon(a) for a in ref)
        missing = list((theirs - mine).elements())
        extra = list((mine - theirs).elements())
        check(not missing and not extra,
              "alert log equals %s: %d transitions, nothing missing, nothing extra"
              % (args[1].split("/")[-1], len(ref)),
              "missing %d, extra %d" % (len(missing), len(extra)),
              *["missing: %s" % m for m in missing[:3]],
              *["extra: %s" % e for e in extra[:3]])
        ids_mine = {a["alert_id"] for _, a in log}
        ids_ref = {a["alert_id"] for a in ref}
        print("#   %d alert ids, %d in the reference" % (len(ids_mine), len(ids_ref)))


def cmd_dlq(args):
    garbage = json.load(open(args[0]))
    mode = args[2]
    want = {g["hex"]: g for g in garbage}
    seen = collections.Counter()
    wrong = []
    unknown = 0
    positions = []
    for raw in open(args[1], "rb").read().split(b"\n"):
        if not raw:
            continue
        head, _, payload = raw.partition(b"\t")
        h = head.decode("utf-8", "replace")
        m = re.search(r"(?:^|,)reason=([a-z_]+)", h)
        reason = m.group(1) if m else None
        p = re.search(r"source\.partition=(-?\d+),source\.offset=(-?\d+)", h)
        g = want.get(payload.hex())
        if g is None:
            unknown += 1
            continue
        seen[payload.hex()] += 1
        if reason != g["reason"]:
            wrong.append("%s (%s): reason %s, expected %s" % (g["kind"], payload[:30], reason, g["reason"]))
        if p:
            positions.append((int(p.group(1)), int(p.group(2)), payload.hex()))
    missing = [g for g in garbage if seen[g["hex"]] == 0]
    twice = [h for h, c in seen.items() if c > 1]
    check(not missing, "dead-letter topic: all %d garbage payloads are there" % len(garbage),
          *["missing: %s (%s)" % (g["kind"], g["hex"][:40]) for g in missing[:5]])
    check(not wrong, "dead-letter topic: each with its expected reason (%s)"
          % ", ".join("%s=%d" % kv for kv in sorted(collections.Counter(g["reason"] for g in garbage).items())),
          *wrong[:5])
    check(unknown == 0, "dead-letter topic: nothing but the garbage (%d other messages)" % unknown)
    if mode == "once":
        check(not twice, "dead-letter topic: each exactly once (no crash in this group)",
              "%d twice" % len(twice))
    else:
        print("#   %d of them twice (at-least-once after a crash: a replay re-sends them)" % len(twice))
    with open(args[1] + ".positions", "w") as f:
        for part, off, hx in positions[:: max(1, len(positions) // 5)][:5]:
            f.write("%d %d %s\n" % (part, off, hx))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"log": cmd_log, "dlq": cmd_dlq}[cmd](args)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
