"""CSV exports: the columns of each export, and streaming rows as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

from fastapi.responses import StreamingResponse

REQUEST_CSV_COLUMNS = (
    "request_id",
    "reference",
    "partner_id",
    "partner_type",
    "country",
    "region",
    "capability",
    "classification",
    "title",
    "description",
    "redacted",
    "mission",
    "funding_source",
    "headcount",
    "tour_length_months",
    "needed_by",
    "status",
    "score",
    "risk_tier",
    "submitted_at",
    "decided_at",
    "decision",
    "approved",
    "rejected",
    "withdrawn",
    "withdrawn_at",
    "deployment_start",
)
DEPLOYMENT_CSV_COLUMNS = (
    "deployment_id",
    "request_id",
    "reference",
    "partner_type",
    "mission",
    "country",
    "region",
    "capability",
    "classification",
    "redacted",
    "headcount",
    "status",
    "tour_start",
    "tour_end",
    "planned_tour_end",
    "extensions",
    "extension_months",
    "started_on",
    "completed_on",
    "officers_nominated",
    "officers_deployed",
)

BREAKDOWN_CSV_COLUMNS = ("key", "series", "count")


#: A spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A value as a CSV cell. Text that a spreadsheet would run as a formula gets a leading `'`,
    which makes it text (the OWASP rule); numbers stay numbers."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


async def csv_lines(
    rows: AsyncIterator[dict[str, Any]], columns: tuple[str, ...]
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    count = 0
    async for row in rows:
        writer.writerow([cell(row.get(name)) for name in columns])
        count += 1
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(body: AsyncIterator[str], name: str) -> StreamingResponse:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )
