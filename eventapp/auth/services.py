"""Accounts: creating users, checking passwords, sessions and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

from eventapp.auth.models import ApiToken, User, new_session_token
from eventapp.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from eventapp.core.i18n import LOCALES
from eventapp.core.time import utcnow
from eventapp.extensions import db

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
TOKEN_PREFIX = "ea_"
#: A token's last use is written at most this often, so API calls stay read-only.
TOKEN_USE_RESOLUTION = timedelta(minutes=5)

_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters
# Verified against when the e-mail is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class InvalidCredentials(DomainError):
    status, code = 401, "invalid_credentials"
    default_message = _l("That e-mail and password do not match an active account.")


def normalize_email(email: str) -> str:
    """The address in canonical form, lower-cased; raises ValidationFailed if it is not one."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        message = _l("This is not a valid e-mail address.")
        raise ValidationFailed(message, email=[message]) from exc
    return result.normalized.lower()


def check_password_rules(password: str, field: str = "password") -> None:
    """Raise ValidationFailed (its details under `field`) unless the password is long enough."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        message = _l("A password needs %(min)d to %(max)d characters.", min=MIN_PASSWORD_LENGTH,
                     max=MAX_PASSWORD_LENGTH)
        raise ValidationFailed(message, **{field: [str(message)]})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(email: str, name: str, password: str, *, is_admin: bool = False,
                locale: str | None = None) -> User:
    """A new active account; the e-mail must be free and the password long enough."""
    email = normalize_email(email)
    check_password_rules(password)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        message = _l("An account with this e-mail already exists.")
        raise Conflict(message, email=[str(message)])
    user = User(email=email, name=name.strip() or email, password_hash=hash_password(password),
                is_admin=is_admin, locale=locale)
    db.session.add(user)
    db.session.flush()
    return user


def _no_transaction_while_hashing() -> None:
    """End the request's transaction (nothing is written yet) before an Argon2 hash: it takes
    ~100 ms on purpose, and a POST's SQLite transaction holds the write lock (see
    core/database.py). The objects read so far reload on their next use."""
    db.session.rollback()


def authenticate(email: str, password: str) -> User:
    """The active user with this e-mail and password; raises InvalidCredentials otherwise.
    Unknown e-mails cost as long as wrong passwords, and no lock is held while checking."""
    try:
        email = normalize_email(email)
    except ValidationFailed:
        email = ""
    user = db.session.scalar(sa.select(User).where(User.email == email)) if email else None
    stored, active = (user.password_hash, user.active) if user else (_DUMMY_HASH, False)
    _no_transaction_while_hashing()
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        raise InvalidCredentials() from None
    if user is None or not active:
        raise InvalidCredentials()
    if _hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Change a password after checking the current one, and sign out the user's other
    sessions (their session token changes)."""
    check_password_rules(new_password, field="new_password")
    stored = user.password_hash
    _no_transaction_while_hashing()
    try:
        _hasher.verify(stored, current_password)
    except (VerificationError, InvalidHashError):
        message = _l("The current password is not right.")
        raise ValidationFailed(message, current_password=[str(message)]) from None
    user.password_hash = hash_password(new_password)
    user.session_token = new_session_token()


def update_profile(user: User, *, name: str, locale: str | None) -> None:
    """Set the name people see and the interface language (None: follow the browser)."""
    name = name.strip()
    if not name:
        raise ValidationFailed(name=[str(_l("Enter your name."))])
    set_locale(user, locale)
    user.name = name[:120]


def set_locale(user: User, locale: str | None) -> None:
    """Set the interface language of `user` (None: follow the browser)."""
    if locale is not None and locale not in LOCALES:
        raise ValidationFailed(locale=[str(_l("Unknown language."))])
    user.locale = locale


#: The user of a login session (events/access.py reads more with it).
USER_BY_ID = sa.select(User).where(User.id == sa.bindparam("user_id"))


def session_parts(session_id: str) -> tuple[int, str] | None:
    """(user id, session token) of a login session id "<id>:<session token>", or None."""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    return int(user_id), token


def session_is_valid(user: User | None, token: str) -> bool:
    """Whether `token` is `user`'s current session token (signing out everywhere changes it)."""
    return user is not None and secrets.compare_digest(user.session_token, token)


def user_for_session(session_id: str) -> User | None:
    """The user behind a login session id ("<id>:<session token>"), if still valid."""
    parts = session_parts(session_id)
    if parts is None:
        return None
    user = db.session.get(User, parts[0])
    return user if session_is_valid(user, parts[1]) else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(user: User, name: str) -> tuple[str, ApiToken]:
    """A new token for `user`: the plain token (show it once) and its stored record."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name.strip()[:80] or "API token",
                     token_hash=_token_hash(plain), prefix=plain[:10])
    db.session.add(token)
    db.session.flush()
    return plain, token


def revoke_api_token(user: User, token_id: int) -> None:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound()
    token.revoked_at = token.revoked_at or utcnow()


def api_tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())))


#: What the checks of who asks read of the user (Flask-Login's session and token loaders, the
#: role check, the language) and of their API token (`token_use_is_stale`), besides the ids:
#: a hot path may load only these (`ReadBeside` in events/access.py).
CHECKED_COLUMNS = {User: ("active", "is_admin", "locale", "session_token"),
                   ApiToken: ("last_used_at",)}

#: Built once: every API call with a token runs it (an event's, with more: events/access.py).
TOKEN_OWNER = (sa.select(User, ApiToken).join(ApiToken, ApiToken.user_id == User.id)
               .where(ApiToken.token_hash == sa.bindparam("token_hash"),
                      ApiToken.revoked_at.is_(None)))


def presented_token_hash(plain: str) -> str | None:
    """What to look a presented bearer token up by (`token_hash` of TOKEN_OWNER), or None
    if it cannot be one of ours."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 100:
        return None
    return _token_hash(plain)


def token_owner(plain: str) -> tuple[User, ApiToken] | None:
    """The active user and live token for a presented bearer token, or None."""
    token_hash = presented_token_hash(plain)
    if token_hash is None:
        return None
    row = db.session.execute(TOKEN_OWNER, {"token_hash": token_hash}).first()
    if row is None or not row.User.active:
        return None
    return row.User, row.ApiToken


def token_use_is_stale(token: ApiToken) -> bool:
    return token.last_used_at is None or token.last_used_at < utcnow() - TOKEN_USE_RESOLUTION


def note_token_use(token_id: int) -> None:
    """Record when a token was last used, in a transaction of its own.

    Call it after the request's session is released: on SQLite a second connection would
    otherwise wait for the write lock that the request's own transaction holds.
    """
    now = utcnow()
    with db.engine.begin() as connection:
        connection.execute(
            sa.update(ApiToken).where(
                ApiToken.id == token_id,
                sa.or_(ApiToken.last_used_at.is_(None),
                       ApiToken.last_used_at < now - TOKEN_USE_RESOLUTION))
            .values(last_used_at=now))
