"""The pool of contacts: cleaning mobile numbers and e-mail addresses, and finding the one
person behind a booking (same mobile or same e-mail: the existing contact, never a new one)."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l

from eventapp.contacts.models import Contact
from eventapp.core.time import utcnow
from eventapp.extensions import db

#: Number types a person can receive an SMS on (FIXED_LINE_OR_MOBILE: regions such as the US
#: where the two cannot be told apart).
_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE,
                 phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


class InvalidValue(ValueError):
    """A value a person typed that cannot be used; `message` says why, in their language."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def normalize_phone(raw: str, region: str | None = None) -> str:
    """The mobile number in E.164 (+8613812345678). Numbers without a country code are read
    in `region` (default: PHONE_DEFAULT_REGION); raises InvalidValue otherwise."""
    text = (raw or "").strip()
    if not text:
        raise InvalidValue(_l("Enter a mobile number."))
    region = region or current_app.config["PHONE_DEFAULT_REGION"]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidValue(_l("This is not a phone number.")) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(_l("This phone number does not exist; check the digits."))
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidValue(_l("Enter a mobile number, so that we can text you the ticket."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """The address, checked for syntax (no DNS lookup: bookings must not wait on the network)
    and lower-cased, so that one address is one person; raises InvalidValue otherwise."""
    text = (raw or "").strip()
    if not text:
        raise InvalidValue(_l("Enter an e-mail address."))
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidValue(_l("This is not an e-mail address.")) from None
    return checked.normalized.lower()


@dataclass
class PersonDetails:
    """What a person told us about themselves (already cleaned)."""

    name: str = ""
    phone: str | None = None
    email: str | None = None
    company: str = ""
    job_title: str = ""
    city: str = ""
    locale: str | None = None


_BY_PHONE = Contact.phone == sa.bindparam("phone")
_BY_EMAIL = Contact.email == sa.bindparam("email")
#: The lookup of find_contact, built once (a booking's hot path), by what is known.
_CONTACT_BY = {(True, True): sa.select(Contact).where(sa.or_(_BY_PHONE, _BY_EMAIL)).limit(2),
               (True, False): sa.select(Contact).where(_BY_PHONE).limit(1),
               (False, True): sa.select(Contact).where(_BY_EMAIL).limit(1)}


def find_contact(phone: str | None, email: str | None) -> Contact | None:
    """The contact with this mobile, else the one with this e-mail (the mobile wins: in China
    it is how people are known). One query."""
    if not (phone or email):
        return None
    query = _CONTACT_BY[bool(phone), bool(email)]
    found = list(db.session.scalars(query, {"phone": phone, "email": email}))
    by_phone = next((c for c in found if phone and c.phone == phone), None)
    return by_phone or (found[0] if found else None)


def new_contact(details: PersonDetails, *, source: str,
                consent_text: str | None = None) -> Contact:
    """A new contact of the pool, not yet in the session (a booking writes it with
    `insert_now`)."""
    contact = Contact(name=details.name, phone=details.phone, email=details.email,
                      company=details.company, job_title=details.job_title, city=details.city,
                      locale=details.locale, sources=[source])
    if consent_text is not None:
        contact.consent_at, contact.consent_source = utcnow(), consent_text[:120]
    return contact


def update_contact(contact: Contact, details: PersonDetails, *, source: str,
                   consent_text: str | None = None, trusted: bool) -> None:
    """Merge what a person told us into their existing contact.

    `trusted`: the person is known to be this contact (the same browser or form that booked
    before). Then what they typed replaces older values (the freshest self-reported data) and
    a new e-mail or mobile is added when no other contact has it. Untrusted (anyone can type
    someone's mobile number into a public form), only empty descriptive fields are filled:
    never the name, never an address, so a stranger can neither rename the person nor have
    their messages and ticket sent elsewhere.
    """
    fields = ("name", "company", "job_title", "city", "locale") if trusted else \
        ("company", "job_title", "city")
    for field in fields:
        value = getattr(details, field)
        if value and getattr(contact, field) != value and (trusted or not getattr(contact, field)):
            setattr(contact, field, value)
    if trusted:
        if details.email and not contact.email and find_contact(None, details.email) is None:
            contact.email = details.email
        if details.phone and not contact.phone and find_contact(details.phone, None) is None:
            contact.phone = details.phone
    if source not in contact.sources:
        contact.sources = [*contact.sources, source]
    if consent_text is not None:
        contact.consent_at, contact.consent_source = utcnow(), consent_text[:120]
