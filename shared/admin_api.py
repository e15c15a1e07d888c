"""Operators' endpoints every service has: dead letters, projection rebuild, consumer position.
`jiph deadletters`, `jiph replay` and `jiph where` call them."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from shared.auth import Principal, Role, require_roles
from shared.backbone_tables import consumer_offsets, dead_letters, parked_events
from shared.consumer.redrive import DeadLetterNotFound, list_dead_letters, resolve
from shared.consumer.state import applied_among
from shared.problems import PROBLEM_RESPONSES, Problem

if TYPE_CHECKING:
    from shared.service import Runtime

Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.ADMIN))]
admin_router = APIRouter(prefix="/v1/admin", tags=["operations"], responses=PROBLEM_RESPONSES)


async def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    if runtime.applier is None:
        raise Problem(404, "no-projection", "No projection", "this service consumes no events")
    return runtime


RuntimeDep = Annotated["Runtime", Depends(_runtime)]


class ResolveBody(BaseModel):
    model_config = {"extra": "forbid"}
    action: Literal["redrive", "skip"]


@admin_router.get("/deadletters", summary="Events this service could not apply")
async def get_dead_letters(
    _: Operator,
    runtime: RuntimeDep,
    status: Annotated[
        Literal["parked", "redriven", "skipped", "any"], Query(description="filter by status")
    ] = "parked",
    key: Annotated[str | None, Query(max_length=200, description="only this key")] = None,
) -> dict[str, Any]:
    """Each dead letter with its error, its key and how many later events are parked behind it."""
    async with runtime.applier.transaction() as conn:  # type: ignore[union-attr]
        items = await list_dead_letters(
            conn, status=None if status == "any" else status, limit=1000
        )
    rows = [asdict(i) for i in items if key is None or i.key == key]
    return {"service": runtime.definition.name, "items": rows}


@admin_router.post("/deadletters/{dead_letter_id}", summary="Redrive or skip a dead letter")
async def post_dead_letter(
    dead_letter_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="As listed")],
    body: ResolveBody,
    who: Operator,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """`redrive` applies the event again (after the cause is fixed), then the events parked behind
    it in order; `skip` drops it and applies the parked ones. Says what it did."""
    try:
        outcome = await resolve(runtime.applier, dead_letter_id, body.action, who.subject)  # type: ignore[arg-type]
    except DeadLetterNotFound as exc:
        raise Problem(
            404, "not-found", "Not found", f"no parked dead letter {dead_letter_id}"
        ) from exc
    if outcome.still_failing:
        raise Problem(
            409,
            "still-failing",
            "The event still fails",
            f"dead letter {dead_letter_id} failed again: {outcome.still_failing}",
        )
    return asdict(outcome)


@admin_router.post("/rebuild", status_code=202, summary="Rebuild the projection from offset 0")
async def post_rebuild(_: Operator, runtime: RuntimeDep) -> dict[str, Any]:
    """Replays every topic this service follows into shadow tables while the live ones keep
    serving, then swaps them in atomically. Poll `GET /v1/admin/rebuild` for progress."""
    return asdict(runtime.start_rebuild().progress)


@admin_router.get("/rebuild", summary="Progress of the current or last rebuild")
async def get_rebuild(_: Operator, runtime: RuntimeDep) -> dict[str, Any]:
    """State (`running`, `swapping`, `done`, `failed`), records read of the total, rate."""
    return asdict(runtime.rebuild.progress) if runtime.rebuild else {"state": "idle"}


class EventIds(BaseModel):
    model_config = {"extra": "forbid"}
    event_ids: list[UUID] = Field(max_length=10000)


@admin_router.post("/applied", summary="Which of these events this service has applied")
async def post_applied(body: EventIds, _: Operator, runtime: RuntimeDep) -> dict[str, Any]:
    """The subset of `event_ids` this service's projection has applied (for `jiph where`)."""
    async with runtime.applier.transaction() as conn:  # type: ignore[union-attr]
        applied = await applied_among(conn, body.event_ids)
        return {"applied": [str(e) for e in applied]}


@admin_router.get("/requests/{request_id}", summary="What this service's projection holds")
async def get_request_state(request_id: UUID, _: Operator, runtime: RuntimeDep) -> dict[str, Any]:
    """The request as this service's read model holds it (for `jiph where`)."""
    describe = runtime.definition.describe_request
    if describe is None:
        return {"service": runtime.definition.name, "state": None}
    async with runtime.applier.transaction() as conn:  # type: ignore[union-attr]
        return {"service": runtime.definition.name, "state": await describe(conn, request_id)}


@admin_router.get("/consumer", summary="Stored offsets, lag and dead letters of this consumer")
async def get_consumer(
    _: Operator,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Per partition: the next offset stored with the projection, and the lag behind the end."""
    async with runtime.applier.transaction() as conn:  # type: ignore[union-attr]
        offsets = (await conn.execute(sa.select(consumer_offsets))).all()
        open_dead = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(dead_letters)
            .where(dead_letters.c.status == "parked")
        )
        parked = await conn.scalar(sa.select(sa.func.count()).select_from(parked_events))
    consumer = runtime.consumer
    lag: dict[str, int] = {}
    if consumer is not None and consumer.consumer is not None:
        for tp in consumer.assigned:
            high = consumer.consumer.highwater(tp)
            stored = next(
                (
                    o.next_offset
                    for o in offsets
                    if o.topic == tp.topic and o.partition == tp.partition
                ),
                0,
            )
            if high is not None:
                lag[f"{tp.topic}/{tp.partition}"] = max(0, high - stored)
    return {
        "service": runtime.definition.name,
        "offsets": {f"{o.topic}/{o.partition}": o.next_offset for o in offsets},
        "lag": lag,
        "total_lag": sum(lag.values()),
        "open_dead_letters": open_dead,
        "parked_events": parked,
    }
