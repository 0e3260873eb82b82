"""Two app replicas (separate processes, each its own Advisor) sharing one PostgreSQL database and one `chroma run`
server, against the scripted OpenAI-compatible model server: concurrent conversations on both are neither lost nor
mixed, a Slack event delivered to both is taken by one, and a conversation started on one is continued on the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from advisor.config import Settings
from advisor.index import open_index
from advisor.store import Store
from tests.conftest import SHARED_READER
from tests.fake_llm import FakeOpenAI
from tests.replica import Replica

QUESTIONS = ("How many GPUs does beta need?", "What does alpha cost to run?", "What are the risks of alpha?")


def replica_env(data_dir: Path, *, database_url: str, chroma_port: int, llm_base_url: str) -> dict[str, str]:
    """The settings of one replica: its own data dir (linked to the trained reader), everything shared elsewhere."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "reader").exists():
        (data_dir / "reader").symlink_to(SHARED_READER, target_is_directory=True)
    return {"ADVISOR_DATA_DIR": str(data_dir), "ADVISOR_DATABASE_URL": database_url,
            "ADVISOR_CHROMA_HOST": "127.0.0.1", "ADVISOR_CHROMA_PORT": str(chroma_port),
            "ADVISOR_LLM": "openai/fake", "ADVISOR_LLM_API_BASE": llm_base_url, "ADVISOR_LLM_API_KEY": "x",
            "ADVISOR_LLM_CONTEXT_TOKENS": "4096", "ADVISOR_LLM_MAX_RETRIES": "0", "ADVISOR_LLM_TIMEOUT_S": "30"}


@pytest.fixture
def replicas(tmp_path: Path, small_kb: Path, embedder, postgres_url: str,  # type: ignore[no-untyped-def]
             chroma_server: int) -> Iterator[tuple[list[Replica], FakeOpenAI]]:
    # The knowledge goes into the Chroma server once; neither replica ingests anything.
    open_index(Settings(data_dir=tmp_path / "ingest", knowledge_dir=small_kb, chroma_host="127.0.0.1",
                        chroma_port=chroma_server), embedder=embedder).ingest(progress=False)
    with FakeOpenAI() as fake:
        started = [Replica(replica_env(tmp_path / f"replica-{n}", database_url=postgres_url,
                                       chroma_port=chroma_server, llm_base_url=fake.base_url),
                           log=tmp_path / f"replica-{n}.log") for n in range(2)]
        try:
            pids = {r.ready()["pid"] for r in started}
            assert len(pids) == 2
            yield started, fake
        finally:
            for replica in started:
                replica.close()


def _both(replicas: list[Replica], commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send one command to each replica at the same time; their replies in order."""
    with ThreadPoolExecutor(max_workers=len(replicas)) as pool:
        return list(pool.map(lambda pair: pair[0].send(pair[1]), zip(replicas, commands, strict=True)))


@pytest.mark.slow
def test_two_replicas_share_one_database_and_one_chroma_server(
        replicas: tuple[list[Replica], FakeOpenAI], postgres_url: str) -> None:
    (one, two), fake = replicas
    # Concurrent conversations on both replicas: 5 each, 2 turns each, all running at once.
    plan = {tag: [{"key": f"web:{tag}-{i}", "texts": [f"{QUESTIONS[i % 3]} ({tag} {i} a)",
                                                        f"{QUESTIONS[(i + 1) % 3]} ({tag} {i} b)"]}
                  for i in range(5)] for tag in ("one", "two")}
    replies = _both([one, two], [{"op": "ask", "conversations": plan[tag], "workers": 5} for tag in plan])
    rows = [row for reply in replies for row in reply["turns"]]
    assert len(rows) == 20 and [row["error"] for row in rows] == [None] * 20
    store = Store(postgres_url)
    assert len(store.list_conversations(limit=100)) == 10
    for conversations in plan.values():
        for conversation in conversations:
            conversation_id = store.find_external(conversation["key"])
            assert conversation_id is not None
            turns = store.turns(conversation_id)
            assert [t.user for t in turns] == conversation["texts"] and [t.index for t in turns] == [0, 1]
            assert all(t.error is None and t.answer for t in turns)
            # Both replicas retrieved from the one Chroma server: the passages are the small knowledge base's.
            assert {s["path"] for t in turns for s in t.sources} <= {"guides/alpha.md", "guides/beta.md"}
            assert any(t.sources for t in turns)
    assert len({row["turn_id"] for row in rows}) == 20

    # The same Slack events delivered to both replicas: each is taken exactly once.
    keys = [f"slack-event:Ev{i:03d}" for i in range(30)]
    taken = [reply["taken"] for reply in _both([one, two], [{"op": "claim", "keys": keys}] * 2)]
    assert [a + b for a, b in zip(*taken, strict=True)] == [1] * 30

    # A conversation started on one replica is continued on the other, which reads the first turn from the store.
    first = one.send({"op": "ask", "conversations": [{"key": "slack:T1:C1:171.5", "texts": [
        "We are a hospital and patient records must stay on our servers. What should we do?"]}]})
    assert first["turns"][0]["error"] is None
    seen = len(fake.chat_requests())
    second = two.send({"op": "ask", "conversations": [{"key": "slack:T1:C1:171.5", "texts": [
        "And what would that cost us?"]}]})
    assert second["turns"][0]["error"] is None
    assert second["turns"][0]["conversation_id"] == first["turns"][0]["conversation_id"]
    later = " ".join(str(m["content"]) for r in fake.chat_requests()[seen:] for m in r["messages"])
    assert "patient records must stay on our servers" in later  # the first turn is the second's history
    assert [t["user"] for t in one.send({"op": "turns", "key": "slack:T1:C1:171.5"})["turns"]] == [
        "We are a hospital and patient records must stay on our servers. What should we do?",
        "And what would that cost us?"]
