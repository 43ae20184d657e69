"""Every setting of eventapp, read from the environment once at start-up.

Each setting has a safe default so that `eventapp run` works on a fresh machine, and one line
saying why it exists. README.md lists the same table; tests/core/test_config.py keeps the two
in step.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    why: str
    parse: Callable[[str], Any] = str


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _mib(value: str) -> int:
    return int(float(value) * 1024 * 1024)


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", None,
            "SQLAlchemy URL; empty means a SQLite file `eventapp.db` in the instance folder."),
    Setting("SECRET_KEY", None,
            "Signs sessions and CSRF tokens; empty means generated once into instance/secret_key."),
    Setting("EVENTAPP_INSTANCE_PATH", None,
            "Folder for the SQLite file, the generated secret key and uploads."),
    Setting("CELERY_BROKER_URL", None,
            "Redis URL for background jobs; empty means tasks run inline in the web process."),
    Setting("CELERY_RESULT_BACKEND", None,
            "Where Celery keeps task states; empty means the broker URL (or none when inline)."),
    Setting("CELERY_VISIBILITY_TIMEOUT", "3600",
            "Seconds before Redis hands an unacknowledged task (its worker died) to another worker.",
            int),
    Setting("SMTP_HOST", "localhost", "Outgoing mail server."),
    Setting("SMTP_PORT", "25", "Outgoing mail server port.", int),
    Setting("SMTP_USERNAME", "", "SMTP login; empty means no authentication."),
    Setting("SMTP_PASSWORD", "", "SMTP password."),
    Setting("SMTP_SECURITY", "none",
            "`none`, `starttls` or `ssl`: how the SMTP connection is encrypted."),
    Setting("SMTP_TIMEOUT", "20", "Seconds to wait for the mail server.", float),
    Setting("MAIL_FROM", "eventapp <noreply@localhost>", "Sender address of every e-mail."),
    Setting("DEFAULT_LOCALE", "zh_CN",
            "Language when neither the user's setting nor the browser names one we have."),
    Setting("DEFAULT_TIMEZONE", "Asia/Shanghai", "Timezone of new events and of times shown "
            "outside an event."),
    Setting("DEFAULT_CURRENCY", "CNY", "Currency of new events' channel spend (ISO 4217)."),
    Setting("MAX_UPLOAD_MB", "32", "Largest request body accepted (spreadsheets, images).", _mib),
    Setting("SESSION_COOKIE_SECURE", "false",
            "Send the session cookie over HTTPS only; turn on behind TLS.", _bool),
    Setting("SQLITE_BUSY_TIMEOUT_MS", "20000",
            "How long a SQLite writer waits for its turn before the request is answered "
            "'busy, try again' (keep it under gunicorn's 30 s worker timeout).", int),
    Setting("SQLITE_CHECKPOINT_MS", "200",
            "How often a thread of each process copies SQLite's write-ahead log into the "
            "database file, so that no request waits for it; 0: inside a commit, every "
            "1,000 pages (SQLite's default).", int),
    Setting("LOG_LEVEL", "INFO", "Python logging level of the app."),
    Setting("PUBLIC_URL", "http://127.0.0.1:5000",
            "Address attendees reach the app at: the base of links and QR codes in messages "
            "and posters."),
    Setting("PHONE_DEFAULT_REGION", "CN",
            "Country (ISO 3166) of mobile numbers typed without a country code."),
    Setting("COVER_MAX_MB", "5", "Largest cover image an event may upload.", _mib),
    Setting("SMS_BACKEND", "log",
            "`log` (write texts to the app log) or `module:callable` taking (phone, text)."),
    Setting("OUTBOX_MAX_ATTEMPTS", "8",
            "Tries before a message is given up as failed (backoff: 1 min doubling to 2 h).",
            int),
    Setting("OUTBOX_CLAIM_SECONDS", "300",
            "How long a sender owns a message; after that (it died) another sender may send it.",
            int),
    Setting("WEATHER_URL", "",
            "Open-Meteo forecast API URL for reminders; empty: the organiser's own weather note."),
    Setting("REMINDER_HOURS_BEFORE", "24",
            "Hours before the event starts that the day-before reminder goes out.", int),
    Setting("POSTER_FONT", "",
            "A CJK font file for posters; empty: Noto Sans CJK found through fontconfig."),
)


def _instance_path(env: dict[str, str]) -> Path:
    configured = env.get("EVENTAPP_INSTANCE_PATH")
    if configured:
        return Path(configured).resolve()
    return Path(__file__).resolve().parent.parent / "instance"


def _secret_key(instance: Path) -> str:
    """The key kept in the instance folder, created (mode 0600) on first start. Several
    workers may start at once: the key is written to a private temporary file and linked into
    place, so every process ends up reading the one key that won."""
    key_file = instance / "secret_key"
    if not key_file.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=instance, prefix=".secret_key-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            os.link(draft, key_file)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            os.unlink(draft)
    return key_file.read_text().strip()


def _transport_options(visibility_timeout: int) -> dict[str, int]:
    """Redis hands a dead worker's unacknowledged task to another worker once it is older than
    the visibility timeout; kombu only looks every interval x throttle seconds (100 s by
    default), so look every third of the timeout (at most every 10 s) instead."""
    return {"visibility_timeout": visibility_timeout,
            "unacked_restore_interval": max(1, min(10, visibility_timeout // 3)),
            "unacked_restore_throttle": 1}


def _beat_schedule() -> dict[str, dict[str, Any]]:
    """What `celery beat` starts: the outbox flush every minute (dropped when a worker could
    not take it within the minute: the next one comes), reminders every 15 minutes, posters
    daily at 03:00 in DEFAULT_TIMEZONE."""
    from celery.schedules import crontab

    return {
        "flush-outbox": {"task": "eventapp.invites.flush_outbox", "schedule": 60.0,
                         "options": {"expires": 55}},
        "send-reminders": {"task": "eventapp.invites.send_reminders", "schedule": 15 * 60.0,
                           "options": {"expires": 14 * 60}},
        "regenerate-posters": {"task": "eventapp.invites.regenerate_posters",
                               "schedule": crontab(hour=3, minute=0)},
    }


def load_config(env: dict[str, str] | None = None) -> dict[str, Any]:
    """Flask config built from `env` (default: os.environ), every setting parsed."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.name) or setting.default
        values[setting.name] = setting.parse(raw) if raw is not None else None

    instance = _instance_path(env)
    instance.mkdir(parents=True, exist_ok=True)
    values["EVENTAPP_INSTANCE_PATH"] = str(instance)
    values["SECRET_KEY"] = values["SECRET_KEY"] or _secret_key(instance)
    database_url = values["DATABASE_URL"] or f"sqlite:///{instance / 'eventapp.db'}"
    if database_url.startswith("postgres://"):  # the spelling Heroku-style platforms export
        database_url = "postgresql://" + database_url[len("postgres://"):]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    values["DATABASE_URL"] = database_url

    broker = values["CELERY_BROKER_URL"]
    values.update(
        SQLALCHEMY_DATABASE_URI=database_url,
        # No pool_pre_ping (a round trip per request): core/database.py checks PostgreSQL's
        # pooled connections before use without one, and pings those idle a while.
        SQLALCHEMY_ENGINE_OPTIONS={},
        MAX_CONTENT_LENGTH=values["MAX_UPLOAD_MB"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=values["SESSION_COOKIE_SECURE"],
        REMEMBER_COOKIE_HTTPONLY=True,
        BABEL_DEFAULT_LOCALE=values["DEFAULT_LOCALE"],
        BABEL_DEFAULT_TIMEZONE="UTC",
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead: a long form on a tablet stays valid
        CELERY=dict(
            broker_url=broker,
            result_backend=values["CELERY_RESULT_BACKEND"] or broker,
            task_always_eager=not broker,
            task_eager_propagates=True,
            task_acks_late=True,
            task_reject_on_worker_lost=True,
            worker_prefetch_multiplier=1,
            broker_transport_options=_transport_options(values["CELERY_VISIBILITY_TIMEOUT"]),
            broker_connection_retry_on_startup=True,
            task_serializer="json",
            accept_content=["json"],
            # Messages carry UTC; the zone is what beat's crontab entries are read in.
            timezone=values["DEFAULT_TIMEZONE"],
            beat_schedule=_beat_schedule(),
        ),
        API_TITLE="eventapp API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    return values
