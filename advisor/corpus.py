"""Find, read and chunk documents: the shipped guides and catalog, and a user's Markdown, text, PDF and HTML."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Block",
    "Chunk",
    "DocRef",
    "SkippedFile",
    "SourceDoc",
    "chunk_document",
    "discover_shipped",
    "discover_user_paths",
    "load_user_file",
    "parse_markdown",
]

Kind = Literal["guide", "catalog", "user"]
SUPPORTED_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
                      ".pdf": "pdf", ".html": "html", ".htm": "html"}
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^(```|~~~)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class SkippedFile(Exception):
    """A file that cannot be ingested; the message says why in one line."""


@dataclass(frozen=True)
class Block:
    """A run of text under one heading trail (or one PDF page)."""

    section: str
    text: str


@dataclass(frozen=True)
class SourceDoc:
    """A parsed document ready to chunk."""

    doc_id: str
    kind: Kind
    path: str
    title: str
    blocks: tuple[Block, ...]
    extra: dict[str, str | int | float | bool] = field(default_factory=dict)
    whole: bool = False  # keep as one passage (catalog entries)


@dataclass(frozen=True)
class DocRef:
    """A document found on disk or in the catalog, with the hash that decides whether to re-embed it."""

    doc_id: str
    kind: Kind
    path: str
    content_hash: str
    load: Callable[[], SourceDoc]


@dataclass(frozen=True)
class Chunk:
    """One passage to embed."""

    section: str
    text: str


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    return _CONTROL.sub("", text)


def parse_markdown(text: str, *, fallback_title: str) -> tuple[str, list[Block]]:
    """Split Markdown into (title, blocks): the first H1 is the title, deeper headings form the section trail."""
    title = ""
    trail: list[tuple[int, str]] = []
    blocks: list[Block] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body:
            blocks.append(Block(" > ".join(h for _, h in trail), body))
        lines.clear()

    for line in _clean(text).split("\n"):
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            lines.append(line)
            continue
        level, heading = len(match.group(1)), match.group(2).strip().strip("*_").strip()
        flush()
        if level == 1 and not title:
            title, trail = heading, []
            continue
        trail = [(lvl, h) for lvl, h in trail if lvl < level] + [(level, heading)]
    flush()
    return title or fallback_title, blocks


def _decode_text(data: bytes, path: Path) -> str:
    if b"\x00" in data[:8192]:
        raise SkippedFile(f"{path}: looks binary (NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkippedFile(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _pdf_blocks(path: Path) -> tuple[str, list[Block]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise SkippedFile(f"{path}: encrypted PDF; decrypt it first")
        info_title = (reader.metadata.title if reader.metadata else None) or ""
        blocks = []
        for number, page in enumerate(reader.pages, start=1):
            text = _clean(page.extract_text() or "").strip()
            if text:
                blocks.append(Block(f"Page {number}", text))
    except SkippedFile:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise SkippedFile(f"{path}: unreadable PDF ({type(exc).__name__}: {exc})") from None
    return str(info_title).strip(), blocks


def _html_blocks(html: str) -> tuple[str, list[Block]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav", "footer"]):
        tag.decompose()
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    body = soup.body or soup
    # Re-express the page as Markdown headings and paragraphs, then reuse the Markdown splitter.
    parts: list[str] = []
    for element in body.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "td", "th",
                                  "blockquote", "dd", "dt"]):
        if element.find_parent(["p", "li", "pre", "td", "th", "blockquote"]) is not None:
            continue
        text = element.get_text(" ", strip=True)
        if not text:
            continue
        if element.name and element.name[0] == "h" and element.name[1:].isdigit():
            parts.append("#" * int(element.name[1:]) + " " + text)
        else:
            parts.append(("- " if element.name == "li" else "") + text)
    title, blocks = parse_markdown("\n\n".join(parts), fallback_title=page_title)
    return page_title or title, blocks


def load_user_file(path: Path, *, max_bytes: int) -> SourceDoc:
    """Read a user file into a SourceDoc, or raise SkippedFile with a one-line reason."""
    fmt = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise SkippedFile(f"{path}: unsupported file type {path.suffix or '(none)'!r}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SkippedFile(f"{path}: too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.1f} MB)")
        data = b"" if fmt == "pdf" else path.read_bytes()
    except OSError as exc:
        raise SkippedFile(f"{path}: cannot read ({exc.strerror or exc})") from None
    if fmt == "pdf":
        title, blocks = _pdf_blocks(path)
    else:
        text = _decode_text(data, path)
        if fmt == "markdown":
            title, blocks = parse_markdown(text, fallback_title="")
        elif fmt == "html":
            title, blocks = _html_blocks(text)
        else:
            title, blocks = "", [Block("", _clean(text).strip())] if text.strip() else []
    if not any(b.text.strip() for b in blocks):
        raise SkippedFile(f"{path}: no text to index (empty{' or scanned' if fmt == 'pdf' else ''})")
    doc_id = f"user:{path}"
    return SourceDoc(doc_id, "user", str(path), title or path.stem, tuple(blocks))


def _file_ref(path: Path, *, doc_id: str, kind: Kind, shown: str, salt: str, max_bytes: int) -> DocRef:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SkippedFile(f"{path}: too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.1f} MB)")
        digest = _sha(salt.encode() + path.read_bytes())
    except OSError as exc:
        raise SkippedFile(f"{path}: cannot read ({exc.strerror or exc})") from None
    if kind == "guide":
        def load() -> SourceDoc:
            title, blocks = parse_markdown(path.read_text(encoding="utf-8"), fallback_title=path.stem)
            return SourceDoc(doc_id, "guide", shown, title, tuple(blocks))
    else:
        def load() -> SourceDoc:
            return load_user_file(path, max_bytes=max_bytes)
    return DocRef(doc_id, kind, shown, digest, load)


def discover_shipped(knowledge_dir: Path, *, salt: str, catalog_path: Path) -> list[DocRef]:
    """The shipped guides (knowledge_dir/guides, one document per file) and catalog entries (one per model)."""
    refs: list[DocRef] = []
    for path in sorted((knowledge_dir / "guides").glob("*.md")):
        rel = path.relative_to(knowledge_dir).as_posix()
        refs.append(_file_ref(path, doc_id=rel, kind="guide", shown=rel, salt=salt, max_bytes=10**8))
    if catalog_path.is_file():
        from advisor.catalog import load_catalog

        for entry in load_catalog(catalog_path).models:
            text = entry.passage_text()
            doc = SourceDoc(
                doc_id=f"models.yaml#{entry.id}", kind="catalog", path="models.yaml", title=entry.name,
                blocks=(Block(entry.id, text),), extra=dict(entry.passage_metadata()), whole=True,
            )
            refs.append(DocRef(doc.doc_id, "catalog", "models.yaml", _sha((salt + text).encode()),
                               lambda doc=doc: doc))  # type: ignore[misc]
    return refs


def _walk(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES and not any(
                part.startswith(".") for part in child.relative_to(path).parts
            ):
                yield child
    else:
        yield path


def discover_user_paths(
    paths: Iterable[Path], *, salt: str, max_bytes: int
) -> tuple[list[DocRef], list[str]]:
    """DocRefs for the files in paths (folders are walked), and one-line reasons for what was skipped."""
    refs: dict[str, DocRef] = {}
    skipped: list[str] = []
    for given in paths:
        if not given.exists():
            skipped.append(f"{given}: no such file or directory")
            continue
        for path in _walk(given.resolve()):
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(f"{path}: unsupported file type {path.suffix or '(none)'!r}")
                continue
            try:
                ref = _file_ref(path, doc_id=f"user:{path}", kind="user", shown=str(path), salt=salt,
                                max_bytes=max_bytes)
            except SkippedFile as exc:
                skipped.append(str(exc))
                continue
            refs[ref.doc_id] = ref
    return list(refs.values()), skipped


def user_ref_for_indexed(doc_id: str, *, salt: str, max_bytes: int) -> DocRef | None:
    """Re-discover a user document already in the index; None when its file is gone."""
    path = Path(doc_id.removeprefix("user:"))
    if not path.is_file():
        return None
    return _file_ref(path, doc_id=doc_id, kind="user", shown=str(path), salt=salt, max_bytes=max_bytes)


def chunk_document(doc: SourceDoc, split: Callable[[str], list[str]]) -> list[Chunk]:
    """Chunks that follow the document's sections; split() breaks a section that is too long by sentences."""
    chunks: list[Chunk] = []
    for block in doc.blocks:
        pieces = [block.text] if doc.whole else split(block.text)
        chunks.extend(Chunk(block.section, piece) for piece in pieces if piece.strip())
    return chunks
