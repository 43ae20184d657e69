"""Several gunicorn workers writing at once never fail (the best-known peer returns 3-12%
"database is locked" errors exactly here on SQLite)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter

import pytest
import sqlalchemy as sa

from eventapp.auth.services import issue_api_token
from eventapp.events.models import Channel
from eventapp.extensions import db
from eventapp.testing.services import GunicornServer, ServiceUnavailable, app_environment
from tests.conftest import require

CLIENTS = 16
REQUESTS_EACH = 25


def _call(url: str, token: str, body: dict | None = None) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow
@pytest.mark.gunicorn
def test_many_workers_writing_at_once_all_succeed(app, make, event, database_url, tmp_path):
    marketer = make.user()
    make.membership(event, marketer, "marketer")
    with app.app_context():
        token, _ = issue_api_token(marketer, "load")
        db.session.commit()
        db.engine.dispose()

    server = GunicornServer(app_environment(database_url, tmp_path / "gunicorn"), workers=4)
    try:
        server.start()
    except ServiceUnavailable as error:
        require("gunicorn", error)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    base = f"{server.url}/api/v1/events/{event.slug}"

    def client(number: int) -> None:
        for i in range(REQUESTS_EACH):
            created = _call(f"{base}/channels", token,
                            {"name": f"渠道 {number}-{i}", "kind": "ads", "spend": "10.00"})
            read = _call(base, token)
            with lock:
                statuses[created] += 1
                statuses[read] += 1

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()

    assert statuses == {201: CLIENTS * REQUESTS_EACH, 200: CLIENTS * REQUESTS_EACH}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Channel).where(
            Channel.event_id == event.id)) == CLIENTS * REQUESTS_EACH
