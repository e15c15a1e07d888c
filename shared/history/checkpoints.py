"""Signed checkpoints: a service's word, on a topic of its own, for the heads of its streams.

A checkpoint lists the streams that moved since the previous one, each with its version and
chain hash (shared/history/chain.py), links to the previous checkpoint by digest, and is signed
with the service's Ed25519 checkpoint key, which lives outside the database. Published to
`jiph.checkpoints.<service>` (kept forever, like every topic), it is what a rewrite of the
database cannot match: recomputing the chain is possible for anyone who can write the table,
signing a checkpoint is not.

    {"checkpoint": {"service", "seq", "previous", "at", "key_id", "heads": [[stream, version,
    hash_hex], ...]}, "signature": base64(Ed25519(canonical checkpoint bytes))}

Canonical bytes: the checkpoint object as JSON with sorted keys and no spaces (orjson). Pure:
no I/O besides reading a key file.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.auth.devkeys import load_or_create_private_key

#: The most heads one checkpoint carries: a busy service publishes several in a row.
MAX_HEADS = 2000
GENESIS = "0" * 64  # `previous` of a service's first checkpoint


class CheckpointRefused(Exception):
    """A checkpoint record that does not verify: unreadable, or signed with another key."""


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_signing_key(path: Path, *, create: bool) -> Ed25519PrivateKey:
    """The service's checkpoint key (PEM, mode 0600); generated on first use with `create`
    (development: in production a missing key is an error, never a fresh key per start)."""
    if not create and not path.exists():
        raise FileNotFoundError(f"checkpoint key {path} does not exist")
    key = load_or_create_private_key(path, Ed25519PrivateKey.generate)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A checkpoint key's public half, from a PEM file of either half."""
    pem = path.read_bytes()
    if b"PRIVATE KEY" in pem:
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 key")
        return private.public_key()
    public = serialization.load_pem_public_key(pem)
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError(f"{path} does not hold an Ed25519 key")
    return public


@dataclass(frozen=True)
class Head:
    stream_id: str
    version: int
    hash: bytes


@dataclass(frozen=True)
class Checkpoint:
    service: str
    seq: int
    previous: str  # hex digest of the previous checkpoint's canonical bytes
    at: datetime
    key_id: str
    heads: Sequence[Head]

    def canonical(self) -> bytes:
        return orjson.dumps(
            {
                "service": self.service,
                "seq": self.seq,
                "previous": self.previous,
                "at": self.at.isoformat(),
                "key_id": self.key_id,
                "heads": [[h.stream_id, h.version, h.hash.hex()] for h in self.heads],
            },
            option=orjson.OPT_SORT_KEYS,
        )

    def digest(self) -> bytes:
        return hashlib.sha256(self.canonical()).digest()


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> bytes:
    """The record published for `checkpoint`."""
    body = checkpoint.canonical()
    signature = base64.b64encode(key.sign(body)).decode("ascii")
    return orjson.dumps({"checkpoint": orjson.Fragment(body), "signature": signature})


def open_record(record: bytes, *public_keys: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint a record holds, if its signature verifies with one of `public_keys` (the
    service's current key and those it used before a rotation)."""
    try:
        outer = orjson.loads(record)
        body = outer["checkpoint"]
        signature = base64.b64decode(outer["signature"], validate=True)
        checkpoint = Checkpoint(
            service=str(body["service"]),
            seq=int(body["seq"]),
            previous=str(body["previous"]),
            at=datetime.fromisoformat(body["at"]),
            key_id=str(body["key_id"]),
            heads=tuple(Head(str(s), int(v), bytes.fromhex(h)) for s, v, h in body["heads"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointRefused(f"unreadable checkpoint record: {exc}") from exc
    # Verified over the canonical bytes re-made from the parsed body: a record whose body is
    # not canonical (re-ordered, re-spaced) does not verify either.
    body_bytes = checkpoint.canonical()
    for public_key in public_keys:
        try:
            public_key.verify(signature, body_bytes)
        except InvalidSignature:
            continue
        return checkpoint
    expected = ", ".join(key_id(k) for k in public_keys)
    raise CheckpointRefused(
        f"checkpoint {checkpoint.seq} is not signed by {checkpoint.service}'s checkpoint key "
        f"{expected} (the record names key {checkpoint.key_id}, which proves nothing): refused"
    )
