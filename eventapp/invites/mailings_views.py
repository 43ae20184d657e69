"""Marketing's invitations to a segment of the pool, and the unsubscribe link in them."""

from __future__ import annotations

from typing import Any

from flask import (Blueprint, Response, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from eventapp.core.forms import commit_or_show_error
from eventapp.core.outbox import Medium
from eventapp.core.queue import start_job
from eventapp.events import labels
from eventapp.events.access import SETUP_ROLES, event_role_required
from eventapp.events.models import Event
from eventapp.extensions import csrf, db
from eventapp.invites import mailings
from eventapp.invites.unsubscribe import contact_for_token, opt_out
from eventapp.invites.tasks import queue_invitations

bp = Blueprint("mailings", __name__)

MEDIUM_LABELS = {Medium.EMAIL: _l("E-mail"), Medium.SMS: _l("SMS")}
NO_CHANNEL = "none"


class MailingForm(FlaskForm):
    """The segment (sent by GET to count it) and, when sending, the organiser's note."""

    medium = SelectField(_l("Send by"), choices=[SelectChoice(m.value, label)
                                                 for m, label in MEDIUM_LABELS.items()],
                         default=Medium.EMAIL.value)
    channel = SelectField(_l("Credit bookings to"), validate_choice=True,
                          description=_l("The channel whose figures count the visits and "
                                         "bookings this invitation brings."))
    city = StringField(_l("City"), validators=[Optional(), Length(max=80)],
                       description=_l("Exactly as in the pool, e.g. 上海 or Shanghai."))
    company = StringField(_l("Company contains"), validators=[Optional(), Length(max=200)])
    source = SelectField(_l("Came to the pool through"), default="", validate_choice=True)
    attended = BooleanField(_l("Checked in at an earlier event"))
    not_registered = BooleanField(_l("Not registered for this event yet"), default=True,
                                  description=_l("People who cancelled count as not "
                                                 "registered."))
    note = TextAreaField(_l("Your note"), validators=[Optional(), Length(max=mailings.NOTE_MAX)],
                         description=_l("Shown in the invitation above the booking button "
                                        "(optional)."))

    def fill_choices(self, event: Event, sources: list[str]) -> None:
        self.channel.choices = [
            *[SelectChoice(str(c.id), f"{c.name} · {labels.channel_kind(c.kind.value)}")
              for c in event.channels],
            SelectChoice(NO_CHANNEL, _("No channel"))]
        if not self.channel.data:  # a first visit: the medium's own channel
            default = mailings.default_channel(event, self.medium_value)
            self.channel.data = str(default.id) if default else NO_CHANNEL
        chosen = self.source.data or ""
        known = sources if not chosen or chosen in sources else [*sources, chosen]
        self.source.choices = [SelectChoice("", _("Any source")),
                               *[SelectChoice(source, source) for source in known]]

    @property
    def medium_value(self) -> Medium:
        return Medium(self.medium.data) if self.medium.data in Medium._value2member_map_ \
            else Medium.EMAIL

    def segment(self) -> mailings.Segment:
        return mailings.Segment(city=(self.city.data or "").strip(),
                                company=(self.company.data or "").strip(),
                                source=self.source.data or "", attended=bool(self.attended.data),
                                not_registered=bool(self.not_registered.data))

    def channel_id(self) -> int | None:
        value = self.channel.data or NO_CHANNEL
        return int(value) if value.isdigit() else None


def _segment_form(event: Event) -> MailingForm:
    """The form as the GET query string gives it (its defaults on a first visit)."""
    form = MailingForm(formdata=request.args if request.args else None, meta={"csrf": False})
    form.fill_choices(event, mailings.source_choices())
    form.validate()
    return form


def count_text(count: mailings.SegmentCount, medium: Medium) -> str:
    """"N people will receive it; M excluded (…)" in the reader's language."""
    text = ngettext("%(num)s person will receive it", "%(num)s people will receive it",
                    count.recipients)
    if not count.excluded:
        return text
    no_address = (ngettext("%(num)s without an e-mail address",
                           "%(num)s without an e-mail address", count.no_address)
                  if medium == Medium.EMAIL else
                  ngettext("%(num)s without a mobile number", "%(num)s without a mobile number",
                           count.no_address))
    return _("%(recipients)s; %(excluded)s excluded (%(opted_out)s opted out, %(no_address)s)",
             recipients=text, excluded=count.excluded, no_address=no_address,
             opted_out=count.opted_out)


def _index_page(event: Event, form: MailingForm, status: int = 200) -> tuple[str, int]:
    medium = form.medium_value
    count = mailings.count_segment(event, form.segment(), medium)
    return render_template(
        "invites/mailings/index.html", event=event, form=form,
        count=count, count_text=count_text(count, medium), medium_labels=MEDIUM_LABELS,
        summaries=mailings.mailings_of(event), segment_words=segment_words), status


@bp.get("/events/<slug>/invitations")
@login_required
@event_role_required(*SETUP_ROLES)
def index(event: Event) -> tuple[str, int]:
    form = _segment_form(event)
    return _index_page(event, form)


@bp.get("/events/<slug>/invitations/count")
@login_required
@event_role_required(*SETUP_ROLES)
def count(event: Event) -> Response:
    form = _segment_form(event)
    result = mailings.count_segment(event, form.segment(), form.medium_value)
    return jsonify(recipients=result.recipients, excluded=result.excluded,
                   opted_out=result.opted_out, no_address=result.no_address,
                   text=count_text(result, form.medium_value),
                   send_label=ngettext("Send to %(num)s person", "Send to %(num)s people",
                                       result.recipients))


@bp.post("/events/<slug>/invitations")
@login_required
@event_role_required(*SETUP_ROLES)
def send(event: Event) -> Response | tuple[str, int]:
    form = MailingForm()
    form.fill_choices(event, mailings.source_choices())
    if form.validate_on_submit():
        saved, mailing = commit_or_show_error(form, lambda: mailings.create_mailing(
            event, medium=form.medium_value, segment=form.segment(),
            channel_id=form.channel_id(), note=form.note.data or "", user=current_user))
        if saved and mailing is not None:
            job = start_job(queue_invitations, "mailing", mailing.id, user_id=current_user.id,
                            event_id=event.id)
            mailings.attach_job(mailing, job)
            db.session.commit()
            flash(_("The invitations are being queued; they go out as the bar fills."),
                  "success")
            return redirect(url_for("mailings.index", slug=event.slug, **_segment_args(form)))
    return _index_page(event, form, 422)


def _segment_args(form: MailingForm) -> dict[str, Any]:
    """The segment as query arguments: the page after sending shows the same filters."""
    args = {"medium": form.medium.data, "channel": form.channel.data, "city": form.city.data,
            "company": form.company.data, "source": form.source.data,
            "attended": "y" if form.attended.data else None,
            "not_registered": "y" if form.not_registered.data else None}
    return {key: value for key, value in args.items() if value}


def segment_words(segment: dict[str, Any]) -> list[str]:
    """A mailing's filters in words, for the list of mailings."""
    chosen = mailings.Segment.from_json(segment)
    words = []
    if chosen.city:
        words.append(_("City: %(city)s", city=chosen.city))
    if chosen.company:
        words.append(_("Company contains “%(text)s”", text=chosen.company))
    if chosen.source:
        words.append(_("Source: %(source)s", source=chosen.source))
    if chosen.attended:
        words.append(_("Checked in before"))
    if chosen.not_registered:
        words.append(_("Not registered yet"))
    return words or [_("Everyone in the pool")]


# --- unsubscribing (public: the link in every invitation) -----------------------------------

@bp.get("/u/<token>")
def unsubscribe(token: str) -> str:
    contact = contact_for_token(token)
    return render_template("invites/mailings/unsubscribe.html", token=token,
                           done=contact.opted_out_at is not None)


# CSRF-exempt: the signed token is the authority, and mail programs' one-click unsubscribe
# (RFC 8058, List-Unsubscribe-Post) posts here without a form of ours.
@bp.post("/u/<token>")
@csrf.exempt
def confirm_unsubscribe(token: str) -> str:
    opt_out(contact_for_token(token))
    db.session.commit()
    return render_template("invites/mailings/unsubscribe.html", token=token, done=True)
