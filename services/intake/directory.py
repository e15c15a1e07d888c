"""Who may call intake as a partner: the registry's read model, remembered for a few seconds.

Every partner request asks, so the answer is cached per process; a change made through this
process's admin API is forgotten at once, one made through another instance is seen within
`TTL_S` (the registry's events reach every instance's projection through the consumer).
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.intake.partners import Partner
from services.intake.tables import partners

TTL_S = 10.0


async def find_partner(conn: AsyncConnection, partner_id: str) -> Partner | None:
    row = (
        await conn.execute(sa.select(partners).where(partners.c.partner_id == partner_id))
    ).first()
    if row is None:
        return None
    return Partner(
        row.partner_id, row.name, row.partner_type, row.organisation, row.country, row.active
    )


class PartnerDirectory:
    def __init__(self, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self._known: dict[str, tuple[Partner | None, float]] = {}

    async def get(self, engine: AsyncEngine, partner_id: str) -> Partner | None:
        now = time.monotonic()
        cached = self._known.get(partner_id)
        if cached is not None and now < cached[1]:
            return cached[0]
        async with engine.connect() as conn:
            partner = await find_partner(conn, partner_id)
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[partner_id] = (partner, now + self.ttl_s)
        return partner

    def forget(self, partner_id: str) -> None:
        self._known.pop(partner_id, None)
