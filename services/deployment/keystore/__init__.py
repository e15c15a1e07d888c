"""Per-officer data keys that live in a key store outside the database, and can be destroyed.

Each officer has one AES-256 key, generated *inside* a PKCS#11 token (SoftHSM2 locally, an HSM
in production), labelled with the officer's ref, and never leaving it: the key is a token object
marked sensitive and non-extractable, so no call returns its value. Sealing and unsealing are
AES-GCM operations the token performs; the service only ever sees plaintext, associated data and
the sealed bytes. Erasure is `destroy` (C_DestroyObject): afterwards no copy of the key exists
anywhere the service, PostgreSQL or Kafka ever wrote, so every sealed value is noise.

The sealed layout (version 2; crypto.py's version 1 kept the key in PostgreSQL):

    b"\\x02" | 12-byte random IV | ciphertext | 16-byte GCM tag

The associated data is the caller's: bind in whatever the value must not be detached from (the
officer's ref, the field name). The version byte is not authenticated; changing it only turns
the value into one of an unknown version.

`InMemoryKeyStore` exists for unit tests of domain logic only. It keeps raw keys in process
memory and is not the product: nothing outside the tests may construct it.
"""

from services.deployment.keystore.base import (
    IV_BYTES,
    KEY_BITS,
    LEGACY_VERSION,
    SEALED_VERSION,
    TAG_BYTES,
    KeyDestroyed,
    KeyExists,
    KeyStore,
    KeyStoreError,
    KeyStoreUnavailable,
    Unreadable,
)
from services.deployment.keystore.memory import InMemoryKeyStore
from services.deployment.keystore.pkcs11_store import (
    Pkcs11Config,
    Pkcs11KeyStore,
    keystore_from_env,
)

__all__ = [
    "IV_BYTES",
    "KEY_BITS",
    "LEGACY_VERSION",
    "SEALED_VERSION",
    "TAG_BYTES",
    "InMemoryKeyStore",
    "KeyDestroyed",
    "KeyExists",
    "KeyStore",
    "KeyStoreError",
    "KeyStoreUnavailable",
    "Pkcs11Config",
    "Pkcs11KeyStore",
    "Unreadable",
    "keystore_from_env",
]
