"""One turn of the conversation as a stream of events.

A small local model cannot be trusted with free tool choice, so the pipeline decides: it routes the message and
reads the situation with learned classifiers (no model call), condenses a follow-up question, scores the
situation deterministically, retrieves the passages
behind the scorer's reasons and the question, emits the verdict and the sources, and only then asks the model to
write — around a recommendation line, assumptions and what-ifs that the pipeline writes itself, so text and
verdict agree. Every model call waits its turn in the local server's queue, and every step notices a stop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from advisor.concurrency import Stopped, StopToken
from advisor.events import (
    STEPS,
    Answer,
    DoneEvent,
    ErrorEvent,
    Event,
    SourcesEvent,
    StatusEvent,
    TextEvent,
    VerdictEvent,
)

if TYPE_CHECKING:
    from advisor.concurrency import FairQueue, Ticket
    from advisor.config import Settings
    from advisor.llm import LiteLLM
    from advisor.reader import Reader
    from advisor.retrieval import Hit, HybridRetriever
    from advisor.store import Store, Turn
    from advisor.verdict import Verdict

__all__ = ["TurnRun"]

log = logging.getLogger(__name__)
_MAX_SITUATION_PASSAGES = 6


@dataclass
class _Draft:
    """What the turn has so far, recorded as it stands if the turn stops or fails."""

    question: str = ""
    kind: str = "fact"
    passages: list[Hit] = field(default_factory=list)
    verdict: Verdict | None = None
    shown: list[str] = field(default_factory=list)  # every piece of text the reader has been sent
    parts: dict[str, str] = field(default_factory=dict)  # note, header, notice, footer: the pipeline's own text
    body: list[str] = field(default_factory=list)  # the model's prose as it came, before citations were checked
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = 0.0

    def text(self, body: str) -> str:
        """The answer around a body: note, recommendation line, body, notice, what would change it."""
        p = self.parts
        return p.get("note", "") + p.get("header", "") + body + p.get("notice", "") + p.get("footer", "")


class TurnRun:
    """One turn: its events, and its record in the store whatever happens (done, failed or stopped)."""

    def __init__(self, *, settings: Settings, llm: LiteLLM, retriever: HybridRetriever, reader: Reader,
                 store: Store, queue: FairQueue | None, conversation_id: str, turn_id: str, text: str,
                 stop: StopToken) -> None:
        self.settings = settings
        self.llm = llm
        self.retriever = retriever
        self.reader = reader
        self.store = store
        self.queue = queue
        self.conversation_id = conversation_id
        self.turn_id = turn_id
        self.text = text
        self.stop = stop
        self.started = time.perf_counter()
        self.draft = _Draft()
        self._recorded = False
        self._history: list[Turn] = []
        self._ticket: Ticket | None = None

    # -- the event stream ----------------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """The turn's events; closing the iterator stops the turn and records it as stopped."""
        try:
            self._history = self.store.turns(self.conversation_id, limit=self.settings.history_turns)
            if self.settings.agent_mode and not self.llm.local:
                yield from self._agent_turn()
            else:
                yield from self._pipeline()
        except Stopped:
            yield self._done(stopped=True)
        except GeneratorExit:
            self.stop.stop()
            self._record(stopped=True)
            raise
        except Exception as exc:
            from advisor.llm import LLMError

            message = " ".join(str(exc).split())[:500] or type(exc).__name__
            kind = exc.kind if isinstance(exc, LLMError) else "internal"
            log.error("turn %s failed in conversation %s: %s", self.turn_id, self.conversation_id, message,
                      exc_info=kind == "internal")
            self._record(error=message)
            yield ErrorEvent(t=self._t(), message=message, kind=kind, turn_id=self.turn_id,
                             conversation_id=self.conversation_id)
        except BaseException:  # KeyboardInterrupt in a terminal: keep what was written
            self.stop.stop()
            self._record(stopped=True)
            raise

    def _t(self) -> float:
        return time.perf_counter() - self.started

    def _status(self, step: str, position: int | None = None) -> StatusEvent:
        message = STEPS[step] + (f": number {position} in the queue" if position is not None else "")
        return StatusEvent(t=self._t(), step=step, message=message, position=position)  # type: ignore[arg-type]

    def _say(self, text: str, part: str | None = None) -> Iterator[Event]:
        """Send text to the reader; part names the pipeline's own pieces (the model's prose has none)."""
        if part is not None:
            self.draft.parts[part] = self.draft.parts.get(part, "") + text
        if text:
            self.draft.shown.append(text)
            yield TextEvent(t=self._t(), delta=text)

    # -- model slots ---------------------------------------------------------------------------------------------
    def _model_call(self, step: str) -> Generator[Event, None, bool]:
        """Wait for a slot on the model server (status `waiting` with the place in line), then resume step;
        returns whether it had to wait."""
        self.stop.check()
        if self.queue is None:
            return False
        ticket = self.queue.join()
        self._ticket = ticket
        unregister = self.stop.on_stop(self.queue.wake)
        try:
            last: int | None = None
            while (position := ticket.wait(0.5)) is not None:
                self.stop.check()
                if position != last:
                    last = position
                    yield self._status("waiting", position)
            if last is not None:
                yield self._status(step)
            return last is not None
        except BaseException:
            ticket.leave()
            raise
        finally:
            unregister()

    def _release(self) -> None:
        ticket = self._ticket
        if ticket is not None:
            ticket.leave()
            self._ticket = None

    # -- the pipeline ----------------------------------------------------------------------------------------------
    def _pipeline(self) -> Iterator[Event]:
        from advisor.hygiene import strip_overrides
        from advisor.routing import OFF_TOPIC_REPLY, Decision, decide

        yield self._status("understanding")
        cleaned, note = strip_overrides(self.text)
        question = cleaned or self.text
        has_profile = any(t.profile is not None for t in self._history)  # a situation was read, even if empty
        decision = (decide(self.reader.route(cleaned).route, has_history=bool(self._history), has_profile=has_profile)
                    if cleaned else Decision("offtopic"))
        if decision.condense:
            yield from self._model_call("understanding")
            try:
                question = self._condense(cleaned)
            finally:
                self._release()
            if decision.kind == "offtopic":  # "and the other one?" reads as off-topic until it is condensed
                decision = decide(self.reader.route(question).route, has_history=False, has_profile=False)
        self.draft.question = question
        if decision.kind == "offtopic":
            self.draft.kind = "offtopic"
            yield from self._say(note + OFF_TOPIC_REPLY, "note")
            yield self._done()
            return
        yield from self._say(note, "note")
        hits = self.retriever.search(question, k=self.settings.top_k)
        if decision.kind == "situation":
            yield from self._situation(cleaned, hits, also_fact=decision.also_fact)
        else:
            yield self._status("retrieving")
            self.draft.passages = hits
            yield from self._write("answer_fact", profile=None)

    def _situation(self, cleaned: str, hits: list[Hit], *, also_fact: bool) -> Iterator[Event]:
        from advisor.scoring import load_policy, score_profile
        from advisor.verdict import Verdict

        self.draft.kind = "situation"
        # Everything the user said in this conversation, in order: a later statement corrects an earlier one.
        reading = self.reader.read([t.user for t in self._history] + [cleaned])
        self.stop.check()
        yield self._status("scoring")
        policy = load_policy(self.settings.policy_path, self.settings.knowledge_dir)
        scores = score_profile(reading.profile, policy=policy).as_dict()
        verdict = Verdict.of(reading.profile.stated(), scores, quotes=reading.quotes)
        self.draft.verdict = verdict
        yield VerdictEvent(t=self._t(), **verdict.as_dict())
        yield self._status("retrieving")
        # The passages behind the scorer's top reasons first, then the best search hits; a small model reads
        # a handful of passages well and a dozen badly.
        self.draft.passages = _dedupe(self._reason_passages(scores) + hits)[:_MAX_SITUATION_PASSAGES]
        yield from self._write("answer_situation", profile=reading.profile, also_fact=also_fact)

    def _write(self, template: str, *, profile: Any, also_fact: bool = False) -> Iterator[Event]:
        """Fit the prompt, emit the sources, then stream the model's prose between the pipeline's own parts."""
        from advisor.citations import CitationFilter
        from advisor.llm import Completion, LLMError

        prompt = self._prompt(template, profile, also_fact=also_fact)
        yield SourcesEvent(t=self._t(), sources=[
            {"n": i + 1, **h.source(), "text": h.text} for i, h in enumerate(self.draft.passages)])
        verdict = self.draft.verdict
        waited = yield from self._model_call("writing")
        try:
            if not waited:
                yield self._status("writing")
            if verdict is not None:
                yield from self._say(verdict.header(), "header")
            filtered = CitationFilter(len(self.draft.passages))
            try:
                for piece in self.llm.stream(prompt, max_tokens=self.settings.llm_max_tokens, stop=self.stop):
                    if isinstance(piece, Completion):
                        _add(self.draft.usage, piece.usage)
                        self.draft.cost_usd = piece.cost_usd
                    else:
                        self.draft.body.append(piece)
                        yield from self._say(filtered.feed(piece))
                yield from self._say(filtered.flush())
            except LLMError as exc:
                if verdict is None:
                    raise
                # The verdict is deterministic: without the model the user still gets it, clearly marked.
                log.warning("model failed; answering with the scorer's verdict only: %s", exc)
                self.draft.kind = "degraded"
                yield from self._say(f"_The model could not write the explanation ({exc}); here is the "
                                     "scorer's verdict._", "notice")
        finally:
            self._release()
        if verdict is not None:
            yield from self._say(verdict.footer(), "footer")
        yield self._done()

    def _prompt(self, template: str, profile: Any, *, also_fact: bool = False) -> list[dict[str, str]]:
        from advisor.hygiene import as_data
        from advisor.prompt_context import compact_costs, compact_models, compact_scores, fit_passages
        from advisor.prompts import render
        from advisor.routing import wants_costs, wants_models

        question, folder = self.draft.question, self.settings.prompts_dir
        variables: dict[str, Any] = {"costs": "", "models": "", "also_fact": also_fact}
        volume = getattr(profile, "monthly_tokens", None)
        if volume or wants_costs(question):
            variables["costs"] = compact_costs(volume or 5e8, self.settings)
        if wants_models(question):
            variables["models"] = compact_models(question, profile, self.settings)
        verdict = self.draft.verdict
        if verdict is not None:
            variables.update(recommendation=verdict.recommendation, label=verdict.label,
                             scores=compact_scores(verdict.scores))
        system = {"role": "system", "content": render("system", folder)}

        def build(passages: list[Hit]) -> list[dict[str, str]]:
            return [system, {"role": "user", "content": render(template, folder, passages=passages,
                                                               question=question, **variables)}]

        budget = self.llm.context_tokens - self.settings.llm_max_tokens - 64
        self.draft.passages = fit_passages(
            [replace(p, text=as_data(p.text)) for p in self.draft.passages], build,
            count=lambda messages: sum(self.llm.count_tokens(m["content"]) + 8 for m in messages), budget=budget)
        return build(self.draft.passages)

    def _condense(self, message: str) -> str:
        from advisor.llm import LLMError
        from advisor.prompts import render

        history = self._history
        prompt = render("condense", self.settings.prompts_dir, history=history[-3:], message=message)
        try:
            reply = self.llm.complete([{"role": "user", "content": prompt}], max_tokens=120, deterministic=True,
                                      stop=self.stop)
        except LLMError as exc:
            log.warning("condensing failed, using the message and the previous question: %s", exc)
            return f"{history[-1].user} {message}"
        _add(self.draft.usage, reply.usage)
        question = " ".join(reply.text.strip().strip('"').split())
        return question if 3 <= len(question) <= 1000 else f"{history[-1].user} {message}"

    def _reason_passages(self, scores: dict[str, Any]) -> list[Hit]:
        ranking = scores["ranking"]
        reasons = sorted((r for r in ranking[0]["reasons"] if r["effect"] != "excluded" and r["effect"] > 0),
                         key=lambda r: -r["effect"])
        ruled_out = [r for o in ranking for r in o["reasons"] if r["effect"] == "excluded"]
        wanted = [r["source"] for r in reasons[:3]] + [r["source"] for r in ruled_out[:1]]
        return [h for s in dict.fromkeys(wanted) if (h := self.retriever.section(s)) is not None]

    # -- agent mode ----------------------------------------------------------------------------------------------
    def _agent_turn(self) -> Iterator[Event]:
        from advisor.agent import run_agent
        from advisor.citations import tidy_citations
        from advisor.hygiene import strip_overrides
        from advisor.verdict import Verdict

        yield self._status("understanding")
        cleaned, note = strip_overrides(self.text)
        self.draft.question = cleaned or self.text
        from advisor.llm import translate_error

        try:
            turn = run_agent(self.settings, self.llm, self.retriever, self.draft.question,
                             [(t.user, t.answer) for t in self._history if t.answer])
        except Exception as exc:
            raise translate_error(exc, self.llm.name, self.llm.timeout_s) from exc
        self.stop.check()
        self.draft.passages = turn.passages
        body, _ = tidy_citations(turn.text, len(turn.passages))
        if turn.scores:
            assumed = {a["field"] for a in turn.scores["assumptions"]}
            profile = {k: v for k, v in turn.scores["profile"].items() if k not in assumed}
            self.draft.kind = "situation"
            self.draft.verdict = Verdict.of(profile, turn.scores)
            yield VerdictEvent(t=self._t(), **self.draft.verdict.as_dict())
        yield SourcesEvent(t=self._t(), sources=[
            {"n": i + 1, **h.source(), "text": h.text} for i, h in enumerate(turn.passages)])
        verdict = self.draft.verdict
        yield from self._say(note, "note")
        if verdict is not None:
            yield from self._say(verdict.header(), "header")
        self.draft.body.append(body)
        yield from self._say(body)
        if verdict is not None:
            yield from self._say(verdict.footer(), "footer")
        yield self._done()

    # -- the record ------------------------------------------------------------------------------------------------
    def _answer(self, *, stopped: bool = False) -> Answer:
        from advisor.citations import attribute_citations, tidy_citations

        draft, verdict = self.draft, self.draft.verdict
        body = "".join(draft.body)
        if stopped:  # exactly what the reader saw
            text, (_, cited) = "".join(draft.shown), tidy_citations(body, len(draft.passages))
        else:  # citations attributed where the model gave none, then only valid ones kept
            final, cited = tidy_citations(attribute_citations(body, draft.passages), len(draft.passages))
            text = draft.text(final)
        sources = [{**h.source(), "cited": i + 1 in cited, "n": i + 1} for i, h in enumerate(draft.passages)]
        return Answer(
            answer=text.strip(), recommendation=verdict.recommendation if verdict else None, sources=sources,
            profile=verdict.profile if verdict else None, scores=verdict.scores if verdict else None,
            model=self.llm.name, latency_s=self._t(), usage=dict(draft.usage), cost_usd=draft.cost_usd,
            conversation_id=self.conversation_id, turn_id=self.turn_id, kind=draft.kind,
            provisional=verdict.provisional if verdict else False, questions=verdict.questions if verdict else [],
            standalone_question=draft.question, stopped=stopped)

    def _done(self, *, stopped: bool = False) -> DoneEvent:
        answer = self._answer(stopped=stopped)
        self._record(answer=answer, stopped=stopped)
        return DoneEvent(t=self._t(), result=answer.as_dict())

    def _record(self, *, answer: Answer | None = None, stopped: bool = False, error: str | None = None) -> None:
        """Store the turn once: finished, stopped (with what was written) or failed (with the error)."""
        if self._recorded:
            return
        self._recorded = True
        self._release()
        answer = answer or self._answer(stopped=stopped)
        try:
            self.store.add_turn(
                self.conversation_id, user=self.text, answer=answer.answer,
                standalone_question=answer.standalone_question or None, recommendation=answer.recommendation,
                sources=answer.sources, profile=answer.profile, scores=answer.scores, model=answer.model,
                latency_s=answer.latency_s, usage=answer.usage, cost_usd=answer.cost_usd, error=error,
                stopped=stopped, kind=answer.kind, turn_id=self.turn_id)
        except Exception:  # the turn's own outcome matters more than a failed log entry
            if error is None:
                raise
            log.exception("could not record the failed turn")


def _add(total: dict[str, int], usage: dict[str, int]) -> None:
    for key, value in usage.items():
        total[key] = total.get(key, 0) + value


def _dedupe(hits: list[Hit]) -> list[Hit]:
    seen: set[tuple[str, str]] = set()
    out = []
    for hit in hits:
        key = (hit.path, hit.section)
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out
