"""Quantities as people write them ('8 billion tokens a month', 'a few gigabytes of text'), found in free text.

Conventions (shared with the dev set in evals/situations.yaml):
- vague scale words are 3x their unit: "tens of" = 30, "hundreds of" = 300, "thousands of" = 3e3, "millions of"
  = 3e6, "hundreds of billions" = 3e11; "dozens of" = 36; "a few" = 3, "several" = 5, "a couple" = 2,
  "a dozen" = 12, "half a" = 0.5.
- text size: ~4 bytes a token, so 1 GB of text = 2.5e8 tokens; ~0.75 words a token, so 1 word = 4/3 tokens.
- rates become monthly: per hour x 720, per day x 30, per week x 52/12, per quarter / 3, per year / 12.
- durations become weeks: days / 7, months x 52/12, quarters x 13, years x 52, rounded, at least 1;
  "next quarter" = 13, "multi-year" = 104.
- money: $, USD, EUR, GBP are all taken as the same number of US dollars (no exchange rate); a monthly budget
  is multiplied by 12 (the field is a first-year budget).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["NUMBER", "TOKENS_PER_BYTE", "TOKENS_PER_WORD", "Found", "find_quantities", "normalise", "parse_number"]

TOKENS_PER_BYTE = 0.25
TOKENS_PER_WORD = 4 / 3
_REACH = 300  # characters of context read around a quantity
_PER_MONTH = {"hour": 720.0, "day": 30.0, "week": 52 / 12, "month": 1.0, "quarter": 1 / 3, "year": 1 / 12}
_WEEKS = {"day": 1 / 7, "week": 1.0, "month": 52 / 12, "quarter": 13.0, "year": 52.0}
_BYTES = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}

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
# hundred), or vague plurals (hundreds of billions). No capturing groups, so it can be embedded anywhere. A bare
# "a" is a number only before a magnitude ("a million"); durations add it themselves ("within a month"). Chains
# are bounded ({0,3}) so that no input makes matching quadratic.
NUMBER = (rf"(?:(?<![\w.]){_DIGITS}(?:\s?-?\s?(?:{_MAG_WORD}|mn|bn|tn|k|m|b|t)\b){{0,3}}"
          rf"|(?<!each\s)(?<!every\s)(?<!which\s)(?<!any\s)(?<!no\s)\b{_WORD_NUM}(?:[\s-]+{_MAG_WORD}){{0,3}}\b"
          rf"|\b{_PLURAL}(?:\s+of\s+{_PLURAL}){{0,3}}\b)")
_NUMBER_RE = re.compile(rf"{NUMBER}|an?", re.IGNORECASE)
# Same-length replacements, so offsets in the normalised text are offsets in the original.
_NORMALISE = str.maketrans({"’": "'", "‘": "'", "‐": "-", "‑": "-", "‒": "-", "\u00a0": " "})


def normalise(text: str) -> str:
    """text with typographic apostrophes, hyphens and spaces made plain; the same length, so offsets hold."""
    return text.translate(_NORMALISE)


def parse_number(phrase: str) -> float | None:
    """The value of a number phrase ('8 billion', '1.5B', 'hundreds of billions', 'a few'); None if not one."""
    text = re.sub(r"\s+of$", "", phrase.strip().lower())  # "hundreds of" as in "hundreds of billions of tokens"
    if not _NUMBER_RE.fullmatch(text):
        return None
    words = re.findall(r"\d[\d,]*(?:\.\d+)?|\.\d+|[a-z]+", text)
    words = [w for w in words if w != "of"]
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
class Found:
    """A quantity found in text: the field it fills, its value, where it is and which pattern found it."""

    field: str
    value: float | int
    start: int
    end: int
    rule: str
    rank: int


def _num(name: str, *, bare_a: bool = False) -> str:
    return rf"(?P<{name}>{NUMBER}|\ban?\b)" if bare_a else rf"(?P<{name}>{NUMBER})"


_HEDGE = (r"(?:(?:about|around|roughly|approximately|approx\.?|nearly|almost|over|more\s+than|at\s+least|"
          r"up\s+to|some|maybe|perhaps|probably|close\s+to|an\s+estimated|~|≈)\s*)*")
_PERIOD = r"(?:(?:a|an|per|each|every)\s+|/\s*)(?P<{g}>hour|day|week|month|quarter|year)\b"
_ADVERB = r"(?P<{g}>hourly|daily|weekly|monthly|quarterly|yearly|annually)\b"
_TEXT = (r"(?:text|texts|data|documents?|docs|logs?|tickets|notes|records|transcripts|e-?mails|code|articles|"
         r"reports|manuals|filings|contracts|papers|books|messages|conversations|content|writing|corpus|pages|"
         r"posts|comments|reviews|chats|literature|wiki|descriptions|listings|catalog(?:ue)?|q&a|questions|answers|"
         r"dialogues|forums?|threads|minutes|letters|theses|patents|judgments|legislation)\b")
_ITEMS = (r"(?:examples|samples|tickets|e-?mails|reviews|documents|docs|articles|notes|records|messages|pairs|"
          r"conversations|clauses|abstracts|transcripts|sentences|rows|items|cases|claims|decisions|posts|"
          r"comments|invoices|calls|queries|requests|questions|answers|utterances|images|contracts|reports|"
          r"chats|texts|forms|pages|descriptions|transactions|postings|listings|statements|products|titles|snippets|"
          r"passages|paragraphs|tweets|headlines|resumes|receipts|orders|applications|submissions|responses|"
          r"outputs|completions|dialogues|x-rays|scans|photos)\b")
_LABELLED = (r"(?:(?:hand[\s-]|human[\s-]|manually\s+)?(?:labell?ed|annotated|tagged|categori[sz]ed|graded|marked|"
             r"mapped|coded|rated|scored)\b|with\s+(?:[\w-]+\s+){0,2}?(?:labels|annotations|tags)\b|(?:have|with)\s+"
             r"(?:the|their|an?)\s+(?:[\w-]+\s+){0,2}?(?:outcome|label|category|reason|code|answer|class|result)s?\s+"
             r"(?:recorded|attached|known|noted)\b)")
_CURRENCY = (r"(?:(?P<cur>[$€£])\s?" + _num("m1") + r"|" + _num("m2") +
             r"\s?(?P<cur2>dollars|usd|us\$|euros?|eur|pounds|gbp|bucks|€|\$)|(?P<cur3>usd|eur|gbp)\s?" +
             _num("m3") + r")")
_SHIP = re.compile(r"\b(?:ship\w*|launch\w*|live|production|deliver\w*|deadline|go[\s-]live|releas\w*|market|"
                   r"ready|mvp|prototype|pilot|deploy\w*|roll\w*[\s-]out|rollout|demo|timeline|running|working|"
                   r"in\s+place|available|finish\w*|complete\w*|done|need\s+it|have\s+it|buil[dt]\w*|"
                   r"in\s+front\s+of|up\s+and\s+running)\b", re.IGNORECASE)
_LATENCY_WORDS = re.compile(r"\b(?:respon\w*|answer\w*|repl\w*|latency|return\w*|inference|decid\w*|appear\w*|"
                            r"generat\w*|draft\w*|p9\d|wait\w*|load\w*|complet\w*|classif\w*|predict\w*|"
                            r"real[\s-]time|fast|quick\w*|turnaround)\b", re.IGNORECASE)


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _group(match: re.Match[str], *names: str) -> str | None:
    for name in names:
        if name in match.re.groupindex and match.group(name):
            return match.group(name)
    return None


def _value(match: re.Match[str], *names: str) -> float:
    phrase = _group(match, *names)
    value = parse_number(phrase) if phrase else None
    if value is None:  # the patterns only capture NUMBER, so this is a bug in a pattern
        raise ValueError(f"no number in {match.group(0)!r}")
    return value


def _per_month(match: re.Match[str]) -> float:
    period = (_group(match, "p", "a") or "month").lower()
    stem = {"daily": "day", "hourly": "hour", "weekly": "week", "monthly": "month", "quarterly": "quarter",
            "yearly": "year", "annually": "year"}.get(period, period)
    return _PER_MONTH[stem]


def _weeks(match: re.Match[str]) -> int:
    unit = (_group(match, "u") or "week").lower().rstrip("s")
    return max(1, round(_value(match, "n") * _WEEKS[unit]))


def _budget(match: re.Match[str]) -> float | None:
    value = _value(match, "m1", "m2", "m3", "nb")
    if match.group("rate"):
        value *= 12 if match.group("rate").lower().startswith("month") else 1
    return value if value >= 100 else None  # "a budget of 5" is not a sum of money


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around start..end, at most _REACH characters either side (bounded, so never quadratic)."""
    low, high = max(0, start - _REACH), min(len(text), end + _REACH)
    left = max(max(text.rfind(c, low, start) for c in ".!?\n"), low - 1)
    right = min((i for i in (text.find(c, end, high) for c in ".!?\n") if i >= 0), default=high)
    return text[left + 1:right]


def _is_latency(match: re.Match[str], sentence: str) -> bool:
    """'within 2 seconds' is a latency only in a sentence about answering; 'under 50 ms' always is."""
    seconds = match.group("u").lower().startswith("s")
    loose = match.group("cmp").lower() in ("in", "within", "under")
    return not (seconds and loose) or bool(_LATENCY_WORDS.search(sentence))


_Convert = Callable[[re.Match[str]], "float | int | None"]


@dataclass(frozen=True)
class _QRule:
    field: str
    name: str
    pattern: re.Pattern[str]
    convert: _Convert
    rank: int = 0
    context: re.Pattern[str] | None = None  # must occur in the same sentence
    keep: Callable[[re.Match[str], str], bool] | None = None  # given the match and its sentence


_BUDGET_TAIL = r"(?:\s*(?:a|per|/)\s*(?P<rate>month|year|annum))?(?!\s*(?:per|/|a)\s*(?:million|token|1k|1m|hour|gpu))"
_Q_RULES: tuple[_QRule, ...] = (
    # Inference volume.
    _QRule("monthly_tokens", "tokens_per_period", _c(
        _num("n") + r"\s?(?:of\s+)?(?:input\s+(?:and|\+|&)\s+output\s+|total\s+|inference\s+)?tokens?\b"
        r"(?:\s+(?:of\s+(?:[\w-]+\s+){0,2}?)?(?:traffic|volume|throughput|usage|inference|requests|queries|"
        r"conversations|chats|messages|calls|processed|in\s+total|total|combined|or\s+so))?"
        r"\s*(?:" + _PERIOD.format(g="p") + "|" + _ADVERB.format(g="a") + ")"),
        lambda m: _value(m, "n") * _per_month(m)),
    _QRule("monthly_tokens", "period_volume_of", _c(
        _ADVERB.format(g="a") + r"\s+(?:token\s+)?(?:volume|traffic|usage|throughput)\s+(?:is|of|:|will\s+be|"
        r"would\s+be|of\s+about)?\s*" + _HEDGE + _num("n") + r"\s?tokens?\b"),
        lambda m: _value(m, "n") * _per_month(m)),
    _QRule("monthly_tokens", "requests_x_tokens", _c(
        _num("r") + r"\s+(?:[\w-]+\s+){0,2}?(?:requests|queries|calls|messages|conversations|documents|tickets|"
        r"e-?mails|chats|prompts|questions|sessions|pages|articles|reviews)\s*" + _PERIOD.format(g="p") +
        r"[,\s]+(?:(?:each|of|at|with|averaging|and)\s+)*" + _HEDGE + _num("n") + r"\s?tokens?\b"),
        lambda m: _value(m, "r") * _value(m, "n") * _per_month(m), rank=1),
    # Unique text for training.
    _QRule("proprietary_data_tokens", "tokens_of_text", _c(
        _num("n") + r"\s?(?:of\s+)?(?:unique\s+|proprietary\s+|in-domain\s+|domain\s+|training\s+)?tokens?\s+"
        r"(?:of|in)\s+(?:[\w'-]+,?\s+){0,5}?" + _TEXT), lambda m: _value(m, "n")),
    _QRule("proprietary_data_tokens", "corpus_of_tokens", _c(
        r"(?:corpus|dataset|data\s*set|archive|collection)\s+of\s+" + _HEDGE + _num("n") + r"\s?(?:of\s+)?tokens?\b"),
        lambda m: _value(m, "n")),
    _QRule("proprietary_data_tokens", "bytes_of_text", _c(
        _num("n") + r"\s?(?P<u>[kmgtp])(?:b|ilobytes?|egabytes?|igabytes?|erabytes?|etabytes?)\s+of\s+"
        r"(?:[\w'-]+,?\s+){0,4}?" + _TEXT),
        lambda m: _value(m, "n") * _BYTES[m.group("u").lower()] * TOKENS_PER_BYTE, rank=1),
    _QRule("proprietary_data_tokens", "words_of_text", _c(
        _num("n") + r"\s?(?:of\s+)?words\s+(?:of|in)\s+(?:[\w'-]+\s+){0,4}?" + _TEXT),
        lambda m: _value(m, "n") * TOKENS_PER_WORD, rank=2),
    _QRule("proprietary_data_tokens", "documents_x_size", _c(
        _num("d") + r"\s+(?:[\w'-]+\s+){0,3}?(?:documents|docs|articles|pages|reports|books|papers|notes|tickets|"
        r"e-?mails|records|transcripts|contracts|filings|manuals|posts|messages|files)\s+(?:of|averaging|with|at|"
        r"each\s+(?:of|about|around|with)?|that\s+average)?\s*" + _HEDGE + _num("n") +
        r"\s?(?P<w>words|tokens)\b"),
        lambda m: _value(m, "d") * _value(m, "n") * (TOKENS_PER_WORD if m.group("w").lower() == "words" else 1),
        rank=2),
    # Labelled examples.
    _QRule("labeled_examples", "n_labelled_items", _c(
        _num("n") + r"\s+(?:of\s+)?(?:[\w-]+\s+)?" + _LABELLED + r"(?:\s+[\w-]+)?"),
        lambda m: round(_value(m, "n"))),
    _QRule("labeled_examples", "n_items_labelled", _c(
        _num("n") + r"\s+(?:[\w-]+\s+){0,2}?" + _ITEMS + r"\s+(?:(?!(?:no|not|none|never|un\w+|without)\b)"
        r"[\w'-]+\s+){0,3}?" + _LABELLED), lambda m: round(_value(m, "n"))),
    _QRule("labeled_examples", "n_examples", _c(
        _num("n") + r"\s+(?:(?:training|input[\s/-]output|question[\s/-]answer|q&a|prompt[\s/-](?:response|"
        r"completion)|gold|good|worked)\s+)?(?:examples|example\s+pairs|demonstrations)\b"),
        lambda m: round(_value(m, "n")), rank=1),
    _QRule("labeled_examples", "no_labels", _c(
        r"(?:\bno|\bzero|don't\s+have\s+any|do\s+not\s+have\s+any|haven't\s+got\s+any|without\s+any|without|"
        r"there\s+are\s+no|not\s+any)\s+(?:[\w-]+\s+)?(?:labell?ed|annotated)\s+(?:data|examples|samples|"
        r"training\s+data|dataset)\b|\bno\s+labels\b|(?:don't|do\s+not)\s+have\s+(?:any\s+)?labels\b"),
        lambda m: 0, rank=2),
    # Latency budget.
    _QRule("latency_ms", "latency_bound", _c(
        r"(?P<cmp>\bunder|\bbelow|\bwithin|less\s+than|at\s+most|no\s+more\s+than|\bmax(?:imum)?(?:\s+of)?|"
        r"<\s?=?|≤|\bsub-?|\bp9[059](?:\s+(?:latency\s+)?(?:of|under|below|at|<|budget\s+of|target\s+of|:))?|"
        r"\blatency\s+(?:of|budget\s+of|target\s+of|under|below|<|:|is|requirement\s+of)?|\bin)\s?" + _HEDGE +
        _num("n", bare_a=True) + r"\s?(?P<u>ms|msec|milliseconds?|millis|s|secs?|seconds?)\b"),
        lambda m: round(_value(m, "n") * (1 if m.group("u").lower().startswith("m") else 1000)), keep=_is_latency),
    _QRule("latency_ms", "sub_second", _c(r"\bsub[\s-]second\b"), lambda m: 1000, rank=1),
    # Budget.
    _QRule("budget_usd", "budget_of", _c(
        r"\b(?:budget|funding)\s+(?:(?:is|of|at|will\s+be|would\s+be|:|=|is\s+set\s+at|is\s+capped\s+at|caps\s+at|for\s+"
        r"(?:this|the\s+first\s+year|year\s+one)\s+is|available\s+is)\s*)?" + _HEDGE + r"(?:" + _CURRENCY + r"|" +
        _num("nb") +
        r")" + _BUDGET_TAIL), _budget),
    _QRule("budget_usd", "budget_up_to", _c(
        r"\bbudget\b[^.;!?]{0,60}?\bup\s+to\s+" + _CURRENCY + _BUDGET_TAIL), _budget, rank=1),
    _QRule("budget_usd", "amount_budget", _c(_CURRENCY + r"\s+(?:[\w-]+\s+){0,2}?budget\b(?P<rate>)"), _budget),
    _QRule("budget_usd", "can_spend", _c(
        r"\b(?:(?:can|could|will|'ll|would|willing\s+to|able\s+to|plan(?:ning)?\s+to|prepared\s+to|happy\s+to|"
        r"ready\s+to)\s+(?:\w+\s+)?(?:spend|invest|allocate|put\s+in)|afford|allocated|set\s+aside|earmark(?:ed)?|"
        r"funding\s+of|capped\s+at)\s+(?:[\w'-]+\s+){0,3}?" + _HEDGE + _CURRENCY + _BUDGET_TAIL), _budget, rank=1),
    # Time to market.
    _QRule("time_to_market_weeks", "n_units_deadline", _c(
        _num("n", bare_a=True) + r"[\s-]*(?P<u>day|week|month|quarter|year)s?[\s-]+(?:deadline|timeline|timeframe|"
        r"time\s*frame|runway|window|horizon)"), _weeks),
    _QRule("time_to_market_weeks", "deadline_is", _c(
        r"\b(?:deadline|timeline|timeframe|time\s*frame|go[\s-]live|launch\s+date|time\s+to\s+market)\s*(?:is|of|:|"
        r"-|–|would\s+be|will\s+be)?\s*(?:about|around|roughly|~|in|within|under|at\s+most)?\s*(?:the\s+next\s+)?" +
        _num("n", bare_a=True) + r"[\s-]*(?P<u>days?|weeks?|months?|quarters?|years?)\b"), _weeks),
    _QRule("time_to_market_weeks", "have_n_units", _c(
        r"\bhave\s+(?:about\s+|around\s+|roughly\s+|only\s+|just\s+|at\s+most\s+)?" + _num("n", bare_a=True) +
        r"[\s-]*(?P<u>days?|weeks?|months?|quarters?|years?)\s+(?:to|until|before|left)\b"), _weeks, context=_SHIP),
    _QRule("time_to_market_weeks", "n_units_from_now", _c(
        r"\b" + _HEDGE + _num("n", bare_a=True) + r"[\s-]*(?P<u>days?|weeks?|months?|quarters?|years?)\s+"
        r"(?:from\s+now|from\s+today|away)\b"), _weeks, context=_SHIP),
    _QRule("time_to_market_weeks", "within_n_units", _c(
        r"\b(?:in|within|inside|under|in\s+under|in\s+less\s+than|by|after)\s+(?:the\s+next\s+|the\s+coming\s+|"
        r"about\s+|around\s+|roughly\s+|just\s+|only\s+|less\s+than\s+|a\s+maximum\s+of\s+)?" + _num("n", bare_a=True) +
        r"[\s-]*(?P<u>days?|weeks?|months?|quarters?|years?)\b"), _weeks, context=_SHIP),
    _QRule("time_to_market_weeks", "next_quarter", _c(
        r"\b(?:(?:by|within|before|in)\s+(?:the\s+end\s+of\s+)?(?:the\s+)?next\s+quarter|within\s+(?:a|one|the\s+"
        r"next|this)\s+quarter|(?:by|before)\s+(?:the\s+end\s+of\s+)?this\s+quarter)\b"), lambda m: 13, rank=1),
    _QRule("time_to_market_weeks", "end_of_period", _c(
        r"\b(?:by|before)\s+(?:the\s+)?end\s+of\s+(?:the|this)\s+(?P<u>month|quarter|year)\b|\bthis\s+(?P<u2>quarter)\b"),
        lambda m: {"month": 4, "quarter": 13, "year": 52}[(m.group("u") or m.group("u2")).lower()], rank=1,
        context=_SHIP),
    _QRule("time_to_market_weeks", "next_week_month", _c(r"\bnext\s+(?P<u>week|month)\b"),
           lambda m: 1 if m.group("u").lower() == "week" else 4, rank=1, context=_SHIP),
    _QRule("time_to_market_weeks", "multi_year", _c(r"\bmulti[\s-]?year\b"), lambda m: 104, rank=2),
)


def find_quantities(text: str) -> Iterator[Found]:
    """Every quantity the patterns find in text, in pattern order; conversions follow the module's conventions."""
    text = normalise(text)
    for rule in _Q_RULES:
        for match in rule.pattern.finditer(text):
            if rule.context is not None and not rule.context.search(_sentence(text, *match.span())):
                continue
            if rule.keep is not None and not rule.keep(match, _sentence(text, *match.span())):
                continue
            value = rule.convert(match)
            if value is None:
                continue
            yield Found(rule.field, value, match.start(), match.end(), rule.name, rule.rank)
