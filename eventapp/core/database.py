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

A GET view that writes (rare: say, recording a page visit) is marked `@writes_database`.
Outside a request (CLI, Celery tasks, tests) every transaction is a write transaction.

PostgreSQL needs nothing here: row locks and READ COMMITTED do the job.
"""

from __future__ import annotations

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


def configure_engine(engine: sa.Engine, *, busy_timeout_ms: int) -> None:
    """Attach the dialect-specific set-up above to a freshly created engine."""
    if engine.dialect.name != "sqlite":
        return
    in_memory = engine.url.database in (None, "", ":memory:")

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
        connection.exec_driver_sql(begin_statement())


def is_unique_violation(error: sa.exc.IntegrityError) -> bool:
    """True when an IntegrityError is a unique-constraint clash (both databases' wording)."""
    code = getattr(error.orig, "sqlstate", None)
    if code is not None:
        return code == "23505"
    return "UNIQUE constraint failed" in str(error.orig)
