"""The web app's entry point: `python app.py` serves the page built by advisor.web with settings from the
environment (ADVISOR_WEB_HOST, ADVISOR_WEB_PORT, ADVISOR_WEB_ROOT_PATH, ADVISOR_WEB_AUTH_USER/_PASSWORD)."""

from __future__ import annotations

import sys

from advisor.config import set_offline_env

set_offline_env()  # before Gradio, litellm or transformers are imported


def main() -> int:
    """Serve the advisor's web page until Ctrl-C."""
    from advisor.cli_base import CliError, load_settings
    from advisor.web import serve

    try:
        settings = load_settings()
    except CliError as exc:
        print(f"advisor: error: {exc}", file=sys.stderr)
        return 1
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
