"""`api`: the JSON API under gunicorn on the demo event, with a real API token.

Two phases, each after a short warm-up:
- reads: `GET /api/v1/events/<slug>`: token lookup, role check, the event's summary figures;
- writes: `POST /api/v1/events/<slug>/channels`, an "ads" channel with a unique name each
  time, its tracking code made by the server (so concurrent writers compete for codes).
"""

from __future__ import annotations

import sqlalchemy as sa

from bench.harness import Database, Options, demo_site, emit, log, worker_rss_mib
from bench.load import HttpRequest, emit_load, measure

NAME = "api"
DESCRIPTION = ("JSON API under gunicorn on the demo event: event figures read, channels "
               "written")
CLIENTS = 8
SECONDS = 10.0
WRITE_NAME = "Benchmark ads"


def run(options: Options) -> None:
    """Measure reads, then writes, then the workers' memory; print the figures."""
    phase = options.phase(clients=CLIENTS, duration=SECONDS)
    with demo_site(options) as site:
        event_path = f"/api/v1/events/{site.event_slug}"
        reads = measure(site, lambda _serial: HttpRequest.get(event_path, site.token),
                        phase, "reads")
        writes = measure(
            site, lambda serial: HttpRequest.post_json(
                f"{event_path}/channels",
                {"name": f"{WRITE_NAME} {serial}", "kind": "ads", "spend": "10.00"},
                site.token),
            phase, "writes")
        rss = worker_rss_mib(site.server)
        _check_channels_written(site.database, site.event_slug, writes.succeeded)
    emit_load(NAME, "reads", reads)
    emit_load(NAME, "writes", writes)
    emit(NAME, "errors", reads.error_count + writes.error_count, "requests")
    emit(NAME, "rss_mib_per_worker", max(rss.values(), default=0.0), "MiB")


def _check_channels_written(database: Database, slug: str, answered: int) -> None:
    """Say on stderr whether every write answered 201 left exactly one channel behind."""
    from eventapp.events.models import Channel, Event
    from eventapp.extensions import db

    with database.app_context():
        written = db.session.scalar(
            sa.select(sa.func.count()).select_from(Channel).join(Event)
            .where(Event.slug == slug, Channel.name.startswith(WRITE_NAME)))
    verdict = "as expected" if written == answered else "MISMATCH"
    log(f"writes: {answered} answered 201, {written} channels stored: {verdict}")
