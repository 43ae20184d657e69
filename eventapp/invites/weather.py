"""The weather in the day-before reminder: a pluggable provider.

A provider answers `forecast(event) -> Forecast | None`. Two come with eventapp:

- `OpenMeteoProvider`: the daily forecast of the venue's coordinates from an Open-Meteo
  compatible API, used only when WEATHER_URL is set (the app makes no external request
  otherwise) and the event has a latitude and longitude;
- `OrganiserNoteProvider`: what the organiser wrote about the weather (`Event.weather_note`).

`forecast_for(event)` asks them in that order. A slow, failing or strange forecast service
never holds up a reminder: after a short timeout the organiser's note is used instead.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Protocol
from urllib.error import URLError
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from urllib.request import Request, urlopen

from babel.dates import format_date
from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from eventapp.core.i18n import current_locale_code
from eventapp.core.time import in_zone
from eventapp.events.models import Event

log = logging.getLogger(__name__)

#: Seconds to wait for the forecast service (per connection step) before using the note.
TIMEOUT_SECONDS = 3.0
#: A daily forecast of one day is a few hundred bytes; anything far larger is not one.
MAX_RESPONSE_BYTES = 256 * 1024
DAILY_FIELDS = ("temperature_2m_max", "temperature_2m_min", "precipitation_probability_max",
                "weather_code")

#: WMO weather interpretation codes (as Open-Meteo uses them) in a few words.
WMO_WORDS: dict[int, Any] = {
    0: _l("clear sky"), 1: _l("mainly clear"), 2: _l("partly cloudy"), 3: _l("overcast"),
    45: _l("fog"), 48: _l("freezing fog"),
    51: _l("light drizzle"), 53: _l("drizzle"), 55: _l("heavy drizzle"),
    56: _l("freezing drizzle"), 57: _l("freezing drizzle"),
    61: _l("light rain"), 63: _l("rain"), 65: _l("heavy rain"),
    66: _l("freezing rain"), 67: _l("freezing rain"),
    71: _l("light snow"), 73: _l("snow"), 75: _l("heavy snow"), 77: _l("snow grains"),
    80: _l("light showers"), 81: _l("showers"), 82: _l("violent showers"),
    85: _l("snow showers"), 86: _l("heavy snow showers"),
    95: _l("thunderstorms"), 96: _l("thunderstorms with hail"),
    99: _l("thunderstorms with heavy hail"),
}


@dataclass(frozen=True)
class Forecast:
    """The weather of the event's day: a forecast (day, temperatures, sky, chance of rain), or
    only the organiser's note about it."""

    day: date | None = None
    low_c: float | None = None
    high_c: float | None = None
    rain_chance: int | None = None
    weather_code: int | None = None
    note: str = ""

    @property
    def is_note(self) -> bool:
        return self.day is None

    def describe(self) -> str:
        """One line in the current language: "Forecast for Thu: 12–18 °C, light rain, 60%
        chance of rain", or the organiser's note."""
        if self.is_note:
            return self.note
        assert self.day is not None and self.low_c is not None and self.high_c is not None
        parts = [f"{round(self.low_c)}–{round(self.high_c)} °C"]
        if self.weather_code in WMO_WORDS:
            parts.append(str(WMO_WORDS[self.weather_code]))
        if self.rain_chance is not None:
            parts.append(_("%(chance)s%% chance of rain", chance=self.rain_chance))
        separator = "，" if current_locale_code() == "zh_CN" else ", "
        return _("Forecast for %(day)s: %(details)s",
                 day=format_date(self.day, "EEE", locale=get_locale()),
                 details=separator.join(parts))

    def to_payload(self) -> dict[str, Any]:
        """A JSON-safe form, to keep in an outbox message's payload."""
        data = asdict(self)
        data["day"] = self.day.isoformat() if self.day else None
        return data

    @classmethod
    def from_payload(cls, data: Any) -> Forecast | None:
        """The forecast kept by `to_payload`, or None if `data` is not one."""
        if not isinstance(data, dict):
            return None
        try:
            values = {key: data.get(key) for key in ("low_c", "high_c", "rain_chance",
                                                     "weather_code")}
            day = date.fromisoformat(data["day"]) if data.get("day") else None
            return cls(day=day, note=str(data.get("note") or ""), **values)
        except (TypeError, ValueError):
            return None


class WeatherProvider(Protocol):
    def forecast(self, event: Event) -> Forecast | None:
        """The weather of the event's first day, or None when this provider has none."""


class OrganiserNoteProvider:
    """What the organiser wrote about the weather, if anything."""

    def forecast(self, event: Event) -> Forecast | None:
        note = (event.weather_note or "").strip()
        return Forecast(note=note) if note else None


class OpenMeteoProvider:
    """The daily forecast of an Open-Meteo compatible API (`/v1/forecast`) for the venue's
    coordinates, on the event's first day in the event's timezone. Never raises: a failure is
    logged and answered with None."""

    def __init__(self, url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self.timeout = timeout

    def forecast(self, event: Event) -> Forecast | None:
        if event.latitude is None or event.longitude is None:
            return None
        day = in_zone(event.starts_at, event.timezone).date()
        try:
            body = self._fetch(self._request_url(event, day))
            return parse_daily_forecast(json.loads(body), day)
        except (OSError, URLError, ValueError, KeyError, IndexError, TypeError) as error:
            log.warning("no weather forecast for event %s (%s): %s", event.id,
                        type(error).__name__, error)
            return None

    def _request_url(self, event: Event, day: date) -> str:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"WEATHER_URL must be an http(s) URL, not {self.url!r}")
        query = dict(parse_qsl(parts.query))  # keeps an apikey= of a paid plan
        query.update(latitude=f"{event.latitude:.4f}", longitude=f"{event.longitude:.4f}",
                     daily=",".join(DAILY_FIELDS), timezone=event.timezone,
                     temperature_unit="celsius", start_date=day.isoformat(),
                     end_date=day.isoformat())
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _fetch(self, url: str) -> bytes:
        request = Request(url, headers={"Accept": "application/json",
                                        "User-Agent": "eventapp reminders"})
        with urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (scheme checked)
            body = response.read(MAX_RESPONSE_BYTES + 1)
        if len(body) > MAX_RESPONSE_BYTES:
            raise ValueError("the forecast response is too large")
        return body


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _celsius(value: float | None, unit: str) -> float | None:
    if value is None:
        return None
    if unit in ("°C", "C", "celsius"):
        return value
    if unit in ("°F", "F", "fahrenheit"):
        return (value - 32) * 5 / 9
    raise ValueError(f"unknown temperature unit {unit!r}")


def parse_daily_forecast(data: Any, day: date) -> Forecast | None:
    """The forecast for `day` from an Open-Meteo daily forecast response (None if the day or
    its temperatures are missing); raises ValueError, KeyError or TypeError on other shapes."""
    if not isinstance(data, dict) or data.get("error"):
        raise ValueError(f"the forecast service answered an error: {data!r:.200}")
    daily, units = data["daily"], data.get("daily_units") or {}
    days = list(daily["time"])
    if day.isoformat() not in days:
        return None
    index = days.index(day.isoformat())
    unit = str(units.get("temperature_2m_max", "°C"))
    high = _celsius(_number(daily["temperature_2m_max"][index]), unit)
    low = _celsius(_number(daily["temperature_2m_min"][index]), unit)
    if high is None or low is None:
        return None
    rain = _number((daily.get("precipitation_probability_max") or [None] * len(days))[index])
    code = _number((daily.get("weather_code") or [None] * len(days))[index])
    return Forecast(day=day, low_c=round(low, 1), high_c=round(high, 1),
                    rain_chance=round(rain) if rain is not None else None,
                    weather_code=int(code) if code is not None else None)


def configured_providers() -> list[WeatherProvider]:
    """The providers to ask, in order: Open-Meteo only when WEATHER_URL is set, then the
    organiser's note."""
    providers: list[WeatherProvider] = []
    url = (current_app.config.get("WEATHER_URL") or "").strip()
    if url:
        providers.append(OpenMeteoProvider(url))
    providers.append(OrganiserNoteProvider())
    return providers


def forecast_for(event: Event, providers: list[WeatherProvider] | None = None
                 ) -> Forecast | None:
    """The first answer of the providers (default: the configured ones); None when no
    provider has anything to say. Makes a network request: call it outside any database
    transaction."""
    for provider in providers if providers is not None else configured_providers():
        forecast = provider.forecast(event)
        if forecast is not None:
            return forecast
    return None
