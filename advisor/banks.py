"""The labelled data the situation reader learns from and is measured on, validated by pydantic.

- Statement banks (`evals/understanding_bank*.yaml`): single statements with the Profile fields they state and the
  user's words that state each one; every other field is "not stated".
- The routing banks (`evals/routing_bank*.yaml`): messages labelled situation, fact, offtopic, mixed or followup.
- Understanding cases (`evals/understanding_holdout.yaml`, frozen): whole messages or two-message conversations
  with their kind and the hand-made profile, for measuring routing and reading together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from advisor.cases import check_unique_ids, load_yaml_cases
from advisor.config import REPO_ROOT
from advisor.profile import Profile

__all__ = [
    "HOLDOUT_PATH",
    "ROUTES",
    "ROUTING_BANKS",
    "STATEMENT_BANKS",
    "RoutedMessage",
    "Statement",
    "UnderstandingCase",
    "load_routes",
    "load_statements",
    "load_understanding_cases",
]

EVALS = REPO_ROOT / "evals"
STATEMENT_BANKS = (EVALS / "understanding_bank.yaml", EVALS / "understanding_bank_2.yaml",
                   EVALS / "understanding_bank_3.yaml", EVALS / "understanding_bank_4.yaml",
                   EVALS / "understanding_bank_5.yaml")
ROUTING_BANKS = (EVALS / "routing_bank.yaml", EVALS / "routing_bank_2.yaml")
HOLDOUT_PATH = EVALS / "understanding_holdout.yaml"
Route = Literal["situation", "fact", "offtopic", "mixed", "followup"]
ROUTES: tuple[str, ...] = ("situation", "fact", "offtopic", "mixed", "followup")


class Statement(BaseModel):
    """One labelled statement: the fields it states (a valid partial Profile) and the words that state each."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(min_length=1)
    labels: dict[str, Any]
    quotes: dict[str, str] = Field(default_factory=dict)
    tag: Literal["negation", "hypothetical", "distractor", "multi"] | None = None
    note: str | None = None

    @field_validator("labels")
    @classmethod
    def _a_partial_profile(cls, labels: dict[str, Any]) -> dict[str, Any]:
        return Profile(**labels).stated()

    @model_validator(mode="after")
    def _quotes_are_the_users_words(self) -> Statement:
        for name in self.labels:
            quote = self.quotes.get(name)
            if quote is None or quote not in self.text:
                raise ValueError(f"the quote for {name} must be words of the text")
        return self


class RoutedMessage(BaseModel):
    """A message and how the advisor should treat it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(min_length=1)
    route: Route


class UnderstandingCase(BaseModel):
    """A held-out case: a message (or a conversation's user turns), its kind and the hand-made profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    kind: Route
    text: str | None = None
    turns: tuple[str, ...] | None = None
    profile: dict[str, Any] = Field(default_factory=dict)
    quotes: dict[str, str] = Field(default_factory=dict)
    note: str | None = None

    @field_validator("profile")
    @classmethod
    def _a_partial_profile(cls, profile: dict[str, Any]) -> dict[str, Any]:
        return Profile(**profile).stated()

    @model_validator(mode="after")
    def _one_source(self) -> UnderstandingCase:
        if (self.text is None) == (self.turns is None):
            raise ValueError("give exactly one of text or turns")
        return self

    @property
    def messages(self) -> list[str]:
        """The user's messages in order."""
        return list(self.turns) if self.turns is not None else [self.text or ""]


def load_statements(paths: tuple[Path, ...] = STATEMENT_BANKS) -> list[Statement]:
    """Every statement in the banks that exist; a bad item raises ValueError naming the file and item."""
    items: list[Statement] = []
    for path in paths:
        if path.is_file():
            items.extend(load_yaml_cases(path, Statement))
    return items


def load_routes(paths: tuple[Path, ...] = ROUTING_BANKS) -> list[RoutedMessage]:
    """Every message in the routing banks that exist."""
    return [m for path in paths if path.is_file() for m in load_yaml_cases(path, RoutedMessage)]


def load_understanding_cases(path: Path = HOLDOUT_PATH) -> list[UnderstandingCase]:
    """The frozen held-out cases (or any file in their schema)."""
    cases = load_yaml_cases(path, UnderstandingCase)
    check_unique_ids(cases, path)
    return cases
