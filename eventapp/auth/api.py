"""/api/v1/me: who the token or session belongs to, and their events."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from eventapp.core.api import api_blueprint
from eventapp.auth.schemas import MeSchema
from eventapp.events.services import events_of
from eventapp.extensions import csrf

blp = api_blueprint("me_api", __name__, "/me", "The signed-in user", csrf)


@blp.get("")
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """The current user and the events they work on, with their role on each."""
    return {
        "id": current_user.id, "email": current_user.email, "name": current_user.name,
        "is_admin": current_user.is_admin, "locale": current_user.locale,
        "events": [{"slug": e.slug, "title": e.title, "role": role}
                   for e, role in events_of(current_user)],
    }
