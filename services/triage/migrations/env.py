"""Alembic environment of the triage service (run by shared.db.migrate at start)."""

from services.triage.tables import metadata
from shared.db import run_alembic_env

run_alembic_env(metadata)
