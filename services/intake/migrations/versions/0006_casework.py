"""Casework: full-text search of a partner's requests (a generated `tsvector`), and the timeline
entries of the conversation with the hub. The projection is rebuilt from the topics.

Revision ID: 0006
"""

from alembic import op

from services.intake.tables import metadata
from shared.backbone_tables import reset_projection

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    reset_projection(op.get_bind(), metadata)
