"""The database set-up: SQLite safe for concurrent writers, aware UTC times, portable errors."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from eventapp import create_app
from eventapp.core.database import begin_statement, write_transactions, writes_database
from eventapp.core.time import utcnow
from eventapp.events.models import Event
from eventapp.extensions import db
from tests.conftest import _env, _migrate


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Flask:
    url = f"sqlite:///{tmp_path / 'eventapp.db'}"
    _migrate(url, tmp_path)
    return create_app({"TESTING": True}, env=_env(url, tmp_path))


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_app):
    with sqlite_app.app_context():
        connection = db.session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


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
