"""The key store's contract: what it does, the sealed layout, and its errors (see the package)."""

from __future__ import annotations

from typing import Protocol, TypeVar

SEALED_VERSION = b"\x02"
LEGACY_VERSION = b"\x01"  # sealed under a key kept in PostgreSQL before the key store
IV_BYTES = 12  # 96 bits: GCM's native IV length
TAG_BYTES = 16
KEY_BITS = 256
_MIN_SEALED = len(SEALED_VERSION) + IV_BYTES + TAG_BYTES
_MAX_REF_CHARS = 128
_KEY_CACHE_SIZE = 100_000

T = TypeVar("T")


class KeyStoreError(Exception):
    """Base class of everything the key store raises."""


class KeyDestroyed(KeyStoreError):
    """No key exists for this officer: erased, or never created."""


class KeyExists(KeyStoreError):
    """`create_key` for an officer who already has a key."""


class Unreadable(KeyStoreError):
    """Not sealed under this officer's key with this associated data, or tampered with."""


class KeyStoreUnavailable(KeyStoreError):
    """The token cannot be opened or used (module, token label, PIN, or the device itself)."""


class KeyStore(Protocol):
    def create_key(self, officer_ref: str) -> None:
        """A new AES-256 key for the officer, generated inside the store; KeyExists if one is."""
        ...

    def seal(self, officer_ref: str, plaintext: bytes, aad: bytes) -> bytes:
        """AES-GCM under the officer's key with a fresh random IV; KeyDestroyed if no key."""
        ...

    def unseal(self, officer_ref: str, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext; KeyDestroyed if no key, Unreadable if the value does not authenticate."""
        ...

    def destroy(self, officer_ref: str) -> bool:
        """Destroy the officer's key; True if one existed."""
        ...

    def exists(self, officer_ref: str) -> bool: ...


def _check_ref(officer_ref: str) -> None:
    if not officer_ref or len(officer_ref) > _MAX_REF_CHARS or not officer_ref.isprintable():
        raise ValueError("an officer ref is 1-128 printable characters")


def _split(sealed: bytes) -> tuple[bytes, bytes]:
    """(iv, ciphertext||tag) of a sealed value, or Unreadable. Version 1 (crypto.py's, under a
    key once kept in PostgreSQL and since imported onto the token) has the same layout."""
    if sealed[:1] not in (SEALED_VERSION, LEGACY_VERSION) or len(sealed) < _MIN_SEALED:
        raise Unreadable("not a sealed value of a known version")
    return sealed[1 : 1 + IV_BYTES], sealed[1 + IV_BYTES :]
