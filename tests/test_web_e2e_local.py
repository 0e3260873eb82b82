"""The web page end to end with the real bundled model on a real llama.cpp server, in a real Chromium: no fake
anywhere. One situation question: the verdict card, the model's streamed explanation and its cited sources."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from advisor.advisor import Advisor
from advisor.config import REPO_ROOT, Settings
from advisor.store import Store
from tests.web_app import (
    Guarded,
    answer_lengths,
    ask,
    free_port,
    last_answer,
    record_answer_growth,
    screenshot,
    serve,
    wait_idle,
)

pytestmark = pytest.mark.slow

SHARED_MODELS = REPO_ROOT / ".advisor-data" / "models"
CLINICS = ("We run a chain of clinics. Our assistant would read patient records, which by law must stay on our own "
           "servers, and our two ML engineers have fine-tuned models before. How should we get an LLM?")


@pytest.fixture(scope="module")
def local_web(shipped_settings: Settings, shipped_index: Any, embedder: Any, reader: Any,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Advisor, str]]:
    from advisor.index import open_index
    from advisor.llm import open_llm
    from advisor.local_model import LocalServer, assemble_model
    from advisor.retrieval import HybridRetriever

    data = tmp_path_factory.mktemp("web-local")
    shutil.copytree(shipped_settings.data_dir / "chroma", data / "chroma")
    assemble_model(SHARED_MODELS)
    (data / "models").symlink_to(SHARED_MODELS, target_is_directory=True)
    # A short answer from a short prompt keeps this test to a minute or two on two cores; the pipeline is the same.
    settings = Settings(data_dir=data, local_port=free_port(), llm_max_tokens=100, top_k=3, local_ctx=2048)
    server = LocalServer(settings)
    server.ensure_running()
    try:
        advisor = Advisor(settings, llm=open_llm(settings), retriever=HybridRetriever(open_index(
            settings, embedder=embedder)), store=Store(settings.db_path), reader=reader)
        with serve(advisor, settings) as url:
            yield advisor, url
    finally:
        server.stop()


def test_a_situation_answered_by_the_real_local_model_in_the_browser(local_web: tuple[Advisor, str],
                                                                     browser: Browser) -> None:
    advisor, url = local_web
    guarded = Guarded(browser)
    try:
        page = guarded.page(url)
        record_answer_growth(page)
        ask(page, CLINICS)
        page.wait_for_selector('#verdict-card[data-recommendation="open_weight"]', timeout=240_000)
        wait_idle(page, 1, timeout_s=420)
        answer = last_answer(page)
        assert answer.startswith("Recommendation: Open-weight model")
        body = answer.split("What would change the recommendation")[0]
        assert len(body) > 200, f"the model wrote too little: {body!r}"
        assert len(answer_lengths(page)) >= 10  # it streamed
        assert "Data sensitivity: regulated" in page.inner_text("#verdict-card")
        bot = page.locator('#chatbot [data-testid="bot"]').last
        bot.locator("details.sources > summary").click()
        assert bot.locator("details.source").count() >= 2
        assert bot.locator("details.source.cited").count() >= 1  # the answer cites what it was given
        screenshot(page, "chat-local-model")
        [turn] = [t for c in advisor.store.list_conversations() for t in advisor.store.turns(c.id)]
        assert turn.recommendation == "open_weight" and turn.model.endswith("qwen2.5-coder-1.5b-instruct")
    finally:
        guarded.close()
