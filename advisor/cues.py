"""Deterministic cues: the Profile values a user's words state outright, each with the exact words that state it.

`detect_cues(text)` reads one text (pass only the user's words: an advisor's question names cues too) and returns
at most one Cue per Profile field. It is pure and deterministic; the same text always gives the same cues.

Negation is read in the clause before a cue (up to five words: "we do NOT need to change the tokenizer", "no
patient data") and in a few forms after it ("air-gapping is not required"). What a negated cue yields:
- yes/no fields (needs_custom_architecture, strategic_moat, needs_model_control): the opposite, False;
- quality_bar: a negated frontier cue ("doesn't need to be state-of-the-art") yields standard;
- team_ml_expertise: a negated ML-staff cue ("no data scientists", "no ML team") yields none;
- every other field: nothing (a negated "air-gapped" or "patient data" says what is not so, not what is).
Verbs that move data ("can't send patient records") do not negate the data, and "not just/only" is no negation.
Phrases whose polarity is part of the pattern ("avoid vendor lock-in", "can't leave our premises", "we don't care
about lock-in", "no ML experience") are not negated again.

When several cues fire for a field the most specific wins: regulated > internal > public; air-gapped > edge >
offline-without-a-device > on-prem > cloud; broad > narrow; research > experienced > basic > none; a positive
yes/no cue over a negated one; then the earliest in the text. "Offline", "no internet" or "no connectivity" in a
sentence about a device (app, phone, laptop, car, tablet...) is edge, never air-gapped. Quantities and their
conversions come from advisor.quantities (see its conventions).

Other context that makes words state nothing: a question ("would 5,000 examples be enough?"; a question still
tells the task), someone else's situation ("our competitors use chatbots"), a request to the advisor ("can you
summarise the options?"), hiring or past tense for team skills ("we'd hire ML engineers", "we used to have a data
science team"), a wish for frontier quality ("we'd prefer state-of-the-art"). Frontier and standard cues in one
text disagree, so quality_bar is then left to the reader. Context is read at most 300 characters around a cue, so
detection is linear in the text's length.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

from advisor.cue_patterns import RULES
from advisor.profile import FIELD_ORDER
from advisor.quantities import find_quantities, normalise

__all__ = ["Cue", "all_cues", "detect_cues"]


@dataclass(frozen=True)
class Cue:
    """One field's value as the text states it, the exact words of the text that state it, and the rule that fired."""

    field: str
    value: Any
    quote: str
    rule: str
    start: int  # where quote begins in the text: text[start:start + len(quote)] == quote


_REACH = 300  # characters of context read around a cue
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n")
_CLAUSE_BREAK = re.compile(r"[;:—–()]|\s-\s|\b(?:but|however|although|though|whereas|yet|because|since|so|while|"
                           r"except|unless|due\s+to|given|and\s+(?:we|it|our|they|the|i))\b", re.IGNORECASE)
_WORD = re.compile(r"[\w'-]+")
_NEGATOR = re.compile(r"(?:no|not|never|without|nor|neither|none|cannot|zero|\w+n't)", re.IGNORECASE)
_NOT_A_NEGATION_AFTER = re.compile(
    r"(?:send\w*|sent|shar\w*|upload\w*|leav\w*|left|expos\w*|mov\w*|transfer\w*|leak\w*|stor\w*|put|puts|giv\w*|"
    r"gave|hand|hands|handed|let|allow\w*|risk\w*|trust\w*|just|only|afford)", re.IGNORECASE)
_HYPOTHETICAL = re.compile(r"(?:hire|hiring|recruit\w*|looking|lack\w*|need|needs|would|want|wants|plan\w*|learn\w*|"
                           r"become|build\w*|grow\w*|used|formerly|once)", re.IGNORECASE)
_SOMEONE_ELSE = re.compile(r"\b(?:competitors?|rivals?|other\s+companies|others|everyone\s+else)\b[^.!?]*$",
                           re.IGNORECASE)  # "our competitors use chatbots" is not this team's situation
_ABSTAIN_ON_CONFLICT = {"quality_bar"}  # "prefer state-of-the-art, but good enough is fine": the words disagree
_SOFT = re.compile(r"\b(?:prefer\w*|ideally|ideal|nice|hope|hoping|dream)\b", re.IGNORECASE)
_ADDRESSED = re.compile(r"\b(?:(?:can|could|would|will)\s+you|please|help\s+me|i'd\s+like\s+you\s+to)\s+$",
                        re.IGNORECASE)  # "can you summarise the options?" asks the advisor, it states no task
_NEGATED_AFTER = re.compile(
    r"\W{0,3}(?:[\w'-]+\s+){0,3}?(?:is|are|was|were|will\s+be|would\s+be)(?:\s+not|n't)\s+(?:really\s+|strictly\s+|"
    r"actually\s+)?(?:needed|required|necessary|involved|relevant|important|in\s+scope|an?\s+(?:\w+\s+)?(?:concern|"
    r"issue|problem|requirement|priority|factor|worry|option|must|need))\b|"
    r"[\w\s'-]{0,40}?,?\s+not\s+(?:the\s+|our\s+)?(?:ai|llm|model|gen\s*ai|language\s+model)\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Sentences:
    text: str
    starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> _Sentences:
        return cls(text, (0, *(m.end() for m in _SENTENCE_END.finditer(text))))

    def around(self, start: int) -> tuple[int, int]:
        """The sentence holding start, cut to _REACH characters either side so no input makes this quadratic."""
        i = bisect.bisect_right(self.starts, start) - 1
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
        return max(self.starts[i], start - _REACH), min(end, start + _REACH)


def _clause_before(text: str, sentence_start: int, start: int) -> str:
    before = text[sentence_start:start]
    cut = 0
    for match in _CLAUSE_BREAK.finditer(before):
        cut = match.end()
    return before[cut:]


def _negated(text: str, start: int, end: int, sentence: tuple[int, int]) -> bool:
    words = _WORD.findall(_clause_before(text, sentence[0], start))[-5:]
    for i in range(len(words) - 1, -1, -1):
        if _NEGATOR.fullmatch(words[i]):
            after = words[i + 1:]
            return not any(_NOT_A_NEGATION_AFTER.fullmatch(w) for w in after)
    clause_end = _CLAUSE_BREAK.search(text, end, sentence[1])
    return bool(_NEGATED_AFTER.match(text, end, clause_end.start() if clause_end else sentence[1]))


def _hypothetical(text: str, start: int, sentence: tuple[int, int]) -> bool:
    words = _WORD.findall(_clause_before(text, sentence[0], start))[-5:]
    return any(_HYPOTHETICAL.fullmatch(w) for w in words)


def _states_nothing(field: str, text: str, start: int, sentence: tuple[int, int]) -> bool:
    """Words that describe someone else, or a question put to the advisor (which still tells what the task is)."""
    if _SOMEONE_ELSE.search(_clause_before(text, sentence[0], start)):
        return True
    return field != "task_scope" and text[sentence[0]:sentence[1]].rstrip().endswith("?")


def _candidates(text: str) -> dict[str, list[tuple[float, int, Cue]]]:
    """Every cue that survives its context checks, with its rank, per field."""
    norm = normalise(text)  # same length as text, so spans index the original
    sentences = _Sentences.of(norm)
    claimed: dict[str, list[tuple[int, int]]] = {}
    found: dict[str, list[tuple[float, int, Cue]]] = {}
    for rule in RULES:
        spans = claimed.setdefault(rule.field, [])
        for match in rule.pattern.finditer(norm):
            start, end = match.span()
            if any(start < b and a < end for a, b in spans):
                continue
            sentence = sentences.around(start)
            words = norm[sentence[0]:sentence[1]]
            if (rule.requires and not rule.requires.search(words)) or (rule.forbids and rule.forbids.search(words)):
                continue
            spans.append((start, end))  # a cue that is then dropped still keeps weaker rules off its words
            if _states_nothing(rule.field, norm, start, sentence) or (
                    rule.hypothetical_drops and _hypothetical(norm, start, sentence)) or (
                    rule.soft_drops and _SOFT.search(_clause_before(norm, sentence[0], start))) or (
                    rule.negatable and _ADDRESSED.search(norm, sentence[0], start)):
                continue
            value, rank, name = rule.value, rule.rank, rule.name
            if rule.negatable and _negated(norm, start, end, sentence):
                if rule.negated is None:
                    continue
                value, rank, name = rule.negated, rule.negated_rank, f"{rule.name}:negated"
            found.setdefault(rule.field, []).append((rank, start, Cue(rule.field, value, text[start:end], name, start)))
    for q in find_quantities(norm):
        if not _states_nothing(q.field, norm, q.start, sentences.around(q.start)):
            cue = Cue(q.field, q.value, text[q.start:q.end], q.rule, q.start)
            found.setdefault(q.field, []).append((q.rank, q.start, cue))
    return found


def all_cues(text: str) -> list[Cue]:
    """Every cue in text that survives its context checks (also the weaker ones detect_cues sets aside), by position."""
    return sorted((c for found in _candidates(text).values() for _, _, c in found), key=lambda c: (c.start, c.field))


def detect_cues(text: str) -> dict[str, Cue]:
    """At most one Cue per Profile field, in field order; each quote is an exact substring of text."""
    found = _candidates(text)
    cues: dict[str, Cue] = {}
    for field in FIELD_ORDER:
        candidates = sorted(found.get(field, []), key=lambda c: (c[0], c[1]))
        if not candidates or (field in _ABSTAIN_ON_CONFLICT and len({c[2].value for c in candidates}) > 1):
            continue
        cues[field] = candidates[0][2]
    return cues
