"""Helpers for the real-browser tests: serve the web app on loopback, open pages in Debian's chromium that may
reach nothing but loopback, and read what the page shows."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from advisor.config import REPO_ROOT
from tests.fake_llm import grounded_reply

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

    from advisor.advisor import Advisor
    from advisor.config import Settings

CHROMIUM = "/usr/bin/chromium"  # Debian's package (`make test` installs it); playwright never downloads one
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SCREENSHOTS = REPO_ROOT / "test-results" / "web"
TAG = re.compile(r"\bzq-[\w-]*\w")  # a nonsense word, so no cue reads a fact into it


# The page has finished loading: its load event answered (the chat redrawn) and the score chart drawn. The text box
# appears before that; on two busy cores a click then waits a second or two behind the page's own start-up.
PAGE_LOADED = """() => document.querySelector('#scores-plot .js-plotly-plot') !== null &&
                      [...document.querySelectorAll('[data-testid="status-tracker"]')]
                        .every(e => e.classList.contains('hide'))"""


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def echo_reply(request: dict[str, Any]) -> str:
    """The scripted model's answer to any request: no facts for a structured request, the message itself for a condense
    request, otherwise an answer naming the question's tag ("zq-…") so that a test sees whose answer it is."""
    prompt = request["messages"][-1]["content"]
    if request["json_schema"]:
        return '{"facts": []}'
    if "Standalone question:" in prompt:
        return prompt.split("Last message:", 1)[1].split("Standalone question:", 1)[0].strip()
    tags = TAG.findall(prompt)
    tag = tags[-1] if tags else "no tag"
    length = 300 if "long answer" in prompt else 100 if "medium answer" in prompt else 25
    # Short sentences that claim nothing pass the claim check as they are; the passage's first sentence, cited,
    # passes it as grounded.
    return (f"Answer for {tag}. " + grounded_reply(prompt).strip("- \n") + " "
            + "More grounded words follow. " * (length // 4))


@contextmanager
def serve(advisor: Advisor, settings: Settings) -> Iterator[str]:
    """The web app for this advisor on a free loopback port; yields its URL."""
    from advisor.web import build_app, launch_options

    demo = build_app(advisor, settings)
    port = free_port()
    demo.launch(prevent_thread_lock=True, **launch_options(settings, port=port))
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


class Guarded:
    """A browser context whose requests may only go to loopback; any other is refused and remembered."""

    def __init__(self, browser: Browser) -> None:
        self.outside: list[str] = []
        self.context: BrowserContext = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        host = urlparse(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def page(self, url: str) -> Page:
        """A page of the app, loaded and ready for input."""
        page = self.context.new_page()
        page.goto(url)
        page.wait_for_selector("#msg textarea")
        page.wait_for_function(PAGE_LOADED)
        return page

    def close(self) -> None:
        """Close the context; fail if the page tried to reach anything outside the machine."""
        self.context.close()
        assert self.outside == [], f"the page tried to leave loopback: {self.outside[:5]}"


def ask(page: Page, text: str) -> None:
    """Type a message into the chat and send it."""
    page.fill("#msg textarea", text)
    page.click("#send")


def wait_idle(page: Page, users: int, timeout_s: float = 60) -> None:
    """Wait until the chat shows `users` user messages and no turn is running."""
    page.wait_for_function(
        """n => document.querySelectorAll('#chatbot [data-testid="user"]').length === n &&
                [...document.querySelectorAll('#chatbot [data-testid="status-tracker"]')]
                  .every(e => e.classList.contains('hide'))""", arg=users, timeout=timeout_s * 1000)


def record_answer_growth(page: Page) -> None:
    """Remember, in the page, the length of every assistant message each time the chat changes (read with
    answer_lengths); a streamed answer has many."""
    page.evaluate("""() => { window.__lengths = [];
        new MutationObserver(() => window.__lengths.push(
            [...document.querySelectorAll('#chatbot [data-testid="bot"]')].map(b => b.innerText.length)))
          .observe(document.querySelector('#chatbot'), {subtree: true, childList: true, characterData: true}); }""")


def answer_lengths(page: Page) -> list[int]:
    """The distinct lengths the first turn's answer (its second assistant message, after the steps) had since
    record_answer_growth, in order."""
    return list(dict.fromkeys(lengths[1] for lengths in page.evaluate("() => window.__lengths") if len(lengths) > 1))


def last_answer(page: Page) -> str:
    """The text of the latest assistant message."""
    return str(page.locator('#chatbot [data-testid="bot"]').last.inner_text())


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as test-results/web/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def plot_state(page: Page, elem_id: str) -> dict[str, Any]:
    """What a plotly chart in the page draws: its traces (name, x, y) and its shapes and annotations."""
    return dict(page.evaluate(
        """id => { const p = document.querySelector('#' + id + ' .js-plotly-plot');
                   if (!p || !p.data) return {traces: [], shapes: [], annotations: []};
                   return {traces: p.data.map(t => ({name: t.name || '', x: Array.from(t.x || []),
                                                     y: Array.from(t.y || [])})),
                           shapes: (p.layout.shapes || []).map(s => ({x0: s.x0, name: s.name || ''})),
                           annotations: (p.layout.annotations || []).map(a => a.text)}; }""", elem_id))
