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
from flask import Request, current_app, g, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import load_only
from werkzeug.exceptions import Forbidden, NotFound

from eventapp.auth.models import ApiToken, User
from eventapp.auth.services import (CHECKED_COLUMNS, TOKEN_OWNER, USER_BY_ID,
                                    presented_token_hash, session_is_valid, session_parts)
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


def _with_the_event(owner: sa.Select[Any]) -> sa.Select[Any]:
    """`owner` (a query of a user) reading also the event of the bind parameter `slug` and
    the user's role on it (NULLs if none)."""
    return (owner.add_columns(Event, Membership.role)
            .outerjoin_from(User, Event, Event.slug == sa.bindparam("slug"))
            .outerjoin(Membership, sa.and_(Membership.event_id == Event.id,
                                           Membership.user_id == User.id)))


#: Built once: a request on an event (a URL with its slug, as every gate scan) reads who
#: asks, the event and their role on it in one query, not two.
_TOKEN_OWNER_ON_EVENT = _with_the_event(TOKEN_OWNER)
_SESSION_USER_ON_EVENT = _with_the_event(USER_BY_ID)
#: On `g`: (user id, slug, event, role, (ReadBeside, ReadBesideRow) or None), read with the
#: user for `role_on_event` and `read_beside`.
_READ_WITH_USER = "_event_role_read_with_user"


@dataclass(frozen=True)
class ReadBeside:
    """What a view on an event also reads in the query of who asks, the event and their
    role: one query and one round trip, not two. The gate's scan reads its point and the
    ticket's holder so (`checkin/redeem.py`).

    `join` adds the columns and their outer joins to that query (whose FROM has Event);
    `parameters` takes their bind parameters from the request before anything is checked,
    so it must take any request, a malformed one giving NULLs. What was read is only kept
    for the view: it runs after the user's role is checked, and takes the row only if it
    was read with the parameters it trusts (`read_beside`).

    Of who asks (the user and their API token), that query then loads only what the checks
    of who asks read (`CHECKED_COLUMNS`) and the `user_columns` the view names: not the
    password hash and the rest, each sent and parsed on every request for nothing. Reading
    any other column of them raises, as for the event's; so does reading one of the user
    found again by `db.session.get(User, ...)` in the same request (the session's identity
    map gives back the same, partly loaded object)."""

    join: Callable[[sa.Select[Any]], sa.Select[Any]]
    parameters: Callable[[Request], dict[str, Any]]
    #: The event's columns the view reads, if not all: only these are loaded (the others,
    #: long texts and JSON among them, would each be sent and parsed for nothing). Reading
    #: any other raises, so that the view names what it reads instead of paying a query
    #: for it (one more turn for SQLite's write lock, after the commit).
    event_columns: tuple[str, ...] = ()
    #: The user's columns the view reads, besides those the checks of who asks read.
    user_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for entity, names in ((Event, self.event_columns), (User, self.user_columns)):
            for name in names:
                getattr(entity, name)  # an AttributeError at import, not at the first scan


@dataclass(frozen=True)
class ReadBesideRow:
    """What a ReadBeside read: its parameters, and the columns it added."""

    parameters: dict[str, Any]
    columns: tuple[Any, ...]


def reads_beside_the_user(read: ReadBeside) -> Callable[[F], F]:
    """Mark an event view whose own first read is done by `read` in the query of who asks."""
    def mark(view: F) -> F:
        view.read_beside_the_user = read  # type: ignore[attr-defined]
        return view

    return mark


def read_beside(read: ReadBeside, *, user_id: int | None, slug: str) -> ReadBesideRow | None:
    """What `read` read in this request's query of who asks, if that was the query of this
    user on this event; else None."""
    found = g.get(_READ_WITH_USER)
    if found is None or found[:2] != (user_id, slug) or found[4] is None or \
            found[4][0] is not read:
        return None
    return found[4][1]


@functools.lru_cache(maxsize=32)
def _reading_beside(statement: sa.Select[Any], read: ReadBeside) -> tuple[sa.Select[Any], int]:
    """`statement` joined with `read`, built once, and the number of columns it adds."""
    joined = read.join(statement)
    width = len(joined.column_descriptions) - len(statement.column_descriptions)
    loaded = {Event: read.event_columns,
              User: CHECKED_COLUMNS[User] + read.user_columns,
              ApiToken: CHECKED_COLUMNS[ApiToken]}
    present = {description["entity"] for description in statement.column_descriptions}
    for entity, names in loaded.items():
        if entity in present and names:
            joined = joined.options(load_only(*(getattr(entity, name) for name in names),
                                              raiseload=True))
    return joined, width


def _on_event(statement: sa.Select[Any], parameters: dict[str, Any]
              ) -> tuple[Any, tuple[ReadBeside, ReadBesideRow] | None]:
    """The first row of `statement`, a query of who asks on an event, with the view's
    ReadBeside (if it has one) read in the same query; and what that read."""
    view = current_app.view_functions.get(request.endpoint or "")
    read: ReadBeside | None = getattr(view, "read_beside_the_user", None)
    if read is None:
        return db.session.execute(statement, parameters).first(), None
    joined, width = _reading_beside(statement, read)
    beside = read.parameters(request)
    if beside.keys() & parameters.keys():  # the request must not choose whose row it reads
        raise ValueError(f"{read} would replace parameters of who asks: {sorted(beside)}")
    row = db.session.execute(joined, {**beside, **parameters}).first()
    if row is None:
        return None, None
    return row, (read, ReadBesideRow(beside, tuple(row[-width:])))


def token_owner_on_event(plain: str, slug: str) -> tuple[User, ApiToken] | None:
    """`token_owner` of an API call on the event `slug`, reading that event and the owner's
    role on it in the same query, for this request's `role_on_event`."""
    token_hash = presented_token_hash(plain)
    if token_hash is None:
        return None
    row, beside = _on_event(_TOKEN_OWNER_ON_EVENT, {"token_hash": token_hash, "slug": slug})
    if row is None or not row.User.active:
        return None
    _remember(row, slug, beside)
    return row.User, row.ApiToken


def session_user_on_event(session_id: str, slug: str) -> User | None:
    """`user_for_session` of a request on the event `slug`, reading that event and the
    user's role on it in the same query, for this request's `role_on_event`."""
    parts = session_parts(session_id)
    if parts is None:
        return None
    row, beside = _on_event(_SESSION_USER_ON_EVENT, {"user_id": parts[0], "slug": slug})
    if row is None or not session_is_valid(row.User, parts[1]):
        return None
    _remember(row, slug, beside)
    return row.User


def _remember(row: Any, slug: str, beside: tuple[ReadBeside, ReadBesideRow] | None) -> None:
    """Keep what the query of a user found valid read, for the request's views."""
    setattr(g, _READ_WITH_USER, (row.User.id, slug, row.Event, row.role, beside))


def role_on_event(user: User, slug: str) -> tuple[Event | None, EventRole | None]:
    """The event with this slug and the user's role on it (None if not on its team); one query,
    or none if the query of who asks read them."""
    read = g.get(_READ_WITH_USER)
    if read is not None and read[:2] == (user.id, slug):
        return read[2], read[3]
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
