"""The real path: a Redis broker and a separate Celery worker process, as in production."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask import Flask

from eventapp.core.jobs import Job, JobState
from eventapp.core.queue import start_job
from eventapp.extensions import db
from eventapp.testing.services import CeleryWorker, RedisServer
from tests.support.workers import start_worker
from tests.support import tasks

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]

# Seconds before Redis hands a dead worker's task to another. It must exceed a job's run time
# (or a live worker's job is handed out again): 6 s here, for jobs of 2.4 s; 1 hour in production.
VISIBILITY_TIMEOUT = "6"


@pytest.fixture
def broker_env(app_env: dict[str, str], redis_server: RedisServer) -> dict[str, str]:
    return {**app_env, "CELERY_BROKER_URL": redis_server.url,
            "CELERY_VISIBILITY_TIMEOUT": VISIBILITY_TIMEOUT}


def _worker(env: dict[str, str]) -> CeleryWorker:
    return start_worker(env, include=("tests.support.tasks",))


def _job(app: Flask, job_id: str) -> Job:
    with app.app_context():
        return db.session.get(Job, job_id)


def _wait(app: Flask, job_id: str, *, timeout: float, seen: set[int] | None = None) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _job(app, job_id)
        if seen is not None:
            seen.add(job.done)
        if job.finished:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish within {timeout}s: {job.state}")


def test_a_worker_runs_the_job_and_the_progress_is_visible_meanwhile(broker_app, broker_env,
                                                                      make):
    user = make.user()
    worker = _worker(broker_env)
    try:
        with broker_app.app_context():
            job = start_job(tasks.count_to, "count", 6, 0.25, user_id=user.id)
        assert job.state == JobState.QUEUED, "with a broker, start_job only enqueues"
        seen: set[int] = set()
        finished = _wait(broker_app, job.id, timeout=60, seen=seen)
    finally:
        worker.stop()
    assert finished.state == JobState.SUCCEEDED
    assert finished.result == {"counted": 6}
    assert seen & {1, 2, 3, 4, 5}, f"progress between 0 and 6 was visible: saw {sorted(seen)}"


def test_a_job_whose_worker_is_killed_is_finished_by_the_next_worker(broker_app, broker_env,
                                                                       make, tmp_path: Path):
    user = make.user()
    started = tmp_path / "started"
    first = _worker(broker_env)
    try:
        with broker_app.app_context():
            job = start_job(tasks.count_to, "count", 8, 0.3, str(started), user_id=user.id)
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the first worker picked the job up"
        time.sleep(0.6)
    finally:
        first.kill()  # SIGKILL, as an out-of-memory kill or a pulled plug would
    interrupted = _job(broker_app, job.id)
    assert interrupted.state == JobState.RUNNING and interrupted.done < 8

    second = _worker(broker_env)
    try:
        finished = _wait(broker_app, job.id, timeout=90)
    finally:
        second.stop()
    assert finished.state == JobState.SUCCEEDED
    assert finished.result == {"counted": 8}
    assert finished.attempts == 2, "the job was redelivered once, not lost and not doubled"
