"""Backbone tables (event store, outbox, consumer state), the deployment service's write-side
tables (officers, access log, bookings) and its projection.

Revision ID: 0001
"""

from alembic import op

from services.deployment.tables import metadata, write_metadata
from shared.backbone_tables import create_backbone_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    create_backbone_tables(connection)
    # A trusted extension: the database owner may create it. Gives `=` on text to GiST, for the
    # exclusion constraint that keeps one officer's tours from overlapping.
    connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS btree_gist")
    write_metadata.create_all(connection)
    metadata.create_all(connection)
