"""Backbone tables (event store, outbox, consumer state) and the reporting projection.

Revision ID: 0001
"""

from alembic import op

from services.reporting.tables import metadata
from shared.backbone_tables import create_backbone_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    create_backbone_tables(connection)
    metadata.create_all(connection)
