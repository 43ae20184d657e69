"""SQLite's WAL checkpoints run in a thread of each process, not inside a request's commit."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from eventapp import create_app
from eventapp.core.checkpoints import BACKSTOP_PAGES
from eventapp.extensions import db
from tests.conftest import _env, _migrate

PAGE = 4096


def _sqlite_app(folder: Path, **settings: str) -> Flask:
    url = f"sqlite:///{folder / 'eventapp.db'}"
    _migrate(url, folder)
    return create_app({"TESTING": True}, env=_env(url, folder, **settings))


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sqlite-checkpoints:")]


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
    checkpoints have copied there."""
    shutil.copyfile(path, copy_to)  # the file only: SQLite opens the copy without a log
    with sqlite3.connect(copy_to) as copy:
        try:
            return copy.execute("SELECT count(*) FROM filler").fetchone()[0]
        except sqlite3.OperationalError:  # the table itself is not copied yet
            return 0


def test_commits_leave_checkpoints_to_a_thread_and_it_copies_the_log(tmp_path):
    app = _sqlite_app(tmp_path, SQLITE_CHECKPOINT_MS="20")
    with app.app_context():
        connection = db.session.connection()
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == BACKSTOP_PAGES
        db.session.rollback()
        assert len(_checkpoint_threads()) == 1
        _write_rows(300)  # about 300 pages, under SQLite's own 1,000: no commit would copy them
        deadline = time.monotonic() + 10
        while _rows_in_database_file(tmp_path / "eventapp.db", tmp_path / "copy.db") < 300:
            assert time.monotonic() < deadline, "the thread never copied the log"
            time.sleep(0.05)
        db.engine.dispose()
    assert _checkpoint_threads() == []
    # The thread's connection was closed with the others: the last one removed the log.
    assert not (tmp_path / "eventapp.db-wal").exists()


@pytest.mark.slow
def test_the_log_starts_again_from_its_beginning_under_a_steady_load(tmp_path):
    """Writers commit while each checkpoint runs; the thread checkpoints again until nothing
    came in meanwhile, so the log restarts instead of growing to the backstop (where a
    commit would copy it, inside a request). The load: a commit of 5 pages every 1-2 ms,
    as the gate's redemptions at full speed; some 1.5 x BACKSTOP_PAGES pages in all."""
    app = _sqlite_app(tmp_path, SQLITE_CHECKPOINT_MS="20")
    with app.app_context():
        _write_rows(3000, size=16_000, pause=0.001)
        wal_pages = os.path.getsize(tmp_path / "eventapp.db-wal") // PAGE
        db.engine.dispose()
    assert wal_pages < BACKSTOP_PAGES / 2


def test_a_checkpoint_interval_of_zero_leaves_checkpoints_to_sqlite(tmp_path):
    app = _sqlite_app(tmp_path, SQLITE_CHECKPOINT_MS="0")
    with app.app_context():
        connection = db.session.connection()
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        assert _checkpoint_threads() == []
        db.session.rollback()
        db.engine.dispose()


def test_a_forked_worker_runs_its_own_checkpoint_thread(tmp_path):
    """Gunicorn forks its workers: threads do not survive a fork, so the child starts its
    own at its first checkout."""
    app = _sqlite_app(tmp_path, SQLITE_CHECKPOINT_MS="20")
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
        assert len(_checkpoint_threads()) == 1
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only if it has exactly one thread after a query
            code = 1
            try:
                db.session.execute(sa.text("SELECT 1"))
                db.session.rollback()
                code = 0 if len(_checkpoint_threads()) == 1 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        db.engine.dispose()
    assert os.waitstatus_to_exitcode(status) == 0
