"""Fact questions answered end to end by the bundled local model: are the key points of the guides there?

    python benchmarks/facts_local.py [--set facts|facts_holdout|facts_holdout2] [--limit N] [--json FILE]

For each case of an eval set (evals/facts.yaml for tuning; evals/facts_holdout.yaml, seen once and since used for
tuning; evals/facts_holdout2.yaml, held out and frozen): the share of its
`must_mention` points present in the answer (a point is "a|b|c" alternatives, present when one occurs in the
lower-cased answer), whether a passage it expects was retrieved and cited, the claim check's tally and the answer
time. Every sentence shown passed the claim check, so a point found is a point supported by a passage. Slow (tens
of seconds a case on two cores); quote medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.config import REPO_ROOT, Settings, set_offline_env

set_offline_env()

from advisor.eval_run import points_found  # noqa: E402
from benchmarks.eval_report import finish, median_p90  # noqa: E402


def main() -> int:
    import yaml

    from advisor.advisor import Advisor
    from advisor.store import Store

    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="facts",
                        choices=["facts", "facts_holdout", "facts_holdout2", "facts_holdout3", "facts_holdout4",
                                 "facts_holdout5"],
                        help="the eval set (evals/<set>.yaml)")
    parser.add_argument("--holdout", action="store_const", const="facts_holdout2", dest="set",
                        help="the frozen held-out set (facts_holdout2)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--skip", type=int, default=0, help="start after this many cases")
    parser.add_argument("--only", default=None, help="only the cases whose id contains one of these (comma-separated)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    name = f"{args.set}.yaml"
    cases = yaml.safe_load((REPO_ROOT / "evals" / name).read_text(encoding="utf-8"))
    wanted = (args.only or "").split(",")
    cases = [c for c in cases if any(w in c["id"] for w in wanted)][args.skip:][: args.limit]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        advisor = Advisor(Settings(), store=Store(Path(tmp) / "advisor.sqlite3"))
        for case in cases:
            answer = advisor.ask(case["question"])
            found = points_found(answer.answer, case["must_mention"])
            expected = set(case.get("expect_sources") or [])
            retrieved = {f"{s['path']}#{s['section']}" for s in answer.sources}
            cited = {f"{s['path']}#{s['section']}" for s in answer.sources if s["cited"]}
            row = {"id": case["id"], "kind": answer.kind, "points": len(case["must_mention"]), "found": len(found),
                   "missing": [p for p in case["must_mention"] if p not in found],
                   "source_retrieved": bool(expected & retrieved) if expected else None,
                   "source_cited": bool(expected & cited) if expected else None,
                   "seconds": answer.latency_s, "checks": answer.checks, "answer": answer.answer}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("answer", "checks")} | {
                "kept": answer.checks["kept"] + answer.checks["corrected"],
                "dropped": answer.checks["dropped"]}), flush=True)
    points = sum(r["points"] for r in rows)
    found = sum(r["found"] for r in rows)
    with_sources = [r for r in rows if r["source_retrieved"] is not None]
    kept = sum(r["checks"]["kept"] + r["checks"]["corrected"] for r in rows)
    dropped = sum(r["checks"]["dropped"] for r in rows)
    times = sorted(r["seconds"] for r in rows)
    summary = {
        "set": name, "cases": len(rows), "points": points, "points_found": found,
        "point_coverage": round(found / max(1, points), 3),
        "median_case_coverage": statistics.median(r["found"] / r["points"] for r in rows),
        "source_retrieved": f"{sum(bool(r['source_retrieved']) for r in with_sources)}/{len(with_sources)}",
        "source_cited": f"{sum(bool(r['source_cited']) for r in with_sources)}/{len(with_sources)}",
        "sentences_kept": kept, "sentences_dropped": dropped, "share_kept": round(kept / max(1, kept + dropped), 3),
        "median_s": median_p90(times)[0], "p90_s": median_p90(times)[1],
    }
    return finish(summary, rows, args.json)


if __name__ == "__main__":
    sys.exit(main())
