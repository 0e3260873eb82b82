"""`advisor eval` end to end on the shipped index with the scripted fake model on loopback: the deterministic
slice of evals/advisor.yaml (scorer, retrieval, citation checks, consistency) through the runner itself, its files,
the gate, resume after Ctrl-C, the per-turn model override, the judge, and one-line errors."""

from __future__ import annotations

import json
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from advisor.cli import main
from advisor.config import REPO_ROOT
from advisor.eval_cases import load_dataset
from tests.fake_llm import FakeOpenAI

DATASET = str(REPO_ROOT / "evals" / "advisor.yaml")
# The deterministic slice: every verdict comes from the scorer (the fake model never changes one), fact cases
# measure retrieval, every answer is a cited passage sentence that the citation check must accept.
SLICE = "sit-*,cons-*,fact-*"


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch, shipped_index) -> Iterator[FakeOpenAI]:  # type: ignore[no-untyped-def]
    with FakeOpenAI() as fake:
        monkeypatch.setenv("ADVISOR_DATA_DIR", str(shipped_index.settings.data_dir))
        monkeypatch.setenv("ADVISOR_LLM", "openai/fake")
        monkeypatch.setenv("ADVISOR_LLM_API_BASE", fake.base_url)
        monkeypatch.setenv("ADVISOR_LLM_API_KEY", "test")
        monkeypatch.setenv("ADVISOR_LLM_MAX_RETRIES", "0")
        monkeypatch.setenv("ADVISOR_LLM_CONTEXT_TOKENS", "4096")
        yield fake


def _results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def slice_run(tmp_path_factory: pytest.TempPathFactory, shipped_index) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The slice, run once for the module (the figures below are asserted on it)."""
    out = tmp_path_factory.mktemp("eval") / "run"
    with pytest.MonkeyPatch.context() as mp, FakeOpenAI() as fake:
        for name, value in {"ADVISOR_DATA_DIR": str(shipped_index.settings.data_dir), "ADVISOR_LLM": "openai/fake",
                            "ADVISOR_LLM_API_BASE": fake.base_url, "ADVISOR_LLM_API_KEY": "test",
                            "ADVISOR_LLM_MAX_RETRIES": "0", "ADVISOR_LLM_CONTEXT_TOKENS": "4096"}.items():
            mp.setenv(name, value)
        code = main(["eval", DATASET, "--filter", SLICE, "--out", str(out), "--concurrency", "2", "--quiet"])
    return {"code": code, "out": out, "results": _results(out)}


def test_the_slice_runs_through_the_runner_and_meets_its_floors(slice_run: dict[str, Any]) -> None:
    assert slice_run["code"] == 0
    summary, cases = slice_run["results"]["summary"], slice_run["results"]["cases"]
    assert summary["errors"] == 0
    assert {c["kind"] for c in cases} == {"situation", "consistency", "fact"}
    assert len(cases) == 30 + 10 + 16
    # Floors: what the scorer, the reader and retrieval reach today on this slice (see evals/reports/).
    assert summary["by_kind"]["situation"]["recommendation_accuracy"] >= 0.9
    assert summary["paraphrase_agreement"] >= 0.8
    assert summary["flip_accuracy"] >= 0.8
    assert summary["by_kind"]["fact"]["hit_at_k"] >= 0.8
    assert summary["citation_validity"] == 1.0  # the fake cites the passage it restates
    assert summary["numbers_unsupported"] == 0


def test_the_run_folder_holds_every_file(slice_run: dict[str, Any]) -> None:
    out, results = slice_run["out"], slice_run["results"]
    assert {p.name for p in out.iterdir()} >= {"results.json", "summary.md", "junit.xml", "report.html",
                                               "cases.jsonl", "run.json"}
    assert results["run"]["model"] == "openai/fake" and results["run"]["cases_total"] == 56
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "56"
    assert int(suite.get("failures") or 0) == sum(not c["passed"] for c in results["cases"])
    assert "| recommendation accuracy |" in (out / "summary.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "sit-api-solo-founder-no-ml" in html


def test_the_gate_fails_a_worse_run_naming_metric_and_cases(slice_run: dict[str, Any], fake_env: FakeOpenAI,
                                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = slice_run["out"] / "results.json"
    fake_env.fail_status = 500  # every model call fails: the answers error out
    code = main(["eval", DATASET, "--filter", "fact-apache-*,fact-bytes-*", "--out", str(tmp_path / "r"),
                 "--baseline", str(baseline), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert re.search(r"advisor: regression: errors rose from 0 to [12] against the baseline \(cases: "
                     r"fact-apache-2-permissions", err)
    assert "What changed" in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")


def test_ctrl_c_keeps_finished_cases_and_resume_asks_only_the_rest(fake_env: FakeOpenAI, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import advisor.eval_run as eval_run

    out = tmp_path / "run"
    seen: list[str] = []

    def interrupt_after_two(count: int, total: int, result: dict[str, Any]) -> None:
        seen.append(result["id"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(eval_run, "Progress", lambda: interrupt_after_two)
    assert main(["eval", DATASET, "--filter", "sit-api-*", "--out", str(out)]) == 130
    assert "2 finished case(s) kept" in capsys.readouterr().err
    assert [c["id"] for c in _results(out)["cases"]] == seen
    for thread in threading.enumerate():  # a case already running when Ctrl-C came still finishes, and is kept
        if thread.name.startswith("eval"):
            thread.join()
    kept = {c.split('"id": "')[1].split('"')[0] for c in (out / "cases.jsonl").read_text().splitlines()}

    asked: list[str] = []
    real_ask = eval_run.ask

    def recording_ask(advisor, message, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(message)
        return real_ask(advisor, message, **kwargs)

    monkeypatch.setattr(eval_run, "ask", recording_ask)
    monkeypatch.setattr(eval_run, "Progress", lambda: lambda *a: None)
    assert main(["eval", DATASET, "--filter", "sit-api-*", "--out", str(out), "--resume"]) == 0
    cases = _results(out)["cases"]
    assert len(cases) == 5 and len({c["id"] for c in cases}) == 5
    rest = {c.question for c in load_dataset(Path(DATASET)).cases if c.id.startswith("sit-api-") and c.id not in kept}
    assert len(kept) >= 2 and sorted(asked) == sorted(rest)  # only the unfinished cases were asked
    assert main(["eval", DATASET, "--filter", "sit-*", "--out", str(out), "--resume"]) == 1  # another run's folder
    assert "was run with other filter" in capsys.readouterr().err


def test_llm_overrides_the_model_per_turn_and_the_judge_scores(fake_env: FakeOpenAI, tmp_path: Path) -> None:
    default = FakeOpenAI.default_reply

    def reply(body: dict[str, Any]) -> str:
        if "faithfulness" in json.dumps(body.get("response_format") or {}):
            return '{"faithfulness": 4, "helpfulness": 3, "reason": "Supported by passage 1."}'
        return default(body)

    fake_env.default_reply = reply  # type: ignore[method-assign]
    out = tmp_path / "run"
    assert main(["eval", DATASET, "--filter", "fact-apache-*,off-weather", "--out", str(out), "--quiet",
                 "--llm", "openai/other-model", "--judge", "openai/judge", "--judge-api-base", fake_env.base_url]) == 0
    models = {r.get("model") for r in fake_env.chat_requests()}
    assert "other-model" in models and "fake" not in models
    results = _results(out)
    judged = {c["id"]: c.get("judge") for c in results["cases"]}
    assert judged["fact-apache-2-permissions"]["faithfulness"] == 4
    assert judged["off-weather"] is None  # a redirect has nothing to judge
    assert results["summary"]["judge"] == {"judged": 1, "undetermined": 0, "faithfulness": 4.0,
                                           "helpfulness": 3.0}


@pytest.mark.parametrize(("args", "message"), [
    (["evals/no-such.yaml"], "cannot read"),
    ([DATASET, "--filter", "nothing-matches-*"], "no case matches --filter 'nothing-matches-*'"),
    ([DATASET, "--baseline", "/nonexistent/results.json"], "--baseline:"),
])
def test_bad_input_is_one_line(fake_env: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               args: list[str], message: str) -> None:
    assert main(["eval", *args, "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("advisor: error:") and message in err and "\n" not in err


def test_export_feedback_writes_draft_cases(fake_env: FakeOpenAI, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import datetime as dt

    from advisor.advisor import Advisor
    from advisor.cli_base import load_settings

    since = dt.datetime.now(dt.UTC).isoformat()
    with Advisor(load_settings()) as advisor:
        answer = advisor.ask("What does the Apache 2.0 licence allow?")
        advisor.feedback(answer.turn_id, -1, "It missed the patent grant.", source="web")
    out = tmp_path / "drafts.yaml"
    assert main(["eval", "export-feedback", "--since", since, "--out", str(out)]) == 0
    cases = load_dataset(out).cases
    assert [c.question for c in cases] == ["What does the Apache 2.0 licence allow?"]
    assert cases[0].kind == "fact" and cases[0].expect_sources
    assert "#   It missed the patent grant." in out.read_text(encoding="utf-8")
    assert main(["eval", "export-feedback", "--since", "soon"]) == 1
    assert "--since: not a date" in capsys.readouterr().err


def test_repeat_runs_each_case_k_times_and_reports_verdict_changes(fake_env: FakeOpenAI, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["eval", DATASET, "--filter", "off-weather,sit-api-solo-*", "--repeat", "2", "--concurrency", "2",
                 "--out", str(out), "--quiet"]) == 0
    results = _results(out)
    assert sorted((c["id"], c["repeat"]) for c in results["cases"]) == [
        ("off-weather", 0), ("off-weather", 1), ("sit-api-solo-founder-no-ml", 0), ("sit-api-solo-founder-no-ml", 1)]
    assert results["summary"]["verdict_changed_share"] == 0.0  # the scorer gives the same verdict every time
    names = [t.get("name") for t in ET.parse(out / "junit.xml").getroot().iter("testcase")]
    assert sorted(names) == ["off-weather", "off-weather#1", "sit-api-solo-founder-no-ml",
                             "sit-api-solo-founder-no-ml#1"]
