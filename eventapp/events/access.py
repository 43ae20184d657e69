"""Who may open what: every event page and API endpoint checks the user's role on that event.

    @bp.get("/events/<slug>/channels")
    @login_required
    @event_role_required(EventRole.MARKETER)
    def channels(event: Event): ...

The decorator turns the `slug` URL argument into the `event` argument, after checking that the
current user is an admin or has one of the roles on that event's team. A missing event is a
404; a wrong or missing role is a 403 (an HTML page or the JSON error, as the client wants).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import g
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import Forbidden, NotFound

from eventapp.auth.models import User
from eventapp.events.models import Event, EventRole, Membership
from eventapp.extensions import db, login_manager

F = TypeVar("F", bound=Callable[..., Any])

#: Which roles may open each area. Marketers run the whole event, so they see every area.
GATE_ROLES = (EventRole.STAFF, EventRole.SUPERVISOR, EventRole.MARKETER)
#: At the gate, supervisors may also search, check in by hand, undo, register walk-ins and
#: see the totals; stewards (STAFF) only scan.
SUPERVISOR_ROLES = (EventRole.SUPERVISOR, EventRole.MARKETER)
PEOPLE_ROLES = (EventRole.SALES, EventRole.MARKETER)
SETUP_ROLES = (EventRole.MARKETER,)
ANY_ROLE = tuple(EventRole)


@dataclass(frozen=True)
class Area:
    """A part of an event's pages: its view, its tab label, who may open it."""

    endpoint: str
    label: Any
    roles: tuple[EventRole, ...]


#: In tab order; a person lands on the first area their role may open.
AREAS = (
    Area("events.overview", _l("Overview"), SETUP_ROLES),
    Area("setup.details", _l("Set-up"), SETUP_ROLES),
    Area("events.channels", _l("Channels"), SETUP_ROLES),
    Area("mailings.index", _l("Invitations"), SETUP_ROLES),
    Area("checkin_setup.points", _l("Check-in points"), SETUP_ROLES),
    Area("checkin_dashboard.dashboard", _l("Arrivals"), SETUP_ROLES),
    Area("events.team", _l("Team"), SETUP_ROLES),
    Area("checkin.gate", _l("Gate"), GATE_ROLES),
    Area("checkin_log.log", _l("Gate log"), SUPERVISOR_ROLES),
    Area("events.people", _l("People"), PEOPLE_ROLES),
)


def areas_for(user: User, role: EventRole | None) -> list[Area]:
    """The areas of an event that `user`, with `role` on it, may open (admins: all)."""
    return [area for area in AREAS if user.is_admin or role in area.roles]


def home_area(user: User, role: EventRole | None) -> Area:
    """Where a person lands for an event: the first area they may open (marketers and admins:
    the overview; staff: the gate; sales: the people list)."""
    return areas_for(user, role)[0]


def sees_spend(user: User, role: EventRole | None) -> bool:
    """Channel spend is marketing's business: marketers and admins see it, staff and sales not."""
    return user.is_admin or role == EventRole.MARKETER


#: Built once: every event page and API call runs it.
_ROLE_ON_EVENT = (sa.select(Event, Membership.role)
                  .outerjoin(Membership, sa.and_(Membership.event_id == Event.id,
                                                 Membership.user_id == sa.bindparam("user_id")))
                  .where(Event.slug == sa.bindparam("slug")))


def role_on_event(user: User, slug: str) -> tuple[Event | None, EventRole | None]:
    """The event with this slug and the user's role on it (None if not on its team); one query."""
    row = db.session.execute(_ROLE_ON_EVENT, {"user_id": user.id, "slug": slug}).first()
    if row is None:
        return None, None
    return row[0], row[1]


def check_event_role(user: User, slug: str, roles: tuple[EventRole, ...]) -> Event:
    """The event, if `user` may act on it with one of `roles`; raises NotFound or Forbidden."""
    event, role = role_on_event(user, slug)
    if event is None:
        raise NotFound()
    if not user.is_admin and role not in roles:
        raise Forbidden()
    g.event_role = role
    return event


def event_role_required(*roles: EventRole) -> Callable[[F], F]:
    allowed = tuple(roles) or ANY_ROLE

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, slug: str, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            event = check_event_role(current_user, slug, allowed)
            return view(*args, event=event, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def admin_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            raise Forbidden()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
