"""The same ingest and search against a real Chroma server started with chromadb's own `chroma run` (the
`chroma_server` fixture, in conftest)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from advisor.config import Settings
from advisor.index import IndexError_, open_index
from advisor.retrieval import HybridRetriever


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ingest_and_search_through_a_chroma_server(tmp_path: Path, small_kb: Path, embedder,
                                                   chroma_server: int) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "local", knowledge_dir=small_kb, chroma_host="127.0.0.1",
                        chroma_port=chroma_server)
    index = open_index(settings, embedder=embedder)
    report = index.ingest(progress=False)
    assert report.chunks_added == 4
    assert not (tmp_path / "local" / "chroma").exists()  # nothing went to an embedded store
    hits = HybridRetriever(index).search("How many GPUs does beta need?", k=2)
    assert hits[0].path == "guides/beta.md" and hits[0].section == "Hardware"

    # A second client (another replica) sees the same collection and has nothing to re-embed.
    other = open_index(settings.model_copy(update={"data_dir": tmp_path / "replica"}), embedder=embedder)
    assert other.count() == 4 and other.ingest(progress=False).embedded == 0
    assert HybridRetriever(other).search("vendor dependence", k=1)[0].section == "Risks"


def test_a_dead_chroma_server_gives_a_clear_error(tmp_path: Path, small_kb: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, knowledge_dir=small_kb, chroma_host="127.0.0.1",
                        chroma_port=_free_port())
    with pytest.raises(IndexError_, match=r"cannot open the Chroma store at 127\.0\.0\.1:\d+"):
        open_index(settings, embedder=embedder).count()
