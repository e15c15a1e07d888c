"""Attachments over the running stack: a partner attaches documents to its request, lists and
downloads them (every download logged, never served inline); the type is read from the bytes,
so a file whose content contradicts its declared type or name is refused, naming the field;
beyond the upload limit a 413. Another partner reaches nothing; staff need SC clearance for an
OFFICIAL-SENSITIVE request's files."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from jiph.stack.postgres import PostgresTarget
from shared.settings import ServiceSettings
from tests.e2e.test_intake_api import submit
from tests.running_services import TokenFactory, bearer

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
LIMIT = int(ServiceSettings.model_fields["upload_max_bytes"].default)


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@pytest.fixture
def partner(token: TokenFactory) -> dict[str, str]:
    return bearer(token("partner", partner_id=f"docs-{uuid.uuid4().hex[:8]}"))


@pytest.fixture
async def intake(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["intake"], timeout=30) as client:
        yield client


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    rid: str,
    data: bytes,
    content_type: str,
    filename: str,
) -> httpx.Response:
    return await client.post(
        f"/v1/requests/{rid}/attachments",
        params={"filename": filename},
        content=data,
        headers=headers | {"Content-Type": content_type},
    )


async def downloads_logged(infra: PostgresTarget, attachment_id: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(infra.admin_url.rsplit("/", 1)[0] + "/jiph_intake")
    try:
        rows = await conn.fetch(
            "SELECT subject, role, partner_id FROM attachment_downloads"
            " WHERE attachment_id = $1 ORDER BY downloaded_at",
            uuid.UUID(attachment_id),
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def test_upload_list_and_download_logged_never_inline(
    intake: httpx.AsyncClient, partner: dict[str, str], infra: PostgresTarget
) -> None:
    rid = (await submit(intake, partner))["request"]["id"]
    sent = await upload(intake, partner, rid, PDF, "application/pdf", "host-state consent.pdf")
    assert sent.status_code == 201, sent.text
    made = sent.json()
    assert made["content_type"] == "application/pdf" and made["size_bytes"] == len(PDF)
    assert made["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert made["classification"] == "OFFICIAL" and made["uploaded_by_role"] == "partner"
    assert sent.headers["location"].endswith(made["id"])
    # Nothing declared: the content decides; the same bytes again answer the first attachment.
    word = await upload(intake, partner, rid, docx(), "application/octet-stream", "terms.docx")
    assert word.status_code == 201, word.text
    assert word.json()["content_type"].endswith("wordprocessingml.document")
    again = await upload(intake, partner, rid, PDF, "application/pdf", "copy.pdf")
    assert again.status_code == 200 and again.json()["id"] == made["id"]

    listed = await intake.get(
        f"/v1/requests/{rid}/attachments", headers=partner, params={"limit": 1}
    )
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()["items"]] == [made["id"]]
    rest = await intake.get(
        f"/v1/requests/{rid}/attachments",
        headers=partner,
        params={"cursor": listed.json()["next_cursor"]},
    )
    assert [a["id"] for a in rest.json()["items"]] == [word.json()["id"]]

    got = await intake.get(f"/v1/requests/{rid}/attachments/{made['id']}/content", headers=partner)
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert 'filename="host-state consent.pdf"' in got.headers["content-disposition"]
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in got.headers["cache-control"]
    again_got = await intake.get(
        f"/v1/requests/{rid}/attachments/{made['id']}/content", headers=partner
    )
    assert again_got.status_code == 200
    logged = await downloads_logged(infra, made["id"])
    assert len(logged) == 2  # each download, a row
    assert {(r["role"], r["partner_id"]) for r in logged} == {("partner", partner_id(partner))}


def partner_id(headers: dict[str, str]) -> str:
    """The `partner_id` claim of the test's token."""
    payload = headers["Authorization"].split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return str(claims["partner_id"])


@pytest.mark.parametrize(
    ("data", "declared", "filename", "field"),
    [
        (PDF, "image/png", "consent.png", "header.content-type"),  # a PDF declared as PNG
        (PNG, "application/pdf", "letter.pdf", "header.content-type"),
        (PDF, "application/pdf", "consent.exe", "query.filename"),  # the name says otherwise
        (PNG, "image/png", "photo.jpg", "query.filename"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "text/plain", "notes.txt", "body"),  # a program
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 9, "application/pdf", "a.pdf", "body"),
        (PDF, "application/pdf", "../../etc/passwd", "query.filename"),
    ],
)
async def test_a_file_whose_content_contradicts_its_type_is_refused(
    intake: httpx.AsyncClient,
    partner: dict[str, str],
    data: bytes,
    declared: str,
    filename: str,
    field: str,
) -> None:
    rid = (await submit(intake, partner))["request"]["id"]
    refused = await upload(intake, partner, rid, data, declared, filename)
    assert refused.status_code in (415, 422), refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["errors"][0]["field"] == field
    listed = await intake.get(f"/v1/requests/{rid}/attachments", headers=partner)
    assert listed.json()["items"] == []


async def raw_post(base_url: str, path: str, headers: dict[str, str], chunks: list[bytes]) -> int:
    """POST over a socket of the test's own, reading the answer as soon as it comes: an HTTP
    client that must send its whole body first meets a closed connection instead."""
    url = httpx.URL(base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = f"POST {path} HTTP/1.1\r\nHost: {url.host}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    writer.write(head.encode() + b"\r\n")
    for chunk in chunks:
        writer.write(chunk)
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=30)
    writer.close()
    return int(status_line.split()[1])


async def test_an_oversized_file_is_a_413(
    intake: httpx.AsyncClient, partner: dict[str, str], services: dict[str, str]
) -> None:
    rid = (await submit(intake, partner))["request"]["id"]
    path = f"/v1/requests/{rid}/attachments?filename=big.pdf"
    headers = partner | {"Content-Type": "application/pdf"}
    # Declared too large: refused before a byte of it is read.
    declared = headers | {"Content-Length": str(LIMIT + 1)}
    assert await raw_post(services["intake"], path, declared, []) == 413
    # Sent in chunks without a length: counted as it comes, refused once past the limit.
    body = PDF + b"\n" * (LIMIT + 1 - len(PDF))
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    chunked = [f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces]
    streamed = headers | {"Transfer-Encoding": "chunked"}
    assert await raw_post(services["intake"], path, streamed, chunked) == 413
    listed = await intake.get(f"/v1/requests/{rid}/attachments", headers=partner)
    assert listed.json()["items"] == []
    fits = PDF + b"\n" * (LIMIT - len(PDF))
    just_fits = await upload(intake, partner, rid, fits, "application/pdf", "fits.pdf")
    assert just_fits.status_code == 201, just_fits.text
    assert just_fits.json()["size_bytes"] == LIMIT


async def test_other_partners_see_nothing_and_staff_need_clearance_for_sensitive(
    intake: httpx.AsyncClient, partner: dict[str, str], token: TokenFactory
) -> None:
    other = bearer(token("partner", partner_id=f"docs-{uuid.uuid4().hex[:8]}"))
    officer = bearer(token("triage_officer"))
    cleared = bearer(token("triage_officer", clearance="sc"))
    analyst = bearer(token("analyst"))
    rid = (await submit(intake, partner, classification="OFFICIAL-SENSITIVE"))["request"]["id"]
    made = (await upload(intake, partner, rid, PDF, "application/pdf", "tor.pdf")).json()
    base = f"/v1/requests/{rid}/attachments"
    for path in (base, f"{base}/{made['id']}", f"{base}/{made['id']}/content"):
        assert (await intake.get(path, headers=other)).status_code == 404
        assert (await intake.get(path, headers=officer)).status_code == 403
        assert (await intake.get(path, headers=analyst)).status_code == 403
    assert (await upload(intake, other, rid, PNG, "image/png", "x.png")).status_code == 404
    got = await intake.get(f"{base}/{made['id']}/content", headers=cleared)
    assert got.status_code == 200 and got.content == PDF
    staff_file = await upload(
        intake, cleared, rid, b"Minutes of the call.\n", "text/plain", "minutes.txt"
    )
    assert (
        staff_file.status_code == 201 and staff_file.json()["uploaded_by_role"] == "triage_officer"
    )
    seen = await intake.get(base, headers=partner)
    assert {a["filename"] for a in seen.json()["items"]} == {"tor.pdf", "minutes.txt"}
    missing = await intake.get(f"/v1/requests/{uuid.uuid4()}/attachments", headers=partner)
    assert missing.status_code == 404
