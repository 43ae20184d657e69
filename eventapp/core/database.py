"""Engine set-up: THE one place where eventapp speaks a database's own dialect.

Everything else uses the portable ORM. What is here, and why:

SQLite (the embedded default) is made safe for several gunicorn workers writing at once:
- WAL journal: readers never block the writer and the writer never blocks readers.
- `busy_timeout`: a writer waits for the one before it instead of failing at once.
- write transactions start with `BEGIN IMMEDIATE`. A plain (deferred) transaction that first
  reads and then writes cannot wait for the lock when another writer committed in between:
  SQLite fails it at once with "database is locked" whatever the busy timeout. Taking the
  write lock at BEGIN turns that failure into a short wait. Read-only requests (GET, HEAD,
  OPTIONS) keep deferred transactions, so readers stay concurrent.
- foreign keys on (SQLite leaves them off), synchronous=NORMAL (safe with WAL).
- writers wait in a queue, not in SQLite's busy handler: that handler makes a waiting writer
  sleep with growing naps (up to 100 ms each), so under load a few writes wait hundreds of
  milliseconds while the lock sits free. Each write transaction first takes an exclusive
  `flock` on `<database>-writers` (and a thread lock, for threads of one process), trying
  again after naps of at most 2 ms; the kernel drops the lock of a process that dies. If the
  turn does not come within the busy timeout (a transaction left open, or one thread opening
  a second write transaction), SQLite's own waiting takes over and reports the timeout.

A GET view that writes (rare: say, recording a page visit) is marked `@writes_database`.
Outside a request (CLI, Celery tasks, tests) every transaction is a write transaction.

PostgreSQL needs nothing here: row locks and READ COMMITTED do the job.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, has_request_context, request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
View = TypeVar("View", bound=Callable[..., Any])
_writing: ContextVar[bool] = ContextVar("eventapp_writing", default=False)


def writes_database(view: View) -> View:
    """Mark a GET view that writes, so its SQLite transaction takes the write lock at BEGIN."""
    view.writes_database = True  # type: ignore[attr-defined]
    return view


@contextmanager
def write_transactions() -> Iterator[None]:
    """Within this block every transaction is a write transaction (used around Celery tasks,
    which may run inline inside a GET request)."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def _request_writes() -> bool:
    if request.method not in SAFE_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "writes_database", False))


def begin_statement() -> str:
    """The BEGIN that the transaction about to start needs on SQLite."""
    if has_request_context() and not _writing.get() and not _request_writes():
        return "BEGIN"
    return "BEGIN IMMEDIATE"


class WriterQueue:
    """The queue of writers of one SQLite file, across threads and processes (see above)."""

    def __init__(self, database_path: str, timeout: float) -> None:
        self.path = database_path + "-writers"
        self.timeout = timeout
        self._pid = -1
        self._fd = -1
        self._threads = threading.Lock()
        self._holders: set[int] = set()

    def _file(self) -> int:
        if self._pid != os.getpid():  # first use in this process, or a fork (gunicorn worker)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._threads = threading.Lock()
            self._holders = set()
            self._pid = os.getpid()
        return self._fd

    def enter(self) -> bool:
        """Wait for this writer's turn; False if it did not come within the timeout."""
        fd = self._file()
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            return False
        pause = 0.0002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._threads.release()
                    return False
                time.sleep(pause)  # naps of at most 0.5 ms: SQLite's own go up to 100 ms
                pause = min(pause * 2, 0.0005)

    def leave(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def hold_for(self, connection: Any) -> None:
        """Enter the queue for the transaction `connection` is about to begin."""
        if self.enter():
            self._holders.add(id(connection))

    def release_for(self, connection: Any) -> None:
        """Leave the queue if `connection`'s transaction held it (after commit or rollback)."""
        if id(connection) in self._holders:
            self._holders.discard(id(connection))
            self.leave()


def _raw(connection: Any) -> Any:
    """The sqlite3 connection under SQLAlchemy's wrappers."""
    return getattr(connection, "dbapi_connection", connection)


def _leave_queue_after(original: Callable[[Any], None], queue: WriterQueue
                       ) -> Callable[[Any], None]:
    def finish(dbapi_connection: Any) -> None:
        try:
            original(dbapi_connection)
        finally:
            queue.release_for(_raw(dbapi_connection))

    return finish


def configure_engine(engine: sa.Engine, *, busy_timeout_ms: int) -> None:
    """Attach the dialect-specific set-up above to a freshly created engine."""
    if engine.dialect.name != "sqlite":
        return
    in_memory = engine.url.database in (None, "", ":memory:")
    queue = None if in_memory else WriterQueue(engine.url.database, busy_timeout_ms / 1000)
    if queue is not None:  # this engine's dialect is its own: wrapping it touches no other
        engine.dialect.do_commit = _leave_queue_after(engine.dialect.do_commit, queue)
        engine.dialect.do_rollback = _leave_queue_after(engine.dialect.do_rollback, queue)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        statement = begin_statement()
        raw = _raw(connection.connection)
        if queue is not None and statement == "BEGIN IMMEDIATE":
            queue.hold_for(raw)
        try:
            connection.exec_driver_sql(statement)
        except BaseException:
            if queue is not None:
                queue.release_for(raw)
            raise


def is_unique_violation(error: sa.exc.IntegrityError) -> bool:
    """True when an IntegrityError is a unique-constraint clash (both databases' wording)."""
    code = getattr(error.orig, "sqlstate", None)
    if code is not None:
        return code == "23505"
    return "UNIQUE constraint failed" in str(error.orig)
