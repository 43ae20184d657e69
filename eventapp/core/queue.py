"""Celery bound to the Flask app: inline by default, a real Redis broker when configured.

Tasks are defined with `@shared_task` (or `@job_task` for long jobs with a progress bar) in each
feature's `tasks.py`, and run inside an app context, with SQLite write transactions, whether
they run inline or in a worker (`celery -A eventapp.worker worker`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from celery import Celery, Task, shared_task
from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from eventapp.core.database import write_transactions
from eventapp.core.errors import DomainError
from eventapp.core.jobs import Job, JobProgress, create_job
from eventapp.extensions import db

log = logging.getLogger(__name__)


def init_celery(app: Flask) -> Celery:
    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context(), write_transactions():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.config_from_object(app.config["CELERY"])
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


def job_task(name: str, **options: Any) -> Callable[[Callable[..., Any]], Task]:
    """Turn `fn(progress, *args)` into a task that runs a Job: state, progress, result, error.

    The first task argument is the job id; `start_job` passes it.
    """

    def decorator(fn: Callable[..., Any]) -> Task:
        @shared_task(name=name, bind=True, **options)
        @functools.wraps(fn)
        def run(self: Task, job_id: str, *args: Any, **kwargs: Any) -> Any:
            progress = JobProgress(job_id)
            if not progress.start():
                log.info("job %s (%s) already finished: not run again", job_id, name)
                return db.session.get(Job, job_id).result
            try:
                result = fn(progress, *args, **kwargs)
            except DomainError as exc:
                _fail_in_owners_language(progress, exc.message)
                raise
            except Exception as exc:
                log.exception("job %s (%s) failed", job_id, name)
                _fail_in_owners_language(progress, _l(
                    "Unexpected error (%(kind)s); the details are in the server log.",
                    kind=type(exc).__name__))
                raise
            progress.succeed(result)
            return result

        return run

    return decorator


def _fail_in_owners_language(progress: JobProgress, message: Any) -> None:
    db.session.rollback()
    locale = progress.locale() or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        progress.fail(str(message))


def start_job(task: Task, kind: str, *args: Any, user_id: int | None,
              event_id: int | None = None) -> Job:
    """Create the job row, commit, and hand the task to the queue (or run it now when inline)."""
    job = create_job(kind, user_id=user_id, event_id=event_id)
    if task.app.conf.task_always_eager:
        try:
            task.apply(args=(job.id, *args), throw=True)
        except Exception:  # already recorded on the job, which the page shows
            log.info("inline job %s ended in failure", job.id)
        db.session.refresh(job)
        db.session.commit()  # end the read: on SQLite an open write transaction here would
        # block the next inline job of this thread (each task has a session of its own)
    else:
        task.apply_async(args=(job.id, *args))
    return job
