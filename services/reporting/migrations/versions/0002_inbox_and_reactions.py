"""The backbone's inbox (other services' events, which commands decide from) and its record of
reactions taken. The projection is reset: the consumer replays every topic from offset 0 and the
inbox fills as it goes.

Revision ID: 0002
"""

from alembic import op

from services.reporting.tables import metadata
from shared.backbone_tables import add_inbox_and_reactions

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_inbox_and_reactions(op.get_bind(), metadata)
