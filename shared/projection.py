"""What a service's read side is: a handler per event type, the reactions to other services'
events, its tables; the topics it follows come from the catalogue.

Handlers are plain async functions `(conn, envelope) -> None` that write projection tables (all in
the `projection` schema) and nothing else. They must be deterministic functions of the events
(take times from `envelope.occurred_at`, never from the clock), so that a rebuild from offset 0
comes out identical to the live tables.

A reaction is a service acting on an event: `(conn, envelope, writer) -> None`, appending to its
own streams through the command path's `Writer`. The backbone runs it once per event, in the
transaction that applies the event (`shared.consumer.applier`).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import REGISTRY, Envelope

if TYPE_CHECKING:
    from shared.commands import Writer

Handler = Callable[[AsyncConnection, Envelope], Awaitable[None]]
BatchHandler = Callable[[AsyncConnection, Sequence[Envelope]], Awaitable[None]]
ReactionHandler = Callable[[AsyncConnection, Envelope, "Writer"], Awaitable[None]]


@dataclass(frozen=True)
class Reaction:
    #: Stable: recorded with every event reacted to, so that no event is reacted to twice.
    name: str
    handle: ReactionHandler


class Projection:
    def __init__(
        self,
        name: str,
        metadata: sa.MetaData,
        *,
        topics: tuple[str, ...] | None = None,
        keeps_inbox: bool = True,
    ) -> None:
        self.name = name
        #: Keep other services' events in the inbox, for commands to decide from (a read-only
        #: service has no commands and keeps none).
        self.keeps_inbox = keeps_inbox
        self.metadata = metadata  # the service's projection tables, schema "projection"
        self.handlers: dict[str, Handler] = {}
        self.batch_handlers: dict[str, BatchHandler] = {}
        self.reactions: dict[str, list[Reaction]] = {}
        self._topics = topics  # tests follow topics of their own

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self.handlers) | frozenset(self.batch_handlers) | frozenset(self.reactions)

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics carrying the event types this projection handles or reacts to."""
        if self._topics is not None:
            return self._topics
        return tuple(sorted({REGISTRY.topic_of(t) for t in self.event_types}))

    def following(self, topics: tuple[str, ...]) -> Projection:
        """The same projection reading these topics instead (a benchmark's, a test's)."""
        other = copy.copy(self)
        other._topics = topics
        return other

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        """Decorator: `@projection.on(RequestSubmitted.event_type)`."""

        def register(fn: Handler) -> Handler:
            for event_type in _known(event_types):
                self.handlers[event_type] = fn
            return fn

        return register

    def on_batch(self, *event_types: str) -> Callable[[BatchHandler], BatchHandler]:
        """Decorator for a set-based handler of a run of consecutive events of these types,
        in order. It must leave the tables as applying each event's `on` handler in turn would
        (a rebuild test compares them); it is what makes catching up and rebuilding fast."""

        def register(fn: BatchHandler) -> BatchHandler:
            for event_type in _known(event_types):
                self.batch_handlers[event_type] = fn
            return fn

        return register

    def react(self, name: str, *event_types: str) -> Callable[[ReactionHandler], ReactionHandler]:
        """Decorator: a reaction named `name` to events of these types."""

        def register(fn: ReactionHandler) -> ReactionHandler:
            if any(r.name == name for rs in self.reactions.values() for r in rs):
                raise ValueError(f"reaction {name} is declared twice")
            for event_type in _known(event_types):
                self.reactions.setdefault(event_type, []).append(Reaction(name, fn))
            return fn

        return register

    def reactions_to(self, event_type: str) -> Sequence[Reaction]:
        return self.reactions.get(event_type, ())

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


def _known(event_types: Iterable[str]) -> Iterable[str]:
    """A handler for a type the catalogue does not know is a typo: refuse it at import."""
    for event_type in event_types:
        if not REGISTRY.knows(event_type):
            raise ValueError(f"{event_type} is not in the event catalogue")
        yield event_type
