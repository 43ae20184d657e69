"""The invitation page, /e/<slug>?c=<channel>: what a phone shows (the event, its programme, the
countdown, the booking form built by the form builder), and each visit counted with an
anonymous visitor id and its channel, so that registrations per unique visitor can be
reported per channel."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from eventapp.core.activity import Activity, ActivityKind
from eventapp.core.outbox import Medium, OutboxMessage
from eventapp.core.time import utcnow
from eventapp.events.models import Event, EventStatus
from eventapp.events.services import channel_figures
from eventapp.extensions import db
from eventapp.invites.attendee import countdown, mask_email, mask_phone
from eventapp.invites.links import message_ref
from tests.invites.test_booking import QUESTIONS, activities_of, hidden_fields, set_up

#: Page weight budget of the invitation: HTML, CSS and JS (the cover image apart).
PAGE_WEIGHT_LIMIT = 40_000
ASSET = re.compile(r'<(?:link|script|img)\b[^>]*?(?:href|src)="([^"]+)"')

AGENDA = [{"time": "09:30", "title": "开幕致辞 Opening", "speaker": "王建国"},
          {"time": "10:00", "title": "Keynote: factories that learn", "speaker": ""}]


def visitor_cookie(response: Any) -> str | None:
    """The Set-Cookie header of the visitor id, if the response sets it."""
    return next((h for h in response.headers.getlist("Set-Cookie")
                 if h.startswith("eventapp_vid=")), None)


# --- what the page shows ------------------------------------------------------------------

def test_the_page_shows_the_event_and_its_booking_form(app, client, event):
    set_up(app, event, description="第一段。\n\nSecond paragraph.", agenda=AGENDA,
           map_url="https://map.example.com/?q=hall", transport_notes="Metro line 2, exit 4",
           gift="定制保温杯 A thermos", privacy_text="我同意主办方使用我的信息。",
           booking_form=QUESTIONS)

    response = client.get(f"/e/{event.slug}?c=none")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for text in (event.title, "7 days to go", "第一段。\n\nSecond paragraph.", "开幕致辞 Opening",
                 "王建国", "Keynote: factories that learn", "Hall A", "1 Expo Road",
                 'href="https://map.example.com/?q=hall"', "Metro line 2, exit 4",
                 "定制保温杯 A thermos", "100 places left", "我同意主办方使用我的信息。",
                 'id="book"', "Book my place"):
        assert text in page, text
    assert ('name="phone" type="tel" autocomplete="tel" inputmode="tel" maxlength="40" '
            'required') in page
    assert 'name="email" type="email" autocomplete="email" inputmode="email"' in page
    assert 'name="company" type="text" autocomplete="organization" maxlength="200" required' in page
    assert 'autocomplete="organization-title"' in page and 'name="city"' in page
    assert page.count('type="radio" name="q_topic"') == 2
    assert page.count('type="checkbox" name="q_plans"') == 3
    assert 'type="radio" name="q_lunch" value="yes" required> <span>Yes' in page
    assert 'name="q_note" type="text" maxlength="500" value=""' in page
    assert 'type="checkbox" name="consent" value="y" required' in page
    fields = hidden_fields(response)
    assert set(fields) == {"csrf_token", "booking_key", "c", "r"}
    assert fields["c"] == "none" and uuid.UUID(fields["booking_key"]).version == 4
    assert response.headers["Cache-Control"] == "no-store"


def test_times_are_shown_in_the_events_timezone(app, client, make):
    event = make.event(starts_at=datetime(2030, 6, 15, 1, 30, tzinfo=timezone.utc))
    page = client.get(f"/e/{event.slug}").get_data(as_text=True)
    # CLDR puts a narrow no-break space before AM and PM
    assert "Sat, Jun 15, 2030 9:30\u202fAM – 5:30\u202fPM (GMT+08:00)" in page
    chinese = client.get(f"/e/{event.slug}", headers={"Accept-Language": "zh-CN"})
    text = chinese.get_data(as_text=True)
    assert '<html lang="zh-Hans-CN">' in text
    assert "2030年6月15日周六 09:30 – 17:30 (GMT+08:00)" in text


def test_the_standard_fields_follow_the_form_builder(app, client, event):
    set_up(app, event, booking_form={"fields": {"name": "required", "phone": "optional",
                                                "email": "required", "company": "off",
                                                "job_title": "off", "city": "off"}})
    page = client.get(f"/e/{event.slug}").get_data(as_text=True)
    assert re.findall(r'<input id="field-(\w+)"', page) == ["name", "phone", "email"]
    assert 'name="phone" type="tel" autocomplete="tel" inputmode="tel" maxlength="40" value' in page
    assert re.search(r'name="email" type="email"[^>]*required', page)


def test_a_standard_privacy_text_is_shown_when_the_event_has_none(client, event):
    page = client.get(f"/e/{event.slug}").get_data(as_text=True)
    assert "I agree that the organiser keeps my details to manage this booking" in page


def test_an_event_without_a_limit_shows_no_places_count(app, client, make):
    event = make.event(capacity=None)
    page = client.get(f"/e/{event.slug}").get_data(as_text=True)
    assert "places left" not in page and "Book my place" in page


def test_what_the_organiser_typed_cannot_run_script(app, client, event):
    set_up(app, event, title='Expo <script>alert(1)</script>', map_url="javascript:alert(1)",
           agenda=[{"time": "<b>9</b>", "title": "<img src=x onerror=alert(1)>"}])
    page = client.get(f"/e/{event.slug}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "javascript:" not in page


def test_a_cover_image_is_shown_when_the_event_has_one(app, client, event):
    set_up(app, event, cover_image="cover-abc123.jpg")
    page = client.get(f"/e/{event.slug}").get_data(as_text=True)
    assert f'src="/events/{event.slug}/cover/cover-abc123.jpg"' in page


@pytest.mark.parametrize(("starts_in", "ends_in", "text"), [
    (timedelta(hours=3), timedelta(hours=11), None),  # today or tomorrow, by the Shanghai clock
    (-timedelta(hours=1), timedelta(hours=7), "Already started"),
    (-timedelta(hours=9), -timedelta(hours=1), "This event has ended"),
])
def test_the_countdown_says_how_far_away_the_event_is(app, client, event, starts_in, ends_in,
                                                      text):
    now = utcnow()
    set_up(app, event, starts_at=now + starts_in, ends_at=now + ends_in)
    page = client.get(f"/e/{event.slug}").get_data(as_text=True)
    if text is None:
        assert "Starts today" in page or "1 day to go" in page
        assert 'data-part="seconds"' in page
    else:
        assert text in page and 'data-part="seconds"' not in page


def test_the_countdown_counts_calendar_days_in_the_events_timezone(app, make):
    event = make.event(starts_at=datetime(2030, 6, 15, 1, 30, tzinfo=timezone.utc))
    shanghai_night_before = datetime(2030, 6, 14, 15, 0, tzinfo=timezone.utc)  # 23:00 there
    shanghai_same_day = datetime(2030, 6, 14, 17, 0, tzinfo=timezone.utc)  # 01:00 there
    assert countdown(event, shanghai_night_before).state == "upcoming"
    assert countdown(event, shanghai_night_before).days == 1
    assert countdown(event, shanghai_same_day).state == "today"
    assert countdown(event, shanghai_same_day).seconds == 8 * 3600 + 30 * 60
    assert countdown(event, event.starts_at).state == "started"
    assert countdown(event, event.ends_at).state == "ended"
    assert countdown(event, event.starts_at - timedelta(days=12)).days == 12


def test_addresses_are_shown_half_hidden():
    assert mask_email("zhang.wei@example.com") == "zh•••@example.com"
    assert mask_email("li@qq.com") == "l•••@qq.com"
    assert mask_phone("+8613812345678") == "+86 138 •••• 5678"
    assert mask_phone("+85291234567") == "+852 9 •••• 4567"
    assert mask_email(None) == mask_phone(None) == ""


# --- visits -------------------------------------------------------------------------------

def test_a_visit_is_counted_with_a_visitor_id_and_its_channel(app, make, client, event):
    channel = make.channel(event, code="wechat-article")

    response = client.get(f"/e/{event.slug}?c=wechat-article")

    cookie = visitor_cookie(response)
    assert cookie is not None
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert f"Max-Age={365 * 24 * 3600}" in cookie
    visitor = client.get_cookie("eventapp_vid").value
    assert uuid.UUID(visitor).version == 4
    [view] = activities_of(app, ActivityKind.INVITE_VIEW)
    assert (view.event_id, view.channel_id, view.visitor_id, view.contact_id) == (
        event.id, channel.id, visitor, None)


def test_a_returning_browser_keeps_its_visitor_id(app, client, event):
    client.get(f"/e/{event.slug}")
    again = client.get(f"/e/{event.slug}")
    assert visitor_cookie(again) is None
    views = activities_of(app, ActivityKind.INVITE_VIEW)
    assert len(views) == 2 and views[0].visitor_id == views[1].visitor_id


def test_a_link_checker_asking_only_for_headers_is_no_visitor(app, client, event):
    assert client.head(f"/e/{event.slug}").status_code == 200
    assert activities_of(app, ActivityKind.INVITE_VIEW) == []


def test_a_broken_visitor_cookie_is_replaced(app, client, event):
    client.set_cookie("eventapp_vid", "'; drop table activities; --")
    response = client.get(f"/e/{event.slug}")
    assert visitor_cookie(response) is not None
    [view] = activities_of(app, ActivityKind.INVITE_VIEW)
    assert uuid.UUID(view.visitor_id) and view.visitor_id == client.get_cookie("eventapp_vid").value


def test_unique_visitors_are_counted_per_channel(app, make, event):
    article = make.channel(event, code="article")
    poster = make.channel(event, name="Poster", kind="poster", code="poster")
    visits = [("article", 2), ("article", 1), ("poster", 1), ("article", 0), ("gone", 1),
              (None, 1)]  # (channel code, times), one browser each
    for code, times in visits:
        browser = app.test_client()
        for _ in range(times):
            assert browser.get(f"/e/{event.slug}",
                               query_string={"c": code} if code else {}).status_code == 200

    with app.app_context():
        figures = {row.channel.code if row.channel else None: row.visitors
                   for row in channel_figures(db.session.get(Event, event.id))}
    assert figures == {article.code: 2, poster.code: 1, None: 2}


def test_a_message_link_is_counted_as_that_persons_click(app, make, client, event):
    contact = make.contact()
    with app.app_context():
        message = OutboxMessage(medium=Medium.EMAIL, kind="invitation", recipient=contact.email,
                                locale="en", event_id=event.id, contact_id=contact.id)
        db.session.add(message)
        db.session.commit()
        ref = message_ref(message.id)
    channel = make.channel(event, kind="email", code="edm-1")

    assert client.get(f"/e/{event.slug}?c=edm-1&m={ref}").status_code == 200
    assert client.get(f"/e/{event.slug}?c=edm-1&m={ref[:-2]}xx").status_code == 200

    [click] = activities_of(app, ActivityKind.MESSAGE_CLICK)
    assert (click.contact_id, click.reference, click.channel_id) == (
        contact.id, f"message:{message.id}", channel.id)
    assert click.visitor_id == client.get_cookie("eventapp_vid").value
    views = activities_of(app, ActivityKind.INVITE_VIEW)
    assert [v.contact_id for v in views] == [contact.id, None]


def test_a_visit_costs_few_queries(app, make, client, event):
    """Event, channel, referrer and places taken in one query, then the visit's insert."""
    make.channel(event, code="article")
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(f"/e/{event.slug}?c=article&r=nobody").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 3, statements


# --- drafts -------------------------------------------------------------------------------

def test_a_draft_is_not_found_by_the_public(app, make, client, outsider_client):
    draft = make.event(status=EventStatus.DRAFT)
    for browser in (client, outsider_client):
        response = browser.get(f"/e/{draft.slug}")
        assert response.status_code == 404
        page = response.get_data(as_text=True)
        assert "layout-attendee" in page and "Back to my events" not in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Activity)) == 0


@pytest.mark.parametrize("role", ["marketer", "staff", "sales", "admin"])
def test_the_team_previews_a_draft(app, make, role, request):
    draft = make.event(status=EventStatus.DRAFT)
    user = make.user(admin=role == "admin")
    if role != "admin":
        make.membership(draft, user, role)
    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    browser.post("/login", data={"csrf_token": token, "email": user.email,
                                 "password": "correct horse battery"})

    response = browser.get(f"/e/{draft.slug}")

    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Preview: this invitation is not published yet." in text
    assert re.search(r'<button[^>]*type="submit" disabled>', text)
    assert activities_of(app, ActivityKind.INVITE_VIEW) == []


def test_an_unknown_event_is_not_found(client):
    response = client.get("/e/no-such-event")
    assert response.status_code == 404
    assert "This link does not lead to an invitation or a ticket." in response.get_data(
        as_text=True)


# --- light enough for a phone on a venue network ------------------------------------------

def test_the_page_is_light_and_asks_nothing_from_other_sites(app, client, event):
    set_up(app, event, agenda=AGENDA, description="Expo " * 50, booking_form=QUESTIONS,
           map_url="https://map.example.com/")
    response = client.get(f"/e/{event.slug}")
    page = response.get_data(as_text=True)

    assets = ASSET.findall(page)
    assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets)
    weight = len(response.data)
    for url in assets:
        if url.endswith((".css", ".js")):
            asset = client.get(url)
            assert asset.status_code == 200
            weight += len(asset.data)
            asset.close()
    assert weight < PAGE_WEIGHT_LIMIT, f"{weight} bytes of HTML, CSS and JS"
