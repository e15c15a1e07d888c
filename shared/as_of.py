"""What a stream looked like at a point of its past: the one rule every `as_of` read uses. Pure.

A view (a case in triage, a partner's request in intake) folds two kinds of events: its own
stream's, numbered by `stream_version`, and what other services said about the same request. A
command that decided at version N of its stream had folded its stream up to N and whatever other
events it had met by then; those are the others that occurred before its stream's event N+1 (or
all of them, when N is the current version). So:

- as of version N: the own stream up to N, and the others that occurred before own event N+1
  (every one of them when N is the current version);
- as of time T: every event that occurred at or before T.

The rows themselves are whatever the caller keeps (history rows); only when each occurred, which
stream version it has, and whether it is the own stream's is asked of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from shared.refusals import invalid

Row = TypeVar("Row")

VERSION_PARAMETER = "as_of_version"
TIME_PARAMETER = "as_of"


@dataclass(frozen=True)
class AsOf:
    """What the reader asked for: a version of the own stream, or a time (never both)."""

    version: int | None = None
    at: datetime | None = None

    @classmethod
    def asked(cls, version: int | None, at: datetime | None) -> AsOf | None:
        """The reader's parameters as a point to go back to; None for the current view."""
        if version is not None and at is not None:
            raise invalid(
                "as-of-ambiguous",
                f"give either {VERSION_PARAMETER} or {TIME_PARAMETER}, not both",
                errors=[
                    {"field": f"query.{name}", "message": "give only one of the two"}
                    for name in (VERSION_PARAMETER, TIME_PARAMETER)
                ],
            )
        if version is None and at is None:
            return None
        return cls(version, at)


@dataclass(frozen=True)
class Point:
    """Where the view stands: the own stream's version then, and the instant (the time of own
    event `version` when asked by version, the time asked for when asked by time)."""

    version: int
    at: datetime
    by: str  # "version" or "time"

    def as_json(self) -> dict[str, object]:
        return {"version": self.version, "at": self.at.isoformat(), "by": self.by}


def cut(
    rows: Sequence[Row],
    as_of: AsOf,
    *,
    own: Callable[[Row], bool],
    version: Callable[[Row], int],
    occurred_at: Callable[[Row], datetime],
) -> tuple[list[Row], Point]:
    """The rows the view had at `as_of` (in the order given) and where that is. A version the
    stream has not reached, or a time before its first event, is refused naming the parameter
    (the caller refuses a time at which its view did not exist yet likewise, with `too_early`)."""
    stream = sorted((r for r in rows if own(r)), key=version)
    if as_of.version is not None:
        n = as_of.version
        current = version(stream[-1]) if stream else 0
        if n < 1 or n > current:
            raise out_of_range(
                VERSION_PARAMETER, f"there is no version {n}: the current version is {current}"
            )
        following = next((r for r in stream if version(r) > n), None)
        before = None if following is None else occurred_at(following)

        def seen(r: Row) -> bool:
            if own(r):
                return version(r) <= n
            return before is None or occurred_at(r) < before

        kept = [r for r in rows if seen(r)]
        reached = next(r for r in stream if version(r) == n)
        return kept, Point(n, occurred_at(reached), "version")
    assert as_of.at is not None
    at = as_of.at
    kept = [r for r in rows if occurred_at(r) <= at]
    if not kept:
        raise too_early(at)
    return kept, Point(max((version(r) for r in kept if own(r)), default=0), at, "time")


def too_early(at: datetime) -> Exception:
    return out_of_range(TIME_PARAMETER, f"it did not exist yet at {at.isoformat()}")


def out_of_range(parameter: str, detail: str) -> Exception:
    return invalid(
        "as-of-out-of-range",
        f"{parameter}: {detail}",
        errors=[{"field": f"query.{parameter}", "message": detail}],
    )
