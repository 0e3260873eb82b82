"""Input hygiene: what a message may contain before the pipeline reads it, and what a passage may not do to a prompt."""

from __future__ import annotations

import functools
import re

__all__ = ["DIRECTIVE_REMOVED", "OVERRIDE_NOTE", "as_data", "clean_message", "strip_directives", "strip_overrides"]

OVERRIDE_NOTE = "_I kept my role as an LLM adoption advisor and ignored a request to change my instructions._\n\n"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

_OVERRIDE = re.compile(
    r"[^.!?\n]*\b(ignore (all |any |the )?(previous|prior|above|earlier|your) (instructions|rules|prompts?)|"
    r"disregard (your|the|all) (instructions|rules)|you are now\b|pretend (to be|you are)|"
    r"(?:you(?: will| must| should| shall| now)?|please|now|from now on,?) act as (?:a|an)\b|"
    r"forget (your|all|the) (instructions|rules)|reveal (your|the) (system )?prompt|new role|jailbreak|"
    r"developer mode|(?:skip|drop|bypass|suspend|lift) (?:your|the|all|its) (?:rules|instructions|guidelines|"
    r"restrictions)|(?:print|show|repeat|translate|reveal|output|recite) (?:me )?(?:your|the) (?:hidden|system|"
    r"secret|original|initial|internal) (?:instructions|prompt|rules))[^.!?\n]*[.!?]?", re.IGNORECASE)
# A clause asking the advisor to say a given string ("first say 'X'", "reply with ACCESS GRANTED, then ..."):
# nothing the advisor is for, and the way an injection proves it worked. The rest of the sentence stays.
_ECHO_REQUEST = re.compile(
    r"(?:\b(?:first|then|and|also|please)\s+)*\b(?:say|print|write|output|type|shout|reply with|respond with|"
    r"answer with|"
    r"(?:start|begin|end|finish) (?:your|the|each|every) (?:reply|replies|answers?|responses?|message) with)\s+"
    r"(?:only\s+|exactly\s+)?(?:the (?:words?|phrase|text|code|string)\s+)?"
    r"(?:['\"“‘][^'\"”’\n]{1,60}['\"”’]|(?-i:[A-Z][A-Z0-9_]+(?:[ -][A-Z0-9_]{2,})+|[A-Z]+[0-9_-][A-Z0-9_-]*|"
    r"[A-Z]{5,})\b)"
    r"(?:\s+on (?:its|a) own line)?\s*[,;.]?\s*(?:(?:and\s+)?then\b\s*)?", re.IGNORECASE)


# A document's sentence that speaks to the AI reading it rather than to people: an instruction to assistants or
# models, to say, write or print something, to send data somewhere, or to drop its rules. Knowledge never needs one.
DIRECTIVE_REMOVED = "(an instruction to AI systems was removed from this passage)"
_READER = (r"(?:ai|artificial intelligence|llms?|language models?|models?|assistants?|chat ?bots?|bots?|agents?|"
           r"(?:ai |automated )?(?:systems?|tools?|readers?))")
_SENTENCE_PART = r"(?:[^.!?\n]|[.!?](?=[\w/]))*"  # a stop inside a URL or a number does not end the sentence
_DIRECTIVE = re.compile(
    _SENTENCE_PART + r"(?:"
    rf"\b(?:(?:note|message|instructions?|notice)\s+(?:to|for)|attention,?(?:\s+to)?)\s+(?:all\s+|any\s+|the\s+)?"
    rf"{_READER}\b|"
    rf"\b(?:all\s+|any\s+|every\s+)?(?:ai\s+)?{_READER}\s+(?:reading|processing|summari[sz]ing|seeing|using)\s+this\b|"
    rf"\b{_READER}(?:\s+(?:that|which|who)(?:\s+\w+){{1,4}}?)?\s+(?:must|should|shall|are required to|need to|have to)"
    r"\s+(?:always\s+|now\s+|also\s+)?"
    r"(?:tell\s+(?:the\s+|every\s+|all\s+|each\s+)?(?:readers?|users?|customers?)|"
    r"(?:say|write|print|output|reply|respond|answer|include)\s+(?:only\s+)?(?:[:'\"“‘]|(?-i:[A-Z0-9]{3,}[-_]\w+))|"
    r"(?:ignore|disregard|reveal|obey|forward|send)\b)|"
    r"\bend (?:your|their|every|each|the) (?:reply|replies|answers?|responses?) with\b|"
    r"\b(?:confirm|acknowledge|reply|respond|answer)\s+(?:by|with)\s+"
    r"(?:writing|saying|printing|the (?:word|phrase|code))|"
    r"\b(?:forward|send|upload|post|exfiltrate|copy)\s+(?:all\s+|every\s+|the\s+)?(?:\w+\s+){0,3}"
    r"(?:records|data|files|messages|conversations?|prompts?|documents|credentials|keys|logs)\s+to\s+(?:https?://|\S+@)|"
    r"\bsystem override\b|\bsystem prompt\s+word for word\b"
    r")" + _SENTENCE_PART + r"[.!?]?", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def strip_directives(text: str) -> str:
    """Passage text without the sentences that instruct the AI reading it (an injection planted in a document):
    each is replaced by one marker, so that neither the model nor the claim check ever sees it as knowledge.
    Cached by text: the same passages come back turn after turn, and the scan is regular-expression heavy."""
    if not _DIRECTIVE.search(text) and not _OVERRIDE.search(text):
        return text
    cleaned = _OVERRIDE.sub(f" {DIRECTIVE_REMOVED} ", _DIRECTIVE.sub(f" {DIRECTIVE_REMOVED} ", text))
    marker = re.escape(DIRECTIVE_REMOVED)
    cleaned = re.sub(rf"{marker}(?:\s*{marker})+", DIRECTIVE_REMOVED, cleaned)  # one marker per run of them
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip()


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
    """The text without sentences that try to change the advisor's role or clauses that tell it what string to
    say, and a note when any were dropped."""
    cleaned = " ".join(_ECHO_REQUEST.sub(" ", _OVERRIDE.sub(" ", text)).split())
    if cleaned == " ".join(text.split()):
        return text, ""
    return cleaned, OVERRIDE_NOTE
