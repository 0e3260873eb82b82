"""The vector store: Chroma (embedded or server) filled by an incremental, crash-safe llama-index ingest."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.config import Settings
from advisor.corpus import (
    DocRef,
    SkippedFile,
    SourceDoc,
    chunk_document,
    discover_shipped,
    discover_user_paths,
    user_ref_for_indexed,
)

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from llama_index.core.schema import TextNode

    from advisor.embedding import LocalEmbedder

__all__ = ["DocumentInfo", "IndexError_", "IngestReport", "KnowledgeIndex", "open_index"]

log = logging.getLogger(__name__)
_GET_PAGE = 5000
# Bump when chunking or passage layout changes, so every document is re-embedded once.
_LAYOUT_VERSION = "1"
_EMBED_KEYS = ("title", "section")
_KEEP = "keep"  # content hash of an indexed document that could not be re-read this time


def _no_load() -> SourceDoc:
    raise SkippedFile("not reloaded")


class IndexError_(RuntimeError):
    """The index cannot be opened or written; the message says what to fix."""


@dataclass
class IngestReport:
    """What an ingest did."""

    documents: int = 0
    unchanged: int = 0
    added_docs: int = 0
    updated_docs: int = 0
    removed_docs: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    embedded: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for people."""
        return (
            f"{self.documents} documents ({self.added_docs} new, {self.updated_docs} changed, "
            f"{self.unchanged} unchanged, {self.removed_docs} removed); chunks +{self.chunks_added} "
            f"-{self.chunks_removed}; {len(self.skipped)} skipped; {self.seconds:.1f}s"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class DocumentInfo:
    """One document in the index: its id, kind (guide, catalog, user), title, path and number of passages."""

    doc_id: str
    kind: str
    title: str
    path: str
    chunks: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class _DocState:
    hashes: set[str] = field(default_factory=set)
    count: int = 0
    expected: int = -1
    ids: list[str] = field(default_factory=list)


class KnowledgeIndex:
    """One Chroma collection of passages with their embeddings, and the ingest that keeps it current."""

    def __init__(self, settings: Settings, *, embedder: LocalEmbedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._collection: Collection | None = None
        self._vector_store: Any = None
        self._client: Any = None
        self._splitter: Any = None
        self._generation: tuple[float, str] | None = None

    # -- plumbing ---------------------------------------------------------------------------------------
    @property
    def embedder(self) -> LocalEmbedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            from advisor.embedding import load_embedder

            self._embedder = load_embedder(
                self.settings.resolved_embed_model_path(), encode_batch_size=self.settings.embed_batch_size
            )
        return self._embedder

    @property
    def collection(self) -> Collection:
        """The Chroma collection, created with cosine distance on first use."""
        if self._collection is None:
            self._collection = self._open_collection()
        return self._collection

    def _open_collection(self) -> Collection:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        s = self.settings
        try:
            if s.chroma_host:
                client = chromadb.HttpClient(host=s.chroma_host, port=s.chroma_port, settings=chroma_settings)
            else:
                s.chroma_path.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(s.chroma_path), settings=chroma_settings)
            self._client = client
            return client.get_or_create_collection(
                s.collection, configuration={"hnsw": {"space": "cosine"}}
            )
        except Exception as exc:
            where = f"{s.chroma_host}:{s.chroma_port}" if s.chroma_host else str(s.chroma_path)
            raise IndexError_(f"cannot open the Chroma store at {where}: {exc}") from exc

    def _chroma_client(self) -> Any:
        _ = self.collection
        return self._client

    @property
    def vector_store(self) -> Any:
        """llama-index's view of the collection."""
        if self._vector_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._vector_store = ChromaVectorStore(chroma_collection=self.collection)
        return self._vector_store

    def generation(self, *, max_age_s: float = 2.0) -> str:
        """Changes whenever an ingest changes the collection; caches built from it key on this.

        Another process (or replica) may ingest, so the value is re-read from the store when older than
        max_age_s.
        """
        now = time.monotonic()
        if self._generation is None or now - self._generation[0] > max_age_s:
            fresh = self._chroma_client().get_collection(self.settings.collection)
            self._generation = (now, str((fresh.metadata or {}).get("generation", "0")))
        return self._generation[1]

    def _bump_generation(self) -> None:
        value = uuid.uuid4().hex
        changed = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.collection.modify(metadata={"generation": value, "changed_at": changed})
        self._generation = (time.monotonic(), value)

    def changed_at(self) -> str | None:
        """When an ingest or a removal last changed the collection (ISO 8601, UTC), or None if never recorded."""
        fresh = self._chroma_client().get_collection(self.settings.collection)
        value = (fresh.metadata or {}).get("changed_at")
        return None if value is None else str(value)

    def documents(self, *, kind: str | None = None) -> list[DocumentInfo]:
        """The documents in the index with their chunk counts, shipped guides first, then catalog and user files."""
        found: dict[str, DocumentInfo] = {}
        for _, _, meta in self.iter_records():
            doc_id = str(meta.get("doc_id", ""))
            if kind is not None and meta.get("kind") != kind:
                continue
            info = found.get(doc_id)
            if info is None:
                found[doc_id] = DocumentInfo(doc_id, str(meta.get("kind", "")), str(meta.get("title", "")),
                                             str(meta.get("path", "")), 1)
            else:
                info.chunks += 1
        order = {"guide": 0, "catalog": 1, "user": 2}
        return sorted(found.values(), key=lambda d: (order.get(d.kind, 3), d.path, d.doc_id))

    def remove_document(self, doc_id: str) -> int:
        """Remove a user document's passages and return how many went; shipped knowledge cannot be removed (the
        next ingest would bring it back), and an unknown id is an error naming it."""
        if not doc_id.startswith("user:"):
            raise IndexError_(f"{doc_id!r} is shipped knowledge, not a user document; only user documents can be "
                              "removed")
        ids = [id_ for id_, _, meta in self.iter_records() if meta.get("doc_id") == doc_id]
        if not ids:
            raise IndexError_(f"no document {doc_id!r} in the index")
        self._bump_generation()
        for start in range(0, len(ids), _GET_PAGE):
            self.collection.delete(ids=ids[start : start + _GET_PAGE])
        self._bump_generation()
        return len(ids)

    def count(self) -> int:
        """Passages in the collection."""
        return int(self.collection.count())

    def iter_records(self, include: Sequence[str] = ("metadatas",)) -> Iterator[tuple[str, str, dict]]:
        """Every (id, document text, metadata) in the collection, paged."""
        offset = 0
        while True:
            page = self.collection.get(limit=_GET_PAGE, offset=offset, include=list(include))  # type: ignore[arg-type]
            ids = page["ids"]
            if not ids:
                return
            docs = page.get("documents") or [""] * len(ids)
            metas = page.get("metadatas") or [{}] * len(ids)
            for i, id_ in enumerate(ids):
                yield id_, docs[i] or "", dict(metas[i] or {})
            offset += len(ids)

    # -- ingest -----------------------------------------------------------------------------------------
    def _salt(self) -> str:
        # Identifies the embedding model without loading it, so a no-change ingest embeds and loads nothing.
        s = self.settings
        model_dir = s.resolved_embed_model_path()
        weights = sorted((p.name, p.stat().st_size) for p in model_dir.glob("*.safetensors"))
        return f"{_LAYOUT_VERSION}|{model_dir.name}|{weights}|{s.chunk_size}|{s.chunk_overlap}|"

    def _state(self) -> dict[str, _DocState]:
        states: dict[str, _DocState] = defaultdict(_DocState)
        for id_, _, meta in self.iter_records():
            state = states[str(meta.get("doc_id", id_))]
            state.hashes.add(str(meta.get("doc_hash", "")))
            state.count += 1
            state.expected = int(meta.get("n_chunks", -1))
            state.ids.append(id_)
        return states

    def ingest(self, paths: Iterable[Path] = (), *, progress: bool | None = None) -> IngestReport:
        """Bring the collection in line with the shipped knowledge and the given user files."""
        started = time.perf_counter()
        report = IngestReport()
        s = self.settings
        salt = self._salt()
        max_bytes = int(s.max_file_mb * 1e6)
        refs = discover_shipped(s.knowledge_dir, salt=salt, catalog_path=s.catalog_path)
        user_refs, report.skipped = discover_user_paths(paths, salt=salt, max_bytes=max_bytes)
        wanted: dict[str, DocRef] = {r.doc_id: r for r in refs}
        wanted.update({r.doc_id: r for r in user_refs})

        states = self._state()
        # User documents ingested earlier stay in the index and are refreshed; gone files are removed.
        for doc_id in states:
            if doc_id.startswith("user:") and doc_id not in wanted:
                try:
                    ref = user_ref_for_indexed(doc_id, salt=salt, max_bytes=max_bytes)
                except SkippedFile as exc:
                    report.skipped.append(f"{exc} (kept its earlier passages)")
                    wanted[doc_id] = DocRef(doc_id, "user", doc_id[5:], _KEEP, _no_load)
                    continue
                if ref is not None:
                    wanted[doc_id] = ref

        to_remove = {d for d in states if d not in wanted}
        report.removed_docs = len(to_remove)
        docs: list[tuple[SourceDoc, str]] = []
        for doc_id, ref in wanted.items():
            state = states.get(doc_id)
            if ref.content_hash == _KEEP:
                continue
            if state and state.hashes == {ref.content_hash} and state.count == state.expected:
                report.unchanged += 1
                continue
            try:  # parse before touching the index, so a file that went bad keeps its old passages
                docs.append((ref.load(), ref.content_hash))
            except SkippedFile as exc:
                report.skipped.append(f"{exc}" + (" (kept its earlier passages)" if state else ""))
                continue
            if state:
                report.updated_docs += 1
                to_remove.add(doc_id)
            else:
                report.added_docs += 1
        report.documents = len(wanted)

        if to_remove or docs:
            # The generation changes before and after writing, so a reader never caches a half-written state
            # under a generation that claims to be final.
            self._bump_generation()
            for doc_id in sorted(to_remove):
                ids = states[doc_id].ids
                for start in range(0, len(ids), _GET_PAGE):
                    self.collection.delete(ids=ids[start : start + _GET_PAGE])
                report.chunks_removed += len(ids)
            report.chunks_added = self._embed_and_add(docs, progress)
            report.embedded = report.chunks_added
            self._bump_generation()
        report.seconds = time.perf_counter() - started
        return report

    def _nodes_for(self, doc: SourceDoc, doc_hash: str) -> list[TextNode]:
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        if self._splitter is None:
            # Sized in the embedder's own word pieces; a section that fits comes back whole after one tokenization.
            self._splitter = SentenceSplitter(
                chunk_size=self.settings.chunk_size, chunk_overlap=self.settings.chunk_overlap,
                tokenizer=self.embedder._model.tokenizer.tokenize,
            )
        chunks = chunk_document(doc, self._splitter.split_text)
        nodes = []
        for i, chunk in enumerate(chunks):
            meta: dict[str, Any] = {
                "title": doc.title, "section": chunk.section, "kind": doc.kind, "path": doc.path,
                "doc_id": doc.doc_id, "doc_hash": doc_hash, "chunk_index": i, "n_chunks": len(chunks),
                **doc.extra,
            }
            meta["kind"] = doc.kind
            node = TextNode(
                id_=f"{doc.doc_id}::{i}", text=chunk.text, metadata=meta,
                excluded_embed_metadata_keys=[k for k in meta if k not in _EMBED_KEYS],
                excluded_llm_metadata_keys=[k for k in meta if k not in _EMBED_KEYS],
            )
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc.doc_id)
            nodes.append(node)
        return nodes

    def _embed_and_add(self, docs: list[tuple[SourceDoc, str]], progress: bool | None) -> int:
        from llama_index.core.ingestion import IngestionPipeline

        pipeline = IngestionPipeline(
            transformations=[self.embedder], vector_store=self.vector_store, disable_cache=True
        )
        show = sys.stderr.isatty() if progress is None else progress
        bar = None
        if show:
            from tqdm import tqdm

            bar = tqdm(total=len(docs), unit="doc", desc="ingest", file=sys.stderr, leave=False)
        added = 0
        batch: list[TextNode] = []
        batch_docs = 0
        # Big enough for sentence-transformers to sort by length, well under Chroma's add limit.
        limit = min(512, int(self._chroma_client().get_max_batch_size()))
        for i, (doc, doc_hash) in enumerate(docs):
            batch.extend(self._nodes_for(doc, doc_hash))
            batch_docs += 1
            if len(batch) >= limit or i == len(docs) - 1:
                pipeline.run(nodes=batch)
                added += len(batch)
                if bar is not None:
                    bar.update(batch_docs)
                batch, batch_docs = [], 0
        if bar is not None:
            bar.close()
        return added


def open_index(settings: Settings, *, embedder: LocalEmbedder | None = None) -> KnowledgeIndex:
    """A KnowledgeIndex for settings."""
    return KnowledgeIndex(settings, embedder=embedder)
