"""Invitations to a segment of the pool: the segment's filters and count, the job that queues
one message per person (never twice), the message, unsubscribing, and who may send."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from eventapp.contacts.models import Contact
from eventapp.core.activity import Activity, ActivityKind
from eventapp.core.errors import ValidationFailed
from eventapp.core.jobs import Job, JobState
from eventapp.core.outbox import Medium, MessageSkipped, OutboxMessage, render_message
from eventapp.core.queue import start_job
from eventapp.core.time import utcnow
from eventapp.events.models import Event, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites import mailings
from eventapp.invites.booking import BookingRequest, book_and_commit
from eventapp.invites.links import read_message_ref
from eventapp.invites.mailings import Segment, count_segment
from eventapp.invites.models import Mailing
from eventapp.invites.tasks import queue_invitations
from eventapp.invites.unsubscribe import unsubscribe_token
from tests.factories import Factory


def set_fields(app: Flask, model: Any, obj: Any, **fields: Any) -> None:
    with app.app_context():
        stored = db.session.get(model, obj.id)
        for name, value in fields.items():
            setattr(stored, name, value)
            setattr(obj, name, value)
        db.session.commit()


class Pool:
    """A small pool around an event: each person is there for one filter."""

    def __init__(self, app: Flask, make: Factory, event: Event) -> None:
        self.event = event
        self.other = make.event()
        self.acme = make.contact(name="Acme buyer", company="ACME 制造 Ltd", city="Shanghai",
                                 sources=["import:expo-list.xlsx"])
        self.beta = make.contact(name="Beta engineer", company="Beta Corp", city="上海",
                                 sources=["booking:spring-forum"])
        self.veteran = make.contact(name="Veteran", company="Gamma 100% Ltd", city="Beijing",
                                    sources=["booking:spring-forum", "walk-in"])
        make.registration(self.other, self.veteran, checked_in_at=utcnow() - timedelta(days=90))
        self.no_show = make.contact(name="No-show", company="Delta", city="Beijing",
                                    sources=["walk-in"])
        make.registration(self.other, self.no_show)  # registered elsewhere, never came
        self.opted_out = make.contact(name="Opted out", company="Acme", city="Shanghai",
                                      opted_out_at=utcnow() - timedelta(days=3))
        self.no_email = make.contact(name="SMS only", company="Acme", city="Shanghai",
                                     sources=["walk-in"])
        set_fields(app, Contact, self.no_email, email=None)
        self.booked = make.contact(name="Already booked", company="Acme", city="Shanghai")
        make.registration(event, self.booked)
        self.cancelled = make.contact(name="Cancelled", company="", city="Shanghai")
        make.registration(event, self.cancelled, status=RegistrationStatus.CANCELLED)

    def ids(self, *names: str) -> set[int]:
        return {getattr(self, name).id for name in names}


@pytest.fixture
def pool(app: Flask, make: Factory, event: Event) -> Pool:
    return Pool(app, make, event)


def counted(app: Flask, event: Event, medium: Medium = Medium.EMAIL, **filters: Any
            ) -> mailings.SegmentCount:
    with app.app_context():
        return count_segment(db.session.get(Event, event.id), Segment(**filters), medium)


def chosen(app: Flask, event: Event, medium: Medium = Medium.EMAIL, **filters: Any) -> set[int]:
    with app.app_context():
        rows = mailings.segment_contacts(db.session.get(Event, event.id), Segment(**filters),
                                         medium, limit=1000)
    return {row[0] for row in rows}


# --- the segment ----------------------------------------------------------------------------

def test_the_default_segment_is_everyone_reachable_not_yet_registered(app, pool):
    assert chosen(app, pool.event) == pool.ids("acme", "beta", "veteran", "no_show",
                                               "cancelled")
    assert counted(app, pool.event) == mailings.SegmentCount(recipients=5, opted_out=1,
                                                             no_address=1)


def test_registered_people_are_included_when_asked(app, pool):
    assert pool.booked.id in chosen(app, pool.event, not_registered=False)
    assert counted(app, pool.event, not_registered=False).recipients == 6


def test_city_matches_whole_names_ignoring_case(app, pool):
    assert chosen(app, pool.event, city="shanghai") == pool.ids("acme", "cancelled")
    assert chosen(app, pool.event, city="上海") == pool.ids("beta")
    assert chosen(app, pool.event, city="Shang") == set()
    assert counted(app, pool.event, city="Shanghai") == mailings.SegmentCount(2, 1, 1)


def test_company_contains_ignoring_case_and_wildcards(app, pool):
    assert chosen(app, pool.event, company="acme") == pool.ids("acme")
    assert chosen(app, pool.event, company="制造") == pool.ids("acme")
    assert chosen(app, pool.event, company="100%") == pool.ids("veteran")
    assert chosen(app, pool.event, company="%") == pool.ids("veteran")
    assert chosen(app, pool.event, company="_") == set()


def test_source_is_one_of_the_contacts_sources(app, pool):
    assert chosen(app, pool.event, source="booking:spring-forum") == pool.ids("beta", "veteran")
    assert chosen(app, pool.event, source="walk-in") == pool.ids("veteran", "no_show")
    assert chosen(app, pool.event, source="walk") == set()
    with app.app_context():
        sources = mailings.source_choices()
    assert {"booking:spring-forum", "import:expo-list.xlsx", "walk-in"} <= set(sources)
    assert sources == sorted(set(sources))


def test_attended_means_checked_in_at_another_event(app, make, pool):
    assert chosen(app, pool.event, attended=True) == pool.ids("veteran")
    # Checking in at this event does not count as a previous event.
    make.registration(pool.event, pool.acme, checked_in_at=utcnow())
    assert chosen(app, pool.event, attended=True, not_registered=False) == pool.ids("veteran")


def test_filters_combine(app, pool):
    assert chosen(app, pool.event, city="beijing", source="walk-in",
                  attended=True) == pool.ids("veteran")


def test_sms_needs_a_mobile_number(app, make, pool):
    set_fields(app, Contact, pool.beta, phone=None)
    assert chosen(app, pool.event, Medium.SMS) == pool.ids("acme", "veteran", "no_show",
                                                           "cancelled", "no_email")
    assert counted(app, pool.event, Medium.SMS) == mailings.SegmentCount(5, 1, 1)


# --- the job --------------------------------------------------------------------------------

def new_mailing(app: Flask, event: Event, medium: Medium = Medium.EMAIL,
                channel_id: int | None = None, note: str = "", **filters: Any) -> Mailing:
    with app.app_context():
        mailing = mailings.create_mailing(db.session.get(Event, event.id), medium=medium,
                                          segment=Segment(**filters), channel_id=channel_id,
                                          note=note, user=None)
        db.session.commit()
        return mailing


def run_job(app: Flask, mailing: Mailing) -> Job:
    with app.app_context():
        job = start_job(queue_invitations, "mailing", mailing.id, user_id=None,
                        event_id=mailing.event_id)
        mailings.attach_job(db.session.get(Mailing, mailing.id), job)
        db.session.commit()
        return job


def invitations(app: Flask, mailing: Mailing | None = None) -> list[OutboxMessage]:
    with app.app_context():
        query = sa.select(OutboxMessage).where(OutboxMessage.kind == "invitation")
        if mailing is not None:
            query = query.where(OutboxMessage.dedupe_key.like(f"invitation:{mailing.id}:%"))
        return list(db.session.scalars(query.order_by(OutboxMessage.id)))


def test_the_job_queues_exactly_the_segment(app, pool):
    mailing = new_mailing(app, pool.event)
    job = run_job(app, mailing)
    assert (job.state, job.percent, job.done, job.total) == (JobState.SUCCEEDED, 100, 5, 5)
    assert job.result == {"queued": 5, "new": 5, "excluded": 2}
    messages = invitations(app)
    assert {m.contact_id for m in messages} == pool.ids("acme", "beta", "veteran", "no_show",
                                                        "cancelled")
    for message in messages:
        assert message.dedupe_key == f"invitation:{mailing.id}:{message.contact_id}"
        assert message.payload == {"mailing_id": mailing.id}
        assert message.medium == Medium.EMAIL and message.event_id == pool.event.id
        assert "@" in message.recipient
    with app.app_context():
        stored = db.session.get(Mailing, mailing.id)
        assert (stored.queued, stored.skipped, stored.job_id) == (5, 2, job.id)


def test_running_the_job_again_queues_nobody_twice(app, pool):
    mailing = new_mailing(app, pool.event)
    run_job(app, mailing)
    again = run_job(app, mailing)  # as when a worker died and the task ran once more
    assert again.state == JobState.SUCCEEDED and again.result["new"] == 0
    assert len(invitations(app, mailing)) == 5


def test_a_job_interrupted_mid_way_finishes_the_rest(app, pool, monkeypatch):
    monkeypatch.setattr(mailings, "CHUNK_SIZE", 2)
    mailing = new_mailing(app, pool.event)
    with app.app_context():  # the first worker queued the first chunk and died
        event = db.session.get(Event, pool.event.id)
        first = mailings.segment_contacts(event, Segment(), Medium.EMAIL)
        mailings.queue_messages_once(mailings._invitation_rows(mailing, first))
        db.session.commit()
    assert len(invitations(app, mailing)) == 2
    job = run_job(app, mailing)
    assert job.result == {"queued": 5, "new": 3, "excluded": 2}
    assert job.percent == 100
    assert len(invitations(app, mailing)) == 5


def test_progress_is_reported_chunk_by_chunk(app, pool, monkeypatch):
    monkeypatch.setattr(mailings, "CHUNK_SIZE", 2)
    reported: list[tuple[int, int | None]] = []
    original = mailings.JobProgress.update

    def spy(self: Any, done: int, total: int | None = None, *args: Any, **kwargs: Any) -> None:
        reported.append((done, total))
        original(self, done, total, *args, **kwargs)

    monkeypatch.setattr(mailings.JobProgress, "update", spy)
    job = run_job(app, new_mailing(app, pool.event))
    assert [done for done, _total in reported] == [0, 2, 4, 5, 5]
    assert {total for _done, total in reported} == {5}
    assert job.message == "5 invitations queued"


def test_another_mailing_reaches_the_same_people_again(app, pool):
    first, second = new_mailing(app, pool.event), new_mailing(app, pool.event)
    run_job(app, first)
    run_job(app, second)
    assert len(invitations(app, first)) == len(invitations(app, second)) == 5


def test_a_mailing_needs_someone_to_reach_and_the_events_own_channel(app, make, pool):
    with pytest.raises(ValidationFailed):
        new_mailing(app, pool.event, city="Atlantis")
    foreign = make.channel(pool.other)
    with pytest.raises(ValidationFailed) as refused:
        new_mailing(app, pool.event, channel_id=foreign.id)
    assert "channel" in refused.value.details


def test_the_list_counts_messages_by_status_in_one_go(app, make, pool):
    channel = make.channel(pool.event, name="EDM", kind="sms", code="edm")
    sms = new_mailing(app, pool.event, Medium.SMS, channel_id=channel.id)
    run_job(app, sms)  # the log SMS backend "sends" them right after each commit
    email = new_mailing(app, pool.event, city="Beijing")
    run_job(app, email)
    with app.app_context():
        summaries = mailings.mailings_of(db.session.get(Event, pool.event.id))
    assert [s.mailing.id for s in summaries] == [email.id, sms.id]
    newest, oldest = summaries
    assert oldest.counts["sent"] == 6 and oldest.total == 6
    assert oldest.channel.code == "edm" and oldest.job.state == JobState.SUCCEEDED
    assert newest.total == 2 and newest.counts["sent"] == 0  # no mail server in this test


# --- the message ----------------------------------------------------------------------------

def rendered(app: Flask, message: OutboxMessage) -> Any:
    with app.app_context():
        return render_message(db.session.get(OutboxMessage, message.id))


def test_the_invitation_links_to_booking_through_the_channel(app, make, pool):
    channel = make.channel(pool.event, name="Spring EDM", kind="email", code="spring-edm")
    set_fields(app, Event, pool.event, venue="Hall 2", address="333 Songze Avenue")
    mailing = new_mailing(app, pool.event, channel_id=channel.id, city="Beijing",
                          note="The first 300 to book get a thermos.\nSee you there!")
    run_job(app, mailing)
    message = next(m for m in invitations(app) if m.contact_id == pool.veteran.id)
    mail = rendered(app, message)
    assert mail.subject.startswith(f"Invitation: {pool.event.title}, ")
    for text in (mail.text, mail.html):
        assert "Hello Veteran," in text and pool.event.title in text
        assert "Hall 2" in text and "333 Songze Avenue" in text
        assert "The first 300 to book get a thermos." in text and "See you there!" in text
        assert "Book your place" in text
    book = re.search(r"(http://127\.0\.0\.1:5000/e/[^\s\"]+)", mail.text).group(1)
    assert book.startswith(f"http://127.0.0.1:5000/e/{pool.event.slug}?c=spring-edm&m=")
    with app.app_context():
        assert read_message_ref(book.split("m=")[1]) == message.id
    leave = f"http://127.0.0.1:5000/u/{_token(app, pool.veteran.id)}"
    assert leave in mail.text and leave in mail.html
    assert mail.headers == {"List-Unsubscribe": f"<{leave}>",
                            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _token(app: Flask, contact_id: int) -> str:
    with app.app_context():
        return unsubscribe_token(contact_id)


def test_the_sms_invitation_is_one_short_line(app, pool):
    mailing = new_mailing(app, pool.event, Medium.SMS, note="Free parking.", city="Beijing")
    run_job(app, mailing)
    sms = rendered(app, invitations(app, mailing)[0])
    assert sms.text.startswith(f"Invitation: {pool.event.title}, ")
    assert "Free parking." in sms.text and f"/e/{pool.event.slug}?m=" in sms.text
    assert "/u/" in sms.text and "\n" not in sms.text


def test_clicking_and_booking_are_credited_to_the_channel(app, make, client, pool):
    channel = make.channel(pool.event, name="Spring EDM", kind="email", code="spring-edm")
    run_job(app, new_mailing(app, pool.event, channel_id=channel.id, city="Beijing"))
    message = next(m for m in invitations(app) if m.contact_id == pool.no_show.id)
    link = re.search(r"http://127\.0\.0\.1:5000(/e/\S+)", rendered(app, message).text).group(1)
    assert client.get(link).status_code == 200
    with app.app_context():
        click = db.session.scalar(sa.select(Activity).where(
            Activity.kind == ActivityKind.MESSAGE_CLICK))
        assert (click.contact_id, click.channel_id) == (pool.no_show.id, channel.id)
        result = book_and_commit(db.session.get(Event, pool.event.id), BookingRequest(
            form={"name": ["No-show"], "phone": [pool.no_show.phone],
                  "email": [pool.no_show.email]}, consent=True, locale="en",
            channel_code="spring-edm"))
        assert (result.registration.contact_id, result.registration.channel_id) == (
            pool.no_show.id, channel.id)


def test_people_who_opt_out_after_queueing_are_skipped(app, pool):
    mailing = new_mailing(app, pool.event, city="Beijing")
    run_job(app, mailing)
    set_fields(app, Contact, pool.veteran, opted_out_at=utcnow())
    message = next(m for m in invitations(app) if m.contact_id == pool.veteran.id)
    with pytest.raises(MessageSkipped):
        rendered(app, message)


def test_people_who_booked_meanwhile_are_not_invited(app, make, pool):
    mailing = new_mailing(app, pool.event, city="Beijing")
    run_job(app, mailing)
    make.registration(pool.event, pool.no_show)
    message = next(m for m in invitations(app) if m.contact_id == pool.no_show.id)
    with pytest.raises(MessageSkipped, match="booked"):
        rendered(app, message)


# --- unsubscribing --------------------------------------------------------------------------

def test_unsubscribing_asks_first_then_stops_invitations(app, client, pool):
    token = _token(app, pool.acme.id)
    page = client.get(f"/u/{token}")
    assert page.status_code == 200
    assert "Stop receiving invitations?" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Contact, pool.acme.id).opted_out_at is None
    done = client.post_form(f"/u/{token}")
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    with app.app_context():
        first = db.session.get(Contact, pool.acme.id).opted_out_at
    assert first is not None
    assert "You are unsubscribed" in client.get(f"/u/{token}").get_data(as_text=True)
    client.post_form(f"/u/{token}")  # again: the first time is kept
    with app.app_context():
        assert db.session.get(Contact, pool.acme.id).opted_out_at == first
    assert pool.acme.id not in chosen(app, pool.event)
    run_job(app, new_mailing(app, pool.event))
    assert pool.acme.id not in {m.contact_id for m in invitations(app)}


def test_mail_programs_unsubscribe_in_one_click(app, client, pool):
    response = client.post(f"/u/{_token(app, pool.beta.id)}",
                           data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Contact, pool.beta.id).opted_out_at is not None


@pytest.mark.parametrize("token", ["nonsense", "MQ.zf682jfMSmPB7pvTMpsWszH5PaE", "x" * 200])
def test_a_wrong_unsubscribe_link_is_not_found(app, client, pool, token):
    assert client.get(f"/u/{token}").status_code == 404
    assert client.post(f"/u/{token}").status_code == 404


def test_a_message_link_reference_is_no_unsubscribe_token(app, client, pool):
    from eventapp.invites.links import message_ref
    with app.app_context():
        reference = message_ref(pool.acme.id)  # same id, other salt
    assert client.post(f"/u/{reference}").status_code == 404


def test_transactional_messages_still_go_to_people_who_opted_out(app, make, pool):
    from eventapp.invites import reminders
    soon = make.event(starts_at=utcnow() + timedelta(hours=5))
    registration = make.registration(soon, pool.opted_out)
    with app.app_context():
        reminders.queue_reminders(utcnow())
        db.session.commit()
        message = db.session.scalar(sa.select(OutboxMessage).where(
            OutboxMessage.dedupe_key == f"reminder:{registration.id}:email"))
        assert render_message(message).text


# --- the page -------------------------------------------------------------------------------

def test_the_page_previews_the_count_for_the_filters(app, marketer_client, pool):
    url = f"/events/{pool.event.slug}/invitations"
    page = marketer_client.get(url).get_data(as_text=True)
    assert "5 people will receive it; 2 excluded (1 opted out, 1 without an e-mail address)" \
        in page
    page = marketer_client.get(url, query_string={"medium": "email", "city": "Beijing",
                                                  "not_registered": "y"}).get_data(as_text=True)
    assert ">2 people will receive it</p>" in page  # nobody of them left out
    answer = marketer_client.get(url + "/count", query_string={
        "medium": "sms", "city": "Shanghai", "not_registered": "y"}).json
    assert answer == {"recipients": 3, "excluded": 1, "opted_out": 1, "no_address": 0,
                      "text": "3 people will receive it; 1 excluded (1 opted out, "
                              "0 without a mobile number)", "send_label": "Send to 3 people"}


def test_the_medium_s_own_channel_is_credited_unless_another_is_chosen(app, make,
                                                                     marketer_client, pool):
    make.channel(pool.event, name="WeChat article", kind="wechat")
    sms = make.channel(pool.event, name="SMS blast", kind="sms")
    edm = make.channel(pool.event, name="Spring EDM", kind="email")
    url = f"/events/{pool.event.slug}/invitations"
    selected = re.compile(r'<option selected value="([^"]+)">')
    assert selected.findall(marketer_client.get(url).get_data(as_text=True))[:2] == [
        "email", str(edm.id)]
    page = marketer_client.get(url, query_string={"medium": "sms"}).get_data(as_text=True)
    assert selected.findall(page)[:2] == ["sms", str(sms.id)]
    page = marketer_client.get(url, query_string={"medium": "sms", "channel": "none"})
    assert selected.findall(page.get_data(as_text=True))[:2] == ["sms", "none"]


def test_sending_from_the_page_queues_and_lists_the_mailing(app, make, marketer_client, pool):
    channel = make.channel(pool.event, name="Spring EDM", kind="email", code="spring-edm")
    url = f"/events/{pool.event.slug}/invitations"
    response = marketer_client.post_form(url, {
        "medium": "email", "channel": str(channel.id), "city": "Beijing", "company": "",
        "source": "walk-in", "not_registered": "y", "note": "Bring a colleague!"})
    assert response.status_code == 302
    with app.app_context():
        mailing = db.session.scalar(sa.select(Mailing))
        job = db.session.get(Job, mailing.job_id)
    assert (mailing.channel_id, mailing.note, mailing.created_by_id) == (
        channel.id, "Bring a colleague!", marketer_client.user.id)
    assert mailing.segment == {"city": "Beijing", "company": "", "source": "walk-in",
                               "attended": False, "not_registered": True}
    assert job.state == JobState.SUCCEEDED and job.user_id == marketer_client.user.id
    assert {m.contact_id for m in invitations(app)} == pool.ids("veteran", "no_show")
    page = marketer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Spring EDM" in page and "Source: walk-in" in page and 'data-state="succeeded"' in page


def test_sending_to_nobody_is_refused_with_a_reason(app, marketer_client, pool):
    response = marketer_client.post_form(f"/events/{pool.event.slug}/invitations", {
        "medium": "email", "channel": "none", "city": "Atlantis", "not_registered": "y"})
    assert response.status_code == 422
    assert "Nobody in this segment can receive the invitation" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Mailing)) == 0


@pytest.mark.parametrize("role", ["staff_client", "sales_client", "outsider_client"])
def test_only_marketers_may_send_invitations(request, app, pool, role):
    client = request.getfixturevalue(role)
    base = f"/events/{pool.event.slug}/invitations"
    assert client.get(base).status_code == 403
    assert client.get(base + "/count").status_code == 403
    assert client.post_form(base, {"medium": "email", "channel": "none"}).status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Mailing)) == 0


def test_admins_may_send_invitations(admin_client, pool):
    assert admin_client.get(f"/events/{pool.event.slug}/invitations").status_code == 200


def test_no_invitations_while_booking_is_closed(app, make, pool):
    from eventapp.events.models import EventStatus
    set_fields(app, Event, pool.event, status=EventStatus.DRAFT)
    with pytest.raises(ValidationFailed, match="Booking for this event is closed"):
        new_mailing(app, pool.event)
    set_fields(app, Event, pool.event, status=EventStatus.PUBLISHED,
               booking_deadline=utcnow() - timedelta(minutes=1))
    with pytest.raises(ValidationFailed, match="Booking for this event is closed"):
        new_mailing(app, pool.event)
