"""Runs the tally projection's consumer in its own process; with KILL_EVERY=n it SIGKILLs itself
after applying every n-th batch and before that batch's transaction commits.

usage: python tests/integration/consumer_process.py DATABASE_URL BOOTSTRAP TOPIC GROUP KILL_EVERY
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Collection, Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.consumer import ProjectionApplier, ProjectionConsumer, Record
from shared.db import create_engine
from tests.support import tally_projection


class CrashingApplier(ProjectionApplier):
    def __init__(self, *args: object, kill_every: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.kill_every = kill_every
        self.batches = 0

    async def _store_offsets(
        self,
        conn: AsyncConnection,
        records: Sequence[Record],
        rewound: Collection[tuple[str, int]] = (),
        deferred: dict[tuple[str, int], int] | None = None,
        applied: Collection[UUID] = (),
    ) -> None:
        self.batches += 1
        if self.kill_every and self.batches % self.kill_every == 0:
            # The projection rows of this batch are written, its offsets are not: die now.
            os.kill(os.getpid(), signal.SIGKILL)
        await super()._store_offsets(conn, records, rewound, deferred, applied)


async def main(url: str, bootstrap: str, topic: str, group: str, kill_every: int) -> None:
    engine = create_engine(url)
    applier = CrashingApplier(
        engine, tally_projection(topic), service="tally", kill_every=kill_every
    )
    consumer = ProjectionConsumer(
        applier, bootstrap_servers=bootstrap, group_id=group, max_records=37
    )
    print("consumer started", flush=True)
    await consumer.run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5], int(sys.argv[5])))  # type: ignore[arg-type]
