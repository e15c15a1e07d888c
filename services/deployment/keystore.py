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

from __future__ import annotations

import contextlib
import hmac
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pkcs11
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11.types import DecryptMixin, EncryptMixin

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Lib

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
