"""The Chat tab: Gradio's chatbot wired to the Advisor's turn events.

Each browser keeps a session id in its own storage (gr.BrowserState), and the conversation is the Advisor's
conversation for the key "web:<id>", so a reload redraws it from the store. Turns run through `aevents()`, so a
slow answer never blocks the server's event loop; the event allows many turns at once and the local model's own
queue decides who waits. Stop asks the running turn to stop, and the turn then ends normally (kept, with an id for
feedback). A thumb records feedback at once; a comment added afterwards updates that same feedback.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gradio as gr

from advisor.advisor import InputError
from advisor.events import Event, TextEvent
from advisor.store import StoreError
from advisor.web_plots import scores_figure
from advisor.web_render import verdict_card
from advisor.web_turn import ChatTurn, Message, history_messages

if TYPE_CHECKING:
    from advisor.advisor import Advisor, AsyncTurnStream

__all__ = ["EXAMPLES", "ChatTab"]

log = logging.getLogger(__name__)

EXAMPLES = [
    "We are a hospital group. Patient records must stay on our own servers, and our ML engineers have fine-tuned "
    "models before. What should we do?",
    "We need to classify support tickets into 12 labels; we have 8,000 labelled examples and need answers in 50 ms.",
    "Our small team wants to prototype a customer-support chatbot in three weeks. Which option fits?",
    "How much GPU memory do a 70B model's weights need in 4-bit?",
]


@dataclass
class ChatTab:
    """The chat's components and handlers; `session` is the BrowserState the other tabs share."""

    advisor: Advisor
    chatbot: gr.Chatbot
    box: gr.Textbox
    notice: gr.Markdown
    verdict: gr.HTML
    plot: gr.Plot
    session: gr.BrowserState
    messages: gr.State
    owners: gr.State
    send: gr.Button
    stop: gr.Button
    # The running turn of each open page (Gradio's session hash), so that Stop reaches it from another event.
    active: dict[str, AsyncTurnStream] = field(default_factory=dict)

    # -- the turn ------------------------------------------------------------------------------------------------
    def outputs(self) -> list[Any]:
        """What a turn updates, in the order respond() yields it."""
        return [self.chatbot, self.messages, self.owners, self.box, self.notice, self.verdict, self.plot,
                self.send, self.stop, self.session]

    async def respond(self, message: str, messages: list[Message], owners: dict[int, str],
                      session: dict[str, Any] | None, request: gr.Request) -> AsyncIterator[tuple[Any, ...]]:
        """Run one turn and redraw the chat as its events arrive."""
        skip = gr.skip()
        session, fresh = _session(session)
        saved = session if fresh else skip
        try:
            stream = self.advisor.aevents(message or "", conversation_key=_key(session))
        except InputError as exc:  # refused with the reason; the typed message stays in the box
            yield (skip, skip, skip, skip, f"⚠️ {exc}", skip, skip, skip, skip, saved)
            return
        except Exception as exc:  # e.g. the database cannot be written: say so, keep the message
            log.exception("could not start a chat turn")
            yield (skip, skip, skip, skip, f"⚠️ The advisor cannot take questions now: {exc}", skip, skip, skip,
                   skip, saved)
            return
        self.active[_who(request)] = stream
        turn = ChatTurn(message, turn_id=stream.turn_id)
        start = len(messages)
        owners = dict(owners)
        busy = (gr.update(visible=False), gr.update(visible=True))
        yield (messages + turn.messages, skip, skip, "", "", skip, skip, *busy, saved)
        card: tuple[Any, Any] = (skip, skip)
        try:
            async for redraw in _batches(stream, turn):
                card = (verdict_card(turn.verdict), scores_figure(turn.verdict["scores"])) if (
                    redraw and turn.verdict) else (skip, skip)
                if self.active.get(_who(request)) is not stream:
                    continue  # "New conversation" was pressed: drain the stopped turn, never draw it on the new chat
                if not turn.finished:
                    yield (messages + turn.messages, skip, skip, skip, skip, *card, skip, skip, skip)
        except Exception as exc:  # never a stack trace in the page
            log.exception("chat turn %s failed", stream.turn_id)
            turn.messages.append({"role": "assistant", "content": f"⚠️ Something went wrong: {exc}"})
        finally:
            # Gone from the list means "New conversation" was pressed meanwhile: leave the fresh chat alone.
            abandoned = self.active.get(_who(request)) is not stream
            if not abandoned:
                del self.active[_who(request)]
        idle = (gr.update(visible=True), gr.update(visible=False))
        if abandoned:
            yield (skip, skip, skip, skip, skip, skip, skip, *idle, skip)
            return
        owners.update({i: turn.turn_id for i in range(start + 1, start + len(turn.messages))})
        final = messages + turn.messages
        yield (final, final, owners, skip, skip, *card, *idle, skip)

    async def respond_to_option(self, messages: list[Message], owners: dict[int, str],
                                session: dict[str, Any] | None, selected: gr.SelectData, request: gr.Request
                                ) -> AsyncIterator[tuple[Any, ...]]:
        """A clicked clarifying reply or example, sent as the user's next message."""
        value = selected.value
        text = value.get("text", "") if isinstance(value, dict) else str(value)
        async for update in self.respond(text, messages, owners, session, request):
            yield update

    async def respond_if_filled(self, message: str, messages: list[Message], owners: dict[int, str],
                                session: dict[str, Any] | None, request: gr.Request
                                ) -> AsyncIterator[tuple[Any, ...]]:
        """A turn for a message another tab wrote into the box (the Assess form); nothing when it wrote none."""
        if not (message or "").strip():
            return
        async for update in self.respond(message, messages, owners, session, request):
            yield update

    def stop_turn(self, request: gr.Request) -> None:
        """Stop this page's running turn; it ends with what was written so far."""
        stream = self.active.get(_who(request))
        if stream is not None:
            stream.stop()

    # -- conversations -------------------------------------------------------------------------------------------
    def restore(self, session: dict[str, Any] | None) -> tuple[Any, ...]:
        """On page load: this browser's conversation, redrawn from the store (a new session id on first visit); a
        store that cannot be read leaves the chat empty and says why."""
        session, fresh = _session(session)
        try:
            turns = [] if fresh else self.advisor.history(conversation_key=_key(session))
        except StoreError as exc:
            log.exception("could not redraw conversation %s", _key(session))
            turns, notice = [], f"⚠️ Your earlier conversation cannot be shown now: {exc}"
        else:
            notice = ""
        messages, owners, verdict = history_messages(turns)
        return (session, messages, messages, owners, verdict_card(verdict),
                scores_figure(verdict["scores"] if verdict else None), notice)

    def restore_outputs(self) -> list[Any]:
        """What restore() updates, in its order."""
        return [self.session, self.chatbot, self.messages, self.owners, self.verdict, self.plot, self.notice]

    async def new_conversation(self, request: gr.Request) -> tuple[Any, ...]:
        """Start over: a new session id, so a new conversation; the old one stays in the store (a running turn
        is stopped and kept there). Async, so it runs on the event loop between the running turn's redraws."""
        stream = self.active.pop(_who(request), None)
        if stream is not None:
            stream.stop()
        return ({"session": uuid.uuid4().hex}, [], [], {}, verdict_card(None), scores_figure(None), "")

    # -- feedback ------------------------------------------------------------------------------------------------
    def like(self, owners: dict[int, str], given: dict[str, int], liked: gr.LikeData) -> tuple[Any, ...]:
        """A thumb on an answer: recorded at once (a second click on the same answer changes it)."""
        index = liked.index[0] if isinstance(liked.index, list | tuple) else liked.index
        turn_id = owners.get(int(index)) or owners.get(str(index))  # type: ignore[call-overload]
        if turn_id is None:
            return given, "⚠️ This message has no answer to rate yet.", gr.update(visible=False), None
        rating = 1 if liked.liked is True or liked.liked == "Like" else -1
        given = dict(given)
        try:
            if turn_id in given:
                self.advisor.update_feedback(given[turn_id], rating=rating)
            else:
                given[turn_id] = self.advisor.feedback(turn_id, rating, source="web")
        except (InputError, StoreError) as exc:
            return given, f"⚠️ {exc}", gr.update(visible=False), None
        thumb = "up" if rating > 0 else "down"
        return (given, f"Thumbs {thumb}: thanks, recorded. Add a comment below if you like.",
                gr.update(visible=True), turn_id)

    def comment(self, text: str, given: dict[str, int], turn_id: str | None) -> tuple[Any, ...]:
        """The optional comment on the feedback just given."""
        if not turn_id or turn_id not in given:
            return "⚠️ Rate an answer with a thumb first.", gr.skip()
        if not (text or "").strip():
            return "⚠️ The comment is empty.", gr.skip()
        try:
            self.advisor.update_feedback(given[turn_id], comment=text)
        except (InputError, StoreError) as exc:
            return f"⚠️ {exc}", gr.skip()
        return "Comment recorded. Thank you.", ""


async def _batches(stream: AsyncTurnStream, turn: ChatTurn, *, gap_s: float = 0.04, every_s: float = 0.1
                   ) -> AsyncIterator[bool]:
    """Apply the turn's events and say when to redraw (True when the verdict changed): at once for the verdict,
    the first words and the end; otherwise once no further event has come for gap_s, and at least every every_s
    while words keep coming. A burst of steps or words is drawn once: a fast model's hundred words a second
    would otherwise redraw the page a hundred times."""
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[Event] | None = asyncio.ensure_future(stream.__anext__())
    dirty = verdict = False
    drawn = loop.time()
    try:
        while pending is not None:
            wait = min(gap_s, max(0.0, drawn + every_s - loop.time())) if dirty else None
            done, _ = await asyncio.wait({pending}, timeout=wait)
            if done:
                try:
                    event = pending.result()
                except StopAsyncIteration:
                    pending = None
                    break
                first_words = isinstance(event, TextEvent) and not turn.text
                verdict |= turn.apply(event)
                pending = None if turn.finished else asyncio.ensure_future(stream.__anext__())
                dirty = True
                urgent = verdict or first_words or turn.finished or loop.time() - drawn >= every_s
            else:
                urgent = True
            if urgent:
                yield verdict
                dirty = verdict = False
                drawn = loop.time()
        if dirty:
            yield verdict
    finally:
        if pending is not None:  # the page went away: cancelling the read stops the turn (it is still recorded)
            pending.cancel()


def _who(request: gr.Request) -> str:
    return str(getattr(request, "session_hash", None) or "")


def _session(session: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
    if isinstance(session, dict) and isinstance(session.get("session"), str) and session["session"]:
        return session, False
    return {"session": uuid.uuid4().hex}, True


def _key(session: dict[str, Any]) -> str:
    return f"web:{session['session']}"


def build_chat(advisor: Advisor, *, concurrency: int, secret: str) -> ChatTab:
    """Lay out the Chat tab (inside an open gr.Tab) and wire its events."""
    session = gr.BrowserState(None, storage_key="advisor-session", secret=secret)
    messages = gr.State([])
    owners = gr.State({})
    given = gr.State({})
    rated = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(elem_id="chatbot", height=560, label="Advisor", layout="panel",
                                 examples=[{"text": e} for e in EXAMPLES], buttons=["copy"],
                                 placeholder="Describe your team, data and workload, or ask a question about "
                                             "getting an LLM.")
            with gr.Row():
                box = gr.Textbox(elem_id="msg", show_label=False, scale=8, lines=2, max_lines=8, autofocus=True,
                                 placeholder="e.g. We are a bank; customer data must stay in-house…")
                send = gr.Button("Send", variant="primary", elem_id="send", scale=1, min_width=80)
                stop = gr.Button("Stop", variant="stop", elem_id="stop", scale=1, min_width=80, visible=False)
            notice = gr.Markdown("", elem_id="chat-notice")
            with gr.Row(visible=False, elem_id="feedback-row") as feedback_row:
                comment = gr.Textbox(elem_id="feedback-comment", show_label=False, scale=6,
                                     placeholder="What was good or wrong? (optional)")
                add = gr.Button("Add comment", elem_id="feedback-send", scale=1)
            new = gr.Button("New conversation", elem_id="new-conversation", size="sm")
        with gr.Column(scale=2):
            verdict = gr.HTML(verdict_card(None), elem_id="verdict")
            plot = gr.Plot(scores_figure(None), elem_id="scores-plot", show_label=False)
    tab = ChatTab(advisor, chatbot, box, notice, verdict, plot, session, messages, owners, send, stop)
    turn_inputs = [box, messages, owners, session]
    chat_limits: dict[str, Any] = {"concurrency_limit": concurrency, "concurrency_id": "chat"}
    box.submit(tab.respond, turn_inputs, tab.outputs(), **chat_limits)
    send.click(tab.respond, turn_inputs, tab.outputs(), **chat_limits)
    chatbot.option_select(tab.respond_to_option, [messages, owners, session], tab.outputs(), **chat_limits)
    chatbot.example_select(tab.respond_to_option, [messages, owners, session], tab.outputs(), **chat_limits)
    stop.click(tab.stop_turn, None, None, concurrency_limit=None, queue=False)
    fresh = [session, chatbot, messages, owners, verdict, plot, notice]
    new.click(tab.new_conversation, None, fresh, concurrency_limit=None)
    chatbot.clear(tab.new_conversation, None, fresh, concurrency_limit=None)  # the chatbot's own bin icon
    chatbot.like(tab.like, [owners, given], [given, notice, feedback_row, rated], concurrency_limit=None)
    add.click(tab.comment, [comment, given, rated], [notice, comment], concurrency_limit=None)
    comment.submit(tab.comment, [comment, given, rated], [notice, comment], concurrency_limit=None)
    return tab
