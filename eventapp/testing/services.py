"""Real servers for tests and benchmarks, started on loopback in a temporary folder and stopped
again: PostgreSQL, Redis, the app under gunicorn, a Celery worker.

Nothing here is used by the running product. Each server is a context manager:

    with PostgresServer() as pg, RedisServer() as redis:
        ... pg.url, redis.url ...

A server that cannot start (its program is not installed) raises ServiceUnavailable with what
to install; tests turn that into a skip, or into a failure when CI is set.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"


class ServiceUnavailable(RuntimeError):
    """The server's program is missing or would not start; the message says what to do."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceUnavailable(f"the process on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceUnavailable(f"nothing listened on {LOOPBACK}:{port} within {timeout:.0f}s")


def _stop(process: subprocess.Popen | None, timeout: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class _Server:
    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def _postgres_bin(name: str) -> str:
    found = shutil.which(name)
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:  # Debian keeps the server programs out of PATH
        return candidates[0]
    if found:
        return found
    raise ServiceUnavailable(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")


class PostgresServer(_Server):
    """A throwaway PostgreSQL cluster. `durable=False` (tests) turns fsync off for speed;
    benchmarks keep the production settings."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.port = free_port()
        self.folder: Path | None = None
        self._as_user: list[str] = []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{LOOPBACK}:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@{LOOPBACK}:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as_user, *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise ServiceUnavailable(f"{Path(args[0]).name} failed: {result.stderr.strip()}")

    def start(self) -> Self:
        initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
        self.folder = Path(tempfile.mkdtemp(prefix="eventapp-pg-"))
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceUnavailable("running as root needs the 'postgres' system user "
                                         "(apt-get install postgresql)") from None
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        data = self.folder / "data"
        self._run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-instructions")
        options = [f"-p {self.port}", f"-k {self.folder}", f"-c listen_addresses={LOOPBACK}",
                   "-c max_connections=200", "-c shared_buffers=128MB"]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(pg_ctl, "-D", str(data), "-l", str(self.folder / "server.log"),
                  "-o", " ".join(options), "-w", "-t", "60", "start")
        return self

    def create_database(self, name: str, template: str | None = None) -> str:
        import psycopg

        with psycopg.connect(f"host={LOOPBACK} port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            suffix = f' TEMPLATE "{template}"' if template else ""
            connection.execute(f'CREATE DATABASE "{name}"{suffix}')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(f"host={LOOPBACK} port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restart(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: as a service manager does; `immediate`: as a crash does)
        and start it again on the same port, with its data: every connection to it is cut."""
        assert self.folder is not None, "start the server first"
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.folder / "data"), "-l",
                  str(self.folder / "server.log"), "-m", mode, "-w", "-t", "60", "restart")

    def stop(self) -> None:
        if self.folder is None:
            return
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run([*self._as_user, _postgres_bin("pg_ctl"), "-D", str(data), "-m",
                            "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None


class RedisServer(_Server):
    """A throwaway Redis, in memory only."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.folder: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> Self:
        program = shutil.which("redis-server")
        if program is None:
            raise ServiceUnavailable("redis-server is not installed (apt-get install redis-server)")
        self.folder = Path(tempfile.mkdtemp(prefix="eventapp-redis-"))
        self.process = subprocess.Popen(
            [program, "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, 15, self.process)
        return self

    def stop(self) -> None:
        _stop(self.process)
        self.process = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def app_environment(database_url: str, instance_path: str | Path, *,
                    broker_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment a child process (gunicorn, a worker) needs to run the app."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("CELERY_", "DATABASE_URL", "EVENTAPP_"))}
    env.update(DATABASE_URL=database_url, EVENTAPP_INSTANCE_PATH=str(instance_path),
               SECRET_KEY="test-secret-key-not-for-production", LOG_LEVEL="WARNING", **extra)
    if broker_url:
        env["CELERY_BROKER_URL"] = broker_url
    return env


class GunicornServer(_Server):
    """The app under gunicorn with `workers` sync workers, as the README recommends."""

    def __init__(self, env: dict[str, str], *, workers: int = 4, threads: int = 1,
                 app: str = "eventapp.wsgi:app") -> None:
        self.env = env
        self.workers = workers
        self.threads = threads
        self.app = app
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> Self:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"{LOOPBACK}:{self.port}",
             "--workers", str(self.workers), "--threads", str(self.threads),
             "--log-level", "warning", self.app],
            env=self.env, stdout=subprocess.DEVNULL,
            start_new_session=True)  # Ctrl-C reaches only its owner, which stops it cleanly
        wait_for_port(self.port, 60, self.process)
        return self

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        _stop(self.process, timeout=30)
        self.process = None


class CeleryWorker(_Server):
    """A real Celery worker process on the given environment's broker."""

    def __init__(self, env: dict[str, str], *, concurrency: int = 2,
                 include: tuple[str, ...] = ()) -> None:
        self.env = env
        self.concurrency = concurrency
        self.include = include
        self.process: subprocess.Popen | None = None

    def start(self) -> Self:
        command = [sys.executable, "-m", "celery", "-A", "eventapp.worker", "worker",
                   "--loglevel", "WARNING", "--concurrency", str(self.concurrency),
                   "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "--hostname", f"test-{os.getpid()}-{free_port()}@%h"]
        if self.include:
            command += ["--include", ",".join(self.include)]
        self.process = subprocess.Popen(command, env=self.env)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        from celery import Celery

        probe = Celery(broker=self.env["CELERY_BROKER_URL"])
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise ServiceUnavailable(f"the Celery worker exited with "
                                             f"{self.process.returncode}")
                if probe.control.ping(timeout=0.5):
                    return
            raise ServiceUnavailable(f"the Celery worker did not answer within {timeout:.0f}s")
        finally:
            probe.close()

    def kill(self) -> None:
        """Kill the worker and all its pool processes at once, as a crash or OOM would."""
        if self.process is None:
            return
        for pid in _descendants(self.process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.kill()
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        _stop(self.process, timeout=30)
        self.process = None


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        for child in Path(task).read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found
