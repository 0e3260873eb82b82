"""Model catalog: the pydantic schema of knowledge/models.yaml, its loader and queries."""

from __future__ import annotations

import datetime as dt
import functools
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from advisor.catalog_yaml import CatalogError, line_for, parse_yaml, validation_message, where
from advisor.prices import PriceMap, PriceMapError, installed_price_map

DEFAULT_CATALOG_PATH = Path(__file__).resolve().parents[1] / "knowledge" / "models.yaml"
MODEL_KINDS: tuple[str, ...] = ("api", "open_weight", "small")
PROPRIETARY = "proprietary"  # the one license id that needs no `licenses:` entry
BYTES_PER_PARAM = {"bf16": 2.0, "fp8": 1.0, "int4": 0.5}
_YES_NO = {True: "yes", False: "no", None: "unknown"}
_KIND_TEXT = {"api": "closed-weights API model", "open_weight": "open-weight model", "small": "small model"}


def _date_to_text(value: object) -> object:
    # YAML turns an unquoted 2025-04-14 into a date; the catalog keeps dates as text of varying precision.
    return value.isoformat() if isinstance(value, dt.date) else value


DateText = Annotated[str, BeforeValidator(_date_to_text), Field(min_length=4)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Price(_Strict):
    """An API list price in USD per million tokens, dated."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(ge=0)
    currency: Literal["USD"]
    date: DateText
    note: str | None
    # Set by the loader when the price comes from litellm's model map ("litellm 1.110.2 model map"); a curated
    # price in models.yaml leaves it out and is sourced by the entry's `sources`.
    source: str | None = None


class MinHardware(_Strict):
    """The smallest stated (or derived) setup that holds the weights for serving."""

    description: NonEmpty
    gpu_memory_gb: float | None = Field(gt=0)
    gpu_count: int | None = Field(ge=1)
    precision: str | None
    derived: bool


class WeightsGB(_Strict):
    """Weights-only memory per precision: params_total × bytes/param (no KV cache or overhead)."""

    bf16: float = Field(gt=0)
    fp8: float = Field(gt=0)
    int4: float = Field(gt=0)
    derived: bool


class ModelEntry(_Strict):
    """One model in the catalog; unknown values are explicit nulls."""

    id: Slug
    name: NonEmpty
    vendor: NonEmpty
    kind: Literal["api", "open_weight", "small"]
    release: DateText
    params_total_b: float | None = Field(gt=0)
    params_active_b: float | None = Field(gt=0)
    architecture: str | None
    context_tokens: int | None = Field(gt=0)
    max_output_tokens: int | None = Field(gt=0)
    modalities_in: list[NonEmpty] = Field(min_length=1)
    modalities_out: list[NonEmpty] = Field(min_length=1)
    license: Slug
    license_notes: str | None
    commercial_use: bool | None
    open_weights: bool
    price: Price | None
    min_hardware: MinHardware | None
    weights_gb: WeightsGB | None
    strengths: list[NonEmpty]
    deprecation: str | None
    # The vendor's shutdown date, past (retired) or announced; a retired model is never suggested or recommended.
    retired: DateText | None
    successor: Slug | None  # the vendor's named replacement, where it is a catalog entry
    litellm: NonEmpty | None  # key in litellm's model map: the source of price and context window where it has them
    notes: str | None
    sources: list[NonEmpty] = Field(min_length=1)
    unverified: list[str]
    as_of: Annotated[str, BeforeValidator(_date_to_text), Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    # Set by the loader from the price map (its deprecation_date for `litellm`), never written in models.yaml.
    map_shutdown: DateText | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> ModelEntry:
        if self.open_weights != (self.kind != "api"):
            raise ValueError(f"field 'open_weights': must be {self.kind != 'api'} for kind '{self.kind}'")
        total, active = self.params_total_b, self.params_active_b
        if total is not None and active is not None and active > total:
            raise ValueError(f"field 'params_active_b': {active} exceeds params_total_b {total}")
        if self.weights_gb is not None:
            if total is None:
                raise ValueError("field 'weights_gb': needs params_total_b to derive from")
            for precision, per_param in BYTES_PER_PARAM.items():
                stated, expected = getattr(self.weights_gb, precision), total * per_param
                if abs(stated - expected) > max(0.01, 0.01 * expected):
                    raise ValueError(f"field 'weights_gb.{precision}': {stated} != {per_param:g} × params")
        unknown = sorted(set(self.unverified) - set(type(self).model_fields))
        if unknown:
            raise ValueError(f"field 'unverified': not field names: {', '.join(unknown)}")
        for name in ("release", "retired", "map_shutdown"):
            text = getattr(self, name)
            if text is not None and _date_of(text) is None:
                raise ValueError(f"field '{name}': {text!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)")
        if self.successor == self.id:
            raise ValueError("field 'successor': a model cannot replace itself")
        return self

    def shutdown_date(self) -> dt.date | None:
        """The earliest shutdown date known: the vendor's (`retired`) or the price map's for this key."""
        dates = [d for text in (self.retired, self.map_shutdown) if text and (d := _date_of(text)) is not None]
        return min(dates) if dates else None

    def is_retired(self, today: dt.date | None = None) -> bool:
        """Whether the model has been shut down by `today` (default: the system date)."""
        when = self.shutdown_date()
        return when is not None and when <= (today or dt.date.today())

    def passage_text(self) -> str:
        """A compact readable passage about this model for the vector index."""
        hidden = "undisclosed" if self.kind == "api" else "unknown"
        license_notes = f" ({self.license_notes})" if self.license_notes else ""
        ctx, out = (f"{n:,}" if n else "unknown" for n in (self.context_tokens, self.max_output_tokens))
        lines = [
            f"{self.name} ({self.id}): {_KIND_TEXT[self.kind]} by {self.vendor}, released {self.release}.",
            f"Parameters: {self._params_text(hidden)}. Architecture: {self.architecture or hidden}.",
            f"Context: {ctx} tokens; max output: {out}. "
            f"Modalities: {', '.join(self.modalities_in)} -> {', '.join(self.modalities_out)}.",
            f"License: {self.license}{license_notes}. Open weights: {_YES_NO[self.open_weights]}. "
            f"Commercial use: {_YES_NO[self.commercial_use]}.",
        ]
        if (p := self.price) is not None:
            cached = "" if (c := p.cached_input_per_mtok) is None else f", cached input ${_usd(c)}"
            # A map price carries no date of its own: it is as current as the installed litellm release.
            dated = f"{p.source}, key {self.litellm}" if p.source else p.date
            lines.append(
                f"API price ({dated}): ${p.input_per_mtok:.2f} input / ${p.output_per_mtok:.2f} output "
                f"per 1M tokens{cached}" + (f"; {p.note}." if p.note and not p.source else ".")
            )
        if (hw := self.min_hardware) is not None:
            precision = hw.precision or "precision not stated"
            gb = "" if hw.gpu_memory_gb is None else f" [{hw.gpu_memory_gb:g} GB, {precision}]"
            lines.append(f"Minimal hardware: {hw.description}{gb}{' (derived)' if hw.derived else ''}.")
        if (w := self.weights_gb) is not None:
            lines.append(f"Weights only (derived): {w.bf16:g} GB BF16, {w.fp8:g} GB FP8, {w.int4:g} GB INT4.")
        if self.strengths:
            lines.append(f"Strengths: {'; '.join(self.strengths)}.")
        if self.deprecation:
            lines.append(f"Deprecation: {self.deprecation}.")
        if (status := self.status_text()) is not None:
            lines.append(status)
        if self.notes:
            lines.append(f"Notes: {self.notes}")
        if self.unverified:
            lines.append(f"Unverified fields: {', '.join(self.unverified)}.")
        lines.append(f"Facts as of {self.as_of}. Sources: {'; '.join(self.sources)}")
        return "\n".join(lines)

    def status_text(self, today: dt.date | None = None) -> str | None:
        """'Status: retired on …' or 'Status: available; shutdown announced for …'; None without a date."""
        when = self.shutdown_date()
        if when is None:
            return None
        replacement = f" Replacement: {self.successor}." if self.successor else ""
        if when <= (today or dt.date.today()):
            return (f"Status: retired on {when.isoformat()} (shut down, no longer available; not an option "
                    f"today).{replacement}")
        return f"Status: available; shutdown announced for {when.isoformat()}.{replacement}"

    def passage_metadata(self) -> dict[str, str | int | float | bool]:
        """Flat scalar metadata for the vector store (no None, no lists)."""
        hw, price = self.min_hardware, self.price
        meta: dict[str, str | int | float | bool | None] = {
            "kind": "catalog",
            "path": "models.yaml",
            "section": self.id,
            "title": self.name,
            "model_id": self.id,
            "vendor": self.vendor,
            "model_kind": self.kind,
            "open_weights": self.open_weights,
            "license": self.license,
            "release": self.release,
            "as_of": self.as_of,
            "commercial_use": self.commercial_use,
            "params_total_b": self.params_total_b,
            "params_active_b": self.params_active_b,
            "context_tokens": self.context_tokens,
            "gpu_memory_gb": hw.gpu_memory_gb if hw else None,
            "input_per_mtok": price.input_per_mtok if price else None,
            "output_per_mtok": price.output_per_mtok if price else None,
            "price_date": price.date if price else None,
            "price_source": price.source if price else None,
            "retired": shutdown.isoformat() if (shutdown := self.shutdown_date()) else None,
        }
        return {key: value for key, value in meta.items() if value is not None}

    def _params_text(self, unknown: str) -> str:
        total, active = self.params_total_b, self.params_active_b
        if total is None:
            return unknown
        if active is None or active == total:
            return f"{_billions(total)} total" + (" (dense)" if active == total else ", active unknown")
        return f"{_billions(total)} total, {_billions(active)} active per token"


class LicenseEntry(_Strict):
    """A license referenced by catalog entries, with its key terms."""

    id: Slug
    name: NonEmpty
    applies_to: list[NonEmpty] = Field(min_length=1)
    terms: NonEmpty
    sources: list[NonEmpty] = Field(min_length=1)


class GpuPrice(_Strict):
    """A dated GPU rental price range."""

    gpu: NonEmpty
    tier: NonEmpty
    low: float = Field(ge=0)
    high: float = Field(ge=0)
    unit: NonEmpty
    date: DateText
    source: NonEmpty
    note: str | None

    @model_validator(mode="after")
    def _check_range(self) -> GpuPrice:
        if self.low > self.high:
            raise ValueError(f"field 'low': {self.low} exceeds high {self.high}")
        return self


class _CatalogData(_Strict):
    models: list[ModelEntry] = Field(min_length=1)
    licenses: list[LicenseEntry]
    gpu_prices: list[GpuPrice]


def _cross_problems(data: _CatalogData) -> list[tuple[tuple[str | int, ...], str]]:
    """Duplicate ids, and license ids that have no `licenses:` entry."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    sections = {"models": [m.id for m in data.models], "licenses": [lic.id for lic in data.licenses]}
    for section, ids in sections.items():
        first: dict[str, int] = {}
        for index, entry_id in enumerate(ids):
            if entry_id in first:
                where = f"{section}[{first[entry_id]}]"
                problems.append(((section, index, "id"), f"duplicate id '{entry_id}' (first at {where})"))
            first.setdefault(entry_id, index)
    known = {*sections["licenses"], PROPRIETARY}
    models = set(sections["models"])
    for index, model in enumerate(data.models):
        if model.license not in known:
            problems.append((("models", index, "license"), f"license '{model.license}' not in licenses:"))
        if model.successor is not None and model.successor not in models:
            problems.append((("models", index, "successor"), f"successor '{model.successor}' is not a model id"))
        if model.map_shutdown is not None:
            problems.append((("models", index, "map_shutdown"), "is set by the loader from the price map"))
    return problems


class Catalog(_CatalogData):
    """The validated catalog: models, licenses and GPU prices, with lookups and filters."""

    @model_validator(mode="after")
    def _check_cross(self) -> Catalog:
        problems = _cross_problems(self)
        if problems:
            loc, message = problems[0]
            raise ValueError(f"{where(loc, None)}: {message}")
        return self

    def ids(self) -> list[str]:
        """Model ids in catalog order."""
        return [model.id for model in self.models]

    def get(self, model_id: str) -> ModelEntry:
        """The model with this id (case-insensitive); KeyError naming the known ids otherwise."""
        found = next((m for m in self.models if m.id == model_id.strip().lower()), None)
        if found is None:
            raise KeyError(f"unknown model id '{model_id}'; known: {', '.join(self.ids())}")
        return found

    def current(self, today: dt.date | None = None) -> list[ModelEntry]:
        """The models not retired by `today`, in catalog order: the only ones to suggest or recommend."""
        return [m for m in self.models if not m.is_retired(today)]

    def replacement(self, model_id: str, today: dt.date | None = None) -> ModelEntry | None:
        """The model itself when current, else the first current model down its successor chain; None if none."""
        model, seen = self.get(model_id), set()
        while model.is_retired(today):
            if model.successor is None or model.id in seen:
                return None
            seen.add(model.id)
            model = self.get(model.successor)
        return model


def load_catalog(path: Path | None = None, *, prices: PriceMap | None = None) -> Catalog:
    """Load and validate the catalog YAML (default: the shipped knowledge/models.yaml), once per file version.

    Prices and context windows come from litellm's model map (`prices`, default: the installed one) for every
    entry whose `litellm` key the map has; the curated values stay where it has none.
    """
    source = DEFAULT_CATALOG_PATH if path is None else Path(path)
    try:
        stamp = source.stat().st_mtime_ns
    except OSError as exc:
        raise CatalogError(f"{source}: cannot read catalog: {exc.strerror or exc}") from exc
    base = _load(source, stamp)
    if prices is None:
        try:
            prices = installed_price_map()
        except PriceMapError:
            return base  # no litellm installed: the curated prices are all there is
    key = (source, stamp, prices.path, prices.version, prices.read_on, id(prices))
    if (cached := _PRICED.get(key)) is None:
        cached = _PRICED[key] = with_map_prices(base, prices)
        while len(_PRICED) > 8:
            _PRICED.pop(next(iter(_PRICED)))
    return cached


_PRICED: dict[tuple[object, ...], Catalog] = {}


def with_map_prices(catalog: Catalog, prices: PriceMap) -> Catalog:
    """The catalog with each `litellm`-keyed entry's price, context window and shutdown date taken from the map."""
    return catalog.model_copy(update={"models": [_priced(m, prices) for m in catalog.models]})


def _priced(model: ModelEntry, prices: PriceMap) -> ModelEntry:
    found = prices.get(model.litellm) if model.litellm else None
    if found is None:
        return model
    update: dict[str, Any] = {"map_shutdown": found.deprecation_date}
    used = []
    if found.input_per_mtok is not None and found.output_per_mtok is not None:
        update["price"] = Price(input_per_mtok=found.input_per_mtok, output_per_mtok=found.output_per_mtok,
                                cached_input_per_mtok=found.cached_input_per_mtok, currency="USD",
                                date=prices.read_on.isoformat(),
                                note=f"standard list price from {prices.source} (key {found.key})",
                                source=prices.source)
        used.append("price")
    # For an open-weight model the key is a hosted API: its limits are the host's, not the weights' own.
    if found.context_tokens is not None and model.kind == "api":
        update["context_tokens"] = found.context_tokens
        used.append("context window")
    if found.max_output_tokens is not None and model.kind == "api":
        update["max_output_tokens"] = found.max_output_tokens
        used.append("max output")
    if used:
        update["sources"] = [*model.sources, f"{prices.source} (key {found.key}): {', '.join(used)}"]
    return model.model_copy(update=update)


@functools.lru_cache(maxsize=8)
def _load(source: Path, _stamp: int) -> Catalog:
    # Parsing and validating takes ~70 ms; the result is frozen, so callers on every turn share one copy.
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{source}: cannot read catalog: {exc.strerror or exc}") from exc
    root, data = parse_yaml(source, text)
    try:
        parsed = _CatalogData.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(validation_message(source, root, data, exc)) from exc
    problems = _cross_problems(parsed)
    if problems:
        loc, message = problems[0]
        raise CatalogError(f"{source}:{line_for(root, loc)}: {where(loc, data)}: {message}")
    return Catalog.model_validate(data)


def _date_of(text: str) -> dt.date | None:
    """A catalog date of year, month or day precision as the first day of that period; None if not one."""
    found = re.match(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$", text.strip())
    if found is None:
        return None
    year, month, day = found.groups()
    try:
        return dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None


def _usd(value: float) -> str:
    return f"{value:.2f}" if value >= 0.1 or value == 0 else f"{value:.3g}"


def _billions(value: float) -> str:
    return f"{value * 1000:g}M" if value < 1 else f"{value:g}B"
