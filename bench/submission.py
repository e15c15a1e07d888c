"""The partner submission every intake benchmark sends, and the plain pydantic model the
baselines validate it with."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
from pydantic import BaseModel


class BareContact(BaseModel):
    name: str
    email: str


class BareBody(BaseModel):
    """The intake body's fields with plain types: parsing and validation, nothing more."""

    title: str
    description: str
    country: str
    mission: str | None = None
    requesting_body: str
    partner_type: str
    capability: str
    headcount: int
    role_profile: dict[str, Any]
    tour_length_months: int
    needed_by: date
    funding_source: str
    classification: str
    contact: BareContact


def submission_body(title: str = "Bench load: public order advisers") -> bytes:
    """A valid intake submission (as tests/e2e's `a_request`)."""
    return orjson.dumps(
        {
            "title": title,
            "description": "Two advisers to mentor the national police public order unit.",
            "country": "SO",
            "mission": "UNSOM",
            "requesting_body": "UN Police Division",
            "partner_type": "un",
            "capability": "public-order",
            "headcount": 2,
            "role_profile": {"rank": "Inspector", "skills": ["public order command"]},
            "tour_length_months": 12,
            "needed_by": (date.today() + timedelta(days=90)).isoformat(),
            "funding_source": "cssf-oda",
            "classification": "OFFICIAL",
            "contact": {"name": "Amina Diallo", "email": "a.diallo@un.example"},
        }
    )
