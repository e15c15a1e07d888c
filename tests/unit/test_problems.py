"""Every error answers as RFC 9457 problem+json, with a stable type and nothing internal."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Header, Query
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel, ConfigDict
from starlette.types import Message, Receive, Scope, Send

from shared.input_boundary import InputBoundary
from shared.problems import (
    MEDIA_TYPE,
    PROBLEM_RESPONSES,
    Problem,
    conflict,
    install_problem_handlers,
    not_found,
    problem_response,
)

LIMIT = 1024


class NewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    country: str
    summary: str


def build_app(max_bytes: int = LIMIT) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(InputBoundary, max_bytes=max_bytes)

    @app.post("/v1/requests", status_code=201, responses=PROBLEM_RESPONSES)
    async def create(
        body: NewRequest,
        idempotency_key: Annotated[str | None, Header(max_length=8)] = None,
    ) -> dict[str, str]:
        return {"country": body.country}

    @app.get("/v1/requests")
    async def listing(limit: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2 in db://secret-host")

    @app.get("/v1/conflict")
    async def clash() -> None:
        raise Problem(
            409,
            "version-conflict",
            "Changed meanwhile",
            "the request is at version 4, not 3",
            headers={"ETag": '"4"'},
            extra={"current_version": 4, "status": "overridden?"},
        )

    @app.get("/v1/missing")
    async def missing() -> None:
        raise not_found("request")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # The app's own errors must come back as responses, not be re-raised into the test.
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def problem_of(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


VALID = {"country": "FR", "summary": "stolen artwork"}


async def test_valid_request_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/requests", json=VALID)
    assert response.status_code == 201
    assert response.json() == {"country": "FR"}


async def test_unknown_field_is_listed(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/requests", json=VALID | {"colour": "red"})
    body = problem_of(response, 422, "validation-error")
    assert body["errors"] == [{"field": "body.colour", "message": "unknown field"}]
    assert body["instance"] == "/v1/requests"


async def test_every_field_at_fault_is_listed(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/requests",
        json={"country": 7, "surprise": True},
        headers={"Idempotency-Key": "far-too-long-for-eight"},
    )
    body = problem_of(response, 422, "validation-error")
    fields = {error["field"]: error["message"] for error in body["errors"]}
    assert fields.keys() == {
        "header.idempotency-key",
        "body.country",
        "body.summary",
        "body.surprise",
    }
    assert fields["body.surprise"] == "unknown field"
    assert fields["body.summary"] == "Field required"
    assert "string" in fields["body.country"]


async def test_query_field_path(client: httpx.AsyncClient) -> None:
    body = problem_of(await client.get("/v1/requests?limit=0"), 422, "validation-error")
    assert [error["field"] for error in body["errors"]] == ["query.limit"]


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/requests", content=b'{"country": "FR",', headers={"Content-Type": "application/json"}
    )
    body = problem_of(response, 400, "malformed-json")
    assert "not valid JSON" in body["detail"]
    assert "errors" not in body


async def test_too_big_body_with_content_length_is_413(client: httpx.AsyncClient) -> None:
    payload = json.dumps(VALID | {"summary": "x" * LIMIT}).encode()
    response = await client.post(
        "/v1/requests", content=payload, headers={"Content-Type": "application/json"}
    )
    assert response.request.headers["content-length"] == str(len(payload))
    body = problem_of(response, 413, "payload-too-large")
    assert str(LIMIT) in body["detail"]


async def test_too_big_streamed_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * 200

    response = await client.post(
        "/v1/requests", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    problem_of(response, 413, "payload-too-large")


async def test_streamed_body_within_the_limit_reaches_the_app(client: httpx.AsyncClient) -> None:
    payload = json.dumps(VALID).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 5):
            yield payload[start : start + 5]

    response = await client.post(
        "/v1/requests", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201


async def test_oversized_body_never_reaches_the_app() -> None:
    """Pure ASGI: the app is not called at all, even though the first chunks were small."""
    called = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal called
        called = True

    incoming = [
        {"type": "http.request", "body": b"a" * 60, "more_body": True},
        {"type": "http.request", "body": b"b" * 60, "more_body": True},
        {"type": "http.request", "body": b"c" * 60, "more_body": False},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/v1/x", "headers": []}
    await InputBoundary(app, max_bytes=100)(scope, receive, send)

    assert not called
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert (b"content-type", MEDIA_TYPE.encode()) in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["type"] == "/problems/payload-too-large"


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    body = problem_of(await client.get("/v1/nowhere"), 404, "not-found")
    assert body["instance"] == "/v1/nowhere"


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/requests")
    body = problem_of(response, 405, "method-not-allowed")
    assert response.headers["allow"]  # Starlette names the methods of the first matching route
    assert response.headers["allow"] in body["detail"]


async def test_unexpected_error_is_500_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="shared.problems"):
        response = await client.get("/v1/boom")
    body = problem_of(response, 500, "internal-error")
    assert body["detail"] == "an unexpected error occurred; quote the trace id"
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert "secret-host" in caplog.text  # the operator still sees it, in the log


async def test_raised_problem_keeps_status_slug_headers_and_extensions(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/conflict")
    body = problem_of(response, 409, "version-conflict")
    assert response.headers["etag"] == '"4"'
    assert body["current_version"] == 4
    assert body["status"] == 409  # an extension member never overrides a standard one
    assert body["detail"] == "the request is at version 4, not 3"


async def test_not_found_helper(client: httpx.AsyncClient) -> None:
    body = problem_of(await client.get("/v1/missing"), 404, "not-found")
    assert body["detail"] == "no such request"


def test_problem_response_carries_the_current_trace_id() -> None:
    assert "trace_id" not in json.loads(problem_response(conflict("busy")).body)

    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        body = json.loads(problem_response(conflict("busy", slug="busy")).body)
    assert body["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert len(body["trace_id"]) == 32
    assert body["type"] == "/problems/busy"


async def test_openapi_documents_problem_json(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    responses = schema["paths"]["/v1/requests"]["post"]["responses"]
    for status in ("401", "403", "404", "409", "413", "422", "429"):
        content = responses[status]["content"]
        assert list(content) == [MEDIA_TYPE], status
        fields = set(content[MEDIA_TYPE]["schema"]["properties"])
        assert {"type", "title", "status", "detail", "instance", "errors", "trace_id"} <= fields


async def test_json_nested_deeper_than_the_parsers_go_is_a_400_not_a_500() -> None:
    # Within the services' size limit (64 KiB), yet deeper than the parsers (or the text rule's
    # walk over every string) recurse.
    transport = httpx.ASGITransport(app=build_app(64 * 1024), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for depth in (900, 990, 20_000):
            deep = b"[" * depth + b'"x"' + b"]" * depth
            response = await client.post(
                "/v1/requests", content=deep, headers={"Content-Type": "application/json"}
            )
            assert response.status_code in (400, 422), (depth, response.text)
