"""The fakes at the one seam, the LLM call: a scripted OpenAI-compatible chat server on loopback, and an
in-process scripted model (a LiteLLM subclass) for fast front-end tests.

The advisor reaches the server through litellm exactly as it reaches any OpenAI-compatible server. Replies come
from a queue (`enqueue`), or from a default that answers each kind of request sensibly; every request is recorded
in `history`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from advisor.concurrency import Stopped, StopToken
from advisor.llm import Completion, LiteLLM

# A reply is text, a function of the request body, or {"tool_calls": [{"name": ..., "arguments": {...}}]}.
Reply = str | dict[str, Any] | Callable[[dict[str, Any]], Any]


GROUNDLESS = "This is grounded in the first passage [1]."
_PASSAGE = re.compile(r'<passage id="(\d+)"[^>]*>\s*(.*?)</passage>', re.S)


def grounded_reply(prompt: str) -> str:
    """The first sentence of the prompt's first passage, cited; a prompt without passages gets GROUNDLESS."""
    match = _PASSAGE.search(prompt)
    if match is None:
        return GROUNDLESS
    text = " ".join(re.sub(r"^\s*(?:[-*]|\d+[.)])\s+|\*\*", " ", match.group(2), flags=re.M).split())
    first = re.split(r"(?<=[.!?])\s+", text)[0].rstrip(".!?")
    return f"- {first} [{match.group(1)}].\n"


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
        """An extraction gets no facts, a condense request echoes the last message, anything else restates the
        first sentence of its first passage and cites it (a grounded answer, which the claim check keeps)."""
        prompt = body["messages"][-1]["content"]
        if body.get("response_format"):
            return "{}"
        if "Standalone question:" in prompt:
            return prompt.split("Last message:", 1)[1].split("Standalone question:", 1)[0].strip()
        return grounded_reply(prompt)

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


class ScriptedLLM(LiteLLM):
    """The in-process fake at the same seam (a real LiteLLM subclass, no HTTP): scripted replies, recorded
    requests, `assert_all_used()`. A reply is text, a function of the request, or an LLMError to raise."""

    def __init__(self, *replies: Any, name: str = "scripted/fake", context_tokens: int = 4096, local: bool = False,
                 piece_delay_s: float = 0.0, default: Callable[[dict[str, Any]], Any] | None = None) -> None:
        super().__init__(name, context_tokens=context_tokens, max_retries=0, local=local)
        self.default = default  # answers any request once the scripted replies are used up
        self.history: list[dict[str, Any]] = []
        self.piece_delay_s = piece_delay_s
        self.active = 0
        self.max_active = 0
        self._queue: deque[Any] = deque(replies)
        self._lock = threading.Lock()

    def enqueue(self, *replies: Any) -> None:
        """Replies for the next calls, in order."""
        with self._lock:
            self._queue.extend(replies)

    def assert_all_used(self) -> None:
        """Fail if a scripted reply was never asked for."""
        assert not self._queue, f"{len(self._queue)} scripted replies were not used: {list(self._queue)!r}"

    def answer_prompts(self) -> list[str]:
        """The last user message of every streamed (answer) request."""
        return [r["messages"][-1]["content"] for r in self.history if r["stream"]]

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def _reply(self, request: dict[str, Any]) -> str:
        with self._lock:
            self.history.append(request)
            reply = self._queue.popleft() if self._queue else None
        if reply is None and self.default is not None:
            reply = self.default
        elif reply is None:
            body = {"messages": request["messages"], "response_format": request["json_schema"]}
            reply = FakeOpenAI.default_reply(body)
        if callable(reply):
            reply = reply(request)
        if isinstance(reply, BaseException):
            raise reply
        return str(reply)

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int, json_schema: dict[str, Any] | None = None,
                 deterministic: bool = False, stop: StopToken | None = None) -> Completion:
        text = self._reply({"messages": messages, "json_schema": json_schema, "stream": False,
                            "max_tokens": max_tokens})
        return Completion(text, self.name, {"prompt_tokens": 10, "completion_tokens": len(text.split())}, 0.0)

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int, deterministic: bool = False,
               stop: StopToken | None = None) -> Iterator[str | Completion]:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            text = self._reply({"messages": messages, "json_schema": None, "stream": True, "max_tokens": max_tokens})
            words = text.split(" ")
            for i, word in enumerate(words):
                if stop is not None:
                    if stop.wait(self.piece_delay_s):
                        raise Stopped
                elif self.piece_delay_s:
                    time.sleep(self.piece_delay_s)
                yield word + (" " if i < len(words) - 1 else "")
            yield Completion(text, self.name, {"prompt_tokens": 10, "completion_tokens": len(words)}, 0.0)
        finally:
            with self._lock:
                self.active -= 1
