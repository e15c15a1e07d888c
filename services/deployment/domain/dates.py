"""Tour dates: months added the way a calendar does, tours inclusive of both ends."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

#: Longest tour (or offer window) the hub plans in one go; extensions add to it later.
MAX_TOUR_MONTHS = 24
MAX_EXTENSION_MONTHS = 12


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def tour_end_for(start: date, months: int) -> date:
    """The last day of a tour of `months` starting on `start` (tour dates are inclusive)."""
    return add_months(start, months) - timedelta(days=1)


def extended_end(end: date, months: int) -> date:
    return add_months(end + timedelta(days=1), months) - timedelta(days=1)
