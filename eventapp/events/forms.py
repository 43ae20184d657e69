"""Forms of event set-up. Validation of meaning (unique codes, amounts) is in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (DateTimeLocalField, EmailField, IntegerField, SelectChoice, SelectField,
                     StringField, TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from eventapp.events import labels


def channel_kind_choices() -> list[SelectChoice]:
    return [SelectChoice(kind.value, label) for kind, label in labels.CHANNEL_KINDS.items()]


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(role.value, label) for role, label in labels.ROLES.items()]


class ChannelForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=channel_kind_choices)
    code = StringField(_l("Tracking code"), validators=[Optional(), Length(max=32)],
                       description=_l("Lower-case letters, digits and dashes. Leave empty to "
                                      "have one made for you."))
    spend = StringField(_l("Spend"), default="0", validators=[DataRequired(), Length(max=20)],
                        render_kw={"inputmode": "decimal"})


class MemberForm(FlaskForm):
    email = EmailField(_l("E-mail of the account"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=role_choices)


class EventForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(_l("Web address"), validators=[DataRequired(), Length(max=80)],
                       description=_l("Used in links: /e/web-address. Lower-case letters, digits "
                                      "and dashes."))
    starts_at = DateTimeLocalField(_l("Starts"), validators=[DataRequired()],
                                   format="%Y-%m-%dT%H:%M")
    ends_at = DateTimeLocalField(_l("Ends"), validators=[DataRequired()],
                                 format="%Y-%m-%dT%H:%M")
    timezone = StringField(_l("Timezone"), validators=[DataRequired(), Length(max=64)])
    venue = StringField(_l("Venue"), validators=[Optional(), Length(max=200)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=300)])
    capacity = IntegerField(_l("Capacity"),
                            validators=[Optional(), NumberRange(
                                min=1, message=_l("Enter a whole number of at least 1."))],
                            description=_l("Leave empty for no limit."))
    currency = StringField(_l("Currency"), validators=[DataRequired(), Length(min=3, max=3)])
