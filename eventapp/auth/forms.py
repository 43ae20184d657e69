"""Forms of the account pages. Every one carries a CSRF token (Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, EmailField, PasswordField, SelectChoice, SelectField,
                     StringField)
from wtforms.validators import DataRequired, EqualTo, Length

from eventapp.auth.services import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from eventapp.core.i18n import LOCALES


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me signed in on this device"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two do not match."))],
        render_kw={"autocomplete": "new-password"})


def _locale_choices() -> list[SelectChoice]:
    return [SelectChoice("", _l("Same as my browser"))] + [
        SelectChoice(code, name) for code, name in LOCALES.items()]


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    locale = SelectField(_l("Language"), choices=_locale_choices, validate_choice=True)


class LocaleForm(FlaskForm):
    """The language switch in every page header."""

    locale = SelectField(choices=lambda: [SelectChoice(code, name)
                                          for code, name in LOCALES.items()])


class ApiTokenForm(FlaskForm):
    name = StringField(_l("What is this token for?"), validators=[DataRequired(), Length(max=80)])
