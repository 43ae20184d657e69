"""The weather in reminders: the Open-Meteo adapter against a real local HTTP server, and the
organiser's note whenever there is no usable forecast."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask_babel import force_locale

from eventapp.events.models import Event
from eventapp.invites.weather import (Forecast, OpenMeteoProvider, OrganiserNoteProvider,
                                      configured_providers, forecast_for)

pytestmark = pytest.mark.single_db  # no database work: the app is only for config and language

# 2026-03-12 01:30 UTC is Thursday 09:30 in Shanghai; the forecast day is the local date.
STARTS = datetime(2026, 3, 12, 1, 30, tzinfo=timezone.utc)
DAY = "2026-03-12"


def open_meteo_body(*, high: float = 18.2, low: float = 11.6, rain: int | None = 60,
                    code: int = 61, unit: str = "°C", day: str = DAY) -> dict[str, Any]:
    """A response shaped as Open-Meteo's /v1/forecast answers a daily request."""
    return {
        "latitude": 31.25, "longitude": 121.5, "generationtime_ms": 0.05,
        "utc_offset_seconds": 28800, "timezone": "Asia/Shanghai", "timezone_abbreviation": "CST",
        "elevation": 12.0,
        "daily_units": {"time": "iso8601", "temperature_2m_max": unit,
                        "temperature_2m_min": unit, "precipitation_probability_max": "%",
                        "weather_code": "wmo code"},
        "daily": {"time": [day], "temperature_2m_max": [high], "temperature_2m_min": [low],
                  "precipitation_probability_max": [rain], "weather_code": [code]},
    }


@dataclass
class ForecastServer:
    """A real HTTP server on loopback that answers as the test tells it to."""

    url: str
    status: int = 200
    body: bytes = b""
    delay: float = 0.0
    requests: list[dict[str, list[str]]] = field(default_factory=list)

    def answer(self, body: Any, status: int = 200, delay: float = 0.0) -> None:
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.status, self.delay = status, delay


@pytest.fixture
def forecast_server() -> Iterator[ForecastServer]:
    state: dict[str, ForecastServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            server = state["server"]
            server.requests.append({"path": [urlsplit(self.path).path],
                                    **parse_qs(urlsplit(self.path).query)})
            time.sleep(server.delay)
            try:
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                self.close_connection = True

        def log_message(self, *_args: Any) -> None:
            """Quiet: no access log of the fake server in the test output."""

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state["server"] = ForecastServer(f"http://127.0.0.1:{httpd.server_port}/v1/forecast")
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield state["server"]
    finally:
        httpd.shutdown()
        httpd.server_close()


def venue_event(*, latitude: float | None = 31.2304, longitude: float | None = 121.4737,
                note: str = "Hall A is air-conditioned: bring a light jacket.") -> Event:
    return Event(id=7, slug="expo", title="Expo", starts_at=STARTS, ends_at=STARTS,
                 timezone="Asia/Shanghai", latitude=latitude, longitude=longitude,
                 weather_note=note)


@pytest.fixture
def weather_app(app: Any, forecast_server: ForecastServer) -> Iterator[Any]:
    app.config["WEATHER_URL"] = forecast_server.url
    with app.test_request_context(), force_locale("en"):
        yield app


def test_a_forecast_is_read_from_the_daily_forecast(weather_app, forecast_server):
    forecast_server.answer(open_meteo_body())
    forecast = forecast_for(venue_event())
    assert forecast == Forecast(day=date(2026, 3, 12), low_c=11.6, high_c=18.2, rain_chance=60,
                                weather_code=61)
    assert forecast.describe() == "Forecast for Thu: 12–18 °C, light rain, 60% chance of rain"


def test_the_request_asks_for_the_venue_and_the_events_local_day(weather_app, forecast_server):
    forecast_server.answer(open_meteo_body())
    forecast_for(venue_event())
    (query,) = forecast_server.requests
    assert query["path"] == ["/v1/forecast"]
    assert (query["latitude"], query["longitude"]) == (["31.2304"], ["121.4737"])
    assert query["daily"] == ["temperature_2m_max,temperature_2m_min,"
                              "precipitation_probability_max,weather_code"]
    assert query["timezone"] == ["Asia/Shanghai"]
    assert query["start_date"] == query["end_date"] == [DAY]
    assert query["temperature_unit"] == ["celsius"]


def test_query_parameters_of_the_configured_url_are_kept(weather_app, forecast_server):
    forecast_server.answer(open_meteo_body())
    forecast_for(venue_event(), [OpenMeteoProvider(forecast_server.url + "?apikey=k123")])
    assert forecast_server.requests[0]["apikey"] == ["k123"]


def test_fahrenheit_answers_are_shown_in_celsius(weather_app, forecast_server):
    forecast_server.answer(open_meteo_body(high=64.4, low=50.0, unit="°F"))
    forecast = forecast_for(venue_event())
    assert (forecast.low_c, forecast.high_c) == (10.0, 18.0)
    assert "10–18 °C" in forecast.describe()


def test_an_unknown_temperature_unit_falls_back_to_the_note(weather_app, forecast_server):
    forecast_server.answer(open_meteo_body(unit="K"))
    assert forecast_for(venue_event()).describe() == venue_event().weather_note


@pytest.mark.parametrize(("code", "words"), [
    (0, "clear sky"), (2, "partly cloudy"), (45, "fog"), (63, "rain"), (75, "heavy snow"),
    (81, "showers"), (95, "thunderstorms"), (99, "thunderstorms with heavy hail")])
def test_wmo_weather_codes_become_words(weather_app, forecast_server, code, words):
    forecast_server.answer(open_meteo_body(code=code, rain=None))
    assert forecast_for(venue_event()).describe() == f"Forecast for Thu: 12–18 °C, {words}"


def test_an_unknown_weather_code_leaves_the_temperatures(weather_app, forecast_server):
    forecast_server.answer(open_meteo_body(code=42, rain=5))
    assert (forecast_for(venue_event()).describe()
            == "Forecast for Thu: 12–18 °C, 5% chance of rain")


def test_the_forecast_reads_in_chinese_for_chinese_recipients(weather_app, forecast_server):
    forecast_server.answer(open_meteo_body())
    forecast = forecast_for(venue_event())
    with force_locale("zh_CN"):
        text = forecast.describe()
    assert "周四" in text and "12–18 °C" in text and "，" in text


def test_a_slow_service_times_out_and_the_note_is_used(weather_app, forecast_server):
    forecast_server.answer(open_meteo_body(), delay=2.0)
    provider = OpenMeteoProvider(forecast_server.url, timeout=0.3)
    started = time.monotonic()
    forecast = forecast_for(venue_event(), [provider, OrganiserNoteProvider()])
    assert forecast == Forecast(note="Hall A is air-conditioned: bring a light jacket.")
    assert time.monotonic() - started < 1.9  # gave up instead of waiting for the answer


def test_the_default_timeout_is_short():
    assert OpenMeteoProvider("http://127.0.0.1/").timeout <= 3


@pytest.mark.parametrize("body", [b"{not json", b"", b'{"daily": {"time": "2026-03-12"}}',
                                  b'["a list"]', "天气".encode()])
def test_a_malformed_answer_falls_back_to_the_note(weather_app, forecast_server, body):
    forecast_server.answer(body)
    assert forecast_for(venue_event()).is_note


def test_an_error_answer_falls_back_to_the_note(weather_app, forecast_server):
    forecast_server.answer({"error": True, "reason": "Latitude must be in range"}, status=400)
    assert forecast_for(venue_event()).note.startswith("Hall A")
    forecast_server.answer(b"busy", status=503)
    assert forecast_for(venue_event()).is_note


def test_a_day_missing_from_the_answer_falls_back_to_the_note(weather_app, forecast_server):
    forecast_server.answer(open_meteo_body(day="2026-03-13"))
    assert forecast_for(venue_event()).is_note


def test_without_a_url_no_request_is_made_and_the_note_is_used(weather_app, forecast_server):
    forecast_server.answer(open_meteo_body())
    weather_app.config["WEATHER_URL"] = ""
    assert [type(p) for p in configured_providers()] == [OrganiserNoteProvider]
    assert forecast_for(venue_event()).is_note
    assert forecast_server.requests == []


def test_without_coordinates_no_request_is_made_and_the_note_is_used(weather_app,
                                                                       forecast_server):
    forecast_server.answer(open_meteo_body())
    assert forecast_for(venue_event(latitude=None)).is_note
    assert forecast_for(venue_event(longitude=None)).is_note
    assert forecast_server.requests == []


def test_no_forecast_and_no_note_is_no_weather(weather_app, forecast_server):
    forecast_server.answer(b"{}")
    assert forecast_for(venue_event(note="  ")) is None


def test_a_forecast_survives_the_outbox_payload(weather_app):
    forecast = Forecast(day=date(2026, 3, 12), low_c=11.6, high_c=18.2, rain_chance=None,
                        weather_code=3)
    stored = json.loads(json.dumps(forecast.to_payload()))
    assert Forecast.from_payload(stored) == forecast
    assert Forecast.from_payload({"day": "not a date"}) is None
    assert Forecast.from_payload(None) is None
