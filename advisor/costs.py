"""Cost model: an API model vs self-hosting an open-weight model, per month and over years, and their break-even.

Units: token volumes are plain tokens per month (input + output); prices are USD per 1M tokens; memory is GB
(10^9 bytes). Every assumption comes from knowledge/costs.yaml or the catalog and is listed in each result.
Two ways to change an input, and only two: deployment choices are keyword arguments (`gpu`, `precision`,
`context`, `concurrency`, `years`), and any numeric assumption is replaced with
`overrides={"gpu_hourly_usd": 2.0, "utilisation": 0.7}` (names: `advisor.cost_assumptions.OVERRIDABLE`).
Fine-tuning, pre-training and the published reference runs live in advisor/training_costs.py, re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from advisor.catalog import Catalog
from advisor.cost_assumptions import (
    CALLER,
    CostAssumptions,
    Recorder,
    UsedAssumption,
    check_count,
    model_entry,
    resolve,
)
from advisor.sizing import open_model, size_replica
from advisor.training_costs import (
    FineTuneCost,
    PretrainCost,
    ReferenceCheck,
    ReferencePoint,
    fine_tune_cost,
    pretrain_cost,
    reference_check,
)

__all__ = [
    "ApiCost",
    "BreakEven",
    "Comparison",
    "CostSeries",
    "FineTuneCost",
    "PretrainCost",
    "ReferenceCheck",
    "ReferencePoint",
    "SelfHostCost",
    "SeriesPoint",
    "api_cost",
    "break_even",
    "compare",
    "cost_series",
    "fine_tune_cost",
    "pretrain_cost",
    "reference_check",
    "self_host_cost",
]

Overrides = Mapping[str, float] | None
_MTOK = 1e6
_STEP = 1e-9  # relative nudge from the top of one GPU-count step to the start of the next


def _as_dict(result: Any, *, assumptions: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(result):
        value = getattr(result, f.name)
        if f.name == "assumptions":
            if assumptions:
                out[f.name] = [a.as_dict() for a in value]
        elif hasattr(value, "as_dict"):
            out[f.name] = value.as_dict(assumptions=False)
        elif isinstance(value, tuple):
            out[f.name] = [v.as_dict() if hasattr(v, "as_dict") else v for v in value]
        else:
            out[f.name] = value
    return out


@dataclass(frozen=True)
class ApiCost:
    """Monthly and multi-year cost of serving a token volume through an API model."""

    model_id: str
    monthly_tokens: float
    input_tokens: float
    output_tokens: float
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    blended_usd_per_mtok: float
    token_usd: float
    staff_usd: float
    monthly_usd: float
    one_off_usd: float
    years: float
    total_usd: float
    assumptions: tuple[UsedAssumption, ...]
    price_source: str  # where the per-token prices came from, e.g. "litellm 1.110.2 model map (key gpt-5.1)"

    def as_dict(self, *, assumptions: bool = True) -> dict[str, Any]:
        """Plain JSON-ready fields, with the assumptions used unless told otherwise."""
        return _as_dict(self, assumptions=assumptions)


@dataclass(frozen=True)
class SelfHostCost:
    """Monthly and multi-year cost of self-hosting an open-weight model for a token volume."""

    model_id: str
    monthly_tokens: float
    gpu: str
    precision: str
    context_tokens: int
    concurrency: int
    weights_gb: float
    overhead_gb: float
    kv_cache_gb: float
    kv_method: Literal["architecture", "approximation"]
    memory_per_replica_gb: float
    gpus_per_replica: int
    tokens_per_s_per_gpu: float
    required_tokens_per_s: float
    replicas: int
    gpus: int
    capacity_monthly_tokens: float
    replica_capacity_monthly_tokens: float
    replica_monthly_usd: float
    gpu_hours: float
    gpu_usd: float
    staff_usd: float
    monthly_usd: float
    usd_per_mtok: float | None
    one_off_usd: float
    years: float
    total_usd: float
    assumptions: tuple[UsedAssumption, ...]

    def as_dict(self, *, assumptions: bool = True) -> dict[str, Any]:
        """Plain JSON-ready fields, with the assumptions used unless told otherwise."""
        return _as_dict(self, assumptions=assumptions)


def api_cost(model_id: str, monthly_tokens: float, *, years: float | None = None, catalog: Catalog | None = None,
             assumptions: CostAssumptions | None = None, overrides: Overrides = None) -> ApiCost:
    """Cost of `monthly_tokens` (input + output) through a catalog model's API price."""
    costs, cat = resolve(assumptions, catalog)
    volume = check_count("monthly_tokens", monthly_tokens)
    model = model_entry(cat, model_id)
    if model.is_retired():
        # A retired model's price is history: costing it would suggest an option that no longer exists.
        successor = cat.replacement(model.id)
        instead = f" (its successor is {successor.id})" if successor is not None else ""
        raise ValueError(f"model '{model.id}' was retired on {model.shutdown_date()}; choose a current API model"
                         f"{instead}")
    rec = Recorder(costs, overrides)
    price = model.price
    if price is None and not {"api_input_usd_per_mtok", "api_output_usd_per_mtok"} <= set(rec.overrides):
        raise ValueError(f"model '{model.id}' has no API price in the catalog; choose a priced model or pass "
                         "overrides api_input_usd_per_mtok and api_output_usd_per_mtok")
    if price is not None and price.source is not None:
        where = f"{price.source} (key {model.litellm}), read {price.date}"
        p_in = rec.fact("api_input_usd_per_mtok", price.input_per_mtok, "USD per 1M input tokens", source=where,
                        date=price.date)
        p_out = rec.fact("api_output_usd_per_mtok", price.output_per_mtok, "USD per 1M output tokens",
                         source=where, date=price.date)
    elif price is not None:
        where = f"knowledge/models.yaml ({model.id}: {price.note or 'list price'}; {model.sources[0]})"
        p_in = rec.fact("api_input_usd_per_mtok", price.input_per_mtok, "USD per 1M input tokens", source=where,
                        date=price.date)
        p_out = rec.fact("api_output_usd_per_mtok", price.output_per_mtok, "USD per 1M output tokens",
                         source=where, date=price.date)
    else:
        where = f"override (knowledge/models.yaml has no API price for {model.id})"
        p_in, p_out = rec.overrides["api_input_usd_per_mtok"], rec.overrides["api_output_usd_per_mtok"]
        rec.note("api_input_usd_per_mtok", p_in, "USD per 1M input tokens", source=where, date=CALLER)
        rec.note("api_output_usd_per_mtok", p_out, "USD per 1M output tokens", source=where, date=CALLER)
    share = rec.value("input_share")
    blended = share * p_in + (1 - share) * p_out
    fte_month = rec.value("staff_fte_annual_usd") / 12
    staff = rec.value("api_staff_fte") * fte_month
    one_off = rec.value("api_setup_fte_months") * fte_month
    span = _years(rec, years)
    token_usd = volume / _MTOK * blended
    monthly = token_usd + staff
    return ApiCost(model.id, volume, volume * share, volume * (1 - share), p_in, p_out, blended, token_usd, staff,
                   monthly, one_off, span, monthly * 12 * span + one_off, rec.used(), where)


def self_host_cost(model_id: str, monthly_tokens: float, *, gpu: str | None = None, precision: str | None = None,
                   context: int | None = None, concurrency: int | None = None, years: float | None = None,
                   catalog: Catalog | None = None, assumptions: CostAssumptions | None = None,
                   overrides: Overrides = None) -> SelfHostCost:
    """Cost of serving `monthly_tokens` on rented GPUs: enough memory per replica, enough replicas for throughput."""
    costs, cat = resolve(assumptions, catalog)
    volume = check_count("monthly_tokens", monthly_tokens)
    model = open_model(cat, model_id)
    rec = Recorder(costs, overrides)
    size = size_replica(rec, model, gpu=gpu, precision=precision, context=context, concurrency=concurrency)
    hours = rec.value("hours_per_month")
    seconds = hours * 3600
    replica_capacity = size.gpus * size.tokens_per_s_per_gpu * rec.value("utilisation") * seconds
    # The tiny tolerance keeps a volume exactly at a step's capacity inside that step despite rounding.
    needed = math.ceil(volume / replica_capacity * (1 - 1e-12)) if volume > 0 else 0
    replicas = max(int(rec.value("min_replicas")), needed)
    gpus = replicas * size.gpus
    hourly = rec.gpu(size.gpu, "hourly_usd")
    fte_month = rec.value("staff_fte_annual_usd") / 12
    staff = rec.value("self_host_staff_fte") * fte_month
    one_off = rec.value("self_host_setup_fte_months") * fte_month
    span = _years(rec, years)
    gpu_usd = gpus * hours * hourly
    monthly = gpu_usd + staff
    return SelfHostCost(
        model.id, volume, size.gpu, size.precision, size.context_tokens, size.concurrency, size.weights_gb,
        size.overhead_gb, size.kv_cache_gb, size.kv_method, size.memory_gb, size.gpus, size.tokens_per_s_per_gpu,
        volume / seconds, replicas, gpus, replicas * replica_capacity, replica_capacity, size.gpus * hours * hourly,
        gpus * hours, gpu_usd, staff, monthly, monthly / (volume / _MTOK) if volume > 0 else None, one_off, span,
        monthly * 12 * span + one_off, rec.used(),
    )


def _years(rec: Recorder, years: float | None) -> float:
    if years is None:
        return rec.value("horizon_years")
    if isinstance(years, bool) or not isinstance(years, int | float) or not math.isfinite(years) or years <= 0:
        raise ValueError(f"years must be a number greater than 0, got {years!r}")
    unit = rec.assumptions.assumptions.horizon_years.unit
    rec.note("horizon_years", years, unit, source="argument", date=CALLER,
             why="Multi-year totals = monthly × 12 × years + one-off costs.")
    return float(years)


@dataclass(frozen=True)
class BreakEven:
    """The monthly volume above which self-hosting stays cheaper than the API, or None with the reason."""

    api_model: str
    open_model: str
    gpu: str
    monthly_tokens: float | None
    reason: str | None
    gpus: int | None
    api_monthly_usd: float | None
    self_host_monthly_usd: float | None
    first_crossing_tokens: float | None
    api_blended_usd_per_mtok: float
    self_host_full_load_usd_per_mtok: float
    search_max_tokens: float
    assumptions: tuple[UsedAssumption, ...]

    def as_dict(self, *, assumptions: bool = True) -> dict[str, Any]:
        """Plain JSON-ready fields, with the assumptions used unless told otherwise."""
        return _as_dict(self, assumptions=assumptions)


def break_even(api_model: str, open_model: str, *, gpu: str | None = None, precision: str | None = None,
               context: int | None = None, concurrency: int | None = None, catalog: Catalog | None = None,
               assumptions: CostAssumptions | None = None, overrides: Overrides = None) -> BreakEven:
    """Lowest monthly volume from which self-hosting costs at most the API, found on the actual cost functions."""
    costs, cat = resolve(assumptions, catalog)

    def api(volume: float) -> ApiCost:
        return api_cost(api_model, volume, catalog=cat, assumptions=costs, overrides=overrides)

    def host(volume: float) -> SelfHostCost:
        return self_host_cost(open_model, volume, gpu=gpu, precision=precision, context=context,
                              concurrency=concurrency, catalog=cat, assumptions=costs, overrides=overrides)

    def gap(volume: float) -> float:
        return host(volume).monthly_usd - api(volume).monthly_usd

    first, price = host(0.0), api(0.0)
    rec = Recorder(costs, overrides)
    limit = rec.value("break_even_max_monthly_tokens")
    used = _merge(price.assumptions, first.assumptions, rec.used())
    per_token = price.blended_usd_per_mtok / _MTOK
    width = first.replica_capacity_monthly_tokens
    # Self-hosting is a step function: each extra replica adds `drift` to (self - API) per step of `width` tokens.
    drift = first.replica_monthly_usd - per_token * width
    full_load = first.replica_monthly_usd / width * _MTOK

    def result(volume: float | None, reason: str | None, crossing: float | None) -> BreakEven:
        at = (api(volume), host(volume)) if volume is not None else None
        return BreakEven(price.model_id, first.model_id, first.gpu, volume, reason, at[1].gpus if at else None,
                         at[0].monthly_usd if at else None, at[1].monthly_usd if at else None, crossing,
                         price.blended_usd_per_mtok, full_load, limit, used)

    never = (f"self-hosting never becomes cheaper: each extra replica costs ${first.replica_monthly_usd:,.0f} a month "
             f"but replaces only ${per_token * width:,.0f} of API spend (${full_load:.3g} vs "
             f"${price.blended_usd_per_mtok:.3g} per 1M tokens at full load)")

    def banded(at: float) -> str:
        return (f"self-hosting is cheaper only in bands from {at:.3g} tokens a month: each extra replica costs more "
                "than the API spend it replaces")

    beyond = f"self-hosting becomes cheaper only above the search limit of {limit:.3g} tokens a month"
    volume, candidate, crossing = 0.0, None, None
    for _ in range(10_000):
        step = host(volume)
        top = min(step.capacity_monthly_tokens, limit)
        start_gap, end_gap = gap(volume), step.monthly_usd - api(top).monthly_usd
        if start_gap <= 0:
            candidate = volume if candidate is None else candidate
        elif end_gap <= 0:
            candidate = _bisect(gap, volume, top)
        else:
            candidate = None
        crossing = candidate if crossing is None else crossing
        if top >= limit:
            return result(candidate, None if candidate is not None else beyond, crossing)
        # Gap just after the next step starts: the API has grown to `top`, self-hosting adds one replica.
        next_start_gap = end_gap + first.replica_monthly_usd
        if candidate is not None and next_start_gap <= 0 and drift <= 0:
            return result(candidate, None, crossing)  # every later step starts cheaper too
        if drift >= 0:  # the gap at the top of each step never shrinks again
            return result(None, never if crossing is None else banded(crossing), crossing)
        # Skip the steps that cannot settle it: each one lowers the gap by exactly |drift|.
        behind = end_gap if crossing is None and end_gap > 0 else next_start_gap
        skip = max(1, math.ceil(behind / -drift - 1e-9)) if behind > 0 else 1
        volume = (top + (skip - 1) * width) * (1 + _STEP)
        if volume > limit:
            return result(None, beyond, crossing)
    raise RuntimeError("break-even search did not settle")  # pragma: no cover - bounded by the skip logic


def _bisect(gap: Callable[[float], float], low: float, high: float) -> float:
    """Smallest volume in (low, high] where gap <= 0, given gap(low) > 0 >= gap(high) and one step in between."""
    for _ in range(200):
        if high - low <= 1e-12 * high:
            break
        middle = (low + high) / 2
        if gap(middle) <= 0:
            high = middle
        else:
            low = middle
    return high


def _merge(*groups: tuple[UsedAssumption, ...]) -> tuple[UsedAssumption, ...]:
    merged: dict[str, UsedAssumption] = {}
    for group in groups:
        for item in group:
            merged.setdefault(item.name, item)
    return tuple(merged.values())


@dataclass(frozen=True)
class SeriesPoint:
    """One volume on the cost-vs-volume curve."""

    monthly_tokens: float
    api_usd: float
    self_host_usd: float
    self_host_gpus: int

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return _as_dict(self)


@dataclass(frozen=True)
class CostSeries:
    """Monthly API and self-hosting cost on a log grid of volumes, for plots."""

    api_model: str
    open_model: str
    gpu: str
    points: tuple[SeriesPoint, ...]
    assumptions: tuple[UsedAssumption, ...]

    def as_dict(self, *, assumptions: bool = True) -> dict[str, Any]:
        """Plain JSON-ready fields, with the assumptions used unless told otherwise."""
        return _as_dict(self, assumptions=assumptions)


def cost_series(api_model: str, open_model: str, *, start: float = 1e6, stop: float = 1e12,
                points_per_decade: int = 4, gpu: str | None = None, precision: str | None = None,
                context: int | None = None, concurrency: int | None = None, catalog: Catalog | None = None,
                assumptions: CostAssumptions | None = None, overrides: Overrides = None) -> CostSeries:
    """Monthly cost of both options at volumes start..stop tokens/month, evenly spaced in log10."""
    if not (start > 0 and math.isfinite(stop) and stop > start):
        raise ValueError(f"need 0 < start < stop, got start={start!r}, stop={stop!r}")
    if isinstance(points_per_decade, bool) or not isinstance(points_per_decade, int) or points_per_decade < 1:
        raise ValueError(f"points_per_decade must be a whole number of at least 1, got {points_per_decade!r}")
    costs, cat = resolve(assumptions, catalog)
    count = round(math.log10(stop / start) * points_per_decade)
    volumes = [start * 10 ** (i / points_per_decade) for i in range(count + 1)]
    points, used = [], []
    for volume in volumes:
        a = api_cost(api_model, volume, catalog=cat, assumptions=costs, overrides=overrides)
        s = self_host_cost(open_model, volume, gpu=gpu, precision=precision, context=context,
                           concurrency=concurrency, catalog=cat, assumptions=costs, overrides=overrides)
        points.append(SeriesPoint(volume, a.monthly_usd, s.monthly_usd, s.gpus))
        used = [a.assumptions, s.assumptions]
    return CostSeries(a.model_id, s.model_id, s.gpu, tuple(points), _merge(*used))


@dataclass(frozen=True)
class Comparison:
    """API vs self-hosting at one volume: monthly and multi-year costs, and the break-even volume."""

    monthly_tokens: float
    years: float
    cheaper_monthly: Literal["api", "self_host"]
    cheaper_total: Literal["api", "self_host"]
    api: ApiCost
    self_host: SelfHostCost
    break_even: BreakEven
    assumptions: tuple[UsedAssumption, ...]

    def as_dict(self, *, assumptions: bool = True) -> dict[str, Any]:
        """Plain JSON-ready fields; the parts' assumptions are merged into one list."""
        return _as_dict(self, assumptions=assumptions)


def compare(api_model: str, open_model: str, monthly_tokens: float, *, years: float | None = None,
            gpu: str | None = None, precision: str | None = None, context: int | None = None,
            concurrency: int | None = None, catalog: Catalog | None = None,
            assumptions: CostAssumptions | None = None, overrides: Overrides = None) -> Comparison:
    """Both options at `monthly_tokens` over `years`, plus the break-even volume between them."""
    costs, cat = resolve(assumptions, catalog)
    shared: dict[str, Any] = {"catalog": cat, "assumptions": costs, "overrides": overrides}
    sizing: dict[str, Any] = {"gpu": gpu, "precision": precision, "context": context, "concurrency": concurrency}
    api = api_cost(api_model, monthly_tokens, years=years, **shared)
    host = self_host_cost(open_model, monthly_tokens, years=years, **sizing, **shared)
    even = break_even(api_model, open_model, **sizing, **shared)
    return Comparison(
        api.monthly_tokens, api.years, "api" if api.monthly_usd <= host.monthly_usd else "self_host",
        "api" if api.total_usd <= host.total_usd else "self_host", api, host, even,
        _merge(api.assumptions, host.assumptions, even.assumptions),
    )
