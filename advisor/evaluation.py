"""Evaluation: retrieval hit-rate and MRR on the dev question sets in evals/."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
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


def evaluate_extraction(situations: Sequence[Any], *, llm: Any | None) -> dict[str, Any]:
    """Per-field extraction figures and recommendation agreement on situation cases."""
    from advisor.extraction import extract_profile
    from advisor.profile import FIELD_ORDER
    from advisor.scoring import score_profile
    from advisor.situations import tally_fields

    pairs: list[tuple[str, Any, Mapping[str, Any]]] = []
    agree = 0
    seconds = []
    for case in situations:
        started = time.perf_counter()
        extraction = extract_profile([m["content"] for m in case.messages if m["role"] == "user"], llm=llm)
        seconds.append(time.perf_counter() - started)
        pairs.append((case.id, case.profile, extraction.profile.stated()))
        agree += score_profile(extraction.profile).recommended == case.expected_recommendation
    tally = tally_fields(pairs)
    fields = {name: {"stated": tally.stated[name], "right": tally.right[name], "wrong": tally.wrong[name],
                     "invented": tally.invented[name], "unstated": tally.unstated[name]} for name in FIELD_ORDER}
    return {"cases": len(situations), "totals": tally.totals(), "fields": fields,
            "recommendation_agreement": agree / max(len(situations), 1), "errors": tally.errors,
            "median_s": sorted(seconds)[len(seconds) // 2] if seconds else 0.0}


def _print_extraction(result: dict[str, Any]) -> None:
    t = result["totals"]
    print(f"extraction: {result['cases']} cases; stated fields right {t['recall']:.1%}, precision "
          f"{t['precision']:.1%}, invented {t['invented_rate']:.1%} of unstated; recommendation agrees "
          f"{result['recommendation_agreement']:.1%}; median {result['median_s']:.1f} s per case")
    print(f"  {'field':<26} stated right wrong invented/unstated")
    for name, f in result["fields"].items():
        print(f"  {name:<26} {f['stated']:>6} {f['right']:>5} {f['wrong']:>5} {f['invented']:>4}/{f['unstated']}")
    for error in result["errors"]:
        print(f"  - {error}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run an eval and print its figures: retrieval (hit@k, MRR) or extraction (per field, with the model)."""
    from advisor.config import Settings, set_offline_env

    set_offline_env()
    parser = argparse.ArgumentParser(prog="python -m advisor.evaluation", description=main.__doc__)
    parser.add_argument("suite", nargs="?", choices=["retrieval", "extraction"], default="retrieval")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--set", dest="which", choices=["dev", "holdout"], default="dev",
                        help="situation set for the extraction eval")
    parser.add_argument("--no-model", action="store_true", help="extraction with the deterministic cues only")
    parser.add_argument("--limit", type=int, default=None, help="only the first N situations")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.suite == "extraction":
        from advisor.llm import open_llm
        from advisor.situations import SITUATIONS_PATH, load_situations

        path = SITUATIONS_PATH if args.which == "dev" else SITUATIONS_PATH.with_name("situations_holdout.yaml")
        cases = load_situations(path)[: args.limit]
        result = evaluate_extraction(cases, llm=None if args.no_model else open_llm(settings))
        print(json.dumps(result, indent=2)) if args.json else _print_extraction(result)
        return 0
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
