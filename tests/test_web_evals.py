"""The Evals tab in a real headless Chromium (Debian's, driven by playwright): two runs in a folder of their own,
one shown against the other. The page may reach nothing but loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from advisor.advisor import Advisor
from advisor.config import REPO_ROOT, Settings
from tests.fake_llm import ScriptedLLM
from tests.test_eval_report import baseline_and_run, write_run
from tests.web_app import Guarded, free_port, screenshot


@pytest.fixture
def evals_url(tmp_path: Path) -> Iterator[str]:
    """The page over an Advisor that is never asked anything, its Evals tab listing two runs in tmp_path/runs."""
    from advisor.web import build_app, launch_options

    before, now = baseline_and_run()
    write_run(tmp_path / "runs" / "before", before)
    write_run(tmp_path / "runs" / "now", now)
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=REPO_ROOT / "knowledge")
    advisor = Advisor(settings, llm=ScriptedLLM(local=True))
    demo = build_app(advisor, settings, eval_runs=[tmp_path / "runs"])
    port = free_port()
    demo.launch(prevent_thread_lock=True, **launch_options(settings, port=port))
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
        advisor.close()


def test_the_evals_tab_shows_a_run_against_another(evals_url: str, browser: Browser) -> None:
    guarded = Guarded(browser)
    try:
        page = guarded.page(evals_url)
        page.get_by_role("tab", name="Evals").click()
        report = page.frame_locator("#evals-report iframe")
        report.locator("h1").wait_for(timeout=30000)
        assert "20261203-184000" in report.locator("h1").inner_text()  # the newest run first
        assert report.locator("#changes").count() == 0
        page.get_by_role("combobox", name="Run").click()
        page.get_by_role("option", name="20261201-090000 — local/qwen2.5-coder-1.5b — 66.7%").click()
        report.locator("h1", has_text="20261201-090000").wait_for(timeout=30000)
        page.get_by_role("combobox", name="Run").click()
        page.get_by_role("option", name="20261203-184000 — local/qwen2.5-coder-1.5b — 57.1%").click()
        report.locator("h1", has_text="20261203-184000").wait_for(timeout=30000)
        page.get_by_role("combobox", name="Compare with").click()
        # The Compare list is the last one in the page (the Run list may not have closed yet on a slow machine).
        page.get_by_role("option", name="20261201-090000 — local/qwen2.5-coder-1.5b — 66.7%").last.click()
        report.locator("#changes").wait_for(timeout=30000)
        assert "20261203-184000" in report.locator("h1").inner_text()
        assert "What changed since 20261201-090000" in report.locator("#changes h2").inner_text()
        regressed = report.locator("#changes tr.regressed")
        assert regressed.count() == 3 and regressed.first.get_attribute("data-case") == "a"
        assert "recommendation pretrain not in ['api']" in regressed.first.inner_text()
        assert report.locator("#changes tr.improved").count() == 1
        assert page.locator("#evals-report iframe").get_attribute("sandbox") == ""
        assert page.locator("#evals-report iframe").bounding_box()["height"] >= 800  # type: ignore[index]
        screenshot(page, "evals")
    finally:
        guarded.close()
