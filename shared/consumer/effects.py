"""What applying an event to a projection does, in order: keep it in the inbox if another service
wrote it, run the projection's handlers (runs of set-based ones whole), then the reactions to it,
each once per event; and the write-through of a command's own events (`apply_inline`). The base
of `ProjectionApplier` (`applier.py`), which decides when and in which transaction."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.consumer import inbox, state
from shared.consumer.records import Decoded
from shared.consumer.spans import event_spans
from shared.db import driver
from shared.events import Envelope
from shared.projection import Projection

if TYPE_CHECKING:
    from shared.consumer.applier import ProjectionApplier
    from shared.eventstore import EventStore

# The applier's logger, as before the split: operators and tests filter on its name.
log = logging.getLogger("shared.consumer.applier")


class EventEffects:
    """The effects of applying events; `ProjectionApplier` sets what they read."""

    projection: Projection
    service: str
    event_types: frozenset[str]
    trace_each_event: bool
    store: EventStore | None

    async def _apply_effects(self, conn: AsyncConnection, items: Sequence[Decoded]) -> None:
        """Inbox, projection handlers (runs of set-based ones whole), then reactions; in order."""
        envelopes = [item.envelope for item in items if item.envelope is not None]
        await inbox.keep(
            conn,
            [
                (item.envelope, item.record.value or b"")
                for item in items
                if item.envelope is not None and self._keeps(item.envelope)
            ],
        )
        await self._project(conn, envelopes)
        await self._react(conn, envelopes)

    def _keeps(self, envelope: Envelope) -> bool:
        """The inbox keeps other services' events of the types this projection follows."""
        return (
            self.projection.keeps_inbox
            and envelope.producer != self.service
            and envelope.event_type in self.event_types
        )

    async def _project(self, conn: AsyncConnection, envelopes: Sequence[Envelope]) -> None:
        for batch_handler, run in self.projection.runs(envelopes):
            with event_spans(self.service, run, enabled=self.trace_each_event):
                if batch_handler is None:
                    await self.projection.apply(conn, run[0])
                else:
                    await batch_handler(conn, run)

    async def _react(self, conn: AsyncConnection, envelopes: Sequence[Envelope]) -> None:
        if not self.projection.reactions:
            return
        # Imported here: the command path itself uses the consumer's inbox and bookkeeping.
        from shared.commands import Writer

        assert self.store is not None
        writer = Writer(self.store, cast("ProjectionApplier", self))
        for env in envelopes:
            for reaction in self.projection.reactions_to(env.event_type):
                if not await state.first_reaction(conn, reaction.name, env.event_id):
                    continue
                # Always traced: what the reaction appends carries the trace on (the event
                # store stamps the current traceparent).
                with event_spans(self.service, [env], f"react {reaction.name}:"):
                    await reaction.handle(conn, env, writer)

    async def apply_inline(self, conn: AsyncConnection, envelopes: Sequence[Envelope]) -> None:
        """Write-through from a command's own transaction, so its author reads it at once. The
        consumer later meets the same events and skips them by id. The command has checked that
        no key of these events is parked (`shared.commands`). An event whose handler fails is
        left to the consumer, which retries it and dead-letters it if it keeps failing."""
        applied = []
        for env in envelopes:
            try:
                await self.apply_one(conn, env)
            except Exception:
                log.warning(
                    "inline apply of %s failed; the consumer will retry",
                    env.event_type,
                    exc_info=True,
                )
                continue
            applied.append(env.event_id)
        await state.mark_applied(conn, applied)

    async def apply_one(
        self, conn: AsyncConnection, envelope: Envelope, raw: bytes | None = None
    ) -> None:
        """Apply one event in a savepoint (`raw`: its bytes as read, for the inbox)."""
        async with (await driver(conn)).transaction():
            if self._keeps(envelope):
                await inbox.keep(conn, [(envelope, raw or envelope.to_bytes())])
            await self._project(conn, [envelope])
            await self._react(conn, [envelope])
