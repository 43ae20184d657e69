"""`booking`: people booking a place through the invitation page's form, under gunicorn.

The form the H5 invitation page posts, `POST /e/<slug>/book`, the whole path: validation,
contact matching, the capacity check, the registration, its signed ticket, the outbox rows
(e-mail and SMS) and the BOOKING activity, answered by a 303 to the ticket page `/t/<token>`.
Each client is one phone's browser: it opens the invitation page once
(`GET /e/<slug>?c=<code>`: session cookie and CSRF token) and then books again and again with
that session, each time for a new person (a new mobile number and e-mail address, a Chinese
or an English name, the custom questions answered, half of them with a channel code).

The app runs with a Redis broker and no Celery worker, as in production: what it hands to the
sender after commit is queued on Redis instead of being sent inside the request. Afterwards the
database is counted (registrations, outbox rows, BOOKING activities, new contacts), which
shows that no booking skipped a step. Last, the ticket QR code of a real booking is drawn as
PNG and SVG, as the ticket page and the ticket e-mail draw it.
"""

from __future__ import annotations

import http.client
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

import sqlalchemy as sa

from bench.harness import (Database, Options, Phase, Site, emit, log, running_app,
                           seed_demo_event, settle, throwaway_database)
from bench.load import REQUEST_TIMEOUT, HttpRequest, LoadResult, measure
from eventapp.testing.services import RedisServer

NAME = "booking"
DESCRIPTION = ("Bookings through the invitation page's form under gunicorn, each a new person; "
               "ticket QR drawing time")
CLIENTS = 8
SECONDS = 10.0
#: Times each ticket QR image is drawn; the median is reported.
QR_RENDERS = 50
EVENT_SLUG = "booking-benchmark"
#: Large enough for every booking of a run, so each one takes the capacity check and is
#: confirmed (a waiting-list booking costs the same statements).
CAPACITY = 100_000
#: (name, kind, code) of the event's channels; every other booking comes through one of them.
CHANNELS = (("公众号推文 WeChat article", "wechat", "wechat-article"),
            ("行业协会合作 Industry association", "partner", "assoc-partner"),
            ("邀请邮件 Invitation e-mail", "email", "edm-1"))
#: Mobile prefixes the bench's people take their numbers from, in this order: a number the
#: demo pool already has is taken from the next prefix, so every person is new.
MOBILE_PREFIXES = ("139", "138", "137", "136")
EMAIL_DOMAIN = "bench.example.com"


def run(options: Options) -> None:
    """Book from several phones at once; count what was written; time the ticket QR codes."""
    phase = options.phase(clients=CLIENTS, duration=SECONDS)
    with throwaway_database(options.db) as database:
        seed_demo_event(database)
        log(_create_event(database))
        settle(database)
        with RedisServer() as redis:
            bookings = _book(BrokeredDatabase(database.kind, database.url, database.folder,
                                              database.postgres, broker_url=redis.url),
                             options.workers, phase)
            _check_everything_written(database, bookings)
            _say_what_the_broker_holds(redis.url)
        png_ms, svg_ms = _qr_render_ms(database)
    emit(NAME, "bookings_per_s", bookings.per_second, "bookings/s")
    emit(NAME, "p50_ms", bookings.percentile_ms(50), "ms")
    emit(NAME, "p99_ms", bookings.percentile_ms(99), "ms")
    emit(NAME, "errors", bookings.error_count, "requests")
    emit(NAME, "qr_png_ms", png_ms, "ms")
    emit(NAME, "qr_svg_ms", svg_ms, "ms")


def _book(database: BrokeredDatabase, workers: int, phase: Phase) -> LoadResult:
    """The app under gunicorn, and the clients booking through its invitation page."""
    people = People(_phones_in_pool(database))
    log("outbox: the app runs with a Redis broker and no worker, so messages are queued for "
        "sending as in production, never sent inside a request")
    with running_app(database, workers=workers) as server:
        site = Site(database, server, token="", event_slug=EVENT_SLUG)
        browsers = Browsers(site.url, EVENT_SLUG)
        try:
            browsers.check_invitation_page()
        except CannotBook as error:
            log(f"stopped: {error}")
            raise SystemExit(1) from None
        return measure(site, lambda serial: browsers.booking(people.form(serial)), phase,
                       "bookings")


@dataclass
class BrokeredDatabase(Database):
    """The database, with the app (gunicorn and in-process) pointed at a Celery broker."""

    broker_url: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "CELERY_BROKER_URL": self.broker_url}


# --- the event --------------------------------------------------------------------------

def _create_event(database: Database) -> str:
    """A published event two weeks ahead, made by the demo marketer as the set-up pages make
    one: the demo's programme, privacy text and booking form (six standard fields, three
    custom questions), a capacity, and channels."""
    from eventapp.auth.models import User
    from eventapp.core.time import utcnow
    from eventapp.events.models import EventStatus
    from eventapp.events.services import create_channel, create_event
    from eventapp.extensions import db
    from eventapp.invites.demo import describe_event

    with database.app_context():
        marketer = db.session.scalar(sa.select(User).where(User.email == "marketer@example.com"))
        starts = (utcnow() + timedelta(days=14)).replace(minute=0, second=0, microsecond=0)
        event = create_event(title="数字化工厂开放日 · Digital Factory Open Day", slug=EVENT_SLUG,
                             starts_at=starts, ends_at=starts + timedelta(hours=7),
                             timezone="Asia/Shanghai", venue="苏州国际博览中心 · Suzhou Expo",
                             capacity=CAPACITY, creator=marketer)
        describe_event(event)
        for name, kind, code in CHANNELS:
            create_channel(event, name=name, kind=kind, code=code)
        event.status = EventStatus.PUBLISHED
        db.session.commit()
        questions = len(event.booking_form["questions"])
    return (f"event /e/{EVENT_SLUG}: published, capacity {CAPACITY}, {len(CHANNELS)} channels, "
            f"booking form with {questions} custom questions")


def _phones_in_pool(database: Database) -> set[str]:
    from eventapp.contacts.models import Contact
    from eventapp.extensions import db

    with database.app_context():
        return set(db.session.scalars(sa.select(Contact.phone).where(Contact.phone.is_not(None))))


# --- the people -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Name:
    full: str
    #: Romanised, for the e-mail address.
    user: str
    chinese: bool


class People:
    """A new person for each booking: a unique mobile number and e-mail address, a Chinese
    (four in five) or an English name, a company, and answers to the custom questions."""

    def __init__(self, taken_phones: set[str], names: int = 400, seed: int = 2026) -> None:
        from faker import Faker

        from eventapp import demo

        self._demo = demo
        self._taken = taken_phones
        zh, en = Faker("zh_CN"), Faker("en_US")
        zh.seed_instance(seed)
        en.seed_instance(seed + 1)
        self._names = [_Name(zh.name(), zh.user_name(), True) if n % 5 else
                       _Name(en.name(), en.user_name(), False) for n in range(names)]

    def phone(self, serial: int) -> str:
        """The mobile number as a person types it: 11 digits, now and then with +86."""
        for prefix in MOBILE_PREFIXES:
            digits = f"{prefix}{serial % 10**8:08d}"
            if f"+86{digits}" not in self._taken:
                return f"+86 {digits}" if serial % 4 == 0 else digits
        raise ValueError(f"no free mobile number for serial {serial}")

    def form(self, serial: int) -> dict[str, str | list[str]]:
        """The booking form as this person fills it in (without the page's hidden fields)."""
        from eventapp.invites.demo import BOOKING_FORM

        rng = random.Random(serial)
        name = self._names[serial % len(self._names)]
        demo = self._demo
        city = rng.choice(demo.ZH_CITIES if name.chinese else demo.EN_CITIES)
        company = (f"{city}{rng.choice(demo.INDUSTRY_WORDS)}有限公司" if name.chinese
                   else f"{name.full.split()[-1]} Manufacturing Ltd.")
        topics, plans, lunch = BOOKING_FORM["questions"]
        form: dict[str, str | list[str]] = {
            "name": name.full, "phone": self.phone(serial),
            "email": f"{name.user}.{serial}@{EMAIL_DOMAIN}",
            "company": company,
            "job_title": rng.choice(demo.ZH_TITLES if name.chinese else demo.EN_TITLES),
            "city": city, "consent": "y",
            f"q_{topics['key']}": rng.choice(topics["options"]),
            f"q_{lunch['key']}": rng.choice(("yes", "no")),
        }
        if rng.random() < 0.8:
            form[f"q_{plans['key']}"] = rng.sample(plans["options"][:4], k=rng.randint(1, 3))
        if serial % 2 == 0:
            form["c"] = CHANNELS[serial // 2 % len(CHANNELS)][2]
        return form


# --- the browsers -------------------------------------------------------------------------

class _InvitationPage(HTMLParser):
    """What the bench reads of the invitation page: its title, whether it has the booking
    form, and the value of that form's hidden `csrf_token` input."""

    def __init__(self, slug: str) -> None:
        super().__init__()
        self.action = f"/e/{slug}/book"
        self.title = ""
        self.has_form = False
        self.token: str | None = None
        self._in_form = self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        fields = dict(attrs)
        if tag == "title":
            self._in_title = True
        elif tag == "form" and urlsplit(fields.get("action") or "").path == self.action:
            self.has_form = self._in_form = True
        elif tag == "input" and self._in_form and fields.get("name") == "csrf_token":
            self.token = fields.get("value")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "form":
            self._in_form = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()


class CannotBook(RuntimeError):
    """The invitation page did not offer a booking form to post."""


@dataclass(frozen=True)
class BrowserSession:
    """What a phone keeps after opening the invitation page: its cookies and the CSRF token."""

    cookie: str
    csrf_token: str


class Browsers:
    """One browser session per client thread, made by opening the invitation page once and
    reused for each of that client's bookings (as a person who books for colleagues would)."""

    def __init__(self, url: str, slug: str) -> None:
        address = urlsplit(url)
        self.host, self.port = address.hostname or "127.0.0.1", address.port or 80
        self.slug = slug
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened = 0

    def check_invitation_page(self) -> None:
        """Open the page once before the load: stop at once, saying why, if it cannot book."""
        self.open_invitation(CHANNELS[0][2])
        log(f"invitation page /e/{self.slug} answers with a booking form and a CSRF token")

    def open_invitation(self, channel_code: str) -> BrowserSession:
        """GET /e/<slug>?c=<code>: the session cookie and the form's CSRF token."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request("GET", f"/e/{self.slug}?{urlencode({'c': channel_code})}")
            response = connection.getresponse()
            page = response.read().decode(errors="replace")
        finally:
            connection.close()
        cookies = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
        found = _InvitationPage(self.slug)
        found.feed(page)
        if response.status != 200 or not found.has_form or not found.token or not cookies:
            raise CannotBook(
                f"GET /e/{self.slug} answered {response.status} ({found.title!r}): "
                f"booking form {'found' if found.has_form else 'missing'}, CSRF token "
                f"{'found' if found.token else 'missing'}, {len(cookies)} cookies")
        cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
        return BrowserSession(cookie, found.token)

    def session(self) -> BrowserSession | None:
        """This client's session, opening the page on its first booking (outside the timed
        request). None when the page would not open: the booking is then sent without a
        session and fails, so it counts as an error instead of going unseen."""
        session = getattr(self._local, "session", None)
        if session is None:
            with self._lock:
                self._opened += 1
                number = self._opened
            try:
                session = self._local.session = self.open_invitation(
                    CHANNELS[number % len(CHANNELS)][2])
            except (OSError, http.client.HTTPException, CannotBook) as error:
                log(f"a client could not open the invitation page: {error}")
        return session

    def booking(self, form: dict[str, str | list[str]]) -> HttpRequest:
        """The POST the invitation page's form sends for this person."""
        session = self.session()
        fields: dict[str, Any] = {**form, "booking_key": str(uuid.uuid4()),
                                  "csrf_token": session.csrf_token if session else ""}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if session:
            headers["Cookie"] = session.cookie
        return HttpRequest("POST", f"/e/{self.slug}/book",
                           urlencode(fields, doseq=True).encode(), headers, see_other="/t/")


# --- afterwards ---------------------------------------------------------------------------

def _check_everything_written(database: Database, bookings: LoadResult) -> None:
    """Say on stderr whether each booking answered 303 left exactly one registration, one
    e-mail and one SMS in the outbox, one BOOKING activity and one new contact behind."""
    from eventapp.contacts.models import Contact
    from eventapp.core.activity import Activity, ActivityKind
    from eventapp.core.outbox import Medium, OutboxMessage
    from eventapp.events.models import Event, Registration
    from eventapp.extensions import db

    with database.app_context():
        event_id = db.session.scalar(sa.select(Event.id).where(Event.slug == EVENT_SLUG))

        def count(model: Any, *conditions: Any) -> int:
            return db.session.scalar(sa.select(sa.func.count()).select_from(model)
                                     .where(*conditions)) or 0

        found = {
            "registrations": count(Registration, Registration.event_id == event_id),
            "outbox e-mails": count(OutboxMessage, OutboxMessage.event_id == event_id,
                                    OutboxMessage.medium == Medium.EMAIL),
            "outbox SMS": count(OutboxMessage, OutboxMessage.event_id == event_id,
                                OutboxMessage.medium == Medium.SMS),
            "BOOKING activities": count(Activity, Activity.event_id == event_id,
                                        Activity.kind == str(ActivityKind.BOOKING)),
            "new contacts": count(Contact, Contact.email.endswith(f"@{EMAIL_DOMAIN}")),
            "tickets signed": count(Registration, Registration.event_id == event_id,
                                    Registration.ticket_code.is_not(None)),
        }
    answered = bookings.succeeded
    wrong = {what: number for what, number in found.items() if number != answered}
    figures = ", ".join(f"{number} {what}" for what, number in found.items())
    verdict = "as expected" if not wrong else f"MISMATCH in {', '.join(wrong)}"
    log(f"bookings: {answered} answered 303 (warm-up included); stored: {figures}: {verdict}")


def _say_what_the_broker_holds(broker_url: str) -> None:
    """How many tasks the app handed to the broker, and how many message ids they carry: the
    outbox's sends, waiting for a worker (ids committed together share a task)."""
    import base64
    import json

    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        tasks = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
    finally:
        client.close()
    ids = sum(len(json.loads(base64.b64decode(task["body"]))[0][0]) for task in tasks)
    if tasks:
        log(f"outbox: {len(tasks)} send tasks carrying {ids} message ids wait on the broker "
            f"for a worker (about {ids / len(tasks):.1f} ids a task: the ids committed in a "
            "worker within the hand-over window go as one task)")
    else:
        log("outbox: the app queued no send task on the broker: the rows are written and "
            "wait, but handing them to the sender after commit is not built yet")


def _qr_render_ms(database: Database) -> tuple[float, float]:
    """Median milliseconds to draw the ticket QR code of a real booking, as PNG and as SVG."""
    from eventapp.events.models import Event, Registration
    from eventapp.extensions import db
    from eventapp.invites.qrcodes import qr_png, qr_svg

    with database.app_context():
        code = db.session.scalar(
            sa.select(Registration.ticket_code).join(Event)
            .where(Event.slug == EVENT_SLUG, Registration.ticket_code.is_not(None)).limit(1))
    if code is None:
        log("qr: no booking to draw the ticket of")
        return 0.0, 0.0
    log(f"qr: drawing a ticket code of {len(code)} characters {QR_RENDERS} times each")
    return _median_ms(lambda: qr_png(code)), _median_ms(lambda: qr_svg(code))


def _median_ms(draw: Callable[[], bytes]) -> float:
    draw()  # imports and caches
    times = []
    for _ in range(QR_RENDERS):
        started = time.perf_counter()
        draw()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000
