"""A fake Slack Web API on loopback: records every method call and answers as Slack does."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

BOT_USER = "UBOT"
MAX_SECTION_CHARS = 3000  # Slack's limits, which the fake enforces as Slack does (the call fails)
MAX_BLOCKS = 50
MAX_MARKDOWN_CHARS = 12000  # markdown_text of chat.startStream / appendStream


class FakeSlack:
    """Start with `with FakeSlack() as slack:`; `slack.api_url` ends in /api/; `calls` lists (method, args)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.unavailable: set[str] = set()  # methods answered with unknown_method
        self.rejected: list[tuple[str, str]] = []  # (method, error) of calls refused for breaking Slack's limits
        self.socket_url = "ws://127.0.0.1:1/link"
        self._lock = threading.Lock()
        self._ts = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def of(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call of one method."""
        with self._lock:
            return [args for name, args in self.calls if name == method]

    def methods(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self.calls]

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append((method, args))
            self._ts += 1
            ts = f"{int(time.time())}.{self._ts:06d}"
        if method in self.unavailable:
            return {"ok": False, "error": "unknown_method"}
        error = _over_limits(args)
        if error:
            with self._lock:
                self.rejected.append((method, error))
            return {"ok": False, "error": error}
        if method == "auth.test":
            return {"ok": True, "url": "https://example.slack.com/", "team": "T", "user": "advisor",
                    "team_id": "T1", "user_id": BOT_USER, "bot_id": "BBOT"}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        if method in ("chat.postMessage", "chat.startStream"):
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": {"ts": ts}}
        if method in ("chat.update", "chat.appendStream", "chat.stopStream"):
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "conversations.replies":
            return {"ok": True, "messages": [], "has_more": False}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V1", **(args.get("view") or {})}}
        return {"ok": True}

    @staticmethod
    def sections(args: dict[str, Any]) -> list[str]:
        """The texts of a call's section blocks, in order."""
        return [str((b.get("text") or {}).get("text") or "")
                for b in args.get("blocks") or [] if b.get("type") == "section"]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, args: dict[str, Any]) -> None:
                method = urlparse(self.path).path.rsplit("/", 1)[-1]
                data = json.dumps(fake._answer(method, args)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply(dict(parse_qsl(urlparse(self.path).query)))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    args = json.loads(raw or "{}")
                else:
                    args = dict(parse_qsl(raw))
                    for key in ("blocks", "view", "prompts"):
                        if isinstance(args.get(key), str):
                            args[key] = json.loads(args[key])
                self._reply(args)

        return Handler


def _over_limits(args: dict[str, Any]) -> str | None:
    """Slack's error for a message over its limits: 50 blocks, 3,000 characters a section, 12,000 of streamed
    markdown; None when the message fits."""
    blocks = args.get("blocks")
    if isinstance(blocks, list):
        if len(blocks) > MAX_BLOCKS:
            return "invalid_blocks"
        if any(len(text) > MAX_SECTION_CHARS for text in FakeSlack.sections(args)):
            return "invalid_blocks"
    if len(str(args.get("markdown_text") or "")) > MAX_MARKDOWN_CHARS:
        return "msg_too_long"
    return None
