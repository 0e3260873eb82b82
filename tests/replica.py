"""One app replica for the shared-state tests and the store benchmark: an Advisor built from ADVISOR_* settings (the
shared database, the Chroma server, an OpenAI-compatible model server) in its own process, driven by JSON lines.

    python -m tests.replica      # reads one command a line on stdin, writes one reply a line on stdout

Commands: {"op": "ask", "conversations": [{"key": K, "texts": [...]}], "workers": N} runs each conversation's
messages in order and the conversations side by side (N at once) -> {"turns": [{"key", "text", "turn_id",
"conversation_id", "latency_s", "error"}]}; {"op": "claim", "keys": [...]} -> {"taken": [bool, ...]};
{"op": "turns", "key": K} -> {"turns": [{"index", "user", "turn_id"}]}; {"op": "quit"}. The first line out is
{"ready": true, "pid": PID} once everything is built.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from advisor.config import REPO_ROOT, Settings, set_offline_env

__all__ = ["Replica", "main"]


def _ask(advisor: Any, key: str, texts: list[str]) -> list[dict[str, Any]]:
    from advisor.advisor import AdvisorError

    done = []
    for text in texts:
        started = time.perf_counter()
        row: dict[str, Any] = {"key": key, "text": text, "error": None}
        try:
            answer = advisor.ask(text, conversation_key=key)
            row.update(turn_id=answer.turn_id, conversation_id=answer.conversation_id)
        except AdvisorError as exc:
            row.update(turn_id=exc.turn_id, error=str(exc))
        except Exception as exc:  # reported, so the caller counts it as an error
            row.update(error=f"{type(exc).__name__}: {exc}")
        row["latency_s"] = time.perf_counter() - started
        done.append(row)
    return done


def _serve(advisor: Any, command: dict[str, Any]) -> dict[str, Any]:
    op = command["op"]
    if op == "ask":
        with ThreadPoolExecutor(max_workers=int(command.get("workers", 8))) as pool:
            futures = [pool.submit(_ask, advisor, c["key"], list(c["texts"])) for c in command["conversations"]]
            return {"turns": [row for future in futures for row in future.result()]}
    if op == "claim":
        return {"taken": [advisor.store.claim(key) for key in command["keys"]]}
    if op == "turns":
        conversation_id = advisor.store.find_external(command["key"])
        turns = advisor.store.turns(conversation_id) if conversation_id else []
        return {"turns": [{"index": t.index, "user": t.user, "turn_id": t.id} for t in turns]}
    raise ValueError(f"unknown op {op!r}")


def main() -> int:
    set_offline_env()
    from advisor.advisor import Advisor

    advisor = Advisor(Settings())
    advisor.warm()
    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        try:
            reply = _serve(advisor, command)
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)
    advisor.close()
    sys.stdout.flush()
    os._exit(0)  # everything is committed; skip the interpreter's slow teardown of the ML stack's threads


class Replica:
    """A replica process seen from the test: `send(command)` returns its reply."""

    def __init__(self, env: dict[str, str], *, log: Path, timeout_s: float = 180.0) -> None:
        self._log = log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.replica"], cwd=REPO_ROOT, text=True,
                                     env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT)},
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        self.log = log
        self.timeout_s = timeout_s

    def ready(self) -> dict[str, Any]:
        """Wait for the replica to have built everything."""
        return self._read()

    def send(self, command: dict[str, Any]) -> dict[str, Any]:
        stdin: IO[str] = self.proc.stdin  # type: ignore[assignment]
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        return self._read()

    def _read(self) -> dict[str, Any]:
        stdout: IO[str] = self.proc.stdout  # type: ignore[assignment]
        line = stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"replica exited ({self.proc.returncode}): {tail}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"replica failed: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, RuntimeError, ValueError):  # it exits without a reply
                self.send({"op": "quit"})
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


if __name__ == "__main__":
    sys.exit(main())
