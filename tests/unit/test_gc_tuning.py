"""A service process's garbage collector: frozen start-up objects, a larger young generation."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.gc_tuning import YOUNG_GENERATION_THRESHOLD, tune_for_service


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tuning_freezes_what_exists_and_raises_the_young_threshold(restored_gc: None) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    tune_for_service()
    assert gc.get_freeze_count() > 1000  # this process's modules and objects
    assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD > 700
