"""Training costs: fine-tuning runs, pre-training runs (6·N·D FLOPs), and a check against published runs.

FLOPs / (peak dense BF16 FLOP/s × MFU × 3600) gives GPU-hours; GPU-hours × the hourly price gives dollars.
Choices are keyword arguments (`method`, `train_tokens`, `epochs`, `gpu`, `gpus`); numeric assumptions are
changed with `overrides={"mfu": 0.35}`, exactly as in advisor.costs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from advisor.catalog import Catalog
from advisor.cost_assumptions import (
    CALLER,
    CostAssumptions,
    Recorder,
    UsedAssumption,
    load_cost_assumptions,
    model_entry,
    resolve,
)
from advisor.sizing import choose_gpu, tensor_parallel

__all__ = [
    "FineTuneCost",
    "PretrainCost",
    "ReferenceCheck",
    "ReferencePoint",
    "fine_tune_cost",
    "pretrain_cost",
    "reference_check",
]

Method = Literal["lora", "qlora", "full"]
_FLOPS_NAME = {"full": "flops_per_param_token", "lora": "lora_flops_per_param_token",
               "qlora": "qlora_flops_per_param_token"}
_MEMORY_NAME = {"full": "full_ft_memory_bytes_per_param", "lora": "lora_memory_bytes_per_param",
                "qlora": "qlora_memory_bytes_per_param"}


def _plain(result: Any, *, assumptions: bool) -> dict[str, Any]:
    out = asdict(result)
    if assumptions:
        out["assumptions"] = [a.as_dict() for a in result.assumptions]
    else:
        out.pop("assumptions")
    return out


def _gpu_hours(flops: float, peak_tflops: float, mfu: float) -> float:
    return flops / (peak_tflops * 1e12 * mfu * 3600)


def _choice(rec: Recorder, name: str, given: float | None, label: str) -> float:
    if given is None:
        return rec.value(name)
    if isinstance(given, bool) or not isinstance(given, int | float) or not math.isfinite(given) or given <= 0:
        raise ValueError(f"{label} must be a number greater than 0, got {given!r}")
    item = getattr(rec.assumptions.assumptions, name)
    rec.note(name, float(given), item.unit, source="argument", date=CALLER, why=item.why)
    return float(given)


@dataclass(frozen=True)
class FineTuneCost:
    """One-off cost of a fine-tuning project: GPU-hours over all runs, and the staff around them."""

    model_id: str
    method: str
    train_tokens: float
    epochs: float
    params_active_b: float
    params_total_b: float
    gpu: str
    flops_per_run: float
    gpu_hours_per_run: float
    runs: int
    gpu_hours: float
    memory_gb: float
    gpus_needed: int
    wall_clock_hours_per_run: float
    compute_usd: float
    staff_usd: float
    total_usd: float
    assumptions: tuple[UsedAssumption, ...]

    def as_dict(self, *, assumptions: bool = True) -> dict[str, Any]:
        """Plain JSON-ready fields, with the assumptions used unless told otherwise."""
        return _plain(self, assumptions=assumptions)


def fine_tune_cost(model_id: str, *, method: str = "lora", train_tokens: float | None = None,
                   epochs: float | None = None, gpu: str | None = None, catalog: Catalog | None = None,
                   assumptions: CostAssumptions | None = None,
                   overrides: Mapping[str, float] | None = None) -> FineTuneCost:
    """Fine-tuning an open-weight catalog model with LoRA, QLoRA or full fine-tuning."""
    costs, cat = resolve(assumptions, catalog)
    if method not in _FLOPS_NAME:
        raise ValueError(f"unknown fine-tuning method '{method}'; expected lora, qlora or full")
    model = model_entry(cat, model_id)
    if not model.open_weights or model.params_total_b is None:
        what = "a closed-weights API model" if not model.open_weights else "missing its parameter count"
        raise ValueError(f"model '{model.id}' is {what}; fine-tuning here needs an open-weight model with known size")
    rec = Recorder(costs, overrides)
    gpu_id = choose_gpu(rec, gpu)
    tokens = _choice(rec, "fine_tune_train_tokens", train_tokens, "train_tokens")
    passes = _choice(rec, "fine_tune_epochs", epochs, "epochs")
    total_b = model.params_total_b
    active_b = model.params_active_b if model.params_active_b is not None else total_b
    rec.note("params_active_b", active_b, "billion parameters per token (compute)",
             source=f"knowledge/models.yaml ({model.id}; {model.sources[0]})", date=model.as_of)
    rec.note("params_total_b", total_b, "billion parameters (all resident in memory)",
             source=f"knowledge/models.yaml ({model.id}; {model.sources[0]})", date=model.as_of)
    flops = rec.value(_FLOPS_NAME[method]) * active_b * 1e9 * tokens * passes
    per_run = _gpu_hours(flops, rec.gpu(gpu_id, "peak_bf16_tflops"), rec.value("fine_tune_mfu"))
    if method == "qlora":
        per_run *= rec.value("qlora_time_factor")
    runs = int(rec.value("fine_tune_runs"))
    memory = total_b * rec.value(_MEMORY_NAME[method])
    gpus = tensor_parallel(math.ceil(memory / rec.gpu(gpu_id, "memory_gb")))
    compute = per_run * runs * rec.gpu(gpu_id, "hourly_usd")
    staff = rec.value("fine_tune_staff_fte_months") * rec.value("staff_fte_annual_usd") / 12
    return FineTuneCost(model.id, method, tokens, passes, active_b, total_b, gpu_id, flops, per_run, runs,
                        per_run * runs, memory, gpus, per_run / gpus, compute, staff, compute + staff, rec.used())


@dataclass(frozen=True)
class PretrainCost:
    """One-off cost of pre-training: the final run from 6·N·D, experiments, data and the team."""

    params_b: float
    tokens_b: float
    gpu: str
    flops: float
    gpu_hours: float
    compute_usd: float
    extra_compute_usd: float
    data_usd: float
    staff_usd: float
    total_usd: float
    state_memory_gb: float
    min_gpus_for_state: int
    gpus: int | None
    wall_clock_days: float | None
    assumptions: tuple[UsedAssumption, ...]

    def as_dict(self, *, assumptions: bool = True) -> dict[str, Any]:
        """Plain JSON-ready fields, with the assumptions used unless told otherwise."""
        return _plain(self, assumptions=assumptions)


def pretrain_cost(params_b: float, tokens_b: float, *, gpu: str | None = None, gpus: int | None = None,
                  total_params_b: float | None = None, assumptions: CostAssumptions | None = None,
                  overrides: Mapping[str, float] | None = None) -> PretrainCost:
    """Pre-training `params_b` (active) billion parameters on `tokens_b` billion tokens, with data and staff."""
    for name, value in (("params_b", params_b), ("tokens_b", tokens_b), ("total_params_b", total_params_b)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value) or value <= 0):
            raise ValueError(f"{name} must be a number greater than 0, got {value!r}")
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1):
        raise ValueError(f"gpus must be a whole number of at least 1, got {gpus!r}")
    costs = assumptions if assumptions is not None else load_cost_assumptions()
    rec = Recorder(costs, overrides)
    gpu_id = choose_gpu(rec, gpu)
    flops = rec.value("flops_per_param_token") * params_b * 1e9 * tokens_b * 1e9
    hours = _gpu_hours(flops, rec.gpu(gpu_id, "peak_bf16_tflops"), rec.value("mfu"))
    compute = hours * rec.gpu(gpu_id, "hourly_usd")
    extra = compute * rec.value("pretrain_extra_compute_fraction")
    data = tokens_b * rec.value("pretrain_data_usd_per_b_tokens")
    staff = rec.value("pretrain_team_fte") * rec.value("pretrain_months") * rec.value("staff_fte_annual_usd") / 12
    state = (total_params_b or params_b) * rec.value("training_bytes_per_param")
    min_gpus = max(1, math.ceil(state / rec.gpu(gpu_id, "memory_gb")))
    days = hours / gpus / 24 if gpus else None
    return PretrainCost(float(params_b), float(tokens_b), gpu_id, flops, hours, compute, extra, data, staff,
                        compute + extra + data + staff, state, min_gpus, gpus, days, rec.used())


@dataclass(frozen=True)
class ReferencePoint:
    """The formula against one published run: ratio = formula GPU-hours / published GPU-hours."""

    id: str
    name: str
    params_b: float
    tokens_b: float
    gpu: str
    flops: float
    formula_gpu_hours: float
    published_gpu_hours: float
    ratio: float
    usd_per_gpu_hour: float
    formula_usd: float
    published_usd: float
    published_usd_derived: bool
    date: str
    source: str
    caveat: str

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class ReferenceCheck:
    """The pre-training formula checked against every published run in costs.yaml."""

    points: tuple[ReferencePoint, ...]
    mfu: float
    min_ratio: float
    max_ratio: float
    geometric_mean_ratio: float
    assumptions: tuple[UsedAssumption, ...]

    def as_dict(self, *, assumptions: bool = True) -> dict[str, Any]:
        """Plain JSON-ready fields, with the assumptions used unless told otherwise."""
        return _plain(self, assumptions=assumptions)


def reference_check(*, assumptions: CostAssumptions | None = None,
                    overrides: Mapping[str, float] | None = None) -> ReferenceCheck:
    """Compare 6·N·D / (peak × MFU) GPU-hours with each published run (an override of a GPU field applies to all)."""
    costs = assumptions if assumptions is not None else load_cost_assumptions()
    rec = Recorder(costs, overrides)
    k, mfu = rec.value("flops_per_param_token"), rec.value("mfu")
    points = []
    for ref in costs.references:
        flops = k * ref.params_b * 1e9 * ref.tokens_b * 1e9
        hours = _gpu_hours(flops, rec.gpu(ref.gpu, "peak_bf16_tflops", tagged=True), mfu)
        published_usd = ref.published_usd or ref.published_gpu_hours * ref.usd_per_gpu_hour
        points.append(ReferencePoint(
            ref.id, ref.name, ref.params_b, ref.tokens_b, ref.gpu, flops, hours, ref.published_gpu_hours,
            hours / ref.published_gpu_hours, ref.usd_per_gpu_hour, hours * ref.usd_per_gpu_hour, published_usd,
            ref.published_usd is None, ref.date, ref.source, ref.caveat,
        ))
    ratios = [p.ratio for p in points]
    mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    return ReferenceCheck(tuple(points), mfu, min(ratios), max(ratios), mean, rec.used())
