"""Web page benchmark: how long after submitting a question the browser shows the verdict card and the first
streamed words, against the Advisor's own time to those events, measured in the same run on the same Advisor.

    python benchmarks/bench_web.py [--repeats N]

The model is an instant scripted one at the LLM seam, so what is measured is the page's own cost: Gradio's queue,
the event stream to the browser, the chat's redraws and the verdict card. Browser times are taken inside the page
(performance.now() at the click on a fully loaded page and at the first frame that shows each thing), in Debian's
chromium; the raw Advisor times come from `advisor.events()` on a fresh conversation, interleaved with the browser
runs. Medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.config import REPO_ROOT, Settings, set_offline_env

set_offline_env()

QUESTION = ("We are a hospital group. Patient records must stay on our own servers, and our ML engineers have "
            "fine-tuned models before. What should we do?")
TARGET_S = 0.5

# Runs in the page: click Send, then note when the verdict card and the answer's first words first appear.
_MEASURE = """() => new Promise(resolve => {
  const bots = () => document.querySelectorAll('#chatbot [data-testid="bot"]');
  const seen = {};
  const check = () => {
    const now = performance.now() - t0;
    if (seen.verdict === undefined && document.querySelector('#verdict-card[data-recommendation]')) seen.verdict = now;
    const b = bots();
    if (seen.text === undefined && b.length >= 2 && b[b.length - 1].innerText.trim().length > 0) seen.text = now;
    if (seen.verdict !== undefined && seen.text !== undefined) { observer.disconnect(); resolve(seen); }
  };
  const observer = new MutationObserver(check);
  observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
  const t0 = performance.now();
  setTimeout(() => resolve(seen), 60000);  // never hang: a missing time shows as an error below
  document.querySelector('#send').click();
})"""


def _raw(advisor: Any) -> tuple[float, float]:
    """The Advisor's own seconds to the verdict event and to the first text event, on a fresh conversation."""
    from advisor.events import TextEvent, VerdictEvent

    started = time.perf_counter()
    verdict = text = None
    with advisor.events(QUESTION, conversation_key=f"bench:{uuid.uuid4().hex}") as stream:
        for event in stream:
            if verdict is None and isinstance(event, VerdictEvent):
                verdict = time.perf_counter() - started
            if text is None and isinstance(event, TextEvent):
                text = time.perf_counter() - started
    assert verdict is not None and text is not None
    return verdict, text


def _browser(browser: Any, url: str) -> tuple[float, float]:
    """Seconds from the click to the verdict card and to the first words of the answer, inside a fresh page."""
    from tests.web_app import PAGE_LOADED

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("#msg textarea")
        page.wait_for_function(PAGE_LOADED)  # submit on a loaded page, as a person does
        page.fill("#msg textarea", QUESTION)
        seen = page.evaluate(_MEASURE)
        page.wait_for_function("""() => [...document.querySelectorAll('#chatbot [data-testid="status-tracker"]')]
                                        .every(e => e.classList.contains('hide'))""")
        if "verdict" not in seen or "text" not in seen:
            raise RuntimeError(f"the page showed no verdict card or answer within 60 s: {seen}")
        return seen["verdict"] / 1000, seen["text"] / 1000
    finally:
        context.close()


def main() -> int:
    """Run the benchmark and print the browser's times against the Advisor's own."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from advisor.advisor import Advisor
    from advisor.index import open_index
    from advisor.store import Store
    from tests.fake_llm import ScriptedLLM
    from tests.web_app import CHROMIUM, CHROMIUM_ARGS, echo_reply, serve

    with tempfile.TemporaryDirectory(prefix="advisor-bench-web-") as tmp:
        settings = Settings(data_dir=Path(tmp))
        open_index(settings).ingest(progress=False)
        advisor = Advisor(settings, llm=ScriptedLLM(default=echo_reply), store=Store(Path(tmp) / "db.sqlite3"))
        advisor.warm()
        raw, web = [], []
        with serve(advisor, settings) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            _raw(advisor), _browser(browser, url)  # warm both paths: BM25, Gradio's first event, chromium
            for _ in range(args.repeats):
                raw.append(_raw(advisor))
                web.append(_browser(browser, url))
            browser.close()
    result: dict[str, float] = {}
    for i, name in enumerate(("verdict", "first_text")):
        own = statistics.median(r[i] for r in raw)
        shown = statistics.median(w[i] for w in web)
        result |= {f"{name}_advisor_s": own, f"{name}_browser_s": shown, f"{name}_overhead_s": shown - own}
    for name, label, event in (("verdict", "verdict card", "verdict event"),
                               ("first_text", "first streamed words", "first text event")):
        extra = result[f"{name}_overhead_s"]
        print(f"web        {label} in the browser {result[f'{name}_browser_s'] * 1000:.0f} ms after submit vs the "
              f"Advisor's own {event} at {result[f'{name}_advisor_s'] * 1000:.0f} ms: {extra * 1000:+.0f} ms "
              f"(target <= {TARGET_S * 1000:.0f} ms; medians of {args.repeats})")
    out = REPO_ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "web.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
