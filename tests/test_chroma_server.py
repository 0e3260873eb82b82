"""The same ingest and search against a real Chroma server started with chromadb's own `chroma run`."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisor.config import Settings
from advisor.index import IndexError_, open_index
from advisor.retrieval import HybridRetriever


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    """A Chroma server on a free loopback port, stopped after the test."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "chromadb's `chroma` command is missing from the venv"
    port = _free_port()
    log = (tmp_path / "chroma.log").open("wb")
    proc = subprocess.Popen([chroma, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                assert proc.poll() is None, (tmp_path / "chroma.log").read_text(errors="replace")
                assert time.monotonic() < deadline, "chroma server did not start in 60 s"
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


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
