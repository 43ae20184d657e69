"""Channels: where invitations go out, each with a tracking code unique in its event and a
spend kept as an exact Decimal. Set up on the channels page and through the API."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from eventapp.events.models import Channel, ChannelKind
from eventapp.extensions import db

BAD_CODE = "Use 1 to 32 lower-case letters, digits and dashes."
TAKEN_CODE = "Another channel of this event uses this code."
BAD_SPEND = "Enter the spend as an amount, such as 1200.50."


def channels_of(app, event) -> list[Channel]:
    with app.app_context():
        return list(db.session.scalars(
            sa.select(Channel).where(Channel.event_id == event.id).order_by(Channel.id)))


def add(client, event, *, name: str = "Article", kind: str = "wechat", code: str = "",
        spend: str = "0"):
    return client.post_form(f"/events/{event.slug}/channels",
                            {"name": name, "kind": kind, "code": code, "spend": spend})


# --- the channels page --------------------------------------------------------------------

def test_a_code_is_made_from_the_kind(app, marketer_client, event):
    first = add(marketer_client, event, name="Article 1")
    second = add(marketer_client, event, name="Article 2")
    sms = add(marketer_client, event, name="Text", kind="sms")

    assert first.status_code == second.status_code == sms.status_code == 302
    assert first.headers["Location"] == f"/events/{event.slug}/channels"
    assert [(c.name, c.kind, c.code) for c in channels_of(app, event)] == [
        ("Article 1", ChannelKind.WECHAT, "wechat-1"),
        ("Article 2", ChannelKind.WECHAT, "wechat-2"),
        ("Text", ChannelKind.SMS, "sms-1")]
    page = marketer_client.get(f"/events/{event.slug}/channels").get_data(as_text=True)
    assert "Channel Text added." in page
    assert "wechat-2" in page


def test_a_made_code_skips_one_typed_earlier(app, marketer_client, event):
    add(marketer_client, event, code="wechat-1")
    add(marketer_client, event)
    assert [c.code for c in channels_of(app, event)] == ["wechat-1", "wechat-2"]


def test_a_typed_code_is_kept_in_lower_case(app, marketer_client, event):
    response = add(marketer_client, event, code="  Spring-Promo-2025 ")
    assert response.status_code == 302
    assert [c.code for c in channels_of(app, event)] == ["spring-promo-2025"]


def test_a_code_used_in_the_event_is_refused(app, make, marketer_client, event, field_errors):
    make.channel(event, name="First", code="partner-x")

    response = add(marketer_client, event, name="Second", code="partner-x")

    assert response.status_code == 200
    assert field_errors(response, "code") == [TAKEN_CODE]
    assert [c.name for c in channels_of(app, event)] == ["First"]


def test_a_code_used_by_another_event_is_fine(app, make, marketer_client, event):
    make.channel(make.event(), code="partner-x")
    assert add(marketer_client, event, code="partner-x").status_code == 302
    assert [c.code for c in channels_of(app, event)] == ["partner-x"]


@pytest.mark.single_db
@pytest.mark.parametrize("code", ["bad code", "a_b", "-leading", "微信", "semi;colon",
                                  "x" * 33, "a/b"])
def test_a_code_with_other_characters_is_refused(app, marketer_client, event, field_errors,
                                                 code):
    response = add(marketer_client, event, code=code)
    assert response.status_code == 200
    assert field_errors(response, "code") != []
    assert channels_of(app, event) == []


def test_the_code_message_says_what_is_allowed(marketer_client, event, field_errors):
    response = add(marketer_client, event, code="bad code!")
    assert field_errors(response, "code") == [BAD_CODE]


@pytest.mark.parametrize(("typed", "stored"), [
    ("1,200.50", Decimal("1200.50")),
    ("1200.5", Decimal("1200.50")),
    (" 99 ", Decimal("99.00")),
    ("0", Decimal("0.00")),
    ("0.1", Decimal("0.10")),
    ("0.105", Decimal("0.11")),
    ("999,999,999,999.99", Decimal("999999999999.99")),
    ("１２", Decimal("12.00")),  # full-width digits, as a Chinese input method types them
])
def test_the_spend_is_read_as_an_amount(app, marketer_client, event, typed, stored):
    assert add(marketer_client, event, spend=typed).status_code == 302
    [channel] = channels_of(app, event)
    assert isinstance(channel.spend, Decimal)
    assert channel.spend == stored
    assert str(channel.spend) == str(stored)


@pytest.mark.parametrize("typed", ["-5", "abc", "12,5x", "NaN", "Infinity", "1e30",
                                   "1000000000000", ""])
def test_a_spend_that_is_not_an_amount_is_refused(app, marketer_client, event, field_errors,
                                                  typed):
    response = add(marketer_client, event, spend=typed)
    assert response.status_code == 200
    errors = field_errors(response, "spend")
    assert errors == ([BAD_SPEND] if typed else ["This field is required."])
    assert channels_of(app, event) == []


def test_amounts_add_up_without_float_artefacts(app, marketer_client, event):
    for spend in ("0.10", "0.20", "1234567.89"):
        add(marketer_client, event, spend=spend)

    assert [c.spend for c in channels_of(app, event)] == [
        Decimal("0.10"), Decimal("0.20"), Decimal("1234567.89")]
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.sum(Channel.spend)))
    assert total == Decimal("1234568.19")


def test_a_unicode_name_is_kept(app, marketer_client, event):
    name = "公众号推文 🎉"
    assert add(marketer_client, event, name=name).status_code == 302
    assert [c.name for c in channels_of(app, event)] == [name]
    assert name in marketer_client.get(f"/events/{event.slug}/channels").get_data(as_text=True)


def test_a_name_is_needed(app, marketer_client, event, field_errors):
    response = add(marketer_client, event, name="   ")
    assert field_errors(response, "name") == ["This field is required."]
    assert channels_of(app, event) == []


def test_the_channel_form_needs_the_csrf_token(app, marketer_client, event):
    response = marketer_client.post(f"/events/{event.slug}/channels",
                                    data={"name": "Forged", "kind": "sms", "spend": "1"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert channels_of(app, event) == []


# --- editing ------------------------------------------------------------------------------

def test_a_channel_is_edited(app, make, marketer_client, event):
    channel = make.channel(event, name="Old", code="old-code", spend="10.00")
    url = f"/events/{event.slug}/channels/{channel.id}"

    form = marketer_client.get(url).get_data(as_text=True)
    assert 'value="Old"' in form and 'value="10.00"' in form

    response = marketer_client.post_form(url, {"name": "新名字", "kind": "poster",
                                               "code": "new-code", "spend": "2,500"})

    assert response.status_code == 302
    [saved] = channels_of(app, event)
    assert (saved.name, saved.kind, saved.code, saved.spend) == (
        "新名字", ChannelKind.POSTER, "new-code", Decimal("2500.00"))


def test_an_empty_code_keeps_the_code(app, make, marketer_client, event):
    channel = make.channel(event, code="keep-me")
    marketer_client.post_form(f"/events/{event.slug}/channels/{channel.id}",
                              {"name": "Renamed", "kind": "wechat", "code": "", "spend": "1"})
    [saved] = channels_of(app, event)
    assert (saved.name, saved.code) == ("Renamed", "keep-me")


def test_editing_may_keep_the_own_code_but_not_take_another(app, make, marketer_client, event,
                                                           field_errors):
    mine = make.channel(event, name="Mine", code="mine")
    make.channel(event, name="Theirs", code="theirs")
    url = f"/events/{event.slug}/channels/{mine.id}"

    kept = marketer_client.post_form(url, {"name": "Mine 2", "kind": "wechat", "code": "mine",
                                           "spend": "1"})
    taken = marketer_client.post_form(url, {"name": "Mine 3", "kind": "wechat",
                                            "code": "theirs", "spend": "1"})

    assert kept.status_code == 302
    assert taken.status_code == 200
    assert field_errors(taken, "code") == [TAKEN_CODE]
    assert [(c.name, c.code) for c in channels_of(app, event)] == [("Mine 2", "mine"),
                                                                   ("Theirs", "theirs")]


def test_a_bad_spend_on_edit_changes_nothing(app, make, marketer_client, event, field_errors):
    channel = make.channel(event, name="Same", spend="5.00")
    response = marketer_client.post_form(f"/events/{event.slug}/channels/{channel.id}",
                                         {"name": "Other", "kind": "wechat", "spend": "-1"})
    assert field_errors(response, "spend") == [BAD_SPEND]
    [saved] = channels_of(app, event)
    assert (saved.name, saved.spend) == ("Same", Decimal("5.00"))


def test_an_unknown_channel_is_not_found(marketer_client, event):
    assert marketer_client.get(f"/events/{event.slug}/channels/999999").status_code == 404


# --- the API ------------------------------------------------------------------------------

@pytest.fixture
def api(marketer_client, event):
    """Calls the channels API of `event` as its marketer (session and CSRF header)."""
    token = marketer_client.csrf_token()
    base = f"/api/v1/events/{event.slug}/channels"

    def request(method: str, path: str = "", body=None):
        return marketer_client.open(base + path, method=method, json=body,
                                    headers={"X-CSRFToken": token})

    return request


def test_the_api_creates_a_channel(app, api, event):
    response = api("POST", body={"name": "公众号推文 🎉", "kind": "wechat", "spend": "1200.50"})

    assert response.status_code == 201
    [saved] = channels_of(app, event)
    assert response.json == {"id": saved.id, "name": "公众号推文 🎉", "kind": "wechat",
                             "code": "wechat-1", "spend": "1200.50"}
    assert saved.spend == Decimal("1200.50")
    assert "公众号推文 🎉" in response.get_data(as_text=True)  # readable, not \\u-escaped


def test_the_api_takes_a_code_and_a_number_as_spend(app, api, event):
    response = api("POST", body={"name": "Ads", "kind": "ads", "code": "Baidu-1", "spend": 0.1})
    assert response.status_code == 201
    assert (response.json["code"], response.json["spend"]) == ("baidu-1", "0.10")
    assert channels_of(app, event)[0].spend == Decimal("0.10")


def test_the_api_lists_channels_with_their_figures(make, api, event):
    channel = make.channel(event, name="Poster", kind="poster", code="poster-1",
                           spend="300.00")
    make.registration(event, channel=channel)

    response = api("GET")

    assert response.status_code == 200
    assert response.json == [{"id": channel.id, "name": "Poster", "kind": "poster",
                              "code": "poster-1", "spend": "300.00", "visitors": 0,
                              "registrations": 1, "checked_in": 0}]


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"name", "kind"}),
    ({"name": "", "kind": "wechat"}, {"name"}),
    ({"name": "X", "kind": "carrier-pigeon"}, {"kind"}),
    ({"name": "X", "kind": "wechat", "spend": "-5"}, {"spend"}),
    ({"name": "X", "kind": "wechat", "spend": "abc"}, {"spend"}),
    ({"name": "X", "kind": "wechat", "spend": "1e30"}, {"spend"}),
    ({"name": "X", "kind": "wechat", "spend": "1000000000000"}, {"spend"}),
    ({"name": "X", "kind": "wechat", "code": "bad code"}, {"code"}),
    ({"name": "X", "kind": "wechat", "code": "x" * 40}, {"code"}),
    ({"name": "X", "kind": "wechat", "colour": "red"}, {"colour"}),
])
def test_the_api_says_which_field_is_wrong(app, api, event, body, fields):
    response = api("POST", body=body)
    assert response.status_code == 422
    error = response.json["error"]
    assert (error["status"], error["code"]) == (422, "invalid")
    assert set(error["details"]) == fields
    assert all(isinstance(m, list) and m for m in error["details"].values())
    assert channels_of(app, event) == []


def test_the_api_refuses_a_code_in_use(app, make, api, event):
    make.channel(event, code="taken")
    response = api("POST", body={"name": "X", "kind": "sms", "code": "taken"})
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"code": [TAKEN_CODE]}
    assert len(channels_of(app, event)) == 1


def test_the_api_patches_only_what_is_sent(app, make, api, event):
    channel = make.channel(event, name="Old", kind="sms", code="old", spend="1.00")

    response = api("PATCH", f"/{channel.id}", {"spend": "1234.5"})

    assert response.status_code == 200
    assert response.json["spend"] == "1234.50"
    [saved] = channels_of(app, event)
    assert (saved.name, saved.kind, saved.code, saved.spend) == (
        "Old", ChannelKind.SMS, "old", Decimal("1234.50"))


@pytest.mark.parametrize(("body", "fields"), [
    ({"spend": "-1"}, {"spend"}),
    ({"code": "Not OK"}, {"code"}),
    ({"code": ""}, {"code"}),
    ({"code": "theirs"}, {"code"}),
    ({"name": ""}, {"name"}),
    ({"kind": "fax"}, {"kind"}),
])
def test_the_api_patch_says_which_field_is_wrong(app, make, api, event, body, fields):
    channel = make.channel(event, name="Mine", code="mine", spend="1.00")
    make.channel(event, name="Theirs", code="theirs")

    response = api("PATCH", f"/{channel.id}", body)

    assert response.status_code == 422
    assert set(response.json["error"]["details"]) == fields
    assert [(c.name, c.code, c.spend) for c in channels_of(app, event)][0] == (
        "Mine", "mine", Decimal("1.00"))


def test_the_api_patch_of_an_unknown_channel_is_not_found(api):
    response = api("PATCH", "/999999", {"name": "X"})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
