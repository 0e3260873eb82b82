"""The web page: a Gradio app over one shared Advisor, with Chat, Assess, Costs, Models, Knowledge and Evals tabs.

The page is a thin shell: the chat consumes the Advisor's turn events, the other tabs call the same scorer, cost
model, catalog query and index the CLI uses. It binds 127.0.0.1 unless told otherwise, makes no call outside the
machine (analytics off, no share links, fonts served locally), and allows many turns at once.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from advisor.config import set_offline_env

if TYPE_CHECKING:
    import gradio as gr

    from advisor.advisor import Advisor
    from advisor.config import Settings

__all__ = ["CSS", "build_app", "launch_options", "serve"]

log = logging.getLogger(__name__)

CSS = """
#verdict-card, .verdict-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 14px 16px;
  background: var(--background-fill-secondary); }
.verdict-card.empty { color: var(--body-text-color-subdued); }
.verdict-head { font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.06em;
  color: var(--body-text-color-subdued); }
.verdict-label { font-size: 1.25em; font-weight: 600; margin: 4px 0 8px; }
.verdict-card .badge { display: inline-block; border-radius: 999px; padding: 2px 10px; font-size: 0.85em; }
.verdict-card .badge.provisional { background: #fef3c7; color: #92400e; }
.verdict-card .badge.firm { background: #dcfce7; color: #166534; }
.verdict-card ul.facts { padding-left: 1.1em; }
.verdict-card .quote { color: var(--body-text-color-subdued); font-style: italic; }
details.source summary { cursor: pointer; font-size: 0.95em; }
details.source summary .title { font-weight: 600; }
details.source .passage { margin: 6px 0 2px 12px; padding-left: 8px; border-left: 3px solid #cbd5e1;
  font-size: 0.92em; }
details.source .path { margin-left: 12px; font-size: 0.8em; color: var(--body-text-color-subdued); }
.cited { background: #dbeafe; color: #1e40af; border-radius: 6px; padding: 0 6px; font-size: 0.8em; }
"""


def _secret(settings: Settings) -> str:
    """The key that encrypts each browser's session id; kept in the data folder so a restart keeps sessions."""
    path = settings.data_dir / "web-secret"
    try:
        return path.read_text(encoding="utf-8").strip() or _new_secret(path)
    except FileNotFoundError:
        return _new_secret(path)


def _new_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


def build_app(advisor: Advisor, settings: Settings | None = None, *, eval_runs: list[Path] | None = None) -> gr.Blocks:
    """The whole page for one Advisor (its settings unless others are given; the Evals tab lists the runs in
    eval_runs, by default evals/runs/ and evals/reports/); launch it with launch_options()."""
    set_offline_env()
    import gradio as gr

    from advisor.web_assess import build_assess
    from advisor.web_chat import build_chat
    from advisor.web_costs import build_costs
    from advisor.web_evals import build_evals
    from advisor.web_knowledge import build_knowledge
    from advisor.web_models import build_models

    settings = settings or advisor.settings
    with gr.Blocks(title="advisor — how to get an LLM", analytics_enabled=False) as demo:
        gr.Markdown("## advisor\nHow should your team get an LLM: a commercial **API**, an **open-weight** model you "
                    "adapt and host, **pre-training** your own, or a **small task-specific** model? Describe your "
                    "situation in the chat, or fill in the Assess form.")
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("Chat", id="chat"):
                chat = build_chat(advisor, concurrency=settings.web_concurrency, secret=_secret(settings))
            with gr.Tab("Assess", id="assess"):
                assess = build_assess(settings)
            with gr.Tab("Costs", id="costs") as costs_tab:
                costs = build_costs(settings)
            with gr.Tab("Models", id="models") as models_tab:
                models = build_models(settings)
            with gr.Tab("Knowledge", id="knowledge") as knowledge_tab:
                knowledge = build_knowledge(advisor, max_file_mb=settings.max_file_mb)
            with gr.Tab("Evals", id="evals") as evals_tab:
                evals = build_evals(eval_runs)
        demo.load(chat.restore, [chat.session], chat.restore_outputs(), concurrency_limit=None)
        # The other tabs fill in when first opened, so the page itself loads at once.
        costs_tab.select(costs.compute, costs.inputs, [costs.plot, costs.totals, costs.table], concurrency_limit=None)
        models_tab.select(models.query, models.inputs, [models.table, models.count], concurrency_limit=None)
        knowledge_tab.select(knowledge.listing, None, [knowledge.documents, knowledge.stats, knowledge.removable],
                             concurrency_limit=None)
        evals_tab.select(evals.refresh, [evals.run, evals.compare], evals.outputs(), concurrency_limit=None)
        assess.to_chat.click(assess.chat_message, assess.inputs, [chat.box, chat.notice], concurrency_limit=None
                             ).success(lambda text: gr.Tabs(selected="chat") if text else gr.skip(), [chat.box],
                                       [tabs]).then(
            chat.respond_if_filled, [chat.box, chat.messages, chat.owners, chat.session], chat.outputs(),
            concurrency_limit=settings.web_concurrency, concurrency_id="chat")
    demo.queue(default_concurrency_limit=settings.web_concurrency)
    return demo


def launch_options(settings: Settings, *, host: str | None = None, port: int | None = None,
                   root_path: str | None = None) -> dict[str, Any]:
    """The keyword arguments for Blocks.launch(): loopback unless told otherwise, no share link, no telemetry,
    optional log-in, uploads capped at ADVISOR_MAX_FILE_MB."""
    import gradio as gr

    theme = gr.themes.Default(primary_hue="blue")  # its fonts are bundled with Gradio, not fetched
    return {
        "server_name": host or settings.web_host, "server_port": port or settings.web_port,
        "root_path": settings.web_root_path if root_path is None else root_path, "auth": settings.web_auth,
        "share": False, "show_error": False, "quiet": True, "enable_monitoring": False, "mcp_server": False,
        "pwa": False, "ssr_mode": False, "run_history": False, "footer_links": ["api", "settings"],
        "max_file_size": int(settings.max_file_mb * 1e6), "theme": theme, "css": CSS,
        "auth_message": "advisor: log in with the user and password from ADVISOR_WEB_AUTH_USER / _PASSWORD.",
    }


def serve(settings: Settings, *, host: str | None = None, port: int | None = None, root_path: str | None = None,
          advisor: Advisor | None = None, warm: bool = True) -> int:
    """Build the Advisor (starting the bundled model when it is the default), serve the page until Ctrl-C or
    SIGTERM, print its URL, and stop everything it started."""
    set_offline_env()
    from advisor.advisor import Advisor

    advisor = advisor or Advisor(settings)
    options = launch_options(settings, host=host, port=port, root_path=root_path)
    if warm:
        print(f"advisor: getting ready (index, embedder, model {advisor.llm_name})…", flush=True)
        advisor.warm()
    demo = build_app(advisor, settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # Gradio's own loop then closes the server, and `finally` stops the model

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        demo.launch(prevent_thread_lock=True, **options)
        where = f"http://{options['server_name']}:{options['server_port']}{options['root_path'] or ''}/"
        print(f"advisor web: {where} (Ctrl-C stops it)", flush=True)
        demo.block_thread()
    except OSError as exc:  # the port is taken: say so in one line
        print(f"advisor: error: cannot serve on {options['server_name']}:{options['server_port']}: {exc}; "
              "set ADVISOR_WEB_PORT or --port", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        demo.close()
        advisor.close()
    return 0
