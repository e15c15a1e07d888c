"""Reporting KPIs: pure functions checked against values computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.reporting import folds, kpis
from services.reporting.kpis import DeploymentFacts, OfficerFacts, RequestFacts

AS_OF = date(2030, 6, 15)


def at(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def req(n: int, **kw: object) -> RequestFacts:
    base: dict[str, object] = {
        "request_id": f"r{n}",
        "status": "submitted",
        "partner_type": "un",
        "region": "africa",
        "country": "SO",
        "capability": "training",
        "submitted_at": at(date(2030, 1, 1)),
    }
    base.update(kw)
    return RequestFacts(**base)  # type: ignore[arg-type]


def officer(ref: str, **kw: object) -> OfficerFacts:
    base: dict[str, object] = {
        "officer_ref": ref,
        "deployment_id": "d1",
        "mission": "UNSOM",
        "country": "SO",
        "capability": "training",
        "force": "kent",
        "gender": "male",
        "state": "deployed",
        "tour_end": date(2030, 7, 1),
    }
    base.update(kw)
    return OfficerFacts(**base)  # type: ignore[arg-type]


class TestPercentile:
    def test_median_of_odd_and_even_counts(self) -> None:
        assert kpis.percentile([5, 1, 3], 50) == 3
        assert kpis.percentile([1, 2, 3, 4], 50) == 2.5

    def test_p90_interpolates_between_ranks(self) -> None:
        # ranks 0..9 of 10..100: rank 8.1 → 90 + 0.1 * 10
        assert kpis.percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90) == pytest.approx(91)

    def test_no_values_give_none(self) -> None:
        assert kpis.percentile([], 50) is None


class TestRequestKpis:
    def test_days_to_decision_are_fractional_days(self) -> None:
        rows = [
            req(1, decided_at=at(date(2030, 1, 3), 12), decision="approved"),  # 2.5 days
            req(2, decided_at=at(date(2030, 1, 11)), decision="rejected"),  # 10 days
            req(3),  # undecided
        ]
        assert kpis.days_to_decision(rows) == [2.5, 10.0]
        assert kpis.distribution(kpis.days_to_decision(rows)) == {
            "count": 2,
            "median": 6.25,
            "p90": 9.25,  # 2.5 + 0.9 * 7.5
        }

    def test_days_to_deployment_count_calendar_days_from_submission(self) -> None:
        rows = [req(1, submitted_at=at(date(2030, 1, 1), 23), deployment_start=date(2030, 3, 2))]
        assert kpis.days_to_deployment(rows) == [60.0]

    def test_outcome_rates_add_up_over_requests_with_an_outcome(self) -> None:
        decided = at(date(2030, 2, 1))
        rows = [
            req(1, decided_at=decided, decision="approved"),
            req(2, decided_at=decided, decision="approved"),
            req(3, decided_at=decided, decision="rejected"),
            req(4, withdrawn_at=decided),
            # approved, then withdrawn: the board's decision stands as the outcome
            req(5, decided_at=decided, decision="approved", withdrawn_at=decided + timedelta(1)),
            req(6),  # still open: not counted
        ]
        result = kpis.outcome_rates(rows)
        assert result["with_outcome"] == 5
        assert result["counts"] == {"approved": 3, "rejected": 1, "withdrawn": 1}
        assert result["rates"] == {"approved": 0.6, "rejected": 0.2, "withdrawn": 0.2}

    def test_counts_by_sort_most_frequent_first(self) -> None:
        rows = [req(1, region="europe"), req(2), req(3)]
        assert list(kpis.counts_by(rows, lambda r: r.region).items()) == [
            ("africa", 2),
            ("europe", 1),
        ]

    def test_decision_histogram_buckets(self) -> None:
        buckets = kpis.decision_histogram([0.5, 6.99, 7, 45, 120])
        assert [b["count"] for b in buckets] == [2, 1, 0, 1, 0, 1]


class TestOfficerKpis:
    def test_officer_days_stop_at_return_or_as_of(self) -> None:
        officers = [
            officer("a", started_on=date(2030, 6, 1)),  # 14 days to as_of
            officer(
                "b", state="returned", started_on=date(2030, 1, 1), returned_on=date(2030, 1, 31)
            ),  # 30
            officer("c", state="nominated"),  # never started
            officer("d", started_on=date(2030, 7, 1)),  # starts after as_of: 0
        ]
        assert kpis.officer_days(officers, AS_OF) == 44

    def test_women_share_among_nominated_and_deployed(self) -> None:
        officers = [
            officer("a", gender="female", started_on=date(2030, 1, 1)),
            officer("b", gender="male", started_on=date(2030, 1, 1)),
            officer("c", gender="female", state="nominated"),
            officer("d", gender="non-binary", state="cleared"),
        ]
        result = kpis.women_share(officers)
        assert result["nominated"] == {"total": 4, "women": 2, "share": 0.5}
        assert result["deployed"] == {"total": 2, "women": 1, "share": 0.5}

    def test_deployed_now_excludes_returned_officers(self) -> None:
        officers = [officer("a"), officer("b", state="returned"), officer("c", state="cleared")]
        assert [o.officer_ref for o in kpis.deployed_now(officers)] == ["a"]

    def test_tours_ending_are_cumulative_windows(self) -> None:
        def dep(n: int, end: date, status: str = "deployed") -> DeploymentFacts:
            return DeploymentFacts(f"d{n}", "M", "SO", "training", status, date(2030, 1, 1), end)

        deps = [
            dep(1, AS_OF + timedelta(10)),
            dep(2, AS_OF + timedelta(30)),
            dep(3, AS_OF + timedelta(45)),
            dep(4, AS_OF + timedelta(90)),
            dep(5, AS_OF + timedelta(91)),
            dep(6, AS_OF + timedelta(5), status="completed"),
            dep(7, AS_OF - timedelta(1)),
        ]
        assert kpis.tours_ending(deps, AS_OF) == {
            "within_30_days": 2,
            "within_60_days": 3,
            "within_90_days": 4,
        }

    def test_readiness_items_expiring_before_tour_end(self) -> None:
        end = date(2030, 12, 31)
        officers = [
            officer(
                "a",
                tour_end=end,
                expiries={
                    "vetting": date(2031, 1, 1),
                    "medical": date(2030, 9, 1),
                    "training": date(2030, 12, 30),
                    "passport": end,  # on the last day is still valid
                },
            ),
            officer("b", state="returned", tour_end=end, expiries={"medical": date(2030, 1, 1)}),
        ]
        gaps = kpis.readiness_gaps(officers)
        assert [(g["officer_ref"], g["item"]) for g in gaps] == [
            ("a", "medical"),
            ("a", "training"),
        ]


class TestTimeSeries:
    def test_weeks_start_on_monday_and_gaps_are_zero(self) -> None:
        days = [date(2030, 1, 2), date(2030, 1, 5), date(2030, 1, 16)]  # Wed, Sat, Wed
        assert kpis.timeseries(days, "week") == [
            {"period": "2029-12-31", "count": 2},
            {"period": "2030-01-07", "count": 0},
            {"period": "2030-01-14", "count": 1},
        ]

    def test_months_roll_over_the_year(self) -> None:
        days = [date(2029, 11, 30), date(2030, 1, 1)]
        assert [p["period"] for p in kpis.timeseries(days, "month")] == [
            "2029-11-01",
            "2029-12-01",
            "2030-01-01",
        ]

    def test_by_week_and_status(self) -> None:
        rows = [
            req(1, status="approved", submitted_at=at(date(2030, 1, 1))),
            req(2, status="rejected", submitted_at=at(date(2030, 1, 2))),
            req(3, status="approved", submitted_at=at(date(2030, 1, 15))),
        ]
        assert kpis.by_period_and_status(rows, "week") == {
            "periods": ["2029-12-31", "2030-01-07", "2030-01-14"],
            "series": {"approved": [1, 0, 1], "rejected": [1, 0, 0]},
        }


class TestFolds:
    def logged(
        self, event_type: str, day: int, topic: str, version: int, **data: object
    ) -> folds.Logged:
        return folds.Logged(uuid4(), event_type, topic, version, at(date(2030, 1, day)), data)

    def test_request_row_is_the_same_whatever_the_arrival_order(self) -> None:
        rid = str(uuid4())
        submitted = self.logged(
            "RequestSubmitted",
            1,
            "jiph.intake.events",
            1,
            request_id=rid,
            reference="JIPH-1",
            partner_id="p",
            partner_type="un",
            country="SO",
            capability="training",
            classification="OFFICIAL",
            title="t",
            description="d",
            headcount=2,
            needed_by="2030-06-01",
        )
        triaged = self.logged(
            "RequestTriaged", 2, "jiph.triage.events", 1, region="africa", score=40
        )
        approved = self.logged("RequestApproved", 5, "jiph.triage.events", 3)
        started = self.logged(
            "DeploymentStarted", 20, "jiph.deployment.events", 4, started_on="2030-02-01"
        )
        forward = folds.request_row([submitted, triaged, approved, started])
        backward = folds.request_row([started, approved, triaged, submitted])
        assert forward == backward
        assert forward is not None
        assert forward["status"] == "deployed"
        assert forward["decided_at"] == at(date(2030, 1, 5))
        assert forward["approved"] and not forward["rejected"] and not forward["withdrawn"]
        assert forward["deployment_start"] == date(2030, 2, 1)
        assert forward["region"] == "africa"

    def test_no_row_before_the_submission_is_seen(self) -> None:
        assert (
            folds.request_row([self.logged("RequestApproved", 5, "jiph.triage.events", 3)]) is None
        )

    def test_personal_fields_are_dropped(self) -> None:
        assert folds.without_personal_data(
            {"a": 1, "contact": {"name": "x"}, "personal_data": "c"}
        ) == {"a": 1}

    def test_trace_id_of_traceparent(self) -> None:
        tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        assert folds.trace_id_of(tp) == "0af7651916cd43dd8448eb211c80319c"
        assert folds.trace_id_of(None) is None
