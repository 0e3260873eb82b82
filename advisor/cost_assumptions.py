"""The cost model's assumptions: the schema of knowledge/costs.yaml, its loader, and per-call overrides."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from advisor.catalog import DEFAULT_CATALOG_PATH, Catalog, ModelEntry, load_catalog

__all__ = [
    "DEFAULT_COSTS_PATH",
    "OVERRIDABLE",
    "PRECISIONS",
    "CostAssumptions",
    "CostAssumptionsError",
    "Recorder",
    "UsedAssumption",
    "check_count",
    "load_cost_assumptions",
    "model_entry",
    "resolve",
]

DEFAULT_COSTS_PATH = Path(__file__).resolve().parents[1] / "knowledge" / "costs.yaml"
PRECISIONS: dict[str, float] = {"bf16": 2.0, "fp8": 1.0, "int4": 0.5}  # bytes per parameter (hardware-sizing.md)
CALLER = "caller-supplied"


class CostAssumptionsError(ValueError):
    """costs.yaml cannot be read or validated; the message names the file, line and field."""


def _date_to_text(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


DateText = Annotated[str, BeforeValidator(_date_to_text), Field(min_length=4)]
Text = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Assumption(_Strict):
    """One numeric assumption with its unit, the date of its source, the source and why."""

    value: float = Field(strict=True)
    unit: Text
    date: DateText
    source: Text
    why: Text


class PrecisionAssumption(_Strict):
    """A model's native serving precision, sourced."""

    value: Literal["bf16", "fp8", "int4"]
    unit: Text
    date: DateText
    source: Text
    why: Text


class Scalars(_Strict):
    """The named scalar assumptions; every one is required and no other name is allowed."""

    input_share: Assumption
    api_staff_fte: Assumption
    api_setup_fte_months: Assumption
    hours_per_month: Assumption
    staff_fte_annual_usd: Assumption
    self_host_staff_fte: Assumption
    self_host_setup_fte_months: Assumption
    utilisation: Assumption
    serving_mfu: Assumption
    min_replicas: Assumption
    overhead_fraction: Assumption
    context_tokens: Assumption
    concurrency: Assumption
    kv_bytes_per_element: Assumption
    kv_bytes_per_token_per_sqrt_b: Assumption
    mfu: Assumption
    flops_per_param_token: Assumption
    training_bytes_per_param: Assumption
    pretrain_extra_compute_fraction: Assumption
    pretrain_data_usd_per_b_tokens: Assumption
    pretrain_team_fte: Assumption
    pretrain_months: Assumption
    fine_tune_mfu: Assumption
    lora_flops_per_param_token: Assumption
    qlora_flops_per_param_token: Assumption
    qlora_time_factor: Assumption
    full_ft_memory_bytes_per_param: Assumption
    lora_memory_bytes_per_param: Assumption
    qlora_memory_bytes_per_param: Assumption
    fine_tune_runs: Assumption
    fine_tune_staff_fte_months: Assumption
    fine_tune_train_tokens: Assumption
    fine_tune_epochs: Assumption
    horizon_years: Assumption
    break_even_max_monthly_tokens: Assumption

    @field_validator("*")
    @classmethod
    def _check_value(cls, item: Assumption, info: ValidationInfo) -> Assumption:
        check_value(str(info.field_name), item.value)
        return item


class GpuSpec(_Strict):
    """A GPU type: memory, peak dense BF16 throughput and hourly price, each sourced."""

    name: Text
    memory_gb: Assumption
    peak_bf16_tflops: Assumption
    hourly_usd: Assumption

    @field_validator("memory_gb", "peak_bf16_tflops", "hourly_usd")
    @classmethod
    def _check_value(cls, item: Assumption, info: ValidationInfo) -> Assumption:
        check_value(str(info.field_name), item.value)
        return item


class KvArchitecture(_Strict):
    """The attention shape that sets a model's KV cache per token."""

    layers: int = Field(ge=1)
    kv_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)
    date: DateText
    source: Text
    why: Text


class ReferenceRun(_Strict):
    """A published pre-training run: parameters, tokens, GPU type and reported GPU-hours."""

    id: Text
    name: Text
    params_b: float = Field(gt=0)
    tokens_b: float = Field(gt=0)
    gpu: Text
    published_gpu_hours: float = Field(gt=0)
    usd_per_gpu_hour: float = Field(gt=0)
    published_usd: float | None = Field(gt=0)
    date: DateText
    source: Text
    caveat: Text


class CostAssumptions(_Strict):
    """Everything the cost model assumes, as loaded from knowledge/costs.yaml."""

    version: Literal[1]
    as_of: DateText
    default_gpu: Text
    assumptions: Scalars
    gpus: dict[str, GpuSpec] = Field(min_length=1)
    default_precision: Literal["bf16", "fp8", "int4"]
    native_precision: dict[str, PrecisionAssumption]
    kv_architectures: dict[str, KvArchitecture]
    references: list[ReferenceRun] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_links(self) -> CostAssumptions:
        if self.default_gpu not in self.gpus:
            raise ValueError(f"field 'default_gpu': '{self.default_gpu}' is not in gpus")
        seen: set[str] = set()
        for index, ref in enumerate(self.references):
            if ref.gpu not in self.gpus:
                raise ValueError(f"field 'references[{index}].gpu': '{ref.gpu}' is not in gpus")
            if ref.id in seen:
                raise ValueError(f"field 'references[{index}].id': duplicate id '{ref.id}'")
            seen.add(ref.id)
        return self

    def gpu_spec(self, gpu: str) -> GpuSpec:
        """The GPU type with this id; ValueError naming the known ones otherwise."""
        key = gpu.strip().lower()
        if key not in self.gpus:
            raise ValueError(f"unknown GPU '{gpu}'; known: {', '.join(self.gpus)}")
        return self.gpus[key]


# Bounds shared by the file and by overrides: fractions, whole numbers, and divisors that must be positive.
_UNIT_INTERVAL = {"input_share"}
_FRACTION = {"utilisation", "serving_mfu", "mfu", "fine_tune_mfu"}
_WHOLE = {"min_replicas", "fine_tune_runs", "context_tokens", "concurrency"}
_POSITIVE = {
    "hours_per_month", "gpu_memory_gb", "gpu_peak_tflops", "kv_bytes_per_element", "kv_bytes_per_token_per_sqrt_b",
    "flops_per_param_token", "lora_flops_per_param_token", "qlora_flops_per_param_token", "qlora_time_factor",
    "full_ft_memory_bytes_per_param", "lora_memory_bytes_per_param", "qlora_memory_bytes_per_param",
    "training_bytes_per_param", "break_even_max_monthly_tokens", "fine_tune_train_tokens", "fine_tune_epochs",
    "horizon_years", "pretrain_months", "memory_gb", "peak_bf16_tflops",
}
# Deployment choices (context, concurrency, horizon, fine-tuning volume) are keyword arguments, not overrides.
_CHOICES = {"context_tokens", "concurrency", "horizon_years", "fine_tune_train_tokens", "fine_tune_epochs"}
_GPU_FIELDS = ("memory_gb", "peak_bf16_tflops", "hourly_usd")
_EXTRA_OVERRIDES = {
    "gpu_hourly_usd": "USD per GPU-hour",
    "gpu_memory_gb": "GB per GPU",
    "gpu_peak_tflops": "TFLOP/s dense BF16",
    "api_input_usd_per_mtok": "USD per 1M input tokens",
    "api_output_usd_per_mtok": "USD per 1M output tokens",
}
OVERRIDABLE: tuple[str, ...] = tuple(
    sorted({*Scalars.model_fields, *_EXTRA_OVERRIDES} - _CHOICES)
)


def check_value(name: str, value: float, *, prefix: str = "") -> None:
    """Raise ValueError unless `value` is a finite number in the range that assumption `name` allows."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{prefix}{name} must be a finite number, got {value!r}")
    if name in _UNIT_INTERVAL and not 0 <= value <= 1:
        raise ValueError(f"{prefix}{name} must be between 0 and 1, got {value:g}")
    if name in _FRACTION and not 0 < value <= 1:
        raise ValueError(f"{prefix}{name} must be above 0 and at most 1, got {value:g}")
    if name in _WHOLE and (value < 1 or value != int(value)):
        raise ValueError(f"{prefix}{name} must be a whole number of at least 1, got {value:g}")
    if name in _POSITIVE and value <= 0:
        raise ValueError(f"{prefix}{name} must be greater than 0, got {value:g}")
    if value < 0:
        raise ValueError(f"{prefix}{name} must not be negative, got {value:g}")


@dataclass(frozen=True)
class UsedAssumption:
    """One assumption a calculation actually used, with its provenance."""

    name: str
    value: float | str
    unit: str
    source: str
    date: str
    why: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return {"name": self.name, "value": self.value, "unit": self.unit, "source": self.source,
                "date": self.date, "why": self.why}


class Recorder:
    """Hands out assumption values for one calculation (overrides first) and records each one used."""

    def __init__(self, assumptions: CostAssumptions, overrides: Mapping[str, float] | None = None) -> None:
        self.assumptions = assumptions
        self.overrides: dict[str, float] = {}
        for name, value in (overrides or {}).items():
            if name not in OVERRIDABLE:
                raise ValueError(f"unknown override '{name}'; overridable: {', '.join(OVERRIDABLE)}")
            check_value(name, value, prefix="override ")
            self.overrides[name] = float(value)
        self._used: dict[str, UsedAssumption] = {}

    def value(self, name: str) -> float:
        """The value of scalar assumption `name` (an override if given), recorded."""
        item: Assumption = getattr(self.assumptions.assumptions, name)
        return self._take(name, item, label=name)

    def gpu(self, gpu: str, field: str, *, tagged: bool = False) -> float:
        """A field of a GPU type (override `gpu_<field>` if given); `tagged` names the GPU in the record."""
        if field not in _GPU_FIELDS:
            raise ValueError(f"unknown GPU field '{field}'")
        spec = self.assumptions.gpu_spec(gpu)
        key = "gpu_peak_tflops" if field == "peak_bf16_tflops" else f"gpu_{field}"
        label = f"{key}[{gpu}]" if tagged else key
        item: Assumption = getattr(spec, field)
        unit = f"{item.unit} ({spec.name})"
        return self._take(key, item.model_copy(update={"unit": unit}), label=label)

    def fact(self, name: str, value: float, unit: str, *, source: str, date: str, why: str = "") -> float:
        """A catalog-backed input (an override of `name` if given), recorded."""
        if name in self.overrides:
            value, source, date = self.overrides[name], f"override (catalog: {value:g}; {source})", CALLER
        self.note(name, value, unit, source=source, date=date, why=why)
        return value

    def note(self, name: str, value: float | str, unit: str, *, source: str, date: str, why: str = "") -> None:
        """Record an input that is not an overridable assumption (a catalog fact, a caller's choice)."""
        self._used.setdefault(name, UsedAssumption(name, value, unit, source, date, why))

    def used(self) -> tuple[UsedAssumption, ...]:
        """The recorded assumptions, in the order first used."""
        return tuple(self._used.values())

    def _take(self, key: str, item: Assumption, *, label: str) -> float:
        if key in self.overrides:
            value = self.overrides[key]
            record = UsedAssumption(label, value, item.unit, f"override (costs.yaml: {item.value:g}, {item.source})",
                                    CALLER, item.why)
        else:
            value = item.value
            record = UsedAssumption(label, value, item.unit, item.source, item.date, item.why)
        self._used.setdefault(label, record)
        return value


def resolve(assumptions: CostAssumptions | None, catalog: Catalog | None) -> tuple[CostAssumptions, Catalog]:
    """The given assumptions and catalog, or the shipped ones (each loaded once per file version)."""
    if catalog is None:
        catalog = load_catalog(DEFAULT_CATALOG_PATH)
    return (assumptions if assumptions is not None else load_cost_assumptions()), catalog


def model_entry(catalog: Catalog, model_id: str) -> ModelEntry:
    """The catalog entry for `model_id`; a one-line ValueError for an unknown id."""
    try:
        return catalog.get(model_id)
    except KeyError:
        raise ValueError(f"unknown model id '{model_id}'; see `advisor models` for the catalog ids") from None


def check_count(name: str, value: float) -> float:
    """A token count or similar volume: finite and not negative, else a one-line ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of at least 0, got {value!r}")
    return float(value)


def load_cost_assumptions(path: Path | None = None) -> CostAssumptions:
    """Load and validate costs.yaml (default: the shipped one); cached until the file changes."""
    source = DEFAULT_COSTS_PATH if path is None else Path(path)
    try:
        stamp = source.stat().st_mtime_ns
    except OSError as exc:
        raise CostAssumptionsError(f"{source}: cannot read cost assumptions: {exc.strerror or exc}") from None
    return _load(str(source), stamp)


@lru_cache(maxsize=8)
def _load(path: str, _stamp: int) -> CostAssumptions:
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CostAssumptionsError(f"{source}: cannot read cost assumptions: {exc.strerror or exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CostAssumptionsError(f"{source}: malformed YAML: {exc}".replace("\n", " ")) from None
    try:
        return CostAssumptions.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc: tuple[Any, ...] = tuple(err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if not loc and (named := re.match(r"field '([^']+)': ", message)):  # a cross-field check names its field
            loc = tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", named.group(1)) if p)
            message = message[named.end():]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        where = f"field '{path}': " if loc else ""
        raise CostAssumptionsError(f"{source}:{_line_for(root, loc)}: {where}{message}") from None


def _line_for(root: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest node on the location path that exists."""
    if root is None:
        return 1
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line
