"""Engine set-up: THE one place where eventapp handles a database's own connection and
transaction behaviour. (Column types that differ per database are in core/models.py.)

SQLite (the embedded default) is made safe for several gunicorn workers writing at once:
- WAL journal: readers never block the writer and the writer never blocks readers;
  synchronous=NORMAL (safe with WAL); foreign keys on (SQLite leaves them off).
- Write transactions start with `BEGIN IMMEDIATE`. A plain (deferred) transaction that first
  reads and then writes cannot wait for the lock when another writer committed in between:
  SQLite fails it at once with "database is locked", whatever the busy timeout. Taking the
  write lock at BEGIN turns that failure into a short wait. Read-only requests (GET, HEAD,
  OPTIONS) keep deferred transactions, so readers stay concurrent. A GET view that writes
  (say, recording a page visit) is marked `@writes_database`; outside a request (CLI, Celery
  tasks, tests) every transaction is a write transaction. A write inside a read transaction
  raises `WriteInReadTransaction` at once, so a missing mark shows up in the first test
  instead of as a rare failure under load.
- A POST view that reads a lot before a few writes (ticket redemption) is marked
  `@reads_first`: it starts in a read transaction and calls `start_writing()` before its
  first write, which ends the read and makes the next transaction a write transaction, so
  the write lock is held for the writes alone.
- Writers wait in a queue of their own, not in SQLite's busy handler, which makes a waiting
  writer sleep in naps growing to 100 ms (under load, writes stalled while the lock was
  free). Each write transaction first takes an exclusive `flock` on `<database>-writers`
  (and a thread lock, for threads of one process), retried after naps of at most 0.5 ms,
  and lets go right after COMMIT or ROLLBACK (or when its connection is invalidated or
  closed); the kernel drops the lock of a process that dies. A writer whose turn does not
  come within the busy timeout gets `DatabaseBusy` (a 503 "busy, try again" answer).
- So a POST holds the write lock from its first query to its commit: do slow work (password
  hashing, parsing an upload, drawing an image) before the first query, or after ending
  the transaction, never inside it.
- Checkpoints (copying the write-ahead log into the database file, and syncing it) run in a
  thread of each process, not inside a request's commit: core/checkpoints.py.
- Migrations run with foreign keys off (checked afterwards): Alembic rebuilds a SQLite table
  to alter it, and dropping the old table would otherwise cascade-delete its children.

PostgreSQL needs no locking here: row locks and READ COMMITTED do the job. A view whose
every write is one statement complete by itself is marked `@writes_single_statements` (ticket
redemption) and runs in autocommit mode there: no BEGIN and COMMIT round trips. Its pooled
connections are checked before use without pool_pre_ping's round trip on every checkout
(one of the few of a ticket redemption): a connection the server closed (a restart, a crash,
`pg_terminate_backend`) has its goodbye or end of file waiting on its socket, seen by a
non-blocking poll; one idle for PING_AFTER_IDLE_S or more is also pinged, for a server gone
without a word (a host that died). Either way the pool opens a new connection instead.
"""

from __future__ import annotations

import fcntl
import functools
import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request

from eventapp.core.checkpoints import checkpoint_in_background

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
View = TypeVar("View", bound=Callable[..., Any])
#: A pooled PostgreSQL connection idle this long is pinged (a round trip) before it is used.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "eventapp_idle_since"
#: Connection.info: writes so far in a `@writes_single_statements` request (PostgreSQL).
_WRITES_IN_AUTOCOMMIT = "eventapp_writes_in_autocommit"
_writing: ContextVar[bool] = ContextVar("eventapp_writing", default=False)


class DatabaseBusy(RuntimeError):
    """A writer waited the whole busy timeout for its turn (another transaction held on)."""


class WriteInReadTransaction(RuntimeError):
    """A write in a transaction begun for reading: mark the GET view `@writes_database`."""


class SecondWriteWithoutTransaction(RuntimeError):
    """A second write in a request of a `@writes_single_statements` view (PostgreSQL runs it
    in autocommit mode: the two would not be atomic). Drop the mark, or make it one statement."""


def writes_database(view: View) -> View:
    """Mark a GET view that writes, so its SQLite transaction takes the write lock at BEGIN."""
    view.writes_database = True  # type: ignore[attr-defined]
    return view


def reads_first(view: View) -> View:
    """Mark a POST view that does all its reading (who is asking, their role, what the
    request names) before a few writes: its request starts in a read transaction, and the
    service calls `start_writing()` before its first write. On SQLite the write lock is then
    held for the writes only, not for the reads too (a hot path: ticket redemption)."""
    view.reads_first = True  # type: ignore[attr-defined]
    return view


def writes_single_statements(view: View) -> View:
    """Mark a `@reads_first` view none of whose writes needs another one to be atomic with
    it: at most one of its statements changes rows, and that one is complete by itself
    (ticket redemption: the scan's INSERT with what it changes besides, one statement on
    PostgreSQL; or, if a unique index turned that away, the scan's record). There its
    request runs in autocommit mode: no BEGIN and COMMIT round trips, each statement commits
    as it ends (under READ COMMITTED each has its own snapshot anyway); a write after one
    that changed rows raises SecondWriteWithoutTransaction. On SQLite nothing changes."""
    view.writes_single_statements = True  # type: ignore[attr-defined]
    return view


def _commits_each_statement() -> bool:
    if not has_request_context() or _writing.get():
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "writes_single_statements", False))


_WRITING_NOW = "_eventapp_writing_now"


def start_writing(session: Any) -> None:
    """From here on this request writes: on SQLite, end the read transaction of a
    `@reads_first` view (it holds no changes: a write in it is refused) so that the next one
    begins with the write lock. Nothing happens elsewhere (PostgreSQL, CLI, tasks)."""
    if not has_request_context() or g.get(_WRITING_NOW):
        return
    setattr(g, _WRITING_NOW, True)
    view = current_app.view_functions.get(request.endpoint or "")
    if (getattr(view, "reads_first", False) and request.method not in SAFE_METHODS
            and not _writing.get() and session().in_transaction()
            and session.get_bind().dialect.name == "sqlite"):
        session.commit()  # a read transaction: nothing in it to commit but its end


@contextmanager
def write_transactions() -> Iterator[None]:
    """Within this block every transaction is a write transaction (around Celery tasks, which
    may run inline inside a GET request, and other writes made while serving a GET)."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def _request_writes() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    if g.get(_WRITING_NOW):
        return True
    if request.method not in SAFE_METHODS:
        return not getattr(view, "reads_first", False)
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

    def _file(self) -> int:
        if self._pid != os.getpid():  # first use in this process, or a fork (gunicorn worker)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._threads = threading.Lock()
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


class _Transactions:
    """What each SQLite connection of one engine is doing: which hold a turn in the writer
    queue, which are in a read-only (deferred) transaction. Keyed by the sqlite3 connection."""

    def __init__(self, queue: WriterQueue | None) -> None:
        self.queue = queue
        self.holding: set[int] = set()
        self.reading: set[int] = set()

    def begin(self, raw: Any, statement: str) -> None:
        if statement == "BEGIN":
            self.reading.add(id(raw))
        elif self.queue is not None:
            if not self.queue.enter():
                raise DatabaseBusy(f"no turn to write within {self.queue.timeout:.0f} s")
            self.holding.add(id(raw))

    def end(self, raw: Any) -> None:
        self.reading.discard(id(raw))
        if id(raw) in self.holding:
            self.holding.discard(id(raw))
            self.queue.leave()  # type: ignore[union-attr]

    def check_write(self, raw: Any, statement: str) -> None:
        if id(raw) in self.reading and statement.lstrip()[:7].upper().startswith(WRITES):
            raise WriteInReadTransaction(
                "a write in a read-only transaction (a GET request?): mark the view "
                "@writes_database, or wrap the write in write_transactions()")


def _raw(connection: Any) -> Any:
    """The sqlite3 connection under SQLAlchemy's wrappers."""
    return getattr(connection, "dbapi_connection", connection)


def _end_after(original: Callable[[Any], None], transactions: _Transactions
               ) -> Callable[[Any], None]:
    def finish(dbapi_connection: Any) -> None:
        try:
            original(dbapi_connection)
        finally:
            transactions.end(_raw(dbapi_connection))

    return finish


def _closed_by_server(connection: Any) -> bool:
    """Whether the server closed this idle psycopg connection: between queries it sends
    nothing, so anything to read on the socket is its goodbye (or the end of the stream)."""
    if connection.closed or connection.broken:
        return True
    poll = select.poll()
    poll.register(connection.fileno(), select.POLLIN)
    return bool(poll.poll(0))


def _is_read(statement: str) -> bool:
    return statement.lstrip()[:6].upper() == "SELECT"


def _check_postgresql_connections(engine: sa.Engine) -> None:
    dialect = engine.dialect

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()
        record.info.pop(_WRITES_IN_AUTOCOMMIT, None)
        if dbapi_connection is not None and dbapi_connection.autocommit:
            dbapi_connection.autocommit = False  # back from a `@writes_single_statements` view

    # psycopg sends BEGIN before the first statement of a transaction, not at its start: set
    # now, autocommit means no BEGIN (and so no COMMIT) at all.
    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        if _commits_each_statement():
            connection.connection.driver_connection.autocommit = True
            connection.info[_WRITES_IN_AUTOCOMMIT] = 0

    # The mark is a promise the code keeps: after a write that changed rows, another write
    # would not be atomic with it. (A write that changed nothing, such as an INSERT a unique
    # index turned away, may be followed by another: a redemption of a used ticket.)
    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before_execute(connection: sa.Connection, _cursor: Any, statement: str,
                        *_args: Any) -> None:
        writes = connection.info.get(_WRITES_IN_AUTOCOMMIT)
        if writes and not _is_read(statement) and \
                connection.connection.driver_connection.autocommit:
            raise SecondWriteWithoutTransaction(
                "a second write in a @writes_single_statements view, whose statements each "
                "commit at once on PostgreSQL: they would not be atomic")

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after_execute(connection: sa.Connection, cursor: Any, statement: str,
                       *_args: Any) -> None:
        writes = connection.info.get(_WRITES_IN_AUTOCOMMIT)
        if writes is not None and not _is_read(statement) and cursor.rowcount > 0:
            connection.info[_WRITES_IN_AUTOCOMMIT] = writes + 1

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None:  # a new connection
            return
        if _closed_by_server(dbapi_connection):
            raise sa.exc.DisconnectionError("the server closed this connection")
        if time.monotonic() - idle_since >= PING_AFTER_IDLE_S:
            try:
                dialect.do_ping(dbapi_connection)
            except dialect.loaded_dbapi.Error as error:  # as pool_pre_ping: all are suspect
                raise sa.exc.InvalidatePoolError(f"no answer to a ping: {error}") from error


def configure_engine(engine: sa.Engine, *, busy_timeout_ms: int, checkpoint_ms: int) -> None:
    """Attach the dialect-specific set-up above to a freshly created engine (and, for a
    SQLite file, its checkpoints in the background: core/checkpoints.py)."""
    if engine.dialect.name == "postgresql":
        _check_postgresql_connections(engine)
    if engine.dialect.name != "sqlite":
        return
    in_memory = engine.url.database in (None, "", ":memory:")
    checkpoint_in_background(engine, checkpoint_ms)
    queue = None if in_memory else WriterQueue(engine.url.database, busy_timeout_ms / 1000)
    transactions = _Transactions(queue)
    # This engine's dialect object is its own: wrapping its methods touches no other engine.
    engine.dialect.do_commit = _end_after(engine.dialect.do_commit, transactions)
    engine.dialect.do_rollback = _end_after(engine.dialect.do_rollback, transactions)

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
        statement, raw = begin_statement(), _raw(connection.connection)
        transactions.begin(raw, statement)
        try:
            connection.exec_driver_sql(statement)
        except BaseException:
            transactions.end(raw)
            raise

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _on_execute(connection: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        transactions.check_write(_raw(connection.connection), statement)

    # A connection that is thrown away (an error, a disconnect) ends without COMMIT/ROLLBACK.
    @sa.event.listens_for(engine, "invalidate")
    def _on_invalidate(dbapi_connection: Any, _record: Any, _error: Any) -> None:
        transactions.end(dbapi_connection)

    @sa.event.listens_for(engine, "close")
    def _on_close(dbapi_connection: Any, _record: Any) -> None:
        transactions.end(dbapi_connection)


@contextmanager
def connection_for_migrations(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection to run migrations on. On SQLite, foreign keys are off meanwhile (Alembic
    rebuilds a table to alter it; dropping the old one would cascade-delete its children) and
    checked afterwards: a migration that leaves a broken reference fails. The rename of the
    rebuilt copy runs as SQLite's legacy ALTER TABLE does: triggers whose bodies name the
    table (those on registrations keeping events.confirmed_places) are left as they are, to
    name the table again once the copy has its name, instead of failing the rename with "no
    such table" while the old one is gone."""
    with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            yield connection
            return
        raw = _raw(connection.connection)
        raw.execute("PRAGMA foreign_keys = OFF")  # outside any transaction, so it takes effect
        raw.execute("PRAGMA legacy_alter_table = ON")
        try:
            yield connection
            broken = raw.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left {len(broken)} broken references, "
                                   f"such as {broken[:3]}")
        finally:
            raw.execute("PRAGMA legacy_alter_table = OFF")
            raw.execute("PRAGMA foreign_keys = ON")


def is_unique_violation(error: sa.exc.IntegrityError) -> bool:
    """True when an IntegrityError is a unique-constraint clash (both databases' wording)."""
    code = getattr(error.orig, "sqlstate", None)
    if code is not None:
        return code == "23505"
    return "UNIQUE constraint failed" in str(error.orig)


def is_lock_timeout(error: sa.exc.OperationalError) -> bool:
    """True when SQLite gave up waiting for a lock ("database is locked")."""
    return "database is locked" in str(error.orig)


def lock_row(table: type[Any], row_id: int, *columns: Any) -> Any:
    """Make writers of the same row take turns until commit: a row lock on PostgreSQL. On
    SQLite no lock is taken: the writer already holds the whole database since BEGIN
    IMMEDIATE. With `columns`, they are read too, as committed now (once the lock is
    granted): their row, or None if the row is gone; a read on SQLite as well.

    The lock is FOR NO KEY UPDATE, not FOR UPDATE: inserting a row that refers to this one
    (a registration of the event) takes a KEY SHARE lock on it for the foreign key, which
    FOR UPDATE waits for. Two bookings that each inserted their registration and then
    locked the event FOR UPDATE would wait for each other: a deadlock."""
    from eventapp.extensions import db

    sqlite = db.session.get_bind().dialect.name == "sqlite"
    if sqlite and not columns:
        return None
    return db.session.execute(_row_read(table, columns, lock=not sqlite),
                              {"row_id": row_id}).first()


@functools.lru_cache(maxsize=64)
def _row_read(table: type[Any], columns: tuple[Any, ...], *, lock: bool) -> sa.Select[Any]:
    """`lock_row`'s statement, built once per table, columns and database kind."""
    statement = sa.select(*(columns or (table.id,))).where(table.id == sa.bindparam("row_id"))
    return statement.with_for_update(key_share=True) if lock else statement
