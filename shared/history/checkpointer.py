"""The checkpointer: every few seconds, sign the heads of the streams that moved and publish them.

It runs in every instance of a service; a transaction-scoped advisory lock lets one at a time
write a checkpoint, so the sequence stays gap-free whichever instance wrote it. The checkpoint
row, the heads' `checkpointed_version` and the outbox row (topic `jiph.checkpoints.<service>`)
commit together: a checkpoint is published if and only if it was recorded, by the same relay
that publishes events.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.backbone_tables import chain_checkpoints, outbox
from shared.db import driver
from shared.history.checkpoints import GENESIS, MAX_HEADS, Checkpoint, Head, key_id, sign
from shared.outbox import OutboxWake, queued, transaction_waking
from shared.tasks import being_cancelled
from shared.topics import checkpoint_topic

log = logging.getLogger(__name__)


def checkpoint_lock_id(service: str) -> int:
    return zlib.crc32(f"chain-checkpoint:{service}".encode())


class Checkpointer:
    def __init__(
        self,
        engine: AsyncEngine,
        service: str,
        key: Ed25519PrivateKey,
        interval_s: float,
        wake: OutboxWake | None = None,
    ) -> None:
        self.engine = engine
        self.wake = wake
        self.service = service
        self.key = key
        self.key_id = key_id(key.public_key())
        self.interval_s = interval_s

    async def run(self) -> None:
        while True:
            try:
                while await self.checkpoint_once():
                    pass  # more heads moved than one checkpoint carries
            except Exception as exc:  # the database is away: try again next round
                if being_cancelled():
                    raise
                log.warning("checkpoint not written: %s", exc)
            await asyncio.sleep(self.interval_s)

    async def checkpoint_once(self) -> Checkpoint | None:
        """Sign and queue one checkpoint of the heads that moved; None if none did (or another
        instance is writing one now)."""
        async with transaction_waking(self.engine, self.wake) as conn:
            db = await driver(conn)
            if not await db.fetchval(
                "SELECT pg_try_advisory_xact_lock($1)", checkpoint_lock_id(self.service)
            ):
                return None
            # SKIP LOCKED: a head an append is moving right now goes into the next checkpoint.
            moved = await db.fetch(
                "SELECT stream_id, version, hash FROM chain_heads"
                " WHERE version > checkpointed_version ORDER BY stream_id LIMIT $1"
                " FOR UPDATE SKIP LOCKED",
                MAX_HEADS,
            )
            if not moved:
                return None
            last = await db.fetchrow(
                "SELECT seq, digest FROM chain_checkpoints ORDER BY seq DESC LIMIT 1"
            )
            checkpoint = Checkpoint(
                service=self.service,
                seq=(last["seq"] if last else 0) + 1,
                previous=bytes(last["digest"]).hex() if last else GENESIS,
                at=datetime.now(UTC),
                key_id=self.key_id,
                heads=tuple(Head(r["stream_id"], r["version"], bytes(r["hash"])) for r in moved),
            )
            record = sign(checkpoint, self.key)
            await conn.execute(
                chain_checkpoints.insert().values(
                    seq=checkpoint.seq, digest=checkpoint.digest(), record=record
                )
            )
            await db.execute(
                "UPDATE chain_heads SET checkpointed_version = m.version"
                " FROM unnest($1::text[], $2::int[]) AS m(stream_id, version)"
                " WHERE chain_heads.stream_id = m.stream_id",
                [h.stream_id for h in checkpoint.heads],
                [h.version for h in checkpoint.heads],
            )
            await conn.execute(
                outbox.insert().values(
                    topic=checkpoint_topic(self.service),
                    key=self.service,
                    value=record,
                    headers=[["event_type", "ChainCheckpoint"]],
                )
            )
            queued(conn)
        log.info(
            "checkpoint %d signed: %d stream heads (key %s)",
            checkpoint.seq,
            len(checkpoint.heads),
            self.key_id,
        )
        return checkpoint
