"""Forms of the check-in set-up. Validation of meaning (unique names) is in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from eventapp.checkin.labels import POINT_KINDS


def point_kind_choices() -> list[SelectChoice]:
    return [SelectChoice(kind.value, label) for kind, label in POINT_KINDS.items()]


class PointForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)],
                       description=_l('What the tablets and the dashboard call it, such as '
                                      '"North gate" or "Main stage".'))
    kind = SelectField(_l("Kind"), choices=point_kind_choices)
    hall = StringField(_l("Hall"), validators=[Optional(), Length(max=80)],
                       description=_l("Entrances and session rooms of one hall count its "
                                      "live occupancy together."))
    location = StringField(_l("Where to find it"), validators=[Optional(), Length(max=200)],
                           description=_l('Shown to attendees on site, such as "Hall 2, '
                                          'east side".'))
