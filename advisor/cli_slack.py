"""The `advisor slack` subcommand: run the Slack bot in Socket Mode, or in HTTP mode with --http."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_slack_parser", "cmd_slack"]


def add_slack_parser(sub: Any) -> None:
    """Add the `slack` subcommand to an argparse subparsers object."""
    from advisor.cli_web import port_number

    p = sub.add_parser("slack", help=cmd_slack.__doc__, description=cmd_slack.__doc__)
    p.add_argument("--http", action="store_true", help="HTTP mode (Events API on /slack/events) instead of Socket Mode")
    p.add_argument("--host", metavar="ADDR", help="bind address in HTTP mode (default ADVISOR_SLACK_HOST, 127.0.0.1)")
    p.add_argument("--port", type=port_number, metavar="N", help="port in HTTP mode (default ADVISOR_SLACK_PORT, 3000)")
    p.add_argument("--llm", metavar="MODEL", help="litellm model string, or 'local' (default: ADVISOR_LLM)")
    p.set_defaults(func=cmd_slack)


def cmd_slack(args: argparse.Namespace) -> int:
    """Answer in Slack: Socket Mode (SLACK_BOT_TOKEN, SLACK_APP_TOKEN) or --http (SLACK_SIGNING_SECRET)."""
    import logging

    from advisor.advisor import Advisor
    from advisor.cli_base import CliError, load_settings
    from advisor.slack_bot import SlackBot

    settings = load_settings(llm=args.llm)
    if not settings.slack_bot_token:
        raise CliError("set SLACK_BOT_TOKEN (the bot token) to run the Slack bot")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with Advisor(settings) as advisor:
        try:
            bot = SlackBot(advisor)
            if args.http:
                bot.serve_http(args.host, args.port)
            else:
                bot.socket_handler().start()
        except ValueError as exc:
            raise CliError(str(exc)) from None
        except KeyboardInterrupt:
            pass
    return 0
