"""Officers' personal data, sealed with AES-256-GCM under a key of their own.

The sealed form is what travels in `CapabilityOffered.personal_data` and what the event store,
the topics and the projection keep. Erasure deletes the officer's key (crypto-shredding): every
copy, wherever it is, becomes noise without any history being rewritten. The officer's ref is
bound in as associated data, so a sealed value cannot be passed off as another officer's.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_FORMAT = b"\x01"  # version of the sealed layout: format byte | 12-byte nonce | ciphertext+tag
_NONCE_BYTES = 12


class Unreadable(Exception):
    """The value was not sealed for this officer with this key (or was tampered with)."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _aad(officer_ref: str) -> bytes:
    return b"jiph:officer-personal-data:" + officer_ref.encode()


def seal(key: bytes, officer_ref: str, plaintext: bytes) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext, _aad(officer_ref))
    return base64.b64encode(_FORMAT + nonce + sealed).decode()


def unseal(key: bytes, officer_ref: str, token: str) -> bytes:
    try:
        raw = base64.b64decode(token, validate=True)
    except ValueError as exc:
        raise Unreadable("not a sealed value") from exc
    if raw[:1] != _FORMAT or len(raw) < 1 + _NONCE_BYTES + 16:
        raise Unreadable("unknown sealed format")
    nonce, sealed = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, sealed, _aad(officer_ref))
    except InvalidTag as exc:
        raise Unreadable("wrong key or officer") from exc
