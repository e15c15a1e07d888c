"""Partners' webhooks (the endpoints they register, the deliveries owed to them: a table, so that
a restart loses none) and requests' attachments (their records and the log of every download).
New tables only: nothing to replay.

Revision ID: 0007
"""

from alembic import op

from services.intake.attachments.tables import metadata as attachment_tables
from services.intake.webhooks.tables import metadata as webhook_tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    webhook_tables.create_all(op.get_bind(), checkfirst=True)
    attachment_tables.create_all(op.get_bind(), checkfirst=True)
