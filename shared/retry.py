"""When a failed delivery (a webhook, an e-mail) is tried again: exponential backoff, capped,
and a dead letter once the attempts are spent. Pure, so that it is tested without a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetrySchedule:
    max_attempts: int
    base_s: float
    cap_s: float

    def delay_after(self, attempts_made: int) -> timedelta:
        """The wait after the `attempts_made`-th failure: base, 2xbase, 4xbase … at most cap."""
        exponent = min(attempts_made - 1, 60)  # 2**60 x base is past any cap already
        return timedelta(seconds=min(self.cap_s, self.base_s * 2**exponent))

    def after_failure(self, attempts_made: int, now: datetime) -> datetime | None:
        """When to try again, or None: the delivery is dead."""
        if attempts_made >= self.max_attempts:
            return None
        return now + self.delay_after(attempts_made)
