"""The native llama.cpp runtime: when it is used, the flags it gets, its build's errors, and the serving path it
takes through `advisor.local_model serve`, with a real llama.cpp server behind a stand-in binary."""

from __future__ import annotations

import json
import socket
import stat
import sys
from pathlib import Path

import pytest

import advisor.runtime as runtime
from advisor.config import REPO_ROOT, Settings
from advisor.local_model import MODEL_ALIAS, LocalModelError, LocalServer
from advisor.runtime import (
    SOURCE_PACKAGE,
    RuntimeBuildError,
    chosen_runtime,
    cpu_flags,
    native_command,
    native_server,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _install(settings: Settings, script: str, *, flags: str | None = None, source: str = SOURCE_PACKAGE) -> Path:
    folder = settings.data_dir / "runtimes"
    folder.mkdir(parents=True, exist_ok=True)
    binary = folder / "llama-server"
    binary.write_text(script, encoding="utf-8")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    record = {"source": source, "cpu_flags": flags or cpu_flags(), "version": "test"}
    (folder / "llama-server.json").write_text(json.dumps(record), encoding="utf-8")
    return binary


def _flags(args: list[str]) -> dict[str, str | None]:
    """llama-server's arguments as {flag: value}, None for a flag without one."""
    out: dict[str, str | None] = {}
    for i, arg in enumerate(args):
        if arg.startswith("--"):
            value = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else None
            out[arg] = value
    return out


def test_without_a_build_the_prebuilt_wheel_serves(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert native_server(settings) is None
    assert chosen_runtime(settings) == ("xllamacpp", None)
    with pytest.raises(RuntimeBuildError, match="make runtime"):
        chosen_runtime(settings.model_copy(update={"local_runtime": "native"}))


def test_a_build_for_other_cpu_flags_or_sources_is_not_used(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    _install(settings, "#!/bin/sh\n", flags="0123456789abcdef")
    assert native_server(settings) is None
    _install(settings, "#!/bin/sh\n", source="llama-cpp-python==0.0.1")
    assert native_server(settings) is None
    binary = _install(settings, "#!/bin/sh\n")
    assert chosen_runtime(settings) == ("native", binary.resolve())
    assert chosen_runtime(settings.model_copy(update={"local_runtime": "xllamacpp"})) == ("xllamacpp", None)


def test_native_flags_match_the_app_set_up() -> None:
    command = native_command(Path("/x/llama-server"), model=Path("/m.gguf"), alias="a", host="127.0.0.1", port=9,
                             threads=2, ctx=4096, parallel=2, cache_mib=512)
    flags = _flags(command[1:])
    assert flags["--ctx-size"] == "8192" and flags["--parallel"] == "2"  # each slot gets the whole context
    assert flags["--threads"] == flags["--threads-batch"] == "2"
    assert flags["--cors-origins"] == "http://127.0.0.1" and flags["--flash-attn"] == "on"
    assert flags["--no-webui"] is None and flags["--no-kv-unified"] is None


def test_a_build_without_a_compiler_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime.shutil, "which", lambda tool: None if tool == "cmake" else "/usr/bin/" + tool)
    with pytest.raises(RuntimeBuildError, match="needs cmake") as info:
        runtime.build(Settings(data_dir=tmp_path), log=tmp_path / "build.log")
    assert "\n" not in str(info.value)


def test_a_failed_download_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip finds nothing, offline
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(RuntimeBuildError, match="could not download") as info:
        runtime.build(Settings(data_dir=tmp_path), log=tmp_path / "build.log")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "runtimes" / "llama-server").exists()


_STAND_IN = """#!PYTHON
# Stands in for a native llama-server: reads its flags and serves the same model with the real llama.cpp of the
# xllamacpp wheel, so the native serving path is exercised end to end on any machine.
import os, sys
args = sys.argv[1:]
if args == ["--version"]:
    print("version: stand-in")
    sys.exit(0)
flags = {a: (args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else None)
         for i, a in enumerate(args) if a.startswith("--")}
with open(os.path.join(os.path.dirname(__file__), "argv.json"), "w") as out:
    import json
    json.dump(args, out)
parallel = int(flags["--parallel"])
os.execv(sys.executable, [sys.executable, "-m", "advisor.local_model", "serve", "--model", flags["--model"],
         "--alias", flags["--alias"], "--host", flags["--host"], "--port", flags["--port"],
         "--threads", flags["--threads"], "--ctx", str(int(flags["--ctx-size"]) // parallel),
         "--parallel", str(parallel)])
"""


@pytest.mark.slow
def test_the_native_path_serves_and_stops_with_its_parent(tmp_path: Path) -> None:
    import litellm

    from advisor.local_model import assemble_model

    data = tmp_path / "data"
    data.mkdir()
    shared = REPO_ROOT / ".advisor-data" / "models"
    assemble_model(shared)
    (data / "models").symlink_to(shared, target_is_directory=True)
    settings = Settings(data_dir=data, local_port=_free_port(), local_runtime="native")
    binary = _install(settings, _STAND_IN.replace("PYTHON", sys.executable, 1))
    with LocalServer(settings) as server:
        reply = litellm.completion(model="openai/" + MODEL_ALIAS, api_base=server.base_url, api_key="none",
                                   messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0)
        assert reply.choices[0].message.content
        served = json.loads((binary.parent / "argv.json").read_text(encoding="utf-8"))
        assert served[served.index("--port") + 1] == str(settings.local_port)
        assert "native llama.cpp build" in server.log_path.read_text(encoding="utf-8")
    assert not server.health()


def test_native_asked_for_but_missing_is_a_clear_start_error(tmp_path: Path) -> None:
    server = LocalServer(Settings(data_dir=tmp_path, local_port=_free_port(), local_runtime="native"))
    with pytest.raises(LocalModelError, match="make runtime"):
        server._start(tmp_path / "model.gguf")
