"""Option scoring: a Profile in, the four options ranked with traced reasons and what-if flips out."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from advisor.config import REPO_ROOT
from advisor.profile import FIELD_ORDER, Profile, ResolvedProfile, resolve

__all__ = ["OPTIONS", "Policy", "PolicyError", "ScoreResult", "load_policy", "score_profile", "squash"]

OptionId = Literal["api", "open_weight", "pretrain", "small_model"]
OPTIONS: tuple[OptionId, ...] = ("api", "open_weight", "pretrain", "small_model")
DEFAULT_POLICY_PATH = REPO_ROOT / "knowledge" / "scoring.yaml"

# Ordered values: what-if flips try the nearest values first.
_ORDERED: dict[str, tuple[Any, ...]] = {
    "team_ml_expertise": ("none", "basic", "experienced", "research"),
    "data_sensitivity": ("public", "internal", "regulated"),
    "deployment": ("cloud", "on_prem", "air_gapped", "edge"),
    "task_scope": ("narrow", "broad"),
    "quality_bar": ("standard", "frontier"),
    "needs_custom_architecture": (False, True),
    "strategic_moat": (False, True),
    "needs_model_control": (False, True),
}
_INTEGER_FIELDS = {"labeled_examples", "latency_ms", "time_to_market_weeks"}
_NUMERIC_FIELDS = {"proprietary_data_tokens", "labeled_examples", "monthly_tokens", "latency_ms", "budget_usd",
                   "time_to_market_weeks"}


class PolicyError(ValueError):
    """The scoring policy file is invalid; the message names the file, rule and field."""


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min: float | None = None
    max: float | None = None

    def holds(self, value: Any) -> bool:
        return value is not None and (self.min is None or value >= self.min) and (
            self.max is None or value < self.max)


class Rule(BaseModel):
    """One policy rule: when its conditions hold, add effects to options and/or exclude some."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    when: dict[str, Any] = Field(min_length=1)
    effects: dict[OptionId, int] = Field(default_factory=dict)
    exclude: tuple[OptionId, ...] = ()
    why: str = Field(min_length=10)
    source: str = Field(pattern=r"^[^#]+\.md#.+$")

    @field_validator("when")
    @classmethod
    def _known_conditions(cls, when: dict[str, Any]) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for name, cond in when.items():
            if name not in FIELD_ORDER:
                raise ValueError(f"unknown profile field '{name}'")
            if isinstance(cond, dict):
                if name not in _NUMERIC_FIELDS:
                    raise ValueError(f"'{name}' is not numeric; a range cannot apply")
                parsed[name] = _Range.model_validate(cond)
                continue
            values = tuple(cond) if isinstance(cond, list) else (cond,)
            allowed = _ORDERED.get(name)
            bad = [v for v in values if allowed is None or v not in allowed]
            if bad:
                raise ValueError(f"'{name}' cannot be {bad[0]!r}")
            parsed[name] = frozenset(values)
        return parsed

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether every condition holds for the profile values."""
        for name, cond in self.when.items():
            value = values[name]
            if isinstance(cond, _Range):
                if not cond.holds(value):
                    return False
            elif value not in cond:
                return False
        return True


class _OptionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    base: int


class Policy(BaseModel):
    """The validated scoring policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int
    options: dict[OptionId, _OptionSpec]
    tie_break: tuple[OptionId, ...]
    squash_scale: float = Field(gt=0)
    rules: tuple[Rule, ...]
    _by_field: dict[str, tuple[Rule, ...]] = PrivateAttr(default_factory=dict)
    _edges: dict[str, tuple[float, ...]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        if set(self.options) != set(OPTIONS) or sorted(self.tie_break) != sorted(OPTIONS):
            raise ValueError(f"options and tie_break must list exactly {', '.join(OPTIONS)}")
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {', '.join(dupes)}")
        by_field: dict[str, tuple[Rule, ...]] = {}
        for rule in self.rules:
            for name in rule.when:
                by_field[name] = (*by_field.get(name, ()), rule)
        edges: dict[str, set[float]] = {}
        for rule in self.rules:
            for name, cond in rule.when.items():
                if isinstance(cond, _Range):
                    edges.setdefault(name, set()).update(x for x in (cond.min, cond.max) if x is not None)
        object.__setattr__(self, "_by_field", by_field)
        object.__setattr__(self, "_edges", {k: tuple(sorted(v)) for k, v in edges.items()})
        return self

    def rules_reading(self, field: str) -> tuple[Rule, ...]:
        """The rules whose conditions read field."""
        return self._by_field.get(field, ())

    def thresholds(self, field: str) -> tuple[float, ...]:
        """Every numeric boundary the rules draw on field."""
        return self._edges.get(field, ())


def _check_sources(policy: Policy, knowledge_dir: Path, origin: Path) -> None:
    from advisor.corpus import parse_markdown

    sections: dict[str, set[str]] = {}
    for rule in policy.rules:
        path, section = rule.source.split("#", 1)
        if path not in sections:
            file = knowledge_dir / path
            if not file.is_file():
                raise PolicyError(f"{origin}: rule '{rule.id}' field 'source': no such guide {path}")
            _, blocks = parse_markdown(file.read_text(encoding="utf-8"), fallback_title=path)
            sections[path] = {b.section for b in blocks}
        if section not in sections[path]:
            raise PolicyError(f"{origin}: rule '{rule.id}' field 'source': no section '{section}' in {path}")


@functools.lru_cache(maxsize=8)
def load_policy(path: Path = DEFAULT_POLICY_PATH, knowledge_dir: Path | None = None) -> Policy:
    """Load and validate the scoring policy (cached per path); PolicyError names file, rule and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: malformed YAML: {exc}".replace("\n", " ")) from None
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(raw, dict):
            rule_id = (raw.get("rules") or [{}])[loc[1]].get("id", loc[1])
            where = f" rule '{rule_id}'"
            loc = loc[2:]
        field = ".".join(str(p) for p in loc)
        raise PolicyError(f"{path}:{where} field '{field}': {err['msg']}") from None
    _check_sources(policy, knowledge_dir or path.parent, path)
    return policy


@dataclass(frozen=True)
class _Tally:
    raw: dict[str, float]
    excluded: dict[str, list[Rule]]
    fired: tuple[Rule, ...]

    def recommended(self, policy: Policy) -> str | None:
        eligible = [o for o in policy.tie_break if not self.excluded[o]]
        if not eligible:
            return None
        return max(eligible, key=lambda o: (self.raw[o], -policy.tie_break.index(o)))


def _tally(policy: Policy, values: Mapping[str, Any]) -> _Tally:
    raw: dict[str, float] = {o: float(policy.options[o].base) for o in OPTIONS}
    excluded: dict[str, list[Rule]] = {o: [] for o in OPTIONS}
    fired = []
    for rule in policy.rules:
        if rule.holds(values):
            fired.append(rule)
            for option, effect in rule.effects.items():
                raw[option] += effect
            for option in rule.exclude:
                excluded[option].append(rule)
    return _Tally(raw, excluded, tuple(fired))


def squash(raw: float, scale: float) -> float:
    """A raw tally as a 0-100 score: 50 stays 50, and the curve flattens towards both ends."""
    return round(100.0 / (1.0 + math.exp(-(raw - 50.0) / scale)), 1)


def _human(field: str, value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and field in _NUMERIC_FIELDS:
        for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
            if abs(value) >= size:
                return f"{value / size:.3g}{suffix}"
        return f"{value:g}"
    return str(value)


def _candidates(policy: Policy, field: str, current: Any) -> list[Any]:
    """Other values for field, nearest first."""
    if field in _ORDERED:
        order = _ORDERED[field]
        here = order.index(current)
        return sorted((v for v in order if v != current), key=lambda v: (abs(order.index(v) - here), order.index(v)))
    values: set[float] = set()
    for edge in policy.thresholds(field):
        below = edge - 1 if field in _INTEGER_FIELDS else edge * (1 - 1e-9)
        values.update({edge, below} if below >= 0 else {edge})
    values.discard(current)
    if current is None:  # an unset limit: the loosest limit comes first
        return sorted(values, reverse=True)

    def distance(v: float) -> tuple[float, float]:
        return (abs(math.log10(v + 1) - math.log10(current + 1)), v)

    cast = int if field in _INTEGER_FIELDS else float
    return [cast(v) for v in sorted(values, key=distance)]


def _recommend_with(policy: Policy, tally: _Tally, held: set[str], values: Mapping[str, Any], field: str,
                    value: Any) -> str | None:
    """The recommendation if one field took another value: only rules that read that field are re-checked."""
    raw = dict(tally.raw)
    excluded = {o: len(rules) for o, rules in tally.excluded.items()}
    changed = {**values, field: value}
    for rule in policy.rules_reading(field):
        before, after = rule.id in held, rule.holds(changed)
        if before == after:
            continue
        sign = 1 if after else -1
        for option, effect in rule.effects.items():
            raw[option] += sign * effect
        for option in rule.exclude:
            excluded[option] += sign
    eligible = [o for o in policy.tie_break if not excluded[o]]
    if not eligible:
        return None
    return max(eligible, key=lambda o: (raw[o], -policy.tie_break.index(o)))


@dataclass(frozen=True)
class ScoreResult:
    """The scorer's verdict, JSON-ready through as_dict() (the `advisor score --json` contract)."""

    recommended: str | None
    ranking: list[dict[str, Any]]
    flips: list[dict[str, Any]]
    assumptions: list[dict[str, Any]]
    profile: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The contract's fields plus the profile that was scored."""
        return {"recommended": self.recommended, "ranking": self.ranking, "flips": self.flips,
                "assumptions": self.assumptions, "profile": self.profile}

    def to_json(self) -> str:
        """Deterministic JSON: the same profile always gives the same bytes."""
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2, sort_keys=False)


def _reasons(policy: Policy, tally: _Tally, option: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    reasons = []
    for rule in tally.fired:
        if option in rule.exclude:
            effect: Any = "excluded"
        elif rule.effects.get(option):  # type: ignore[call-overload]
            effect = rule.effects[option]  # type: ignore[index]
        else:
            continue
        inputs = ", ".join(f"{f}={_human(f, values[f])}" for f in rule.when)
        reasons.append({"factor": rule.id, "input": inputs, "effect": effect, "why": rule.why,
                        "source": rule.source})
    return reasons


def score_profile(profile: Profile | ResolvedProfile, *, policy: Policy | None = None) -> ScoreResult:
    """Score the four options for a profile; deterministic and free of I/O once the policy is loaded."""
    policy = policy or load_policy()
    resolved = profile if isinstance(profile, ResolvedProfile) else resolve(profile)
    values = resolved.values
    tally = _tally(policy, values)
    recommended = tally.recommended(policy)
    order = sorted(OPTIONS, key=lambda o: (bool(tally.excluded[o]), -tally.raw[o], policy.tie_break.index(o)))
    ranking = [{
        "option": option,
        "label": policy.options[option].label,
        "score": squash(tally.raw[option], policy.squash_scale),
        "eligible": not tally.excluded[option],
        "reasons": _reasons(policy, tally, option, values),
    } for option in order]

    flips = []
    held = {rule.id for rule in tally.fired}
    for field in FIELD_ORDER:
        for candidate in _candidates(policy, field, values[field]):
            new = _recommend_with(policy, tally, held, values, field, candidate)
            if new != recommended:
                flips.append({"field": field, "from": values[field], "to": candidate,
                              "change": f"{field}: {_human(field, values[field])} -> {_human(field, candidate)}",
                              "new_recommendation": new})
                break
    return ScoreResult(recommended, ranking, flips, [a.as_dict() for a in resolved.assumptions],
                       {k: values[k] for k in FIELD_ORDER})
