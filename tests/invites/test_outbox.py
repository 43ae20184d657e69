"""The outbox sender through a real SMTP server: hand-over after commit, claims, retries with
backoff, opt-out, one connection per batch, SMS backends, the CLI and the periodic flush."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from eventapp.core import outbox
from eventapp.core.outbox import (NEW_MESSAGES, Medium, MessageStatus, OutboxMessage,
                                  RenderedMessage, claim_message, message_id_header,
                                  queue_message, retry_delay, send_due_messages, send_messages)
from eventapp.core.time import utcnow
from eventapp.extensions import db
from eventapp.invites.messages import renderer
from eventapp.testing.services import free_port
from tests.support.mailbox import Mailbox, running_mailbox

#: What the custom SMS backend below was given.
TEXTS: list[tuple[str, str]] = []


def record_sms(phone: str, text: str) -> None:
    """An SMS gateway for SMS_BACKEND=tests.invites.test_outbox:record_sms."""
    TEXTS.append((phone, text))


def refuse_sms(phone: str, text: str) -> None:
    raise ConnectionError("gateway answered 503")


def _render_note(message: OutboxMessage) -> RenderedMessage:
    return RenderedMessage(subject=f"Note {message.id}", text=message.payload.get("text", "Hi"),
                           html=f"<p>{message.payload.get('text', 'Hi')}</p>")


def _render_broken(message: OutboxMessage) -> RenderedMessage:
    raise KeyError("no such field")


@pytest.fixture(autouse=True)
def test_kinds():
    """A transactional kind, a marketing kind and a renderer that crashes, for these tests."""
    renderer("test_note")(_render_note)
    renderer("test_news", marketing=True)(_render_note)
    renderer("test_broken")(_render_broken)
    TEXTS.clear()
    yield
    for kind in ("test_note", "test_news", "test_broken"):
        outbox._renderers.pop(kind, None)


@pytest.fixture
def smtp_server(app: Flask):
    with running_mailbox(Mailbox(refuse=("nobody@example.com",))) as mailbox:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port,
                          MAIL_FROM="Test Expo <tickets@example.com>")
        yield mailbox


def _queue(app: Flask, recipient: str = "li.lei@example.com", *, kind: str = "test_note",
           medium: Medium = Medium.EMAIL, hand_over: bool = True, count: int = 1,
           contact_id: int | None = None, text: str = "Hi") -> list[int]:
    """Queue messages and commit; hand_over=False: as if their task got lost."""
    with app.app_context():
        messages = [queue_message(medium=medium, kind=kind, recipient=recipient, locale="en",
                                  contact_id=contact_id, payload={"text": text})
                    for _ in range(count)]
        if not hand_over:
            db.session.info.pop(NEW_MESSAGES)
        db.session.commit()
        return [message.id for message in messages]


def _row(app: Flask, message_id: int) -> OutboxMessage:
    with app.app_context():
        return db.session.get(OutboxMessage, message_id)


def _set(app: Flask, message_id: int, **values: object) -> None:
    with app.app_context():
        db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message_id)
                           .values(**values))
        db.session.commit()


def _send_due(app: Flask) -> outbox.SendReport:
    with app.app_context():
        return send_due_messages()


# --- hand-over ------------------------------------------------------------------------------

def test_a_committed_message_is_sent_at_once_with_its_stable_message_id(app, smtp_server):
    [message_id] = _queue(app, text="Welcome")
    smtp_server.wait_for(1)
    [mail] = smtp_server.messages()
    assert smtp_server.recipients() == ["li.lei@example.com"]
    assert mail["Subject"] == f"Note {message_id}"
    assert mail.get_body(("plain",)).get_content().strip() == "Welcome"
    with app.app_context():
        assert mail["Message-ID"] == message_id_header(message_id)
    assert mail["Message-ID"].endswith("@example.com>")
    row = _row(app, message_id)
    assert row.status == MessageStatus.SENT and row.sent_at is not None
    assert row.attempts == 1 and row.claimed_until is None


def test_a_rolled_back_transaction_sends_nothing(app, smtp_server):
    with app.app_context():
        queue_message(medium=Medium.EMAIL, kind="test_note", recipient="a@example.com",
                      locale="en")
        db.session.rollback()
        with db.session.begin_nested():
            queue_message(medium=Medium.EMAIL, kind="test_note", recipient="b@example.com",
                          locale="en")
        nested = db.session.begin_nested()
        queue_message(medium=Medium.EMAIL, kind="test_note", recipient="c@example.com",
                      locale="en")
        nested.rollback()
        db.session.commit()
        rows = db.session.scalars(sa.select(OutboxMessage)).all()
    smtp_server.wait_for(1)
    assert [row.recipient for row in rows] == ["b@example.com"]
    assert smtp_server.recipients() == ["b@example.com"]


def test_in_a_request_messages_are_sent_after_the_response(app, smtp_server):
    seen_in_request: list[str] = []

    def book_something() -> str:
        message = queue_message(medium=Medium.EMAIL, kind="test_note",
                                recipient="li.lei@example.com", locale="en")
        db.session.commit()
        seen_in_request.append(db.session.scalar(
            sa.select(OutboxMessage.status).where(OutboxMessage.id == message.id)))
        return str(message.id)

    book_something.writes_database = True  # type: ignore[attr-defined]
    app.add_url_rule("/test-outbox", view_func=book_something)
    response = app.test_client().get("/test-outbox", buffered=True)  # buffered: closed, as a
    assert response.status_code == 200  # real server closes every response
    assert seen_in_request == [MessageStatus.QUEUED], "nothing is sent inside the request"
    smtp_server.wait_for(1)
    assert _row(app, int(response.text)).status == MessageStatus.SENT


def test_a_batch_shares_one_smtp_connection(app, smtp_server):
    _queue(app, count=5)
    smtp_server.wait_for(5)
    assert smtp_server.connections == 1
    assert len({mail["Message-ID"] for mail in smtp_server.messages()}) == 5


# --- retries --------------------------------------------------------------------------------

def test_retry_waits_double_each_time_up_to_two_hours():
    assert [retry_delay(n) / timedelta(minutes=1) for n in range(1, 10)] == [
        1, 2, 4, 8, 16, 32, 64, 120, 120]


def test_a_message_is_retried_with_backoff_and_given_up_after_the_last_attempt(app):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), OUTBOX_MAX_ATTEMPTS=3)
    before = utcnow()
    [message_id] = _queue(app)  # the server is down
    row = _row(app, message_id)
    assert row.status == MessageStatus.QUEUED and row.attempts == 1
    assert "unavailable" in row.last_error and row.claimed_until is None
    assert before + timedelta(minutes=1) <= row.next_attempt_at <= utcnow() + timedelta(minutes=1)

    assert _send_due(app).not_taken == 0 and _row(app, message_id).attempts == 1, \
        "not retried before its time"
    _set(app, message_id, next_attempt_at=utcnow() - timedelta(seconds=1))
    before = utcnow()
    assert _send_due(app).retrying == 1
    row = _row(app, message_id)
    assert row.attempts == 2 and row.status == MessageStatus.QUEUED
    assert before + timedelta(minutes=2) <= row.next_attempt_at <= utcnow() + timedelta(minutes=2)

    _set(app, message_id, next_attempt_at=utcnow() - timedelta(seconds=1))
    assert _send_due(app).failed == 1
    row = _row(app, message_id)
    assert row.status == MessageStatus.FAILED and row.attempts == 3
    assert "unavailable" in row.last_error


def test_a_retried_message_is_sent_when_the_server_is_back(app, smtp_server):
    app.config["SMTP_PORT"] = free_port()
    [message_id] = _queue(app)
    assert _row(app, message_id).attempts == 1
    app.config["SMTP_PORT"] = smtp_server.port
    _set(app, message_id, next_attempt_at=utcnow() - timedelta(seconds=1))
    assert _send_due(app).sent == 1
    smtp_server.wait_for(1)
    row = _row(app, message_id)
    assert row.status == MessageStatus.SENT and row.attempts == 2
    with app.app_context():
        assert smtp_server.messages()[0]["Message-ID"] == message_id_header(message_id)


def test_an_address_the_server_refuses_fails_at_once(app, smtp_server):
    [refused] = _queue(app, "nobody@example.com")
    [fine] = _queue(app, "li.lei@example.com")
    smtp_server.wait_for(1)
    row = _row(app, refused)
    assert row.status == MessageStatus.FAILED and row.attempts == 1
    assert "550" in row.last_error
    assert _row(app, fine).status == MessageStatus.SENT


def test_a_renderer_that_fails_is_retried_and_the_error_kept(app, smtp_server):
    [broken] = _queue(app, kind="test_broken")
    [unknown] = _queue(app, kind="no_such_kind")
    for message_id, error in ((broken, "rendering failed: KeyError"),
                              (unknown, "no renderer for messages of kind 'no_such_kind'")):
        row = _row(app, message_id)
        assert row.status == MessageStatus.QUEUED and row.attempts == 1
        assert error in row.last_error
    assert smtp_server.received == []


# --- claims: at most once -------------------------------------------------------------------

def test_a_message_claimed_by_another_sender_is_left_to_it_until_the_claim_expires(
        app, smtp_server):
    [message_id] = _queue(app, hand_over=False)
    with app.app_context():  # another sender takes it and is still busy with it
        assert claim_message(message_id) is not None
    assert _send_due(app).sent == 0
    with app.app_context():
        assert send_messages([message_id]).not_taken == 1
        assert claim_message(message_id) is None, "a claimed message cannot be claimed twice"
    assert smtp_server.received == []

    _set(app, message_id, claimed_until=utcnow() - timedelta(seconds=1))  # that sender died
    assert _send_due(app).sent == 1
    smtp_server.wait_for(1)
    row = _row(app, message_id)
    assert row.status == MessageStatus.SENT and row.attempts == 2


def test_a_sent_message_is_never_sent_again(app, smtp_server):
    [message_id] = _queue(app)
    smtp_server.wait_for(1)
    _set(app, message_id, next_attempt_at=utcnow() - timedelta(hours=1), claimed_until=None)
    with app.app_context():
        assert send_messages([message_id]).not_taken == 1
        assert claim_message(message_id) is None
    assert _send_due(app).sent == 0
    assert len(smtp_server.received) == 1


def test_two_senders_at_once_send_each_message_exactly_once(app, smtp_server):
    smtp_server.rcpt_delay = 0.005  # both senders are mid-batch at the same time
    ids = _queue(app, hand_over=False, count=30)
    reports: list[outbox.SendReport] = []

    def sender() -> None:
        reports.append(_send_due(app))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    smtp_server.wait_for(30)
    assert len(smtp_server.received) == 30
    assert sum(report.sent for report in reports) == 30
    with app.app_context():
        statuses = db.session.scalars(sa.select(OutboxMessage.status).where(
            OutboxMessage.id.in_(ids))).all()
    assert set(statuses) == {MessageStatus.SENT}


# --- opt-out --------------------------------------------------------------------------------

def test_marketing_is_skipped_for_people_who_opted_out_but_transactional_messages_go(
        app, make, smtp_server):
    opted_out = make.contact(email="gone@example.com", opted_out_at=utcnow())
    subscribed = make.contact(email="keen@example.com")
    [news_to_gone] = _queue(app, "gone@example.com", kind="test_news", contact_id=opted_out.id)
    [news_to_keen] = _queue(app, "keen@example.com", kind="test_news", contact_id=subscribed.id)
    [note_to_gone] = _queue(app, "gone@example.com", kind="test_note", contact_id=opted_out.id)
    [news_to_nobody] = _queue(app, "who@example.com", kind="test_news")
    smtp_server.wait_for(2)
    assert sorted(smtp_server.recipients()) == ["gone@example.com", "keen@example.com"]
    assert _row(app, news_to_keen).status == MessageStatus.SENT
    assert _row(app, note_to_gone).status == MessageStatus.SENT
    skipped = _row(app, news_to_gone)
    assert skipped.status == MessageStatus.SKIPPED and "opted out" in skipped.last_error
    assert _row(app, news_to_nobody).status == MessageStatus.SKIPPED
    assert outbox.marketing_kinds() >= {"test_news"}
    assert "test_note" not in outbox.marketing_kinds()


# --- SMS ------------------------------------------------------------------------------------

def test_the_log_backend_writes_the_text_to_the_log_and_counts_it_sent(app, caplog):
    with caplog.at_level(logging.INFO, logger="eventapp.core.sms"):
        [message_id] = _queue(app, "+8613800138000", medium=Medium.SMS, text="See you at 9")
    assert _row(app, message_id).status == MessageStatus.SENT
    assert any("+8613800138000" in record.getMessage() and "See you at 9" in record.getMessage()
               for record in caplog.records)


def test_a_custom_sms_backend_is_called_with_phone_and_text(app):
    app.config["SMS_BACKEND"] = "tests.invites.test_outbox:record_sms"
    [message_id] = _queue(app, "+8613800138000", medium=Medium.SMS, text="Your ticket")
    assert TEXTS == [("+8613800138000", "Your ticket")]
    assert _row(app, message_id).status == MessageStatus.SENT


@pytest.mark.parametrize(("backend", "error"), [
    ("tests.invites.test_outbox:refuse_sms", "gateway answered 503"),
    ("tests.invites.test_outbox:no_such_function", "cannot be loaded"),
    ("no-colon", "write `log` or `module:callable`"),
])
def test_an_sms_backend_failure_is_retried_with_its_reason(app, backend, error):
    app.config["SMS_BACKEND"] = backend
    [message_id] = _queue(app, "+8613800138000", medium=Medium.SMS)
    row = _row(app, message_id)
    assert row.status == MessageStatus.QUEUED and row.attempts == 1
    assert error in row.last_error


# --- the periodic flush, the CLI, beat ------------------------------------------------------

def test_the_periodic_flush_sends_what_was_not_handed_over(app, smtp_server):
    ids = _queue(app, hand_over=False, count=3)
    later = _queue(app, hand_over=False)[0]
    _set(app, later, next_attempt_at=utcnow() + timedelta(minutes=5))  # a retry, not due yet
    flush = app.extensions["celery"].tasks["eventapp.invites.flush_outbox"]
    assert flush.apply().get() == {"sent": 3, "retrying": 0, "failed": 0, "skipped": 0,
                                   "not_taken": 0}
    smtp_server.wait_for(3)
    assert {_row(app, i).status for i in ids} == {MessageStatus.SENT}
    assert _row(app, later).status == MessageStatus.QUEUED


def test_outbox_send_command_sends_due_messages_once(app, smtp_server):
    _queue(app, hand_over=False, count=2)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 2" in result.output
    smtp_server.wait_for(2)
    again = runner.invoke(args=["outbox", "send"])
    assert "Sent 0" in again.output and len(smtp_server.received) == 2


def test_beat_starts_the_flush_every_minute_and_the_other_periodic_tasks(app):
    celery = app.extensions["celery"]
    schedule = celery.conf.beat_schedule
    assert schedule["flush-outbox"]["schedule"] == 60.0
    assert schedule["send-reminders"]["schedule"] == 15 * 60.0
    posters = schedule["regenerate-posters"]["schedule"]
    assert posters.hour == {3} and posters.minute == {0}
    assert celery.conf.timezone == app.config["DEFAULT_TIMEZONE"], "03:00 in the default zone"
    for entry in schedule.values():
        assert entry["task"] in celery.tasks, f"beat starts {entry['task']}, which nobody defines"
