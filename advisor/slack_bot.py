"""The Slack bot: a slack-bolt App over one Advisor, for mentions, direct messages and their threads.

Every event is acknowledged at once and answered in a worker thread: the thread's status follows the turn
("Reading your situation…", the queue position, "Writing…"), the verdict card is posted as soon as the scorer
has it, the prose is streamed into one message (chat.startStream / appendStream / stopStream, or posted and
updated where streaming is unavailable) and ends with the sources and feedback buttons. A Slack thread is the
conversation key, so a follow-up continues it, also after a restart. Each delivery is claimed in the store
before it is answered, so Slack's retries and a second replica sharing the store never answer twice.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from advisor.slack_blocks import (
    ANSWER_CHOICE,
    ANSWER_VIEW,
    COMMENT_VIEW,
    FEEDBACK_ACTION,
    QUESTION_ACTION,
    answer_modal,
    comment_modal,
    footer_blocks,
    verdict_blocks,
)
from advisor.slack_stream import AnswerWriter, ThreadStatus

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient

    from advisor.advisor import Advisor
    from advisor.config import Settings

__all__ = ["SUGGESTED_PROMPTS", "SlackBot", "conversation_key"]

log = logging.getLogger(__name__)

SUGGESTED_PROMPTS = [
    {"title": "Regulated data", "message": "We handle patient records that must stay on our own servers and have "
                                           "two ML engineers. Should we use an API or an open-weight model?"},
    {"title": "Costs at scale", "message": "We expect 2 billion tokens a month. When is self-hosting cheaper "
                                           "than an API?"},
    {"title": "A narrow task", "message": "We need to route support tickets into 12 labels and have 50,000 "
                                          "labelled examples. What should we build?"},
]
_MENTION = re.compile(r"<@[UW][A-Z0-9]+>")
_ERRORS = {
    "unavailable": "the model is not reachable right now",
    "timeout": "the model took too long to answer",
    "rate_limit": "the model provider is busy",
    "context": "this thread has grown too long for the model; start a new thread",
}


def conversation_key(channel: str, thread_ts: str) -> str:
    """The advisor conversation of a Slack thread."""
    return f"slack:{channel}:{thread_ts}"


@dataclass(frozen=True)
class _Job:
    channel: str
    thread_ts: str
    user: str
    team: str | None
    text: str

    @property
    def key(self) -> str:
        return conversation_key(self.channel, self.thread_ts)


class _RateLimiter:
    """At most `per_minute` questions a user in any 60 seconds."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, user: str) -> float:
        """0 when the user may ask now, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen[user]
            while seen and now - seen[0] >= 60.0:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return 60.0 - (now - seen[0])
            seen.append(now)
            return 0.0


class SlackBot:
    """The bolt App and the workers that answer in threads; build once from an Advisor (and its settings)."""

    def __init__(self, advisor: Advisor, settings: Settings | None = None, *, client: WebClient | None = None,
                 update_interval_s: float = 1.0) -> None:
        self.advisor = advisor
        self.settings = settings or advisor.settings
        self.update_interval_s = update_interval_s
        self._limiter = _RateLimiter(self.settings.slack_rate_per_minute)
        self._pool = ThreadPoolExecutor(max_workers=self.settings.slack_workers, thread_name_prefix="slack-turn")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self.app = self._build_app(client)

    # -- the app ----------------------------------------------------------------------------------------------
    def _build_app(self, client: WebClient | None) -> App:
        from slack_bolt import App
        from slack_sdk import WebClient

        s = self.settings
        token = s.slack_bot_token.get_secret_value() if s.slack_bot_token else None
        if client is None:
            client = WebClient(token=token, base_url=s.slack_api_url)
        secret = s.slack_signing_secret.get_secret_value() if s.slack_signing_secret else ""
        app = App(client=client, signing_secret=secret, token_verification_enabled=s.slack_verify_token,
                  process_before_response=False, raise_error_for_unhandled_request=False)
        app.use(self._dedupe)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        app.event("app_home_opened")(self._on_home)
        app.event("assistant_thread_started")(self._on_thread_started)
        app.event("assistant_thread_context_changed")(lambda ack: ack())
        app.command("/advisor")(self._on_command)
        app.action(re.compile(f"^{FEEDBACK_ACTION}"))(self._on_feedback)
        app.action(re.compile(f"^{QUESTION_ACTION}_\\d+$"))(self._on_question)
        app.view(COMMENT_VIEW)(self._on_comment)
        app.view(ANSWER_VIEW)(self._on_answer)
        return app

    def _dedupe(self, body: dict[str, Any], next: Any) -> Any:
        """Let each Events API delivery through once across retries and replicas (claimed in the store)."""
        from slack_bolt import BoltResponse

        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not self._claim(f"slack-event:{event_id}"):
            log.info("event %s was already taken (a retry or another replica); skipped", event_id)
            return BoltResponse(status=200, body="")
        return next()

    def _claim(self, key: str) -> bool:
        from advisor.store import StoreError

        try:
            return self.advisor.store.claim(key)
        except StoreError as exc:
            log.error("cannot record %s in the store (%s); answering anyway", key, exc)
            return True

    # -- conversations ------------------------------------------------------------------------------------------
    def _on_mention(self, ack: Any, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        self._accept(event, body, context)  # quick: claims and queues, so the ack follows at once
        ack()

    def _on_message(self, ack: Any, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        if event.get("channel_type") == "im":  # in channels, only mentions are answered (app_mention)
            self._accept(event, body, context)
        ack()

    def _accept(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        user = event.get("user")
        if not user or event.get("bot_id") or event.get("subtype") or user == context.get("bot_user_id"):
            return  # bots (this one too), edits, deletions and other message subtypes
        channel, ts = str(event.get("channel", "")), str(event.get("ts", ""))
        if not channel or not ts:
            return
        thread_ts = str(event.get("thread_ts") or ts)
        # One message can arrive as two events (a mention in a direct message): answer it once.
        if not self._claim(f"slack-message:{channel}:{ts}"):
            return
        text = " ".join(_MENTION.sub(" ", str(event.get("text") or "")).split())
        if not text:
            self._later(self._post, channel, thread_ts,
                        "Ask me how to get an LLM for your situation, or try `/advisor help`.")
            return
        wait = self._limiter.allow(user)
        if wait:
            self._later(self._ephemeral, channel, user, thread_ts,
                        f"You are asking faster than I can answer well. Please wait about {wait:.0f} seconds "
                        "and ask again.")
            return
        self.submit(_Job(channel, thread_ts, user, body.get("team_id") or event.get("team"), text))

    def submit(self, job: _Job) -> Future[None]:
        """Answer a job in a worker thread."""
        return self._later(self._answer, job)

    def _later(self, call: Any, *args: Any) -> Future[None]:
        future = self._pool.submit(call, *args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Wait until every accepted message is answered; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        """Finish the answers under way and stop the workers."""
        self._pool.shutdown(wait=True)

    def _answer(self, job: _Job) -> None:
        from advisor.advisor import InputError
        from advisor.events import DoneEvent, ErrorEvent, SourcesEvent, StatusEvent, TextEvent, VerdictEvent

        client = self.app.client
        status = ThreadStatus(client, job.channel, job.thread_ts)
        status.set("Reading your situation…")
        writer = AnswerWriter(client, channel=job.channel, thread_ts=job.thread_ts, team=job.team, user=job.user,
                              interval_s=self.update_interval_s)
        sources: list[dict[str, Any]] = []
        try:
            try:
                stream = self.advisor.events(job.text, conversation_key=job.key)
            except InputError as exc:
                self._post(job.channel, job.thread_ts, str(exc))
                return
            for event in stream:
                if isinstance(event, StatusEvent):
                    status.set(_status_text(event))
                elif isinstance(event, VerdictEvent):
                    verdict = event.as_dict()
                    blocks = verdict_blocks(verdict, channel=job.channel, thread_ts=job.thread_ts)
                    self._post(job.channel, job.thread_ts, f"Recommendation: {event.label}", blocks=blocks)
                elif isinstance(event, SourcesEvent):
                    sources = event.sources
                elif isinstance(event, TextEvent):
                    status.set("Writing…")
                    writer.append(event.delta)
                elif isinstance(event, DoneEvent):
                    result = event.result
                    cited = [s for s in result.get("sources") or [] if s.get("cited", True)] or sources
                    writer.finish(str(result.get("answer") or ""),
                                  footer_blocks(cited, turn_id=str(result.get("turn_id") or "")))
                elif isinstance(event, ErrorEvent):
                    log.warning("turn %s failed (%s): %s", event.turn_id, event.kind, event.message)
                    writer.abandon()
                    self._post(job.channel, job.thread_ts, _error_text(event.kind))
        except Exception:
            log.exception("answering in %s failed", job.key)
            writer.abandon()
            self._post(job.channel, job.thread_ts, _error_text("internal"))
        finally:
            status.clear()

    # -- interactivity ----------------------------------------------------------------------------------------
    def _on_feedback(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        from advisor.advisor import InputError

        kind, _, turn_id = str(action.get("value") or "").partition(":")
        if kind not in ("up", "down") or not turn_id:
            return
        try:
            feedback_id = self.advisor.feedback(turn_id, 1 if kind == "up" else -1, source="slack")
        except InputError as exc:
            log.warning("feedback not recorded: %s", exc)
            return
        trigger = body.get("trigger_id")
        if trigger:
            _quietly(client.views_open, trigger_id=trigger, view=comment_modal(feedback_id, helpful=kind == "up"))

    def _on_comment(self, ack: Any, view: dict[str, Any]) -> None:
        ack()
        from advisor.advisor import InputError

        comment = _input(view, "comment")
        if not comment:
            return
        try:
            self.advisor.update_feedback(int(view.get("private_metadata") or 0), comment=comment)
        except (InputError, ValueError) as exc:
            log.warning("feedback comment not recorded: %s", exc)

    def _on_question(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        data = _metadata(action.get("value"))
        trigger = body.get("trigger_id")
        if trigger and data.get("q") and data.get("c") and data.get("t"):
            _quietly(client.views_open, trigger_id=trigger,
                     view=answer_modal(str(data["q"]), channel=str(data["c"]), thread_ts=str(data["t"])))

    def _on_answer(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = _metadata(view.get("private_metadata"))
        # The user's words only: the chosen reply (a sentence the reader reads back exactly) and what they typed.
        # The question stays out of the message, or its words ("regulated data", "your own infrastructure")
        # would be read, and checked, as facts the user stated.
        answer = " ".join(part for part in (_choice(view), _input(view, "answer")) if part)
        if not answer:
            ack(response_action="errors", errors={"answer": "Pick a reply or write an answer."})
            return
        ack()
        user = str((body.get("user") or {}).get("id") or "")
        channel, thread_ts = str(meta.get("c") or ""), str(meta.get("t") or "")
        if not user or not channel or not thread_ts:
            return
        wait = self._limiter.allow(user)
        if wait:
            self._ephemeral(channel, user, thread_ts, f"Please wait about {wait:.0f} seconds and answer again.")
            return
        question = " ".join(str(meta.get("q") or "").split())
        self._post(channel, thread_ts, f"<@{user}> answered “{question}”: {answer}" if question
                   else f"<@{user}> answered: {answer}")
        self.submit(_Job(channel, thread_ts, user, (body.get("team") or {}).get("id"), answer))

    # -- the slash command, the messages tab --------------------------------------------------------------------
    def _on_command(self, ack: Any, command: dict[str, Any]) -> None:
        from advisor.slack_commands import run_command

        ack(text=run_command(str(command.get("text") or ""), self.settings), response_type="ephemeral")

    def _on_home(self, ack: Any, event: dict[str, Any], client: WebClient) -> None:
        ack()
        if event.get("tab") == "messages" and event.get("channel"):
            _quietly(client.assistant_threads_setSuggestedPrompts, channel_id=event["channel"],
                     title="Ask how to get an LLM for your team", prompts=SUGGESTED_PROMPTS)

    def _on_thread_started(self, ack: Any, event: dict[str, Any], client: WebClient) -> None:
        ack()
        thread = event.get("assistant_thread") or {}
        if thread.get("channel_id") and thread.get("thread_ts"):
            _quietly(client.assistant_threads_setSuggestedPrompts, channel_id=thread["channel_id"],
                     thread_ts=thread["thread_ts"], title="Ask how to get an LLM for your team",
                     prompts=SUGGESTED_PROMPTS)

    # -- posting ------------------------------------------------------------------------------------------------
    def _post(self, channel: str, thread_ts: str, text: str, *, blocks: list[dict[str, Any]] | None = None) -> None:
        _quietly(self.app.client.chat_postMessage, channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)

    def _ephemeral(self, channel: str, user: str, thread_ts: str, text: str) -> None:
        _quietly(self.app.client.chat_postEphemeral, channel=channel, user=user, thread_ts=thread_ts, text=text)

    # -- serving ------------------------------------------------------------------------------------------------
    def http_server(self, host: str | None = None, port: int | None = None) -> Any:
        """A WSGI server for HTTP mode (Events API, interactivity and the slash command on /slack/events)."""
        from socketserver import ThreadingMixIn
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        from slack_bolt.adapter.wsgi import SlackRequestHandler

        if not self.settings.slack_signing_secret:
            raise ValueError("HTTP mode needs a signing secret: set SLACK_SIGNING_SECRET")

        class Server(ThreadingMixIn, WSGIServer):
            daemon_threads = True

        class Quiet(WSGIRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.address_string(), format % args)

        return make_server(host or self.settings.slack_host, self.settings.slack_port if port is None else port,
                           SlackRequestHandler(self.app), server_class=Server, handler_class=Quiet)

    def serve_http(self, host: str | None = None, port: int | None = None) -> None:
        """Serve HTTP mode until interrupted."""
        server = self.http_server(host, port)
        address, bound = server.server_address[:2]
        log.warning("Slack bot (HTTP mode) on http://%s:%s/slack/events", address, bound)
        try:
            server.serve_forever()
        finally:
            server.server_close()
            self.close()

    def socket_handler(self) -> Any:
        """A Socket Mode handler (call `.start()` or `.connect()`); needs the app-level token."""
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        if not self.settings.slack_app_token:
            raise ValueError("Socket Mode needs an app-level token: set SLACK_APP_TOKEN")
        return SocketModeHandler(self.app, self.settings.slack_app_token.get_secret_value())


def _status_text(event: Any) -> str:
    if event.step == "waiting" and event.position:
        return f"Waiting for the model (number {event.position} in the queue)…"
    if event.step == "writing":
        return "Writing…"
    return f"{event.message}…"


def _error_text(kind: str) -> str:
    reason = _ERRORS.get(kind, "something went wrong on my side")
    return f":warning: Sorry, I could not answer that: {reason}. Please try again in a minute."


def _metadata(raw: Any) -> dict[str, Any]:
    """The JSON object a button's value or a modal's private_metadata carries; {} for anything else."""
    import json

    try:
        data = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _choice(view: dict[str, Any]) -> str:
    values = ((view.get("state") or {}).get("values") or {}).get(ANSWER_CHOICE) or {}
    return str(((values.get(ANSWER_CHOICE) or {}).get("selected_option") or {}).get("value") or "").strip()


def _input(view: dict[str, Any], block: str) -> str:
    value = ((view.get("state") or {}).get("values") or {}).get(block, {}).get("text", {}).get("value")
    return str(value or "").strip()


def _quietly(call: Any, **kwargs: Any) -> Any:
    """A Web API call whose failure is logged (without the token) instead of ending the handler."""
    from slack_sdk.errors import SlackApiError

    try:
        return call(**{k: v for k, v in kwargs.items() if v is not None})
    except SlackApiError as exc:
        log.warning("Slack %s failed: %s", getattr(call, "__name__", "call"), exc.response.get("error"))
    except OSError as exc:
        log.warning("Slack %s failed: %s", getattr(call, "__name__", "call"), type(exc).__name__)
    return None
