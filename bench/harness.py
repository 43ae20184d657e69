"""What every benchmark needs: its options, a throwaway database migrated with the real
migrations, demo data and an API token, the app under gunicorn, process figures (memory, CPU)
and the one output format.

Output: `emit()` prints exactly one JSON object per line on stdout, and nothing else goes to
stdout; `log()` writes progress to stderr. Everything started here is a context manager that
stops it again on the way out, whether the benchmark finished, failed or was interrupted.

    with demo_site(options) as site:      # database + demo event + token + gunicorn
        result = measure(site, lambda serial: HttpRequest.get(path, site.token), phase, "reads")
    emit_load(NAME, "reads", result)
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from eventapp.testing.services import GunicornServer, PostgresServer, app_environment

DATABASES = ("sqlite", "postgres")
#: What the README recommends: one gunicorn sync worker per core.
DEFAULT_WORKERS = os.cpu_count() or 2
DEFAULT_WARMUP_SECONDS = 2.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Options:
    """The command line, as every benchmark receives it. None means "the benchmark's default"."""

    db: str = "sqlite"
    workers: int = DEFAULT_WORKERS
    clients: int | None = None
    duration: float | None = None
    requests: int | None = None
    warmup: float = DEFAULT_WARMUP_SECONDS

    def phase(self, *, clients: int, duration: float) -> Phase:
        """One measured phase: the command line wins over the benchmark's defaults. With
        `--requests` alone a phase sends that many requests; with `--duration` too, it stops
        at whichever comes first."""
        return Phase(clients=self.clients or clients,
                     duration=self.duration or (None if self.requests else duration),
                     requests=self.requests, warmup=self.warmup)


@dataclass(frozen=True)
class Phase:
    """How long and how wide a load runs: `clients` at once, for `duration` seconds or until
    `requests` have been sent in all, after `warmup` seconds whose figures are not kept."""

    clients: int
    duration: float | None
    requests: int | None
    warmup: float


# --- output -------------------------------------------------------------------------------

def emit(bench: str, metric: str, value: float, unit: str) -> None:
    """Print one figure as one JSON line on stdout."""
    shown: float = value if isinstance(value, int) else round(float(value), 2)
    print(json.dumps({"bench": bench, "metric": metric, "value": shown, "unit": unit}),
          flush=True)


def log(message: str) -> None:
    """Progress for the person watching, on stderr (stdout carries figures only)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the database -------------------------------------------------------------------------

@dataclass
class Database:
    """A throwaway database and the folder the app keeps its instance files in."""

    kind: str
    url: str
    folder: Path
    postgres: PostgresServer | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment the app is built from, here and in gunicorn."""
        return app_environment(self.url, self.folder / "instance", DEFAULT_LOCALE="en")

    @contextmanager
    def app_context(self) -> Iterator[Flask]:
        """The app on this database, in an app context, its connections closed afterwards."""
        from eventapp import create_app
        from eventapp.extensions import db

        app = create_app(env=self.env)
        with app.app_context():
            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()

    def database_pids(self) -> list[int]:
        """The PostgreSQL server's processes (none for SQLite, which lives in the app)."""
        postmaster = self._postmaster()
        return [postmaster, *_descendants(postmaster)] if postmaster else []

    def _postmaster(self) -> int | None:
        if self.postgres is None or self.postgres.folder is None:
            return None
        try:
            pid = int((self.postgres.folder / "data" / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def server_has_exited(self) -> bool:
        """True when this database has its own server and that server is gone."""
        return self.postgres is not None and self._postmaster() is None


@contextmanager
def throwaway_database(kind: str) -> Iterator[Database]:
    """A new database built by the real migrations: a SQLite file, or a PostgreSQL server of
    its own with production durability (fsync on). Removed afterwards."""
    if kind not in DATABASES:
        raise ValueError(f"unknown database {kind!r}; choose one of {', '.join(DATABASES)}")
    folder = Path(tempfile.mkdtemp(prefix="eventapp-bench-"))
    server: PostgresServer | None = None
    try:
        if kind == "postgres":
            log("starting PostgreSQL (durable settings)")
            server = PostgresServer(durable=True)
            server.start()
            url = server.create_database("eventapp_bench")
        else:
            url = f"sqlite:///{folder / 'eventapp.db'}"
        database = Database(kind, url, folder, server)
        _migrate(database)
        yield database
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _migrate(database: Database) -> None:
    from flask_migrate import upgrade

    log(f"migrating the {database.kind} database")
    with database.app_context():
        upgrade()


# --- data ---------------------------------------------------------------------------------

def seed_demo_event(database: Database, *, contacts: int = 2000) -> str:
    """Fill the database with the demo event (as `eventapp seed-demo` does); its slug."""
    from eventapp.demo import EVENT_SLUG, seed_demo

    log(f"seeding the demo event with {contacts} contacts")
    with database.app_context():
        log(seed_demo(contacts=contacts))
    settle(database)
    return EVENT_SLUG


def settle(database: Database) -> None:
    """After bulk-loading data, bring PostgreSQL to where autovacuum would soon bring it
    (statistics and visibility map up to date), so that autovacuum does not start in the
    middle of a measurement and plans are those of a running site. SQLite has no autovacuum
    and eventapp runs no ANALYZE on it, so it is left as it is."""
    if database.kind != "postgres":
        return
    import sqlalchemy as sa

    from eventapp.extensions import db

    with database.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))


def api_token(database: Database, email: str, name: str = "benchmark") -> str:
    """A new API token for the existing account `email`, as its owner would create one."""
    import sqlalchemy as sa

    from eventapp.auth.models import User
    from eventapp.auth.services import issue_api_token
    from eventapp.extensions import db

    with database.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            raise LookupError(f"no account {email} to make a token for")
        plain, _token = issue_api_token(user, name)
        db.session.commit()
    return plain


# --- the app ------------------------------------------------------------------------------

@contextmanager
def running_app(database: Database, *, workers: int) -> Iterator[GunicornServer]:
    """The app under gunicorn with `workers` sync workers on a loopback port, all booted."""
    server = GunicornServer(database.env, workers=workers)
    try:
        log(f"starting gunicorn with {workers} workers")
        server.start()
        _wait_for_workers(server, workers)
        yield server
    finally:
        server.stop()


def _wait_for_workers(server: GunicornServer, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(server.worker_pids()) < workers and time.monotonic() < deadline:
        time.sleep(0.1)


@dataclass
class Site:
    """The demo event served by gunicorn, and a token of one of its team (database None: an
    app with no database of the harness, such as `ceiling`'s bare endpoints)."""

    database: Database | None
    server: GunicornServer
    token: str = ""
    event_slug: str = ""

    @property
    def url(self) -> str:
        return self.server.url

    def problem(self) -> str | None:
        """What has gone wrong with the servers (one of them exited), or None."""
        process = self.server.process
        if process is None or process.poll() is not None:
            return "gunicorn has exited"
        if self.database is not None and self.database.server_has_exited():
            return "PostgreSQL has exited"
        return None

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the app's workers and by the database server."""
        used = {"app": cpu_seconds(self.server.worker_pids())}
        if self.database is not None:
            used["database"] = cpu_seconds(self.database.database_pids())
        return used


@contextmanager
def demo_site(options: Options, *, contacts: int = 2000,
              token_for: str = "marketer@example.com") -> Iterator[Site]:
    """The usual set-up of an HTTP benchmark: a throwaway database with the demo event, an API
    token of `token_for` (the demo marketer), and the app under gunicorn."""
    with throwaway_database(options.db) as database:
        slug = seed_demo_event(database, contacts=contacts)
        token = api_token(database, token_for)
        with running_app(database, workers=options.workers) as server:
            yield Site(database, server, token, slug)


# --- processes ----------------------------------------------------------------------------

def rss_mib(pid: int) -> float:
    """Resident memory of one process, in MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def worker_rss_mib(server: GunicornServer) -> dict[int, float]:
    """Resident memory of each gunicorn worker, in MiB, by process id."""
    return {pid: rss_mib(pid) for pid in server.worker_pids()}


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes (and their reaped children)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / _CLOCK_TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, summed over its cores."""
    first_line = Path("/proc/stat").read_text().split("\n", 1)[0]
    # user nice system idle iowait irq softirq steal (guest time is already in user and nice)
    fields = [int(value) for value in first_line.split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / _CLOCK_TICKS, sum(fields) / _CLOCK_TICKS


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            for child in children.read_text().split():
                found += [int(child), *_descendants(int(child))]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found
