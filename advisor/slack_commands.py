"""The `/advisor` slash command: help, score, models and costs through the deterministic tools, answered as
ephemeral mrkdwn text (the same code `advisor score`, `advisor models` and `advisor costs` use)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.config import Settings

__all__ = ["HELP", "run_command"]

HELP = """*Ask me in a thread:* mention me in a channel or send me a direct message, e.g.
> We handle patient records that must stay on our servers; our team has two ML engineers. Should we fine-tune?
*Slash command* (answers only you see):
• `/advisor score key=value ...` — score the four options for stated facts, e.g. \
`/advisor score data_sensitivity=regulated deployment=on_prem team_ml_expertise=basic`
• `/advisor models [key=value ...]` — the model catalog, e.g. `/advisor models open_weights=true min_context=128000 \
sort_by=price_blended limit=5`
• `/advisor costs [monthly_tokens=5e8] [api_model=ID] [open_model=ID] [gpu=h100] [years=3]` — API vs self-hosting
• `/advisor help` — this message"""

_MAX_CHARS = 3900  # an ephemeral message's text stays under Slack's 4,000-character guidance


class _UsageError(ValueError):
    pass


def _pairs(words: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for word in words:
        name, sep, value = word.partition("=")
        if not sep or not name.strip():
            raise _UsageError(f"expected key=value, got `{word}`")
        pairs[name.strip().replace("-", "_")] = value.strip()
    return pairs


def _typed(value: str) -> Any:
    """A command-line value as YAML would read it (true, 3, 5e8, 500M stays text for the parsers)."""
    import yaml

    try:
        return yaml.safe_load(value) if value else None
    except yaml.YAMLError:
        return value


def run_command(text: str, settings: Settings) -> str:
    """The reply to `/advisor TEXT`, one mrkdwn message; bad input gets a one-line reason and the usage."""
    try:
        words = shlex.split(text or "")
    except ValueError as exc:
        return f"I could not read that: {exc}.\n\n{HELP}"
    name, args = (words[0].lower(), words[1:]) if words else ("help", [])
    try:
        if name == "help":
            return HELP
        if name == "score":
            return _score(args, settings)
        if name == "models":
            return _models(args, settings)
        if name == "costs":
            return _costs(args, settings)
    except (_UsageError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"{first}\nTry `/advisor help`."
    return f"Unknown command `{name}`.\n\n{HELP}"


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def _score(args: list[str], settings: Settings) -> str:
    from advisor.profile import parse_profile
    from advisor.scoring import load_policy, score_profile

    profile = parse_profile({k: _typed(v) for k, v in _pairs(args).items()}, source="/advisor score")
    result = score_profile(profile, policy=load_policy(settings.policy_path, settings.knowledge_dir)).as_dict()
    top = result["recommended"]
    label = next((r["label"] for r in result["ranking"] if r["option"] == top), top)
    lines = [f"*Recommendation: {label}* (`{top}`)" if top else "*Recommendation: none* (every option is ruled out)"]
    for entry in result["ranking"]:
        lines.append(f"• `{entry['option']}` {entry['score']:.1f}" + ("" if entry["eligible"] else " (ruled out)"))
    if result["assumptions"]:
        shown = ", ".join(f"{a['field']} = {'no limit' if a['assumed'] is None else a['assumed']}"
                          for a in result["assumptions"][:8])
        lines.append(f"_Assumed (not stated):_ {shown}")
    if result["flips"]:
        lines.append("_What would change it:_ " + "; ".join(f"{f['change']} → `{f['new_recommendation']}`"
                                                           for f in result["flips"][:4]))
    return _clip("\n".join(lines))


def _models(args: list[str], settings: Settings) -> str:
    from advisor.catalog import load_catalog
    from advisor.catalog_query import parse_query, query_catalog

    criteria: dict[str, Any] = {k: _typed(v) for k, v in _pairs(args).items()}
    criteria.setdefault("limit", 10)
    catalog = load_catalog(settings.catalog_path)
    result = query_catalog(catalog, parse_query(criteria), stale_after_days=settings.catalog_stale_days)
    lines = [f"*{result.count} of {len(catalog.models)} models*"]
    for hit in result.hits:
        m = hit.model
        params = "" if m.params_total_b is None else f", {m.params_total_b:g}B params"
        price = (f", ${m.price.input_per_mtok:g}/${m.price.output_per_mtok:g} per 1M in/out"
                 if m.price and m.price.input_per_mtok is not None and m.price.output_per_mtok is not None else "")
        stale = " _(possibly stale)_" if hit.possibly_stale else ""
        lines.append(f"• `{m.id}` {m.vendor}, {m.license}{params}{price}{stale}")
    return _clip("\n".join(lines))


def _costs(args: list[str], settings: Settings) -> str:
    from advisor.catalog import load_catalog
    from advisor.catalog_query import DEFAULT_API_MODEL, suggested_model
    from advisor.cli_costs import DEFAULT_MONTHLY_TOKENS, DEFAULT_OPEN_MODEL, costs_table
    from advisor.cost_assumptions import load_cost_assumptions
    from advisor.costs import compare
    from advisor.profile import parse_quantity

    pairs = _pairs(args)
    known = {"monthly_tokens", "api_model", "open_model", "gpu", "precision", "years"}
    unknown = sorted(set(pairs) - known)
    if unknown:
        raise _UsageError(f"unknown option `{unknown[0]}` (known: {', '.join(sorted(known))})")
    tokens = DEFAULT_MONTHLY_TOKENS
    if "monthly_tokens" in pairs:
        parsed = parse_quantity(pairs["monthly_tokens"])
        if parsed is None or parsed < 0:
            raise _UsageError(f"not a token count: `{pairs['monthly_tokens']}` (e.g. 5e8, 500M, 2B)")
        tokens = parsed
    years = None
    if "years" in pairs:
        try:
            years = float(pairs["years"])
        except ValueError:
            raise _UsageError(f"years must be a number, got `{pairs['years']}`") from None
    catalog = load_catalog(settings.catalog_path)
    # The default while current, else its successor or the cheapest current API model (as `advisor costs` does).
    api_model = pairs.get("api_model") or suggested_model(catalog, DEFAULT_API_MODEL).id
    result = compare(api_model, pairs.get("open_model", DEFAULT_OPEN_MODEL), tokens,
                     years=years, gpu=pairs.get("gpu"), precision=pairs.get("precision"), catalog=catalog,
                     assumptions=load_cost_assumptions(settings.costs_path))
    return _clip(f"```\n{costs_table(result.as_dict())}\n```")
