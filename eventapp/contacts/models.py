"""A Contact is one person across events, found again by mobile number or e-mail."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from eventapp.core.models import Base, IdMixin, TimestampMixin


class Contact(IdMixin, TimestampMixin, Base):
    __tablename__ = "contacts"

    name: Mapped[str] = mapped_column(sa.String(120))
    #: E.164 (+8613812345678); unique, so the same mobile is always the same person.
    phone: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    #: Lower-cased; unique for the same reason.
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    company: Mapped[str] = mapped_column(sa.String(200), default="")
    job_title: Mapped[str] = mapped_column(sa.String(120), default="")
    city: Mapped[str] = mapped_column(sa.String(80), default="")
    #: How the person reached the pool, oldest first: "booking", "import:<file>", "walk-in"...
    sources: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    #: Preferred language for messages (zh_CN / en); None: the event's default.
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    #: When and how the person agreed to be contacted (the privacy text shown then).
    consent_at: Mapped[datetime | None]
    consent_source: Mapped[str | None] = mapped_column(sa.String(120))
    #: Set when the person opts out of marketing messages; they are never sent any after.
    opted_out_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.name}>"
