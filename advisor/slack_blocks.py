"""Block Kit for the Slack bot: the verdict card, the answer split within Slack's limits, sources, feedback and
the comment and answer modals. Pure functions of the turn events' data; nothing here calls Slack."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ANSWER_CHOICE",
    "ANSWER_VIEW",
    "COMMENT_VIEW",
    "FEEDBACK_ACTION",
    "MAX_BLOCKS",
    "MAX_SECTION_CHARS",
    "QUESTION_ACTION",
    "answer_blocks",
    "answer_modal",
    "chunk_blocks",
    "comment_modal",
    "footer_blocks",
    "mrkdwn",
    "split_text",
    "verdict_blocks",
]

MAX_SECTION_CHARS = 3000  # Slack's limit on a section block's text
MAX_BLOCKS = 50  # Slack's limit on blocks in one message
FEEDBACK_ACTION = "advisor_feedback"
QUESTION_ACTION = "advisor_question"
COMMENT_VIEW = "advisor_comment"
ANSWER_VIEW = "advisor_answer"
ANSWER_CHOICE = "choice"  # the block and action id of the offered replies in the answer modal

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.M)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")


def mrkdwn(markdown: str) -> str:
    """Markdown as Slack's mrkdwn: bold, headings and links (citations like [1] stay as they are)."""
    text = _HEADING.sub(lambda m: f"*{m.group(1)}*", markdown)
    text = _BOLD.sub(lambda m: f"*{m.group(1)}*", text)
    return _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", text)


def split_text(text: str, limit: int = MAX_SECTION_CHARS) -> list[str]:
    """Text in pieces of at most `limit` characters, cut at paragraph, line or word boundaries when possible."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION_CHARS]}]}


def answer_blocks(markdown: str) -> list[dict[str, Any]]:
    """The answer's prose as section blocks of at most 3,000 characters each."""
    return [_section(piece) for piece in split_text(mrkdwn(markdown))] or [_section("_(no answer)_")]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value >= 1e5:
        for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
            if value >= size:
                return f"{value / size:.3g}{suffix}"
    return str(value)


def verdict_blocks(verdict: Mapping[str, Any], *, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    """The verdict card: the recommendation with its provisional flag, the stated facts in the user's words, the
    scores as a compact list and the clarifying questions as buttons that answer in the thread."""
    recommendation = verdict.get("recommendation")
    if recommendation is None:
        title = "*Recommendation: none of the four options fits every stated constraint.*"
    else:
        title = f"*Recommendation: {verdict.get('label')}* (`{recommendation}`)"
        if verdict.get("provisional"):
            title += "\n:warning: _Provisional: some key facts are assumed._"
    blocks: list[dict[str, Any]] = [_section(title)]
    quotes: Mapping[str, str] = verdict.get("quotes") or {}
    facts = [f"• {name.replace('_', ' ')}: *{_value(value)}*" + (f" — “{quotes[name]}”" if quotes.get(name) else "")
             for name, value in (verdict.get("profile") or {}).items()]
    if facts:
        blocks.extend(_section(piece) for piece in split_text("*What you told me*\n" + "\n".join(facts)))
    ranking = (verdict.get("scores") or {}).get("ranking") or []
    if ranking:
        scores = "  ·  ".join(f"`{r['option']}` {r['score']:.0f}" + ("" if r.get("eligible", True) else " (ruled out)")
                              for r in ranking)
        blocks.append(_context(f"Scores: {scores}"))
    questions: Sequence[str] = verdict.get("questions") or []
    if questions:
        blocks.append(_section("*To firm this up* — answer in this thread, or press a question:"))
        blocks.append({"type": "actions", "block_id": "advisor_questions", "elements": [
            {"type": "button", "action_id": f"{QUESTION_ACTION}_{i}",
             "text": {"type": "plain_text", "text": _short(q, 75)},
             "value": json.dumps({"c": channel, "t": thread_ts, "q": q[:1500]})}
            for i, q in enumerate(questions[:5])]})
    return blocks


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def footer_blocks(sources: Sequence[Mapping[str, Any]], *, turn_id: str) -> list[dict[str, Any]]:
    """The cited sources as a context block and the helpful / not helpful buttons for the turn."""
    blocks: list[dict[str, Any]] = []
    if sources:
        cited = "\n".join(f"[{s.get('n', i + 1)}] {s.get('title') or s.get('id')}"
                          + (f" — {s['section']}" if s.get("section") else "")
                          for i, s in enumerate(sources[:10]))
        blocks.append(_context(f"*Sources*\n{cited}"))
    if turn_id:
        blocks.append({"type": "context_actions", "block_id": "advisor_feedback", "elements": [{
            "type": "feedback_buttons", "action_id": FEEDBACK_ACTION,
            "positive_button": {"text": {"type": "plain_text", "text": "Helpful"}, "value": f"up:{turn_id}",
                                "accessibility_label": "This answer was helpful"},
            "negative_button": {"text": {"type": "plain_text", "text": "Not helpful"}, "value": f"down:{turn_id}",
                                "accessibility_label": "This answer was not helpful"},
        }]})
    return blocks


def chunk_blocks(blocks: Sequence[dict[str, Any]], size: int = MAX_BLOCKS) -> list[list[dict[str, Any]]]:
    """Blocks in groups that each fit one message."""
    return [list(blocks[i:i + size]) for i in range(0, len(blocks), size)] or [[]]


def comment_modal(feedback_id: int, *, helpful: bool) -> dict[str, Any]:
    """The optional comment after a feedback click; private_metadata carries the feedback id."""
    thanks = "Thanks! What was good about it?" if helpful else "Thanks. What was wrong or missing?"
    return {"type": "modal", "callback_id": COMMENT_VIEW, "private_metadata": str(feedback_id),
            "title": {"type": "plain_text", "text": "Feedback"},
            "submit": {"type": "plain_text", "text": "Send"}, "close": {"type": "plain_text", "text": "Skip"},
            "blocks": [{"type": "input", "block_id": "comment", "optional": True,
                        "label": {"type": "plain_text", "text": thanks},
                        "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                                    "max_length": 3000}}]}


def answer_modal(question: str, *, channel: str, thread_ts: str) -> dict[str, Any]:
    """A clarifying question to answer: the replies a front end offers for it (when it has them) and a free answer.
    The answer goes to the thread as the user's next message; the question's own words do not, so nothing in them
    can be read as a fact the user stated."""
    from advisor.statements import reply_options

    blocks: list[dict[str, Any]] = [_section(question[:MAX_SECTION_CHARS])]
    options = [{"text": {"type": "plain_text", "text": _short(o["label"], 75)}, "value": o["value"]}
               for o in reply_options(question) if len(o["value"]) <= 150][:10]
    if options:
        blocks.append({"type": "input", "block_id": ANSWER_CHOICE, "optional": True,
                       "label": {"type": "plain_text", "text": "Pick one"},
                       "element": {"type": "radio_buttons", "action_id": ANSWER_CHOICE, "options": options}})
    blocks.append({"type": "input", "block_id": "answer", "optional": bool(options),
                   "label": {"type": "plain_text", "text": "Or say it in your words" if options else "Your answer"},
                   "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                               "max_length": 2000}})
    return {"type": "modal", "callback_id": ANSWER_VIEW,
            "private_metadata": json.dumps({"c": channel, "t": thread_ts, "q": question[:1500]}),
            "title": {"type": "plain_text", "text": "Answer"},
            "submit": {"type": "plain_text", "text": "Send"},
            "blocks": blocks}
