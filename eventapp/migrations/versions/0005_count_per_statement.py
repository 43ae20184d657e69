"""PostgreSQL: registrations inserted or deleted are counted once per statement, not per row

The row triggers of 0004 update the event's row once per registration. On PostgreSQL every
such UPDATE adds a version of that one row, and within one transaction each UPDATE first walks
the versions the transaction made before it: inserting n registrations in one transaction cost
O(n²) (measured on this machine: 5,000 rows 0.45 s, 10,000 1.6 s, 20,000 5.7 s; an import or
a bulk load of 40,000 about two minutes). The INSERT and DELETE triggers are now statement
triggers that read the statement's transition table and update each event once
(40,000 rows in one statement: 0.24 s); a single booking pays a few microseconds more.
Many rows in one statement is what the ORM writes when it flushes many new objects (a
thousand per INSERT); a Core executemany without RETURNING is one INSERT per row on psycopg,
so bulk writers add RETURNING (bench/checkin.py does).

The UPDATE trigger stays a row trigger: PostgreSQL allows neither a column list nor a WHEN
clause on a trigger with transition tables, so a statement trigger would run on every UPDATE
of registrations, the check-in's among them, where the row trigger runs only when a status or
an event changes. SQLite keeps its row triggers: it updates rows in place, so it has no such
cost, and it has no statement triggers.

Revision ID: 4783d0f7bc44
Revises: fb4441554f50
Create Date: 2026-12-02 19:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '4783d0f7bc44'
down_revision = 'fb4441554f50'
branch_labels = None
depends_on = None

_PER_STATEMENT = """
DROP TRIGGER registrations_count_inserted ON registrations;
DROP TRIGGER registrations_count_deleted ON registrations;
CREATE FUNCTION count_inserted_places() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE events SET confirmed_places = confirmed_places + inserted.places
    FROM (SELECT event_id, count(*) AS places FROM inserted_rows
          WHERE status = 'confirmed' GROUP BY event_id) AS inserted
    WHERE events.id = inserted.event_id;
    RETURN NULL;
END
$$;
CREATE FUNCTION count_deleted_places() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE events SET confirmed_places = confirmed_places - deleted.places
    FROM (SELECT event_id, count(*) AS places FROM deleted_rows
          WHERE status = 'confirmed' GROUP BY event_id) AS deleted
    WHERE events.id = deleted.event_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER registrations_count_inserted AFTER INSERT ON registrations
    REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT
    EXECUTE FUNCTION count_inserted_places();
CREATE TRIGGER registrations_count_deleted AFTER DELETE ON registrations
    REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT
    EXECUTE FUNCTION count_deleted_places();
"""

_PER_ROW = """
DROP TRIGGER registrations_count_inserted ON registrations;
DROP TRIGGER registrations_count_deleted ON registrations;
DROP FUNCTION count_inserted_places();
DROP FUNCTION count_deleted_places();
CREATE TRIGGER registrations_count_inserted AFTER INSERT ON registrations FOR EACH ROW
    WHEN (NEW.status = 'confirmed') EXECUTE FUNCTION count_confirmed_places();
CREATE TRIGGER registrations_count_deleted AFTER DELETE ON registrations FOR EACH ROW
    WHEN (OLD.status = 'confirmed') EXECUTE FUNCTION count_confirmed_places();
"""


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_PER_STATEMENT)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_PER_ROW)
