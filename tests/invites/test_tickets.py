"""Signed tickets: a ticket's QR payload is 124 characters of base32 (compact alphanumeric QR
mode), signed with its event's Ed25519 key, and checked with nothing but the public key, as a
tablet at the gate does offline. Whatever is not a genuine ticket of the event is refused with
the reason the gate shows."""

from __future__ import annotations

import base64
import re
import secrets

import pytest

from eventapp.invites.tickets import (PAYLOAD_CHARS, InvalidTicket, TicketProblem, new_key_pair,
                                      new_serial, read_ticket, sign_ticket, verify_ticket)

pytestmark = pytest.mark.single_db  # signing needs the app's secret, not its database
BASE32 = re.compile(r"^[A-Z2-7]+$")
EVENT_ID = 42


@pytest.fixture
def keys(app):
    """(public key, encrypted private key) of an event, and those of another event."""
    with app.app_context():
        yield new_key_pair(), new_key_pair()


def signed(app, event_id: int, private_key: bytes, serial: int | None = None) -> str:
    with app.app_context():
        return sign_ticket(event_id, serial or new_serial(), private_key)


def problem_of(payload: str, public_key: bytes, event_id: int = EVENT_ID, **kwargs) -> str:
    with pytest.raises(InvalidTicket) as refused:
        verify_ticket(payload, event_id, public_key, **kwargs)
    assert str(refused.value.message) == str(refused.value)
    return refused.value.problem


def flip(payload: str, position: int) -> str:
    """The payload with one base32 character changed to another base32 character."""
    replacement = "B" if payload[position] == "A" else "A"
    return payload[:position] + replacement + payload[position + 1:]


def test_a_signed_ticket_verifies_with_the_events_public_key(app, keys):
    (public, private), _other = keys
    payload = signed(app, EVENT_ID, private, serial=123456789)

    claim = verify_ticket(payload, EVENT_ID, public)

    assert (claim.event_id, claim.serial) == (EVENT_ID, 123456789)
    assert len(payload) == PAYLOAD_CHARS == 124
    assert BASE32.match(payload), "upper-case base32: a QR code's compact alphanumeric mode"


def test_each_ticket_is_different_and_unguessable(app, keys):
    (_public, private), _other = keys
    payloads = {signed(app, EVENT_ID, private) for _ in range(50)}
    assert len(payloads) == 50


def expected_problems(position: int) -> tuple[set[str], set[str]]:
    """What a changed character at `position` is taken for (offline; on the server, which
    knows every event's key). Characters 0-1 hold the version, 1-7 the event id, the rest the
    serial and the signature; the last also 4 unused bits."""
    malformed, forged = TicketProblem.MALFORMED, TicketProblem.FORGED
    if position == 0:
        return {malformed}, {malformed}
    if position <= 7:  # another event id: offline, only the server can tell it is forged
        return {TicketProblem.OTHER_EVENT, malformed}, {forged, malformed}
    if position == PAYLOAD_CHARS - 1:
        return {forged, malformed}, {forged, malformed}
    return {forged}, {forged}


def test_a_payload_changed_in_any_one_character_is_refused(app, keys):
    (public, private), _other = keys
    payload = signed(app, EVENT_ID, private)
    server_keys = {EVENT_ID: public}.get
    wrong = []
    for position in range(PAYLOAD_CHARS):
        tampered = flip(payload, position)
        offline, on_server = expected_problems(position)
        found = (problem_of(tampered, public),
                 problem_of(tampered, public, key_of_event=server_keys))
        if found[0] not in offline or found[1] not in on_server:
            wrong.append((position, found))
    assert wrong == []


def test_a_ticket_has_one_spelling_only(app, keys):
    """The last character's 4 unused bits are zero: the same bytes spelt otherwise (which a
    lax decoder accepts) are refused, so a ticket cannot be shown under two codes."""
    (public, private), _other = keys
    payload = signed(app, EVENT_ID, private)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    last = alphabet.index(payload[-1])
    for unused_bits in range(1, 16):
        respelt = payload[:-1] + alphabet[last | unused_bits]
        assert base64.b32decode(respelt + "====") == base64.b32decode(payload + "====")
        assert problem_of(respelt, public) == TicketProblem.MALFORMED


def test_a_ticket_signed_with_another_key_is_forged(app, keys):
    (public, _private), (_other_public, other_private) = keys
    assert problem_of(signed(app, EVENT_ID, other_private), public) == TicketProblem.FORGED


def test_a_genuine_ticket_of_another_event_is_named_as_such(app, keys):
    (public, _private), (other_public, other_private) = keys
    payload = signed(app, 7, other_private)

    assert problem_of(payload, public) == TicketProblem.OTHER_EVENT
    # The server holds every event's key: it tells a genuine one from a forged one.
    known = {7: other_public, EVENT_ID: public}
    assert problem_of(payload, public, key_of_event=known.get) == TicketProblem.OTHER_EVENT
    assert problem_of(payload, public,
                      key_of_event={7: public}.get) == TicketProblem.FORGED
    assert problem_of(payload, public, key_of_event=lambda _id: None) == TicketProblem.FORGED
    assert problem_of(flip(payload, 40), public,
                      key_of_event=known.get) == TicketProblem.FORGED


@pytest.mark.parametrize("scanned", [
    "", "   ", "hello", secrets.token_hex(62), "https://example.com/t/abc",
    "A" * 123, "A" * 125, "0" * 124, "1" * 124, "8" * 124, "=" * 124,
    "中" * 124, "A" * 120 + "====",
])
def test_what_is_not_a_ticket_code_is_malformed(app, keys, scanned):
    (public, _private), _other = keys
    assert problem_of(scanned, public) == TicketProblem.MALFORMED


def test_a_payload_of_the_wrong_version_is_malformed(app, keys):
    (public, private), _other = keys
    raw = base64.b32decode(signed(app, EVENT_ID, private) + "====")
    other_version = base64.b32encode(bytes([2]) + raw[1:]).decode().rstrip("=")
    assert problem_of(other_version, public) == TicketProblem.MALFORMED


def test_a_url_around_a_ticket_code_is_malformed(app, keys):
    (public, private), _other = keys
    payload = signed(app, EVENT_ID, private)
    assert problem_of(f"https://example.com/t/{payload}", public) == TicketProblem.MALFORMED
    assert problem_of(payload[:-1], public) == TicketProblem.MALFORMED


def test_a_code_typed_in_lower_case_or_with_spaces_around_is_the_same_ticket(app, keys):
    """Base32 does not care about case, and the signature covers the bytes: a scanner that
    types in lower case (caps lock) or adds a newline reads the same, genuine ticket."""
    (public, private), _other = keys
    payload = signed(app, EVENT_ID, private, serial=99)
    for variant in (payload.lower(), f"  {payload}\n", payload[:60].lower() + payload[60:]):
        assert verify_ticket(variant, EVENT_ID, public).serial == 99
    assert read_ticket(payload.lower()) == read_ticket(payload)
    assert problem_of(flip(payload, 50).lower(), public) == TicketProblem.FORGED
