"""The booking-form builder: which standard fields the form asks for, and the event's own
questions. Keys of questions are q1, q2, ... and never given twice: a removed question is kept
(under "removed_questions"), so the answers people gave to it keep their meaning.

Every change re-reads the form under the event's row lock, checks the whole result with
BookingFormSpec.problems() and raises ValidationFailed (messages under their form fields),
NotFound or Conflict; nothing here commits.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from eventapp.core.errors import Conflict, NotFound, ValidationFailed
from eventapp.events.booking_form import (MAX_OPTIONS, MAX_QUESTIONS, BookingFormSpec, FieldMode,
                                          Question, QuestionKind)
from eventapp.events.models import Event, Registration
from eventapp.extensions import db

MAX_QUESTION_TEXT = 200
MAX_OPTION_TEXT = 100
QUESTION_KEY = re.compile(r"^q(\d{1,6})$")


def _locked(event: Event) -> None:
    """Re-read the event's booking form under its row lock (PostgreSQL)."""
    db.session.refresh(event, attribute_names=["booking_form"], with_for_update=True)


def booking_form_of(event: Event) -> BookingFormSpec:
    """The event's booking form as the builder shows it (defaults where nothing is stored)."""
    return BookingFormSpec.from_json(event.booking_form)


def _save_form(event: Event, spec: BookingFormSpec, removed: list[dict[str, Any]]) -> None:
    problems = spec.problems()
    if problems:
        first = next(iter(problems.values()))[0]
        raise ValidationFailed(first, **problems)
    event.booking_form = {**spec.to_json(), "removed_questions": removed}


def _removed_questions(event: Event) -> list[dict[str, Any]]:
    """Questions taken off the form: kept so stored answers keep their meaning and their keys
    are never given to a new question."""
    return list((event.booking_form or {}).get("removed_questions") or [])


def set_field_modes(event: Event, modes: dict[str, str]) -> BookingFormSpec:
    """Make each standard field off, optional or required; the form must still name the
    person and reach them (mobile or e-mail required)."""
    _locked(event)
    spec = booking_form_of(event)
    errors: dict[str, list[str]] = {}
    for name in spec.fields:
        try:
            spec.fields[name] = FieldMode(modes.get(name, spec.fields[name]))
        except ValueError:
            errors[name] = [str(_l("Choose off, optional or required."))]
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), **errors)
    _save_form(event, spec, _removed_questions(event))
    return spec


def _question_values(kind: str, label: str, options: str | list[str]
                     ) -> tuple[QuestionKind, str, list[str]]:
    errors: dict[str, list[str]] = {}
    try:
        kind_value = QuestionKind(kind)
    except ValueError:
        kind_value = QuestionKind.TEXT
        errors["kind"] = [str(_l("Choose a kind of question."))]
    label = (label or "").strip()
    if not label:
        errors["label"] = [str(_l("Write the question."))]
    elif len(label) > MAX_QUESTION_TEXT:
        errors["label"] = [str(_l("At most %(count)d characters.", count=MAX_QUESTION_TEXT))]
    choices = _options(kind_value, options, errors)
    if errors:
        raise ValidationFailed(_l("Please correct the marked fields."), **errors)
    return kind_value, label, choices


def _options(kind: QuestionKind, options: str | list[str], errors: dict[str, list[str]]
             ) -> list[str]:
    if kind not in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        return []
    lines = options.splitlines() if isinstance(options, str) else list(options)
    choices = [line.strip() for line in lines if line.strip()]
    if not 2 <= len(choices) <= MAX_OPTIONS:
        errors["options"] = [str(_l("Give 2 to %(count)d options, one per line.",
                                    count=MAX_OPTIONS))]
    elif any(len(choice) > MAX_OPTION_TEXT for choice in choices):
        errors["options"] = [str(_l("An option has at most %(count)d characters.",
                                    count=MAX_OPTION_TEXT))]
    elif len(set(choices)) != len(choices):
        errors["options"] = [str(_l("Each option may appear only once."))]
    return choices


def _next_key(spec: BookingFormSpec, removed: list[dict[str, Any]]) -> str:
    """q1, q2, ...: one more than any key the form ever used, so no key is given twice."""
    used = [q.key for q in spec.questions] + [str(q.get("key", "")) for q in removed]
    numbers = [int(m.group(1)) for key in used if (m := QUESTION_KEY.match(key))]
    return f"q{max(numbers, default=0) + 1}"


def _question(spec: BookingFormSpec, key: str) -> Question:
    for question in spec.questions:
        if question.key == key:
            return question
    raise NotFound(_l("This question is no longer on the form (perhaps a colleague removed "
                      "it)."))


def question_of(event: Event, key: str) -> Question:
    """The event's custom question with this key; NotFound if it is not on the form."""
    return _question(booking_form_of(event), key)


def add_question(event: Event, *, kind: str, label: str, options: str | list[str] = "",
                 required: bool = False) -> Question:
    """Add a custom question at the end of the form, with a key never used before."""
    kind_value, label, choices = _question_values(kind, label, options)
    _locked(event)
    spec, removed = booking_form_of(event), _removed_questions(event)
    if len(spec.questions) >= MAX_QUESTIONS:
        raise Conflict(_l("The form has the most questions it can have (%(count)d).",
                          count=MAX_QUESTIONS))
    question = Question(key=_next_key(spec, removed), kind=kind_value, label=label,
                        options=choices, required=required)
    spec.questions.append(question)
    _save_form(event, spec, removed)
    return question


def update_question(event: Event, key: str, *, kind: str, label: str,
                    options: str | list[str] = "", required: bool = False) -> Question:
    """Change a question's kind, text, options or whether it must be answered. Its key stays,
    so answers given so far stay attached to it."""
    kind_value, label, choices = _question_values(kind, label, options)
    _locked(event)
    spec = booking_form_of(event)
    question = _question(spec, key)
    question.kind, question.label, question.options = kind_value, label, choices
    question.required = required
    _save_form(event, spec, _removed_questions(event))
    return question


def remove_question(event: Event, key: str) -> Question:
    """Take a question off the form; answers already given to it are kept."""
    _locked(event)
    spec, removed = booking_form_of(event), _removed_questions(event)
    question = _question(spec, key)
    spec.questions.remove(question)
    _save_form(event, spec, [*removed, question.to_json()])
    return question


def move_question(event: Event, key: str, direction: str) -> None:
    """Move a question one place up or down the form."""
    _locked(event)
    spec = booking_form_of(event)
    position = spec.questions.index(_question(spec, key))
    target = position + {"up": -1, "down": 1}.get(direction, 0)
    if target != position and 0 <= target < len(spec.questions):
        spec.questions[position], spec.questions[target] = (spec.questions[target],
                                                            spec.questions[position])
        _save_form(event, spec, _removed_questions(event))


def booking_count(event: Event) -> int:
    """How many people have booked (any status): their answers follow the form's changes."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(
        Registration.event_id == event.id))
