"""The edge pieces every router of this service uses: dependencies, the command block that maps
rule refusals to problems, idempotent creation, cursors, clearance redaction."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from services.deployment import handlers
from services.deployment.domain import DomainError
from shared.api import RateLimiter, RuntimeDep, command_transaction, decode_cursor, encode_cursor
from shared.api import idempotent as shared_idempotent
from shared.auth import Clearance, Principal, Role, clearance_at_least, require_roles
from shared.consistency import TOKEN_HEADER
from shared.eventstore import ConcurrencyConflict
from shared.problems import Problem, not_found
from shared.reference.data import load_reference_data

Manager = Annotated[Principal, Depends(require_roles(Role.DEPLOYMENT_MANAGER))]
Liaison = Annotated[Principal, Depends(require_roles(Role.FORCE_LIAISON))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Staff = Annotated[
    Principal, Depends(require_roles(Role.DEPLOYMENT_MANAGER, Role.ADMIN, Role.FORCE_LIAISON))
]
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
    return handlers.Deps(store=runtime.store, applier=runtime.applier, ref=load_reference_data())


Deps = Annotated[handlers.Deps, Depends(_deps)]


def today() -> date:
    return datetime.now(UTC).date()


def limit_writes(request: Request, who: Principal) -> None:
    limiter: RateLimiter = request.app.state.write_limiter
    limiter.take(who.subject)


#: Rules about who may act rather than what state things are in.
_FORBIDDEN_RULES = {"not-your-officer"}


def domain_problem(err: DomainError) -> Problem:
    if err.rule in _FORBIDDEN_RULES:
        return Problem(403, err.rule, "Forbidden", err.detail)
    if err.invalid:
        return Problem(422, err.rule, "Invalid request", err.detail, errors=err.errors or None)
    return Problem(
        409, err.rule, "Not possible in this state", err.detail, errors=err.errors or None
    )


@contextlib.asynccontextmanager
async def command(runtime: RuntimeDep) -> AsyncIterator[AsyncConnection]:
    """A command's transaction; a refusal rolls it back and becomes a problem response."""
    try:
        async with command_transaction(runtime) as conn:
            yield conn
    except handlers.NotFound as exc:
        raise not_found(exc.what) from exc
    except DomainError as err:
        raise domain_problem(err) from err
    except ConcurrencyConflict as exc:
        raise Problem(
            409,
            "version-conflict",
            "Changed meanwhile",
            "it changed while you acted on it; read it and try again",
        ) from exc


async def idempotent(
    conn: AsyncConnection,
    who: Principal,
    scope: str,
    key: str | None,
    body: Any,
    run: Callable[[], Awaitable[JSONResponse]],
) -> JSONResponse:
    """Per manager or liaison officer and endpoint. Only a hash of the body is stored, and
    responses never carry personal data."""
    return await shared_idempotent(conn, f"{who.subject}:{scope}", key, body, run)


def accepted(body: Any, token: str, status: int = 200, location: str | None = None) -> JSONResponse:
    headers = {TOKEN_HEADER: token}
    if location:
        headers["Location"] = location
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def keyset_after(cursor: str | None, time_key: str = "t") -> tuple[datetime, UUID] | None:
    if not cursor:
        return None
    c = decode_cursor(cursor)
    try:
        return datetime.fromisoformat(c[time_key]), UUID(c["id"])
    except (KeyError, ValueError, TypeError) as exc:
        raise Problem(
            400, "bad-cursor", "Bad cursor", "the cursor is not one this API gave out"
        ) from exc


def page(items: list[dict[str, Any]], limit: int, time_field: str, id_field: str) -> dict[str, Any]:
    """`items` was fetched with limit + 1: the extra row says there is a next page."""
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = encode_cursor({"t": last[time_field].isoformat(), "id": str(last[id_field])})
    return {"items": items, "next_cursor": next_cursor}


def redact(view: dict[str, Any], who: Principal) -> dict[str, Any]:
    """OFFICIAL-SENSITIVE detail is shown only to staff vetted to SC or above (DESIGN §5)."""
    if view.get("classification") == "OFFICIAL-SENSITIVE" and not clearance_at_least(
        who.clearance, Clearance.SC
    ):
        return view | {"mission": None, "redacted": ["mission"]}
    return view
