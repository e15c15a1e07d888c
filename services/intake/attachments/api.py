"""`/v1/requests/{request_id}/attachments`: partners attach documents to their own requests and
staff to any they may read; both list and download them. The body of an upload is the file
itself (`Content-Type` its type, `?filename=` its name). A partner reaches only its own
requests' attachments (another's answers 404); staff those of OFFICIAL-SENSITIVE requests only
with SC clearance (the need-to-know policy, shared/redaction.py)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from uuid6 import uuid7

from services.intake.api import registered_partner
from services.intake.attachments import store
from services.intake.attachments.content import ACCEPTED, Refused, judge
from services.intake.attachments.storage import BlobStore
from shared.api import CursorQuery, LimitQuery, RuntimeDep, encode_cursor, read_cursor
from shared.auth import Principal, Role, require_roles
from shared.problems import PROBLEM_RESPONSES, Problem, current_trace_id, not_found
from shared.redaction import Reader, may_see

router = APIRouter(
    prefix="/v1/requests/{request_id}/attachments",
    tags=["attachments"],
    responses=PROBLEM_RESPONSES,
)
#: The upload route, for the input boundary's file-sized limit (shared/input_boundary.py).
UPLOAD_PATH = r"/v1/requests/[^/]+/attachments"
MAX_PER_REQUEST = 50
STAFF = (
    Role.TRIAGE_OFFICER,
    Role.APPROVER,
    Role.MINISTER,
    Role.DEPLOYMENT_MANAGER,
    Role.ADMIN,
)
FIELD = "attachments"  # its name in the need-to-know policy


async def _reader(
    request: Request,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Depends(require_roles(Role.PARTNER, *STAFF))],
) -> Principal:
    if principal.role is Role.PARTNER:
        await registered_partner(request, runtime, principal)  # registered and active
    return principal


Reader_ = Annotated[Principal, Depends(_reader)]


class AttachmentView(BaseModel):
    id: UUID
    request_id: UUID
    filename: str
    content_type: str = Field(description="As judged from the content, not as declared")
    size_bytes: int
    sha256: str = Field(description="Hex SHA-256 of the bytes, to check a download against")
    classification: str = Field(description="The request's, when the file was attached")
    uploaded_by_role: str
    uploaded_at: datetime


class AttachmentPage(BaseModel):
    items: list[AttachmentView]
    next_cursor: str | None


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "id": row["attachment_id"]}


async def _may_reach(runtime: Any, who: Principal, request_id: UUID) -> str:
    """The request's classification, if `who` may reach its attachments; else 404 (not theirs,
    or no such request) or 403 (staff without the clearance its classification needs)."""
    async with runtime.engine.connect() as conn:
        scope = await store.request_scope(conn, request_id)
    if scope is None or (who.role is Role.PARTNER and scope[0] != who.partner_id):
        raise not_found("request")
    classification = scope[1]
    if who.role is not Role.PARTNER and not may_see(Reader.of(who), classification, FIELD):
        raise Problem(
            403,
            "clearance-required",
            "Clearance required",
            f"the attachments of an {classification} request need SC clearance or above",
        )
    return classification


def _store(request: Request) -> BlobStore:
    found: BlobStore = request.app.state.blob_store
    return found


@router.post(
    "",
    status_code=201,
    response_model=AttachmentView,
    summary="Attach a document",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ACCEPTED},
        }
    },
    responses={
        413: {"description": "Larger than the service's upload limit"},
        415: {"description": "Not a PDF, PNG, JPEG, DOCX, ODT or plain text file"},
    },
)
async def attach(
    request_id: UUID,
    request: Request,
    response: Response,
    who: Reader_,
    runtime: RuntimeDep,
    filename: Annotated[str, Query(min_length=1, max_length=200, examples=["consent.pdf"])],
) -> Any:
    """Send the file as the body. Its type is read from its content (PDF, PNG, JPEG, DOCX, ODT
    or UTF-8 plain text): a `Content-Type` or a file name extension that says otherwise is a
    422 naming `header.content-type` or `query.filename`. It takes the request's
    classification; its SHA-256 is answered. The same bytes attached again answer the first
    attachment (200), so a retried upload stores nothing twice."""
    classification = await _may_reach(runtime, who, request_id)
    data = await request.body()
    try:
        content_type = judge(data, request.headers.get("content-type"), filename)
    except Refused as exc:
        raise Problem(
            exc.status,
            exc.slug,
            "Attachment refused",
            exc.reason,
            errors=[{"field": exc.field, "message": exc.reason}],
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    async with runtime.engine.begin() as conn:
        same = await store.find_same(conn, request_id, digest)
        if same is not None:
            response.status_code = 200
            return _view(same)
        if await store.count_for(conn, request_id) >= MAX_PER_REQUEST:
            raise Problem(
                409,
                "too-many-attachments",
                "Too many attachments",
                f"a request holds at most {MAX_PER_REQUEST} attachments",
            )
        scope = await store.request_scope(conn, request_id)
        assert scope is not None
        values = {
            "attachment_id": uuid7(),
            "request_id": request_id,
            "partner_id": scope[0],
            "classification": classification,
            "filename": filename,
            "content_type": content_type,
            "size_bytes": len(data),
            "sha256": digest,
            "uploaded_by": who.subject,
            "uploaded_by_role": who.role.value,
            "uploaded_at": datetime.now(UTC),
        }
        # The bytes first: a record never names a file that is not there.
        await _store(request).put(str(values["attachment_id"]), data)
        await store.insert(conn, values)
    response.headers["Location"] = (
        f"/v1/requests/{request_id}/attachments/{values['attachment_id']}"
    )
    return _view(values)


@router.get("", response_model=AttachmentPage, summary="A request's attachments")
async def list_attachments(
    request_id: UUID,
    who: Reader_,
    runtime: RuntimeDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> dict[str, Any]:
    """Oldest first, paginated."""
    await _may_reach(runtime, who, request_id)
    after = read_cursor(cursor, lambda c: (datetime.fromisoformat(c["t"]), UUID(c["id"])))
    async with runtime.engine.connect() as conn:
        rows = await store.list_for(conn, request_id, after, limit + 1)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            {"t": last["uploaded_at"].isoformat(), "id": str(last["attachment_id"])}
        )
    return {"items": [_view(r) for r in rows], "next_cursor": next_cursor}


async def _attachment(runtime: Any, who: Principal, request_id: UUID, aid: UUID) -> dict[str, Any]:
    await _may_reach(runtime, who, request_id)
    async with runtime.engine.connect() as conn:
        found = await store.get(conn, request_id, aid)
    if found is None:
        raise not_found("attachment")
    return found


@router.get("/{attachment_id}", response_model=AttachmentView, summary="One attachment")
async def get_attachment(
    request_id: UUID, attachment_id: UUID, who: Reader_, runtime: RuntimeDep
) -> Any:
    return _view(await _attachment(runtime, who, request_id, attachment_id))


@router.get(
    "/{attachment_id}/content",
    summary="Download an attachment",
    response_class=Response,
    responses={200: {"description": "The file, as an attachment", "content": {"*/*": {}}}},
)
async def download(
    request_id: UUID, attachment_id: UUID, request: Request, who: Reader_, runtime: RuntimeDep
) -> Response:
    """The file's bytes, always as a download (`Content-Disposition: attachment`), never to be
    sniffed or cached. Every download is logged with who, when and the trace id."""
    found = await _attachment(runtime, who, request_id, attachment_id)
    data = await _store(request).get(str(found["attachment_id"]))
    async with runtime.engine.begin() as conn:
        await store.log_download(
            conn,
            found,
            subject=who.subject,
            role=who.role.value,
            partner_id=who.partner_id,
            trace_id=current_trace_id(),
        )
    name = found["filename"]
    return Response(
        content=data,
        media_type=found["content_type"],
        headers={
            # The name passed the file name rule at upload: nothing in it needs escaping.
            "Content-Disposition": f'attachment; filename="{name}"; '
            f"filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "X-Checksum-SHA256": found["sha256"],
        },
    )
