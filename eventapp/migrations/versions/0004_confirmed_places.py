"""events.confirmed_places: the confirmed registrations of each event, kept by triggers

The booking's capacity check read count(*) of the event's confirmed registrations under the
event's row lock: a cost that grew with the event (every booking of a 20,000-person trade
show counted 20,000 index entries while the others waited). The count is now a column that
triggers on registrations keep right, whatever changes a registration (booking, cancelling,
the waiting list, walk-ins, erasure, a contact's cascade, an import): the capacity check
reads one row.

SQLite drops a table's triggers with the table: a later migration that rebuilds
registrations (batch_alter_table) must create them again (`create_triggers` below);
tests/events/test_confirmed_places.py fails if they are missing. A rebuild of events keeps
them: migrations run on SQLite with legacy_alter_table on (core/database.py,
connection_for_migrations), so renaming the rebuilt copy leaves the triggers' bodies alone.

Revision ID: fb4441554f50
Revises: c41d0e7a9f35
Create Date: 2026-12-02 07:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fb4441554f50'
down_revision = 'c41d0e7a9f35'
branch_labels = None
depends_on = None

TRIGGERS = ('registrations_count_inserted', 'registrations_count_deleted',
            'registrations_count_changed')

_POSTGRESQL = """
CREATE FUNCTION count_confirmed_places() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'confirmed' THEN
        UPDATE events SET confirmed_places = confirmed_places - 1 WHERE id = OLD.event_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'confirmed' THEN
        UPDATE events SET confirmed_places = confirmed_places + 1 WHERE id = NEW.event_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER registrations_count_inserted AFTER INSERT ON registrations FOR EACH ROW
    WHEN (NEW.status = 'confirmed') EXECUTE FUNCTION count_confirmed_places();
CREATE TRIGGER registrations_count_deleted AFTER DELETE ON registrations FOR EACH ROW
    WHEN (OLD.status = 'confirmed') EXECUTE FUNCTION count_confirmed_places();
CREATE TRIGGER registrations_count_changed AFTER UPDATE OF status, event_id ON registrations
    FOR EACH ROW WHEN ((OLD.status = 'confirmed') IS DISTINCT FROM (NEW.status = 'confirmed')
                       OR OLD.event_id IS DISTINCT FROM NEW.event_id)
    EXECUTE FUNCTION count_confirmed_places();
"""

_SQLITE = (
    """CREATE TRIGGER registrations_count_inserted AFTER INSERT ON registrations
    WHEN NEW.status = 'confirmed' BEGIN
        UPDATE events SET confirmed_places = confirmed_places + 1 WHERE id = NEW.event_id;
    END""",
    """CREATE TRIGGER registrations_count_deleted AFTER DELETE ON registrations
    WHEN OLD.status = 'confirmed' BEGIN
        UPDATE events SET confirmed_places = confirmed_places - 1 WHERE id = OLD.event_id;
    END""",
    """CREATE TRIGGER registrations_count_changed AFTER UPDATE OF status, event_id
    ON registrations
    WHEN (OLD.status = 'confirmed') IS NOT (NEW.status = 'confirmed')
         OR OLD.event_id IS NOT NEW.event_id BEGIN
        UPDATE events SET confirmed_places = confirmed_places - 1
            WHERE id = OLD.event_id AND OLD.status = 'confirmed';
        UPDATE events SET confirmed_places = confirmed_places + 1
            WHERE id = NEW.event_id AND NEW.status = 'confirmed';
    END""",
)


def create_triggers():
    """The triggers that keep events.confirmed_places right, on this database."""
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_POSTGRESQL)
    else:
        for statement in _SQLITE:
            op.execute(statement)


def drop_triggers():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for name in TRIGGERS:
        op.execute(f'DROP TRIGGER IF EXISTS {name}' + (' ON registrations' if postgresql else ''))
    if postgresql:
        op.execute('DROP FUNCTION IF EXISTS count_confirmed_places()')


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_places', sa.Integer(), server_default='0',
                                      nullable=False))
    op.execute("UPDATE events SET confirmed_places = (SELECT count(*) FROM registrations "
               "WHERE registrations.event_id = events.id "
               "AND registrations.status = 'confirmed')")
    create_triggers()


def downgrade():
    drop_triggers()
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('confirmed_places')
