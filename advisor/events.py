"""The turn contract every front end consumes: typed events, in order, and the finished Answer.

A turn yields `status` events (steps), a `verdict` (situations), the `sources` the prose may cite, `text` deltas,
then exactly one `done` (the `ask --json` object) or `error` (one line). Every event carries `t`, seconds since
the turn began. The verdict and the sources always come before the first text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

__all__ = [
    "ERROR_HINTS",
    "STEPS",
    "Answer",
    "DoneEvent",
    "ErrorEvent",
    "Event",
    "SourcesEvent",
    "StatusEvent",
    "TextEvent",
    "VerdictEvent",
]

Step = Literal["understanding", "scoring", "retrieving", "waiting", "writing"]
STEPS: dict[str, str] = {
    "understanding": "Reading your situation",
    "scoring": "Scoring the four options",
    "retrieving": "Finding the guidance behind it",
    "waiting": "Waiting for the model",
    "writing": "Writing the answer",
}


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
    stopped: bool = False
    checks: dict[str, Any] = field(default_factory=dict)  # the claim check's tally: kept, corrected, dropped, why
    costs: dict[str, Any] | None = None  # the cost model's figures behind the Costs section (situations)

    def as_dict(self) -> dict[str, Any]:
        """The CLI JSON contract plus conversation bookkeeping."""
        return {
            "answer": self.answer, "recommendation": self.recommendation, "sources": self.sources,
            "profile": self.profile, "scores": self.scores, "model": self.model,
            "latency_s": round(self.latency_s, 3), "usage": {**self.usage, "cost_usd": self.cost_usd},
            "conversation_id": self.conversation_id, "turn_id": self.turn_id, "kind": self.kind,
            "provisional": self.provisional, "questions": self.questions,
            "standalone_question": self.standalone_question, "stopped": self.stopped,
            "checks": self.checks, "costs": self.costs,
        }


@dataclass(frozen=True, kw_only=True)
class Event:
    """One step of a turn; `type` names it in JSON."""

    type: ClassVar[str] = "event"
    t: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON Lines form: {"type": ..., "t": ..., fields...}."""
        data = {"type": self.type, "t": round(self.t, 3)}
        data.update({k: v for k, v in self.__dict__.items() if k != "t"})
        return data


@dataclass(frozen=True, kw_only=True)
class StatusEvent(Event):
    """What the advisor is doing now; `position` is the place in the queue while waiting (1 = next)."""

    type: ClassVar[str] = "status"
    step: Step
    message: str
    position: int | None = None


@dataclass(frozen=True, kw_only=True)
class VerdictEvent(Event):
    """The scorer's recommendation, known before the model writes a word."""

    type: ClassVar[str] = "verdict"
    recommendation: str | None
    label: str
    provisional: bool
    profile: dict[str, Any]
    quotes: dict[str, str]
    scores: dict[str, Any]
    assumptions: list[dict[str, Any]]
    questions: list[str]
    flips: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class SourcesEvent(Event):
    """The numbered passages the prose may cite: n, id, title, path, section, score and text."""

    type: ClassVar[str] = "sources"
    sources: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class TextEvent(Event):
    """A piece of the answer's prose; the pieces joined are the streamed answer."""

    type: ClassVar[str] = "text"
    delta: str


@dataclass(frozen=True, kw_only=True)
class DoneEvent(Event):
    """The finished turn: the whole `ask --json` object, with its turn_id (also when the turn was stopped)."""

    type: ClassVar[str] = "done"
    result: dict[str, Any]

    @property
    def answer(self) -> Answer:
        """The result as an Answer."""
        fields = {k: v for k, v in self.result.items() if k in Answer.__dataclass_fields__}
        usage = dict(self.result.get("usage") or {})
        fields["cost_usd"] = usage.pop("cost_usd", None)
        fields["usage"] = usage
        return Answer(**fields)


@dataclass(frozen=True, kw_only=True)
class ErrorEvent(Event):
    """The turn failed after its input was accepted; it is recorded under turn_id."""

    type: ClassVar[str] = "error"
    message: str
    kind: str
    turn_id: str
    conversation_id: str

    @property
    def hint(self) -> str:
        """How to fix it, in one line for the user (every front end shows the same advice)."""
        return ERROR_HINTS.get(self.kind, ERROR_HINTS["internal"])


# What a user can do about each kind of failed turn (the kinds LLMError reports, plus "internal").
ERROR_HINTS: dict[str, str] = {
    "unavailable": "Start the model server (`make run` starts the bundled one) or check ADVISOR_LLM and "
                   "ADVISOR_LLM_API_BASE; `advisor doctor` says what is wrong.",
    "timeout": "The model took too long: ask again, use a faster model, or raise ADVISOR_LLM_TIMEOUT_S.",
    "rate_limit": "The provider is rate-limiting requests: wait a minute and ask again.",
    "auth": "The provider rejected the credentials: set its API key (e.g. OPENAI_API_KEY) and restart.",
    "context": "The conversation is too long for the model: start a new conversation or ask a shorter question.",
    "provider": "The model name or provider is wrong: check ADVISOR_LLM; `advisor doctor` tests it.",
    "bad_output": "The model returned something unusable: ask again, or try another model.",
    "internal": "Something went wrong inside the advisor: ask again; if it repeats, the server log has details.",
}
