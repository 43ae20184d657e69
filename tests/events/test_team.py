"""The team page: a marketer adds accounts by e-mail with a role, changes roles and removes
people; an event always keeps at least one marketer."""

from __future__ import annotations

import sqlalchemy as sa

from eventapp.auth.models import User
from eventapp.events.models import EventRole, Membership
from eventapp.extensions import db

LAST_MARKETER = "An event needs at least one marketer. Add another marketer first."
NO_ACCOUNT = "No account uses this e-mail. Ask an administrator to create it first."


def team(app, event) -> dict[str, EventRole]:
    """e-mail -> role of everyone on the event's team."""
    with app.app_context():
        return dict(db.session.execute(
            sa.select(User.email, Membership.role).join(Membership.user)
            .where(Membership.event_id == event.id)).all())


def membership_of(app, event, user) -> Membership:
    with app.app_context():
        return db.session.scalar(sa.select(Membership).where(
            Membership.event_id == event.id, Membership.user_id == user.id))


def put(client, event, email: str, role: str):
    return client.post_form(f"/events/{event.slug}/team", {"email": email, "role": role})


def test_someone_is_added_by_e_mail_whatever_its_case(app, make, marketer_client, event):
    colleague = make.user(email="chen.jing@example.com", name="陈静")

    response = put(marketer_client, event, "  Chen.Jing@EXAMPLE.COM ", "sales")

    assert response.status_code == 302
    assert team(app, event)[colleague.email] == EventRole.SALES
    page = marketer_client.get(f"/events/{event.slug}/team").get_data(as_text=True)
    assert "The team is updated." in page
    assert "陈静" in page


def test_an_unknown_e_mail_is_told_plainly(app, marketer_client, event):
    before = team(app, event)

    response = put(marketer_client, event, "nobody@example.com", "staff")

    assert response.status_code == 200
    assert NO_ACCOUNT in response.get_data(as_text=True)
    assert team(app, event) == before


def test_a_malformed_e_mail_is_shown_under_its_field(app, marketer_client, event,
                                                     field_errors):
    before = team(app, event)
    response = put(marketer_client, event, "not an address", "staff")
    assert field_errors(response, "email") == ["This is not a valid e-mail address."]
    assert team(app, event) == before


def test_an_unknown_role_is_refused(app, make, marketer_client, event):
    colleague = make.user()
    response = put(marketer_client, event, colleague.email, "owner")
    assert response.status_code == 200
    assert colleague.email not in team(app, event)


def test_adding_someone_again_changes_their_role(app, make, marketer_client, event):
    colleague = make.user()
    make.membership(event, colleague, "staff")

    put(marketer_client, event, colleague.email, "sales")

    assert team(app, event)[colleague.email] == EventRole.SALES
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(
            Membership.user_id == colleague.id)) == 1


def test_someone_is_removed(app, make, marketer_client, event):
    colleague = make.user()
    membership = make.membership(event, colleague, "staff")

    response = marketer_client.post_form(f"/events/{event.slug}/team/{membership.id}/remove")

    assert response.status_code == 302
    assert colleague.email not in team(app, event)
    assert "Removed from the team." in marketer_client.get(
        f"/events/{event.slug}/team").get_data(as_text=True)


def test_the_last_marketer_cannot_be_removed(app, marketer_client, event):
    mine = membership_of(app, event, marketer_client.user)

    response = marketer_client.post_form(f"/events/{event.slug}/team/{mine.id}/remove",
                                         follow_redirects=True)

    assert LAST_MARKETER in response.get_data(as_text=True)
    assert team(app, event)[marketer_client.user.email] == EventRole.MARKETER


def test_the_last_marketer_cannot_be_demoted(app, marketer_client, event):
    response = put(marketer_client, event, marketer_client.user.email, "staff")

    assert response.status_code == 200
    assert LAST_MARKETER in response.get_data(as_text=True)
    assert team(app, event)[marketer_client.user.email] == EventRole.MARKETER


def test_an_admin_cannot_take_away_the_last_marketer_either(app, make, admin_client, event):
    marketer = make.user()
    only = make.membership(event, marketer, "marketer")

    admin_client.post_form(f"/events/{event.slug}/team/{only.id}/remove")
    put(admin_client, event, marketer.email, "sales")

    assert team(app, event)[marketer.email] == EventRole.MARKETER


def test_with_two_marketers_one_may_step_down(app, make, marketer_client, event):
    other = make.user()
    make.membership(event, other, "marketer")

    assert put(marketer_client, event, marketer_client.user.email, "sales").status_code == 302

    assert team(app, event) == {marketer_client.user.email: EventRole.SALES,
                                other.email: EventRole.MARKETER}
    # Now a salesperson: the team page is closed to them.
    assert marketer_client.get(f"/events/{event.slug}/team").status_code == 403


def test_a_marketer_may_leave_when_another_stays(app, make, marketer_client, event):
    other = make.user()
    make.membership(event, other, "marketer")
    mine = membership_of(app, event, marketer_client.user)

    marketer_client.post_form(f"/events/{event.slug}/team/{mine.id}/remove")

    assert team(app, event) == {other.email: EventRole.MARKETER}


def test_the_team_form_needs_the_csrf_token(app, make, marketer_client, event):
    colleague = make.user()
    before = team(app, event)

    response = marketer_client.post(f"/events/{event.slug}/team",
                                    data={"email": colleague.email, "role": "marketer"})

    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert team(app, event) == before


def test_removing_needs_the_csrf_token(app, make, marketer_client, event):
    colleague = make.user()
    membership = make.membership(event, colleague, "staff")

    response = marketer_client.post(f"/events/{event.slug}/team/{membership.id}/remove")

    assert response.status_code == 400
    assert colleague.email in team(app, event)
