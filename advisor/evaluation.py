"""Evaluation: retrieval hit-rate and MRR on the dev question sets in evals/."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from advisor.cases import check_unique_ids, load_yaml_cases
from advisor.config import REPO_ROOT

if TYPE_CHECKING:
    from advisor.retrieval import HybridRetriever

__all__ = ["ExpectedPassage", "RetrievalCase", "RetrievalResult", "evaluate_retrieval", "load_retrieval_cases"]

RETRIEVAL_DIR = REPO_ROOT / "evals" / "retrieval"


class ExpectedPassage(BaseModel):
    """A passage that answers a question: its document path (relative to knowledge/) and section."""

    model_config = ConfigDict(extra="forbid")
    path: str
    section: str


class RetrievalCase(BaseModel):
    """One dev question and the passages that answer it (any of them counts)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    question: str = Field(min_length=1)
    expected: list[ExpectedPassage] = Field(min_length=1)


@dataclass(frozen=True)
class RetrievalResult:
    """Aggregate and per-case results."""

    hit_at_k: float
    mrr: float
    k: int
    cases: int
    misses: list[dict[str, object]]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"hit_at_k": round(self.hit_at_k, 4), "mrr": round(self.mrr, 4), "k": self.k,
                "cases": self.cases, "misses": self.misses}


def load_retrieval_cases(folder: Path = RETRIEVAL_DIR) -> list[RetrievalCase]:
    """Every case in folder/*.yaml; a bad file raises ValueError naming the file and case."""
    cases = [c for path in sorted(folder.glob("*.yaml")) for c in load_yaml_cases(path, RetrievalCase)]
    check_unique_ids(cases, folder)
    return cases


def evaluate_retrieval(retriever: HybridRetriever, cases: Sequence[RetrievalCase], *, k: int = 5
                       ) -> RetrievalResult:
    """hit@k and MRR@k of retriever on cases."""
    hits = 0
    reciprocal = 0.0
    misses: list[dict[str, object]] = []
    for case in cases:
        wanted = {(e.path, e.section) for e in case.expected}
        results = retriever.search(case.question, k=k)
        rank = next((r for r, h in enumerate(results, 1) if (h.path, h.section) in wanted), None)
        if rank is None:
            misses.append({"id": case.id, "question": case.question,
                           "got": [f"{h.path} § {h.section}" for h in results]})
            continue
        hits += 1
        reciprocal += 1.0 / rank
    n = max(len(cases), 1)
    return RetrievalResult(hits / n, reciprocal / n, k, len(cases), misses)


def _print_understanding(name: str, result: dict[str, Any], *, errors: bool) -> None:
    from advisor.understanding_eval import TARGETS

    routes = ", ".join(f"{kind} {r['share']:.1%} ({r['right']}/{r['cases']})" for kind, r in result["routing"].items())
    print(f"understanding ({name}, {result['cases']} cases): routed right: {routes}")
    print(f"  situations to a verdict {result['situations_routed']:.1%} (target {TARGETS['situations_routed']:.0%}), "
          f"stated fields right {result['fields_right']:.1%} (target {TARGETS['fields_right']:.0%}), invented "
          f"{result['invented']:.1%} of unstated (target <= {TARGETS['invented']:.0%}), recommendation as on the hand "
          f"profile {result['recommendation']:.1%} (target {TARGETS['recommendation']:.0%}); reading "
          f"{result['read_ms_median']:.0f} ms a message (median)")
    print(f"  {'field':<26} stated right wrong invented/unstated")
    for field_name, f in result["fields"].items():
        print(f"  {field_name:<26} {f['stated']:>6} {f['right']:>5} {f['wrong']:>5} {f['invented']:>4}/{f['unstated']}")
    for error in result["errors"] if errors else ():
        print(f"  - {error}")


def _understanding(args: argparse.Namespace) -> int:
    from advisor.config import Settings
    from advisor.reader import load_reader
    from advisor.understanding_eval import dev_cases, evaluate_understanding, holdout_cases, report_markdown

    reader = load_reader(Settings())
    results = {}
    for which in (["holdout", "dev"] if args.which == "both" else [args.which]):
        cases = holdout_cases() if which == "holdout" else dev_cases()
        results[which] = evaluate_understanding(reader, cases)
        if not args.json:
            _print_understanding(which, results[which], errors=args.errors)
    if args.json:
        print(json.dumps(results, indent=2))
    if args.report is not None and "holdout" in results:
        second = ("Development situations (evals/situations*.yaml, used for tuning)", results["dev"]) \
            if "dev" in results else None
        args.report.write_text(report_markdown("Understanding: routing and reading on the frozen held-out set",
                                               results["holdout"], second=second), encoding="utf-8")
        print(f"report written to {args.report}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run an eval and print its figures: retrieval (hit@k, MRR) or understanding (routes and fields)."""
    from advisor.config import Settings, set_offline_env

    set_offline_env()
    parser = argparse.ArgumentParser(prog="python -m advisor.evaluation", description=main.__doc__)
    parser.add_argument("suite", nargs="?", choices=["retrieval", "understanding"], default="retrieval")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--set", dest="which", choices=["holdout", "dev", "both"], default="both",
                        help="cases for the understanding eval (holdout: the frozen held-out set)")
    parser.add_argument("--errors", action="store_true", help="list every routing and field error")
    parser.add_argument("--report", type=Path, default=None, help="write a Markdown report here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.suite == "understanding":
        return _understanding(args)
    settings = Settings()
    from advisor.index import open_index
    from advisor.retrieval import HybridRetriever

    index = open_index(settings)
    index.ingest(progress=False)
    retrieval = evaluate_retrieval(HybridRetriever(index), load_retrieval_cases(), k=args.k)
    if args.json:
        print(json.dumps(retrieval.as_dict(), indent=2))
    else:
        print(f"retrieval: {retrieval.cases} cases, hit@{retrieval.k} {retrieval.hit_at_k:.3f}, "
              f"MRR {retrieval.mrr:.3f}")
        for miss in retrieval.misses:
            print(f"  miss {miss['id']}: {miss['question']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
