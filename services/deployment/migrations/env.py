"""Alembic environment of the deployment service (run by shared.db.migrate at start)."""

from services.deployment.tables import metadata
from shared.db import run_alembic_env

run_alembic_env(metadata)
