"""The cost model: hand-computed cases, units, the break-even crossing, overrides, provenance, errors and the CLI.

Units used throughout: token volumes are plain tokens per month (input + output), prices USD per 1M tokens,
memory GB = 10^9 bytes (never GiB), GPU-hours are hours of one GPU. Defaults are the shipped knowledge/costs.yaml:
H100 $2.50/h, 80 GB, 989 dense BF16 TFLOP/s; 80/20 input/output; 0.5 FTE at $200,000/year; serving MFU 0.10;
utilisation 0.5; at least 2 replicas; 730 h a month; 20% overhead; 8,192-token context × 16 sequences.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from advisor.catalog import Catalog, ModelEntry, load_catalog
from advisor.cli_costs import add_costs_parser, cmd_costs, parse_tokens
from advisor.cost_assumptions import (
    DEFAULT_COSTS_PATH,
    OVERRIDABLE,
    CostAssumptions,
    CostAssumptionsError,
    load_cost_assumptions,
)
from advisor.costs import (
    api_cost,
    break_even,
    compare,
    cost_series,
    fine_tune_cost,
    pretrain_cost,
    reference_check,
    self_host_cost,
)

FTE_MONTH = 200_000 / 12  # $16,666.67
H100_HOUR = 2.50
SECONDS = 730 * 3600  # 2,628,000 seconds in a 730-hour month


# The catalog as it stood when these figures were worked out: models whose shutdown falls after that day (GPT-4.1
# and GPT-4.1 mini on 2027-01-14, GPT-5.1 on 2027-04-01) stay current here, so the hand-computed figures do not
# expire with them; retirement is checked with models retired by then (Claude Opus 4) and with retired_catalog.
PINNED = dt.date(2026, 12, 4)


def as_on(catalog: Catalog, day: dt.date) -> Catalog:
    """The catalog with every shutdown after `day` undone (prices as loaded)."""
    def current(m: ModelEntry) -> ModelEntry:
        shutdown = m.shutdown_date()
        return m if shutdown is None or shutdown <= day else m.model_copy(update={"retired": None,
                                                                                   "map_shutdown": None})
    return catalog.model_copy(update={"models": [current(m) for m in catalog.models]})


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return as_on(load_catalog(), PINNED)


@pytest.fixture
def pinned_cli(monkeypatch: pytest.MonkeyPatch, cat: Catalog) -> None:
    """`advisor costs` reads the pinned catalog (it loads the catalog when it runs)."""
    import advisor.catalog

    monkeypatch.setattr(advisor.catalog, "load_catalog", lambda *args, **kwargs: cat)


@pytest.fixture(scope="module")
def costs() -> CostAssumptions:
    return load_cost_assumptions()


def _kw(cat: Catalog, costs: CostAssumptions, **extra: Any) -> dict[str, Any]:
    return {"catalog": cat, "assumptions": costs, **extra}


# --- API ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "monthly_usd"), [
    # The costs guide's worked volume: 500M tokens = 400M input + 100M output (millions × $ per 1M tokens),
    # at litellm's map prices (tests/test_prices.py checks they are the map's).
    ("gpt-4.1-mini", 400 * 0.40 + 100 * 1.60),  # $320
    ("gpt-4.1", 400 * 2.00 + 100 * 8.00),  # $1,600
    ("gpt-5.1", 400 * 1.25 + 100 * 10),  # $1,500
    ("claude-haiku-4-5", 400 * 1 + 100 * 5),  # $900
    ("claude-sonnet-5", 400 * 2 + 100 * 10),  # $1,800
    ("claude-opus-5", 400 * 5 + 100 * 25),  # $4,500
])
def test_api_cost_matches_the_guides_worked_example(cat: Catalog, costs: CostAssumptions, model: str,
                                                    monthly_usd: float) -> None:
    result = api_cost(model, 500e6, **_kw(cat, costs))
    assert result.input_tokens == pytest.approx(400e6) and result.output_tokens == pytest.approx(100e6)
    assert result.token_usd == pytest.approx(monthly_usd)
    assert result.monthly_usd == pytest.approx(monthly_usd)  # no API staff by default


def test_api_units_are_tokens_not_millions_and_totals_add_one_off(cat: Catalog, costs: CostAssumptions) -> None:
    one_million = api_cost("gpt-4.1", 1e6, **_kw(cat, costs))
    assert one_million.blended_usd_per_mtok == pytest.approx(0.8 * 2 + 0.2 * 8)  # $3.20, the guide's blend
    assert one_million.monthly_usd == pytest.approx(3.20)  # 1M tokens cost the blended price, not a million times it
    three_years = api_cost("gpt-4.1-mini", 500e6, years=3, **_kw(cat, costs))
    # 36 months × $320 + one-off 0.5 FTE-month ($8,333.33) = $11,520 + $8,333.33
    assert three_years.total_usd == pytest.approx(36 * 320 + 0.5 * FTE_MONTH)


def test_api_cost_is_linear_in_volume(cat: Catalog, costs: CostAssumptions) -> None:
    base = api_cost("gpt-4.1", 1e8, **_kw(cat, costs))
    for factor in (0.0, 0.5, 3.0, 1000.0):
        scaled = api_cost("gpt-4.1", 1e8 * factor, **_kw(cat, costs))
        assert scaled.token_usd == pytest.approx(base.token_usd * factor)
        assert scaled.monthly_usd - scaled.staff_usd == pytest.approx(factor * (base.monthly_usd - base.staff_usd))


# --- self-hosting ---------------------------------------------------------------------------------------------

def test_self_host_gpt_oss_120b_by_hand(cat: Catalog, costs: CostAssumptions) -> None:
    result = self_host_cost("gpt-oss-120b", 500e6, **_kw(cat, costs))
    # Native MXFP4 ≈ int4: 116.8B × 0.5 bytes = 58.4 GB; overhead 20% = 11.68 GB.
    assert result.precision == "int4"
    assert result.weights_gb == pytest.approx(58.4) and result.overhead_gb == pytest.approx(11.68)
    # KV: 2 × 2 bytes × 36 layers × 8 KV heads × 64 head_dim = 73,728 B/token × 8,192 × 16 = 9.664 GB (10^9 B).
    assert result.kv_method == "architecture"
    assert result.kv_cache_gb == pytest.approx(73_728 * 8192 * 16 / 1e9)
    # 58.4 + 11.68 + 9.66 = 79.74 GB -> ceil(79.74 / 80) = 1 H100 per replica (the vendor's "single 80 GB GPU").
    assert result.memory_per_replica_gb == pytest.approx(79.7437, abs=1e-3) and result.gpus_per_replica == 1
    # Throughput 989e12 × 0.10 / (2 × 5.1e9) = 9,696 tokens/s per GPU; 500M / 2.628M s = 190 tokens/s needed.
    assert result.tokens_per_s_per_gpu == pytest.approx(989e12 * 0.10 / (2 * 5.1e9))
    assert result.required_tokens_per_s == pytest.approx(500e6 / SECONDS)
    # One replica would do, but availability needs two: 2 GPUs × 730 h × $2.50 = $3,650; staff 0.5 FTE = $8,333.
    assert (result.replicas, result.gpus) == (2, 2)
    assert result.gpu_hours == pytest.approx(1460) and result.gpu_usd == pytest.approx(3650)
    assert result.staff_usd == pytest.approx(0.5 * FTE_MONTH)
    assert result.monthly_usd == pytest.approx(3650 + 0.5 * FTE_MONTH)  # ≈ $12,000, as in the costs guide
    # Three years: 36 × $11,983.33 + setup 2 FTE-months ($33,333.33).
    assert result.total_usd == pytest.approx(36 * (3650 + 0.5 * FTE_MONTH) + 2 * FTE_MONTH)


def test_self_host_qwen3_32b_by_hand_and_gb_not_gib(cat: Catalog, costs: CostAssumptions) -> None:
    result = self_host_cost("qwen3-32b", 500e6, **_kw(cat, costs))
    # BF16: 32.8B × 2 = 65.6 GB; overhead 13.12 GB; KV 2 × 2 × 64 × 8 × 128 = 262,144 B/token.
    kv_bytes = 262_144 * 8192 * 16
    assert result.kv_cache_gb == pytest.approx(kv_bytes / 1e9)  # 34.36 GB; in GiB it would be exactly 32
    assert result.kv_cache_gb != pytest.approx(kv_bytes / 2**30)
    # 65.6 + 13.12 + 34.36 = 113.08 GB -> ceil(1.41) = 2 H100s per replica; 2 replicas -> 4 GPUs.
    assert (result.gpus_per_replica, result.replicas, result.gpus) == (2, 2, 4)
    assert result.monthly_usd == pytest.approx(4 * 730 * H100_HOUR + 0.5 * FTE_MONTH)  # $7,300 + $8,333
    # The same model fits one 141 GB H200 per replica.
    assert self_host_cost("qwen3-32b", 500e6, gpu="h200", **_kw(cat, costs)).gpus_per_replica == 1


def test_kv_approximation_is_used_and_labelled_where_the_shape_is_unknown(cat: Catalog,
                                                                         costs: CostAssumptions) -> None:
    result = self_host_cost("qwen3-8b", 1e8, **_kw(cat, costs))
    assert result.kv_method == "approximation"
    # 46,000 B × √8.2 per token ≈ 131.7 KB, close to Llama 3.1 8B's exact 128 KiB (131,072 B).
    per_token = result.kv_cache_gb * 1e9 / (8192 * 16)
    assert per_token == pytest.approx(46_000 * math.sqrt(8.2))
    assert per_token == pytest.approx(131_072, rel=0.02)
    assert "kv_bytes_per_token_per_sqrt_b" in {a.name for a in result.assumptions}


def test_self_host_is_a_non_decreasing_step_function(cat: Catalog, costs: CostAssumptions) -> None:
    small = self_host_cost("qwen3-32b", 1e6, **_kw(cat, costs))
    top = small.capacity_monthly_tokens  # 2 replicas × 2 GPUs × 1,508 tokens/s × 0.5 × 2.628M s ≈ 7.92B
    assert top == pytest.approx(2 * 2 * (989e12 * 0.10 / (2 * 32.8e9)) * 0.5 * SECONDS)
    assert self_host_cost("qwen3-32b", top, **_kw(cat, costs)).monthly_usd == small.monthly_usd
    after = self_host_cost("qwen3-32b", top * 1.001, **_kw(cat, costs))
    assert after.replicas == 3 and after.monthly_usd == pytest.approx(small.monthly_usd + 2 * 730 * H100_HOUR)
    previous = 0.0
    for point in cost_series("gpt-4.1", "qwen3-32b", start=1e6, stop=1e13, points_per_decade=8,
                             **_kw(cat, costs)).points:
        assert point.self_host_usd >= previous
        previous = point.self_host_usd


def test_context_and_concurrency_drive_the_kv_cache(cat: Catalog, costs: CostAssumptions) -> None:
    base = self_host_cost("qwen3-32b", 1e8, **_kw(cat, costs))
    double = self_host_cost("qwen3-32b", 1e8, context=16384, concurrency=16, **_kw(cat, costs))
    assert double.kv_cache_gb == pytest.approx(2 * base.kv_cache_gb)
    fp8 = self_host_cost("qwen3-32b", 1e8, precision="fp8", concurrency=1, **_kw(cat, costs))
    assert fp8.weights_gb == pytest.approx(32.8) and fp8.gpus_per_replica == 1  # 32.8 × 1.2 + 2.1 GB of KV


def test_default_context_is_capped_at_the_models_context(cat: Catalog, costs: CostAssumptions) -> None:
    result = self_host_cost("bitnet-b1.58-2b-4t", 1e8, **_kw(cat, costs))  # a 4,096-token model
    assert result.context_tokens == 4096
    assert "context_tokens_capped" in {a.name for a in result.assumptions}


# --- break-even -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("api", "open_", "gpu", "expected", "gpus"), [
    # Self-hosting stays at its 2-replica minimum: fixed cost / blended API price per token.
    # gpt-oss-120b on 2 H100s: ($3,650 + $8,333.33) / $0.64 per 1M = 18.72B (the guide: "about 18.75 billion").
    ("gpt-4.1-mini", "gpt-oss-120b", "h100", (3650 + 0.5 * FTE_MONTH) / 0.64e-6, 2),
    # qwen3-32b on 2 × 2 H100s: ($7,300 + $8,333.33) / $3.20 per 1M = 4.885B tokens a month.
    ("gpt-4.1", "qwen3-32b", "h100", (7300 + 0.5 * FTE_MONTH) / 3.2e-6, 4),
])
def test_break_even_by_hand(cat: Catalog, costs: CostAssumptions, api: str, open_: str, gpu: str,
                            expected: float, gpus: int) -> None:
    result = break_even(api, open_, gpu=gpu, **_kw(cat, costs))
    assert result.monthly_tokens == pytest.approx(expected, rel=1e-9)
    assert result.gpus == gpus and result.reason is None


@pytest.mark.parametrize(("api", "open_", "gpu"), [
    ("gpt-4.1-mini", "gpt-oss-120b", "h100"), ("gpt-4.1", "qwen3-32b", "h100"), ("gpt-4.1", "qwen3-32b", "a100"),
    ("claude-sonnet-5", "llama-4-maverick", "h200"), ("gemini-3-flash-preview", "gpt-oss-20b", "h100"),
])
def test_break_even_is_where_the_curves_cross(cat: Catalog, costs: CostAssumptions, api: str, open_: str,
                                             gpu: str) -> None:
    result = break_even(api, open_, gpu=gpu, **_kw(cat, costs))
    volume = result.monthly_tokens
    assert volume is not None

    def both(v: float) -> tuple[float, float]:
        return (api_cost(api, v, **_kw(cat, costs)).monthly_usd,
                self_host_cost(open_, v, gpu=gpu, **_kw(cat, costs)).monthly_usd)

    at_api, at_host = both(volume)
    assert abs(at_api - at_host) <= 1e-6 * at_api  # the two curves meet here
    assert at_api == pytest.approx(result.api_monthly_usd) and at_host == pytest.approx(result.self_host_monthly_usd)
    below_api, below_host = both(volume * (1 - 1e-6))
    assert below_api < below_host  # just below: the API is cheaper
    for factor in (1.1, 1.5, 2, 5, 10, 100):  # above: self-hosting stays cheaper, despite its GPU steps
        above_api, above_host = both(volume * factor)
        assert above_host < above_api, factor


@pytest.mark.parametrize(("api", "open_"), [("gpt-4.1-mini", "gpt-oss-120b"), ("gpt-4.1", "qwen3-32b")])
def test_break_even_brackets_on_h100_defaults(cat: Catalog, costs: CostAssumptions, api: str, open_: str) -> None:
    volume = break_even(api, open_, **_kw(cat, costs)).monthly_tokens
    assert volume is not None
    cheaper_below = api_cost(api, 0.9 * volume, **_kw(cat, costs)).monthly_usd
    assert cheaper_below < self_host_cost(open_, 0.9 * volume, **_kw(cat, costs)).monthly_usd
    dearer_above = api_cost(api, 1.1 * volume, **_kw(cat, costs)).monthly_usd
    assert dearer_above > self_host_cost(open_, 1.1 * volume, **_kw(cat, costs)).monthly_usd


def test_a_step_that_crosses_back_is_not_the_break_even(cat: Catalog, costs: CostAssumptions) -> None:
    # On A100s qwen3-32b first undercuts GPT-4.1 inside its 2-replica step, then a third replica makes it dearer.
    result = break_even("gpt-4.1", "qwen3-32b", gpu="a100", **_kw(cat, costs))
    assert result.first_crossing_tokens is not None and result.monthly_tokens is not None
    assert result.first_crossing_tokens < result.monthly_tokens
    just_past = result.first_crossing_tokens * 1.001
    assert (api_cost("gpt-4.1", just_past, **_kw(cat, costs)).monthly_usd
            > self_host_cost("qwen3-32b", just_past, gpu="a100", **_kw(cat, costs)).monthly_usd)


def test_break_even_none_with_reason_when_it_never_crosses(cat: Catalog, costs: CostAssumptions) -> None:
    # DeepSeek's API price for V3.2 (litellm's map): $0.28 / $0.40, a $0.30 blend.
    result = break_even("deepseek-v3.2", "qwen3-32b", **_kw(cat, costs))
    assert result.monthly_tokens is None and result.gpus is None
    assert result.reason is not None and "never" in result.reason
    # At full load an H100 replica (2 GPUs, $3,650) serves 3.96B tokens: $0.92 per 1M vs a $0.30 blend.
    assert result.self_host_full_load_usd_per_mtok == pytest.approx(3650 / 3.962e3, rel=1e-3)
    series = cost_series("deepseek-v3.2", "qwen3-32b", start=1e6, stop=1e13, **_kw(cat, costs))
    assert all(p.api_usd < p.self_host_usd for p in series.points)


def test_break_even_beyond_the_search_range(cat: Catalog, costs: CostAssumptions) -> None:
    result = break_even("gpt-4.1-mini", "gpt-oss-120b",
                        **_kw(cat, costs, overrides={"break_even_max_monthly_tokens": 1e9}))
    assert result.monthly_tokens is None and result.reason is not None and "search limit" in result.reason


def test_cost_series_log_grid_and_crossing(cat: Catalog, costs: CostAssumptions) -> None:
    series = cost_series("gpt-4.1", "qwen3-32b", start=1e6, stop=1e12, points_per_decade=4, **_kw(cat, costs))
    volumes = [p.monthly_tokens for p in series.points]
    assert len(volumes) == 25 and volumes[0] == pytest.approx(1e6) and volumes[-1] == pytest.approx(1e12)
    ratios = {round(b / a, 9) for a, b in itertools.pairwise(volumes)}
    assert ratios == {round(10**0.25, 9)}
    even = break_even("gpt-4.1", "qwen3-32b", **_kw(cat, costs)).monthly_tokens
    assert even is not None
    for p in series.points:  # the series agrees with the break-even on which side each point is
        assert (p.api_usd < p.self_host_usd) == (p.monthly_tokens < even)
    json.dumps(series.as_dict())


# --- training ---------------------------------------------------------------------------------------------------

def test_pretrain_reproduces_llama_405b_gpu_hours(costs: CostAssumptions) -> None:
    result = pretrain_cost(405, 15_600, gpu="h100", assumptions=costs)
    # 6 × 405e9 × 15.6e12 = 3.79e25 FLOPs (Meta: ≈ 3.8e25).
    assert result.flops == pytest.approx(6 * 405e9 * 15.6e12)
    # 3.79e25 / (989e12 × 0.40 MFU × 3600) = 26.6M H100-hours vs 30.84M published: ratio 0.86, within 0.5-2×.
    assert result.gpu_hours == pytest.approx(3.7908e25 / (989e12 * 0.40 * 3600))
    assert 0.5 <= result.gpu_hours / 30.84e6 <= 2
    assert result.compute_usd == pytest.approx(result.gpu_hours * H100_HOUR)
    # One-off total: compute + 50% experiments + $100 per B tokens of data + 8 FTE × 12 months.
    assert result.total_usd == pytest.approx(result.compute_usd * 1.5 + 15_600 * 100 + 8 * 12 * FTE_MONTH)
    assert result.min_gpus_for_state == math.ceil(405 * 16 / 80)  # 16 bytes/param of Adam state: 81 H100s


def test_pretrain_guide_planning_example_and_mfu_override(costs: CostAssumptions) -> None:
    # The guide: 7B on 2T tokens = 8.4e22 FLOPs, ≈ 70,000 H100-hours at 1.2e18 FLOPs per H100-hour (MFU ≈ 0.337).
    default = pretrain_cost(7, 2000, assumptions=costs)
    assert default.flops == pytest.approx(8.4e22)
    assert default.gpu_hours == pytest.approx(8.4e22 / (989e12 * 0.40 * 3600))  # 58,982 h at MFU 0.40
    guide_rate = pretrain_cost(7, 2000, assumptions=costs, overrides={"mfu": 1.2e18 / (989e12 * 3600)})
    assert guide_rate.gpu_hours == pytest.approx(70_000)
    mfu = next(a for a in guide_rate.assumptions if a.name == "mfu")
    assert mfu.value == pytest.approx(0.337, abs=1e-3) and mfu.source.startswith("override")
    assert pretrain_cost(7, 2000, gpus=512, assumptions=costs).wall_clock_days == pytest.approx(
        default.gpu_hours / 512 / 24)


def test_reference_check_ratios(costs: CostAssumptions) -> None:
    check = reference_check(assumptions=costs)
    by_id = {p.id: p for p in check.points}
    assert {"deepseek-v3", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "phi-3-mini", "phi-4",
            "bloomberggpt"} <= set(by_id)
    assert by_id["llama-3.1-405b"].ratio == pytest.approx(26.617e6 / 30.84e6, rel=1e-3)
    deepseek = by_id["deepseek-v3"]  # 6 × 37e9 × 14.8e12 / (989e12 × 0.4 × 3600) = 2.31M vs 2.788M H800-hours
    assert deepseek.ratio == pytest.approx(0.827, abs=1e-3)
    assert deepseek.published_usd == 5_576_000 and not deepseek.published_usd_derived
    assert deepseek.formula_usd == pytest.approx(deepseek.formula_gpu_hours * 2.0)
    # The formula never overshoots a published run, and stays within a factor of 4 of all of them (BloombergGPT's
    # 1.3M hours is a budget, and small models run below the 40% MFU of large ones).
    assert all(0.25 <= p.ratio <= 1.0 for p in check.points)
    lower_mfu = reference_check(assumptions=costs, overrides={"mfu": 0.2})
    assert lower_mfu.points[0].ratio == pytest.approx(2 * check.points[0].ratio)


def test_fine_tune_by_hand(cat: Catalog, costs: CostAssumptions) -> None:
    full = fine_tune_cost("qwen3-8b", method="full", **_kw(cat, costs))
    # 6 × 8.2e9 × 1e8 tokens × 1 epoch = 4.92e18 FLOPs; / (989e12 × 0.15 × 3600) = 9.21 H100-hours per run.
    assert full.flops_per_run == pytest.approx(4.92e18)
    assert full.gpu_hours_per_run == pytest.approx(4.92e18 / (989e12 * 0.15 * 3600))
    # 10 runs × 9.21 h × $2.50 = $230; staff 1 FTE-month = $16,667 dominates, as the guide says.
    assert full.compute_usd == pytest.approx(10 * full.gpu_hours_per_run * H100_HOUR)
    assert full.total_usd == pytest.approx(full.compute_usd + FTE_MONTH)
    assert full.memory_gb == pytest.approx(8.2 * 7.5) and full.gpus_needed == 1  # 61.5 GB: one 80 GB GPU
    lora = fine_tune_cost("qwen3-8b", method="lora", **_kw(cat, costs))
    qlora = fine_tune_cost("qwen3-8b", method="qlora", epochs=2, **_kw(cat, costs))
    assert lora.flops_per_run == pytest.approx(full.flops_per_run * 4 / 6)  # no weight-gradient pass
    assert qlora.gpu_hours_per_run == pytest.approx(2 * lora.gpu_hours_per_run * 1.3)
    big = fine_tune_cost("qwen3-235b-a22b", method="lora", **_kw(cat, costs))
    assert big.params_active_b == 22 and big.gpus_needed == 8  # 235B × 2.3 B = 540 GB of memory, FLOPs on 22B


# --- overrides and provenance -----------------------------------------------------------------------------------

def test_overrides_change_results_and_are_listed(cat: Catalog, costs: CostAssumptions) -> None:
    base = self_host_cost("gpt-oss-120b", 5e10, **_kw(cat, costs))
    cheaper = self_host_cost("gpt-oss-120b", 5e10, **_kw(cat, costs, overrides={"gpu_hourly_usd": 2.0}))
    assert cheaper.gpu_usd == pytest.approx(cheaper.gpus * 730 * 2.0) and cheaper.gpu_usd < base.gpu_usd
    busier = self_host_cost("gpt-oss-120b", 5e10, **_kw(cat, costs, overrides={"utilisation": 1.0}))
    assert busier.replicas < base.replicas
    listed = {a.name: a for a in cheaper.assumptions}
    assert listed["gpu_hourly_usd"].value == 2.0 and listed["gpu_hourly_usd"].source.startswith("override")
    assert listed["utilisation"].value == 0.5  # untouched values keep their file source
    priced = api_cost("gpt-4.1", 1e6, **_kw(cat, costs, overrides={"api_input_usd_per_mtok": 1.0}))
    assert priced.monthly_usd == pytest.approx(0.8 * 1.0 + 0.2 * 8)
    even = break_even("gpt-4.1-mini", "gpt-oss-120b", **_kw(cat, costs, overrides={"self_host_staff_fte": 0.0}))
    assert even.monthly_tokens == pytest.approx(3650 / 0.64e-6)  # GPUs only: 5.70B tokens a month
    assert all(name in OVERRIDABLE for name in ("mfu", "utilisation", "gpu_hourly_usd", "serving_mfu"))


def test_every_assumption_in_every_result_has_provenance(cat: Catalog, costs: CostAssumptions) -> None:
    results: list[Any] = [
        api_cost("gpt-4.1", 1e9, **_kw(cat, costs)),
        self_host_cost("qwen3-8b", 1e9, **_kw(cat, costs)),
        break_even("gpt-4.1", "qwen3-32b", **_kw(cat, costs)),
        cost_series("gpt-4.1", "qwen3-32b", **_kw(cat, costs)),
        compare("gpt-4.1-mini", "gpt-oss-120b", 5e8, **_kw(cat, costs)),
        fine_tune_cost("qwen3-8b", method="qlora", **_kw(cat, costs)),
        pretrain_cost(7, 2000, assumptions=costs),
        reference_check(assumptions=costs),
    ]
    for result in results:
        data = result.as_dict()
        json.dumps(data)
        assert data["assumptions"], type(result).__name__
        for item in data["assumptions"]:
            assert set(item) >= {"name", "value", "unit", "source", "date"}
            assert all(str(item[key]).strip() for key in ("name", "unit", "source", "date")), item
    names = {a["name"] for a in results[4].as_dict()["assumptions"]}
    assert {"api_input_usd_per_mtok", "input_share", "gpu_hourly_usd", "serving_mfu", "utilisation",
            "self_host_staff_fte", "staff_fte_annual_usd", "overhead_fraction", "min_replicas"} <= names


def test_shipped_file_dates_and_sources(costs: CostAssumptions) -> None:
    assert set(costs.gpus) >= {"h100", "a100", "h200"}
    assert costs.assumptions.mfu.value == 0.40 and costs.assumptions.input_share.value == 0.8
    assert costs.gpus["h100"].hourly_usd.value == 2.50  # the costs guide's round H100 price
    for name, spec in costs.gpus.items():
        assert "vendor" in spec.peak_bf16_tflops.source and spec.hourly_usd.date, name


# --- errors ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "message"), [
    (lambda k: api_cost("gpt-9", 1e6, **k), "unknown model id 'gpt-9'"),
    (lambda k: api_cost("gpt-oss-120b", 1e6, **k), "no API price"),
    (lambda k: api_cost("gpt-4.1", -1, **k), "monthly_tokens must be"),
    (lambda k: api_cost("gpt-4.1", math.nan, **k), "monthly_tokens must be"),
    (lambda k: self_host_cost("gpt-4.1", 1e6, **k), "closed-weights API model"),
    (lambda k: self_host_cost("qwen3-32b", -5, **k), "monthly_tokens must be"),
    (lambda k: self_host_cost("qwen3-32b", 1e6, gpu="tpu-v5", **k), "unknown GPU 'tpu-v5'"),
    (lambda k: self_host_cost("qwen3-32b", 1e6, precision="fp4", **k), "unknown precision"),
    (lambda k: self_host_cost("qwen3-32b", 1e6, context=200_000, **k), "exceeds the 32,000-token context"),
    (lambda k: self_host_cost("qwen3-32b", 1e6, concurrency=0, **k), "concurrency must be"),
    (lambda k: self_host_cost("qwen3-32b", 1e6, years=0, **k), "years must be"),
    (lambda k: self_host_cost("qwen3-32b", 1e6, overrides={"mfu_typo": 1}, **k), "unknown override 'mfu_typo'"),
    (lambda k: self_host_cost("qwen3-32b", 1e6, overrides={"utilisation": 0}, **k), "override utilisation"),
    (lambda k: self_host_cost("qwen3-32b", 1e6, overrides={"context_tokens": 4096}, **k), "unknown override"),
    (lambda k: break_even("gpt-4.1", "claude-opus-4", **k), "closed-weights API model"),
    (lambda k: fine_tune_cost("qwen3-8b", method="dpo", **k), "unknown fine-tuning method"),
    (lambda k: fine_tune_cost("gpt-4.1", **k), "closed-weights API model"),
    (lambda k: pretrain_cost(-7, 2000, assumptions=k["assumptions"]), "params_b must be"),
    (lambda k: cost_series("gpt-4.1", "qwen3-32b", start=1e9, stop=1e6, **k), "need 0 < start < stop"),
])
def test_bad_inputs_raise_one_line_value_errors(cat: Catalog, costs: CostAssumptions, call: Any,
                                               message: str) -> None:
    with pytest.raises(ValueError) as caught:
        call(_kw(cat, costs))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_api_model_without_price_works_with_both_price_overrides(cat: Catalog, costs: CostAssumptions) -> None:
    overrides = {"api_input_usd_per_mtok": 0.10, "api_output_usd_per_mtok": 0.50}
    result = api_cost("gpt-oss-120b", 1e6, **_kw(cat, costs, overrides=overrides))
    assert result.monthly_usd == pytest.approx(0.8 * 0.10 + 0.2 * 0.50)


def _write_costs(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load(DEFAULT_COSTS_PATH.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "costs.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("edit", "field"), [
    (lambda d: d["assumptions"].__setitem__("surprise", d["assumptions"]["mfu"]), "assumptions.surprise"),
    (lambda d: d["assumptions"]["mfu"].__setitem__("value", 1.5), "assumptions.mfu"),
    (lambda d: d["assumptions"]["utilisation"].pop("source"), "assumptions.utilisation.source"),
    (lambda d: d["assumptions"].pop("input_share"), "assumptions.input_share"),
    (lambda d: d["gpus"]["h100"]["hourly_usd"].__setitem__("value", -1), "gpus.h100.hourly_usd"),
    (lambda d: d["gpus"]["a100"].__setitem__("tdp_w", 400), "gpus.a100.tdp_w"),
    (lambda d: d["references"][0].__setitem__("gpu", "tpu"), "references[0].gpu"),
])
def test_invalid_costs_file_names_file_and_field(tmp_path: Path, edit: Any, field: str) -> None:
    path = _write_costs(tmp_path, edit)
    with pytest.raises(CostAssumptionsError) as caught:
        load_cost_assumptions(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:") and field in text and "\n" not in text


def test_missing_costs_file(tmp_path: Path) -> None:
    with pytest.raises(CostAssumptionsError, match="cannot read"):
        load_cost_assumptions(tmp_path / "nope.yaml")


# --- CLI ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [
    ("500000000", 5e8), ("5e8", 5e8), ("500M", 5e8), ("500m", 5e8), ("2B", 2e9), ("1.5T", 1.5e12),
    ("750k", 7.5e5), ("500_000_000", 5e8), ("0", 0.0),
])
def test_parse_tokens(text: str, value: float) -> None:
    assert parse_tokens(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["-5", "lots", "5X", "", "1e999"])
def test_parse_tokens_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_tokens(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="advisor")
    add_costs_parser(parser.add_subparsers(dest="command"))
    return parser


def test_cli_json(capsys: pytest.CaptureFixture[str], pinned_cli: None) -> None:
    args = _parser().parse_args(["costs", "--monthly-tokens", "2B", "--api-model", "gpt-4.1",
                                 "--open-model", "qwen3-32b", "--gpu", "h100", "--years", "2", "--json"])
    assert args.func is cmd_costs and cmd_costs(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"monthly_tokens", "years", "cheaper_monthly", "cheaper_total", "api", "self_host",
                         "break_even", "assumptions"}
    assert data["monthly_tokens"] == 2e9 and data["years"] == 2
    assert data["api"]["monthly_usd"] == pytest.approx(2000 * 3.2)  # 2,000M tokens × $3.20 blended
    assert data["self_host"]["gpus"] == 4 and data["self_host"]["gpu"] == "h100"
    assert data["break_even"]["monthly_tokens"] == pytest.approx((7300 + 0.5 * FTE_MONTH) / 3.2e-6)
    assert "assumptions" not in data["api"]  # one merged list at the top
    assert all(item["source"] and item["date"] for item in data["assumptions"])


def test_cli_defaults_table_and_overrides(capsys: pytest.CaptureFixture[str], pinned_cli: None) -> None:
    args = _parser().parse_args(["costs"])
    assert (args.api_model, args.open_model, args.monthly_tokens) == (None, "gpt-oss-120b", 5e8)
    assert cmd_costs(args) == 0
    out = capsys.readouterr().out
    assert "API gpt-4.1-mini" in out  # the default while it is current (it is, in the pinned catalog)
    assert "Break-even: 18.7B tokens a month" in out and "3-year total" in out and "gpu_hourly_usd = 2.5" in out
    args = _parser().parse_args(["costs", "--set", "gpu_hourly_usd=2", "--json"])
    assert cmd_costs(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["self_host"]["gpu_usd"] == pytest.approx(2 * 730 * 2.0)


@pytest.mark.parametrize(("argv", "message"), [
    (["costs", "--open-model", "gpt-4.1"], "closed-weights API model"),
    (["costs", "--api-model", "claude-opus-4"], "was retired on 2026-06-15"),
    (["costs", "--api-model", "nope"], "unknown model id 'nope'"),
    (["costs", "--gpu", "tpu"], "unknown GPU 'tpu'"),
    (["costs", "--set", "nope=1"], "unknown override 'nope'"),
])
def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str,
                                pinned_cli: None) -> None:
    assert cmd_costs(_parser().parse_args(argv)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("advisor: error: ") and message in err and "\n" not in err


def test_cli_bad_token_count_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        _parser().parse_args(["costs", "--monthly-tokens", "-3"])
    assert caught.value.code == 2


def test_costs_command_imports_nothing_heavy() -> None:
    heavy = ["torch", "chromadb", "litellm", "gradio", "sentence_transformers", "transformers", "llama_index"]
    script = (
        "import argparse, sys, json\n"
        "from advisor.cli_costs import add_costs_parser\n"
        "p = argparse.ArgumentParser(); add_costs_parser(p.add_subparsers())\n"
        "a = p.parse_args(['costs', '--json']); code = a.func(a)\n"
        f"print(json.dumps([code, [m for m in {heavy!r} if m in sys.modules]]), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    code, loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    assert code == 0 and loaded == []


def test_the_pinned_catalog_keeps_todays_figures_current_but_not_past_retirements(cat: Catalog) -> None:
    later = dt.date(2027, 6, 1)  # after GPT-4.1's and GPT-5.1's announced shutdowns
    assert not any(cat.get(i).is_retired(later) for i in ("gpt-4.1", "gpt-4.1-mini", "gpt-5.1"))
    assert cat.get("claude-opus-4").is_retired(PINNED) and load_catalog().get("gpt-4.1").is_retired(later)


# --- the Costs section of an answer and the prompt's cost figures -------------------------------------------

def _names(text: str, model_id: str) -> bool:
    import re

    return re.search(rf"(?<![\w.-]){re.escape(model_id)}(?![\w.-])", text) is not None


@pytest.mark.parametrize("option", ["api", "open_weight"])
def test_the_costs_section_never_names_a_retired_model(retired_catalog: Any, tmp_path: Path, option: str) -> None:
    """Even when the preferred defaults (GPT-4.1 mini; GPT-5.5 for frontier quality) are retired."""
    from advisor.answer_costs import answer_costs, render_costs
    from advisor.catalog_query import suggested_model
    from advisor.config import Settings
    from advisor.prompt_context import compact_costs

    settings = Settings(data_dir=tmp_path, catalog_file=retired_catalog("gpt-4.1-mini", "gpt-5.5"))
    catalog = load_catalog(settings.catalog_path)
    retired = [m.id for m in catalog.models if m.is_retired()]
    assert {"gpt-4.1-mini", "gpt-5.5"} <= set(retired)
    used = {}
    for quality in ("standard", "frontier"):
        costs = answer_costs(option, {"monthly_tokens": 5e8, "quality_bar": quality}, settings)
        figures = costs["figures"]["api"] if option == "open_weight" else costs["figures"]
        used[quality] = figures["model_id"]
        text = render_costs(costs)
        assert _names(text, used[quality]) and not any(_names(text, r) for r in retired), text
    assert used == {"standard": suggested_model(catalog, "gpt-4.1-mini").id, "frontier": "claude-opus-5"}
    prompt = compact_costs(5e8, settings)
    assert _names(prompt, used["standard"]) and not any(_names(prompt, r) for r in retired), prompt


def test_the_costs_section_uses_the_preferred_models_while_they_are_current(tmp_path: Path) -> None:
    from advisor.answer_costs import answer_costs
    from advisor.catalog_query import suggested_model
    from advisor.config import Settings

    settings = Settings(data_dir=tmp_path)
    catalog = load_catalog(settings.catalog_path)
    standard = answer_costs("api", {"monthly_tokens": 5e8}, settings)["figures"]["model_id"]
    frontier = answer_costs("api", {"monthly_tokens": 5e8, "quality_bar": "frontier"}, settings)["figures"]
    assert standard == suggested_model(catalog, "gpt-4.1-mini").id  # GPT-4.1 mini until 2027-01-14
    assert frontier["model_id"] == suggested_model(catalog, ["gpt-5.5", "claude-opus-5"]).id
    assert not catalog.get(standard).is_retired() and not catalog.get(frontier["model_id"]).is_retired()
