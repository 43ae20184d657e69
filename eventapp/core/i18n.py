"""Languages: Simplified Chinese and English, chosen per person.

Order of choice: the signed-in user's setting; the choice made with the language switch (kept in
the session, so attendees without an account can switch too); the browser's Accept-Language;
DEFAULT_LOCALE.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import phonenumbers
from babel import Locale
from babel.numbers import format_decimal, format_percent
from babel.dates import format_skeleton, format_time, get_timezone_gmt
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user

from eventapp.core.money import format_money
from eventapp.core.time import zone

#: locale code -> its own name, as shown in the language switch.
LOCALES: dict[str, str] = {"zh_CN": "简体中文", "en": "English"}
SESSION_KEY = "locale"


def select_locale() -> str:
    if not has_request_context():  # CLI and tasks: the operator's default (tasks that write to
        return current_app.config["BABEL_DEFAULT_LOCALE"]  # a person use force_locale)
    user_locale = getattr(current_user, "locale", None)
    if user_locale in LOCALES:
        return user_locale
    chosen = session.get(SESSION_KEY)
    if chosen in LOCALES:
        return chosen
    return browser_locale(request.accept_languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


#: Each language as Babel's Locale, parsed once: Flask-Babel would parse the code again on
#: every request (a gate scan's answer is in the reader's language).
_PARSED = {code: Locale.parse(code) for code in LOCALES}


def request_locale() -> Locale:
    """`select_locale`'s choice as a Locale (Flask-Babel's locale selector)."""
    code = select_locale()
    return _PARSED.get(code) or Locale.parse(code)


def browser_locale(accepted: Iterable[tuple[str, float]]) -> str | None:
    """The first language the browser accepts that we have, by its primary subtag: any Chinese
    (zh, zh-CN, zh-Hans-CN as Safari sends, even zh-TW) gets Simplified Chinese, any English
    gets English. Werkzeug's best_match misses the script-tagged forms."""
    for tag, quality in accepted:
        if quality <= 0:
            continue
        primary = tag.replace("_", "-").split("-")[0].lower()
        if primary == "zh":
            return "zh_CN"
        if primary == "en":
            return "en"
    return None


def html_lang() -> str:
    """The BCP 47 tag for <html lang>: zh-Hans-CN or en."""
    return "zh-Hans-CN" if current_locale_code() == "zh_CN" else "en"


#: Date part of each width; the time is always the locale's short time (no seconds).
_DATE_SKELETONS = {"short": "yMd", "medium": "yMMMd", "full": "yMMMEd"}


def local_datetime(moment: datetime | None, timezone_name: str, width: str = "medium") -> str:
    """`moment` as a person reads it: in the given timezone and the current language, to the
    minute; `full` adds the weekday and the UTC offset (for visitors from other zones)."""
    if moment is None:
        return ""
    locale, tzinfo = get_locale(), zone(timezone_name)
    date = format_skeleton(_DATE_SKELETONS[width], moment, tzinfo=tzinfo, locale=locale)
    time = format_time(moment, "short", tzinfo=tzinfo, locale=locale)
    text = locale.datetime_formats["short"].format(time, date)
    if width == "full":
        text += f" ({get_timezone_gmt(moment.astimezone(tzinfo), 'long', locale=locale)})"
    return text


def local_phone(e164: str | None) -> str:
    """A stored E.164 number grouped for reading: +86 132 7060 7353."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def local_number(value: int | float | Decimal | None) -> str:
    """1160 → "1,160" in the reader's language."""
    return "" if value is None else format_decimal(value, locale=get_locale())


def local_percent(value: float | None) -> str:
    """0.6402 → "64%" (or "64.0%" below 10%); "–" when there is nothing to divide by."""
    if value is None:
        return "–"
    return format_percent(value, "#,##0.0%" if value < 0.1 else "#,##0%", locale=get_locale())


def current_locale_code() -> str:
    """The current language as a key of LOCALES (Babel calls zh_CN "zh_Hans_CN")."""
    return "zh_CN" if str(get_locale()).startswith("zh") else "en"


def local_money(amount: Decimal | None, currency: str) -> str:
    return format_money(amount or Decimal(0), currency, str(get_locale()))


def label(text: str) -> str:
    """A label before its value in plain text: "When: " in English, "时间：" in Chinese (the
    full-width colon carries its own space)."""
    return f"{text}：" if current_locale_code() == "zh_CN" else f"{text}: "


def init_i18n(app: Flask) -> None:
    @app.context_processor
    def _i18n_context() -> dict[str, Any]:
        return {"LOCALES": LOCALES, "current_locale": current_locale_code(), "html_lang": html_lang}

    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(local_money, "money")
    app.add_template_filter(local_phone, "phone")
    app.add_template_filter(local_number, "number")
    app.add_template_filter(local_percent, "percent")
    app.add_template_filter(label, "label")
