"""The capability register: UK forces offer officers, and withdraw offers."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment import handlers, queries_register
from services.deployment.api_common import Deps, Liaison, Staff, keyset_after, page
from services.deployment.commands import OfferCapability, UpdateOffer
from services.deployment.views import OfferAccepted, OfferPage, OfferView
from shared.api import (
    Answer,
    Consistent,
    CursorQuery,
    DateQuery,
    IdempotencyKey,
    LimitQuery,
    RuntimeDep,
    Today,
    run_command,
)
from shared.auth import Principal, Role
from shared.events import Envelope
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.reference.codes import Capability

router = APIRouter(prefix="/v1/offers", tags=["offers"], responses=PROBLEM_RESPONSES)


def _answer(offer_id: UUID | None = None) -> Answer:
    async def answer(conn: AsyncConnection, envelopes: list[Envelope], token: str) -> Any:
        target = offer_id or UUID(envelopes[0].data["offer_id"])
        view = await queries_register.get_offer(conn, target)
        return jsonable_encoder({"offer": view, "consistency_token": token}), f"/v1/offers/{target}"

    return answer


def _own_force(who: Principal, force: str | None) -> str | None:
    """A force liaison officer sees their own force's offers only."""
    return who.force if who.role == Role.FORCE_LIAISON else force


@router.post("", status_code=201, response_model=OfferAccepted, summary="Offer an officer")
async def offer_officer(
    request: Request,
    who: Liaison,
    runtime: RuntimeDep,
    deps: Deps,
    day: Today,
    body: Annotated[OfferCapability, Body()],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Offer an officer of your force (from your token) for a capability. The officer gets a
    pseudonymous `officer_ref`; their name, contact and next of kin are sealed with a key of
    their own and never appear in answers, events or logs in clear."""
    force = who.force or ""
    return await run_command(
        request,
        runtime,
        who,
        lambda conn, ctx: handlers.offer(conn, deps, force, body, ctx, day),
        _answer(),
        body=body.fingerprint(),
        idempotency_key=idempotency_key,
        status=201,
    )


@router.get("", response_model=OfferPage, summary="Offered officers")
async def list_offers(
    who: Staff,
    runtime: RuntimeDep,
    capability: Annotated[Capability | None, Query(description="Only this capability")] = None,
    force: Annotated[str | None, Query(max_length=80, description="Only this force")] = None,
    available_on: Annotated[DateQuery, Query(description="Available on this day")] = None,
    status: Annotated[Literal["active", "withdrawn"] | None, Query()] = "active",
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
    _: None = Consistent,
) -> dict[str, Any]:
    """Newest first, filtered, paginated. Force liaison officers see their own force's offers."""
    filters = queries_register.OfferFilters(
        capability and capability.value, _own_force(who, force), available_on, status
    )
    async with runtime.engine.connect() as conn:
        items = await queries_register.list_offers(
            conn, filters, after=keyset_after(cursor), limit=limit + 1
        )
    return page(items, limit, "offered_at", "id")


@router.get("/{offer_id}", response_model=OfferView, summary="One offer")
async def get_offer(
    offer_id: UUID, who: Staff, runtime: RuntimeDep, _: None = Consistent
) -> dict[str, Any]:
    async with runtime.engine.connect() as conn:
        view = await queries_register.get_offer(conn, offer_id)
    if view is None or (who.role == Role.FORCE_LIAISON and view["force"] != who.force):
        raise not_found("offer")
    return view


@router.patch("/{offer_id}", response_model=OfferAccepted, summary="Update an offer in place")
async def update_offer(
    offer_id: UUID,
    request: Request,
    who: Liaison,
    runtime: RuntimeDep,
    deps: Deps,
    day: Today,
    body: Annotated[UpdateOffer, Body()],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Change your force's offer in place (`OfferUpdated`): vetting level and expiry, medical,
    hostile-environment training, passport, availability window. Fields left out stay. A
    nominee's clearance reads the offer as it now stands. Refused while the new window would
    not cover a tour the officer is booked on (`409 officer-committed`); `409 offer-unchanged`
    when it already says that."""
    return await run_command(
        request,
        runtime,
        who,
        lambda conn, ctx: handlers.update_offer(
            conn, deps, who.force or "", offer_id, body, ctx, day
        ),
        _answer(offer_id),
        body=body.model_dump(mode="json"),
        idempotency_key=idempotency_key,
    )


@router.delete("/{offer_id}", response_model=OfferAccepted, summary="Withdraw an offer")
async def withdraw_offer(
    offer_id: UUID,
    request: Request,
    who: Liaison,
    runtime: RuntimeDep,
    deps: Deps,
    day: Today,
    reason: Annotated[str, Query(max_length=500, description="Why the offer is withdrawn")] = "",
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Withdraw your force's offer. Refused (`409 officer-committed`) while the officer is on a
    deployment that has not ended."""
    return await run_command(
        request,
        runtime,
        who,
        lambda conn, ctx: handlers.withdraw_offer(
            conn, deps, who.force or "", offer_id, reason, ctx, day
        ),
        _answer(offer_id),
        body={"reason": reason},
        idempotency_key=idempotency_key,
    )
