"""Officers' keys as AES-256 secret-key objects on a PKCS#11 token, and its configuration."""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.types import DecryptMixin, EncryptMixin

if TYPE_CHECKING:
    pass


from services.deployment.keystore.base import (
    IV_BYTES,
    KEY_BITS,
    SEALED_VERSION,
    KeyDestroyed,
    KeyExists,
    KeyStore,
    KeyStoreError,
    KeyStoreUnavailable,
    Unreadable,
    _check_ref,
    _split,
)
from services.deployment.keystore.session import (
    _KEY_PROTECTION,
    _NOT_AUTHENTIC,
    _STALE_HANDLE,
    _as_bytes,
    _gcm,
    _load_module,
    _registry_lock,
    _tokens,
    _TokenSession,
)


class Pkcs11KeyStore(KeyStore):
    """Officers' keys as AES-256 secret-key objects on a PKCS#11 token.

    `module` is the PKCS#11 library (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so), `token_label`
    the token's label and `pin` its user PIN. SoftHSM2 finds its tokens through the file that
    SOFTHSM2_CONF names, read once per process when the module is initialised; pass
    `softhsm2_conf` to set it here (tests), or leave it to the environment (services).

    Safe to call from any number of threads: see the note on threads above. Open it in the
    process that uses it, not before a fork. `create_key`'s check for an existing key is atomic
    within a process, not across processes: the caller makes officer refs unique (the officers
    table's primary key does), so two processes never create a key for the same officer.
    """

    def __init__(
        self,
        module: str | Path,
        token_label: str,
        pin: str,
        *,
        softhsm2_conf: str | Path | None = None,
    ) -> None:
        if not token_label or not pin:
            raise KeyStoreUnavailable("a PKCS#11 key store needs a token label and a PIN")
        path = str(Path(module).resolve())
        conf = None if softhsm2_conf is None else str(softhsm2_conf)
        with _registry_lock:
            shared = _tokens.get((path, token_label))
            if shared is None:
                loaded = _load_module(path, conf)
                shared = _TokenSession(loaded, token_label, pin)
                _tokens[(path, token_label)] = shared
                loaded.open_tokens += 1
            elif not hmac.compare_digest(shared.pin.encode(), pin.encode()):
                raise KeyStoreUnavailable(f"token {token_label!r} is open here with another PIN")
            elif conf is not None and shared.module.conf != conf:
                raise KeyStoreUnavailable(
                    f"token {token_label!r} is open here with SOFTHSM2_CONF={shared.module.conf}"
                )
            shared.users += 1
        self._shared: _TokenSession | None = shared
        self._key = (path, token_label)

    def __enter__(self) -> Pkcs11KeyStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Release this store; the session closes with the process's last store on the token."""
        with _registry_lock:
            shared, self._shared = self._shared, None
            if shared is None:
                return
            shared.users -= 1
            if shared.users == 0:
                shared.close()
                del _tokens[self._key]
                shared.module.open_tokens -= 1

    @property
    def _token(self) -> _TokenSession:
        if self._shared is None:
            raise KeyStoreUnavailable("this key store is closed")
        return self._shared

    def create_key(self, officer_ref: str) -> None:
        _check_ref(officer_ref)
        shared = self._token

        def create(session: pkcs11.Session) -> None:
            if shared.find(session, officer_ref, fresh=True):
                raise KeyExists(officer_ref)
            key = session.generate_key(
                KeyType.AES,
                KEY_BITS,
                label=officer_ref,
                store=True,
                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                template=dict(_KEY_PROTECTION),
            )
            shared.remember(officer_ref, key)

        shared.call(create)

    def import_key(self, officer_ref: str, value: bytes) -> None:
        """Put an existing AES-256 key onto the token, with the same attributes as a generated
        one (sensitive, non-extractable): for keys that were kept in PostgreSQL before the key
        store existed (migration 0003). KeyExists if the officer has a key already."""
        _check_ref(officer_ref)
        if len(value) != KEY_BITS // 8:
            raise ValueError("an officer's key is 32 bytes")
        shared = self._token

        def store(session: pkcs11.Session) -> None:
            if shared.find(session, officer_ref, fresh=True):
                raise KeyExists(officer_ref)
            key = session.create_object(
                {
                    Attribute.CLASS: ObjectClass.SECRET_KEY,
                    Attribute.KEY_TYPE: KeyType.AES,
                    Attribute.VALUE: value,
                    Attribute.LABEL: officer_ref,
                    Attribute.TOKEN: True,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                    **_KEY_PROTECTION,
                }
            )
            assert isinstance(key, pkcs11.SecretKey)
            shared.remember(officer_ref, key)

        shared.call(store)

    def seal(self, officer_ref: str, plaintext: bytes, aad: bytes) -> bytes:
        _check_ref(officer_ref)
        shared = self._token
        iv = os.urandom(IV_BYTES)

        def seal(session: pkcs11.Session) -> bytes:
            key = shared.only_key(session, officer_ref)
            assert isinstance(key, EncryptMixin)
            try:
                out = key.encrypt(
                    plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=_gcm(iv, aad)
                )
            except _STALE_HANDLE as exc:  # destroyed between the look-up and the call
                shared.keys.pop(officer_ref, None)
                raise KeyDestroyed(officer_ref) from exc
            return _as_bytes(out)

        return SEALED_VERSION + iv + shared.call(seal)

    def unseal(self, officer_ref: str, sealed: bytes, aad: bytes) -> bytes:
        _check_ref(officer_ref)
        iv, body = _split(sealed)
        shared = self._token

        def unseal(session: pkcs11.Session) -> bytes:
            key = shared.only_key(session, officer_ref)
            assert isinstance(key, DecryptMixin)
            try:
                out = key.decrypt(body, mechanism=Mechanism.AES_GCM, mechanism_param=_gcm(iv, aad))
            except _STALE_HANDLE as exc:
                shared.keys.pop(officer_ref, None)
                raise KeyDestroyed(officer_ref) from exc
            except _NOT_AUTHENTIC as exc:
                raise Unreadable("wrong key, associated data or sealed value") from exc
            return _as_bytes(out)

        return shared.call(unseal)

    def destroy(self, officer_ref: str) -> bool:
        _check_ref(officer_ref)
        shared = self._token

        def destroy(session: pkcs11.Session) -> bool:
            destroyed = False
            for _ in range(3):  # a fresh search each round, never the cache: erase every copy
                found = shared.find(session, officer_ref, fresh=True)
                shared.keys.pop(officer_ref, None)
                if not found:
                    return destroyed
                for key in found:
                    try:
                        key.destroy()
                        destroyed = True
                    except _STALE_HANDLE:  # another process destroyed it first
                        pass
            raise KeyStoreError(f"the key of {officer_ref!r} is still on the token")

        return shared.call(destroy)

    def exists(self, officer_ref: str) -> bool:
        _check_ref(officer_ref)
        shared = self._token
        return shared.call(lambda session: bool(shared.find(session, officer_ref)))


# --- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pkcs11Config:
    module: str
    token_label: str
    pin: str = field(repr=False)

    @classmethod
    def from_env(cls, prefix: str, environ: Mapping[str, str] | None = None) -> Pkcs11Config:
        """`<prefix>PKCS11_MODULE`, `<prefix>PKCS11_TOKEN_LABEL`, and `<prefix>PKCS11_PIN` or
        `<prefix>PKCS11_PIN_FILE` (the file's first line). `prefix` is e.g. `JIPH_DEPLOYMENT`."""
        env = os.environ if environ is None else environ
        p = prefix.rstrip("_") + "_PKCS11_"
        module, label = env.get(p + "MODULE"), env.get(p + "TOKEN_LABEL")
        pin, pin_file = env.get(p + "PIN"), env.get(p + "PIN_FILE")
        missing = [p + name for name, v in (("MODULE", module), ("TOKEN_LABEL", label)) if not v]
        if missing:
            raise KeyStoreUnavailable(f"{' and '.join(missing)} not set")
        if bool(pin) == bool(pin_file):
            raise KeyStoreUnavailable(f"set exactly one of {p}PIN and {p}PIN_FILE")
        if pin_file:
            try:
                pin = Path(pin_file).read_text().splitlines()[0].strip()
            except (OSError, IndexError) as exc:
                raise KeyStoreUnavailable(f"cannot read the PIN from {pin_file}") from exc
        assert module and label and pin
        return cls(module=module, token_label=label, pin=pin)


def keystore_from_env(
    prefix: str = "JIPH_DEPLOYMENT", environ: Mapping[str, str] | None = None
) -> Pkcs11KeyStore:
    """The service's key store, from `<prefix>_PKCS11_*` (see Pkcs11Config.from_env); SoftHSM2
    reads SOFTHSM2_CONF from the environment itself. Raises KeyStoreUnavailable."""
    cfg = Pkcs11Config.from_env(prefix, environ)
    return Pkcs11KeyStore(cfg.module, cfg.token_label, cfg.pin)
