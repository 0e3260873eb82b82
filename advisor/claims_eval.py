"""How well the claim check tells a supported citation from an unsupported one, on labelled sentence/passage pairs.

    python -m advisor.claims_eval                      # precision and recall on the tuning and held-out pairs
    python -m advisor.claims_eval --grid               # the threshold grid on the tuning pairs only
    python -m advisor.claims_eval --report evals/reports/claims.md

Each pair is checked as the pipeline checks a sentence in a situation answer: the sentence cites the passage (its
only passage), nothing is known of the user (so a claim about the user is unsupported), and the full check runs:
numbers, claims about the user, contradiction of the option, then the support score against the threshold. A
pair counts as "supported" when the sentence survives with its citation.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from advisor.claims import SUPPORT_THRESHOLD, ClaimChecker, Embed, Evidence
from advisor.config import REPO_ROOT

if TYPE_CHECKING:
    from advisor.reader import Reader

__all__ = ["SupportPair", "SupportResult", "evaluate_support", "load_pairs", "section_text"]

TUNING = REPO_ROOT / "evals" / "citation_support.yaml"
HOLDOUT = REPO_ROOT / "evals" / "citation_support_holdout.yaml"
KNOWLEDGE = REPO_ROOT / "knowledge"


class SupportPair(BaseModel):
    """A sentence citing one guide section, and whether that section supports it."""

    model_config = ConfigDict(extra="forbid")
    id: str
    passage: str = Field(pattern=r"^[\w\-/]+\.md#.+$")
    sentence: str = Field(min_length=1)
    supported: bool
    kind: str
    note: str | None = None


def load_pairs(path: Path) -> list[SupportPair]:
    """The pairs of one file; a bad entry raises ValueError naming the file and the pair."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of pairs")
    pairs = []
    for i, item in enumerate(data):
        try:
            pairs.append(SupportPair.model_validate(item))
        except Exception as exc:
            name = item.get("id", f"#{i + 1}") if isinstance(item, dict) else f"#{i + 1}"
            raise ValueError(f"{path}: pair {name}: {' '.join(str(exc).split())}") from exc
    return pairs


def section_text(source: str, knowledge: Path = KNOWLEDGE) -> str:
    """The text of one `## ` section, given as "guides/FILE.md#Heading"."""
    file, _, heading = source.partition("#")
    text = (knowledge / file).read_text(encoding="utf-8")
    match = re.search(r"^## " + re.escape(heading) + r"[ \t]*\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if match is None:
        raise ValueError(f"{source}: no such section")
    return match.group(1).strip()


@dataclass(frozen=True)
class SupportResult:
    """Precision and recall of "supported" over a set of pairs, with the misses by kind."""

    pairs: int
    precision: float
    recall: float
    f1: float
    accuracy: float
    by_kind: dict[str, tuple[int, int]]  # kind -> (judged right, pairs)
    wrong: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"pairs": self.pairs, "precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), "accuracy": round(self.accuracy, 4),
                "by_kind": {k: list(v) for k, v in self.by_kind.items()}, "wrong": self.wrong}


def judge(pair: SupportPair, *, embed: Embed, reader: Reader | None, threshold: float,
          knowledge: Path = KNOWLEDGE) -> bool:
    """Whether the check keeps the pair's sentence with its citation."""
    sentence = re.sub(r"\[\d{1,3}\]", "", pair.sentence).rstrip()
    end = sentence[-1] if sentence[-1:] in ".!?" else ""
    cited = f"{sentence[: len(sentence) - len(end)].rstrip()} [1]{end}"
    checker = ClaimChecker([section_text(pair.passage, knowledge)], Evidence(profile={}), embed=embed,
                           reader=reader, threshold=threshold)
    kept = checker.check(cited)
    return "[1]" in kept


def evaluate_support(pairs: Sequence[SupportPair], *, embed: Embed, reader: Reader | None,
                     threshold: float = SUPPORT_THRESHOLD, knowledge: Path = KNOWLEDGE) -> SupportResult:
    """Precision and recall of the check's "supported" on pairs."""
    tp = fp = fn = right = 0
    kinds: Counter[str] = Counter()
    good: Counter[str] = Counter()
    wrong = []
    for pair in pairs:
        said = judge(pair, embed=embed, reader=reader, threshold=threshold, knowledge=knowledge)
        tp += said and pair.supported
        fp += said and not pair.supported
        fn += (not said) and pair.supported
        kinds[pair.kind] += 1
        if said == pair.supported:
            right += 1
            good[pair.kind] += 1
        else:
            wrong.append({"id": pair.id, "kind": pair.kind, "supported": pair.supported, "sentence": pair.sentence})
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return SupportResult(len(pairs), precision, recall, f1, right / max(1, len(pairs)),
                         {k: (good[k], kinds[k]) for k in sorted(kinds)}, wrong)


def _tools() -> tuple[Embed, Reader]:
    from advisor.config import Settings, set_offline_env

    set_offline_env()
    from advisor.embedding import load_embedder
    from advisor.reader import load_reader

    settings = Settings()
    encode = load_embedder(settings.resolved_embed_model_path()).encode
    memo: dict[str, Any] = {}

    def embed(texts: Sequence[str]) -> Any:  # the grid checks each pair many times over
        missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            memo.update(zip(missing, encode(missing), strict=True))
        return np.stack([memo[t] for t in texts])

    reader = load_reader(settings)
    readings: dict[str, Any] = {}
    read = reader.read

    def remembered(messages: Sequence[str]) -> Any:
        key = "\x00".join(messages)
        if key not in readings:
            readings[key] = read(messages)
        return readings[key]

    reader.read = remembered  # type: ignore[method-assign]
    return embed, reader


def _report(tuning: SupportResult, holdout: SupportResult, threshold: float) -> str:
    lines = ["# Claim check: citation support", "",
             "Generated by `python -m advisor.claims_eval --report evals/reports/claims.md`. Each labelled pair is a",
             "sentence citing one guide section; the check keeps it with its citation or not (numbers, claims about",
             "the user, contradiction of an option, then the support score). The threshold was chosen on the tuning",
             "pairs only; the held-out pairs were written before it and never tuned on.", "",
             f"Support threshold: {threshold:.2f}", "",
             "| set | pairs | precision | recall | F1 | accuracy |", "|---|---|---|---|---|---|"]
    for name, r in (("tuning (evals/citation_support.yaml)", tuning),
                    ("held-out (evals/citation_support_holdout.yaml)", holdout)):
        lines.append(f"| {name} | {r.pairs} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f} | {r.accuracy:.3f} |")
    lines += ["", "Judged right, by kind (held-out / tuning):", "", "| kind | held-out | tuning |", "|---|---|---|"]
    for kind in sorted(set(tuning.by_kind) | set(holdout.by_kind)):
        h, t = holdout.by_kind.get(kind, (0, 0)), tuning.by_kind.get(kind, (0, 0))
        lines.append(f"| {kind} | {h[0]}/{h[1]} | {t[0]}/{t[1]} |")
    lines += ["", "Held-out pairs judged wrong:", ""]
    lines += [f"- {w['id']} ({w['kind']}, labelled {'supported' if w['supported'] else 'unsupported'}): "
              f"{w['sentence']}" for w in holdout.wrong]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m advisor.claims_eval", description=__doc__.split("\n")[0])
    parser.add_argument("--grid", action="store_true", help="F1 on the tuning pairs for a range of thresholds")
    parser.add_argument("--report", type=Path, help="write the Markdown report here")
    args = parser.parse_args(argv)
    embed, reader = _tools()
    tuning_pairs = load_pairs(TUNING)
    if args.grid:
        for step in range(40, 81, 2):
            r = evaluate_support(tuning_pairs, embed=embed, reader=reader, threshold=step / 100)
            print(f"threshold {step / 100:.2f}: P {r.precision:.3f} R {r.recall:.3f} F1 {r.f1:.3f}")
        return 0
    tuning = evaluate_support(tuning_pairs, embed=embed, reader=reader)
    holdout = evaluate_support(load_pairs(HOLDOUT), embed=embed, reader=reader)
    for name, r in (("tuning", tuning), ("held-out", holdout)):
        print(f"{name}: {r.pairs} pairs, precision {r.precision:.3f}, recall {r.recall:.3f}, F1 {r.f1:.3f}")
    if args.report:
        args.report.write_text(_report(tuning, holdout, SUPPORT_THRESHOLD), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
