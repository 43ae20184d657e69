"""What the attendee's ticket page shows on site, once they are checked in, and marketing's
set-up of it: the floor plan image, the questions people ask, and who to call for help.

The on-site guide is built from what the event has already: its open check-in points of kind
session and booth (grouped by hall, each with where to find it), its agenda, the floor plan
(`event.floor_plan_image`, stored beside the covers) and `event.venue_help`:
{"faq": [{"q": "...", "a": "..."}], "contact": "...", "phone": "..."}.

Nothing here commits. A change of the help text re-reads it under the event's row lock and
is refused if someone changed it since the person opened the form (a fingerprint of what
they saw), so two marketers never overwrite each other unawares.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from eventapp.checkin.models import CheckinPoint, PointKind
from eventapp.core.errors import Conflict, NotFound, ValidationFailed
from eventapp.events import setup
from eventapp.events.cover_images import HASH_LENGTH, PreparedCover
from eventapp.events.models import Event, EventStatus, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.links import invitation_url

MAX_FAQ = 30
LIMITS = {"q": 200, "a": 2_000, "contact": 200, "phone": 40}
#: A phone number as people write it: digits, spaces, dashes, brackets, a leading +.
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,38}$")
_PLAN_NAME = re.compile(rf"\d+-plan-[0-9a-f]{{{HASH_LENGTH}}}\.jpg")


# --- the guide on the ticket page ----------------------------------------------------------

@dataclass(frozen=True)
class Place:
    """A session room or a booth, as attendees look for it."""

    name: str
    kind: PointKind
    hall: str
    location: str


@dataclass(frozen=True)
class Hall:
    #: "" for places without a hall.
    name: str
    sessions: list[Place]
    booths: list[Place]


@dataclass(frozen=True)
class FaqItem:
    question: str
    answer: str


@dataclass(frozen=True)
class VenueHelp:
    faq: list[FaqItem] = field(default_factory=list)
    contact: str = ""
    phone: str = ""

    @classmethod
    def from_json(cls, data: Any) -> VenueHelp:
        data = data if isinstance(data, dict) else {}
        faq = [FaqItem(str(item.get("q", "")), str(item.get("a", "")))
               for item in data.get("faq") or [] if isinstance(item, dict)]
        return cls(faq=[item for item in faq if item.question],
                   contact=str(data.get("contact") or ""), phone=str(data.get("phone") or ""))

    def to_json(self) -> dict[str, Any]:
        return {"faq": [{"q": item.question, "a": item.answer} for item in self.faq],
                "contact": self.contact, "phone": self.phone}

    @property
    def tel(self) -> str | None:
        """The phone number as a tel: link (digits and a leading +), or None."""
        digits = re.sub(r"[^0-9+]", "", self.phone)
        return f"tel:{digits}" if digits.strip("+") else None

    @property
    def empty(self) -> bool:
        return not (self.faq or self.contact or self.phone)


@dataclass(frozen=True)
class OnsiteGuide:
    """Everything the ticket page's on-site mode shows."""

    checked_in_at: datetime
    floor_plan: str | None
    halls: list[Hall]
    booths: list[Place]
    agenda: list[dict[str, str]]
    help: VenueHelp

    @property
    def has_venue(self) -> bool:
        return bool(self.floor_plan or self.halls)


def _halls(places: list[Place]) -> list[Hall]:
    """Places grouped by hall, the halls in the order they were set up (the places without
    one last), each hall's places by name."""
    names = sorted(dict.fromkeys(place.hall for place in places), key=lambda hall: hall == "")
    places = sorted(places, key=lambda place: place.name.casefold())
    return [Hall(name, sessions=[p for p in places if p.hall == name
                                 and p.kind == PointKind.SESSION],
                 booths=[p for p in places if p.hall == name and p.kind == PointKind.BOOTH])
            for name in names]


def _places(event: Event) -> list[Place]:
    """The event's open session rooms and booths (one query)."""
    points = db.session.execute(
        sa.select(CheckinPoint.name, CheckinPoint.kind, CheckinPoint.hall, CheckinPoint.location)
        .where(CheckinPoint.event_id == event.id, CheckinPoint.active.is_(True),
               CheckinPoint.kind.in_((PointKind.SESSION, PointKind.BOOTH)))
        .order_by(CheckinPoint.id)).all()
    return [Place(name=p.name, kind=p.kind, hall=(p.hall or "").strip(),
                  location=(p.location or "").strip()) for p in points]


def halls_of(event: Event) -> list[Hall]:
    """The halls attendees see on site, with their session rooms and booths."""
    return _halls(_places(event))


def onsite_guide(registration: Registration) -> OnsiteGuide | None:
    """The on-site guide of a checked-in, confirmed registration (None for anyone else): the
    floor plan, the halls with their rooms and booths, the agenda, the help; one query."""
    if registration.checked_in_at is None or registration.status != RegistrationStatus.CONFIRMED:
        return None
    event = registration.event
    places = _places(event)
    booths = sorted((p for p in places if p.kind == PointKind.BOOTH),
                    key=lambda p: ((p.location or p.name).casefold(), p.name))
    return OnsiteGuide(checked_in_at=registration.checked_in_at,
                       floor_plan=event.floor_plan_image, halls=_halls(places), booths=booths,
                       agenda=list(event.agenda or []), help=VenueHelp.from_json(event.venue_help))


# --- the help: questions and whom to call ------------------------------------------------------

def venue_help_of(event: Event) -> VenueHelp:
    return VenueHelp.from_json(event.venue_help)


def help_fingerprint(event: Event) -> str:
    """A short mark of the help as it is now: a save based on an older version is refused."""
    text = json.dumps(venue_help_of(event).to_json(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").strip()


def _check_faq(pairs: list[tuple[str, str]], errors: dict[str, list[str]]) -> list[FaqItem]:
    items = []
    for position, (question, answer) in enumerate(pairs):
        question, answer = _clean(question), _clean(answer)
        if not question and not answer:
            continue  # an empty row: nothing to keep
        if not question:
            errors[f"faq-{position}-q"] = [str(_l("Write the question this answers."))]
        if not answer:
            errors[f"faq-{position}-a"] = [str(_l("Write the answer, or clear the question."))]
        for key, value in (("q", question), ("a", answer)):
            if len(value) > LIMITS[key]:
                errors[f"faq-{position}-{key}"] = [str(_l("At most %(count)d characters.",
                                                          count=LIMITS[key]))]
        items.append(FaqItem(question, answer))
    if len(items) > MAX_FAQ:
        errors["faq"] = [str(_l("At most %(count)d questions: combine or remove some.",
                                count=MAX_FAQ))]
    return items


def save_venue_help(event: Event, *, faq: list[tuple[str, str]], contact: str, phone: str,
                    fingerprint: str) -> VenueHelp:
    """Replace the event's on-site help (empty question rows are dropped), if it is still the
    version the person saw; raises ValidationFailed with messages per row, or Conflict."""
    errors: dict[str, list[str]] = {}
    items = _check_faq(faq, errors)
    contact, phone = _clean(contact), _clean(phone)
    if len(contact) > LIMITS["contact"]:
        errors["contact"] = [str(_l("At most %(count)d characters.", count=LIMITS["contact"]))]
    if phone and not PHONE.match(phone):
        errors["phone"] = [str(_l("Enter a phone number with digits only (spaces, dashes and "
                                  "a leading + are fine), such as +86 21 6888 0000."))]
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), **errors)
    db.session.refresh(event, attribute_names=["venue_help"], with_for_update=True)
    if help_fingerprint(event) != fingerprint:
        raise Conflict(_l("The help was changed meanwhile (perhaps by a colleague). Look at it "
                          "again and repeat your change."))
    saved = VenueHelp(faq=items, contact=contact, phone=phone)
    event.venue_help = saved.to_json()
    return saved


# --- the floor plan ----------------------------------------------------------------------------

def plan_file_name(event: Event, plan: PreparedCover) -> str:
    return f"{event.id}-plan-{plan.digest}.jpg"


def set_floor_plan(event: Event, plan: PreparedCover) -> str | None:
    """Store the checked, re-encoded picture as the event's floor plan (beside the covers,
    named by its content); returns the previous file's name, to discard after the commit."""
    folder = setup.covers_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = plan_file_name(event, plan)
    path = folder / name
    if not path.exists():
        draft = folder / f".{name}.{secrets.token_hex(4)}.part"
        draft.write_bytes(plan.jpeg)
        draft.replace(path)
    previous, event.floor_plan_image = event.floor_plan_image, name
    return previous if previous != name else None


def remove_floor_plan(event: Event) -> str | None:
    """The event has no floor plan any more; returns the file's name, to discard after commit."""
    previous, event.floor_plan_image = event.floor_plan_image, None
    return previous


def discard_floor_plan_file(name: str | None) -> None:
    """Delete a floor plan file no event uses any more (call after the commit)."""
    if name and _PLAN_NAME.fullmatch(name):
        (setup.covers_folder() / name).unlink(missing_ok=True)


def floor_plan_file(slug: str, name: str) -> Path:
    """The file of the current floor plan of the event with this slug, if it is called
    `name`; NotFound for any other name (an old plan, a guess, a path)."""
    if not _PLAN_NAME.fullmatch(name):
        raise NotFound()
    current = db.session.scalar(sa.select(Event.floor_plan_image).where(Event.slug == slug))
    path = setup.covers_folder() / name
    if current != name or not path.is_file():
        raise NotFound()
    return path


# --- the set-up pages' frame ---------------------------------------------------------------------

def setup_frame(page: str) -> dict[str, Any]:
    """What events/setup/base.html needs around an on-site set-up page (the Set-up tab, its
    sub-page `page`, the publishing box)."""
    return {"current_area": "setup.details", "setup_page": page,
            "publish_problems": setup.publish_problems, "invitation_url": invitation_url,
            "EventStatus": EventStatus}
