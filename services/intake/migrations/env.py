"""Alembic environment of the intake service (run by shared.db.migrate at start)."""

from services.intake.tables import metadata
from shared.db import run_alembic_env

run_alembic_env(metadata)
