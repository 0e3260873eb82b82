"""The Knowledge tab: add Markdown, text, PDF or HTML files to the index (with progress), see its documents,
passages and last change, search it, and remove an uploaded document.

Uploaded files are kept under the data folder's uploads/ (Gradio's own copies are temporary), so later ingests
refresh them like any user file; a file the index cannot read is removed again and named in the message.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

if TYPE_CHECKING:
    from advisor.advisor import Advisor
    from advisor.index import KnowledgeIndex

__all__ = ["UPLOAD_TYPES", "KnowledgeTab", "build_knowledge", "safe_name"]

UPLOAD_TYPES = [".md", ".markdown", ".txt", ".text", ".pdf", ".html", ".htm"]
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_name(name: str) -> str:
    """A file name that stays inside the uploads folder: no path, no odd characters, never empty or hidden."""
    base = _UNSAFE.sub("_", Path(name).name).strip(" .") or "upload"
    return base[:120]


@dataclass
class KnowledgeTab:
    """The tab's components; the index is the Advisor's own, so a new file is searchable at once."""

    advisor: Advisor
    documents: gr.Dataframe
    stats: gr.Markdown
    removable: gr.Dropdown

    @property
    def index(self) -> KnowledgeIndex:
        """The index behind the Advisor's retriever."""
        return self.advisor.retriever.index

    def add(self, files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008 - Gradio's way to ask for progress
        """Copy each file into uploads/, ingest it and say what happened to each, by name."""
        if not files:
            return ("⚠️ Choose one or more files first (Markdown, text, PDF or HTML).", *self.listing())
        folder = self.advisor.settings.uploads_dir
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for i, upload in enumerate(files):
            name = Path(str(upload)).name
            progress((i, len(files)), desc=f"Indexing {name}")
            if Path(name).suffix.lower() not in UPLOAD_TYPES:
                lines.append(f"⚠️ **{name}**: unsupported file type; use {', '.join(UPLOAD_TYPES)}")
                continue
            target = folder / safe_name(name)
            existed = target.exists()
            shutil.copyfile(str(upload), target)
            report = self.index.ingest([target], progress=False)
            problems = [s for s in report.skipped if str(target) in s]
            if problems:
                if not existed:
                    target.unlink(missing_ok=True)
                reason = problems[0].split(f"{target}: ", 1)[-1]
                lines.append(f"⚠️ **{name}**: not added: {reason}")
            elif report.chunks_added:
                verb = "updated" if report.updated_docs else "added"
                lines.append(f"✓ **{name}**: {verb}, {report.chunks_added} passages ({report.seconds:.1f} s)")
            else:
                lines.append(f"✓ **{name}**: unchanged, already in the index")
        progress((len(files), len(files)), desc="Done")
        return ("\n\n".join(lines), *self.listing())

    def remove(self, doc_id: str | None) -> tuple[Any, ...]:
        """Remove an uploaded document's passages (and its kept copy)."""
        from advisor.index import IndexError_

        if not doc_id:
            return ("⚠️ Choose an uploaded document to remove.", *self.listing())
        try:
            removed = self.index.remove_document(doc_id)
        except IndexError_ as exc:
            return (f"⚠️ {exc}", *self.listing())
        path = Path(doc_id.removeprefix("user:"))
        if path.parent == self.advisor.settings.uploads_dir.resolve():
            path.unlink(missing_ok=True)  # only our own copy; a file ingested from elsewhere stays where it is
        return (f"Removed **{path.name}** ({removed} passages).", *self.listing())

    def listing(self) -> tuple[Any, ...]:
        """The documents table, the totals line and the choices of removable documents."""
        docs = self.index.documents()
        rows = [[d.kind, d.title, d.path, d.chunks, d.doc_id] for d in docs]
        users = [(f"{Path(d.path).name} — {d.title}", d.doc_id) for d in docs if d.kind == "user"]
        chunks = sum(d.chunks for d in docs)
        by_kind = {kind: sum(1 for d in docs if d.kind == kind) for kind in ("guide", "catalog", "user")}
        stats = (f"**{len(docs)} documents, {chunks} passages** ({by_kind['guide']} guides, {by_kind['catalog']} "
                 f"catalog entries, {by_kind['user']} of yours); last changed "
                 f"{self.index.changed_at() or 'before this version recorded it'} (UTC).")
        return rows, stats, gr.update(choices=users, value=None)

    def search(self, query: str) -> str:
        """The best passages for a query, as the advisor would retrieve them."""
        from advisor.retrieval import QueryError

        try:
            hits = self.advisor.retriever.search(query or "", k=5)
        except QueryError as exc:
            return f"⚠️ {exc}"
        if not hits:
            return "No passages found."
        return "\n\n".join(f"**[{i}] {h.title}** — {h.section or h.path} `({h.kind}, score {h.score:.3f})`\n\n"
                           f"> {' '.join(h.text.split())[:400]}" for i, h in enumerate(hits, start=1))


def build_knowledge(advisor: Advisor, *, max_file_mb: float) -> KnowledgeTab:
    """Lay out the Knowledge tab (inside an open gr.Tab) and wire its events."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            files = gr.File(label=f"Add files (Markdown, text, PDF, HTML; up to {max_file_mb:g} MB each)",
                            file_count="multiple", file_types=UPLOAD_TYPES, elem_id="kb-files")
            add = gr.Button("Add to the index", variant="primary", elem_id="kb-add")
            result = gr.Markdown(elem_id="kb-result")
            with gr.Row():
                removable = gr.Dropdown([], label="Your documents", elem_id="kb-removable", scale=3)
                remove = gr.Button("Remove", variant="stop", elem_id="kb-remove", scale=1)
            query = gr.Textbox(label="Search the index", elem_id="kb-query", max_lines=1,
                               placeholder="e.g. data residency rules")
            hits = gr.Markdown(elem_id="kb-hits")
        with gr.Column(scale=3):
            stats = gr.Markdown(elem_id="kb-stats")
            documents = gr.Dataframe(headers=["kind", "title", "path", "passages", "doc id"], elem_id="kb-documents",
                                     interactive=False, wrap=True, max_height=520, show_search="search")
    tab = KnowledgeTab(advisor, documents, stats, removable)
    listing = [documents, stats, removable]
    # Ingesting embeds on the CPU: one at a time, so two uploads never race on the same document.
    add.click(tab.add, [files], [result, *listing], concurrency_limit=1, concurrency_id="ingest")
    remove.click(tab.remove, [removable], [result, *listing], concurrency_limit=1, concurrency_id="ingest")
    query.submit(tab.search, [query], [hits], concurrency_limit=None)
    return tab
