"""Conversation store: conversations, turns and feedback in one SQLite file (standard library sqlite3 only).

Concurrency design: every call opens its own short-lived connection and closes it before returning, so no
connection is ever shared between threads, none survives a fork and there is nothing to close. Every write
runs in a `BEGIN IMMEDIATE` transaction: SQLite's file lock then serialises writers across threads and
processes alike, and `busy_timeout` makes a writer wait for the lock instead of failing. WAL lets readers
work while a writer holds the lock. A turn's index is read and inserted inside one such transaction, and
`(conversation_id, idx)` is unique, so concurrent writers get distinct consecutive indexes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.config import Settings

__all__ = ["FEEDBACK_SOURCES", "SCHEMA_VERSION", "Conversation", "Feedback", "NotFoundError", "Store", "StoreError",
           "Turn"]

FEEDBACK_SOURCES: tuple[str, ...] = ("web", "slack", "cli", "eval")
_TITLE_CHARS = 80

# Entry i migrates the schema from version i to i + 1. Append new entries; never edit a released one.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY, external_id TEXT UNIQUE, title TEXT,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        """CREATE TABLE turns (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            idx INTEGER NOT NULL, created_at TEXT NOT NULL,
            user_text TEXT NOT NULL, answer TEXT NOT NULL, standalone_question TEXT, recommendation TEXT,
            sources_json TEXT NOT NULL, profile_json TEXT, scores_json TEXT,
            model TEXT NOT NULL, latency_s REAL NOT NULL, usage_json TEXT NOT NULL, cost_usd REAL, error TEXT,
            UNIQUE (conversation_id, idx))""",
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            turn_id TEXT NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
            rating INTEGER NOT NULL CHECK (rating IN (-1, 1)), comment TEXT,
            source TEXT NOT NULL CHECK (source IN ('web', 'slack', 'cli')), created_at TEXT NOT NULL)""",
        "CREATE INDEX feedback_turn ON feedback (turn_id)",
        "CREATE INDEX conversations_updated ON conversations (updated_at)",
    ),
    (
        # A turn the user stopped is kept with what was written; its kind (situation, fact, ...) is recorded.
        "ALTER TABLE turns ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE turns ADD COLUMN kind TEXT",
        # Evals record feedback too; SQLite cannot change a CHECK constraint in place, so the table is rebuilt.
        """CREATE TABLE feedback_v2 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            turn_id TEXT NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
            rating INTEGER NOT NULL CHECK (rating IN (-1, 1)), comment TEXT,
            source TEXT NOT NULL CHECK (source IN ('web', 'slack', 'cli', 'eval')), created_at TEXT NOT NULL)""",
        "INSERT INTO feedback_v2 (id, turn_id, rating, comment, source, created_at)"
        " SELECT id, turn_id, rating, comment, source, created_at FROM feedback",
        "DROP TABLE feedback",
        "ALTER TABLE feedback_v2 RENAME TO feedback",
        "CREATE INDEX feedback_turn ON feedback (turn_id)",
    ),
    (
        # The claim check's tally and the cost model's figures behind each answer.
        "ALTER TABLE turns ADD COLUMN checks_json TEXT",
        "ALTER TABLE turns ADD COLUMN costs_json TEXT",
    ),
    (
        # Deliveries already taken (Slack event ids): a retry, or a second replica, answers nothing twice.
        "CREATE TABLE claims (key TEXT PRIMARY KEY, claimed_at TEXT NOT NULL)",
        "CREATE INDEX claims_claimed ON claims (claimed_at)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

# Column aliases are the dataclass field names, so a row becomes a value with `Cls(**row)`.
_JSON_FIELDS = ("sources", "profile", "scores", "usage", "checks", "costs")
_TURN_SELECT = (
    'SELECT id, conversation_id, idx AS "index", created_at, user_text AS user, answer, standalone_question,'
    " recommendation, sources_json AS sources, profile_json AS profile, scores_json AS scores, model, latency_s,"
    " usage_json AS usage, cost_usd, error, stopped, kind, checks_json AS checks, costs_json AS costs FROM turns"
)
_CONVERSATION_SELECT = (
    "SELECT c.id, c.external_id, c.title, c.created_at, c.updated_at,"
    " (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id) AS turn_count FROM conversations c"
)
_FEEDBACK_SELECT = (
    "SELECT f.id, f.turn_id, t.conversation_id, t.idx AS turn_index, f.rating, f.comment, f.source, f.created_at"
    " FROM feedback f JOIN turns t ON t.id = f.turn_id"
)


class StoreError(RuntimeError):
    """The store cannot do what was asked; the message is one line."""


class NotFoundError(StoreError, KeyError):
    """An id names no conversation or turn."""

    def __str__(self) -> str:
        # KeyError would quote the message.
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Conversation:
    """One conversation: its id, optional external key (a Slack thread), title and size."""

    id: str
    external_id: str | None
    title: str | None
    created_at: str
    updated_at: str
    turn_count: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True)
class Turn:
    """One question and answer, with what produced it: sources, profile, scores, model, latency, usage, cost."""

    id: str
    conversation_id: str
    index: int
    created_at: str
    user: str
    answer: str
    standalone_question: str | None
    recommendation: str | None
    sources: list[dict[str, Any]]
    profile: dict[str, Any] | None
    scores: dict[str, Any] | None
    model: str
    latency_s: float
    usage: dict[str, Any]
    cost_usd: float | None
    error: str | None
    stopped: bool = False
    kind: str | None = None
    checks: dict[str, Any] | None = None  # the claim check's tally for the answer
    costs: dict[str, Any] | None = None  # the cost model's figures behind the answer's Costs section

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready deep copy."""
        return asdict(self)


@dataclass(frozen=True)
class Feedback:
    """A thumbs up (+1) or down (-1) on one turn, from the web page, Slack or the CLI."""

    id: int
    turn_id: str
    conversation_id: str
    turn_index: int
    rating: int
    comment: str | None
    source: str
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _new_id() -> str:
    return uuid.uuid4().hex


def _dump(value: object, name: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{name} is not plain JSON: {exc}") from exc


def _title(user: str) -> str | None:
    text = " ".join(user.split())
    if not text:
        return None
    return text if len(text) <= _TITLE_CHARS else text[: _TITLE_CHARS - 1].rstrip() + "…"


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction holding the write lock from its start, so no later lock upgrade can fail."""
    conn.execute("BEGIN IMMEDIATE")  # waits up to busy_timeout for other writers, in any thread or process
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.execute("COMMIT")


def _check_rating(rating: object) -> None:
    if isinstance(rating, bool) or rating not in (1, -1):
        raise StoreError(f"rating must be +1 or -1, got {rating!r}")


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise StoreError(f"limit must be a whole number >= 0, got {limit!r}")


def _turn(row: sqlite3.Row) -> Turn:
    data = dict(row)
    for name in _JSON_FIELDS:
        data[name] = None if data[name] is None else json.loads(data[name])
    data["stopped"] = bool(data["stopped"])
    return Turn(**data)


class Store:
    """Conversations, turns and feedback in a SQLite file; safe to share across threads and processes."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._ready = False
        self._init_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """The store at `settings.db_path`."""
        return cls(settings.db_path)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # --- conversations ---------------------------------------------------------------------------------------

    def new_conversation(self, *, external_id: str | None = None, title: str | None = None) -> str:
        """Start a conversation and return its id (uuid4 hex)."""
        if external_id is not None and not external_id:
            raise StoreError("external_id must not be empty")
        conversation_id, now = _new_id(), _now()
        with self._transaction() as conn:
            if external_id is not None:
                row = conn.execute("SELECT id FROM conversations WHERE external_id = ?", (external_id,)).fetchone()
                if row is not None:
                    raise StoreError(f"external id {external_id!r} already belongs to conversation {row['id']}")
            conn.execute(
                "INSERT INTO conversations (id, external_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (conversation_id, external_id, title, now, now))
        return conversation_id

    def conversation_for_external(self, external_id: str, *, title: str | None = None) -> str:
        """The conversation id for an external key such as a Slack thread, created on first sight."""
        if not external_id:
            raise StoreError("external_id must not be empty")
        now = _now()
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO conversations (id, external_id, title, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)", (_new_id(), external_id, title, now, now))
            row = conn.execute("SELECT id FROM conversations WHERE external_id = ?", (external_id,)).fetchone()
        return str(row["id"])

    def find_external(self, external_id: str) -> str | None:
        """The conversation id for an external key, or None when it was never used (nothing is created)."""
        with self._connect() as conn:
            row = conn.execute("SELECT id FROM conversations WHERE external_id = ?", (external_id,)).fetchone()
        return None if row is None else str(row["id"])

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation with this id, or None."""
        with self._connect() as conn:
            row = conn.execute(f"{_CONVERSATION_SELECT} WHERE c.id = ?", (conversation_id,)).fetchone()
        return None if row is None else Conversation(**row)

    def list_conversations(self, *, limit: int = 50) -> list[Conversation]:
        """The most recently active conversations first."""
        _check_limit(limit)
        with self._connect() as conn:
            rows = conn.execute(f"{_CONVERSATION_SELECT} ORDER BY c.updated_at DESC, c.id LIMIT ?",
                                (limit,)).fetchall()
        return [Conversation(**row) for row in rows]

    # --- turns -----------------------------------------------------------------------------------------------

    def add_turn(
        self,
        conversation_id: str,
        *,
        user: str,
        answer: str,
        standalone_question: str | None,
        recommendation: str | None,
        sources: Sequence[Mapping[str, Any]],
        profile: Mapping[str, Any] | None,
        scores: Mapping[str, Any] | None,
        model: str,
        latency_s: float,
        usage: Mapping[str, Any],
        cost_usd: float | None,
        error: str | None = None,
        stopped: bool = False,
        kind: str | None = None,
        turn_id: str | None = None,
        checks: Mapping[str, Any] | None = None,
        costs: Mapping[str, Any] | None = None,
    ) -> Turn:
        """Append a turn to a conversation; its index is the next one, assigned atomically (turn_id: a new id
        given in advance, so a turn can be named before it is stored)."""
        if not math.isfinite(latency_s) or latency_s < 0:
            raise StoreError(f"latency_s must be a finite number >= 0, got {latency_s!r}")
        if cost_usd is not None and (not math.isfinite(cost_usd) or cost_usd < 0):
            raise StoreError(f"cost_usd must be a finite number >= 0 or None, got {cost_usd!r}")
        if isinstance(sources, str | bytes | Mapping):
            raise StoreError(f"sources must be a list of objects, got {type(sources).__name__}")
        sources_json = _dump(list(sources), "sources")
        profile_json = None if profile is None else _dump(dict(profile), "profile")
        scores_json = None if scores is None else _dump(dict(scores), "scores")
        usage_json = _dump(dict(usage), "usage")
        turn_id, now = turn_id or _new_id(), _now()
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is None:
                raise NotFoundError(f"unknown conversation {conversation_id!r}")
            index = conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM turns WHERE conversation_id = ?",
                                 (conversation_id,)).fetchone()[0]
            conn.execute(
                "INSERT INTO turns (id, conversation_id, idx, created_at, user_text, answer, standalone_question,"
                " recommendation, sources_json, profile_json, scores_json, model, latency_s, usage_json, cost_usd,"
                " error, stopped, kind, checks_json, costs_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (turn_id, conversation_id, index, now, user, answer, standalone_question, recommendation,
                 sources_json, profile_json, scores_json, model, float(latency_s), usage_json,
                 None if cost_usd is None else float(cost_usd), error, int(bool(stopped)), kind,
                 None if checks is None else _dump(dict(checks), "checks"),
                 None if costs is None else _dump(dict(costs), "costs")))
            # The first question names an untitled conversation in lists.
            conn.execute("UPDATE conversations SET updated_at = ?, title = COALESCE(title, ?) WHERE id = ?",
                         (now, _title(user), conversation_id))
            # Read back, so the caller holds exactly what a later `turns()` returns.
            return _turn(conn.execute(f"{_TURN_SELECT} WHERE id = ?", (turn_id,)).fetchone())

    def turns(self, conversation_id: str, *, limit: int | None = None) -> list[Turn]:
        """A conversation's turns, oldest first; `limit` keeps the most recent ones (an unknown id has none)."""
        _check_limit(limit)
        with self._connect() as conn:
            rows = conn.execute(f"{_TURN_SELECT} WHERE conversation_id = ? ORDER BY idx DESC LIMIT ?",
                                (conversation_id, -1 if limit is None else limit)).fetchall()
        return [_turn(row) for row in reversed(rows)]

    def get_turn(self, turn_id: str) -> Turn | None:
        """The turn with this id, or None."""
        with self._connect() as conn:
            row = conn.execute(f"{_TURN_SELECT} WHERE id = ?", (turn_id,)).fetchone()
        return None if row is None else _turn(row)

    def last_profile(self, conversation_id: str) -> dict[str, Any] | None:
        """The latest profile recorded in a conversation, which the next message completes; None if there is none."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT profile_json FROM turns WHERE conversation_id = ? AND profile_json IS NOT NULL"
                " ORDER BY idx DESC LIMIT 1", (conversation_id,)).fetchone()
        return None if row is None else dict(json.loads(row["profile_json"]))

    # --- feedback --------------------------------------------------------------------------------------------

    def add_feedback(self, turn_id: str, *, rating: int, comment: str | None = None, source: str = "cli") -> int:
        """Record a thumbs up (+1) or down (-1) on a turn; returns the feedback's id."""
        _check_rating(rating)
        if source not in FEEDBACK_SOURCES:
            raise StoreError(f"source must be one of {', '.join(FEEDBACK_SOURCES)}, got {source!r}")
        comment = (comment or "").strip() or None
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM turns WHERE id = ?", (turn_id,)).fetchone() is None:
                raise NotFoundError(f"unknown turn {turn_id!r}")
            cursor = conn.execute(
                "INSERT INTO feedback (turn_id, rating, comment, source, created_at) VALUES (?, ?, ?, ?, ?)",
                (turn_id, int(rating), comment, source, _now()))
            return int(cursor.lastrowid or 0)

    def update_feedback(self, feedback_id: int, *, rating: int | None = None, comment: str | None = None) -> None:
        """Change a recorded feedback's rating and/or comment (a thumb flipped, a comment added afterwards)."""
        if rating is not None:
            _check_rating(rating)
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM feedback WHERE id = ?", (feedback_id,)).fetchone() is None:
                raise NotFoundError(f"unknown feedback {feedback_id!r}")
            if rating is not None:
                conn.execute("UPDATE feedback SET rating = ? WHERE id = ?", (int(rating), feedback_id))
            if comment is not None:
                conn.execute("UPDATE feedback SET comment = ? WHERE id = ?", (comment.strip() or None, feedback_id))

    def feedback(
        self,
        *,
        conversation_id: str | None = None,
        turn_id: str | None = None,
        source: str | None = None,
        rating: int | None = None,
        limit: int | None = None,
    ) -> list[Feedback]:
        """Feedback matching every given filter, oldest first; `limit` keeps the most recent ones."""
        _check_limit(limit)
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (("t.conversation_id", conversation_id), ("f.turn_id", turn_id),
                              ("f.source", source), ("f.rating", rating)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as conn:
            rows = conn.execute(f"{_FEEDBACK_SELECT}{where} ORDER BY f.id DESC LIMIT ?",
                                (*params, -1 if limit is None else limit)).fetchall()
        return [Feedback(**row) for row in reversed(rows)]

    # --- claims --------------------------------------------------------------------------------------------

    def claim(self, key: str, *, keep_days: float = 2.0) -> bool:
        """Take a key (an event id) once: True for the first caller in any process sharing the file, else False.

        Claims older than `keep_days` are forgotten, so the table stays small."""
        if not key or len(key) > 500:
            raise StoreError("a claim key must be 1 to 500 characters")
        now = dt.datetime.now(dt.UTC)
        cutoff = (now - dt.timedelta(days=keep_days)).isoformat(timespec="microseconds")
        with self._transaction() as conn:
            cursor = conn.execute("INSERT OR IGNORE INTO claims (key, claimed_at) VALUES (?, ?)",
                                  (key, now.isoformat(timespec="microseconds")))
            taken = cursor.rowcount == 1
            if taken and now.microsecond % 64 == 0:  # now and then, not on every write
                conn.execute("DELETE FROM claims WHERE claimed_at < ?", (cutoff,))
        return taken

    # --- plumbing --------------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version recorded in the database file."""
        with self._connect() as conn:
            return int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    @contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection with this store's pragmas; sqlite3 errors become one-line StoreErrors."""
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable enough under WAL, and far fewer fsyncs
            yield conn
        except StoreError:
            raise
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:  # SQLITE_NOTADB, SQLITE_CORRUPT
                raise StoreError(f"{self.path} is not an advisor database: {exc}") from exc
            raise StoreError(f"{self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        finally:
            conn.close()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self._ensure_ready()
        with self._open() as conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn, _immediate(conn):
            yield conn

    def _ensure_ready(self) -> None:
        """Create the folder and the schema on first use, or migrate an older schema forward."""
        if self._ready:
            return
        with self._init_lock:
            if self._ready:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {self.path.parent}: {exc.strerror}") from exc
            with self._open() as conn:
                self._enable_wal(conn)
                with _immediate(conn):
                    self._migrate(conn)
            self._ready = True

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL (persistent; readers never block the writer), retrying while others hold it."""
        # Changing the journal mode fails at once when another process has the file open; busy_timeout won't wait.
        deadline, delay = time.monotonic() + self.busy_timeout_s, 0.002
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_version" not in tables:
            if tables - {"sqlite_sequence"}:
                raise StoreError(f"{self.path} is not an advisor database: it holds other tables and no schema_version")
            conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        current = int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])
        known = len(_MIGRATIONS)
        if current > known:
            raise StoreError(f"{self.path} has schema version {current}; this advisor knows up to {known}")
        for version in range(current + 1, known + 1):
            for statement in _MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, _now()))
