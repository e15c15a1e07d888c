"""Telling an outage from a bug: the database or the broker being away is a 503 the caller may
retry (with `Retry-After`), never a 500.

Whatever layer raised it (asyncpg directly, through SQLAlchemy's wrapper, the connection pool, the
socket), the chain of causes says which it is.
"""

from __future__ import annotations

import asyncpg
import sqlalchemy.exc

RETRY_AFTER_S = 5

_OUTAGES: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed", "another operation is in progress"
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,  # 57P01: stopped (fast or immediate)
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    sqlalchemy.exc.TimeoutError,  # no connection free in the pool in time
    sqlalchemy.exc.PendingRollbackError,  # its connection was lost mid-transaction
)


def is_outage(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _OUTAGES):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False
