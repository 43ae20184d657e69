"""The outbox: every e-mail and SMS is first a row here, written in the same transaction as the
change that causes it (a booking, a cancellation, a mailing), and sent afterwards by a task.

A message stays `queued` until the mail server or SMS gateway has accepted it: a worker killed
mid-send leaves it queued (its claim expires) and the next worker sends it; a message already
marked `sent` is never sent again. `dedupe_key` makes "send this once" (one reminder per
registration) a unique constraint instead of a hope.

Features say what a message is (`kind`, `payload`) and register a renderer for the kind; the
sender renders it at send time, in the recipient's language (eventapp.invites.messages).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from eventapp.core.models import Base, BigId, enum_column
from eventapp.core.time import utcnow
from eventapp.extensions import db

#: Session.info key collecting the ids of messages to hand to the sender after commit.
NEW_MESSAGES = "outbox_new_messages"


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


def queue_message(*, medium: Medium, kind: str, recipient: str, locale: str,
                  event_id: int | None = None, contact_id: int | None = None,
                  registration_id: int | None = None, dedupe_key: str | None = None,
                  payload: dict[str, Any] | None = None) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction; it is handed to the sender
    once that transaction commits (and not at all if it rolls back)."""
    message = OutboxMessage(medium=medium, kind=kind, recipient=recipient, locale=locale,
                            event_id=event_id, contact_id=contact_id,
                            registration_id=registration_id, dedupe_key=dedupe_key,
                            payload=payload or {}, status=MessageStatus.QUEUED, attempts=0,
                            next_attempt_at=utcnow())
    db.session.add(message)
    db.session.info.setdefault(NEW_MESSAGES, []).append(message)
    return message
