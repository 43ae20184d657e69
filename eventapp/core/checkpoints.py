"""SQLite's WAL checkpoints, kept off the request path.

In WAL mode a commit only appends pages to the `-wal` file (with synchronous=NORMAL it does
not even sync it). Copying those pages back into the database file and syncing that file is
a checkpoint, and it is the slow part: about 10 ms here, mostly waiting for the disk. By
default SQLite runs it inside the commit that takes the log past 1,000 pages, so a request
in every 70 or so ticket redemptions waited for it (the gate's p99 on SQLite), and every
request queued behind that worker waited too.

Instead, each process that uses a SQLite file runs a `Checkpointer`: a thread that runs a
PASSIVE checkpoint every SQLITE_CHECKPOINT_MS on a connection of its own. A passive
checkpoint copies what it can without waiting for readers or writers, and they never wait
for it; the sqlite3 module lets go of the GIL meanwhile, so the process goes on serving.
Once a checkpoint has copied the whole log, the next writer starts the log again from its
beginning, so it stays a few thousand pages long. The commit's own checkpoint is kept as a
backstop, at BACKSTOP_PAGES: should the thread fall behind, the log still cannot grow
without end. Nothing is less durable: a commit is as safe as before, and a checkpoint is
the same copy, made by another thread.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from typing import Any
from urllib.parse import quote

#: The log's length in pages (4 KiB each) at which a commit checkpoints by itself: the
#: backstop, should the thread fall behind (SQLite's default is 1,000).
BACKSTOP_PAGES = 10_000

#: Checkpoints in a row at most, each copying what came in during the one before.
CATCH_UP_ROUNDS = 5

log = logging.getLogger(__name__)


class Checkpointer:
    """One SQLite file's checkpoints in a thread of this process. Before a fork the thread
    is stopped, its connection closed (SQLite's connections must not cross a fork), and the
    next checkout in each process starts its own."""

    def __init__(self, database_path: str, interval_s: float) -> None:
        self.path = database_path
        self.interval_s = interval_s
        self._pid = -1
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        _checkpointers.add(self)

    def ensure_running(self) -> None:
        """Start the thread in this process unless it runs already (cheap: called on every
        connection checkout)."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                            name=f"sqlite-checkpoints:{self.path}",
                                            daemon=True)
            self._thread.start()
            self._pid = os.getpid()

    def stop(self) -> None:
        """Stop the thread and close its connection (the last connection to close copies
        the whole log and removes it, as SQLite does); the next checkout starts it again."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._pid = -1
        if thread is not None and thread is not threading.current_thread() \
                and thread.is_alive():
            thread.join()

    def _forget_parent(self) -> None:
        """In a forked child: the parent's lock and thread are not ours."""
        self._lock = threading.Lock()
        self._thread, self._pid = None, -1

    def _ended(self, stop: threading.Event) -> None:
        """The thread gave up by itself (the file is gone): a later checkout may start
        another, unless it was stopped or replaced meanwhile."""
        with self._lock:
            if self._stop is stop and self._pid == os.getpid():
                self._thread, self._pid = None, -1

    def checkpoint(self, connection: sqlite3.Connection) -> tuple[int, int, int]:
        """One passive checkpoint: (1 if it could not take its turn, pages in the log,
        pages copied)."""
        row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def catch_up(self, connection: sqlite3.Connection) -> bool:
        """Checkpoint until the whole log is copied (True), at most CATCH_UP_ROUNDS times.
        Under load, writers commit while a checkpoint runs, and the log can only start again
        from its beginning once a checkpoint found nothing left: each round copies only
        what was committed during the one before, so it is shorter, until one is short
        enough that nothing came in meanwhile."""
        copied_up_to = -1
        for _round in range(CATCH_UP_ROUNDS):
            busy, pages, copied = self.checkpoint(connection)
            if busy:
                return False
            if pages == copied_up_to:  # nothing committed since the round before
                return True
            copied_up_to = copied if copied == pages else -1
        return False

    def _run(self, stop: threading.Event) -> None:
        try:
            # mode=rw: never create the file (a database removed meanwhile ends the thread).
            connection = sqlite3.connect(f"file:{quote(self.path)}?mode=rw", uri=True,
                                         isolation_level=None, check_same_thread=False)
            opened = _identity(self.path)
        except (sqlite3.Error, OSError) as error:
            log.warning("no background checkpoints of %s: %s", self.path, error)
            self._ended(stop)
            return
        try:
            while not stop.wait(self.interval_s):
                if _identity(self.path) != opened:  # removed, or replaced by another file
                    self._ended(stop)
                    return
                try:
                    self.catch_up(connection)
                except sqlite3.Error as error:
                    log.debug("checkpoint of %s skipped: %s", self.path, error)
        finally:
            connection.close()


def _identity(path: str) -> tuple[int, int] | None:
    """Which file `path` names now (device and inode), None if none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


#: Every checkpointer of this process, to stop before a fork and forget after it.
_checkpointers: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


def _before_fork() -> None:
    for checkpointer in list(_checkpointers):
        checkpointer.stop()


def _after_fork_in_child() -> None:
    for checkpointer in list(_checkpointers):
        checkpointer._forget_parent()


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def checkpoint_in_background(engine: Any, interval_ms: int) -> Checkpointer | None:
    """Give a SQLite file's engine its checkpointer (None for an in-memory database or an
    interval of 0: SQLite then checkpoints inside commits, as it does by default). Its
    connections leave checkpoints to the thread up to BACKSTOP_PAGES; the thread starts with
    the first checkout in each process, and stops when the engine is disposed of or dropped
    and before a fork (to start again at the next checkout)."""
    import sqlalchemy as sa

    database = engine.url.database
    if interval_ms <= 0 or database in (None, "", ":memory:") or \
            database.startswith("file:"):
        return None
    checkpointer = Checkpointer(os.path.abspath(database), interval_ms / 1000)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(_dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        checkpointer.ensure_running()

    dispose = engine.dispose

    def dispose_and_stop(*args: Any, **kwargs: Any) -> None:
        checkpointer.stop()
        dispose(*args, **kwargs)

    engine.dispose = dispose_and_stop
    weakref.finalize(engine, checkpointer.stop)
    return checkpointer
