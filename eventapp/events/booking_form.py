"""The booking form an event asks its attendees to fill in, as the form builder leaves it.

Stored as JSON on `Event.booking_form`:

    {"fields": {"name": "required", "phone": "required", "email": "optional", ...},
     "questions": [{"key": "q1", "kind": "single", "label": "...", "options": ["A", "B"],
                    "required": true}, ...]}

Standard fields are each off, optional or required; custom questions are free text, one
choice, several choices or yes/no. `read_answers` turns a submitted form into the person's
details and their answers, or the errors to show beside each field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from eventapp.contacts.services import InvalidValue, PersonDetails, normalize_email, \
    normalize_phone

MAX_TEXT_ANSWER = 500
MAX_QUESTIONS = 30
MAX_OPTIONS = 30


class FieldMode(StrEnum):
    OFF = "off"
    OPTIONAL = "optional"
    REQUIRED = "required"


class QuestionKind(StrEnum):
    TEXT = "text"
    SINGLE = "single"
    MULTIPLE = "multiple"
    YES_NO = "yes_no"


#: The standard fields, in form order, with their default mode and longest value.
STANDARD_FIELDS: dict[str, tuple[FieldMode, int]] = {
    "name": (FieldMode.REQUIRED, 120),
    "phone": (FieldMode.REQUIRED, 40),
    "email": (FieldMode.OPTIONAL, 254),
    "company": (FieldMode.OPTIONAL, 200),
    "job_title": (FieldMode.OPTIONAL, 120),
    "city": (FieldMode.OFF, 80),
}

FIELD_LABELS = {
    "name": _l("Full name"), "phone": _l("Mobile"), "email": _l("E-mail"),
    "company": _l("Company"), "job_title": _l("Job title"), "city": _l("City"),
}
MODE_LABELS = {FieldMode.OFF: _l("Off"), FieldMode.OPTIONAL: _l("Optional"),
               FieldMode.REQUIRED: _l("Required")}
QUESTION_KIND_LABELS = {
    QuestionKind.TEXT: _l("Text"), QuestionKind.SINGLE: _l("One choice"),
    QuestionKind.MULTIPLE: _l("Several choices"), QuestionKind.YES_NO: _l("Yes / no"),
}


@dataclass
class Question:
    key: str
    kind: QuestionKind
    label: str
    options: list[str] = field(default_factory=list)
    required: bool = False

    @property
    def form_name(self) -> str:
        return f"q_{self.key}"

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind.value, "label": self.label,
                "options": list(self.options), "required": self.required}


@dataclass
class BookingFormSpec:
    fields: dict[str, FieldMode]
    questions: list[Question] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> BookingFormSpec:
        """The spec stored on an event; missing parts take their defaults."""
        data = data or {}
        stored = data.get("fields") or {}
        modes = {}
        for name, (default, _length) in STANDARD_FIELDS.items():
            try:
                modes[name] = FieldMode(stored.get(name, default))
            except ValueError:
                modes[name] = default
        questions = []
        for item in data.get("questions") or []:
            try:
                questions.append(Question(key=str(item["key"]), kind=QuestionKind(item["kind"]),
                                          label=str(item["label"]),
                                          options=[str(o) for o in item.get("options") or []],
                                          required=bool(item.get("required"))))
            except (KeyError, ValueError, TypeError):
                continue  # a damaged question is dropped, not a broken booking page
        return cls(fields=modes, questions=questions)

    def to_json(self) -> dict[str, Any]:
        return {"fields": {name: mode.value for name, mode in self.fields.items()},
                "questions": [q.to_json() for q in self.questions]}

    def shown_fields(self) -> list[tuple[str, FieldMode]]:
        return [(name, mode) for name, mode in self.fields.items() if mode != FieldMode.OFF]

    def problems(self) -> dict[str, list[str]]:
        """Why this spec cannot be used (empty: it can): a booking must name the person and
        give a way to reach them with the ticket."""
        errors: dict[str, list[str]] = {}
        if self.fields["name"] == FieldMode.OFF:
            errors["name"] = [str(_l("The form must ask for the person's name."))]
        if FieldMode.REQUIRED not in (self.fields["phone"], self.fields["email"]):
            errors["phone"] = [str(_l("Make the mobile or the e-mail required: the ticket is "
                                      "sent there and it identifies the person."))]
        keys = [q.key for q in self.questions]
        if len(keys) != len(set(keys)):
            errors["questions"] = [str(_l("Two questions have the same key."))]
        if len(self.questions) > MAX_QUESTIONS:
            errors["questions"] = [str(_l("At most %(count)d questions.", count=MAX_QUESTIONS))]
        for question in self.questions:
            if not question.label.strip():
                errors["questions"] = [str(_l("Every question needs wording."))]
            if question.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE) and (
                    len(question.options) < 2 or len(question.options) > MAX_OPTIONS):
                errors["questions"] = [str(_l("A choice question needs 2 to %(count)d options.",
                                              count=MAX_OPTIONS))]
        return errors


def default_spec() -> BookingFormSpec:
    return BookingFormSpec.from_json(None)


def _first(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return str(value or "").strip()


def _read_standard(name: str, raw: str, *, region: str | None) -> Any:
    if name == "phone":
        return normalize_phone(raw, region)
    if name == "email":
        return normalize_email(raw)
    limit = STANDARD_FIELDS[name][1]
    if len(raw) > limit:
        raise InvalidValue(_l("At most %(count)d characters.", count=limit))
    return raw


def _read_question(question: Question, submitted: Mapping[str, Any]) -> Any:
    """The answer to one question, or None when it was not answered."""
    raw = submitted.get(question.form_name)
    if question.kind == QuestionKind.MULTIPLE:
        chosen = [str(v) for v in (raw if isinstance(raw, (list, tuple)) else [raw] if raw else [])]
        if any(choice not in question.options for choice in chosen):
            raise InvalidValue(_l("Choose among the options shown."))
        return [o for o in question.options if o in chosen] or None
    text = _first(raw)
    if not text:
        return None
    if question.kind == QuestionKind.SINGLE and text not in question.options:
        raise InvalidValue(_l("Choose among the options shown."))
    if question.kind == QuestionKind.YES_NO:
        if text not in ("yes", "no"):
            raise InvalidValue(_l("Answer yes or no."))
        return text == "yes"
    if len(text) > MAX_TEXT_ANSWER:
        raise InvalidValue(_l("At most %(count)d characters.", count=MAX_TEXT_ANSWER))
    return text


def read_answers(spec: BookingFormSpec, submitted: Mapping[str, Any], *,
                 region: str | None = None
                 ) -> tuple[PersonDetails, dict[str, Any], dict[str, list[str]]]:
    """(person, answers by question key, errors by form field name) of a submitted form.
    Fields the spec switches off are ignored whatever was sent."""
    person = PersonDetails()
    errors: dict[str, list[str]] = {}
    for name, mode in spec.shown_fields():
        raw = _first(submitted.get(name))
        if not raw:
            if mode == FieldMode.REQUIRED:
                errors[name] = [str(_l("Required."))]
            continue
        try:
            setattr(person, name, _read_standard(name, raw, region=region))
        except InvalidValue as problem:
            errors[name] = [str(problem.message)]
    answers: dict[str, Any] = {}
    for question in spec.questions:
        try:
            answer = _read_question(question, submitted)
        except InvalidValue as problem:
            errors[question.form_name] = [str(problem.message)]
            continue
        if answer is None:
            if question.required:
                errors[question.form_name] = [str(_l("Required."))]
            continue
        answers[question.key] = answer
    return person, answers, errors


# --- how the form is shown (the invitation page and the gate's walk-in form) ----------------

#: How each standard field is typed on a phone: input type, autocomplete, keyboard.
_FIELD_TYPES: dict[str, dict[str, str]] = {
    "name": {"type": "text", "autocomplete": "name"},
    "phone": {"type": "tel", "autocomplete": "tel", "inputmode": "tel"},
    "email": {"type": "email", "autocomplete": "email", "inputmode": "email",
              "autocapitalize": "off", "spellcheck": "false"},
    "company": {"type": "text", "autocomplete": "organization"},
    "job_title": {"type": "text", "autocomplete": "organization-title"},
    "city": {"type": "text", "autocomplete": "address-level2"},
}
FIELD_INPUTS = {name: {**attributes, "maxlength": str(STANDARD_FIELDS[name][1])}
                for name, attributes in _FIELD_TYPES.items()}


def question_choices(question: Question) -> list[tuple[str, str]]:
    """(value sent, text shown) of each option of a choice or yes/no question."""
    if question.kind == QuestionKind.YES_NO:
        return [("yes", _("Yes")), ("no", _("No"))]
    return [(option, option) for option in question.options]


def booking_form_helpers() -> dict[str, Any]:
    """What templates/invites/_macros.html needs to draw a booking form."""
    return {"question_choices": question_choices, "FIELD_LABELS": FIELD_LABELS,
            "FIELD_INPUTS": FIELD_INPUTS, "FieldMode": FieldMode, "QuestionKind": QuestionKind}
