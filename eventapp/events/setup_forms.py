"""Forms of marketing's event set-up. They read what was typed; the rules (what makes a valid
capacity, map link, booking form) are in events/setup.py."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, DateTimeLocalField, IntegerField, RadioField, SelectChoice,
                     SelectField, StringField, TextAreaField)
from wtforms.validators import DataRequired, Length, Optional

from eventapp.events.booking_form import (FIELD_LABELS, MODE_LABELS, QUESTION_KIND_LABELS,
                                          STANDARD_FIELDS, FieldMode)
from eventapp.events.form_builder import MAX_QUESTION_TEXT
from eventapp.events.setup import AGENDA_LIMITS, TEXT_LIMITS

#: What datetime-local inputs send: to the minute, or to the second when a browser adds them.
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
ACCEPTED_IMAGES = "image/jpeg,image/png,image/webp"


def _text(label: Any, name: str, *, area: bool = False, required: Any = None,
          description: Any = None, **render: Any) -> StringField:
    """A text field as long as the detail may be; `required`: the message when left empty."""
    validators = [DataRequired(required) if required else Optional(),
                  Length(max=TEXT_LIMITS[name])]
    kind = TextAreaField if area else StringField
    return kind(label, validators=validators, description=description, render_kw=render or None)


class DetailsForm(FlaskForm):
    title = _text(_l("Title"), "title", required=_l("Give the event a title."))
    starts_at = DateTimeLocalField(_l("Starts"), validators=[DataRequired()],
                                   format=LOCAL_FORMATS)
    ends_at = DateTimeLocalField(_l("Ends"), validators=[DataRequired()], format=LOCAL_FORMATS)
    booking_deadline = DateTimeLocalField(
        _l("Bookings close"), validators=[Optional()], format=LOCAL_FORMATS,
        description=_l("Leave empty to take bookings until the event ends."))
    capacity = IntegerField(_l("Capacity"), validators=[Optional()],
                            description=_l("Number of places. Leave empty for no limit; beyond "
                                           "it, people join the waiting list."),
                            render_kw={"inputmode": "numeric"})
    venue = _text(_l("Venue"), "venue")
    address = _text(_l("Address"), "address", area=True, rows=2)
    map_url = _text(_l("Map link"), "map_url",
                    description=_l("A link to the place on a map app, starting with https://."),
                    inputmode="url", placeholder="https://")
    latitude = StringField(_l("Latitude"), validators=[Optional(), Length(max=20)],
                           description=_l("Optional, for the weather forecast: such as 31.2304."),
                           render_kw={"inputmode": "decimal"})
    longitude = StringField(_l("Longitude"), validators=[Optional(), Length(max=20)],
                            description=_l("Such as 121.4737."),
                            render_kw={"inputmode": "decimal"})
    transport_notes = _text(_l("Getting there"), "transport_notes", area=True,
                            description=_l("Metro, parking, which entrance to use."))
    weather_note = _text(_l("Weather note"), "weather_note", area=True,
                         description=_l("Sent in the day-before reminder when no forecast "
                                        "service is set up."))
    description = _text(_l("Description"), "description", area=True, rows=6)
    gift = _text(_l("Booking gift"), "gift",
                 description=_l("Handed out at the venue to people who booked. Leave empty "
                                "if there is none."))
    privacy_text = _text(_l("Privacy notice"), "privacy_text", area=True,
                         description=_l("Shown beside the consent box of the booking form. "
                                        "Leave empty for the standard text."))


class CoverForm(FlaskForm):
    image = FileField(_l("New cover image"),
                      validators=[FileRequired(_l("Choose an image file first."))],
                      description=_l("JPEG, PNG or WebP. A wide picture (such as 1600 × 900 "
                                     "px) looks best on phones."),
                      render_kw={"accept": ACCEPTED_IMAGES})


class AgendaItemForm(FlaskForm):
    time = StringField(_l("Time"), validators=[Optional(), Length(max=5)],
                       render_kw={"type": "time"})
    title = StringField(_l("What happens"), validators=[DataRequired(),
                                                        Length(max=AGENDA_LIMITS["title"])])
    speaker = StringField(_l("Speaker"), validators=[Optional(),
                                                     Length(max=AGENDA_LIMITS["speaker"])])


def _mode_choices() -> list[SelectChoice]:
    return [SelectChoice(mode.value, MODE_LABELS[mode]) for mode in FieldMode]


def _kind_choices() -> list[SelectChoice]:
    return [SelectChoice(kind.value, label) for kind, label in QUESTION_KIND_LABELS.items()]


class FieldModesForm(FlaskForm):
    """One off / optional / required choice per standard field (fields added below)."""


for _name in STANDARD_FIELDS:
    setattr(FieldModesForm, _name, RadioField(FIELD_LABELS[_name], choices=_mode_choices,
                                              validators=[DataRequired()]))


class QuestionForm(FlaskForm):
    kind = SelectField(_l("Kind of answer"), choices=_kind_choices)
    label = StringField(_l("Question"), validators=[DataRequired(_l("Write the question.")),
                                                    Length(max=MAX_QUESTION_TEXT)])
    options = TextAreaField(_l("Options"), validators=[Optional(), Length(max=4_000)],
                            description=_l("For a choice question: one option per line."),
                            render_kw={"rows": 4})
    required = BooleanField(_l("An answer is required"))
