"""Matching offered officers to a post: who is left out and why, the score and its breakdown,
and the order of equal scores."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any
from uuid import uuid4

import pytest

from services.deployment.domain import Candidate, Offer, OfferTerms, PostNeeds, match_post
from services.deployment.domain.matching import WEIGHTS
from shared.reference.data import load_reference_data

REF = load_reference_data()
START, END = date(2027, 3, 1), date(2027, 8, 31)
NEEDS = PostNeeds(
    capability="public-order",
    vetting_level="sc",
    rank="Inspector",
    skills=("public order command", "crowd safety"),
    languages=("English", "French"),
    start=START,
    end=END,
)


def offer(ref: str, **changes: Any) -> Offer:
    terms = OfferTerms(
        capability="public-order",
        rank="Inspector",
        gender="female",
        languages=("English", "French"),
        skills=("Public Order Command", "crowd  safety"),
        vetting_level="sc",
        vetting_expires=date(2030, 1, 1),
        medical_expires=date(2029, 1, 1),
        training_expires=date(2029, 6, 1),
        passport_expires=date(2031, 1, 1),
        available_from=date(2027, 1, 1),
        available_to=date(2028, 12, 31),
    )
    return Offer(uuid4(), ref, "met", replace(terms, **changes), withdrawn=False, version=1)


def ranked(*candidates: Candidate, needs: PostNeeds = NEEDS) -> list[str]:
    return [m.officer_ref for m in match_post(needs, candidates, REF).ranked]


def test_a_fully_fitting_officer_scores_100_with_every_criterion_explained() -> None:
    found = match_post(NEEDS, [Candidate(offer("OFF-FULL"))], REF)
    (m,) = found.ranked
    assert m.score == 100
    assert [c.criterion for c in m.criteria] == ["readiness", "languages", "skills", "rank"]
    assert sum(c.weight for c in m.criteria) == pytest.approx(1)
    assert all(c.raw == 1 for c in m.criteria)
    assert "valid to 2027-08-31" in m.criteria[0].explanation
    assert any("covering 2027-03-01 to 2027-08-31" in r for r in m.requirements)
    assert found.left_out == ()


def test_a_fully_fitting_officer_ranks_above_a_partial_one() -> None:
    partial = offer("OFF-AAA", languages=("English",), rank="Sergeant")
    assert ranked(Candidate(partial), Candidate(offer("OFF-ZZZ"))) == ["OFF-ZZZ", "OFF-AAA"]


def test_partial_fit_says_what_is_missing_and_scores_by_share() -> None:
    o = offer("OFF-P", languages=("english",), skills=(), rank="Sergeant")
    (m,) = match_post(NEEDS, [Candidate(o)], REF).ranked
    by = {c.criterion: c for c in m.criteria}
    assert by["languages"].raw == 0.5
    assert by["languages"].explanation == "has 1 of the 2 languages asked for; lacks french"
    assert by["skills"].raw == 0
    assert by["rank"].points == 0
    assert by["rank"].explanation == "holds Sergeant; the post asks for Inspector"
    expected = 100 * (WEIGHTS["readiness"] + 0.5 * WEIGHTS["languages"])
    assert m.score == pytest.approx(expected)


def test_readiness_lapsing_mid_tour_names_the_item_and_its_date() -> None:
    o = offer("OFF-MED", medical_expires=date(2027, 6, 30))
    (m,) = match_post(NEEDS, [Candidate(o)], REF).ranked
    readiness = m.criteria[0]
    assert readiness.raw == 0.75
    assert (
        readiness.explanation == "medical expires on 2027-06-30, before the tour ends on 2027-08-31"
    )
    assert m.score == pytest.approx(100 - 0.25 * WEIGHTS["readiness"] * 100)


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (Candidate(offer("OFF-X"), booked_elsewhere=("d-1",)), "officer-double-booked"),
        (Candidate(offer("OFF-X", capability="forensics")), "capability-mismatch"),
        (Candidate(offer("OFF-X", vetting_level="ctc")), "vetting-insufficient"),
        (Candidate(offer("OFF-X", available_to=date(2027, 8, 30))), "officer-unavailable"),
        (Candidate(offer("OFF-X", available_from=date(2027, 3, 2))), "officer-unavailable"),
        (Candidate(offer("OFF-X"), on_this_deployment=True), "already-nominated"),
        (Candidate(offer("OFF-X"), erased=True), "officer-erased"),
        (Candidate(replace(offer("OFF-X"), withdrawn=True)), "offer-withdrawn"),
    ],
)
def test_officers_a_nomination_would_refuse_are_left_out_with_the_reason(
    candidate: Candidate, reason: str
) -> None:
    found = match_post(NEEDS, [candidate, Candidate(offer("OFF-OK"))], REF)
    assert [m.officer_ref for m in found.ranked] == ["OFF-OK"]
    assert [(x.officer_ref, x.reason) for x in found.left_out] == [("OFF-X", reason)]
    assert found.left_out[0].explanation


def test_vetting_above_the_posts_level_is_enough() -> None:
    assert ranked(Candidate(offer("OFF-DV", vetting_level="dv"))) == ["OFF-DV"]


def test_equal_scores_go_to_the_longest_readiness_margin_then_officer_ref() -> None:
    short = offer("OFF-A", passport_expires=date(2028, 1, 1))
    long_b = offer("OFF-B")
    long_c = offer("OFF-C")
    order = ranked(Candidate(long_c), Candidate(short), Candidate(long_b))
    assert order == ["OFF-B", "OFF-C", "OFF-A"]
    scores = {m.score for m in match_post(NEEDS, [Candidate(short), Candidate(long_b)], REF).ranked}
    assert scores == {100}  # a tie on score: the margin decided


def test_a_post_that_asks_for_nothing_more_gives_full_points_and_says_so() -> None:
    bare = replace(NEEDS, rank=None, skills=(), languages=())
    (m,) = match_post(bare, [Candidate(offer("OFF-A", languages=(), skills=()))], REF).ranked
    assert m.score == 100
    assert m.criteria[1].explanation == "the post asks for no languages"
    assert m.criteria[3].explanation == "the post asks for no rank"


def test_a_backfill_window_starts_when_the_post_reopened() -> None:
    backfill = replace(NEEDS, start=date(2027, 6, 1))
    late = offer("OFF-LATE", available_from=date(2027, 5, 1))
    assert ranked(Candidate(late), needs=backfill) == ["OFF-LATE"]
    assert ranked(Candidate(late)) == []
