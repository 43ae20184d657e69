"""New rows written at once, without the unit of work, for hot paths (a booking's contact,
registration and messages).

`session.add(obj)` plus a flush costs about three times what the INSERT itself costs: the
unit of work sorts what is pending, tracks history, fetches the id and refreshes the object.
On a path that only ever adds a few new rows of known classes, `insert_now(*objects)` writes
them with Core `INSERT ... RETURNING id` (several objects of one class: one executemany,
which SQLAlchemy sends as one multi-row statement where the database keeps RETURNING's
order, PostgreSQL, and as a statement per row on SQLite) and then keeps them in the session
as if a query had just loaded them: persistent, clean, every column loaded, the id set.
Changing them afterwards is an ordinary UPDATE at the next flush.

What it does not do, so use it only where none of this is needed: cascade to related objects
(insert parents first and pass ids), relationship bookkeeping (set loaded relationships with
`set_committed_value`), ORM events (eventapp has none on these classes). Inside a savepoint
it falls back to add and flush (a savepoint can roll back on its own). Column defaults
written in Python (`default=`) are applied here, as a flush would; a value the database fills
in (`server_default`) is left to load on first use. If the transaction rolls back, the objects
are taken out of the session again and made transient (no identity), as pending ones would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import make_transient, make_transient_to_detached

from eventapp.extensions import db

#: Session.info key: the objects insert_now attached in the current transaction.
_ATTACHED = "eventapp_inserted_now"


@dataclass(frozen=True)
class _Plan:
    """How to insert one mapped class: the statement and, per column attribute, its default."""

    statement: sa.Insert
    id_key: str
    #: (attribute, column key, default or None): None when no Python default is set.
    fields: tuple[tuple[str, str, Any], ...]
    #: Attributes the database fills in (server defaults): not sent, loaded on first use.
    from_database: frozenset[str]


_plans: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    plan = _plans.get(cls)
    if plan is None:
        mapper = sa.inspect(cls)
        (id_column,) = mapper.primary_key
        fields, from_database = [], set()
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            if column.primary_key:
                continue
            default = column.default
            if default is not None and not (default.is_scalar or default.is_callable):
                default = None  # a SQL expression: leave it to the database
                from_database.add(prop.key)
            elif default is None and column.server_default is not None:
                from_database.add(prop.key)
            fields.append((prop.key, column.key, default))
        statement = sa.insert(mapper.local_table).returning(id_column,
                                                            sort_by_parameter_order=True)
        plan = _plans[cls] = _Plan(statement, mapper.get_property_by_column(id_column).key,
                                   tuple(fields), frozenset(from_database))
    return plan


def insert_now(*objects: Any) -> None:
    """INSERT these new (transient) objects of one class now, in the session's transaction,
    and keep them in the session as loaded rows with their ids (see the module's note)."""
    if not objects:
        return
    cls = type(objects[0])
    if any(type(obj) is not cls for obj in objects):
        raise TypeError("insert_now takes objects of one class at a time")
    session = db.session()
    if session.in_nested_transaction():  # a savepoint may roll back alone: the usual way
        session.add_all(objects)
        session.flush()
        return
    plan = _plan(cls)
    rows = []
    for obj in objects:
        loaded = obj.__dict__
        row = {}
        for key, column, default in plan.fields:
            if key in loaded:
                row[column] = loaded[key]
            elif key in plan.from_database:
                continue
            else:  # zero-argument defaults only (eventapp has no context-sensitive ones)
                value = None if default is None else (
                    default.arg(None) if default.is_callable else default.arg)
                setattr(obj, key, value)
                row[column] = value
        rows.append(row)
    connection = session.connection()
    if len(rows) == 1 or len({frozenset(row) for row in rows}) > 1:
        # One row, or rows that set different columns (an executemany is compiled from
        # the first row's columns and would drop the others' extra values): one by one.
        ids = [connection.execute(plan.statement, row).scalar_one() for row in rows]
    else:
        ids = connection.execute(plan.statement, rows).scalars().all()
    attached = session.info.setdefault(_ATTACHED, [])
    for obj, new_id in zip(objects, ids, strict=True):
        setattr(obj, plan.id_key, new_id)
        make_transient_to_detached(obj)  # history reset: loaded, not changed
        session.add(obj)
        attached.append(obj)


@sa.event.listens_for(db.session, "after_commit")
def _forget_after_commit(session: sa.orm.Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_ATTACHED, None)


@sa.event.listens_for(db.session, "after_rollback")
def _detach_after_rollback(session: sa.orm.Session) -> None:
    """Rows of a rolled-back transaction do not exist: their objects leave the session (as
    pending objects do), so that a later row with the same id is not mistaken for them."""
    if session.in_nested_transaction():
        return
    for obj in session.info.pop(_ATTACHED, ()):
        if obj in session:
            session.expunge(obj)
        make_transient(obj)
