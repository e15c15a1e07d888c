"""Alembic environment of the reporting service (run by shared.db.migrate at start)."""

from services.reporting.tables import metadata
from shared.db import run_alembic_env

run_alembic_env(metadata)
