"""What a service's read side is: the topics it follows, a handler per event type, its tables.

Handlers are plain async functions `(conn, envelope) -> None` that write projection tables (all in
the `projection` schema) and nothing else. They must be deterministic functions of the events
(take times from `envelope.occurred_at`, never from the clock), so that a rebuild from offset 0
comes out identical to the live tables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import Envelope

Handler = Callable[[AsyncConnection, Envelope], Awaitable[None]]
BatchHandler = Callable[[AsyncConnection, Sequence[Envelope]], Awaitable[None]]


@dataclass
class Projection:
    name: str
    topics: tuple[str, ...]
    metadata: sa.MetaData  # the service's projection tables, schema "projection"
    handlers: dict[str, Handler] = field(default_factory=dict)
    batch_handlers: dict[str, BatchHandler] = field(default_factory=dict)

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        """Decorator: `@projection.on("RequestSubmitted")`."""

        def register(fn: Handler) -> Handler:
            for event_type in event_types:
                self.handlers[event_type] = fn
            return fn

        return register

    def on_batch(self, *event_types: str) -> Callable[[BatchHandler], BatchHandler]:
        """Decorator for a set-based handler of a run of consecutive events of these types,
        in order. It must leave the tables as applying each event's `on` handler in turn would
        (a rebuild test compares them); it is what makes catching up and rebuilding fast."""

        def register(fn: BatchHandler) -> BatchHandler:
            for event_type in event_types:
                self.batch_handlers[event_type] = fn
            return fn

        return register

    async def apply(self, conn: AsyncConnection, envelope: Envelope) -> None:
        handler = self.handlers.get(envelope.event_type)
        if handler is not None:
            await handler(conn, envelope)

    def runs(
        self, envelopes: Sequence[Envelope]
    ) -> list[tuple[BatchHandler | None, list[Envelope]]]:
        """Split events, keeping their order, into runs that one batch handler takes whole;
        events without a batch handler come one per run (with None)."""
        runs: list[tuple[BatchHandler | None, list[Envelope]]] = []
        for env in envelopes:
            batch = self.batch_handlers.get(env.event_type)
            if batch is not None and runs and runs[-1][0] is batch:
                runs[-1][1].append(env)
            else:
                runs.append((batch, [env]))
        return runs

    def tables(self) -> Iterable[sa.Table]:
        return self.metadata.sorted_tables
