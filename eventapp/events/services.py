"""Event set-up and the figures each role's home page shows. Set-based queries throughout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import Pagination

from eventapp.auth.models import User
from eventapp.auth.services import normalize_email
from eventapp.contacts.models import Contact
from eventapp.core.activity import Activity, ActivityKind
from eventapp.core.database import is_unique_violation, lock_row
from eventapp.core.errors import Conflict, NotFound, ValidationFailed
from eventapp.core.inputs import INTEGER_MAX
from eventapp.core.money import CENT, parse_amount, valid_currency
from eventapp.core.time import timezone_names, zone
from eventapp.events.models import (Channel, ChannelKind, Event, EventRole, EventStatus,
                                    Membership, Registration, RegistrationStatus)
from eventapp.extensions import db
from eventapp.invites.tickets import new_key_pair

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")  # as long as Event.slug holds
ACTIVE_STATUSES = (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)
#: The largest amount a Money column (NUMERIC(14, 2)) holds; PostgreSQL refuses more.
MAX_SPEND = Decimal("999999999999.99")


# --- events -------------------------------------------------------------------------------

@dataclass
class EventSummary:
    """The headline figures of one event."""

    confirmed: int = 0
    waitlisted: int = 0
    cancelled: int = 0
    checked_in: int = 0
    visitors: int = 0
    spend: Decimal = Decimal("0.00")

    @property
    def registered(self) -> int:
        return self.confirmed + self.waitlisted

    @property
    def attendance_rate(self) -> float | None:
        return self.checked_in / self.confirmed if self.confirmed else None


def events_of(user: User) -> list[tuple[Event, EventRole | None]]:
    """The events `user` works on, with their role (None for an admin outside the team)."""
    role = Membership.role
    query = (sa.select(Event, role)
             .outerjoin(Membership, sa.and_(Membership.event_id == Event.id,
                                            Membership.user_id == user.id))
             .order_by(Event.starts_at.desc()))
    if not user.is_admin:
        query = query.where(Membership.id.is_not(None))
    return [(event, member_role) for event, member_role in db.session.execute(query)]


def summaries(event_ids: list[int]) -> dict[int, EventSummary]:
    """Headline figures for many events in three queries."""
    result = {event_id: EventSummary() for event_id in event_ids}
    if not event_ids:
        return result
    for event_id, status, count, checked_in in db.session.execute(
            sa.select(Registration.event_id, Registration.status, sa.func.count(),
                      sa.func.count(Registration.checked_in_at))
            .where(Registration.event_id.in_(event_ids))
            .group_by(Registration.event_id, Registration.status)):
        setattr(result[event_id], RegistrationStatus(status).value, count)
        if status == RegistrationStatus.CONFIRMED:  # arrivals are of confirmed places only
            result[event_id].checked_in += checked_in
    for event_id, visitors in db.session.execute(
            sa.select(Activity.event_id, sa.func.count(sa.distinct(Activity.visitor_id)))
            .where(Activity.event_id.in_(event_ids), Activity.kind == ActivityKind.INVITE_VIEW)
            .group_by(Activity.event_id)):
        result[event_id].visitors = visitors
    for event_id, spend in db.session.execute(
            sa.select(Channel.event_id, sa.func.sum(Channel.spend))
            .where(Channel.event_id.in_(event_ids)).group_by(Channel.event_id)):
        result[event_id].spend = Decimal(spend or 0)
    return result


#: The most places an event may have.
MAX_CAPACITY = 1_000_000


_CONFIRMED_PLACES = sa.select(Event.confirmed_places).where(Event.id == sa.bindparam("event_id"))


def confirmed_count(event: Event) -> int:
    """How many confirmed places the event has given, as committed now: the count the
    database keeps (Event.confirmed_places), one row read however many booked."""
    return db.session.scalar(_CONFIRMED_PLACES, {"event_id": event.id}) or 0


def check_capacity(capacity: int | None, errors: dict[str, list[str]]) -> None:
    """Adds the error of a capacity out of range (None: no limit) to `errors`."""
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = [str(_l("Enter a number of places from 1 to %(max)s, or leave it "
                                     "empty for no limit.", max=f"{MAX_CAPACITY:,}"))]


def create_event(*, title: str, slug: str, starts_at: datetime, ends_at: datetime,
                 timezone: str, venue: str = "", address: str = "", capacity: int | None = None,
                 currency: str = "CNY", creator: User | None = None) -> Event:
    """A draft event; its creator (if any) joins the team as marketer. Times without a
    timezone are read as wall-clock times in the event's timezone."""
    errors: dict[str, list[str]] = {}
    if timezone not in timezone_names():
        raise ValidationFailed(timezone=[str(_l("Unknown timezone."))])
    starts_at, ends_at = (moment if moment.tzinfo else moment.replace(tzinfo=zone(timezone))
                          for moment in (starts_at, ends_at))
    if not SLUG_PATTERN.match(slug):
        errors["slug"] = [str(_l("Use lower-case letters, digits and dashes."))]
    if ends_at <= starts_at:
        errors["ends_at"] = [str(_l("The event must end after it starts."))]
    if not valid_currency(currency):
        errors["currency"] = [str(_l("Unknown currency code."))]
    check_capacity(capacity, errors)
    if errors:
        raise ValidationFailed(**errors)
    if db.session.scalar(sa.select(Event.id).where(Event.slug == slug)) is not None:
        message = _l("Another event already uses this web address.")
        raise Conflict(message, slug=[str(message)])
    event = Event(title=title.strip(), slug=slug, starts_at=starts_at, ends_at=ends_at,
                  timezone=timezone, venue=venue.strip(), address=address.strip(),
                  capacity=capacity, currency=currency, status=EventStatus.DRAFT)
    event.ticket_public_key, event.ticket_private_key = new_key_pair()
    db.session.add(event)
    db.session.flush()
    if creator is not None:
        db.session.add(Membership(event_id=event.id, user_id=creator.id,
                                  role=EventRole.MARKETER))
    return event


# --- channels -----------------------------------------------------------------------------

@dataclass
class ChannelFigures:
    """One row of the acquisition table: what a channel cost and what it brought."""

    channel: Channel | None  # None: people who came without a channel link
    visitors: int = 0
    registrations: int = 0
    checked_in: int = 0

    @property
    def spend(self) -> Decimal:
        return self.channel.spend if self.channel else Decimal("0.00")

    @property
    def registration_rate(self) -> float | None:
        return self.registrations / self.visitors if self.visitors else None

    @property
    def cost_per_registration(self) -> Decimal | None:
        if not self.registrations or not self.spend:
            return None
        # Half a cent up, as parse_amount rounds (Decimal's default would round half to even).
        return (self.spend / self.registrations).quantize(CENT, rounding=ROUND_HALF_UP)


def channel_figures(event: Event) -> list[ChannelFigures]:
    """Per channel (and for direct traffic): unique visitors, registrations, check-ins."""
    rows: dict[int | None, ChannelFigures] = {c.id: ChannelFigures(c) for c in event.channels}
    rows[None] = ChannelFigures(None)
    for channel_id, visitors in db.session.execute(
            sa.select(Activity.channel_id, sa.func.count(sa.distinct(Activity.visitor_id)))
            .where(Activity.event_id == event.id, Activity.kind == ActivityKind.INVITE_VIEW)
            .group_by(Activity.channel_id)):
        rows.setdefault(channel_id, ChannelFigures(None)).visitors = visitors
    checked_in = sa.func.count(Registration.checked_in_at).filter(
        Registration.status == RegistrationStatus.CONFIRMED)
    for channel_id, registrations, arrivals in db.session.execute(
            sa.select(Registration.channel_id, sa.func.count(), checked_in)
            .where(Registration.event_id == event.id, Registration.status.in_(ACTIVE_STATUSES))
            .group_by(Registration.channel_id)):
        row = rows.setdefault(channel_id, ChannelFigures(None))
        row.registrations, row.checked_in = registrations, arrivals
    return list(rows.values())


def _check_channel_values(event: Event, *, name: str | None, code: str | None,
                          kind: str | None, spend: str | Decimal | None,
                          channel_id: int | None = None) -> dict[str, object]:
    values: dict[str, object] = {}
    errors: dict[str, list[str]] = {}
    if name is not None:
        if not name.strip():
            errors["name"] = [str(_l("Give the channel a name."))]
        values["name"] = name.strip()[:120]
    if kind is not None:
        try:
            values["kind"] = ChannelKind(kind)
        except ValueError:
            errors["kind"] = [str(_l("Unknown kind of channel."))]
    if code is not None:
        code = code.strip().lower()
        if not CODE_PATTERN.match(code):
            errors["code"] = [str(_l("Use 1 to 32 lower-case letters, digits and dashes."))]
        elif db.session.scalar(sa.select(Channel.id).where(
                Channel.event_id == event.id, Channel.code == code,
                Channel.id != (channel_id or 0))) is not None:
            errors["code"] = [str(_l("Another channel of this event uses this code."))]
        values["code"] = code
    if spend is not None:
        try:
            amount: Decimal | None = parse_amount(spend)
        except (ValueError, ArithmeticError):  # ArithmeticError: "1e30" has too many digits
            amount = None
        if amount is None or amount > MAX_SPEND:
            errors["spend"] = [str(_l("Enter the spend as an amount, such as 1200.50."))]
        values["spend"] = amount
    if errors:
        raise ValidationFailed(**errors)
    return values


def _next_free_code(event: Event, kind: ChannelKind) -> str:
    """The kind and the next number after the highest one used: "ads-3" after "ads-2"."""
    prefix = f"{kind.value}-"
    used = db.session.scalars(sa.select(Channel.code).where(
        Channel.event_id == event.id, Channel.code.startswith(prefix, autoescape=True)))
    numbers = [int(code[len(prefix):]) for code in used if code[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


def create_channel(event: Event, *, name: str, kind: str, code: str | None = None,
                   spend: str | Decimal = "0") -> Channel:
    """A new channel; without a code, one is made from its kind ("wechat-2").

    Writers of one event's channels queue on the event's row (SQLite's writers already take
    turns), so two marketers adding channels at once never pick the same generated code.
    """
    values = _check_channel_values(event, name=name, kind=kind, code=code or None, spend=spend)
    _lock_event(event)
    if "code" not in values:
        values["code"] = _next_free_code(event, values["kind"])  # type: ignore[arg-type]
    channel = Channel(event_id=event.id, **values)
    try:
        with db.session.begin_nested():
            db.session.add(channel)
    except sa.exc.IntegrityError as error:  # an explicit code taken since it was checked
        if not is_unique_violation(error):
            raise
        raise ValidationFailed(
            code=[str(_l("Another channel of this event uses this code."))]) from None
    return channel


def update_channel(event: Event, channel_id: int, *, name: str | None = None,
                   kind: str | None = None, code: str | None = None,
                   spend: str | Decimal | None = None) -> Channel:
    """Change a channel's name, kind, code or spend."""
    channel = get_channel(event, channel_id)
    values = _check_channel_values(event, name=name, kind=kind, code=code, spend=spend,
                                   channel_id=channel.id)
    for key, value in values.items():
        setattr(channel, key, value)
    return channel


def get_channel(event: Event, channel_id: int) -> Channel:
    channel = db.session.get(Channel, channel_id)
    if channel is None or channel.event_id != event.id:
        raise NotFound()
    return channel


# --- the team -----------------------------------------------------------------------------

def team_of(event: Event) -> list[Membership]:
    return list(db.session.scalars(
        sa.select(Membership).join(User).where(Membership.event_id == event.id)
        .order_by(Membership.role, User.name)))


def add_member(event: Event, email: str, role: str) -> Membership:
    """Put an existing account on the event's team with a role (or change its role)."""
    try:
        role_value = EventRole(role)
    except ValueError:
        raise ValidationFailed(role=[str(_l("Unknown role."))]) from None
    user = db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))
    _lock_event(event)
    if user is None:
        raise NotFound(_l("No account uses this e-mail. Ask an administrator to create it first."))
    membership = db.session.scalar(sa.select(Membership).where(
        Membership.event_id == event.id, Membership.user_id == user.id))
    if membership is None:
        membership = Membership(event_id=event.id, user_id=user.id, role=role_value)
        db.session.add(membership)
    else:
        _keep_a_marketer(event, membership, role_value)
        membership.role = role_value
    db.session.flush()
    return membership


def remove_member(event: Event, membership_id: int) -> None:
    """Take a person off the team; the last marketer cannot be removed."""
    _lock_event(event)
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.event_id != event.id:
        raise NotFound()
    _keep_a_marketer(event, membership, None)
    db.session.delete(membership)


def _lock_event(event: Event) -> None:
    """Make concurrent changes to one event's team or channels wait for each other (a row
    lock on PostgreSQL; SQLite's writers take turns anyway)."""
    lock_row(Event, event.id)


def _keep_a_marketer(event: Event, membership: Membership, new_role: EventRole | None) -> None:
    if membership.role != EventRole.MARKETER or new_role == EventRole.MARKETER:
        return
    marketers = db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(
        Membership.event_id == event.id, Membership.role == EventRole.MARKETER))
    if marketers <= 1:
        raise Conflict(_l("An event needs at least one marketer. Add another marketer first."))


# --- what sales see ----------------------------------------------------------------------

def find_attendees(event: Event, search: str = "", *, status: str | None = None,
                   page: int = 1, per_page: int = 50) -> Pagination:
    """The event's registrations with their contacts, newest first, filtered by a search over
    name, company, job title, mobile and e-mail. A page beyond INTEGER_MAX is that page (an
    empty one): its offset stays within what the database takes."""
    page = min(page, INTEGER_MAX)
    query = (sa.select(Registration).join(Contact, Registration.contact_id == Contact.id)
             .where(Registration.event_id == event.id)
             .options(sa.orm.contains_eager(Registration.contact))
             .order_by(Registration.created_at.desc(), Registration.id.desc()))
    if status:
        query = query.where(Registration.status == status)
    search = search.strip()
    if search:
        query = query.where(sa.or_(*(column.icontains(search, autoescape=True) for column in (
            Contact.name, Contact.company, Contact.job_title, Contact.phone, Contact.email))))
    return db.paginate(query, page=page, per_page=per_page, max_per_page=200, error_out=False)


def recent_activity(event: Event, limit: int = 15) -> list[tuple[Activity, Contact | None]]:
    return list(db.session.execute(
        sa.select(Activity, Contact).outerjoin(Contact, Activity.contact_id == Contact.id)
        .where(Activity.event_id == event.id)
        .order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(limit)))
