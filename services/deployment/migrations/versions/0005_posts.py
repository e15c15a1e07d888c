"""Posts and staffing changes: requirements keep the request's role profile (from intake's
submission and amendments, which the inbox now keeps too), deployments their posts, officers
their post and any withdrawal, the timeline the post each event concerns. The projection is
reset and rebuilt from the topics, so that the inbox fills with the submissions as well.

Revision ID: 0005
"""

from alembic import op

from services.deployment.tables import metadata
from shared.backbone_tables import reset_projection

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    reset_projection(op.get_bind(), metadata)
