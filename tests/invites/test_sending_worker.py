"""The outbox sent by real Celery worker processes on a real Redis broker to a real SMTP server:
the hand-over after commit, and a worker killed mid-batch losing and duplicating nothing."""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from eventapp.core import outbox
from eventapp.core.outbox import Medium, MessageStatus, OutboxMessage, queue_message
from eventapp.events.models import Event
from eventapp.extensions import db
from eventapp.invites.booking import BookingRequest, book
from eventapp.testing.services import CeleryWorker, RedisServer
from tests.support.workers import start_worker
from tests.support.mailbox import Mailbox, running_mailbox

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]

#: Redis hands a dead worker's task to another after this many seconds (1 hour in production).
VISIBILITY_TIMEOUT = "6"
#: A dead sender's message may be taken by another after this many seconds (5 min in
#: production): longer than one message takes to send here.
CLAIM_SECONDS = "3"
MESSAGES = 60


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    with running_mailbox(Mailbox()) as mailbox:
        yield mailbox


@pytest.fixture
def broker_env(app_env: dict[str, str], redis_server: RedisServer,
               smtp_server: Mailbox) -> dict[str, str]:
    redis.Redis.from_url(redis_server.url).flushdb()  # no task left over from another test
    return {**app_env, "CELERY_BROKER_URL": redis_server.url,
            "CELERY_VISIBILITY_TIMEOUT": VISIBILITY_TIMEOUT,
            "OUTBOX_CLAIM_SECONDS": CLAIM_SECONDS, "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_server.port), "MAIL_FROM": "Expo <tickets@example.com>"}


def _worker(env: dict[str, str], concurrency: int = 1) -> CeleryWorker:
    return start_worker(env, concurrency=concurrency)


def _statuses(app: Flask, ids: list[int]) -> Counter[str]:
    with app.app_context():
        return Counter(db.session.scalars(sa.select(OutboxMessage.status).where(
            OutboxMessage.id.in_(ids))))


def _queued_tasks(broker: redis.Redis) -> list[tuple[str, list]]:
    """(task name, args) of each task waiting in Redis."""
    tasks = []
    for raw in broker.lrange("celery", 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], args))
    return tasks


def _tasks_soon(broker: redis.Redis, timeout: float = 5.0) -> list[tuple[str, list]]:
    """The queued tasks once the hand-over window has passed (a timer thread sends them)."""
    deadline = time.monotonic() + timeout
    while not broker.llen("celery") and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(outbox.HAND_OVER_WINDOW * 2)  # anything else of the same window
    return _queued_tasks(broker)


def test_messages_committed_by_requests_go_to_the_broker_as_one_task_per_window(
        broker_app, redis_server, monkeypatch):
    """A burst of bookings: one push to Redis per window and process, in tasks of at most
    HAND_OVER_BATCH ids."""
    monkeypatch.setattr(outbox, "HAND_OVER_WINDOW", 0.5)
    monkeypatch.setattr(outbox, "HAND_OVER_BATCH", 4)
    broker = redis.Redis.from_url(redis_server.url)
    with broker_app.test_request_context("/a-request", method="POST"):
        ids = []
        for n in range(3):  # three transactions, two messages each
            ids += [queue_message(medium=medium, kind="ticket", locale="en", recipient=to)
                    .id for medium, to in ((Medium.EMAIL, f"p{n}@example.com"),
                                           (Medium.SMS, f"+861380013800{n}"))]
            db.session.commit()
        assert broker.llen("celery") == 0, "nothing is pushed before the window ends"
    tasks = _tasks_soon(broker, timeout=3)
    assert tasks[::-1] == [("eventapp.invites.send_messages", [ids[:4]]),  # oldest last
                           ("eventapp.invites.send_messages", [ids[4:]])]


def test_outside_a_request_the_task_goes_right_after_the_commit(broker_app, redis_server):
    """A task or a command may end at once: its messages do not wait for a window."""
    broker = redis.Redis.from_url(redis_server.url)
    with broker_app.app_context():
        message = queue_message(medium=Medium.EMAIL, kind="ticket", locale="en",
                                recipient="li.lei@example.com")
        db.session.commit()
    assert _queued_tasks(broker) == [("eventapp.invites.send_messages", [[message.id]])]


def test_a_bookings_messages_go_to_the_broker_and_a_worker_sends_them(
        broker_app, broker_env, make, smtp_server, redis_server):
    event = make.event()
    with broker_app.app_context():
        result = book(db.session.get(Event, event.id), BookingRequest(
            form={"name": "Li Lei", "phone": "+8613800138000", "email": "li.lei@example.com"},
            consent=True, locale="en"))
        db.session.commit()
        ids = list(db.session.scalars(sa.select(OutboxMessage.id).where(
            OutboxMessage.registration_id == result.registration.id)
            .order_by(OutboxMessage.id)))
    assert len(ids) == 2  # the e-mail and the SMS
    assert _tasks_soon(redis.Redis.from_url(redis_server.url)) == [
        ("eventapp.invites.send_messages", [ids])], "one task for the transaction's messages"
    assert _statuses(broker_app, ids) == {MessageStatus.QUEUED: 2}

    worker = _worker(broker_env)
    try:
        smtp_server.wait_for(1, timeout=60)
        deadline = time.monotonic() + 30
        while _statuses(broker_app, ids) != {MessageStatus.SENT: 2}:
            assert time.monotonic() < deadline, _statuses(broker_app, ids)
            time.sleep(0.1)
    finally:
        worker.stop()
    assert smtp_server.recipients() == ["li.lei@example.com"]
    assert smtp_server.messages()[0]["Subject"] == f"Your ticket: {event.title}"


def _queue_tickets(web: Flask, make, count: int) -> tuple[list[int], list[str]]:
    """`count` ticket e-mails queued in one transaction: one send task of `count` ids."""
    event = make.event(capacity=None)
    registrations = [make.registration(event, make.contact(email=f"guest{n}@example.com"))
                     for n in range(count)]
    with web.app_context():
        messages = [queue_message(medium=Medium.EMAIL, kind="ticket", locale="en",
                                  recipient=f"guest{n}@example.com", event_id=event.id,
                                  contact_id=registration.contact_id,
                                  registration_id=registration.id)
                    for n, registration in enumerate(registrations)]
        db.session.commit()
        return [m.id for m in messages], [m.recipient for m in messages]


def _kill_mid_send(worker: CeleryWorker, mailbox: Mailbox, *, after: int) -> int:
    """SIGKILL the worker once `after` messages arrived, at a moment when it is waiting for
    the server's answer to RCPT TO: mid-message, before DATA, so outside the window between
    the server's acceptance and the sender's commit. Returns how many had arrived."""
    deadline = time.monotonic() + 90
    while not (len(mailbox.received) >= after and mailbox.in_rcpt):
        assert time.monotonic() < deadline, f"only {len(mailbox.received)} messages arrived"
        time.sleep(0.005)
    worker.kill()
    return len(mailbox.received)


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
        broker_app, broker_env, make, smtp_server, redis_server):
    smtp_server.rcpt_delay = 0.1  # a slow mail server: each message takes a while
    ids, recipients = _queue_tickets(broker_app, make, MESSAGES)
    first = _worker(broker_env)
    try:
        arrived = _kill_mid_send(first, smtp_server, after=MESSAGES // 3)
    finally:
        first.kill()
    assert MESSAGES // 3 <= arrived < MESSAGES, "killed in the middle of the batch"
    interrupted = _statuses(broker_app, ids)
    assert interrupted[MessageStatus.SENT] == arrived, "every accepted message was marked sent"
    assert interrupted[MessageStatus.QUEUED] == MESSAGES - arrived

    broker = redis.Redis.from_url(redis_server.url)
    celery = broker_app.extensions["celery"]
    second = _worker(broker_env, concurrency=2)
    try:  # beat's minute-by-minute flush, every second here; Redis also hands the killed
        deadline = time.monotonic() + 120  # worker's task to this one
        while (_statuses(broker_app, ids) != {MessageStatus.SENT: MESSAGES}
               or broker.llen("celery") or broker.hlen("unacked")):
            assert time.monotonic() < deadline, (_statuses(broker_app, ids),
                                                 broker.llen("celery"), broker.hlen("unacked"))
            celery.send_task("eventapp.invites.flush_outbox")
            time.sleep(1)
        time.sleep(1)  # a straggler would arrive now
    finally:
        second.stop()

    received = Counter(smtp_server.recipients())
    assert sorted(received) == sorted(recipients), "no message lost"
    assert set(received.values()) == {1}, f"sent twice: {[r for r, n in received.items() if n > 1]}"
    with broker_app.app_context():
        attempts = Counter(db.session.scalars(sa.select(OutboxMessage.attempts).where(
            OutboxMessage.id.in_(ids))))
    assert attempts == {1: MESSAGES - 1, 2: 1}, "only the message cut off was tried again"
