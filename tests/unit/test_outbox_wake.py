"""`OutboxWake`'s logic, with a test double of the NOTIFY it sends (the real one, through
PostgreSQL, is in tests/integration/test_outbox_wake.py): the active relay of this process is
woken directly; otherwise NOTIFYs are coalesced, and a failing one never reaches the caller."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.outbox import OutboxRelay, OutboxWake


class GatedNotify:
    """A NOTIFY that takes as long as the test says: each call waits for `release`."""

    def __init__(self, fail: bool = False) -> None:
        self.started = 0
        self.finished = 0
        self.fail = fail
        self.gate = asyncio.Event()

    async def __call__(self) -> None:
        self.started += 1
        await self.gate.wait()
        self.gate.clear()
        self.finished += 1
        if self.fail:
            raise ConnectionRefusedError("the database is away")

    async def release(self) -> None:
        """Let the NOTIFY in flight finish, and the wake's task move on."""
        self.gate.set()
        for _ in range(5):
            await asyncio.sleep(0)


class FakeRelay:
    def __init__(self, active: bool) -> None:
        self.active = active
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


def wake_with(notify: Any, relay: FakeRelay | None = None) -> OutboxWake:
    wake = OutboxWake(cast(AsyncEngine, None), notify=notify)
    wake.relay = cast(OutboxRelay, relay)
    return wake


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_commits_while_a_notify_is_in_flight_cause_exactly_one_more() -> None:
    notify = GatedNotify()
    wake = wake_with(notify, FakeRelay(active=False))
    wake.after_commit()
    await settle()
    assert notify.started == 1
    for _ in range(50):
        wake.after_commit()
    await settle()
    assert notify.started == 1  # still the first one in flight
    await notify.release()
    assert notify.finished == 1 and notify.started == 2  # the fifty made one more
    await notify.release()
    assert notify.finished == 2 and notify.started == 2  # and no third
    assert wake.notified == 2
    wake.after_commit()  # a later commit sends again
    await settle()
    assert notify.started == 3
    await notify.release()
    await wake.close()


async def test_the_active_relay_of_this_process_is_woken_without_a_notify() -> None:
    notify = GatedNotify()
    relay = FakeRelay(active=True)
    wake = wake_with(notify, relay)
    for _ in range(3):
        wake.after_commit()
    await settle()
    assert relay.woken == 3 and notify.started == 0


async def test_a_process_whose_relay_has_not_started_notifies_the_others() -> None:
    notify = GatedNotify()
    wake = wake_with(notify)  # the relay starts once Kafka answers
    wake.after_commit()
    await settle()
    assert notify.started == 1
    await notify.release()
    await wake.close()


async def test_a_failing_notify_never_reaches_the_committer_and_the_next_commit_tries_again() -> (
    None
):
    notify = GatedNotify(fail=True)
    wake = wake_with(notify, FakeRelay(active=False))
    wake.after_commit()
    await settle()
    wake.after_commit()  # during the failing one
    await notify.release()
    await notify.release()
    assert notify.finished == 2 and wake.notified == 0
    wake.after_commit()
    await settle()
    assert notify.started == 3
    await notify.release()
    await wake.close()


def test_a_commit_outside_an_event_loop_does_not_raise() -> None:
    wake = wake_with(GatedNotify(), FakeRelay(active=False))
    wake.after_commit()  # nothing to run a NOTIFY on: the relay's poll will do
