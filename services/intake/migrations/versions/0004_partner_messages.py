"""Partners' timelines show what staff wrote for the partner (`partner_message`), never the hub's
internal reasons: the entries already stored are rebuilt, by resetting the projection and
replaying the topics.

Revision ID: 0004
"""

from alembic import op

from services.intake.tables import metadata
from shared.backbone_tables import reset_projection

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    reset_projection(op.get_bind(), metadata)
