"""eventapp: turns offline events and trade shows into scored, followed-up sales leads."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(__file__).resolve().parent


def create_app(overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None,
               *, migrations: bool = True) -> Flask:
    """Build the app: configuration, extensions, blueprints and CLI commands. Nothing else.

    `migrations=False` leaves out Flask-Migrate, for processes that never migrate (the web
    and Celery workers): Alembic and what it imports (Mako, Pygments) are about 11 MiB in
    every such process."""
    from eventapp.config import load_config

    config = load_config(env)
    config.update(overrides or {})
    app = Flask(__name__, instance_path=config["EVENTAPP_INSTANCE_PATH"],
                template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(config)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable
    logging.basicConfig(level=app.config["LOG_LEVEL"],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    _init_extensions(app)
    if migrations:
        _init_migrations(app)
    _register_blueprints(app)
    from eventapp.invites import tasks as _tasks  # noqa: F401  (Celery tasks, message renderers)

    from eventapp.cli import register_commands
    register_commands(app)
    return app


def _init_extensions(app: Flask) -> None:
    from eventapp.core.database import configure_engine
    from eventapp.core.errors import register_error_handlers
    from eventapp.core.i18n import init_i18n, request_locale
    from eventapp.core.inputs import init_inputs
    from eventapp.core.api import SPEC_OPTIONS
    from eventapp.core.queue import init_celery
    from eventapp.core.security import init_security
    from eventapp.auth.login import init_login
    from eventapp.extensions import api, babel, csrf, db, login_manager

    init_inputs(app)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            configure_engine(engine, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"],
                             checkpoint_ms=app.config["SQLITE_CHECKPOINT_MS"])
    csrf.init_app(app)
    babel.init_app(app, locale_selector=request_locale,
                   default_translation_directories=str(PACKAGE / "translations"))
    login_manager.init_app(app)
    init_login(app)
    app.config.setdefault("API_SPEC_OPTIONS", SPEC_OPTIONS)
    api.init_app(app)
    init_celery(app)
    init_i18n(app)
    init_security(app)
    register_error_handlers(app)


def _init_migrations(app: Flask) -> None:
    """Flask-Migrate: the `eventapp db` commands and what migrations/env.py reads."""
    from flask_migrate import Migrate

    from eventapp.core.models import render_migration_item
    from eventapp.extensions import db

    Migrate(app, db, directory=str(PACKAGE / "migrations"), render_as_batch=True,
            compare_type=True, render_item=render_migration_item)


def _register_blueprints(app: Flask) -> None:
    from eventapp.auth import api as auth_api, views as auth_views
    from eventapp.checkin import api as checkin_api
    from eventapp.checkin import (badge_views, dashboard_views, log_views, onsite_views,
                                  pwa_views, setup_views as checkin_setup_views,
                                  views as checkin_views)
    from eventapp.core import jobs_api
    from eventapp.events import api as events_api, views as events_views
    from eventapp.extensions import api
    from eventapp.events import setup_views
    from eventapp.invites import mailings_views, share_views, views as invites_views

    for blueprint in (auth_views.bp, events_views.bp, setup_views.bp, invites_views.bp,
                      mailings_views.bp, share_views.bp, checkin_views.bp, pwa_views.bp,
                      checkin_setup_views.bp, dashboard_views.bp, badge_views.bp,
                      onsite_views.bp, log_views.bp):
        app.register_blueprint(blueprint)
    for blueprint in (auth_api.blp, events_api.blp, checkin_api.blp, jobs_api.blp):
        api.register_blueprint(blueprint)
