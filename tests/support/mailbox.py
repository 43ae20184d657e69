"""A real SMTP server (aiosmtpd) on loopback for tests, and what it received.

    with running_mailbox() as mailbox:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox.port)
        ...
        mailbox.wait_for(1)
        message = mailbox.messages()[0]   # an email.message.EmailMessage

`rcpt_delay` slows every RCPT TO (the stage before DATA) down, so a test can catch a sender in
the middle of a message; `refuse` answers 550 to the given addresses.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from eventapp.testing.services import LOOPBACK, free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self, *, rcpt_delay: float = 0.0, refuse: tuple[str, ...] = ()) -> None:
        self.rcpt_delay = rcpt_delay
        self.refuse = set(refuse)
        self.received: list[Received] = []
        self.connections = 0
        #: A sender is waiting for our answer to RCPT TO (before DATA) right now.
        self.in_rcpt = False
        self.port = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,  # noqa: N802
                          responses: list[str]) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        if self.rcpt_delay:
            self.in_rcpt = True
            try:
                await asyncio.sleep(self.rcpt_delay)
            finally:
                self.in_rcpt = False
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.content))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(r.content, policy=email.policy.default)  # type: ignore[misc]
                for r in self.received]

    def recipients(self) -> list[str]:
        return [address for r in self.received for address in r.rcpt_tos]

    def wait_for(self, count: int, timeout: float = 10) -> None:
        """Wait until `count` messages have arrived (the server runs in a thread of its own)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, (
            f"{len(self.received)} messages arrived within {timeout}s, expected {count}")


@contextmanager
def running_mailbox(mailbox: Mailbox | None = None) -> Iterator[Mailbox]:
    mailbox = mailbox or Mailbox()
    mailbox.port = free_port()
    controller = Controller(mailbox, hostname=LOOPBACK, port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
