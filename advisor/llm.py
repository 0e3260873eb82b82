"""The model layer: the only module that imports litellm. Any litellm model string, or the bundled local model."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from advisor.concurrency import Stopped, StopToken

if TYPE_CHECKING:
    from advisor.config import Settings

__all__ = ["Completion", "LLMError", "LiteLLM", "Message", "open_llm", "translate_error"]

log = logging.getLogger(__name__)
Message = dict[str, str]
_DEFAULT_CONTEXT = 8192
_TRANSIENT = ("unavailable", "rate_limit", "provider")


class LLMError(RuntimeError):
    """A model call that failed; the message is one line a user can act on."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # unavailable | timeout | rate_limit | auth | context | provider | bad_output


@dataclass
class Completion:
    """A finished model answer with what it cost."""

    text: str
    model: str
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    latency_s: float = 0.0


def _litellm() -> Any:
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


def translate_error(exc: Exception, model: str, timeout: float) -> LLMError:
    """A one-line, actionable LLMError for any litellm/OpenAI-client exception."""
    litellm = _litellm()
    name = type(exc).__name__
    detail = " ".join(str(exc).split())[:200]
    if isinstance(exc, litellm.Timeout):
        return LLMError(f"the model {model} did not answer within {timeout:g} s; try again or raise "
                        "ADVISOR_LLM_TIMEOUT_S", kind="timeout")
    lowered = detail.lower()
    overflow = "context" in lowered and ("exceed" in lowered or "too long" in lowered)
    if isinstance(exc, litellm.ContextWindowExceededError) or overflow:  # llama.cpp's comes as a connection error
        return LLMError(f"the request was too long for {model}'s context window", kind="context")
    if isinstance(exc, litellm.APIConnectionError | litellm.ServiceUnavailableError | litellm.BadGatewayError):
        return LLMError(f"cannot reach the model {model}: is its server running? ({detail})", kind="unavailable")
    if isinstance(exc, litellm.RateLimitError):
        return LLMError(f"the provider of {model} is rate-limiting requests; wait and try again", kind="rate_limit")
    if isinstance(exc, litellm.AuthenticationError | litellm.PermissionDeniedError):
        return LLMError(f"the provider rejected the credentials for {model}; check its API key", kind="auth")
    if isinstance(exc, litellm.NotFoundError):
        return LLMError(f"the provider does not know the model {model}", kind="provider")
    if "connection error" in lowered or "connection refused" in lowered or "failed to establish" in lowered:
        return LLMError(f"cannot reach the model {model}: is its server running? ({detail})", kind="unavailable")
    return LLMError(f"the model {model} failed ({name}: {detail})", kind="provider")


class LiteLLM:
    """A chat model reached through litellm, with timeouts, retries with backoff and optional fallbacks."""

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None,
                 fallbacks: Sequence[str] = (), timeout_s: float = 120.0, max_retries: int = 2,
                 context_tokens: int | None = None, temperature: float = 0.0, local: bool = False) -> None:
        self.model = model
        self.api_base = api_base
        self.api_key = api_key
        self.fallbacks = list(fallbacks)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.temperature = temperature
        self.local = local
        self._context = context_tokens
        self._router: Any = None
        # For the bundled model: restart its server (returning the new base URL) when it has gone away; stop it.
        self.revive: Callable[[], str] | None = None
        self.on_close: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        """The model string shown to users and stored with each turn."""
        return self.model

    @property
    def context_tokens(self) -> int:
        """The model's context window in tokens (from settings, then litellm's offline model map)."""
        if self._context is None:
            try:
                info = _litellm().get_model_info(self.model)
                self._context = int(info.get("max_input_tokens") or info.get("max_tokens") or _DEFAULT_CONTEXT)
            except Exception:  # unknown to the offline map: a conservative default
                self._context = _DEFAULT_CONTEXT
        return self._context

    def count_tokens(self, text: str) -> int:
        """Tokens in text for this model: the server's own tokenizer when local, litellm's otherwise."""
        if self.local and self.api_base:
            try:
                request = urllib.request.Request(
                    self.api_base.removesuffix("/v1") + "/tokenize", data=json.dumps({"content": text}).encode(),
                    headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    return len(json.loads(response.read())["tokens"])
            except (OSError, ValueError, KeyError):
                log.debug("local /tokenize unavailable; estimating", exc_info=True)
        try:
            return int(_litellm().token_counter(model=self.model, text=text))
        except Exception:
            return len(text) // 3 + 1

    def _kwargs(self, messages: list[Message], *, max_tokens: int, json_schema: dict[str, Any] | None,
                stream: bool, deterministic: bool = False) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": self.temperature,
            "timeout": self.timeout_s, "stream": stream,
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if stream:
            kwargs["stream_options"] = {"include_usage": True}
        if json_schema is not None:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": json_schema.get("title", "output"), "schema": json_schema, "strict": False}}
        if self.local:
            kwargs["seed"] = 0
            # A 1.5B model loops on its own phrases without a repetition penalty.
            kwargs["extra_body"] = {"repeat_penalty": 1.15, "repeat_last_n": 256}
            if deterministic:  # llama.cpp's prompt cache can change a reply; same input, same output
                kwargs["extra_body"]["cache_prompt"] = False
        return kwargs

    def _call(self, kwargs: dict[str, Any]) -> Any:
        litellm = _litellm()
        if not self.fallbacks:
            return litellm.completion(num_retries=0, **kwargs)  # retries are ours: a stopped turn must not retry
        if self._router is None:
            names = [self.model, *self.fallbacks]
            self._router = litellm.Router(
                model_list=[{"model_name": n, "litellm_params": {"model": n, **(
                    {"api_base": self.api_base, "api_key": self.api_key} if n == self.model and self.api_base
                    else {})}} for n in names],
                fallbacks=[{self.model: self.fallbacks}], num_retries=self.max_retries, timeout=self.timeout_s)
        kwargs = {k: v for k, v in kwargs.items() if k not in ("api_base", "api_key", "client")}
        return self._router.completion(**kwargs)

    def _retry(self, error: LLMError, attempt: int, stop: StopToken | None) -> bool:
        """Whether to try again after error (restarting the local server once if it went away)."""
        if error.kind == "unavailable" and attempt == 0 and self.revive is not None:
            try:
                self.api_base = self.revive()
                return True
            except Exception as exc:
                log.warning("could not restart the local model: %s", exc)
                return False
        if error.kind not in _TRANSIENT or attempt >= self.max_retries or self.fallbacks:
            return False  # the router of a model with fallbacks has retried already
        delay = min(0.5 * 2**attempt, 8.0)
        if stop is None:
            time.sleep(delay)
        elif stop.wait(delay):
            return False
        return True

    def _abortable(self, kwargs: dict[str, Any], stop: StopToken | None) -> Callable[[], None] | None:
        """For an OpenAI-compatible server, a client of the request's own whose socket stop() shuts down, so a
        request still waiting for its first token (a long prompt on the local model) ends at once."""
        if stop is None or not self.api_base or self.fallbacks or not self.model.startswith("openai/"):
            return None
        import httpx2
        import openai

        transport = _abortable_transport_class()()
        http = httpx2.Client(transport=transport, timeout=self.timeout_s)
        kwargs["client"] = openai.OpenAI(api_key=self.api_key or "unused", base_url=self.api_base,
                                         http_client=http, max_retries=0, timeout=self.timeout_s)
        unregister = stop.on_stop(transport.abort)

        def cleanup() -> None:
            unregister()
            http.close()

        return cleanup

    def _chunks(self, messages: list[Message], *, max_tokens: int, json_schema: dict[str, Any] | None,
                deterministic: bool, stop: StopToken | None) -> Iterator[str | Completion]:
        started = time.perf_counter()
        pieces: list[str] = []
        usage: dict[str, int] = {}
        served_by = self.model
        attempt = 0
        while True:
            kwargs = self._kwargs(messages, max_tokens=max_tokens, json_schema=json_schema, stream=True,
                                  deterministic=deterministic)
            cleanup = self._abortable(kwargs, stop)
            try:
                if stop is not None:
                    stop.check()
                response = self._call(kwargs)
                try:
                    for chunk in response:
                        if stop is not None:
                            stop.check()
                        if getattr(chunk, "usage", None):
                            usage = _usage(chunk.usage)
                        served_by = str(getattr(chunk, "model", None) or served_by)
                        if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                            pieces.append(chunk.choices[0].delta.content)
                            yield pieces[-1]
                finally:
                    close = getattr(response, "close", None)
                    if callable(close):
                        close()  # ends the request on the server when the reader stops early
                break
            except Stopped:
                raise
            except Exception as exc:
                if stop is not None and stop.stopped:
                    raise Stopped from exc
                error = translate_error(exc, self.model, self.timeout_s)
                if pieces or not self._retry(error, attempt, stop):
                    raise error from exc
                attempt += 1
            finally:
                if cleanup is not None:
                    cleanup()
        cost = 0.0 if self.local else self._price(usage)
        yield Completion("".join(pieces), served_by, usage, cost, time.perf_counter() - started)

    def complete(self, messages: list[Message], *, max_tokens: int, json_schema: dict[str, Any] | None = None,
                 deterministic: bool = False, stop: StopToken | None = None) -> Completion:
        """One answer; with json_schema the output is constrained to that schema where the server supports it.
        With a stop token the answer is streamed underneath, so that stopping ends the request at once."""
        if stop is not None:
            for piece in self._chunks(messages, max_tokens=max_tokens, json_schema=json_schema,
                                      deterministic=deterministic, stop=stop):
                if isinstance(piece, Completion):
                    return piece
            raise AssertionError("a model stream always ends with a Completion")
        started = time.perf_counter()
        attempt = 0
        while True:
            try:
                response = self._call(self._kwargs(messages, max_tokens=max_tokens, json_schema=json_schema,
                                                   stream=False, deterministic=deterministic))
                break
            except Exception as exc:
                error = translate_error(exc, self.model, self.timeout_s)
                if not self._retry(error, attempt, None):
                    raise error from exc
                attempt += 1
        text = response.choices[0].message.content or ""
        usage = _usage(getattr(response, "usage", None))
        return Completion(text, str(getattr(response, "model", None) or self.model), usage,
                          self._cost(response), time.perf_counter() - started)

    def stream(self, messages: list[Message], *, max_tokens: int, deterministic: bool = False,
               stop: StopToken | None = None) -> Iterator[str | Completion]:
        """Yield text pieces as they arrive, then one Completion with the whole text and usage; Stopped once the
        stop token is set (the request is ended, also while waiting for the first token)."""
        yield from self._chunks(messages, max_tokens=max_tokens, json_schema=None, deterministic=deterministic,
                                stop=stop)

    def close(self) -> None:
        """Release what this model holds: the bundled server it started, if any."""
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close()

    def as_llama_index(self) -> Any:
        """The same model as a llama-index LLM, for the FunctionAgent of agent mode (tool calling assumed)."""
        from llama_index.llms.litellm import LiteLLM as LlamaIndexLiteLLM

        class _ToolCalling(LlamaIndexLiteLLM):
            @property
            def metadata(self) -> Any:
                meta = super().metadata
                meta.is_function_calling_model = True  # agent mode is for models the operator knows can call tools
                return meta

        extra: dict[str, Any] = {"timeout": self.timeout_s}
        if self.api_base:
            extra["api_base"] = self.api_base
        return _ToolCalling(  # type: ignore[call-arg]
            model=self.model, temperature=self.temperature, max_retries=self.max_retries,
            api_key=self.api_key or "unused", additional_kwargs=extra)

    def _cost(self, response: Any) -> float | None:
        if self.local:
            return 0.0
        try:
            return float(_litellm().completion_cost(completion_response=response))
        except Exception:
            return None

    def _price(self, usage: dict[str, int]) -> float | None:
        try:
            prompt, completion = _litellm().cost_per_token(
                model=self.model, prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0))
            return float(prompt + completion)
        except Exception:
            return None


def _usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    return {k: int(getattr(usage, k, 0) or 0) for k in keys}


def open_llm(settings: Settings, *, model: str | None = None) -> LiteLLM:
    """The configured model; for `local`, the bundled model's server is started (or reused) first."""
    name = model or settings.llm
    if name == "local":
        from advisor.local_model import MODEL_ALIAS, LocalServer

        server = LocalServer(settings)
        try:
            base = server.ensure_running()
        except Exception as exc:
            raise LLMError(f"cannot start the local model: {exc}", kind="unavailable") from exc
        # A server another process started may give each request less context than ours would: the budget
        # must hold for the server actually in use.
        context = min(settings.local_ctx, server.slot_context() or settings.local_ctx)
        llm = LiteLLM(f"openai/{MODEL_ALIAS}", api_base=base, api_key="local", timeout_s=settings.llm_timeout_s,
                      max_retries=settings.llm_max_retries, context_tokens=context,
                      temperature=settings.llm_temperature, local=True)
        llm.revive = server.ensure_running
        llm.on_close = server.stop  # a server another process started is left running
        return llm
    return LiteLLM(name, api_base=settings.llm_api_base, api_key=settings.llm_api_key,
                   fallbacks=settings.llm_fallbacks, timeout_s=settings.llm_timeout_s,
                   max_retries=settings.llm_max_retries, context_tokens=settings.llm_context_tokens,
                   temperature=settings.llm_temperature)



@functools.cache
def _ssl_context() -> Any:
    """httpx's default verifying context, made once and shared by every request's own client."""
    import httpcore2

    return httpcore2.default_ssl_context()


@functools.cache
def _abortable_transport_class() -> Any:
    """httpx2's transport (the OpenAI SDK's HTTP stack), remembering the sockets it opens so that another thread
    can shut them down.

    shutdown() (unlike close()) wakes a thread blocked reading the socket and tells the server the client has
    gone; after abort() no new connection is opened, so nothing retries a stopped request.
    """
    import socket

    import httpcore2
    import httpx2

    class Backend(httpcore2.NetworkBackend):
        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.sockets: list[socket.socket] = []
            self.aborted = False

        def connect_tcp(self, *args: Any, **kwargs: Any) -> Any:
            if self.aborted:
                raise httpcore2.ConnectError("the request was stopped")
            stream = self.inner.connect_tcp(*args, **kwargs)
            sock = stream.get_extra_info("socket")
            if sock is not None:
                self.sockets.append(sock)
            return stream

        def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
            return self.inner.connect_unix_socket(*args, **kwargs)

        def sleep(self, seconds: float) -> None:
            self.inner.sleep(seconds)

    class AbortableTransport(httpx2.HTTPTransport):
        def __init__(self) -> None:
            super().__init__(verify=_ssl_context())  # loading the CA store costs ~20 ms: once a process
            self.backend = Backend(self._pool._network_backend)
            self._pool._network_backend = self.backend  # httpx2 has no public hook for its sockets

        def abort(self) -> None:
            self.backend.aborted = True
            for sock in self.backend.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    return AbortableTransport
