"""Catalog queries: filter, rank and date-check catalog models for the agent and the UI."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

# One source of truth for bytes per parameter: the catalog validates weights_gb against the same table.
from advisor.catalog import BYTES_PER_PARAM, MODEL_KINDS, Catalog, ModelEntry

__all__ = [
    "BLENDED_INPUT_SHARE",
    "DEFAULT_API_MODEL",
    "DEFAULT_OVERHEAD",
    "DEFAULT_STALE_AFTER_DAYS",
    "SORT_KEYS",
    "CatalogHit",
    "CatalogQuery",
    "CatalogQueryError",
    "QueryResult",
    "blended_price",
    "filter_models",
    "parse_date_text",
    "parse_query",
    "query_catalog",
    "select_models",
    "stale_facts",
    "suggested_model",
    "weights_gb_at",
]

DEFAULT_STALE_AFTER_DAYS = 365
# The API model costs are shown with when none is named, while it is current (suggested_model falls back after).
DEFAULT_API_MODEL = "gpt-4.1-mini"
DEFAULT_OVERHEAD = 0.2
# Blended price = 0.8 × input + 0.2 × output per 1M tokens: a prompt-heavy 4:1 input:output token mix.
BLENDED_INPUT_SHARE = 0.8
_DATE_TEXT = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_FIT_TOLERANCE = 1e-9  # so that 20 GB × 1.2 still fits in 24 GB despite binary floating point

Lowered = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]
Precision = Literal["bf16", "fp8", "int4"]
SortKey = Literal["price_in", "price_out", "price_blended", "params", "context", "release", "name"]
SORT_KEYS: tuple[str, ...] = get_args(SortKey)


class CatalogQueryError(ValueError):
    """A catalog query that cannot be run; the message is one line naming the field."""


class CatalogQuery(BaseModel):
    """Criteria (all optional, combined with AND), ordering and staleness settings for a catalog query."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open_weights: bool | None = None
    license: Lowered | None = Field(default=None, description="license id or id prefix, case-insensitive")
    commercial_use: bool | None = Field(default=None, description="an unknown (null) commercial_use never matches")
    kind: Literal["api", "open_weight", "small"] | None = None
    min_context: int | None = Field(default=None, ge=0)
    modality_in: Lowered | None = Field(default=None, description="e.g. image: the model accepts this input")
    modality_out: Lowered | None = None
    min_params_b: float | None = Field(default=None, ge=0, description="total parameters in billions")
    max_params_b: float | None = Field(default=None, ge=0)
    # Catalog memory figures are weights only; `overhead` is the margin for KV cache, activations and runtime.
    fits_gb: float | None = Field(default=None, gt=0, description="weights × (1 + overhead) at precision ≤ this")
    precision: Precision | None = Field(default=None, description="with fits_gb; bf16 when not given")
    overhead: float = Field(default=DEFAULT_OVERHEAD, ge=0, le=10, description="KV cache + runtime margin")
    max_gpu_gb: float | None = Field(default=None, ge=0, description="min_hardware.gpu_memory_gb ≤ this")
    text: Lowered | None = Field(default=None, description="substring of id, name, vendor or a strength")
    # Retired models stay in the catalog as history; a query (and so every suggestion) leaves them out unless asked.
    include_retired: bool = Field(default=False, description="also list models shut down by today (marked retired)")
    sort_by: SortKey | None = None
    descending: bool = False
    limit: int | None = Field(default=None, ge=1)
    stale_after_days: int | None = Field(default=None, ge=0, description="overrides the caller's setting")
    today: dt.date | None = Field(default=None, description="the date ages are counted to (tests)")

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: object) -> object:
        if value is not None and value not in MODEL_KINDS:
            raise ValueError(f"unknown kind {value!r}; expected one of {', '.join(MODEL_KINDS)}")
        return value

    @field_validator("sort_by", mode="before")
    @classmethod
    def _known_sort_key(cls, value: object) -> object:
        if value is not None and value not in SORT_KEYS:
            raise ValueError(f"unknown sort key {value!r}; expected one of {', '.join(SORT_KEYS)}")
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> CatalogQuery:
        low, high = self.min_params_b, self.max_params_b
        if low is not None and high is not None and low > high:
            raise ValueError(f"field 'min_params_b': {low:g} exceeds max_params_b {high:g}")
        if self.precision is not None and self.fits_gb is None:
            raise ValueError("field 'precision': only applies together with fits_gb")
        if self.descending and self.sort_by is None:
            raise ValueError("field 'descending': only applies together with sort_by")
        return self


@dataclass(frozen=True)
class CatalogHit:
    """One matching model with its provenance and how old its facts are."""

    model: ModelEntry
    sources: tuple[str, ...]
    as_of: str
    price_date: str | None
    age_days: int | None  # days from the oldest dated fact (as_of or price date) to today; negative if future
    possibly_stale: bool
    stale_reason: str | None
    required_gb: float | None  # weights × (1 + overhead) at the query precision; only when fits_gb was asked
    retired: bool = False  # shut down by the query's today
    shutdown_date: str | None = None  # past or announced
    price_source: str | None = None  # "litellm <version> model map", or None for a curated price

    def as_dict(self) -> dict[str, Any]:
        """The model's fields plus the provenance fields, JSON-ready."""
        return {
            **self.model.model_dump(mode="json"),
            "sources": list(self.sources),
            "as_of": self.as_of,
            "price_date": self.price_date,
            "price_source": self.price_source,
            "is_retired": self.retired,
            "shutdown_date": self.shutdown_date,
            "age_days": self.age_days,
            "possibly_stale": self.possibly_stale,
            "stale_reason": self.stale_reason,
            "required_gb": self.required_gb,
        }


@dataclass(frozen=True)
class QueryResult:
    """The ranked hits of one query, with the query echoed and the date and staleness age used."""

    query: CatalogQuery
    hits: tuple[CatalogHit, ...]
    total: int  # matches before `limit`
    today: dt.date
    stale_after_days: int | None

    @property
    def count(self) -> int:
        """How many hits were returned (after `limit`)."""
        return len(self.hits)

    def ids(self) -> list[str]:
        """Model ids in result order."""
        return [hit.model.id for hit in self.hits]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready object: the query echo, counts, the date and staleness age used, and the results."""
        return {
            "query": self.query.model_dump(mode="json", exclude_none=True),
            "count": self.count,
            "total": self.total,
            "today": self.today.isoformat(),
            "stale_after_days": self.stale_after_days,
            "results": [hit.as_dict() for hit in self.hits],
        }


def parse_query(data: CatalogQuery | Mapping[str, Any]) -> CatalogQuery:
    """Validate raw criteria into a CatalogQuery; CatalogQueryError with a one-line message naming the field."""
    if isinstance(data, CatalogQuery):
        return data
    try:
        return CatalogQuery.model_validate(data)
    except ValidationError as exc:
        raise CatalogQueryError(_error_message(exc)) from None


def query_catalog(
    catalog: Catalog,
    query: CatalogQuery | Mapping[str, Any] | None = None,
    *,
    today: dt.date | None = None,
    stale_after_days: int | None = DEFAULT_STALE_AFTER_DAYS,
) -> QueryResult:
    """Filter, rank and limit the catalog's models; every hit carries sources, as_of and a staleness flag."""
    # stale_after_days is the caller's setting (None turns the check off) and the query's own value wins;
    # the today keyword wins over the query's today, which wins over the system date.
    parsed = parse_query(query if query is not None else {})
    when = today or parsed.today or dt.date.today()
    max_age = parsed.stale_after_days if parsed.stale_after_days is not None else stale_after_days
    if max_age is not None and max_age < 0:
        raise CatalogQueryError(f"stale_after_days must be at least 0 (got {max_age})")
    pool = catalog.models if parsed.include_retired else catalog.current(when)
    matched = _rank(parsed, [m for m in pool if _matches(m, parsed)])
    shown = matched[: parsed.limit] if parsed.limit is not None else matched
    hits = tuple(_hit(model, parsed, today=when, stale_after_days=max_age) for model in shown)
    return QueryResult(query=parsed, hits=hits, total=len(matched), today=when, stale_after_days=max_age)


def select_models(catalog: Catalog, *, open_weights: bool | None = None, license: str | None = None,
                  max_gpu_gb: float | None = None, min_context: int | None = None, kind: str | None = None,
                  include_retired: bool = False) -> list[ModelEntry]:
    """Catalog models matching every given criterion; unknown values never match a numeric bound."""
    criteria = {
        "open_weights": open_weights,
        "license": (license or "").strip() or None,  # a blank prefix matches every licence
        "max_gpu_gb": max_gpu_gb,
        "min_context": min_context,
        "kind": kind,
        "include_retired": include_retired,
    }
    return filter_models(catalog.models, parse_query(criteria))


def filter_models(models: Iterable[ModelEntry], query: CatalogQuery) -> list[ModelEntry]:
    """The models matching the query's criteria, in its order and up to its limit (no staleness check)."""
    when = query.today or dt.date.today()
    pool = [m for m in models if query.include_retired or not m.is_retired(when)]
    ranked = _rank(query, [m for m in pool if _matches(m, query)])
    return ranked[: query.limit] if query.limit is not None else ranked


def parse_date_text(text: str) -> dt.date | None:
    """A catalog date of year, month or day precision as a date (the first day of the period); None if not one."""
    found = _DATE_TEXT.match(text.strip())
    if found is None:
        return None
    year, month, day = found.groups()
    try:
        return dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None


def blended_price(model: ModelEntry) -> float | None:
    """0.8 × input + 0.2 × output USD per 1M tokens; None without a price."""
    if model.price is None:
        return None
    return BLENDED_INPUT_SHARE * model.price.input_per_mtok + (1 - BLENDED_INPUT_SHARE) * model.price.output_per_mtok


def weights_gb_at(model: ModelEntry, precision: Precision) -> float | None:
    """Weights-only memory at a precision: weights_gb when stated, else params_total_b × bytes/param."""
    if model.weights_gb is not None:
        stated: float = getattr(model.weights_gb, precision)
        return stated
    if model.params_total_b is None:
        return None
    return model.params_total_b * BYTES_PER_PARAM[precision]


def _required_gb(model: ModelEntry, query: CatalogQuery) -> float | None:
    weights = weights_gb_at(model, query.precision or "bf16")
    return None if weights is None else weights * (1 + query.overhead)


def _matches(model: ModelEntry, q: CatalogQuery) -> bool:
    """Whether the model meets every criterion; an unknown value never meets one."""
    gpu_gb = model.min_hardware.gpu_memory_gb if model.min_hardware else None
    context, params = model.context_tokens, model.params_total_b
    checks = (
        q.open_weights is None or model.open_weights == q.open_weights,
        q.license is None or model.license.startswith(q.license),
        q.commercial_use is None or model.commercial_use is q.commercial_use,
        q.kind is None or model.kind == q.kind,
        q.min_context is None or (context is not None and context >= q.min_context),
        q.modality_in is None or q.modality_in in (m.lower() for m in model.modalities_in),
        q.modality_out is None or q.modality_out in (m.lower() for m in model.modalities_out),
        q.min_params_b is None or (params is not None and params >= q.min_params_b),
        q.max_params_b is None or (params is not None and params <= q.max_params_b),
        q.max_gpu_gb is None or (gpu_gb is not None and gpu_gb <= q.max_gpu_gb),
        q.text is None or _mentions(model, q.text),
    )
    if not all(checks):
        return False
    if q.fits_gb is None:
        return True
    required = _required_gb(model, q)
    return required is not None and required <= q.fits_gb * (1 + _FIT_TOLERANCE)


def _mentions(model: ModelEntry, needle: str) -> bool:
    haystack = (model.id, model.name, model.vendor, *model.strengths)
    return any(needle in field.lower() for field in haystack)


def _sort_value(key: SortKey) -> Callable[[ModelEntry], Any]:
    """The sort value of a model under this key (one comparable type per key); None when unknown."""
    values: dict[str, Callable[[ModelEntry], Any]] = {
        "price_in": lambda m: m.price.input_per_mtok if m.price else None,
        "price_out": lambda m: m.price.output_per_mtok if m.price else None,
        "price_blended": blended_price,
        "params": lambda m: m.params_total_b,
        "context": lambda m: m.context_tokens,
        "release": lambda m: parse_date_text(m.release),
        "name": lambda m: m.name.lower(),
    }
    return values[key]


def _rank(query: CatalogQuery, models: list[ModelEntry]) -> list[ModelEntry]:
    """Sort by the query's key; ties keep catalog order and unknown values go last in either direction."""
    if query.sort_by is None:
        return models
    value = _sort_value(query.sort_by)
    known = [(v, m) for m in models if (v := value(m)) is not None]
    unknown = [m for m in models if value(m) is None]
    # sorted() is stable even with reverse=True, so equal keys stay in catalog order both ways.
    ordered = sorted(known, key=lambda pair: pair[0], reverse=query.descending)
    return [m for _, m in ordered] + unknown


def _hit(model: ModelEntry, query: CatalogQuery, *, today: dt.date, stale_after_days: int | None) -> CatalogHit:
    dated = [("facts as_of", model.as_of)]
    if model.price is not None:
        dated.append(("price dated", model.price.date))
    ages: list[int] = []
    reasons: list[str] = []
    for label, text in dated:
        when = parse_date_text(text)
        if when is None:
            reasons.append(f"{label} {text!r} is not a date")
            continue
        age = (today - when).days
        ages.append(age)
        if stale_after_days is not None and age > stale_after_days:
            reasons.append(f"{label} {text} is {age} days old (limit {stale_after_days})")
    stale = stale_after_days is not None and bool(reasons)
    required = _required_gb(model, query) if query.fits_gb is not None else None
    return CatalogHit(
        model=model,
        sources=tuple(model.sources),
        as_of=model.as_of,
        price_date=model.price.date if model.price else None,
        age_days=max(ages) if ages else None,
        possibly_stale=stale,
        stale_reason="; ".join(reasons) if stale else None,
        required_gb=None if required is None else round(required, 4),
        retired=model.is_retired(today),
        shutdown_date=shutdown.isoformat() if (shutdown := model.shutdown_date()) else None,
        price_source=model.price.source if model.price else None,
    )


def suggested_model(catalog: Catalog, preferred: str | Sequence[str], *, kind: str | None = "api",
                    today: dt.date | None = None) -> ModelEntry:
    """The model to suggest: the first preferred id that is current (or its current successor), else the
    cheapest current priced model of that kind. Never a retired model; ValueError when none is current."""
    when = today or dt.date.today()
    for model_id in [preferred] if isinstance(preferred, str) else preferred:
        try:
            found = catalog.replacement(model_id, when)
        except KeyError:
            continue
        if found is not None:
            return found
    pool = [m for m in catalog.current(when) if m.price is not None and (kind is None or m.kind == kind)]
    if not pool:
        raise ValueError(f"no current {kind or 'catalog'} model with a price on {when.isoformat()}")
    return min(pool, key=lambda m: (blended_price(m) or 0.0, m.id))


def stale_facts(catalog: Catalog, model_ids: Iterable[str], *, today: dt.date | None = None,
                stale_after_days: int | None = DEFAULT_STALE_AFTER_DAYS) -> list[str]:
    """One line per named model whose facts are older than the stale age or which is retired, for an answer."""
    when = today or dt.date.today()
    lines: list[str] = []
    for model_id in dict.fromkeys(model_ids):
        try:
            model = catalog.get(model_id)
        except KeyError:
            continue
        hit = _hit(model, CatalogQuery(), today=when, stale_after_days=stale_after_days)
        if hit.retired:
            lines.append(f"{model.name} was retired on {hit.shutdown_date}; it is not an option today.")
        elif hit.possibly_stale:
            lines.append(f"{model.name}: catalog facts as of {model.as_of} ({hit.age_days} days old); check the "
                         f"vendor's page before relying on them.")
    return lines


def _error_message(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (+{len(errors) - 1} more errors)" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        known = ", ".join(CatalogQuery.model_fields)
        return f"catalog query: unknown field '{field}' (known: {known}){more}"
    if not field:  # a cross-field check: its message already names the field
        return f"catalog query: {message}{more}"
    got = repr(first.get("input"))
    got = got if len(got) <= 60 else got[:57] + "..."
    return f"catalog query: field '{field}': {message} (got {got}){more}"
