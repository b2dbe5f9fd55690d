#!/usr/bin/python3
"""Runs the scenario over many seeds: how robust are a config's results?

usage: sweep.py [--bin build/surgewatch] [--config tests/scenario/scenario.ini]
                [--seeds 1-120] [--jobs 4]

For every seed: make_scenario.py, `surgewatch backtest`, check_alerts.py.
Prints the checks that failed per seed, then how many seeds pass every
check and how often each check failed. The integration test runs one seed;
this is how the numbers in scenario.ini's comments were measured (about a
minute for 120 seeds with 4 jobs). Python 3 standard library only.
"""

import argparse
import collections
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def one(seed, sw_bin, config, work):
    ev = os.path.join(work, "ev%d.jsonl" % seed)
    truth = os.path.join(work, "truth%d.json" % seed)
    alerts = os.path.join(work, "alerts%d.jsonl" % seed)
    py = sys.executable
    subprocess.run([py, os.path.join(HERE, "make_scenario.py"), "--seed",
                    str(seed), "--out", ev, "--truth", truth], check=True,
                   stderr=subprocess.DEVNULL)
    with open(alerts, "w") as out:
        subprocess.run([sw_bin, "backtest", "-q", "-c", config, "-e", ev],
                       check=True, stdout=out, stderr=subprocess.DEVNULL)
    res = subprocess.run([py, os.path.join(HERE, "check_alerts.py"), truth,
                          alerts], capture_output=True, text=True)
    for f in (ev, truth, alerts):
        os.unlink(f)
    failed = [line[len("not ok - "):] for line in res.stdout.splitlines()
              if line.startswith("not ok - ")]
    delays = re.search(r"^# detection delays in days: (.*)$", res.stdout,
                       re.M)
    return seed, failed, delays.group(1) if delays else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/surgewatch"))
    ap.add_argument("--config", default=os.path.join(HERE, "scenario.ini"))
    ap.add_argument("--seeds", default="1-120", help="FIRST-LAST")
    ap.add_argument("--jobs", type=int, default=4)
    a = ap.parse_args()
    first, _, last = a.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)
    kinds = collections.Counter()
    delays = collections.Counter()
    passed = 0
    with tempfile.TemporaryDirectory() as work, \
            concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for seed, failed, d in pool.map(
                lambda s: one(s, a.bin, a.config, work), seeds):
            for item in d.split("; "):  # "GR-MK 2019-03-04: 0"
                if item:
                    delays[item] += 1
            if failed:
                print("seed %d:" % seed)
                for f in failed:
                    print("  not ok - %s" % f)
                    # "GR-MK surge of 2019-03-04 raised within a day [...]"
                    kinds[re.sub(r" \[.*| \(.*", "", f)] += 1
            else:
                passed += 1
    print("\n%d of %d seeds pass every check" % (passed, len(seeds)))
    for k, n in kinds.most_common():
        print("  %3d x not ok - %s" % (n, k))
    print("detection delays (surge: days, and in how many seeds):")
    for k in sorted(delays):
        print("  %-28s %3d" % (k, delays[k]))
    return 0 if passed == len(seeds) else 1


if __name__ == "__main__":
    sys.exit(main())
