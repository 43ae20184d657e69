"""Two gates scanning one ticket at the same instant: exactly one is let through, the others
are told "already checked in", on SQLite and PostgreSQL, whether the scans race as separate
processes calling the service or as HTTP requests to several gunicorn workers."""

from __future__ import annotations

import json
import multiprocessing
import threading
import urllib.request
import uuid
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from eventapp import create_app
from eventapp.auth.models import User
from eventapp.auth.services import issue_api_token
from eventapp.checkin.models import CheckinPoint, Scan, ScanResult
from eventapp.checkin.redeem import ScanRequest
from eventapp.checkin.services import redeem_code
from eventapp.core.activity import Activity, ActivityKind
from eventapp.events.models import Event, Registration
from eventapp.extensions import db
from eventapp.testing.services import GunicornServer, ServiceUnavailable, app_environment
from tests.conftest import require

WORKERS = 32

pytestmark = pytest.mark.slow


def _gate_worker(env: dict[str, str], ids: tuple[int, int, int], code: str, number: int,
                 barrier: Any, results: Any) -> None:
    """One gate in a process of its own: its own app and connection, waiting at the barrier
    so that all gates redeem at once."""
    event_id, point_id, staff_id = ids
    try:
        app = create_app({"TESTING": True}, env=env)
        with app.app_context():
            event, point = db.session.get(Event, event_id), db.session.get(CheckinPoint, point_id)
            staff = db.session.get(User, staff_id)
            db.session.commit()  # end the read: each gate starts its own write transaction
            barrier.wait(timeout=60)
            outcome = redeem_code(event, point, staff, code, ScanRequest(
                point_id=point_id, device_id=f"gate-{number}", client_scan_id=str(uuid.uuid4())))
            db.session.commit()
            results.put(str(outcome.result))
            db.engine.dispose()
    except Exception as error:  # reported to the test, which fails on it
        results.put(f"error: {error!r}")


def test_32_gates_redeeming_one_ticket_at_once_let_exactly_one_through(app, app_env, make,
                                                                       event):
    point = make.point(event, name="North gate")
    staff = make.user()
    code = make.registration(event).ticket_code
    with app.app_context():
        db.engine.dispose()
    # Not a plain fork of this process: it runs other threads (Chromium's driver, servers'
    # readers), and a fork can inherit one of their locks held, and hang. The fork server is a
    # fresh single-threaded process that has imported the app once.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["eventapp", "tests.checkin.test_concurrent_redemption"])
    barrier, results = context.Barrier(WORKERS), context.Queue()
    gates = [context.Process(target=_gate_worker, args=(
        app_env, (event.id, point.id, staff.id), code, n, barrier, results))
        for n in range(WORKERS)]
    for gate in gates:
        gate.start()
    answers = Counter(results.get(timeout=120) for _ in gates)
    for gate in gates:
        gate.join(timeout=30)

    assert answers == {"valid": 1, "already_used": WORKERS - 1}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Scan).where(
            Scan.result == ScanResult.VALID)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Scan)) == WORKERS
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Activity).where(
            Activity.kind == ActivityKind.CHECKIN)) == 1


@pytest.mark.gunicorn
def test_simultaneous_requests_to_several_web_workers_let_exactly_one_through(
        app, make, event, database_url, tmp_path):
    point = make.point(event, name="South gate")
    staff = make.user()
    make.membership(event, staff, "staff")
    registration = make.registration(event)
    with app.app_context():
        token, _ = issue_api_token(db.session.get(User, staff.id), "gate")
        db.session.commit()
        db.engine.dispose()
    server = GunicornServer(app_environment(database_url, tmp_path / "gunicorn"), workers=4)
    try:
        server.start()
    except ServiceUnavailable as error:
        require("gunicorn", error)
    url = f"{server.url}/api/v1/events/{event.slug}/checkin/redemptions"
    barrier = threading.Barrier(WORKERS)
    answers: Counter[str] = Counter()
    lock = threading.Lock()

    def gate(number: int) -> None:
        body = json.dumps({"code": registration.ticket_code, "point_id": point.id,
                           "device_id": f"gate-{number}",
                           "client_scan_id": str(uuid.uuid4())}).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        barrier.wait(timeout=30)
        with urllib.request.urlopen(request, timeout=60) as response:
            result = json.loads(response.read())["result"]
        with lock:
            answers[result] += 1

    try:
        threads = [threading.Thread(target=gate, args=(n,)) for n in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
    finally:
        server.stop()

    assert answers == {"valid": 1, "already_used": WORKERS - 1}
    with app.app_context():
        stored = db.session.get(Registration, registration.id)
        assert stored.checked_in_at is not None
        devices = db.session.scalars(sa.select(Scan.device_id)).all()
        assert len(devices) == WORKERS == len(set(devices)), "every gate's scan is stored"
