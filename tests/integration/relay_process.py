"""Runs one outbox relay in its own process, so a test can SIGKILL it mid-batch.

usage: python tests/integration/relay_process.py DATABASE_URL BOOTSTRAP SERVICE BATCH
"""

from __future__ import annotations

import asyncio
import sys

from shared.db import create_engine
from shared.outbox import OutboxRelay, create_producer


async def main(url: str, bootstrap: str, service: str, batch: int) -> None:
    engine = create_engine(url)
    producer = create_producer(bootstrap, f"relay-{service}")
    await producer.start()
    print("relay started", flush=True)
    await OutboxRelay(engine, producer, service, batch_size=batch, poll_interval_s=0.05).run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
