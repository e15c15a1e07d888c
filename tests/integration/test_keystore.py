"""The per-officer key store on a real SoftHSM2 token (no Kafka, no PostgreSQL).

Each test gets a token of its own under its tmp_path, made by the same code the local stack runs
(`jiph.stack.keystore.ensure_token`). The forensic test is the one the issue asks for: after an
erasure, nothing on disk under the token's folder holds the personal data or a key that opens it.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jiph.stack.keystore import TokenConfig, ensure_token
from services.deployment.keystore import (
    IV_BYTES,
    InMemoryKeyStore,
    KeyDestroyed,
    KeyExists,
    KeyStore,
    KeyStoreError,
    KeyStoreUnavailable,
    Pkcs11KeyStore,
    Unreadable,
    keystore_from_env,
)
from tests import forensics
from tests.forensics import files_under

ROOT = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).with_name("keystore_process.py")
AAD = b"jiph:officer-personal-data:"


@pytest.fixture(autouse=True)
def _restore_softhsm2_conf() -> Iterator[None]:
    """Key stores opened with `softhsm2_conf` set SOFTHSM2_CONF for the process: put it back."""
    before = os.environ.get("SOFTHSM2_CONF")
    yield
    if before is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = before


@pytest.fixture
def token(tmp_path: Path) -> TokenConfig:
    return ensure_token(tmp_path / "state")


def open_store(token: TokenConfig) -> Pkcs11KeyStore:
    return Pkcs11KeyStore(
        token.module_path, token.token_label, token.read_pin(), softhsm2_conf=token.conf_path
    )


@pytest.fixture
def hsm(token: TokenConfig) -> Iterator[Pkcs11KeyStore]:
    store = open_store(token)
    yield store
    store.close()


@pytest.fixture(params=["pkcs11", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    """The contract both implementations keep."""
    if request.param == "memory":
        yield InMemoryKeyStore()
        return
    with open_store(ensure_token(tmp_path / "state")) as hsm:
        yield hsm


def other_process(token: TokenConfig, *ops: list[str]) -> list[Any]:
    env = {**os.environ, **token.env(), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(HELPER), json.dumps(list(ops))],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    results: list[Any] = json.loads(done.stdout)
    return results


def ref() -> str:
    return "OFF-" + uuid.uuid4().hex[:10].upper()


# --- the contract --------------------------------------------------------------------------------


def test_seal_unseal_round_trip(store: KeyStore) -> None:
    officer = ref()
    store.create_key(officer)
    assert store.exists(officer)
    for plaintext, aad in [
        (b"Jane Example", AAD + officer.encode()),
        (b"", AAD),
        (b"next of kin" * 6000, b""),
    ]:
        sealed = store.seal(officer, plaintext, aad)
        assert sealed[:1] == b"\x02"
        assert len(sealed) == 1 + IV_BYTES + len(plaintext) + 16
        assert plaintext not in sealed or not plaintext
        assert store.unseal(officer, sealed, aad) == plaintext
    # A fresh IV every time: the same value sealed twice looks different.
    one, two = (store.seal(officer, b"same", AAD) for _ in range(2))
    assert one != two and one[1 : 1 + IV_BYTES] != two[1 : 1 + IV_BYTES]


def test_wrong_aad_fails_and_the_right_one_still_works(store: KeyStore) -> None:
    officer = ref()
    store.create_key(officer)
    sealed = store.seal(officer, b"Jane Example", AAD + officer.encode())
    for wrong in (b"", AAD, AAD + b"OFF-SOMEONEELSE", AAD + officer.encode() + b"x"):
        with pytest.raises(Unreadable):
            store.unseal(officer, sealed, wrong)
    assert store.unseal(officer, sealed, AAD + officer.encode()) == b"Jane Example"


def test_any_tampered_byte_or_truncation_fails(store: KeyStore) -> None:
    officer = ref()
    store.create_key(officer)
    sealed = store.seal(officer, b"07700 900123", AAD)
    for i in range(len(sealed)):  # version byte, IV, ciphertext, tag
        tampered = bytearray(sealed)
        tampered[i] ^= 0x01
        with pytest.raises(Unreadable):
            store.unseal(officer, bytes(tampered), AAD)
    for cut in (sealed[:-1], sealed[: 1 + IV_BYTES + 15], b"", sealed + b"\x00"):
        with pytest.raises(Unreadable):
            store.unseal(officer, cut, AAD)
    assert store.unseal(officer, sealed, AAD) == b"07700 900123"


def test_another_officers_key_does_not_open_it(store: KeyStore) -> None:
    alice, bob = ref(), ref()
    store.create_key(alice)
    store.create_key(bob)
    sealed = store.seal(alice, b"Alice", AAD)
    with pytest.raises(Unreadable):
        store.unseal(bob, sealed, AAD)


def test_after_destroy_nothing_opens_and_destroy_says_so_once(store: KeyStore) -> None:
    officer = ref()
    store.create_key(officer)
    sealed = store.seal(officer, b"Jane Example", AAD)
    assert store.unseal(officer, sealed, AAD) == b"Jane Example"  # positive control

    assert store.destroy(officer) is True
    assert store.exists(officer) is False
    with pytest.raises(KeyDestroyed):
        store.unseal(officer, sealed, AAD)
    with pytest.raises(KeyDestroyed):
        store.seal(officer, b"more", AAD)
    assert store.destroy(officer) is False
    assert store.destroy(ref()) is False  # never created
    with pytest.raises(KeyDestroyed):
        store.unseal(ref(), sealed, AAD)

    # A new key under the same ref is a new key: the old values stay noise.
    store.create_key(officer)
    with pytest.raises(Unreadable):
        store.unseal(officer, sealed, AAD)


def test_create_key_refuses_a_second_key(store: KeyStore) -> None:
    officer = ref()
    store.create_key(officer)
    sealed = store.seal(officer, b"x", AAD)
    with pytest.raises(KeyExists):
        store.create_key(officer)
    assert store.unseal(officer, sealed, AAD) == b"x"  # the first key is untouched


def test_errors_are_key_store_errors(store: KeyStore) -> None:
    assert issubclass(KeyDestroyed, KeyStoreError) and issubclass(Unreadable, KeyStoreError)
    with pytest.raises(ValueError):
        store.create_key("")


# --- PKCS#11 specifics ---------------------------------------------------------------------------


def test_two_key_stores_in_one_process_share_the_token(token: TokenConfig) -> None:
    first, second = open_store(token), open_store(token)
    try:
        officer = ref()
        first.create_key(officer)
        sealed = first.seal(officer, b"Jane Example", AAD)
        assert second.unseal(officer, sealed, AAD) == b"Jane Example"
        assert second.destroy(officer)
        with pytest.raises(KeyDestroyed):
            first.unseal(officer, sealed, AAD)
        first.close()
        assert second.exists(officer) is False  # closing one leaves the other logged in
        second.create_key(officer)
    finally:
        first.close()
        second.close()


def test_another_process_sees_keys_and_erasures(token: TokenConfig, hsm: Pkcs11KeyStore) -> None:
    mine, theirs = ref(), ref()
    hsm.create_key(mine)
    sealed = hsm.seal(mine, b"Jane Example", AAD)
    assert hsm.unseal(mine, sealed, AAD) == b"Jane Example"  # and its handle is now cached here

    results = other_process(
        token,
        ["unseal", mine, sealed.hex(), AAD.hex()],
        ["create", theirs],
        ["seal", theirs, b"John Example".hex(), AAD.hex()],
        ["destroy", mine],
        ["unseal", mine, sealed.hex(), AAD.hex()],
    )
    assert results[0] == b"Jane Example".hex()
    assert results[3] is True
    assert results[4] == {"error": "KeyDestroyed"}

    # Here: their key is usable, and my cached handle died with the key the other process erased.
    assert hsm.unseal(theirs, bytes.fromhex(results[2]), AAD) == b"John Example"
    with pytest.raises(KeyDestroyed):
        hsm.unseal(mine, sealed, AAD)
    assert hsm.exists(mine) is False
    assert hsm.destroy(mine) is False


def test_keys_are_sensitive_non_extractable_token_objects(
    token: TokenConfig, hsm: Pkcs11KeyStore
) -> None:
    officer = ref()
    hsm.create_key(officer)
    (seen,) = other_process(token, ["inspect", officer])
    assert seen["VALUE"] == {"error": "AttributeSensitive"}
    assert seen["WRAPPED"] == {"error": "KeyUnextractable"}
    assert seen["KEY_TYPE"] == "AES" and seen["VALUE_LEN"] == 32
    for flag in ("TOKEN", "PRIVATE", "SENSITIVE", "ALWAYS_SENSITIVE", "NEVER_EXTRACTABLE", "LOCAL"):
        assert seen[flag] is True, flag
    assert seen["EXTRACTABLE"] is False


def test_many_threads_at_once(hsm: Pkcs11KeyStore) -> None:
    officers = [ref() for _ in range(4)]
    for officer in officers:
        hsm.create_key(officer)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(150):
                officer = officers[(n + i) % len(officers)]
                value = f"{officer}-{n}-{i}".encode()
                sealed = hsm.seal(officer, value, AAD + officer.encode())
                assert hsm.unseal(officer, sealed, AAD + officer.encode()) == value
                assert hsm.exists(officer)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_an_unopenable_token_is_unavailable(token: TokenConfig, tmp_path: Path) -> None:
    pin = token.read_pin()
    with pytest.raises(KeyStoreUnavailable, match="PIN"):
        Pkcs11KeyStore(
            token.module_path, token.token_label, pin + "x", softhsm2_conf=token.conf_path
        )
    with pytest.raises(KeyStoreUnavailable, match="no token"):
        Pkcs11KeyStore(token.module_path, "jiph-nonesuch", pin, softhsm2_conf=token.conf_path)
    with pytest.raises(KeyStoreUnavailable, match="no PKCS#11 module"):
        Pkcs11KeyStore(tmp_path / "nothing.so", token.token_label, pin)
    with pytest.raises(KeyStoreUnavailable, match="SOFTHSM2_CONF"):
        Pkcs11KeyStore(
            token.module_path, token.token_label, pin, softhsm2_conf=tmp_path / "missing.conf"
        )
    with open_store(token) as opened:
        # While it is open, the same token with another PIN is refused, not quietly shared.
        with pytest.raises(KeyStoreUnavailable, match="another PIN"):
            Pkcs11KeyStore(token.module_path, token.token_label, "not-the-pin")
        opened.create_key(ref())
    with pytest.raises(KeyStoreUnavailable, match="closed"):
        opened.exists(ref())


def test_keystore_from_env(token: TokenConfig) -> None:
    env = token.env()
    assert set(env) == {
        "SOFTHSM2_CONF",
        "JIPH_DEPLOYMENT_PKCS11_MODULE",
        "JIPH_DEPLOYMENT_PKCS11_TOKEN_LABEL",
        "JIPH_DEPLOYMENT_PKCS11_PIN_FILE",
    }
    os.environ["SOFTHSM2_CONF"] = env["SOFTHSM2_CONF"]  # SoftHSM2 reads it itself
    with keystore_from_env("JIPH_DEPLOYMENT", env) as store:
        officer = ref()
        store.create_key(officer)
        assert store.exists(officer)
    by_value = {k: v for k, v in env.items() if not k.endswith("PIN_FILE")}
    by_value["JIPH_DEPLOYMENT_PKCS11_PIN"] = token.read_pin()
    with keystore_from_env("JIPH_DEPLOYMENT_", by_value) as store:
        assert store.exists(officer)
    with pytest.raises(KeyStoreUnavailable, match="exactly one"):
        keystore_from_env("JIPH_DEPLOYMENT", {**env, **by_value})
    with pytest.raises(KeyStoreUnavailable, match="TOKEN_LABEL"):
        keystore_from_env("JIPH_DEPLOYMENT", {"JIPH_DEPLOYMENT_PKCS11_MODULE": "x"})


def test_ensure_token_is_idempotent_and_keeps_secrets_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = ensure_token(state)
    assert first.token_label == "jiph-state"
    conf = first.conf_path.read_text()
    assert first.conf_path == state.resolve() / "softhsm" / "softhsm2.conf"
    assert f"directories.tokendir = {first.token_dir}/" in conf
    assert first.token_dir.is_relative_to(first.softhsm_dir)
    assert "objectstore.backend = file" in conf and "log.level = ERROR" in conf
    for secret in (first.pin_file, first.so_pin_file):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert len(secret.read_text().strip()) >= 32
    assert stat.S_IMODE(first.softhsm_dir.stat().st_mode) == 0o700
    assert first.module_path.is_file() and first.module_path.name == "libsofthsm2.so"

    with open_store(first) as store:
        officer = ref()
        store.create_key(officer)
    again = ensure_token(state)
    assert again == first and again.read_pin() == first.read_pin()
    assert again.conf_path.read_text() == conf
    with open_store(again) as store:
        assert store.exists(officer)  # the token was not initialised a second time


# --- forensics -----------------------------------------------------------------------------------


def occurrences(directory: Path, secret: bytes) -> list[str]:
    return forensics.occurrences(files_under(directory), secret)


def keys_that_open(directory: Path, sealed: bytes, aad: bytes) -> list[str]:
    """The files under `directory` with a 32-byte window that opens `sealed` (tests/forensics)."""
    return forensics.keys_that_open(files_under(directory), [sealed], aad)[0]


def test_the_tokens_gcm_is_standard_aes_gcm(token: TokenConfig) -> None:
    """SoftHSM2's CKM_AES_GCM with a 96-bit IV, AAD and 128-bit tag gives ciphertext||tag exactly
    as `cryptography` does: what the key-window scan below relies on to mean anything."""
    key, iv = AESGCM.generate_key(bit_length=256), os.urandom(IV_BYTES)
    plaintext, aad = b"CANARY interop", AAD + b"OFF-INTEROP"
    (by_token,) = other_process(token, ["interop", key.hex(), iv.hex(), plaintext.hex(), aad.hex()])
    assert bytes.fromhex(by_token) == AESGCM(key).encrypt(iv, plaintext, aad)


def test_the_scanners_find_what_they_look_for(tmp_path: Path) -> None:
    """Positive control of the two scans below: planted in a file, they find it."""
    canary = f"CANARY-{uuid.uuid4()}".encode()
    key, iv = AESGCM.generate_key(bit_length=256), os.urandom(IV_BYTES)
    sealed = b"\x02" + iv + AESGCM(key).encrypt(iv, canary, AAD)
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "raw").write_bytes(os.urandom(100) + key + os.urandom(7))
    (planted / "utf16").write_bytes(b"name=" + canary.decode().encode("utf-16-le"))
    (planted / "b64").write_bytes(b'{"v":"' + base64.b64encode(b"ab" + canary) + b'"}')
    assert keys_that_open(planted, sealed, AAD) == [str(planted / "raw")]
    assert occurrences(planted, canary) == [str(planted / "b64"), str(planted / "utf16")]


def test_the_scanners_read_across_the_holes_of_a_sparse_file(tmp_path: Path) -> None:
    """What touches a hole (a range never written, as Kafka leaves in its preallocated
    indexes) is found, though each hole is read as a few zeros only (tests/forensics): here a
    canary's zero bytes and a key's are the holes' own."""
    canary = f"CANARY-{uuid.uuid4()}".encode()
    key = bytes(2) + os.urandom(30)  # a key like any other, its first two bytes zero
    iv = os.urandom(IV_BYTES)
    sealed = b"\x02" + iv + AESGCM(key).encrypt(iv, canary, AAD)
    le, be = canary.decode().encode("utf-16-le"), canary.decode().encode("utf-16-be")
    mib = 1024 * 1024
    with (tmp_path / "sparse").open("wb") as sparse:
        sparse.seek(4 * mib - len(le) + 1)
        sparse.write(le[:-1])  # ends where a hole begins: its last zero is the hole's
        sparse.seek(6 * mib)
        sparse.write(be[1:])  # begins where a hole ends: its first zero is the hole's
        sparse.seek(8 * mib)
        sparse.write(key[2:] + os.urandom(7))
        sparse.truncate(12 * mib)  # and a hole up to the end
    assert os.stat(tmp_path / "sparse").st_blocks * 512 <= 64 * 1024, "holes, not zeros"
    read = forensics._read(tmp_path / "sparse")
    assert len(read) < 64 * 1024 and le in read and be in read and key in read
    assert occurrences(tmp_path, canary) == [str(tmp_path / "sparse")]
    assert keys_that_open(tmp_path, sealed, AAD) == [str(tmp_path / "sparse")]


def test_forensic_after_erasure_nothing_on_disk_opens_the_sealed_value(
    token: TokenConfig, hsm: Pkcs11KeyStore
) -> None:
    officer, bystander = ref(), ref()
    hsm.create_key(bystander)  # another officer's key stays on the token throughout
    hsm.create_key(officer)
    canary = f"CANARY-{uuid.uuid4()}".encode()
    aad = AAD + officer.encode()
    sealed = hsm.seal(officer, canary, aad)
    bystander_sealed = hsm.seal(bystander, canary, AAD)

    # Positive controls, before erasure: the token opens it, and an attacker holding the PIN
    # who tries every key on the token finds exactly one that does.
    assert hsm.unseal(officer, sealed, aad) == canary
    assert other_process(token, ["try-all", sealed.hex(), aad.hex()]) == [{"keys": 2, "opened": 1}]
    # Even while the key exists, its value is nowhere on disk in the clear.
    home = token.softhsm_dir
    assert len(files_under(home)) >= 6  # conf, PINs, token.object, two key objects, ...
    assert keys_that_open(home, sealed, aad) == []
    assert occurrences(home, canary) == []

    assert hsm.destroy(officer) is True

    # (a) the personal data in no form in any file under the SoftHSM2 folder;
    assert occurrences(home, canary) == []
    # (b) no 32 bytes anywhere under it open the sealed value;
    assert keys_that_open(home, sealed, aad) == []
    # (c) and no key left on the token does, for the attacker with the PIN either.
    assert other_process(token, ["try-all", sealed.hex(), aad.hex()]) == [{"keys": 1, "opened": 0}]
    with pytest.raises(KeyDestroyed):
        hsm.unseal(officer, sealed, aad)
    assert hsm.unseal(bystander, bystander_sealed, AAD) == canary  # erasure was for one officer
