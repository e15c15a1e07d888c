"""The delivery attempt itself, on real sockets: every destination inside the hub is refused at
send time too (a name may resolve elsewhere than when it was registered), before any
connection; an allow-listed one is reached at the address that was checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.intake.webhooks.addresses import AddressPolicy
from services.intake.webhooks.sender import new_client, send
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.integration


@pytest.fixture
def trap() -> Iterator[tuple[Receiver, Receiver]]:
    v4 = Receiver().start()
    v6 = Receiver(host="::1", port=v4.port).start()
    yield v4, v6
    v4.stop()
    v6.stop()


@pytest.mark.parametrize(
    "where",
    [
        "http://127.0.0.1:{port}/",
        "http://[::1]:{port}/",
        "http://localhost:{port}/",
        "http://10.0.0.1:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433:{port}/",  # 127.0.0.1 as one number
    ],
)
async def test_an_inside_address_is_refused_before_connecting(
    trap: tuple[Receiver, Receiver], where: str
) -> None:
    # Another port of loopback is allow-listed: only that exact destination may pass.
    policy = AddressPolicy.from_settings([f"127.0.0.1:{trap[0].port + 1}"])
    async with new_client(2.0) as client:
        outcome = await send(client, policy, where.format(port=trap[0].port), {}, "{}")
    assert not outcome.delivered and outcome.status_code is None
    assert outcome.error is not None and outcome.error.startswith("refused:")
    assert trap[0].received == [] and trap[1].received == []


async def test_an_allow_listed_name_is_reached_at_the_checked_address() -> None:
    receiver = Receiver().start()
    try:
        policy = AddressPolicy.from_settings([f"127.0.0.1:{receiver.port}"])
        async with new_client(2.0) as client:
            outcome = await send(
                client, policy, f"http://localhost:{receiver.port}/ok", {"webhook-id": "m"}, "{}"
            )
            redirected = await send(
                client, policy, f"http://127.0.0.1:{receiver.port}/redirect", {}, "{}"
            )
    finally:
        receiver.stop()
    assert outcome.delivered and outcome.status_code == 204
    assert receiver.received[0].headers["host"] == f"localhost:{receiver.port}"
    assert not redirected.delivered and redirected.status_code == 302
    assert "not followed" in (redirected.error or "")
    assert [r.path for r in receiver.received] == ["/ok", "/redirect"]
