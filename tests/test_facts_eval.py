"""The fact-answer eval sets: the held-out set is frozen, every case is well formed and its points are in the
passages it names."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml

from advisor.config import REPO_ROOT
from benchmarks.facts_local import points_found

EVALS = REPO_ROOT / "evals"
HOLDOUT = EVALS / "facts_holdout.yaml"
HOLDOUT2 = EVALS / "facts_holdout2.yaml"
HOLDOUT3 = EVALS / "facts_holdout3.yaml"
HOLDOUT4 = EVALS / "facts_holdout4.yaml"
HOLDOUT5 = EVALS / "facts_holdout5.yaml"
KNOWLEDGE = REPO_ROOT / "knowledge"


def _cases(name: str) -> list[dict]:  # type: ignore[type-arg]
    return list(yaml.safe_load((EVALS / name).read_text(encoding="utf-8")))


def _section(source: str) -> str:
    """The text a source names: a guide's `## heading` section, or a catalog entry."""
    path, _, heading = source.partition("#")
    if path == "models.yaml":
        models = yaml.safe_load((KNOWLEDGE / path).read_text(encoding="utf-8"))["models"]
        [entry] = [m for m in models if m["id"] == heading]
        return yaml.safe_dump(entry, allow_unicode=True)
    text = (KNOWLEDGE / path).read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, source
    return match.group(1)


# Each held-out set was written before the round of fact-answer tuning it measures, once the one before had been
# seen, and is frozen by its hash.
@pytest.mark.parametrize(("path", "digest"), [
    (HOLDOUT, "da7923cc88fa9db13963bcab77314a85e883cf05fbbf8cba4041a54fdfd66ee4"),
    (HOLDOUT2, "4e0592f56d653e410c86c2096c63134eac16f42d9b6e1af74fa2f60a5430956c"),
    (HOLDOUT3, "d56a898548268bff773a1a5f9fc25faa592bd5079a652c9d9e14d3f655e8b6e8"),
    (HOLDOUT4, "ce0fe66d7ea220bb7d7cf36d6a69679b8eb87bed0740ded386cde72c9e733e77"),
    (HOLDOUT5, "17c2ceba43143ae264c320b954abc1257c41b63d982dfb8a8e987f60f6550ec4"),
], ids=["holdout", "holdout2", "holdout3", "holdout4", "holdout5"])
def test_the_held_out_fact_sets_are_frozen(path: Path, digest: str) -> None:
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("name", ["facts.yaml", "facts_holdout.yaml", "facts_holdout2.yaml", "facts_holdout3.yaml",
                                  "facts_holdout4.yaml", "facts_holdout5.yaml"])
def test_every_point_is_in_a_passage_the_case_names(name: str) -> None:
    cases = _cases(name)
    assert len({c["id"] for c in cases}) == len(cases) >= 16
    for case in cases:
        assert case["kind"] == "fact" and case["question"].strip(), case["id"]
        sources = case.get("expect_sources") or []
        if not sources:  # a question the knowledge base does not answer: the answer must say so
            assert case["must_mention"] and "not cover" in case["must_mention"][0], case["id"]
            continue
        assert 3 <= len(case["must_mention"]) <= 5, case["id"]
        text = "\n".join(_section(s) for s in sources)
        missing = [p for p in case["must_mention"] if not points_found(text, [p])]
        assert not missing, (case["id"], missing)


def test_sets_do_not_share_questions() -> None:
    sets = [{c["question"].lower() for c in _cases(name)}
            for name in ("facts.yaml", "facts_holdout.yaml", "facts_holdout2.yaml", "facts_holdout3.yaml",
                         "facts_holdout4.yaml", "facts_holdout5.yaml")]
    assert all(not a & b for i, a in enumerate(sets) for b in sets[i + 1:])


def test_a_point_is_found_by_any_of_its_alternatives() -> None:
    points = ["lock-in|depend", "rate limit", "gpu|idle"]
    found = points_found("You Depend on one vendor; its\nrate   limits bite.", points)
    assert found == ["lock-in|depend", "rate limit"]
    assert points_found("", points) == []
