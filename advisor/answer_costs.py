"""The Costs section of a situation answer: only figures the cost model computed, for the recommended option.

The pipeline renders these numbers itself (the model never retypes a figure) and `ask --json` carries them as
`costs`, so every number in an answer can be checked against the passages, the user's words and these figures.
An estimate is made only when the inputs it needs are known; otherwise the section says what to provide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.config import Settings

__all__ = ["answer_costs", "render_costs"]

# The API models the estimates prefer for each quality bar (the Profile's "standard" or "frontier"), named in every
# figure; suggested_model takes the first that is current (or its successor), else the cheapest current API model,
# so a retired id never reaches an estimate.
_API_MODELS: dict[str, tuple[str, ...]] = {"frontier": ("gpt-5.5", "claude-opus-5"), "standard": ("gpt-4.1-mini",)}
_OPEN_MODEL = "gpt-oss-120b"
_SMALL_MODEL = "qwen3-0.6b"
_TOKENS_PER_EXAMPLE = 500  # a labelled example's prompt and answer, for the fine-tuning estimate
_TOKENS_PER_PARAM = 20  # compute-optimal pre-training: about 20 tokens per parameter


def _usd(value: float) -> str:
    if value >= 1e6:
        return f"${value / 1e6:,.1f}M"
    if value >= 1e4:
        return f"${value / 1e3:,.0f}k"
    return f"${value:,.0f}"


def _tokens(value: float) -> str:
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}"


def answer_costs(recommendation: str | None, profile: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The cost model's figures for the recommended option, or what input an estimate needs.

    Always returns {"option", "kind", "lines", "needs"}; "figures" holds the cost model's own output when an
    estimate was made.
    """
    from advisor.catalog import load_catalog
    from advisor.catalog_query import suggested_model
    from advisor.cost_assumptions import load_cost_assumptions
    from advisor.costs import api_cost, compare, self_host_cost
    from advisor.training_costs import fine_tune_cost, pretrain_cost

    catalog = load_catalog(settings.catalog_path)
    assumptions = load_cost_assumptions(settings.costs_path)
    volume = profile.get("monthly_tokens")
    source = f"cost model with the dated assumptions in {settings.costs_path.name}"
    result: dict[str, Any] = {"option": recommendation, "kind": None, "lines": [], "needs": None,
                              "source": source}
    quality = "frontier" if profile.get("quality_bar") == "frontier" else "standard"
    api_model = suggested_model(catalog, _API_MODELS[quality]).id
    if recommendation == "open_weight":
        if not volume:
            result["needs"] = "your monthly token volume, to compare self-hosting with the API"
            return result
        d = compare(api_model, _OPEN_MODEL, volume, catalog=catalog, assumptions=assumptions).as_dict(
            assumptions=False)
        api, own, even = d["api"], d["self_host"], d["break_even"]
        crossing = (f"self-hosting becomes cheaper above about {_tokens(even['monthly_tokens'])} tokens a month"
                    if even.get("monthly_tokens") else "self-hosting does not become cheaper at any volume "
                    f"({even.get('reason') or 'the API stays cheaper'})")
        result.update(kind="self_host_vs_api", figures=d, lines=[
            f"At {_tokens(volume)} tokens a month: self-hosting {own['model_id']} on {own['gpus']} × "
            f"{own['gpu'].upper()} costs about {_usd(own['monthly_usd'])} a month (GPUs {_usd(own['gpu_usd'])}, "
            f"staff {_usd(own['staff_usd'])}); the {api['model_id']} API about {_usd(api['monthly_usd'])} a month.",
            f"Break-even: {crossing}. Over {d['years']:g} years: self-hosting {_usd(own['total_usd'])}, "
            f"API {_usd(api['total_usd'])}."])
    elif recommendation == "api":
        if not volume:
            result["needs"] = "your monthly token volume, for an estimate of the API bill"
            return result
        a = api_cost(api_model, volume, catalog=catalog, assumptions=assumptions).as_dict(assumptions=False)
        result.update(kind="api_bill", figures=a, lines=[
            f"At {_tokens(volume)} tokens a month, {a['model_id']} costs about {_usd(a['monthly_usd'])} a month "
            f"(${a['input_usd_per_mtok']:g} input and ${a['output_usd_per_mtok']:g} output per million tokens), "
            f"{_usd(a['total_usd'])} over {a['years']:g} years with integration work."])
    elif recommendation == "pretrain":
        data = profile.get("proprietary_data_tokens")
        if not data:
            result["needs"] = "how many tokens of your own text you have, for a pre-training estimate"
            return result
        tokens_b = data / 1e9
        params_b = min(max(tokens_b / _TOKENS_PER_PARAM, 1.0), 70.0)
        p = pretrain_cost(params_b, tokens_b, assumptions=assumptions).as_dict(assumptions=False)
        result.update(kind="pretrain", figures=p, lines=[
            f"Pre-training a {params_b:.3g}B-parameter model on {_tokens(data)} tokens: about "
            f"{p['gpu_hours']:,.0f} {p['gpu'].upper()} GPU-hours, {_usd(p['compute_usd'] + p['extra_compute_usd'])} "
            f"of compute with experiments, {_usd(p['data_usd'])} for data and {_usd(p['staff_usd'])} for the team: "
            f"{_usd(p['total_usd'])} in all."])
    elif recommendation == "small_model":
        examples = profile.get("labeled_examples")
        if not examples and not volume:
            result["needs"] = ("how many labelled examples you have and your monthly volume, for the training and "
                               "serving estimate")
            return result
        figures: dict[str, Any] = {}
        lines = []
        if examples:
            f = fine_tune_cost(_SMALL_MODEL, train_tokens=examples * _TOKENS_PER_EXAMPLE, catalog=catalog,
                               assumptions=assumptions).as_dict(assumptions=False)
            figures["fine_tune"] = f
            lines.append(f"Fine-tuning {f['model_id']} with LoRA on {examples:,.0f} examples (about "
                         f"{_tokens(f['train_tokens'])} tokens): {f['gpu_hours']:.2g} GPU-hours over "
                         f"{f['runs']} runs, {_usd(f['compute_usd'])} of compute and {_usd(f['staff_usd'])} "
                         f"of staff time.")
        if volume:
            s = self_host_cost(_SMALL_MODEL, volume, catalog=catalog, assumptions=assumptions).as_dict(
                assumptions=False)
            figures["serving"] = s
            lines.append(f"Serving it at {_tokens(volume)} tokens a month on {s['gpus']} × {s['gpu'].upper()}: "
                         f"about {_usd(s['monthly_usd'])} a month with staff.")
        result.update(kind="small_model", figures=figures, lines=lines)
    return result


def render_costs(costs: Mapping[str, Any]) -> str:
    """The Costs section's Markdown body."""
    if costs.get("needs"):
        return f"- For an estimate, tell me {costs['needs']}.\n"
    if not costs.get("lines"):
        return "- No estimate: none of the four options fits every stated constraint.\n"
    return "".join(f"- {line}\n" for line in costs["lines"]) + f"- Source: the {costs['source']}.\n"
