"""`jiph migrate SERVICE`: apply one service's Alembic migrations to head, then exit.

The service does the same at start (`shared.db.migrate`, under the same advisory lock); this is
that step alone, for a Kubernetes Job run as a Helm pre-install/pre-upgrade hook or for an
operator before a rollout. It reads the service's own settings exactly as the service does
(`JIPH_<SERVICE>_*`, see shared/settings.py), so a production Job is refused for the same reasons
a production service would be.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from jiph.options import one_of
from jiph.stack.config import SERVICE_NAMES
from shared.db import create_engine, migrate
from shared.settings import settings_for

RETRY_INTERVAL_S = 2.0


def register(app: typer.Typer) -> None:
    app.command("migrate", help="apply a service's database migrations and exit")(cmd_migrate)


def migrations_dir(service: str) -> Path:
    """The service's Alembic folder, named as its `main.py` names it (`Path(__file__).parent /
    "migrations"`): the advisory lock id is derived from this path, so the Job and a starting
    service must name the same one to serialise each other."""
    package = importlib.import_module(f"services.{service}")
    if package.__file__ is None:
        raise RuntimeError(f"services.{service} is not a regular package")
    return Path(package.__file__).parent / "migrations"


async def _wait_for_database(url: str, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    probe = create_engine(url, pool_size=1)
    try:
        while True:
            try:
                async with probe.connect():
                    return
            except (OSError, SQLAlchemyError):
                if time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(RETRY_INTERVAL_S)
    finally:
        await probe.dispose()


async def run_migrations(service: str, *, wait_s: float = 0.0) -> None:
    settings = settings_for(service)()
    if wait_s > 0:
        await _wait_for_database(settings.database_url, wait_s)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        await migrate(engine, migrations_dir(service))
    finally:
        await engine.dispose()


def cmd_migrate(
    service: Annotated[
        str,
        typer.Argument(
            help="|".join(SERVICE_NAMES), **one_of(SERVICE_NAMES, "a service", "SERVICE")
        ),
    ],
    wait: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            help="keep trying to reach the database this long before giving up (default 0)",
        ),
    ] = 0.0,
) -> int:
    try:
        asyncio.run(run_migrations(service, wait_s=wait))
    except ValidationError as exc:
        # Without the input values: they include DATABASE_URL, password and all.
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'settings'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        print(f"jiph migrate {service}: invalid settings: {problems}", file=sys.stderr)
        return 2
    except (OSError, SQLAlchemyError) as exc:
        print(f"jiph migrate {service}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{service}: database migrated to head")
    return 0
