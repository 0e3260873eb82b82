"""Model catalog: the pydantic schema of knowledge/models.yaml, its loader and queries."""

from __future__ import annotations

import datetime as dt
import functools
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

DEFAULT_CATALOG_PATH = Path(__file__).resolve().parents[1] / "knowledge" / "models.yaml"
MODEL_KINDS: tuple[str, ...] = ("api", "open_weight", "small")
PROPRIETARY = "proprietary"  # the one license id that needs no `licenses:` entry
BYTES_PER_PARAM = {"bf16": 2.0, "fp8": 1.0, "int4": 0.5}
_YES_NO = {True: "yes", False: "no", None: "unknown"}
_KIND_TEXT = {"api": "closed-weights API model", "open_weight": "open-weight model", "small": "small model"}


class CatalogError(ValueError):
    """The catalog file cannot be read, parsed or validated; the message names file, line, entry, field."""


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
    notes: str | None
    sources: list[NonEmpty] = Field(min_length=1)
    unverified: list[str]
    as_of: Annotated[str, BeforeValidator(_date_to_text), Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]

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
        return self

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
            cached = "" if (c := p.cached_input_per_mtok) is None else f", cached input ${c:.2f}"
            lines.append(
                f"API price ({p.date}): ${p.input_per_mtok:.2f} input / ${p.output_per_mtok:.2f} output "
                f"per 1M tokens{cached}" + (f"; {p.note}." if p.note else ".")
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
        if self.notes:
            lines.append(f"Notes: {self.notes}")
        if self.unverified:
            lines.append(f"Unverified fields: {', '.join(self.unverified)}.")
        lines.append(f"Facts as of {self.as_of}. Sources: {'; '.join(self.sources)}")
        return "\n".join(lines)

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
    for index, model in enumerate(data.models):
        if model.license not in known:
            problems.append((("models", index, "license"), f"license '{model.license}' not in licenses:"))
    return problems


class Catalog(_CatalogData):
    """The validated catalog: models, licenses and GPU prices, with lookups and filters."""

    @model_validator(mode="after")
    def _check_cross(self) -> Catalog:
        problems = _cross_problems(self)
        if problems:
            loc, message = problems[0]
            raise ValueError(f"{_where(loc, None)}: {message}")
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


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate the catalog YAML (default: the shipped knowledge/models.yaml), once per file version."""
    source = DEFAULT_CATALOG_PATH if path is None else Path(path)
    try:
        stamp = source.stat().st_mtime_ns
    except OSError as exc:
        raise CatalogError(f"{source}: cannot read catalog: {exc.strerror or exc}") from exc
    return _load(source, stamp)


@functools.lru_cache(maxsize=8)
def _load(source: Path, _stamp: int) -> Catalog:
    # Parsing and validating takes ~70 ms; the result is frozen, so callers on every turn share one copy.
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{source}: cannot read catalog: {exc.strerror or exc}") from exc
    root, data = _parse(source, text)
    try:
        parsed = _CatalogData.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_validation_message(source, root, data, exc)) from exc
    problems = _cross_problems(parsed)
    if problems:
        loc, message = problems[0]
        raise CatalogError(f"{source}:{_line_for(root, loc)}: {_where(loc, data)}: {message}")
    return Catalog.model_validate(data)


def _parse(source: Path, text: str) -> tuple[yaml.Node | None, Any]:
    """Compose the node tree (for line numbers) and construct the data from it."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        _reject_duplicate_keys(source, root)
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise CatalogError(_yaml_message(source, text, exc)) from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source}: malformed YAML: {exc}") from exc
    finally:
        loader.dispose()
    return root, data


def _reject_duplicate_keys(source: Path, node: yaml.Node | None) -> None:
    # PyYAML silently keeps the last of two equal keys, which would hide an edit.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise CatalogError(f"{source}:{key.start_mark.line + 1}: duplicate key '{key.value}'")
                seen.add(key.value)
            _reject_duplicate_keys(source, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _reject_duplicate_keys(source, item)


def _yaml_message(source: Path, text: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    entry_re = re.compile(r"^\s*-\s+id:\s*['\"]?([^'\"\s#]+)")
    ids = [found.group(1) for raw in text.splitlines()[:line] if (found := entry_re.match(raw))]
    near = f" near entry '{ids[-1]}'" if ids else ""
    return f"{source}:{line}: malformed YAML{near}: {exc.problem or exc.context or exc}"


def _validation_message(source: Path, root: yaml.Node | None, data: Any, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] not in ("missing", "value_error"):
        got = repr(first.get("input"))
        message += f" (got {got if len(got) <= 60 else got[:57] + '...'})"
    more = f" (+{len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return f"{source}:{_line_for(root, loc)}: {_where(loc, data)}: {message}{more}"


def _where(loc: tuple[str | int, ...], data: Any) -> str:
    """Describe a validation location as `models[3] (id=gpt-4.1) field 'price.date'`."""
    parts: list[str] = []
    rest = loc
    if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
        parts.append(f"{loc[0]}[{loc[1]}]")
        entries = data.get(loc[0]) if isinstance(data, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        if isinstance(entry, dict) and "id" in entry:
            parts.append(f"(id={entry['id']})")
        rest = loc[2:]
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
    if field:
        parts.append(f"field '{field}'")
    return " ".join(parts) or "top level"


def _line_for(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int:
    """The 1-based line of the deepest node on the location path that exists."""
    if root is None:
        return 1
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = [kv for kv in node.value if isinstance(kv[0], yaml.ScalarNode) and kv[0].value == part]
            if not match:
                break
            line, node = match[0][0].start_mark.line + 1, match[0][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            line, node = node.value[part].start_mark.line + 1, node.value[part]
        else:
            break
    return line


def _billions(value: float) -> str:
    return f"{value * 1000:g}M" if value < 1 else f"{value:g}B"
