"""Conversation store: conversations, turns, feedback and claims in SQLite (the default: one file) or PostgreSQL
(shared by replicas on several machines), through SQLAlchemy Core: the same queries and behaviour on both.

Where it lives is a database URL (`ADVISOR_DATABASE_URL`): `sqlite:///PATH` or `postgresql://USER:PASSWORD@HOST:
PORT/DATABASE` (driven by psycopg 3); a plain path means a SQLite file. Nothing is opened until first use, which
creates the schema or runs the missing migrations (advisor.database).

Concurrency design: each Store holds one SQLAlchemy engine (a connection pool, rebuilt in a forked child), and each
call checks out a connection for just that call, so no connection is used by two threads at once. Writes run in
one transaction each. On SQLite that transaction is `BEGIN IMMEDIATE`: the file lock then serialises writers
across threads and processes alike, `busy_timeout` makes a writer wait for it instead of failing, and WAL lets
readers work meanwhile. On PostgreSQL a turn's append first locks its conversation's row (`FOR UPDATE`), so
concurrent writers of one conversation take turns; de-duplication and external ids rely on the primary and unique
keys (`INSERT ... ON CONFLICT DO NOTHING`), and migrations on start hold an advisory lock. Either way a turn's
index is read and inserted inside one transaction, and `(conversation_id, idx)` is unique, so concurrent writers
get distinct consecutive indexes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine, RowMapping

from advisor import database
from advisor.database import (
    CLAIMS,
    CONVERSATIONS,
    FEEDBACK,
    TURNS,
    WRITE_OPTION,
    NotFoundError,
    StoreError,
    build_engine,
    enable_wal,
    mask_url,
    migrate,
    parse_url,
)

if TYPE_CHECKING:
    from advisor.config import Settings

__all__ = ["FEEDBACK_SOURCES", "SCHEMA_VERSION", "Conversation", "Feedback", "NotFoundError", "Store", "StoreError",
           "Turn"]

FEEDBACK_SOURCES: tuple[str, ...] = ("web", "slack", "cli", "eval")
_TITLE_CHARS = 80
SCHEMA_VERSION = len(database.MIGRATIONS)

_C, _T, _F = CONVERSATIONS.c, TURNS.c, FEEDBACK.c
# Column labels are the dataclass field names, so a row becomes a value with `Cls(**row)`.
_JSON_FIELDS = ("sources", "profile", "scores", "usage", "checks", "costs")
_TURN_SELECT = select(
    _T.id, _T.conversation_id, _T.idx.label("index"), _T.created_at, _T.user_text.label("user"), _T.answer,
    _T.standalone_question, _T.recommendation, _T.sources_json.label("sources"), _T.profile_json.label("profile"),
    _T.scores_json.label("scores"), _T.model, _T.latency_s, _T.usage_json.label("usage"), _T.cost_usd, _T.error,
    _T.stopped, _T.kind, _T.checks_json.label("checks"), _T.costs_json.label("costs"))
_TURN_COUNT = (select(func.count()).select_from(TURNS).where(_T.conversation_id == _C.id)
               .correlate(CONVERSATIONS).scalar_subquery())
_CONVERSATION_SELECT = select(_C.id, _C.external_id, _C.title, _C.created_at, _C.updated_at,
                              _TURN_COUNT.label("turn_count"))
_FEEDBACK_SELECT = (select(_F.id, _F.turn_id, _T.conversation_id, _T.idx.label("turn_index"), _F.rating, _F.comment,
                           _F.source, _F.created_at)
                    .select_from(FEEDBACK.join(TURNS, _T.id == _F.turn_id)))


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


def _check_rating(rating: object) -> None:
    if isinstance(rating, bool) or rating not in (1, -1):
        raise StoreError(f"rating must be +1 or -1, got {rating!r}")


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise StoreError(f"limit must be a whole number >= 0, got {limit!r}")


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _turn(row: RowMapping) -> Turn:
    data = dict(row)
    for name in _JSON_FIELDS:
        data[name] = None if data[name] is None else json.loads(data[name])
    data["stopped"] = bool(data["stopped"])
    data["latency_s"] = float(data["latency_s"])
    return Turn(**data)


class Store:
    """Conversations, turns and feedback in SQLite or PostgreSQL; safe to share across threads and processes.

    `target` is a database URL or the path of a SQLite file."""

    def __init__(self, target: Path | str, *, busy_timeout_s: float = 30.0) -> None:
        self._url = parse_url(target)
        self.dialect = "sqlite" if self._url.drivername == "sqlite" else "postgresql"
        # The SQLite file, or None for a database server.
        self.path: Path | None = Path(str(self._url.database)) if self.dialect == "sqlite" else None
        # Where the data is, safe to show: the file, or the URL with its password masked.
        self.url = str(self.path) if self.path is not None else mask_url(str(target).strip())
        self.busy_timeout_s = busy_timeout_s
        self._insert: Callable[..., Any] = (
            sqlite_dialect.insert if self.dialect == "sqlite" else pg_dialect.insert)
        self._engine: Engine | None = None
        self._inherited: list[Engine] = []
        self._writer: Engine | None = None
        self._pid = 0
        self._ready = False
        self._init_lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """The store at ADVISOR_DATABASE_URL, else the SQLite file in the data dir (`settings.db_path`)."""
        return cls(settings.database_url or settings.db_path)

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def close(self) -> None:
        """Close the pooled connections (the store opens new ones if it is used again)."""
        with self._init_lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = self._writer = None

    # --- conversations ---------------------------------------------------------------------------------------

    def new_conversation(self, *, external_id: str | None = None, title: str | None = None) -> str:
        """Start a conversation and return its id (uuid4 hex)."""
        if external_id is not None and not external_id:
            raise StoreError("external_id must not be empty")
        conversation_id, now = _new_id(), _now()
        with self._write() as conn:
            if external_id is not None:
                found = conn.execute(select(_C.id).where(_C.external_id == external_id)).scalar()
                if found is not None:
                    raise StoreError(f"external id {external_id!r} already belongs to conversation {found}")
            try:
                conn.execute(insert(CONVERSATIONS).values(id=conversation_id, external_id=external_id, title=title,
                                                          created_at=now, updated_at=now))
            except sa_exc.IntegrityError:  # another writer took the key since the check (PostgreSQL)
                raise StoreError(f"external id {external_id!r} already belongs to another conversation") from None
        return conversation_id

    def conversation_for_external(self, external_id: str, *, title: str | None = None) -> str:
        """The conversation id for an external key such as a Slack thread, created on first sight."""
        if not external_id:
            raise StoreError("external_id must not be empty")
        now = _now()
        with self._write() as conn:
            conn.execute(self._insert(CONVERSATIONS).values(
                id=_new_id(), external_id=external_id, title=title, created_at=now, updated_at=now,
            ).on_conflict_do_nothing())
            return str(conn.execute(select(_C.id).where(_C.external_id == external_id)).scalar_one())

    def find_external(self, external_id: str) -> str | None:
        """The conversation id for an external key, or None when it was never used (nothing is created)."""
        with self._read() as conn:
            found = conn.execute(select(_C.id).where(_C.external_id == external_id)).scalar()
        return None if found is None else str(found)

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        """The conversation with this id, or None."""
        with self._read() as conn:
            row = conn.execute(_CONVERSATION_SELECT.where(_C.id == conversation_id)).mappings().first()
        return None if row is None else Conversation(**row)

    def list_conversations(self, *, limit: int = 50) -> list[Conversation]:
        """The most recently active conversations first."""
        _check_limit(limit)
        with self._read() as conn:
            rows = conn.execute(_CONVERSATION_SELECT.order_by(_C.updated_at.desc(), _C.id).limit(limit)).mappings()
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
        values = {
            "sources_json": _dump(list(sources), "sources"),
            "profile_json": None if profile is None else _dump(dict(profile), "profile"),
            "scores_json": None if scores is None else _dump(dict(scores), "scores"),
            "usage_json": _dump(dict(usage), "usage"),
            "checks_json": None if checks is None else _dump(dict(checks), "checks"),
            "costs_json": None if costs is None else _dump(dict(costs), "costs"),
        }
        turn_id, now = turn_id or _new_id(), _now()
        with self._write() as conn:
            # The conversation's row lock (PostgreSQL; SQLite's write lock covers it) orders its writers.
            locked = select(_C.id).where(_C.id == conversation_id).with_for_update()
            if conn.execute(locked).first() is None:
                raise NotFoundError(f"unknown conversation {conversation_id!r}")
            index = conn.execute(select(func.coalesce(func.max(_T.idx) + 1, 0))
                                 .where(_T.conversation_id == conversation_id)).scalar_one()
            conn.execute(insert(TURNS).values(
                id=turn_id, conversation_id=conversation_id, idx=index, created_at=now, user_text=user,
                answer=answer, standalone_question=standalone_question, recommendation=recommendation,
                model=model, latency_s=float(latency_s), cost_usd=None if cost_usd is None else float(cost_usd),
                error=error, stopped=int(bool(stopped)), kind=kind, **values))
            # The first question names an untitled conversation in lists.
            conn.execute(update(CONVERSATIONS).where(_C.id == conversation_id)
                         .values(updated_at=now, title=func.coalesce(_C.title, _title(user))))
            # Read back, so the caller holds exactly what a later `turns()` returns.
            return _turn(conn.execute(_TURN_SELECT.where(_T.id == turn_id)).mappings().one())

    def turns(self, conversation_id: str, *, limit: int | None = None) -> list[Turn]:
        """A conversation's turns, oldest first; `limit` keeps the most recent ones (an unknown id has none)."""
        _check_limit(limit)
        query = _TURN_SELECT.where(_T.conversation_id == conversation_id).order_by(_T.idx.desc())
        with self._read() as conn:
            rows = list(conn.execute(query if limit is None else query.limit(limit)).mappings())
        return [_turn(row) for row in reversed(rows)]

    def get_turn(self, turn_id: str) -> Turn | None:
        """The turn with this id, or None."""
        with self._read() as conn:
            row = conn.execute(_TURN_SELECT.where(_T.id == turn_id)).mappings().first()
        return None if row is None else _turn(row)

    def last_profile(self, conversation_id: str) -> dict[str, Any] | None:
        """The latest profile recorded in a conversation, which the next message completes; None if there is none."""
        with self._read() as conn:
            found = conn.execute(
                select(_T.profile_json).where(_T.conversation_id == conversation_id, _T.profile_json.is_not(None))
                .order_by(_T.idx.desc()).limit(1)).scalar()
        return None if found is None else dict(json.loads(found))

    # --- feedback --------------------------------------------------------------------------------------------

    def add_feedback(self, turn_id: str, *, rating: int, comment: str | None = None, source: str = "cli") -> int:
        """Record a thumbs up (+1) or down (-1) on a turn; returns the feedback's id."""
        _check_rating(rating)
        if source not in FEEDBACK_SOURCES:
            raise StoreError(f"source must be one of {', '.join(FEEDBACK_SOURCES)}, got {source!r}")
        comment = (comment or "").strip() or None
        with self._write() as conn:
            if conn.execute(select(_T.id).where(_T.id == turn_id)).first() is None:
                raise NotFoundError(f"unknown turn {turn_id!r}")
            result = conn.execute(insert(FEEDBACK).values(turn_id=turn_id, rating=int(rating), comment=comment,
                                                          source=source, created_at=_now()))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def update_feedback(self, feedback_id: int, *, rating: int | None = None, comment: str | None = None) -> None:
        """Change a recorded feedback's rating and/or comment (a thumb flipped, a comment added afterwards)."""
        if rating is not None:
            _check_rating(rating)
        changes: dict[str, Any] = {}
        if rating is not None:
            changes["rating"] = int(rating)
        if comment is not None:
            changes["comment"] = comment.strip() or None
        with self._write() as conn:
            if conn.execute(select(_F.id).where(_F.id == feedback_id)).first() is None:
                raise NotFoundError(f"unknown feedback {feedback_id!r}")
            if changes:
                conn.execute(update(FEEDBACK).where(_F.id == feedback_id).values(**changes))

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
        query = _FEEDBACK_SELECT
        for column, value in ((_T.conversation_id, conversation_id), (_F.turn_id, turn_id), (_F.source, source),
                              (_F.rating, rating)):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(_F.id.desc())
        with self._read() as conn:
            rows = list(conn.execute(query if limit is None else query.limit(limit)).mappings())
        return [Feedback(**row) for row in reversed(rows)]

    # --- claims --------------------------------------------------------------------------------------------

    def claim(self, key: str, *, keep_days: float = 2.0) -> bool:
        """Take a key (an event id) once: True for the first caller in any process sharing the database, else
        False. Claims older than `keep_days` are forgotten, so the table stays small."""
        if not key or len(key) > 500:
            raise StoreError("a claim key must be 1 to 500 characters")
        now = dt.datetime.now(dt.UTC)
        cutoff = (now - dt.timedelta(days=keep_days)).isoformat(timespec="microseconds")
        with self._write() as conn:
            taken = conn.execute(self._insert(CLAIMS).values(
                key=key, claimed_at=now.isoformat(timespec="microseconds")).on_conflict_do_nothing()
                .returning(CLAIMS.c.key)).first() is not None  # no row back: someone took it before
            if taken and now.microsecond % 64 == 0:  # now and then, not on every write
                conn.execute(CLAIMS.delete().where(CLAIMS.c.claimed_at < cutoff))
        return taken

    # --- plumbing --------------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self._read() as conn:
            return int(conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar_one())

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        engine = self._ensure_ready()
        with self._errors(), engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, holding the write lock from its start, so no later lock
        upgrade can fail; it waits up to busy_timeout for other writers, in any thread or process)."""
        self._ensure_ready()
        assert self._writer is not None
        with self._errors(), self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database errors as one-line StoreErrors that name the database (its password masked)."""
        try:
            yield
        except StoreError:
            raise
        except sa_exc.DBAPIError as exc:
            raise self._error(exc.orig or exc, connecting=exc.statement is None) from exc
        except (sqlite3.Error, sa_exc.SQLAlchemyError) as exc:
            raise self._error(exc, connecting=False) from exc
        except OSError as exc:
            raise StoreError(f"cannot reach {self.url}: {_one_line(exc)}") from exc

    def _error(self, exc: BaseException, *, connecting: bool) -> StoreError:
        message = _one_line(exc) or type(exc).__name__
        if type(exc) is sqlite3.DatabaseError:  # SQLITE_NOTADB, SQLITE_CORRUPT
            return StoreError(f"{self.url} is not an advisor database: {message}")
        if connecting:
            verb = "cannot open" if self.dialect == "sqlite" else "cannot connect to"
            return StoreError(f"{verb} {self.url}: {message}")
        return StoreError(f"{self.url}: {message}")

    def _engine_now(self) -> Engine:
        """This process's engine: built on first use, and again in a forked child (whose parent keeps its own)."""
        pid = os.getpid()
        engine = self._engine
        if engine is not None and self._pid == pid:
            return engine
        with self._init_lock:
            if self._engine is not None and self._pid != pid:
                # The parent's connections are left to the parent: not closed, and kept referenced, since a driver
                # connection that is garbage-collected here would say goodbye to the server on the parent's socket.
                self._engine.dispose(close=False)
                self._inherited.append(self._engine)
                self._engine = None
            if self._engine is None:
                self._engine = build_engine(self._url, busy_timeout_s=self.busy_timeout_s)
                self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
                self._pid = pid
            return self._engine

    def _ensure_ready(self) -> Engine:
        """The engine, after creating the folder and the schema on first use, or migrating an older schema."""
        engine = self._engine_now()
        if self._ready:
            return engine
        with self._init_lock:
            if self._ready:
                return engine
            if self.path is not None:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create {self.path.parent}: {exc.strerror}") from exc
            assert self._writer is not None
            with self._errors():
                if self.path is not None:
                    enable_wal(engine, timeout_s=self.busy_timeout_s)
                with self._writer.begin() as conn:
                    migrate(conn, where=self.url)
            self._ready = True
        return engine
