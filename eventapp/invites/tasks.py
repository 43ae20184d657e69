"""Celery tasks of the invitations feature: thin, idempotent wrappers around its services.

Sections are owned by topic: sending the outbox; reminders and mailings; posters.
"""

from __future__ import annotations

# --- sending the outbox ---------------------------------------------------------------------
# Importing this module (create_app does) registers these tasks and, through
# eventapp.invites.messages, the message renderers: in web processes and workers alike.
from celery import shared_task as _outbox_task  # noqa: E402

from eventapp.core import outbox  # noqa: E402
from eventapp.invites import messages as _messages  # noqa: E402,F401  (fills the registry)

#: A periodic flush that waited longer than its interval is dropped: the next one comes.
FLUSH_SECONDS = 50


@_outbox_task(name=outbox.SEND_TASK, ignore_result=True)
def send_messages(message_ids: list[int]) -> dict[str, int]:
    """Send these just-queued outbox messages (handed over after their transaction committed);
    those already sent, or being sent by another worker, are left alone."""
    return outbox.send_messages(message_ids).as_dict()


@_outbox_task(name="eventapp.invites.flush_outbox", ignore_result=True)
def flush_outbox() -> dict[str, int]:
    """Send every queued message that is due (Celery beat, every minute): first tries whose
    task was lost, retries after failures, messages of a worker that died mid-send."""
    return outbox.send_due_messages(max_seconds=FLUSH_SECONDS).as_dict()


# --- reminders and mailings -----------------------------------------------------------------
# (imports kept with their section: each section of this module has its own owner)
from celery import shared_task  # noqa: E402

from eventapp.core.jobs import JobProgress  # noqa: E402
from eventapp.core.queue import job_task  # noqa: E402
from eventapp.core.time import utcnow  # noqa: E402
from eventapp.extensions import db  # noqa: E402
from eventapp.invites import mailings, reminders  # noqa: E402
from eventapp.invites.weather import forecast_for  # noqa: E402


@shared_task(name="eventapp.invites.send_reminders")
def send_reminders() -> int:
    """Queue the day-before reminders that are due (Celery beat, every 15 minutes); returns
    how many were queued. Running it twice, or twice at once, queues nothing twice."""
    now = utcnow()
    events = reminders.events_needing_reminders(now)
    db.session.commit()  # end the read: no lock is held while the weather is looked up
    if not events:
        return 0
    forecasts = {event.id: forecast_for(event) for event in events}
    queued = reminders.queue_reminders(now, forecasts=forecasts)
    db.session.commit()
    return queued


@job_task("eventapp.invites.queue_invitations")
def queue_invitations(progress: JobProgress, mailing_id: int) -> dict[str, int]:
    """The job of a mailing: one invitation per contact of its segment, with progress."""
    return mailings.queue_invitations(progress, mailing_id)


# --- posters --------------------------------------------------------------------------------
from datetime import date  # noqa: E402

from celery import shared_task  # noqa: E402,F811
from eventapp.invites.posters import regenerate_posters as _regenerate_posters  # noqa: E402


@shared_task(name="eventapp.invites.regenerate_posters")
def regenerate_posters(today: str | None = None) -> dict[str, int]:
    """Draw today's countdown posters ahead of the first download and delete older days'
    (Celery beat, daily). `today` (YYYY-MM-DD) overrides each event's own date. Running it
    again draws nothing twice: posters already drawn are found in the cache."""
    run = _regenerate_posters(date.fromisoformat(today) if today else None)
    return {"posters": run.posters, "drawn": run.drawn, "removed": run.removed}
