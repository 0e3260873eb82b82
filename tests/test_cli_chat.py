"""`advisor ask`, `advisor chat` and `advisor doctor` against the scripted OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from advisor.cli import EXIT_ERROR, EXIT_OK, main
from advisor.config import REPO_ROOT
from tests.fake_llm import FakeOpenAI, grounded_reply


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch, shipped_index, tmp_path) -> Iterator[FakeOpenAI]:  # type: ignore[no-untyped-def]
    with FakeOpenAI() as fake:
        monkeypatch.setenv("ADVISOR_DATA_DIR", str(shipped_index.settings.data_dir))
        monkeypatch.setenv("ADVISOR_LLM", "openai/fake")
        monkeypatch.setenv("ADVISOR_LLM_API_BASE", fake.base_url)
        monkeypatch.setenv("ADVISOR_LLM_API_KEY", "test")
        monkeypatch.setenv("ADVISOR_LLM_MAX_RETRIES", "0")
        monkeypatch.setenv("ADVISOR_LLM_CONTEXT_TOKENS", "4096")
        yield fake


def test_ask_json_contract_and_conversation(fake_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    fake_env.enqueue("Keep the data in-house with open weights [1].")
    assert main(["ask", "Our patient records must stay on our own servers. What should we do?", "--json"]) == EXIT_OK
    out = json.loads(capsys.readouterr().out)
    assert {"answer", "recommendation", "sources", "profile", "scores", "model", "latency_s", "usage"} <= set(out)
    assert out["recommendation"] == "open_weight" and out["model"] == "openai/fake"
    assert out["profile"]["data_sensitivity"] == "regulated" and out["scores"]["recommended"] == "open_weight"
    assert all({"id", "title", "path", "section", "score"} <= set(s) for s in out["sources"])
    assert isinstance(out["latency_s"], float) and "total_tokens" in out["usage"]
    assert main(["ask", "What is QLoRA?", "--conversation", out["conversation_id"], "--json"]) == EXIT_OK
    again = json.loads(capsys.readouterr().out)
    assert again["conversation_id"] == out["conversation_id"] and again["recommendation"] is None


def test_ask_prints_streamed_text_and_sources(fake_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    written: list[str] = []

    def reply(body: dict) -> str:  # a sentence of the first passage, cited: the claim check keeps it
        written.append(grounded_reply(body["messages"][-1]["content"]).strip("- \n"))
        return written[-1]

    fake_env.enqueue(reply)
    assert main(["ask", "What is LoRA?"]) == EXIT_OK
    out = capsys.readouterr().out
    assert written[0] in out and "Sources:" in out and "[1] " in out and "could not be checked" not in out


@pytest.mark.parametrize(("question", "message"), [("   ", "the message is empty"),
                                                    ("x" * 5000, "the message is too long")])
def test_ask_bad_input(fake_env: FakeOpenAI, capsys: pytest.CaptureFixture[str], question: str, message: str) -> None:
    assert main(["ask", question]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"advisor: error: {message}")


def test_ask_with_a_dead_server(fake_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ADVISOR_LLM_API_BASE", f"http://127.0.0.1:{port}/v1")
    assert main(["ask", "What is LoRA?"]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("advisor: error: cannot reach the model openai/fake")


def test_doctor(fake_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    fake_env.enqueue("ready")
    assert main(["doctor"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "ok    embedding model" in out and "ok    index" in out and "ok    model answers" in out


def test_doctor_says_what_to_fix(fake_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path,  # type: ignore[no-untyped-def]
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(tmp_path))
    fake_env.fail_status = 401
    assert main(["doctor"]) == EXIT_ERROR
    out = capsys.readouterr().out
    assert "FAIL  index: the index is empty; run `advisor ingest`" in out
    assert "FAIL  model answers" in out and "API key" in out


def test_chat_in_a_terminal_session(fake_env: FakeOpenAI) -> None:
    written: list[str] = []

    def reply(body: dict) -> str:  # a sentence of the first passage, cited: the claim check keeps it
        written.append(grounded_reply(body["messages"][-1]["content"]).strip("- \n"))
        return written[-1]

    fake_env.enqueue(reply, "How much memory does QLoRA need?", reply)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "advisor.cli", "chat"], input="What is LoRA?\nAnd QLoRA?\n/quit\n",
                          capture_output=True, text=True, timeout=180, cwd=REPO_ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(written) == 2 and all(w in proc.stdout for w in written)
    condense = [r for r in fake_env.chat_requests() if "Standalone question:" in r["messages"][-1]["content"]]
    assert condense and "What is LoRA?" in condense[0]["messages"][-1]["content"]  # one conversation throughout


def test_ask_events_prints_json_lines(fake_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    fake_env.enqueue("Keep the data in-house with open weights [1].")
    assert main(["ask", "Our patient records must stay on our own servers. What should we do?", "--events"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "status" and kinds[-1] == "done" and "text" in kinds
    assert kinds.index("verdict") < kinds.index("sources") < kinds.index("text")
    assert all(isinstance(e["t"], float) for e in events)
    done = events[-1]["result"]
    assert done["recommendation"] == "open_weight" and done["turn_id"]
    assert "".join(e["delta"] for e in events if e["type"] == "text").strip() == done["answer"]


def test_ask_events_are_flushed_as_they_happen(fake_env: FakeOpenAI) -> None:
    fake_env.delay_s = 4.0  # the model takes a while to answer
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "advisor.cli", "ask", "What is QLoRA?", "--events"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT, env=env)
    assert proc.stdout is not None
    early = []
    for line in proc.stdout:
        event = json.loads(line)
        early.append((event["type"], proc.poll() is None))
        if event["type"] == "sources":
            break
    rest = [json.loads(line)["type"] for line in proc.stdout]
    assert proc.wait(timeout=120) == 0
    assert early[-1] == ("sources", True)  # printed while the model was still writing
    assert rest[-1] == "done"


def test_feedback_command(fake_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "What is LoRA?", "--json"]) == EXIT_OK
    turn_id = json.loads(capsys.readouterr().out)["turn_id"]
    assert main(["feedback", turn_id, "down", "--comment", "missed the memory numbers"]) == EXIT_OK
    assert f"feedback recorded: down on turn {turn_id}" in capsys.readouterr().out
    from advisor.config import Settings
    from advisor.store import Store

    recorded = Store(Settings().db_path).feedback(turn_id=turn_id)
    assert [(f.rating, f.comment, f.source) for f in recorded] == [(-1, "missed the memory numbers", "cli")]
    assert main(["feedback", "no-such-turn", "up"]) == EXIT_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["advisor: error: unknown turn 'no-such-turn'"]


def test_ask_with_a_conversation_key(fake_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "What is LoRA?", "--conversation-key", "script:42", "--json"]) == EXIT_OK
    first = json.loads(capsys.readouterr().out)
    assert main(["ask", "And QLoRA?", "--conversation-key", "script:42", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["conversation_id"] == first["conversation_id"]
