"""The `advisor web` subcommand: serve the Gradio web page (what `make run` and app.py start)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_web_parser", "cmd_web", "port_number"]


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {text!r}")
    return value


def _root_path(text: str) -> str:
    value = text.strip().rstrip("/")
    if value and not value.startswith(("/", "http://", "https://")):
        raise argparse.ArgumentTypeError(f"a root path starts with / (e.g. /advisor), got {text!r}")
    return value


def add_web_parser(sub: Any) -> None:
    """Add the `web` subcommand to an argparse subparsers object."""
    p = sub.add_parser("web", help=cmd_web.__doc__, description=cmd_web.__doc__)
    p.add_argument("--host", metavar="ADDR", help="bind address (default ADVISOR_WEB_HOST, 127.0.0.1)")
    p.add_argument("--port", type=port_number, metavar="N", help="port (default ADVISOR_WEB_PORT, 7860)")
    p.add_argument("--root-path", type=_root_path, metavar="PATH",
                   help="mount point behind a reverse proxy, e.g. /advisor (default ADVISOR_WEB_ROOT_PATH)")
    # Share links tunnel the page through a third-party server: this app never makes them.
    p.add_argument("--share", choices=["false"], default="false",
                   help="public share links are never made (only 'false' is accepted)")
    p.add_argument("--llm", metavar="MODEL", help="litellm model string, or 'local' (default: ADVISOR_LLM)")
    p.set_defaults(func=cmd_web)


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the web page (chat, assess, costs, models, knowledge) on 127.0.0.1:7860 until Ctrl-C."""
    from advisor.cli_base import load_settings
    from advisor.web import serve

    settings = load_settings(llm=args.llm)
    return serve(settings, host=args.host, port=args.port, root_path=args.root_path)
