"""Understanding a user's situation: deterministic cues plus a model extraction that must quote the user.

The small local model invents values the user never stated, and one invented gating value flips the
recommendation. So every model value needs a quote found verbatim in what the user wrote, numbers are only
taken when the deterministic cue detector reads the same quantity in that quote, and a cue always wins.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

from pydantic import ValidationError

from advisor.cues import all_cues, detect_cues
from advisor.profile import FIELD_ORDER, Profile

if TYPE_CHECKING:
    from advisor.llm import LiteLLM

__all__ = ["EXTRACTION_SCHEMA", "Extraction", "extract_profile"]

log = logging.getLogger(__name__)
_NUMERIC = {"proprietary_data_tokens", "labeled_examples", "monthly_tokens", "latency_ms", "budget_usd",
            "time_to_market_weeks"}
_BOOLEAN = {"needs_custom_architecture", "strategic_moat", "needs_model_control"}


def _value_schema(name: str) -> dict[str, Any]:
    if name in _NUMERIC:
        return {"type": "number"}
    if name in _BOOLEAN:
        return {"type": "boolean"}
    annotation = Profile.model_fields[name].annotation
    literal = next(a for a in get_args(annotation) if a is not type(None))
    return {"type": "string", "enum": list(get_args(literal))}


# The quote comes first so that the model commits to the user's words before it picks a value.
EXTRACTION_SCHEMA: dict[str, Any] = {
    "title": "situation",
    "type": "object",
    "properties": {name: {"type": "object", "properties": {"quote": {"type": "string"}, "value": _value_schema(name)},
                          "required": ["quote", "value"], "additionalProperties": False}
                   for name in FIELD_ORDER},
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Extraction:
    """The profile understood from a conversation, and where each value came from."""

    profile: Profile
    quotes: dict[str, str] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # field -> "cue" | "model"
    dropped: dict[str, str] = field(default_factory=dict)  # field -> why a model value was not used
    model_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"profile": self.profile.stated(), "quotes": self.quotes, "origin": self.origin,
                "dropped": self.dropped, "model_error": self.model_error}


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w$€£%.,'-]+", " ", text.lower()).split())


def _parse_json(text: str) -> dict[str, Any]:
    """The JSON object in a model reply, tolerating code fences and chatter around it."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the reply")
    data = json.loads(text[start : end + 1])
    if not isinstance(data, dict):
        raise ValueError("the reply is not a JSON object")
    return data


def _model_values(llm: LiteLLM, text: str) -> dict[str, Any]:
    from advisor.prompts import render

    messages = [{"role": "user", "content": render("extract", text=text)}]
    last_error: Exception | None = None
    for _ in range(2):  # one retry on malformed output
        reply = llm.complete(messages, max_tokens=500, json_schema=EXTRACTION_SCHEMA, deterministic=True)
        try:
            return _parse_json(reply.text)
        except (ValueError, json.JSONDecodeError) as exc:
            last_error = exc
            log.warning("extraction reply was not JSON: %s", exc)
    raise ValueError(f"the model's extraction was not valid JSON ({last_error})")


def _cue_at(text: str, quote: str, name: str) -> Any:
    """The detector's cue for field name that overlaps where quote stands in text, if any."""
    at = text.lower().find(quote.lower())
    if at < 0:
        return None
    end = at + len(quote)
    return next((c for c in all_cues(text) if c.field == name and c.start < end and at < c.start + len(c.quote)),
                None)


def extract_profile(user_texts: Sequence[str], *, llm: LiteLLM | None = None) -> Extraction:
    """The Profile stated across a conversation's user messages; unstated fields stay None."""
    from advisor.llm import LLMError

    text = "\n".join(t.strip() for t in user_texts if t.strip())
    cues = detect_cues(text)
    values: dict[str, Any] = {name: cue.value for name, cue in cues.items()}
    quotes = {name: cue.quote for name, cue in cues.items()}
    origin = dict.fromkeys(cues, "cue")
    dropped: dict[str, str] = {}
    model_error = None
    raw: dict[str, Any] = {}
    if llm is not None and text:
        try:
            raw = _model_values(llm, text)
        except (LLMError, ValueError) as exc:
            model_error = str(exc)  # the cues still stand; the turn goes on with a partial profile
    haystack = _normal(text)
    for name, item in raw.items():
        if name not in FIELD_ORDER or name in values:
            continue
        if not isinstance(item, dict) or "value" not in item:
            dropped[name] = "malformed"
            continue
        quote = str(item.get("quote") or "").strip()
        if len(_normal(quote)) < 3 or _normal(quote) not in haystack:
            dropped[name] = "no supporting words in the conversation"
            continue
        value = item["value"]
        if name in _NUMERIC:
            # Models mis-scale numbers ("hundreds of billions" -> 3e9); only a cue the detector reads, in context,
            # where the quote stands counts.
            cue = _cue_at(text, quote, name)
            if cue is None:
                dropped[name] = "number not readable from the quoted words"
                continue
            value = cue.value
        try:
            Profile(**{name: value})
        except ValidationError:
            dropped[name] = f"invalid value {value!r}"
            continue
        values[name], quotes[name], origin[name] = value, quote, "model"
    return Extraction(Profile(**values), quotes, origin, dropped, model_error)
