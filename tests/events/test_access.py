"""Every event page and API checks the caller's role on that event."""

from __future__ import annotations

import pytest

MARKETER_PAGES = ("/events/{slug}/", "/events/{slug}/channels", "/events/{slug}/team")
MARKETER_APIS = ("/api/v1/events/{slug}/channels",)


@pytest.mark.parametrize("page", MARKETER_PAGES)
def test_staff_cannot_open_a_marketer_page(staff_client, event, page):
    response = staff_client.get(page.format(slug=event.slug))
    assert response.status_code == 403
    assert "No access" in response.get_data(as_text=True)


@pytest.mark.parametrize("api", MARKETER_APIS)
def test_staff_cannot_call_a_marketer_api(staff_client, event, api):
    response = staff_client.get(api.format(slug=event.slug))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert response.json["error"]["message"]


def test_marketer_opens_marketer_pages(marketer_client, event):
    for page in MARKETER_PAGES:
        assert marketer_client.get(page.format(slug=event.slug)).status_code == 200
