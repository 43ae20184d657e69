"""Signed tickets: what a ticket's QR code says, how it is signed and how it is checked.

A ticket payload is 77 bytes, written in base32 (124 characters of A-Z and 2-7, which a QR code
stores in its compact alphanumeric mode and a keyboard-wedge scanner types without trouble):

    version (1) | event id (4, big-endian) | ticket serial (8) | Ed25519 signature (64)

The signature covers a context label, the version, the event id and the serial. The serial is
random and unique within the event, so a payload is unguessable twice over; anyone holding only
the event's public key (a tablet at the gate, offline) can tell a genuine ticket from a forged
one. Each event has its own key pair; the private key is stored encrypted with a key derived
from SECRET_KEY and is never sent to a browser.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption,
                                                          PrivateFormat, PublicFormat)
from flask import current_app
from flask_babel import lazy_gettext as _l

from eventapp.core.errors import DomainError

VERSION = 1
CONTEXT = b"eventapp-ticket"
_HEADER = struct.Struct(">BIQ")  # version, event id, serial
SIGNATURE_BYTES = 64
PAYLOAD_BYTES = _HEADER.size + SIGNATURE_BYTES  # 77
PAYLOAD_CHARS = -(-PAYLOAD_BYTES * 8 // 5)  # 124 base32 characters, no padding
MAX_SERIAL = 2**63 - 1  # fits a signed BIGINT on both databases


class TicketProblem(StrEnum):
    """Why a scanned code is not a valid ticket of this event (the gate shows the reason)."""

    MALFORMED = "malformed"  # not a ticket code at all (a URL, a random string, cut short)
    FORGED = "forged"  # looks like a ticket, but the signature does not match
    OTHER_EVENT = "other_event"  # a genuine ticket of another event


PROBLEM_MESSAGES = {
    TicketProblem.MALFORMED: _l("This is not an eventapp ticket code."),
    TicketProblem.FORGED: _l("The ticket's signature is wrong: it was altered or forged."),
    TicketProblem.OTHER_EVENT: _l("This ticket is for another event."),
}


class InvalidTicket(DomainError):
    status = 422
    code = "invalid_ticket"

    def __init__(self, problem: TicketProblem, **details: object) -> None:
        super().__init__(PROBLEM_MESSAGES[problem], problem=str(problem), **details)
        self.problem = problem


class TicketKeyUnavailable(DomainError):
    status = 500
    code = "ticket_key_unavailable"
    default_message = _l("The event's ticket key cannot be read: SECRET_KEY has changed since "
                         "it was made. Restore the previous SECRET_KEY.")


@dataclass(frozen=True)
class TicketClaim:
    """What a well-formed payload says. Verified only if returned by `verify_ticket`."""

    event_id: int
    serial: int
    signed_part: bytes
    signature: bytes


# --- keys ---------------------------------------------------------------------------------

def _fernet() -> Fernet:
    return _fernet_for(current_app.config["SECRET_KEY"])


@lru_cache(maxsize=4)
def _fernet_for(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"eventapp ticket signing keys").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def new_key_pair() -> tuple[bytes, bytes]:
    """(public key, encrypted private key) for a new event."""
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    raw_public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return raw_public, _fernet().encrypt(raw_private)


@lru_cache(maxsize=256)
def _private_key(encrypted: bytes, secret_key: str) -> Ed25519PrivateKey:
    try:
        raw = _fernet_for(secret_key).decrypt(encrypted)
    except InvalidToken:
        raise TicketKeyUnavailable() from None
    return Ed25519PrivateKey.from_private_bytes(raw)


@lru_cache(maxsize=256)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def new_serial() -> int:
    return secrets.randbelow(MAX_SERIAL) + 1


# --- payloads -----------------------------------------------------------------------------

def sign_ticket(event_id: int, serial: int, encrypted_private_key: bytes) -> str:
    """The QR payload of ticket `serial` of event `event_id`."""
    header = _HEADER.pack(VERSION, event_id, serial)
    key = _private_key(encrypted_private_key, current_app.config["SECRET_KEY"])
    signature = key.sign(CONTEXT + header)
    return base64.b32encode(header + signature).decode("ascii").rstrip("=")


def read_ticket(payload: str) -> TicketClaim:
    """Parse a scanned code (not yet verified); raises InvalidTicket(MALFORMED)."""
    claim = _claim(payload)
    if claim is None:
        raise InvalidTicket(TicketProblem.MALFORMED)
    return claim


def claimed_serial(payload: str) -> int | None:
    """The serial a well-formed payload claims, not verified (to look its holder up before
    the check, which needs the event's key); None if it cannot be a ticket's. Raises
    nothing: it runs while the request's user is being loaded."""
    claim = _claim(payload)
    return claim.serial if claim is not None and claim.serial <= MAX_SERIAL else None


def _claim(payload: str) -> TicketClaim | None:
    return _claim_of((payload or "").strip().upper())


@lru_cache(maxsize=16)
def _claim_of(text: str) -> TicketClaim | None:
    """`_claim` of a stripped, upper-case payload; kept for the few latest (a scan reads its
    code twice: for its holder before the user is known, then to verify it)."""
    if len(text) != PAYLOAD_CHARS:
        return None
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != PAYLOAD_BYTES or raw[0] != VERSION:
        return None
    # The last character carries 4 unused bits: only the one canonical spelling of a ticket is
    # accepted, so that a ticket has exactly one code (a changed character is always refused).
    if base64.b32encode(raw).decode("ascii").rstrip("=") != text:
        return None
    _version, event_id, serial = _HEADER.unpack(raw[:_HEADER.size])
    return TicketClaim(event_id=event_id, serial=serial, signed_part=raw[:_HEADER.size],
                       signature=raw[_HEADER.size:])


def signature_matches(claim: TicketClaim, public_key: bytes | None) -> bool:
    """Whether the claim's signature is the key's (an event without a key signed nothing)."""
    if not public_key or len(public_key) != 32:
        return False
    try:
        _public_key(bytes(public_key)).verify(claim.signature, CONTEXT + claim.signed_part)
    except InvalidSignature:
        return False
    return True


def verify_ticket(payload: str, event_id: int, public_key: bytes | None,
                  key_of_event: Callable[[int], bytes | None] | None = None) -> TicketClaim:
    """The claim of a genuine ticket of event `event_id`, checked with that event's public key
    (what a tablet can do offline); raises InvalidTicket with the reason otherwise.

    A payload naming another event is OTHER_EVENT; given `key_of_event` (the server has every
    event's key), it is OTHER_EVENT only if that event's key verifies it, else FORGED.
    """
    claim = read_ticket(payload)
    if claim.event_id != event_id:
        if key_of_event is not None:
            other_key = key_of_event(claim.event_id)
            if other_key is None or not signature_matches(claim, other_key):
                raise InvalidTicket(TicketProblem.FORGED)
        raise InvalidTicket(TicketProblem.OTHER_EVENT)
    if not signature_matches(claim, public_key):
        raise InvalidTicket(TicketProblem.FORGED)
    return claim
