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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from advisor.cues import all_cues, detect_cues
from advisor.profile import FIELD_ORDER, Profile

if TYPE_CHECKING:
    from advisor.concurrency import StopToken
    from advisor.llm import LiteLLM

__all__ = ["EXTRACTION_SCHEMA", "Extraction", "extract_profile"]

log = logging.getLogger(__name__)
_NUMERIC = {"proprietary_data_tokens", "labeled_examples", "monthly_tokens", "latency_ms", "budget_usd",
            "time_to_market_weeks"}
_BOOLEAN = {"needs_custom_architecture", "strategic_moat", "needs_model_control"}


# A list of only the facts found keeps a small model from writing out every field with an empty quote (it did,
# at ~25 tokens a field); the quote comes before the value so that the model commits to the user's words first.
EXTRACTION_SCHEMA: dict[str, Any] = {
    "title": "situation",
    "type": "object",
    "properties": {"facts": {"type": "array", "items": {
        "type": "object",
        "properties": {"field": {"type": "string", "enum": list(FIELD_ORDER)},
                       "quote": {"type": "string", "minLength": 3},
                       "value": {"type": ["string", "number", "boolean"]}},
        "required": ["field", "quote", "value"], "additionalProperties": False}}},
    "required": ["facts"],
    "additionalProperties": False,
}


_DESCRIPTIONS = {
    "team_ml_expertise": "none | basic | experienced | research (the ML skills of their team)",
    "data_sensitivity": "public | internal | regulated (regulated = personal, health, financial or classified data "
                        "that must stay on their own infrastructure)",
    "deployment": "cloud | on_prem | air_gapped | edge (edge = on phones, laptops or other devices)",
    "task_scope": "narrow | broad (narrow = fixed labels, classification, routing or field extraction; broad = chat, "
                  "Q&A, summaries, drafting, reasoning or any open-ended generation)",
    "quality_bar": "standard | frontier (frontier = they need the best quality available)",
    "proprietary_data_tokens": "number (unique in-domain text they have for training, in tokens)",
    "labeled_examples": "number (labelled examples they have)",
    "monthly_tokens": "number (expected tokens per month)",
    "latency_ms": "number (latency budget in milliseconds)",
    "budget_usd": "number (first-year budget in US dollars)",
    "time_to_market_weeks": "number (weeks until launch)",
    "needs_custom_architecture": "true | false (they must change the tokenizer, vocabulary or model architecture)",
    "strategic_moat": "true | false (the LLM is the core of their strategy or competitive advantage)",
    "needs_model_control": "true | false (they must own or inspect the weights, or avoid vendor lock-in)",
}


def _schema_for(fields: list[str]) -> dict[str, Any]:
    schema = json.loads(json.dumps(EXTRACTION_SCHEMA))
    schema["properties"]["facts"]["items"]["properties"]["field"]["enum"] = fields
    return schema


def _as_fields(data: dict[str, Any]) -> dict[str, Any]:
    """{field: {"quote", "value"}} from the facts list (or from a per-field object, which some models prefer)."""
    facts = data.get("facts")
    if isinstance(facts, list):
        return {f["field"]: f for f in facts if isinstance(f, dict) and isinstance(f.get("field"), str)}
    return data


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


def _model_values(llm: LiteLLM, text: str, fields: list[str], stop: StopToken | None, prompts: Path | None
                  ) -> dict[str, Any]:
    from advisor.prompts import PROMPTS_DIR, render

    # Only the facts the cues did not find: a shorter prompt and answer, and nothing to overrule.
    prompt = render("extract", prompts or PROMPTS_DIR, text=text, fields=[(f, _DESCRIPTIONS[f]) for f in fields])
    messages = [{"role": "user", "content": prompt}]
    last_error: Exception | None = None
    for _ in range(2):  # one retry on malformed output
        reply = llm.complete(messages, max_tokens=400, json_schema=_schema_for(fields), deterministic=True,
                             stop=stop)
        try:
            return _as_fields(_parse_json(reply.text))
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


def extract_profile(user_texts: Sequence[str], *, llm: LiteLLM | None = None, stop: StopToken | None = None,
                    prompts: Path | None = None) -> Extraction:
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
    missing = [f for f in FIELD_ORDER if f not in values]
    if llm is not None and text and missing:
        try:
            raw = _model_values(llm, text, missing, stop, prompts)
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
        if name in _BOOLEAN and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
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
