"""Hybrid retrieval: vector search and BM25 fused by reciprocal rank, with metadata filters and citations."""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from advisor.hygiene import strip_directives

if TYPE_CHECKING:
    import numpy as np

    from advisor.index import KnowledgeIndex

__all__ = ["MAX_QUERY_CHARS", "Hit", "HybridRetriever", "QueryError"]

log = logging.getLogger(__name__)
MAX_QUERY_CHARS = 4000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
KindFilter = Literal["guide", "catalog", "user"]


class QueryError(ValueError):
    """A query that cannot be run; the message is one line for the user."""


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with what a citation needs."""

    id: str
    title: str
    path: str
    section: str
    score: float
    text: str
    kind: str
    doc_id: str
    vector_score: float | None = None
    bm25_score: float | None = None

    def source(self) -> dict[str, Any]:
        """The citation fields of the CLI contract."""
        return {"id": self.id, "title": self.title, "path": self.path, "section": self.section,
                "score": round(self.score, 4)}

    def as_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        data = asdict(self)
        data["score"] = round(self.score, 4)
        return data


# Words people ask with that the guides' headings put otherwise: the query gains the guides' word for them.
_GUIDE_WORDS = {"downside": "drawbacks risks", "downsides": "drawbacks risks", "disadvantage": "drawbacks risks",
                "disadvantages": "drawbacks risks", "cons": "drawbacks", "pitfalls": "drawbacks risks",
                "weaknesses": "drawbacks", "shortcomings": "drawbacks", "risky": "risks drawbacks",
                "scratch": "pre-training", "bill": "cost prices", "bills": "cost prices", "forget": "hidden",
                "overlook": "hidden", "underestimate": "hidden", "compute": "flops", "vram": "gpu memory"}


_GUIDE_PHRASES = {"go wrong": "drawbacks risks", "goes wrong": "drawbacks risks", "the catch": "drawbacks risks",
                  "watch out": "drawbacks risks", "gotcha": "drawbacks risks", "trade-off": "drawbacks"}


def _with_guide_words(text: str) -> str:
    lower = text.lower()
    words = [w for word in re.findall(r"[a-z]+", lower) for w in _GUIDE_WORDS.get(word, "").split()]
    words += [w for phrase, said in _GUIDE_PHRASES.items() if phrase in lower for w in said.split()]
    extra = dict.fromkeys(words)
    return f"{text} {' '.join(extra)}" if extra else text


def clean_query(query: str) -> str:
    """The query with control characters removed; QueryError when nothing or too much is left."""
    text = " ".join(_CONTROL.sub(" ", query).split())
    if not text:
        raise QueryError("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is too long ({len(text)} characters; the limit is {MAX_QUERY_CHARS})")
    return text


class _Bm25:
    """A bm25s index over every passage, cached on disk per collection generation."""

    def __init__(self, model: Any, ids: list[str], kinds: np.ndarray, doc_ids: list[str]) -> None:
        import numpy as np

        self.model = model
        self.ids = ids
        self.kinds = kinds
        self.doc_ids = np.asarray(doc_ids, dtype=object)

    @staticmethod
    def tokenize(texts: list[str]) -> list[list[str]]:
        import bm25s
        import Stemmer

        return bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"),
                              return_ids=False, show_progress=False)

    @classmethod
    def build(cls, index: KnowledgeIndex) -> _Bm25:
        import bm25s
        import numpy as np

        ids, texts, kinds, doc_ids = [], [], [], []
        for id_, text, meta in index.iter_records(include=("documents", "metadatas")):
            ids.append(id_)
            # Titles and section headings carry much of a passage's vocabulary.
            texts.append(f"{meta.get('title', '')} {meta.get('section', '')} {text}")
            kinds.append(str(meta.get("kind", "")))
            doc_ids.append(str(meta.get("doc_id", "")))
        model = bm25s.BM25()
        if texts:
            model.index(cls.tokenize(texts), show_progress=False)
        return cls(model, ids, np.asarray(kinds, dtype=object), doc_ids)

    def save(self, folder: Path, generation: str) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.ids:
            self.model.save(str(tmp), show_progress=False)
        meta = {"generation": generation, "ids": self.ids, "kinds": list(self.kinds),
                "doc_ids": list(self.doc_ids)}
        (tmp / "advisor-meta.json").write_text(json.dumps(meta), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    @classmethod
    def load(cls, folder: Path, generation: str) -> _Bm25 | None:
        import bm25s
        import numpy as np

        try:
            meta = json.loads((folder / "advisor-meta.json").read_text(encoding="utf-8"))
            if meta.get("generation") != generation:
                return None
            model = bm25s.BM25.load(str(folder), show_progress=False) if meta["ids"] else bm25s.BM25()
        except (OSError, ValueError, KeyError):
            return None
        return cls(model, meta["ids"], np.asarray(meta["kinds"], dtype=object), meta["doc_ids"])

    def top(self, query: str, n: int, *, kind: str | None, document: str | None) -> list[tuple[str, float]]:
        import numpy as np

        if not self.ids:
            return []
        tokens = self.tokenize([query])[0]
        token_ids = self.model.get_tokens_ids(tokens)
        if not token_ids:
            return []
        mask = None
        if kind is not None or document is not None:
            keep = np.ones(len(self.ids), dtype=bool)
            if kind is not None:
                keep &= self.kinds == kind
            if document is not None:
                keep &= self.doc_ids == document
            mask = keep.astype(np.float32)
        scores = self.model.get_scores_from_ids(token_ids, weight_mask=mask)
        n = min(n, len(scores))
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in best if scores[i] > 0]


class HybridRetriever:
    """Vector and BM25 search over a KnowledgeIndex, fused by reciprocal rank."""

    def __init__(self, index: KnowledgeIndex) -> None:
        self.index = index
        self.settings = index.settings
        self._bm25: _Bm25 | None = None
        self._bm25_generation: str | None = None
        self._common: frozenset[str] | None = None
        self._lock = threading.Lock()

    def _bm25_for(self, generation: str) -> _Bm25:
        with self._lock:
            if self._bm25 is None or self._bm25_generation != generation:
                folder = self.settings.data_dir / "bm25" / self.settings.collection
                bm25 = _Bm25.load(folder, generation)
                if bm25 is None:
                    bm25 = _Bm25.build(self.index)
                    try:
                        bm25.save(folder, generation)
                    except OSError as exc:  # a read-only data dir only costs a rebuild next time
                        log.warning("cannot cache the BM25 index in %s: %s", folder, exc)
                self._bm25, self._bm25_generation = bm25, generation
            return self._bm25

    def warm(self) -> None:
        """Load the embedder and the BM25 index now rather than on the first query."""
        self.index.embedder.get_query_embedding("warm up")
        self._bm25_for(self.index.generation())

    def unknown_terms(self, text: str) -> list[str]:
        """The words of text that no passage holds and that are no common English word (names, acronyms,
        technical terms such as "TPU" or "CO2"): the subjects the knowledge base has nothing on."""
        bm25 = self._bm25_for(self.index.generation())
        vocab = getattr(bm25.model, "vocab_dict", None) or {}
        if not vocab:
            return []
        if self._common is None:  # the embedder's vocabulary, read once
            self._common = _word_pieces(self.index.embedder)
        common = self._common
        unknown: list[str] = []
        # A standard named by its body and number ("ISO/IEC 42001", "IEC 62304"): the number is the name, and a
        # body the guides mention elsewhere ("ISO") does not make it known.
        for body, number in _STANDARD.findall(text):
            if number not in vocab and body not in _CURRENCIES:
                unknown.append(f"{body} {number}")
        for word in dict.fromkeys(re.findall(r"\b[A-Za-z0-9]+(?:[.-][A-Za-z0-9]+)*", text)):
            if any(word in re.split(r"[/\s]", u) for u in unknown):
                continue
            if not re.search(r"[A-Za-z]", word):
                continue
            tokens = bm25.tokenize([word])[0]
            lower = word.lower()
            if (not tokens or all(t in vocab for t in tokens) or lower in _GUIDE_WORDS or _ROMAN.fullmatch(word)
                    or any(form in common for form in (lower, lower[:-1], lower[:-2]) if len(form) > 2)
                    or (word == lower and _compound(lower, common))):
                continue
            unknown.append(word)
        return unknown

    def section(self, source: str) -> Hit | None:
        """The whole passage of a cited section, given as "guides/x.md#Heading" (or "models.yaml#<model id>");
        None when it is not indexed."""
        doc_id, _, heading = source.partition("#")
        if doc_id == "models.yaml":  # a catalog entry is a document of its own, its id its only section
            doc_id = source
        page = self.index.collection.get(where={"$and": [{"doc_id": doc_id}, {"section": heading}]},
                                         include=["documents", "metadatas"])
        ids, docs, metas = page["ids"], page["documents"] or [], page["metadatas"] or []
        if not ids:
            return None
        order = sorted(range(len(ids)), key=lambda i: int(str(metas[i].get("chunk_index", 0) or 0)))
        first = dict(metas[order[0]])
        return Hit(id=ids[order[0]], title=str(first.get("title", "")), path=str(first.get("path", doc_id)),
                   section=heading, score=1.0, text=strip_directives("\n".join(docs[i] or "" for i in order)),
                   kind=str(first.get("kind", "")), doc_id=doc_id)

    def search(self, query: str, *, k: int | None = None, kind: KindFilter | None = None,
               document: str | None = None) -> list[Hit]:
        """The k best passages for query, optionally only of one kind or from one document (its doc_id)."""
        from llama_index.core.vector_stores.types import (
            MetadataFilter,
            MetadataFilters,
            VectorStoreQuery,
        )

        text = _with_guide_words(clean_query(query))
        k = k or self.settings.top_k
        if k < 1:
            raise QueryError("k must be at least 1")
        depth = max(4 * k, 20)
        filters = [MetadataFilter(key="kind", value=kind)] if kind else []
        if document:
            filters.append(MetadataFilter(key="doc_id", value=document))
        vector_query = VectorStoreQuery(
            query_embedding=self.index.embedder.get_query_embedding(text), similarity_top_k=depth,
            filters=MetadataFilters(filters=filters) if filters else None,  # type: ignore[arg-type]
        )
        result = self.index.vector_store.query(vector_query)
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        vector_scores: dict[str, float] = {}
        vector_rank: dict[str, int] = {}
        for rank, node in enumerate(result.nodes or []):
            found[node.node_id] = (node.get_content(), dict(node.metadata))
            vector_rank[node.node_id] = rank
            # llama-index reports exp(-distance); Chroma's cosine distance is 1 - cosine similarity.
            similarity = (result.similarities or [])[rank]
            vector_scores[node.node_id] = 1.0 + _log(similarity)

        bm25 = self._bm25_for(self.index.generation())
        bm25_hits = bm25.top(text, depth, kind=kind, document=document)
        bm25_rank = {id_: rank for rank, (id_, _) in enumerate(bm25_hits)}
        bm25_scores = dict(bm25_hits)

        rrf_k = self.settings.rrf_k
        fused: dict[str, float] = {}
        for ranks in (vector_rank, bm25_rank):
            for id_, rank in ranks.items():
                fused[id_] = fused.get(id_, 0.0) + 1.0 / (rrf_k + rank + 1)
        ranked = sorted(fused, key=lambda i: (-fused[i], i))
        missing = [i for i in ranked[: 3 * k] if i not in found]
        if missing:
            page = self.index.collection.get(ids=missing, include=["documents", "metadatas"])
            for id_, doc, meta in zip(page["ids"], page["documents"] or [], page["metadatas"] or [],
                                      strict=False):
                found[id_] = (doc or "", dict(meta or {}))
        # Citations point to sections: one hit per section (its best chunk) leaves room for other sections.
        best: list[str] = []
        seen_sections: set[tuple[str, str]] = set()
        for id_ in ranked:
            if id_ not in found:  # removed by a concurrent ingest, or beyond what was fetched
                continue
            meta = found[id_][1]
            key = (str(meta.get("doc_id", id_)), str(meta.get("section", "")))
            if key not in seen_sections:
                seen_sections.add(key)
                best.append(id_)
                if len(best) == k:
                    break
        # Scale so that a passage ranked first by both searches scores 1.0.
        top_possible = 2.0 / (rrf_k + 1)
        hits = []
        for id_ in best:
            text_, meta = found[id_]
            hits.append(Hit(
                id=id_, title=str(meta.get("title", "")), path=str(meta.get("path", "")),
                section=str(meta.get("section", "")), score=fused[id_] / top_possible, text=strip_directives(text_),
                kind=str(meta.get("kind", "")), doc_id=str(meta.get("doc_id", "")),
                vector_score=vector_scores.get(id_), bm25_score=bm25_scores.get(id_),
            ))
        return hits


_ROMAN = re.compile(r"(?=[IVX])X{0,3}(?:IX|IV|V?I{0,3})")  # "SOC 2 Type II"


def _compound(word: str, common: frozenset[str]) -> bool:
    """Two common words written as one ("chatbot", "codebase"): no name the knowledge base lacks (asked only of a
    word written in lower case: "Pinecone" is a name)."""
    return any(word[:i] in common and word[i:] in common for i in range(3, len(word) - 2))


_CURRENCIES = frozenset({"USD", "EUR", "GBP", "CHF", "JPY", "CNY", "CAD", "AUD", "INR", "SEK", "NOK", "DKK"})
_STANDARD = re.compile(r"\b([A-Z]{2,6}(?:/[A-Z]{2,6})?)\s+(\d{3,6})(?:-\d+)*\b")


def _word_pieces(embedder: Any) -> frozenset[str]:
    """The embedder's whole-word vocabulary (common English words), empty when it has none to show."""
    model = getattr(embedder, "_model", None)
    vocab = getattr(getattr(model, "tokenizer", None), "vocab", None)
    if not isinstance(vocab, dict):
        return frozenset()
    return frozenset(w for w in vocab if w.isalpha() and len(w) > 1)


def _log(x: float) -> float:
    import math

    return math.log(x) if x > 0 else -1.0
