"""The Advisor: one service object, built once from Settings and shared by the CLI, the web page, Slack and evals.

Front ends drive it only through turn events (`events()` / `aevents()`, or `ask()` for the whole answer),
`feedback()` and conversations by id or by an external key. It builds its components (index, retriever, store,
models, the local server) once each under a lock, queues requests to the bundled model fairly so they never
exceed its slots, and can answer a turn with another model than the default.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from advisor.concurrency import FairQueue, StopToken
from advisor.events import Answer, DoneEvent, ErrorEvent, Event

if TYPE_CHECKING:
    from advisor.config import Settings
    from advisor.llm import LiteLLM
    from advisor.reader import Reader
    from advisor.retrieval import HybridRetriever
    from advisor.store import Store

__all__ = ["Advisor", "AdvisorError", "Answer", "AsyncTurnStream", "InputError", "TurnStream"]

log = logging.getLogger(__name__)
_END = object()


class InputError(ValueError):
    """A message the advisor will not process; the message is one line for the user."""


class AdvisorError(RuntimeError):
    """A turn that failed after its input was accepted (model down, timeout); one line for the user."""

    def __init__(self, message: str, *, turn_id: str = "", kind: str = "internal") -> None:
        super().__init__(message)
        self.turn_id = turn_id
        self.kind = kind


class TurnStream(Iterator[Event]):
    """A turn's events as a sync iterator; `turn_id` and `conversation_id` are known before the first event.

    `stop()` (from any thread) ends the model request and finishes the turn with a `done` event marked stopped;
    closing the stream (or dropping it) stops the turn too and records it as stopped.
    """

    def __init__(self, events: Iterator[Event], stop: StopToken, *, turn_id: str, conversation_id: str) -> None:
        self._events = events
        self._stop = stop
        self.turn_id = turn_id
        self.conversation_id = conversation_id

    def __iter__(self) -> TurnStream:
        return self

    def __next__(self) -> Event:
        return next(self._events)

    def stop(self) -> None:
        """Stop generating; the stream then ends with `done` (stopped: true)."""
        self._stop.stop()

    def close(self) -> None:
        """Stop and end the stream now; the turn is recorded with what was written."""
        self._stop.stop()
        close = getattr(self._events, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> TurnStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncTurnStream(AsyncIterator[Event]):
    """The same events as an async iterator: the turn runs in a worker thread, so the event loop never blocks.

    A consumer that stops iterating (`aclose()`, a cancelled task) stops the turn; `aclose()` returns once the
    stopped turn is recorded.
    """

    def __init__(self, stream: TurnStream) -> None:
        self._stream = stream
        self.turn_id = stream.turn_id
        self.conversation_id = stream.conversation_id
        self._queue: asyncio.Queue[Any] | None = None
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None

    def __aiter__(self) -> AsyncTurnStream:
        return self

    def _start(self) -> asyncio.Queue[Any]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stream, finished = self._stream, self._finished  # the worker holds these, not self, so dropping self stops

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop has closed: nobody is listening any more
                stream.stop()

        def pump() -> None:
            try:
                for event in stream:
                    put(event)
            except BaseException as exc:
                put(exc)
            finally:
                finished.set()
                put(_END)

        self._queue = queue
        self._thread = threading.Thread(target=pump, name=f"turn-{self.turn_id[:8]}", daemon=True)
        self._thread.start()
        return queue

    async def __anext__(self) -> Event:
        queue = self._queue or self._start()
        try:
            item = await queue.get()
        except asyncio.CancelledError:
            self._stream.stop()
            raise
        if item is _END:
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        """Stop generating; the stream then ends with `done` (stopped: true)."""
        self._stream.stop()

    async def aclose(self) -> None:
        """Stop the turn and wait (briefly) until it is recorded."""
        self._stream.stop()
        if self._thread is not None:
            await asyncio.to_thread(self._finished.wait, 10.0)
        else:
            self._stream.close()

    async def __aenter__(self) -> AsyncTurnStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # A consumer that breaks out of `async for` and drops the stream stops the turn (it is still recorded).
        if not self._finished.is_set():
            self._stream.stop()


class Advisor:
    """The chat advisor, built once from Settings and shared by the CLI, web, Slack and evals."""

    def __init__(self, settings: Settings, *, llm: LiteLLM | None = None, retriever: HybridRetriever | None = None,
                 store: Store | None = None, reader: Reader | None = None) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._retriever = retriever
        self._store = store
        self._reader = reader
        self._llms: dict[str, LiteLLM] = {}
        self._default_model = llm.name if llm is not None else settings.llm
        if llm is not None:
            self._llms[llm.name] = llm
        self._queues: dict[int, FairQueue] = {}
        self.builds: Counter[str] = Counter()  # how many times each component was built (once each)

    # -- components, each built once --------------------------------------------------------------------------
    @property
    def llm(self) -> LiteLLM:
        """The default model."""
        return self.llm_for(None)

    def llm_for(self, model: str | None) -> LiteLLM:
        """The model for a turn: the default (None) or any litellm model string, each built once and kept."""
        name = model or self._default_model
        found = self._llms.get(name)
        if found is not None:
            return found
        with self._lock:
            if name not in self._llms:
                from advisor.llm import open_llm

                self._llms[name] = open_llm(self.settings, model=name)
                self.builds[f"llm:{name}"] += 1
            return self._llms[name]

    def _once(self, attr: str, build: Callable[[], Any]) -> Any:
        """The component in `attr`, built by `build` on first use, once, under the lock (counted in `builds`)."""
        built = getattr(self, attr)
        if built is not None:
            return built
        with self._lock:
            if getattr(self, attr) is None:
                setattr(self, attr, build())
                self.builds[attr.lstrip("_")] += 1
            return getattr(self, attr)

    @property
    def retriever(self) -> HybridRetriever:
        """Hybrid search over the index (ingested on first use if empty)."""
        def build() -> HybridRetriever:
            from advisor.index import open_index
            from advisor.retrieval import HybridRetriever

            index = open_index(self.settings)
            if index.count() == 0:
                index.ingest(progress=False)
                self.builds["ingest"] += 1
            return HybridRetriever(index)

        return self._once("_retriever", build)

    @property
    def reader(self) -> Reader:
        """The situation reader and router (trained once and cached by the hash of its data)."""
        from advisor.reader import load_reader

        return self._once("_reader", lambda: load_reader(self.settings))

    @property
    def store(self) -> Store:
        """The conversation database."""
        from advisor.store import Store

        return self._once("_store", lambda: Store.from_settings(self.settings))

    @property
    def llm_name(self) -> str:
        """The model string of the default model, without starting it."""
        built = self._llms.get(self._default_model)
        return built.name if built is not None else self._default_model

    def queue_for(self, llm: LiteLLM) -> FairQueue | None:
        """The fair queue in front of a model with a fixed number of slots (the bundled server), else None."""
        if not llm.local:
            return None  # a hosted provider or shared server queues (or rate-limits) on its own side
        with self._lock:
            return self._queues.setdefault(id(llm), FairQueue(self.settings.local_parallel))

    def warm(self) -> None:
        """Build everything up front: the index (ingesting if empty), BM25, the embedder, the store, the model."""
        self.retriever.search("warm up", k=1)
        self.reader.route("warm up")
        self.store.list_conversations(limit=1)
        self.llm  # noqa: B018 - starts the bundled server when it is the default

    def close(self) -> None:
        """Release what the advisor started (the bundled model's server); it can be used again afterwards."""
        with self._lock:
            llms = list(self._llms.values())
            self._llms = {k: v for k, v in self._llms.items() if v.on_close is None}
        for llm in llms:
            llm.close()

    def __enter__(self) -> Advisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- conversations --------------------------------------------------------------------------------------------
    def conversation(self, *, conversation_id: str | None = None, conversation_key: str | None = None) -> str:
        """The conversation a turn belongs to: an existing id, the one for an external key (created on first use,
        e.g. "slack:TEAM:CHANNEL:THREAD_TS"), or a new one."""
        if conversation_id is not None and conversation_key is not None:
            raise InputError("give a conversation id or a conversation key, not both")
        if conversation_key is not None:
            key = " ".join(str(conversation_key).split())
            if not key or len(key) > 500:
                raise InputError("a conversation key must be 1 to 500 characters")
            return self.store.conversation_for_external(key)
        if conversation_id is None:
            return self.store.new_conversation()
        if self.store.get_conversation(conversation_id) is None:
            raise InputError(f"unknown conversation {conversation_id!r}")
        return conversation_id

    # -- turns ----------------------------------------------------------------------------------------------------
    def events(self, message: str, *, conversation_id: str | None = None, conversation_key: str | None = None,
               model: str | None = None) -> TurnStream:
        """Start a turn and return its events (sync). Bad input raises InputError at once, and nothing is stored."""
        from advisor.hygiene import clean_message

        text = clean_message(message, max_chars=self.settings.max_message_chars, error=InputError)
        if model is not None and not model.strip():
            raise InputError("the model name is empty")
        conversation = self.conversation(conversation_id=conversation_id, conversation_key=conversation_key)
        stop = StopToken()
        turn_id = uuid.uuid4().hex
        return TurnStream(_run(self, model, conversation, turn_id, text, stop), stop, turn_id=turn_id,
                          conversation_id=conversation)

    def aevents(self, message: str, *, conversation_id: str | None = None, conversation_key: str | None = None,
                model: str | None = None) -> AsyncTurnStream:
        """Start a turn and return its events as an async iterator that never blocks the event loop.

        Validation is quick and does no model call; building components on first use happens in the worker."""
        return AsyncTurnStream(self.events(message, conversation_id=conversation_id,
                                           conversation_key=conversation_key, model=model))

    def ask(self, message: str, *, conversation_id: str | None = None, conversation_key: str | None = None,
            model: str | None = None) -> Answer:
        """Answer one message in one call; AdvisorError (with the recorded turn_id) if the turn failed."""
        for event in self.events(message, conversation_id=conversation_id, conversation_key=conversation_key,
                                 model=model):
            if isinstance(event, DoneEvent):
                return event.answer
            if isinstance(event, ErrorEvent):
                raise AdvisorError(event.message, turn_id=event.turn_id, kind=event.kind)
        raise AdvisorError("the turn ended without an answer")

    def feedback(self, turn_id: str, rating: int, comment: str | None = None, *, source: str = "cli") -> int:
        """Record a thumbs up (+1) or down (-1) on a turn and return its feedback id; InputError for an unknown
        turn or a bad value."""
        self._check_comment(comment)
        with _input_errors():
            return self.store.add_feedback(turn_id, rating=rating, comment=comment, source=source)

    def update_feedback(self, feedback_id: int, *, rating: int | None = None, comment: str | None = None) -> None:
        """Change a recorded feedback (a thumb flipped, a comment added after the click); InputError if unknown."""
        self._check_comment(comment)
        with _input_errors():
            self.store.update_feedback(feedback_id, rating=rating, comment=comment)

    def _check_comment(self, comment: str | None) -> None:
        if comment is not None and len(comment) > self.settings.max_message_chars:
            raise InputError(f"the comment is too long (the limit is {self.settings.max_message_chars} characters)")

    def history(self, *, conversation_id: str | None = None, conversation_key: str | None = None
                ) -> list[dict[str, Any]]:
        """A conversation's turns, oldest first, as front ends redraw them: user, answer, sources, the verdict (the
        verdict event's fields) and ids; an unknown conversation or key has none, and nothing is created."""
        if conversation_key is not None:
            conversation_id = self.store.find_external(" ".join(str(conversation_key).split()))
        if conversation_id is None:
            return []
        from advisor.verdict import Verdict

        return [{"turn_id": t.id, "conversation_id": t.conversation_id, "user": t.user, "answer": t.answer,
                 "sources": t.sources, "recommendation": t.recommendation, "kind": t.kind, "stopped": t.stopped,
                 "error": t.error,
                 # the verdict event's fields again (without the quotes, which are not stored)
                 "verdict": Verdict.of(t.profile or {}, t.scores).as_dict() if t.scores else None}
                for t in self.store.turns(conversation_id)]


@contextlib.contextmanager
def _input_errors() -> Iterator[None]:
    """Store errors about what the caller gave (an unknown id, a bad value) as one-line InputErrors."""
    from advisor.store import NotFoundError, StoreError

    try:
        yield
    except NotFoundError as exc:
        raise InputError(str(exc)) from None
    except StoreError as exc:
        if "must be" in str(exc):
            raise InputError(str(exc)) from None
        raise


def _run(advisor: Advisor, model: str | None, conversation_id: str, turn_id: str, text: str, stop: StopToken
         ) -> Iterator[Event]:
    """A turn's events; the components it needs are built (once, shared) here, in whichever thread iterates."""
    from advisor.llm import LLMError
    from advisor.pipeline import TurnRun

    try:
        llm = advisor.llm_for(model)
        retriever = advisor.retriever
        reader = advisor.reader
    except Exception as exc:
        # Without a model or an index nothing can be answered; record the attempt so that it has an id.
        message = " ".join(str(exc).split())[:500]
        kind = exc.kind if isinstance(exc, LLMError) else "internal"
        log.error("turn %s could not start: %s", turn_id, message)
        advisor.store.add_turn(conversation_id, user=text, answer="", standalone_question=None,
                               recommendation=None, sources=[], profile=None, scores=None,
                               model=model or advisor.settings.llm, latency_s=0.0, usage={}, cost_usd=None,
                               error=message, turn_id=turn_id)
        yield ErrorEvent(t=0.0, message=message, kind=kind, turn_id=turn_id, conversation_id=conversation_id)
        return
    run = TurnRun(settings=advisor.settings, llm=llm, retriever=retriever, reader=reader, store=advisor.store,
                  queue=advisor.queue_for(llm), conversation_id=conversation_id, turn_id=turn_id, text=text,
                  stop=stop)
    yield from run.events()
