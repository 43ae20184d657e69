"""Booking through the invitation page's form, as a phone sends it: POST /e/<slug>/book with
the page's hidden fields. The contact is matched into the pool, the registration confirmed or
waitlisted with a signed ticket, its messages queued and the booking logged; mistakes come
back beside their fields with what was typed kept."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from eventapp.contacts.models import Contact
from eventapp.core.activity import Activity, ActivityKind
from eventapp.core.outbox import OutboxMessage
from eventapp.core.time import utcnow
from eventapp.events.models import Event, EventStatus, Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.tickets import verify_ticket

_BOOKING_FORM = re.compile(r'<form class="booking-form".*?</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
TICKET_URL = re.compile(r"^/t/[A-Za-z0-9_-]{24}$")


# --- steps shared with the ticket page tests ----------------------------------------------

def hidden_fields(page: Any) -> dict[str, str]:
    """The hidden inputs of the page's booking form (CSRF token, booking key, c, r)."""
    form = _BOOKING_FORM.search(page.get_data(as_text=True))
    assert form, "the invitation page has a booking form"
    return {name: unescape(value) for name, value in _HIDDEN.findall(form.group(0))}


def book(client: Any, event: Any, query: dict[str, str] | None = None, **fields: Any) -> Any:
    """Open the invitation (with its link's query) and send its form filled in with `fields`
    (defaults: a name, a Chinese mobile number, consent); a field given as None is left out."""
    page = client.get(f"/e/{event.slug}", query_string=query or {})
    assert page.status_code == 200
    data = {"name": "王小明", "phone": "13812345678", "consent": "y",
            **hidden_fields(page), **fields}
    return client.post(f"/e/{event.slug}/book",
                       data={k: v for k, v in data.items() if v is not None})


def registrations_of(app: Flask, event: Any) -> list[Registration]:
    with app.app_context():
        return list(db.session.scalars(
            sa.select(Registration).where(Registration.event_id == event.id)
            .options(sa.orm.joinedload(Registration.contact)).order_by(Registration.id)))


def activities_of(app: Flask, kind: ActivityKind) -> list[Activity]:
    with app.app_context():
        return list(db.session.scalars(
            sa.select(Activity).where(Activity.kind == str(kind)).order_by(Activity.id)))


def outbox_of(app: Flask, event: Any) -> list[tuple[str, str, str]]:
    """(kind, medium, recipient) of the event's queued messages, oldest first."""
    with app.app_context():
        return [(m.kind, m.medium.value, m.recipient) for m in db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.event_id == event.id)
            .order_by(OutboxMessage.id))]


def set_up(app: Flask, event: Any, **columns: Any) -> None:
    """Change the event's set-up as the marketer's pages would."""
    with app.app_context():
        stored = db.session.get(Event, event.id)
        for name, value in columns.items():
            setattr(stored, name, value)
            setattr(event, name, value)
        db.session.commit()


def public_key(app: Flask, event: Any) -> bytes:
    with app.app_context():
        return db.session.get(Event, event.id).ticket_public_key


QUESTIONS = {"fields": {"name": "required", "phone": "required", "email": "optional",
                        "company": "required", "job_title": "optional", "city": "optional"},
             "questions": [
                 {"key": "topic", "kind": "single", "label": "Topic",
                  "options": ["AI", "数字孪生"], "required": True},
                 {"key": "plans", "kind": "multiple", "label": "Plans",
                  "options": ["MES", "Robots", "IoT"], "required": False},
                 {"key": "lunch", "kind": "yes_no", "label": "Lunch?", "required": True},
                 {"key": "note", "kind": "text", "label": "Anything else?", "required": False}]}


# --- the happy path -----------------------------------------------------------------------

def test_a_booking_makes_a_contact_a_registration_a_ticket_messages_and_a_log_entry(
        app, make, client, event):
    channel = make.channel(event, code="wechat-1")

    response = book(client, event, {"c": "wechat-1"}, name="  张伟 ", phone="138 1234 5678",
                    email="Zhang.Wei@Example.COM", company="海尔智家")

    assert response.status_code == 303
    assert TICKET_URL.match(response.headers["Location"])
    [registration] = registrations_of(app, event)
    contact = registration.contact
    assert (contact.name, contact.phone, contact.email, contact.company) == (
        "张伟", "+8613812345678", "zhang.wei@example.com", "海尔智家")
    assert contact.consent_at is not None and contact.locale == "en"
    assert response.headers["Location"] == f"/t/{registration.ticket_token}"
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.channel_id == channel.id
    claim = verify_ticket(registration.ticket_code, event.id, public_key(app, event))
    assert claim.serial == registration.ticket_serial
    assert outbox_of(app, event) == [("ticket", "email", "zhang.wei@example.com"),
                                     ("ticket", "sms", "+8613812345678")]
    [booking] = activities_of(app, ActivityKind.BOOKING)
    [view] = activities_of(app, ActivityKind.INVITE_VIEW)
    assert (booking.contact_id, booking.channel_id, booking.reference) == (
        contact.id, channel.id, f"registration:{registration.id}")
    assert booking.visitor_id == view.visitor_id == registration.visitor_id
    assert booking.visitor_id == client.get_cookie("eventapp_vid").value


def test_the_ticket_page_follows_and_the_invitation_then_links_to_it(app, client, event):
    response = book(client, event)
    ticket = client.get(response.headers["Location"])
    assert ticket.status_code == 200
    assert "王小明" in ticket.get_data(as_text=True)
    again = client.get(f"/e/{event.slug}").get_data(as_text=True)
    assert f'href="{response.headers["Location"]}"' in again


def test_the_page_language_becomes_the_persons(app, client, event):
    page = client.get(f"/e/{event.slug}", headers={"Accept-Language": "zh-CN"})
    data = {"name": "李娜", "phone": "13900001111", "consent": "y", **hidden_fields(page)}
    response = client.post(f"/e/{event.slug}/book", data=data,
                           headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 303
    [registration] = registrations_of(app, event)
    assert registration.contact.locale == "zh_CN"
    with app.app_context():
        assert {m.locale for m in db.session.scalars(sa.select(OutboxMessage))} == {"zh_CN"}


def test_a_share_link_credits_the_attendee_who_shared_it(app, make, client, event):
    referrer = make.registration(event)

    response = book(client, event, {"r": referrer.share_code}, phone="13911112222")

    assert response.status_code == 303
    newcomer = [r for r in registrations_of(app, event) if r.id != referrer.id][0]
    assert newcomer.referrer_id == referrer.contact_id
    [view] = activities_of(app, ActivityKind.INVITE_VIEW)
    assert view.reference == f"referrer:{referrer.contact_id}"


def test_an_unknown_channel_code_books_as_direct(app, client, event):
    assert book(client, event, {"c": "no-such-code"}).status_code == 303
    [registration] = registrations_of(app, event)
    assert registration.channel_id is None


# --- what is checked ----------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"phone": "12345"}, "phone", "This phone number does not exist; check the digits."),
    ({"phone": "电话"}, "phone", "This is not a phone number."),
    ({"phone": "010 6552 9988"}, "phone",
     "Enter a mobile number, so that we can text you the ticket."),
    ({"email": "zhang@@example"}, "email", "This is not an e-mail address."),
    ({"name": "   "}, "name", "Required."),
    ({"phone": None}, "phone", "Required."),
    ({"consent": None}, "consent", "Please agree to the privacy notice to book."),
])
def test_a_mistake_is_shown_beside_its_field_with_the_values_kept(
        app, client, event, field_errors, fields, field, message):
    response = book(client, event, **{"email": "li.na@example.com", **fields})

    assert response.status_code == 422
    assert field_errors(response, field) == [message]
    page = response.get_data(as_text=True)
    assert "Please correct the marked fields." in page
    if field != "email":
        assert 'value="li.na@example.com"' in page
    assert registrations_of(app, event) == []
    assert response.headers["Cache-Control"] == "no-store"


def csrf_value(app, signed: str) -> str:
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token").loads(signed)


def test_a_refused_form_keeps_its_booking_key_and_channel(app, make, client, event):
    make.channel(event, code="partner-x")
    page = client.get(f"/e/{event.slug}?c=partner-x")
    fields = hidden_fields(page)

    refused = client.post(f"/e/{event.slug}/book", data={**fields, "name": "Zoë", "phone": "1"})

    assert refused.status_code == 422
    again = hidden_fields(refused)
    assert (again["booking_key"], again["c"]) == (fields["booking_key"], "partner-x")
    # The form's CSRF token is the session's, signed with the time: a second later it is
    # spelled differently but carries the same token.
    assert csrf_value(app, again["csrf_token"]) == csrf_value(app, fields["csrf_token"])
    assert 'value="Zoë"' in refused.get_data(as_text=True)


@pytest.mark.parametrize("name", ["张伟", "Zoë", "محمد عبد الله", "Łukasz Żółć", "O'Brien-Smith"])
def test_names_in_any_script_are_kept_as_typed(app, client, event, name):
    assert book(client, event, name=name).status_code == 303
    [registration] = registrations_of(app, event)
    assert registration.contact.name == name


def test_custom_questions_are_answered(app, client, event):
    set_up(app, event, booking_form=QUESTIONS)

    response = book(client, event, company="Acme", q_topic="数字孪生", q_plans=["MES", "IoT"],
                    q_lunch="no", q_note="素食 vegetarian")

    assert response.status_code == 303
    [registration] = registrations_of(app, event)
    assert registration.answers == {"topic": "数字孪生", "plans": ["MES", "IoT"],
                                    "lunch": False, "note": "素食 vegetarian"}


@pytest.mark.parametrize(("answers", "field", "message"), [
    ({"q_topic": "Blockchain"}, "q_topic", "Choose among the options shown."),
    ({"q_plans": ["MES", "Crypto"]}, "q_plans", "Choose among the options shown."),
    ({"q_lunch": "maybe"}, "q_lunch", "Answer yes or no."),
    ({"q_topic": None}, "q_topic", "Required."),
    ({"q_note": "x" * 501}, "q_note", "At most 500 characters."),
    ({"company": None}, "company", "Required."),
])
def test_a_wrong_answer_is_refused(app, client, event, field_errors, answers, field, message):
    set_up(app, event, booking_form=QUESTIONS)
    fields = {"company": "Acme", "q_topic": "AI", "q_lunch": "yes", **answers}

    response = book(client, event, **fields)

    assert response.status_code == 422
    assert field_errors(response, field) == [message]
    assert registrations_of(app, event) == []


def test_the_answers_given_are_shown_again_after_a_mistake(app, client, event):
    set_up(app, event, booking_form=QUESTIONS)
    response = book(client, event, phone="1", company="Acme", q_topic="数字孪生",
                    q_plans=["Robots", "IoT"], q_lunch="yes")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    checked = re.findall(r'name="(q_\w+)" value="([^"]+)" checked', page)
    assert sorted(checked) == [("q_lunch", "yes"), ("q_plans", "IoT"), ("q_plans", "Robots"),
                               ("q_topic", "数字孪生")]
    assert 'name="consent" value="y" required checked' in page


def test_without_a_csrf_token_nothing_is_booked(app, client, event):
    page = client.get(f"/e/{event.slug}")
    fields = {**hidden_fields(page), "name": "王小明", "phone": "13812345678", "consent": "y"}
    del fields["csrf_token"]

    response = client.post(f"/e/{event.slug}/book", data=fields)

    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "This form has expired." in text
    assert "layout-attendee" in text and "Back to my events" not in text
    assert registrations_of(app, event) == []


# --- booking twice ------------------------------------------------------------------------

def test_a_double_tap_makes_one_registration_and_both_lead_to_the_ticket(app, client, event):
    page = client.get(f"/e/{event.slug}")
    data = {**hidden_fields(page), "name": "王小明", "phone": "13812345678", "consent": "y"}

    first = client.post(f"/e/{event.slug}/book", data=data)
    second = client.post(f"/e/{event.slug}/book", data=data)

    [registration] = registrations_of(app, event)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"] == (
        f"/t/{registration.ticket_token}")
    assert [kind for kind, _medium, _to in outbox_of(app, event)] == ["ticket"]


def test_the_same_browser_booking_again_sees_its_ticket(app, client, event):
    first = book(client, event)
    second = book(client, event, name="王小明 (Leo)")  # a new page: a new booking key

    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    [registration] = registrations_of(app, event)
    assert registration.contact.name == "王小明 (Leo)"


def test_someone_else_typing_a_booked_number_gets_no_ticket(app, make, client, event):
    first = book(client, event, email="wang@example.com")
    token = first.headers["Location"].rsplit("/", 1)[1]
    stranger = app.test_client()

    response = book(stranger, event, name="Somebody", phone="+86 138-1234-5678")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/e/{event.slug}/sent"
    page = stranger.get(response.headers["Location"])
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "You had already booked" in text
    assert "wa•••@example.com" in text and "+86 138 •••• 5678" in text
    assert token not in text and "13812345678" not in text
    assert page.headers["Cache-Control"] == "no-store"
    [registration] = registrations_of(app, event)
    assert registration.contact.name == "王小明"  # a stranger cannot rename the person
    assert outbox_of(app, event)[-2:] == [("ticket_again", "email", "wang@example.com"),
                                          ("ticket_again", "sms", "+8613812345678")]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 1


def test_the_ticket_is_sent_again_once_an_hour_however_often_asked(app, client, event):
    book(client, event, email="wang@example.com")
    for _attempt in range(3):
        response = book(app.test_client(), event)
        assert response.headers["Location"] == f"/e/{event.slug}/sent"
    kinds = [kind for kind, _medium, _to in outbox_of(app, event)]
    assert kinds == ["ticket", "ticket", "ticket_again", "ticket_again"]


def test_a_known_mobile_number_books_that_contact(app, make, client, event):
    known = make.contact(name="Anna", phone="+8613700001111", email="anna@example.com")
    other = make.contact(name="Bob", phone="+8613700002222", email="bob@example.com")

    response = book(client, event, name="Anna Li", phone="13700001111", email="bob@example.com")

    assert response.status_code == 303
    [registration] = registrations_of(app, event)
    assert registration.contact_id == known.id
    with app.app_context():
        anna, bob = db.session.get(Contact, known.id), db.session.get(Contact, other.id)
        # the typist may not be Anna: her name and addresses stay as they were
        assert (anna.name, anna.email) == ("Anna", "anna@example.com")
        assert bob.email == "bob@example.com"


def test_a_known_email_books_that_contact(app, client, event):
    with app.app_context():
        known = Contact(name="Anna", email="anna@example.com", sources=["import:fair.xlsx"])
        db.session.add(known)
        db.session.commit()
    response = book(client, event, name="Anna", phone="13700003333", email="ANNA@example.com")
    assert response.status_code == 303
    [registration] = registrations_of(app, event)
    assert registration.contact_id == known.id
    # an address typed into a public form is not added to someone already in the pool
    assert registration.contact.phone is None


def test_a_cancelled_booking_can_be_made_again(app, client, event):
    first = book(client, event)
    client.post_form(f"{first.headers['Location']}/cancel")
    [cancelled] = registrations_of(app, event)
    assert cancelled.status == RegistrationStatus.CANCELLED

    again = book(client, event)

    [registration] = registrations_of(app, event)
    # the same browser sees its new ticket, at a new address: the old link stops working
    assert again.headers["Location"] == f"/t/{registration.ticket_token}"
    assert again.headers["Location"] != first.headers["Location"]
    assert client.get(first.headers["Location"]).status_code == 404
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.ticket_code != cancelled.ticket_code


def test_a_double_tap_rebooking_a_cancelled_place_books_it_once(app, client, event, monkeypatch):
    """The booking reads before it writes (on SQLite outside the write lock): the other tap
    of a double tap may rebook the cancelled place in between. The one that comes second
    reads the registration again under the lock and finds it booked: one new ticket, and the
    person keeps the only place instead of being put on the waiting list behind themselves."""
    import eventapp.invites.booking as booking

    set_up(app, event, capacity=1)
    first = book(client, event)
    client.post_form(f"{first.headers['Location']}/cancel")
    page = client.get(f"/e/{event.slug}")
    data = {**hidden_fields(page), "name": "王小明", "phone": "13812345678", "consent": "y"}
    other_tap: list[int] = []
    calls: list[str] = []
    start_writing = booking.start_writing

    def the_other_tap_first(session: Any) -> None:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:  # the other tap's whole booking lands between our reads and writes
            def book_in_another_request() -> None:
                with app.test_request_context(f"/e/{event.slug}/book", method="POST"):
                    result = booking.book_and_commit(
                        db.session.get(Event, event.id), booking.BookingRequest(
                            form={"name": ["王小明"], "phone": ["13812345678"]}, consent=True,
                            locale="zh_CN", booking_key=data["booking_key"]))
                    other_tap.append(result.registration.ticket_serial)
            def run() -> None:
                try:
                    book_in_another_request()
                except BaseException as error:  # shown by the assertion below
                    other_tap.append(error)  # type: ignore[arg-type]
            other = threading.Thread(target=run)
            other.start()
            other.join()
        start_writing(session)

    monkeypatch.setattr(booking, "start_writing", the_other_tap_first)
    second = client.post(f"/e/{event.slug}/book", data=data)

    assert second.status_code == 303
    assert len(other_tap) == 1 and isinstance(other_tap[0], int), other_tap
    [registration] = registrations_of(app, event)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.ticket_serial == other_tap[0], "the other tap's ticket stands"
    assert second.headers["Location"] == f"/t/{registration.ticket_token}"
    assert [kind for kind, medium, _to in outbox_of(app, event) if medium == "sms"] == [
        "ticket", "ticket"], "the first booking's ticket, and the rebooking's: not a third"


# --- places, dates, drafts ----------------------------------------------------------------

def test_over_capacity_the_booking_joins_the_waiting_list(app, make, client, event):
    set_up(app, event, capacity=1)
    make.registration(event)

    page = client.get(f"/e/{event.slug}").get_data(as_text=True)
    assert "All places are taken." in page and "Join the waiting list" in page
    response = book(client, event, phone="13600001111", email="wait@example.com")

    assert response.status_code == 303
    waiting = registrations_of(app, event)[-1]
    assert waiting.status == RegistrationStatus.WAITLISTED
    assert outbox_of(app, event) == [("waitlisted", "email", "wait@example.com"),
                                     ("waitlisted", "sms", "+8613600001111")]


@pytest.mark.parametrize("closing", ["deadline", "closed", "ended"])
def test_closed_booking_is_refused_clearly(app, client, event, closing):
    page = client.get(f"/e/{event.slug}")
    fields = {**hidden_fields(page), "name": "王小明", "phone": "13812345678", "consent": "y"}
    if closing == "deadline":
        set_up(app, event, booking_deadline=utcnow() - timedelta(minutes=1))
    elif closing == "closed":
        set_up(app, event, status=EventStatus.CLOSED)
    else:
        set_up(app, event, starts_at=utcnow() - timedelta(hours=9),
               ends_at=utcnow() - timedelta(hours=1))

    response = client.post(f"/e/{event.slug}/book", data=fields)

    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "Booking is closed" in text and "Booking for this event is closed." in text
    assert registrations_of(app, event) == []
    invitation = client.get(f"/e/{event.slug}").get_data(as_text=True)
    assert "Booking is closed" in invitation and 'class="booking-form"' not in invitation


def test_a_draft_cannot_be_booked(app, client, make):
    draft = make.event(status=EventStatus.DRAFT)
    response = client.post_form(f"/e/{draft.slug}/book",
                                {"name": "王小明", "phone": "13812345678", "consent": "y"})
    assert response.status_code == 404
    assert registrations_of(app, draft) == []


def test_the_form_address_opened_directly_leads_to_the_invitation(client, event):
    response = client.get(f"/e/{event.slug}/book")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/e/{event.slug}#book"


# --- at the same instant ------------------------------------------------------------------

@pytest.mark.slow
def test_a_person_booking_twice_at_the_same_instant_gets_one_registration(app, event):
    """Double taps of new people racing each other (on PostgreSQL both inserts of the new
    contact run at once; the loser is retried and finds the winner's booking)."""
    rounds = 6
    tickets: set[str] = set()
    for number in range(rounds):
        phone = app.test_client()
        data = {**hidden_fields(phone.get(f"/e/{event.slug}")), "name": f"同时 {number}",
                "phone": f"1350000{number:04d}", "email": f"twice{number}@example.com",
                "consent": "y"}
        cookies = {name: phone.get_cookie(name).value for name in ("eventapp_vid", "session")}
        start = threading.Barrier(2)
        answers: list[Any] = []

        def tap() -> None:
            tapping = app.test_client()  # the same phone: its cookies, the same form
            for name, value in cookies.items():
                tapping.set_cookie(name, value)
            start.wait()
            answers.append(tapping.post(f"/e/{event.slug}/book", data=data))

        threads = [threading.Thread(target=tap) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert [a.status_code for a in answers] == [303, 303]
        assert answers[0].headers["Location"] == answers[1].headers["Location"]
        tickets.add(answers[0].headers["Location"])
    registrations = registrations_of(app, event)
    assert {f"/t/{r.ticket_token}" for r in registrations} == tickets
    assert len(registrations) == rounds
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == rounds


@pytest.mark.slow
def test_people_booking_the_last_places_at_once_get_exactly_those_places(app, make, event):
    """12 people book the last 3 places at the same instant: 3 are confirmed, 9 waitlisted,
    and each is sent the message of the place they got (the capacity is checked last, each
    booking counting under the event's lock what committed before it)."""
    set_up(app, event, capacity=5)
    for _ in range(2):
        make.registration(event)
    people = 12
    forms = []
    for number in range(people):
        phone = app.test_client()
        forms.append((phone, {**hidden_fields(phone.get(f"/e/{event.slug}")),
                              "name": f"抢位 {number}", "phone": f"1370000{number:04d}",
                              "email": f"last{number}@example.com", "consent": "y"}))
    start = threading.Barrier(people)
    answers: list[Any] = []

    def tap(phone: Any, data: dict[str, str]) -> None:
        start.wait()
        answers.append(phone.post(f"/e/{event.slug}/book", data=data))

    threads = [threading.Thread(target=tap, args=form) for form in forms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [a.status_code for a in answers] == [303] * people
    booked = [r for r in registrations_of(app, event) if r.contact.name.startswith("抢位")]
    statuses = [r.status for r in booked]
    assert statuses.count(RegistrationStatus.CONFIRMED) == 3
    assert statuses.count(RegistrationStatus.WAITLISTED) == 9
    with app.app_context():
        sent = {(m.registration_id, m.medium.value): (m.kind, m.dedupe_key)
                for m in db.session.scalars(sa.select(OutboxMessage))}
    for registration in booked:
        kind = "ticket" if registration.status == RegistrationStatus.CONFIRMED else "waitlisted"
        for medium in ("email", "sms"):
            assert sent[registration.id, medium] == (
                kind, f"{kind}:{registration.id}:{registration.ticket_serial}:{medium}")


@pytest.mark.slow
def test_a_limit_lifted_while_a_booking_waits_for_its_turn_is_the_one_that_counts(
        app, make, event):
    """The marketer lifts a full event's limit while a booking that read it full waits for
    the event's lock: the booking counts against the limit as it is then (none) and gets a
    place, instead of a waiting list that nothing would ever promote."""
    set_up(app, event, capacity=1)
    make.registration(event)
    phone = app.test_client()
    data = {**hidden_fields(phone.get(f"/e/{event.slug}")), "name": "等锁 Waiting",
            "phone": "13711112222", "consent": "y"}
    answers: list[Any] = []
    with app.app_context():
        marketer = db.engine.connect()  # the set-up page's transaction, not committed yet
        lifting = marketer.begin()
        marketer.execute(sa.update(Event).where(Event.id == event.id).values(capacity=None))
        booking = threading.Thread(target=lambda: answers.append(
            phone.post(f"/e/{event.slug}/book", data=data)))
        booking.start()
        time.sleep(1)  # the booking reads the full event, then waits for its turn
        lifting.commit()
        marketer.close()
        booking.join(timeout=60)

    assert [a.status_code for a in answers] == [303]
    [booked] = [r for r in registrations_of(app, event) if r.contact.name == "等锁 Waiting"]
    assert booked.status == RegistrationStatus.CONFIRMED


def test_a_stranger_cannot_redirect_a_ticket_to_their_own_address(app, client, event):
    """The victim booked with a mobile only; a stranger types that mobile and their own
    e-mail: nothing goes to the stranger's address, and the contact keeps no trace of it."""
    book(client, event, email=None)
    stranger = app.test_client()

    response = book(stranger, event, name="Attacker", email="evil@example.net")

    assert response.headers["Location"] == f"/e/{event.slug}/sent"
    [registration] = registrations_of(app, event)
    assert registration.contact.email is None and registration.contact.name == "王小明"
    assert all(recipient != "evil@example.net" for _k, _m, recipient in outbox_of(app, event))
    assert outbox_of(app, event)[-1] == ("ticket_again", "sms", "+8613812345678")


def test_rebooking_a_cancelled_place_as_a_stranger_shows_no_ticket(app, client, event):
    first = book(client, event)
    old_token = first.headers["Location"].rsplit("/", 1)[1]
    client.post_form(f"/t/{old_token}/cancel")
    stranger = app.test_client()

    response = book(stranger, event, name="Attacker")

    assert response.headers["Location"] == f"/e/{event.slug}/sent"
    [registration] = registrations_of(app, event)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.ticket_token != old_token  # the old link and QR code stop working
    assert client.get(f"/t/{old_token}").status_code == 404
    assert outbox_of(app, event)[-1] == ("ticket", "sms", "+8613812345678")


def test_booking_with_the_details_of_someone_in_the_pool_sends_them_the_ticket(app, make, event):
    """A person imported earlier (no booking yet): whoever types their mobile books them a
    place, but the ticket goes to the addresses on file and is not shown on screen."""
    known = make.contact(name="李雷", phone="+8613912345678", email="lilei@example.com")
    stranger = app.test_client()

    response = book(stranger, event, name="Someone", phone="13912345678",
                    email="other@example.net")

    assert response.headers["Location"] == f"/e/{event.slug}/sent"
    text = stranger.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your place is booked" in text and "li•••@example.com" in text
    [registration] = registrations_of(app, event)
    assert registration.contact_id == known.id and registration.contact.name == "李雷"
    assert registration.contact.email == "lilei@example.com"
    assert {recipient for _k, _m, recipient in outbox_of(app, event)} == {
        "lilei@example.com", "+8613912345678"}
