"""Changing people on a deployment without cancelling it, and matching offers to its posts:
withdraw a nomination, replace a nominee, deploy a backfill officer, rank who can fill a post."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse

from services.deployment import handlers
from services.deployment.api_common import Deps, Manager
from services.deployment.api_deployments import OfficerRef, act
from services.deployment.commands import DeployOfficer, ReplaceNominee, WithdrawNomination
from services.deployment.views import DeploymentAccepted, PostMatches
from shared.api import (
    CursorQuery,
    IdempotencyKey,
    LimitQuery,
    RuntimeDep,
    Today,
    encode_cursor,
    read_cursor,
    refusals_as_problems,
)
from shared.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["deployments"], responses=PROBLEM_RESPONSES)
PostIdPath = Annotated[str, Path(min_length=2, max_length=4, pattern=r"^P[1-9][0-9]{0,2}$")]


@router.post(
    "/v1/deployments/{deployment_id}/officers/{officer_ref}/withdrawal",
    response_model=DeploymentAccepted,
    summary="Withdraw a nomination",
)
async def withdraw_nomination(
    deployment_id: UUID,
    officer_ref: OfficerRef,
    request: Request,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    body: WithdrawNomination,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Before the officer deploys (or, under way, a backfill who has not joined): their post is
    vacant again and their booking is freed; the deployment goes on. `reason` is internal."""
    return await act(
        request,
        who,
        runtime,
        deployment_id,
        lambda conn, ctx: handlers.withdraw_nomination(
            conn, deps, deployment_id, officer_ref, body.reason, ctx
        ),
        key=idempotency_key,
        body=body,
    )


@router.post(
    "/v1/deployments/{deployment_id}/officers/{officer_ref}/replacement",
    response_model=DeploymentAccepted,
    summary="Replace a nominee",
)
async def replace_nominee(
    deployment_id: UUID,
    officer_ref: OfficerRef,
    request: Request,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    body: ReplaceNominee,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Withdraw the nominee (`officer_ref` in the path; one who failed clearance, say) and
    nominate `officer_ref` of the body to the same post, in one step: both happen or neither.
    The replacement is checked as any nomination is; the new nominee then needs release and
    clearance."""
    return await act(
        request,
        who,
        runtime,
        deployment_id,
        lambda conn, ctx: handlers.replace(
            conn, deps, deployment_id, officer_ref, body.officer_ref, body.reason, ctx
        ),
        key=idempotency_key,
        body=body,
    )


@router.post(
    "/v1/deployments/{deployment_id}/officers/{officer_ref}/deployment",
    response_model=DeploymentAccepted,
    summary="Deploy a backfill officer",
)
async def deploy_backfill(
    deployment_id: UUID,
    officer_ref: OfficerRef,
    request: Request,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    day: Today,
    body: Annotated[DeployOfficer | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A cleared backfill officer (nominated to a post an early repatriation reopened) joins the
    tour under way, on `on` (default today), no earlier than the post's first vacant day."""
    on = (body.on if body else None) or day
    return await act(
        request,
        who,
        runtime,
        deployment_id,
        lambda conn, ctx: handlers.deploy_officer(
            conn, deps, deployment_id, officer_ref, on, day, ctx
        ),
        key=idempotency_key,
        body=body,
    )


def _offset(cursor: str | None) -> int:
    return read_cursor(cursor, lambda c: max(0, int(c["offset"]))) or 0


@router.get(
    "/v1/deployments/{deployment_id}/posts/{post_id}/matches",
    response_model=PostMatches,
    summary="Officers who can fill a post, best first",
)
async def post_matches(
    deployment_id: UUID,
    post_id: PostIdPath,
    who: Manager,
    runtime: RuntimeDep,
    deps: Deps,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> dict[str, Any]:
    """Every active offer of the deployment's capability, scored 0-100 for the post with a
    breakdown (readiness through the tour's end, languages, skills, rank), best first; ties go
    to the longest readiness margin, then `officer_ref`. `left_out` names each officer a
    nomination would refuse (vetting, availability, another overlapping tour...) and why."""
    start = _offset(cursor)
    with refusals_as_problems():
        async with runtime.engine.connect() as conn:
            needs, found = await handlers.match_post(conn, deps, deployment_id, post_id)
    window = found.ranked[start : start + limit]
    more = start + limit < len(found.ranked)
    return {
        "deployment_id": deployment_id,
        "post_id": post_id,
        "needs": asdict(needs),
        "items": [asdict(m) for m in window],
        "left_out": [asdict(x) for x in found.left_out] if start == 0 else [],
        "next_cursor": encode_cursor({"offset": start + limit}) if more else None,
    }
