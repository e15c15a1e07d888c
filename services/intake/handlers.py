"""Intake's command handlers: load the history, decide (pure), append through the command path
(`shared.commands`). No HTTP, no SQL text beyond the reference sequence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from uuid6 import uuid7

from services.intake import domain, partners
from services.intake.commands import AmendRequest, RegisterPartner, SubmitRequest
from services.intake.domain import stream_id
from shared.catalogue.intake import Contact, RequestSubmitted, RoleProfile
from shared.commands import History, Writer
from shared.db import driver
from shared.events import Envelope, EventData
from shared.eventstore import CommandContext
from shared.reference.codes import PartnerType
from shared.refusals import NotFound

KNOWN_PARTNER_TYPES = frozenset(t.value for t in PartnerType)


#: References are claimed from the year's sequence in blocks of this many, one round trip per
#: block rather than per submission. Each `nextval` claims a whole block (the sequence steps by
#: it), so processes never share a number; a process that stops leaves the rest of its block
#: unused (gaps, as after a rollback, never a duplicate), and references from two processes
#: interleave rather than follow the order of submission.
REFERENCE_BLOCK = 20
_blocks: dict[int, tuple[int, int]] = {}  # year: (next number, end of the block)
_sequences_known: set[int] = set()


async def next_reference(conn: AsyncConnection, year: int) -> str:
    """JIPH-2026-000123: numbered per year, never a duplicate."""
    number, end = _blocks.get(year, (0, 0))
    if number >= end:
        number = await _claim_block(conn, year)
        end = number + REFERENCE_BLOCK
    _blocks[year] = (number + 1, end)
    return f"JIPH-{year}-{number:06d}"


async def _claim_block(conn: AsyncConnection, year: int) -> int:
    sequence = f"request_reference_{year}"
    if year not in _sequences_known:
        await _create_sequence(conn, sequence)
        _sequences_known.add(year)
    first = await (await driver(conn)).fetchval(f"SELECT nextval('{sequence}')")
    return int(first or 0)


async def _create_sequence(conn: AsyncConnection, sequence: str) -> None:
    """Once per process and year, committed on its own: created inside the command's
    transaction, a rollback would take the sequence away while this process believes in it. A
    sequence from before blocks (stepping by 1) is set to step by a block."""
    try:
        async with conn.engine.begin() as ddl:
            await ddl.execute(
                sa.text(f"CREATE SEQUENCE IF NOT EXISTS {sequence} INCREMENT BY {REFERENCE_BLOCK}")
            )
            await ddl.execute(sa.text(f"ALTER SEQUENCE {sequence} INCREMENT BY {REFERENCE_BLOCK}"))
    except sa.exc.IntegrityError:
        pass  # another process created it at the same moment: IF NOT EXISTS is not atomic


async def submit(
    conn: AsyncConnection,
    writer: Writer,
    partner: partners.Partner,
    body: SubmitRequest,
    ctx: CommandContext,
) -> list[Envelope]:
    """The partner's type and organisation come from the registry; a body may only repeat them."""
    partners.reconcile(
        body.partner_type and body.partner_type.value, partner.partner_type, "partner_type"
    )
    partners.reconcile(body.requesting_body, partner.organisation, "requesting_body")
    request_id = uuid7()
    reference = await next_reference(conn, datetime.now(UTC).year)
    event = RequestSubmitted(
        request_id=request_id,
        reference=reference,
        partner_id=partner.partner_id,
        title=body.title,
        description=body.description,
        country=body.country,
        mission=body.mission,
        requesting_body=partner.organisation,
        partner_type=partner.partner_type,
        capability=body.capability.value,
        headcount=body.headcount,
        role_profile=RoleProfile(**body.role_profile.model_dump()),
        tour_length_months=body.tour_length_months,
        needed_by=body.needed_by,
        funding_source=body.funding_source.value,
        classification=body.classification,
        contact=Contact(**body.contact.model_dump()),
    )
    return await writer.append(conn, History.new(stream_id(request_id)), [event], ctx)


async def _load(
    conn: AsyncConnection, writer: Writer, partner_id: str, request_id: UUID
) -> tuple[History, domain.RequestState]:
    history = await writer.load(conn, stream_id(request_id), key=str(request_id))
    state = domain.fold(env.payload() for env in history.everything())
    if state is None or state.partner_id != partner_id:
        raise NotFound("request")  # another partner's request looks exactly like a missing one
    return history, state


async def amend(
    conn: AsyncConnection,
    writer: Writer,
    partner_id: str,
    request_id: UUID,
    body: AmendRequest,
    ctx: CommandContext,
) -> list[Envelope]:
    history, state = await _load(conn, writer, partner_id, request_id)
    events = domain.decide_amend(
        state,
        changes=body.changes.as_changes(),
        answers=body.answers,
        information_request_id=body.information_request_id,
    )
    return await writer.append(conn, history, events, ctx)


async def write_to_hub(
    conn: AsyncConnection,
    writer: Writer,
    partner_id: str,
    request_id: UUID,
    message: str,
    ctx: CommandContext,
) -> list[Envelope]:
    history, state = await _load(conn, writer, partner_id, request_id)
    events = domain.decide_message(state, message, message_id=uuid7())
    return await writer.append(conn, history, events, ctx)


async def withdraw(
    conn: AsyncConnection,
    writer: Writer,
    partner_id: str,
    request_id: UUID,
    reason: str,
    ctx: CommandContext,
) -> list[Envelope]:
    history, state = await _load(conn, writer, partner_id, request_id)
    events = domain.decide_withdraw(state, reason)
    return await writer.append(conn, history, events, ctx)


# --- the partner registry --------------------------------------------------------------------
async def _load_partner(
    conn: AsyncConnection, writer: Writer, partner_id: str
) -> tuple[History, partners.Partner | None]:
    history = await writer.load(
        conn,
        partners.partner_stream(partner_id),
        key=partners.partner_key(partner_id),
        related=False,
    )
    return history, partners.fold(history.events())


async def register_partner(
    conn: AsyncConnection, writer: Writer, body: RegisterPartner, ctx: CommandContext
) -> list[Envelope]:
    history, state = await _load_partner(conn, writer, body.partner_id)
    events = partners.decide_register(
        state,
        partner_id=body.partner_id,
        name=body.name,
        partner_type=body.partner_type.value,
        organisation=body.organisation,
        country=body.country,
        known_partner_types=KNOWN_PARTNER_TYPES,
    )
    return await writer.append(conn, history, events, ctx)


async def change_partner(
    conn: AsyncConnection,
    writer: Writer,
    partner_id: str,
    decide: Callable[[partners.Partner], list[EventData]],
    ctx: CommandContext,
) -> list[Envelope]:
    history, state = await _load_partner(conn, writer, partner_id)
    if state is None:
        raise NotFound("partner")
    return await writer.append(conn, history, decide(state), ctx)
