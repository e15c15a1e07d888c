"""Deployment rows show how many posts are held and how long each fill took (post fill rate and
time to fill in the summary); offers follow their updates. The projection is reset and rebuilt
from the topics.

Revision ID: 0005
"""

from alembic import op

from services.reporting.tables import metadata
from shared.backbone_tables import reset_projection

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    reset_projection(op.get_bind(), metadata)
