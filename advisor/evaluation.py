"""Evaluation: retrieval hit-rate and MRR on the dev question sets in evals/."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
    cases: list[RetrievalCase] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: malformed YAML: {exc}") from None
        if not isinstance(raw, list):
            raise ValueError(f"{path}: expected a list of cases")
        for i, item in enumerate(raw):
            try:
                cases.append(RetrievalCase.model_validate(item))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                raise ValueError(f"{path}: case {i} ({where}): {err['msg']}") from None
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"{folder}: duplicate case ids {dupes}")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the retrieval eval over the shipped index and print the figures."""
    from advisor.config import Settings, set_offline_env

    set_offline_env()
    parser = argparse.ArgumentParser(prog="python -m advisor.evaluation", description=main.__doc__)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from advisor.index import open_index
    from advisor.retrieval import HybridRetriever

    index = open_index(Settings())
    index.ingest(progress=False)
    result = evaluate_retrieval(HybridRetriever(index), load_retrieval_cases(), k=args.k)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(f"retrieval: {result.cases} cases, hit@{result.k} {result.hit_at_k:.3f}, MRR {result.mrr:.3f}")
        for miss in result.misses:
            print(f"  miss {miss['id']}: {miss['question']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
