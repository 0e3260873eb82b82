"""The conversation store: round trips, ordering, external ids, feedback, claims, errors, migrations, threads and
processes; each test that is about the store's behaviour runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy import exc as sa_exc

import advisor.database as database
from advisor.config import REPO_ROOT, Settings
from advisor.store import SCHEMA_VERSION, NotFoundError, Store, StoreError, Turn

SOURCE = {"id": "guides/api.md#costs", "title": "Costs", "path": "guides/api.md", "section": "Costs", "score": 0.81}
PROFILE = {"team_ml_expertise": "basic", "data_sensitivity": "regulated", "monthly_tokens": 2e9}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a database nobody has used yet: a SQLite file to be, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'advisor.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    yield store
    store.close()


def raw(url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of one statement run straight on the database, around the store."""
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def add(store: Store, conversation_id: str, user: str = "Should we fine-tune?", **overrides: Any) -> Turn:
    values: dict[str, Any] = {
        "user": user, "answer": f"answer to {user}", "standalone_question": None, "recommendation": None,
        "sources": [], "profile": None, "scores": None, "model": "local", "latency_s": 0.5,
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}, "cost_usd": None,
    }
    values.update(overrides)
    return store.add_turn(conversation_id, **values)


def run_threads(count: int, target: Callable[[int], object]) -> None:
    """Start `count` threads together on a barrier and re-raise the first failure."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(k: int) -> None:
        try:
            barrier.wait()
            target(k)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def test_nothing_touches_the_disk_until_first_use(tmp_path: Path) -> None:
    store = Store(tmp_path / "a" / "b" / "advisor.sqlite3")
    assert not (tmp_path / "a").exists()
    assert store.list_conversations() == []
    assert (tmp_path / "a" / "b" / "advisor.sqlite3").is_file()
    assert Store.from_settings(Settings(data_dir=tmp_path)).path == tmp_path / "advisor.sqlite3"


def test_round_trip_keeps_every_field(store: Store, db_url: str) -> None:
    conversation_id = store.new_conversation()
    assert len(conversation_id) == 32 and int(conversation_id, 16) >= 0
    turn = add(store, conversation_id, "We handle PHI, what now?", standalone_question="PHI: which option?",
               recommendation="open_weight", sources=[SOURCE], profile=PROFILE,
               scores={"open_weight": 0.9, "api": 0.2}, model="openai/gpt-4.1-mini", latency_s=1.25,
               usage={"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}, cost_usd=0.0012)
    assert turn.index == 0 and turn.conversation_id == conversation_id and turn.error is None
    assert turn.created_at.endswith("+00:00")
    assert store.turns(conversation_id) == [turn]
    assert store.get_turn(turn.id) == turn and store.get_turn("nope") is None
    data = turn.as_dict()
    assert data["sources"] == [SOURCE] and data["profile"] == PROFILE and data["cost_usd"] == 0.0012
    assert json.loads(json.dumps(data)) == data
    conversation = store.get_conversation(conversation_id)
    assert conversation is not None and conversation.turn_count == 1
    assert conversation.title == "We handle PHI, what now?" and conversation.external_id is None
    assert conversation.as_dict()["id"] == conversation_id
    assert store.get_conversation("missing") is None

    [(scores_json, usage_json, cost)] = raw(db_url, "SELECT scores_json, usage_json, cost_usd FROM turns")
    assert scores_json == '{"api": 0.2, "open_weight": 0.9}'  # sorted keys: the same data gives the same text
    assert list(json.loads(usage_json)) == ["completion_tokens", "prompt_tokens", "total_tokens"]
    assert cost == 0.0012  # double precision on both


def test_errors_are_recorded_and_titles_are_kept(store: Store) -> None:
    conversation_id = store.new_conversation(title="Slack: pricing")
    turn = add(store, conversation_id, "x" * 300, answer="", error="LLM timed out after 120 s")
    assert store.turns(conversation_id)[0].error == "LLM timed out after 120 s" == turn.error
    assert store.get_conversation(conversation_id).title == "Slack: pricing"  # type: ignore[union-attr]
    untitled = store.new_conversation()
    add(store, untitled, "  a   long\nquestion " + "y" * 200)
    title = store.get_conversation(untitled).title  # type: ignore[union-attr]
    assert title is not None and title.startswith("a long question y") and len(title) == 80 and title[-1] == "…"


def test_turns_are_chronological_and_limit_keeps_the_latest(store: Store) -> None:
    conversation_id = store.new_conversation()
    for i in range(7):
        add(store, conversation_id, f"q{i}")
    turns = store.turns(conversation_id)
    assert [t.user for t in turns] == [f"q{i}" for i in range(7)]
    assert [t.index for t in turns] == list(range(7))
    assert [t.user for t in store.turns(conversation_id, limit=3)] == ["q4", "q5", "q6"]
    assert store.turns(conversation_id, limit=0) == []
    assert len(store.turns(conversation_id, limit=100)) == 7
    assert store.turns("no-such-conversation") == []
    with pytest.raises(StoreError, match="limit"):
        store.turns(conversation_id, limit=-1)


def test_last_profile_is_the_latest_recorded_one(store: Store) -> None:
    conversation_id = store.new_conversation()
    assert store.last_profile(conversation_id) is None
    add(store, conversation_id, "hi")
    assert store.last_profile(conversation_id) is None
    add(store, conversation_id, "we are regulated", profile={"data_sensitivity": "regulated"})
    add(store, conversation_id, "what about costs?", profile=None)
    assert store.last_profile(conversation_id) == {"data_sensitivity": "regulated"}
    add(store, conversation_id, "and on-prem", profile={"data_sensitivity": "regulated", "deployment": "on_prem"})
    assert store.last_profile(conversation_id) == {"data_sensitivity": "regulated", "deployment": "on_prem"}
    assert store.last_profile(store.new_conversation()) is None


def test_list_conversations_most_recent_first(store: Store) -> None:
    first, second, third = (store.new_conversation() for _ in range(3))
    add(store, first, "later activity")
    listed = store.list_conversations()
    assert listed[0].id == first and {c.id for c in listed} == {first, second, third}
    assert [c.id for c in store.list_conversations(limit=1)] == [first]


def test_external_ids_map_to_one_conversation(store: Store) -> None:
    thread_ts = "C123/1712345678.000100"
    conversation_id = store.conversation_for_external(thread_ts, title="Slack thread")
    assert store.conversation_for_external(thread_ts) == conversation_id
    assert store.conversation_for_external("C123/other") != conversation_id
    conversation = store.get_conversation(conversation_id)
    assert conversation is not None and conversation.external_id == thread_ts
    assert conversation.title == "Slack thread"
    explicit = store.new_conversation(external_id="web/session-1")
    assert store.conversation_for_external("web/session-1") == explicit
    with pytest.raises(StoreError, match="already belongs to conversation"):
        store.new_conversation(external_id=thread_ts)
    with pytest.raises(StoreError, match="must not be empty"):
        store.conversation_for_external("")


def test_threads_racing_on_one_external_id_get_one_conversation(store: Store) -> None:
    ids: list[str] = []
    run_threads(8, lambda k: ids.append(store.conversation_for_external("slack/thread-42")))
    assert len(ids) == 8 and len(set(ids)) == 1
    assert len(store.list_conversations()) == 1


def test_threads_racing_to_create_one_external_id_get_one_conversation_and_a_clear_error(store: Store) -> None:
    made: list[str] = []
    refused: list[str] = []

    def create(k: int) -> None:
        try:
            made.append(store.new_conversation(external_id="web/session-9"))
        except StoreError as exc:
            refused.append(str(exc))

    run_threads(8, create)
    assert len(made) == 1 and len(refused) == 7
    assert all("external id 'web/session-9' already belongs to" in message for message in refused)
    assert store.find_external("web/session-9") == made[0]


def test_concurrent_conversations_never_mix(store: Store) -> None:
    conversations = [store.new_conversation() for _ in range(4)]

    def talk(k: int) -> None:
        for i in range(25):
            add(store, conversations[k], f"c{k}-{i}", profile={"thread": k, "i": i})

    run_threads(4, talk)
    for k, conversation_id in enumerate(conversations):
        turns = store.turns(conversation_id)
        assert [t.user for t in turns] == [f"c{k}-{i}" for i in range(25)]
        assert [t.index for t in turns] == list(range(25))
        assert {t.conversation_id for t in turns} == {conversation_id}
        assert store.last_profile(conversation_id) == {"thread": k, "i": 24}


def test_threads_sharing_a_conversation_get_distinct_consecutive_indexes(store: Store) -> None:
    conversation_id = store.new_conversation()
    run_threads(8, lambda k: [add(store, conversation_id, f"t{k}-{i}") for i in range(15)])
    turns = store.turns(conversation_id)
    assert [t.index for t in turns] == list(range(120))
    for k in range(8):  # each writer's turns stay in its own order
        assert [t.user for t in turns if t.user.startswith(f"t{k}-")] == [f"t{k}-{i}" for i in range(15)]


_WRITER = """
import pathlib, sys, time
from advisor.store import Store
url, tag, go, count = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3]), int(sys.argv[4])
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
store = Store(url)
shared = store.conversation_for_external("shared")
own = store.new_conversation(external_id="own-" + tag)
for i in range(count):
    store.add_turn(shared, user=f"{tag}-{i}", answer="a", standalone_question=None, recommendation=None,
                   sources=[], profile={"i": i}, scores=None, model="m", latency_s=0.0, usage={}, cost_usd=None)
    store.add_turn(own, user=f"{tag}-{i}", answer="a", standalone_question=None, recommendation=None,
                   sources=[], profile=None, scores=None, model="m", latency_s=0.0, usage={}, cost_usd=0.0)
    print(int(store.claim(f"event-{i}")), flush=True)
"""


@pytest.mark.slow
def test_two_processes_writing_at_once_lose_nothing(db_url: str, tmp_path: Path) -> None:
    go, count = tmp_path / "go", 40
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, db_url, tag, str(go), str(count)], env=env,
                              cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for tag in ("p0", "p1")]
    go.touch()  # both start on a fresh database: schema creation races too
    claimed = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        claimed.append([int(line) for line in out.split()])
    assert [a + b for a, b in zip(*claimed, strict=True)] == [1] * count  # each event taken by exactly one
    store = Store(db_url)
    shared = store.conversation_for_external("shared")
    turns = store.turns(shared)
    assert [t.index for t in turns] == list(range(2 * count))
    for tag in ("p0", "p1"):
        assert [t.user for t in turns if t.user.startswith(tag)] == [f"{tag}-{i}" for i in range(count)]
        own = store.conversation_for_external(f"own-{tag}")
        assert [t.user for t in store.turns(own)] == [f"{tag}-{i}" for i in range(count)]
    assert len(store.list_conversations()) == 3
    assert store.schema_version() == SCHEMA_VERSION


def test_a_forked_child_uses_connections_of_its_own(store: Store) -> None:
    conversation_id = store.new_conversation()
    add(store, conversation_id, "parent")
    pid = os.fork()
    if pid == 0:  # the child: the parent's pooled connection must not be used (nor closed) here
        code = 1
        try:
            add(store, conversation_id, "child")
            code = 0 if [t.user for t in store.turns(conversation_id)] == ["parent", "child"] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    add(store, conversation_id, "parent again")  # the parent's connections still work
    assert [t.user for t in store.turns(conversation_id)] == ["parent", "child", "parent again"]


def test_a_claim_is_taken_once_by_racing_threads(store: Store) -> None:
    won: list[bool] = []
    run_threads(8, lambda k: won.append(store.claim("slack-event:Ev1")))
    assert sorted(won) == [False] * 7 + [True]
    assert store.claim("slack-event:Ev2") is True and store.claim("slack-event:Ev2") is False
    for bad in ("", "x" * 501):
        with pytest.raises(StoreError, match="a claim key must be 1 to 500 characters"):
            store.claim(bad)


def test_old_claims_are_forgotten(store: Store, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    assert store.claim("old-event")
    raw(db_url, "UPDATE claims SET claimed_at = '2020-01-01T00:00:00.000000+00:00'")

    class Clock(dt.datetime):  # a microsecond count on which the sweep runs
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Clock:
            return cls(2026, 12, 1, 12, 0, 0, 64 * 3, tzinfo=tz)

    monkeypatch.setattr("advisor.store.dt.datetime", Clock)
    assert store.claim("new-event")
    assert [row[0] for row in raw(db_url, "SELECT key FROM claims")] == ["new-event"]
    assert store.claim("old-event") is True  # forgotten, so it can be taken again


def test_feedback_is_validated_and_queryable(store: Store) -> None:
    conversation_id = store.new_conversation()
    first, second = add(store, conversation_id, "one"), add(store, conversation_id, "two")
    for rating in (0, 2, -2, True, "1", 1.5):
        with pytest.raises(StoreError, match=r"rating must be \+1 or -1"):
            store.add_feedback(first.id, rating=rating)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="source must be one of web, slack, cli"):
        store.add_feedback(first.id, rating=1, source="email")
    with pytest.raises(NotFoundError, match="unknown turn 'nope'") as caught:
        store.add_feedback("nope", rating=1)
    assert isinstance(caught.value, KeyError) and str(caught.value) == "unknown turn 'nope'"
    assert store.feedback() == []

    store.add_feedback(first.id, rating=1, source="web")
    store.add_feedback(second.id, rating=-1, comment="  cited the wrong guide ", source="slack")
    store.add_feedback(first.id, rating=-1, comment="   ")
    all_feedback = store.feedback()
    assert [(f.turn_id, f.rating, f.source) for f in all_feedback] == [
        (first.id, 1, "web"), (second.id, -1, "slack"), (first.id, -1, "cli")]
    assert all_feedback[1].comment == "cited the wrong guide" and all_feedback[2].comment is None
    assert all_feedback[1].conversation_id == conversation_id and all_feedback[1].turn_index == 1
    assert [f.source for f in store.feedback(turn_id=first.id)] == ["web", "cli"]
    assert [f.turn_id for f in store.feedback(rating=-1, source="slack")] == [second.id]
    assert len(store.feedback(conversation_id=conversation_id)) == 3
    assert store.feedback(conversation_id="other") == []
    assert [f.source for f in store.feedback(limit=2)] == ["slack", "cli"]
    assert set(all_feedback[0].as_dict()) == {"id", "turn_id", "conversation_id", "turn_index", "rating",
                                              "comment", "source", "created_at"}


def test_bad_turns_are_refused_with_one_line(store: Store) -> None:
    with pytest.raises(NotFoundError, match="unknown conversation 'ghost'"):
        add(store, "ghost")
    conversation_id = store.new_conversation()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"latency_s": float("nan")}, "latency_s must be"),
        ({"latency_s": -1.0}, "latency_s must be"),
        ({"cost_usd": -0.1}, "cost_usd must be"),
        ({"usage": {"when": object()}}, "usage is not plain JSON"),
        ({"scores": {"api": float("inf")}}, "scores is not plain JSON"),
        ({"sources": "guides/api.md"}, "sources must be a list"),
    ]
    for overrides, message in cases:
        with pytest.raises(StoreError, match=message) as caught:
            add(store, conversation_id, **overrides)
        assert "\n" not in str(caught.value)
    assert store.turns(conversation_id) == []  # nothing half-written


def test_a_file_that_is_not_an_advisor_database_is_refused(tmp_path: Path) -> None:
    text_file = tmp_path / "notes.sqlite3"
    text_file.write_text("these are my notes, not a database\n" * 100, encoding="utf-8")
    with pytest.raises(StoreError, match=r"notes\.sqlite3 is not an advisor database") as caught:
        Store(text_file).list_conversations()
    assert "\n" not in str(caught.value)
    assert text_file.read_text(encoding="utf-8").startswith("these are my notes")  # left untouched

    with pytest.raises(StoreError, match="cannot open"):
        Store(tmp_path).list_conversations()  # a folder


def test_a_database_of_other_tables_is_refused(db_url: str) -> None:
    Store(db_url)  # nothing is opened yet: the folder of a SQLite file is made on first use
    if db_url.startswith("sqlite"):
        Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True)
    raw(db_url, "CREATE TABLE customers (id INTEGER)")
    with pytest.raises(StoreError, match="is not an advisor database: it holds other tables and no schema_version"):
        Store(db_url).new_conversation()
    assert raw(db_url, "SELECT COUNT(*) FROM customers") == [(0,)]  # left as it was


def test_a_postgresql_database_shared_with_other_tables_takes_a_schema_of_its_own(
        postgres, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    name = postgres_url.rsplit("/", 1)[1]
    postgres.execute("CREATE TABLE customers (id INTEGER)", name)
    postgres.execute("CREATE SCHEMA advisor", name)
    with pytest.raises(StoreError, match="not an advisor database"):
        Store(postgres_url).list_conversations()  # the default schema holds someone else's table
    store = Store(f"{postgres_url}?options=-csearch_path%3Dadvisor")
    add(store, store.new_conversation(), "hello")
    assert store.schema_version() == SCHEMA_VERSION
    tables = postgres.execute("SELECT table_schema, table_name FROM information_schema.tables"
                              " WHERE table_schema IN ('public', 'advisor') ORDER BY 1, 2", name)
    assert tables == [("advisor", t) for t in ("claims", "conversations", "feedback", "schema_version", "turns")] + [
        ("public", "customers")]


def test_bad_urls_and_unreachable_servers_are_one_line_errors_with_the_password_masked(
        tmp_path: Path, postgres) -> None:  # type: ignore[no-untyped-def]
    from tests.postgres import free_port

    cases = [
        ("mysql://app:hunter2@db.example/advisor", r"unsupported database URL mysql://app:\*\*\*@db\.example/advisor: "
                                                   r"use sqlite:///PATH or postgresql://"),
        ("postgresql://app:hunter2@db:notaport/advisor", r"not a database URL: postgresql://app:\*\*\*@db:notaport/"),
        ("sqlite://", "an in-memory SQLite database is not shared"),
        ("sqlite:///:memory:", "an in-memory SQLite database is not shared"),
        ("", "no database given"),
    ]
    for url, message in cases:
        with pytest.raises(StoreError, match=message) as caught:
            Store(url)
        assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)

    port = free_port()  # nothing listens there
    dead = Store(f"postgresql://app:hunter2@127.0.0.1:{port}/advisor")
    assert "hunter2" not in repr(dead) and dead.path is None
    with pytest.raises(StoreError, match=rf"cannot connect to postgresql://app:\*\*\*@127\.0\.0\.1:{port}/advisor: "
                                         "connection failed") as caught:
        dead.list_conversations()
    assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)
    missing = Store(postgres.url("no_such_db", password="hunter2"))
    with pytest.raises(StoreError, match=r'cannot connect to postgresql://postgres:\*\*\*@.*"no_such_db" does not'):
        missing.new_conversation()


def test_the_postgres_fixture_finds_the_servers_binaries_or_says_how_to_get_them(tmp_path: Path) -> None:
    from tests.postgres import MISSING, find_bindir

    assert find_bindir(tmp_path, path=str(tmp_path)) is None  # the fixture then fails with MISSING, never skips
    assert "make test" in MISSING and "apt-get install -y postgresql" in MISSING
    for version in ("13", "15"):
        (tmp_path / version / "bin").mkdir(parents=True)
        for name in ("initdb", "postgres"):
            (tmp_path / version / "bin" / name).touch()
    assert find_bindir(tmp_path, path="") == tmp_path / "15" / "bin"  # the newest
    found = find_bindir()
    assert found is not None and (found / "initdb").is_file()  # this machine has them (make test installs them)


def test_settings_choose_the_database(tmp_path: Path, postgres_url: str) -> None:
    default = Settings(data_dir=tmp_path)
    assert default.database_url is None and default.store_url == f"sqlite:///{tmp_path / 'advisor.sqlite3'}"
    assert Store.from_settings(default).path == tmp_path / "advisor.sqlite3"
    assert Settings(data_dir=tmp_path, database_url="  ").database_url is None
    shared = Settings(data_dir=tmp_path, database_url=postgres_url)
    store = Store.from_settings(shared)
    assert store.dialect == "postgresql" and store.path is None and store.url == postgres_url
    conversation_id = store.new_conversation()
    assert Store(postgres_url).get_conversation(conversation_id) is not None
    assert not (tmp_path / "advisor.sqlite3").exists()  # nothing went to the default file


def test_reopening_preserves_everything(db_url: str) -> None:
    first = Store(db_url)
    conversation_id = first.conversation_for_external("slack/1", title="t")
    turns = [add(first, conversation_id, f"q{i}", profile={"i": i}, sources=[SOURCE]) for i in range(3)]
    first.add_feedback(turns[1].id, rating=1, source="web")
    before = (first.list_conversations(), first.feedback())
    first.close()

    again = Store(db_url)
    assert again.turns(conversation_id) == turns
    assert (again.list_conversations(), again.feedback()) == before
    assert again.conversation_for_external("slack/1") == conversation_id
    assert again.last_profile(conversation_id) == {"i": 2}
    assert add(again, conversation_id, "q3").index == 3


def test_schema_version_wal_and_foreign_keys(store: Store, db_url: str) -> None:
    assert store.schema_version() == SCHEMA_VERSION == 4
    rows = raw(db_url, "SELECT version, applied_at FROM schema_version ORDER BY version")
    assert [r[0] for r in rows] == [1, 2, 3, 4] and rows[0][1].endswith("+00:00")
    if store.dialect == "sqlite":
        assert store.path is not None
        assert sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    orphan = text("INSERT INTO feedback (turn_id, rating, source, created_at) VALUES ('x', 1, 'cli', 'now')")
    # The foreign key holds on both (the store turns it on in SQLite), on the store's own connections.
    with pytest.raises(sa_exc.IntegrityError), store._writer.begin() as conn:  # type: ignore[union-attr]
        conn.execute(orphan)


def test_migrations_run_forward_once_and_newer_databases_are_refused(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    conversation_id = Store(db_url).new_conversation()
    newer = (*database.MIGRATIONS, ("ALTER TABLE conversations ADD COLUMN channel TEXT",))
    monkeypatch.setattr(database, "MIGRATIONS", newer)
    upgraded = Store(db_url)
    assert upgraded.schema_version() == 5 and upgraded.get_conversation(conversation_id) is not None
    assert Store(db_url).schema_version() == 5  # a second open applies nothing again
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    columns = [c["name"] for c in inspect(engine).get_columns("conversations")]
    engine.dispose()
    assert columns.count("channel") == 1

    monkeypatch.setattr(database, "MIGRATIONS", newer[:4])
    with pytest.raises(StoreError, match="has schema version 5; this advisor knows up to 4"):
        Store(db_url).list_conversations()


def test_a_version_1_database_keeps_its_turns_and_feedback(db_url: str) -> None:
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    if dialect == "sqlite":
        Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True)
    # What a release with schema version 1 wrote.
    statements = ["CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
                  *database.statements_for(database.MIGRATIONS[0], dialect),
                  "INSERT INTO schema_version VALUES (1, '2026-11-01T00:00:00+00:00')",
                  "INSERT INTO conversations VALUES ('c1', NULL, 'q1', 'now', 'now')",
                  "INSERT INTO turns (id, conversation_id, idx, created_at, user_text, answer, sources_json, model,"
                  " latency_s, usage_json) VALUES ('t1', 'c1', 0, 'now', 'q1', 'a1', '[]', 'local', 0.5, '{}')",
                  "INSERT INTO feedback (turn_id, rating, comment, source, created_at)"
                  " VALUES ('t1', -1, 'too vague', 'slack', 'now')"]
    for statement in statements:
        raw(db_url, statement)
    new = Store(db_url)
    assert new.schema_version() == 4
    turn = new.turns("c1")[0]
    kept = new.get_turn(turn.id)
    assert kept is not None and kept.user == "q1" and kept.stopped is False and kept.kind is None
    assert [(f.rating, f.comment, f.source) for f in new.feedback()] == [(-1, "too vague", "slack")]
    second = new.add_feedback(turn.id, rating=1, source="eval")  # the new source is allowed after the migration
    assert second > new.feedback()[0].id  # ids go on after the migrated rows
    with pytest.raises(sa_exc.IntegrityError, match="source"):
        raw(db_url, "INSERT INTO feedback (turn_id, rating, source, created_at) VALUES ('t1', 1, 'email', 'now')")
    stopped = add(new, "c1", "q2", stopped=True, kind="fact", turn_id="a" * 32)
    assert stopped.id == "a" * 32 and stopped.stopped and new.get_turn("a" * 32) == stopped
