"""What every response shares: security headers on pages and on the API; and how the API's
lists are paged (the X-Pagination header)."""

from __future__ import annotations

import json

import pytest

from eventapp.core.api import API_PREFIX


def assert_security_headers(response) -> None:
    policy = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.single_db
@pytest.mark.parametrize("url", ["/login", "/no-such-page", f"{API_PREFIX}/openapi.json",
                                 f"{API_PREFIX}/me", f"{API_PREFIX}/nothing-here"])
def test_security_headers_without_a_session(client, url):
    assert_security_headers(client.get(url))


def test_security_headers_on_signed_in_pages_and_api_calls(marketer_client, staff_client,
                                                           event):
    for response in (marketer_client.get("/"),
                     marketer_client.get(f"/events/{event.slug}/"),
                     marketer_client.get(f"{API_PREFIX}/events/{event.slug}"),
                     staff_client.get(f"/events/{event.slug}/"),  # 403 page
                     staff_client.get(f"{API_PREFIX}/events/{event.slug}/channels"),  # 403 JSON
                     marketer_client.post(f"{API_PREFIX}/events/{event.slug}/channels",
                                          json={})):  # 400 CSRF
        assert_security_headers(response)


@pytest.fixture
def registrations(make, event):
    """Five registrations at `event`."""
    for n in range(5):
        make.registration(event, make.contact(name=f"Guest {n}"))


def page_of(client, event, **query):
    response = client.get(f"{API_PREFIX}/events/{event.slug}/registrations",
                          query_string=query)
    assert response.status_code == 200
    return response, json.loads(response.headers["X-Pagination"])


def test_the_registrations_list_is_paged(sales_client, event, registrations):
    first, meta = page_of(sales_client, event, page=1, page_size=2)
    assert len(first.json) == 2
    assert meta == {"total": 5, "total_pages": 3, "first_page": 1, "last_page": 3, "page": 1,
                    "next_page": 2}

    last, meta = page_of(sales_client, event, page=3, page_size=2)
    assert len(last.json) == 1
    assert meta["previous_page"] == 2 and "next_page" not in meta

    names = [r["contact"]["name"]
             for page in (1, 2, 3)
             for r in page_of(sales_client, event, page=page, page_size=2)[0].json]
    assert sorted(names) == [f"Guest {n}" for n in range(5)]  # every one, once


def test_the_default_page_holds_everything_small(sales_client, event, registrations):
    response, meta = page_of(sales_client, event)
    assert len(response.json) == 5
    assert (meta["total"], meta["total_pages"]) == (5, 1)


def test_the_total_counts_what_the_search_found(sales_client, event, registrations):
    response, meta = page_of(sales_client, event, q="Guest 3")
    assert [r["contact"]["name"] for r in response.json] == ["Guest 3"]
    assert meta["total"] == 1


def test_a_page_size_over_the_limit_is_refused(sales_client, event):
    response = sales_client.get(f"{API_PREFIX}/events/{event.slug}/registrations"
                                "?page_size=100000")
    assert response.status_code == 422
    assert set(response.json["error"]["details"]) == {"page_size"}


def test_a_registration_shows_its_contact_and_channel(make, sales_client, event):
    channel = make.channel(event, code="wechat-9")
    contact = make.contact(name="周杰", company="华为", phone="+8613800138000",
                           email="zhou@example.com")
    make.registration(event, contact, channel=channel)

    response, _meta = page_of(sales_client, event)

    [registration] = response.json
    assert registration["status"] == "confirmed"
    assert registration["channel_code"] == "wechat-9"
    assert registration["checked_in_at"] is None
    assert registration["contact"]["name"] == "周杰"
    assert registration["contact"]["phone"] == "+8613800138000"


@pytest.mark.parametrize("role, sees", [("marketer", True), ("staff", False), ("sales", False)])
def test_channel_spend_is_shown_to_marketers_only(app, make, event, bearer, role, sees):
    make.channel(event, spend="1200.50")
    user = make.user()
    make.membership(event, user, role)
    summary = app.test_client().get(f"/api/v1/events/{event.slug}",
                                    headers=bearer(user)).json["summary"]
    assert summary["spend"] == ("1200.50" if sees else None)


def test_signed_in_pages_are_not_kept_by_the_browser(marketer_client, client, event):
    page = marketer_client.get(f"/events/{event.slug}/people")
    assert page.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    assert "no-store" not in marketer_client.get("/static/css/app.css").headers.get(
        "Cache-Control", "")


@pytest.mark.single_db
def test_a_header_the_view_set_itself_is_kept_and_the_others_added(app):
    """The security headers are defaults: a view's own (in any case of letters) is kept,
    once, and the others are still added."""
    @app.get("/test-own-headers")
    def own_headers():
        return "", 200, {"x-frame-options": "SAMEORIGIN", "Referrer-Policy": "no-referrer"}

    response = app.test_client().get("/test-own-headers")
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert len(response.headers.getlist("Content-Security-Policy")) == 1
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Permissions-Policy"].startswith("camera=(self)")
