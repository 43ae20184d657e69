"""Marketing's set-up of an event: its details, agenda, cover image and publishing (the
booking form is built in events/form_builder.py).

Every change validates first and raises ValidationFailed with the messages under their form
fields (or Conflict); nothing here commits. Changes of the agenda (a JSON column) re-read it
under the event's row lock first, so two marketers editing at once never lose each other's
change (SQLite's writers take turns anyway).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from eventapp.core.errors import Conflict, NotFound, ValidationFailed
from eventapp.core.time import utcnow, zone
from eventapp.events.booking_form import BookingFormSpec
from eventapp.events.cover_images import HASH_LENGTH, PreparedCover
from eventapp.events.models import Event, EventStatus
from eventapp.events.services import check_capacity, confirmed_count
from eventapp.extensions import db
from eventapp.invites.booking import ensure_ticket_keys, promote_waitlisted

#: Longest text of each detail (the database column's size, or what a page can carry).
TEXT_LIMITS = {"title": 200, "description": 10_000, "venue": 200, "address": 300,
               "transport_notes": 2_000, "map_url": 500, "weather_note": 1_000, "gift": 200,
               "privacy_text": 5_000}
MAX_AGENDA_ITEMS = 50
AGENDA_LIMITS = {"title": 200, "speaker": 200}
TIME_OF_DAY = re.compile(r"^([01]?\d|2[0-3])[:：.]([0-5]\d)$")  # 9:30, 09:30, 09：30
COVERS_FOLDER = ("uploads", "covers")


# --- details ------------------------------------------------------------------------------

@dataclass
class EventDetails:
    """What the details form sends. Times without a timezone are in the event's timezone."""

    title: str
    starts_at: datetime
    ends_at: datetime
    description: str = ""
    venue: str = ""
    address: str = ""
    transport_notes: str = ""
    map_url: str = ""
    latitude: str | float | None = None
    longitude: str | float | None = None
    weather_note: str = ""
    capacity: int | None = None
    booking_deadline: datetime | None = None
    gift: str = ""
    privacy_text: str = ""


@dataclass
class DetailsSaved:
    """What saving the details changed beyond the values themselves."""

    #: Waiting-list registrations confirmed because the capacity went up.
    promoted: int = 0
    #: Confirmed places above a lowered capacity (they keep their places).
    over_capacity: int = 0


def _aware(moment: datetime, timezone: str) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=zone(timezone))


def _check_texts(details: EventDetails, errors: dict[str, list[str]]) -> dict[str, str]:
    texts = {name: (getattr(details, name) or "").replace("\r\n", "\n").strip()
             for name in TEXT_LIMITS}
    for name, limit in TEXT_LIMITS.items():
        if len(texts[name]) > limit:
            errors[name] = [str(_l("At most %(count)d characters.", count=limit))]
    if not texts["title"]:
        errors["title"] = [str(_l("Give the event a title."))]
    if texts["map_url"] and not _is_web_address(texts["map_url"]):
        errors["map_url"] = [str(_l("Enter a web address starting with https:// or http://, "
                                    "such as a link to the place on a map app."))]
    return texts


def _is_web_address(text: str) -> bool:
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        return False
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and port_ok


def _coordinate(raw: str | float | None, limit: int, field: str,
                errors: dict[str, list[str]]) -> float | None:
    """A latitude (limit 90) or longitude (limit 180) in degrees, or None when left empty."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = float(raw.strip().replace("°", "")) if isinstance(raw, str) else float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > limit:
        errors[field] = [str(_l("Enter a number of degrees from -%(limit)d to %(limit)d, "
                                "such as 31.2304.", limit=limit))]
        return None
    return round(value, 6)


def _check_times(event: Event, details: EventDetails,
                 errors: dict[str, list[str]]) -> tuple[datetime, datetime, datetime | None]:
    starts = _aware(details.starts_at, event.timezone)
    ends = _aware(details.ends_at, event.timezone)
    deadline = (_aware(details.booking_deadline, event.timezone)
                if details.booking_deadline else None)
    for name, moment in (("starts_at", starts), ("ends_at", ends), ("booking_deadline", deadline)):
        if moment is not None and not 2000 <= moment.year <= 2100:
            errors[name] = [str(_l("Enter a date between the years 2000 and 2100."))]
    if "starts_at" in errors or "ends_at" in errors or "booking_deadline" in errors:
        return starts, ends, deadline
    if ends <= starts:
        errors["ends_at"] = [str(_l("The event must end after it starts."))]
    if deadline is not None and deadline >= ends:
        errors["booking_deadline"] = [str(_l("Bookings must close before the event ends. "
                                             "Leave it empty to keep them open until then."))]
    return starts, ends, deadline


def update_details(event: Event, details: EventDetails) -> DetailsSaved:
    """Save the event's details. A higher capacity (or none) confirms waiting-list people in
    the same transaction; a capacity below the confirmed count takes no one's place."""
    errors: dict[str, list[str]] = {}
    texts = _check_texts(details, errors)
    latitude = _coordinate(details.latitude, 90, "latitude", errors)
    longitude = _coordinate(details.longitude, 180, "longitude", errors)
    if (latitude is None) != (longitude is None) and not {"latitude", "longitude"} & set(errors):
        missing = "longitude" if latitude is not None else "latitude"
        errors[missing] = [str(_l("Enter both the latitude and the longitude, or neither."))]
    starts, ends, deadline = _check_times(event, details, errors)
    check_capacity(details.capacity, errors)
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), **errors)
    old_capacity = event.capacity
    for name, value in texts.items():
        setattr(event, name, value)
    event.latitude, event.longitude = latitude, longitude
    event.starts_at, event.ends_at, event.booking_deadline = starts, ends, deadline
    event.capacity = details.capacity
    return _apply_capacity(event, old_capacity)


def _apply_capacity(event: Event, old_capacity: int | None) -> DetailsSaved:
    raised = old_capacity is not None and (event.capacity is None or event.capacity > old_capacity)
    if raised:
        db.session.flush()
        return DetailsSaved(promoted=len(promote_waitlisted(event)))
    if event.capacity is not None and event.capacity != old_capacity:
        return DetailsSaved(over_capacity=max(0, confirmed_count(event) - event.capacity))
    return DetailsSaved()


# --- agenda -------------------------------------------------------------------------------

def agenda_fingerprint(item: dict[str, Any]) -> str:
    """A short mark of one agenda item's content: a change aimed at an item that someone has
    meanwhile moved or changed is refused instead of hitting its neighbour."""
    text = json.dumps(item, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _locked(event: Event, *attributes: str) -> None:
    """Re-read `attributes` of the event under its row lock (PostgreSQL)."""
    db.session.refresh(event, attribute_names=list(attributes), with_for_update=True)


def _agenda_item(time: str, title: str, speaker: str) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    time, title, speaker = (time or "").strip(), (title or "").strip(), (speaker or "").strip()
    match = TIME_OF_DAY.match(time)
    if time and not match:
        errors["time"] = [str(_l("Enter a time as hours and minutes, such as 09:30."))]
    if not title:
        errors["title"] = [str(_l("Say what happens at this point of the programme."))]
    for name, value in (("title", title), ("speaker", speaker)):
        if len(value) > AGENDA_LIMITS[name]:
            errors[name] = [str(_l("At most %(count)d characters.", count=AGENDA_LIMITS[name]))]
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), **errors)
    if match:
        time = f"{int(match.group(1)):02d}:{match.group(2)}"
    return {"time": time, "title": title, "speaker": speaker}


def _agenda_position(event: Event, position: int, fingerprint: str) -> list[dict[str, Any]]:
    agenda = list(event.agenda or [])
    if not 0 <= position < len(agenda) or agenda_fingerprint(agenda[position]) != fingerprint:
        raise Conflict(_l("The agenda was changed meanwhile (perhaps by a colleague). Look at "
                          "it again and repeat your change."))
    return agenda


def add_agenda_item(event: Event, *, time: str, title: str, speaker: str = "") -> None:
    """Add an item at the end of the agenda."""
    item = _agenda_item(time, title, speaker)
    _locked(event, "agenda")
    if len(event.agenda or []) >= MAX_AGENDA_ITEMS:
        raise Conflict(_l("The agenda has the most items it can have (%(count)d). Remove or "
                          "combine some first.", count=MAX_AGENDA_ITEMS))
    event.agenda = [*(event.agenda or []), item]


def update_agenda_item(event: Event, position: int, fingerprint: str, *, time: str,
                       title: str, speaker: str = "") -> None:
    """Change the item at `position` (0-based), if it is still the one the person saw."""
    item = _agenda_item(time, title, speaker)
    _locked(event, "agenda")
    agenda = _agenda_position(event, position, fingerprint)
    agenda[position] = item
    event.agenda = agenda


def remove_agenda_item(event: Event, position: int, fingerprint: str) -> None:
    """Take the item at `position` off the agenda."""
    _locked(event, "agenda")
    agenda = _agenda_position(event, position, fingerprint)
    del agenda[position]
    event.agenda = agenda


def move_agenda_item(event: Event, position: int, fingerprint: str, direction: str) -> None:
    """Move the item one place up or down (at either end: it stays)."""
    _locked(event, "agenda")
    agenda = _agenda_position(event, position, fingerprint)
    target = position + {"up": -1, "down": 1}.get(direction, 0)
    if target != position and 0 <= target < len(agenda):
        agenda[position], agenda[target] = agenda[target], agenda[position]
        event.agenda = agenda


# --- publishing ---------------------------------------------------------------------------

def publish_problems(event: Event) -> list[str]:
    """What still keeps the event from being published (empty: it can be)."""
    problems = []
    if not (event.title or "").strip():
        problems.append(str(_l("Give the event a title.")))
    if not (event.venue or "").strip():
        problems.append(str(_l("Enter the venue, so people know where to go.")))
    form_problems = BookingFormSpec.from_json(event.booking_form).problems()
    if form_problems:
        problems.append(str(_l("Fix the booking form: %(problem)s",
                               problem=next(iter(form_problems.values()))[0])))
    if event.starts_at <= utcnow():
        problems.append(str(_l("The start time has passed. Move the start into the future.")))
    return problems


def publish(event: Event) -> None:
    """Open the invitation page and bookings to the public."""
    problems = publish_problems(event)
    if problems:
        raise ValidationFailed(_l("Not published yet. %(problems)s", problems=" ".join(problems)),
                               publish=problems)
    ensure_ticket_keys(event)
    event.status = EventStatus.PUBLISHED


def unpublish(event: Event) -> None:
    """Back to draft: the invitation page disappears for the public; bookings stay."""
    event.status = EventStatus.DRAFT


# --- the cover image ----------------------------------------------------------------------

def covers_folder() -> Path:
    return Path(current_app.config["EVENTAPP_INSTANCE_PATH"]).joinpath(*COVERS_FOLDER)


def set_cover(event: Event, cover: PreparedCover) -> str | None:
    """Store the prepared cover under <event id>-<content hash>.jpg and make it the event's;
    returns the previous file's name, to discard after the commit."""
    folder = covers_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = cover.file_name(event.id)
    path = folder / name
    if not path.exists():
        draft = folder / f".{name}.{secrets.token_hex(4)}.part"
        draft.write_bytes(cover.jpeg)
        draft.replace(path)  # whole or not at all, even with a reader at the same moment
    previous, event.cover_image = event.cover_image, name
    return previous if previous != name else None


def remove_cover(event: Event) -> str | None:
    """The event has no cover any more; returns the file's name, to discard after commit."""
    previous, event.cover_image = event.cover_image, None
    return previous


def discard_cover_file(name: str | None) -> None:
    """Delete a cover file that no event uses any more (call after the commit)."""
    if name and _is_cover_name(name):
        (covers_folder() / name).unlink(missing_ok=True)


def _is_cover_name(name: str) -> bool:
    return re.fullmatch(rf"\d+-[0-9a-f]{{{HASH_LENGTH}}}\.jpg", name) is not None


def cover_file(slug: str, name: str) -> Path:
    """The file of the current cover of the event with this slug, if it is called `name`;
    NotFound for any other name (an old cover, a guess, a path)."""
    if not _is_cover_name(name):
        raise NotFound()
    current = db.session.scalar(sa.select(Event.cover_image).where(Event.slug == slug))
    if current != name:
        raise NotFound()
    path = covers_folder() / name
    if not path.is_file():
        raise NotFound()
    return path
