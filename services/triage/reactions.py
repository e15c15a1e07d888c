"""Triage's reaction to a submission: open the case, exactly once.

Runs inside the projection's handler, so the append shares the consumer's transaction with the
stored offsets and processed event ids: the case is opened if and only if the RequestSubmitted
counts as consumed. A replay or a rebuild meets a case stream that already exists and appends
nothing (the projection then comes from the RequestTriaged on the topic).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage import domain, queries
from services.triage.scoring import Policy
from shared.catalogue.intake import RequestSubmitted
from shared.db import driver
from shared.events import SYSTEM_ACTOR_ROLE, Actor, Envelope
from shared.eventstore import CommandContext, ConcurrencyConflict, EventStore
from shared.reference.data import ReferenceData

TRIAGE_ACTOR = Actor(subject="triage", role=SYSTEM_ACTOR_ROLE)


@dataclass(frozen=True)
class CaseOpener:
    store: EventStore
    policy: Policy
    reference: ReferenceData

    async def open_case(self, conn: AsyncConnection, env: Envelope) -> list[Envelope]:
        """Append RequestTriaged to `case-<request_id>` unless the case exists; return what was
        appended."""
        submitted = env.payload()
        assert isinstance(submitted, RequestSubmitted)
        stream = domain.case_stream_id(submitted.request_id)
        if await self.store.current_version(conn, stream) > 0:
            return []
        country = self.reference.country(submitted.country)
        if country is None:
            raise ValueError(f"unknown country {submitted.country!r}")
        # The day the partner submitted, not the day this runs: a replay scores the same.
        today = env.occurred_at.astimezone(UTC).date()
        offered = await queries.offered_officers(conn, submitted.capability, today)
        scoring = domain.ScoringContext(self.policy, today, offered)
        events = domain.decide_open_case(submitted, country, scoring)
        context = CommandContext(
            actor=TRIAGE_ACTOR, correlation_id=env.correlation_id, causation_id=str(env.event_id)
        )
        try:
            # A savepoint: a lost race must not abort the batch's transaction.
            async with (await driver(conn)).transaction():
                return await self.store.append(
                    conn, stream, events, expected_version=0, context=context
                )
        except ConcurrencyConflict:
            return []  # another consumer (a rebuild, a rebalance) opened it first
