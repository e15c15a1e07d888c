"""Staff e-mail owed (shared/mail/outbox.py): a table of its own, so that a restart loses
none. A new table only: nothing to replay.

Revision ID: 0005
"""

from alembic import op

from shared.mail.outbox import metadata

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(op.get_bind(), checkfirst=True)
