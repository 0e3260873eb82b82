"""The `advisor models` subcommand: the model catalog filtered and sorted, and `--refresh-prices` for litellm's map."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.cli_base import EXIT_OK, CliError, load_settings, positive_float, positive_int, print_json

if TYPE_CHECKING:
    from advisor.catalog import Catalog
    from advisor.prices import PriceMap

__all__ = ["SNAPSHOT_FILE", "add_models_parser", "cmd_models", "refresh_prices"]

SNAPSHOT_FILE = "litellm-price-snapshot.json"  # in the data dir: what the last refresh read, to compare against
_SORT_KEYS = ["price_in", "price_out", "price_blended", "params", "context", "release", "name"]


def add_models_parser(sub: Any) -> None:
    """Add the `models` subcommand to an argparse subparsers object."""
    p = sub.add_parser("models", help=cmd_models.__doc__, description=cmd_models.__doc__)
    p.add_argument("--open-weights", action="store_true", help="only models whose weights are published")
    p.add_argument("--license", help="licence id or prefix, e.g. apache-2.0, mit, llama")
    p.add_argument("--commercial", action="store_true", help="only models known to allow commercial use")
    p.add_argument("--kind", choices=["api", "open_weight", "small"], help="catalog section")
    p.add_argument("--min-context", type=positive_int, help="at least this many tokens of context")
    p.add_argument("--modality", help="accepts this input modality, e.g. image")
    p.add_argument("--max-gpu-gb", type=positive_float, help="stated minimum hardware fits in this much GPU memory")
    p.add_argument("--fits-gb", type=positive_float, help="weights plus 20%% margin fit in this much memory")
    p.add_argument("--precision", choices=["bf16", "fp8", "int4"], help="precision for --fits-gb (default bf16)")
    p.add_argument("--text", help="search id, name, vendor and strengths")
    p.add_argument("--sort", choices=_SORT_KEYS, help="order by this (unknown values last)")
    p.add_argument("--descending", action="store_true", help="largest (or newest) first (with --sort)")
    p.add_argument("--limit", type=positive_int, help="at most this many models")
    p.add_argument("--retired", action="store_true", help="also list retired models (marked; never suggested)")
    p.add_argument("--refresh-prices", action="store_true",
                   help="re-read litellm's model map and say which catalog prices and context windows changed")
    p.add_argument("--prices-from", metavar="FILE_OR_URL",
                   help="with --refresh-prices: compare against this map instead of the installed one, e.g. "
                        "litellm's remote map (only where the network allows)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_models)


def cmd_models(args: argparse.Namespace) -> int:
    """List the model catalog, filtered and sorted, with sources and dates; retired models only with --retired."""
    from advisor.catalog import CatalogError, load_catalog
    from advisor.catalog_query import CatalogQueryError, parse_query, query_catalog

    settings = load_settings()
    if args.refresh_prices:
        return _cmd_refresh(args, settings.catalog_path, settings.data_dir / SNAPSHOT_FILE)
    if args.prices_from:
        raise CliError("--prices-from only applies together with --refresh-prices")
    try:
        catalog = load_catalog(settings.catalog_path)
        criteria = {
            "open_weights": True if args.open_weights else None, "license": args.license or None,
            "commercial_use": True if args.commercial else None, "kind": args.kind,
            "min_context": args.min_context, "modality_in": args.modality, "max_gpu_gb": args.max_gpu_gb,
            "fits_gb": args.fits_gb, "precision": args.precision, "text": args.text, "sort_by": args.sort,
            "descending": args.descending, "limit": args.limit, "include_retired": args.retired or None,
        }
        result = query_catalog(catalog, parse_query({k: v for k, v in criteria.items() if v is not None}),
                               stale_after_days=settings.catalog_stale_days)
    except (CatalogError, CatalogQueryError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json(result.as_dict())
        return EXIT_OK
    rows = [("id", "vendor", "released", "params (B)", "context", "licence", "$/1M in/out", "min GPU GB",
             "facts as of")]
    for hit in result.hits:
        m = hit.model
        params = "?" if m.params_total_b is None else f"{m.params_total_b:g}"
        if m.params_active_b is not None and m.params_active_b != m.params_total_b:
            params += f" ({m.params_active_b:g} act.)"
        price = f"{_num(m.price.input_per_mtok)}/{_num(m.price.output_per_mtok)}" if m.price else "-"
        price += " L" if hit.price_source else ""
        gpu = f"{m.min_hardware.gpu_memory_gb:g}" if m.min_hardware and m.min_hardware.gpu_memory_gb else "-"
        dated = hit.as_of + (" *" if hit.possibly_stale else "")
        model_id = m.id + (f" (retired {hit.shutdown_date})" if hit.retired else "")
        rows.append((model_id, m.vendor, m.release, params, f"{m.context_tokens:,}" if m.context_tokens else "?",
                     m.license, price, gpu, dated))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for hit in result.hits:
        print(f"  {hit.model.id}: {'; '.join(hit.sources)}")
    notes = [f"{result.count} of {len(catalog.models)} models"]
    if any(h.price_source for h in result.hits):
        source = next(h.price_source for h in result.hits if h.price_source)
        notes.append(f"L = price from {source}")
    if any(h.possibly_stale for h in result.hits):
        notes.append(f"* = facts possibly stale (older than {result.stale_after_days} days)")
    if not args.retired:
        hidden = len(catalog.models) - len(catalog.current(result.today))
        if hidden:
            notes.append(f"{hidden} retired models hidden (--retired lists them)")
    print("; ".join(notes))
    return EXIT_OK


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _cmd_refresh(args: argparse.Namespace, catalog_path: Path | None, snapshot: Path) -> int:
    from advisor.catalog import CatalogError, load_catalog
    from advisor.prices import PriceMapError

    try:
        prices = _read_map(args.prices_from)
        catalog = load_catalog(catalog_path, prices=prices)
        report = refresh_prices(catalog, prices, snapshot, record=args.prices_from is None)
    except (CatalogError, PriceMapError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json(report)
        return EXIT_OK
    print(f"Read {report['source']} ({report['entries']:,} entries) on {report['read_on']}: "
          f"{report['priced']} catalog models priced from it.")
    if report["previous"] is None:
        print("No earlier read recorded: this one is the baseline for the next --refresh-prices.")
    else:
        print(f"Compared with the read of {report['previous']['read_on']} ({report['previous']['source']}): "
              f"{len(report['changes'])} change(s).")
    for line in report["changes"]:
        print(f"  {line}")
    for line in report["missing"]:
        print(f"  not in the map (curated value kept): {line}")
    for line in report["shutdowns"]:
        print(f"  {line}")
    if not report["recorded"]:
        print("Not recorded: the catalog keeps using the installed litellm's map until litellm is upgraded.")
    return EXIT_OK


def _read_map(where: str | None) -> PriceMap:
    from advisor.prices import PriceMapError, load_price_map, price_map_from_json, refresh_installed_price_map

    if where is None:
        return refresh_installed_price_map()
    if where.startswith(("https://", "http://")):
        import urllib.request

        try:
            with urllib.request.urlopen(where, timeout=30) as response:
                text = response.read().decode("utf-8")
        except (OSError, ValueError) as exc:
            raise PriceMapError(f"{where}: cannot download the price map: {exc}") from None
        return price_map_from_json(text, source="litellm remote model map", version="remote", path=where,
                                   read_on=dt.date.today())
    return load_price_map(Path(where), source=f"model map {where}", version="file")


def refresh_prices(catalog: Catalog, prices: PriceMap, snapshot: Path, *, record: bool = True) -> dict[str, Any]:
    """Compare the map just read with the last recorded read for the catalog's keys; record this one if asked."""
    from advisor.prices import diff_prices, read_snapshot, write_snapshot

    keyed = [(m.id, m.litellm) for m in catalog.models if m.litellm]
    now = {key: found.as_dict() for _, key in keyed if (found := prices.get(key)) is not None}
    previous = read_snapshot(snapshot)
    changes = diff_prices(previous["entries"], now, keyed) if previous else []
    today = prices.read_on
    shutdowns = [f"{m.id}: the map gives {m.litellm} a shutdown date of {m.map_shutdown}"
                 + (" (passed: listed as retired)" if m.is_retired(today) else "")
                 for m in catalog.models if m.map_shutdown and m.map_shutdown != m.retired]
    if record:
        write_snapshot(snapshot, prices, [key for _, key in keyed])
    return {
        "source": prices.source, "path": prices.path, "entries": len(prices), "read_on": today.isoformat(),
        "priced": sum(1 for m in catalog.models if m.price is not None and m.price.source == prices.source),
        "previous": None if previous is None else {k: previous.get(k) for k in ("source", "version", "read_on")},
        "changes": [c.text() for c in changes],
        "missing": [f"{model_id} ({key})" for model_id, key in keyed if key not in now],
        "shutdowns": shutdowns, "recorded": record,
    }
