"""The one need-to-know policy for every read of every service: which fields a reader may see.

Pure, and the only place the rule lives; every read boundary (JSON, CSV, the live stream, the
audit trail, summaries, time series, filters) asks it. It decides field by field, from three
things:

- the material's classification: OFFICIAL-SENSITIVE material is shown only to staff vetted to SC
  or above (DESIGN §5). Material whose classification is not known is treated as
  OFFICIAL-SENSITIVE: the policy fails closed;
- the reader's clearance;
- what the field is: the free text and contact of a request (mission, title, description,
  questions, answers, contact) and the hub's internal text about it (assessment notes and
  rationales, the reasons of decisions, holds, cancellations and repatriations, and what staff
  wrote for the partner).

A field is withheld by name wherever it stands (a document, a row, an event's data, nested), so a
new view of an old field is covered without a new rule. Aggregates never reveal a withheld value:
a grouping by mission puts every withheld mission under one label (`withheld`), and a filter on a
withheld field matches only what the reader may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.auth import Clearance, Principal, clearance_at_least

OFFICIAL = "OFFICIAL"
SENSITIVE = "OFFICIAL-SENSITIVE"
#: What an uncleared reader sees in place of a withheld group (a mission in a summary).
WITHHELD = "withheld"


class Kind(StrEnum):
    MISSION = "mission"
    TITLE = "title"
    DESCRIPTION = "description"
    QUESTIONS = "questions"
    ANSWERS = "answers"
    CONTACT = "contact"
    NOTES = "notes"  # assessment notes and rationales
    REASONS = "reasons"  # why a decision, hold, cancellation or repatriation; partner messages
    ATTACHMENTS = "attachments"  # the documents attached to a request, and their names


#: Field names, wherever they stand, and what they are. Every kind is withheld from uncleared
#: readers of OFFICIAL-SENSITIVE material.
FIELDS: Mapping[str, Kind] = {
    "mission": Kind.MISSION,
    "title": Kind.TITLE,
    "description": Kind.DESCRIPTION,
    "questions": Kind.QUESTIONS,
    "open_questions": Kind.QUESTIONS,
    "answers": Kind.ANSWERS,
    "contact": Kind.CONTACT,
    "notes": Kind.NOTES,
    "note": Kind.NOTES,  # an internal note on a case
    "override_rationale": Kind.NOTES,
    "tier_rationale": Kind.NOTES,
    "reason": Kind.REASONS,
    "cancel_reason": Kind.REASONS,
    "repatriation_reason": Kind.REASONS,
    "repatriation_notes": Kind.REASONS,
    "withdrawal_reason": Kind.REASONS,
    "partner_message": Kind.REASONS,
    "attachments": Kind.ATTACHMENTS,
}
PROTECTED = frozenset(FIELDS)


@dataclass(frozen=True)
class Reader:
    """Who reads, as far as need-to-know goes."""

    cleared: bool  # SC or above

    @classmethod
    def of(cls, principal: Principal) -> Reader:
        return cls(cleared=clearance_at_least(principal.clearance, Clearance.SC))


def withheld_fields(reader: Reader, classification: str | None) -> frozenset[str]:
    """The field names this reader may not see in material of this classification."""
    if classification == OFFICIAL or reader.cleared:
        return frozenset()
    return PROTECTED


def may_see(reader: Reader, classification: str | None, name: str) -> bool:
    return name not in withheld_fields(reader, classification)


def redact(value: Any, hidden: frozenset[str]) -> Any:
    """`value` (JSON-like: a document, a row, an event's data) with every field named in `hidden`,
    at any depth, set to None."""
    if not hidden:
        return value
    if isinstance(value, Mapping):
        return {
            k: (None if k in hidden and v is not None else redact(v, hidden))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, hidden) for item in value]
    return value


def shown_to(
    reader: Reader, classification: str | None, document: Mapping[str, Any]
) -> dict[str, Any]:
    """`document` as this reader may see it, with `redacted` (whether anything was withheld) and
    `withheld` (which field names, sorted)."""
    hidden = withheld_fields(reader, classification)
    found = sorted(_present(document, hidden))
    shown = redact(document, hidden) if found else dict(document)
    return shown | {"redacted": bool(found), "withheld": found}


def _present(value: Any, hidden: frozenset[str]) -> set[str]:
    """The names in `hidden` that carry a value somewhere in `value`."""
    found: set[str] = set()
    if not hidden:
        return found
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k in hidden and v is not None:
                found.add(k)
            else:
                found |= _present(v, hidden)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= _present(item, hidden)
    return found


def group_label(reader: Reader, classification: str | None, name: str, value: Any) -> Any:
    """The label `value` (of field `name`) groups under in an aggregate: itself, or `withheld`."""
    if value is None or may_see(reader, classification, name):
        return value
    return WITHHELD


def filter_visible_only(reader: Reader, name: str) -> bool:
    """Whether a filter on field `name` must match only material this reader may see in full
    (else whether anything matches would tell an uncleared reader a withheld value)."""
    return not reader.cleared and name in PROTECTED
