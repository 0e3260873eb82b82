"""End to end with the real bundled model on a real llama.cpp server: no fake anywhere."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisor.advisor import Advisor
from advisor.config import REPO_ROOT, Settings
from advisor.store import Store

pytestmark = pytest.mark.slow

# The assembled model is 1.1 GB: it is built once into the repo's data dir (as `make` does) and shared.
SHARED_MODELS = REPO_ROOT / ".advisor-data" / "models"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def local_advisor(shipped_index, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Advisor]:  # type: ignore[no-untyped-def]
    from advisor.llm import open_llm
    from advisor.local_model import LocalServer, assemble_model
    from advisor.retrieval import HybridRetriever

    data = tmp_path_factory.mktemp("local-data")
    assemble_model(SHARED_MODELS)
    (data / "models").symlink_to(SHARED_MODELS, target_is_directory=True)
    settings = Settings(data_dir=data, local_port=_free_port())
    server = LocalServer(settings)
    server.ensure_running()
    try:
        yield Advisor(settings, llm=open_llm(settings), retriever=HybridRetriever(shipped_index),
                      store=Store(data / "advisor.sqlite3"))
    finally:
        server.stop()
    assert not server.health()


def test_regulated_situation_gets_open_weights_with_cited_sources(local_advisor: Advisor) -> None:
    answer = local_advisor.ask(
        "We run a chain of clinics. Our assistant would read patient records, which by law must stay on our own "
        "servers, and our two ML engineers have fine-tuned models before. How should we get an LLM?")
    assert answer.kind == "situation" and answer.recommendation == "open_weight"
    assert answer.profile and answer.profile["data_sensitivity"] == "regulated"
    assert answer.answer.startswith("**Recommendation: Open-weight model")
    body = answer.answer.split("**What would change the recommendation**")[0]
    assert len(body) > 200  # the model wrote the explanation
    assert any(s["cited"] for s in answer.sources)
    assert answer.model == "openai/qwen2.5-coder-1.5b-instruct" and answer.usage.get("completion_tokens", 0) > 0


def test_fact_question_is_answered_from_the_guides(local_advisor: Advisor) -> None:
    answer = local_advisor.ask("How many bytes per parameter do model weights take in FP16, FP8 and INT4?")
    assert answer.kind == "fact" and answer.recommendation is None
    assert any(s["path"] == "guides/hardware-sizing.md" for s in answer.sources)
    assert any(s["cited"] for s in answer.sources), answer.answer
    assert "0.5" in answer.answer or "half" in answer.answer.lower()


def test_the_same_conversation_yields_the_same_profile(local_advisor: Advisor) -> None:
    from advisor.extraction import extract_profile

    text = ["We want to classify support tickets into 12 categories; we have 8,000 labelled tickets and "
            "answers must come back in under 100 ms."]
    first = extract_profile(text, llm=local_advisor.llm)
    second = extract_profile(text, llm=local_advisor.llm)
    assert first.profile == second.profile
    assert first.profile.task_scope == "narrow" and first.profile.labeled_examples == 8000


def test_store_kept_every_turn(local_advisor: Advisor, tmp_path: Path) -> None:
    conversations = local_advisor.store.list_conversations()
    assert len(conversations) >= 2 and all(c.turn_count >= 1 for c in conversations)
