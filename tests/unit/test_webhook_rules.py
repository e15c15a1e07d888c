"""The pure rules of webhooks: which addresses are inside the hub, how URLs are read, the
retry schedule."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from services.intake.webhooks.addresses import (
    AddressRefused,
    forbidden_reason,
    parse_allow_list,
    split_url,
)
from shared.retry import RetrySchedule


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "metadata"),
        ("100.64.0.1", "public"),  # carrier-grade NAT: not public
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address judged, not bound)
        ("224.0.0.1", "multicast"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped
        ("240.0.0.1", "reserved"),
    ],
)
def test_inside_addresses_are_forbidden(address: str, reason: str) -> None:
    found = forbidden_reason(ipaddress.ip_address(address))
    assert found is not None and reason.split()[0] in found


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "151.101.0.1"])
def test_public_addresses_pass(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.org/", "https"),
        ("http://example.org/", "https"),
        ("https://user:pw@example.org/", "user name"),
        ("https://example.org/#x", "fragment"),
        ("https://example.org:99999/", "not a URL"),
        ("https:///nohost", "https"),
        ("https://example.org/" + "a" * 2000, "longer"),
    ],
)
def test_urls_that_are_not_webhook_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(AddressRefused, match=why):
        split_url(url, allow_http=False)


def test_a_url_is_read_into_its_parts() -> None:
    assert split_url("https://Hooks.Example.org/a/b?c=1", allow_http=False) == (
        "https",
        "hooks.example.org",
        443,
        "/a/b?c=1",
    )
    assert split_url("http://[::1]:8080", allow_http=True)[1:3] == ("::1", 8080)


def test_the_allow_list_names_exact_destinations() -> None:
    allowed = parse_allow_list(["127.0.0.1:8070", "[::1]:8070"])
    assert allowed == {
        (ipaddress.ip_address("127.0.0.1"), 8070),
        (ipaddress.ip_address("::1"), 8070),
    }
    with pytest.raises(ValueError, match="ip:port"):
        parse_allow_list(["127.0.0.1"])


def test_backoff_doubles_up_to_its_cap_then_the_delivery_is_dead() -> None:
    schedule = RetrySchedule(max_attempts=5, base_s=5, cap_s=30)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert [schedule.delay_after(n).total_seconds() for n in range(1, 5)] == [5, 10, 20, 30]
    assert schedule.after_failure(4, now) == now + timedelta(seconds=30)
    assert schedule.after_failure(5, now) is None
    assert RetrySchedule(50, 5, 60).delay_after(10**6) == timedelta(seconds=60)
