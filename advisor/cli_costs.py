"""The `advisor costs` subcommand: an API model vs a self-hosted open-weight model, monthly, multi-year, break-even."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

__all__ = ["add_costs_parser", "cmd_costs", "costs_table", "parse_tokens"]

# While current; once retired, `advisor costs` takes its successor or the cheapest current API model.
DEFAULT_OPEN_MODEL = "gpt-oss-120b"
DEFAULT_MONTHLY_TOKENS = 5e8  # the costs guide's worked example


def parse_tokens(text: str) -> float:
    """A token count such as 500000000, 5e8, 500_000_000, 500M, 2B or 1.5T (argparse type)."""
    from advisor.profile import parse_quantity

    if text.strip().startswith("-"):
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    value = parse_quantity(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"not a token count: {text!r} (e.g. 500000000, 5e8, 500M, 2B)")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite token count: {text!r}")
    return value


def _years(text: str) -> float:
    from advisor.cli_base import positive_float

    return positive_float(text)


def _override(text: str) -> tuple[str, float]:
    name, sep, raw = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip(), float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, got {text!r}") from None


def add_costs_parser(sub: Any) -> None:
    """Add the `costs` subcommand to an argparse subparsers object."""
    from advisor.catalog_query import DEFAULT_API_MODEL

    p = sub.add_parser("costs", help=cmd_costs.__doc__, description=cmd_costs.__doc__)
    p.add_argument("--monthly-tokens", type=parse_tokens, default=DEFAULT_MONTHLY_TOKENS, metavar="N",
                   help="input + output tokens a month: 500000000, 5e8, 500M or 2B (default 500M)")
    p.add_argument("--api-model", metavar="ID",
                   help=f"current catalog model with an API price (default {DEFAULT_API_MODEL} while it is current)")
    p.add_argument("--open-model", default=DEFAULT_OPEN_MODEL, metavar="ID",
                   help=f"open-weight catalog model to self-host (default {DEFAULT_OPEN_MODEL})")
    p.add_argument("--gpu", metavar="TYPE",
                   help="GPU type from knowledge/costs.yaml: h100, a100, h200, h800, a100-40gb (default h100)")
    p.add_argument("--precision", choices=["bf16", "fp8", "int4"],
                   help="serving precision (default: the model's native one, else bf16)")
    p.add_argument("--years", type=_years, metavar="N", help="horizon for multi-year totals (default 3)")
    p.add_argument("--set", type=_override, action="append", default=[], metavar="NAME=VALUE", dest="overrides",
                   help="override an assumption, e.g. --set utilisation=0.7 --set gpu_hourly_usd=2 (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_costs)


def cmd_costs(args: argparse.Namespace) -> int:
    """Compare an API model with self-hosting an open-weight model: monthly, multi-year and break-even costs."""
    from advisor.catalog import load_catalog
    from advisor.catalog_query import DEFAULT_API_MODEL, suggested_model
    from advisor.cli_base import load_settings
    from advisor.cost_assumptions import load_cost_assumptions
    from advisor.costs import compare

    settings = load_settings()
    try:
        catalog = load_catalog(settings.catalog_path)
        api_model = args.api_model or suggested_model(catalog, DEFAULT_API_MODEL).id
        result = compare(
            api_model, args.open_model, args.monthly_tokens, years=args.years, gpu=args.gpu,
            precision=args.precision, catalog=catalog,
            assumptions=load_cost_assumptions(settings.costs_path), overrides=dict(args.overrides),
        )
    except ValueError as exc:  # includes catalog, cost-file and settings validation errors
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        print(f"advisor: error: {lines[0]}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        print(costs_table(result.as_dict()))
    return 0


def _usd(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.2f}" if abs(value) < 100 else f"${value:,.0f}"


def _tokens(value: float) -> str:
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def costs_table(data: dict[str, Any]) -> str:
    api, host, even = data["api"], data["self_host"], data["break_even"]
    years = f"{data['years']:g}"
    span = f"{years} year" + ("" if data["years"] == 1 else "s")
    gpu = host["gpu"].upper()
    hourly = host["gpu_usd"] / host["gpu_hours"] if host["gpu_hours"] else 0.0
    share = api["input_tokens"] / api["monthly_tokens"] if api["monthly_tokens"] else None
    mix = f" ({share:.0%} input / {1 - share:.0%} output)" if share is not None else ""
    rows = [
        ("", f"API {api['model_id']}", f"self-host {host['model_id']}"),
        ("tokens / GPUs a month", _usd(api["token_usd"]),
         f"{_usd(host['gpu_usd'])} ({host['gpus']} × {gpu}, {host['gpu_hours']:,.0f} GPU-h at {_usd(hourly)})"),
        ("staff a month", _usd(api["staff_usd"]), _usd(host["staff_usd"])),
        ("monthly total", _usd(api["monthly_usd"]), _usd(host["monthly_usd"])),
        ("one-off (setup)", _usd(api["one_off_usd"]), _usd(host["one_off_usd"])),
        (f"{years}-year total", _usd(api["total_usd"]), _usd(host["total_usd"])),
        ("effective $ per 1M tokens", _usd(api["blended_usd_per_mtok"]), _usd(host["usd_per_mtok"])),
    ]
    source = api.get("price_source")
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"Costs at {_tokens(data['monthly_tokens'])} tokens a month{mix}, over {span}",
        "",
        *("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows),
        "",
        f"Sizing: {host['precision']} weights {host['weights_gb']:.1f} GB + overhead {host['overhead_gb']:.1f} GB"
        f" + KV cache {host['kv_cache_gb']:.1f} GB ({host['context_tokens']:,} tokens × {host['concurrency']}"
        f" sequences, {host['kv_method']}) = {host['memory_per_replica_gb']:.1f} GB -> {host['gpus_per_replica']}"
        f" × {gpu} per replica; {host['replicas']} replicas = {host['gpus']} GPUs, capacity"
        f" {_tokens(host['capacity_monthly_tokens'])} tokens a month.",
    ]
    if source:
        lines.insert(1, f"API price of {api['model_id']}: ${api['input_usd_per_mtok']:g} input / "
                        f"${api['output_usd_per_mtok']:g} output per 1M tokens, from {source}.")
    if even["monthly_tokens"] is not None:
        lines.append(f"Break-even: {_tokens(even['monthly_tokens'])} tokens a month ({even['gpus']} × {gpu} at the "
                     "crossing); above it self-hosting stays cheaper.")
    else:
        lines.append(f"Break-even: none. {even['reason']}.")
    cheaper = {"api": "the API", "self_host": "self-hosting"}
    lines.append(f"Cheaper at this volume: {cheaper[data['cheaper_monthly']]} per month, "
                 f"{cheaper[data['cheaper_total']]} over {span}.")
    lines += ["", "Assumptions (source dates in brackets; sources with --json or in knowledge/costs.yaml; "
              "change a number with --set NAME=VALUE):"]
    for item in data["assumptions"]:
        value = item["value"]
        shown = f"{value:,.6g}" if isinstance(value, float | int) else str(value)
        lines.append(f"  {item['name']} = {shown} {item['unit']} [{item['date']}]")
    return "\n".join(lines)
