"""`checkin`: tickets redeemed at the gate through the JSON API, under gunicorn.

What a gate tablet (or a scanner integration) sends for each scan,
`POST /api/v1/events/<slug>/checkin/redemptions` with `{code, point_id, device_id,
client_scan_id, direction: "in"}` and the API token of a steward, answered 200 with the
result to show. Four phases, each after a short warm-up:

- redemptions: each ticket scanned once, by 8 gate devices at once (result `valid`);
- redemptions_32: the same with 32 gate devices;
- rescans: tickets of the first two phases scanned again (result `already_used`, with when,
  where and by whom they were first used);
- invalid: forged tickets (signed with another key, or one character changed) and codes that
  are no ticket at all (a web address, a product barcode, a ticket cut short, characters
  base32 has not), result `forged` or `malformed`.

Each client is one gate device with its own device id, at the North or the South gate (both
entrances of the venue); every scan has a new client scan id. A scan counts as done only when
it is answered 200 with the result its phase expects. Afterwards the database is counted:
one scan row per scan answered, each with its point, device and staff member; one CHECKIN
activity and one arrival time per ticket redeemed.

The data: the demo (`seed-demo`) and an event of the bench's own, published and under way,
with enough confirmed registrations, each with its signed ticket, that no ticket is redeemed
twice (40,000 for the default run). They are bulk-inserted, not booked one by one: the
redemption reads the registration and its contact only, not how they came to be.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from bench.harness import (Database, Options, Phase, Site, api_token, emit, log, running_app,
                           seed_demo_event, settle, throwaway_database, worker_rss_mib)
from bench.load import HttpRequest, LoadResult, measure

NAME = "checkin"
DESCRIPTION = ("Ticket redemptions at the gate through the JSON API: first scans from 8 and "
               "32 devices, re-scans, forged and malformed codes")
CLIENTS = 8
#: The wide phase always has this many devices (its metrics are named after it).
WIDE_CLIENTS = 32
SECONDS = 10.0
EVENT_SLUG = "checkin-benchmark"
#: (name, hall, location) of the event's entrances.
GATES = (("North gate", "Hall 1", "North entrance, Expo Avenue"),
         ("South gate", "Hall 2", "South entrance, car park P2"))
#: The demo steward, put on the bench's event's team as staff; the scans are theirs.
STAFF_EMAIL = "staff@example.com"
#: Registrations at least, each with its ticket, for the two phases of first scans.
TICKETS = 40_000
#: The highest rate the tickets are counted for (above the issue's ceiling of ~1,180/s with
#: 4 workers); a phase faster than this for long enough runs out and says so.
MOST_SCANS_PER_S = 1_500
#: Invalid codes made before the run and sent in turn, each as a new scan.
INVALID_CODES = 2_000
CONTACT_DOMAIN = "gate.bench.example.com"
FIRST_SCAN, RESCAN = "valid", "already_used"
#: Re-scans take every this-many-th redeemed ticket: a prime, so all come once before any
#: twice (unless their number is a multiple of it).
RESCAN_STRIDE = 7_919


def run(options: Options) -> None:
    """Scan from several gate devices at once, phase after phase; count what was stored."""
    phase = options.phase(clients=CLIENTS, duration=SECONDS)
    wide = replace(phase, clients=WIDE_CLIENTS)
    with throwaway_database(options.db) as database:
        seed_demo_event(database)
        gate = _create_event(database, _tickets_needed(phase, wide))
        settle(database)
        token = api_token(database, STAFF_EMAIL, name="gate benchmark")
        with running_app(database, workers=options.workers) as server:
            site = Site(database, server, token, EVENT_SLUG)
            scans = Scans(site, gate)
            redemptions = measure(site, scans.first_scan, phase, "redemptions")
            redemptions_32 = measure(site, scans.first_scan, wide, "redemptions_32")
            rescans = measure(site, scans.rescan, phase, "rescans")
            invalid = measure(site, scans.invalid_scan, phase, "invalid")
            rss = worker_rss_mib(site.server)
        scans.log_ran_out()
        _check_everything_written(database, gate, scans)
    _emit_phase("redemptions", "", redemptions)
    _emit_phase("redemptions_32", "redemptions_32_", redemptions_32)
    _emit_phase("rescans", "rescans_", rescans)
    _emit_phase("invalid", "invalid_", invalid)
    errors = sum(r.error_count for r in (redemptions, redemptions_32, rescans, invalid))
    emit(NAME, "errors", errors, "requests")
    emit(NAME, "rss_mib_per_worker", max(rss.values(), default=0.0), "MiB")


def _emit_phase(rate_name: str, latency_prefix: str, result: LoadResult) -> None:
    emit(NAME, f"{rate_name}_per_s", result.per_second, "scans/s")
    emit(NAME, f"{latency_prefix}p50_ms", result.percentile_ms(50), "ms")
    emit(NAME, f"{latency_prefix}p99_ms", result.percentile_ms(99), "ms")


def _tickets_needed(*phases: Phase) -> int:
    """Tickets enough for the first-scan phases at MOST_SCANS_PER_S (and never fewer than
    TICKETS): with `--requests`, that many per phase plus the warm-up's."""
    needed = 0
    for phase in phases:
        limits = []
        if phase.duration is not None:
            limits.append(phase.duration * MOST_SCANS_PER_S)
        if phase.requests is not None:
            limits.append(phase.requests)
        needed += math.ceil(min(limits) + phase.warmup * MOST_SCANS_PER_S)
    return max(TICKETS, needed)


# --- the event ----------------------------------------------------------------------------

@dataclass
class Gate:
    """What the bench made: the event, its entrances, the steward, and the tickets."""

    event_id: int
    point_ids: tuple[int, ...]
    staff_user_id: int
    #: (registration id, ticket code), in the order the first scans take them.
    tickets: list[tuple[int, str]]
    #: (code, the result it must get), sent in turn in the invalid phase.
    invalid_codes: list[tuple[str, str]]


def _create_event(database: Database, tickets: int) -> Gate:
    """A published event under way (doors opened half an hour ago), made by the demo
    marketer: the demo's programme and gift, two entrances, the demo steward on its team as
    staff, and `tickets` confirmed registrations of new contacts, each with its signed
    ticket (bulk-inserted)."""
    from eventapp.auth.models import User
    from eventapp.checkin.services import save_point
    from eventapp.core.time import utcnow
    from eventapp.events.models import EventStatus
    from eventapp.events.services import add_member, create_channel, create_event
    from eventapp.extensions import db
    from eventapp.invites.demo import describe_event

    with database.app_context():
        marketer = db.session.scalar(sa.select(User).where(User.email == "marketer@example.com"))
        starts = (utcnow() - timedelta(minutes=30)).replace(second=0, microsecond=0)
        event = create_event(title="工业自动化展 · Industrial Automation Fair", slug=EVENT_SLUG,
                             starts_at=starts, ends_at=starts + timedelta(hours=8),
                             timezone="Asia/Shanghai", venue="国家会展中心 · NECC Shanghai",
                             creator=marketer)
        describe_event(event)
        event.status = EventStatus.PUBLISHED
        channel = create_channel(event, name="邀请邮件 Invitation e-mail", kind="email",
                                 code="edm-gate")
        points = [save_point(event, name=name, kind="entrance", hall=hall, location=location)
                  for name, hall, location in GATES]
        staff = add_member(event, STAFF_EMAIL, "staff")
        issued = _registrations(event, channel.id, tickets)
        gate = Gate(event.id, tuple(point.id for point in points), staff.user_id, issued,
                    _invalid_codes(event, issued))
        db.session.commit()
    log(f"event {EVENT_SLUG}: published, under way, gates {', '.join(n for n, *_ in GATES)}, "
        f"{STAFF_EMAIL} on its team as staff, {len(gate.tickets)} confirmed registrations "
        f"with signed tickets, {len(gate.invalid_codes)} invalid codes")
    return gate


def _registrations(event: Any, channel_id: int, count: int) -> list[tuple[int, str]]:
    """`count` new contacts and their confirmed registrations with signed tickets, inserted
    in bulk; (registration id, ticket code) of each, shuffled (people do not arrive in the
    order they booked)."""
    from eventapp import demo
    from eventapp.contacts.models import Contact
    from eventapp.events.models import Registration, RegistrationStatus
    from eventapp.extensions import db
    from eventapp.invites.booking import new_share_code, new_ticket_token
    from eventapp.invites.tickets import new_serial, sign_ticket

    log(f"inserting {count} contacts and registrations with signed tickets")
    rng = random.Random(2026)
    emails = [f"guest{n}@{CONTACT_DOMAIN}" for n in range(count)]
    db.session.execute(sa.insert(Contact), [
        {"name": f"来宾 {n:05d}" if n % 5 else f"Guest {n:05d}", "email": email,
         "company": f"{rng.choice(demo.ZH_CITIES)}{rng.choice(demo.INDUSTRY_WORDS)}有限公司",
         "job_title": rng.choice(demo.ZH_TITLES), "city": rng.choice(demo.ZH_CITIES),
         "sources": ["booking"], "locale": "zh_CN"} for n, email in enumerate(emails)])
    contact_of = dict(db.session.execute(
        sa.select(Contact.email, Contact.id).where(Contact.email.endswith(f"@{CONTACT_DOMAIN}"))
    ).all())
    serials: set[int] = set()
    while len(serials) < count:
        serials.add(new_serial())
    assert event.ticket_private_key is not None
    # Half came through the invitation e-mail: the first half, as the ORM inserts rows with
    # the same columns in one statement (alternating rows would be one statement each).
    # RETURNING makes SQLAlchemy write a thousand rows per INSERT on PostgreSQL too (without
    # it, psycopg sends one INSERT per row, and the count of confirmed places, kept per
    # statement, would update the event's row 40,000 times in one transaction).
    issued = list(db.session.execute(
        sa.insert(Registration).returning(Registration.id, Registration.ticket_code), [
        {"event_id": event.id, "contact_id": contact_of[email],
         "channel_id": channel_id if n < count // 2 else None,
         "status": RegistrationStatus.CONFIRMED, "answers": {}, "ticket_serial": serial,
         "ticket_code": sign_ticket(event.id, serial, event.ticket_private_key),
         "ticket_token": new_ticket_token(), "share_code": new_share_code()}
        for n, (email, serial) in enumerate(zip(emails, serials, strict=True))]).all())
    rng.shuffle(issued)
    return issued


def _invalid_codes(event: Any, issued: list[tuple[int, str]]) -> list[tuple[str, str]]:
    """Codes a gate meets that are not this event's tickets, with the result each must get:
    half forged (a genuine-looking ticket signed with another key, a genuine ticket with one
    character of its signature changed), half malformed."""
    from eventapp.invites.tickets import new_key_pair, new_serial, sign_ticket

    rng = random.Random(13)
    _public, other_key = new_key_pair()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    codes: list[tuple[str, str]] = []
    for n in range(INVALID_CODES):
        genuine = issued[rng.randrange(len(issued))][1]
        kind = n % 6
        if kind == 0:
            codes.append((sign_ticket(event.id, new_serial(), other_key), "forged"))
        elif kind in (1, 2):
            at = rng.randrange(30, len(genuine) - 1)  # inside the signature, not the last one
            changed = rng.choice(alphabet.replace(genuine[at], ""))
            codes.append((genuine[:at] + changed + genuine[at + 1:], "forged"))
        elif kind == 3:
            codes.append((f"https://weixin.qq.com/r/{uuid.UUID(int=rng.getrandbits(128)).hex}",
                          "malformed"))
        elif kind == 4:
            codes.append((genuine[:rng.randrange(20, len(genuine) - 1)], "malformed"))
        else:
            barcode = f"69{rng.randrange(10**10, 10**11)}"  # a product's EAN-13 on the desk
            codes.append((rng.choice((barcode, genuine[:60] + "01890189" + genuine[68:])),
                          "malformed"))
    return codes


# --- the scans ----------------------------------------------------------------------------

@dataclass
class _Answered:
    """What the 200 answers said, as the clients read them (under the lock)."""

    scan_ids: set[int] = field(default_factory=set)
    #: Registrations whose first scan was answered `valid`, in that order.
    redeemed: list[int] = field(default_factory=list)
    results: Counter[str] = field(default_factory=Counter)


class Scans:
    """The scans the gate devices send: a device per client thread (its own device id, the
    North or the South gate), a new client scan id each time, and what came back."""

    def __init__(self, site: Site, gate: Gate) -> None:
        self.path = f"/api/v1/events/{site.event_slug}/checkin/redemptions"
        self.token = site.token
        self.gate = gate
        self.code_of = dict(gate.tickets)
        self.answered = _Answered()
        self.devices: list[str] = []
        self._fresh = itertools.count()
        self._rescans = itertools.count()
        self._invalid = itertools.count()
        self._ran_out = 0
        self._local = threading.local()
        self._lock = threading.Lock()

    def _device(self) -> tuple[str, int]:
        """This client's device id and point (a new device for each client thread)."""
        device = getattr(self._local, "device", None)
        if device is None:
            with self._lock:
                number = len(self.devices) + 1
                device_id = f"gate-tablet-{number:03d}"
                self.devices.append(device_id)
            points = self.gate.point_ids
            device = self._local.device = (device_id, points[number % len(points)])
        return device

    def _scan(self, code: str, wanted: str) -> HttpRequest:
        """The scan of `code` from this client's device; done only if answered `wanted`."""
        device_id, point_id = self._device()
        body = {"code": code, "point_id": point_id, "device_id": device_id,
                "client_scan_id": str(uuid.uuid4()), "direction": "in"}
        request = HttpRequest.post_json(self.path, body, self.token)
        return replace(request, expect=lambda answer: self._check(answer, wanted))

    def _check(self, answer: bytes, wanted: str) -> str | None:
        """Note what a 200 answer says; None if it is the result wanted, else the error."""
        try:
            outcome = json.loads(answer)
            result, scan_id = outcome["result"], int(outcome["scan_id"])
        except (ValueError, KeyError, TypeError):
            return "unreadable answer"
        with self._lock:
            self.answered.scan_ids.add(scan_id)
            self.answered.results[result] += 1
            if result == FIRST_SCAN and wanted == FIRST_SCAN:
                self.answered.redeemed.append(outcome["registration_id"])
        return None if result == wanted else f"{result} instead of {wanted}"

    def first_scan(self, _serial: int) -> HttpRequest:
        """A ticket not scanned before (if the tickets ran out: a used one, which fails)."""
        number = next(self._fresh)
        tickets = self.gate.tickets
        if number >= len(tickets):
            with self._lock:
                self._ran_out += 1
        return self._scan(tickets[number % len(tickets)][1], FIRST_SCAN)

    def rescan(self, _serial: int) -> HttpRequest:
        """A ticket redeemed in the first phases, scanned again: taken all over the order
        they were redeemed in (a stride through it), early and recent arrivals alike."""
        redeemed = self.answered.redeemed
        registration_id = (redeemed[next(self._rescans) * RESCAN_STRIDE % len(redeemed)]
                           if redeemed else None)
        return self._scan(self.code_of.get(registration_id, ""), RESCAN)

    def invalid_scan(self, _serial: int) -> HttpRequest:
        """A forged or malformed code."""
        codes = self.gate.invalid_codes
        code, wanted = codes[next(self._invalid) % len(codes)]
        return self._scan(code, wanted)

    def log_ran_out(self) -> None:
        if self._ran_out:
            log(f"redemptions: the {len(self.gate.tickets)} tickets ran out; {self._ran_out} "
                "first scans were sent a used ticket and count as errors")


# --- afterwards ---------------------------------------------------------------------------

def _check_everything_written(database: Database, gate: Gate, scans: Scans) -> None:
    """Say on stderr whether the database holds exactly the scans answered (one row per
    answer, each with a bench point, device and the steward), one CHECKIN activity per
    `valid` answer and an arrival time on exactly the registrations redeemed."""
    from eventapp.checkin.models import Scan, ScanResult
    from eventapp.core.activity import Activity, ActivityKind
    from eventapp.events.models import Registration
    from eventapp.extensions import db

    answered = scans.answered
    redeemed = set(answered.redeemed)
    with database.app_context():
        stored = db.session.execute(
            sa.select(Scan.id, Scan.result, Scan.point_id, Scan.device_id, Scan.staff_user_id,
                      Scan.registration_id)
            .where(Scan.event_id == gate.event_id)).all()
        valid_ids = {row.id for row in stored if row.result == ScanResult.VALID}
        references = Counter(db.session.scalars(
            sa.select(Activity.reference).where(Activity.event_id == gate.event_id,
                                                Activity.kind == str(ActivityKind.CHECKIN))))
        arrived = set(db.session.scalars(
            sa.select(Registration.id).where(Registration.event_id == gate.event_id,
                                             Registration.checked_in_at.is_not(None))))
    devices = set(scans.devices)
    wanted_references = {f"scan:{scan_id}" for scan_id in valid_ids}
    stored_ids = {row.id for row in stored}
    problems = {
        "scans answered but not stored": len(answered.scan_ids - stored_ids),
        "scans stored but not answered": len(stored_ids - answered.scan_ids),
        "answers naming a scan another answer named":
            sum(answered.results.values()) - len(answered.scan_ids),
        "scans without a bench point": sum(row.point_id not in gate.point_ids for row in stored),
        "scans without a bench device": sum(row.device_id not in devices for row in stored),
        "scans without the steward": sum(row.staff_user_id != gate.staff_user_id
                                         for row in stored),
        "valid scans not answered valid": len(
            {row.registration_id for row in stored if row.result == ScanResult.VALID}
            ^ redeemed),
        "valid scans without exactly one CHECKIN activity": sum(
            references[reference] != 1 for reference in wanted_references),
        "CHECKIN activities of no valid scan": sum(
            number for reference, number in references.items()
            if reference not in wanted_references),
        "arrival times not of a redemption": len(arrived ^ redeemed),
    }
    by_result = ", ".join(f"{number} {result}"
                          for result, number in sorted(answered.results.items()))
    log(f"stored: {len(stored)} scans ({by_result} answered, warm-ups included), "
        f"{sum(references.values())} CHECKIN activities, {len(arrived)} arrival times")
    wrong = {what: number for what, number in problems.items() if number}
    verdict = ("as expected: one scan row per answer with its point, device and staff "
               "member, one CHECKIN activity and one arrival time per valid redemption"
               if not wrong else "MISMATCH: " + ", ".join(f"{number} {what}"
                                                          for what, number in wrong.items()))
    log(f"checked: {verdict}")
