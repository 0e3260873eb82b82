"""The conversation pipeline: one turn in, a grounded, cited recommendation or answer out.

A small local model cannot be trusted with free tool choice, so the pipeline decides: it condenses a follow-up,
understands the situation (cues + a quoted extraction), scores it deterministically, retrieves the passages
behind the scorer's reasons and the question, and only then asks the model to write — around a
recommendation line, assumptions and what-ifs that the pipeline writes itself, so text and verdict agree.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from advisor.answering import (
    OFF_TOPIC_REPLY,
    as_data,
    assemble_situation,
    attribute_citations,
    clean_message,
    compact_costs,
    compact_models,
    compact_scores,
    fit_passages,
    gating_questions,
    is_on_topic,
    is_situation,
    strip_overrides,
    tidy_citations,
)

if TYPE_CHECKING:
    from advisor.config import Settings
    from advisor.llm import LiteLLM
    from advisor.retrieval import Hit, HybridRetriever
    from advisor.store import Store

__all__ = ["Advisor", "AdvisorError", "Answer", "InputError"]

log = logging.getLogger(__name__)
_MAX_SITUATION_PASSAGES = 6


class InputError(ValueError):
    """A message the advisor will not process; the message is one line for the user."""


class AdvisorError(RuntimeError):
    """A turn that failed after its input was accepted (model down, timeout); one line for the user."""


@dataclass
class Answer:
    """One advisor turn, in the shape of the `advisor ask --json` contract."""

    answer: str
    recommendation: str | None
    sources: list[dict[str, Any]]
    profile: dict[str, Any] | None
    scores: dict[str, Any] | None
    model: str
    latency_s: float
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    conversation_id: str = ""
    turn_id: str = ""
    kind: str = "fact"  # situation | fact | offtopic | degraded
    provisional: bool = False
    questions: list[str] = field(default_factory=list)
    standalone_question: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The CLI JSON contract plus conversation bookkeeping."""
        return {
            "answer": self.answer, "recommendation": self.recommendation, "sources": self.sources,
            "profile": self.profile, "scores": self.scores, "model": self.model,
            "latency_s": round(self.latency_s, 3), "usage": {**self.usage, "cost_usd": self.cost_usd},
            "conversation_id": self.conversation_id, "turn_id": self.turn_id, "kind": self.kind,
            "provisional": self.provisional, "questions": self.questions,
            "standalone_question": self.standalone_question,
        }


@dataclass
class _Plan:
    """Everything decided before the model writes."""

    message: str
    question: str
    kind: str
    passages: list[Hit]
    prompt: list[dict[str, str]]
    profile: dict[str, Any] | None = None
    scores: dict[str, Any] | None = None
    recommendation: str | None = None
    provisional: bool = False
    questions: list[str] = field(default_factory=list)
    note: str = ""
    usage: dict[str, int] = field(default_factory=dict)


class Advisor:
    """The chat advisor, built once from Settings and shared by the CLI, web, Slack and evals."""

    def __init__(self, settings: Settings, *, llm: LiteLLM | None = None, retriever: HybridRetriever | None = None,
                 store: Store | None = None) -> None:
        self.settings = settings
        self._llm = llm
        self._retriever = retriever
        self._store = store

    # -- components, built on first use -------------------------------------------------------------------------
    @property
    def llm(self) -> LiteLLM:
        """The configured model."""
        if self._llm is None:
            from advisor.llm import open_llm

            self._llm = open_llm(self.settings)
        return self._llm

    @property
    def retriever(self) -> HybridRetriever:
        """Hybrid search over the index (ingested on first use if empty)."""
        if self._retriever is None:
            from advisor.index import open_index
            from advisor.retrieval import HybridRetriever

            index = open_index(self.settings)
            if index.count() == 0:
                index.ingest(progress=False)
            self._retriever = HybridRetriever(index)
        return self._retriever

    @property
    def store(self) -> Store:
        """The conversation database."""
        if self._store is None:
            from advisor.store import Store

            self._store = Store(self.settings.db_path)
        return self._store

    # -- a turn ---------------------------------------------------------------------------------------------------
    def ask(self, message: str, *, conversation_id: str | None = None) -> Answer:
        """Answer one message, remembering it in the conversation (a new one when no id is given)."""
        result = None
        for piece in self.ask_stream(message, conversation_id=conversation_id):
            if isinstance(piece, Answer):
                result = piece
        assert result is not None
        return result

    def ask_stream(self, message: str, *, conversation_id: str | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is written, then the finished Answer."""
        started = time.perf_counter()
        text = clean_message(message, max_chars=self.settings.max_message_chars, error=InputError)
        conversation_id = self._conversation(conversation_id)
        history = self.store.turns(conversation_id, limit=self.settings.history_turns)
        if self.settings.agent_mode and not self.llm.local:
            yield from self._agent_turn(text, history, conversation_id, started)
            return
        try:
            plan = self._plan(text, history, conversation_id)
        except Exception as exc:
            self._record_failure(conversation_id, text, exc)
            raise
        if plan.kind == "offtopic":
            answer = Answer(OFF_TOPIC_REPLY, None, [], None, None, self.llm_name, 0.0, kind="offtopic",
                            standalone_question=plan.question)
            yield answer.answer
            yield self._finish(answer, conversation_id, text, started)
            return

        header = plan.note
        if plan.kind == "situation":
            header += assemble_situation(plan.recommendation, plan.scores, provisional=plan.provisional,
                                         part="header")
        if header:
            yield header
        body = ""
        usage = dict(plan.usage)
        cost: float | None = 0.0
        try:
            from advisor.llm import Completion

            for piece in self.llm.stream(plan.prompt, max_tokens=self.settings.llm_max_tokens):
                if isinstance(piece, Completion):
                    body = piece.text
                    for key, value in piece.usage.items():
                        usage[key] = usage.get(key, 0) + value
                    cost = piece.cost_usd
                else:
                    yield piece
        except Exception as exc:
            from advisor.llm import LLMError

            if not isinstance(exc, LLMError) or plan.kind != "situation":
                self._record_failure(conversation_id, text, exc)
                raise AdvisorError(str(exc)) from exc
            # The verdict is deterministic: without the model the user still gets it, clearly marked.
            log.warning("model failed; answering with the scorer's verdict only: %s", exc)
            body = f"_The model could not write the explanation ({exc}); here is the scorer's verdict._"
            plan.kind = "degraded"
            yield body
        body, cited = tidy_citations(attribute_citations(body, plan.passages), len(plan.passages))
        footer = ""
        if plan.kind in ("situation", "degraded"):
            footer = assemble_situation(plan.recommendation, plan.scores, provisional=plan.provisional,
                                        part="footer", questions=plan.questions)
            yield footer
        sources = [{**h.source(), "cited": i + 1 in cited, "n": i + 1} for i, h in enumerate(plan.passages)]
        answer = Answer(
            answer=(header + body + footer).strip(), recommendation=plan.recommendation, sources=sources,
            profile=plan.profile, scores=plan.scores, model=self.llm_name, latency_s=0.0, usage=usage,
            cost_usd=cost, kind=plan.kind, provisional=plan.provisional, questions=plan.questions,
            standalone_question=plan.question)
        yield self._finish(answer, conversation_id, text, started)

    def _agent_turn(self, text: str, history: list[Any], conversation_id: str, started: float
                    ) -> Iterator[str | Answer]:
        from advisor.agent import run_agent
        from advisor.llm import translate_error

        cleaned, note = strip_overrides(text)
        try:
            turn = run_agent(self.settings, self.llm, self.retriever, cleaned or text,
                             [(t.user, t.answer) for t in history if t.answer])
        except Exception as exc:
            error = translate_error(exc, self.llm.name, self.llm.timeout_s)
            self._record_failure(conversation_id, text, error)
            raise AdvisorError(str(error)) from exc
        body, cited = tidy_citations(turn.text, len(turn.passages))
        scores = turn.scores
        recommendation = scores["recommended"] if scores else None
        header = footer = ""
        profile = None
        if scores:
            assumed = {a["field"] for a in scores["assumptions"]}
            profile = {k: v for k, v in scores["profile"].items() if k not in assumed}
            from advisor.profile import Profile

            questions, provisional = gating_questions(Profile(**profile), scores)
            header = assemble_situation(recommendation, scores, provisional=provisional, part="header")
            footer = assemble_situation(recommendation, scores, provisional=provisional, part="footer",
                                        questions=questions)
        answer = Answer(
            answer=(note + header + body + footer).strip(), recommendation=recommendation,
            sources=[{**h.source(), "cited": i + 1 in cited, "n": i + 1} for i, h in enumerate(turn.passages)],
            profile=profile, scores=scores, model=self.llm_name, latency_s=0.0,
            kind="situation" if scores else "fact", standalone_question=cleaned or text)
        yield answer.answer
        yield self._finish(answer, conversation_id, text, started)

    @property
    def llm_name(self) -> str:
        """The model string of the configured model, without starting it."""
        return self._llm.name if self._llm is not None else self.settings.llm

    # -- steps ------------------------------------------------------------------------------------------------------
    def _conversation(self, conversation_id: str | None) -> str:
        if conversation_id is None:
            return self.store.new_conversation()
        if self.store.get_conversation(conversation_id) is None:
            raise InputError(f"unknown conversation {conversation_id!r}")
        return conversation_id

    def _condense(self, message: str, history: list[Any], usage: dict[str, int]) -> str:
        if not history:
            return message
        from advisor.llm import LLMError
        from advisor.prompts import render

        prompt = render("condense", history=history[-3:], message=message)
        try:
            reply = self.llm.complete([{"role": "user", "content": prompt}], max_tokens=120, deterministic=True)
        except LLMError as exc:
            log.warning("condensing failed, using the message and the previous question: %s", exc)
            return f"{history[-1].user} {message}"
        _add(usage, reply.usage)
        question = " ".join(reply.text.strip().strip('"').split())
        return question if 3 <= len(question) <= 1000 else f"{history[-1].user} {message}"

    def _plan(self, text: str, history: list[Any], conversation_id: str) -> _Plan:
        from advisor.extraction import extract_profile
        from advisor.prompts import render

        cleaned, note = strip_overrides(text)
        usage: dict[str, int] = {}
        question = self._condense(cleaned or text, history, usage)
        hits = self.retriever.search(question, k=self.settings.top_k) if cleaned else []
        situation = bool(cleaned) and is_situation(cleaned, has_history_profile=any(t.profile for t in history))
        if not cleaned or not is_on_topic(question, hits, situation=situation):
            return _Plan(text, question, "offtopic", [], [], note=note)
        system = {"role": "system", "content": render("system")}
        if not situation:
            costs, models = self._tools_for(question, None)
            return self._fitted(_Plan(text, question, "fact", hits, [], note=note, usage=usage), system,
                                "answer_fact", costs=costs, models=models)

        from advisor.scoring import score_profile

        user_texts = [t.user for t in history] + [cleaned]
        extraction = extract_profile(user_texts, llm=self.llm)
        result = score_profile(extraction.profile)
        scores = result.as_dict()
        questions, provisional = gating_questions(extraction.profile, scores)
        # The passages behind the scorer's top reasons first, then the best search hits; a small model reads
        # a handful of passages well and a dozen badly.
        passages = _dedupe(self._reason_passages(scores) + hits)[:_MAX_SITUATION_PASSAGES]
        costs, models = self._tools_for(question, extraction.profile)
        label = next((r["label"] for r in scores["ranking"] if r["option"] == result.recommended), "none")
        plan = _Plan(text, question, "situation", passages, [], profile=extraction.profile.stated(),
                     scores=scores, recommendation=result.recommended, provisional=provisional,
                     questions=questions, note=note, usage=usage)
        return self._fitted(plan, system, "answer_situation", costs=costs, models=models,
                            recommendation=result.recommended, label=label, scores=compact_scores(scores))

    def _fitted(self, plan: _Plan, system: dict[str, str], template: str, **variables: Any) -> _Plan:
        from dataclasses import replace

        from advisor.prompts import render

        budget = self.llm.context_tokens - self.settings.llm_max_tokens - 64
        plan.passages = fit_passages(
            [replace(p, text=as_data(p.text)) for p in plan.passages],
            lambda ps: [system, {"role": "user", "content": render(template, passages=ps, question=plan.question,
                                                                  **variables)}],
            count=lambda messages: sum(self.llm.count_tokens(m["content"]) + 8 for m in messages), budget=budget)
        plan.prompt = [system, {"role": "user", "content": render(template, passages=plan.passages,
                                                                  question=plan.question, **variables)}]
        return plan

    def _reason_passages(self, scores: dict[str, Any]) -> list[Hit]:
        ranking = scores["ranking"]
        top = ranking[0]
        reasons = sorted((r for r in top["reasons"] if r["effect"] != "excluded" and r["effect"] > 0),
                         key=lambda r: -r["effect"])
        ruled_out = [r for o in ranking for r in o["reasons"] if r["effect"] == "excluded"]
        wanted = [r["source"] for r in reasons[:3]] + [r["source"] for r in ruled_out[:1]]
        return [h for s in dict.fromkeys(wanted) if (h := self.retriever.section(s)) is not None]

    def _tools_for(self, question: str, profile: Any) -> tuple[str, str]:
        from advisor.answering import wants_costs, wants_models

        costs = models = ""
        volume = getattr(profile, "monthly_tokens", None)
        if volume or wants_costs(question):
            costs = compact_costs(volume or 5e8)
        if wants_models(question):
            models = compact_models(question, profile, self.settings)
        return costs, models

    def _finish(self, answer: Answer, conversation_id: str, user: str, started: float) -> Answer:
        answer.latency_s = time.perf_counter() - started
        answer.conversation_id = conversation_id
        turn = self.store.add_turn(
            conversation_id, user=user, answer=answer.answer, standalone_question=answer.standalone_question,
            recommendation=answer.recommendation, sources=answer.sources, profile=answer.profile,
            scores=answer.scores, model=answer.model, latency_s=answer.latency_s, usage=answer.usage,
            cost_usd=answer.cost_usd)
        answer.turn_id = turn.id
        return answer

    def _record_failure(self, conversation_id: str, user: str, exc: Exception) -> None:
        log.error("turn failed in conversation %s: %s", conversation_id, exc)
        try:
            self.store.add_turn(conversation_id, user=user, answer="", standalone_question=None,
                                recommendation=None, sources=[], profile=None, scores=None, model=self.llm_name,
                                latency_s=0.0, usage={}, cost_usd=None, error=" ".join(str(exc).split())[:500])
        except Exception:  # the original error matters more than a failed log entry
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

