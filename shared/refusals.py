"""Why a command was refused: the one error type every domain raises, pure (no I/O, no HTTP).

A refusal carries its kind, and the kind decides how the edge answers (`shared.api` turns it into
an RFC 9457 problem): the caller may not do this (403), the thing is not in a state that allows it
(409), the values asked for break a rule (422), or there is no such thing for this caller (404).
`rule` is the stable slug clients branch on (`/problems/<rule>`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum


class Kind(StrEnum):
    FORBIDDEN = "forbidden"  # who asks may not do this
    STATE = "state"  # not possible in the current state
    INVALID = "invalid"  # not with these values
    NOT_FOUND = "not-found"  # no such thing (or not the caller's: they look the same)


#: The HTTP status and problem title of each kind.
STATUS = {Kind.FORBIDDEN: 403, Kind.STATE: 409, Kind.INVALID: 422, Kind.NOT_FOUND: 404}
TITLE = {
    Kind.FORBIDDEN: "Not allowed for you",
    Kind.STATE: "Not possible in this state",
    Kind.INVALID: "Invalid request",
    Kind.NOT_FOUND: "Not found",
}


class DomainError(Exception):
    """A rule refused the command. `errors` lists the fields or items at fault, if any."""

    def __init__(
        self,
        rule: str,
        detail: str,
        *,
        kind: Kind = Kind.STATE,
        errors: Sequence[Mapping[str, str]] = (),
    ) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail
        self.kind = kind
        self.errors = [dict(e) for e in errors]

    @property
    def status(self) -> int:
        return STATUS[self.kind]

    @property
    def title(self) -> str:
        return TITLE[self.kind]


class NotFound(DomainError):
    """No such `what` for this caller; another organisation's looks exactly like a missing one."""

    def __init__(self, what: str) -> None:
        super().__init__("not-found", f"no such {what}", kind=Kind.NOT_FOUND)
        self.what = what


def forbidden(rule: str, detail: str) -> DomainError:
    return DomainError(rule, detail, kind=Kind.FORBIDDEN)


def invalid(rule: str, detail: str, errors: Sequence[Mapping[str, str]] = ()) -> DomainError:
    return DomainError(rule, detail, kind=Kind.INVALID, errors=errors)
