"""A key store in process memory: for unit tests of domain logic only."""

from __future__ import annotations

import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.deployment.keystore.base import (
    IV_BYTES,
    KEY_BITS,
    SEALED_VERSION,
    KeyDestroyed,
    KeyExists,
    KeyStore,
    Unreadable,
    _check_ref,
    _split,
)

# --- tests only ----------------------------------------------------------------------------------


class InMemoryKeyStore(KeyStore):
    """FOR UNIT TESTS OF DOMAIN LOGIC ONLY: raw keys in a dict in process memory, gone with the
    process, shared with nobody. Same sealed layout and errors as Pkcs11KeyStore. Not the
    product: it offers none of the guarantees this module exists for."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _key(self, officer_ref: str) -> bytes:
        _check_ref(officer_ref)
        with self._lock:
            key = self._keys.get(officer_ref)
        if key is None:
            raise KeyDestroyed(officer_ref)
        return key

    def create_key(self, officer_ref: str) -> None:
        _check_ref(officer_ref)
        with self._lock:
            if officer_ref in self._keys:
                raise KeyExists(officer_ref)
            self._keys[officer_ref] = AESGCM.generate_key(bit_length=KEY_BITS)

    def seal(self, officer_ref: str, plaintext: bytes, aad: bytes) -> bytes:
        iv = os.urandom(IV_BYTES)
        return SEALED_VERSION + iv + AESGCM(self._key(officer_ref)).encrypt(iv, plaintext, aad)

    def unseal(self, officer_ref: str, sealed: bytes, aad: bytes) -> bytes:
        iv, body = _split(sealed)
        try:
            return AESGCM(self._key(officer_ref)).decrypt(iv, body, aad)
        except InvalidTag as exc:
            raise Unreadable("wrong key, associated data or sealed value") from exc

    def destroy(self, officer_ref: str) -> bool:
        _check_ref(officer_ref)
        with self._lock:
            return self._keys.pop(officer_ref, None) is not None

    def exists(self, officer_ref: str) -> bool:
        _check_ref(officer_ref)
        with self._lock:
            return officer_ref in self._keys
