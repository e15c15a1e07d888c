"""Intake's HTTP API: the partner-facing door of the gateway."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import handlers, partners, queries
from services.intake.commands import AmendRequest, SubmitRequest, WithdrawRequest, WriteToHub
from services.intake.directory import PartnerDirectory
from services.intake.views import Accepted, RequestDetail, RequestPage
from shared.api import (
    AsOfTimeQuery,
    AsOfVersionQuery,
    Consistent,
    CountryQuery,
    CursorQuery,
    DateQuery,
    IdempotencyKey,
    LimitQuery,
    ReferenceQuery,
    RuntimeDep,
    encode_cursor,
    read_cursor,
    refusals_as_problems,
    run_command,
)
from shared.as_of import AsOf
from shared.auth import Principal, Role, require_roles
from shared.commands import Writer
from shared.events import Envelope
from shared.problems import PROBLEM_RESPONSES, Problem, not_found
from shared.request_status import Status

router = APIRouter(
    prefix="/v1/requests",
    tags=["requests"],
    responses=PROBLEM_RESPONSES,
)
PartnerToken = Annotated[Principal, Depends(require_roles(Role.PARTNER))]


async def registered_partner(
    request: Request, runtime: RuntimeDep, principal: PartnerToken
) -> partners.Partner:
    """The caller's organisation, as the registry has it: only a registered, active partner
    may submit, read or act on requests (403 otherwise)."""
    directory: PartnerDirectory = request.app.state.partner_directory
    found = await directory.get(runtime.engine, principal.partner_id or "")
    if found is None:
        raise Problem(
            403,
            "partner-not-registered",
            "Not a registered partner",
            f"'{principal.partner_id}' is not in the hub's partner registry: ask the hub to "
            "register your organisation",
        )
    if not found.active:
        raise Problem(
            403,
            "partner-inactive",
            "Partner inactive",
            f"the hub has deactivated '{principal.partner_id}': its requests can be neither "
            "submitted nor changed",
        )
    return found


async def _partner(
    principal: PartnerToken, _: Annotated[partners.Partner, Depends(registered_partner)]
) -> Principal:
    return principal


Partner = Annotated[Principal, Depends(_partner)]
Registered = Annotated[partners.Partner, Depends(registered_partner)]


async def _writer(runtime: RuntimeDep) -> Writer:
    assert runtime.writer is not None
    return runtime.writer


WriterDep = Annotated[Writer, Depends(_writer)]


def _answer(partner: Principal, request_id: UUID | None = None) -> Any:
    """The request as it now stands, with the consistency token."""

    async def answer(
        conn: AsyncConnection, envelopes: list[Envelope], token: str
    ) -> tuple[Any, str]:
        rid = request_id or UUID(envelopes[0].data["request_id"])
        view = await queries.get_request(conn, partner.partner_id or "", rid)
        body = Accepted(request=RequestDetail.model_validate(view), consistency_token=token)
        return body.model_dump(mode="json"), f"/v1/requests/{rid}"

    return answer


@router.post(
    "", status_code=201, response_model=Accepted, summary="Submit a request for assistance"
)
async def submit_request(
    request: Request,
    partner: Partner,
    registered: Registered,
    runtime: RuntimeDep,
    writer: WriterDep,
    body: Annotated[SubmitRequest, Body()],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Submit a request for UK policing assistance on behalf of the organisation in your token
    (it must be registered with the hub, which also says its partner type and requesting body).
    The server sets the id, the reference (`JIPH-2026-000123`), the status and the timestamps.
    Answers `201` with `Location` and a consistency token."""
    return await run_command(
        request,
        runtime,
        partner,
        lambda conn, ctx: handlers.submit(conn, writer, registered, body, ctx),
        _answer(partner),
        body=body,
        idempotency_key=idempotency_key,
        status=201,
    )


@router.get("", response_model=RequestPage, summary="Your organisation's requests")
async def list_requests(
    partner: Partner,
    runtime: RuntimeDep,
    status: Annotated[Status | None, Query(description="Only this status")] = None,
    country: CountryQuery = None,
    capability: Annotated[
        str | None, Query(max_length=40, description="Capability category")
    ] = None,
    submitted_from: Annotated[DateQuery, Query(description="Submitted on or after")] = None,
    submitted_to: Annotated[DateQuery, Query(description="Submitted on or before")] = None,
    reference: ReferenceQuery = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Words to find (PostgreSQL `websearch_to_tsquery`) in the reference, "
            "title, description, mission and country of your requests",
        ),
    ] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
    _: None = Consistent,
) -> dict[str, Any]:
    """Newest first, filtered, paginated with an opaque cursor. `reference` finds one request
    by its reference (the same filter triage and reporting take); `q` searches your requests
    (only yours). An unknown query parameter is a 422 naming it."""
    after = read_cursor(cursor, lambda c: (datetime.fromisoformat(c["t"]), UUID(c["id"])))
    filters = queries.RequestFilters(
        status and status.value,
        country,
        capability,
        submitted_from,
        submitted_to,
        reference=reference,
        text=q,
    )
    async with runtime.engine.connect() as conn:
        items = await queries.list_requests(
            conn, partner.partner_id or "", filters, after=after, limit=limit + 1
        )
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = encode_cursor({"t": last["submitted_at"].isoformat(), "id": str(last["id"])})
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/{request_id}", response_model=RequestDetail, summary="One request, its status and timeline"
)
async def get_request(
    request_id: UUID,
    partner: Partner,
    runtime: RuntimeDep,
    writer: WriterDep,
    as_of_version: AsOfVersionQuery = None,
    as_of: AsOfTimeQuery = None,
    _: None = Consistent,
) -> dict[str, Any]:
    """The request as it stands, its partner-visible status and the timeline of what the hub and
    the deployment team did about it. Another organisation's request answers 404.

    With `as_of_version=N` or `as_of=<time>`, the request as it was then, made again from its
    events and shown as a partner may see it today; `as_of` in the answer says where that is
    (null on the current view). As of version N: your request's own events up to version N
    (1 is the submission, then each amendment or the withdrawal) and what the hub and the
    deployment team did before your next one (everything, when N is the current version). As of
    a time T: everything that occurred at or before T. A version the request has not reached, a
    time before it was submitted, or both parameters at once: a 422 naming the parameter."""
    with refusals_as_problems():
        asked = AsOf.asked(as_of_version, as_of)
        async with runtime.engine.connect() as conn:
            if asked is None:
                view = await queries.get_request(conn, partner.partner_id or "", request_id)
            else:
                view = await queries.get_request_as_of(
                    conn, writer.store, partner.partner_id or "", request_id, asked
                )
    if view is None:
        raise not_found("request")
    return view


@router.post(
    "/{request_id}/amendments", response_model=Accepted, summary="Amend or answer questions"
)
async def amend_request(
    request_id: UUID,
    request: Request,
    partner: Partner,
    runtime: RuntimeDep,
    writer: WriterDep,
    body: AmendRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Answer the hub's information request, or change the request before it is assessed.
    The hub may ask at any stage before its final decision; questions asked after the
    assessment take answers only: changes with them are a `409`
    `/problems/answers-only-after-assessment` naming `body.changes` (the assessment was made on
    those fields). Answers return the request to the status it had when the hub asked. In any
    other state: `409` with the reason."""
    return await run_command(
        request,
        runtime,
        partner,
        lambda conn, ctx: handlers.amend(
            conn, writer, partner.partner_id or "", request_id, body, ctx
        ),
        _answer(partner, request_id),
        body=body,
        idempotency_key=idempotency_key,
    )


@router.post(
    "/{request_id}/messages", response_model=Accepted, summary="Write to the hub about a request"
)
async def write_to_hub(
    request_id: UUID,
    request: Request,
    partner: Partner,
    runtime: RuntimeDep,
    writer: WriterDep,
    body: WriteToHub,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A message to the hub (event `MessageFromPartner`), at any stage until the request is
    withdrawn; it shows in your timeline with the hub's messages to you. Answers to the hub's
    questions go in an amendment's `answers`, one per question."""
    return await run_command(
        request,
        runtime,
        partner,
        lambda conn, ctx: handlers.write_to_hub(
            conn, writer, partner.partner_id or "", request_id, body.message, ctx
        ),
        _answer(partner, request_id),
        body=body,
        idempotency_key=idempotency_key,
    )


@router.post("/{request_id}/withdrawal", response_model=Accepted, summary="Withdraw a request")
async def withdraw_request(
    request_id: UUID,
    request: Request,
    partner: Partner,
    runtime: RuntimeDep,
    writer: WriterDep,
    body: WithdrawRequest,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Withdraw the request, with a reason; possible until its deployment starts."""
    return await run_command(
        request,
        runtime,
        partner,
        lambda conn, ctx: handlers.withdraw(
            conn, writer, partner.partner_id or "", request_id, body.reason, ctx
        ),
        _answer(partner, request_id),
        body=body,
        idempotency_key=idempotency_key,
    )
