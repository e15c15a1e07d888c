"""The partner registry's read model (`projection.partners`). Partner events are new: nothing to
replay.

Revision ID: 0003
"""

from alembic import op

from services.intake.tables import partners

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    partners.create(op.get_bind(), checkfirst=True)
