"""RFC 9457 problem details: the one error format of every service, produced only here.

`type` is a stable relative URI (`/problems/<slug>`) naming the rule that refused the request,
so clients branch on it rather than on prose; `detail` says it for a human; validation problems
list every field at fault; `trace_id` ties the answer to the trace an operator can look up.
Unexpected errors say nothing about their cause: internals are logged, never sent.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import asyncpg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.auth import AuthError
from shared.outages import RETRY_AFTER_S, is_outage
from shared.route_table import RouteTable, route_path

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Raise anywhere in a request to answer with this problem.

    `errors` items are `{"field": "body.country", "message": "..."}`; `extra` holds extension
    members (they never override the standard ones)."""

    def __init__(
        self,
        status: int,
        type_slug: str,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.type_slug = type_slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    @property
    def type_uri(self) -> str:
        return f"/problems/{self.type_slug}"


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", "Not found", f"no such {what}")


def conflict(detail: str, slug: str = "conflict") -> Problem:
    return Problem(409, slug, "Conflict", detail)


def forbidden(detail: str, slug: str = "forbidden") -> Problem:
    return Problem(403, slug, "Forbidden", detail)


#: Errors raised by the database driver, SQLAlchemy or a socket (they may be outages).
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    sqlalchemy.exc.SQLAlchemyError,
    # What the asyncpg adapter raises itself (statements sent through shared.db.driver).
    sqlalchemy.exc.EmulatedDBAPIException,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)


def _internal_error() -> Problem:
    return Problem(
        500, "internal-error", "Internal error", "an unexpected error occurred; quote the trace id"
    )


def unavailable() -> Problem:
    return Problem(
        503,
        "service-unavailable",
        "Service unavailable",
        "the service cannot reach its database or broker just now; nothing was changed by "
        f"this request: retry in {RETRY_AFTER_S} s",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def current_trace_id() -> str | None:
    """The current OpenTelemetry trace id as 32 hex digits, if a valid span is current."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem.type_uri,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if instance is not None:
        body["instance"] = instance
    if problem.errors:
        body["errors"] = problem.errors
    if trace_id := current_trace_id():
        body["trace_id"] = trace_id
    for name, value in problem.extra.items():
        body.setdefault(name, value)
    return JSONResponse(
        jsonable_encoder(body),
        status_code=problem.status,
        headers=problem.headers,
        media_type=MEDIA_TYPE,
    )


# --- mapping framework errors ------------------------------------------------------------------
def _field_path(loc: Any) -> str:
    """`("body", "country")` → `body.country`; `("header", "idempotency-key")` likewise."""
    if isinstance(loc, list | tuple):
        return ".".join(str(part) for part in loc)
    return str(loc)


def validation_problem(exc: RequestValidationError) -> Problem:
    """400 for a body that is not JSON at all, else 422 listing every field at fault."""
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error") or error.get("msg", "")
            return Problem(
                400,
                "malformed-json",
                "Malformed JSON",
                f"the request body is not valid JSON: {reason}",
            )
    listed: list[dict[str, str]] = []
    for error in errors:
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        else:
            # Custom validators' messages arrive as "Value error, <ours>"; keep only ours.
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        listed.append({"field": _field_path(error.get("loc", ())), "message": message})
    fields = ", ".join(dict.fromkeys(item["field"] for item in listed))
    return Problem(
        422,
        "validation-error",
        "Invalid request",
        f"{len(listed)} problem(s) with: {fields}",
        errors=listed,
    )


# Slugs already used by clients; other statuses get one derived from the reason phrase.
_STATUS_SLUGS = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    429: "rate-limited",
}


def _http_problem(exc: StarletteHTTPException, path: str) -> Problem:
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "Error"
    slug = _STATUS_SLUGS.get(exc.status_code) or phrase.lower().replace(" ", "-")
    detail = str(exc.detail) if exc.detail else phrase
    if exc.status_code == 404 and detail == phrase:
        detail = f"nothing is at {path}"
    elif exc.status_code == 405 and detail == phrase:
        allowed = (exc.headers or {}).get("Allow")
        detail = f"{path} allows only {allowed}" if allowed else "method not allowed here"
    return Problem(exc.status_code, slug, phrase, detail, headers=dict(exc.headers or {}))


def _every_allowed_method(request: Request, exc: StarletteHTTPException) -> StarletteHTTPException:
    """Starlette's 405 names the methods of the first route of the path it tried; a path with
    a GET route and a POST route allows both, and `Allow` must say so (RFC 9110 §15.5.6)."""
    allowed = RouteTable.of(request.app).allowed(route_path(request.scope))
    if not allowed:
        return exc
    headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)}
    return StarletteHTTPException(405, detail=exc.detail, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app` answer with problem+json."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_auth(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthError)
        if exc.status == 401:
            title, headers = "Authentication required", {"WWW-Authenticate": "Bearer"}
        else:
            title, headers = "Forbidden", {}
        problem = Problem(exc.status, exc.problem_type, title, exc.detail, headers=headers)
        return problem_response(problem, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(exc), request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code < 400:  # e.g. 304: not an error, and must carry no body
            return Response(status_code=exc.status_code, headers=exc.headers)
        if exc.status_code == 405:
            exc = _every_allowed_method(request, exc)
        return problem_response(_http_problem(exc, request.url.path), request.url.path)

    async def on_dependency_error(request: Request, exc: Exception) -> Response:
        """Database and socket errors, answered here (not re-raised to the server): an outage
        is a 503 logged in one line; anything else is an internal error, logged in full."""
        if is_outage(exc):
            log.warning(
                "%s %s: a dependency is away (%s): 503",
                request.method,
                request.url.path,
                type(exc).__name__,
            )
            return problem_response(unavailable(), request.url.path)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(_internal_error(), request.url.path)

    async def on_unhandled(request: Request, exc: Exception) -> Response:
        if is_outage(exc):
            return await on_dependency_error(request, exc)
        # Starlette re-raises after this response is sent, so the server logs it too; ours
        # carries the request line (and, via the logging setup, the trace id).
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(_internal_error(), request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(AuthError, on_auth)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for dependency_error in DEPENDENCY_ERRORS:
        app.add_exception_handler(dependency_error, on_dependency_error)
    app.add_exception_handler(Exception, on_unhandled)


# --- OpenAPI -----------------------------------------------------------------------------------
class ProblemModel(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(
        description="Stable relative URI naming the rule; branch on this",
        examples=["/problems/validation-error"],
    )
    title: str = Field(
        description="Short summary of the problem type", examples=["Invalid request"]
    )
    status: int = Field(description="The HTTP status code", examples=[422])
    detail: str = Field(
        description="What went wrong this time, for a human",
        examples=["1 problem(s) with: body.country"],
    )
    instance: str | None = Field(
        default=None, description="The request path", examples=["/v1/requests"]
    )
    errors: list[dict[str, str]] | None = Field(
        default=None,
        description="Validation problems only: every field at fault",
        examples=[[{"field": "body.country", "message": "unknown field"}]],
    )
    trace_id: str | None = Field(
        default=None,
        description="Trace id (32 hex digits) to quote to operators",
        examples=["4bf92f3577b34da6a3ce929d0e0e4736"],
    )


def _documented(description: str) -> dict[str, Any]:
    # No "model" key: FastAPI would document it as application/json, which these never are.
    return {
        "description": description,
        "content": {MEDIA_TYPE: {"schema": ProblemModel.model_json_schema()}},
    }


#: For a route's or router's `responses=`: documents the problem answers in OpenAPI.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("Malformed JSON, or a bad cursor or token"),
    401: _documented("Missing or invalid bearer token"),
    403: _documented("Your role may not do this"),
    404: _documented("No such resource (or not yours)"),
    409: _documented("Not possible in the current state; `type` names the rule"),
    413: _documented("Request body too large"),
    422: _documented("Invalid fields, each listed in `errors`"),
    429: _documented("Rate limited; see `Retry-After`"),
    503: _documented("The database or broker is away; retry after `Retry-After` seconds"),
}
