"""The live feed: event-log rows as Server-Sent Events, resumable by `Last-Event-ID`.

The log's `seq` is the SSE id. The table is polled (every `poll_s`), which keeps the feed
independent of which process consumed the event; a comment line is sent as a heartbeat so proxies
keep the connection open and a dead client is noticed. Each event is shown as its reader may see
it (`shared.redaction`); the feed ends, with a `token-expired` event, when the reader's token
expires; a principal holds at most `STREAMS_PER_PRINCIPAL` feeds at once (per process).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

import shared.catalogue  # noqa: F401  (registers the event types DECISIONS asks for)
from services.reporting import queries
from shared.events import REGISTRY
from shared.redaction import Reader, redact, withheld_fields
from shared.topics import TRIAGE_EVENTS

#: Event data the feed and the audit show: codes, dates, counts, and the mission (withheld by
#: the need-to-know policy where the reader may not see it). Never free text (titles,
#: descriptions, answers, notes) nor personal data.
PUBLIC_FIELDS = (
    "request_id",
    "deployment_id",
    "offer_id",
    "reference",
    "country",
    "region",
    "capability",
    "partner_type",
    "classification",
    "headcount",
    "needed_by",
    "score",
    "risk_tier",
    "policy_version",
    "stage",
    "reason_code",
    "mission",
    "tour_start",
    "tour_end",
    "new_end",
    "months",
    "started_on",
    "completed_on",
    "tour_length_months",
)


#: Live feeds one principal may hold open at once, in one process.
STREAMS_PER_PRINCIPAL = 5


def public_details(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in PUBLIC_FIELDS if k in data}


#: The assessments and decisions: each records the case version it was made on.
DECISIONS = frozenset(REGISTRY.event_types(topic=TRIAGE_EVENTS, with_field="case_version"))


def seen(row: dict[str, Any]) -> dict[str, Any] | None:
    """For an assessment or a decision: the case as its maker saw it, in triage (`GET
    /v1/cases/{id}?as_of_version=V`). None for other events, and for events of the first schema
    versions, which did not record the case version (0 or absent)."""
    version = (row["data"] or {}).get("case_version") if row["event_type"] in DECISIONS else None
    if not isinstance(version, int) or version < 1 or not row["request_id"]:
        return None
    return {
        "case_version": version,
        "service": "triage",
        "href": f"/v1/cases/{row['request_id']}?as_of_version={version}",
    }


def event_view(row: dict[str, Any], reader: Reader) -> dict[str, Any]:
    """An event-log row as the audit and the feed show it to `reader`."""
    details = redact(
        public_details(row["data"]), withheld_fields(reader, row.get("classification"))
    )
    return {
        "seq": row["seq"],
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "topic": row["topic"],
        "producer": row["producer"],
        "stream_id": row["stream_id"],
        "stream_version": row["stream_version"],
        "request_id": str(row["request_id"]) if row["request_id"] else None,
        "occurred_at": row["occurred_at"].isoformat(),
        "actor": {"subject": row["actor_subject"], "role": row["actor_role"]},
        "correlation_id": row["correlation_id"],
        "trace_id": row["trace_id"],
        "details": details,
        "seen": seen(row),
    }


def sse_frame(row: dict[str, Any], reader: Reader) -> bytes:
    data = orjson.dumps(event_view(row, reader)).decode()
    return f"id: {row['seq']}\nevent: gateway-event\ndata: {data}\n\n".encode()


EXPIRED_FRAME = (
    b'event: token-expired\ndata: {"detail": "your token expired: reconnect with a new one"}\n\n'
)


@dataclass(frozen=True)
class FeedRequest:
    types: list[str]
    request_id: UUID | None
    last_event_id: int | None
    reader: Reader
    expires_at: float | None = None  # POSIX seconds: the feed ends then

    def expired(self) -> bool:
        return self.expires_at is not None and time.time() >= self.expires_at


class StreamSlots:
    """How many feeds each principal holds open (in this process)."""

    def __init__(self, per_principal: int = STREAMS_PER_PRINCIPAL) -> None:
        self.per_principal = per_principal
        self._held: Counter[str] = Counter()

    def acquire(self, principal: str) -> bool:
        if self._held[principal] >= self.per_principal:
            return False
        self._held[principal] += 1
        return True

    def release(self, principal: str) -> None:
        self._held[principal] -= 1
        if self._held[principal] <= 0:
            del self._held[principal]


class HeldStream(StreamingResponse):
    """A streaming response that gives its slot back however it ends (done, client gone,
    cancelled)."""

    def __init__(self, body: AsyncIterator[bytes], release: Callable[[], None], **kw: Any) -> None:
        super().__init__(body, **kw)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def feed(
    engine: AsyncEngine,
    want: FeedRequest,
    disconnected: Callable[[], Awaitable[bool]],
    *,
    poll_s: float = 0.5,
    heartbeat_s: float = 15.0,
) -> AsyncIterator[bytes]:
    async with engine.connect() as conn:
        newest = await queries.last_seq(conn)
    # No id, or one from before a rebuild renumbered the log (larger than any we hold): live only.
    cursor = want.last_event_id
    if cursor is None or cursor > newest:
        cursor = newest
    yield b"retry: 2000\n: connected\n\n"
    beat = time.monotonic()
    while not await disconnected():
        if want.expired():
            yield EXPIRED_FRAME
            return
        async with engine.connect() as conn:
            rows = await queries.events_after(
                conn, cursor, types=want.types, request_id=want.request_id
            )
        for row in rows:
            cursor = row["seq"]
            yield sse_frame(row, want.reader)
        if rows:
            beat = time.monotonic()
            continue
        if time.monotonic() - beat >= heartbeat_s:
            beat = time.monotonic()
            yield b": heartbeat\n\n"
        await asyncio.sleep(poll_s)
