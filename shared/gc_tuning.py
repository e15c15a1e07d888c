"""The garbage collector's settings for a long-running service process."""

from __future__ import annotations

import gc

#: New container objects between two collections of the youngest generation (Python's: 700).
YOUNG_GENERATION_THRESHOLD = 20_000


def tune_for_service() -> None:
    """A service makes many short-lived containers for every request and every event (JSON,
    models, rows), nearly none of them in reference cycles. With Python's default threshold
    the collector ran every 700 of them, and a projection rebuild spent about half its time
    there (`bench/rebuild_rate.py`: ~17,000 → ~30,000 events/s). What exists once the process
    has started (modules, models, table metadata) lives as long as the process: it is frozen,
    so that full collections stop walking it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 20, 20)
