"""Long-running jobs (imports, sends, exports): their state and progress, readable by any process.

The web page that starts a job shows a progress bar that polls `/api/v1/jobs/<id>`; the Celery
task reports through `JobProgress`. State lives in the database, so it works the same with
inline tasks, one worker or many.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from flask import has_request_context
from flask_babel import get_locale

from eventapp.core.models import Base, CreatedMixin
from eventapp.core.time import utcnow
from eventapp.extensions import db


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(CreatedMixin, Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True,
                                    default=lambda: str(uuid.uuid4()))
    kind: Mapped[str] = mapped_column(sa.String(60))
    state: Mapped[str] = mapped_column(sa.String(20), default=JobState.QUEUED)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int | None]
    message: Mapped[str | None] = mapped_column(sa.String(300))
    #: Language of the person who started the job: its messages are written in it.
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.state == JobState.SUCCEEDED else None
        return min(100, round(100 * self.done / self.total))

    @property
    def finished(self) -> bool:
        return self.state in (JobState.SUCCEEDED, JobState.FAILED)


def create_job(kind: str, *, user_id: int | None, event_id: int | None = None) -> Job:
    """A queued job, committed (with whatever the session holds) so that a worker in another
    process sees it at once."""
    job = Job(kind=kind, user_id=user_id, event_id=event_id,
              locale=str(get_locale()) if has_request_context() else None)
    db.session.add(job)
    db.session.commit()
    return job


class JobProgress:
    """What a task uses to say how far it got.

    `update()` commits the session: a long job works in batches, commits each batch, then
    reports. Writes are throttled so a fast loop does not turn into a write storm.
    """

    def __init__(self, job_id: str, *, min_interval: float = 0.5) -> None:
        self.job_id = job_id
        self.min_interval = min_interval
        self._last_write = 0.0

    def _job(self) -> Job:
        job = db.session.get(Job, self.job_id)
        if job is None:
            raise LookupError(f"job {self.job_id} does not exist")
        return job

    def start(self, total: int | None = None, message: str | None = None) -> bool:
        """Mark the job running; False if it already finished (a redelivered task: Redis hands
        a task out again when its worker died after finishing but before acknowledging)."""
        job = self._job()
        if job.finished:
            return False
        job.state = JobState.RUNNING
        job.started_at = utcnow()
        job.attempts += 1
        job.done, job.total, job.message = 0, total, message
        db.session.commit()
        return True

    def update(self, done: int, total: int | None = None, message: str | None = None,
               *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval:
            return
        job = self._job()
        job.done = done
        if total is not None:
            job.total = total
        if message is not None:
            job.message = message
        db.session.commit()
        self._last_write = now

    def succeed(self, result: dict[str, Any] | None = None, message: str | None = None) -> None:
        job = self._job()
        job.state = JobState.SUCCEEDED
        if job.total is not None:
            job.done = job.total
        job.result, job.finished_at = result, utcnow()
        if message is not None:
            job.message = message
        db.session.commit()

    def locale(self) -> str | None:
        return self._job().locale

    def fail(self, error: str) -> None:
        db.session.rollback()
        job = self._job()
        job.state, job.error, job.finished_at = JobState.FAILED, error[:4000], utcnow()
        db.session.commit()
