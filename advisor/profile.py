"""The Profile: a team's situation, shared by the scorer, the CLI and the conversation's extractor."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

__all__ = [
    "DEFAULTS",
    "FIELD_ORDER",
    "Assumption",
    "Profile",
    "ProfileError",
    "ResolvedProfile",
    "parse_profile",
    "parse_quantity",
]

_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9, "g": 1e9, "t": 1e12}
_QUANTITY = re.compile(r"^\$?\s*([0-9][0-9_,]*(?:\.[0-9]*)?|\.[0-9]+)(e[+-]?[0-9]+)?\s*(k|m|bn|b|g|t)?$", re.IGNORECASE)


def parse_quantity(text: str) -> float | None:
    """A number as people write volumes and budgets (8e9, 8_000_000_000, 8B, 500M, $2M); None if it is not one."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        return None
    number = float(match.group(1).replace("_", "").replace(",", "") + (match.group(2) or ""))
    return number * _SUFFIX[match.group(3).lower()] if match.group(3) else number


def _quantity(value: Any) -> Any:
    if isinstance(value, str):
        parsed = parse_quantity(value)
        return value if parsed is None else parsed
    return value


Quantity = Annotated[float, BeforeValidator(_quantity)]
Count = Annotated[int, BeforeValidator(_quantity)]
Expertise = Literal["none", "basic", "experienced", "research"]
Sensitivity = Literal["public", "internal", "regulated"]
Deployment = Literal["cloud", "on_prem", "air_gapped", "edge"]
Scope = Literal["narrow", "broad"]
Quality = Literal["standard", "frontier"]


class ProfileError(ValueError):
    """A profile that cannot be used; the message is one line naming the field."""


class Profile(BaseModel):
    """What is known about a team's situation; a field left out (or null) means "not stated"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team_ml_expertise: Expertise | None = Field(
        default=None, description="ML skill in the team: none, basic, experienced or research-grade.")
    data_sensitivity: Sensitivity | None = Field(
        default=None, description="regulated: PII/PHI/financial/classified data that must stay on own infrastructure.")
    deployment: Deployment | None = Field(
        default=None, description="Where the model must run: cloud, on_prem, air_gapped or edge (on device).")
    task_scope: Scope | None = Field(
        default=None, description="narrow: fixed labels or extraction; broad: open-ended generation or reasoning.")
    quality_bar: Quality | None = Field(
        default=None, description="frontier: needs best-in-class quality; standard: good enough is fine.")
    proprietary_data_tokens: Quantity | None = Field(
        default=None, ge=0, description="Unique in-domain text available for training, in tokens.")
    labeled_examples: Count | None = Field(default=None, ge=0, description="Labelled input/output examples.")
    monthly_tokens: Quantity | None = Field(
        default=None, ge=0, description="Expected inference volume per month, input plus output tokens.")
    latency_ms: int | None = Field(default=None, gt=0, description="p95 latency budget in milliseconds.")
    budget_usd: Quantity | None = Field(default=None, ge=0, description="First-year budget for the LLM work, USD.")
    time_to_market_weeks: int | None = Field(default=None, gt=0, description="Weeks until it must be in production.")
    needs_custom_architecture: bool | None = Field(
        default=None, description="Must change tokenizer, vocabulary, layers or attention.")
    strategic_moat: bool | None = Field(
        default=None, description="The LLM is central to strategy and the competitive moat.")
    needs_model_control: bool | None = Field(
        default=None, description="Must inspect, adapt or own the weights; avoid vendor lock-in.")

    def stated(self) -> dict[str, Any]:
        """Only the fields that were stated."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


FIELD_ORDER: tuple[str, ...] = tuple(Profile.model_fields)


@dataclass(frozen=True)
class Assumption:
    """A value the scorer filled in because the profile did not state it."""

    field: str
    assumed: Any
    why: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"field": self.field, "assumed": self.assumed, "why": self.why}


# Documented defaults for unstated fields; each is reported as an assumption. Unbounded limits (latency,
# budget, time) default to "no constraint", so an unstated limit never rules an option out.
DEFAULTS: dict[str, tuple[Any, str]] = {
    "team_ml_expertise": ("basic", "most teams have software engineers with some ML exposure, not ML specialists"),
    "data_sensitivity": ("internal", "business data that is confidential but not regulated"),
    "deployment": ("cloud", "no stated need to run on own servers, offline or on devices"),
    "task_scope": ("broad", "open-ended generation is the common reason to want an LLM"),
    "quality_bar": ("standard", "good-enough quality unless best-in-class is stated"),
    "proprietary_data_tokens": (0.0, "no unique training text was mentioned"),
    "labeled_examples": (0, "no labelled examples were mentioned"),
    "monthly_tokens": (20_000_000.0, "a modest production workload (about 20M tokens a month)"),
    "latency_ms": (None, "no latency budget stated: no constraint"),
    "budget_usd": (None, "no budget stated: no constraint"),
    "time_to_market_weeks": (None, "no deadline stated: no constraint"),
    "needs_custom_architecture": (False, "no need to change tokenizer or architecture was mentioned"),
    "strategic_moat": (False, "the LLM was not described as the core competitive moat"),
    "needs_model_control": (False, "no need to own the weights or avoid lock-in was mentioned"),
}


@dataclass(frozen=True)
class ResolvedProfile:
    """Every field with a value (stated or default), and the defaults that were assumed."""

    values: dict[str, Any]
    assumptions: tuple[Assumption, ...]

    def replace(self, field: str, value: Any) -> ResolvedProfile:
        """A copy with one field set (as if stated)."""
        values = dict(self.values)
        values[field] = value
        return ResolvedProfile(values, tuple(a for a in self.assumptions if a.field != field))


def resolve(profile: Profile) -> ResolvedProfile:
    """Fill unstated fields with DEFAULTS and list what was assumed."""
    values: dict[str, Any] = {}
    assumed: list[Assumption] = []
    for name in FIELD_ORDER:
        value = getattr(profile, name)
        if value is None:
            default, why = DEFAULTS[name]
            values[name] = default
            assumed.append(Assumption(name, default, why))
        else:
            values[name] = value
    return ResolvedProfile(values, tuple(assumed))


def parse_profile(data: Any, *, source: str = "profile") -> Profile:
    """A Profile from a mapping or YAML/JSON text; ProfileError names the field on bad input."""
    if isinstance(data, str):
        try:
            data = yaml.safe_load(data) if data.strip() else {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ProfileError(f"{source}:{where} malformed YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: expected a mapping of profile fields, got {type(data).__name__}")
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "profile"
        if err["type"] == "extra_forbidden":
            known = ", ".join(FIELD_ORDER)
            raise ProfileError(f"{source}: unknown field '{field}' (known: {known})") from None
        raise ProfileError(f"{source}: field '{field}': {err['msg']} (got {err.get('input')!r})") from None
