"""Another process on the same SoftHSM2 token, as a second service instance would be.

usage: python tests/integration/keystore_process.py 'JSON list of [op, *args]'

The token comes from the environment exactly as a service gets it (SOFTHSM2_CONF and
JIPH_DEPLOYMENT_PKCS11_*, see jiph.stack.keystore.TokenConfig.env). Bytes travel as hex. Prints a
JSON list with one result per op: a value, or {"error": "<exception class>"}.

Ops through the key store: create REF | seal REF PT AAD | unseal REF SEALED AAD | destroy REF |
exists REF. Ops on the token directly with python-pkcs11, bypassing the key store as an attacker
holding the PIN would: `inspect REF` (the key's attributes, and what reading or wrapping its value
gives), `try-all SEALED AAD` (how many of all the secret keys on the token open the value) and
`interop KEY IV PT AAD` (the token's AES-GCM output under a key of known value).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass

from services.deployment.keystore import (
    IV_BYTES,
    KeyStoreError,
    Pkcs11Config,
    keystore_from_env,
)


def raw_session() -> pkcs11.Session:
    """A session of its own, in a process where no key store is open (so not logged in)."""
    cfg = Pkcs11Config.from_env("JIPH_DEPLOYMENT")
    token = pkcs11.lib(cfg.module).get_token(token_label=cfg.token_label)
    return token.open(rw=True, user_pin=cfg.pin)


def inspect(ref: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with raw_session() as session:
        (key,) = list(session.get_objects({Attribute.LABEL: ref}))
        for name in (
            "TOKEN",
            "PRIVATE",
            "SENSITIVE",
            "EXTRACTABLE",
            "ALWAYS_SENSITIVE",
            "NEVER_EXTRACTABLE",
            "LOCAL",
            "VALUE_LEN",
        ):
            out[name] = key[Attribute[name]]
        out["KEY_TYPE"] = KeyType(key[Attribute.KEY_TYPE]).name
        try:
            out["VALUE"] = key[Attribute.VALUE].hex()
        except pkcs11.PKCS11Error as exc:
            out["VALUE"] = {"error": type(exc).__name__}
        # Could the value leave wrapped under a key the attacker makes and so knows the value of?
        wrapper = session.generate_key(
            KeyType.AES,
            256,
            label="attacker-wrapper",
            capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP,
            template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
        )
        try:
            wrapped = wrapper.wrap_key(key, mechanism=Mechanism.AES_KEY_WRAP)  # type: ignore[attr-defined]
            out["WRAPPED"] = wrapped.hex()
        except pkcs11.PKCS11Error as exc:
            out["WRAPPED"] = {"error": type(exc).__name__}
        wrapper.destroy()
    return out


def try_all(sealed: bytes, aad: bytes) -> dict[str, int]:
    iv, body = sealed[1 : 1 + IV_BYTES], sealed[1 + IV_BYTES :]
    opened = keys = 0
    with raw_session() as session:
        # The whole search first: a decryption while a search is open is CKR_OPERATION_ACTIVE.
        for key in list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY})):
            keys += 1
            try:
                key.decrypt(  # type: ignore[attr-defined]
                    body,
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=pkcs11.GCMParams(iv, aad, 128),
                )
                opened += 1
            except pkcs11.PKCS11Error:
                pass
    return {"keys": keys, "opened": opened}


def interop(key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> str:
    """AES-GCM by the token under a key whose value the caller knows (a session object,
    imported for this only), so the caller can check the output against another implementation."""
    with raw_session() as session:
        known = session.create_object(
            {
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.KEY_TYPE: KeyType.AES,
                Attribute.TOKEN: False,
                Attribute.ENCRYPT: True,
                Attribute.VALUE: key,
            }
        )
        sealed = known.encrypt(  # type: ignore[attr-defined]
            plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=pkcs11.GCMParams(iv, aad, 128)
        )
        known.destroy()
    return bytes(sealed).hex()


def main(ops: list[list[str]]) -> list[Any]:
    results: list[Any] = []
    raw = {op for op, *_ in ops} & {"inspect", "try-all", "interop"}
    if raw:
        assert raw == {op for op, *_ in ops}, "raw ops and key store ops go in separate runs"
    store = None if raw else keystore_from_env("JIPH_DEPLOYMENT")
    try:
        for op, *args in ops:
            try:
                if op == "inspect":
                    results.append(inspect(args[0]))
                elif op == "try-all":
                    results.append(try_all(bytes.fromhex(args[0]), bytes.fromhex(args[1])))
                elif op == "interop":
                    results.append(interop(*(bytes.fromhex(a) for a in args)))
                elif store is None:
                    raise SystemExit(f"unknown op {op}")
                elif op == "create":
                    store.create_key(args[0])
                    results.append(None)
                elif op == "seal":
                    sealed = store.seal(args[0], bytes.fromhex(args[1]), bytes.fromhex(args[2]))
                    results.append(sealed.hex())
                elif op == "unseal":
                    plain = store.unseal(args[0], bytes.fromhex(args[1]), bytes.fromhex(args[2]))
                    results.append(plain.hex())
                elif op == "destroy":
                    results.append(store.destroy(args[0]))
                elif op == "exists":
                    results.append(store.exists(args[0]))
                else:
                    raise SystemExit(f"unknown op {op}")
            except KeyStoreError as exc:
                results.append({"error": type(exc).__name__})
    finally:
        if store is not None:
            store.close()
    return results


if __name__ == "__main__":
    assert os.environ.get("SOFTHSM2_CONF"), "SOFTHSM2_CONF not set"
    print(json.dumps(main(json.loads(sys.argv[1]))))
