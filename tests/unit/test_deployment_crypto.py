"""Officers' personal data sealed per officer: readable with the officer's key only."""

from __future__ import annotations

import base64

import pytest

from services.deployment import crypto

SECRET = b'{"name": "Jo Smith"}'


def test_a_sealed_value_opens_with_the_officers_key() -> None:
    key = crypto.new_key()
    sealed = crypto.seal(key, "OFF-A", SECRET)
    assert b"Jo Smith" not in base64.b64decode(sealed)
    assert crypto.unseal(key, "OFF-A", sealed) == SECRET


def test_sealing_twice_gives_different_ciphertexts() -> None:
    key = crypto.new_key()
    assert crypto.seal(key, "OFF-A", SECRET) != crypto.seal(key, "OFF-A", SECRET)


def test_another_key_cannot_open_it() -> None:
    sealed = crypto.seal(crypto.new_key(), "OFF-A", SECRET)
    with pytest.raises(crypto.Unreadable):
        crypto.unseal(crypto.new_key(), "OFF-A", sealed)


def test_it_cannot_be_passed_off_as_another_officers() -> None:
    key = crypto.new_key()
    with pytest.raises(crypto.Unreadable):
        crypto.unseal(key, "OFF-B", crypto.seal(key, "OFF-A", SECRET))


@pytest.mark.parametrize("token", ["not base64!", base64.b64encode(b"\x02" + bytes(40)).decode()])
def test_garbage_is_unreadable(token: str) -> None:
    with pytest.raises(crypto.Unreadable):
        crypto.unseal(crypto.new_key(), "OFF-A", token)
