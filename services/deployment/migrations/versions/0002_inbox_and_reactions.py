"""The backbone's inbox (other services' events, which commands decide from) and its record of
reactions taken, which replaces this service's own `reactions` table: the cancellations already
made after a withdrawal or hold are carried over as reaction `cancel-deployments`. The projection
is reset: the consumer replays every topic from offset 0 and the inbox fills as it goes.

Revision ID: 0002
"""

from alembic import op

from services.deployment.tables import metadata
from shared.backbone_tables import add_inbox_and_reactions

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    old = connection.exec_driver_sql(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'"
        " AND table_name = 'reactions' AND column_name = 'reaction'"
    ).first()
    legacy = connection.exec_driver_sql("SELECT to_regclass('public.reactions')").scalar()
    carried = legacy is not None and old is None
    if carried:
        connection.exec_driver_sql("ALTER TABLE reactions RENAME TO reactions_before_0002")
    add_inbox_and_reactions(connection, metadata)
    if carried:
        connection.exec_driver_sql(
            "INSERT INTO reactions (reaction, trigger_event_id, reacted_at)"
            " SELECT 'cancel-deployments', trigger_event_id, reacted_at"
            " FROM reactions_before_0002 ON CONFLICT DO NOTHING"
        )
        connection.exec_driver_sql("DROP TABLE reactions_before_0002")
