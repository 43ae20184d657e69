"""/api/v1/events: the caller's events, channels (marketers) and registrations (marketers, sales)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import g
from flask_login import current_user
from flask_smorest.pagination import PaginationParameters

from eventapp.core.api import api_blueprint
from eventapp.events import services
from eventapp.events.access import (ANY_ROLE, PEOPLE_ROLES, SETUP_ROLES, event_role_required,
                                    sees_spend)
from eventapp.events.models import Event
from eventapp.events.schemas import (ChannelFiguresSchema, ChannelPatchSchema, ChannelSchema,
                                     EventDetailSchema, EventSchema, RegistrationQuerySchema,
                                     RegistrationSchema)
from eventapp.extensions import csrf, db

blp = api_blueprint("events_api", __name__, "/events", "Events, channels and registrations",
                    csrf)

# The role check sits right under the route, before the body or query is parsed: a caller
# without the role gets 403 (an unknown event 404), never a 422 about what they sent.


@blp.get("")
@blp.response(200, EventSchema(many=True))
def list_events() -> list[Event]:
    """The events the caller works on (every event for an admin)."""
    return [event for event, _role in services.events_of(current_user)]


@blp.get("/<slug>")
@blp.response(200, EventDetailSchema)
@event_role_required(*ANY_ROLE)
def get_event(event: Event) -> dict[str, Any]:
    """One event with its headline figures. Any role on the event's team; `spend` is null
    unless the caller is a marketer (or an admin)."""
    fields = {name: getattr(event, name) for name in EventSchema().fields}
    summary = asdict(services.summaries([event.id])[event.id])
    if not sees_spend(current_user, g.get("event_role")):
        summary["spend"] = None
    return {**fields, "summary": summary}


@blp.get("/<slug>/channels")
@blp.response(200, ChannelFiguresSchema(many=True))
@event_role_required(*SETUP_ROLES)
def list_channels(event: Event) -> list[dict[str, Any]]:
    """The event's channels with visitors, registrations and check-ins. Marketers only."""
    fields = ChannelSchema().fields  # values, not dumped: the response schema dumps them once
    return [{**{name: getattr(row.channel, name) for name in fields}, "visitors": row.visitors,
             "registrations": row.registrations, "checked_in": row.checked_in}
            for row in services.channel_figures(event) if row.channel is not None]


@blp.post("/<slug>/channels")
@event_role_required(*SETUP_ROLES)
@blp.arguments(ChannelSchema)
@blp.response(201, ChannelSchema)
def create_channel(data: dict[str, Any], event: Event) -> Any:
    """Add a channel. Marketers only."""
    channel = services.create_channel(event, name=data["name"], kind=data["kind"].value,
                                      code=data.get("code"), spend=data.get("spend", 0))
    db.session.commit()
    return channel


@blp.patch("/<slug>/channels/<int:channel_id>")
@event_role_required(*SETUP_ROLES)
@blp.arguments(ChannelPatchSchema)
@blp.response(200, ChannelSchema)
def update_channel(data: dict[str, Any], event: Event, channel_id: int) -> Any:
    """Change a channel's name, kind, code or spend. Marketers only."""
    if "kind" in data:
        data["kind"] = data["kind"].value
    channel = services.update_channel(event, channel_id, **data)
    db.session.commit()
    return channel


@blp.get("/<slug>/registrations")
@event_role_required(*PEOPLE_ROLES)
@blp.arguments(RegistrationQuerySchema, location="query")
@blp.response(200, RegistrationSchema(many=True))
@blp.paginate()
def list_registrations(query: dict[str, Any], event: Event,
                       pagination_parameters: PaginationParameters) -> list[Any]:
    """The event's registrations, newest first, with contact details. Marketers and sales."""
    status = query["status"].value if query["status"] else None
    page = services.find_attendees(event, query["q"], status=status,
                                   page=pagination_parameters.page,
                                   per_page=pagination_parameters.page_size)
    pagination_parameters.item_count = page.total
    return list(page.items)
