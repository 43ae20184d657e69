"""Sending one text message (SMS) through the configured backend.

SMS_BACKEND picks it:
- `log` (the default): the text is written to the app log at INFO and counts as sent, so a
  demo or a development machine works without a gateway contract;
- `module:callable`: any function taking `(phone, text)`, with phone in E.164
  (`+8613812345678`). It returns when the gateway has accepted the text and raises any
  exception otherwise; the outbox then retries with backoff, as for e-mail.

A gateway adapter stays a few lines in the operator's own module (their account, their
signature template), e.g. `SMS_BACKEND=mycompany.sms:send`.

Like e-mail, features never call this from a request: they queue an outbox message.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from functools import lru_cache

from flask import current_app

log = logging.getLogger(__name__)

SmsBackend = Callable[[str, str], object]


class SmsBackendUnavailable(RuntimeError):
    """SMS_BACKEND names nothing that can be called: a configuration mistake."""


def log_backend(phone: str, text: str) -> None:
    """Write the text to the app log instead of sending it (no gateway configured)."""
    log.info("SMS to %s (SMS_BACKEND=log, not sent to a gateway): %s", phone, text)


@lru_cache(maxsize=8)
def load_backend(spec: str) -> SmsBackend:
    """The backend SMS_BACKEND names: `log`, or `module:callable`."""
    spec = spec.strip()
    if spec in ("", "log"):
        return log_backend
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise SmsBackendUnavailable(
            f"SMS_BACKEND={spec!r}: write `log` or `module:callable`")
    try:
        backend = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise SmsBackendUnavailable(f"SMS_BACKEND={spec!r} cannot be loaded: {error}") from None
    if not callable(backend):
        raise SmsBackendUnavailable(f"SMS_BACKEND={spec!r} is not callable")
    return backend


def send_sms(phone: str, text: str) -> None:
    """Hand the text to the configured backend; raises whatever the backend raises."""
    load_backend(current_app.config["SMS_BACKEND"])(phone, text)
