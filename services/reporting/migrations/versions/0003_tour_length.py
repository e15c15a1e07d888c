"""Request rows show the tour length (amendable, so every view must follow it). The projection is
reset and rebuilt from the topics.

Revision ID: 0003
"""

from alembic import op

from services.reporting.tables import metadata
from shared.backbone_tables import reset_projection

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    reset_projection(op.get_bind(), metadata)
