"""Writing one answer into a Slack thread: the thread's status line and the streamed answer message.

The answer streams with chat.startStream / appendStream / stopStream; where those methods are unavailable (an
older workspace or proxy) it is posted once and updated at most every `interval_s`. Either way the message ends
as the checked answer (which may differ from what was streamed) followed by the sources and feedback buttons.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from advisor.slack_blocks import answer_blocks, chunk_blocks

if TYPE_CHECKING:
    from slack_sdk import WebClient

__all__ = ["MAX_STREAM_CHARS", "AnswerWriter", "ThreadStatus"]

log = logging.getLogger(__name__)
_FALLBACK_CHARS = 3000  # the notification / fallback text of a message
MAX_STREAM_CHARS = 12000  # Slack's limit on markdown_text in one chat.startStream / appendStream call


class ThreadStatus:
    """assistant.threads.setStatus for one thread, sent only when it changes; failures are logged and ignored."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str) -> None:
        self.client, self.channel, self.thread_ts = client, channel, thread_ts
        self.current = ""

    def set(self, status: str) -> None:
        """Show `status` under the thread ("" clears it)."""
        if status == self.current:
            return
        from slack_sdk.errors import SlackApiError

        self.current = status
        try:
            self.client.assistant_threads_setStatus(channel_id=self.channel, thread_ts=self.thread_ts, status=status)
        except (SlackApiError, OSError) as exc:
            log.debug("setStatus failed: %s", type(exc).__name__)

    def clear(self) -> None:
        """Remove the status line."""
        self.set("")


class AnswerWriter:
    """The answer message of one turn, streamed or posted then updated."""

    def __init__(self, client: WebClient, *, channel: str, thread_ts: str, team: str | None, user: str,
                 interval_s: float = 1.0) -> None:
        self.client, self.channel, self.thread_ts = client, channel, thread_ts
        self.team, self.user, self.interval_s = team, user, interval_s
        self.text = ""
        self.ts: str | None = None
        self.streaming: bool | None = None  # None until the first message is started
        self._sent = 0
        self._last = 0.0

    def append(self, delta: str) -> None:
        """Add prose; it reaches Slack now if the last write was `interval_s` ago, else with a later one."""
        self.text += delta
        if time.monotonic() - self._last >= self.interval_s:
            self._flush()

    def _flush(self) -> None:
        from slack_sdk.errors import SlackApiError

        pending = self.text[self._sent:]
        if not pending.strip() and self.ts is None:
            return
        self._last = time.monotonic()
        # Slack takes at most 12,000 characters of markdown a call: a fast model can write more than that between
        # two writes, and a turn that streamed nothing hands over its whole answer at the end.
        pieces = [pending[i:i + MAX_STREAM_CHARS] for i in range(0, len(pending), MAX_STREAM_CHARS)]
        if self.ts is None:
            try:
                resp = self.client.chat_startStream(
                    channel=self.channel, thread_ts=self.thread_ts, markdown_text=pieces[0],
                    recipient_team_id=self.team, recipient_user_id=self.user)
                self.ts, self.streaming = str(resp["ts"]), True
                pieces = pieces[1:]
            except SlackApiError as exc:
                log.info("streaming unavailable (%s); posting and updating instead", exc.response.get("error"))
                resp = self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts,
                                                    text=self.text[:_FALLBACK_CHARS],
                                                    blocks=answer_blocks(self.text)[:50])
                self.ts, self.streaming, pieces = str(resp["ts"]), False, []
        if pieces and self.streaming:
            for piece in pieces:
                self.client.chat_appendStream(channel=self.channel, ts=self.ts, markdown_text=piece)
        elif pieces:
            self.client.chat_update(channel=self.channel, ts=self.ts, text=self.text[:_FALLBACK_CHARS],
                                    blocks=answer_blocks(self.text)[:50])
        self._sent = len(self.text)

    def finish(self, answer: str, footer: list[dict[str, Any]]) -> None:
        """End the message as the checked `answer` with the footer (sources, feedback), split within limits."""
        if answer.strip() and not self.text.strip():
            self.text = answer  # nothing was streamed (a stopped or a very short turn)
        self._flush()
        if self.ts is not None and self.streaming:
            self.client.chat_stopStream(channel=self.channel, ts=self.ts, blocks=footer or None)
            if " ".join(answer.split()) == " ".join(self.text.split()):
                return
        groups = chunk_blocks(answer_blocks(answer or self.text) + footer)
        text = (answer or self.text)[:_FALLBACK_CHARS]
        if self.ts is None:
            self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text=text, blocks=groups[0])
        else:
            self.client.chat_update(channel=self.channel, ts=self.ts, text=text, blocks=groups[0])
        for group in groups[1:]:
            self.client.chat_postMessage(channel=self.channel, thread_ts=self.thread_ts, text="(continued)",
                                         blocks=group)

    def abandon(self) -> None:
        """End a started stream without a footer (the turn failed)."""
        if self.ts is not None and self.streaming:
            from slack_sdk.errors import SlackApiError

            try:
                self.client.chat_stopStream(channel=self.channel, ts=self.ts)
            except (SlackApiError, OSError) as exc:
                log.debug("stopStream failed: %s", type(exc).__name__)
