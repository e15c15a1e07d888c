"""Triage's reactions to the partner's events (each exactly once, by the backbone's record of
reactions taken): a submission opens the case with a preliminary score; an amendment of what
that score depends on scores it again. Both score with the policy in force when the partner
acted (the latest adoption before the event, from triage's event store; else the default file)."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncConnection

from services.triage import domain, policies, queries
from services.triage.config import TriageConfig
from shared.catalogue.intake import RequestAmended, RequestSubmitted
from shared.commands import Writer, reaction_context
from shared.events import Envelope
from shared.projection import Projection
from shared.topics import INTAKE_EVENTS

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
        # A code since removed from the reference data is scored as `unlisted`, not refused.
        country = config.reference.country_or_unlisted(submitted.country)
        # The day the partner submitted, not the day this runs: a replay scores the same.
        today = env.occurred_at.astimezone(UTC).date()
        offered = await queries.offered_officers(conn, submitted.capability, today)
        # The policy in force when the partner submitted, for the same reason.
        book = await policies.load_book(conn, writer.store, config)
        scoring = domain.ScoringContext(book.in_force_at(env.occurred_at), today, offered)
        events = domain.decide_open_case(submitted, country, scoring)
        await writer.append(conn, history, events, reaction_context(SERVICE, env))

    @projection.react("rescore-on-amendment", RequestAmended.event_type)
    async def rescore(conn: AsyncConnection, env: Envelope, writer: Writer) -> None:
        amended = env.payload()
        assert isinstance(amended, RequestAmended)
        stream = domain.case_stream_id(amended.request_id)
        history = await writer.load(conn, stream, key=str(amended.request_id))
        partner = [e.payload() for e in history.related if e.topic == INTAKE_EVENTS]
        state = domain.fold([*partner, *history.events()]) if history.exists else None
        if state is None:
            return  # no case yet: it opens with the amended request
        country = config.reference.country_or_unlisted(str(state.request["country"]))
        today = env.occurred_at.astimezone(UTC).date()
        offered = await queries.offered_officers(conn, str(state.request["capability"]), today)
        book = await policies.load_book(conn, writer.store, config)
        scoring = domain.ScoringContext(book.in_force_at(env.occurred_at), today, offered)
        events = domain.decide_rescore(state, amended, env.event_id, country, scoring)
        await writer.append(conn, history, events, reaction_context(SERVICE, env))
