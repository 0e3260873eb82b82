"""The situation dev set (evals/situations.yaml): what users write, the careful human Profile, the scorer's verdict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from advisor.config import REPO_ROOT
from advisor.profile import FIELD_ORDER, Profile

__all__ = ["NUMERIC_TOLERANCE", "SITUATIONS_PATH", "FieldTally", "Situation", "Turn", "load_situations", "tally_fields",
           "values_match"]

SITUATIONS_PATH = REPO_ROOT / "evals" / "situations.yaml"
_NUMERIC = {"proprietary_data_tokens", "labeled_examples", "monthly_tokens", "latency_ms", "budget_usd",
            "time_to_market_weeks"}
NUMERIC_TOLERANCE = 1.5  # numbers match within this factor: "a few GB" and "two months" are estimates


class Turn(BaseModel):
    """One message of a conversation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class Situation(BaseModel):
    """One dev case: the user's words (text, or turns of a conversation) and the hand-made profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    text: str | None = None
    turns: tuple[Turn, ...] | None = None
    profile: Profile
    expected_recommendation: Literal["api", "open_weight", "pretrain", "small_model"] | None
    note: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Situation:
        if (self.text is None) == (self.turns is None):
            raise ValueError("give exactly one of text or turns")
        if self.turns is not None and (not self.turns or self.turns[0].role != "user"):
            raise ValueError("turns must start with a user message")
        return self

    @property
    def messages(self) -> list[dict[str, str]]:
        """The conversation as chat messages (a plain text is one user message)."""
        if self.turns is None:
            return [{"role": "user", "content": self.text or ""}]
        return [{"role": t.role, "content": t.content} for t in self.turns]

    @property
    def user_text(self) -> str:
        """Only the user's words, turns joined by a blank line: what extraction may quote."""
        return "\n\n".join(m["content"] for m in self.messages if m["role"] == "user")


def load_situations(path: Path | None = None) -> list[Situation]:
    """Every case in the dev set; a bad file raises ValueError naming the file and case."""
    from advisor.cases import check_unique_ids, load_yaml_cases

    path = path or SITUATIONS_PATH
    cases = load_yaml_cases(path, Situation)
    check_unique_ids(cases, path)
    return cases


def values_match(name: str, expected: Any, got: Any) -> bool:
    """Whether an extracted value equals the hand value: exact, or for numbers within NUMERIC_TOLERANCE."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (expected, got))
    if name not in _NUMERIC or not numbers:
        return bool(expected == got and type(expected) is type(got))
    low, high = sorted((float(expected), float(got)))
    return low == high or (low > 0 and high / low <= NUMERIC_TOLERANCE)


@dataclass
class FieldTally:
    """Per-field counts over cases: stated, extracted, right, wrong, invented (extracted where none was stated)."""

    stated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELD_ORDER, 0))
    unstated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELD_ORDER, 0))
    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELD_ORDER, 0))
    wrong: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELD_ORDER, 0))
    invented: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELD_ORDER, 0))
    errors: list[str] = field(default_factory=list)

    def add(self, case_id: str, expected: Profile, got: Mapping[str, Any]) -> None:
        """Count one case: got maps field -> extracted value (absent or None = not extracted)."""
        for name in FIELD_ORDER:
            want, have = getattr(expected, name), got.get(name)
            if want is None:
                self.unstated[name] += 1
                if have is not None:
                    self.invented[name] += 1
                    self.errors.append(f"{case_id}: {name} invented {have!r}")
                continue
            self.stated[name] += 1
            if have is None:
                continue
            if values_match(name, want, have):
                self.right[name] += 1
            else:
                self.wrong[name] += 1
                self.errors.append(f"{case_id}: {name} {have!r} != {want!r}")

    def totals(self) -> dict[str, float]:
        """Overall precision, recall (of stated fields) and invented rate (of unstated fields)."""
        right, wrong, invented = (sum(d.values()) for d in (self.right, self.wrong, self.invented))
        stated, unstated = sum(self.stated.values()), sum(self.unstated.values())
        extracted = right + wrong + invented
        return {"precision": right / extracted if extracted else 1.0, "recall": right / stated if stated else 1.0,
                "invented_rate": invented / unstated if unstated else 0.0, "extracted": extracted,
                "stated": stated, "unstated": unstated}


def tally_fields(pairs: list[tuple[str, Profile, Mapping[str, Any]]]) -> FieldTally:
    """A FieldTally over (case id, hand profile, extracted values) triples."""
    tally = FieldTally()
    for case_id, expected, got in pairs:
        tally.add(case_id, expected, got)
    return tally
