"""Celery worker processes for the tests that run tasks through a real Redis broker."""

from __future__ import annotations

from eventapp.testing.services import CeleryWorker, ServiceUnavailable
from tests.conftest import require


def start_worker(env: dict[str, str], *, concurrency: int = 1,
                 include: tuple[str, ...] = ()) -> CeleryWorker:
    """A started worker on `env`'s broker and database (skipped, or failed on CI, when a
    worker cannot start)."""
    worker = CeleryWorker(env, concurrency=concurrency, include=include)
    try:
        return worker.start()
    except ServiceUnavailable as error:
        worker.stop()
        require("Celery worker", error)
        raise
