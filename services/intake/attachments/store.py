"""All the SQL of attachments and their download log."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from uuid6 import uuid7

from services.intake.attachments.tables import attachment_downloads, attachments
from services.intake.tables import requests


async def request_scope(conn: AsyncConnection, request_id: UUID) -> tuple[str, str] | None:
    """(partner id, classification) of a request intake holds, or None."""
    row = (
        await conn.execute(
            sa.select(requests.c.partner_id, requests.c.classification).where(
                requests.c.request_id == request_id
            )
        )
    ).first()
    return (row.partner_id, row.classification) if row else None


async def count_for(conn: AsyncConnection, request_id: UUID) -> int:
    query = sa.select(sa.func.count()).select_from(attachments)
    return int(await conn.scalar(query.where(attachments.c.request_id == request_id)) or 0)


async def find_same(conn: AsyncConnection, request_id: UUID, sha256: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(attachments).where(
                attachments.c.request_id == request_id, attachments.c.sha256 == sha256
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(attachments.insert().values(**values))


async def get(
    conn: AsyncConnection, request_id: UUID, attachment_id: UUID
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(attachments).where(
                attachments.c.attachment_id == attachment_id,
                attachments.c.request_id == request_id,
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def list_for(
    conn: AsyncConnection, request_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[dict[str, Any]]:
    query = sa.select(attachments).where(attachments.c.request_id == request_id)
    if after is not None:
        query = query.where(
            sa.tuple_(attachments.c.uploaded_at, attachments.c.attachment_id) > after
        )
    query = query.order_by(attachments.c.uploaded_at, attachments.c.attachment_id).limit(limit)
    return [dict(r._mapping) for r in (await conn.execute(query)).all()]


async def log_download(
    conn: AsyncConnection,
    attachment: dict[str, Any],
    *,
    subject: str,
    role: str,
    partner_id: str | None,
    trace_id: str | None,
) -> None:
    await conn.execute(
        attachment_downloads.insert().values(
            download_id=uuid7(),
            attachment_id=attachment["attachment_id"],
            request_id=attachment["request_id"],
            subject=subject,
            role=role,
            partner_id=partner_id,
            downloaded_at=sa.func.now(),
            trace_id=trace_id,
        )
    )
