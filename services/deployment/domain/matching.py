"""Which offered officers can fill a post, best first, and why: pure, like triage's score.

An officer is left out, with the reason, when a nomination would refuse them: offered for another
capability, vetted below the post's level, not available for the post's whole window (from the
day it needs someone to the tour's end), booked on another overlapping tour, already on this
deployment, or their personal data erased. Those who remain are scored 0-100 on what a manager
weighs between them, each criterion with its raw fit (0-1), weight, points and a sentence:

- readiness: vetting, medical, hostile-environment training and passport valid to the tour's end
  (the share of the four that are; an item that expires mid-tour is named, as clearance will);
- languages and skills: the share of the post's that the officer has (case and spacing ignored);
- rank: the rank the post asks for, or not.

Equal scores are broken by the longest margin of readiness past the tour's end, then by
`officer_ref`, so the order is stable. Vetting and availability are requirements, not a matter of
degree: every listed officer meets them, and the breakdown says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from services.deployment.domain.deployment import Deployment, Post
from services.deployment.domain.offers import Offer
from services.deployment.domain.readiness import required_vetting
from shared.reference.data import ReferenceData

WEIGHTS = {"readiness": 0.4, "languages": 0.25, "skills": 0.2, "rank": 0.15}
READINESS = (
    ("vetting_expires", "vetting"),
    ("medical_expires", "medical"),
    ("training_expires", "hostile-environment training"),
    ("passport_expires", "passport"),
)


@dataclass(frozen=True)
class PostNeeds:
    """What one post asks for, over the window it needs an officer."""

    capability: str
    vetting_level: str
    rank: str | None
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    start: date
    end: date


@dataclass(frozen=True)
class Candidate:
    """An offered officer and the facts about them a handler looked up."""

    offer: Offer
    booked_elsewhere: tuple[str, ...] = ()  # deployments overlapping the post's window
    on_this_deployment: bool = False
    erased: bool = False


@dataclass(frozen=True)
class Criterion:
    criterion: str
    raw: float
    weight: float
    points: float
    explanation: str


@dataclass(frozen=True)
class Match:
    officer_ref: str
    offer_id: str
    force: str
    score: float
    criteria: tuple[Criterion, ...]
    requirements: tuple[str, ...]  # what every listed officer meets, said of this one
    ready_until: date  # the earliest readiness expiry


@dataclass(frozen=True)
class LeftOut:
    officer_ref: str
    reason: str  # a stable code
    explanation: str


@dataclass(frozen=True)
class Matches:
    ranked: tuple[Match, ...]
    left_out: tuple[LeftOut, ...]


def _norm(words: Iterable[str]) -> set[str]:
    return {" ".join(w.casefold().split()) for w in words}


def _share(criterion: str, wanted: Sequence[str], held: Sequence[str]) -> Criterion:
    want = _norm(wanted)
    weight = WEIGHTS[criterion]
    if not want:
        return Criterion(criterion, 1.0, weight, weight * 100, f"the post asks for no {criterion}")
    have = want & _norm(held)
    missing = sorted(want - have)
    raw = len(have) / len(want)
    said = f"has {len(have)} of the {len(want)} {criterion} asked for"
    if missing:
        said += f"; lacks {', '.join(missing)}"
    return Criterion(criterion, round(raw, 4), weight, round(raw * weight * 100, 2), said)


def _readiness(offer: Offer, end: date) -> Criterion:
    weight = WEIGHTS["readiness"]
    lapsing = [
        f"{what} expires on {getattr(offer.terms, item)}"
        for item, what in READINESS
        if getattr(offer.terms, item) < end
    ]
    raw = (len(READINESS) - len(lapsing)) / len(READINESS)
    if lapsing:
        said = f"{'; '.join(lapsing)}, before the tour ends on {end}"
    else:
        said = f"vetting, medical, training and passport all valid to {end}"
    return Criterion("readiness", raw, weight, round(raw * weight * 100, 2), said)


def _rank(wanted: str | None, held: str) -> Criterion:
    weight = WEIGHTS["rank"]
    if not wanted:
        return Criterion("rank", 1.0, weight, weight * 100, "the post asks for no rank")
    if _norm([wanted]) == _norm([held]):
        return Criterion("rank", 1.0, weight, weight * 100, f"holds the rank asked for ({held})")
    return Criterion("rank", 0.0, weight, 0.0, f"holds {held}; the post asks for {wanted}")


def _left_out(needs: PostNeeds, c: Candidate, ref: ReferenceData) -> LeftOut | None:
    o, who = c.offer, c.offer.officer_ref
    if o.withdrawn:
        return LeftOut(who, "offer-withdrawn", "the offer was withdrawn")
    if c.erased:
        return LeftOut(who, "officer-erased", "the officer's personal data was erased")
    if o.capability != needs.capability:
        return LeftOut(who, "capability-mismatch", f"offered for {o.capability}")
    if c.on_this_deployment:
        return LeftOut(who, "already-nominated", "already on this deployment")
    if not ref.vetting_at_least(o.terms.vetting_level, needs.vetting_level):
        return LeftOut(
            who,
            "vetting-insufficient",
            f"holds {o.terms.vetting_level}; the post needs {needs.vetting_level} or above",
        )
    if o.terms.available_from > needs.start or o.terms.available_to < needs.end:
        return LeftOut(
            who,
            "officer-unavailable",
            f"available {o.terms.available_from} to {o.terms.available_to}; the post needs "
            f"{needs.start} to {needs.end}",
        )
    if c.booked_elsewhere:
        return LeftOut(
            who, "officer-double-booked", f"on deployment {c.booked_elsewhere[0]} at that time"
        )
    return None


def _match(needs: PostNeeds, c: Candidate) -> Match:
    t = c.offer.terms
    criteria = (
        _readiness(c.offer, needs.end),
        _share("languages", needs.languages, t.languages),
        _share("skills", needs.skills, t.skills),
        _rank(needs.rank, t.rank),
    )
    return Match(
        officer_ref=c.offer.officer_ref,
        offer_id=str(c.offer.offer_id),
        force=c.offer.force,
        score=round(sum(x.points for x in criteria), 2),
        criteria=criteria,
        requirements=(
            f"offered for {needs.capability}",
            f"vetted {t.vetting_level} (the post needs {needs.vetting_level} or above)",
            f"available {t.available_from} to {t.available_to}, covering {needs.start} to "
            f"{needs.end}",
            "on no other tour at that time",
        ),
        ready_until=min(getattr(t, item) for item, _ in READINESS),
    )


def match_post(needs: PostNeeds, candidates: Iterable[Candidate], ref: ReferenceData) -> Matches:
    """Every candidate either ranked (best first) or left out with the reason."""
    ranked, left_out = [], []
    for c in candidates:
        refusal = _left_out(needs, c, ref)
        if refusal is None:
            ranked.append(_match(needs, c))
        else:
            left_out.append(refusal)
    ranked.sort(key=lambda m: (-m.score, -m.ready_until.toordinal(), m.officer_ref))
    left_out.sort(key=lambda x: x.officer_ref)
    return Matches(tuple(ranked), tuple(left_out))


def needs_of(state: Deployment, post: Post, ref: ReferenceData) -> PostNeeds:
    """What a post of the deployment asks for, from the day it needs someone to the tour's end."""
    return PostNeeds(
        capability=state.capability,
        vetting_level=required_vetting(state, ref),
        rank=state.profile.rank,
        skills=state.profile.skills,
        languages=state.profile.languages,
        start=max(post.needed_from, state.tour_start),
        end=state.tour_end,
    )
