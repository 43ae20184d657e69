"""events.confirmed_places, the count the booking's capacity check reads instead of counting
the event's registrations, is kept right by the database whatever changes a registration:
a booking, a cancellation and the promotion it frees, a walk-in, a registration or contact
deleted, an UPDATE that bypasses the ORM; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

import eventapp.checkin.services as checkin_services
from eventapp.auth.models import User
from eventapp.checkin.models import CheckinPoint
from eventapp.checkin.redeem import ScanRequest
from eventapp.contacts.models import Contact
from eventapp.events.models import Event, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.booking import cancel_registration
from tests.invites.test_booking import book

CONFIRMED = RegistrationStatus.CONFIRMED
WAITLISTED = RegistrationStatus.WAITLISTED
CANCELLED = RegistrationStatus.CANCELLED


def kept_and_counted(app: Flask, event: Any) -> tuple[int, int]:
    """The event's confirmed_places as the database keeps it, and a count of its confirmed
    registrations."""
    with app.app_context():
        kept = db.session.scalar(sa.select(Event.confirmed_places).where(Event.id == event.id))
        counted = db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(
            Registration.event_id == event.id, Registration.status == CONFIRMED))
        return kept, counted


def assert_kept(app: Flask, event: Any, expected: int) -> None:
    assert kept_and_counted(app, event) == (expected, expected)


def _change(app: Flask, statement: Any) -> None:
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()


def test_bookings_cancellations_and_promotions_keep_the_count(app, make, client, event):
    with app.app_context():
        db.session.execute(sa.update(Event).where(Event.id == event.id).values(capacity=2))
        db.session.commit()
    assert_kept(app, event, 0)
    for number in range(3):
        response = book(client, event, phone=f"1390000{number:04d}", name=f"订票 {number}")
        assert response.status_code == 303
    assert_kept(app, event, 2)  # the third is on the waiting list

    with app.app_context():
        first = db.session.scalar(sa.select(Registration).where(
            Registration.event_id == event.id).order_by(Registration.id))
        promoted = cancel_registration(first)
        db.session.commit()
        assert [r.status for r in promoted] == [CONFIRMED]
    assert_kept(app, event, 2)  # one cancelled, the waiting one promoted

    with app.app_context():
        cancelled_again = cancel_registration(db.session.get(Registration, first.id))
        db.session.commit()
        assert cancelled_again == []
    assert_kept(app, event, 2)


def test_the_counts_of_two_events_are_their_own(app, make):
    one, other = make.event(), make.event()
    for _ in range(3):
        make.registration(one)
    make.registration(other)
    make.registration(other, status=WAITLISTED)
    assert_kept(app, one, 3)
    assert_kept(app, other, 1)


@pytest.mark.parametrize("change", ["cancel", "waitlist", "confirm", "move"])
def test_a_status_changed_outside_the_booking_code_is_counted(app, make, change):
    event, elsewhere = make.event(), make.event()
    confirmed = make.registration(event)
    waiting = make.registration(event, status=WAITLISTED)
    assert_kept(app, event, 1)
    by_id = Registration.id == (waiting.id if change == "confirm" else confirmed.id)
    values = {"cancel": {"status": CANCELLED}, "waitlist": {"status": WAITLISTED},
              "confirm": {"status": CONFIRMED}, "move": {"event_id": elsewhere.id}}[change]

    _change(app, sa.update(Registration).where(by_id).values(**values))

    assert_kept(app, event, {"cancel": 0, "waitlist": 0, "confirm": 2, "move": 0}[change])
    assert_kept(app, elsewhere, 1 if change == "move" else 0)


def test_checking_in_and_other_changes_leave_the_count_alone(app, make, event):
    confirmed = make.registration(event)
    with app.app_context():
        db.session.execute(sa.update(Registration).where(Registration.id == confirmed.id)
                           .values(checked_in_at=sa.func.now(), answers={"a": 1}))
        db.session.execute(sa.update(Registration).where(Registration.id == confirmed.id)
                           .values(status=CONFIRMED))  # the same status again
        db.session.commit()
    assert_kept(app, event, 1)


def test_deleting_registrations_and_contacts_is_counted(app, make, event):
    kept = make.registration(event)
    deleted = make.registration(event)
    erased = make.registration(event)
    make.registration(event, status=WAITLISTED)
    assert_kept(app, event, 3)

    _change(app, sa.delete(Registration).where(Registration.id == deleted.id))
    assert_kept(app, event, 2)
    # erasing a person deletes their registrations through the foreign key's cascade
    _change(app, sa.delete(Contact).where(Contact.id == erased.contact_id))
    assert_kept(app, event, 1)
    with app.app_context():
        assert db.session.get(Registration, kept.id).status == CONFIRMED


def test_an_event_with_registrations_can_be_deleted(app, make, event):
    for _ in range(3):
        make.registration(event)
    _change(app, sa.delete(Event).where(Event.id == event.id))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0


def test_many_rows_written_at_once_are_each_counted(app, make, event):
    contacts = [make.contact() for _ in range(5)]
    with app.app_context():
        db.session.execute(sa.insert(Registration), [
            {"event_id": event.id, "contact_id": contact.id, "answers": {},
             "status": CONFIRMED if number % 2 == 0 else WAITLISTED,
             "ticket_token": f"bulk-token-{number:016d}", "share_code": f"bulk{number}",
             "ticket_serial": 9_000 + number}
            for number, contact in enumerate(contacts)])
        db.session.commit()
    assert_kept(app, event, 3)
    _change(app, sa.update(Registration).where(Registration.event_id == event.id)
            .values(status=CONFIRMED))
    assert_kept(app, event, 5)


@pytest.mark.slow
def test_a_walk_in_of_a_waiting_person_and_a_cancellation_at_once_both_go_through(
        app, make, event, monkeypatch):
    """The walk-in confirms a waiting person while a cancellation frees a place and promotes
    the waiting list: both change statuses (and so the event's count), and both lock the
    event before the registration, so one waits for the other instead of a deadlock."""
    with app.app_context():
        db.session.execute(sa.update(Event).where(Event.id == event.id).values(capacity=1))
        db.session.commit()
    confirmed = make.registration(event)
    person = make.contact()
    waiting = make.registration(event, person, status=WAITLISTED)
    point, staff = make.point(event), make.user()
    booked, failures = threading.Event(), []
    book = checkin_services.book

    def book_then_dawdle(*args: Any, **kwargs: Any) -> Any:
        result = book(*args, **kwargs)  # the walk-in holds its locks now
        booked.set()
        time.sleep(1)  # meanwhile the cancellation starts
        return result

    monkeypatch.setattr(checkin_services, "book", book_then_dawdle)

    def in_its_transaction(work: Any) -> Any:
        def run() -> None:
            with app.app_context():
                try:
                    work()
                    db.session.commit()
                except Exception as error:  # noqa: BLE001 (reported by the assertion)
                    failures.append(error)
                    db.session.rollback()
        return threading.Thread(target=run)

    def walk_in() -> None:
        checkin_services.register_walk_in(
            db.session.get(Event, event.id), db.session.get(CheckinPoint, point.id),
            db.session.get(User, staff.id), {"name": person.name, "phone": person.phone},
            consent=True, locale="en",
            request=ScanRequest(point_id=point.id, client_scan_id="walk-in-1"))

    def cancel() -> None:
        assert booked.wait(10)
        cancel_registration(db.session.get(Registration, confirmed.id))

    threads = [in_its_transaction(walk_in), in_its_transaction(cancel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    with app.app_context():
        assert db.session.get(Registration, waiting.id).status == CONFIRMED
        assert db.session.get(Registration, confirmed.id).status == CANCELLED
    assert_kept(app, event, 1)


def _event_row_updates() -> int | None:
    """How many rows of events this transaction has updated so far, on PostgreSQL (None on
    SQLite, which keeps no such figure)."""
    if db.engine.dialect.name != "postgresql":
        return None
    return db.session.scalar(sa.text(
        "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'events'"))


def _assert_event_updated_once(before: int | None) -> None:
    if before is not None:
        assert _event_row_updates() - before == 1


def test_a_large_insert_or_delete_updates_the_event_once_per_statement(app, event):
    """Thousands of registrations inserted or deleted by one statement (an import, a bulk
    load, an erasure) are counted right, and on PostgreSQL the event's row is updated once for
    the statement, not once per row: per row, each update walks the versions of that row the
    transaction made before it, quadratic in the number of rows."""
    rows = 3_000
    with app.app_context():
        db.session.execute(sa.insert(Contact), [
            {"name": f"批量 {n}", "email": f"bulk{n}@example.com", "sources": ["import"]}
            for n in range(rows)])
        waiting = sa.func.length(Contact.email) % 4 == 0  # about a quarter of them
        status = sa.case((waiting, "waitlisted"), else_="confirmed")
        before = _event_row_updates()
        db.session.execute(sa.insert(Registration).from_select(
            ["event_id", "contact_id", "status", "answers", "ticket_serial", "ticket_token",
             "share_code", "created_at"],
            sa.select(sa.literal(event.id), Contact.id, status, sa.literal({}, sa.JSON),
                      Contact.id + 50_000, sa.literal("bulk-") + sa.cast(Contact.id, sa.String),
                      sa.literal("b") + sa.cast(Contact.id, sa.String), sa.func.now())
            .where(Contact.email.like("bulk%@example.com"))))
        _assert_event_updated_once(before)
        confirmed = db.session.scalar(sa.select(sa.func.count()).select_from(Contact).where(
            Contact.email.like("bulk%@example.com"), ~waiting))
        db.session.commit()
    assert 0 < confirmed < rows
    assert_kept(app, event, confirmed)

    with app.app_context():
        before = _event_row_updates()
        db.session.execute(sa.delete(Registration).where(Registration.event_id == event.id,
                                                         Registration.ticket_serial % 2 == 0))
        _assert_event_updated_once(before)
        db.session.commit()
    kept, counted = kept_and_counted(app, event)
    assert kept == counted < confirmed
