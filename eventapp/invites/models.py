"""Tables of the invitations feature: mailings (invitations sent to a segment of the pool).

Registrations and tickets live on `eventapp.events.models.Registration`; messages in the
outbox (`eventapp.core.outbox`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from eventapp.core.models import Base, CreatedMixin, IdMixin, enum_column
from eventapp.core.outbox import Medium
from eventapp.core.outbox import OutboxMessage as OutboxMessage  # registers the outbox table


class Mailing(IdMixin, CreatedMixin, Base):
    """One sending of invitations to a segment of the pool, through one channel."""

    __tablename__ = "mailings"

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"),
                                          index=True)
    #: The channel bookings from this mailing are credited to (its spend, its figures).
    channel_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("channels.id", ondelete="SET NULL"))
    medium: Mapped[Medium] = mapped_column(enum_column(Medium, "message_medium"))
    #: Who was chosen: {"city": "...", "source": "...", "not_registered": true, ...}
    segment: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: The organiser's own words, added to the standard invitation.
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: The job that queues the messages (its progress bar).
    job_id: Mapped[str | None] = mapped_column(sa.String(36))
    queued: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
