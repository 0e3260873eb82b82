"""The held-out situations answered end to end by the bundled local model: what the issue's closing figures use.

    python benchmarks/holdout_local.py [--limit N] [--json FILE]

For each case in evals/situations_holdout.yaml: recommendation right or not, answer time, time to the first
checked sentence of the model's, and the claim check's tally (kept, corrected, dropped and why). Prints medians
and p90. Slow (tens of seconds a case on two cores); the machine is shared and noisy: quote medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.config import REPO_ROOT, Settings, set_offline_env

set_offline_env()

from benchmarks.eval_report import finish, median_p90  # noqa: E402


def main() -> int:
    import yaml

    from advisor.advisor import Advisor
    from advisor.events import DoneEvent, TextEvent
    from advisor.store import Store

    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--skip", type=int, default=0, help="start after this many cases")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cases = yaml.safe_load((REPO_ROOT / "evals" / "situations_holdout.yaml").read_text(encoding="utf-8"))
    cases = cases[: args.limit] if args.limit else cases
    cases = cases[args.skip:]
    settings = Settings()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        advisor = Advisor(settings, store=Store(Path(tmp) / "advisor.sqlite3"))
        for case in cases:
            conversation = None
            said = [t["content"] for t in case.get("turns", []) if t["role"] == "user"]
            for earlier in said[:-1]:  # a conversation: the user's earlier messages first
                conversation = advisor.ask(earlier, conversation_id=conversation).conversation_id
            message = case["text"] if "text" in case else said[-1]
            first = None
            header_done = False
            done = None
            for event in advisor.events(message, conversation_id=conversation):
                if isinstance(event, TextEvent):
                    if header_done and first is None and event.delta.strip() and not event.delta.startswith("**"):
                        first = event.t
                    if "**Why**" in event.delta:
                        header_done = True
                if isinstance(event, DoneEvent):
                    done = event.result
            assert done is not None
            row = {"id": case["id"], "expected": case["expected_recommendation"],
                   "got": done["recommendation"], "right": done["recommendation"] == case["expected_recommendation"],
                   "seconds": done["latency_s"], "first_checked_s": first, "checks": done["checks"]}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "checks"} | {
                "kept": done["checks"]["kept"], "corrected": done["checks"]["corrected"],
                "dropped": done["checks"]["dropped"], "reasons": done["checks"]["reasons"]}), flush=True)
    times = sorted(r["seconds"] for r in rows)
    firsts = sorted(r["first_checked_s"] for r in rows if r["first_checked_s"] is not None)
    kept = sum(r["checks"]["kept"] + r["checks"]["corrected"] for r in rows)
    dropped = sum(r["checks"]["dropped"] for r in rows)
    reasons: dict[str, int] = {}
    for r in rows:
        for k, v in r["checks"]["reasons"].items():
            reasons[k] = reasons.get(k, 0) + v
    summary = {
        "cases": len(rows), "recommendation_accuracy": sum(r["right"] for r in rows) / len(rows),
        "median_s": median_p90(times)[0], "p90_s": median_p90(times)[1],
        "median_first_checked_s": statistics.median(firsts) if firsts else None,
        "sentences_kept": kept, "sentences_dropped": dropped,
        "share_kept": kept / max(1, kept + dropped), "dropped_by_reason": reasons,
    }
    return finish(summary, rows, args.json)


if __name__ == "__main__":
    sys.exit(main())
