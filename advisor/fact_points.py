"""What a fact answer must hold beyond the model's prose: the points of the section that answers the question,
the catalog facts of a model the question names, and the question's terms the knowledge base has nothing on.

All of it is the knowledge base's own text, chosen deterministically, so it needs no claim check: the pipeline
adds it after the model's checked sentences, cited to its passage.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.catalog import Catalog, ModelEntry

__all__ = ["catalog_card", "cited_catalog_ids", "covered", "list_items", "model_words", "named_models", "points_to_add",
           "section_points"]

Embed = Callable[[Sequence[str]], Any]

_MAX_LIST_POINTS = 8  # the answering section's whole list, up to this many points
_MAX_RELEVANT_POINTS = 5  # otherwise: the section's points closest to the question that the answer left out
_MAX_PROSE_POINTS = 2  # ... and the sentences outside the list that answer the question
_COVERED = 0.5  # a point whose content words are half in the answer (and all its figures) is already there
_RELEVANT = 0.3  # cosine similarity to the question above which a point answers it
_NEAR_BEST = 0.7  # ... or within this share of the closest point's similarity

_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?[a-z0-9]*")
_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")
_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.+)$", re.M)
_POINT = re.compile(r"^\s*(?:(?:[-*•]|\d+[.)])\s+(.+)|(\*\*[^*\n]{2,60}\*\*\s*\S.*))$", re.M)
_GENERIC = frozenset({"instruct", "it", "preview", "base", "chat"})


def list_items(text: str) -> list[str]:
    """A passage's bulleted or numbered items."""
    return [m.group(1).strip() for m in _ITEM.finditer(text)]


def _items(text: str) -> list[str]:
    """A section's list items and its paragraphs that open with a bold label ("**Risks:** ..."), in order: the
    guides write a section's points either way."""
    return [(m.group(1) or m.group(2)).strip() for m in _POINT.finditer(text)]


def section_points(text: str) -> list[str]:
    """A section's points: its list items, labelled paragraphs and table rows when it has at least three, else its
    sentences."""
    items = _items(text) + _table_rows(text)
    if len(items) >= 3:
        return items
    return _sentences(text, items=True)


def _sentences(text: str, *, items: bool) -> list[str]:
    """A section's sentences, a line (a paragraph, a "**Label:** ..." line) at a time, without tables, headings and
    lines that only lead into a list ("Check these:"); without its list items unless items."""
    sentences: list[str] = []
    for line in text.splitlines():
        if not items and _POINT.match(line):
            continue
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", line).strip()
        if line and not line.startswith(("#", "|")) and not (not items and line.endswith(":")):
            sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(*])", line) if len(s.strip()) > 20]
    return sentences


def _has_list(text: str) -> bool:
    return len(_items(text)) + len(_table_rows(text)) >= 3


def _table_rows(text: str) -> list[str]:
    """A Markdown table's rows as points: "INT4: bytes per parameter 0.5; typical use laptops"."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.strip().startswith("|")]
    rows = [r for r in rows if not all(re.fullmatch(r":?-{2,}:?", c) for c in r)]
    if len(rows) < 2:
        return []
    head, body = rows[0], rows[1:]
    return [f"{r[0]}: " + "; ".join(f"{h.lower()} {c}" for h, c in zip(head[1:], r[1:], strict=False) if c)
            for r in body if r and r[0]]


def covered(point: str, written: str) -> bool:
    """The answer already gives the point: half its content words, and every figure it states ("80%", "2025-09-05"
    and "$0.30" are the point; a sentence that shares its words without them does not give it)."""
    from advisor.claims import overlap

    figures = set(_FIGURE.findall(written))
    return overlap(point, written) >= _COVERED and all(f in figures for f in _FIGURE.findall(point))


def points_to_add(question: str, section: str, written: str, *, embed: Embed, want_list: bool,
                  limit: int = _MAX_RELEVANT_POINTS) -> list[str]:
    """The points of a section that answers the question that the written answer left out: its whole list when
    want_list (the section that answers it) or when the answer already gives part of the list, otherwise the
    `limit` closest to the question."""
    points = section_points(section)
    listed = _has_list(section)
    prose = [p for p in _sentences(section, items=False) if not covered(p, written)] if listed else []
    missing = [p for p in points if not covered(p, written)]
    if not missing and not prose:
        return []
    if listed and len(points) - len(missing) >= 2:  # the answer already gives part of the list: give the rest
        want_list = True
    if want_list and listed and len(points) <= _MAX_LIST_POINTS + 4:
        # the list, and the sentences around it that answer the question ("It also decides whether ...")
        return missing[:_MAX_LIST_POINTS] + _closest(question, prose, embed, _MAX_PROSE_POINTS)
    return _closest(question, missing, embed, limit)


def _closest(question: str, points: list[str], embed: Embed, limit: int) -> list[str]:
    """Of points, the `limit` closest to the question among those that answer it, in the section's order."""
    if not points or limit <= 0:
        return []
    vectors = embed([question, *points])
    similarity = vectors[1:] @ vectors[0]
    best = float(similarity.max())
    keep = [i for i, s in enumerate(similarity) if s >= _RELEVANT or s >= best * _NEAR_BEST]
    keep = sorted(sorted(keep, key=lambda i: -similarity[i])[:limit])
    return [points[i] for i in keep]


# --- models named in a question ---------------------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("‑", "-"))


def _names(model: ModelEntry) -> list[list[str]]:
    """The token sequences a question may name a model by: its id and its name (before any bracket)."""
    names = [_tokens(model.id), _tokens(model.name.split("(")[0])]
    return [[t for t in n if t not in _GENERIC] or n for n in names if n]


def named_models(question: str, catalog: Catalog, *, limit: int = 2) -> list[ModelEntry]:
    """Catalog models the question names: by full id or name, or by a leading part of one that names no other
    model ("Qwen3-235B", "BitNet"), never by a vendor's or family's name alone ("Qwen3", "Mistral")."""
    asked = _tokens(question)
    if not asked:
        return []
    models = list(catalog.models)
    names = {m.id: _names(m) for m in models}
    vendors = {t for m in models for t in _tokens(m.vendor)}

    def prefixes(seq: list[str]) -> Iterable[tuple[str, ...]]:
        return (tuple(seq[:n]) for n in range(1, len(seq) + 1))

    owners: dict[tuple[str, ...], set[str]] = {}
    for model_id, seqs in names.items():
        for seq in seqs:
            for prefix in prefixes(seq):
                owners.setdefault(prefix, set()).add(model_id)
    spans = {tuple(asked[i:j]) for i in range(len(asked)) for j in range(i + 1, min(len(asked), i + 6) + 1)}
    found: list[tuple[int, str]] = []
    for model_id, seqs in names.items():
        best = 0
        for seq in seqs:
            for prefix in prefixes(seq):
                if prefix not in spans:
                    continue
                whole = len(prefix) == len(seq)
                unique = owners[prefix] == {model_id}
                if whole or (unique and (len(prefix) > 1 or prefix[0] not in vendors) and not prefix[0].isdigit()):
                    best = max(best, len(prefix) + (10 if whole else 0))
        if best:
            found.append((best, model_id))
    found.sort(key=lambda f: -f[0])
    return [catalog.get(model_id) for _, model_id in found[:limit]]


def model_words(models: Iterable[ModelEntry]) -> set[str]:
    """The lower-cased words of the models' ids and names ("b4t" of "BitNet b1.58 2B4T")."""
    return {w.lower() for m in models for w in re.findall(r"[A-Za-z0-9.]+", f"{m.id} {m.name}")}


def catalog_card(model: ModelEntry, *, stale: bool = False, catalog: Catalog | None = None,
                 today: dt.date | None = None) -> list[str]:
    """A model's catalog facts as short lines, the date of the facts and their source last.

    A retired model's card opens with the date it was retired; it names a replacement only when `catalog` finds a
    current one down the successor chain, so a card never suggests a model that is itself retired.
    """
    lines = [line for line in model.passage_text().splitlines()[1:]
             if not line.startswith(("Facts as of", "Unverified fields", "Weights only", "Status:"))]
    if model.is_retired(today):
        retired = f"Retired on {model.shutdown_date()}: shut down, no longer available and not an option today."
        current = catalog.replacement(model.id, today) if catalog is not None else None
        lines.insert(0, retired + (f" Its current replacement: {current.name} ({current.id})." if current else ""))
    elif (status := model.status_text(today)) is not None:
        lines.append(status.split(" Replacement:")[0])
    source = model.sources[0] if model.sources else "the catalog"
    dated = f"Facts as of {model.as_of}" + (" (older than the catalog's stale age: check them)" if stale else "")
    return [*lines, f"{dated}; source: {source}."]


def cited_catalog_ids(text: str, passages: Sequence[Any]) -> list[str]:
    """The ids of the catalog models whose passages the text cites ([n] is passage n), in citation order."""
    ids: list[str] = []
    for n in (int(found) for found in re.findall(r"\[(\d+)\]", text)):
        if 1 <= n <= len(passages) and getattr(passages[n - 1], "kind", None) == "catalog":
            model_id = str(getattr(passages[n - 1], "doc_id", "") or "").removeprefix("models.yaml#")
            if model_id and model_id not in ids:
                ids.append(model_id)
    return ids
