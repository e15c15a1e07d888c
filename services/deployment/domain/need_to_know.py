"""Who may read an officer's personal data (name, contact, next of kin), and why: the rule, pure.

Need to know, not rank: the deployment manager of a deployment the officer is on now (nominated,
released, cleared or deployed, on a deployment neither completed nor cancelled), or the liaison
officer of the officer's own force. Each read gives a justification of at least
MIN_JUSTIFICATION visible characters (every Unicode space, control and invisible format
character removed), and is logged (DPA 2018 s.62). Another force's liaison officer is told what
a caller is told about an officer who does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.refusals import DomainError, NotFound, forbidden, invalid
from shared.text import visible_length

MIN_JUSTIFICATION = 10
DEPLOYMENT_MANAGER, FORCE_LIAISON = "deployment_manager", "force_liaison"


def check_justification(justification: str, field: str = "header.X-Justification") -> str:
    """The justification, stripped, if it says something (else a 422 naming `field`)."""
    if visible_length(justification) < MIN_JUSTIFICATION:
        raise invalid(
            "justification-too-short",
            f"a justification needs at least {MIN_JUSTIFICATION} visible characters",
            errors=[{"field": field, "message": "too short once spaces are removed"}],
        )
    return justification.strip()


def personal_data_refusal(
    role: str, reader_force: str | None, officer_force: str, manages_officer: bool
) -> DomainError | None:
    """Why this reader may not read the officer's personal data; None if they may."""
    if role == FORCE_LIAISON:
        return None if reader_force == officer_force else NotFound("officer")
    if role == DEPLOYMENT_MANAGER and manages_officer:
        return None
    return forbidden(
        "need-to-know",
        "personal data is for the deployment manager of a deployment the officer is on, or "
        "the liaison officer of the officer's force",
    )


def disclosed_fields(personal: Mapping[str, object], fields: tuple[str, ...]) -> list[str]:
    return [name for name in fields if personal.get(name) is not None]
