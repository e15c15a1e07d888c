"""Triage's casework API: who owns a case (assign, claim, release), internal notes, and the
conversation with the partner. The same command path as the rest of triage's API (`api.command`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection
from uuid6 import uuid7

from services.triage import handlers
from services.triage.api import Assigner, Caseworker, Deps, command
from services.triage.commands import AddNote, AssignCase, WriteToPartner
from services.triage.domain import CaseState, Staff
from services.triage.domain import casework as work
from services.triage.views import Accepted
from shared.api import IdempotencyKey, RuntimeDep
from shared.auth import Principal
from shared.events import Envelope, EventData
from shared.eventstore import CommandContext
from shared.problems import PROBLEM_RESPONSES

casework_router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=PROBLEM_RESPONSES)


# --- casework: owners, notes, the conversation ------------------------------------------------


async def _casework(
    request: Request,
    runtime: RuntimeDep,
    deps: handlers.Deps,
    who: Principal,
    request_id: UUID,
    body: Any,
    key: str | None,
    decide: Callable[[CaseState, Staff], list[EventData]],
) -> JSONResponse:
    async def run(conn: AsyncConnection, ctx: CommandContext) -> list[Envelope]:
        return await handlers.casework(conn, deps, request_id, decide, ctx)

    return await command(request, runtime, who, request_id, body, key, run)


@casework_router.post("/{request_id}/assignment", response_model=Accepted, summary="Assign a case")
async def assign_case(
    request_id: UUID,
    request: Request,
    who: Assigner,
    runtime: RuntimeDep,
    deps: Deps,
    body: AssignCase,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Give the case to a member of staff (`owner`), or to yourself; it replaces any owner
    (event `CaseAssigned`, naming the previous owner). Triage officers and admins only. `409
    already-owner` if they own it already; `409 case-closed` for a decided case."""
    command = body.to_command()
    return await _casework(
        request,
        runtime,
        deps,
        who,
        request_id,
        body,
        idempotency_key,
        lambda state, staff: work.decide_assign(state, command, who=staff),
    )


@casework_router.post("/{request_id}/claim", response_model=Accepted, summary="Claim a case")
async def claim_case(
    request_id: UUID,
    request: Request,
    who: Caseworker,
    runtime: RuntimeDep,
    deps: Deps,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Take an unowned case (event `CaseAssigned` with `claimed: true`). A case someone owns
    is `409 case-owned`: they release it, or an officer reassigns it."""
    return await _casework(
        request,
        runtime,
        deps,
        who,
        request_id,
        None,
        idempotency_key,
        lambda state, staff: work.decide_claim(state, who=staff),
    )


@casework_router.post("/{request_id}/release", response_model=Accepted, summary="Release a case")
async def release_case(
    request_id: UUID,
    request: Request,
    who: Caseworker,
    runtime: RuntimeDep,
    deps: Deps,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Give the case back to the unassigned queue (event `CaseReleased`): its owner, or a
    triage officer or admin (`403 not-owner` for anyone else); `409 not-assigned` if nobody
    owns it."""
    return await _casework(
        request,
        runtime,
        deps,
        who,
        request_id,
        None,
        idempotency_key,
        lambda state, staff: work.decide_release(state, who=staff),
    )


@casework_router.post(
    "/{request_id}/notes", response_model=Accepted, summary="Add an internal note"
)
async def add_note(
    request_id: UUID,
    request: Request,
    who: Caseworker,
    runtime: RuntimeDep,
    deps: Deps,
    body: AddNote,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """An internal note (event `CaseNoteAdded`), in the case's `history`: staff only. The
    partner never sees it: intake's timeline leaves it out. Withheld from uncleared readers of
    an OFFICIAL-SENSITIVE case, as every free text is."""
    note_id = uuid7()
    return await _casework(
        request,
        runtime,
        deps,
        who,
        request_id,
        body,
        idempotency_key,
        lambda state, staff: work.decide_note(state, body.note, who=staff, note_id=note_id),
    )


@casework_router.post(
    "/{request_id}/messages", response_model=Accepted, summary="Write to the partner"
)
async def write_to_partner(
    request_id: UUID,
    request: Request,
    who: Caseworker,
    runtime: RuntimeDep,
    deps: Deps,
    body: WriteToPartner,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A message to the partner (event `MessageToPartner`), at any stage: it appears in the
    partner's timeline (intake), where the partner writes back (`POST /v1/requests/{id}/messages`
    on intake, event `MessageFromPartner`, in this case's `history`). To ask questions that
    need answers, use `information-requests`."""
    message_id = uuid7()
    return await _casework(
        request,
        runtime,
        deps,
        who,
        request_id,
        body,
        idempotency_key,
        lambda state, staff: work.decide_message(
            state, body.message, who=staff, message_id=message_id
        ),
    )
