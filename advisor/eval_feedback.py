"""The feedback loop: thumbs-down turns from the store (web page, Slack, CLI) as draft eval cases, in the dataset
schema, with the question, the answer given and the user's comment beside each as YAML comments."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, get_args

import yaml

from advisor.scoring import OptionId

if TYPE_CHECKING:
    from advisor.store import Store, Turn

__all__ = ["draft_cases", "drafts_yaml", "parse_since"]

OPTION_IDS: tuple[str, ...] = get_args(OptionId)


def parse_since(text: str) -> dt.datetime:
    """A date or date-time (ISO 8601, UTC unless it says otherwise); ValueError with one line."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since: not a date: {text!r} (e.g. 2026-11-01 or 2026-11-01T09:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _kind(turn: Turn, earlier: list[Turn]) -> str:
    if earlier:
        return "conversation"
    if turn.recommendation:
        return "situation"
    return "offtopic" if turn.kind == "offtopic" else "fact"


def _case(feedback_id: int, turn: Turn, earlier: list[Turn]) -> dict[str, Any]:
    kind = _kind(turn, earlier)
    case: dict[str, Any] = {"id": f"feedback-{feedback_id}", "kind": kind}
    if earlier:
        case["turns"] = [t.user for t in earlier] + [turn.user]
    else:
        case["question"] = turn.user
    if turn.recommendation:
        # A thumbs-down on a verdict: the draft expects any other option until someone keeps the right one(s).
        case["expect_recommendation"] = [o for o in OPTION_IDS if o != turn.recommendation]
    if kind == "fact":
        cited = [s for s in turn.sources if s.get("cited")] or turn.sources[:1]
        case["expect_sources"] = [f"{s['path']}#{s['section']}" for s in cited if s.get("section")]
        if not case["expect_sources"]:
            case["must_mention"] = [w for w in re.findall(r"[a-z][a-z-]{4,}", turn.user.lower())][:2] or ["todo"]
            del case["expect_sources"]
    if kind == "conversation" and "expect_recommendation" not in case:
        case["must_mention"] = ["todo"]
    return case


def draft_cases(store: Store, *, since: dt.datetime | None = None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(draft case, what it came from) for each thumbs-down since a date, oldest first."""
    drafts = []
    for fb in store.feedback(rating=-1):
        if since is not None and dt.datetime.fromisoformat(fb.created_at) < since:
            continue
        turn = store.get_turn(fb.turn_id)
        if turn is None:
            continue
        earlier = [t for t in store.turns(turn.conversation_id) if t.index < turn.index and not t.error]
        origin = {"feedback": fb.id, "source": fb.source, "at": fb.created_at, "comment": fb.comment,
                  "answer": turn.answer, "recommendation": turn.recommendation, "turn": turn.id}
        drafts.append((_case(fb.id, turn, earlier), origin))
    return drafts


def _comment(label: str, text: str | None, width: int = 110) -> list[str]:
    lines = [f"# {label}:"]
    for paragraph in (text or "(none)").splitlines() or [""]:
        words, line = paragraph.split(), ""
        for word in words:
            if len(line) + len(word) + 1 > width:
                lines.append(f"#   {line}")
                line = ""
            line = f"{line} {word}".strip()
        lines.append(f"#   {line}")
    return lines


def drafts_yaml(drafts: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    """The drafts as one dataset file: each case under comments giving the answer, the verdict and the comment,
    so that a reviewer can correct the expectations before adding the case to a dataset."""
    out = ["# Draft eval cases from thumbs-down feedback (advisor eval export-feedback).",
           "# Review each: keep the right recommendation(s), replace `todo` points, then move it into a dataset.", ""]
    if not drafts:
        return "\n".join([*out, "[]"]) + "\n"
    for case, origin in drafts:
        out += [f"# feedback {origin['feedback']} from {origin['source']} at {origin['at']} on turn {origin['turn']}"]
        if origin["recommendation"]:
            out += [f"# the advisor recommended: {origin['recommendation']}"]
        out += _comment("comment", origin["comment"]) + _comment("answer given", origin["answer"])
        text = yaml.safe_dump([case], sort_keys=False, allow_unicode=True, width=110)
        out += [text.rstrip("\n"), ""]
    return "\n".join(out)
