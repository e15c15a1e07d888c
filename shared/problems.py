"""RFC 9457 problem details: the one error format of every service.

`type` is a stable relative URI (`/problems/<slug>`) naming the rule that refused the request;
`detail` says it for a human; validation problems list every field at fault.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import AuthError

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
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


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", "Not found", f"no such {what}")


def conflict(detail: str, slug: str = "conflict") -> Problem:
    return Problem(409, slug, "Conflict", detail)


def forbidden(detail: str, slug: str = "forbidden") -> Problem:
    return Problem(403, slug, "Forbidden", detail)


def _trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{problem.type_slug}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if instance:
        body["instance"] = instance
    if problem.errors:
        body["errors"] = problem.errors
    if trace_id := _trace_id():
        body["trace_id"] = trace_id
    body.update(problem.extra)
    return JSONResponse(body, status_code=problem.status, headers=problem.headers,
                        media_type=MEDIA_TYPE)  # fmt: skip


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _validation_problem(exc: RequestValidationError) -> Problem:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        where = next(e for e in errors if e.get("type") == "json_invalid")
        return Problem(400, "malformed-json", "Malformed JSON",
                       f"the request body is not valid JSON: {where.get('msg', '')}")  # fmt: skip
    listed = []
    for e in errors:
        message = "unknown field" if e.get("type") == "extra_forbidden" else str(e.get("msg"))
        message = message.removeprefix("Value error, ")
        listed.append({"field": _field(tuple(e.get("loc", ()))), "message": message})
    fields = ", ".join(item["field"] for item in listed)
    return Problem(422, "validation-error", "Invalid request",
                   f"{len(listed)} field(s) at fault: {fields}", errors=listed)  # fmt: skip


_STATUS_SLUGS = {404: "not-found", 405: "method-not-allowed", 401: "unauthenticated",
                 403: "forbidden", 413: "payload-too-large", 429: "rate-limited"}  # fmt: skip


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_auth(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        title = "Authentication required" if exc.status == 401 else "Forbidden"
        return problem_response(Problem(exc.status, exc.problem_type, title, exc.detail,
                                        headers=headers), request.url.path)  # fmt: skip

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(_validation_problem(exc), request.url.path)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug = _STATUS_SLUGS.get(exc.status_code, "http-error")
        detail = str(exc.detail) if exc.detail else slug.replace("-", " ")
        return problem_response(Problem(exc.status_code, slug, slug.replace("-", " ").capitalize(),
                                        detail, headers=dict(exc.headers or {})), request.url.path)  # fmt: skip

    async def on_unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(Problem(500, "internal-error", "Internal error",
                                        "an unexpected error occurred; quote the trace id"),
                                request.url.path)  # fmt: skip

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(AuthError, on_auth)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unhandled)


class BodySizeLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413, whether announced by Content-Length or streamed.

    The body (small by definition) is read here first and replayed to the app, so the app never
    sees a partial body and the refusal is always a clean 413."""

    def __init__(self, app: ASGIApp, max_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(Problem(
            413, "payload-too-large", "Payload too large",
            f"the request body exceeds {self.max_bytes} bytes",
        ), scope.get("path"))  # fmt: skip
        await response(scope, receive, send)


class ProblemModel(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["/problems/validation-error"])
    title: str = Field(examples=["Invalid request"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["1 field(s) at fault: body.country"])
    instance: str | None = Field(default=None, examples=["/v1/requests"])
    errors: list[dict[str, str]] | None = Field(
        default=None, examples=[[{"field": "body.country", "message": "'XX' is not an ISO code"}]]
    )
    trace_id: str | None = None


def _doc(description: str) -> dict[str, Any]:
    return {"model": ProblemModel, "description": description,
            "content": {MEDIA_TYPE: {"schema": ProblemModel.model_json_schema()}}}  # fmt: skip


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("Malformed JSON or a bad cursor/token"),
    401: _doc("Missing or invalid bearer token"),
    403: _doc("Your role may not do this"),
    404: _doc("No such resource (or not yours)"),
    409: _doc("Not possible in the current state; `type` names the rule"),
    413: _doc("Request body too large"),
    422: _doc("Invalid fields, listed in `errors`"),
    429: _doc("Rate limited; see `Retry-After`"),
}
