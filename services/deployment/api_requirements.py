"""Staffing requirements: the approved requests a deployment must be planned for."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from services.deployment import queries_register
from services.deployment.api_common import keyset_after, page
from services.deployment.views import RequirementPage, RequirementView
from shared.api import (
    Consistent,
    CountryQuery,
    CursorQuery,
    LimitQuery,
    ReferenceQuery,
    RuntimeDep,
)
from shared.auth import Principal, Role, require_roles
from shared.problems import PROBLEM_RESPONSES, not_found
from shared.reference.codes import Capability

router = APIRouter(tags=["deployments"], responses=PROBLEM_RESPONSES)
Planner = Annotated[Principal, Depends(require_roles(Role.DEPLOYMENT_MANAGER, Role.ADMIN))]


@router.get(
    "/v1/requirements", response_model=RequirementPage, summary="Approved requests to staff"
)
async def list_requirements(
    who: Planner,
    runtime: RuntimeDep,
    status: Annotated[
        str | None,
        Query(
            max_length=40,
            examples=["open"],
            description="open, sourcing, deployed, fulfilled, on_hold, withdrawn",
        ),
    ] = None,
    capability: Annotated[Capability | None, Query()] = None,
    country: CountryQuery = None,
    reference: ReferenceQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
    _: None = Consistent,
) -> dict[str, Any]:
    """Requests the hub approved, as staffing requirements: `open` ones need a deployment."""
    filters = queries_register.RequirementFilters(
        status, capability and capability.value, country, reference
    )
    async with runtime.engine.connect() as conn:
        items = await queries_register.list_requirements(
            conn, filters, after=keyset_after(cursor), limit=limit + 1
        )
    return page(items, limit, "approved_at", "request_id")


@router.get(
    "/v1/requirements/{request_id}", response_model=RequirementView, summary="One requirement"
)
async def get_requirement(
    request_id: UUID, who: Planner, runtime: RuntimeDep, _: None = Consistent
) -> dict[str, Any]:
    async with runtime.engine.connect() as conn:
        view = await queries_register.get_requirement(conn, request_id)
    if view is None:
        raise not_found("approved request")
    return view
