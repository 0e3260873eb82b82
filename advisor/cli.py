"""The `advisor` command line. Heavy libraries are imported inside commands so that --help stays instant."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.cli_base import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_SKIPPED,
    EXIT_USAGE,
    CliError,
    load_settings,
    positive_int,
    print_json,
)

if TYPE_CHECKING:
    from advisor.config import Settings

__all__ = ["build_parser", "main"]

def _open(settings: Settings) -> Any:
    from advisor.index import open_index

    return open_index(settings)


def cmd_ingest(args: argparse.Namespace) -> int:
    """Ingest the shipped knowledge and the given files or folders into the index."""
    index = _open(load_settings())
    report = index.ingest([Path(p) for p in args.paths], progress=None if not args.json else False)
    for reason in report.skipped:
        print(f"advisor: skipped {reason}", file=sys.stderr)
    if args.json:
        print_json(report.as_dict())
    else:
        print(f"ingest: {report.summary()}")
    return EXIT_SKIPPED if report.skipped else EXIT_OK


def _ensure_index(index: Any) -> None:
    # A first search on a fresh machine builds the index instead of returning nothing.
    if index.count() == 0:
        print("advisor: the index is empty; ingesting the shipped knowledge first", file=sys.stderr)
        index.ingest()


def cmd_search(args: argparse.Namespace) -> int:
    """Search the knowledge base (hybrid vector + BM25) and print the ranked passages."""
    from advisor.retrieval import HybridRetriever, clean_query

    query = clean_query(args.query)
    settings = load_settings()
    index = _open(settings)
    _ensure_index(index)
    retriever = HybridRetriever(index)
    started = time.perf_counter()
    hits = retriever.search(query, k=args.k, kind=args.kind, document=args.document)
    elapsed = time.perf_counter() - started
    if args.json:
        print_json({"query": query, "results": [h.as_dict() for h in hits], "latency_s": round(elapsed, 4)})
        return EXIT_OK
    if not hits:
        print("No passages found.")
    for rank, hit in enumerate(hits, start=1):
        where = hit.path + (f" § {hit.section}" if hit.section else "")
        print(f"[{rank}] {hit.title} — {where}  (score {hit.score:.3f})")
        snippet = " ".join(hit.text.split())
        print("    " + (snippet[:300] + "…" if len(snippet) > 300 else snippet))
    return EXIT_OK


def cmd_score(args: argparse.Namespace) -> int:
    """Score the four options for a profile (YAML or JSON file, or - for stdin)."""
    from advisor.profile import ProfileError, parse_profile
    from advisor.scoring import PolicyError, score_profile

    source = "stdin" if args.profile == "-" else args.profile
    try:
        text = sys.stdin.read() if args.profile == "-" else Path(args.profile).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read profile {source}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        result = score_profile(parse_profile(text, source=source))
    except (ProfileError, PolicyError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        sys.stdout.write(result.to_json() + "\n")
        return EXIT_OK
    top = result.ranking[0]
    print(f"Recommendation: {result.recommended} — {top['label']}" if result.recommended
          else "Recommendation: none (every option is ruled out)")
    print()
    for entry in result.ranking:
        status = "" if entry["eligible"] else "  (ruled out)"
        print(f"  {entry['option']:<12} {entry['score']:5.1f}{status}")
        reasons = sorted(entry["reasons"], key=lambda r: (r["effect"] != "excluded",
                                                         -abs(r["effect"]) if r["effect"] != "excluded" else 0))
        for reason in reasons[:4]:
            effect = reason["effect"] if reason["effect"] == "excluded" else f"{reason['effect']:+d}"
            print(f"      {effect:>8}  {reason['input']}: {reason['why']}  [{reason['source']}]")
    if result.assumptions:
        print("\nAssumed (not stated):")
        for a in result.assumptions:
            assumed = "no limit" if a["assumed"] is None else a["assumed"]
            print(f"  {a['field']} = {assumed}  ({a['why']})")
    if result.flips:
        print("\nWhat would change it:")
        for flip in result.flips:
            print(f"  {flip['change']}  ->  {flip['new_recommendation']}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="advisor",
        description="Decide how to get an LLM: a commercial API, an open-weight model, pre-training, "
        "or a small task-specific model.",
    )
    parser.add_argument("--version", action="version", version="advisor 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", help=cmd_ingest.__doc__, description=cmd_ingest.__doc__)
    p.add_argument("paths", nargs="*", help="Markdown, text, PDF or HTML files, or folders of them")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help=cmd_search.__doc__, description=cmd_search.__doc__)
    p.add_argument("query")
    p.add_argument("--k", type=positive_int, default=None, help="passages to return (default: ADVISOR_TOP_K)")
    p.add_argument("--kind", choices=["guide", "catalog", "user"], help="only passages of this kind")
    p.add_argument("--document", help="only passages of this document id (e.g. guides/option-api.md)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("score", help=cmd_score.__doc__, description=cmd_score.__doc__)
    p.add_argument("--profile", required=True, metavar="FILE", help="profile YAML/JSON file, or - for stdin")
    p.add_argument("--json", action="store_true", help="print JSON (deterministic bytes)")
    p.set_defaults(func=cmd_score)

    from advisor.cli_chat import add_chat_parsers
    from advisor.cli_costs import add_costs_parser
    from advisor.cli_eval import add_eval_parser
    from advisor.cli_models import add_models_parser
    from advisor.cli_slack import add_slack_parser
    from advisor.cli_web import add_web_parser

    add_chat_parsers(sub)
    add_costs_parser(sub)
    add_web_parser(sub)
    add_eval_parser(sub)
    add_slack_parser(sub)

    add_models_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the advisor command line; returns the exit code."""
    from advisor.config import set_offline_env

    set_offline_env()
    from advisor.cli_eval import EXPORT_COMMAND

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["eval", "export-feedback"]:
        argv = [EXPORT_COMMAND, *argv[2:]]
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_USAGE
    from advisor.retrieval import QueryError

    try:
        return int(args.func(args))
    except (CliError, QueryError) as exc:
        print(f"advisor: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("advisor: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from advisor.index import IndexError_
        from advisor.store import StoreError

        if isinstance(exc, IndexError_ | StoreError):  # a database that cannot be opened or reached: one line
            print(f"advisor: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        raise


if __name__ == "__main__":
    sys.exit(main())
