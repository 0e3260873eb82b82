"""Answer-quality eval datasets: one schema for every case, validated with errors that name file, case and field.

A dataset file (`evals/*.yaml`) is either a list of cases or a mapping with `cases` and optional `thresholds`
(the lowest acceptable value of overall metrics, for the regression gate).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from advisor.scoring import OptionId

__all__ = ["Dataset", "EvalCase", "Flip", "filter_cases", "load_dataset"]

Kind = Literal["situation", "fact", "conversation", "offtopic", "injection", "consistency"]


class Flip(BaseModel):
    """One fact appended to the question, and the recommendation the scorer must then give."""

    model_config = ConfigDict(extra="forbid")
    append: str = Field(min_length=1)
    expect_recommendation: list[OptionId] = Field(min_length=1)


class EvalCase(BaseModel):
    """One eval case; which fields it needs depends on its kind."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    kind: Kind
    question: str | None = None
    turns: list[str] | None = None
    expect_recommendation: list[OptionId] | None = None
    expect_profile: dict[str, Any] | None = None
    must_mention: list[str] = Field(default_factory=list)
    expect_sources: list[str] = Field(default_factory=list)
    must_not_contain: list[str] = Field(default_factory=list)
    paraphrases: list[str] = Field(default_factory=list)
    flip: Flip | None = None
    document: str | None = None  # injection: a file (relative to the dataset) ingested before the case runs

    @field_validator("must_mention")
    @classmethod
    def _stems(cls, value: list[str]) -> list[str]:
        for point in value:
            if not point.strip() or point != point.lower():
                raise ValueError(f"must_mention entries are lower-case stems, not {point!r}")
        return value

    @field_validator("expect_sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        for source in value:
            if "#" not in source:
                raise ValueError(f"expect_sources entries are 'path#section', not {source!r}")
        return value

    @field_validator("expect_profile")
    @classmethod
    def _profile(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        from advisor.profile import Profile

        try:
            Profile.model_validate(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"expect_profile.{field}: {err['msg']}") from None
        return value

    @model_validator(mode="after")
    def _shape(self) -> EvalCase:
        if (self.question is None) == (self.turns is None):
            raise ValueError("give exactly one of question or turns")
        if self.question is not None and not self.question.strip():
            raise ValueError("question is empty")
        if self.turns is not None and (not self.turns or not all(t.strip() for t in self.turns)):
            raise ValueError("turns must be non-empty messages")
        needs: dict[str, bool] = {
            "situation": self.expect_recommendation is not None,
            "conversation": self.turns is not None and len(self.turns) >= 2,
            "fact": bool(self.must_mention or self.expect_sources),
            "injection": bool(self.must_not_contain),
            "offtopic": True,
            "consistency": bool(self.paraphrases or self.flip),
        }
        if not needs[self.kind]:
            what = {"situation": "expect_recommendation", "conversation": "turns (two or more)",
                    "fact": "must_mention or expect_sources", "injection": "must_not_contain",
                    "consistency": "paraphrases or flip"}[self.kind]
            raise ValueError(f"a {self.kind} case needs {what}")
        return self

    @property
    def messages(self) -> list[str]:
        """The user's messages, in order."""
        return list(self.turns) if self.turns is not None else [self.question or ""]


class Dataset(BaseModel):
    """A dataset file's cases and thresholds."""

    model_config = ConfigDict(extra="forbid")
    path: Path
    cases: list[EvalCase]
    thresholds: dict[str, float] = Field(default_factory=dict)


def load_dataset(path: Path) -> Dataset:
    """A dataset file, validated; ValueError with one line naming the file, the case and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    thresholds: dict[str, Any] = {}
    if isinstance(raw, dict):
        unknown = set(raw) - {"cases", "thresholds"}
        if unknown:
            raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}; expected cases and thresholds")
        thresholds = raw.get("thresholds") or {}
        raw = raw.get("cases")
        if not isinstance(thresholds, dict) or not all(isinstance(v, int | float) for v in thresholds.values()):
            raise ValueError(f"{path}: thresholds must map metric names to numbers")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path}: expected a non-empty list of cases")
    cases: list[EvalCase] = []
    for i, item in enumerate(raw):
        name = item.get("id", f"#{i + 1}") if isinstance(item, dict) else f"#{i + 1}"
        try:
            case = EvalCase.model_validate(item)
            if case.document is not None:  # relative to the dataset file
                document = (path.parent / case.document).resolve()
                if not document.is_file():
                    raise ValueError(f"{path}: case {name}: document: no such file {case.document}")
                case = case.model_copy(update={"document": str(document)})
            cases.append(case)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            message = str(err["msg"]).removeprefix("Value error, ")
            raise ValueError(f"{path}: case {name}: {field + ': ' if field else ''}{message}") from None
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"{path}: duplicate case ids {dupes}")
    return Dataset(path=path, cases=cases, thresholds={k: float(v) for k, v in thresholds.items()})


def filter_cases(cases: list[EvalCase], pattern: str | None) -> list[EvalCase]:
    """The cases whose id matches a glob, or any of several separated by commas (all cases without one)."""
    globs = [g.strip() for g in (pattern or "").split(",") if g.strip()]
    return [c for c in cases if not globs or any(fnmatch.fnmatchcase(c.id, g) for g in globs)]
