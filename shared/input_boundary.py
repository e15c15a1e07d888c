"""The one boundary every request crosses before any route: body size and read time bounded, and
the text rule (`shared.text`) applied to the path, every header value, every query parameter and
every string of a JSON body, keys included.

It is an ASGI middleware rather than a pydantic type so that no endpoint can skip it: a route
added tomorrow, a query parameter declared as a plain `str`, a header read by hand all get the
same rule. Text that passes is handed on normalised (NFC, line breaks as `\\n`, stripped); text
that is refused gets a 422 problem naming the field (`body.changes.title`, `query.mission`,
`header.x-justification`), before anything is stored.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import Problem, problem_response
from shared.text import TextRefused, clean_text, refusal

DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_BODY_TIMEOUT_S = 10.0


class _Refused(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


#: Deeper JSON than any request of the gateway has is refused before it is walked: the walk (and
#: pydantic after it) recurses, and a 64 KiB body can nest thousands of levels.
MAX_JSON_DEPTH = 32


def clean_json(value: Any, field: str = "body", depth: int = 0) -> Any:
    """`value` (parsed JSON) with every string under the text rule; raises `_Refused`."""
    if isinstance(value, str):
        try:
            return clean_text(value)
        except TextRefused as exc:
            raise _Refused(field, exc.reason) from exc
    if isinstance(value, dict | list) and depth >= MAX_JSON_DEPTH:
        raise _Refused(field, f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            name = clean_json(key, f"{field}.{key!r}") if isinstance(key, str) else key
            cleaned[name] = clean_json(item, f"{field}.{name}", depth + 1)
        return cleaned
    if isinstance(value, list):
        return [clean_json(item, f"{field}.{i}", depth + 1) for i, item in enumerate(value)]
    return value


def _parse(body: bytes) -> Any:
    """JSON as FastAPI's own parser (`json`) reads it, through orjson where the two agree: orjson
    refuses what only `json` takes (NaN, integers beyond 64 bits, lone surrogates), which `json`
    then reads as FastAPI will."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media: bytes = value.split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True  # no content type: FastAPI reads such a body as JSON too


class InputBoundary:
    """Pure ASGI middleware: reads the (small, by definition) body first and only then hands the
    request on, so an oversized, slow or refused request never reaches a handler, not even in
    part."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
        uploads: Sequence[str] = (),
        upload_max_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if max_bytes <= 0 or upload_max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout_s = body_timeout_s
        #: Paths (regular expressions, whole path) whose bodies are files: bounded by
        #: `upload_max_bytes` instead, and not JSON (the text rule is for text).
        self.uploads = [re.compile(pattern) for pattern in uploads]
        self.upload_max_bytes = upload_max_bytes

    def _is_upload(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        return scope.get("method") in ("POST", "PUT") and any(
            p.fullmatch(path) for p in self.uploads
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            scope = self._clean_scope(scope)
        except _Refused as exc:
            await self._answer(scope, receive, send, _text_problem(exc))
            return
        upload = self._is_upload(scope)
        limit = self.upload_max_bytes if upload else self.max_bytes
        if any(
            name == b"content-length" and value.isdigit() and int(value) > limit
            for name, value in scope.get("headers", ())
        ):
            await self._answer(scope, receive, send, self._too_large(limit))
            return
        try:
            body = await self._read_body(receive, limit)
        except TimeoutError:
            await self._answer(scope, receive, send, _too_slow(self.body_timeout_s))
            return
        except _TooLarge:
            await self._answer(scope, receive, send, self._too_large(limit))
            return
        except _Gone:
            return  # the client went away before finishing its request
        try:
            if not upload:
                body, scope = self._clean_body(scope, body)
        except _Refused as exc:
            await self._answer(scope, receive, send, _text_problem(exc))
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later calls wait for http.disconnect, as usual

        await self.app(scope, replay, send)

    # --- the text rule -----------------------------------------------------------------------
    def _clean_scope(self, scope: Scope) -> Scope:
        reason = refusal(scope.get("path", ""))
        if reason:
            raise _Refused("path", reason)
        for name, value in scope.get("headers", ()):
            reason = refusal(header_text(value))
            if reason:
                raise _Refused(f"header.{name.decode('latin-1')}", reason)
        raw = scope.get("query_string", b"")
        if not raw:
            return scope
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
        cleaned = [(k, _clean_param(k, v)) for k, v in pairs]
        if cleaned == pairs:
            return scope
        return {**scope, "query_string": urlencode(cleaned).encode("ascii")}

    def _clean_body(self, scope: Scope, body: bytes) -> tuple[bytes, Scope]:
        if not body or not _is_json(scope):
            return body, scope
        try:
            parsed = _parse(body)
        except (ValueError, RecursionError):
            # Not JSON, or nested deeper than a parser goes: the route answers 400.
            return body, scope
        cleaned = clean_json(parsed)
        if cleaned == parsed:
            return body, scope
        new_body = json.dumps(cleaned, ensure_ascii=False).encode()
        headers = [(n, v) for n, v in scope.get("headers", ()) if n != b"content-length"]
        headers.append((b"content-length", str(len(new_body)).encode()))
        return new_body, {**scope, "headers": headers}

    # --- the body ------------------------------------------------------------------------------
    async def _read_body(self, receive: Receive, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async with asyncio.timeout(self.body_timeout_s):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise _Gone()
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _TooLarge()
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)

    def _too_large(self, limit: int) -> Problem:
        return Problem(
            413,
            "payload-too-large",
            "Payload too large",
            f"the request body exceeds {limit} bytes",
            # The rest of the body is left unread, so the connection cannot be reused.
            headers={"Connection": "close"},
        )

    async def _answer(self, scope: Scope, receive: Receive, send: Send, problem: Problem) -> None:
        await problem_response(problem, scope.get("path"))(scope, receive, send)


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


def _clean_param(name: str, value: str) -> str:
    try:
        return clean_text(value)
    except TextRefused as exc:
        raise _Refused(f"query.{name}", exc.reason) from exc


def _text_problem(exc: _Refused) -> Problem:
    return Problem(
        422,
        "validation-error",
        "Invalid request",
        f"1 problem(s) with: {exc.field}",
        errors=[{"field": exc.field, "message": f"contains {exc.reason}"}],
    )


def _too_slow(seconds: float) -> Problem:
    return Problem(
        408,
        "request-timeout",
        "Request timeout",
        f"the request body did not arrive within {seconds:g} s",
        headers={"Connection": "close"},
    )


def header_text(value: bytes | str) -> str:
    """A header value as the text its sender meant: UTF-8 when it is valid UTF-8 (what clients
    send for non-ASCII text), else ISO-8859-1 (HTTP's historical charset). Starlette hands out
    the ISO-8859-1 reading; pass that, or the raw bytes."""
    raw = value.encode("latin-1") if isinstance(value, str) else value
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
