"""Reporting's event reads: a request's audit trail and the live feed (Server-Sent Events)."""

from __future__ import annotations

import time
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from services.reporting import queries
from services.reporting.api import Auditor
from services.reporting.stream import FeedRequest, HeldStream, StreamSlots, event_view, feed
from services.reporting.views import Audit
from shared.api import Consistent, RuntimeDep
from shared.auth import (
    MAX_TOKEN_CHARS,
    AuthError,
    Principal,
    Role,
    TokenVerifier,
    TrustedIssuers,
    bearer_token,
)
from shared.problems import PROBLEM_RESPONSES, Problem, not_found
from shared.redaction import Reader

events_router = APIRouter(prefix="/v1", tags=["reporting"], responses=PROBLEM_RESPONSES)


@events_router.get("/audit/{request_id}", response_model=Audit, summary="Every event of a request")
async def audit(
    request_id: UUID, reader: Auditor, runtime: RuntimeDep, _: None = Consistent
) -> dict[str, Any]:
    """Every event about the request across intake, triage and deployment, in the order they
    happened, with the actor, the time, the producer and the trace id. Free text is left out."""
    async with runtime.engine.connect() as conn:
        rows = await queries.audit(conn, request_id)
    if not rows:
        raise not_found("request")
    seen_as = Reader.of(reader)
    return {"request_id": request_id, "events": [event_view(row, seen_as) for row in rows]}


# --- the live feed --------------------------------------------------------------------------
STREAM_ROLES = frozenset({Role.OPERATOR, Role.ANALYST, Role.ADMIN})


def stream_principal(
    request: Request,
    access_token: Annotated[
        str | None,
        Query(
            max_length=MAX_TOKEN_CHARS,
            description="The bearer token, for browsers' EventSource (which cannot send headers)",
        ),
    ] = None,
) -> Principal:
    verifier: TokenVerifier | TrustedIssuers = request.app.state.token_verifier
    header = request.headers.get("authorization")
    token = bearer_token(header) if header or not access_token else access_token
    principal = verifier.verify(token)
    if principal.expires_at is not None and principal.expires_at <= time.time():
        # Within the verifier's clock-skew leeway, but a feed would end at once: say so now.
        raise AuthError(401, "token expired")
    if principal.role not in STREAM_ROLES:
        raise AuthError(403, "this endpoint needs one of the roles: operator, analyst, admin")
    return principal


@events_router.get(
    "/stream",
    summary="Live gateway events (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(stream_principal)],
    type: Annotated[list[str] | None, Query(description="Only these event types")] = None,
    request_id: Annotated[UUID | None, Query()] = None,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=30, include_in_schema=False)
    ] = None,
    since: Annotated[
        int | None, Query(ge=0, description="Resume after this event id (as Last-Event-ID)")
    ] = None,
) -> StreamingResponse:
    """Events as they reach reporting (`event: gateway-event`, `id` = the feed's sequence),
    filtered by `type` and `request_id`; reconnect with `Last-Event-ID` to resume without gaps.
    A comment heartbeat every 15 s. Browsers may pass the token as `?access_token=`. The feed
    ends with a `token-expired` event when the token expires; a principal may hold 5 feeds at
    once (`429 too-many-streams` beyond). Mission names of OFFICIAL-SENSITIVE requests are null
    unless the token carries `sc` clearance or above."""
    resume = since
    if last_event_id is not None:
        try:
            resume = int(last_event_id)
        except ValueError as exc:
            raise Problem(
                400, "bad-last-event-id", "Bad Last-Event-ID", "not an id of this feed"
            ) from exc
    want = FeedRequest(
        types=list(type or ()),
        request_id=request_id,
        last_event_id=resume,
        reader=Reader.of(principal),
        expires_at=principal.expires_at,
    )
    slots: StreamSlots = request.app.state.stream_slots
    holder = f"{principal.role}:{principal.subject}"
    if not slots.acquire(holder):
        raise Problem(
            429,
            "too-many-streams",
            "Too many live feeds",
            f"you hold {slots.per_principal} live feeds already: close one first",
            headers={"Retry-After": "5"},
        )
    return HeldStream(
        feed(runtime.engine, want, request.is_disconnected),
        lambda: slots.release(holder),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
