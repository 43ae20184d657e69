"""Sending one e-mail through the configured SMTP server.

Features do not call this from a request: they write an outbox row and a task sends it, so a
slow or absent mail server never slows a page and nothing is lost.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from flask import current_app


def build_email(to: str, subject: str, text: str, html: str | None = None, *,
                inline_images: Sequence[tuple[str, bytes, str]] = (),
                message_id: str | None = None,
                headers: Mapping[str, str] | None = None) -> EmailMessage:
    """A text e-mail, with an HTML alternative when `html` is given. `inline_images` are
    (content-id, bytes, subtype) shown by the HTML as <img src="cid:content-id">: they go in a
    multipart/related part beside it. `message_id` (default: a random one) and `headers` are
    set as given."""
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain=mail_domain())
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
        html_part = message.get_payload()[-1]
        for content_id, data, subtype in inline_images:
            html_part.add_related(data, maintype="image", subtype=subtype,
                                  cid=f"<{content_id}>", disposition="inline",
                                  filename=f"{content_id.partition('@')[0]}.{subtype}")
    return message


def mail_domain() -> str:
    """The domain of MAIL_FROM: the right-hand side of our Message-IDs."""
    return parseaddr(current_app.config["MAIL_FROM"])[1].rpartition("@")[2] or "localhost"


def smtp_connection() -> smtplib.SMTP:
    """A connection to the configured SMTP server, encrypted and logged in as configured; the
    caller sends one or many messages through it and closes it (it is a context manager)."""
    config = current_app.config
    security = config["SMTP_SECURITY"].lower()
    host, port, timeout = config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_TIMEOUT"]
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if security == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if security == "starttls":
            smtp.starttls(context=context)
        if config["SMTP_USERNAME"]:
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
    except BaseException:
        smtp.close()
        raise
    return smtp


def send_email(message: EmailMessage, smtp: smtplib.SMTP | None = None) -> None:
    """Hand `message` to the SMTP server (through `smtp` when given, else a connection of its
    own); raises smtplib/OSError errors for the caller to retry."""
    if smtp is not None:
        smtp.send_message(message)
        return
    with smtp_connection() as connection:
        connection.send_message(message)
