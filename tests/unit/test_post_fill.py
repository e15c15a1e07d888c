"""Post fill rate and time to fill: the deployment fold counts held posts and how long each fill
took; the KPI sums them over live deployments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

from services.reporting import folds, kpis
from shared.topics import DEPLOYMENT_EVENTS

T0 = datetime(2027, 1, 4, 9, tzinfo=UTC)
REQUEST, DEPLOYMENT = str(uuid4()), str(uuid4())


def logged(version: int, event_type: str, hours: float, **data: Any) -> folds.Logged:
    base = {"request_id": REQUEST, "deployment_id": DEPLOYMENT}
    return folds.Logged(
        uuid4(), event_type, DEPLOYMENT_EVENTS, version, T0 + timedelta(hours=hours), base | data
    )


PLANNED = logged(
    1,
    "DeploymentPlanned",
    0,
    country="SO",
    capability="public-order",
    classification="OFFICIAL",
    headcount=2,
    tour_start="2027-03-01",
    tour_end="2027-08-31",
)


def nominated(version: int, hours: float, ref: str) -> folds.Logged:
    return logged(
        version,
        "OfficerNominated",
        hours,
        officer_ref=ref,
        offer_id=str(uuid4()),
        force="met",
        gender="female",
    )


def test_each_fill_takes_the_post_vacant_longest_and_a_withdrawal_reopens_one() -> None:
    rows = folds.deployment_rows(
        [
            PLANNED,
            nominated(2, 5, "OFF-A"),
            nominated(3, 30, "OFF-B"),
            logged(4, "NominationWithdrawn", 40, officer_ref="OFF-A", post_id="P1", reason="x"),
            nominated(5, 52, "OFF-C"),
        ]
    )
    assert rows is not None
    assert rows.deployment["fill_hours"] == [5.0, 30.0, 12.0]
    assert rows.deployment["posts_filled"] == 2
    states = {o["officer_ref"]: o["state"] for o in rows.officers}
    assert states == {"OFF-A": "withdrawn", "OFF-B": "nominated", "OFF-C": "nominated"}


def test_a_repatriation_leaves_a_vacant_post_until_a_backfill_joins() -> None:
    rows = folds.deployment_rows(
        [
            PLANNED.__class__(**{**PLANNED.__dict__, "data": {**PLANNED.data, "headcount": 1}}),
            nominated(2, 1, "OFF-A"),
            logged(3, "DeploymentStarted", 2, started_on="2027-03-01", officer_refs=["OFF-A"]),
            logged(
                4,
                "OfficerRepatriated",
                100,
                officer_ref="OFF-A",
                reason_code="medical",
                on="2027-05-14",
            ),
        ]
    )
    assert rows is not None and rows.deployment["posts_filled"] == 0
    more = folds.deployment_rows(
        [
            PLANNED.__class__(**{**PLANNED.__dict__, "data": {**PLANNED.data, "headcount": 1}}),
            nominated(2, 1, "OFF-A"),
            logged(3, "DeploymentStarted", 2, started_on="2027-03-01", officer_refs=["OFF-A"]),
            logged(
                4,
                "OfficerRepatriated",
                100,
                officer_ref="OFF-A",
                reason_code="medical",
                on="2027-05-14",
            ),
            nominated(5, 124, "OFF-B"),
            logged(6, "OfficerDeployed", 130, officer_ref="OFF-B", post_id="P1", on="2027-05-20"),
        ]
    )
    assert more is not None
    assert more.deployment["posts_filled"] == 1 and more.deployment["fill_hours"] == [1.0, 24.0]
    b = next(o for o in more.officers if o["officer_ref"] == "OFF-B")
    assert (b["state"], b["started_on"]) == ("deployed", date(2027, 5, 20))


def facts(
    status: str, headcount: int, filled: int, hours: tuple[float, ...]
) -> kpis.DeploymentFacts:
    return kpis.DeploymentFacts(
        str(uuid4()),
        None,
        "SO",
        "public-order",
        status,
        date(2027, 3, 1),
        date(2027, 8, 31),
        "OFFICIAL",
        headcount,
        filled,
        hours,
    )


def test_the_fill_rate_counts_live_deployments_and_time_to_fill_every_fill() -> None:
    posts = kpis.post_fill(
        [
            facts("staffing", 4, 3, (10.0, 20.0, 30.0)),
            facts("deployed", 2, 2, (40.0,)),
            facts("completed", 5, 0, (50.0,)),
            facts("cancelled", 3, 0, ()),
        ]
    )
    assert (posts["total"], posts["filled"], posts["vacant"]) == (6, 5, 1)
    assert posts["fill_rate"] == 5 / 6
    assert posts["hours_to_fill"] == {"count": 5, "median": 30.0, "p90": 46.0}


def test_no_posts_means_no_rate_rather_than_a_division_by_zero() -> None:
    assert kpis.post_fill([])["fill_rate"] is None
