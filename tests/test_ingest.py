"""Incremental, idempotent, crash-safe ingestion into a real Chroma with the real embedder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from advisor.config import REPO_ROOT, Settings
from advisor.index import KnowledgeIndex, open_index


def _index(tmp_path: Path, kb: Path, embedder) -> KnowledgeIndex:  # type: ignore[no-untyped-def]
    return open_index(Settings(data_dir=tmp_path / "data", knowledge_dir=kb), embedder=embedder)


def _records(index: KnowledgeIndex) -> list[tuple[str, str, dict]]:
    return list(index.iter_records(include=("documents", "metadatas")))


def _consistent(index: KnowledgeIndex) -> Counter[str]:
    """Assert every document is complete and unduplicated; return chunks per document."""
    records = _records(index)
    ids = [r[0] for r in records]
    assert len(ids) == len(set(ids))
    per_doc = Counter(str(m["doc_id"]) for _, _, m in records)
    for _, _, meta in records:
        assert per_doc[str(meta["doc_id"])] == meta["n_chunks"]
    texts = Counter((m["doc_id"], m["chunk_index"]) for _, _, m in records)
    assert max(texts.values()) == 1
    return per_doc


def test_first_ingest_then_nothing_to_do(tmp_path: Path, small_kb: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    index = _index(tmp_path, small_kb, embedder)
    first = index.ingest(progress=False)
    assert (first.added_docs, first.documents, first.skipped) == (2, 2, [])
    assert first.chunks_added == index.count() == 4  # alpha: intro, Costs, Risks; beta: Hardware
    sections = {(m["title"], m["section"]) for _, _, m in _records(index)}
    assert ("Alpha guide", "Costs") in sections and ("Beta guide", "Hardware") in sections
    generation = index.generation(max_age_s=0)

    again = index.ingest(progress=False)
    assert (again.embedded, again.chunks_added, again.chunks_removed, again.unchanged) == (0, 0, 0, 2)
    assert index.count() == 4
    assert index.generation(max_age_s=0) == generation  # nothing changed, caches stay valid
    assert "0 new, 0 changed, 2 unchanged" in again.summary()


def test_changed_document_replaces_its_chunks_and_deleted_one_goes(tmp_path: Path, small_kb: Path,
                                                                    embedder) -> None:  # type: ignore[no-untyped-def]
    index = _index(tmp_path, small_kb, embedder)
    index.ingest(progress=False)
    (small_kb / "guides" / "alpha.md").write_text(
        "# Alpha guide\n\n## Costs\n\nAlpha now costs a fortune per token.\n", encoding="utf-8")
    report = index.ingest(progress=False)
    assert (report.updated_docs, report.unchanged, report.chunks_removed, report.chunks_added) == (1, 1, 3, 1)
    texts = {m["section"]: t for _, t, m in _records(index) if m["doc_id"] == "guides/alpha.md"}
    assert texts == {"Costs": "Alpha now costs a fortune per token."}

    (small_kb / "guides" / "beta.md").unlink()
    report = index.ingest(progress=False)
    assert (report.removed_docs, report.chunks_removed, report.embedded) == (1, 1, 0)
    assert set(_consistent(index)) == {"guides/alpha.md"}


def test_user_files_of_every_format(tmp_path: Path, small_kb: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfWriter

    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "notes.md").write_text("# Notes\n\n## Latency\n\nOur p95 budget is 300 ms.\n", encoding="utf-8")
    (docs / "sub" / "plain.txt").write_text("Volume is eight billion tokens a month.\n", encoding="utf-8")
    (docs / "page.html").write_text(
        "<html><head><title>Policy</title><script>var x=1</script></head><body>"
        "<h1>Data policy</h1><h2>Residency</h2><p>Customer data stays in the EU.</p></body></html>",
        encoding="utf-8")
    (docs / ".hidden.md").write_text("# Hidden\n\nnot ingested\n", encoding="utf-8")
    pdf_path = docs / "report.pdf"
    _write_pdf(pdf_path, ["Quarterly usage grew to two billion tokens."])
    # An encrypted PDF and other bad input sit beside the good files.
    encrypted = docs / "secret.pdf"
    writer = PdfWriter(clone_from=str(pdf_path))
    writer.encrypt("pw", algorithm="RC4-128")
    with encrypted.open("wb") as fh:
        writer.write(fh)
    (docs / "empty.txt").write_text("  \n", encoding="utf-8")
    (docs / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (docs / "latin1.md").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (docs / "unreadable.txt").symlink_to("/proc/self/mem")  # read() fails with EIO, even for root

    index = _index(tmp_path, small_kb, embedder)
    report = index.ingest([docs, tmp_path / "missing.md"], progress=False)
    reasons = "\n".join(report.skipped)
    assert "secret.pdf: encrypted PDF" in reasons
    assert "empty.txt: no text to index" in reasons
    assert "blob.txt: looks binary" in reasons
    assert "latin1.md: not UTF-8" in reasons
    assert "missing.md: no such file or directory" in reasons
    assert "unreadable.txt: cannot read" in reasons
    assert len(report.skipped) == 6
    by_path = {Path(m["path"]).name: (m["title"], m["section"], t) for _, t, m in _records(index)
               if m["kind"] == "user"}
    assert by_path["notes.md"][:2] == ("Notes", "Latency")
    assert by_path["plain.txt"][2] == "Volume is eight billion tokens a month."
    assert by_path["page.html"] == ("Policy", "Residency", "Customer data stays in the EU.")
    assert by_path["report.pdf"][1] == "Page 1" and "two billion tokens" in by_path["report.pdf"][2]
    assert ".hidden.md" not in by_path

    # User documents stay indexed on later ingests, and go when their file is deleted.
    report = index.ingest(progress=False)
    assert report.embedded == 0 and report.unchanged == 6
    (docs / "sub" / "plain.txt").unlink()
    report = index.ingest(progress=False)
    assert report.removed_docs == 1
    assert "plain.txt" not in {Path(m["path"]).name for _, _, m in _records(index)}


def test_a_file_gone_bad_keeps_its_old_passages(tmp_path: Path, small_kb: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe budget is two million dollars.\n", encoding="utf-8")
    index = _index(tmp_path, small_kb, embedder)
    index.ingest([note], progress=False)
    note.write_bytes(b"\x00\x00 corrupted")
    report = index.ingest([note], progress=False)
    assert len(report.skipped) == 1 and "kept its earlier passages" in report.skipped[0]
    assert any("two million" in t for _, t, _ in _records(index))


def test_a_partial_document_is_repaired(tmp_path: Path, small_kb: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    index = _index(tmp_path, small_kb, embedder)
    index.ingest(progress=False)
    index.collection.delete(ids=["guides/alpha.md::1"])  # as if a write stopped half-way
    report = index.ingest(progress=False)
    assert report.updated_docs == 1 and report.chunks_added == 3
    assert _consistent(index) == Counter({"guides/alpha.md": 3, "guides/beta.md": 1})


def test_kill_9_during_ingest_is_repaired_by_the_next(tmp_path: Path, small_kb: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "many"
    docs.mkdir()
    for i in range(60):
        sections = "".join(f"## Part {j}\n\nDocument {i} part {j} talks about topic {i * j}.\n\n" for j in range(12))
        (docs / f"doc{i:03}.md").write_text(f"# Doc {i}\n\n{sections}", encoding="utf-8")
    data = tmp_path / "data"
    # The child dies by SIGKILL right after its second embedding batch: mid-ingest, with no clean-up.
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from advisor.config import Settings, set_offline_env
        set_offline_env()
        from advisor.embedding import LocalEmbedder
        from advisor.index import open_index
        real = LocalEmbedder._get_text_embeddings
        calls = []
        def dying(self, texts):
            out = real(self, texts)
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        LocalEmbedder._get_text_embeddings = dying
        index = open_index(Settings(data_dir=Path({str(data)!r}), knowledge_dir=Path({str(small_kb)!r})))
        index.ingest([Path({str(docs)!r})], progress=False)
    """)
    child = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, timeout=300,
                           env={**os.environ})
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]

    index = open_index(Settings(data_dir=data, knowledge_dir=small_kb), embedder=embedder)
    partial = index.count()
    assert 0 < partial < 4 + 60 * 12
    report = index.ingest([docs], progress=False)
    assert report.embedded > 0
    per_doc = _consistent(index)
    assert len(per_doc) == 62 and index.count() == 4 + 60 * 12
    assert index.ingest([docs], progress=False).embedded == 0


def test_progress_bar_and_summary_on_a_terminal(tmp_path: Path, small_kb: Path, embedder,
                                                capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    index = _index(tmp_path, small_kb, embedder)
    index.ingest(progress=True)
    err = capsys.readouterr().err
    assert "ingest" in err and "doc" in err  # tqdm wrote its bar to stderr


def _write_pdf(path: Path, pages: list[str]) -> None:
    """A minimal valid PDF with one line of text per page, written by hand (no PDF library needed)."""
    objects: list[bytes] = []
    kids = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    for i, text in enumerate(pages):
        page_id, content_id = 3 + 2 * i, 4 + 2 * i
        kids.append(f"{page_id} 0 R")
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
                       f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    header = [b"<< /Type /Catalog /Pages 2 0 R >>",
              f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {n_pages} >>".encode()]
    all_objects = [*header, *objects, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(all_objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(all_objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(all_objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
