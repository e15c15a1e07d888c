"""Partners' webhooks: the endpoints they register and the deliveries owed to them (a table, so
that a restart loses none). New tables only: nothing to replay.

Revision ID: 0006
"""

from alembic import op

from services.intake.webhooks.tables import metadata

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(op.get_bind(), checkfirst=True)
