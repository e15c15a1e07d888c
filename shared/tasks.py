"""Long-running tasks that must outlive their clients' hiccups.

aiokafka raises `CancelledError` from its internals when a broker goes and comes back; a loop
that treats every CancelledError as its own cancellation stops for good (a consumer stopped
consuming after a broker restart this way). Only a cancellation of the task itself stops it.
"""

from __future__ import annotations

import asyncio


def being_cancelled() -> bool:
    """Whether the current task itself was asked to stop (not merely handed a CancelledError)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
