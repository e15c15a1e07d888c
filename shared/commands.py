"""The one command path of the write services: load, decide, append, apply.

A command (an HTTP call through `shared.api.run_command`, or a reaction to another service's
event) goes through a `Writer`:

1. `load` locks the key (one writer per request until commit), refuses the command if an event
   of that key is parked behind a dead letter (it waits for an operator: deciding now would
   decide on missing facts, and applying would write past the parked event), and reads the
   events to decide from: the stream's own events (the event store) and what the other
   services said about the key (the inbox). Never a read model.
2. The caller's pure domain function decides the new events from that history.
3. `append` stores them at the version the history was read at (another writer in between is a
   `ConcurrencyConflict`, answered 409) and applies them to the service's projection in the same
   transaction, so the caller reads its own write at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.consumer import inbox, state
from shared.events import SYSTEM_ACTOR_ROLE, Actor, Envelope, EventData
from shared.eventstore import CommandContext, EventStore
from shared.refusals import DomainError

if TYPE_CHECKING:
    from shared.consumer.applier import ProjectionApplier

HELD_RULE = "held-for-operator"


class HeldForOperator(DomainError):
    def __init__(self, key: str) -> None:
        super().__init__(
            HELD_RULE,
            "an earlier event about this could not be applied and waits for an operator "
            "(jiph deadletters list); nothing can change it until they redrive or skip it",
        )
        self.key = key


@dataclass(frozen=True)
class History:
    """What a command decides from. `version` is the stream's, which the append expects."""

    stream_id: str
    key: str | None
    own: Sequence[Envelope] = ()
    related: Sequence[Envelope] = ()
    #: Keys already checked for parked events (and locked) by `load`.
    checked: frozenset[str] = field(default_factory=frozenset)

    @property
    def version(self) -> int:
        return self.own[-1].stream_version if self.own else 0

    @property
    def exists(self) -> bool:
        return bool(self.own)

    def events(self) -> list[EventData]:
        """The stream's own events, typed and upcast, in stream order."""
        return [env.payload() for env in self.own]

    def everything(self) -> list[Envelope]:
        """Own and related events in the order they happened."""
        return sorted(
            [*self.own, *self.related], key=lambda e: (e.occurred_at, e.stream_id, e.event_id)
        )

    @classmethod
    def new(cls, stream_id: str) -> History:
        """A stream this command creates (its key is new: nothing can be parked on it)."""
        return cls(stream_id, None)


@dataclass(frozen=True)
class Writer:
    store: EventStore
    applier: ProjectionApplier

    async def load(
        self,
        conn: AsyncConnection,
        stream_id: str,
        *,
        key: str | None = None,
        related: bool = True,
    ) -> History:
        """The stream and, with `related`, the other services' events about `key`. Without a
        `key`, the stream's own events name it (an existing stream is then read before its key
        is locked: the append's expected version still refuses a writer that came between)."""
        if key is not None:
            await self.refuse_if_held(conn, [key])
        own = await self.store.load(conn, stream_id)
        if key is None and own:
            key = own[0].key
            await self.refuse_if_held(conn, [key])
        others = await inbox.load(conn, key) if related and key is not None else []
        return History(stream_id, key, own, others, frozenset({key} if key else ()))

    async def refuse_if_held(self, conn: AsyncConnection, keys: Sequence[str]) -> None:
        """Lock these keys until commit; refuse if any has a parked dead letter."""
        await state.lock_keys(conn, keys)
        parked = await state.parked_among(conn, keys)
        if parked:
            raise HeldForOperator(sorted(parked)[0])

    async def append(
        self,
        conn: AsyncConnection,
        history: History,
        events: Sequence[EventData],
        context: CommandContext,
    ) -> list[Envelope]:
        """Append `events` after `history` and apply them to this service's projection."""
        if not events:
            return []
        unchecked = {e.partition_key() for e in events} - history.checked
        if history.exists and unchecked:
            await self.refuse_if_held(conn, sorted(unchecked))
        envelopes = await self.store.append(
            conn, history.stream_id, events, expected_version=history.version, context=context
        )
        await self.applier.apply_inline(conn, envelopes)
        return envelopes


def reaction_context(service: str, trigger: Envelope) -> CommandContext:
    """Who acts when a service reacts to an event: the service itself, in the event's
    conversation, caused by it."""
    return CommandContext(
        actor=Actor(subject=service, role=SYSTEM_ACTOR_ROLE),
        correlation_id=trigger.correlation_id,
        causation_id=str(trigger.event_id),
    )
