"""End to end with the real bundled model on a real llama.cpp server: no fake anywhere."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from advisor.advisor import Advisor
from advisor.config import REPO_ROOT, Settings
from advisor.events import DoneEvent
from advisor.llm import Completion, LiteLLM
from advisor.local_model import LocalServer
from advisor.store import Store

pytestmark = pytest.mark.slow

# The assembled model is 1.1 GB: it is built once into the repo's data dir (as `make` does) and shared.
SHARED_MODELS = REPO_ROOT / ".advisor-data" / "models"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def local_advisor(shipped_index, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Advisor]:  # type: ignore[no-untyped-def]
    from advisor.llm import open_llm
    from advisor.local_model import LocalServer, assemble_model
    from advisor.retrieval import HybridRetriever

    data = tmp_path_factory.mktemp("local-data")
    assemble_model(SHARED_MODELS)
    (data / "models").symlink_to(SHARED_MODELS, target_is_directory=True)
    settings = Settings(data_dir=data, local_port=_free_port())
    server = LocalServer(settings)
    server.ensure_running()
    try:
        yield Advisor(settings, llm=open_llm(settings), retriever=HybridRetriever(shipped_index),
                      store=Store(data / "advisor.sqlite3"))
    finally:
        server.stop()
    assert not server.health()


def test_regulated_situation_gets_open_weights_with_cited_sources(local_advisor: Advisor) -> None:
    answer = local_advisor.ask(
        "We run a chain of clinics. Our assistant would read patient records, which by law must stay on our own "
        "servers, and our two ML engineers have fine-tuned models before. How should we get an LLM?")
    assert answer.kind == "situation" and answer.recommendation == "open_weight"
    assert answer.profile and answer.profile["data_sensitivity"] == "regulated"
    assert answer.answer.startswith("**Recommendation: Open-weight model")
    body = answer.answer.split("**What would change the recommendation**")[0]
    assert len(body) > 200  # the model wrote the explanation
    assert any(s["cited"] for s in answer.sources)
    # The pipeline's sections, in order; the model's sentences all passed the claim check.
    headings = ["**Why**", "**Risks and how to reduce them**", "**Costs**"]
    assert [h for h in headings if h in body] == headings and body.index("**Why**") < body.index("**Costs**")
    checks = answer.checks
    assert checks["kept"] + checks["corrected"] >= 1, checks
    _every_number_and_citation_is_supported(local_advisor, answer)
    assert answer.model == "openai/qwen2.5-coder-1.5b-instruct" and answer.usage.get("completion_tokens", 0) > 0


def test_fact_question_is_answered_from_the_guides(local_advisor: Advisor) -> None:
    answer = local_advisor.ask("How many bytes per parameter do model weights take in FP16, FP8 and INT4?")
    assert answer.kind == "fact" and answer.recommendation is None
    assert any(s["path"] == "guides/hardware-sizing.md" for s in answer.sources)
    assert any(s["cited"] for s in answer.sources), answer.answer
    assert "0.5" in answer.answer or "half" in answer.answer.lower()


def _every_number_and_citation_is_supported(advisor: Advisor, answer: Any) -> None:
    """Re-check the shown answer independently: each number occurs in a passage, the user's words or the computed
    figures; each cited passage supports its sentence."""
    from advisor.claims import SUPPORT_THRESHOLD, numbers_in, support_score

    got = advisor.retriever.index.collection.get(ids=[s["id"] for s in answer.sources], include=["documents"])
    by_id = dict(zip(got["ids"], got["documents"] or [], strict=True))
    passages = {s["n"]: by_id.get(s["id"]) for s in answer.sources}  # exactly the passages the model was given
    texts = [p for p in passages.values() if p is not None]
    allowed = [v for t in [*texts, answer.standalone_question, json.dumps(answer.costs or {}),
                           json.dumps(answer.scores or {})] for _, vs in numbers_in(t) for v in vs]
    model_part = answer.answer.split("**Costs**")[0].split("\n", 1)[1]  # the model's sections, checked
    for unit in re.split(r"(?<=[.!?])\s+(?=[A-Z*(-])|\n", model_part):
        sentence = re.sub(r"^\s*(?:[-*•]|\d+[.)])?\s*(?:\*\*[^*]+\*\*:?\s*)?", "", unit)  # list marker, label
        for written, values in numbers_in(sentence):
            assert any(abs(v - a) <= 0.005 * max(abs(a), 1e-9) for v in values for a in allowed), (written, sentence)
        for n in {int(m) for m in re.findall(r"\[(\d+)\]", sentence)}:
            passage = passages.get(n)
            assert passage is not None, sentence
            assert support_score(sentence, passage, advisor.retriever.index.embedder.encode) >= \
                SUPPORT_THRESHOLD, (n, sentence)


def test_the_eval_runner_on_the_real_model(local_advisor: Advisor, tmp_path: Path) -> None:
    """The evaluation front end on the bundled model: a situation and an off-topic case of the shipped dataset
    through the runner, scored, and written as a run folder."""
    import xml.etree.ElementTree as ET

    from advisor.eval_cases import filter_cases, load_dataset
    from advisor.eval_output import results_document, write_outputs
    from advisor.eval_run import run_cases, summarise

    cases = filter_cases(load_dataset(REPO_ROOT / "evals" / "advisor.yaml").cases, "sit-ow-hospital-on-prem,off-poem")
    results = run_cases(local_advisor, cases, tmp_path)
    by_id = {r["id"]: r for r in results}
    situation = by_id["sit-ow-hospital-on-prem"]["metrics"]
    assert situation["error"] is None and situation["recommendation_ok"] and situation["profile_wrong"] == []
    assert situation["citations"] >= 1 and situation["sentences_kept"] >= 1
    assert situation["first_text_s"] is not None and situation["tokens"] > 0
    assert by_id["off-poem"]["metrics"]["redirected"]
    doc = results_document({"id": tmp_path.name, "model": local_advisor.llm_name}, summarise(results), results)
    write_outputs(tmp_path, doc)
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2"
    assert "sit-ow-hospital-on-prem" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_the_slack_bot_on_the_real_model(local_advisor: Advisor, tmp_path: Path) -> None:
    """The Slack front end on the bundled model: a signed mention over real HTTP to the bolt app, answered in its
    thread with the verdict first, the streamed prose and the feedback buttons (the Slack Web API is a fake)."""
    from advisor.slack_bot import conversation_key
    from tests.fake_slack import FakeSlack
    from tests.test_slack import HOSPITAL, Running, event, send

    with FakeSlack() as slack:
        bot = Running(local_advisor.settings, local_advisor.retriever, local_advisor.reader,
                      tmp_path / "slack.sqlite3", slack, llm=local_advisor.llm)  # type: ignore[arg-type]
        try:
            assert send(bot.url, event(HOSPITAL))[0] == 200
            assert bot.settle(300)
            verdict = slack.of("chat.postMessage")[0]
            assert verdict["thread_ts"] == "1700000000.000100" and "open_weight" in json.dumps(verdict["blocks"])
            prose = "".join(c.get("markdown_text", "") for m in ("chat.startStream", "chat.appendStream")
                            for c in slack.of(m))
            assert len(prose.split()) > 20
            assert "feedback_buttons" in json.dumps(slack.of("chat.stopStream")[-1]["blocks"])
            assert slack.of("assistant.threads.setStatus")[-1]["status"] == ""
            turns = bot.advisor.history(conversation_key=conversation_key("C1", "1700000000.000100"))
            assert len(turns) == 1 and turns[0]["recommendation"] == "open_weight" and not turns[0]["error"]
        finally:
            bot.close()


def test_store_kept_every_turn(local_advisor: Advisor, tmp_path: Path) -> None:
    conversations = local_advisor.store.list_conversations()
    assert len(conversations) >= 2 and all(c.turn_count >= 1 for c in conversations)


class RecordingLLM(LiteLLM):
    """The real local model, with every answer request and the text that came back recorded (per request)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, str, dict[str, int]]] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def stream(self, messages: list[dict[str, str]], **kwargs: Any) -> Iterator[str | Completion]:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        pieces: list[str] = []
        usage: dict[str, int] = {}
        try:
            for piece in super().stream(messages, **kwargs):
                if isinstance(piece, Completion):
                    usage = piece.usage
                else:
                    pieces.append(piece)
                yield piece
        finally:
            with self._lock:
                self.active -= 1
                self.calls.append((messages[-1]["content"], "".join(pieces), usage))


@pytest.fixture(scope="module")
def short_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, LocalServer]]:
    """A second bundled server with a small context, so that two full prompts at once are quick to run."""
    data = tmp_path_factory.mktemp("short-ctx")
    (data / "models").symlink_to(SHARED_MODELS, target_is_directory=True)
    settings = Settings(data_dir=data, local_port=_free_port(), local_ctx=1536, llm_max_tokens=100, top_k=4)
    server = LocalServer(settings)
    server.ensure_running()
    try:
        yield settings, server
    finally:
        server.stop()


def _recording(settings: Settings, server: LocalServer) -> RecordingLLM:
    from advisor.local_model import MODEL_ALIAS

    return RecordingLLM(f"openai/{MODEL_ALIAS}", api_base=server.base_url, api_key="local", local=True,
                        context_tokens=settings.local_ctx, timeout_s=600, max_retries=0)


def test_five_concurrent_conversations_complete_apart(short_server, shipped_index) -> None:  # type: ignore[no-untyped-def]
    from advisor.retrieval import HybridRetriever

    settings, server = short_server
    settings = settings.model_copy(update={"llm_max_tokens": 24, "top_k": 1})
    llm = _recording(settings, server)
    advisor = Advisor(settings, llm=llm, retriever=HybridRetriever(shipped_index),
                      store=Store(settings.data_dir / "five.sqlite3"))
    questions = ["What is LoRA?", "What is QLoRA?", "What is knowledge distillation?",
                 "What does an H100 GPU cost per hour?", "What is a mixture-of-experts model?"]
    results: dict[int, list[Any]] = {}

    def run(i: int) -> None:
        results[i] = list(advisor.events(questions[i]))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert llm.max_active <= settings.local_parallel  # never more requests than the server has slots
    waited = [i for i, events in results.items()
              if any(getattr(e, "step", None) == "waiting" for e in events)]
    assert waited, "five turns on two slots: someone must have queued"
    for i, events in results.items():
        done = events[-1]
        assert isinstance(done, DoneEvent) and done.result["kind"] == "fact", events[-1]
        prompt, text, _ = next(c for c in llm.calls if f"Question: {questions[i]}" in c[0])
        assert all(f"Question: {q}" not in prompt for q in questions if q != questions[i])
        # Its own stream, nobody else's: what the claim check kept of it, and nothing of another turn's.
        shown = done.result["answer"]
        def plain(t: str) -> str:
            return " ".join(re.sub(r"\s*\[\d+\]", "", t).split())

        own = plain(text)
        assert own and (own[:20] in plain(shown) or done.result["checks"]["dropped"] >= 1), (own, shown)
        others = [plain(c[1])[:20] for c in llm.calls if f"Question: {questions[i]}" not in c[0]]
        assert not any(o in plain(shown) for o in others if o and o not in own), shown
        turns = advisor.store.turns(done.result["conversation_id"])
        assert [t.user for t in turns] == [questions[i]]


def test_two_full_prompts_at_once_and_one_after_a_short_request(short_server, shipped_index) -> None:  # type: ignore[no-untyped-def]
    """Two requests each using the whole context at the same time must both fit (one KV cache per slot), and so
    must a long one right after a short one on the same server."""
    from advisor.retrieval import HybridRetriever

    settings, server = short_server
    assert server.slot_context() == settings.local_ctx
    llm = _recording(settings, server)
    advisor = Advisor(settings, llm=llm, retriever=HybridRetriever(shipped_index),
                      store=Store(settings.data_dir / "ctx.sqlite3"))
    questions = [
        "We are a regional bank. Customer transaction data is regulated and must stay on our own servers; our "
        "three ML engineers have fine-tuned models before. What should we do, and what are the risks and costs?",
        "We are a games studio with no ML staff. We want NPC dialogue in our cloud backend at about 2 billion "
        "tokens a month within 8 weeks. Which option fits, and what would it cost?",
    ]
    answers: dict[int, Any] = {}
    threads = [threading.Thread(target=lambda i=i: answers.__setitem__(i, advisor.ask(questions[i])))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    llm.complete([{"role": "user", "content": "Name one open-weight model family in three words."}], max_tokens=16)
    answers[2] = advisor.ask("How do the costs of self-hosting compare with an API, and where is the break-even?")
    for i, answer in answers.items():
        assert answer.kind == ("situation" if i < 2 else "fact"), answer.answer[-300:]  # not degraded by overflow
        body = answer.answer.split("**What would change the recommendation**")[0]
        assert len(body) > 150
    for _, _, usage in llm.calls:
        assert usage["prompt_tokens"] + settings.llm_max_tokens <= settings.local_ctx
    assert max(u["prompt_tokens"] for _, _, u in llm.calls) > settings.local_ctx * 0.6  # the prompts were long


def test_stop_ends_the_request_on_the_server(short_server, shipped_index) -> None:  # type: ignore[no-untyped-def]
    import json
    import time
    import urllib.request

    from advisor.events import TextEvent
    from advisor.retrieval import HybridRetriever

    settings, server = short_server
    settings = settings.model_copy(update={"llm_max_tokens": 400})
    advisor = Advisor(settings, llm=_recording(settings, server), retriever=HybridRetriever(shipped_index),
                      store=Store(settings.data_dir / "stop.sqlite3"))

    def busy() -> bool:
        with urllib.request.urlopen(server.root_url + "/slots", timeout=5) as response:
            return any(slot.get("is_processing") for slot in json.loads(response.read()))

    stream = advisor.events("Explain the break-even between API and self-hosting costs in detail.")
    for event in stream:
        if isinstance(event, TextEvent) and len(event.delta.strip()) > 0:
            break
    assert busy()
    stopped = time.perf_counter()
    stream.close()
    while busy() and time.perf_counter() - stopped < 10:
        time.sleep(0.05)
    took = time.perf_counter() - stopped
    assert took < 1.5, f"the server kept generating for {took:.1f} s"
    turn = advisor.store.get_turn(stream.turn_id)
    assert turn is not None and turn.stopped
