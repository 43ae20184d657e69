"""Queueing many outbox messages at once (reminders, a mailing's invitations), each at most
once: set-based inserts that skip any message whose `dedupe_key` is already in the outbox.

The unique constraint on `dedupe_key` is the guarantee, not a check made beforehand: two beat
runs or two job attempts inserting the same keys at the same moment end with one row each,
without an error (`INSERT ... ON CONFLICT DO NOTHING` on both databases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from eventapp.core.outbox import NEW_MESSAGES, Medium, MessageStatus, OutboxMessage
from eventapp.core.time import utcnow
from eventapp.extensions import db

#: Rows per INSERT statement (SQLite allows 32,766 bound parameters; a row uses 13).
STATEMENT_ROWS = 500


@dataclass
class OutboxRow:
    """One message to queue: what `queue_message` takes."""

    medium: Medium
    kind: str
    recipient: str
    locale: str
    dedupe_key: str
    event_id: int | None = None
    contact_id: int | None = None
    registration_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueuedMessage:
    """A message queued by a bulk insert, as the sender's hand-over after commit sees it."""

    id: int


def _insert_statement() -> Any:
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(OutboxMessage).on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(OutboxMessage.id))


def queue_messages_once(rows: list[OutboxRow]) -> list[int]:
    """Add the messages to the outbox in the caller's transaction, skipping those whose
    dedupe_key is already there (or being inserted by another transaction right now). Returns
    the new messages' ids; they are handed to the sender once the transaction commits."""
    new_ids: list[int] = []
    now = utcnow()
    for start in range(0, len(rows), STATEMENT_ROWS):
        values = [{"medium": row.medium, "kind": row.kind, "recipient": row.recipient,
                   "locale": row.locale, "dedupe_key": row.dedupe_key,
                   "event_id": row.event_id, "contact_id": row.contact_id,
                   "registration_id": row.registration_id, "payload": row.payload,
                   "status": MessageStatus.QUEUED, "attempts": 0, "next_attempt_at": now,
                   "created_at": now}
                  for row in rows[start:start + STATEMENT_ROWS]]
        result = db.session.connection().execute(_insert_statement(), values)
        new_ids.extend(result.scalars())
    db.session.info.setdefault(NEW_MESSAGES, []).extend(QueuedMessage(i) for i in new_ids)
    return new_ids

