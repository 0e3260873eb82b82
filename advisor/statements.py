"""Profile values in a user's own words: the replies offered to a clarifying question, and a profile told in
sentences (the web page's Assess form carried into a chat).

Every sentence is one the situation reader reads back to exactly the value it states, so a reply clicked in a front end
completes the profile the same way typed words would, with no model in between (tests check each round trip).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from advisor.profile import FIELD_ORDER
from advisor.verdict import QUESTIONS

__all__ = ["describe_profile", "reply_options", "statement"]

# field -> value -> (short label for a button, the sentence a user would write)
_CHOICES: dict[str, dict[Any, tuple[str, str]]] = {
    "data_sensitivity": {
        "regulated": ("Regulated data", "We handle regulated data: patient, health or financial records."),
        "internal": ("Internal data only", "No regulated data: only internal business documents, confidential "
                                           "but not regulated."),
        "public": ("Public data only", "It only sees public data."),
    },
    "deployment": {
        "cloud": ("Cloud is fine", "It can run in the cloud."),
        "on_prem": ("Our own servers", "It must run on our own servers, on-premises."),
        "air_gapped": ("Air-gapped network", "It must run in an air-gapped network with no internet access."),
        "edge": ("On devices", "It must run on our users' phones and laptops, on the device."),
    },
    "task_scope": {
        "narrow": ("Narrow task", "The task is narrow: classifying tickets into fixed labels and extracting fields."),
        "broad": ("Open-ended", "The task is open-ended: chat, Q&A and drafting."),
    },
    "quality_bar": {
        "standard": ("Good enough", "Good enough quality is fine."),
        "frontier": ("Best available", "We need the best quality available, state-of-the-art."),
    },
    "team_ml_expertise": {
        "none": ("No ML experience", "Our team has no ML experience."),
        "basic": ("Some ML", "Our team has basic ML experience."),
        "experienced": ("ML engineers", "Our team has experienced ML engineers who have fine-tuned models."),
        "research": ("ML researchers", "Our team includes ML researchers who have pre-trained models."),
    },
    "needs_custom_architecture": {
        False: ("Standard architecture", "We do not need to change the tokenizer or the model architecture."),
        True: ("Custom tokenizer/architecture", "We need a custom tokenizer and changes to the model architecture."),
    },
    "strategic_moat": {
        True: ("Core to our strategy", "The LLM is central to our strategy and our competitive moat."),
        False: ("Not our moat", "The LLM is not a strategic moat for us."),
    },
    "needs_model_control": {
        True: ("Must own the weights", "We must own the weights and avoid vendor lock-in."),
        False: ("Lock-in is fine", "We don't need to own the weights; vendor lock-in is not a concern."),
    },
}

# The replies offered for the numeric questions: a few typical magnitudes.
_SUGGESTED: dict[str, tuple[float, ...]] = {
    "monthly_tokens": (1e7, 1e9, 5e10),
    "labeled_examples": (0, 1000, 50000),
}


def _amount(value: float) -> str:
    """8e9 -> '8 billion', 2.5e7 -> '25 million', 1200 -> '1,200': how people write volumes."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if value >= size:
            return f"{value / size:.4g} {word}"
    return f"{value:,.0f}"


_NUMBERS: dict[str, Callable[[float], str]] = {
    "monthly_tokens": lambda v: f"We expect about {_amount(v)} tokens a month.",
    "labeled_examples": lambda v: "We have no labelled examples." if v == 0
    else f"We have about {v:,.0f} labelled examples.",
    "proprietary_data_tokens": lambda v: "We have zero tokens of proprietary text." if v == 0
    else f"We have {_amount(v)} tokens of proprietary in-domain text.",
    "latency_ms": lambda v: f"Answers must come back within {v:.0f} ms.",
    "budget_usd": lambda v: f"Our first-year budget is ${v:,.0f}.",
    "time_to_market_weeks": lambda v: f"We must launch within {v:.0f} weeks.",
}


def statement(field: str, value: Any) -> str:
    """The sentence a user would write to state field = value; ValueError for a field or value it cannot say."""
    if field in _CHOICES:
        if value not in _CHOICES[field]:
            raise ValueError(f"no words for {field} = {value!r}")
        return _CHOICES[field][value][1]
    if field in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{field} needs a number of at least 0, got {value!r}")
        return _NUMBERS[field](float(value))
    raise ValueError(f"unknown profile field {field!r}")


def describe_profile(profile: Mapping[str, Any]) -> str:
    """The stated fields of a profile as sentences, in field order (unstated and None fields are left out)."""
    return " ".join(statement(f, profile[f]) for f in FIELD_ORDER if profile.get(f) is not None)


_FIELD_OF_QUESTION = {question: field for field, question in QUESTIONS.items()}


def reply_options(question: str) -> list[dict[str, str]]:
    """Clickable replies to one of the advisor's clarifying questions: [{"label", "value"}], value being the
    sentence to send; an unknown question has none."""
    field = _FIELD_OF_QUESTION.get(question)
    if field is None:
        return []
    if field in _SUGGESTED:
        return [{"label": _short(field, v), "value": statement(field, v)} for v in _SUGGESTED[field]]
    return [{"label": label, "value": sentence} for label, sentence in _CHOICES[field].values()]


def _short(field: str, value: float) -> str:
    if field == "monthly_tokens":
        return f"~{_amount(value)} tokens/month"
    return "No labelled examples" if value == 0 else f"~{value:,.0f} labelled examples"
