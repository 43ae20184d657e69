"""insert_now: new rows written with one Core INSERT each class, kept in the session as
loaded rows, and gone from it again when their transaction rolls back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from eventapp.contacts.models import Contact
from eventapp.core.inserts import insert_now
from eventapp.core.outbox import Medium, MessageStatus, OutboxMessage
from eventapp.extensions import db


def _statements(app) -> list[str]:
    seen: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute",
                    lambda _c, _cur, statement, *_a: seen.append(statement.split()[0]))
    return seen


def test_the_rows_are_written_at_once_and_the_objects_are_loaded_and_clean(app):
    with app.app_context():
        seen = _statements(app)
        first = Contact(name="李雷", phone="+8613812345678", sources=["import"])
        second = Contact(name="Han Meimei", email="han@example.com", sources=[])
        insert_now(first, second)
        assert set(seen) <= {"BEGIN", "INSERT"}, "the ids come back with the INSERT"
        assert first.id and second.id and first.id != second.id
        assert first in db.session and not db.session.dirty and not db.session.new
        # Python defaults are applied as a flush would, so nothing is loaded later.
        assert first.company == "" and first.created_at is not None
        assert second.phone is None and second.opted_out_at is None
        before = len(seen)
        assert (first.name, second.email, second.sources) == ("李雷", "han@example.com", [])
        assert len(seen) == before, "every column is loaded: no query to read one"
        first.city = "上海"  # a change afterwards is an ordinary UPDATE
        db.session.commit()
        assert seen.count("UPDATE") == 1
        db.session.expire_all()
        stored = db.session.get(Contact, first.id)
        assert (stored.name, stored.city, stored.sources) == ("李雷", "上海", ["import"])


def test_a_rollback_takes_the_objects_out_of_the_session(app):
    with app.app_context():
        gone = Contact(name="Gone", phone="+8613900000001", sources=[])
        insert_now(gone)
        gone_id = gone.id
        db.session.rollback()
        assert gone not in db.session
        assert sa.inspect(gone).transient, "no identity of a row that does not exist"
        assert db.session.get(Contact, gone_id) is None
        # SQLite hands out the same id again: the new row is not mistaken for the old one.
        again = Contact(name="Again", phone="+8613900000002", sources=[])
        insert_now(again)
        db.session.commit()
        assert db.session.get(Contact, again.id).name == "Again"


def test_a_unique_clash_fails_at_the_insert(app):
    with app.app_context():
        insert_now(Contact(name="A", phone="+8613900000003", sources=[]))
        with pytest.raises(IntegrityError):
            insert_now(Contact(name="B", phone="+8613900000003", sources=[]))
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_in_a_savepoint_it_adds_and_flushes_so_the_savepoint_can_roll_back_alone(app):
    with app.app_context():
        kept = Contact(name="Kept", phone="+8613900000004", sources=[])
        insert_now(kept)
        savepoint = db.session.begin_nested()
        dropped = OutboxMessage(medium=Medium.EMAIL, kind="note", recipient="a@example.com",
                                locale="en", status=MessageStatus.QUEUED)
        insert_now(dropped)
        assert dropped.id is not None
        savepoint.rollback()
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
        assert db.session.get(Contact, kept.id).name == "Kept"


def test_one_class_at_a_time(app):
    with app.app_context(), pytest.raises(TypeError):
        insert_now(Contact(name="A", sources=[]),
                   OutboxMessage(medium=Medium.SMS, kind="x", recipient="+1", locale="en"))
