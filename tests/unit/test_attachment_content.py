"""An attachment's type is read from its bytes; its declared type and its name may only agree."""

from __future__ import annotations

import io
import zipfile

import pytest

from services.intake.attachments.content import DOCX, JPEG, ODT, PDF, PNG, TEXT, Refused, judge


def zipped(entries: dict[str, str], *, odt: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        if odt:  # ODF's first entry: its media type, stored uncompressed
            z.writestr("mimetype", ODT, compress_type=zipfile.ZIP_STORED)
        for name, text in entries.items():
            z.writestr(name, text)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "want"),
    [
        (b"%PDF-1.4\n...", "letter.pdf", PDF),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 24, "map.png", PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 16, "photo.jpeg", JPEG),
        (zipped({"[Content_Types].xml": "<T/>", "word/document.xml": "<w/>"}), "tor.docx", DOCX),
        (zipped({"content.xml": "<o/>"}, odt=True), "tor.odt", ODT),
        ("Termes de référence\n\tpoint 1\r\n".encode(), "tor.txt", TEXT),
        (b"%PDF-1.4\n...", "no extension", PDF),
    ],
)
def test_accepted_types_are_known_by_their_content(data: bytes, name: str, want: str) -> None:
    assert judge(data, None, name) == want
    assert judge(data, f"{want}; charset=utf-8", name) == want


@pytest.mark.parametrize(
    ("data", "declared", "name", "field", "status"),
    [
        (b"%PDF-1.4", "image/png", "a.pdf", "header.content-type", 422),
        (b"%PDF-1.4", "application/pdf", "a.docx", "query.filename", 422),
        (b"%PDF-1.4", "application/pdf", "a.pdf.exe", "query.filename", 422),
        (zipped({"a.txt": "x"}), "application/zip", "a.zip", "body", 415),  # a plain zip
        (b"GIF89a" + b"\x00" * 10, "image/gif", "a.gif", "body", 415),
        (b"text\x00with a NUL", "text/plain", "a.txt", "body", 415),
        (b"\xff\xfe\x00bad utf-8", "text/plain", "a.txt", "body", 415),
        (b"", "text/plain", "a.txt", "body", 422),
        (b"%PDF-1.4", None, "../a.pdf", "query.filename", 422),
        (b"%PDF-1.4", None, ".hidden.pdf", "query.filename", 422),
        (b"%PDF-1.4", None, 'a".pdf', "query.filename", 422),
    ],
)
def test_contradictions_and_other_types_are_refused_naming_the_field(
    data: bytes, declared: str | None, name: str, field: str, status: int
) -> None:
    with pytest.raises(Refused) as refused:
        judge(data, declared, name)
    assert refused.value.field == field and refused.value.status == status
