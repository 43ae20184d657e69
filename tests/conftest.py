"""Fixtures shared by every test: an app on its own database, clients logged in as each role,
factories, and real servers (PostgreSQL, Redis, SMTP, Chromium) started on demand.

Every test that uses `app` runs once per database named by `--db` (default: sqlite and
postgresql), each time on a fresh database copied from one migrated template.

A test that needs a server the machine lacks is skipped, except when the CI environment
variable is set: then it fails, so CI can never pass by skipping.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from eventapp import create_app
from eventapp.testing.services import PostgresServer, RedisServer, ServiceUnavailable
from tests.factories import Factory

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgresql")
ON_CI = bool(os.environ.get("CI"))
_database_numbers = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", default=",".join(BACKENDS),
                     help="comma-separated databases to run app tests on (sqlite,postgresql)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" not in metafunc.fixturenames:
        return
    backends = [b.strip() for b in metafunc.config.getoption("--db").split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"unknown --db value(s): {', '.join(sorted(unknown))}")
    if metafunc.definition.get_closest_marker("single_db"):
        backends = backends[:1]
    metafunc.parametrize("db_backend", backends, scope="session")


#: What the closing summary counts: tests that ran against each real server.
SERVICES = {"postgresql": "on PostgreSQL", "sqlite": "on SQLite",
            "celery_worker": "with a Redis broker and a Celery worker process",
            "browser": "in headless Chromium", "smtp_server": "through a real SMTP server",
            "gunicorn": "against the app under gunicorn"}
_service_outcomes: dict[str, dict[str, int]] = {}


def _services_of(item: pytest.Item) -> list[str]:
    params = getattr(item, "callspec", None)
    found = [params.params["db_backend"]] if params and "db_backend" in params.params else []
    found += [name for name in ("celery_worker", "browser", "gunicorn")
              if item.get_closest_marker(name)]
    if "smtp_server" in getattr(item, "fixturenames", ()):
        found.append("smtp_server")
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    """On CI, a skipped test is a failed one, however it was skipped: CI must run them all.
    Also counts, per real server, how the tests that used it ended."""
    report = yield
    if ON_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped on CI, which must run every test: {reason}"
    if report.when == "call" or (report.when == "setup" and not report.passed):
        for service in _services_of(item):
            counts = _service_outcomes.setdefault(service, {})
            counts[report.outcome] = counts.get(report.outcome, 0) + 1
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which real servers the run used, so a passing run shows it was not by skipping."""
    if not _service_outcomes:
        return
    terminalreporter.section("real servers used")
    for service, label in SERVICES.items():
        counts = _service_outcomes.get(service)
        if counts:
            outcome = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
            terminalreporter.write_line(f"{label}: {outcome}")


def require(service: str, error: Exception) -> None:
    """Skip (or, on CI, fail) a test whose server could not be had."""
    message = f"{service} unavailable: {error}"
    if ON_CI:
        pytest.fail(message + " (CI must run every test; install it in .ci/run)")
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile the .po catalogues that are newer than their .mo (the .mo files are not in git),
    so that `pytest` alone shows Chinese pages as the scripts do."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (ROOT / "eventapp" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source:
                catalog = read_po(source)
            with mo.open("wb") as target:
                write_mo(target, catalog)


# --- servers --------------------------------------------------------------------------------

@contextmanager
def started_postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server, started (the test skips, or fails in CI, without one)."""
    server = PostgresServer()
    try:
        server.start()
    except ServiceUnavailable as error:
        server.stop()
        require("PostgreSQL", error)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with started_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
    except ServiceUnavailable as error:
        server.stop()
        require("Redis", error)
    yield server
    server.stop()


# --- databases ------------------------------------------------------------------------------

def _migrate(database_url: str, instance: Path) -> None:
    """Build the schema through the real migrations, as `eventapp db upgrade` does."""
    from flask_migrate import upgrade

    from eventapp.extensions import db

    app = create_app({"TESTING": True}, env=_env(database_url, instance))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _env(database_url: str, instance: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "EVENTAPP_INSTANCE_PATH": str(instance),
            "SECRET_KEY": "test-secret-key-not-for-production", "LOG_LEVEL": "WARNING",
            "DEFAULT_LOCALE": "en", **extra}


def sqlite_app_in(folder: Path, **settings: str) -> Flask:
    """The app on a migrated SQLite file of its own in `folder`, whatever --db says (for
    tests of SQLite's own behaviour), with the given settings."""
    url = f"sqlite:///{folder / 'eventapp.db'}"
    _migrate(url, folder)
    return create_app({"TESTING": True}, env=_env(url, folder, **settings))


@pytest.fixture(scope="session")
def database_template(request: pytest.FixtureRequest, db_backend: str,
                      tmp_path_factory: pytest.TempPathFactory) -> str:
    """The migrated database every test copies: a SQLite file or a PostgreSQL template."""
    instance = tmp_path_factory.mktemp("template-instance")
    if db_backend == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        _migrate(f"sqlite:///{path}", instance)
        return str(path)
    server: PostgresServer = request.getfixturevalue("postgres_server")
    _migrate(server.create_database("eventapp_template"), instance)
    return "eventapp_template"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, db_backend: str, database_template: str,
                 tmp_path: Path) -> Iterator[str]:
    """A fresh database for one test."""
    if db_backend == "sqlite":
        path = tmp_path / "eventapp.db"
        shutil.copyfile(database_template, path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    url = server.create_database(name, template=database_template)
    yield url
    server.drop_database(name)


# --- the app --------------------------------------------------------------------------------

@pytest.fixture
def app_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment the app (and any child process of it) is built from."""
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    return _env(database_url, instance)


@pytest.fixture
def broker_app(app: Flask, broker_env: dict[str, str]) -> Iterator[Flask]:
    """The web side of a test with a real broker (each such module defines `broker_env`):
    the same database as `app`, handing tasks to Redis instead of running them."""
    from eventapp.extensions import db

    web = create_app({"TESTING": True}, env=broker_env)
    assert not web.extensions["celery"].conf.task_always_eager
    yield web
    with web.app_context():
        db.engine.dispose()


@pytest.fixture
def app(app_env: dict[str, str]) -> Iterator[Flask]:
    from eventapp.extensions import db

    app = create_app({"TESTING": True}, env=app_env)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make(app: Flask) -> Factory:
    return Factory(app)


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Client(FlaskClient):
    """A test client that fills in the CSRF token as a browser form would."""

    def csrf_token(self) -> str:
        page = self.get("/login", follow_redirects=True).get_data(as_text=True)
        match = CSRF_META.search(page)
        assert match, "every page carries a CSRF token in <meta name=csrf-token>"
        return match.group(1)

    def post_form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.post(url, data={"csrf_token": self.csrf_token(), **(data or {})}, **kwargs)

    def login(self, email: str, password: str) -> Any:
        response = self.post_form("/login", {"email": email, "password": password})
        assert response.status_code == 302, f"login of {email} failed"
        return response


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = Client
    return app.test_client()


@pytest.fixture
def event(make: Factory) -> Any:
    return make.event()


def _client_as(app: Flask, make: Factory, event: Any, role: str | None) -> Client:
    user = make.user(admin=role == "admin")
    if role not in (None, "admin"):
        make.membership(event, user, role)
    app.test_client_class = Client
    client = app.test_client()
    client.login(user.email, Factory.PASSWORD)
    client.user = user  # type: ignore[attr-defined]
    return client  # type: ignore[return-value]


@pytest.fixture
def marketer_client(app: Flask, make: Factory, event: Any) -> Client:
    return _client_as(app, make, event, "marketer")


@pytest.fixture
def staff_client(app: Flask, make: Factory, event: Any) -> Client:
    return _client_as(app, make, event, "staff")


@pytest.fixture
def supervisor_client(app: Flask, make: Factory, event: Any) -> Client:
    """A gate supervisor: scans, and also searches, checks in by hand, undoes."""
    return _client_as(app, make, event, "supervisor")


@pytest.fixture
def sales_client(app: Flask, make: Factory, event: Any) -> Client:
    return _client_as(app, make, event, "sales")


@pytest.fixture
def admin_client(app: Flask, make: Factory, event: Any) -> Client:
    return _client_as(app, make, event, "admin")


@pytest.fixture
def outsider_client(app: Flask, make: Factory, event: Any) -> Client:
    """Signed in, but on no event's team."""
    return _client_as(app, make, event, None)


# --- reading responses ----------------------------------------------------------------------

_FIELD = re.compile(r'<div class="field[^"]*">(.*?)</div>', re.S)
_FIELD_ERROR = re.compile(r'<small class="field__error"[^>]*>(.*?)</small>', re.S)


def field_errors_of(response: Any, name: str) -> list[str]:
    """The error messages a form page shows under the field called `name`."""
    for block in _FIELD.findall(response.get_data(as_text=True)):
        if f'name="{name}"' in block:
            return [unescape(message) for message in _FIELD_ERROR.findall(block)]
    raise AssertionError(f"no field {name!r} on the page")


@pytest.fixture
def field_errors() -> Callable[[Any, str], list[str]]:
    """`field_errors(response, "code")`: the messages under that field of a form page."""
    return field_errors_of


@pytest.fixture
def bearer(app: Flask) -> Callable[[Any], dict[str, str]]:
    """`bearer(user)`: the Authorization header of a new API token of that user."""
    from eventapp.auth.models import User
    from eventapp.auth.services import issue_api_token
    from eventapp.extensions import db

    def headers(user: Any) -> dict[str, str]:
        with app.app_context():
            plain, _token = issue_api_token(db.session.get(User, user.id), "test")
            db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return headers
