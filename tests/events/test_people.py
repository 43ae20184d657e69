"""The people list of an event (page and API): search over name, company, job title, mobile and
e-mail, where % and _ are just characters; a status filter; pages of 50."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from eventapp.contacts.models import Contact
from eventapp.core.time import utcnow
from eventapp.events.models import Registration, RegistrationStatus
from eventapp.extensions import db
from eventapp.invites.booking import new_share_code, new_ticket_token
from eventapp.invites.tickets import new_serial

NAME_CELL = re.compile(r"<tr>\s*<td[^>]*>([^<]*)</td>")  # the first cell of a row


@pytest.fixture
def people(make, event):
    """Five registrations whose fields tell them apart; one cancelled; one at another event."""
    make.registration(event, make.contact(name="张伟", company="华为技术", job_title="采购经理",
                                          phone="+8613812345678",
                                          email="zhang.wei@huawei.example"))
    make.registration(event, make.contact(name="李娜", company="100% Cotton 纺织",
                                          phone="+8613900000001", email="li_na@example.com"))
    make.registration(event, make.contact(name="王芳", company="Acme 制造",
                                          phone="+8613900000002", email="lixna@example.com"))
    make.registration(event, make.contact(name="刘洋", company="100 Cotton",
                                          phone="+8613900000003", email="liu@example.com"),
                      status=RegistrationStatus.CANCELLED)
    make.registration(event, make.contact(name="Anna Müller", company="Bosch",
                                          phone="+4915112345678", email="anna@bosch.example"),
                      status=RegistrationStatus.WAITLISTED)
    make.registration(make.event(), make.contact(name="张伟伟", company="华为技术"))


def names_on_page(client, event, **query) -> list[str]:
    response = client.get(f"/events/{event.slug}/people", query_string=query)
    assert response.status_code == 200
    return sorted(NAME_CELL.findall(response.get_data(as_text=True)))


def names_from_api(client, event, **query) -> list[str]:
    response = client.get(f"/api/v1/events/{event.slug}/registrations", query_string=query)
    assert response.status_code == 200
    return sorted(r["contact"]["name"] for r in response.json)


SEARCHES = [
    ("", ["Anna Müller", "刘洋", "张伟", "李娜", "王芳"]),
    ("伟", ["张伟"]),  # a fragment of a Chinese name; not the other event's 张伟伟
    ("华为", ["张伟"]),  # company
    ("采购", ["张伟"]),  # job title
    ("12345678", ["Anna Müller", "张伟"]),  # mobile digits
    ("13900000002", ["王芳"]),
    ("huawei", ["张伟"]),  # e-mail
    ("ZHANG.WEI@", ["张伟"]),  # whatever the case
    ("müller", ["Anna Müller"]),
    ("%", ["李娜"]),  # a literal percent sign, not "anything"
    ("100%", ["李娜"]),
    ("li_na", ["李娜"]),  # a literal underscore, not "any one character"
    ("_", ["李娜"]),
    ("\\", []),
    ("nobody", []),
]


@pytest.mark.parametrize(("search", "expected"), SEARCHES)
def test_the_people_page_searches(sales_client, event, people, search, expected):
    assert names_on_page(sales_client, event, q=search) == expected


@pytest.mark.parametrize(("search", "expected"), SEARCHES)
def test_the_registrations_api_searches(sales_client, event, people, search, expected):
    assert names_from_api(sales_client, event, q=search) == expected


def test_no_match_is_said_plainly(sales_client, event, people):
    page = sales_client.get(f"/events/{event.slug}/people", query_string={"q": "nobody"})
    assert "No one matches “nobody”." in page.get_data(as_text=True)


@pytest.mark.parametrize(("status", "expected"), [
    ("confirmed", ["张伟", "李娜", "王芳"]),
    ("waitlisted", ["Anna Müller"]),
    ("cancelled", ["刘洋"]),
])
def test_the_status_filter(sales_client, event, people, status, expected):
    assert names_on_page(sales_client, event, status=status) == expected
    assert names_from_api(sales_client, event, status=status) == expected


def test_search_and_status_filter_combine(sales_client, event, people):
    assert names_on_page(sales_client, event, q="cotton", status="cancelled") == ["刘洋"]
    assert names_from_api(sales_client, event, q="cotton", status="confirmed") == ["李娜"]


def test_an_unknown_status_on_the_page_shows_everyone(sales_client, event, people):
    assert len(names_on_page(sales_client, event, status="bogus")) == 5


def test_an_unknown_status_in_the_api_is_a_field_error(sales_client, event, people):
    response = sales_client.get(f"/api/v1/events/{event.slug}/registrations?status=bogus")
    assert response.status_code == 422
    assert set(response.json["error"]["details"]) == {"status"}


def add_many(app, event, count: int) -> None:
    """`count` registrations in one transaction, the n-th made n minutes ago."""
    now = utcnow()
    with app.app_context():
        for n in range(1, count + 1):
            contact = Contact(name=f"Person {n:03d}", company="Co", phone=f"+86139{n:08d}",
                              email=f"person{n}@example.com")
            db.session.add(contact)
            db.session.flush()
            db.session.add(Registration(event_id=event.id, contact_id=contact.id, answers={},
                                        created_at=now - timedelta(minutes=n),
                                        ticket_serial=new_serial(),
                                        ticket_token=new_ticket_token(),
                                        share_code=new_share_code()))
        db.session.commit()


def test_the_people_page_has_pages_of_fifty_newest_first(app, sales_client, event):
    add_many(app, event, 51)

    first = sales_client.get(f"/events/{event.slug}/people").get_data(as_text=True)
    second = sales_client.get(f"/events/{event.slug}/people?page=2").get_data(as_text=True)

    first_names = NAME_CELL.findall(first)
    assert len(first_names) == 50
    assert first_names[0] == "Person 001" and first_names[-1] == "Person 050"
    assert "Page 1 of 2" in first
    assert NAME_CELL.findall(second) == ["Person 051"]
    assert "Page 2 of 2" in second


def test_a_page_past_the_end_is_empty_not_an_error(app, sales_client, event):
    add_many(app, event, 3)
    response = sales_client.get(f"/events/{event.slug}/people?page=9")
    assert response.status_code == 200
    assert NAME_CELL.findall(response.get_data(as_text=True)) == []
