"""Tamper-evident history: every stored event gets its chain hash (shared/history/chain.py),
computed for the existing events in stream order, and the tables of stream heads and signed
checkpoints. The service's log says how many events and streams were chained.

Revision ID: 0004
"""

from alembic import op

from shared.history.migration import add_hash_chain

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_hash_chain(op.get_bind())
