"""What the web page is built on, without a browser: the words for profile values, the index's document list and
removal, feedback ids and updates, conversation history by key, error hints, the event-to-message translation,
escaping, the web settings and the `advisor web` command line.

The model is the in-process scripted fake at the LLM seam; index, scorer, store and embedder are real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from advisor.advisor import Advisor, InputError
from advisor.config import Settings
from advisor.events import ERROR_HINTS, ErrorEvent
from advisor.profile import FIELD_ORDER
from advisor.statements import describe_profile, reply_options, statement
from advisor.store import Store
from advisor.verdict import QUESTIONS
from advisor.web_render import sources_markdown, status_title, verdict_card
from advisor.web_turn import ChatTurn, history_messages
from tests.fake_llm import ScriptedLLM

HOSPITAL = ("We are a hospital group. Patient records must stay on our own servers, and our ML engineers have "
            "fine-tuned models before. What should we do?")
FULL = {"team_ml_expertise": "experienced", "data_sensitivity": "regulated", "deployment": "on_prem",
        "task_scope": "narrow", "quality_bar": "standard", "proprietary_data_tokens": 2e9, "labeled_examples": 8000,
        "monthly_tokens": 3e9, "latency_ms": 200, "budget_usd": 500000, "time_to_market_weeks": 12,
        "needs_custom_architecture": False, "strategic_moat": True, "needs_model_control": True}
VALUES: dict[str, list[Any]] = {
    "team_ml_expertise": ["none", "basic", "experienced", "research"],
    "data_sensitivity": ["public", "internal", "regulated"],
    "deployment": ["cloud", "on_prem", "air_gapped", "edge"],
    "task_scope": ["narrow", "broad"], "quality_bar": ["standard", "frontier"],
    "proprietary_data_tokens": [0, 3e7, 5e9, 2e11], "labeled_examples": [0, 250, 8000, 50000],
    "monthly_tokens": [5e5, 1e7, 2.5e9, 3e11, 1.2e12], "latency_ms": [50, 200, 1500],
    "budget_usd": [50000, 2000000], "time_to_market_weeks": [3, 52],
    "needs_custom_architecture": [True, False], "strategic_moat": [True, False], "needs_model_control": [True, False],
}


def _read(reader: Any, text: str) -> dict[str, Any]:
    return reader.read([text]).profile.stated()


@pytest.mark.parametrize("field", FIELD_ORDER)
def test_every_statement_reads_back_to_its_value(reader, field: str) -> None:  # type: ignore[no-untyped-def]
    for value in VALUES[field]:
        assert _read(reader, statement(field, value)) == {field: value}, statement(field, value)


def test_a_whole_profile_in_words_reads_back_whole(reader) -> None:  # type: ignore[no-untyped-def]
    assert set(FULL) == set(FIELD_ORDER)
    assert _read(reader, describe_profile(FULL)) == FULL
    assert describe_profile({"deployment": "edge", "budget_usd": None}) == statement("deployment", "edge")
    with pytest.raises(ValueError, match="no words"):
        statement("deployment", "moon")
    with pytest.raises(ValueError, match="unknown profile field"):
        statement("colour", "blue")


@pytest.mark.parametrize("field", sorted(QUESTIONS))
def test_every_clarifying_question_has_replies_that_answer_it(reader, field: str) -> None:  # type: ignore[no-untyped-def]
    options = reply_options(QUESTIONS[field])
    assert len(options) >= 2 and all(o["label"] and o["value"] for o in options)
    read = [_read(reader, o["value"]) for o in options]
    assert all(set(r) == {field} for r in read), read
    assert len({r[field] for r in read}) == len(options)  # each reply states a different value
    assert reply_options("What is your favourite colour?") == []


def test_index_lists_and_removes_user_documents(tmp_path: Path, small_kb: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from advisor.index import IndexError_, open_index

    index = open_index(Settings(data_dir=tmp_path / "data", knowledge_dir=small_kb), embedder=embedder)
    index.ingest(progress=False)
    first = index.changed_at()
    note = tmp_path / "note.md"
    note.write_text("# Our note\n\n## Policy\n\nWe keep zebra-striped logs for ninety days.\n", encoding="utf-8")
    index.ingest([note], progress=False)
    docs = {d.doc_id: d for d in index.documents()}
    assert set(docs) == {"guides/alpha.md", "guides/beta.md", f"user:{note.resolve()}"}
    user = docs[f"user:{note.resolve()}"]
    assert (user.kind, user.title, user.chunks) == ("user", "Our note", 1)
    assert docs["guides/alpha.md"].chunks == 3 and [d.kind for d in index.documents()][-1] == "user"
    assert [d.doc_id for d in index.documents(kind="user")] == [user.doc_id]
    assert first is not None and index.changed_at() is not None and index.changed_at() >= first
    with pytest.raises(IndexError_, match="shipped knowledge"):
        index.remove_document("guides/alpha.md")
    before = index.count()
    assert index.remove_document(user.doc_id) == 1
    assert index.count() == before - 1 and user.doc_id not in {d.doc_id for d in index.documents()}
    with pytest.raises(IndexError_, match="no document"):
        index.remove_document(user.doc_id)
    assert index.ingest(progress=False).added_docs == 0  # a removed document does not come back by itself


@pytest.fixture
def advisor(shipped_settings, retriever, tmp_path: Path) -> Advisor:  # type: ignore[no-untyped-def]
    return Advisor(shipped_settings, llm=ScriptedLLM(), retriever=retriever, store=Store(tmp_path / "db.sqlite3"))


def test_feedback_has_an_id_that_a_later_comment_or_flip_updates(advisor: Advisor) -> None:
    answer = advisor.ask("What is QLoRA?")
    feedback_id = advisor.feedback(answer.turn_id, 1, source="web")
    advisor.update_feedback(feedback_id, rating=-1)
    advisor.update_feedback(feedback_id, comment="  wrong numbers  ")
    [stored] = advisor.store.feedback(turn_id=answer.turn_id)
    assert (stored.id, stored.rating, stored.comment, stored.source) == (feedback_id, -1, "wrong numbers", "web")
    assert advisor.feedback(answer.turn_id, 1, source="web") != feedback_id  # a new rating is a new entry
    with pytest.raises(InputError, match="unknown feedback"):
        advisor.update_feedback(987654, comment="x")
    with pytest.raises(InputError, match="rating"):
        advisor.update_feedback(feedback_id, rating=3)
    with pytest.raises(InputError, match="too long"):
        advisor.update_feedback(feedback_id, comment="x" * 5000)


def test_history_by_key_redraws_a_conversation_and_creates_nothing(advisor: Advisor) -> None:
    assert advisor.history(conversation_key="web:never-used") == []
    assert advisor.store.list_conversations() == []
    advisor.llm.enqueue("Self-host open weights [1].")  # type: ignore[attr-defined]
    first = advisor.ask(HOSPITAL, conversation_key="web:abc")
    advisor.ask("What is QLoRA?", conversation_key="web:abc")
    turns = advisor.history(conversation_key="web:abc")
    assert [t["user"] for t in turns] == [HOSPITAL, "What is QLoRA?"]
    assert turns[0]["turn_id"] == first.turn_id and turns[0]["answer"] == first.answer
    verdict = turns[0]["verdict"]
    assert verdict["recommendation"] == "open_weight" and verdict["profile"]["data_sensitivity"] == "regulated"
    assert verdict["provisional"] is False and turns[1]["verdict"] is None
    assert advisor.history(conversation_id=first.conversation_id) == turns


def test_every_error_kind_has_a_hint() -> None:
    for kind in ("unavailable", "timeout", "rate_limit", "auth", "context", "provider", "bad_output", "internal"):
        event = ErrorEvent(t=0.0, message="m", kind=kind, turn_id="t", conversation_id="c")
        assert event.hint == ERROR_HINTS[kind] and "\n" not in event.hint
    assert "make run" in ERROR_HINTS["unavailable"]
    assert ErrorEvent(t=0, message="m", kind="new-kind", turn_id="t", conversation_id="c").hint == ERROR_HINTS[
        "internal"]
    assert "hint" not in ErrorEvent(t=0, message="m", kind="auth", turn_id="t", conversation_id="c").as_dict()


def test_a_turn_becomes_chat_messages(advisor: Advisor) -> None:
    advisor.llm.enqueue("Open weights keep the records in-house [1].")  # type: ignore[attr-defined]
    stream = advisor.events(HOSPITAL)
    turn = ChatTurn(HOSPITAL, turn_id=stream.turn_id)
    changed = [turn.apply(event) for event in stream]
    assert changed.count(True) == 1 and turn.finished and turn.verdict is not None
    user, steps, *children, answer = turn.messages
    assert user == {"role": "user", "content": HOSPITAL}
    assert steps["metadata"]["status"] == "done" and steps["metadata"]["id"] == f"steps-{stream.turn_id}"
    assert steps["metadata"]["title"] == "How the advisor worked: understanding → scoring → retrieving → writing"
    assert [c["metadata"]["title"] for c in children] == ["Reading your situation", "Scoring the four options",
                                                          "Finding the guidance behind it", "Writing the answer"]
    assert all(c["metadata"]["parent_id"] == steps["metadata"]["id"] and c["metadata"]["status"] == "done"
               for c in children)
    assert answer["content"].startswith("**Recommendation: Open-weight model")
    assert '<details class="sources">' in answer["content"] and 'class="source cited"' in answer["content"]
    assert "options" not in answer  # nothing left to ask: no clarifying replies


def test_a_provisional_turn_offers_replies_and_history_redraws_it(advisor: Advisor) -> None:
    message = "We want a customer-support chatbot. Which option fits?"
    stream = advisor.events(message, conversation_key="web:redraw")
    turn = ChatTurn(message, turn_id=stream.turn_id)
    for event in stream:
        turn.apply(event)
    labels = [o["label"] for o in turn.messages[-1]["options"]]
    assert "Regulated data" in labels and "Our own servers" in labels
    messages, owners, verdict = history_messages(advisor.history(conversation_key="web:redraw"))
    assert [m["role"] for m in messages] == ["user", "assistant"] and owners == {1: stream.turn_id}
    assert messages[1]["options"] == turn.messages[-1]["options"]
    assert verdict is not None and verdict["provisional"] is True


def test_stopped_and_failed_turns_are_drawn_as_such(advisor: Advisor) -> None:
    from advisor.events import DoneEvent, StatusEvent, TextEvent

    turn = ChatTurn("q", turn_id="t1")
    turn.apply(StatusEvent(t=0, step="waiting", message="Waiting for the model: number 2 in the queue", position=2))
    turn.apply(StatusEvent(t=0, step="waiting", message="Waiting for the model: number 1 in the queue", position=1))
    assert len(turn.messages) == 3
    assert turn.messages[2]["metadata"]["title"] == "Waiting for the local model: you are next"
    turn.apply(TextEvent(t=0, delta="Partial"))
    turn.apply(DoneEvent(t=0, result={"answer": "Partial", "stopped": True, "sources": [], "questions": ["x"]}))
    assert turn.messages[-1]["content"].endswith("_(stopped)_") and "options" not in turn.messages[-1]
    failed = ChatTurn("q", turn_id="t2")
    failed.apply(ErrorEvent(t=0, message="cannot reach the model x: is its server running?", kind="unavailable",
                            turn_id="t2", conversation_id="c"))
    assert "could not answer" in failed.messages[-1]["content"] and "make run" in failed.messages[-1]["content"]
    assert status_title("waiting", "", 3) == "Waiting for the local model: 2 ahead"


def test_documents_and_users_cannot_inject_markup() -> None:
    evil = [{"n": 1, "title": "<img src=x onerror=alert(1)>", "section": "<b>s</b>", "path": "p.md",
             "text": "line one\n\n<script>alert(1)</script>\n## not a heading"}]
    shown = sources_markdown(evil, {1})
    assert "<script>" not in shown and "<img" not in shown and "&lt;script&gt;" in shown
    assert "\n" not in shown  # one HTML line, so Markdown in a passage stays inert
    card = verdict_card({"recommendation": "api", "label": "API", "provisional": False,
                         "profile": {"task_scope": "broad"}, "quotes": {"task_scope": "<script>x</script>"},
                         "assumptions": [], "flips": []})
    assert "<script>" not in card and 'data-recommendation="api"' in card


def test_web_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    settings = Settings()
    assert (settings.web_host, settings.web_port, settings.web_root_path, settings.web_auth) == (
        "127.0.0.1", 7860, "", None)
    monkeypatch.setenv("ADVISOR_WEB_AUTH_USER", "ana")
    monkeypatch.setenv("ADVISOR_WEB_AUTH_PASSWORD", "s3cret")
    monkeypatch.setenv("ADVISOR_WEB_ROOT_PATH", "/advisor/")
    settings = Settings()
    assert settings.web_auth == ("ana", "s3cret") and settings.web_root_path == "/advisor"
    assert "s3cret" not in repr(settings)
    monkeypatch.delenv("ADVISOR_WEB_AUTH_PASSWORD")
    with pytest.raises(ValidationError, match="both"):
        Settings()
    with pytest.raises(ValidationError, match="must start with /"):
        Settings(web_root_path="advisor")


def test_launch_options_stay_on_loopback_and_make_no_share_link(tmp_path: Path) -> None:
    from advisor.web import launch_options

    options = launch_options(Settings(data_dir=tmp_path))
    assert options["server_name"] == "127.0.0.1" and options["server_port"] == 7860 and options["share"] is False
    assert options["auth"] is None and options["ssr_mode"] is False and options["enable_monitoring"] is False
    assert options["max_file_size"] == 50_000_000
    custom = launch_options(Settings(data_dir=tmp_path, web_auth_user="a", web_auth_password="b"), host="0.0.0.0",
                            port=9000, root_path="/x")
    assert (custom["server_name"], custom["server_port"], custom["root_path"], custom["auth"]) == (
        "0.0.0.0", 9000, "/x", ("a", "b"))


@pytest.mark.parametrize(("argv", "message"), [
    (["web", "--share", "true"], "invalid choice: 'true'"),
    (["web", "--port", "70000"], "a port is 1 to 65535"),
    (["web", "--root-path", "advisor"], "a root path starts with /"),
])
def test_advisor_web_refuses_bad_arguments(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from advisor.cli import main

    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_assess_form_reads_not_stated_yes_no_and_quantities() -> None:
    from advisor.profile import ProfileError
    from advisor.web_assess import NOT_STATED, form_to_profile

    form = {field: NOT_STATED for field in FIELD_ORDER}
    form.update(data_sensitivity="regulated", monthly_tokens=" 3B ", needs_model_control="yes",
                strategic_moat="no", budget_usd="", latency_ms="200")
    assert form_to_profile(form).stated() == {"data_sensitivity": "regulated", "monthly_tokens": 3e9,
                                              "latency_ms": 200, "strategic_moat": False,
                                              "needs_model_control": True}
    with pytest.raises(ProfileError, match="monthly_tokens"):
        form_to_profile({**form, "monthly_tokens": "lots"})


def test_the_costs_tab_takes_context_and_requests_at_once_as_inputs(tmp_path: Path) -> None:
    import gradio as gr

    from advisor.web_costs import build_costs

    with gr.Blocks():
        tab = build_costs(Settings(data_dir=tmp_path))
    values = {i: component.value for i, component in enumerate(tab.inputs)}
    values[0] = "50B"
    context, concurrency = 6, 7  # their places among the inputs

    def run(**changed: float | None) -> tuple[Any, ...]:
        given = dict(values)
        given.update({context: changed.get("context", values[context]),
                      concurrency: changed.get("concurrency", values[concurrency])})
        return tab.compute(*(given[i] for i in range(len(tab.inputs))))

    def used(table: list[list[Any]]) -> dict[str, tuple[Any, str]]:
        return {row[0]: (row[1], row[4]) for row in table}

    _, totals, table = run()
    assert used(table)["context_tokens"][0] == values[context] == 8192
    assert used(table)["concurrency"][1].startswith("knowledge/")  # untouched: costs.yaml's own source
    _, bigger, table = run(context=32768, concurrency=64)
    assert used(table)["context_tokens"] == (32768, "argument") and used(table)["concurrency"] == (64, "argument")
    assert bigger != totals  # a bigger KV cache per replica changes the self-hosting bill
    _, said, _ = run(context=0)
    assert said.startswith("⚠️ ") and "context must be a whole number of at least 1" in said


def test_the_chat_redraws_bursts_once_and_slow_words_often(advisor: Advisor) -> None:
    import asyncio
    import concurrent.futures

    from advisor.web_chat import _batches

    async def count(question: str) -> tuple[int, ChatTurn]:
        stream = advisor.aevents(question)
        turn = ChatTurn(question, turn_id=stream.turn_id)
        return len([redraw async for redraw in _batches(stream, turn)]), turn

    def draws(question: str) -> tuple[int, ChatTurn]:
        # A loop of its own in a thread of its own: the browser tests' playwright keeps one running in this one.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, count(question)).result()

    llm: ScriptedLLM = advisor.llm  # type: ignore[assignment]
    llm.enqueue("Grounded [1]. " + "Word. " * 300)  # all at once: a fast hosted model
    redraws, turn = draws("What is QLoRA?")
    assert turn.finished and turn.text.count("Word") == 300 and redraws < 15
    llm.piece_delay_s = 0.03
    llm.enqueue("Grounded [1]. " + "Word. " * 60)  # about two seconds of words, a sentence each
    redraws, turn = draws("What is LoRA?")
    assert turn.finished and redraws >= 12  # the page still sees the answer grow, about ten times a second


def test_a_store_that_fails_is_a_one_line_notice_in_the_chat(shipped_settings: Settings, retriever: Any,
                                                              tmp_path: Path) -> None:
    import asyncio
    import concurrent.futures
    from types import SimpleNamespace

    import gradio as gr

    from advisor.web_chat import build_chat

    broken = tmp_path / "db.sqlite3"
    broken.write_bytes(b"this is not a database " * 100)  # e.g. a wrong ADVISOR_DATABASE_URL
    advisor = Advisor(shipped_settings, llm=ScriptedLLM(), retriever=retriever, store=Store(broken))
    with gr.Blocks():
        tab = build_chat(advisor, concurrency=4, secret="s")
    request = SimpleNamespace(session_hash="page-1")
    session = {"session": "abc"}

    async def collect() -> list[tuple[Any, ...]]:
        return [u async for u in tab.respond("What is QLoRA?", [], {}, session, request)]  # type: ignore[arg-type]

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a loop of its own (playwright may hold this one's)
        [update] = pool.submit(asyncio.run, collect()).result()
    notice = update[tab.outputs().index(tab.notice)]
    assert notice.startswith("⚠️ The advisor cannot take questions now: ") and "not an advisor database" in notice
    assert "\n" not in notice and "Traceback" not in notice and tab.active == {}
    restored = dict(zip(tab.restore_outputs(), tab.restore(session), strict=True))
    assert restored[tab.chatbot] == [] and restored[tab.notice].startswith("⚠️ Your earlier conversation cannot be")
    assert tab.restore(None)[-1] == ""  # a first visit reads nothing, so it has nothing to complain about
    liked = gr.LikeData(None, {"index": 1, "value": "x", "liked": False})
    _, said, *_ = tab.like({1: "turn-1"}, {}, liked)
    assert said.startswith("⚠️ ") and "not an advisor database" in said
    said, _ = tab.comment("too vague", {"turn-1": 7}, "turn-1")
    assert said.startswith("⚠️ ") and "not an advisor database" in said


def test_advisor_web_help_is_instant() -> None:
    import subprocess
    import sys

    from advisor.config import REPO_ROOT

    script = ("import sys\nfrom advisor.cli import main\ntry:\n    main(['web', '--help'])\n"
              "except SystemExit:\n    pass\n"
              "print([m for m in ('gradio', 'torch', 'litellm', 'chromadb') if m in sys.modules], file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert "--root-path" in proc.stdout and "--share {false}" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_the_costs_tab_offers_only_current_models_and_defaults_to_the_suggested_one(
        tmp_path: Path, retired_catalog: Any) -> None:
    import gradio as gr

    from advisor.catalog import load_catalog
    from advisor.catalog_query import suggested_model
    from advisor.web_costs import build_costs

    settings = Settings(data_dir=tmp_path, catalog_file=retired_catalog("gpt-4.1-mini"))  # the default, retired
    catalog = load_catalog(settings.catalog_path)
    retired = {m.id for m in catalog.models if m.is_retired()}
    assert {"gpt-4.1-mini", "claude-opus-4"} <= retired
    with gr.Blocks():
        tab = build_costs(settings)
    api, open_ = tab.inputs[1], tab.inputs[2]
    offered = [value for _, value in api.choices]
    assert offered == [m.id for m in catalog.current() if m.price is not None]
    assert not retired & (set(offered) | {value for _, value in open_.choices})
    assert api.value == suggested_model(catalog, "gpt-4.1-mini").id and api.value not in retired
    with pytest.raises(gr.Error):  # a retired id sent anyway is not among the choices
        api.preprocess("claude-opus-4")
    values = [component.value for component in tab.inputs]
    values[1] = "claude-opus-4"
    _, said, _ = tab.compute(*values)
    assert said.startswith("⚠️ ") and "was retired on 2026-06-15" in said
