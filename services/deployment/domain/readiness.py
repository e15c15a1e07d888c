"""Whether an officer can serve through a tour: vetting, medical, hostile-environment training
and passport valid to its end, an availability window covering their part of it, vetting at the
level the posts ask for. Each failing item is named, with its date and the tour's."""

from __future__ import annotations

from datetime import date

from services.deployment.domain.deployment import Deployment
from services.deployment.domain.offers import OfferTerms
from shared.reference.data import ReferenceData


def availability_problems(terms: OfferTerms, start: date, end: date) -> list[dict[str, str]]:
    """The offer's availability window must cover the officer's part of the tour."""
    problems = []
    if terms.available_from > start:
        problems.append(
            {
                "field": "available_from",
                "message": f"available from {terms.available_from}, after {start}",
            }
        )
    if terms.available_to < end:
        problems.append(
            {
                "field": "available_to",
                "message": f"available until {terms.available_to}, before {end}",
            }
        )
    return problems


def validity_problems(
    terms: OfferTerms,
    until: date,
    classification: str,
    ref: ReferenceData,
    need: str | None = None,
) -> list[dict[str, str]]:
    """Every reason the officer may not serve through `until`, one entry per failing item (an
    item that lapses mid-tour is named with its date). `need`: the posts' vetting level."""
    problems = []
    need = need or ref.required_vetting(classification)
    if not ref.vetting_at_least(terms.vetting_level, need):
        problems.append(
            {
                "field": "vetting_level",
                "message": f"{classification} work needs {need} vetting or above; "
                f"the officer holds {terms.vetting_level}",
            }
        )
    for item, expires in (
        ("vetting_expires", terms.vetting_expires),
        ("medical_expires", terms.medical_expires),
        ("training_expires", terms.training_expires),
        ("passport_expires", terms.passport_expires),
    ):
        if expires < until:
            what = item.removesuffix("_expires").replace("training", "hostile-environment training")
            problems.append(
                {"field": item, "message": f"{what} expires on {expires}, before {until}"}
            )
    return problems


def required_vetting(state: Deployment, ref: ReferenceData) -> str:
    """The post's vetting level: as planned, and never below what the classification needs."""
    need = ref.required_vetting(state.classification)
    planned = state.vetting_level
    return planned if planned and ref.vetting_at_least(planned, need) else need
