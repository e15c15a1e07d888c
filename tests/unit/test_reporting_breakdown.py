"""The rows of a chart (`GET /v1/breakdown`) from a summary, and their CSV: a mission a partner
named like a formula stays text in a spreadsheet."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

from services.reporting import kpis
from services.reporting.api import breakdown_rows
from services.reporting.exports import BREAKDOWN_CSV_COLUMNS, csv_lines


def officer(mission: str | None, ref: str) -> kpis.OfficerFacts:
    return kpis.OfficerFacts(
        officer_ref=ref,
        deployment_id="d1",
        mission=mission,
        country="SO",
        capability="training",
        force="met",
        gender="female",
        state="deployed",
        tour_end=date(2030, 1, 1),
        started_on=date(2029, 1, 1),
    )


def summary_of(officers: list[kpis.OfficerFacts]) -> dict[str, Any]:
    request = kpis.RequestFacts(
        "r1", "deployed", "un", "africa", "SO", "training", datetime(2029, 1, 1, tzinfo=UTC)
    )
    return kpis.summary([request], [], officers, date(2029, 6, 1))


async def as_csv(rows: list[dict[str, Any]]) -> list[list[str]]:
    async def each() -> AsyncIterator[dict[str, Any]]:
        for row in rows:
            yield row

    text = "".join([line async for line in csv_lines(each(), BREAKDOWN_CSV_COLUMNS)])
    return list(csv.reader(io.StringIO(text)))


def test_officers_without_a_mission_group_as_no_mission_not_unknown() -> None:
    summary = summary_of([officer(None, "o1"), officer(None, "o2"), officer("UNSOM", "o3")])
    rows = breakdown_rows(summary, "officers_by_mission")
    assert rows == [
        {"key": kpis.NO_MISSION, "series": None, "count": 2},
        {"key": "UNSOM", "series": None, "count": 1},
    ]


def test_a_formula_like_mission_is_text_in_the_csv() -> None:
    summary = summary_of([officer('=HYPERLINK("http://x")', "o1")])
    lines = asyncio.run(as_csv(breakdown_rows(summary, "officers_by_mission")))
    assert lines == [["key", "series", "count"], ['\'=HYPERLINK("http://x")', "", "1"]]


def test_weeks_list_every_status_of_every_week() -> None:
    rows = breakdown_rows(summary_of([]), "week")
    assert rows == [{"key": "2029-01-01", "series": "deployed", "count": 1}]
