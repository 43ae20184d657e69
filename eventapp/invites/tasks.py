"""Celery tasks of the invitations feature: thin, idempotent wrappers around its services.

Sections are owned by topic: sending the outbox; reminders and mailings; posters.
"""

from __future__ import annotations

# --- sending the outbox ---------------------------------------------------------------------

# --- reminders and mailings -----------------------------------------------------------------

# --- posters --------------------------------------------------------------------------------
