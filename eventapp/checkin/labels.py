"""What the gate says, in the reader's language: each scan result's headline and what to do,
and the names of point kinds. The API, the tablet page (online and offline) and the audit log
use these same words."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from eventapp.checkin.models import Direction, PointKind, ScanResult

POINT_KINDS = {PointKind.ENTRANCE: _l("Entrance"), PointKind.SESSION: _l("Session room"),
               PointKind.GIFT_DESK: _l("Gift desk"), PointKind.BOOTH: _l("Booth")}
DIRECTIONS = {Direction.IN: _l("Entry"), Direction.OUT: _l("Exit")}

#: (headline, what to do) per result.
RESULTS: dict[ScanResult, tuple[Any, Any]] = {
    ScanResult.VALID: (_l("Valid"), _l("Welcome! Let the person in.")),
    ScanResult.REENTRY: (_l("Welcome back"), _l("Re-entry after leaving. Let the person in.")),
    ScanResult.EXIT: (_l("Exit recorded"), _l("Goodbye! The person is counted as gone out.")),
    ScanResult.UNDO: (_l("Undone"), _l("The scan was undone.")),
    ScanResult.ALREADY_USED: (_l("Already checked in"),
                              _l("This ticket was already used. Ask for the person's name "
                                 "and call a supervisor if it is not theirs.")),
    ScanResult.CANCELLED: (_l("Booking cancelled"),
                           _l("This booking was cancelled. Send the person to the walk-in "
                              "desk to register again.")),
    ScanResult.WAITLISTED: (_l("On the waiting list"),
                            _l("This place was never confirmed. Send the person to a "
                               "supervisor.")),
    ScanResult.UNKNOWN: (_l("Unknown ticket"),
                         _l("No booking has this ticket: it was replaced by a newer one or "
                            "removed. Ask the person for their latest ticket.")),
    ScanResult.FORGED: (_l("Forged ticket"),
                        _l("The ticket's signature is wrong: it was altered or forged. Do "
                           "not let the person in; call a supervisor.")),
    ScanResult.OTHER_EVENT: (_l("Another event's ticket"),
                             _l("This ticket is for another event. Check the person's "
                                "e-mail for the right one.")),
    ScanResult.MALFORMED: (_l("Not a ticket"),
                           _l("This code is not an eventapp ticket. Ask for the ticket QR "
                              "code from the booking e-mail or text.")),
}
GIFT_RESULTS: dict[ScanResult, tuple[Any, Any]] = {
    ScanResult.VALID: (_l("Hand out the gift"), _l("The gift is recorded as handed out.")),
    ScanResult.ALREADY_USED: (_l("Gift already given"),
                              _l("This person has already received the gift.")),
}


def result_words(result: ScanResult, *, gift: bool = False) -> tuple[str, str]:
    """(headline, what to do) for a scan result, in the reader's language."""
    return _result_words(get_locale(), result, gift)


@lru_cache(maxsize=128)
def _result_words(locale: Locale | None, result: ScanResult, gift: bool) -> tuple[str, str]:
    """`result_words` in `locale` (the current one: translated once per language, not on
    every scan)."""
    headline, advice = (GIFT_RESULTS.get(result) if gift else None) or RESULTS[result]
    return str(headline), str(advice)


def point_kind(value: str) -> Any:
    return POINT_KINDS[PointKind(value)]


def words_for_tablet() -> dict[str, Any]:
    """Every result's words, for the tablet page to show offline as it would online."""
    return {"results": {result.value: list(result_words(result)) for result in ScanResult},
            "gift": {result.value: list(result_words(result, gift=True))
                     for result in GIFT_RESULTS}}
