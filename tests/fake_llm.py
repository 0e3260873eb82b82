"""A scripted OpenAI-compatible chat server on loopback: the one fake, at the LLM seam.

The advisor reaches it through litellm exactly as it reaches any OpenAI-compatible server. Replies come from a
queue (`enqueue`), or from a default that answers each kind of request sensibly; every request is recorded in
`history`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A reply is text, a function of the request body, or {"tool_calls": [{"name": ..., "arguments": {...}}]}.
Reply = str | dict[str, Any] | Callable[[dict[str, Any]], Any]


class FakeOpenAI:
    """Start with `with FakeOpenAI() as fake:`; `fake.base_url` is the /v1 address."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self._queue: deque[Reply] = deque()
        self.fail_status: int | None = None
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def enqueue(self, *replies: Reply) -> None:
        """Replies for the next requests, in order (text, or a function of the request body)."""
        with self._lock:
            self._queue.extend(replies)

    def chat_requests(self) -> list[dict[str, Any]]:
        """The bodies of every chat completion request so far."""
        return [r for r in self.history if "messages" in r]

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def default_reply(body: dict[str, Any]) -> str:
        """An extraction gets no facts, a condense request echoes the last message, anything else cites [1]."""
        prompt = body["messages"][-1]["content"]
        if body.get("response_format"):
            return "{}"
        if "Standalone question:" in prompt:
            return prompt.split("Last message:", 1)[1].split("Standalone question:", 1)[0].strip()
        return "This is grounded in the first passage [1]."

    def _next_reply(self, body: dict[str, Any]) -> Any:
        with self._lock:
            reply = self._queue.popleft() if self._queue else self.default_reply
        return reply(body) if callable(reply) else reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.history.append(body)
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                if fake.fail_status:
                    self._json(fake.fail_status, {"error": {"message": "scripted failure", "type": "server_error"}})
                    return
                reply = fake._next_reply(body)
                calls = reply.get("tool_calls") if isinstance(reply, dict) else None
                text = "" if calls else str(reply)
                words = max(1, len(text.split()))
                usage = {"prompt_tokens": sum(len(m["content"].split()) for m in body["messages"]),
                         "completion_tokens": words}
                usage["total_tokens"] = usage["prompt_tokens"] + words
                tool_calls = [{"id": f"call_{i}", "type": "function",
                               "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                              for i, c in enumerate(calls or [])]
                if body.get("stream"):
                    self._stream(text, usage, body, tool_calls)
                    return
                message: dict[str, Any] = {"role": "assistant", "content": text or None}
                if tool_calls:
                    message["tool_calls"] = tool_calls
                self._json(200, {
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "finish_reason": "tool_calls" if tool_calls else "stop",
                                 "message": message}],
                    "usage": usage})

            def _stream(self, text: str, usage: dict[str, int], body: dict[str, Any],
                        tool_calls: list[dict[str, Any]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                deltas: list[dict[str, Any]] = []
                if text:
                    pieces = [w + " " for w in text.split(" ")]
                    pieces[-1] = pieces[-1].rstrip(" ")
                    deltas = [{"content": piece} for piece in pieces]
                deltas += [{"role": "assistant", "tool_calls": [{"index": i, **call}]}
                           for i, call in enumerate(tool_calls)]
                for delta in deltas:
                    chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                             "model": body.get("model", "fake"),
                             "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                final = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                         "model": body.get("model", "fake"),
                         "choices": [{"index": 0, "delta": {},
                                      "finish_reason": "tool_calls" if tool_calls else "stop"}],
                         "usage": usage}
                self.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler
