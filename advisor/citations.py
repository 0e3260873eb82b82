"""Citations in the model's prose: only numbers of passages it was given survive, in the stream and at the end; a
model that cites nothing gets citations where a sentence plainly comes from one passage."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisor.retrieval import Hit

__all__ = ["CitationFilter", "attribute_citations", "tidy_citations"]

_CITATION = re.compile(r"\[(\d{1,3})\]")
_OPEN_TAIL = re.compile(r"\[\d{0,3}$")


class CitationFilter:
    """Streamed prose with citations to passages that were not given removed as it arrives.

    A piece that ends inside a possible marker ("... [1") is held back until the marker is complete, so a
    reader never sees a citation that the final answer drops.
    """

    def __init__(self, available: int) -> None:
        self.available = available
        self._held = ""

    def feed(self, piece: str) -> str:
        """The part of the text so far that can be shown now."""
        text = self._held + piece
        tail = _OPEN_TAIL.search(text)
        self._held, text = (text[tail.start():], text[: tail.start()]) if tail else ("", text)
        return self._clean(text)

    def flush(self) -> str:
        """Whatever was held back, at the end of the stream."""
        text, self._held = self._held, ""
        return self._clean(text)

    def _clean(self, text: str) -> str:
        return _CITATION.sub(lambda m: m.group(0) if 1 <= int(m.group(1)) <= self.available else "", text)


def tidy_citations(text: str, available: int) -> tuple[str, set[int]]:
    """The text without citations to passages that were not given, and the numbers that remain."""
    cited: set[int] = set()

    def keep(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if 1 <= number <= available:
            cited.add(number)
            return match.group(0)
        return ""

    return _CITATION.sub(keep, text).strip(), cited


_WORD = re.compile(r"[a-z0-9][a-z0-9.\-]*")
_STOP = frozenset((
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "with", "is", "are", "be", "it", "this",
    "that", "as", "by", "at", "from", "your", "you", "we", "our", "can", "will", "may", "not", "more",
    "than", "which", "what", "when", "how", "their", "they", "its",
))


def attribute_citations(text: str, passages: Sequence[Hit], *, min_overlap: float = 0.35) -> str:
    """When an answer cites nothing, cite each sentence's best-matching passage (by shared words) if the match
    is strong enough; a model that forgets to cite still gets only citations that point at what it used."""
    if re.search(r"\[\d{1,3}\]", text) or not passages:
        return text
    vocab = [{w for w in _WORD.findall(p.text.lower()) if w not in _STOP} for p in passages]

    def cite(sentence: str) -> str:
        words = {w for w in _WORD.findall(sentence.lower()) if w not in _STOP}
        if len(words) < 4:
            return sentence
        overlaps = [len(words & v) / len(words) for v in vocab]
        best = max(range(len(passages)), key=lambda i: overlaps[i])
        if overlaps[best] < min_overlap:
            return sentence
        stripped = sentence.rstrip()
        end = stripped[-1] if stripped[-1:] in ".!?" else ""
        return f"{stripped[: len(stripped) - len(end)]} [{best + 1}]{end}" + sentence[len(stripped):]

    return "".join(cite(part) for part in re.split(r"(?<=[.!?])(\s+)", text))
