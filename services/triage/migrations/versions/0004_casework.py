"""Casework: a case's owner, its service-level stage and since when, and full-text search
vectors (over everything, and over what an uncleared reader may see). The projection is rebuilt
from the topics, so every case gets them.

Revision ID: 0004
"""

from alembic import op

from services.triage.tables import metadata
from shared.backbone_tables import reset_projection

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    reset_projection(op.get_bind(), metadata)
