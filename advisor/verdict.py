"""The deterministic parts of a situation answer: the recommendation line, what would change it, the assumptions
and the questions that would firm it up. The model never writes these, so text and verdict always agree."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GATING_FIELDS", "QUESTIONS", "Verdict", "gating_questions", "option_label"]

# Gating facts: each can flip the recommendation on its own, so an unknown one makes the verdict provisional.
GATING_FIELDS = ("data_sensitivity", "deployment", "needs_custom_architecture")
QUESTIONS = {
    "data_sensitivity": "Will the model see regulated data (personal, health, financial or classified) that must "
                        "stay on your own infrastructure, or would a provider agreement (BAA, zero retention) do?",
    "deployment": "Where must it run: a cloud service, your own servers, an air-gapped network, or on devices?",
    "task_scope": "Is the task narrow (fixed labels, routing, field extraction) or open-ended (chat, Q&A, "
                  "drafting)?",
    "needs_custom_architecture": "Do you need to change the tokenizer, vocabulary or model architecture?",
    "team_ml_expertise": "How much ML experience does your team have: none, some, ML engineers, or research?",
    "monthly_tokens": "Roughly how many tokens a month do you expect to process?",
    "labeled_examples": "How many labelled examples do you have?",
    "quality_bar": "Do you need the best quality available, or is good enough fine?",
}
_PRIORITY = ("data_sensitivity", "deployment", "task_scope", "needs_custom_architecture", "team_ml_expertise",
             "monthly_tokens", "labeled_examples", "quality_bar")


def gating_questions(stated: Mapping[str, Any], scores: Mapping[str, Any]) -> tuple[list[str], bool]:
    """At most two questions about unknown facts that matter, and whether the verdict is provisional.

    Provisional: where the data may go or where the model runs is unknown, or another gating fact is unknown
    and stating it would change the verdict.
    """
    flipping = {f["field"] for f in scores["flips"]}
    unknown_gating = [f for f in GATING_FIELDS if f not in stated
                      and (f in ("data_sensitivity", "deployment") or f in flipping)]
    wanted = [f for f in _PRIORITY if f not in stated and f in flipping]
    wanted = [f for f in unknown_gating if f not in wanted] + wanted
    wanted = sorted(dict.fromkeys(wanted), key=_PRIORITY.index)
    return [QUESTIONS[f] for f in wanted[:2]], bool(unknown_gating)


def option_label(option: str | None, scores: Mapping[str, Any]) -> str:
    """The human name of an option ("Open-weight model ..."), from the scorer's ranking."""
    return next((r["label"] for r in scores["ranking"] if r["option"] == option), str(option))


@dataclass(frozen=True)
class Verdict:
    """The scorer's recommendation for a stated profile, with what a user needs to judge it."""

    recommendation: str | None
    scores: dict[str, Any]
    profile: dict[str, Any]
    quotes: dict[str, str] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)
    provisional: bool = False

    @classmethod
    def of(cls, profile: Mapping[str, Any], scores: dict[str, Any], *, quotes: Mapping[str, str] | None = None
           ) -> Verdict:
        """The verdict on the stated fields of a profile and the scorer's result for it."""
        questions, provisional = gating_questions(profile, scores)
        return cls(scores["recommended"], scores, dict(profile),
                   {k: v for k, v in (quotes or {}).items() if k in profile}, questions, provisional)

    @property
    def label(self) -> str:
        """The recommended option's human name."""
        return option_label(self.recommendation, self.scores) if self.recommendation else "none"

    def as_dict(self) -> dict[str, Any]:
        """The `verdict` event's fields."""
        return {"recommendation": self.recommendation, "label": self.label, "provisional": self.provisional,
                "profile": self.profile, "quotes": self.quotes, "scores": self.scores,
                "assumptions": self.scores["assumptions"], "questions": self.questions,
                "flips": self.scores["flips"]}

    def header(self) -> str:
        """The recommendation line that opens the answer."""
        if self.recommendation is None:
            return "**Recommendation: none of the four options fits every stated constraint.**\n\n"
        tag = " (provisional: some key facts are assumed)" if self.provisional else ""
        return f"**Recommendation: {self.label} (`{self.recommendation}`)**{tag}\n\n"

    def footer(self) -> str:
        """What would change it, what was assumed and what to ask, after the model's explanation."""
        blocks = ["**What would change the recommendation**\n" + (
            "\n".join(f"- {flip['change']} → {option_label(flip['new_recommendation'], self.scores)}"
                      for flip in self.scores["flips"][:4])
            or "- No change to a single input would change it: the verdict is robust to each fact on its own.")]
        assumed = [a for a in self.scores["assumptions"] if a["field"] in GATING_FIELDS or self.provisional]
        if assumed:
            shown = ", ".join(f"{a['field']} = {'no limit' if a['assumed'] is None else a['assumed']}"
                              for a in assumed[:6])
            blocks.append(f"**Assumed (not stated):** {shown}.")
        if self.questions:
            blocks.append("**To firm this up:**\n" + "\n".join(f"- {q}" for q in self.questions))
        return "\n\n" + "\n\n".join(blocks)
