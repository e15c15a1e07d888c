"""Intake's HTTP API: the partner-facing door of the gateway."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from services.intake import handlers, queries
from services.intake.commands import AmendRequest, SubmitRequest, WithdrawRequest
from services.intake.domain import DomainError, Status
from services.intake.views import Accepted, RequestDetail, RequestPage
from shared.api import (
    Consistent,
    CursorQuery,
    LimitQuery,
    RateLimiter,
    RuntimeDep,
    command_context,
    command_transaction,
    decode_cursor,
    encode_cursor,
    idempotent,
)
from shared.auth import Principal, Role, require_roles
from shared.consistency import TOKEN_HEADER, make_token
from shared.events import Envelope
from shared.eventstore import ConcurrencyConflict
from shared.problems import PROBLEM_RESPONSES, Problem, not_found
from shared.service import Runtime

router = APIRouter(prefix="/v1/requests", tags=["requests"], responses=PROBLEM_RESPONSES)
Partner = Annotated[Principal, Depends(require_roles(Role.PARTNER))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeat a POST safely: the same key and body answer the first response again",
    ),
]


async def _deps(runtime: RuntimeDep) -> handlers.Deps:
    assert runtime.applier is not None
    return handlers.Deps(store=runtime.store, applier=runtime.applier)


Deps = Annotated[handlers.Deps, Depends(_deps)]


def _limit(request: Request, who: Principal) -> None:
    limiter: RateLimiter = request.app.state.write_limiter
    limiter.take(who.partner_id or who.subject)


def _domain_problem(err: DomainError) -> Problem:
    return Problem(409, err.rule, "Not possible in this state", err.detail)


async def _respond(
    conn: AsyncConnection, partner: Principal, request_id: UUID, token: str, status: int
) -> JSONResponse:
    view = await queries.get_request(conn, partner.partner_id or "", request_id)
    body = Accepted(request=RequestDetail.model_validate(view), consistency_token=token).model_dump(
        mode="json"
    )
    headers = {TOKEN_HEADER: token, "Location": f"/v1/requests/{request_id}"}
    return JSONResponse(body, status_code=status, headers=headers)


@router.post(
    "", status_code=201, response_model=Accepted, summary="Submit a request for assistance"
)
async def submit_request(
    request: Request,
    partner: Partner,
    runtime: RuntimeDep,
    deps: Deps,
    body: Annotated[SubmitRequest, Body()],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Submit a request for UK policing assistance on behalf of the organisation in your token.
    The server sets the id, the reference (`JIPH-2026-000123`), the status and the timestamps.
    Answers `201` with `Location` and a consistency token."""
    _limit(request, partner)

    async with command_transaction(runtime) as conn:

        async def run() -> JSONResponse:
            envelopes = await handlers.submit(
                conn, deps, partner.partner_id or "", body, command_context(partner, request)
            )
            request_id = UUID(envelopes[0].data["request_id"])
            token = make_token(envelopes[-1].event_id)
            return await _respond(conn, partner, request_id, token, 201)

        scope = f"partner:{partner.partner_id}"
        return await idempotent(conn, scope, idempotency_key, body, run)


@router.get("", response_model=RequestPage, summary="Your organisation's requests")
async def list_requests(
    partner: Partner,
    runtime: RuntimeDep,
    status: Annotated[Status | None, Query(description="Only this status")] = None,
    country: Annotated[
        str | None, Query(min_length=2, max_length=2, description="ISO alpha-2")
    ] = None,
    capability: Annotated[
        str | None, Query(max_length=40, description="Capability category")
    ] = None,
    submitted_from: Annotated[date | None, Query(description="Submitted on or after")] = None,
    submitted_to: Annotated[date | None, Query(description="Submitted on or before")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
    _: None = Consistent,
) -> dict[str, Any]:
    """Newest first, filtered, paginated with an opaque cursor."""
    after = None
    if cursor:
        c = decode_cursor(cursor)
        try:
            after = (datetime.fromisoformat(c["t"]), UUID(c["id"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise Problem(
                400, "bad-cursor", "Bad cursor", "the cursor is not one this API gave out"
            ) from exc
    filters = queries.RequestFilters(
        status and status.value, country, capability, submitted_from, submitted_to
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
    request_id: UUID, partner: Partner, runtime: RuntimeDep, _: None = Consistent
) -> dict[str, Any]:
    """The request as it stands, its partner-visible status and the timeline of what the hub and
    the deployment team did about it. Another organisation's request answers 404."""
    async with runtime.engine.connect() as conn:
        view = await queries.get_request(conn, partner.partner_id or "", request_id)
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
    deps: Deps,
    body: AmendRequest,
) -> JSONResponse:
    """Answer the hub's information request, or change the request before it is assessed.
    In any other state: `409` with the reason."""
    _limit(request, partner)
    context = command_context(partner, request)
    return await _change(
        runtime,
        partner,
        request_id,
        lambda conn: handlers.amend(
            conn, deps, partner.partner_id or "", request_id, body, context
        ),
    )


@router.post("/{request_id}/withdrawal", response_model=Accepted, summary="Withdraw a request")
async def withdraw_request(
    request_id: UUID,
    request: Request,
    partner: Partner,
    runtime: RuntimeDep,
    deps: Deps,
    body: WithdrawRequest,
) -> JSONResponse:
    """Withdraw the request, with a reason; possible until its deployment starts."""
    _limit(request, partner)
    context = command_context(partner, request)
    return await _change(
        runtime,
        partner,
        request_id,
        lambda conn: handlers.withdraw(
            conn, deps, partner.partner_id or "", request_id, body.reason, context
        ),
    )


async def _change(
    runtime: Runtime,
    partner: Principal,
    request_id: UUID,
    command: Callable[[AsyncConnection], Awaitable[list[Envelope]]],
) -> JSONResponse:
    """Run a command on an existing request in the one committing transaction; map its
    refusals to problems; answer the request as it now stands with a consistency token."""
    try:
        async with command_transaction(runtime) as conn:
            envelopes = await command(conn)
            token = make_token(envelopes[-1].event_id)
            return await _respond(conn, partner, request_id, token, 200)
    except handlers.NotFound as exc:
        raise not_found("request") from exc
    except DomainError as err:
        raise _domain_problem(err) from err
    except ConcurrencyConflict as exc:
        raise Problem(
            409,
            "version-conflict",
            "Changed meanwhile",
            "the request changed meanwhile; read it and try again",
        ) from exc
