"""A deployment's tour: start it, extend it, complete it, or cancel it before it starts."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from services.deployment import handlers_tour
from services.deployment.api_common import Deps, Manager
from services.deployment.api_deployments import act
from services.deployment.commands import (
    CancelDeployment,
    CompleteDeployment,
    ExtendTour,
    StartDeployment,
)
from services.deployment.views import DeploymentAccepted
from shared.api import IdempotencyKey, RuntimeDep, Today
from shared.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["deployments"], responses=PROBLEM_RESPONSES)


@router.post(
    "/v1/deployments/{deployment_id}/start",
    response_model=DeploymentAccepted,
    summary="Deploy the officers",
)
async def start(
    deployment_id: UUID,
    request: Request,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    day: Today,
    body: Annotated[StartDeployment | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Only when every post has a cleared officer; otherwise `409 posts-not-filled`."""
    on = (body.on if body else None) or day
    return await act(
        request,
        who,
        runtime,
        deployment_id,
        lambda conn, ctx: handlers_tour.start(conn, deps, deployment_id, on, day, ctx),
        key=idempotency_key,
        body=body,
    )


@router.post(
    "/v1/deployments/{deployment_id}/extension",
    response_model=DeploymentAccepted,
    summary="Extend the tour",
)
async def extend(
    deployment_id: UUID,
    request: Request,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    body: ExtendTour,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Re-checks every deployed officer's vetting, medical, training, passport, availability and
    other bookings against the new end; `409 extension-not-possible` lists what fails."""
    return await act(
        request,
        who,
        runtime,
        deployment_id,
        lambda conn, ctx: handlers_tour.extend(conn, deps, deployment_id, body.months, ctx),
        key=idempotency_key,
        body=body,
    )


@router.post(
    "/v1/deployments/{deployment_id}/completion",
    response_model=DeploymentAccepted,
    summary="Complete the deployment",
)
async def complete(
    deployment_id: UUID,
    request: Request,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    day: Today,
    body: Annotated[CompleteDeployment | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The tour ended and the officers still deployed returned."""
    on = (body.on if body else None) or day
    return await act(
        request,
        who,
        runtime,
        deployment_id,
        lambda conn, ctx: handlers_tour.complete(conn, deps, deployment_id, on, day, ctx),
        key=idempotency_key,
        body=body,
    )


@router.post(
    "/v1/deployments/{deployment_id}/cancellation",
    response_model=DeploymentAccepted,
    summary="Cancel the deployment",
)
async def cancel(
    deployment_id: UUID,
    request: Request,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    body: CancelDeployment,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Before the officers deploy; frees every nominated officer. `reason` stays internal; the
    partner's timeline shows `partner_message`, if given."""
    return await act(
        request,
        who,
        runtime,
        deployment_id,
        lambda conn, ctx: handlers_tour.cancel(
            conn, deps, deployment_id, body.reason, body.partner_message, ctx
        ),
        key=idempotency_key,
        body=body,
    )
