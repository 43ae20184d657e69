"""Time helpers: the database holds aware UTC; people see their event's timezone."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def in_zone(moment: datetime, zone_name: str) -> datetime:
    """`moment` as wall-clock time in the named IANA zone."""
    return moment.astimezone(zone(zone_name))


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))
