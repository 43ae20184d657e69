"""Accounts of the people who run events (attendees have no account: they are Contacts)."""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eventapp.core.models import Base, CreatedMixin, IdMixin


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


class User(UserMixin, IdMixin, CreatedMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    #: None: follow the browser's language.
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    #: Part of the login session id: replacing it (password change) signs out every other session.
    session_token: Mapped[str] = mapped_column(sa.String(32), default=new_session_token)
    last_login_at: Mapped[datetime | None]

    memberships = relationship("Membership", back_populates="user",
                               cascade="all, delete-orphan", passive_deletes=True)

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated user cannot log in
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def __repr__(self) -> str:  # the id only: a gate scan loads few columns of who asks
        return f"<User {self.id}>"


class ApiToken(IdMixin, CreatedMixin, Base):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: The first characters, shown in lists so a person can tell tokens apart.
    prefix: Mapped[str] = mapped_column(sa.String(12))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
