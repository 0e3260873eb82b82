"""One chat turn as the web page draws it: the Advisor's events turned into Gradio chat messages.

A turn is the user's message; one collapsible status message whose title is the step now running (a spinner
while it runs) with one nested message per step and its duration; then the answer as it streams (the sources in a
collapsible message below it), replaced at the end by the final text with the sources folded into it as one
collapsible list and the clarifying replies as clickable options. Messages are plain dicts in Gradio's format, so
this module needs no Gradio.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from advisor.events import DoneEvent, ErrorEvent, Event, SourcesEvent, StatusEvent, TextEvent, VerdictEvent
from advisor.statements import reply_options
from advisor.web_render import error_notice, sources_markdown, status_title

__all__ = ["ChatTurn", "Message", "history_messages"]

Message = dict[str, Any]
_STEP_DETAIL = {
    "understanding": "Reading the situation from your words (and the conversation so far).",
    "scoring": "Scoring the four options with the decision policy.",
    "retrieving": "Finding the guide passages behind the verdict and your question.",
    "waiting": "The local model serves a few requests at once; turns wait their turn, first come, first served.",
    "writing": "The model writes the explanation around the scorer's verdict.",
}


def _options(questions: list[str]) -> list[dict[str, str]]:
    return [option for question in questions for option in reply_options(question)]


def _with_sources(text: str, sources: list[dict[str, Any]], cited: set[int] | None) -> str:
    """The answer with its sources below it as one collapsible list (one bubble, one pair of thumbs)."""
    if not sources:
        return text
    count = f"{len(cited)} cited of {len(sources)}" if cited is not None else f"{len(sources)} passages"
    return (f"{text}\n\n<details class=\"sources\"><summary>Sources ({count})</summary>\n"
            f"{sources_markdown(sources, cited)}\n</details>")


class ChatTurn:
    """The messages of one turn, updated event by event; `verdict` is set once the scorer has spoken."""

    def __init__(self, user_text: str, *, turn_id: str) -> None:
        self.turn_id = turn_id
        self.messages: list[Message] = [{"role": "user", "content": user_text}]
        self.verdict: dict[str, Any] | None = None
        self.sources: list[dict[str, Any]] = []
        self.result: dict[str, Any] | None = None
        self.error: ErrorEvent | None = None
        self.text = ""
        self._steps: int | None = None  # index of the parent status message
        self._step: tuple[int, str, float] | None = None  # the running step: message index, step, started
        self._names: list[str] = []
        self._started = time.perf_counter()
        self._answer: int | None = None
        self._sources: int | None = None

    @property
    def finished(self) -> bool:
        """Whether the turn ended (done or error)."""
        return self.result is not None or self.error is not None

    def apply(self, event: Event) -> bool:
        """Take one event; True when the verdict changed (the card and chart need redrawing)."""
        if isinstance(event, StatusEvent):
            self._status(event)
        elif isinstance(event, VerdictEvent):
            self.verdict = {k: v for k, v in event.as_dict().items() if k not in ("type", "t")}
            return True
        elif isinstance(event, SourcesEvent):
            self.sources = list(event.sources)
        elif isinstance(event, TextEvent):
            self._close_steps()
            self.text += event.delta
            # The prose only grows at its end while it streams, so each update sends just the new words.
            self._answer_message()["content"] = self.text
        elif isinstance(event, DoneEvent):
            self._close_steps()
            self._done(event.result)
        elif isinstance(event, ErrorEvent):
            self._close_steps()
            self.error = event
            message = self._answer_message()
            text = (self.text + "\n\n" if self.text else "") + error_notice(event.message, event.hint)
            message["content"] = _with_sources(text, self.sources, None) if self.text else text
            self._drop_sources_message()
        return False

    def _status(self, event: StatusEvent) -> None:
        title = status_title(event.step, event.message, event.position)
        if self._steps is None:
            self.messages.append({"role": "assistant", "content": "",
                                  "metadata": {"title": title, "id": f"steps-{self.turn_id}", "status": "pending"}})
            self._steps = len(self.messages) - 1
        self.messages[self._steps]["metadata"]["title"] = title
        if self._step is not None and self._step[1] == event.step:  # a new place in the queue: same step
            self.messages[self._step[0]]["metadata"]["title"] = title
            return
        self._close_step()
        self._names.append(event.step)
        self.messages.append({"role": "assistant", "content": _STEP_DETAIL.get(event.step, ""),
                              "metadata": {"title": title, "parent_id": f"steps-{self.turn_id}",
                                           "status": "pending"}})
        self._step = (len(self.messages) - 1, event.step, time.perf_counter())

    def _close_step(self) -> None:
        if self._step is not None:
            index, _, started = self._step
            self.messages[index]["metadata"].update(status="done", duration=round(time.perf_counter() - started, 2))
            self._step = None

    def _close_steps(self) -> None:
        self._close_step()
        if self._steps is not None and self.messages[self._steps]["metadata"]["status"] == "pending":
            self.messages[self._steps]["metadata"].update(
                title="How the advisor worked: " + " → ".join(dict.fromkeys(self._names)), status="done",
                duration=round(time.perf_counter() - self._started, 2))

    def _answer_message(self) -> Message:
        if self._answer is None:
            self.messages.append({"role": "assistant", "content": ""})
            self._answer = len(self.messages) - 1
            if self.sources:  # below the answer while it is written; folded into it at the end
                self.messages.append({"role": "assistant", "content": sources_markdown(self.sources, None),
                                      "metadata": {"title": f"Sources ({len(self.sources)} passages)",
                                                   "status": "done"}})
                self._sources = len(self.messages) - 1
        return self.messages[self._answer]

    def _drop_sources_message(self) -> None:
        if self._sources is not None:
            del self.messages[self._sources]
            self._sources = None

    def _done(self, result: Mapping[str, Any]) -> None:
        self.result = dict(result)
        message = self._answer_message()
        answer = str(result.get("answer") or self.text) + ("\n\n_(stopped)_" if result.get("stopped") else "")
        options = _options(list(result.get("questions") or []))
        if options and not result.get("stopped"):
            message["options"] = options
        given = {int(s["n"]): s for s in self.sources}
        # The final list says which passages were cited; the passage text comes from the sources event.
        final = [{**given.get(int(s["n"]), {}), **s} for s in result.get("sources") or []] or self.sources
        message["content"] = _with_sources(answer, final, {int(s["n"]) for s in final if s.get("cited")})
        self._drop_sources_message()


def history_messages(turns: Sequence[Mapping[str, Any]]) -> tuple[list[Message], dict[int, str], dict[str, Any] | None]:
    """A stored conversation redrawn: its messages, which turn each assistant message belongs to (by index), and
    the latest verdict (for the card)."""
    messages: list[Message] = []
    owners: dict[int, str] = {}
    verdict = None
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": turn["user"]})
        if turn.get("error"):
            answer = error_notice(str(turn["error"]), "Ask again when it is fixed.")
        else:
            answer = str(turn["answer"]) + ("\n\n_(stopped)_" if turn.get("stopped") else "")
        sources = list(turn.get("sources") or [])
        message: Message = {"role": "assistant", "content": _with_sources(
            answer, sources, {int(s["n"]) for s in sources if s.get("cited")})}
        if turn.get("verdict"):
            verdict = turn["verdict"]
            if i == len(turns) - 1 and not turn.get("stopped"):
                options = _options(list(verdict.get("questions") or []))
                if options:
                    message["options"] = options
        messages.append(message)
        owners[len(messages) - 1] = turn["turn_id"]
    return messages, owners, verdict
