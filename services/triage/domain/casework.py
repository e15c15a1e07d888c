"""Casework, pure: who owns a case (assign, claim, release), the hub's internal notes, and what
the hub writes to the partner. Owners are compared in the canonical identity form, so that
`Alice` and `alice` are one owner."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from services.triage.domain.case import CLOSED, CaseState
from services.triage.domain.decisions import Staff
from shared.catalogue.triage import CaseAssigned, CaseNoteAdded, CaseReleased, MessageToPartner
from shared.events import EventData
from shared.refusals import DomainError, forbidden
from shared.text import canonical_identity

#: Roles that may give a case to someone else (or take it from its owner); an owner may always
#: release their own case.
ASSIGNING_ROLES = frozenset({"triage_officer", "admin"})


@dataclass(frozen=True)
class Assign:
    owner: str


def _refuse_closed(state: CaseState, what: str) -> None:
    if state.status in CLOSED:
        raise DomainError("case-closed", f"the case is {state.status.value}: {what}")


def decide_assign(state: CaseState, command: Assign, *, who: Staff) -> list[EventData]:
    """Give the case to `owner` (a colleague or oneself)."""
    _refuse_closed(state, "it has no owner any more")
    owner = canonical_identity(command.owner)
    if who.role not in ASSIGNING_ROLES:
        raise forbidden("assign-not-allowed", "only triage officers and admins assign cases")
    if state.owner == owner:
        raise DomainError("already-owner", f"{owner} already owns the case")
    by = canonical_identity(who.subject)
    return [
        CaseAssigned(
            request_id=state.request_id,
            owner=owner,
            assigned_by=by,
            claimed=owner == by,
            previous_owner=state.owner,
        )
    ]


def decide_claim(state: CaseState, *, who: Staff) -> list[EventData]:
    """Take an unowned case: a case someone owns is released or reassigned first (so that a
    claim never silently takes work from a colleague)."""
    _refuse_closed(state, "it has no owner any more")
    me = canonical_identity(who.subject)
    if state.owner == me:
        raise DomainError("already-owner", "you already own the case")
    if state.owner is not None:
        raise DomainError(
            "case-owned", f"{state.owner} owns the case: they release it, or it is reassigned"
        )
    return [CaseAssigned(request_id=state.request_id, owner=me, assigned_by=me, claimed=True)]


def decide_release(state: CaseState, *, who: Staff) -> list[EventData]:
    """The owner gives the case back; a triage officer or admin may release anyone's."""
    if state.owner is None:
        raise DomainError("not-assigned", "the case has no owner")
    me = canonical_identity(who.subject)
    if state.owner != me and who.role not in ASSIGNING_ROLES:
        raise forbidden("not-owner", f"{state.owner} owns the case: only they may release it")
    return [CaseReleased(request_id=state.request_id, previous_owner=state.owner, released_by=me)]


def decide_note(state: CaseState, note: str, *, who: Staff, note_id: UUID) -> list[EventData]:
    """An internal note: possible at any time, closed cases included (the file stays open)."""
    return [
        CaseNoteAdded(
            request_id=state.request_id,
            note_id=note_id,
            note=note,
            author=canonical_identity(who.subject),
        )
    ]


def decide_message(
    state: CaseState, message: str, *, who: Staff, message_id: UUID
) -> list[EventData]:
    """Write to the partner; not once the request is withdrawn (nobody is listening)."""
    if state.withdrawn:
        raise DomainError("case-closed", "the request is withdrawn: the partner is not told more")
    return [
        MessageToPartner(
            request_id=state.request_id,
            message_id=message_id,
            partner_message=message,
            author=canonical_identity(who.subject),
        )
    ]
