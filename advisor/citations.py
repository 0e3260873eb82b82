"""Citations in a finished answer: only numbers of passages the turn gave survive (the claim check, in
advisor.claims, decides which passage supports each sentence)."""

from __future__ import annotations

import re

__all__ = ["tidy_citations"]

_CITATION = re.compile(r"\[(\d{1,3})\]")


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
