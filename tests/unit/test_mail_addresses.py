"""Whom a staff e-mail goes to: the settings' named addresses first, then the organisation's
mailbox domain for a plain sign-in name; anything else is left unaddressed, never guessed."""

from __future__ import annotations

from shared.mail.outbox import MINISTERS, Addresses, staff


def test_named_addresses_come_before_the_domain() -> None:
    addresses = Addresses(("po@gov.test",), {"alice": "a.smith@hub.test"}, "hub.test")
    assert addresses.of(MINISTERS) == ["po@gov.test"]
    assert addresses.of(staff("alice")) == ["a.smith@hub.test"]
    assert addresses.of(staff("bob-7f3a.b")) == ["bob-7f3a.b@hub.test"]


def test_a_subject_that_is_no_mailbox_name_is_unaddressed() -> None:
    addresses = Addresses(staff_domain="hub.test")
    for subject in ("eve@evil.test", "a b", "x\nBcc: all@hub.test", "", "-x", "é"):
        assert addresses.of(staff(subject)) == [], subject
    assert Addresses().of(staff("alice")) == []  # no domain set: only the named ones
    assert addresses.of("alice") == []  # not a staff recipient at all
