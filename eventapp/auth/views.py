"""Log in and out, the account page (name, language, password, API tokens), the language switch."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from eventapp.auth import services
from eventapp.auth.forms import (ApiTokenForm, ChangePasswordForm, LocaleForm, LoginForm,
                                 ProfileForm)
from eventapp.core.errors import DomainError
from eventapp.core.forms import commit_or_show_error
from eventapp.core.i18n import LOCALES, SESSION_KEY
from eventapp.extensions import db

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not send people elsewhere. Browsers read "\\" as
    "/" and drop tabs and newlines ("/<tab>/evil.example" is "//evil.example"), so a target
    with either is refused too."""
    if (target and target.startswith("/") and not target.startswith("//")
            and "\\" not in target and target.isprintable()):
        return target
    return url_for("events.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except DomainError as error:
            db.session.rollback()
            form.password.errors.append(str(error.message))
        else:
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), 200 if not form.errors else 401


@bp.post("/logout")
@login_required
def logout() -> Response:
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> str | Response:
    profile = ProfileForm(obj=current_user, prefix="profile")
    if profile.validate_on_submit():
        saved, _none = commit_or_show_error(profile, lambda: services.update_profile(
            current_user, name=profile.name.data, locale=profile.locale.data or None))
        if saved:
            session.pop(SESSION_KEY, None)  # the account's setting decides from now on
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("auth.account"))
    return _account_page(profile=profile)


def _account_page(new_token: str | None = None, **forms: object) -> str:
    forms.setdefault("profile", ProfileForm(obj=current_user, prefix="profile"))
    forms.setdefault("password", ChangePasswordForm(prefix="password"))
    forms.setdefault("token", ApiTokenForm(prefix="token"))
    return render_template("auth/account.html", tokens=services.api_tokens_of(current_user),
                           new_token=new_token, **forms)


@bp.post("/account/password")
@login_required
def change_password() -> str | Response:
    form = ChangePasswordForm(prefix="password")
    if form.validate_on_submit():
        saved, _none = commit_or_show_error(form, lambda: services.change_password(
            current_user, form.current_password.data, form.new_password.data))
        if saved:
            login_user(current_user._get_current_object(), fresh=True)  # new session id
            flash(_("Your password is changed. Other devices have been signed out."), "success")
            return redirect(url_for("auth.account"))
    return _account_page(password=form)


@bp.post("/account/tokens")
@login_required
def create_token() -> str | Response:
    form = ApiTokenForm(prefix="token")
    if form.validate_on_submit():
        plain, _token = services.issue_api_token(current_user, form.name.data)
        db.session.commit()
        # Shown in this response only: the token is never stored in plain, not even in the
        # session cookie, so reloading the page cannot show it again.
        return _account_page(new_token=plain, token=ApiTokenForm(prefix="token", formdata=None))
    return _account_page(token=form)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    services.revoke_api_token(current_user, token_id)
    db.session.commit()
    flash(_("The token is revoked; programs using it can no longer sign in."), "success")
    return redirect(url_for("auth.account", _anchor="tokens"))


@bp.post("/locale")
def switch_locale() -> Response:
    """The language switch: remembered for this browser, and on the account when signed in."""
    form = LocaleForm()
    if form.validate_on_submit() and form.locale.data in LOCALES:
        session[SESSION_KEY] = form.locale.data
        if current_user.is_authenticated:
            services.set_locale(current_user, form.locale.data)
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")))
