"""Officers' personal data: justified, logged reads; erasure; the access log (DPA 2018 s.62)."""

from __future__ import annotations

import contextlib
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response

from services.deployment import handlers, privacy
from services.deployment.api_common import Admin, Manager
from services.deployment.views import AccessLogPage, Erasure, OfficerPersonal
from shared.api import (
    CursorQuery,
    LimitQuery,
    RuntimeDep,
    TimeQuery,
    command_context,
    command_transaction,
    encode_cursor,
    read_cursor,
    refusals_as_problems,
)
from shared.problems import PROBLEM_RESPONSES

log = logging.getLogger(__name__)
router = APIRouter(tags=["officers"], responses=PROBLEM_RESPONSES)

OfficerRef = Annotated[str, Path(min_length=5, max_length=40, pattern=r"^OFF-[A-Z0-9]+$")]
Justification = Annotated[
    str,
    Header(
        alias="X-Justification",
        min_length=10,
        max_length=500,
        description="Why you need this officer's personal data (recorded in the access log)",
    ),
]
OptionalJustification = Annotated[
    str | None,
    Header(
        alias="X-Justification",
        min_length=10,
        max_length=500,
        description="Why the data is erased (recorded in the access log)",
    ),
]


@router.get(
    "/v1/officers/{officer_ref}",
    response_model=OfficerPersonal,
    summary="An officer's personal data (justified, logged)",
)
async def read_officer(
    officer_ref: OfficerRef,
    request: Request,
    response: Response,
    who: Manager,
    runtime: RuntimeDep,
    justification: Justification,
) -> dict[str, Any]:
    """Name, contact and next of kin of an offered officer, for deployment managers. Needs an
    `X-Justification` header (10 to 500 characters): each answer is recorded in the access log in
    the same transaction, with who asked, when, why, which fields and to whom they went. After an
    erasure the personal fields read `"erased"` and nothing is disclosed or logged."""
    ctx = command_context(who, request)
    with refusals_as_problems():
        async with command_transaction(runtime) as conn:
            view = await handlers.read_officer(
                conn, officer_ref, who, justification.strip(), ctx.correlation_id
            )
    response.headers["Cache-Control"] = "no-store"
    return view


@router.delete(
    "/v1/officers/{officer_ref}/personal-data",
    response_model=Erasure,
    summary="Erase an officer's personal data",
)
async def erase_officer(
    officer_ref: OfficerRef,
    request: Request,
    who: Admin,
    runtime: RuntimeDep,
    justification: OptionalJustification = None,
) -> dict[str, Any]:
    """Destroys the officer's key (crypto-shredding): their personal data becomes unreadable in
    every copy (event store, topics, projections, dead letters) without rewriting history.
    Deployments stay intact; the officer stays known by `officer_ref`. Recorded in the access
    log."""
    ctx = command_context(who, request)
    why = (justification or "erasure of personal data").strip()
    with refusals_as_problems():
        async with command_transaction(runtime) as conn:
            erased_at, log_id = await handlers.erase_officer(
                conn, officer_ref, who, why, ctx.correlation_id
            )
    with contextlib.suppress(Exception):  # only reclaims space sooner; autovacuum would anyway
        await privacy.vacuum_keys(runtime.engine)
    log.info("personal data of %s erased (access log %d)", officer_ref, log_id)
    return {"officer_ref": officer_ref, "erased_at": erased_at, "access_log_id": log_id}


@router.get(
    "/v1/access-log", response_model=AccessLogPage, summary="Who read or erased personal data"
)
async def access_log(
    who: Admin,
    runtime: RuntimeDep,
    officer_ref: Annotated[str | None, Query(max_length=40)] = None,
    actor: Annotated[str | None, Query(max_length=200, description="Only this subject")] = None,
    action: Annotated[Literal["read", "erasure"] | None, Query()] = None,
    since: Annotated[TimeQuery, Query(description="On or after (ISO 8601)")] = None,
    until: Annotated[TimeQuery, Query(description="Before (ISO 8601)")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> dict[str, Any]:
    """Every read and erasure of officers' personal data, newest first."""
    before = read_cursor(cursor, lambda c: int(c["id"]))
    filters = privacy.AccessLogFilters(officer_ref, actor, action, since, until)
    async with runtime.engine.connect() as conn:
        items = await privacy.access_log_page(conn, filters, before_id=before, limit=limit + 1)
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = encode_cursor({"id": items[-1]["id"]})
    return {"items": items, "next_cursor": next_cursor}
