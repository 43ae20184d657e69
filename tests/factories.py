"""Builders of test data. Each call commits in an app context of its own and returns the object
(still readable afterwards: the session does not expire on commit)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask

from eventapp.auth.models import User
from eventapp.auth.services import hash_password
from eventapp.checkin.models import CheckinPoint, PointKind
from eventapp.contacts.models import Contact
from eventapp.core.time import utcnow
from eventapp.events.models import (Channel, ChannelKind, Event, EventRole, EventStatus,
                                    Membership, Registration, RegistrationStatus)
from eventapp.extensions import db
from eventapp.invites.booking import issue_ticket, new_share_code, new_ticket_token

_numbers = itertools.count(1)
_PASSWORD_HASH = hash_password("correct horse battery")  # hashing is slow on purpose: once


class Factory:
    PASSWORD = "correct horse battery"

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _save(self, obj: Any) -> Any:
        with self.app.app_context():
            db.session.add(obj)
            db.session.commit()
            return obj

    def user(self, *, email: str | None = None, name: str | None = None, admin: bool = False,
             locale: str | None = None, active: bool = True) -> User:
        n = next(_numbers)
        return self._save(User(email=email or f"user{n}@example.com", name=name or f"User {n}",
                               password_hash=_PASSWORD_HASH, is_admin=admin, locale=locale,
                               active=active))

    def event(self, *, slug: str | None = None, title: str = "Test Expo",
              starts_at: datetime | None = None, capacity: int | None = 100,
              status: EventStatus = EventStatus.PUBLISHED) -> Event:
        n = next(_numbers)
        starts = starts_at or utcnow() + timedelta(days=7)
        return self._save(Event(slug=slug or f"expo-{n}", title=f"{title} {n}", starts_at=starts,
                                ends_at=starts + timedelta(hours=8), timezone="Asia/Shanghai",
                                venue="Hall A", address="1 Expo Road", capacity=capacity,
                                status=status, currency="CNY"))

    def membership(self, event: Event, user: User, role: str) -> Membership:
        return self._save(Membership(event_id=event.id, user_id=user.id, role=EventRole(role)))

    def channel(self, event: Event, *, name: str = "WeChat article", kind: str = "wechat",
                code: str | None = None, spend: str = "1000.00") -> Channel:
        n = next(_numbers)
        return self._save(Channel(event_id=event.id, name=name, kind=ChannelKind(kind),
                                  code=code or f"code-{n}", spend=Decimal(spend)))

    def contact(self, *, name: str | None = None, phone: str | None = None,
                email: str | None = None, company: str = "Acme 制造", **fields: Any) -> Contact:
        n = next(_numbers)
        return self._save(Contact(name=name or f"联系人 {n}", phone=phone or f"+861380000{n:04d}",
                                  email=email if email is not None else f"contact{n}@example.com",
                                  company=company, **fields))

    def registration(self, event: Event, contact: Contact | None = None, *,
                     channel: Channel | None = None,
                     status: RegistrationStatus = RegistrationStatus.CONFIRMED,
                     checked_in_at: datetime | None = None, **fields: Any) -> Registration:
        contact = contact or self.contact()
        with self.app.app_context():
            stored_event = db.session.get(Event, event.id)
            registration = Registration(
                event_id=event.id, contact_id=contact.id,
                channel_id=channel.id if channel else None, status=status,
                checked_in_at=checked_in_at, answers={}, ticket_token=new_ticket_token(),
                share_code=new_share_code(), **fields)
            issue_ticket(stored_event, registration)  # gives the event its keys if needed
            db.session.add(registration)
            db.session.commit()
            event.ticket_public_key = stored_event.ticket_public_key
            event.ticket_private_key = stored_event.ticket_private_key
            return registration

    def point(self, event: Event, *, name: str | None = None, kind: str = "entrance",
              hall: str = "Hall 1", location: str = "", active: bool = True) -> CheckinPoint:
        n = next(_numbers)
        return self._save(CheckinPoint(event_id=event.id, name=name or f"Gate {n}",
                                       kind=PointKind(kind), hall=hall, location=location,
                                       active=active))
