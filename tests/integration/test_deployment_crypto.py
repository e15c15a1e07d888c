"""Officers' personal data sealed per officer (`services.deployment.crypto`) on a real SoftHSM2
token: readable with the officer's key only, never again once it is destroyed; and values sealed
before the key store (version 1, the key then kept in PostgreSQL) still open once the key is
imported, as migration 0003 does."""

from __future__ import annotations

import base64
import os
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.deployment import crypto
from services.deployment.keystore import KeyExists, Pkcs11KeyStore

SECRET = b'{"name": "Jo Smith"}'


@pytest.fixture
def keys(officer_keys: Pkcs11KeyStore) -> Pkcs11KeyStore:
    return officer_keys


def officer(keys: Pkcs11KeyStore) -> str:
    ref = "OFF-" + uuid.uuid4().hex[:10].upper()
    keys.create_key(ref)
    return ref


def test_a_sealed_value_opens_with_the_officers_key_only(keys: Pkcs11KeyStore) -> None:
    a, b = officer(keys), officer(keys)
    sealed = crypto.seal(keys, a, SECRET)
    assert b"Jo Smith" not in base64.b64decode(sealed)
    assert crypto.unseal(keys, a, sealed) == SECRET
    assert crypto.seal(keys, a, SECRET) != sealed  # a fresh IV each time
    with pytest.raises(crypto.Unreadable):  # not passed off as another officer's
        crypto.unseal(keys, b, sealed)


@pytest.mark.parametrize("token", ["not base64!", base64.b64encode(b"\x02" + bytes(40)).decode()])
def test_garbage_is_unreadable(keys: Pkcs11KeyStore, token: str) -> None:
    with pytest.raises(crypto.Unreadable):
        crypto.unseal(keys, officer(keys), token)


def test_after_the_key_is_destroyed_nothing_seals_or_opens(keys: Pkcs11KeyStore) -> None:
    ref = officer(keys)
    sealed = crypto.seal(keys, ref, SECRET)
    assert keys.destroy(ref) is True
    with pytest.raises(crypto.KeyDestroyed):
        crypto.unseal(keys, ref, sealed)
    with pytest.raises(crypto.KeyDestroyed):
        crypto.seal(keys, ref, SECRET)


def test_a_legacy_value_opens_once_its_key_is_imported(keys: Pkcs11KeyStore) -> None:
    ref = "OFF-" + uuid.uuid4().hex[:10].upper()
    legacy_key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
    aad = b"jiph:officer-personal-data:" + ref.encode()
    legacy = base64.b64encode(b"\x01" + nonce + AESGCM(legacy_key).encrypt(nonce, SECRET, aad))
    keys.import_key(ref, legacy_key)
    with pytest.raises(KeyExists):
        keys.import_key(ref, legacy_key)
    assert crypto.unseal(keys, ref, legacy.decode()) == SECRET
    assert keys.destroy(ref) is True
    with pytest.raises(crypto.KeyDestroyed):
        crypto.unseal(keys, ref, legacy.decode())
