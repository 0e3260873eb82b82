"""The web page in a real headless Chromium (Debian's, driven by playwright), served on loopback.

The only fake is the model at the LLM seam (the in-process scripted model, marked local with two slots so that
the Advisor's own queue is in play); index, embedder, scorer, cost model, catalog and store are real. Every page
may reach nothing but loopback. Screenshots of each tab go to test-results/web/.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from advisor.advisor import Advisor
from advisor.config import REPO_ROOT, Settings
from advisor.store import Store
from tests.fake_llm import ScriptedLLM
from tests.web_app import (
    Guarded,
    answer_lengths,
    ask,
    echo_reply,
    last_answer,
    plot_state,
    record_answer_growth,
    screenshot,
    serve,
    wait_idle,
)

HOSPITAL = ("We are a hospital group. Patient records must stay on our own servers, and our ML engineers have "
            "fine-tuned models before. What should we do? zq-hospital")


@pytest.fixture(scope="module")
def web_settings(shipped_settings: Settings, shipped_index: Any, tmp_path_factory: pytest.TempPathFactory
                 ) -> Settings:
    """A data folder of its own (a copy of the shipped index), so uploads never touch other tests' index."""
    data = tmp_path_factory.mktemp("web-data")
    shutil.copytree(shipped_settings.data_dir / "chroma", data / "chroma")
    return Settings(data_dir=data, knowledge_dir=REPO_ROOT / "knowledge", local_parallel=2, max_message_chars=2000)


@pytest.fixture(scope="module")
def llm() -> ScriptedLLM:
    return ScriptedLLM(local=True, piece_delay_s=0.03, default=echo_reply)


@pytest.fixture(scope="module")
def web(web_settings: Settings, llm: ScriptedLLM, embedder: Any, reader: Any) -> Iterator[tuple[Advisor, str]]:
    from advisor.index import open_index
    from advisor.retrieval import HybridRetriever

    index = open_index(web_settings, embedder=embedder)
    advisor = Advisor(web_settings, llm=llm, retriever=HybridRetriever(index), store=Store(web_settings.db_path),
                      reader=reader)  # the trained reader (a data folder of its own has no cache of it)
    with serve(advisor, web_settings) as url:
        yield advisor, url


@pytest.fixture
def guarded(browser: Browser) -> Iterator[Guarded]:
    context = Guarded(browser)
    yield context
    context.close()


def _turn(advisor: Advisor, tag: str) -> Any:
    """The stored turn whose message carries this tag."""
    for conversation in advisor.store.list_conversations(limit=500):
        for turn in advisor.store.turns(conversation.id):
            if tag in turn.user:
                return turn
    raise AssertionError(f"no stored turn mentions {tag}")


def test_a_question_shows_the_verdict_card_the_streamed_answer_and_its_sources(web: tuple[Advisor, str],
                                                                               guarded: Guarded) -> None:
    advisor, url = web
    page = guarded.page(url)
    screenshot(page, "chat-start")
    record_answer_growth(page)
    ask(page, HOSPITAL)
    page.wait_for_selector('#verdict-card[data-recommendation="open_weight"]', timeout=30000)
    wait_idle(page, 1)
    lengths = answer_lengths(page)
    assert len(lengths) >= 10 and lengths == sorted(lengths), f"the answer did not stream: {lengths}"
    answer = last_answer(page)
    assert answer.startswith("Recommendation: Open-weight model") and "Answer for zq-hospital" in answer
    chat = page.inner_text("#chatbot")
    assert "How the advisor worked: understanding → scoring → retrieving → writing" in chat
    card = page.inner_text("#verdict-card")
    assert "Based on what you stated" in card and "Data sensitivity: regulated" in card
    assert "“Patient records" in card  # the user's own words behind the fact
    bars = plot_state(page, "scores-plot")["traces"][0]
    assert len(bars["y"]) == 4 and bars["y"][-1] == "Open-weight model"  # best on top
    screenshot(page, "chat")
    bot = page.locator('#chatbot [data-testid="bot"]').last
    bot.locator("details.sources > summary").click()
    sources = bot.locator("details.source")
    assert sources.count() >= 3 and bot.locator("details.source.cited").count() >= 1
    sources.first.locator("summary").click()
    passage = sources.first.locator(".passage")
    passage.wait_for(state="visible")
    assert len(passage.inner_text()) > 40
    screenshot(page, "chat-sources")
    turn = _turn(advisor, "zq-hospital")
    assert turn.recommendation == "open_weight" and not turn.stopped


def test_a_clarifying_reply_is_answered_in_context(web: tuple[Advisor, str], guarded: Guarded,
                                                   llm: ScriptedLLM) -> None:
    _, url = web
    page = guarded.page(url)
    ask(page, "We want a customer-support chatbot for our shop, zq-shop. Which option fits?")
    wait_idle(page, 1)
    assert page.get_attribute("#verdict-card", "data-provisional") == "true"
    option = page.locator("#chatbot button.option", has_text="Our own servers")
    option.click()
    wait_idle(page, 2)
    users = page.locator('#chatbot [data-testid="user"]')
    assert users.last.inner_text().strip() == "It must run on our own servers, on-premises."
    card = page.inner_text("#verdict-card")
    assert "Where it runs: on prem" in card and "Task scope: broad" in card  # the first message still counts
    # The reply was written as the same situation's answer, its verdict read from both messages.
    last = llm.history[-1]["messages"][-1]["content"]
    assert "The scorer recommends" in last and "deployment = on_prem" in last and "task_scope = broad" in last, \
        last[-300:]


def test_thumbs_down_with_a_comment_is_stored(web: tuple[Advisor, str], guarded: Guarded) -> None:
    advisor, url = web
    page = guarded.page(url)
    ask(page, "What is QLoRA and how much memory does it save? zq-feedback")
    wait_idle(page, 1)
    page.locator('#chatbot button[aria-label="Dislike"]').last.click()
    page.wait_for_function("() => document.querySelector('#chat-notice').innerText.includes('recorded')")
    page.fill("#feedback-comment textarea, #feedback-comment input", "too vague about the memory numbers")
    page.click("#feedback-send")
    page.wait_for_function("() => document.querySelector('#chat-notice').innerText.includes('Comment recorded')")
    turn = _turn(advisor, "zq-feedback")
    [feedback] = advisor.store.feedback(turn_id=turn.id)
    assert (feedback.rating, feedback.comment, feedback.source) == (-1, "too vague about the memory numbers", "web")


def test_stop_ends_the_answer_and_keeps_the_partial_turn(web: tuple[Advisor, str], guarded: Guarded) -> None:
    advisor, url = web
    page = guarded.page(url)
    ask(page, "Please give me a long answer about LoRA adapters, zq-stop.")
    page.wait_for_function("""() => (document.querySelector('#chatbot').innerText
                                        .match(/More grounded words/g) || []).length >= 3""")
    started = time.monotonic()
    page.click("#stop")
    wait_idle(page, 1)
    assert time.monotonic() - started < 5
    assert last_answer(page).split("\n\nSources")[0].endswith("(stopped)")
    turn = _turn(advisor, "zq-stop")
    assert turn.stopped and 15 < len(turn.answer.split()) < 280


def test_new_conversation_during_an_answer_stops_it_and_stays_empty(web: tuple[Advisor, str], guarded: Guarded
                                                                     ) -> None:
    advisor, url = web
    page = guarded.page(url)
    ask(page, "Please give me a long answer about LoRA ranks, zq-abandon.")
    page.wait_for_function("() => document.querySelector('#chatbot').innerText.includes('More grounded words')")
    page.click("#new-conversation")
    page.wait_for_function("""() => [...document.querySelectorAll('#chatbot [data-testid="status-tracker"]')]
                                    .every(e => e.classList.contains('hide'))""")
    time.sleep(0.5)
    assert page.locator('#chatbot [data-testid="user"]').count() == 0  # the stopped turn did not draw itself back
    assert _turn(advisor, "zq-abandon").stopped


def test_the_conversation_survives_a_reload_and_new_starts_over(web: tuple[Advisor, str], guarded: Guarded) -> None:
    _, url = web
    page = guarded.page(url)
    ask(page, HOSPITAL.replace("zq-hospital", "zq-reload"))
    wait_idle(page, 1)
    page.reload()
    page.wait_for_function("""() => document.querySelectorAll('#chatbot [data-testid="user"]').length === 1""")
    assert "zq-reload" in page.inner_text("#chatbot")
    assert page.get_attribute("#verdict-card", "data-recommendation") == "open_weight"
    ask(page, "And what would it cost? zq-reload-2")
    wait_idle(page, 2)
    assert "Answer for zq-reload-2" in last_answer(page)
    page.click("#new-conversation")
    page.wait_for_function("""() => document.querySelectorAll('#chatbot [data-testid="user"]').length === 0""")
    page.reload()
    page.wait_for_selector("#msg textarea")
    time.sleep(1)
    assert page.locator('#chatbot [data-testid="user"]').count() == 0
    assert "zq-reload" not in page.inner_text("#chatbot")


def test_empty_and_oversized_messages_are_refused_with_the_reason(web: tuple[Advisor, str], guarded: Guarded
                                                                  ) -> None:
    advisor, url = web
    page = guarded.page(url)
    ask(page, "   ")
    page.wait_for_function("() => document.querySelector('#chat-notice').innerText.includes('empty')")
    too_long = "zq-long " + "x" * 2100
    ask(page, too_long)
    page.wait_for_function("() => document.querySelector('#chat-notice').innerText.includes('too long')")
    assert "the limit is 2000" in page.inner_text("#chat-notice")
    assert page.input_value("#msg textarea") == too_long  # nothing typed is lost
    assert page.locator('#chatbot [data-testid="user"]').count() == 0
    assert not any("zq-long" in t.user for c in advisor.store.list_conversations(limit=500)
                   for t in advisor.store.turns(c.id))


def _choose(page: Page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_assess_scores_like_the_cli_and_carries_the_profile_into_the_chat(
        web: tuple[Advisor, str], guarded: Guarded, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from advisor.cli import main

    _, url = web
    page = guarded.page(url)
    page.get_by_role("tab", name="Assess").click()
    _choose(page, "Data sensitivity", "regulated")
    _choose(page, "Where it runs", "on_prem")
    _choose(page, "Team ML expertise", "experienced")
    page.fill("#assess-monthly_tokens input, #assess-monthly_tokens textarea", "3B")
    page.click("#assess-run")
    page.wait_for_function("() => document.querySelector('#assess-summary').innerText.includes('Recommendation')")
    assert "Open-weight model" in page.inner_text("#assess-summary")
    bars = plot_state(page, "assess-plot")["traces"][0]
    assert len(bars["y"]) == 4 and bars["y"][-1] == "Open-weight model"
    page.get_by_text("The same output as").click()
    shown = page.input_value("#assess-json textarea")
    profile = tmp_path / "profile.yaml"
    profile.write_text("data_sensitivity: regulated\ndeployment: on_prem\nteam_ml_expertise: experienced\n"
                       "monthly_tokens: 3B\n", encoding="utf-8")
    assert main(["score", "--profile", str(profile), "--json"]) == 0
    assert shown == capsys.readouterr().out.rstrip("\n")  # byte for byte
    page.get_by_text("Why: each factor").click()
    assert "guides/" in page.inner_text("#assess-reasons")
    scored = json.loads(shown)
    flips = page.inner_text("#assess-flips")
    assert all(f["change"] in flips for f in scored["flips"]) and (scored["flips"] or "no single change" in flips)
    page.get_by_text("Assumed, not stated").click()
    page.locator('#assess-assumptions [data-testid="cell-0-0"]').wait_for()
    rows = page.evaluate("""() => [...document.querySelectorAll('#assess-assumptions [data-testid^="cell-"]')]
                                  .filter(c => c.dataset.testid.endsWith('-0')).map(c => c.innerText.trim())""")
    assert len(rows) == len(scored["assumptions"]) == 10  # the 14 fields less the 4 stated
    screenshot(page, "assess")
    page.click("#assess-to-chat")
    page.wait_for_selector('#verdict-card[data-recommendation="open_weight"]', timeout=30000)
    wait_idle(page, 1)
    card = page.inner_text("#verdict-card")
    assert "Where it runs: on prem" in card and "Tokens a month: 3 billion" in card
    assert "Team ML expertise: experienced" in card


def test_changing_a_cost_input_redraws_the_plot(web: tuple[Advisor, str], guarded: Guarded) -> None:
    _, url = web
    page = guarded.page(url)
    page.get_by_role("tab", name="Costs").click()
    page.wait_for_function("() => document.querySelector('#cost-plot .js-plotly-plot')?.data?.length === 2")
    before = plot_state(page, "cost-plot")
    assert before["traces"][0]["name"] == "API: gpt-4.1-mini"
    assert [s["x0"] for s in before["shapes"]][-1] == pytest.approx(5e8)  # "your volume" at the default 500M
    assert any(a.startswith("break-even") for a in before["annotations"])
    assert "Break-even" in page.inner_text("#cost-totals") and "3-year total" in page.inner_text("#cost-totals")
    page.fill("#cost-volume input, #cost-volume textarea", "50B")
    page.keyboard.press("Enter")
    page.wait_for_function("""() => { const s = document.querySelector('#cost-plot .js-plotly-plot').layout.shapes;
                                      return Math.abs(s[s.length - 1].x0 - 5e10) < 1; }""")
    assert "at 50B tokens a month" in page.inner_text("#cost-totals")
    _choose(page, "API model", "GPT-4.1 (gpt-4.1)")
    page.wait_for_function("""() => document.querySelector('#cost-plot .js-plotly-plot').data[0].name
                                    === 'API: gpt-4.1'""")
    before_total = page.inner_text("#cost-totals")
    page.get_by_text("Change an assumption").click()
    _choose(page, "Assumption (knowledge/costs.yaml)", "gpu_hourly_usd")
    page.fill("#cost-override-value input", "9")
    page.click("#cost-override-apply")
    page.wait_for_function("() => document.querySelector('#cost-overrides').innerText.includes('gpu_hourly_usd')")
    page.wait_for_function("t => document.querySelector('#cost-totals').innerText !== t", arg=before_total)
    page.get_by_text("Assumptions used").click()
    changed = page.locator('#cost-assumptions [data-testid="cell-0-0"]')
    changed.wait_for()
    # The table redraws a moment after the totals: wait for its new first row, which would never come if the
    # change were not listed first.
    page.wait_for_function("""() => (document.querySelector('#cost-assumptions [data-testid="cell-0-0"]')
                                     ?.innerText || '').startsWith('gpu_hourly_usd')""", timeout=15000)
    assert changed.inner_text().startswith("gpu_hourly_usd")  # what the user changed comes first
    assert page.locator('#cost-assumptions [data-testid="cell-0-1"]').inner_text() == "9"
    screenshot(page, "costs")


def test_the_catalog_filters_sorts_and_shows_sources_and_staleness(web: tuple[Advisor, str], guarded: Guarded
                                                                   ) -> None:
    from advisor.catalog import load_catalog

    advisor, url = web
    catalog = load_catalog(advisor.settings.catalog_path)
    current = catalog.current()  # the tab lists no retired model
    page = guarded.page(url)
    page.get_by_role("tab", name="Models").click()
    page.wait_for_function(f"() => document.querySelector('#models-count').innerText.startsWith("
                           f"'{len(current)} models')")
    assert "possibly stale" in page.inner_text("#models-count")
    table = page.locator("#models-table")
    assert table.locator("a[href^='http']").count() > 0  # each row's sources
    assert "⚠️" in table.inner_text()  # stale facts are marked
    screenshot(page, "models")
    page.get_by_label("Open weights only").check()
    open_count = sum(1 for m in current if m.open_weights)
    page.wait_for_function(f"() => document.querySelector('#models-count').innerText.startsWith('{open_count} "
                           "models')")
    _choose(page, "Sort by", "context")
    page.get_by_label("Descending").check()
    widest = max(m.context_tokens or 0 for m in current if m.open_weights)
    ids = [m.id for m in current if m.open_weights and m.context_tokens == widest]
    page.wait_for_function("""ids => ids.includes(document.querySelector('#models-table [data-testid="cell-0-0"]')
                                                  ?.innerText.trim())""", arg=ids)
    assert page.locator('#models-table [data-testid="cell-0-4"]').inner_text().strip() == "yes"


def test_an_uploaded_file_is_found_by_search_and_can_be_removed(web: tuple[Advisor, str], guarded: Guarded,
                                                                tmp_path: Path) -> None:
    _, url = web
    note = tmp_path / "retention-policy.md"
    note.write_text("# Zebra retention policy\n\n## Logs\n\nOur zebra-striped audit logs are kept for exactly "
                    "ninety-seven days in the Lisbon data centre.\n", encoding="utf-8")
    empty = tmp_path / "empty.md"
    empty.write_text("   \n", encoding="utf-8")
    page = guarded.page(url)
    page.get_by_role("tab", name="Knowledge").click()
    page.wait_for_function("() => document.querySelector('#kb-stats').innerText.includes('passages')")
    page.set_input_files("#kb-files input[type=file]", [str(note), str(empty)])
    page.wait_for_timeout(500)
    page.click("#kb-add")
    page.wait_for_function("() => document.querySelector('#kb-result').innerText.includes('not added')",
                           timeout=60000)
    result = page.inner_text("#kb-result")
    assert "retention-policy.md: added" in result and "empty.md: not added: no text to index" in result
    assert "1 of yours" in page.inner_text("#kb-stats")
    page.fill("#kb-query input, #kb-query textarea", "how long are zebra-striped audit logs kept")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#kb-hits').innerText.includes('Zebra retention policy')")
    screenshot(page, "knowledge")
    page.get_by_role("combobox", name="Your documents").click()
    page.get_by_role("option", name="retention-policy.md — Zebra retention policy").click()
    page.click("#kb-remove")
    page.wait_for_function("() => document.querySelector('#kb-result').innerText.includes('Removed')")
    assert "0 of yours" in page.inner_text("#kb-stats")
    page.fill("#kb-query input, #kb-query textarea", "zebra-striped audit logs Lisbon")
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.querySelector('#kb-hits').innerText.includes('Zebra retention')"
                           " && document.querySelector('#kb-hits').innerText.length > 0")


def test_five_browser_sessions_at_once_each_get_their_own_answers(web: tuple[Advisor, str], browser: Browser,
                                                                  llm: ScriptedLLM) -> None:
    _, url = web
    contexts = [Guarded(browser) for _ in range(5)]
    try:
        pages = [c.page(url) for c in contexts]
        llm.max_active = 0
        for i, page in enumerate(pages):
            page.fill("#msg textarea", f"What does QLoRA change for fine-tuning? A medium answer, please. zq-s{i}")
        started = time.monotonic()
        for page in pages:
            page.click("#send")
        for page in pages:
            wait_idle(page, 1, timeout_s=90)
        elapsed = time.monotonic() - started
        for i, page in enumerate(pages):
            chat = page.inner_text("#chatbot")
            assert f"Answer for zq-s{i}" in chat
            assert not any(f"zq-s{j}" in chat for j in range(5) if j != i), f"session {i} saw another's answer"
        assert llm.max_active == 2  # turns ran at once, never more than the model's slots
        waited = sum("waiting" in page.inner_text("#chatbot") for page in pages)
        assert waited >= 2, "no session showed its wait for the local model"
        assert elapsed < 60
        screenshot(pages[-1], "chat-concurrent")
    finally:
        for context in contexts:
            context.close()


def test_an_example_question_starts_the_conversation(web: tuple[Advisor, str], guarded: Guarded) -> None:
    from advisor.web_chat import EXAMPLES

    _, url = web
    page = guarded.page(url)
    page.locator("#chatbot .example", has_text=EXAMPLES[0][:40]).click()
    page.wait_for_selector('#verdict-card[data-recommendation="open_weight"]', timeout=30000)
    wait_idle(page, 1)
    assert page.locator('#chatbot [data-testid="user"]').first.inner_text().strip() == EXAMPLES[0]
    assert "Answer for" in last_answer(page)


def _outside(host: object) -> bool:
    """Whether a host name or address is anything but this machine."""
    name = host.decode() if isinstance(host, bytes) else str(host or "")
    if name in ("", "localhost"):
        return False
    try:
        return not ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return True  # a name to resolve: somewhere else


def test_the_server_reaches_nothing_outside_the_machine(web: tuple[Advisor, str], web_settings: Settings,
                                                        guarded: Guarded, monkeypatch: pytest.MonkeyPatch) -> None:
    """From launch to an answer and every tab: no look-up or connection beyond loopback, not even one refused
    (the test-wide network block alone would hide an attempt from a background thread)."""
    attempts: list[str] = []
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def note(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and _outside(address[0]):
            attempts.append(f"connect {address[0]}")

    def watched_connect(self: socket.socket, address: Any) -> None:
        note(self, address)
        connect(self, address)

    def watched_connect_ex(self: socket.socket, address: Any) -> int:
        note(self, address)
        return connect_ex(self, address)

    def watched_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if _outside(host):
            attempts.append(f"resolve {host}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", watched_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", watched_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", watched_getaddrinfo)
    advisor, _ = web
    with serve(advisor, web_settings) as url:  # a launch of its own, watched from the start
        page = guarded.page(url)
        ask(page, "What is QLoRA? zq-offline")
        wait_idle(page, 1)
        for tab, ready in (("Assess", "#assess-run"), ("Costs", "#cost-plot .js-plotly-plot"),
                           ("Models", "#models-table"), ("Knowledge", "#kb-documents")):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_selector(ready)
        time.sleep(1)
    assert attempts == []


def test_a_dead_model_server_shows_a_readable_message(shipped_settings: Settings, retriever: Any, tmp_path: Path,
                                                      guarded: Guarded, reader: Any) -> None:
    from advisor.llm import LiteLLM
    from tests.web_app import free_port

    dead = LiteLLM("openai/gone", api_base=f"http://127.0.0.1:{free_port()}/v1", api_key="x", max_retries=0,
                   context_tokens=4096, timeout_s=10)
    settings = shipped_settings.model_copy(update={"data_dir": tmp_path})
    advisor = Advisor(settings, llm=dead, retriever=retriever, store=Store(tmp_path / "db.sqlite3"), reader=reader)
    with serve(advisor, settings) as url:
        page = guarded.page(url)
        ask(page, "What is QLoRA?")
        wait_idle(page, 1)
        answer = last_answer(page)
        assert "The advisor could not answer: cannot reach the model openai/gone: is its server running?" in answer
        assert "make run" in answer and "Traceback" not in page.inner_text("body")
        ask(page, HOSPITAL)
        wait_idle(page, 2)
        assert page.get_attribute("#verdict-card", "data-recommendation") == "open_weight"
        assert "could not write the explanation" in last_answer(page)
        screenshot(page, "chat-model-down")
