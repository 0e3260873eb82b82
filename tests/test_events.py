"""The Advisor as a service: turn events in order, stopping, the async iterator, feedback, external conversation
keys, per-turn models, building once, and the fair queue in front of a model with few slots.

The model is the in-process scripted fake (a LiteLLM subclass at the LLM seam) or the scripted HTTP server; the
index, retriever, scorer and store are real.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from advisor.advisor import Advisor, AdvisorError, InputError
from advisor.events import DoneEvent, ErrorEvent, Event, SourcesEvent, StatusEvent, TextEvent, VerdictEvent
from advisor.llm import LiteLLM, LLMError
from advisor.store import Store
from tests.fake_llm import FakeOpenAI, ScriptedLLM

HOSPITAL = ("We are a hospital group. Patient records must stay on our own servers, and our ML engineers have "
            "fine-tuned models before. What should we do?")
FACT = "What is QLoRA and how much memory does it save?"


def _advisor(settings, retriever, tmp_path: Path, llm: LiteLLM, **changes: Any) -> Advisor:  # type: ignore[no-untyped-def]
    return Advisor(settings.model_copy(update=changes), llm=llm, retriever=retriever,
                   store=Store(tmp_path / "advisor.sqlite3"))


@pytest.fixture
def scripted() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def advisor(shipped_settings, retriever, tmp_path: Path, scripted: ScriptedLLM) -> Advisor:  # type: ignore[no-untyped-def]
    return _advisor(shipped_settings, retriever, tmp_path, scripted)


def _types(events: list[Event]) -> list[str]:
    """Event types with runs of text collapsed, e.g. status, sources, status, text, done."""
    out: list[str] = []
    for event in events:
        name = event.type if not isinstance(event, StatusEvent) else f"status:{event.step}"
        if not (name == "text" and out and out[-1] == "text"):
            out.append(name)
    return out


def _text(events: list[Event]) -> str:
    return "".join(e.delta for e in events if isinstance(e, TextEvent))


def test_fact_turn_events(advisor: Advisor, scripted: ScriptedLLM) -> None:
    scripted.enqueue("QLoRA fine-tunes a 4-bit quantised model through small adapters [1]; see also [9].")
    stream = advisor.events(FACT)
    assert len(stream.turn_id) == 32 and stream.conversation_id  # known before the first event
    events = list(stream)
    assert _types(events) == ["status:understanding", "status:retrieving", "sources", "status:writing", "text",
                              "done"]
    times = [e.t for e in events]
    assert times == sorted(times) and times[0] >= 0
    sources = next(e for e in events if isinstance(e, SourcesEvent)).sources
    assert sources and all({"n", "id", "title", "path", "section", "score", "text"} <= set(s) for s in sources)
    assert [s["n"] for s in sources] == list(range(1, len(sources) + 1)) and all(s["text"] for s in sources)
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.result["turn_id"] == stream.turn_id
    assert {"answer", "recommendation", "sources", "profile", "scores", "model", "latency_s", "usage"} <= set(
        done.result)
    # The stream dropped the citation to a passage that was not given, as the final answer does.
    assert "[9]" not in _text(events) and _text(events).strip() == done.result["answer"]
    assert done.result["kind"] == "fact" and done.result["recommendation"] is None
    turn = advisor.store.get_turn(stream.turn_id)
    assert turn is not None and turn.kind == "fact" and not turn.stopped and turn.error is None
    scripted.assert_all_used()


def test_situation_turn_emits_verdict_and_sources_before_prose(advisor: Advisor, scripted: ScriptedLLM) -> None:
    scripted.enqueue("Open weights keep the records in-house [1].")
    events = list(advisor.events(HOSPITAL))
    assert _types(events) == ["status:understanding", "status:scoring", "verdict", "status:retrieving", "sources",
                              "status:writing", "text", "done"]
    verdict = next(e for e in events if isinstance(e, VerdictEvent))
    assert verdict.recommendation == "open_weight" and verdict.label.startswith("Open-weight")
    assert verdict.profile["data_sensitivity"] == "regulated" and not verdict.provisional
    assert verdict.quotes["data_sensitivity"] in HOSPITAL and "Patient records" in verdict.quotes["data_sensitivity"]
    assert verdict.scores["recommended"] == "open_weight" and verdict.assumptions and verdict.flips is not None
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextEvent))
    assert first_text > events.index(verdict)
    assert first_text > next(i for i, e in enumerate(events) if isinstance(e, SourcesEvent))
    # No model text is streamed before the verdict line the pipeline writes itself.
    assert _text(events).startswith("**Recommendation: Open-weight model")
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.result["recommendation"] == "open_weight"
    assert done.result["answer"] == _text(events).strip()
    scripted.assert_all_used()


def test_off_topic_turn_has_no_sources_and_no_model_call(advisor: Advisor, scripted: ScriptedLLM) -> None:
    events = list(advisor.events("Write me a sonnet about my cat's birthday party."))
    assert _types(events) == ["status:understanding", "text", "done"]
    assert "I can only help with decisions about getting an LLM" in _text(events)
    assert events[-1].result["kind"] == "offtopic" and scripted.history == []  # type: ignore[attr-defined]


def test_degraded_situation_and_failed_fact_turns(advisor: Advisor, scripted: ScriptedLLM) -> None:
    down = LLMError("cannot reach the model scripted/fake: is its server running?", kind="unavailable")
    scripted.enqueue(down)  # the answer (understanding needs no model call)
    events = list(advisor.events(HOSPITAL))
    assert _types(events) == ["status:understanding", "status:scoring", "verdict", "status:retrieving", "sources",
                              "status:writing", "text", "done"]
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.result["kind"] == "degraded"
    assert done.result["recommendation"] == "open_weight" and "could not write the explanation" in _text(events)

    scripted.enqueue(down)
    stream = advisor.events(FACT)
    events = list(stream)
    assert _types(events) == ["status:understanding", "status:retrieving", "sources", "status:writing", "error"]
    error = events[-1]
    assert isinstance(error, ErrorEvent) and error.kind == "unavailable" and "cannot reach" in error.message
    assert error.turn_id == stream.turn_id and "\n" not in error.message
    failed = advisor.store.get_turn(stream.turn_id)
    assert failed is not None and failed.error and failed.user == FACT  # recorded, the message kept
    with pytest.raises(AdvisorError, match="cannot reach") as raised:
        scripted.enqueue(down)
        advisor.ask(FACT)
    assert advisor.store.get_turn(raised.value.turn_id) is not None


def test_a_consumer_that_stops_reading_records_a_stopped_turn(advisor: Advisor, scripted: ScriptedLLM) -> None:
    scripted.piece_delay_s = 0.05
    scripted.enqueue("QLoRA " * 200)
    stream = advisor.events(FACT)
    seen = ""
    for event in stream:
        if isinstance(event, TextEvent):
            seen += event.delta
            if len(seen) > 30:
                break
    stream.close()
    turn = advisor.store.get_turn(stream.turn_id)
    assert turn is not None and turn.stopped and turn.error is None
    assert turn.answer == seen.strip() and turn.answer.startswith("QLoRA QLoRA")
    advisor.feedback(stream.turn_id, -1, "stopped: too repetitive", source="web")  # a stopped turn has an id


def test_stop_from_another_thread_ends_with_a_stopped_done(advisor: Advisor, scripted: ScriptedLLM) -> None:
    scripted.piece_delay_s = 0.05
    scripted.enqueue("word " * 400)  # 20 s if nobody stops it
    stream = advisor.events(FACT)
    started = time.perf_counter()
    events: list[Event] = []
    for event in stream:  # the model's run-on text never ends a sentence, so the check shows none of it
        events.append(event)
        if isinstance(event, StatusEvent) and event.step == "writing":
            threading.Timer(0.5, stream.stop).start()
    assert time.perf_counter() - started < 5
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.result["stopped"] is True
    assert done.result["answer"] == _text(events).strip()
    turn = advisor.store.get_turn(stream.turn_id)
    assert turn is not None and turn.stopped and turn.answer == done.result["answer"]


def test_stop_ends_a_request_still_waiting_for_its_first_token(shipped_settings, retriever,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        fake.delay_s = 20  # a long prompt being processed: no byte comes back for 20 s
        llm = LiteLLM("openai/fake", api_base=fake.base_url, api_key="x", max_retries=2, context_tokens=4096,
                      timeout_s=60)
        advisor = _advisor(shipped_settings, retriever, tmp_path, llm)
        stream = advisor.events(FACT)
        events = []
        for event in stream:
            events.append(event)
            if isinstance(event, StatusEvent) and event.step == "writing":
                stopped_at = time.perf_counter()
                threading.Timer(0.3, stream.stop).start()
        elapsed = time.perf_counter() - stopped_at
        assert elapsed < 2.5, f"the request went on for {elapsed:.1f} s after stop"
        assert isinstance(events[-1], DoneEvent) and events[-1].result["stopped"] is True
        assert len(fake.chat_requests()) == 1  # a stopped request is not retried


def test_async_iterator_never_blocks_the_event_loop(advisor: Advisor, scripted: ScriptedLLM) -> None:
    scripted.piece_delay_s = 0.02
    scripted.enqueue("Self-host open weights [1]. " * 20)

    async def main() -> tuple[list[Event], list[float]]:
        ticks: list[float] = []
        running = True

        async def ticker() -> None:
            while running:
                ticks.append(time.perf_counter())
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        events = [event async for event in advisor.aevents(HOSPITAL)]
        running = False
        await task
        return events, ticks

    events, ticks = asyncio.run(main())
    assert _types(events)[-1] == "done" and "verdict" in _types(events)
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 20 and max(gaps) < 0.5, f"the loop stalled for {max(gaps):.2f} s"


def test_async_consumer_that_goes_away_stops_the_turn(advisor: Advisor, scripted: ScriptedLLM) -> None:
    scripted.piece_delay_s = 0.05
    scripted.enqueue("word " * 400)

    async def main() -> str:
        stream = advisor.aevents(FACT)
        async for event in stream:
            if isinstance(event, StatusEvent) and event.step == "writing":
                await asyncio.sleep(0.3)  # the model is streaming
                break
        await stream.aclose()
        return stream.turn_id

    started = time.perf_counter()
    turn_id = asyncio.run(main())
    assert time.perf_counter() - started < 5
    turn = advisor.store.get_turn(turn_id)
    assert turn is not None and turn.stopped


def test_feedback_round_trip(advisor: Advisor, scripted: ScriptedLLM) -> None:
    answer = advisor.ask(FACT)
    advisor.feedback(answer.turn_id, 1, "clear and cited", source="web")
    advisor.feedback(answer.turn_id, -1, source="slack")
    advisor.feedback(answer.turn_id, 1, source="eval")
    got = advisor.store.feedback(turn_id=answer.turn_id)
    assert [(f.rating, f.comment, f.source) for f in got] == [
        (1, "clear and cited", "web"), (-1, None, "slack"), (1, None, "eval")]
    with pytest.raises(InputError, match="unknown turn"):
        advisor.feedback("no-such-turn", 1)
    with pytest.raises(InputError, match="rating"):
        advisor.feedback(answer.turn_id, 5)
    with pytest.raises(InputError, match="source"):
        advisor.feedback(answer.turn_id, 1, source="fax")


def test_external_conversation_key_survives_a_restart(shipped_settings, retriever, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = "slack:T123:C456:1712345678.000100"
    first_llm = ScriptedLLM()
    first = _advisor(shipped_settings, retriever, tmp_path, first_llm).ask("What is LoRA?", conversation_key=key)
    # A new process: a new Advisor on the same database.
    second_llm = ScriptedLLM("How much memory does LoRA need for an 8B model?")
    again = _advisor(shipped_settings, retriever, tmp_path, second_llm)
    second = again.ask("And for an 8B model?", conversation_key=key)
    assert second.conversation_id == first.conversation_id
    assert [t.user for t in again.store.turns(first.conversation_id)] == ["What is LoRA?", "And for an 8B model?"]
    condense = second_llm.history[0]["messages"][-1]["content"]
    assert "What is LoRA?" in condense  # the follow-up was read with the earlier turn
    other = again.ask("What is LoRA?", conversation_key="slack:T123:C456:999.0001")
    assert other.conversation_id != first.conversation_id
    with pytest.raises(InputError, match="not both"):
        again.events("hi", conversation_id=first.conversation_id, conversation_key=key)
    with pytest.raises(InputError, match="unknown conversation"):
        again.events("What is LoRA?", conversation_id="nope")


def test_per_turn_model_override(shipped_settings, retriever, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI() as fake:
        settings = shipped_settings.model_copy(update={"llm": "openai/default-model", "llm_api_base": fake.base_url,
                                                       "llm_api_key": "x", "llm_max_retries": 0})
        advisor = Advisor(settings, retriever=retriever, store=Store(tmp_path / "db.sqlite3"))
        assert advisor.ask(FACT).model == "openai/default-model"
        assert advisor.ask(FACT, model="openai/other-model").model == "openai/other-model"
        assert advisor.ask(FACT).model == "openai/default-model"
        assert advisor.llm_for("openai/other-model") is advisor.llm_for("openai/other-model")
        assert advisor.builds["llm:openai/default-model"] == 1 and advisor.builds["llm:openai/other-model"] == 1
        assert [r["model"] for r in fake.chat_requests()] == ["default-model", "other-model", "default-model"]
        with pytest.raises(InputError, match="model name"):
            advisor.events(FACT, model=" ")


def test_two_simultaneous_first_requests_build_everything_once(small_kb: Path, tmp_path: Path) -> None:
    from advisor.config import Settings

    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=small_kb)
    advisor = Advisor(settings, llm=ScriptedLLM())
    barrier = threading.Barrier(2)
    answers: list[Any] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            barrier.wait()
            answers.append(advisor.ask("What vendor risks does alpha have?"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(answers) == 2
    assert advisor.builds == {"ingest": 1, "retriever": 1, "store": 1, "reader": 1}
    index = advisor.retriever.index
    before = index.count()
    assert index.ingest(progress=False).summary().count(" 0 new") or index.count() == before  # nothing twice
    assert {a.sources[0]["path"] for a in answers} == {"guides/alpha.md"}


def test_warm_builds_up_front_and_close_releases(small_kb: Path, tmp_path: Path) -> None:
    from advisor.config import Settings

    llm = ScriptedLLM()
    closed: list[bool] = []
    llm.on_close = lambda: closed.append(True)
    advisor = Advisor(Settings(data_dir=tmp_path / "data", knowledge_dir=small_kb), llm=llm)
    advisor.warm()
    assert advisor.builds == {"ingest": 1, "retriever": 1, "store": 1, "reader": 1}
    advisor.ask("What vendor risks does alpha have?")
    assert advisor.builds == {"ingest": 1, "retriever": 1, "store": 1, "reader": 1}  # nothing more to build
    advisor.close()
    assert closed == [True]


def test_a_model_with_few_slots_queues_turns_fairly(shipped_settings, retriever, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    llm = ScriptedLLM(local=True, piece_delay_s=0.02)
    advisor = _advisor(shipped_settings, retriever, tmp_path, llm, local_parallel=1)
    for i in range(3):
        llm.enqueue(f"Answer number {i} about QLoRA [1]. " * 20)
    results: dict[int, list[Event]] = {}

    def run(i: int) -> None:
        time.sleep(0.3 * i)  # arrive in order
        results[i] = list(advisor.events(f"Question {i}: what is QLoRA?"))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert llm.max_active == 1  # never more requests than slots
    positions = {i: [e.position for e in ev if isinstance(e, StatusEvent) and e.step == "waiting"]
                 for i, ev in results.items()}
    assert positions[0] == [] and positions[1] and positions[2][0] == 2 and 1 in positions[2]
    for i, events in results.items():
        assert isinstance(events[-1], DoneEvent) and f"Question {i}:" in events[-1].result["standalone_question"]
    finish = {i: results[i][-1].t + 0.3 * i for i in results}
    assert finish[0] < finish[1] < finish[2]  # first come, first served


def test_stop_while_waiting_in_the_queue(shipped_settings, retriever, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    llm = ScriptedLLM("word " * 200, local=True, piece_delay_s=0.05)
    advisor = _advisor(shipped_settings, retriever, tmp_path, llm, local_parallel=1)
    first = advisor.events("What is QLoRA?")
    first_events: Iterator[Event] = iter(first)
    for event in first_events:  # the first turn holds the only slot
        if isinstance(event, TextEvent):
            break
    second = advisor.events("What is LoRA?")
    for event in second:
        if isinstance(event, StatusEvent) and event.step == "waiting":
            started = time.perf_counter()
            threading.Timer(0.1, second.stop).start()
    assert time.perf_counter() - started < 1.5
    assert isinstance(event, DoneEvent) and event.result["stopped"]
    first.close()
    assert advisor.queue_for(llm).active == 0  # type: ignore[union-attr]


def test_bad_input_raises_before_anything_is_stored(advisor: Advisor) -> None:
    for message in ("", "\x00\x01", "x" * 5000):
        with pytest.raises(InputError):
            advisor.events(message)
    assert advisor.store.list_conversations() == []


def test_a_deployment_ships_its_own_policy_and_prompts(shipped_settings, retriever, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                       scripted: ScriptedLLM) -> None:
    import shutil

    from advisor.config import REPO_ROOT

    policy = tmp_path / "policy.yaml"
    policy.write_text((REPO_ROOT / "knowledge" / "scoring.yaml").read_text(encoding="utf-8").replace(
        "Open-weight model, adapted and self-hosted", "Our own open model"), encoding="utf-8")
    prompts = tmp_path / "prompts"
    shutil.copytree(REPO_ROOT / "prompts", prompts)
    (prompts / "system.j2").write_text("HOUSE RULES FIRST.\n" + (prompts / "system.j2").read_text(encoding="utf-8"),
                                       encoding="utf-8")
    advisor = _advisor(shipped_settings, retriever, tmp_path, scripted, scoring_policy=policy, prompts_dir=prompts)
    scripted.enqueue("Fine [1].")
    answer = advisor.ask(HOSPITAL)
    assert answer.answer.startswith("**Recommendation: Our own open model (`open_weight`)**")
    system = next(r for r in scripted.history if r["stream"])["messages"][0]["content"]
    assert system.startswith("HOUSE RULES FIRST.")


def test_async_consumer_that_breaks_and_drops_the_stream_stops_the_turn(advisor: Advisor,
                                                                        scripted: ScriptedLLM) -> None:
    import gc

    scripted.piece_delay_s = 0.05
    scripted.enqueue("word " * 400)

    async def main() -> str:
        stream = advisor.aevents(FACT)
        turn_id = stream.turn_id
        async for event in stream:
            if isinstance(event, StatusEvent) and event.step == "writing":
                await asyncio.sleep(0.3)  # the model is streaming
                break
        del stream
        gc.collect()
        for _ in range(100):  # the worker notices within a piece or two
            turn = advisor.store.get_turn(turn_id)
            if turn is not None:
                return turn_id
            await asyncio.sleep(0.05)
        return turn_id

    turn = advisor.store.get_turn(asyncio.run(main()))
    assert turn is not None and turn.stopped


def test_the_claim_check_drops_what_the_passages_do_not_hold_and_keeps_what_they_do(
        advisor: Advisor, scripted: ScriptedLLM) -> None:
    """A Why section mixing a grounded sentence with an invented figure, a wrong citation, advice found in no
    guide, a claim the user never made and a contradiction of the verdict: only the grounded one (and the
    corrected one) reach the reader, a sentence behind the model, and the tally is in the JSON and the store."""
    from tests.fake_llm import grounded_reply

    def why(request: dict[str, Any]) -> str:
        grounded = grounded_reply(request["messages"][-1]["content"]).strip()
        return "\n".join([
            grounded,
            "- Self-hosting saves exactly $4,317,000 in the first year [1].",
            "- To speed things up, reduce the batch size and restart the job [1].",
            "- Your volumes are high and steady, so GPUs pay for themselves [1].",
            "- We would rather recommend a hosted API such as Claude here [1].",
        ])

    scripted.enqueue(why, "- Operating GPUs needs skilled staff, which you can hire or contract [9].")
    events = list(advisor.events(HOSPITAL))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    text = done.result["answer"]
    why_text = text.split("**Why**", 1)[1].split("**Risks", 1)[0]
    assert "$4,317,000" not in text and "batch size" not in text and "high and steady" not in text
    assert "Claude" not in text and "[9]" not in text
    assert why_text.strip().startswith("- ") and "[" in why_text  # the grounded sentence stayed, cited
    checks = done.result["checks"]
    assert checks["dropped"] >= 4 and {"number", "user_claim", "contradiction"} <= set(checks["reasons"])
    assert {d["reason"] for d in checks["dropped_sentences"]} >= {"number", "user_claim", "contradiction"}
    stored = advisor.store.get_turn(done.result["turn_id"])
    assert stored is not None and stored.checks == checks and stored.answer == text
    assert "**Costs**" in text and done.result["costs"]["option"] == "open_weight"
    streamed = _text(events)
    assert streamed.strip() == text and "$4,317,000" not in streamed  # never shown, not even for a moment


def test_costs_come_from_the_cost_model_when_the_volume_is_known(advisor: Advisor, scripted: ScriptedLLM) -> None:
    answer = advisor.ask(HOSPITAL + " We expect about 2 billion tokens a month.")
    costs = answer.costs
    assert answer.recommendation == "open_weight" and costs is not None and costs["kind"] == "self_host_vs_api"
    section = answer.answer.split("**Costs**", 1)[1].split("**What would change", 1)[0]
    monthly = costs["figures"]["self_host"]["monthly_usd"]
    assert f"${monthly / 1e3:,.0f}k" in section and "Break-even" in section  # rendered from the figures
    assert "2B tokens a month" in section


def test_a_label_whose_sentence_is_dropped_goes_with_it(advisor: Advisor, scripted: ScriptedLLM) -> None:
    """A fact answer of bold labels whose sentences all fail the check shows neither the bare labels nor
    nothing: the pipeline's fallback from the passages takes their place."""
    scripted.enqueue("- **Self-hosting cost components:**\n- Our moon base sells 4,317 tonnes of cheese [1].\n"
                     "- **Break-even worked example:**\n")
    answer = advisor.ask("What is LoRA and how does it cut fine-tuning memory?")
    assert answer.kind == "fact"
    assert "Self-hosting cost components" not in answer.answer and "Break-even worked" not in answer.answer
    assert "cheese" not in answer.answer and "closest passage says" in answer.answer
    assert answer.checks["dropped"] == 1


def test_a_list_question_gets_the_whole_list_of_the_passage_it_draws_on(advisor: Advisor,
                                                                      scripted: ScriptedLLM) -> None:
    """The model names one drawback; the pipeline adds the guide's other drawbacks, in its words and cited, and
    a question asked with "downsides" finds the guide's "Drawbacks and risks" section."""
    from advisor.retrieval import HybridRetriever

    question = "What are the downsides of relying on a commercial LLM API?"
    assert isinstance(advisor.retriever, HybridRetriever)
    hits = advisor.retriever.search(question)
    n = next(i + 1 for i, h in enumerate(hits) if h.section == "Drawbacks and risks")
    items = [line[2:].strip() for line in hits[n - 1].text.splitlines() if line.startswith("- ")]
    assert len(items) >= 3
    scripted.enqueue(f"- {items[0].rstrip('.')} [{n}].\n")
    answer = advisor.ask(question)
    assert answer.kind == "fact" and answer.checks["kept"] + answer.checks["corrected"] == 1
    for item in items[1:]:
        assert item.rstrip(".")[:40] in answer.answer, item
    assert answer.answer.count(f"[{n}]") >= len(items)


def test_a_single_fact_question_gets_the_points_of_the_section_that_answers_it(advisor: Advisor,
                                                                               scripted: ScriptedLLM) -> None:
    """"What is QLoRA?" is answered from the LoRA and QLoRA section: the model's sentence, then the section's other
    points (memory, data, when it fits, limits), each cited to that section, and nothing from other passages."""
    from tests.fake_llm import grounded_reply

    scripted.enqueue(lambda request: grounded_reply(request["messages"][-1]["content"]))
    answer = advisor.ask("What is QLoRA?")
    n = next(s["n"] for s in answer.sources if s["section"] == "LoRA and QLoRA")
    added = [line for line in answer.answer.splitlines()[1:] if line.startswith("- ")]
    assert 2 <= len(added) <= 8, answer.answer
    assert all(line.rstrip(".").endswith(f"[{n}]") for line in added), answer.answer
    assert "**Memory:**" in answer.answer and "**Limits:**" in answer.answer
    assert answer.checks["kept"] + answer.checks["corrected"] == 1


def test_the_best_ranked_passage_of_another_section_adds_its_closest_points(advisor: Advisor,
                                                                            scripted: ScriptedLLM) -> None:
    """The heading closest to the question ("Choosing GPUs") and the best-ranked passage ("Sizing a serving
    deployment step by step") name different sections: the answer gets the first's points, then the second's
    (here the rest of its list, which the answer gives part of), each cited to its own section, none twice."""
    from tests.fake_llm import grounded_reply

    scripted.enqueue(lambda request: grounded_reply(request["messages"][-1]["content"]))
    answer = advisor.ask("We need to work out how many GPUs to buy for serving a model in production. "
                         "What's the step-by-step way to size it?")
    numbers = {s["section"]: s["n"] for s in answer.sources}
    steps, gpus = numbers["Sizing a serving deployment step by step"], numbers["Choosing GPUs"]
    lines = [line.rstrip(".") for line in answer.answer.splitlines()[1:] if line.startswith("- ")]
    assert answer.checks["kept"] + answer.checks["corrected"] == 1, answer.answer
    from_gpus = [line for line in lines if line.endswith(f"[{gpus}]")]
    from_steps = [line for line in lines if line.endswith(f"[{steps}]")]
    assert from_gpus and from_steps and len(set(lines)) == len(lines), answer.answer
    assert lines.index(from_gpus[0]) < lines.index(from_steps[0])


def test_a_question_naming_a_model_gets_its_catalog_facts_with_date_and_source(advisor: Advisor,
                                                                               scripted: ScriptedLLM) -> None:
    """The router reads "2B4T" as a situation's figures; a question naming a catalog model that states nothing
    about the asker is a fact question, and the answer ends with the model's catalog card, cited."""
    from advisor.catalog import load_catalog

    scripted.enqueue("It has a context of 768 tokens [1].\n")  # a wrong figure: dropped by the check
    answer = advisor.ask("What is unusual about BitNet b1.58 2B4T, and how long a context does it take?")
    assert answer.kind == "fact" and answer.checks["dropped"] == 1 and "768" not in answer.answer
    model = load_catalog().get("bitnet-b1.58-2b-4t")
    n = next(s["n"] for s in answer.sources if s["path"] == "models.yaml" and s["section"] == model.id)
    assert f"**{model.name}** (catalog) [{n}]:" in answer.answer
    assert "Context: 4,096 tokens" in answer.answer and f"Facts as of {model.as_of}" in answer.answer
    assert model.sources[0] in answer.answer and "closest passage says" not in answer.answer


def test_a_term_the_knowledge_base_has_nothing_on_is_said_first(advisor: Advisor, scripted: ScriptedLLM) -> None:
    from tests.fake_llm import grounded_reply

    scripted.enqueue(lambda request: grounded_reply(request["messages"][-1]["content"]))
    answer = advisor.ask("What does an hour on a Google TPU cost?")
    assert answer.answer.startswith("The knowledge base has no information on “TPU”; this is what it holds")
    assert answer.answer.count("\n- ") == 1 and answer.checks["kept"] + answer.checks["corrected"] == 1
    # nothing padded on from the nearest section


def test_a_line_of_bare_citations_is_not_shown(advisor: Advisor, scripted: ScriptedLLM) -> None:
    scripted.enqueue("[1] [2][3]\n\n- QLoRA fine-tunes a model quantised to 4 bits through small adapters [1].\n")
    answer = advisor.ask("What is QLoRA?")
    assert not answer.answer.startswith("[") and "[2][3]" not in answer.answer
    assert answer.answer.startswith("- QLoRA fine-tunes")
