"""Input hygiene: what a message may contain before the pipeline reads it, and what a passage may not do to a prompt."""

from __future__ import annotations

import re

__all__ = ["OVERRIDE_NOTE", "as_data", "clean_message", "strip_overrides"]

OVERRIDE_NOTE = "_I kept my role as an LLM adoption advisor and ignored a request to change my instructions._\n\n"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

_OVERRIDE = re.compile(
    r"[^.!?\n]*\b(ignore (all |any |the )?(previous|prior|above|earlier|your) (instructions|rules|prompts?)|"
    r"disregard (your|the|all) (instructions|rules)|you are now\b|pretend (to be|you are)|act as (a|an)\b|"
    r"forget (your|all|the) (instructions|rules)|reveal (your|the) (system )?prompt|new role|jailbreak|"
    r"developer mode)[^.!?\n]*[.!?]?", re.IGNORECASE)


def as_data(text: str) -> str:
    """Passage text that cannot close or open the prompt's data blocks, whatever a document contains."""
    return re.sub(r"<(/?)\s*(passage|tool_result|user_text)", r"‹\1\2", text, flags=re.IGNORECASE)


def clean_message(message: str, *, max_chars: int, error: type[Exception]) -> str:
    """The message without control characters; `error` when it is empty or longer than max_chars."""
    text = _CONTROL.sub(" ", message.replace("\r\n", "\n")).strip()
    text = re.sub(r"[ \t]+", " ", text)
    if not text:
        raise error("the message is empty")
    if len(text) > max_chars:
        raise error(f"the message is too long ({len(text)} characters; the limit is {max_chars})")
    return text


def strip_overrides(text: str) -> tuple[str, str]:
    """The text without sentences that try to change the advisor's role, and a note when any were dropped."""
    cleaned = " ".join(_OVERRIDE.sub(" ", text).split())
    if cleaned == " ".join(text.split()):
        return text, ""
    return cleaned, OVERRIDE_NOTE
