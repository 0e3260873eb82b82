"""The bundled local model served by llama.cpp on loopback: started on demand, reused, stopped on exit.

The model file comes from advisor.model_assembly (re-exported here). The server is xllamacpp's embedded llama.cpp
HTTP server (a prebuilt wheel, nothing to compile), run as a child process so that the app reaches it through
litellm exactly as it reaches any OpenAI-compatible server.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import http.client
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from advisor.config import Settings
from advisor.model_assembly import (
    MODEL_ALIAS,
    MODEL_FILE,
    MODEL_SHA256,
    MODEL_SIZE,
    LocalModelError,
    assemble_model,
    part_paths,
)

__all__ = [
    "MODEL_ALIAS",
    "MODEL_FILE",
    "MODEL_SHA256",
    "MODEL_SIZE",
    "LocalModelError",
    "LocalServer",
    "assemble_model",
    "main",
    "part_paths",
]

# Slots (ADVISOR_LOCAL_PARALLEL, default 2) each get a KV cache of their own of the full context (--ctx): a second
# user is served concurrently, and every request may use the whole context whatever another slot holds. With one
# unified cache of --ctx tokens shared by the slots, two long requests at once overflowed it ("Context size has been
# exceeded") although each fitted the budget; a 1.5B model's KV cache costs ~28 KB a token, so two full contexts of
# 4096 cost ~230 MB.
# libgomp threads spin ~300k iterations at every barrier before sleeping. With two threads on two shared cores that
# is ruinous whenever anything else runs: one busy core cut generation from 12.8 to 0.5-1.3 tok/s. A short spin keeps
# the quiet speed (12.8) and holds 6.4 tok/s with a core busy (benchmarks/bench_local_model.py).
GOMP_SPINCOUNT = "2000"
# llama.cpp keeps KV states of past prompts for reuse; its default cap (8 GiB) is too much on a shared machine.
PROMPT_CACHE_MIB = 512
_STOP_GRACE_S = 5.0
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
# Local requests never go through a proxy, whatever HTTP_PROXY says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- the server ------------------------------------------------------------------------------------------------

_Probe = Literal["free", "ours", "loading", "foreign"]


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _get(url: str, *, timeout: float) -> _Reply | None:
    """GET url; None when nothing answers HTTP there."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return _Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return _Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
    except (OSError, ValueError, http.client.HTTPException):
        return None


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _served_models(body: bytes) -> list[str]:
    try:
        data = json.loads(body)
        names = [str(m.get("id")) for m in data.get("data", [])]
        for m in data.get("data", []):
            names.extend(str(a) for a in m.get("aliases", []) or [])
        return names
    except (ValueError, AttributeError, TypeError):
        return []


def _log_tail(path: Path, *, lines: int = 3) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 8192))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)


@contextlib.contextmanager
def _file_lock(path: Path, *, timeout_s: float) -> Iterator[None]:
    """An exclusive fcntl lock, so that two app processes racing to start the server start one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LocalModelError(
                        f"another advisor process has been starting the local model for {timeout_s:.0f} s "
                        f"(lock {path})"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class LocalServer:
    """The bundled model behind llama.cpp's OpenAI-compatible server on loopback: reused if running, else started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = settings.local_host
        self.port = settings.local_port
        self.log_path = settings.data_dir / "logs" / "local-model.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. http://127.0.0.1:8477/v1."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """The server root, where /health lives."""
        return self.base_url.removesuffix("/v1")

    @property
    def pid(self) -> int | None:
        """Process id of the server this object started, or None when it started none (or it reused one)."""
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> LocalServer:
        self.ensure_running()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def slot_context(self) -> int | None:
        """The context each request gets on the running server (its per-slot n_ctx), or None if it cannot say."""
        reply = _get(self.root_url + "/props", timeout=2.0)
        try:
            value = json.loads(reply.body)["default_generation_settings"]["n_ctx"] if reply else None
            return int(value) if value else None
        except (ValueError, KeyError, TypeError):
            return None

    def health(self) -> bool:
        """True when a server on the port answers /health with 200."""
        reply = _get(self.root_url + "/health", timeout=2.0)
        return reply is not None and reply.status == 200

    def ensure_running(self) -> str:
        """Reuse the server on the port if it serves this model, or start one; return the OpenAI base URL."""
        self._check_host()
        if self._proc is not None:
            if self._proc.poll() is None and self.health():
                return self.base_url
            self.stop()  # ours died or hangs: clean up before starting again
        if self._probe() == "ours":
            return self.base_url
        lock = self.settings.data_dir / "local-model.lock"
        with _file_lock(lock, timeout_s=self.settings.local_start_timeout_s + 120):
            state = self._probe()
            if state == "loading":
                self._wait_healthy()
                state = self._probe()
            if state == "ours":
                return self.base_url
            if state in ("foreign", "loading"):
                raise LocalModelError(
                    f"port {self.port} is in use by another program; set ADVISOR_LOCAL_PORT to a free port"
                )
            model = assemble_model(self.settings.models_dir)
            self._start(model)
            self._wait_healthy()
        return self.base_url

    def stop(self) -> None:
        """Stop the server this object started (SIGTERM, then SIGKILL); a reused server is left running."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    # --- helpers -----------------------------------------------------------------------------------------------

    def _check_host(self) -> None:
        try:
            loopback = self.host == "localhost" or ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise LocalModelError(
                f"ADVISOR_LOCAL_HOST={self.host} is not a loopback address; the bundled server has no "
                "authentication, so it only listens on 127.0.0.1 (serve a shared model with a real server)"
            )

    def _probe(self) -> _Probe:
        reply = _get(self.base_url + "/models", timeout=2.0)
        if reply is None:
            return "foreign" if _port_open(self.host, self.port) else "free"
        if reply.status == 200 and MODEL_ALIAS in _served_models(reply.body):
            return "ours"
        if reply.status == 503 and reply.headers.get("server", "").startswith("llama.cpp"):
            return "loading"
        return "foreign"

    def _start(self, model: Path) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.log_path.exists() and self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
            os.replace(self.log_path, self.log_path.with_suffix(".log.1"))
        self._log = self.log_path.open("ab")
        self._log.write(f"\n--- advisor starting the local model at {time.strftime('%F %T')} ---\n".encode())
        self._log.flush()
        from advisor.runtime import RuntimeBuildError, chosen_runtime

        try:
            _, native = chosen_runtime(self.settings)
        except RuntimeBuildError as exc:
            raise LocalModelError(str(exc)) from None
        command = [
            sys.executable, "-m", "advisor.local_model", "serve", *(["--native", str(native)] if native else []),
            "--model", str(model), "--alias", MODEL_ALIAS,
            "--host", self.host, "--port", str(self.port),
            "--threads", str(self.settings.local_threads), "--ctx", str(self.settings.local_ctx),
            "--parallel", str(self.settings.local_parallel), "--parent-pid", str(os.getpid()),
        ]
        self._proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, close_fds=True
        )
        atexit.register(self.stop)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.settings.local_start_timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and (code := self._proc.poll()) is not None:
                self.stop()
                raise LocalModelError(
                    f"the local model server exited with code {code} while starting: "
                    f"{_log_tail(self.log_path)} (log: {self.log_path})"
                )
            if self.health():
                return
            time.sleep(0.25)
        self.stop()
        raise LocalModelError(
            f"the local model server was not healthy after {self.settings.local_start_timeout_s:.0f} s "
            f"(ADVISOR_LOCAL_START_TIMEOUT_S): {_log_tail(self.log_path)} (log: {self.log_path})"
        )


# --- the child process: `python -m advisor.local_model serve|assemble` -------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    """Run llama.cpp's HTTP server in the foreground until SIGTERM, SIGINT or the parent's exit."""
    os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)  # read once, when llama.cpp loads libgomp
    from advisor.runtime import native_command

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: done.set())
    binary = args.native
    if binary is not None:
        child = subprocess.Popen(native_command(
            binary, model=args.model, alias=args.alias, host=args.host, port=args.port, threads=args.threads,
            ctx=args.ctx, parallel=args.parallel, cache_mib=PROMPT_CACHE_MIB), stdin=subprocess.DEVNULL)
        print(f"advisor: serving {args.alias} at http://{args.host}:{args.port}/v1 (runtime: native llama.cpp "
              f"build {binary})", flush=True)
        try:
            while not done.wait(1.0) and child.poll() is None:
                if args.parent_pid and os.getppid() != args.parent_pid:
                    print("advisor: parent process exited; stopping", flush=True)
                    break
        finally:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=_STOP_GRACE_S - 1)
                except subprocess.TimeoutExpired:
                    child.kill()
        return 0 if done.is_set() else int(child.returncode or 0)
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(args.model)
    params.model_alias = {args.alias}
    params.n_ctx = args.ctx * args.parallel  # split evenly: each slot gets exactly args.ctx
    params.n_parallel = args.parallel
    params.kv_unified = False
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.hostnames = [args.host]
    params.port = args.port
    params.cache_ram_mib = PROMPT_CACHE_MIB
    params.ui = False
    # llama.cpp allows every origin by default; a web page in the user's browser must not drive it.
    params.cors_origins = f"http://[{args.host}]" if ":" in args.host else f"http://{args.host}"

    server = xllamacpp.Server(params)
    print(f"advisor: serving {args.alias} at {server.listening_address}/v1 (runtime: xllamacpp)", flush=True)
    while not done.wait(1.0):
        # Orphaned (the app was killed without running atexit): stop rather than hold 2 GB forever.
        if args.parent_pid and os.getppid() != args.parent_pid:
            print("advisor: parent process exited; stopping", flush=True)
            break
    del server
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m advisor.local_model assemble|serve`: verify the bundled model, or serve it in the foreground."""
    parser = argparse.ArgumentParser(prog="python -m advisor.local_model", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("assemble", help="assemble and verify the model into the data dir; print its path")
    serve = commands.add_parser("serve", help="serve the model on loopback until SIGTERM (defaults: settings)")
    serve.add_argument("--model", type=Path, help="GGUF file; the assembled bundled model if omitted")
    serve.add_argument("--alias", default=MODEL_ALIAS)
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--threads", type=int, default=None)
    serve.add_argument("--ctx", type=int, default=None)
    serve.add_argument("--parallel", type=int, default=None)
    serve.add_argument("--native", type=Path, default=None,
                       help="serve with this llama-server binary (`make runtime`) instead of xllamacpp")
    serve.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        settings = Settings()
        if args.command == "assemble":
            print(assemble_model(settings.models_dir))
            return 0
        args.model = args.model or assemble_model(settings.models_dir)
        args.host = args.host or settings.local_host
        args.port = args.port or settings.local_port
        args.threads = args.threads or settings.local_threads
        args.ctx = args.ctx or settings.local_ctx
        args.parallel = args.parallel or settings.local_parallel
        return _serve(args)
    except LocalModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
