"""SQLite's WAL checkpoints run in a thread of each process, not inside a request's commit."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from eventapp.core.checkpoints import BACKSTOP_PAGES
from eventapp.extensions import db
from tests.conftest import sqlite_app_in

PAGE = 4096


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Makes the app on a SQLite file of its own with the given settings; its engine is
    disposed of afterwards (which stops its checkpoint thread), whatever the test did."""
    apps: list[Flask] = []

    def make(**settings: str) -> Flask:
        apps.append(sqlite_app_in(tmp_path, **settings))
        return apps[-1]

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _checkpoint_threads(folder: Path) -> list[threading.Thread]:
    """This process's checkpoint threads of the database in `folder`."""
    name = f"sqlite-checkpoints:{folder / 'eventapp.db'}"
    return [thread for thread in threading.enumerate() if thread.name == name]


def _write_rows(rows: int, *, size: int = 3000, pause: float = 0.0) -> None:
    """`rows` commits of about `size` bytes each, through the app's engine, `pause` seconds
    apart."""
    with db.engine.connect() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, body TEXT)")
        connection.commit()
        for n in range(rows):
            connection.exec_driver_sql("INSERT INTO filler (body) VALUES (?)",
                                       (f"{n:08d}" * (size // 8),))
            connection.commit()
            if pause:
                time.sleep(pause)


def _rows_in_database_file(path: Path, copy_to: Path) -> int:
    """Rows of `filler` in the database file alone, without its write-ahead log: what the
    checkpoints have copied there (0 while the copy caught a checkpoint half-way)."""
    shutil.copyfile(path, copy_to)  # the file only: SQLite opens the copy without a log
    try:
        with sqlite3.connect(copy_to) as copy:
            return copy.execute("SELECT count(*) FROM filler").fetchone()[0]
    except sqlite3.DatabaseError:  # no such table yet, or a page copied mid-checkpoint
        return 0
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy_to}{suffix}").unlink(missing_ok=True)


def test_commits_leave_checkpoints_to_a_thread_and_it_copies_the_log(sqlite_app, tmp_path):
    app = sqlite_app(SQLITE_CHECKPOINT_MS="20")
    with app.app_context():
        connection = db.session.connection()
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == BACKSTOP_PAGES
        db.session.rollback()
        assert len(_checkpoint_threads(tmp_path)) == 1
        _write_rows(300)  # about 300 pages, under SQLite's own 1,000: no commit would copy them
        deadline = time.monotonic() + 10
        while _rows_in_database_file(tmp_path / "eventapp.db", tmp_path / "copy.db") < 300:
            assert time.monotonic() < deadline, "the thread never copied the log"
            time.sleep(0.05)
        db.engine.dispose()
    assert _checkpoint_threads(tmp_path) == []
    # The thread's connection was closed with the others: the last one removed the log.
    assert not (tmp_path / "eventapp.db-wal").exists()


@pytest.mark.slow
def test_the_log_starts_again_from_its_beginning_under_a_steady_load(sqlite_app, tmp_path):
    """Writers commit while each checkpoint runs; the thread checkpoints again until nothing
    came in meanwhile, so the log restarts instead of growing to the backstop (where a
    commit would copy it, inside a request). The load: a commit of 5 pages every 1-2 ms,
    as the gate's redemptions at full speed; some 1.5 x BACKSTOP_PAGES pages in all."""
    app = sqlite_app(SQLITE_CHECKPOINT_MS="20")
    with app.app_context():
        _write_rows(3000, size=16_000, pause=0.001)
        wal_pages = os.path.getsize(tmp_path / "eventapp.db-wal") // PAGE
    assert wal_pages < BACKSTOP_PAGES / 2


def test_a_checkpoint_interval_of_zero_leaves_checkpoints_to_sqlite(sqlite_app, tmp_path):
    app = sqlite_app(SQLITE_CHECKPOINT_MS="0")
    with app.app_context():
        connection = db.session.connection()
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        assert _checkpoint_threads(tmp_path) == []
        db.session.rollback()


def test_the_thread_stops_before_a_fork_and_each_process_starts_its_own(sqlite_app,
                                                                         tmp_path):
    """SQLite's connections must not cross a fork (Celery's prefork pool forks an app that
    may have used its database): the thread and its connection end before it, and the next
    checkout starts a thread in each process."""
    app = sqlite_app(SQLITE_CHECKPOINT_MS="20")
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
        assert len(_checkpoint_threads(tmp_path)) == 1
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only if it has exactly one thread after a query
            code = 1
            try:
                code = 2 if _checkpoint_threads(tmp_path) else 3
                db.engine.dispose(close=False)  # the parent's pooled connections are not ours
                db.session.execute(sa.text("SELECT 1"))
                db.session.rollback()
                code = 0 if len(_checkpoint_threads(tmp_path)) == 1 else 4
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert _checkpoint_threads(tmp_path) == [], "stopped before the fork"
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
        assert len(_checkpoint_threads(tmp_path)) == 1, "and started again by the parent"
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_thread_ends_when_its_database_file_is_replaced(sqlite_app, tmp_path):
    app = sqlite_app(SQLITE_CHECKPOINT_MS="20")
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
        [thread] = _checkpoint_threads(tmp_path)
        database = tmp_path / "eventapp.db"
        shutil.copyfile(database, tmp_path / "other.db")
        os.replace(tmp_path / "other.db", database)
        thread.join(timeout=5)
        assert not thread.is_alive()
        db.engine.dispose()
