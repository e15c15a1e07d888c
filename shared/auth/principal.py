"""Who calls: roles, clearances, the verified principal, and how claims become one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.text import is_canonical_identity


class Role(StrEnum):
    PARTNER = "partner"
    TRIAGE_OFFICER = "triage_officer"
    APPROVER = "approver"
    MINISTER = "minister"
    DEPLOYMENT_MANAGER = "deployment_manager"
    FORCE_LIAISON = "force_liaison"
    ANALYST = "analyst"
    OPERATOR = "operator"
    ADMIN = "admin"


class Clearance(StrEnum):
    """Vetting levels, lowest first: declaration order is the ordering."""

    NONE = "none"
    CTC = "ctc"
    SC = "sc"
    DV = "dv"


_CLEARANCE_RANK = {level: rank for rank, level in enumerate(Clearance)}


def clearance_at_least(have: str | None, need: Clearance) -> bool:
    """True if `have` (a claim value; missing means none) is at or above `need`.

    An unrecognised value ranks below everything, so a typo never grants access."""
    try:
        level = Clearance(have or Clearance.NONE)
    except ValueError:
        return False
    return _CLEARANCE_RANK[level] >= _CLEARANCE_RANK[need]


@dataclass(frozen=True)
class Principal:
    """The verified caller of one request."""

    subject: str
    role: Role
    partner_id: str | None = None
    force: str | None = None
    clearance: Clearance = Clearance.NONE
    name: str | None = None
    #: When the token stops being valid (POSIX seconds): a long-lived connection (the live
    #: stream) ends then.
    expires_at: float | None = None

    @property
    def is_staff(self) -> bool:
        return self.role is not Role.PARTNER


class AuthError(Exception):
    """401 (who are you?) or 403 (you may not); rendered as problem+json by `shared.problems`."""

    def __init__(self, status: int, detail: str) -> None:
        if status not in (401, 403):
            raise ValueError(f"AuthError status must be 401 or 403, not {status}")
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem_type = "unauthenticated" if status == 401 else "forbidden"


def _optional_str(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AuthError(401, f"token claim {name} must be a string")
    return value


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The principal for already verified claims; `AuthError(401)` if they do not add up."""
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise AuthError(401, "token has no known role") from exc
    partner_id = _optional_str(claims, "partner_id")
    force = _optional_str(claims, "force")
    if role is Role.PARTNER and partner_id is None:
        raise AuthError(401, "partner token lacks the partner_id claim")
    if role is Role.FORCE_LIAISON and force is None:
        raise AuthError(401, "force liaison token lacks the force claim")
    try:
        clearance = Clearance(_optional_str(claims, "clearance") or Clearance.NONE)
    except ValueError as exc:
        raise AuthError(401, "token has an unknown clearance") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError(401, "token subject must be a non-empty string")
    for claim, value in (("sub", subject), ("partner_id", partner_id), ("force", force)):
        if value is not None and not is_canonical_identity(value):
            raise AuthError(
                401,
                f"token claim {claim} is not in canonical form (lower case, NFKC, no spaces "
                "around it, no control characters): identities are compared byte for byte",
            )
    return Principal(
        subject=subject,
        role=role,
        partner_id=partner_id,
        force=force,
        clearance=clearance,
        name=_optional_str(claims, "name"),
        expires_at=float(claims["exp"]) if isinstance(claims.get("exp"), int | float) else None,
    )
