"""Numbers with their units, found by rules in free text, and turned into Profile values by unit arithmetic.

Which field a span fills ("40,000 tickets" labelled examples, or just tickets?) is not decided here: the reader's
learned classifier does that from the span's context. These rules only find the span, its number, its unit and
its rate, the part of the problem that does generalise.

Conventions (shared with the eval sets in evals/):
- vague scale words are 3x their unit: "tens of" = 30, "hundreds of" = 300, "thousands of" = 3e3, "millions of"
  = 3e6, "hundreds of billions" = 3e11; "dozens of" = 36; "a few" = 3, "several" = 5, "a couple" = 2,
  "a dozen" = 12, "half a" = 0.5.
- text size: ~4 bytes a token, so 1 GB of text = 2.5e8 tokens; ~0.75 words a token, so 1 word = 4/3 tokens; a page
  = 500 words.
- rates become monthly: per hour x 720, per day x 30, per week x 52/12, per quarter / 3, per year / 12.
- durations become weeks: days / 7, months x 52/12, quarters x 13, years x 52, rounded, at least 1;
  "next quarter" = 13, "multi-year" = 104.
- money: $, USD, EUR, GBP are all taken as the same number of US dollars; a monthly budget is x 12 (the field is a
  first-year budget).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["COMPATIBLE", "NUMBER", "Span", "find_spans", "normalise", "parse_number", "span_value"]

Unit = Literal["tokens", "bytes", "words", "pages", "money", "latency", "duration", "count"]
TOKENS_PER_BYTE = 0.25
TOKENS_PER_WORD = 4 / 3
WORDS_PER_PAGE = 500
_PER_MONTH = {"hour": 720.0, "day": 30.0, "week": 52 / 12, "month": 1.0, "quarter": 1 / 3, "year": 1 / 12}
_WEEKS = {"day": 1 / 7, "week": 1.0, "month": 52 / 12, "quarter": 13.0, "year": 52.0}
_BYTES = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}
# Which units can fill which numeric field; the classifier chooses among these (or none).
COMPATIBLE: dict[str, frozenset[str]] = {
    "proprietary_data_tokens": frozenset({"tokens", "bytes", "words", "pages"}),
    "monthly_tokens": frozenset({"tokens"}),
    "labeled_examples": frozenset({"count"}),
    "latency_ms": frozenset({"latency"}),
    "budget_usd": frozenset({"money", "count"}),  # "a budget of 50k"
    "time_to_market_weeks": frozenset({"duration"}),
}

_UNITS = {"zero": 0, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
          "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_VAGUE = {"few": 3, "several": 5, "couple": 2, "dozen": 12, "half": 0.5}
_MAGNITUDE = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
              "k": 1e3, "m": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9, "t": 1e12, "tn": 1e12}
_PLURALS = {"tens": 10, "dozens": 12, "hundreds": 1e2, "thousands": 1e3, "millions": 1e6, "billions": 1e9,
            "trillions": 1e12}

_DIGITS = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_MAG_WORD = r"(?:hundred|thousand|million|billion|trillion)"
_MAG_WORD_AHEAD = r"(?=[\s-]+(?:hundred|thousand|million|billion|trillion)\b)"
_PLAIN_UNITS = "|".join(sorted((k for k in _UNITS if k not in ("a", "an")), key=len, reverse=True))
_WORD_NUM = (r"(?:a\s+few|a\s+couple(?:\s+of)?|couple\s+of|a\s+dozen|half\s+an?|several|few|dozen|"
             rf"(?:{'|'.join(_TENS)})(?:[\s-](?:{'|'.join(k for k in _UNITS if k not in ('a', 'an', 'zero'))}))?|"
             rf"an?{_MAG_WORD_AHEAD}|{_PLAIN_UNITS})")
_PLURAL = rf"(?:{'|'.join(_PLURALS)})"
# A number phrase: digits with optional magnitudes (8 billion, 1.5B, 500k), number words (two million, a few
# hundred), or vague plurals (hundreds of billions). No capturing groups, so it can be embedded anywhere. Chains
# are bounded ({0,3}) so that no input makes matching quadratic.
NUMBER = (rf"(?:(?<![\w.]){_DIGITS}(?:\s?-?\s?(?:{_MAG_WORD}|mn|bn|tn|k|m|b|t)\b){{0,3}}"
          rf"|(?<!each\s)(?<!every\s)(?<!which\s)(?<!any\s)(?<!no\s)\b{_WORD_NUM}(?:[\s-]+{_MAG_WORD}){{0,3}}\b"
          rf"|\b{_PLURAL}(?:\s+of\s+{_PLURAL}){{0,3}}\b)")
_NUMBER_RE = re.compile(rf"{NUMBER}|an?", re.IGNORECASE)
# Same-length replacements, so offsets in the normalised text are offsets in the original.
_NORMALISE = str.maketrans({"’": "'", "‘": "'", "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "\u00a0": " "})

_PERIOD = (r"(?:\s*(?:(?:a|an|per|each|every)\s+|/\s*)(?P<per>hour|day|week|month|quarter|year|annum)\b"
           r"|\s+(?P<adv>hourly|daily|weekly|monthly|quarterly|yearly|annually)\b)")
# The unit right after the number (possibly after "of" and up to two words: "2 TB of text", "40 GB of support
# tickets", "300 billion tokens", "10k annotated tickets").
_TEXT_UNIT = (r"(?P<bytes>[kmgtp]b|kilobytes?|megabytes?|gigabytes?|terabytes?|petabytes?|gigs?)\b"
              r"|(?P<tokens>tokens?)\b|(?P<words>words)\b|(?P<pages>pages)\b")
_NEXT_UNIT = (r"(?P<lat>ms|msec|milliseconds?|millis|secs?|seconds?|s)\b"
              r"|(?P<dur>days?|weeks?|months?|quarters?|years?|yrs?)\b"
              r"|(?P<money>dollars|usd|us\$|euros?|eur|pounds|gbp|bucks)\b")
# Up to two describing words may stand between a number and a text unit ("50B unique tokens"), never a rate word.
_DESCRIBING = r"(?:(?!(?:a|an|per|each|every|of)\b)[\w'-]+\s+){0,2}?"
# A rate may follow a few words later: "2 billion tokens of customer-care traffic a day", "10k requests a day".
_RATE = rf"(?:(?:\s+of)?(?:\s+(?!(?:a|an|per|each|every)\b)[\w'-]+){{0,3}}?{_PERIOD})?"
_SPAN = re.compile(
    rf"(?P<cur>[$€£]|\b(?:usd|eur|gbp)\s)?\s?(?P<num>{NUMBER}|\ban?(?=[\s-]+(?:ms|millisecond|second|day|week|month|"
    rf"quarter|year)))(?:[\s-]?(?:(?:of\s+)?{_DESCRIBING}(?:{_TEXT_UNIT})|(?:{_NEXT_UNIT})))?{_RATE}", re.IGNORECASE)
# Exact phrases that state a quantity without digits.
_PHRASES: tuple[tuple[re.Pattern[str], Unit, float, str | None], ...] = (
    (re.compile(r"\b(?:(?:by|within|before|in)\s+(?:the\s+end\s+of\s+)?(?:the\s+)?next\s+quarter|this\s+quarter)\b",
                re.IGNORECASE), "duration", 1.0, "quarter"),
    (re.compile(r"\bmulti[\s-]?year\b", re.IGNORECASE), "duration", 2.0, "year"),
    (re.compile(r"\bnext\s+month\b", re.IGNORECASE), "duration", 1.0, "month"),
    (re.compile(r"\bnext\s+week\b", re.IGNORECASE), "duration", 1.0, "week"),
    (re.compile(r"\bsub[\s-]second\b", re.IGNORECASE), "latency", 1.0, "s"),
    (re.compile(r"\b(?:no|zero|without(?:\s+any)?|(?:don't|do\s+not|doesn't|haven't)\s+(?:have\s+)?(?:any\s+)?)\s*"
                r"(?:[\w-]+\s+)?(?:labell?ed|annotated|tagged|hand-labell?ed)\s+(?:data|examples|samples|tickets|"
                r"records|dataset|training\s+data)\b|\bno\s+labels\b", re.IGNORECASE), "count", 0.0, None),
)


def normalise(text: str) -> str:
    """text with typographic apostrophes, hyphens and spaces made plain; the same length, so offsets hold."""
    return text.translate(_NORMALISE)


def parse_number(phrase: str) -> float | None:
    """The value of a number phrase ('8 billion', '1.5B', 'hundreds of billions', 'a few'); None if not one."""
    text = re.sub(r"\s+of$", "", phrase.strip().lower())  # "hundreds of" as in "hundreds of billions of tokens"
    if not _NUMBER_RE.fullmatch(text):
        return None
    words = [w for w in re.findall(r"\d[\d,]*(?:\.\d+)?|\.\d+|[a-z]+", text) if w != "of"]
    value: float
    first, rest = words[0], words[1:]
    if first[0].isdigit() or first[0] == ".":
        value = float(first.replace(",", ""))
    elif first in _PLURALS:
        value = 3 * _PLURALS[first]
        for word in rest:
            value *= _PLURALS.get(word, 1)
        return value
    elif first in ("a", "an") and rest and rest[0] in _VAGUE:
        value, rest = _VAGUE[rest[0]], rest[1:]
    elif first in _VAGUE:
        value = _VAGUE[first]
        rest = rest[1:] if first == "half" and rest and rest[0] in ("a", "an") else rest
    elif first in _TENS:
        value = _TENS[first]
        if rest and rest[0] in _UNITS:
            value, rest = value + _UNITS[rest[0]], rest[1:]
    else:
        value = _UNITS[first]
    for word in rest:
        value *= _MAGNITUDE.get(word, 1)
    return value


@dataclass(frozen=True)
class Span:
    """A number in text with its unit: `unit` is the kind, `scale` the multiplier inside it (bytes per unit,
    seconds per latency unit, weeks per duration unit), `period` the rate it is given per, if any."""

    start: int
    end: int
    text: str
    number: float
    unit: Unit
    scale: float = 1.0
    period: str | None = None

    def per_month(self) -> float:
        """The monthly factor of the span's rate (1 when it has none)."""
        return _PER_MONTH.get(self.period or "month", 1.0)


def _unit_of(match: re.Match[str]) -> tuple[Unit, float]:
    if match.group("cur") or match.group("money"):
        return "money", 1.0
    if match.group("bytes"):
        letter = match.group("bytes").lower()[0]
        return "bytes", _BYTES.get(letter, 1e9)
    text_units: tuple[Unit, ...] = ("tokens", "words", "pages")
    for name in text_units:
        if match.group(name):
            return name, 1.0
    if match.group("lat"):
        unit = match.group("lat").lower()
        return "latency", 1.0 if unit.startswith("m") else 1000.0
    if match.group("dur"):
        unit = match.group("dur").lower().rstrip("s")
        unit = {"yr": "year"}.get(unit, unit)
        return "duration", _WEEKS[unit]
    return "count", 1.0


def find_spans(text: str) -> list[Span]:
    """Every number-with-unit in text, in order; "N items a day of M tokens each" becomes one tokens span."""
    text = normalise(text)
    spans: list[Span] = []
    for match in _SPAN.finditer(text):
        number = parse_number(match.group("num"))
        if number is None:
            continue
        unit, scale = _unit_of(match)
        period = (match.group("per") or match.group("adv") or "").lower() or None
        period = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter",
                  "yearly": "year", "annually": "year", "annum": "year"}.get(period or "", period)
        start = match.start("cur") if match.group("cur") else match.start("num")
        spans.append(Span(start, match.end(), text[start:match.end()], number, unit, scale, period))
    taken = [(s.start, s.end) for s in spans]
    for pattern, unit, number, name in _PHRASES:
        for match in pattern.finditer(text):
            if any(a < match.end() and match.start() < b for a, b in taken):
                continue
            scale = {"latency": 1000.0, "duration": _WEEKS.get(name or "week", 1.0)}.get(unit, 1.0)
            spans.append(Span(match.start(), match.end(), match.group(0), number, unit, scale))
    return _combine(text, sorted(spans, key=lambda s: s.start))


_JOINERS = frozenset(("each", "of", "at", "with", "averaging", "around", "about", "roughly", "and", "that",
                      "average", "approximately", "apiece"))


def _combine(text: str, spans: list[Span]) -> list[Span]:
    """"10k requests a day of ~2k tokens" and "a million documents of ~1,000 words": a count followed closely by
    a size is their product, in the size's unit, at the count's rate."""
    out: list[Span] = []
    i = 0
    while i < len(spans):
        span, nxt = spans[i], spans[i + 1] if i + 1 < len(spans) else None
        if nxt is not None and span.unit == "count" and nxt.unit in ("tokens", "words") and nxt.period is None:
            between = text[span.end:nxt.start]
            words = re.findall(r"[a-z]+", between.lower())
            while words and words[0] not in _JOINERS and len(words) > 1:  # "documents of ~1,000 words"
                words = words[1:]
            if len(between) <= 40 and words and all(w in _JOINERS for w in words):
                out.append(Span(span.start, nxt.end, text[span.start:nxt.end], span.number * nxt.number,
                                nxt.unit, 1.0, span.period))
                i += 2
                continue
        out.append(span)
        i += 1
    return out


def span_value(span: Span, field: str) -> float | int | None:
    """The value span gives field, by unit arithmetic; None when its unit cannot fill that field."""
    if span.unit not in COMPATIBLE.get(field, ()):
        return None
    n = span.number * span.scale
    if field == "proprietary_data_tokens":
        factor = {"tokens": 1.0, "bytes": TOKENS_PER_BYTE, "words": TOKENS_PER_WORD,
                  "pages": WORDS_PER_PAGE * TOKENS_PER_WORD}[span.unit]
        return n * factor
    if field == "monthly_tokens":
        return n * span.per_month()
    if field == "labeled_examples":
        return round(n)
    if field == "latency_ms":
        return round(n) if n >= 1 else None
    if field == "budget_usd":
        yearly = n * 12 if span.period == "month" else n
        return yearly if yearly >= 100 or yearly == 0 else None  # "a budget of 5" is not a sum of money
    if field == "time_to_market_weeks":
        return max(1, round(n))
    return None
