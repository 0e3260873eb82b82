"""An eval run's files (summary.md, junit.xml), the regression gate, and thumbs-down feedback as draft cases."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from advisor.eval_cases import load_dataset
from advisor.eval_feedback import draft_cases, drafts_yaml, parse_since
from advisor.eval_output import gate, junit_xml, new_run_dir, results_document, summary_markdown
from advisor.eval_run import summarise
from advisor.store import Store


def _case(cid: str, kind: str = "situation", *, ok: bool = True, error: str | None = None,
          numbers: list[str] | None = None, repeat: int = 0) -> dict[str, Any]:
    metrics: dict[str, Any] = {"error": error, "recommendation": "api" if ok else "pretrain", "latency_s": 2.5,
                               "tokens": 10, "cost_usd": 0.0, "numbers_unsupported": numbers or []}
    failures = [] if ok else ["recommendation pretrain not in ['api']"]
    if error:
        failures = [f"error: {error}"]
    if kind == "situation":
        metrics["recommendation_ok"] = ok
    metrics |= {"failures": failures, "passed": not failures}
    return {"id": cid, "kind": kind, "messages": ["q"], "turns": [], "paraphrases": [], "flip": None,
            "metrics": metrics, "passed": not failures, "failures": failures, "repeat": repeat}


def _doc(cases: list[dict[str, Any]]) -> dict[str, Any]:
    return results_document({"id": "r1", "model": "openai/fake", "datasets": ["evals/x.yaml"]}, summarise(cases),
                            cases)


def test_the_gate_passes_an_equal_run_and_names_metric_and_cases_of_a_worse_one() -> None:
    before = _doc([_case(f"s{i}") for i in range(10)])
    assert gate(before, baseline=before) == []
    after = _doc([_case(f"s{i}", ok=i not in (3, 7)) for i in range(10)])
    problems = gate(after, baseline=before)
    assert any(p.startswith("recommendation accuracy fell from 1 to 0.8") and "s3, s7" in p for p in problems)
    assert gate(after, baseline=before, tolerance=0.5) == []  # within a loose tolerance


def test_the_gate_enforces_dataset_thresholds_and_lower_is_better_counts() -> None:
    run = _doc([_case("a"), _case("b", ok=False), _case("c", error="timeout")])
    problems = gate(run, thresholds={"recommendation_accuracy": 0.9, "errors": 0})
    assert any("recommendation accuracy 0.667 is below the dataset's minimum 0.9" in p and "b" in p for p in problems)
    assert any(p.startswith("errors 1 is above the dataset's maximum 0") and "(cases: c)" in p for p in problems)
    assert gate(run, thresholds={"recommendation_accuracy": 0.6}) == []
    clean = _doc([_case(f"n{i}") for i in range(5)])
    noisy = _doc([_case(f"n{i}", numbers=["$9"] if i == 2 else None) for i in range(5)])
    assert any("unsupported numbers rose from 0 to 1" in p and "n2" in p for p in gate(noisy, baseline=clean))


def test_junit_has_one_test_case_per_eval_case_with_failures_and_errors() -> None:
    doc = _doc([_case("a"), _case("b", ok=False), _case("c", error="model down"), _case("a", repeat=1)])
    root = ET.fromstring(junit_xml(doc).split("?>", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "1")
    names = [t.get("name") for t in suite.iter("testcase")]
    assert names == ["a", "b", "c", "a#1"]
    failure = suite.find("testcase[@name='b']/failure")
    assert failure is not None and "pretrain" in (failure.get("message") or "")
    assert suite.find("testcase[@name='c']/error") is not None
    assert suite.find("testcase[@name='a']/failure") is None


def test_summary_markdown_lists_metrics_failed_cases_and_the_gate() -> None:
    doc = _doc([_case("a"), _case("b", kind="situation", ok=False)])
    text = summary_markdown(doc, ["recommendation accuracy fell from 1 to 0.5 against the baseline (cases: b)"])
    assert "| recommendation accuracy | 0.5 |" in text
    assert "## Failed cases (1)" in text and "`b` [situation]: recommendation pretrain" in text
    assert "- FAIL: recommendation accuracy fell" in text
    assert "Passed." in summary_markdown(doc, [])
    assert "None" not in summary_markdown(_doc([_case("a")]))


def test_new_run_dirs_never_collide(tmp_path: Path) -> None:
    now = dt.datetime(2026, 12, 3, 18, 40, tzinfo=dt.UTC)
    first = new_run_dir(tmp_path, now)
    first.mkdir()
    assert first.name == "20261203-184000" and new_run_dir(tmp_path, now).name == "20261203-184000-1"


def _turn(store: Store, conversation: str, user: str, answer: str, recommendation: str | None,
          sources: list[dict[str, Any]] | None = None, kind: str = "situation") -> str:
    return store.add_turn(conversation, user=user, answer=answer, standalone_question=None,
                          recommendation=recommendation, sources=sources or [], profile=None, scores=None,
                          model="m", latency_s=1.0, usage={}, cost_usd=None, kind=kind).id


def test_thumbs_down_turns_become_draft_cases_that_load(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    one = store.new_conversation()
    bad_verdict = _turn(store, one, "We are a hospital; data stays on site.", "Use the API.", "api")
    store.add_feedback(bad_verdict, rating=-1, comment="Our data may not leave the hospital!", source="web")
    liked = _turn(store, one, "And the cost?", "About $0.", "api")
    store.add_feedback(liked, rating=1, source="web")
    two = store.new_conversation()
    fact = _turn(store, two, "What does Apache 2.0 allow?", "It allows nothing.", None,
                 [{"n": 1, "path": "guides/licensing.md", "section": "Apache 2.0", "cited": True}], kind="fact")
    store.add_feedback(fact, rating=-1, source="slack")
    followup = _turn(store, two, "And MIT?", "MIT is a car maker.", None, kind="fact")
    store.add_feedback(followup, rating=-1, comment="wrong", source="slack")

    drafts = draft_cases(store)
    assert [d[0]["id"] for d in drafts] == ["feedback-1", "feedback-3", "feedback-4"]
    situation, fact_case, conversation = (d[0] for d in drafts)
    assert situation["kind"] == "situation" and "api" not in situation["expect_recommendation"]
    assert fact_case["expect_sources"] == ["guides/licensing.md#Apache 2.0"]
    assert conversation["kind"] == "conversation"
    assert conversation["turns"] == ["What does Apache 2.0 allow?", "And MIT?"]
    text = drafts_yaml(drafts)
    assert "#   Our data may not leave the hospital!" in text and "#   Use the API." in text
    path = tmp_path / "drafts.yaml"
    path.write_text(text, encoding="utf-8")
    assert [c.id for c in load_dataset(path).cases] == ["feedback-1", "feedback-3", "feedback-4"]

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert draft_cases(store, since=later) == []
    assert drafts_yaml([]).rstrip().endswith("[]")


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", ""])
def test_since_must_be_a_date(text: str) -> None:
    with pytest.raises(ValueError, match="--since: not a date"):
        parse_since(text)
    assert parse_since("2026-11-01").tzinfo is not None
