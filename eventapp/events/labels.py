"""What people call the values of events, roles, channels and registrations, in their
language. The forms' choices and the pages use these same labels."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from eventapp.events.models import ChannelKind, EventRole, EventStatus, RegistrationStatus

ADMIN = _l("Administrator")
ROLES = {EventRole.MARKETER: _l("Marketer"), EventRole.STAFF: _l("Booth staff"),
         EventRole.SUPERVISOR: _l("Gate supervisor"), EventRole.SALES: _l("Sales")}
CHANNEL_KINDS = {
    ChannelKind.EMAIL: _l("E-mail"), ChannelKind.SMS: _l("SMS"), ChannelKind.WECHAT: _l("WeChat"),
    ChannelKind.POSTER: _l("Poster"), ChannelKind.PARTNER: _l("Partner"),
    ChannelKind.ADS: _l("Ads"), ChannelKind.OTHER: _l("Other"),
}
EVENT_STATUSES = {EventStatus.DRAFT: _l("Draft"), EventStatus.PUBLISHED: _l("Published"),
                  EventStatus.CLOSED: _l("Closed")}
REGISTRATION_STATUSES = {RegistrationStatus.CONFIRMED: _l("Confirmed"),
                         RegistrationStatus.WAITLISTED: _l("Waiting list"),
                         RegistrationStatus.CANCELLED: _l("Cancelled")}


def role(value: str | None) -> Any:
    """A team role's name; None is an administrator outside the team."""
    return ADMIN if value is None else ROLES[EventRole(value)]


def channel_kind(value: str) -> Any:
    return CHANNEL_KINDS[ChannelKind(value)]


def status(value: str) -> Any:
    """The name of an event's or a registration's status."""
    if value in EventStatus._value2member_map_:
        return EVENT_STATUSES[EventStatus(value)]
    return REGISTRATION_STATUSES[RegistrationStatus(value)]
