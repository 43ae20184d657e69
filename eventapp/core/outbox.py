"""The outbox: every e-mail and SMS is first a row here, written in the same transaction as the
change that causes it (a booking, a cancellation, a mailing), and sent afterwards.

What a message is. Features say what a message is (`kind`, `payload`, the ids it is about) and
register a renderer for the kind (`eventapp.invites.messages.renderer`, which fills the registry
here: core imports no feature). The sender renders each message at send time, in the
recipient's language (`force_locale(message.locale)`), from the registration, event and contact
as they are then: a ticket mail still pending when its booking is cancelled is skipped, not
sent. A renderer raises `MessageSkipped(reason)` for that. A kind registered as marketing
(invitations) is skipped for people who opted out; transactional kinds (tickets, reminders, the
waiting list) still go to them.

Hand-over. `queue_message` (and bulk inserts) collect the new messages in
`session.info[NEW_MESSAGES]`; when that transaction commits, their ids are handed to the sender
(forgotten if it rolls back):
- with a broker, as `eventapp.invites.send_messages` tasks. Ids committed while serving
  requests wait HAND_OVER_WINDOW (50 ms) and go out together (tasks of at most
  HAND_OVER_BATCH ids), sent by one thread per process, so a burst of bookings costs one
  push to Redis per window and worker instead of one per booking (publishing a task took
  about as much CPU as the booking's own SQL), and no extra query on the booking path. A
  worker that exits normally sends what waits first; ids of a process killed within the
  window are in the outbox all the same, and the flush below sends them. Outside requests
  (tasks, commands) the task is sent right after the commit;
- inline (no broker), never inside the request: after the response has gone out
  (`response.call_on_close`, in the same worker, no thread), for at most INLINE_SEND_SECONDS;
  outside a request (CLI, tests), right after the commit.
Whatever is not sent then (a lost task, a broker or mail-server outage, a retry) is sent by
`send_due_messages`: the periodic `eventapp.invites.flush_outbox` task (Celery beat, every
minute) or `eventapp outbox send` (cron, when running without a broker).

Sending, at most once. A message stays `queued` until the mail server or SMS gateway has
accepted it. For each message a sender
1. claims it with one conditional UPDATE (still queued, due, not claimed or its claim expired:
   claimed_until = now + OUTBOX_CLAIM_SECONDS, attempts + 1) and commits, so no other sender
   (another worker, the beat flush, a redelivered task) takes it meanwhile;
2. renders it and ends that transaction (no lock is held while talking to the network);
3. sends it (e-mails of a batch share one SMTP connection);
4. marks it `sent` (sent_at) and commits at once; or, when sending failed, records the error
   and the next try: 1 min after the first failure, doubling up to 2 h; after
   OUTBOX_MAX_ATTEMPTS tries (or a permanent refusal of the address) it is `failed`.
A sender killed before step 4 leaves the message queued and claimed; once the claim expires
another sender sends it. A `sent` message is never claimed again. The one window no outbox
can close: the server has accepted the message (its 250 after DATA) and the sender dies, or the
database is unreachable, before the commit of step 4: the message is then sent a second time
after the claim expires. The window is a few milliseconds per message; the e-mail keeps its
Message-ID (derived from the outbox id), so mail systems that drop duplicates by Message-ID
drop it. OUTBOX_CLAIM_SECONDS must exceed the longest send (a few SMTP_TIMEOUTs), or a slow
but living sender's message could be taken over.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import smtplib
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask import (Flask, Response, after_this_request, current_app, g, has_app_context,
                   has_request_context)
from flask_babel import force_locale
from sqlalchemy.orm import Mapped, mapped_column

from eventapp.core.database import write_transactions
from eventapp.core.inserts import insert_now
from eventapp.core.mail import build_email, mail_domain, send_email, smtp_connection
from eventapp.core.models import Base, BigId, enum_column
from eventapp.core.sms import send_sms
from eventapp.core.time import utcnow
from eventapp.extensions import db

log = logging.getLogger(__name__)

#: Session.info key collecting the messages queued in the current transaction (anything with
#: an `id`: OutboxMessage rows, or the ids of a bulk insert), handed to the sender after commit.
NEW_MESSAGES = "outbox_new_messages"
#: The Celery task (eventapp.invites.tasks) that sends given messages: args [message ids].
SEND_TASK = "eventapp.invites.send_messages"
#: Longest a web worker spends sending after a response when there is no broker; the rest
#: waits for `eventapp outbox send` (gunicorn's worker timeout is 30 s).
INLINE_SEND_SECONDS = 10.0
#: With a broker, in requests: how long committed ids wait to be sent together, and how many
#: go in one task at most.
HAND_OVER_WINDOW = 0.05
HAND_OVER_BATCH = 100
#: Due messages a sender reads at a time.
BATCH_SIZE = 200
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=2)


class Medium(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class MessageStatus(StrEnum):
    QUEUED = "queued"  # waiting to be sent, or to be retried at next_attempt_at
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry; last_error says why
    SKIPPED = "skipped"  # not sent on purpose (opted out, no address); last_error says why


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # The sender's query: due messages, oldest first.
        sa.Index("ix_outbox_status_due", "status", "next_attempt_at"),
        sa.Index("ix_outbox_event_kind", "event_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    registration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("registrations.id", ondelete="SET NULL"))
    medium: Mapped[Medium] = mapped_column(enum_column(Medium, "message_medium"))
    #: What the message is ("ticket", "reminder", "invitation", ...): picks the renderer.
    kind: Mapped[str] = mapped_column(sa.String(40))
    #: E-mail address or E.164 mobile number, fixed when the message is queued.
    recipient: Mapped[str] = mapped_column(sa.String(254))
    locale: Mapped[str] = mapped_column(sa.String(10))
    #: Unique when set: a second message with the same key is never queued.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    #: What the renderer needs beyond the ids above (a mailing id, a custom note...).
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    status: Mapped[MessageStatus] = mapped_column(
        enum_column(MessageStatus, "message_status"), default=MessageStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: A sender owns the message until then; after it (the sender died) another may take it.
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.medium} {self.status}>"


def new_message(*, medium: Medium, kind: str, recipient: str, locale: str,
                event_id: int | None = None, contact_id: int | None = None,
                registration_id: int | None = None, dedupe_key: str | None = None,
                payload: dict[str, Any] | None = None) -> OutboxMessage:
    """A message to queue (not in the session yet: see `queue_messages`)."""
    return OutboxMessage(medium=medium, kind=kind, recipient=recipient, locale=locale,
                         event_id=event_id, contact_id=contact_id,
                         registration_id=registration_id, dedupe_key=dedupe_key,
                         payload=payload or {}, status=MessageStatus.QUEUED, attempts=0,
                         next_attempt_at=utcnow())


def queue_messages(*messages: OutboxMessage) -> None:
    """Add new messages to the outbox in the caller's transaction, inserted now (one INSERT
    for them all on PostgreSQL; the rows they name must exist). They are handed to the
    sender once that transaction commits, and not at all if it rolls back. A booking queues
    its ticket by e-mail and by SMS this way."""
    insert_now(*messages)
    db.session.info.setdefault(NEW_MESSAGES, []).extend(messages)


def queue_message(**fields: Any) -> OutboxMessage:
    """`queue_messages` of one `new_message(**fields)`."""
    message = new_message(**fields)
    queue_messages(message)
    return message


# --- renderers ------------------------------------------------------------------------------

@dataclass
class RenderedMessage:
    """A message ready to send. SMS use `text` only."""

    subject: str
    text: str
    html: str | None = None
    #: (content-id, bytes, subtype): images the HTML shows as <img src="cid:content-id">.
    inline_images: list[tuple[str, bytes, str]] = field(default_factory=list)
    #: Extra e-mail headers (List-Unsubscribe, ...).
    headers: dict[str, str] = field(default_factory=dict)


class MessageSkipped(Exception):
    """Raised by a renderer: this message must not be sent (the reason is kept on the row)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Renderer:
    kind: str
    render: Callable[[OutboxMessage], RenderedMessage]
    #: Marketing messages are skipped for people who opted out; others are transactional.
    marketing: bool = False


_renderers: dict[str, Renderer] = {}


def register_renderer(kind: str, render: Callable[[OutboxMessage], RenderedMessage], *,
                      marketing: bool = False) -> None:
    """Make `render` the renderer of messages of `kind` (features use
    eventapp.invites.messages.renderer, which also applies the opt-out to marketing kinds)."""
    _renderers[kind] = Renderer(kind, render, marketing)


def renderer_for(kind: str) -> Renderer | None:
    """The registered renderer of `kind` (None: no feature renders it in this process)."""
    return _renderers.get(kind)


def marketing_kinds() -> frozenset[str]:
    """The kinds registered as marketing: never sent to people who opted out."""
    return frozenset(kind for kind, entry in _renderers.items() if entry.marketing)


def render_message(message: OutboxMessage) -> RenderedMessage:
    """The message as it would be sent now, in its recipient's language; raises
    MessageSkipped when it must not be sent, LookupError for a kind nobody renders."""
    entry = _renderers.get(message.kind)
    if entry is None:
        raise LookupError(f"no renderer for messages of kind {message.kind!r}")
    with force_locale(message.locale):
        return entry.render(message)


def message_id_header(message_id: int) -> str:
    """The Message-ID of outbox message `message_id`: the same on every attempt, unguessable,
    and distinct between installations (keyed with SECRET_KEY)."""
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), f"outbox:{message_id}".encode(),
                      hashlib.sha256).hexdigest()[:16]
    return f"<outbox.{message_id}.{digest}@{mail_domain()}>"


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try: 1 min, 2, 4, ... at most 2 h."""
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 16), LONGEST_RETRY)


# --- hand-over after commit -----------------------------------------------------------------

@sa.event.listens_for(db.session, "after_commit")
def _hand_over_after_commit(session: sa.orm.Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    queued = session.info.pop(NEW_MESSAGES, None)
    if not queued or not has_app_context():
        return
    ids = [message_id for message_id in map(_committed_id, queued) if message_id is not None]
    if ids:
        hand_over(ids)


@sa.event.listens_for(db.session, "after_rollback")
def _forget_after_rollback(session: sa.orm.Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's messages are dropped at commit
        session.info.pop(NEW_MESSAGES, None)


def _committed_id(queued: Any) -> int | None:
    """The id of a queued message that the commit kept (not one added in a savepoint that was
    rolled back)."""
    if not isinstance(queued, OutboxMessage):
        return queued.id
    state = sa.inspect(queued)
    return state.identity[0] if state.persistent and state.identity else None


def hand_over(message_ids: list[int]) -> None:
    """Have these committed messages sent: a task on the broker (within HAND_OVER_WINDOW), or
    inline after the response (or now, outside a request). Never raises: what is not sent
    now, the flush sends later."""
    celery = current_app.extensions.get("celery")
    if celery is not None and not celery.conf.task_always_eager:
        if not has_request_context():  # a task or a command: it may end right after this
            send_tasks(celery, message_ids)
            return
        batcher = current_app.extensions.get("outbox_hand_over")
        if batcher is None:
            batcher = current_app.extensions["outbox_hand_over"] = _TaskBatcher(celery)
        batcher.add(message_ids)
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if has_request_context():
        _send_after_response(app, message_ids)
    else:
        _send_in_own_context(app, message_ids)


class _TaskBatcher:
    """The ids committed by this process's requests, sent to the broker as one task per
    window by one sender thread at a time (see the module's note)."""

    def __init__(self, celery: Any) -> None:
        self.celery = celery
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._sender: threading.Thread | None = None
        batcher = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (b := batcher()) and b._forget_parent())

    def _forget_parent(self) -> None:
        """In a forked child: the parent's lock, ids and sender thread are not ours."""
        self._lock = threading.Lock()
        self._ids, self._sender = [], None

    def add(self, message_ids: list[int]) -> None:
        with self._lock:
            self._ids.extend(message_ids)
            if self._sender is None:
                # Not a daemon: a worker exiting normally (a restart, max_requests) waits for
                # the window to send what it holds.
                self._sender = threading.Thread(target=self._send_windows,
                                                name="outbox-hand-over")
                self._sender.start()

    def _send_windows(self) -> None:
        """Wait a window, send what waits; again while more comes in. While this runs no
        other sender starts, so a slow broker costs one thread, never one per window."""
        while True:
            time.sleep(HAND_OVER_WINDOW)
            with self._lock:
                ids, self._ids = self._ids, []
                if not ids:
                    self._sender = None
                    return
            send_tasks(self.celery, ids)


def send_tasks(celery: Any, message_ids: list[int]) -> None:
    """Send tasks for these ids on the broker, HAND_OVER_BATCH ids each. Never raises: what
    the broker does not take, the periodic flush sends later."""
    for start in range(0, len(message_ids), HAND_OVER_BATCH):
        ids = message_ids[start:start + HAND_OVER_BATCH]
        try:
            # No result is kept: without ignore_result, a Redis result backend would
            # subscribe to the task's result channel, a round trip per task for nothing.
            # Two quick retries (a broker restarted under a pooled connection), not
            # Celery's default of three with growing pauses: a broker that is down is the
            # periodic flush's case.
            celery.send_task(SEND_TASK, args=[ids], ignore_result=True,
                             argsrepr=f"[{len(ids)} message ids]", retry_policy=_RETRY)
        except Exception:  # the broker is down: the messages stand, the flush sends them
            log.warning("outbox messages %s not handed to the broker; the periodic flush "
                        "will send them", ids, exc_info=True)


_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def _send_after_response(app: Flask, message_ids: list[int]) -> None:
    pending: list[int] | None = g.get("outbox_after_response")
    if pending is not None:  # a second commit in the same request
        pending.extend(message_ids)
        return
    pending = g.outbox_after_response = list(message_ids)

    @after_this_request
    def _send_when_closed(response: Response) -> Response:
        response.call_on_close(lambda: _send_in_own_context(app, pending, INLINE_SEND_SECONDS))
        return response


def _send_in_own_context(app: Flask, message_ids: list[int],
                         max_seconds: float | None = None) -> None:
    """Send in an app context (so a database session) of its own: the caller's session is in
    the middle of its commit, or already gone with its request."""
    try:
        with app.app_context(), write_transactions():
            send_messages(message_ids, max_seconds=max_seconds)
    except Exception:
        log.exception("sending outbox messages %s failed; they stay queued", message_ids)


# --- sending --------------------------------------------------------------------------------

@dataclass
class SendReport:
    """What one sending run did."""

    sent: int = 0
    #: Failed this time; queued again for a later try.
    retrying: int = 0
    #: Given up (last try, or the address was refused for good).
    failed: int = 0
    skipped: int = 0
    #: Already sent, not due yet, or being sent by another sender.
    not_taken: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def send_messages(message_ids: Iterable[int], *, max_seconds: float | None = None
                  ) -> SendReport:
    """Send the given messages that are still queued, due and not being sent by another
    sender; each is sent at most once (see the module docstring for the one exception)."""
    with _Sender(max_seconds) as sender:
        for message_id in message_ids:
            if sender.out_of_time():
                break
            sender.send(message_id)
    return sender.report


def send_due_messages(*, max_seconds: float | None = None) -> SendReport:
    """Send every queued message whose time has come, oldest first, until none is left or
    `max_seconds` have passed (the periodic flush and `eventapp outbox send`)."""
    with _Sender(max_seconds) as sender:
        while not sender.out_of_time():
            due = _due_ids(utcnow())
            taken = sender.report.not_taken
            for message_id in due:
                if sender.out_of_time():
                    break
                sender.send(message_id)
            if len(due) < BATCH_SIZE or sender.report.not_taken - taken == len(due):
                break
    return sender.report


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(OutboxMessage.status == MessageStatus.QUEUED,
                   OutboxMessage.next_attempt_at <= now,
                   sa.or_(OutboxMessage.claimed_until.is_(None),
                          OutboxMessage.claimed_until < now))


def _due_ids(now: datetime) -> list[int]:
    ids = list(db.session.scalars(
        sa.select(OutboxMessage.id).where(_claimable(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(BATCH_SIZE)))
    db.session.commit()
    return ids


def claim_message(message_id: int, now: datetime | None = None) -> OutboxMessage | None:
    """Take the message for this sender if it is queued, due and unclaimed (or its claim
    expired), counting the attempt; committed before anything is sent. None: not taken."""
    now = now or utcnow()
    result = db.session.execute(
        sa.update(OutboxMessage).where(OutboxMessage.id == message_id, _claimable(now))
        .values(claimed_until=now + timedelta(seconds=current_app.config["OUTBOX_CLAIM_SECONDS"]),
                attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False))
    message = (db.session.get(OutboxMessage, message_id, populate_existing=True)
               if result.rowcount == 1 else None)
    db.session.commit()
    return message


class _Sender:
    """One sending run: claims, renders, sends and records messages one by one, sharing one
    SMTP connection between its e-mails."""

    def __init__(self, max_seconds: float | None) -> None:
        self.report = SendReport()
        self.deadline = None if max_seconds is None else time.monotonic() + max_seconds
        self.smtp: smtplib.SMTP | None = None
        self.smtp_error: str | None = None  # the server could not be reached in this run

    def __enter__(self) -> _Sender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._drop_connection()

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def send(self, message_id: int) -> None:
        message = claim_message(message_id)
        if message is None:
            self.report.not_taken += 1
            return
        if message.medium == Medium.EMAIL and not self._connected():
            self._record_failure(message, self.smtp_error or "no mail server")
            return
        try:
            rendered = render_message(message)
        except MessageSkipped as skip:
            self._record_skip(message, skip.reason)
            return
        except Exception as error:
            db.session.rollback()
            log.exception("outbox message %s (%s) could not be rendered", message_id,
                          message.kind)
            self._record_failure(message, f"rendering failed: {_describe(error)}")
            return
        db.session.commit()  # end the renderer's reads before talking to the network
        try:
            self._deliver(message, rendered)
        except Exception as error:
            self._record_failure(message, _describe(error), permanent=_refused_for_good(error))
            return
        self._record_sent(message)

    def _deliver(self, message: OutboxMessage, rendered: RenderedMessage) -> None:
        if message.medium == Medium.SMS:
            send_sms(message.recipient, rendered.text)
            return
        email = build_email(message.recipient, rendered.subject, rendered.text, rendered.html,
                            inline_images=rendered.inline_images, headers=rendered.headers,
                            message_id=message_id_header(message.id))
        try:
            send_email(email, self.smtp)
        except smtplib.SMTPRecipientsRefused:
            raise  # the server said no to this address; the connection is fine
        except Exception:
            self._drop_connection()  # in an unknown state: the next e-mail reconnects
            raise

    def _connected(self) -> bool:
        if self.smtp is None and self.smtp_error is None:
            try:
                self.smtp = smtp_connection()
            except (OSError, smtplib.SMTPException) as error:
                config = current_app.config
                self.smtp_error = (f"mail server {config['SMTP_HOST']}:{config['SMTP_PORT']} "
                                   f"unavailable: {_describe(error)}")
        return self.smtp is not None

    def _drop_connection(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def _record_sent(self, message: OutboxMessage) -> None:
        message.status, message.sent_at, message.claimed_until = (MessageStatus.SENT, utcnow(),
                                                                   None)
        db.session.commit()  # right after the server's "accepted": see the module docstring
        self.report.sent += 1
        log.info("outbox message %s (%s, %s) sent", message.id, message.kind, message.medium)

    def _record_skip(self, message: OutboxMessage, reason: str) -> None:
        db.session.rollback()
        self._record_unsent(message, status=MessageStatus.SKIPPED, last_error=reason[:2000])
        self.report.skipped += 1

    def _record_failure(self, message: OutboxMessage, error: str, *,
                        permanent: bool = False) -> None:
        if permanent or message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
            self._record_unsent(message, status=MessageStatus.FAILED, last_error=error[:2000])
            self.report.failed += 1
            log.warning("outbox message %s (%s) failed for good: %s", message.id, message.kind,
                        error)
        else:
            self._record_unsent(message, last_error=error[:2000],
                                next_attempt_at=utcnow() + retry_delay(message.attempts))
            self.report.retrying += 1
            log.info("outbox message %s (%s) not sent, retrying later: %s", message.id,
                     message.kind, error)

    def _record_unsent(self, message: OutboxMessage, **values: object) -> None:
        """Release the claim with the outcome, unless the message is no longer queued: a
        sender whose claim ran out must not turn another sender's `sent` into a failure."""
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == message.id,
                   OutboxMessage.status == MessageStatus.QUEUED)
            .values(claimed_until=None, **values)
            .execution_options(synchronize_session=False))
        db.session.commit()


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _refused_for_good(error: BaseException) -> bool:
    """The server refused the address itself (5xx to RCPT TO): trying again cannot help."""
    return (isinstance(error, smtplib.SMTPRecipientsRefused)
            and all(code >= 500 for code, _text in error.recipients.values()))
