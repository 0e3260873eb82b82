"""Shared fixtures: offline variables, no network beyond loopback, one embedder and one shipped index per run."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

# Before anything imports transformers, huggingface_hub, chromadb or litellm.
from advisor.config import OFFLINE_ENV, REPO_ROOT, Settings

os.environ.update(OFFLINE_ENV)
for _name in list(os.environ):
    if _name.startswith("ADVISOR_"):  # a developer's own settings must not change what tests see
        del os.environ[_name]

import pytest  # noqa: E402

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(sock: socket.socket, address: object) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = str(address[0])
        try:
            allowed = host == "localhost" or ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            allowed = False
        if not allowed:
            raise ConnectionRefusedError(f"tests may not reach {host}: only loopback is allowed")


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection that leaves the machine."""

    def connect(self: socket.socket, address: object) -> None:
        _loopback_only(self, address)
        _real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        _loopback_only(self, address)
        return _real_connect_ex(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(scope="session", autouse=True)
def _no_chroma_default_embedder() -> Iterator[None]:
    """Chroma's built-in embedder would download an ONNX model; any call to it is a bug in advisor."""
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    original = ONNXMiniLM_L6_V2.__call__

    def refuse(self: object, input: object) -> None:
        raise AssertionError("chroma's default embedding function was called; pass embeddings explicitly")

    ONNXMiniLM_L6_V2.__call__ = refuse  # type: ignore[assignment,method-assign]
    yield
    ONNXMiniLM_L6_V2.__call__ = original  # type: ignore[method-assign]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    """A Chroma server on a free loopback port, stopped after the test."""
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent))
    assert chroma, "chromadb's `chroma` command is missing from the venv"
    from tests.postgres import free_port

    port = free_port()
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


@pytest.fixture(scope="session")
def postgres():  # type: ignore[no-untyped-def]
    """A real PostgreSQL server (Debian's binaries, run as the postgres user) for the whole run, removed after."""
    from tests.postgres import MISSING, PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        pytest.fail(MISSING)
    server = PostgresServer(bindir)
    try:
        server.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        pytest.fail(f"cannot start PostgreSQL from {bindir}: {exc}")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The URL of a new, empty database on that server, dropped after the test."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real bundled MiniLM embedder, loaded once."""
    from advisor.embedding import load_embedder

    return load_embedder(Settings().resolved_embed_model_path())


# The trained situation reader is built once into the repo's data dir (as `make` does) and shared by every test,
# also by the CLI's subprocesses, whose data dir links to it.
SHARED_READER = REPO_ROOT / ".advisor-data" / "reader"


@pytest.fixture(scope="session")
def shipped_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose data dir holds an index of the shipped knowledge (and links to the shared reader)."""
    data = tmp_path_factory.mktemp("shipped-data")
    SHARED_READER.mkdir(parents=True, exist_ok=True)
    (data / "reader").symlink_to(SHARED_READER, target_is_directory=True)
    return Settings(data_dir=data, knowledge_dir=REPO_ROOT / "knowledge")


@pytest.fixture(scope="session")
def reader(shipped_settings: Settings):  # type: ignore[no-untyped-def]
    """The trained situation reader and router."""
    from advisor.reader import load_reader

    return load_reader(shipped_settings)


@pytest.fixture(scope="session")
def shipped_index(shipped_settings: Settings, embedder):  # type: ignore[no-untyped-def]
    """The shipped guides and catalog, ingested once for the whole run."""
    from advisor.index import open_index

    index = open_index(shipped_settings, embedder=embedder)
    index.ingest(progress=False)
    return index


@pytest.fixture(scope="session")
def retriever(shipped_index):  # type: ignore[no-untyped-def]
    """A hybrid retriever over the shipped index."""
    from advisor.retrieval import HybridRetriever

    return HybridRetriever(shipped_index)


@pytest.fixture
def small_kb(tmp_path: Path) -> Iterator[Path]:
    """A tiny knowledge dir of two guides and no catalog, for ingest tests."""
    kb = tmp_path / "kb"
    (kb / "guides").mkdir(parents=True)
    (kb / "guides" / "alpha.md").write_text(
        "# Alpha guide\n\nIntro text about alpha.\n\n## Costs\n\nAlpha costs little to run per token.\n\n"
        "## Risks\n\nAlpha depends on a vendor.\n", encoding="utf-8")
    (kb / "guides" / "beta.md").write_text(
        "# Beta guide\n\n## Hardware\n\nBeta needs two GPUs with 80 GB each.\n", encoding="utf-8")
    yield kb


@pytest.fixture
def retired_catalog(tmp_path: Path) -> Callable[..., Path]:
    """Write a copy of the shipped catalog in which the given models were retired yesterday; returns its path, for
    Settings(catalog_file=...): what every suggestion does once a preferred default shuts down."""
    import datetime as dt
    import re

    def write(*model_ids: str) -> Path:
        text = (REPO_ROOT / "knowledge" / "models.yaml").read_text(encoding="utf-8")
        yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
        for model_id in model_ids:
            block = re.compile(rf"(^  - id: {re.escape(model_id)}\n(?:(?!  - id: ).*\n)*?    retired: ).*$", re.M)
            text, count = block.subn(rf'\g<1>"{yesterday}"', text, count=1)
            assert count == 1, f"no retired: field for {model_id}"
        path = tmp_path / f"models-retired-{len(model_ids)}-{abs(hash(model_ids))}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:  # type: ignore[type-arg]
    """pytest-playwright launches Debian's chromium (installed by `make test`), never a browser it downloads."""
    from tests.web_app import CHROMIUM, CHROMIUM_ARGS

    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
