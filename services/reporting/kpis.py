"""The KPIs, as pure functions over plain rows: no SQL, no clock (`as_of` is passed in).

Definitions (they are what the dashboard's tiles mean):
* *time to decision*: days (fractional) from submission to the first approval or rejection;
  *time to deployment*: whole days from the submission date to the first deployment start.
* percentiles interpolate linearly between the closest ranks (as numpy's default).
* *outcome rates* are over requests with an outcome: approved, rejected, or withdrawn before any
  decision; the three rates add up to 1.
* *deployed now*: officers whose state is `deployed` (not returned or repatriated).
* *officer-days overseas*: per deployed officer, days from `started_on` to `returned_on` (or to
  `as_of` while still deployed), never counting days after `as_of`.
* *share of women*: officers with gender `female` among those nominated (every officer on a
  deployment) and among those deployed (every officer who started a tour).
* *tours ending within N days*: deployed deployments whose tour ends in `[as_of, as_of + N]`.
* *post fill rate*: over deployments not yet completed or cancelled, the posts held by an
  officer (nominated, released, cleared or deployed) among all their posts (the headcount);
  *time to fill*: hours from a post falling vacant (planned, a nomination withdrawn, an officer
  repatriated early) to the nomination that filled it, over every fill of the matching requests.
* *readiness expiring before tour end*: vetting/medical/training/passport dates earlier than
  the tour's end, for officers not yet back (nominated, released, cleared or deployed).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

Interval = Literal["week", "month"]
ACTIVE_OFFICER_STATES = frozenset({"nominated", "released", "cleared", "deployed"})
READINESS_ITEMS = ("vetting", "medical", "training", "passport")
TOUR_HORIZONS = (30, 60, 90)
DECISION_BUCKETS = ((0, 7), (7, 14), (14, 30), (30, 60), (60, 90), (90, None))


@dataclass(frozen=True)
class RequestFacts:
    request_id: str
    status: str
    partner_type: str
    region: str
    country: str
    capability: str
    submitted_at: datetime
    decided_at: datetime | None = None
    decision: str | None = None  # approved | rejected
    withdrawn_at: datetime | None = None
    deployment_start: date | None = None
    partner_id: str | None = None


@dataclass(frozen=True)
class DeploymentFacts:
    deployment_id: str
    mission: str | None
    country: str
    capability: str
    status: str
    tour_start: date
    tour_end: date
    classification: str | None = None
    headcount: int = 0
    posts_filled: int = 0
    fill_hours: tuple[float, ...] = ()


@dataclass(frozen=True)
class OfficerFacts:
    officer_ref: str
    deployment_id: str
    mission: str | None
    country: str
    capability: str
    force: str
    gender: str
    state: str
    tour_end: date
    started_on: date | None = None
    returned_on: date | None = None
    expiries: dict[str, date] = field(default_factory=dict)  # item → expiry date
    classification: str | None = None  # the deployment's


# --- small statistics -----------------------------------------------------------------------
def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0 to 100) by linear interpolation; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * p / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


#: The mission group of officers on deployments planned without a mission (bilateral work):
#: not unknown, there is none. Missions a reader may not see group as `withheld` instead.
NO_MISSION = "no mission"


def counts_by(
    rows: Iterable[Any], key: Callable[[Any], str | None], missing: str = "unknown"
) -> dict[str, int]:
    """Row counts per key value (None counts as `missing`), most frequent first."""
    counted = Counter(key(row) or missing for row in rows)
    return dict(sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def distribution(values: Sequence[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "median": _rounded(percentile(values, 50)),
        "p90": _rounded(percentile(values, 90)),
    }


# --- requests -------------------------------------------------------------------------------
def days_to_decision(rows: Iterable[RequestFacts]) -> list[float]:
    return [
        (r.decided_at - r.submitted_at).total_seconds() / 86400.0
        for r in rows
        if r.decided_at is not None
    ]


def days_to_deployment(rows: Iterable[RequestFacts]) -> list[float]:
    return [
        float((r.deployment_start - r.submitted_at.date()).days)
        for r in rows
        if r.deployment_start is not None
    ]


def outcome(row: RequestFacts) -> str | None:
    """approved, rejected, withdrawn (before any decision) or None (still open)."""
    if row.decided_at is not None and (
        row.withdrawn_at is None or row.decided_at <= row.withdrawn_at
    ):
        return row.decision
    return "withdrawn" if row.withdrawn_at is not None else None


def outcome_rates(rows: Iterable[RequestFacts]) -> dict[str, Any]:
    counted = Counter(o for o in map(outcome, rows) if o is not None)
    total = sum(counted.values())
    names = ("approved", "rejected", "withdrawn")
    return {
        "with_outcome": total,
        "counts": {name: counted.get(name, 0) for name in names},
        "rates": {name: _rounded(share(counted.get(name, 0), total), 4) for name in names},
    }


def decision_histogram(days: Iterable[float]) -> list[dict[str, Any]]:
    """Time-to-decision in buckets of days: `[0,7)`, `[7,14)`, … `90+`."""
    values = list(days)
    buckets = []
    for low, high in DECISION_BUCKETS:
        label = f"{low}-{high}" if high is not None else f"{low}+"
        n = sum(1 for v in values if v >= low and (high is None or v < high))
        buckets.append({"bucket": label, "count": n})
    return buckets


# --- officers and deployments ---------------------------------------------------------------
def deployed_now(officers: Iterable[OfficerFacts]) -> list[OfficerFacts]:
    return [o for o in officers if o.state == "deployed"]


def officer_days(officers: Iterable[OfficerFacts], as_of: date) -> int:
    total = 0
    for o in officers:
        if o.started_on is None or o.started_on > as_of:
            continue
        end = min(o.returned_on or as_of, as_of)
        total += max(0, (end - o.started_on).days)
    return total


def women_share(officers: Sequence[OfficerFacts]) -> dict[str, Any]:
    deployed = [o for o in officers if o.started_on is not None]

    def part(group: Sequence[OfficerFacts]) -> dict[str, Any]:
        women = sum(1 for o in group if o.gender == "female")
        return {"total": len(group), "women": women, "share": _rounded(share(women, len(group)), 4)}

    return {"nominated": part(officers), "deployed": part(deployed)}


def tours_ending(deployments: Iterable[DeploymentFacts], as_of: date) -> dict[str, int]:
    live = [d for d in deployments if d.status == "deployed"]
    return {
        f"within_{n}_days": sum(1 for d in live if as_of <= d.tour_end <= as_of + timedelta(n))
        for n in TOUR_HORIZONS
    }


def readiness_gaps(officers: Iterable[OfficerFacts]) -> list[dict[str, Any]]:
    """Every readiness item that expires before the end of its officer's tour."""
    gaps = []
    for o in officers:
        if o.state not in ACTIVE_OFFICER_STATES:
            continue
        for item in READINESS_ITEMS:
            expires = o.expiries.get(item)
            if expires is not None and expires < o.tour_end:
                gaps.append(
                    {
                        "officer_ref": o.officer_ref,
                        "deployment_id": o.deployment_id,
                        "item": item,
                        "expires": expires.isoformat(),
                        "tour_end": o.tour_end.isoformat(),
                    }
                )
    return sorted(gaps, key=lambda g: (g["expires"], g["officer_ref"], g["item"]))


# --- time series ----------------------------------------------------------------------------
def period_start(day: date, interval: Interval) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    return day.replace(day=1)


def _next_period(start: date, interval: Interval) -> date:
    if interval == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def periods(first: date, last: date, interval: Interval) -> list[date]:
    out, current = [], period_start(first, interval)
    while current <= last:
        out.append(current)
        current = _next_period(current, interval)
    return out


def timeseries(days: Iterable[date], interval: Interval) -> list[dict[str, Any]]:
    """Counts per period, gaps filled with zero, from the first to the last day seen."""
    counted = Counter(period_start(d, interval) for d in days)
    if not counted:
        return []
    return [
        {"period": p.isoformat(), "count": counted.get(p, 0)}
        for p in periods(min(counted), max(counted), interval)
    ]


def by_period_and_status(rows: Sequence[RequestFacts], interval: Interval) -> dict[str, Any]:
    """Submissions per period, split by the requests' current status (a stacked chart)."""
    if not rows:
        return {"periods": [], "series": {}}
    starts = [period_start(r.submitted_at.date(), interval) for r in rows]
    labels = periods(min(starts), max(starts), interval)
    index = {p: i for i, p in enumerate(labels)}
    series: dict[str, list[int]] = {}
    for row, start in zip(rows, starts, strict=True):
        series.setdefault(row.status, [0] * len(labels))[index[start]] += 1
    return {"periods": [p.isoformat() for p in labels], "series": dict(sorted(series.items()))}


LIVE_DEPLOYMENTS = frozenset({"planned", "staffing", "ready", "deployed"})


def post_fill(deployments: Iterable[DeploymentFacts]) -> dict[str, Any]:
    deployments = list(deployments)
    live = [d for d in deployments if d.status in LIVE_DEPLOYMENTS]
    total = sum(d.headcount for d in live)
    filled = sum(d.posts_filled for d in live)
    return {
        "total": total,
        "filled": filled,
        "vacant": total - filled,
        "fill_rate": share(filled, total),
        "hours_to_fill": distribution([h for d in deployments for h in d.fill_hours]),
    }


# --- the whole summary ----------------------------------------------------------------------
def summary(
    requests: Sequence[RequestFacts],
    deployments: Sequence[DeploymentFacts],
    officers: Sequence[OfficerFacts],
    as_of: date,
) -> dict[str, Any]:
    decision_days = days_to_decision(requests)
    now = deployed_now(officers)
    gaps = readiness_gaps(officers)
    return {
        "as_of": as_of.isoformat(),
        "requests": {
            "total": len(requests),
            "by_status": counts_by(requests, lambda r: r.status),
            "by_partner": counts_by(requests, lambda r: r.partner_id),
            "by_partner_type": counts_by(requests, lambda r: r.partner_type),
            "by_region": counts_by(requests, lambda r: r.region),
            "by_country": counts_by(requests, lambda r: r.country),
            "by_capability": counts_by(requests, lambda r: r.capability),
            "by_week_and_status": by_period_and_status(requests, "week"),
        },
        "days_to_decision": distribution(decision_days)
        | {"histogram": decision_histogram(decision_days)},
        "days_to_deployment": distribution(days_to_deployment(requests)),
        "outcomes": outcome_rates(requests),
        "officers_deployed_now": {
            "total": len(now),
            "by_mission": counts_by(now, lambda o: o.mission, NO_MISSION),
            "by_country": counts_by(now, lambda o: o.country),
            "by_capability": counts_by(now, lambda o: o.capability),
            "by_force": counts_by(now, lambda o: o.force),
        },
        "officer_days_overseas": officer_days(officers, as_of),
        "women": women_share(officers),
        "tours_ending": tours_ending(deployments, as_of),
        "posts": post_fill(deployments),
        "readiness_expiring_before_tour_end": {
            "total": len(gaps),
            "by_item": counts_by(gaps, lambda g: g["item"]),
            "items": gaps[:200],
        },
    }
