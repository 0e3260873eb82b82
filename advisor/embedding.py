"""The embedder seam: a local sentence-transformers model behind llama-index's embedding interface."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer

__all__ = ["LocalEmbedder", "load_embedder"]


class LocalEmbedder(BaseEmbedding):
    """A sentence-transformers model loaded from a folder, never from a hub."""

    encode_batch_size: int = 32
    cache_size: int = 4096  # vectors kept by text: passages, their sentences and questions recur across turns
    _model: SentenceTransformer = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _cache: OrderedDict[str, np.ndarray] = PrivateAttr(default_factory=OrderedDict)

    def __init__(self, model: SentenceTransformer, *, model_name: str, encode_batch_size: int = 32) -> None:
        # llama-index hands us texts in groups of embed_batch_size; sentence-transformers then sorts each group
        # by length and batches it itself, so a large group keeps padding (and wasted work) low.
        super().__init__(model_name=model_name, embed_batch_size=2048)
        self.encode_batch_size = encode_batch_size
        self._model = model

    @classmethod
    def class_name(cls) -> str:
        return "LocalEmbedder"

    @property
    def dimension(self) -> int:
        """Length of every vector this model produces."""
        dim = self._model.get_sentence_embedding_dimension()
        if dim is None:
            raise ValueError("the embedding model does not report its dimension")
        return int(dim)

    @property
    def max_seq_length(self) -> int:
        """Word pieces the model reads; anything longer is cut off when embedding."""
        length = self._model.max_seq_length
        return int(length) if length is not None else 512

    def count_tokens(self, text: str) -> int:
        """Word pieces in text, without special tokens."""
        return len(self._model.tokenizer.encode(text, add_special_tokens=False))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors for texts, as a float32 matrix; texts seen lately come from a cache (the claim
        check embeds the same passages' sentences turn after turn)."""
        import numpy as np

        texts = list(texts)
        # torch releases the GIL; one encode at a time keeps two threads from fighting over 2 cores.
        with self._lock:
            found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
            missing = [t for t in dict.fromkeys(texts) if t not in found]
            if missing or not texts:
                vectors = self._model.encode(missing, batch_size=self.encode_batch_size, normalize_embeddings=True,
                                             convert_to_numpy=True, show_progress_bar=False)
                if not texts:
                    return vectors
                found.update(zip(missing, vectors, strict=True))
            for text, vector in found.items():
                self._cache[text] = vector
                self._cache.move_to_end(text)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            return np.stack([found[t] for t in texts])

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self.encode([query])[0]]

    def _get_text_embedding(self, text: str) -> list[float]:
        return [float(x) for x in self.encode([text])[0]]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        matrix: Any = self.encode(texts)
        return matrix.tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


@functools.lru_cache(maxsize=4)
def load_embedder(path: Path, *, encode_batch_size: int = 32) -> LocalEmbedder:
    """Load (once per process) the sentence-transformers model in folder path, offline."""
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise FileNotFoundError(f"no sentence-transformers model in {path}")
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.set_verbosity_error()  # no weight-loading bars or over-length token warnings
    transformers.logging.disable_progress_bar()
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    name = path.parent.name if path.name == "model" else path.name
    return LocalEmbedder(model, model_name=name, encode_batch_size=encode_batch_size)
