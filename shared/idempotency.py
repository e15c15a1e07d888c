"""HTTP `Idempotency-Key`: the same key with the same body answers the first response again;
the same key with another body is refused (422). Stored in the command's own transaction, so a
response is remembered exactly when its events were appended."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.backbone_tables import idempotency_keys
from shared.db import lock_until_commit


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes
    headers: dict[str, str]
    request_hash: str


class IdempotencyKeyReused(Exception):
    """The key was first used with another request body."""


def request_hash(body: object) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def lock_and_find(
    conn: AsyncConnection, scope: str, key: str, body_hash: str
) -> StoredResponse | None:
    """Serialise requests with the same key (a transaction-scoped advisory lock), then return the
    stored response, or None when this is the first use. Raises IdempotencyKeyReused."""
    await lock_until_commit(conn, f"{scope}\x1f{key}")
    row = (
        await conn.execute(
            sa.select(idempotency_keys).where(
                idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise IdempotencyKeyReused(key)
    return StoredResponse(row.status_code, bytes(row.body), dict(row.headers), row.request_hash)


async def remember(
    conn: AsyncConnection, scope: str, key: str, body_hash: str, response: StoredResponse
) -> None:
    await conn.execute(
        insert(idempotency_keys)
        .values(
            scope=scope,
            key=key,
            request_hash=body_hash,
            status_code=response.status_code,
            body=response.body,
            headers=response.headers,
        )
        .on_conflict_do_nothing()
    )
