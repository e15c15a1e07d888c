"""The scenario `jiph demo` drives: who asks for what, how the hub decides, who is offered.

Everything here is pure and deterministic for a seed: `plan_scenario(seed, ...)` returns the whole
story (requests with their intended outcomes, officers to offer, deployments to run) before a
single HTTP call is made. `jiph.demo` then plays it through the public APIs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, TypeVar

from jiph.demo_cast import (
    FEMALE,
    FORCE_WEIGHTS,
    FORCES,
    LANGUAGES,
    MALE,
    NEUTRAL,
    PARTNERS,
    RANK_WEIGHTS,
    RANKS,
    REJECTIONS,
    SURNAMES,
    TRIAGE_OFFICERS,
    WORK,
    Partner,
)
from shared.reference.codes import Capability
from shared.reference.data import load_reference_data

T = TypeVar("T")

# --- the story ------------------------------------------------------------------------------------

#: What the hub does with a request (`Outcome`), and how far its deployment goes (`Staffing`).
APPROVE, MINISTERIAL, REJECT, HOLD, HOLD_RESUME, ASSESS_ONLY, TRIAGE_ONLY = (
    "approve",
    "ministerial",
    "reject",
    "hold",
    "hold-resume",
    "assess-only",
    "triage-only",
)
APPROVED_OUTCOMES = (APPROVE, MINISTERIAL, HOLD_RESUME)
START, STAFFING, PLANNED, OPEN = "start", "staffing", "planned", "open"


@dataclass(frozen=True)
class RequestPlan:
    index: int
    partner: Partner
    body: dict[str, Any]
    outcome: str
    risk_tier: str
    info_request: bool = False
    reason_code: str | None = None
    assessor: str = TRIAGE_OFFICERS[0]
    #: For approved requests: how far the deployment goes, and what happens on tour.
    staffing: str = OPEN
    extend_months: int = 0
    complete: bool = False
    repatriate: bool = False
    #: The first nominee fails clearance (medical lapsing mid-tour) and is replaced.
    replace_first: bool = False
    #: After the early repatriation, the reopened post is backfilled for the rest of the tour.
    backfill: bool = False

    @property
    def capability(self) -> str:
        return str(self.body["capability"])

    @property
    def headcount(self) -> int:
        return int(self.body["headcount"])

    def nominees(self) -> int:
        """How many officers this request's deployment takes."""
        if self.staffing == START:
            return self.headcount
        return 1 if self.staffing == STAFFING else 0

    def officers_needed(self) -> int:
        """Nominees, and the officers who replace one and backfill one."""
        return self.nominees() + self.replace_first + self.backfill


#: Slots of the officers who replace a nominee, and who backfill a repatriated one.
REPLACEMENT_SLOT, BACKFILL_SLOT = 100, 101


@dataclass(frozen=True)
class OfficerPlan:
    force: str
    body: dict[str, Any]
    #: (request index, slot) when this officer is meant for a deployment of the demo.
    slot: tuple[int, int] | None = None


@dataclass
class Scenario:
    seed: int
    today: date
    requests: list[RequestPlan]
    officers: list[OfficerPlan] = field(default_factory=list)

    def steps(self) -> int:
        """Roughly how many calls the scenario makes: the progress bar's total."""
        total = len(self.officers) + len(self.requests)
        for r in self.requests:
            total += 1 + (3 if r.info_request else 0)
            total += {
                APPROVE: 2,
                MINISTERIAL: 3,
                REJECT: 2,
                HOLD: 2,
                HOLD_RESUME: 4,
                ASSESS_ONLY: 1,
                TRIAGE_ONLY: 0,
            }[r.outcome]
            if r.outcome in APPROVED_OUTCOMES and r.staffing != OPEN:
                total += 2 + 3 * r.nominees() + (1 if r.staffing == START else 0)
                total += (r.extend_months > 0) + r.complete + r.repatriate
                total += 3 * r.replace_first + 5 * r.backfill
        return total + 1


def _weighted(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(items, weights=weights, k=1)[0]


def _request_body(
    rng: random.Random, partner: Partner, today: date, sensitive: bool
) -> dict[str, Any]:
    ref = load_reference_data()
    country, mission = rng.choice(partner.places)
    country_info = ref.country(country)
    name = country_info.name if country_info else country
    capability = rng.choice([c.value for c in Capability])
    title, work, skills = WORK[capability]
    headcount = _weighted(rng, (1, 2, 3, 4, 6), (0.3, 0.3, 0.2, 0.12, 0.08))
    oda = bool(country_info and country_info.oda_eligible)
    if partner.partner_type == "foreign-government" and rng.random() < 0.5:
        funding = "full-cost-recovery"
    elif oda:
        funding = _weighted(rng, ("cssf-oda", "full-cost-recovery"), (0.85, 0.15))
    else:
        funding = _weighted(rng, ("cssf-non-oda", "full-cost-recovery", "other"), (0.6, 0.3, 0.1))
    where = f"{mission} ({name})" if mission else name
    langs = ["English", *LANGUAGES.get(country, [])[: rng.randint(0, 1)]]
    return {
        "title": f"{title} for {where}"[:200],
        "description": (
            f"{partner.requesting_body} asks for {headcount} UK officer(s) to {work} in {name}. "
            f"The officers will be embedded with the national police and report to "
            f"{mission or 'the head of the UK mission'}."
        ),
        "country": country,
        "mission": mission,
        "requesting_body": partner.requesting_body,
        "partner_type": partner.partner_type,
        "capability": capability,
        "headcount": headcount,
        "role_profile": {
            "rank": _weighted(rng, RANKS[1:], RANK_WEIGHTS[1:]),
            "skills": list(skills),
            "languages": langs,
        },
        "tour_length_months": _weighted(rng, (6, 12, 9), (0.45, 0.45, 0.1)),
        "needed_by": (today + timedelta(days=rng.randint(30, 300))).isoformat(),
        "funding_source": funding,
        "classification": "OFFICIAL-SENSITIVE" if sensitive else "OFFICIAL",
        "contact": {"name": partner.contact_name, "email": partner.contact_email},
    }


def _outcomes(rng: random.Random, n: int) -> list[str]:
    """A realistic mix, with every kind of decision present even in a small run."""
    n_reject = max(2, round(n * 0.16))
    n_hold = 1 if n < 20 else 2
    n_triage = max(1, round(n * 0.06))
    n_assess = max(0, round(n * 0.06))
    n_ministerial = max(1, round(n * 0.14))
    outcomes = (
        [REJECT] * n_reject
        + [HOLD] * (n_hold - (1 if n >= 20 else 0))
        + [HOLD_RESUME] * (1 if n >= 20 else 0)
        + [TRIAGE_ONLY] * n_triage
        + [ASSESS_ONLY] * n_assess
        + [MINISTERIAL] * n_ministerial
    )
    outcomes += [APPROVE] * (n - len(outcomes))
    rng.shuffle(outcomes)
    return outcomes


def _risk(rng: random.Random, outcome: str) -> str:
    match outcome:
        case "ministerial":
            return _weighted(rng, ("high", "serious"), (0.75, 0.25))
        case "approve" | "hold-resume":
            return _weighted(rng, ("low", "medium"), (0.55, 0.45))
        case "reject":
            return _weighted(rng, ("low", "medium", "high", "serious"), (0.3, 0.3, 0.2, 0.2))
    return _weighted(rng, ("low", "medium", "high"), (0.4, 0.4, 0.2))


def _reason_code(rng: random.Random, risk: str, codes: list[str]) -> str:
    if risk == "serious" and "unacceptable-risk" in codes:
        return "unacceptable-risk"
    usable = [c for c in codes if c in REJECTIONS and c != "unacceptable-risk"] or codes
    return rng.choice(usable)


def _officer_body(
    rng: random.Random, today: date, capability: str, domain: str, vetting: str, soon: bool
) -> dict[str, Any]:
    gender = _weighted(
        rng, ("female", "male", "non-binary", "not-stated"), (0.42, 0.52, 0.02, 0.04)
    )
    first = rng.choice(
        FEMALE if gender == "female" else MALE if gender == "male" else NEUTRAL + FEMALE + MALE
    )
    last = rng.choice(SURNAMES)
    email_name = f"{first}.{last}".lower().replace("'", "")
    kin_first = rng.choice(FEMALE + MALE)
    _, _, skills = WORK[capability]
    start = today if soon else today + timedelta(days=rng.randint(0, 60))
    return {
        "officer": {
            "name": f"{first} {last}",
            "rank": _weighted(rng, RANKS, RANK_WEIGHTS),
            "contact": {
                "email": f"{email_name}@{domain}",
                "phone": f"+44 7700 900{rng.randint(0, 999):03d}",
            },
            "gender": gender,
            "languages": ["English", *rng.sample(["French", "Arabic", "Spanish", "Russian"], 1)]
            if rng.random() < 0.35
            else ["English"],
            "skills": list(skills[: rng.randint(1, len(skills))]),
            "next_of_kin": {
                "name": f"{kin_first} {last}",
                "relationship": rng.choice(("spouse", "partner", "parent", "sibling")),
                "phone": f"+44 7700 901{rng.randint(0, 999):03d}",
            },
        },
        "capability": capability,
        "vetting_level": vetting,
        "vetting_expires": (today + timedelta(days=rng.randint(4 * 365, 6 * 365))).isoformat(),
        "medical_expires": (today + timedelta(days=rng.randint(3 * 365, 4 * 365))).isoformat(),
        "training_expires": (today + timedelta(days=rng.randint(3 * 365, 4 * 365))).isoformat(),
        "passport_expires": (today + timedelta(days=rng.randint(4 * 365, 9 * 365))).isoformat(),
        "available_from": start.isoformat(),
        "available_to": (today + timedelta(days=rng.randint(3 * 365, 4 * 365))).isoformat(),
    }


def plan_scenario(
    seed: int, n_requests: int, n_officers: int, rejection_codes: list[str], today: date
) -> Scenario:
    """The whole story for `seed`; `ValueError` if `n_officers` cannot staff even a minimal one."""
    rng = random.Random(seed)
    outcomes = _outcomes(rng, n_requests)
    sensitive = [rng.random() < 0.25 for _ in range(n_requests)]
    partners = [_weighted(rng, PARTNERS, tuple(p.weight for p in PARTNERS)) for _ in outcomes]
    # Every partner type appears at least once when there is room for it: a missing one takes
    # the place of a request whose type is over-represented.
    for partner in PARTNERS:
        types = [p.partner_type for p in partners]
        if partner.partner_type in types:
            continue
        spare = [i for i, t in enumerate(types) if types.count(t) > 1]
        if spare:
            partners[spare[-1]] = partner
    requests: list[RequestPlan] = []
    for i, (outcome, partner) in enumerate(zip(outcomes, partners, strict=True)):
        body = _request_body(rng, partner, today, sensitive[i])
        risk = _risk(rng, outcome)
        requests.append(
            RequestPlan(
                index=i,
                partner=partner,
                body=body,
                outcome=outcome,
                risk_tier=risk,
                info_request=outcome != TRIAGE_ONLY and rng.random() < 0.12,
                reason_code=_reason_code(rng, risk, rejection_codes) if outcome == REJECT else None,
                assessor=rng.choice(TRIAGE_OFFICERS),
            )
        )
    if not any(r.info_request for r in requests):
        first = next(i for i, r in enumerate(requests) if r.outcome != TRIAGE_ONLY)
        requests[first] = replace(requests[first], info_request=True)
    requests = _plan_deployments(rng, requests, n_officers)
    scenario = Scenario(seed, today, requests)
    scenario.officers = _plan_officers(rng, requests, n_officers, today)
    return scenario


def _plan_deployments(
    rng: random.Random, requests: list[RequestPlan], n_officers: int
) -> list[RequestPlan]:
    approved = [r.index for r in requests if r.outcome in APPROVED_OUTCOMES]
    rng.shuffle(approved)
    n_start = max(1, round(len(approved) * 0.55))
    n_staffing = max(0, round(len(approved) * 0.2))
    n_planned = max(0, round(len(approved) * 0.1))
    kinds = {}
    for pos, index in enumerate(approved):
        if pos < n_start:
            kinds[index] = START
        elif pos < n_start + n_staffing:
            kinds[index] = STAFFING
        elif pos < n_start + n_staffing + n_planned:
            kinds[index] = PLANNED
        else:
            kinds[index] = OPEN
    out = list(requests)
    started = [i for i in approved if kinds[i] == START]
    for pos, index in enumerate(started):
        r = out[index]
        headcount = _weighted(rng, (1, 2, 3), (0.4, 0.4, 0.2))
        out[index] = replace(
            r,
            body=r.body | {"headcount": headcount},
            staffing=START,
            extend_months=rng.choice((3, 6)) if pos % 3 == 1 else 0,
            complete=pos % 3 == 2,
            repatriate=False,
        )
    for index, kind in kinds.items():
        if kind != START:
            out[index] = replace(out[index], staffing=kind)
    # Fit the officers: drop partial staffing, then shrink tours to one officer, then start fewer.
    while sum(r.nominees() for r in out) + 2 > n_officers:
        staffing = [r for r in out if r.staffing == STAFFING]
        big = [r for r in out if r.staffing == START and r.headcount > 1]
        starts = [r for r in out if r.staffing == START]
        if staffing:
            out[staffing[-1].index] = replace(staffing[-1], staffing=PLANNED)
        elif big:
            out[big[-1].index] = replace(big[-1], body=big[-1].body | {"headcount": 1})
        elif len(starts) > 1:
            out[starts[-1].index] = replace(starts[-1], staffing=PLANNED)
        else:
            raise ValueError(f"--officers {n_officers} is too few to staff a deployment")
    # One early repatriation: on a tour with two or more officers that is not completed early.
    crews = [r for r in out if r.staffing == START and r.headcount > 1]
    if crews:
        pick = next((r for r in crews if not r.complete), crews[0])
        out[pick.index] = replace(pick, repatriate=True, backfill=True)
    # One replacement: the first tour to start loses a nominee at clearance and goes on.
    first = next((r for r in out if r.staffing == START), None)
    if first is not None:
        out[first.index] = replace(out[first.index], replace_first=True)
    return out


def _plan_officers(
    rng: random.Random, requests: list[RequestPlan], n_officers: int, today: date
) -> list[OfficerPlan]:
    officers: list[OfficerPlan] = []
    forces = tuple(FORCES)
    for r in requests:
        for slot in range(r.nominees()):
            force, _, domain = _weighted(rng, forces, FORCE_WEIGHTS)
            vetting = "dv" if rng.random() < 0.1 else "sc"
            body = _officer_body(rng, today, r.capability, domain, vetting, soon=True)
            if slot == 0 and r.replace_first:
                # Medical lapses a month into the tour: clearance names it and refuses.
                body["medical_expires"] = (today + timedelta(days=30)).isoformat()
            officers.append(OfficerPlan(force, body, (r.index, slot)))
        for slot in (REPLACEMENT_SLOT,) * r.replace_first + (BACKFILL_SLOT,) * r.backfill:
            force, _, domain = _weighted(rng, forces, FORCE_WEIGHTS)
            body = _officer_body(rng, today, r.capability, domain, "sc", soon=True)
            officers.append(OfficerPlan(force, body, (r.index, slot)))
    capabilities = [c.value for c in Capability]
    while len(officers) < n_officers:
        force, _, domain = _weighted(rng, forces, FORCE_WEIGHTS)
        vetting = _weighted(rng, ("sc", "ctc", "dv", "none"), (0.78, 0.12, 0.06, 0.04))
        body = _officer_body(rng, today, rng.choice(capabilities), domain, vetting, soon=False)
        officers.append(OfficerPlan(force, body))
    rng.shuffle(officers)
    return officers
