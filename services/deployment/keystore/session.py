"""One logged-in PKCS#11 session per token and process, every call under the module's lock."""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Lib


from services.deployment.keystore.base import (
    _KEY_CACHE_SIZE,
    TAG_BYTES,
    KeyDestroyed,
    KeyStoreError,
    KeyStoreUnavailable,
    T,
)

# --- PKCS#11 -------------------------------------------------------------------------------------
#
# Threads. python-pkcs11 calls C_Initialize(NULL), and a NULL argument tells the module that the
# application will not call it from several threads at once: SoftHSM2 then switches its internal
# mutexes off (SoftHSM::C_Initialize, "No concurrent access by multiple threads"). Python-pkcs11
# releases the GIL during every call, so two threads with a session each would run inside SoftHSM2
# concurrently with no locking at all. Hence one lock per loaded module, held around every call
# into it, shared by every key store of the process. Token operations on small values take tens of
# microseconds, so the lock costs the service nothing it would notice.
#
# Sessions. Login state in PKCS#11 belongs to the application, not the session, and closing a
# logged-in session through python-pkcs11 logs the whole application out. So each process has one
# logged-in read/write session per (module, token), shared by the key stores opened on that token
# and closed when the last of them is.


_SESSION_LOST: tuple[type[Exception], ...] = (
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.DeviceRemoved,
    p11e.DeviceError,
    p11e.TokenNotPresent,
    p11e.TokenNotRecognised,
    p11e.UserNotLoggedIn,
)
_STALE_HANDLE: tuple[type[Exception], ...] = (p11e.ObjectHandleInvalid, p11e.KeyHandleInvalid)
# SoftHSM2 2.6 reports a GCM tag mismatch as CKR_GENERAL_ERROR; the standard code is
# CKR_ENCRYPTED_DATA_INVALID. Both (and length errors) mean "does not authenticate".
_NOT_AUTHENTIC: tuple[type[Exception], ...] = (
    p11e.GeneralError,
    p11e.EncryptedDataInvalid,
    p11e.EncryptedDataLenRange,
    p11e.DataLenRange,
    p11e.FunctionFailed,
)

_registry_lock = threading.Lock()

#: Every officer's key on the token. PRIVATE: readable only after login, and SoftHSM2 stores the
#: object's attributes (the key value included) encrypted under the token's key; SENSITIVE and
#: not EXTRACTABLE: no call returns the value; DESTROYABLE: erasure can remove it.
_KEY_PROTECTION: Mapping[Attribute, bool] = {
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.MODIFIABLE: False,
    Attribute.COPYABLE: False,
    Attribute.DESTROYABLE: True,
}


@dataclass
class _Module:
    lib: Pkcs11Lib
    path: str
    conf: str | None  # SOFTHSM2_CONF when the module was initialised
    lock: threading.RLock
    open_tokens: int = 0


_modules: dict[str, _Module] = {}
_tokens: dict[tuple[str, str], _TokenSession] = {}


def _load_module(path: str, softhsm2_conf: str | None) -> _Module:
    """The process's handle on one PKCS#11 module. Caller holds _registry_lock."""
    conf = os.environ.get("SOFTHSM2_CONF") if softhsm2_conf is None else softhsm2_conf
    module = _modules.get(path)
    if module is not None and module.conf != conf and module.open_tokens:
        # SoftHSM2 reads its configuration once, in C_Initialize.
        raise KeyStoreUnavailable(
            f"{path} is already in use in this process with SOFTHSM2_CONF={module.conf}"
        )
    if softhsm2_conf is not None:
        os.environ["SOFTHSM2_CONF"] = softhsm2_conf
    if module is not None and module.conf != conf:
        try:
            with module.lock:
                module.lib.reinitialize()
        except p11e.PKCS11Error as exc:
            del _modules[path]  # pkcs11.lib() initialises it again next time
            raise KeyStoreUnavailable(
                f"cannot initialise {path} with SOFTHSM2_CONF={conf}"
            ) from exc
        module.conf = conf
    if module is None:
        if not Path(path).is_file():
            raise KeyStoreUnavailable(f"no PKCS#11 module at {path}")
        try:
            lib = pkcs11.lib(path)
        except (OSError, RuntimeError) as exc:
            raise KeyStoreUnavailable(
                f"cannot load PKCS#11 module {path} (SOFTHSM2_CONF={conf}): {exc}"
            ) from exc
        module = _modules[path] = _Module(lib=lib, path=path, conf=conf, lock=threading.RLock())
    return module


class _TokenSession:
    """One logged-in R/W session on one token, for the whole process; every call under the
    module's lock. Keeps a bounded map officer ref -> key object, re-checked on every use."""

    def __init__(self, module: _Module, token_label: str, pin: str) -> None:
        self.module = module
        self.token_label = token_label
        self.pin = pin
        self.users = 0
        self.session: pkcs11.Session | None = None
        self.keys: OrderedDict[str, pkcs11.SecretKey] = OrderedDict()
        self.indexed = False
        self.lock = module.lock
        with self.lock:
            self._open()

    def _open(self) -> None:
        self.keys.clear()
        self.indexed = False
        try:
            token = self.module.lib.get_token(token_label=self.token_label)
            mechanisms = token.slot.get_mechanisms()
            if Mechanism.AES_GCM not in mechanisms or Mechanism.AES_KEY_GEN not in mechanisms:
                raise KeyStoreUnavailable(f"token {self.token_label!r} has no AES-GCM")
            self.session = token.open(rw=True, user_pin=self.pin)
        except p11e.NoSuchToken as exc:
            raise KeyStoreUnavailable(f"no token labelled {self.token_label!r}") from exc
        except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange, p11e.PinLocked) as exc:
            raise KeyStoreUnavailable(f"token {self.token_label!r} refused the PIN") from exc
        except p11e.PKCS11Error as exc:
            raise KeyStoreUnavailable(
                f"cannot open token {self.token_label!r}: {type(exc).__name__}"
            ) from exc

    def close(self) -> None:
        with self.lock:
            session, self.session = self.session, None
            self.keys.clear()
            if session is not None:
                with contextlib.suppress(p11e.PKCS11Error):
                    session.close()

    def call(self, operation: Callable[[pkcs11.Session], T]) -> T:
        """Run `operation` on the session; a lost session is reopened once."""
        with self.lock:
            for attempt in range(2):
                if self.session is None:
                    self._open()
                assert self.session is not None
                try:
                    return operation(self.session)
                except _SESSION_LOST as exc:
                    self.session = None
                    if attempt:
                        raise KeyStoreUnavailable(f"token lost: {type(exc).__name__}") from exc
                except p11e.PKCS11Error as exc:
                    raise KeyStoreUnavailable(f"token error: {type(exc).__name__}") from exc
            raise AssertionError("unreachable")

    # The following run inside call(), under the lock.
    #
    # Finding a key by label costs SoftHSM2's file backend a decryption of every object's label
    # (private objects' attributes are stored encrypted): about 20 us per key on the token, for
    # every search. So the first miss indexes the whole token once (label -> key object), and a
    # found key is used again without a search, after a cheap check that its handle still names
    # it. A miss after that (a key another process made since) is a search of its own.

    def _cached(self, officer_ref: str) -> pkcs11.SecretKey | None:
        cached = self.keys.get(officer_ref)
        if cached is None:
            return None
        try:
            # A handle whose object another process destroyed is invalid here as well:
            # SoftHSM2 re-reads the token directory when its generation file changes.
            if cached[Attribute.LABEL] == officer_ref:
                self.keys.move_to_end(officer_ref)
                return cached
        except _STALE_HANDLE:
            pass
        del self.keys[officer_ref]
        return None

    def remember(self, officer_ref: str, key: pkcs11.SecretKey) -> None:
        self.keys[officer_ref] = key
        while len(self.keys) > _KEY_CACHE_SIZE:
            self.keys.popitem(last=False)

    def _search(self, session: pkcs11.Session, label: str | None) -> list[pkcs11.SecretKey]:
        template: dict[Attribute, Any] = {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.KEY_TYPE: KeyType.AES,
            Attribute.TOKEN: True,
        }
        if label is not None:
            template[Attribute.LABEL] = label
        found = list(session.get_objects(template))  # the whole search before any other call
        return [key for key in found if isinstance(key, pkcs11.SecretKey)]

    def _index(self, session: pkcs11.Session) -> None:
        by_label: dict[str, list[pkcs11.SecretKey]] = {}
        for key in self._search(session, None):
            try:
                by_label.setdefault(key[Attribute.LABEL], []).append(key)
            except _STALE_HANDLE:
                continue
        for label, keys in by_label.items():
            if len(keys) == 1:
                self.remember(label, keys[0])
        self.indexed = True

    def find(
        self, session: pkcs11.Session, officer_ref: str, *, fresh: bool = False
    ) -> list[pkcs11.SecretKey]:
        """The officer's keys on the token (one, or none; more only if something went wrong).
        `fresh` searches the token, whatever is cached."""
        if not fresh:
            if not self.indexed:
                self._index(session)
            cached = self._cached(officer_ref)
            if cached is not None:
                return [cached]
        self.keys.pop(officer_ref, None)
        found = self._search(session, officer_ref)
        if len(found) == 1:
            self.remember(officer_ref, found[0])
        return found

    def only_key(self, session: pkcs11.Session, officer_ref: str) -> pkcs11.SecretKey:
        found = self.find(session, officer_ref)
        if not found:
            raise KeyDestroyed(officer_ref)
        if len(found) > 1:
            raise KeyStoreError(f"{len(found)} keys labelled {officer_ref!r}; refusing to use any")
        return found[0]


def _gcm(iv: bytes, aad: bytes) -> pkcs11.GCMParams:
    return pkcs11.GCMParams(iv, aad, TAG_BYTES * 8)


def _as_bytes(out: bytes | Iterator[bytes]) -> bytes:
    return out if isinstance(out, bytes) else b"".join(out)
