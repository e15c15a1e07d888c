"""Triage's reactions to the partner's events: a submission opens the case (exactly once, by the
backbone's record of reactions taken), with a preliminary score."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage import domain, queries
from services.triage.config import TriageConfig
from shared.catalogue.intake import RequestSubmitted
from shared.commands import Writer, reaction_context
from shared.events import Envelope
from shared.projection import Projection

SERVICE = "triage"


def add_reactions(projection: Projection, config: TriageConfig) -> None:
    @projection.react("open-case", RequestSubmitted.event_type)
    async def open_case(conn: AsyncConnection, env: Envelope, writer: Writer) -> None:
        """Append RequestTriaged to `case-<request_id>`, unless the case exists already (a
        case opened before reactions were recorded)."""
        submitted = env.payload()
        assert isinstance(submitted, RequestSubmitted)
        stream = domain.case_stream_id(submitted.request_id)
        history = await writer.load(conn, stream, key=str(submitted.request_id), related=False)
        if history.exists:
            return
        country = config.reference.country(submitted.country)
        if country is None:
            raise ValueError(f"unknown country {submitted.country!r}")
        # The day the partner submitted, not the day this runs: a replay scores the same.
        today = env.occurred_at.astimezone(UTC).date()
        offered = await queries.offered_officers(conn, submitted.capability, today)
        scoring = domain.ScoringContext(config.policy, today, offered)
        events = domain.decide_open_case(submitted, country, scoring)
        await writer.append(conn, history, events, reaction_context(SERVICE, env))
