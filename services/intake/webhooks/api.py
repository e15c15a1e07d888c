"""`/v1/webhook-endpoints`: a partner registers where the hub should tell it of changes to its
requests, sees each delivery's fate, and asks for one again. Every endpoint belongs to the
partner in the token: another organisation's answers 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from uuid6 import uuid7

from services.intake.api import Partner
from services.intake.settings import IntakeSettings
from services.intake.webhooks import store
from services.intake.webhooks.addresses import AddressPolicy, AddressRefused
from services.intake.webhooks.signing import new_secret
from shared.api import CursorQuery, LimitQuery, RuntimeDep, encode_cursor, read_cursor
from shared.events import REGISTRY
from shared.problems import PROBLEM_RESPONSES, Problem, not_found

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"], responses=PROBLEM_RESPONSES)
REQUEST_EVENT_TYPES = frozenset(REGISTRY.event_types(with_field="request_id"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _known_types(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = sorted(set(value) - REQUEST_EVENT_TYPES)
    if unknown:
        raise ValueError(f"not event types about a request: {', '.join(unknown)}")
    return sorted(set(value))


class CreateEndpoint(_Strict):
    url: str = Field(
        min_length=8,
        max_length=2000,
        description="Where to POST: an https URL on a public address",
        examples=["https://hooks.example.org/jiph"],
    )
    description: str = Field(default="", max_length=200, examples=["Mission HQ case system"])
    event_types: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=60,
        description="Only these gateway event types (default: every one you may see)",
        examples=[["RequestApproved", "InformationRequested"]],
    )
    _types = field_validator("event_types")(_known_types)


class UpdateEndpoint(_Strict):
    url: str | None = Field(default=None, min_length=8, max_length=2000)
    description: str | None = Field(default=None, max_length=200)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=60)
    active: bool | None = Field(default=None, description="false pauses deliveries")
    _types = field_validator("event_types")(_known_types)


class EndpointView(BaseModel):
    id: UUID
    url: str
    description: str
    event_types: list[str] | None
    active: bool
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointView):
    secret: str = Field(
        description="The `whsec_…` signing secret, shown only now: verify each delivery's "
        "`webhook-signature` with it (Standard Webhooks)"
    )


class EndpointPage(BaseModel):
    items: list[EndpointView]
    next_cursor: str | None


DeliveryState = Literal["pending", "delivered", "dead"]


class DeliveryView(BaseModel):
    id: str = Field(description="The `webhook-id` header of every attempt", examples=["msg_…"])
    event_id: UUID
    event_type: str
    request_id: UUID
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None


def _endpoint_view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "id": row["endpoint_id"]}


def _delivery_view(row: dict[str, Any]) -> dict[str, Any]:
    pending = row["state"] == "pending"
    return {
        **row,
        "id": f"msg_{row['delivery_id']}",
        "next_attempt_at": row["next_attempt_at"] if pending else None,
    }


def _settings(runtime: Any) -> IntakeSettings:
    return cast(IntakeSettings, runtime.settings)


async def _checked_url(runtime: Any, url: str) -> str:
    """The URL if a delivery could be sent there now (each delivery checks again: names may
    come to resolve elsewhere); else a 422 naming `body.url`."""
    policy = AddressPolicy.from_settings(_settings(runtime).webhook_allowed_targets)
    try:
        await policy.check(url)
    except AddressRefused as exc:
        raise Problem(
            422,
            "webhook-address-refused",
            "Address refused",
            f"webhooks cannot be sent to this URL: {exc}",
            errors=[{"field": "body.url", "message": str(exc)}],
        ) from exc
    return url


def _cursor_key(c: dict[str, Any]) -> tuple[datetime, UUID]:
    return datetime.fromisoformat(c["t"]), UUID(c["id"])


@router.post(
    "",
    status_code=201,
    response_model=EndpointCreated,
    summary="Register a webhook endpoint",
    responses={422: {"description": "A URL that is not https, or not on a public address"}},
)
async def create_endpoint(
    body: CreateEndpoint, partner: Partner, runtime: RuntimeDep, response: Response
) -> dict[str, Any]:
    """From now on every change of your requests' status, and every message for you, is POSTed
    there as a signed JSON event (type `request.updated`, the timeline entry in `data`), following
    the Standard Webhooks specification: verify `webhook-signature` with the secret answered
    here (shown once), and ignore a `webhook-id` you have seen (retries keep it). Answer with a
    2xx within 10 s; anything else (a redirect too: none is followed) is retried with
    exponential backoff, then kept as a dead letter you can ask to be sent again."""
    url = await _checked_url(runtime, body.url)
    partner_id = partner.partner_id or ""
    now = datetime.now(UTC)
    values = {
        "endpoint_id": uuid7(),
        "partner_id": partner_id,
        "url": url,
        "description": body.description,
        "event_types": body.event_types,
        "secret": new_secret(),
        "created_at": now,
        "updated_at": now,
        "created_by": partner.subject,
    }
    async with runtime.engine.begin() as conn:
        # Counted under a lock of the partner's own, so two at once cannot pass the limit.
        lock = sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"webhooks:{partner_id}"))
        await conn.execute(sa.select(lock))
        limit = _settings(runtime).webhook_endpoints_per_partner
        if await store.count_endpoints(conn, partner_id) >= limit:
            raise Problem(
                409,
                "too-many-endpoints",
                "Too many endpoints",
                f"an organisation may register at most {limit} webhook endpoints",
            )
        await store.insert_endpoint(conn, values)
    response.headers["Location"] = f"{router.prefix}/{values['endpoint_id']}"
    return {**values, "id": values["endpoint_id"], "active": True}


@router.get("", response_model=EndpointPage, summary="Your webhook endpoints")
async def list_endpoints(
    partner: Partner, runtime: RuntimeDep, cursor: CursorQuery = None, limit: LimitQuery = 50
) -> dict[str, Any]:
    """Oldest first, paginated; secrets are never shown again."""
    after = read_cursor(cursor, _cursor_key)
    async with runtime.engine.connect() as conn:
        rows = await store.list_endpoints(conn, partner.partner_id or "", after, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            {"t": last["created_at"].isoformat(), "id": str(last["endpoint_id"])}
        )
    return {"items": [_endpoint_view(r) for r in rows], "next_cursor": next_cursor}


async def _own_endpoint(runtime: Any, partner: Any, endpoint_id: UUID) -> dict[str, Any]:
    async with runtime.engine.connect() as conn:
        found = await store.get_endpoint(conn, partner.partner_id or "", endpoint_id)
    if found is None:
        raise not_found("webhook endpoint")
    return found


@router.get("/{endpoint_id}", response_model=EndpointView, summary="One webhook endpoint")
async def get_endpoint(endpoint_id: UUID, partner: Partner, runtime: RuntimeDep) -> Any:
    return _endpoint_view(await _own_endpoint(runtime, partner, endpoint_id))


@router.patch("/{endpoint_id}", response_model=EndpointView, summary="Change a webhook endpoint")
async def update_endpoint(
    endpoint_id: UUID, body: UpdateEndpoint, partner: Partner, runtime: RuntimeDep
) -> Any:
    """Change the fields given: a new URL is checked as at registration; `active: false` holds
    deliveries (they wait, and go once it is active again)."""
    changes = body.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        await _checked_url(runtime, changes["url"])
    for field in ("url", "active", "description"):
        if field in changes and changes[field] is None:
            raise Problem(
                422,
                "validation-error",
                "Invalid request",
                f"1 problem(s) with: body.{field}",
                errors=[{"field": f"body.{field}", "message": "may not be null"}],
            )
    async with runtime.engine.begin() as conn:
        if changes:
            found = await store.update_endpoint(
                conn, partner.partner_id or "", endpoint_id, changes
            )
            if not found:
                raise not_found("webhook endpoint")
    return _endpoint_view(await _own_endpoint(runtime, partner, endpoint_id))


@router.delete("/{endpoint_id}", status_code=204, summary="Remove a webhook endpoint")
async def delete_endpoint(endpoint_id: UUID, partner: Partner, runtime: RuntimeDep) -> Response:
    """The endpoint and its deliveries, pending ones included, are removed."""
    async with runtime.engine.begin() as conn:
        if not await store.delete_endpoint(conn, partner.partner_id or "", endpoint_id):
            raise not_found("webhook endpoint")
    return Response(status_code=204)


@router.get(
    "/{endpoint_id}/deliveries", response_model=DeliveryPage, summary="An endpoint's deliveries"
)
async def list_deliveries(
    endpoint_id: UUID,
    partner: Partner,
    runtime: RuntimeDep,
    state: Annotated[DeliveryState | None, Query(description="Only in this state")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> dict[str, Any]:
    """Newest first: each with its attempts, the last answer or error, and (while pending) when
    it is tried next. `state=dead`: what every attempt failed to deliver."""
    await _own_endpoint(runtime, partner, endpoint_id)
    after = read_cursor(cursor, _cursor_key)
    async with runtime.engine.connect() as conn:
        rows = await store.list_deliveries(conn, endpoint_id, state, after, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            {"t": last["created_at"].isoformat(), "id": str(last["delivery_id"])}
        )
    return {"items": [_delivery_view(r) for r in rows], "next_cursor": next_cursor}


def _delivery_id(value: str) -> UUID:
    try:
        return UUID(value.removeprefix("msg_"))
    except ValueError as exc:
        raise not_found("delivery") from exc


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redelivery",
    status_code=202,
    response_model=DeliveryView,
    summary="Send a delivery again",
)
async def redeliver(
    endpoint_id: UUID,
    delivery_id: Annotated[str, Path(max_length=60, description="`msg_…` or its UUID")],
    partner: Partner,
    runtime: RuntimeDep,
) -> Any:
    """Due again at once, with a fresh set of attempts: a dead letter once the receiver is
    fixed, or a delivered one your system lost. The same `webhook-id` and body are sent."""
    await _own_endpoint(runtime, partner, endpoint_id)
    wanted = _delivery_id(delivery_id)
    async with runtime.engine.begin() as conn:
        if not await store.schedule_redelivery(conn, endpoint_id, wanted):
            raise not_found("delivery")
        found = await store.get_delivery(conn, endpoint_id, wanted)
    assert found is not None
    return _delivery_view(found)
