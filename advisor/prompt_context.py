"""What goes into an answer prompt besides the question: the passages that fit the model's context, and compact
forms of the scorer's result, a cost comparison and matching catalog models that a small model can read."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.config import Settings
    from advisor.profile import Profile
    from advisor.retrieval import Hit

__all__ = ["compact_costs", "compact_models", "compact_scores", "fit_passages"]


def fit_passages(passages: list[Hit], build: Callable[[list[Hit]], list[dict[str, str]]],
                 count: Callable[[list[dict[str, str]]], int], *, budget: int) -> list[Hit]:
    """As many passages (in order) as fit the token budget with the rest of the prompt; the last one is cut if
    that lets it fit, so nothing is silently truncated by the server."""
    from dataclasses import replace

    kept: list[Hit] = []
    for passage in passages:
        trial = [*kept, passage]
        if count(build(trial)) <= budget:
            kept = trial
            continue
        words = passage.text.split()
        while len(words) > 40:
            words = words[: len(words) * 2 // 3]
            shorter = replace(passage, text=" ".join(words) + " …")
            if count(build([*kept, shorter])) <= budget:
                kept.append(shorter)
                break
        break
    return kept


def compact_scores(scores: dict[str, Any]) -> str:
    """The scorer's result in a few lines a small model can read."""
    lines = [f"recommended: {scores['recommended']}"]
    for option in scores["ranking"]:
        status = "" if option["eligible"] else " (ruled out)"
        reasons = sorted((r for r in option["reasons"]), key=lambda r: r["effect"] != "excluded")[:3]
        why = "; ".join(f"{r['effect']} {r['input']}: {r['why']}" for r in reasons)
        lines.append(f"- {option['option']} score {option['score']}{status}: {why}")
    return "\n".join(lines)


def compact_costs(monthly_tokens: float, settings: Settings) -> str:
    """API vs self-hosting at a volume, with the break-even, in a few short lines."""
    from advisor.catalog import load_catalog
    from advisor.catalog_query import DEFAULT_API_MODEL, suggested_model
    from advisor.cost_assumptions import load_cost_assumptions
    from advisor.costs import compare

    catalog = load_catalog(settings.catalog_path)
    # The cheap default while it is current, else its successor or the cheapest current API model: never a retired one.
    api_model = suggested_model(catalog, DEFAULT_API_MODEL).id
    d = compare(api_model, "gpt-oss-120b", monthly_tokens, catalog=catalog,
                assumptions=load_cost_assumptions(settings.costs_path)).as_dict()
    api, own, even = d["api"], d["self_host"], d["break_even"]
    crossing = (f"{even['monthly_tokens']:.3g} tokens a month" if even.get("monthly_tokens")
                else f"none ({even.get('reason') or 'never cheaper'})")
    return "\n".join([
        f"volume: {monthly_tokens:.3g} tokens a month; horizon {d['years']:g} years",
        f"API {api['model_id']}: ${api['monthly_usd']:,.0f} a month, ${api['total_usd']:,.0f} in total",
        f"self-host {own['model_id']} on {own['gpus']} x {own['gpu']}: ${own['monthly_usd']:,.0f} a month "
        f"(GPUs ${own['gpu_usd']:,.0f} + staff ${own['staff_usd']:,.0f}), ${own['total_usd']:,.0f} in total",
        f"break-even: {crossing}; cheaper now: {d['cheaper_monthly']}",
        f"prices and rates are dated assumptions from {settings.costs_path.name}",
    ])


def compact_models(question: str, profile: Profile | None, settings: Settings) -> str:
    """A few catalog models that fit the question and situation, one line each with sources' date."""
    from advisor.catalog import load_catalog
    from advisor.catalog_query import query_catalog

    criteria: dict[str, Any] = {"limit": 5, "sort_by": "release", "descending": True}
    if profile is not None and (profile.deployment in ("on_prem", "air_gapped", "edge")
                                or profile.data_sensitivity == "regulated" or profile.needs_model_control):
        criteria["open_weights"] = True
    if re.search(r"\bopen\b|open[- ]weight", question, re.IGNORECASE):
        criteria["open_weights"] = True
    result = query_catalog(load_catalog(settings.catalog_path), criteria,
                           stale_after_days=settings.catalog_stale_days)
    lines = []
    for hit in result.hits:
        m = hit.model
        params = f"{m.params_total_b:g}B" if m.params_total_b else "undisclosed size"
        memory = m.min_hardware.gpu_memory_gb if m.min_hardware else None
        gpu = f", min {memory:g} GB GPU" if memory else ""
        lines.append(f"- {m.name} ({m.vendor}, {params}, licence {m.license}{gpu}; facts as of {hit.as_of})")
    return "\n".join(lines)
