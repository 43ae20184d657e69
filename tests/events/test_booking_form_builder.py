"""The booking-form builder: standard fields off / optional / required (the form must still
name and reach the person), custom questions added, edited, moved and removed with keys that
are never given twice, and the preview that shows the form as attendees see it."""

from __future__ import annotations

from html import unescape

import pytest

from eventapp.events.booking_form import MAX_QUESTIONS
from eventapp.events.models import Event, Registration
from eventapp.extensions import db

MODES = {"name": "required", "phone": "required", "email": "optional", "company": "optional",
         "job_title": "optional", "city": "off"}
CONTACT_REQUIRED = ("Make the mobile or the e-mail required: the ticket is sent there and it "
                    "identifies the person.")


def form_of(app, event) -> dict:
    with app.app_context():
        return db.session.get(Event, event.id).booking_form


def questions_of(app, event) -> list[dict]:
    return form_of(app, event)["questions"]


def set_modes(client, event, **changes):
    return client.post_form(f"/events/{event.slug}/setup/form", {**MODES, **changes})


def add(client, event, label: str, kind: str = "text", options: str = "",
        required: bool = False):
    data = {"new-kind": kind, "new-label": label, "new-options": options}
    if required:
        data["new-required"] = "y"
    return client.post_form(f"/events/{event.slug}/setup/form/questions", data)


def page_of(client, event) -> str:
    return unescape(client.get(f"/events/{event.slug}/setup/form").get_data(as_text=True))


def preview_of(page: str) -> str:
    return page[page.index('class="form-preview"'):]


# --- standard fields ----------------------------------------------------------------------

def test_the_builder_starts_from_the_standard_form(marketer_client, event):
    page = page_of(marketer_client, event)
    assert '<input checked id="phone-2" name="phone" required type="radio" value="required">' \
        in page
    assert '<input checked id="city-0" name="city" required type="radio" value="off">' in page
    preview = preview_of(page)
    assert 'id="preview-name"' in preview and 'id="preview-phone"' in preview
    assert 'id="preview-city"' not in preview  # off: not on the form


def test_field_modes_are_saved_and_shown_in_the_preview(app, marketer_client, event):
    response = set_modes(marketer_client, event, email="required", phone="optional",
                         company="off", city="required")

    assert response.status_code == 302
    assert form_of(app, event)["fields"] == {
        "name": "required", "phone": "optional", "email": "required", "company": "off",
        "job_title": "optional", "city": "required"}
    page = page_of(marketer_client, event)
    assert "The booking form's fields are saved." in page
    preview = preview_of(page)
    assert 'id="preview-company"' not in preview
    assert 'for="preview-city">City <span class="preview-required"' in preview


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"phone": "optional", "email": "optional"}, "phone", CONTACT_REQUIRED),
    ({"phone": "off", "email": "off"}, "phone", CONTACT_REQUIRED),
    ({"name": "off"}, "name", "The form must ask for the person's name."),
    ({"city": "sometimes"}, "city", "Not a valid choice."),
])
def test_a_form_that_cannot_name_or_reach_the_person_is_refused(
        app, marketer_client, event, field_errors, changes, field, message):
    response = set_modes(marketer_client, event, **changes)

    assert response.status_code == 200
    assert message in field_errors(response, field)
    assert form_of(app, event) == {}  # nothing saved


# --- custom questions ---------------------------------------------------------------------

def test_questions_are_added_with_keys_never_used_twice(app, marketer_client, event):
    assert add(marketer_client, event, "Which topic?", "single", "AI\nRobots\n\n",
               required=True).status_code == 302
    add(marketer_client, event, "Lunch needed?", "yes_no", "ignored\nfor yes/no")
    add(marketer_client, event, "Anything else?")

    assert questions_of(app, event) == [
        {"key": "q1", "kind": "single", "label": "Which topic?", "options": ["AI", "Robots"],
         "required": True},
        {"key": "q2", "kind": "yes_no", "label": "Lunch needed?", "options": [],
         "required": False},
        {"key": "q3", "kind": "text", "label": "Anything else?", "options": [],
         "required": False}]

    marketer_client.post_form(f"/events/{event.slug}/setup/form/questions/q3/remove")
    add(marketer_client, event, "Your budget?", "multiple", "< 1M\n1-5M\n> 5M")

    assert [q["key"] for q in questions_of(app, event)] == ["q1", "q2", "q4"]  # q3 stays retired


def test_the_preview_shows_each_kind_of_question(marketer_client, event):
    add(marketer_client, event, "Which topic?", "single", "AI\nRobots", required=True)
    add(marketer_client, event, "Plans?", "multiple", "MES\nIoT")
    add(marketer_client, event, "Lunch needed?", "yes_no")
    add(marketer_client, event, "Anything else?")

    preview = preview_of(page_of(marketer_client, event))

    topic = preview[preview.index('data-question="q1"'):preview.index('data-question="q2"')]
    assert 'Which topic? <span class="preview-required"' in topic
    assert topic.count('type="radio"') == 2 and "AI" in topic and "Robots" in topic
    plans = preview[preview.index('data-question="q2"'):preview.index('data-question="q3"')]
    assert plans.count('type="checkbox"') == 2
    lunch = preview[preview.index('data-question="q3"'):preview.index('data-question="q4"')]
    assert "Yes" in lunch and "No" in lunch
    assert 'data-question="q4"' in preview


def test_a_question_is_edited_and_keeps_its_key(app, marketer_client, event):
    add(marketer_client, event, "Which topic?", "single", "AI\nRobots")
    url = f"/events/{event.slug}/setup/form/questions/q1"
    page = marketer_client.get(url).get_data(as_text=True)
    assert "AI\nRobots</textarea>" in page
    assert 'aria-current="page">Booking form</a>' in page

    response = marketer_client.post_form(url, {"kind": "multiple", "label": "Which topics?",
                                               "options": "AI\nRobots\nVision",
                                               "required": "y"})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/events/{event.slug}/setup/form#question-q1"
    assert questions_of(app, event) == [
        {"key": "q1", "kind": "multiple", "label": "Which topics?",
         "options": ["AI", "Robots", "Vision"], "required": True}]

    marketer_client.post_form(url, {"kind": "text", "label": "Which topics?",
                                    "options": "AI\nRobots"})
    assert questions_of(app, event)[0]["options"] == []  # a text question has no options


def test_questions_are_moved_up_and_down(app, marketer_client, event):
    for label in ("One?", "Two?", "Three?"):
        add(marketer_client, event, label)
    base = f"/events/{event.slug}/setup/form/questions"

    marketer_client.post_form(f"{base}/q3/move", {"direction": "up"})
    assert [q["label"] for q in questions_of(app, event)] == ["One?", "Three?", "Two?"]
    marketer_client.post_form(f"{base}/q1/move", {"direction": "down"})
    assert [q["label"] for q in questions_of(app, event)] == ["Three?", "One?", "Two?"]
    marketer_client.post_form(f"{base}/q3/move", {"direction": "up"})  # first already
    assert [q["key"] for q in questions_of(app, event)] == ["q3", "q1", "q2"]


def test_removing_a_question_keeps_the_answers_given(app, make, marketer_client, event):
    add(marketer_client, event, "Lunch needed?", "yes_no")
    registration = make.registration(event)
    with app.app_context():
        db.session.get(Registration, registration.id).answers = {"q1": True}
        db.session.commit()

    response = marketer_client.post_form(f"/events/{event.slug}/setup/form/questions/q1/remove")

    assert response.status_code == 302
    assert questions_of(app, event) == []
    assert form_of(app, event)["removed_questions"] == [
        {"key": "q1", "kind": "yes_no", "label": "Lunch needed?", "options": [],
         "required": False}]
    with app.app_context():
        assert db.session.get(Registration, registration.id).answers == {"q1": True}
    assert "Answers already given to it are kept." in page_of(marketer_client, event)


def test_the_builder_says_when_people_have_booked(make, marketer_client, event):
    make.registration(event)
    assert "1 person has booked with this form." in page_of(marketer_client, event)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"new-kind": "single", "new-label": "Topic?", "new-options": "Only one"}, "new-options",
     "Give 2 to 30 options, one per line."),
    ({"new-kind": "multiple", "new-label": "Topic?", "new-options": "A\nB\nA"}, "new-options",
     "Each option may appear only once."),
    ({"new-kind": "single", "new-label": "Topic?", "new-options": "A\n" + "B" * 101},
     "new-options", "An option has at most 100 characters."),
    ({"new-kind": "text", "new-label": "   "}, "new-label", "Write the question."),
    ({"new-kind": "essay", "new-label": "Topic?"}, "new-kind", "Not a valid choice."),
])
def test_a_wrong_question_is_refused(app, marketer_client, event, field_errors, data, field,
                                     message):
    response = marketer_client.post_form(f"/events/{event.slug}/setup/form/questions", data)
    assert response.status_code == 200
    assert message in field_errors(response, field)
    assert form_of(app, event) == {}


def test_the_form_has_a_limit_of_questions(app, marketer_client, event):
    with app.app_context():
        db.session.get(Event, event.id).booking_form = {"questions": [
            {"key": f"q{n}", "kind": "text", "label": f"Q{n}?"} for n in range(1, MAX_QUESTIONS + 1)]}
        db.session.commit()

    response = add(marketer_client, event, "One too many?")

    assert response.status_code == 200
    assert len(questions_of(app, event)) == MAX_QUESTIONS
    assert "The form has the most questions it can have (30)." in unescape(
        response.get_data(as_text=True))


def test_a_question_that_is_not_on_the_form_is_not_found(marketer_client, event):
    base = f"/events/{event.slug}/setup/form/questions"
    assert marketer_client.get(f"{base}/q9").status_code == 404
    response = marketer_client.post_form(f"{base}/q9/remove")
    assert response.status_code == 302
    assert "This question is no longer on the form" in page_of(marketer_client, event)


@pytest.mark.parametrize("role", ["staff", "sales", "outsider"])
def test_only_marketers_change_the_form(app, request, event, role):
    client = request.getfixturevalue(f"{role}_client")
    assert client.get(f"/events/{event.slug}/setup/form").status_code == 403
    assert set_modes(client, event, city="required").status_code == 403
    assert add(client, event, "Sneaky?").status_code == 403
    assert form_of(app, event) == {}
