"""Deployments: list and read them; plan, nominate, release, clear, repatriate (the tour itself:
start, extend, complete, cancel: `api_tour`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment import handlers, handlers_tour, queries
from services.deployment.api_common import (
    Deps,
    Liaison,
    Manager,
    Staff,
    keyset_after,
    page,
    shown,
)
from services.deployment.commands import (
    NominateOfficer,
    PlanDeployment,
    RepatriateOfficer,
)
from services.deployment.domain import DeploymentStatus
from services.deployment.liaison import liaison_view
from services.deployment.views import (
    DeploymentAccepted,
    DeploymentDetail,
    DeploymentPage,
)
from shared.api import (
    Consistent,
    CountryQuery,
    CursorQuery,
    IdempotencyKey,
    LimitQuery,
    ReferenceQuery,
    RuntimeDep,
    Today,
    run_command,
)
from shared.auth import Principal, Role, require_roles
from shared.events import Envelope
from shared.eventstore import CommandContext
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.reference.codes import Capability

router = APIRouter(tags=["deployments"], responses=PROBLEM_RESPONSES)
Planner = Annotated[Principal, Depends(require_roles(Role.DEPLOYMENT_MANAGER, Role.ADMIN))]
OfficerRef = Annotated[str, Path(min_length=5, max_length=40, pattern=r"^OFF-[A-Z0-9]+$")]
Command = Callable[[AsyncConnection, CommandContext], Awaitable[list[Envelope]]]


# --- deployments: reads ------------------------------------------------------------------------
def _visible(view: dict[str, Any], who: Principal) -> dict[str, Any] | None:
    """Force liaison officers see deployments of their own officers, and only those officers."""
    if who.role == Role.FORCE_LIAISON:
        liaison = liaison_view(view, who.force)
        if liaison is None:
            return None
        view = liaison
    return shown(view, who)


async def _detail(conn: AsyncConnection, deployment_id: UUID, who: Principal) -> dict[str, Any]:
    view = await queries.get_deployment(conn, deployment_id)
    visible = None if view is None else _visible(view, who)
    if visible is None:
        raise not_found("deployment")
    return visible


@router.get("/v1/deployments", response_model=DeploymentPage, summary="Deployments")
async def list_deployments(
    who: Staff,
    runtime: RuntimeDep,
    status: Annotated[DeploymentStatus | None, Query()] = None,
    request_id: Annotated[UUID | None, Query()] = None,
    capability: Annotated[Capability | None, Query()] = None,
    country: CountryQuery = None,
    officer_ref: Annotated[str | None, Query(max_length=40)] = None,
    force: Annotated[
        str | None, Query(max_length=80, description="With an officer of this force")
    ] = None,
    reference: ReferenceQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
    _: None = Consistent,
) -> dict[str, Any]:
    """Newest first, filtered, paginated. Force liaison officers see those with their officers."""
    if who.role == Role.FORCE_LIAISON:
        force = who.force
    filters = queries.DeploymentFilters(
        status and status.value,
        request_id,
        capability and capability.value,
        country,
        force,
        officer_ref,
        reference,
    )
    async with runtime.engine.connect() as conn:
        items = await queries.list_deployments(
            conn, filters, after=keyset_after(cursor), limit=limit + 1
        )
    result = page(items, limit, "planned_at", "id")
    result["items"] = [shown(i, who) for i in result["items"]]
    return result


@router.get(
    "/v1/deployments/{deployment_id}", response_model=DeploymentDetail, summary="One deployment"
)
async def get_deployment(
    deployment_id: UUID, who: Staff, runtime: RuntimeDep, _: None = Consistent
) -> dict[str, Any]:
    """The deployment, its officers (by `officer_ref`) and its timeline."""
    async with runtime.engine.connect() as conn:
        return await _detail(conn, deployment_id, who)


# --- deployments: commands ---------------------------------------------------------------------
async def act(
    request: Request,
    who: Principal,
    runtime: RuntimeDep,
    deployment_id: UUID | None,
    run: Command,
    *,
    status: int = 200,
    key: str | None = None,
    body: Any = None,
) -> JSONResponse:
    """Run one command on a deployment and answer the deployment as it now stands."""

    async def answer(conn: AsyncConnection, envelopes: list[Envelope], token: str) -> Any:
        target = deployment_id or UUID(envelopes[0].data["deployment_id"])
        view = await _detail(conn, target, who)
        content = {"deployment": view, "consistency_token": token}
        return jsonable_encoder(content), f"/v1/deployments/{target}"

    return await run_command(
        request, runtime, who, run, answer, body=body, idempotency_key=key, status=status
    )


@router.post(
    "/v1/deployments",
    status_code=201,
    response_model=DeploymentAccepted,
    summary="Plan a deployment for an approved request",
)
async def plan_deployment(
    request: Request,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    day: Today,
    body: Annotated[PlanDeployment, Body()],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Plan the deployment staffing an approved request (one live deployment per request). The
    tour ends after the request's tour length unless `tour_end` says otherwise."""
    return await act(
        request,
        who,
        runtime,
        None,
        lambda conn, ctx: handlers.plan(conn, deps, body, ctx, day),
        status=201,
        key=idempotency_key,
        body=body,
    )


@router.post(
    "/v1/deployments/{deployment_id}/nominations",
    status_code=201,
    response_model=DeploymentAccepted,
    summary="Nominate an offered officer",
)
async def nominate(
    deployment_id: UUID,
    request: Request,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    body: NominateOfficer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Into `post_id`, or the first vacant post. Checks that the officer is offered for the
    capability, available for the post's whole window, vetted to the posts' level (SC or above
    for OFFICIAL-SENSITIVE), on no other overlapping tour, and that a post is vacant. While the
    tour is under way, this backfills a post an early repatriation reopened, for the rest of the
    tour (see `GET …/posts/{post_id}/matches` for who fits)."""
    return await act(
        request,
        who,
        runtime,
        deployment_id,
        lambda conn, ctx: handlers.nominate(
            conn, deps, deployment_id, body.officer_ref, ctx, body.post_id
        ),
        status=201,
        key=idempotency_key,
        body=body,
    )


@router.post(
    "/v1/deployments/{deployment_id}/officers/{officer_ref}/release",
    response_model=DeploymentAccepted,
    summary="Release your force's officer",
)
async def release(
    deployment_id: UUID,
    officer_ref: OfficerRef,
    request: Request,
    who: Liaison,
    runtime: RuntimeDep,
    deps: Deps,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The officer's home force agrees to release them (force liaison of that force)."""
    force = who.force or ""
    return await act(
        request,
        who,
        runtime,
        deployment_id,
        lambda conn, ctx: handlers.release(conn, deps, deployment_id, officer_ref, force, ctx),
        key=idempotency_key,
    )


@router.post(
    "/v1/deployments/{deployment_id}/officers/{officer_ref}/clearance",
    response_model=DeploymentAccepted,
    summary="Clear a released officer",
)
async def clear(
    deployment_id: UUID,
    officer_ref: OfficerRef,
    request: Request,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Clears the officer when vetting, medical, hostile-environment training and passport all
    stay valid through the tour's end; otherwise `409 clearance-failed` lists each failing item."""
    return await act(
        request,
        who,
        runtime,
        deployment_id,
        lambda conn, ctx: handlers.clear(conn, deps, deployment_id, officer_ref, ctx),
        key=idempotency_key,
    )


@router.post(
    "/v1/deployments/{deployment_id}/officers/{officer_ref}/repatriation",
    response_model=DeploymentAccepted,
    summary="Bring an officer home early",
)
async def repatriate(
    deployment_id: UUID,
    officer_ref: OfficerRef,
    request: Request,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    day: Today,
    body: RepatriateOfficer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """With a published reason code, the date the officer came home and, if wanted, an internal
    account (`reason`) that staff read and the partner never does."""
    return await act(
        request,
        who,
        runtime,
        deployment_id,
        lambda conn, ctx: handlers_tour.repatriate(
            conn, deps, deployment_id, officer_ref, body.reason_code, body.on, day, ctx, body.reason
        ),
        key=idempotency_key,
        body=body,
    )
