"""The claim check: every sentence the model writes is checked before it is shown.

A 1.5B model writes fluent text it cannot check, so the pipeline checks each sentence as it completes:

- numbers: every number must occur in the passages given, the user's messages or the figures the pipeline
  computed (a sentence with an unsupported number is dropped);
- citations: a sentence citing [n] must be supported by passage n (a support score from the retrieval embedder's
  similarity to the passage's best sentence window and the share of the sentence's content words the passage
  holds, less a penalty when one side is negated and the other not; its threshold was chosen on
  evals/citation_support.yaml and is reported on the held-out evals/citation_support_holdout.yaml); a citation
  that fails is moved to the passage that supports the sentence or removed, and a sentence that states a fact no
  passage supports is dropped;
- claims about the user must match the profile read from the user's words (the reader reads the sentence as if
  the user had said it: "your volumes are high" → monthly_tokens); a fact the user never stated, or a different
  value, drops the sentence;
- a sentence that recommends another option than the verdict's, or that contradicts what the recommended option
  is (self-hosting "sends data to a third party"), is dropped.

Each turn keeps a tally (`Checks`) of sentences kept, corrected and dropped, and why.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from advisor.reader import Reader

__all__ = ["SUPPORT_THRESHOLD", "Checks", "ClaimChecker", "Evidence", "SentenceStream", "claims_in", "numbers_in",
           "support_score"]

Embed = Callable[[Sequence[str]], np.ndarray]

# Chosen on evals/citation_support.yaml (the best F1 over a grid of thresholds); never on the held-out file.
SUPPORT_THRESHOLD = 0.66
_EMBED_SHARE = 0.5  # the similarity's share of the score; the rest is content-word overlap
_NEGATION_PENALTY = 0.12
_MIN_CONTENT_WORDS = 4  # fewer content words than this: a connective or a heading, not a claim
_DROPPED_KEPT = 20  # dropped sentences recorded per turn, with why
_ECHO_SHARE = 0.7  # a question this much made of the user's own words restates theirs

_CITATION = re.compile(r"\s*\[(\d{1,3})\]")
_WORD = re.compile(r"[a-z0-9][a-z0-9\-']*")
_STOP = frozenset((
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "with", "is", "are", "be", "been", "it", "this",
    "that", "these", "those", "as", "by", "at", "from", "your", "you", "we", "our", "can", "will", "may", "not",
    "more", "than", "which", "what", "when", "how", "their", "they", "its", "if", "so", "do", "does", "into",
    "only", "also", "but", "there", "here", "has", "have", "had", "was", "were", "would", "could", "should", "must",
    "any", "each", "such", "other", "some", "most", "very", "much", "many", "all", "own", "about", "over", "under",
    "then", "them", "just", "like",
))
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|without|nothing|none|neither|nor|impossible)\b|n't\b",
                       re.IGNORECASE)

# --- numbers ---------------------------------------------------------------------------------------------------
_NUMBER = re.compile(
    r"(?<![\w.])(\d+(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w.]*\d)\s*"
    r"(%|percent\b|[kK]\b|[mM]\b|[bB]\b|bn\b|[tT]\b|thousand\b|million\b|billion\b|trillion\b)?")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9,
          "t": 1e12, "trillion": 1e12}
_LABEL = re.compile(r"\*\*[^*\n]{1,60}\*\*:?\s+")
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_BARE_LABEL = re.compile(r"(?:(?:[-*•]|\d{1,2}[.)])\s+)?\**[^.!?:*\n]{1,40}?\**\s*:\s*\**[.]?")


def numbers_in(text: str) -> list[tuple[str, set[float]]]:
    """Each number written in text (citation markers and list numbering aside), with the values it may mean:
    as written, and scaled by its word ("2 billion" is 2 and 2e9)."""
    text = _LIST_MARKER.sub(" ", _CITATION.sub(" ", text))
    found: list[tuple[str, set[float]]] = []
    for date in _DATE.finditer(text):  # a date is one number: 2027-06-17 is not 2027, 6 and 17
        found.append((date.group(0), {float(date.group(0).replace("-", ""))}))
    text = _DATE.sub(" ", text)
    for match in _NUMBER.finditer(text):
        raw = float(match.group(1).replace(",", ""))
        unit = (match.group(2) or "").lower()
        values = {raw}
        if unit in _SCALE:
            values.add(raw * _SCALE[unit])
        found.append((match.group(0).strip(), values))
    return found


def _close(value: float, allowed: Sequence[float]) -> bool:
    return any(abs(value - a) <= 0.005 * max(abs(a), 1e-9) for a in allowed)


# --- support ---------------------------------------------------------------------------------------------------
def _content(text: str) -> set[str]:
    return {w[:6] for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def passage_windows(text: str) -> list[str]:
    """A passage's sentences, and each pair of neighbours (a claim often joins two)."""
    parts = [p.strip(" -*•") for p in re.split(r"(?<=[.!?;:])\s+|\n+", text) if len(p.strip(" -*•")) > 15]
    return parts + [a + " " + b for a, b in itertools.pairwise(parts)] or [text]


@dataclass
class _Passage:
    text: str
    content: set[str]
    windows: list[str]
    vectors: np.ndarray
    negated: list[bool]


def _prepare(text: str, embed: Embed) -> _Passage:
    windows = passage_windows(text)
    return _Passage(text, _content(text), windows, _unit(embed(windows)),
                    [bool(_NEGATION.search(w)) for w in windows])


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def _support(sentence: str, vector: np.ndarray, passage: _Passage) -> float:
    words = _content(sentence)
    overlap = len(words & passage.content) / max(1, len(words))
    similarities = passage.vectors @ vector
    best = int(similarities.argmax())
    score = _EMBED_SHARE * float(similarities[best]) + (1 - _EMBED_SHARE) * overlap
    if bool(_NEGATION.search(sentence)) != passage.negated[best]:
        score -= _NEGATION_PENALTY
    return score


def overlap(text: str, other: str) -> float:
    """The share of text's content words (by stem) that other also has."""
    words = _content(text)
    return len(words & _content(other)) / max(1, len(words))


def support_score(sentence: str, passage: str, embed: Embed) -> float:
    """How well passage supports sentence, from 0 (unrelated) to about 1 (restated)."""
    clean = _CITATION.sub("", sentence).strip()
    return _support(clean, _unit(embed([clean]))[0], _prepare(passage, embed))


# --- claims about the user and against the verdict -------------------------------------------------------------
# A clause whose subject is the user ("your volumes are high", "you must deploy at the edge", "for you, time
# matters more"): a claim about them, unlike advice ("you can ..."), conditions ("if you ...") or possessives in
# passing ("the expertise of your team").
_USER_SUBJECT = re.compile(
    r"(?:^|[,;:]\s*|\b(?:and|so|because|since|as|but|while)\s+)(?:for you,\s*)?"
    r"(?:you|your(?:\s+[\w-]+){1,3})\s+(?:are|is|have|has|had|already|only|must|need|needs|require|requires|"
    r"do not|don't|does not|doesn't|cannot|can't|process|processes|handle|handles|serve|serves|run|runs|deploy|"
    r"deploys|want|wants|expect|expects|work|works|matter|matters|grow|grows|lack|lacks)\b"
    r"|^for you,", re.IGNORECASE)
_FIRST_PERSON = ((r"\byou are\b", "we are"), (r"\byou're\b", "we're"), (r"\byourselves\b", "ourselves"),
                 (r"\byours\b", "ours"), (r"\byour\b", "our"), (r"\byou\b", "we"))

_OPTION_WORDS = {
    "api": re.compile(r"\b(?:hosted|commercial|vendor|provider's)\s+(?:LLM\s+)?API\b|\bthe API\b|\bAPI option\b",
                      re.IGNORECASE),
    "open_weight": re.compile(r"\bopen[- ]weights?\b|\bopen model\b|\bself[- ]host", re.IGNORECASE),
    "pretrain": re.compile(r"\bpre-?train(?:ing|ed)?\b|\bfrom scratch\b|\btrain(?:ing)? your own (?:LLM|model)\b",
                           re.IGNORECASE),
    "small_model": re.compile(r"\bsmall(?:er)?(?:,)? (?:task-specific )?models?\b|\btask-specific model\b",
                              re.IGNORECASE),
}
_RECOMMENDS = re.compile(
    r"\b(?:recommend(?:ed|s)?|the (?:best|right|better) (?:choice|option|fit|path|route)|go with|opt for|"
    r"(?:should|would) (?:use|choose|adopt|pick|go|start with|consider)|instead)\b", re.IGNORECASE)
_CONTRAST = re.compile(r"\b(?:rather than|instead of|over|not|than|unlike|avoid|against)\b", re.IGNORECASE)
_SELF_HOSTED = ("open_weight", "pretrain", "small_model")
# What a recommended option is not: a self-hosted model does not send data out; an API does not keep it in.
_CONTRADICTS = {
    **{o: re.compile(r"\b(?:send|sends|sent|sending|share|shares|expose|exposes|transmit|transmits|upload|uploads|"
                     r"leave|leaves)\b[^.]*\b(?:third[- ]part(?:y|ies)|provider|vendor|publisher|outside)",
                     re.IGNORECASE) for o in _SELF_HOSTED},
    "api": re.compile(r"\b(?:stay|stays|kept|remain|remains|never leaves?)\b[^.]*\b(?:on|in|within) your own\b"
                      r"|\bnever leaves? your\b", re.IGNORECASE),
}


def _recommends_other(sentence: str, recommendation: str | None) -> bool:
    if recommendation is None or not _RECOMMENDS.search(sentence):
        return False
    named = {o for o, pattern in _OPTION_WORDS.items() if pattern.search(sentence)}
    others = named - {recommendation}
    if not others or recommendation in named:
        return False
    return not _CONTRAST.search(sentence)


# --- the check -------------------------------------------------------------------------------------------------
@dataclass
class Checks:
    """One turn's tally: sentences kept as written, kept with a citation corrected, and dropped (with why)."""

    kept: int = 0
    corrected: int = 0
    dropped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    citations_removed: int = 0
    citations_added: int = 0
    dropped_sentences: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The `checks` object of `ask --json` and of the stored turn."""
        return {"kept": self.kept, "corrected": self.corrected, "dropped": self.dropped,
                "reasons": dict(sorted(self.reasons.items())), "citations_removed": self.citations_removed,
                "citations_added": self.citations_added, "dropped_sentences": list(self.dropped_sentences)}

    def add(self, other: Checks) -> None:
        """Fold another section's tally into this one."""
        self.kept += other.kept
        self.corrected += other.corrected
        self.dropped += other.dropped
        self.reasons.update(other.reasons)
        self.citations_removed += other.citations_removed
        self.citations_added += other.citations_added
        self.dropped_sentences.extend(other.dropped_sentences[: max(0, _DROPPED_KEPT - len(self.dropped_sentences))])


@dataclass(frozen=True)
class Evidence:
    """What the model's sentences may rest on besides the passages: the user's words and the computed figures."""

    user_messages: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    profile: Mapping[str, Any] | None = None  # the stated profile: None where no situation was read
    recommendation: str | None = None


class ClaimChecker:
    """Checks sentences against the passages (numbered from 1) and the evidence; one per section of a turn."""

    def __init__(self, passages: Sequence[str], evidence: Evidence, *, embed: Embed,
                 reader: Reader | None = None, threshold: float = SUPPORT_THRESHOLD,
                 citable: Sequence[int] | None = None) -> None:
        self.evidence = evidence
        self.embed = embed
        self.reader = reader
        self.threshold = threshold
        self.checks = Checks()
        self._texts = list(passages)
        self._prepared: dict[int, _Passage] = {}
        self._citable = list(citable) if citable is not None else list(range(1, len(self._texts) + 1))
        allowed: list[float] = []
        for text in [*self._texts, *evidence.user_messages, *evidence.figures]:
            for _, values in numbers_in(text):
                allowed.extend(values)
        self._allowed = allowed

    def _passage(self, n: int) -> _Passage:
        if n not in self._prepared:
            self._prepared[n] = _prepare(self._texts[n - 1], self.embed)
        return self._prepared[n]

    # -- one sentence -------------------------------------------------------------------------------------------
    def check(self, unit: str) -> str:
        """The unit as it may be shown ("" when dropped): citations checked, corrected or added."""
        body = unit.strip()
        rest = _CITATION.sub("", body).strip()
        if _CITATION.search(body) and (not rest.strip("*_#-•:. \t") or _BARE_LABEL.fullmatch(rest)):
            self.checks.dropped += 1  # a dangling citation with no sentence ("[2]**") or only a label ("- GPUs: [1]")
            self.checks.reasons["fragment"] += 1
            return ""
        if not body or _structural(body):
            return unit
        lead = unit[: len(unit) - len(unit.lstrip())]
        trail = unit[len(unit.rstrip()):]
        marker = _LIST_MARKER.match(body)
        prefix = marker.group(0) if marker else ""
        label = _LABEL.match(body[len(prefix):])  # "**Regulated data**: ..." keeps its label, unchecked
        prefix += label.group(0) if label else ""
        sentence = body[len(prefix):]
        reason, text = self._judge(sentence)
        if reason is not None:
            self.checks.dropped += 1
            self.checks.reasons[reason] += 1
            if len(self.checks.dropped_sentences) < _DROPPED_KEPT:
                self.checks.dropped_sentences.append({"sentence": sentence, "reason": reason})
            return ""
        return lead + prefix + text + trail

    def vouch(self, text: str) -> str:
        """The pipeline's own text (a fallback) with each citation kept only where its passage supports the
        sentence: nothing is dropped, an unsupported citation goes."""
        stream = SentenceStream()
        units = [*stream.feed(text), *stream.flush()]
        out = []
        for unit in units:
            cited = [int(m.group(1)) for m in _CITATION.finditer(unit)]
            if not cited:
                out.append(unit)
                continue
            body = unit.strip()
            marker = _LIST_MARKER.match(body)
            prefix = marker.group(0) if marker else ""
            plain = _plain(body[len(prefix):])
            vector = _unit(self.embed([plain]))[0]
            good = [n for n in cited if 1 <= n <= len(self._texts)
                    and _support(plain, vector, self._passage(n)) >= self.threshold]
            lead, trail = unit[: len(unit) - len(unit.lstrip())], unit[len(unit.rstrip()):]
            out.append(lead + prefix + (with_citations(plain, good) if good else plain) + trail)
        return "".join(out)

    def _judge(self, sentence: str) -> tuple[str | None, str]:
        cited = [int(m.group(1)) for m in _CITATION.finditer(sentence)]
        plain = _plain(sentence)
        if self._echoes_user(plain):
            return "echo", sentence
        for _, values in numbers_in(plain):
            if not any(_close(v, self._allowed) for v in values):
                return "number", sentence
        recommendation = self.evidence.recommendation
        if _recommends_other(plain, recommendation):
            return "contradiction", sentence
        if recommendation in _CONTRADICTS and _CONTRADICTS[recommendation].search(plain):
            return "contradiction", sentence
        about_user = self._about_user(plain)
        if about_user is False:
            return "user_claim", sentence
        words = _content(plain)
        vector = _unit(self.embed([plain]))[0]
        valid = [n for n in cited if n in self._citable]
        scores = {n: _support(plain, vector, self._passage(n)) for n in self._citable}
        good = [n for n in valid if scores[n] >= self.threshold]
        best = max(scores, key=lambda n: scores[n]) if scores else None
        if good:
            text = with_citations(plain, good)
            if len(good) < len(cited):
                self.checks.citations_removed += len(cited) - len(good)
                self.checks.corrected += 1
            else:
                self.checks.kept += 1
            return None, text
        if best is not None and scores[best] >= self.threshold:
            self.checks.citations_removed += len(cited)
            self.checks.citations_added += 1
            self.checks.corrected += 1
            return None, with_citations(plain, [best])
        # No passage supports it: a statement of the user's own facts, the computed figures, or no claim at all.
        if about_user is True or len(words) < _MIN_CONTENT_WORDS or self._in_figures(plain, vector):
            if cited:
                self.checks.citations_removed += len(cited)
                self.checks.corrected += 1
            else:
                self.checks.kept += 1
            return None, plain
        return ("citation" if cited else "unsupported"), sentence

    def _echoes_user(self, sentence: str) -> bool:
        """A question that restates the user's own (the model handing their question back): no claim, no answer."""
        if not sentence.rstrip("*_ ").endswith("?"):
            return False
        words = _content(sentence)
        said: set[str] = set().union(*(_content(m) for m in self.evidence.user_messages))
        return len(words) >= _MIN_CONTENT_WORDS and len(words & said) >= _ECHO_SHARE * len(words)

    def _in_figures(self, sentence: str, vector: np.ndarray) -> bool:
        texts = [*self.evidence.figures, *self.evidence.user_messages]
        return any(_support(sentence, vector, _prepare(t, self.embed)) >= self.threshold for t in texts if t)

    def _about_user(self, sentence: str) -> bool | None:
        """True: a claim about the user that the profile holds; False: one it does not; None: no such claim."""
        profile = self.evidence.profile
        if profile is None or not _USER_SUBJECT.search(sentence):
            return None
        first = sentence
        for pattern, replacement in _FIRST_PERSON:
            first = re.sub(pattern, replacement, first, flags=re.IGNORECASE)
        read = self.reader.read([first]).profile.stated() if self.reader is not None else {}
        if read:
            return all(name in profile and _same(profile[name], value) for name, value in read.items())
        # The reader maps it to no field ("your volumes are high"): only the user's own words can support it.
        vector = _unit(self.embed([sentence]))[0]
        return any(_support(sentence, vector, _prepare(m, self.embed)) >= self.threshold
                   for m in self.evidence.user_messages if m.strip())


def _plain(sentence: str) -> str:
    """The sentence without its citations, on one line, with no space before punctuation."""
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(_CITATION.sub("", sentence).split()))


def _same(stated: Any, read: Any) -> bool:
    if isinstance(stated, int | float) and isinstance(read, int | float) and not isinstance(stated, bool):
        return stated > 0 and 0.5 <= read / stated <= 2.0 if stated else read == stated
    return bool(stated == read)


def with_citations(sentence: str, numbers: Sequence[int]) -> str:
    """The sentence with its citations before the closing punctuation: "... [1][3]."."""
    marks = "".join(f"[{n}]" for n in dict.fromkeys(numbers))
    stripped = sentence.rstrip()
    end = stripped[-1] if stripped[-1:] in ".!?" else ""
    return f"{stripped[: len(stripped) - len(end)].rstrip()} {marks}{end}"


def claims_in(text: str) -> list[str]:
    """The sentences of a finished answer that state something, cut as the streaming check cuts them, each
    without its list marker or bold label (headings and bare labels left out), citations kept."""
    stream = SentenceStream()
    found = []
    for unit in [*stream.feed(text), *stream.flush()]:
        body = unit.strip()
        if not body or _structural(body):
            continue
        marker = _LIST_MARKER.match(body)
        body = body[marker.end():] if marker else body
        label = _LABEL.match(body)
        sentence = body[label.end():] if label else body
        if sentence.strip() and not _structural(sentence.strip()):
            found.append(sentence.strip())
    return found


def _structural(text: str) -> bool:
    """A heading, a bold label or a bare list marker: nothing to check."""
    plain = text.strip("*_#-•: ").strip()
    return (not plain or text.startswith("#") or (text.startswith("**") and text.rstrip(":").endswith("**"))
            or (len(_content(plain)) < 2 and not numbers_in(plain)))


# --- streaming -------------------------------------------------------------------------------------------------
_BOUNDARY = re.compile(r"(?<=[.!?])((?:\s*\[\d{1,3}\])*)[ \t]+(?=[A-Z*\"(\[])|\n")
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|vs|etc|approx|cf|Dr|Mr|Ms|No)\.$", re.IGNORECASE)


class SentenceStream:
    """Streamed text cut into whole sentences and lines, each released once the text after it has begun."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, piece: str) -> list[str]:
        """The units completed by this piece (each with its trailing space or newline)."""
        self._buffer += piece
        units = []
        start = 0
        for match in _BOUNDARY.finditer(self._buffer):
            end = match.end()
            candidate = self._buffer[start:match.start() + len(match.group(1) or "")]
            if match.group(0) != "\n" and _ABBREVIATION.search(candidate.rstrip()):
                continue
            units.append(self._buffer[start:end])
            start = end
        self._buffer = self._buffer[start:]
        return units

    def flush(self) -> list[str]:
        """What is left at the end of the stream."""
        rest, self._buffer = self._buffer, ""
        return [rest] if rest else []
