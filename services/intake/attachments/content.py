"""What a file is, judged from its first bytes (`filetype`'s signatures), never from its name or
the type its sender declared; a declaration or a name that says otherwise is refused, naming
where it was said. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

import filetype

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
TEXT = "text/plain"

#: The accepted types and the file name extensions that belong to each.
ACCEPTED: dict[str, tuple[str, ...]] = {
    PDF: ("pdf",),
    PNG: ("png",),
    JPEG: ("jpg", "jpeg"),
    DOCX: ("docx",),
    ODT: ("odt",),
    TEXT: ("txt", "text"),
}
EXTENSION_TYPES = {ext: mime for mime, exts in ACCEPTED.items() for ext in exts}
#: A file name as it may be stored and sent back in `Content-Disposition`.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,199}$")


@dataclass(frozen=True)
class Refused(ValueError):
    status: int
    slug: str
    field: str
    reason: str


def sniff(data: bytes) -> str | None:
    """The accepted type these bytes are, or None (another or no known type)."""
    guessed = filetype.guess(data[:8192])
    if guessed is not None:
        return guessed.mime if guessed.mime in ACCEPTED else None
    return TEXT if _is_text(data) else None


def _is_text(data: bytes) -> bool:
    """UTF-8 without NUL or other control bytes than tab and line breaks."""
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ord(c) < 32 and c not in "\t\n\r\f" for c in text)


def media_type(header: str | None) -> str | None:
    return header.split(";", 1)[0].strip().lower() if header else None


def judge(data: bytes, declared: str | None, filename: str) -> str:
    """The type to store for this upload; Refused when it is empty, of a type not accepted, or
    contradicted by its declared `Content-Type` or its name's extension."""
    if not data:
        raise Refused(422, "empty-attachment", "body", "the file is empty")
    if not NAME.fullmatch(filename) or ".." in filename:
        raise Refused(
            422,
            "validation-error",
            "query.filename",
            "a file name of letters, digits, spaces and . _ ( ) -, at most 200 characters",
        )
    actual = sniff(data)
    if actual is None:
        accepted = ", ".join(ACCEPTED)
        raise Refused(415, "unsupported-attachment-type", "body", f"accepted: {accepted}")
    said = media_type(declared)
    if said is None or said == "application/octet-stream":
        pass  # nothing declared: the content decides alone
    elif said != actual:
        raise Refused(
            422,
            "attachment-type-mismatch",
            "header.content-type",
            f"declared {said}, but the content is {actual}",
        )
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    named = EXTENSION_TYPES.get(extension)
    if extension and named != actual:
        raise Refused(
            422,
            "attachment-type-mismatch",
            "query.filename",
            f"the name says .{extension}, but the content is {actual}",
        )
    return actual
