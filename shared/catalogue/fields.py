"""Bounded field types for the catalogue: an event's schema says what the write side can commit
(the same limits as the request bodies), so that whatever is valid under the schema can be applied
by every read side (a property test generates events from these schemas)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

#: Short free text (titles, names, reasons given in a line).
ShortText = Annotated[str, Field(max_length=200)]
#: Long free text (descriptions, notes, reasons, answers).
LongText = Annotated[str, Field(max_length=5000)]
#: A code from reference data (capability, funding source, reason code, region, rank...). Codes
#: travel as strings: reference data is configurable, and a read side must not break because a
#: code was added to (or removed from) a data file.
Code = Annotated[str, Field(max_length=80)]
#: A country or territory as the FCDO lists it: ISO 3166-1 alpha-2, or a territory's register
#: code (`XK`, `SH-AC`, `XQZ`).
CountryCode = Annotated[str, Field(min_length=2, max_length=10)]
#: A subject or an organisation's id, in canonical form (see shared.text).
Identity = Annotated[str, Field(min_length=1, max_length=200)]
#: `JIPH-2026-000123` (bounded, not pattern-checked: events are facts, already checked once).
Reference = Annotated[str, Field(max_length=40)]
#: `OFF-7K2M9QX4TA`, the pseudonym an officer is known by outside the deployment service.
OfficerRef = Annotated[str, Field(max_length=40)]
Headcount = Annotated[int, Field(ge=1, le=100)]
TourMonths = Annotated[int, Field(ge=1, le=24)]
ExtensionMonths = Annotated[int, Field(ge=1, le=12)]
Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Classification = Literal["OFFICIAL", "OFFICIAL-SENSITIVE"]
Stage = Literal["board", "ministerial"]
RiskTier = Literal["low", "medium", "high", "serious"]
CaseVersion = Annotated[int, Field(ge=0, le=1_000_000)]
