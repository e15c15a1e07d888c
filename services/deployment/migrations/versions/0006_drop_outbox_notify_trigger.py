"""The outbox's NOTIFY trigger is dropped: it made PostgreSQL serialise every committing writer.
The relay is woken after each commit instead (shared/outbox.py). Nothing to replay.

Revision ID: 0006
"""

from alembic import op

from shared.backbone_tables import drop_outbox_notify_trigger

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    drop_outbox_notify_trigger(op.get_bind())
