"""The outbox relay: publishes every stored event to Kafka, in order per key, at least once.

Why rows are deleted instead of tracking "position > last published": identity values are
allocated at insert but transactions commit in another order, so a reader that remembers the
highest position it saw skips a row whose transaction commits late. Here the relay publishes what
is in the table and deletes exactly the rows it published; a late commit is simply still there at
the next poll. Order per key holds because a stream's next event is only appended after its
previous one committed (optimistic concurrency), so it always has the higher position.

One relay per service is active: it holds a session-level advisory lock on its own connection
(released by PostgreSQL if the process dies). A crash between publishing and deleting republishes
those rows; consumers de-duplicate by event id.

A process that loses the brokers but not the database would keep the lock and publish nothing,
while another instance that reaches the brokers waits. So the relay takes the lock only while its
`kafka_reachable()` says the brokers answer, and gives it up when they stop answering in the
middle of a batch (the batch's outcome is unknown: its rows stay for the next holder to send).

Waking the relay (`OutboxWake`) happens after a writer's commit, never inside it. A NOTIFY sent
in the writer's transaction (the statement trigger the backbone had until migration "drop the
outbox NOTIFY trigger") makes PostgreSQL serialise every committing writer behind a global lock
on its notification queue. Now the transaction that queued outbox rows says so on its connection
(`queued`), and `transaction_waking` wakes the relay once it has committed: the active relay of
this process by setting an event, another process's by a NOTIFY sent in the background. The
relay still LISTENs (for the other instances' NOTIFYs) and still polls, as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry import context as otel_context
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.backbone_tables import outbox
from shared.db import driver, qualified
from shared.tasks import being_cancelled
from shared.telemetry import (
    context_from_traceparent,
    outbox_published,
    start_producer_span,
)

log = logging.getLogger(__name__)
NOTIFY_CHANNEL = "jiph_outbox"
#: How often a relay waiting for Kafka's acks asks whether the brokers still answer.
REACHABLE_CHECK_S = 0.5
RENEW_STOP_S = 5.0  # for the replaced producer to flush what it still holds


class KafkaUnreachable(Exception):
    """The brokers stopped answering while a batch waited for its acks: give the lock up."""


def relay_lock_id(service: str) -> int:
    return zlib.crc32(f"outbox-relay:{service}".encode())


def create_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """Idempotent producer: acks=all, no duplicates from its own retries, order per partition."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=15000,
        # aiokafka asks only the brokers of its last metadata, never the bootstrap list again:
        # a broker that was away at the last refresh stays unknown for the default 5 minutes,
        # and if the known ones then die the producer is stuck. Refresh often.
        metadata_max_age_ms=10000,
    )


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        service: str,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        kafka_reachable: Callable[[], bool] = lambda: True,
        renew_producer: Callable[[], Awaitable[AIOKafkaProducer]] | None = None,
    ) -> None:
        self.engine = engine
        self.renew_producer = renew_producer
        self._stale = False  # sends were given up or refused: renew the producer first
        self.kafka_reachable = kafka_reachable
        self.producer = producer
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.active = False  # holds the lock
        self.published = 0
        self.renewals = 0
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Forever: take the lock (or wait for it), then publish until cancelled or disconnected."""
        while True:
            try:
                if self._stale and self.kafka_reachable():
                    await self._renew()
                async with self.engine.connect() as conn:
                    if self.kafka_reachable() and await self._try_lock(conn):
                        self.active = True
                        log.info("outbox relay active", extra={"service": self.service})
                        try:
                            await self._serve(conn)
                        finally:
                            # The lock belongs to the session: a connection back in the pool
                            # would keep it, and no other instance could take over. End it.
                            with contextlib.suppress(Exception):
                                await conn.invalidate()
            except asyncio.CancelledError:
                if being_cancelled():
                    raise
                log.warning("outbox relay interrupted by its client; retrying")
            except KafkaUnreachable:
                log.warning("Kafka stopped answering: outbox relay gives up its lock")
                self._stale = True
            except KafkaError:
                log.exception("outbox relay failed on Kafka; retrying with a new producer")
                self._stale = True
            except Exception:
                log.exception("outbox relay failed; retrying")
            finally:
                self.active = False
            await asyncio.sleep(1.0)

    async def _renew(self) -> None:
        """Go on with a new producer (a new producer id, its sequence numbers from zero). An
        idempotent producer whose sends were given up during an outage is left with sequence
        numbers the broker never saw, and every later send fails with
        OutOfOrderSequenceNumber: aiokafka, unlike Kafka's Java client, never resets them. The
        rows those sends carried are still in the outbox and go again (at least once; consumers
        skip repeats by event id). Tried again at the next round if Kafka refuses it."""
        if self.renew_producer is None:
            self._stale = False
            return
        try:
            fresh = await self.renew_producer()
        except Exception as exc:
            log.warning("outbox relay keeps its producer for now: %s", exc)
            return
        self._stale = False
        self.renewals += 1
        log.info("outbox relay goes on with a new producer", extra={"service": self.service})
        old, self.producer = self.producer, fresh
        with contextlib.suppress(Exception):
            await asyncio.wait_for(old.stop(), RENEW_STOP_S)

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        got = await conn.scalar(
            sa.text("SELECT pg_try_advisory_lock(:id)"), {"id": relay_lock_id(self.service)}
        )
        await conn.commit()
        return bool(got)

    async def _serve(self, conn: AsyncConnection) -> None:
        listener = await driver(conn)
        await listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
        try:
            while True:
                # Cleared before reading, so a commit notified while a batch is being published
                # wakes the next round at once. The poll is only a safety net for a lost NOTIFY.
                self._wake.clear()
                if await self.publish_batch(conn) < self.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(NOTIFY_CHANNEL, self._on_notify)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def wake(self) -> None:
        """Publish now rather than at the next poll (a commit in this process queued rows)."""
        self._wake.set()

    async def _send(self, row: Any) -> asyncio.Future[Any]:
        """Enqueue one row, inside a PRODUCER span that joins the trace of the command that
        stored it (its `traceparent` header), so one trace runs from HTTP to the consumers."""
        headers = dict(row["headers"])
        token = otel_context.attach(context_from_traceparent(headers.get("traceparent")))
        try:
            with start_producer_span(
                f"publish {headers.get('event_type', 'event')}", topic=row["topic"], key=row["key"]
            ):
                future: asyncio.Future[Any] = await self.producer.send(
                    row["topic"],
                    value=bytes(row["value"]),
                    key=row["key"].encode(),
                    headers=[(k, v.encode()) for k, v in row["headers"]],
                )
                return future
        finally:
            otel_context.detach(token)

    async def publish_batch(self, conn: AsyncConnection) -> int:
        """Publish the oldest rows, wait for Kafka's acks, then delete them. Returns the count.

        Each statement commits on its own (no transaction is open on the relay's connection),
        sent straight to asyncpg: the relay runs once per command at low rates."""
        if conn.in_transaction():
            await conn.commit()
        db = await driver(conn)
        table = qualified(conn, outbox)
        rows = await db.fetch(
            f"SELECT position, topic, key, value, headers FROM {table} ORDER BY position LIMIT $1",
            self.batch_size,
        )
        if not rows:
            return 0
        pending = [await self._send(row) for row in rows]
        # A timeout leaves the outcome unknown: the rows stay and are sent again (at least once).
        await self._acknowledged(asyncio.gather(*pending))
        await db.execute(
            f"DELETE FROM {table} WHERE position = ANY($1::bigint[])", [r["position"] for r in rows]
        )
        self.published += len(rows)
        for row in rows:
            outbox_published.labels(self.service, row["topic"]).inc()
        return len(rows)

    async def _acknowledged(self, acks: asyncio.Future[Any]) -> None:
        """Wait for Kafka's acks; raise KafkaUnreachable as soon as the brokers stop answering,
        rather than hold the lock for the producer's whole request timeout."""
        while True:
            done, _ = await asyncio.wait({acks}, timeout=REACHABLE_CHECK_S)
            if done:
                acks.result()
                return
            if not self.kafka_reachable():
                acks.add_done_callback(lambda f: f.cancelled() or f.exception())  # no warning
                raise KafkaUnreachable


#: Set on a connection (its `info`, which follows the pooled connection) by a transaction that
#: queued outbox rows; read and cleared by `transaction_waking`.
_QUEUED = "jiph.outbox_queued"


def queued(conn: AsyncConnection) -> None:
    """Say that `conn`'s transaction put rows in the outbox: once it commits, the relay is woken
    (by `transaction_waking`, if the transaction is one of its)."""
    conn.info[_QUEUED] = True


class OutboxWake:
    """Wakes the service's active relay after a commit, outside the writer's transaction.

    If this process's relay is the active one, `after_commit` sets its wake event: no database
    at all. Otherwise it sends `NOTIFY jiph_outbox` on a pooled connection, in the background and
    coalesced: at most one in flight, and commits meanwhile cause exactly one more after it (a
    NOTIFY wakes the relay for every row committed before it). It never raises into the caller
    and never delays it; a NOTIFY that fails only leaves the relay to its poll."""

    def __init__(
        self, engine: AsyncEngine, notify: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.engine = engine
        #: This process's relay, once it runs (`Runtime` sets it).
        self.relay: OutboxRelay | None = None
        self._notify = notify or self._notify_on_pool
        self._in_flight: asyncio.Task[None] | None = None
        self._again = False
        self.notified = 0  # NOTIFYs sent (for tests and logs)

    def after_commit(self) -> None:
        try:
            relay = self.relay
            if relay is not None and relay.active:
                relay.wake()
            elif self._in_flight is not None:
                self._again = True
            else:
                self._in_flight = asyncio.get_running_loop().create_task(
                    self._send(), name="outbox-wake"
                )
        except Exception:  # no running loop: the poll will do
            log.debug("could not wake the outbox relay", exc_info=True)

    async def _send(self) -> None:
        try:
            while True:
                self._again = False
                try:
                    await self._notify()
                    self.notified += 1
                except Exception as exc:  # the database is away: the relay's poll catches up
                    log.debug("NOTIFY %s not sent: %s", NOTIFY_CHANNEL, exc)
                if not self._again:
                    return
        finally:
            self._in_flight = None

    async def _notify_on_pool(self) -> None:
        async with self.engine.connect() as conn:
            # No transaction is open: asyncpg runs it on its own, committed at once.
            await (await driver(conn)).execute(f"NOTIFY {NOTIFY_CHANNEL}")

    async def close(self) -> None:
        """Wait for a NOTIFY in flight (before the engine is disposed of)."""
        task = self._in_flight
        if task is not None:
            _, pending = await asyncio.wait({task}, timeout=2.0)
            for late in pending:
                late.cancel()


@contextlib.asynccontextmanager
async def transaction_waking(
    engine: AsyncEngine, wake: OutboxWake | None
) -> AsyncIterator[AsyncConnection]:
    """`engine.begin()`, and once it has committed, `wake.after_commit()` if it queued outbox
    rows (`queued`). Nothing is woken for a transaction that rolled back: its rows are gone."""
    async with engine.begin() as conn:
        conn.info.pop(_QUEUED, None)  # left by a transaction on this connection begun elsewhere
        yield conn
        wrote = conn.info.pop(_QUEUED, False)
    if wrote and wake is not None:
        wake.after_commit()


async def backlog(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(outbox)) or 0)
