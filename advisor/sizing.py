"""Serving hardware sizing: weights by precision, KV cache, overhead, GPUs per replica and throughput per GPU.

Follows knowledge/guides/hardware-sizing.md: weights = params × bytes/param (total params for MoE), plus ~20%
overhead, plus KV cache = 2 × bytes × layers × kv_heads × head_dim × context × concurrency; divide by GPU
memory and round up to 1, 2, 4, 8 or whole 8-GPU nodes. Memory is GB (10^9 bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from advisor.catalog import Catalog, ModelEntry
from advisor.cost_assumptions import CALLER, PRECISIONS, Recorder, model_entry

__all__ = ["ReplicaSize", "choose_gpu", "open_model", "size_replica", "tensor_parallel"]

_SIZING = "knowledge/guides/hardware-sizing.md"


@dataclass(frozen=True)
class ReplicaSize:
    """What one serving replica needs: memory by component, GPUs, and throughput per GPU."""

    gpu: str
    precision: str
    context_tokens: int
    concurrency: int
    weights_gb: float
    overhead_gb: float
    kv_cache_gb: float
    kv_method: Literal["architecture", "approximation"]
    memory_gb: float
    gpus: int
    tokens_per_s_per_gpu: float


def open_model(catalog: Catalog, model_id: str) -> ModelEntry:
    """The catalog entry of a model that can be self-hosted; a one-line ValueError otherwise."""
    model = model_entry(catalog, model_id)
    if not model.open_weights:
        raise ValueError(f"model '{model.id}' is a closed-weights API model and cannot be self-hosted; "
                         "pass an open-weight model (e.g. gpt-oss-120b, qwen3-32b)")
    if model.params_total_b is None:
        raise ValueError(f"model '{model.id}' has no parameter count in the catalog; cannot size its hardware")
    return model


def choose_gpu(rec: Recorder, gpu: str | None) -> str:
    """The GPU type id to use (the argument or costs.yaml's default), recorded."""
    costs = rec.assumptions
    gpu_id = (gpu if gpu is not None else costs.default_gpu).strip().lower()
    spec = costs.gpu_spec(gpu_id)
    source = "argument" if gpu is not None else "knowledge/costs.yaml default_gpu"
    rec.note("gpu", gpu_id, f"GPU type ({spec.name})", source=source, date=CALLER if gpu is not None else costs.as_of)
    return gpu_id


def tensor_parallel(gpus: int) -> int:
    """Round a GPU count up to 1, 2, 4, 8 or a whole number of 8-GPU nodes."""
    if gpus <= 8:
        return next(size for size in (1, 2, 4, 8) if size >= max(gpus, 1))
    return 8 * math.ceil(gpus / 8)


def size_replica(rec: Recorder, model: ModelEntry, *, gpu: str | None, precision: str | None,
                 context: int | None, concurrency: int | None) -> ReplicaSize:
    """Size one replica of `model` on `gpu`, recording every input used."""
    gpu_id = choose_gpu(rec, gpu)
    chosen = _precision(rec, model, precision)
    total_b, active_b = _params(rec, model)
    weights = _weights_gb(rec, model, chosen, total_b)
    ctx = _whole_choice(rec, "context_tokens", context, limit=model.context_tokens, model_id=model.id)
    conc = _whole_choice(rec, "concurrency", concurrency)
    kv_token, kv_method = _kv_bytes_per_token(rec, model, active_b)
    kv_gb = kv_token * ctx * conc / 1e9
    overhead = weights * rec.value("overhead_fraction")
    memory = weights + overhead + kv_gb
    gpus = tensor_parallel(math.ceil(memory / rec.gpu(gpu_id, "memory_gb")))
    rec.note("tensor_parallel_sizes", "1, 2, 4, 8, then whole 8-GPU nodes", "GPUs per replica",
             source=f"{_SIZING} § Sizing a serving deployment step by step (step 5)", date=rec.assumptions.as_of,
             why="Tensor parallelism splits a model evenly within a node.")
    # Serving throughput: 2 × active params FLOPs per token (input or output) at a planned fraction of peak.
    per_gpu = rec.gpu(gpu_id, "peak_bf16_tflops") * 1e12 * rec.value("serving_mfu") / (2 * active_b * 1e9)
    return ReplicaSize(gpu_id, chosen, ctx, conc, weights, overhead, kv_gb, kv_method, memory, gpus, per_gpu)


def _precision(rec: Recorder, model: ModelEntry, precision: str | None) -> str:
    costs = rec.assumptions
    if precision is not None:
        chosen = precision.strip().lower()
        if chosen not in PRECISIONS:
            raise ValueError(f"unknown precision '{precision}'; expected one of {', '.join(PRECISIONS)}")
        rec.note("precision", chosen, "serving precision", source="argument", date=CALLER)
    elif (native := costs.native_precision.get(model.id)) is not None:
        chosen = native.value
        rec.note("precision", chosen, native.unit, source=native.source, date=native.date, why=native.why)
    else:
        chosen = costs.default_precision
        rec.note("precision", chosen, "serving precision", source="knowledge/costs.yaml default_precision",
                 date=costs.as_of, why="Most open weights are released and served in BF16.")
    return chosen


def _params(rec: Recorder, model: ModelEntry) -> tuple[float, float]:
    total = model.params_total_b
    if total is None:  # open_model() rejects these; kept for callers that skip it
        raise ValueError(f"model '{model.id}' has no parameter count in the catalog; cannot size its hardware")
    source = f"knowledge/models.yaml ({model.id}; {model.sources[0]})"
    rec.note("params_total_b", total, "billion parameters (all resident in memory)", source=source,
             date=model.as_of)
    active = model.params_active_b if model.params_active_b is not None else total
    rec.note("params_active_b", active, "billion parameters per token (compute)", source=source, date=model.as_of,
             why="MoE: memory scales with total parameters, compute with active ones.")
    return total, active


def _weights_gb(rec: Recorder, model: ModelEntry, precision: str, total_b: float) -> float:
    stated = getattr(model.weights_gb, precision) if model.weights_gb is not None else None
    weights = stated if stated is not None else total_b * PRECISIONS[precision]
    rec.note("weights_gb", weights, f"GB of weights at {precision}",
             source=f"knowledge/models.yaml ({model.id}): params_total_b × {PRECISIONS[precision]:g} bytes/param",
             date=model.as_of, why="Weights only; overhead and KV cache are added separately.")
    return weights


def _whole_choice(rec: Recorder, name: str, given: int | None, *, limit: int | None = None,
                  model_id: str = "") -> int:
    if given is None:
        value = int(rec.value(name))
        if limit is not None and value > limit:  # the planning default cannot exceed what the model accepts
            item = getattr(rec.assumptions.assumptions, name)
            rec.note(f"{name}_capped", limit, item.unit, source=f"knowledge/models.yaml ({model_id} context_tokens)",
                     date=rec.assumptions.as_of, why=f"The default {value:,} exceeds the model's context.")
            return limit
    else:
        if isinstance(given, bool) or not isinstance(given, int) or given < 1:
            raise ValueError(f"{name.removesuffix('_tokens')} must be a whole number of at least 1, got {given!r}")
        item = getattr(rec.assumptions.assumptions, name)
        rec.note(name, given, item.unit, source="argument", date=CALLER, why=item.why)
        value = given
    if limit is not None and value > limit:
        raise ValueError(f"context {value} exceeds the {limit:,}-token context of model '{model_id}'")
    return value


def _kv_bytes_per_token(rec: Recorder, model: ModelEntry,
                        active_b: float) -> tuple[float, Literal["architecture", "approximation"]]:
    per_element = rec.value("kv_bytes_per_element")
    shape = rec.assumptions.kv_architectures.get(model.id)
    if shape is not None:
        rec.note("kv_architecture", f"{shape.layers} layers × {shape.kv_heads} KV heads × head_dim {shape.head_dim}",
                 "attention shape (KV = 2 × bytes × layers × kv_heads × head_dim per token)", source=shape.source,
                 date=shape.date, why=shape.why)
        return 2 * per_element * shape.layers * shape.kv_heads * shape.head_dim, "architecture"
    coefficient = rec.value("kv_bytes_per_token_per_sqrt_b")
    return coefficient * math.sqrt(active_b) * per_element / 2, "approximation"
