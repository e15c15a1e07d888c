"""Officers' personal data, sealed with AES-256-GCM under a key of their own that lives in the
key store (`keystore`: a PKCS#11 token), never in PostgreSQL or Kafka.

The sealed form (base64 of the key store's layout) is what travels in
`CapabilityOffered.personal_data` and what the event store, the topics and the projection keep.
Erasure destroys the officer's key on the token (crypto-shredding): every copy, wherever it is,
becomes noise without any history being rewritten. The officer's ref is bound in as associated
data, so a sealed value cannot be passed off as another officer's.
"""

from __future__ import annotations

import base64
import binascii

from services.deployment.keystore import KeyDestroyed, KeyStore, Unreadable

__all__ = ["KeyDestroyed", "Unreadable", "seal", "unseal"]


def _aad(officer_ref: str) -> bytes:
    return b"jiph:officer-personal-data:" + officer_ref.encode()


def seal(keys: KeyStore, officer_ref: str, plaintext: bytes) -> str:
    """KeyDestroyed if the officer has no key (erased)."""
    return base64.b64encode(keys.seal(officer_ref, plaintext, _aad(officer_ref))).decode()


def unseal(keys: KeyStore, officer_ref: str, token: str) -> bytes:
    """KeyDestroyed once the officer is erased; Unreadable for a value not sealed for them."""
    try:
        raw = base64.b64decode(token, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise Unreadable("not a sealed value") from exc
    return keys.unseal(officer_ref, raw, _aad(officer_ref))
