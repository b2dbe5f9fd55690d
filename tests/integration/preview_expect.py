# The independent computation of what a threshold change adds and removes
# (tests/integration/test_preview.sh, test_ctl_preview.sh): two plain
# backtest outputs -> the expected changes, compared with what
# `backtest --compare --json` / `ctl preview --json` printed and its summary.
# usage: preview_expect.py CURRENT.alerts PROPOSED.alerts GOT.json ERR [--by-type]
import json, sys
LEVELS = ["low", "medium", "high", "critical"]

def standing(path):
    alerts = {}
    for line in open(path):
        a = json.loads(line)
        r = alerts.setdefault(a["alert_id"], {
            "alert_id": a["alert_id"], "section": a["section"],
            "type": a.get("type"), "detector": a["detector"],
            "raised": False, "level": 0, "peak_score": None})
        r["level"] = max(r["level"], LEVELS.index(a["level"]))
        if a["state"] != "resolved" and (r["peak_score"] is None
                                         or a["score"] > r["peak_score"]):
            r["peak_score"], r["threshold"] = a["score"], a["threshold"]
        if a["state"] == "raised":
            r["raised"] = True
        r["raised_at"] = a["raised_at"]
        last_resolved = a["state"] == "resolved"
        r["retracted"] = last_resolved and a.get("retracted", False)
        r["resolved_at"] = a["window_end"] if last_resolved else None
    return {k: v for k, v in alerts.items() if v["raised"] and not v["retracted"]}

def expected(cur_path, prop_path):
    cur, prop = standing(cur_path), standing(prop_path)
    out = []
    for change, mine, other in (("added", prop, cur), ("removed", cur, prop)):
        for k, r in mine.items():
            if k in other:
                continue
            e = {"change": change, "alert_id": k, "section": r["section"]}
            if r["type"] is not None:
                e["type"] = r["type"]
            e.update(detector=r["detector"], level=LEVELS[r["level"]],
                     peak_score=r["peak_score"], threshold=r["threshold"],
                     raised_at=r["raised_at"], resolved_at=r["resolved_at"])
            out.append(e)
    out.sort(key=lambda e: (e["section"], e["raised_at"], e["alert_id"]))
    return cur, prop, out

if __name__ == "__main__":
    cur_path, prop_path, got_path, err_path = sys.argv[1:5]
    by_type = "--by-type" in sys.argv
    cur, prop, want = expected(cur_path, prop_path)
    got = [json.loads(l) for l in open(got_path)]
    added = sum(e["change"] == "added" for e in want)
    removed = len(want) - added
    assert added > 0 and removed > 0, ("want both kinds", added, removed)
    for g in got:
        assert list(g)[:3] == ["change", "alert_id", "section"], g
        if "type" in g:  # a (section, type) key: named in its id
            assert g["alert_id"].startswith(f"{g['section']}:{g['type']}:"), g
    typed = sum("type" in g for g in got)
    assert (typed > 0) == by_type, ("lines with a type", typed)
    if got != want:
        gi = {(g["change"], g["alert_id"]): g for g in got}
        wi = {(w["change"], w["alert_id"]): w for w in want}
        only_got, only_want = sorted(set(gi) - set(wi)), sorted(set(wi) - set(gi))
        diff = [(gi[k], wi[k]) for k in gi.keys() & wi.keys() if gi[k] != wi[k]]
        sys.exit(f"got {len(got)} lines, want {len(want)}; only printed: "
                 f"{only_got[:3]}; missing: {only_want[:3]}; fields differ: "
                 f"{diff[:2]}; order same: {[(g['change'], g['alert_id']) for g in got] == [(w['change'], w['alert_id']) for w in want]}")
    sections = len({e["section"] for e in want})
    summary = (f"compare: current {len(cur)} alerts, proposed {len(prop)} "
               f"alerts; {added} added, {removed} removed in {sections} sections")
    err = open(err_path).read()
    assert summary in err, (summary, err)
    print(f"{added} added, {removed} removed in {sections} sections, "
          f"{sum(e['resolved_at'] is None for e in want)} still active; "
          f"current {len(cur)}, proposed {len(prop)} alerts")
