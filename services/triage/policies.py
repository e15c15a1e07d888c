"""The policy book read from triage's event store: the adoptions on the `policy` stream, folded
with the published files. Read in the caller's transaction, so every instance of the service
scores with the same policy the moment an adoption commits, without a restart."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage import domain
from services.triage.config import TriageConfig
from shared.catalogue.triage import PolicyAdopted
from shared.events import Envelope
from shared.eventstore import EventStore

#: Adoptions already parsed, by event id: an event never changes, and validating a policy
#: document on every command would cost more than reading the stream.
_PARSED: dict[UUID, domain.Adoption] = {}


def book_from(envelopes: Sequence[Envelope], config: TriageConfig) -> domain.PolicyBook:
    """The book after these events of the `policy` stream (in stream order)."""
    adoptions = []
    for env in envelopes:
        adoption = _PARSED.get(env.event_id)
        if adoption is None:
            event = env.payload()
            assert isinstance(event, PolicyAdopted)
            adoption = _PARSED.setdefault(env.event_id, domain.adoption_of(event, env.occurred_at))
        adoptions.append(adoption)
    return domain.book_of(config.policy, config.policies, adoptions)


async def load_book(
    conn: AsyncConnection, store: EventStore, config: TriageConfig
) -> domain.PolicyBook:
    """Every policy triage knows, as its event store holds them now."""
    return book_from(await store.load(conn, domain.policy_stream_id()), config)
