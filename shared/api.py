"""FastAPI edge pieces every service uses: the runtime, the one way a command runs over HTTP
(`run_command`), consistency tokens on reads, cursors, rate limits (the refusal of undeclared query
parameters: `shared.strict_query`). `Depends` lives here and in
the routers, nowhere deeper."""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime
from sqlalchemy.ext.asyncio import AsyncConnection
from uuid6 import uuid7

from shared import idempotency
from shared.auth import Principal
from shared.consistency import STATE_HEADER, TOKEN_HEADER, BadToken, make_token, parse_token
from shared.events import Actor, Envelope
from shared.eventstore import CommandContext, ConcurrencyConflict
from shared.outbox import transaction_waking
from shared.problems import Problem
from shared.refusals import DomainError

if TYPE_CHECKING:
    from shared.service import Runtime

T = TypeVar("T")


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated["Runtime", Depends(get_runtime)]


@contextlib.asynccontextmanager
async def command_transaction(runtime: Runtime) -> AsyncIterator[AsyncConnection]:
    """The one place a command commits: when the block ends, before the response is sent; or
    not at all when it raises. (Not a yield-dependency: those may finish after the response.)
    Once committed, the outbox relay is woken if the command queued events (off the commit
    path: see shared/outbox.py)."""
    async with transaction_waking(runtime.engine, runtime.wake) as conn:
        yield conn


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeat a write safely: the same key and body answer the first response again",
    ),
]

Handle = Callable[[AsyncConnection, CommandContext], Awaitable[list[Envelope]]]
#: (the response body, ready for JSON, and its `Location`) once the command's events are applied.
Answer = Callable[[AsyncConnection, list[Envelope], str], Awaitable[tuple[Any, str]]]


def refusal_problem(err: DomainError) -> Problem:
    return Problem(err.status, err.rule, err.title, err.detail, errors=err.errors or None)


@contextlib.contextmanager
def refusals_as_problems() -> Iterator[None]:
    """A domain's refusal, or a write that lost a race, as the problem the caller reads."""
    try:
        yield
    except DomainError as err:
        raise refusal_problem(err) from err
    except ConcurrencyConflict as exc:
        raise Problem(
            409,
            "version-conflict",
            "Changed meanwhile",
            "it changed while you acted on it; read it again and retry",
        ) from exc


class CommandResponse(JSONResponse):
    """A command's answer, encoded by orjson: the standard library's encoder was a visible share
    of a submission's CPU. (The content is ready for JSON already; keys that are not strings,
    such as numbers and enumerations, become strings as with the standard library.)"""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


async def run_command(
    request: Request,
    runtime: Runtime,
    who: Principal,
    handle: Handle,
    answer: Answer,
    *,
    body: Any = None,
    idempotency_key: str | None = None,
    status: int = 200,
) -> JSONResponse:
    """The one way a write runs over HTTP: the caller's write limit; one transaction that
    commits before the response is sent (or not at all); `Idempotency-Key` (the same key and
    body answer the first response again, per caller and path); the command itself through the
    service's `Writer`; refusals as problems; the answer with a consistency token."""
    limiter: RateLimiter = request.app.state.write_limiter
    caller = f"partner:{who.partner_id}" if who.partner_id else f"staff:{who.subject}"
    limiter.take(caller)
    with refusals_as_problems():
        async with command_transaction(runtime) as conn:

            async def respond() -> JSONResponse:
                envelopes = await handle(conn, command_context(who, request))
                token = make_token(envelopes[-1].event_id)
                content, location = await answer(conn, envelopes, token)
                return CommandResponse(
                    content,
                    status_code=status,
                    headers={TOKEN_HEADER: token, "Location": location},
                )

            scope = f"{caller} {request.method} {request.url.path}"
            return await idempotent(conn, scope, idempotency_key, body, respond)


def command_context(principal: Principal, request: Request) -> CommandContext:
    correlation = request.headers.get("x-correlation-id") or request.headers.get("x-request-id")
    return CommandContext(
        actor=Actor(subject=principal.subject, role=principal.role.value),
        correlation_id=(correlation or "")[:100] or _new_correlation_id(),
    )


def _new_correlation_id() -> str:
    return str(uuid7())


async def read_consistency(
    runtime: RuntimeDep,
    response: Response,
    token: Annotated[
        str | None,
        Header(
            alias=TOKEN_HEADER,
            max_length=100,
            description="A write's consistency token: wait (bounded) until this read includes it",
        ),
    ] = None,
) -> None:
    if token is None:
        return
    try:
        event_id = parse_token(token)
    except BadToken as exc:
        raise Problem(400, "bad-consistency-token", "Bad consistency token", str(exc)) from exc
    watcher = runtime.consistency_watcher()
    applied = await watcher.wait(event_id, runtime.settings.consistency_wait_max_s)
    response.headers[STATE_HEADER] = "applied" if applied else "pending"


Consistent = Depends(read_consistency)


def encode_cursor(values: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def read_cursor(cursor: str | None, parse: Callable[[dict[str, Any]], T]) -> T | None:
    """The position a page cursor names (`parse` reads it from the decoded values), or None
    without one; a cursor this API did not give out is a 400 naming `query.cursor`."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = orjson.loads(raw)
        if not isinstance(value, dict):
            raise ValueError
        return parse(value)
    except (KeyError, ValueError, TypeError) as exc:
        raise Problem(
            400,
            "bad-cursor",
            "Bad cursor",
            "the cursor is not one this API gave out",
            errors=[{"field": "query.cursor", "message": "invalid cursor"}],
        ) from exc


CursorQuery = Annotated[
    str | None,
    Query(max_length=500, description="Opaque cursor from the previous page's `next_cursor`"),
]
#: The dates the gateway reasons about: a filter or a date outside them is a 422, not a 500 from
#: date arithmetic (the day after 9999-12-31 does not exist).
EARLIEST = date(1990, 1, 1)
LATEST = date(2199, 12, 31)


def supported(day: date | None) -> date | None:
    if day is not None and not EARLIEST <= day <= LATEST:
        raise ValueError(f"dates from {EARLIEST} to {LATEST} are supported")
    return day


def supported_time(moment: datetime | None) -> datetime | None:
    if moment is not None:
        supported(moment.date())
    return moment


#: A date query parameter (its `description` is the route's own).
DateQuery = Annotated[date | None, AfterValidator(supported)]
TimeQuery = Annotated[datetime | None, AfterValidator(supported_time)]

#: Development and tests only: `X-Jiph-Today` says which day "today" is for a command, so a
#: whole tour can be recorded without waiting months. Refused in production.
TODAY_HEADER = "X-Jiph-Today"


async def today(request: Request, runtime: RuntimeDep) -> date:
    """The day a command is recorded on (UTC): what "in the future" and "in the past" mean."""
    asked = request.headers.get(TODAY_HEADER)
    if asked is None:
        return datetime.now(UTC).date()
    if runtime.settings.env != "development":
        raise Problem(
            400,
            "development-clock",
            "Not in production",
            f"{TODAY_HEADER} is a development aid: this service runs in production",
        )
    try:
        day = date.fromisoformat(asked)
        supported(day)
    except ValueError as exc:
        raise Problem(
            422,
            "validation-error",
            "Invalid request",
            f"1 problem(s) with: header.{TODAY_HEADER.lower()}",
            errors=[{"field": f"header.{TODAY_HEADER.lower()}", "message": str(exc)}],
        ) from exc
    return day


Today = Annotated[date, Depends(today)]


def _upper(value: str | None) -> str | None:
    return value.upper() if value else value


#: Codes are compared upper-cased (`?country=so` finds SO): here, once, for every service.
CountryQuery = Annotated[
    str | None,
    AfterValidator(_upper),
    Query(
        min_length=2,
        max_length=10,
        description="Country or territory: ISO 3166-1 alpha-2, or the FCDO register's code of a "
        "territory ISO lacks (XK, SH-AC)",
        examples=["SO"],
    ),
]
LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size (default 50, at most 200)")]

#: Reads of the past (`shared.as_of`): a version of the view's own stream, or a moment.
AsOfVersionQuery = Annotated[
    int | None,
    Query(
        alias="as_of_version",
        ge=1,
        le=1_000_000,
        description="Read it as it was at this version of its own stream (1 is the first "
        "event): what a command that decided at this version had before it. Not with `as_of`; "
        "a version it has not reached is a 422 naming the parameter",
        examples=[2],
    ),
]
AsOfTimeQuery = Annotated[
    AwareDatetime | None,
    AfterValidator(supported_time),
    Query(
        alias="as_of",
        description="Read it as it was at this moment (RFC 3339 date-time with an offset, e.g. "
        "`2026-03-01T12:00:00Z`): every event that occurred at or before it. Not with "
        "`as_of_version`; a moment before it existed is a 422 naming the parameter",
        examples=["2026-03-01T12:00:00Z"],
    ),
]


class RateLimiter:
    """A token bucket per caller. Per process: with N processes the effective limit is N times
    higher; a gateway in front (or a shared store) would make it global."""

    def __init__(self, per_minute: int, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst or max(1, per_minute // 6))
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, who: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(who, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            retry = max(1, int((1.0 - tokens) / self.rate + 0.999))
            self._buckets[who] = (tokens, now)
            raise Problem(
                429,
                "rate-limited",
                "Too many requests",
                f"write limit reached; retry in {retry} s",
                headers={"Retry-After": str(retry)},
            )
        self._buckets[who] = (tokens - 1.0, now)


async def idempotent(
    conn: AsyncConnection,
    scope: str,
    key: str | None,
    body: Any,
    run: Callable[[], Awaitable[JSONResponse]],
) -> JSONResponse:
    """`Idempotency-Key` for a command, in its own transaction: a repeated key with the same body
    answers the first response again (`Idempotent-Replayed: true`); with another body, 422.
    `scope` keeps callers apart (a partner organisation, a staff subject, an endpoint)."""
    if key is None:
        return await run()
    digest = idempotency.request_hash(jsonable_encoder(body))
    try:
        stored = await idempotency.lock_and_find(conn, scope, key, digest)
    except idempotency.IdempotencyKeyReused as exc:
        raise Problem(
            422,
            "idempotency-key-reused",
            "Idempotency key reused",
            "this Idempotency-Key was used with a different body",
        ) from exc
    if stored is not None:
        return CommandResponse(
            orjson.loads(stored.body),
            status_code=stored.status_code,
            headers={**stored.headers, "Idempotent-Replayed": "true"},
        )
    response = await run()
    keep = {
        k: v for k, v in response.headers.items() if k.lower() in ("location", TOKEN_HEADER.lower())
    }
    stored_response = idempotency.StoredResponse(
        response.status_code, bytes(response.body), keep, digest
    )
    await idempotency.remember(conn, scope, key, digest, stored_response)
    return response


#: A request's reference: the one way every service that holds requests finds one by it
#: (`?reference=JIPH-2026-000123` on its list; case-insensitive).
ReferenceQuery = Annotated[
    str | None,
    AfterValidator(_upper),
    Query(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9-]+$",
        description="Only the request with this reference (case-insensitive)",
        examples=["JIPH-2026-000123"],
    ),
]
