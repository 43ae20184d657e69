"""The database set-up: SQLite safe for concurrent writers, aware UTC times, portable errors."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from eventapp import create_app
from eventapp.core import database
from eventapp.core.database import begin_statement, write_transactions, writes_database
from eventapp.core.time import utcnow
from eventapp.events.models import Event
from eventapp.extensions import db
from eventapp.testing.services import PostgresServer
from tests.conftest import _env, sqlite_app_in, started_postgres


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Flask:
    """SQLite whatever --db says: these tests are about SQLite's own behaviour."""
    return sqlite_app_in(tmp_path)


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_app):
    with sqlite_app.app_context():
        connection = db.session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 20000


def test_reads_begin_deferred_and_writes_begin_immediate(sqlite_app):
    @sqlite_app.get("/_probe_read")
    def probe_read() -> str:
        return begin_statement()

    @sqlite_app.post("/_probe_write")
    def probe_write() -> str:
        return begin_statement()

    @sqlite_app.get("/_probe_marked")
    @writes_database
    def probe_marked() -> str:
        return begin_statement()

    @sqlite_app.get("/_probe_task")
    def probe_task() -> str:
        with write_transactions():
            return begin_statement()

    sqlite_app.config["WTF_CSRF_ENABLED"] = False
    client = sqlite_app.test_client()
    assert client.get("/_probe_read").text == "BEGIN"
    assert client.post("/_probe_write").text == "BEGIN IMMEDIATE"
    assert client.get("/_probe_marked").text == "BEGIN IMMEDIATE"
    assert client.get("/_probe_task").text == "BEGIN IMMEDIATE"
    with sqlite_app.app_context():  # CLI commands and tasks
        assert begin_statement() == "BEGIN IMMEDIATE"


def test_a_deferred_read_then_write_fails_at_once_when_another_writer_got_in(tmp_path):
    """Why writes begin IMMEDIATE: this is SQLite's own behaviour, busy timeout or not."""
    path = tmp_path / "plain.db"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (n INTEGER)")
    setup.commit()
    reader = sqlite3.connect(path, timeout=5, isolation_level=None)
    writer = sqlite3.connect(path, timeout=5, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # the snapshot is taken here
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    writer.execute("COMMIT")
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        reader.execute("INSERT INTO t VALUES (2)")
    assert time.monotonic() - started < 1, "no waiting helps: the snapshot is stale"


def test_an_immediate_writer_waits_for_the_one_before_instead_of_failing(sqlite_app):
    """Two writers at once: the second waits for the first's commit, both succeed."""
    first_has_lock = threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with sqlite_app.app_context():
                db.session.add(_event("slow"))
                db.session.flush()
                first_has_lock.set()
                time.sleep(0.5)
                db.session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
            first_has_lock.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert first_has_lock.wait(5)
    with sqlite_app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Event))
        db.session.add(_event("second"))
        db.session.commit()
    thread.join()
    assert not errors
    assert count == 1, "the second writer began only after the first committed"
    with sqlite_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 2


def _event(slug: str) -> Event:
    now = utcnow()
    return Event(slug=slug, title=slug, starts_at=now, ends_at=now, timezone="UTC",
                 currency="CNY")


def test_times_come_back_as_aware_utc(app, make):
    local = datetime(2026, 12, 10, 9, 0, tzinfo=timezone.utc).astimezone(
        ZoneInfo("Asia/Shanghai"))
    event = make.event(starts_at=local)
    with app.app_context():
        stored = db.session.get(Event, event.id)
        assert stored.starts_at.tzinfo is not None
        assert stored.starts_at.utcoffset().total_seconds() == 0
        assert stored.starts_at == datetime(2026, 12, 10, 9, 0, tzinfo=timezone.utc)


def test_naive_times_are_refused(app):
    with app.app_context():
        db.session.add(Event(slug="naive", title="x", starts_at=datetime(2026, 1, 1),
                             ends_at=datetime(2026, 1, 2), timezone="UTC", currency="CNY"))
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            db.session.flush()


def test_unique_violations_are_recognised_on_every_database(app, make):
    from eventapp.core.database import is_unique_violation

    event = make.event()
    with app.app_context():
        db.session.add(_event(event.slug))
        with pytest.raises(sa.exc.IntegrityError) as caught:
            db.session.flush()
        assert is_unique_violation(caught.value)


def test_writers_queue_and_a_turn_that_never_comes_gives_up_in_time(tmp_path):
    from eventapp.core.database import WriterQueue

    path = str(tmp_path / "queue.db")
    holder, waiter = WriterQueue(path, timeout=5), WriterQueue(path, timeout=0.3)
    assert holder.enter()
    started = time.monotonic()
    assert waiter.enter() is False, "the turn did not come: give up, do not hang"
    assert 0.25 < time.monotonic() - started < 2
    holder.leave()
    assert waiter.enter(), "free again: the next writer goes at once"
    waiter.leave()


def test_the_queue_is_freed_when_its_holder_dies(tmp_path):
    import subprocess
    import sys

    from eventapp.core.database import WriterQueue

    path = str(tmp_path / "queue.db")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({path + '-writers'!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        queue = WriterQueue(path, timeout=0.2)
        assert queue.enter() is False
        holder.kill()
        holder.wait()
        queue.timeout = 5
        assert queue.enter(), "the kernel released the dead process's turn"
        queue.leave()
    finally:
        holder.kill()


def _event_with_team(make) -> tuple[int, int]:
    event = make.event()
    member = make.membership(event, make.user(), "marketer")
    return event.id, member.id


def _rebuild_events_table(connection: sa.Connection) -> None:
    """What Alembic does on SQLite to alter a table: copy it, drop it, rename the copy."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    context = MigrationContext.configure(connection, opts={"render_as_batch": True})
    with connection.begin(), Operations(context).batch_alter_table(
            "events", recreate="always") as batch:
        batch.add_column(sa.Column("extra", sa.String(10)))


def test_migrations_that_rebuild_a_table_keep_its_children(sqlite_app):
    from eventapp.core.database import connection_for_migrations
    from eventapp.events.models import Membership
    from tests.factories import Factory

    _event_id, member_id = _event_with_team(Factory(sqlite_app))
    with sqlite_app.app_context():
        with connection_for_migrations(db.engine) as connection:
            _rebuild_events_table(connection)
        assert db.session.get(Membership, member_id) is not None
        columns = {c["name"] for c in sa.inspect(db.session.connection()).get_columns("events")}
        assert "extra" in columns, "the table was really rebuilt"


def test_a_rebuilt_events_table_is_still_counted_by_the_registrations_triggers(sqlite_app):
    """The triggers on registrations name events in their bodies: a rebuild of events keeps
    them working (and does not fail on them)."""
    from eventapp.core.database import connection_for_migrations
    from eventapp.events.models import Event, Registration, RegistrationStatus
    from tests.factories import Factory

    make = Factory(sqlite_app)
    event = make.event()
    make.registration(event)
    with sqlite_app.app_context():
        with connection_for_migrations(db.engine) as connection:
            _rebuild_events_table(connection)
    second = make.registration(event)
    with sqlite_app.app_context():
        db.session.execute(sa.update(Registration).where(Registration.id == second.id)
                           .values(status=RegistrationStatus.WAITLISTED))
        db.session.commit()
        make.registration(event)
        assert db.session.scalar(sa.select(Event.confirmed_places)
                                 .where(Event.id == event.id)) == 2


def test_without_care_a_rebuild_deletes_the_children(sqlite_app):
    """Why connection_for_migrations exists (SQLite with foreign keys on)."""
    from eventapp.events.models import Membership
    from tests.factories import Factory

    _event_id, member_id = _event_with_team(Factory(sqlite_app))
    with sqlite_app.app_context():
        with db.engine.connect() as connection:
            # (the triggers on registrations name events: see connection_for_migrations)
            raw = connection.connection.dbapi_connection
            raw.execute("PRAGMA legacy_alter_table = ON")
            _rebuild_events_table(connection)
            raw.execute("PRAGMA legacy_alter_table = OFF")
        assert db.session.get(Membership, member_id) is None


def test_a_write_in_a_read_transaction_is_refused_at_once(sqlite_app):
    from eventapp.core.database import WriteInReadTransaction

    @sqlite_app.get("/_forgot_the_mark")
    def forgot() -> str:
        db.session.add(_event("unmarked"))
        db.session.commit()
        return "written"

    @sqlite_app.get("/_marked")
    @writes_database
    def marked() -> str:
        db.session.add(_event("marked"))
        db.session.commit()
        return "written"

    sqlite_app.config["PROPAGATE_EXCEPTIONS"] = True
    client = sqlite_app.test_client()
    db_read = client.get("/login")  # an ordinary read works
    assert db_read.status_code == 200
    with pytest.raises(WriteInReadTransaction, match="@writes_database"):
        client.get("/_forgot_the_mark")
    assert client.get("/_marked").text == "written"


def test_a_writer_that_never_gets_its_turn_is_told_to_try_again(tmp_path):
    from eventapp.core.database import WriterQueue
    from tests.factories import Factory

    sqlite_app = sqlite_app_in(tmp_path, SQLITE_BUSY_TIMEOUT_MS="300")
    factory = Factory(sqlite_app)
    marketer, event = factory.user(), factory.event()
    factory.membership(event, marketer, "marketer")
    with sqlite_app.app_context():
        from eventapp.auth.services import issue_api_token
        token, _ = issue_api_token(marketer, "t")
        db.session.commit()
        database = db.engine.url.database
    other = WriterQueue(database, timeout=5)
    assert other.enter()  # someone else holds the turn and does not let go
    try:
        started = time.monotonic()
        response = sqlite_app.test_client().post(
            f"/api/v1/events/{event.slug}/channels", json={"name": "x", "kind": "ads"},
            headers={"Authorization": f"Bearer {token}"})
    finally:
        other.leave()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json["error"]["code"] == "unavailable"
    assert time.monotonic() - started < 5, "told within the busy timeout, not after a minute"


def test_a_thrown_away_connection_gives_up_its_turn(sqlite_app):
    with sqlite_app.app_context():
        first = db.engine.connect()
        first.begin()  # BEGIN IMMEDIATE: holds the turn
        first.invalidate()  # as on an error or a disconnect: no COMMIT, no ROLLBACK
        started = time.monotonic()
        with db.engine.begin() as second:
            second.exec_driver_sql("SELECT 1")
        assert time.monotonic() - started < 1
        first.close()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, to restart."""
    with started_postgres() as server:
        yield server


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_after_postgresql_restarts_the_next_query_gets_a_new_connection(own_postgres, tmp_path,
                                                                        mode, monkeypatch):
    """The pool's idle connections die with the server: the first query after a restart
    (a service manager's, or a crash's) must not fail with them. Without a ping: under load
    a connection is idle for milliseconds, never long enough to be pinged."""
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 3600.0)
    url = own_postgres.create_database("eventapp")
    app = create_app({"TESTING": True}, env=_env(url, tmp_path))
    with app.app_context():
        before = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        db.session.commit()  # the connection goes back to the pool, idle

        own_postgres.restart(mode)

        after = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        db.session.commit()
        assert after != before
        db.engine.dispose()


def test_a_single_statement_view_that_writes_twice_is_refused_on_postgresql(app, db_backend):
    """`@writes_single_statements` runs a view in autocommit mode on PostgreSQL, where a
    second write would not be atomic with the first: it is refused at once. On SQLite the
    mark changes nothing: both go in, in one transaction."""
    from eventapp.core.database import (SecondWriteWithoutTransaction, reads_first,
                                        start_writing, writes_single_statements)

    @app.post("/_writes_twice")
    @reads_first
    @writes_single_statements
    def writes_twice() -> str:
        db.session.execute(sa.select(Event.id)).all()  # reads are free
        start_writing(db.session)
        for slug in ("first-of-two", "second-of-two"):
            db.session.execute(sa.insert(Event).values(
                slug=slug, title=slug, starts_at=utcnow(), ends_at=utcnow(), timezone="UTC",
                currency="CNY"))
        db.session.commit()
        return "written"

    app.config.update(PROPAGATE_EXCEPTIONS=True, WTF_CSRF_ENABLED=False)
    client = app.test_client()
    if db_backend == "postgresql":
        with pytest.raises(SecondWriteWithoutTransaction):
            client.post("/_writes_twice")
        expected = {"first-of-two"}  # committed as it ran: why the mark needs single writes
    else:
        assert client.post("/_writes_twice").text == "written"
        expected = {"first-of-two", "second-of-two"}
    with app.app_context():
        assert set(db.session.scalars(sa.select(Event.slug).where(
            Event.slug.like("%-of-two")))) == expected
