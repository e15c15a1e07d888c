"""Verifying a service's history: its events against their chain, the chain against the signed
checkpoints on Kafka. What `jiph audit verify` runs; read-only.

The checkpoints are checked first (signature with the service's public key, numbering without
gaps, each linked to the digest of the one before); then every stream is walked in version order
(shared/history/chain.py), and each head a checkpoint signed is compared with the recomputed
hash at that version. The answer names, per stream, the first event that does not match.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass, field

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.history.chain import Mismatch, StoredEvent, StreamCheck
from shared.history.checkpoints import GENESIS, Checkpoint, CheckpointRefused, key_id, open_record

#: Rows fetched per round trip while walking the store.
FETCH = 2000


@dataclass
class SignedHeads:
    """What the valid checkpoints signed, by stream: (version, hash, checkpoint seq)."""

    by_stream: dict[str, list[tuple[int, bytes, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    checkpoints: int = 0
    last_seq: int = 0
    refused: list[str] = field(default_factory=list)


def check_checkpoints(
    service: str, records: Iterable[bytes], public_keys: Sequence[Ed25519PublicKey]
) -> SignedHeads:
    """Open every record; refuse the ones that do not verify or do not link up."""
    signed = SignedHeads()
    by_seq: dict[int, Checkpoint] = {}
    for record in records:
        try:
            checkpoint = open_record(record, *public_keys)
        except CheckpointRefused as exc:
            signed.refused.append(str(exc))
            continue
        if checkpoint.service != service:
            signed.refused.append(
                f"checkpoint {checkpoint.seq} is {checkpoint.service}'s, on {service}'s topic"
            )
            continue
        known = by_seq.get(checkpoint.seq)
        if known is not None and known.digest() != checkpoint.digest():
            signed.refused.append(f"two different checkpoints are numbered {checkpoint.seq}")
            continue
        by_seq[checkpoint.seq] = checkpoint  # a relay's republish is the same record
    previous = GENESIS
    for seq in range(1, max(by_seq, default=0) + 1):
        found = by_seq.get(seq)
        if found is None:
            signed.refused.append(f"checkpoint {seq} is missing from the topic")
            previous = ""
            continue
        if previous and found.previous != previous:
            signed.refused.append(
                f"checkpoint {seq} does not link to checkpoint {seq - 1} (its `previous` is "
                "another digest)"
            )
        previous = found.digest().hex()
        for head in found.heads:
            signed.by_stream[head.stream_id].append((head.version, head.hash, seq))
        signed.checkpoints += 1
        signed.last_seq = seq
    return signed


@dataclass
class Report:
    service: str
    key_id: str
    streams: int = 0
    events: int = 0
    checkpoints: int = 0
    last_checkpoint: int = 0
    signed_heads: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.mismatches and not self.refused


async def verify(
    db: asyncpg.Connection,
    service: str,
    checkpoint_records: AsyncIterable[bytes],
    public_keys: Sequence[Ed25519PublicKey],
    *,
    stream: str | None = None,
) -> Report:
    """Verify `service`'s store (or one `stream` of it) against its checkpoint records, signed
    by any of `public_keys` (after a rotation: the current key and the earlier ones)."""
    records = [record async for record in checkpoint_records]
    signed = check_checkpoints(service, records, public_keys)
    report = Report(
        service,
        ",".join(key_id(k) for k in public_keys),
        checkpoints=signed.checkpoints,
        last_checkpoint=signed.last_seq,
        refused=signed.refused,
    )
    heads = signed.by_stream
    if stream is not None:
        heads = {stream: heads[stream]} if stream in heads else {}
    report.signed_heads = sum(len(v) for v in heads.values())
    seen: set[str] = set()
    current: StreamCheck | None = None

    def finish(check: StreamCheck) -> None:
        for version, digest, seq in sorted(heads.get(check.stream_id, ())):
            check.compare(version, digest, seq)
        if check.mismatch is not None:
            report.mismatches.append(check.mismatch)

    query = (
        "SELECT stream_id, stream_version, envelope, chain_hash FROM events"
        + (" WHERE stream_id = $1" if stream is not None else "")
        + " ORDER BY stream_id, stream_version"
    )
    args = (stream,) if stream is not None else ()
    # One snapshot for the whole walk; the checkpoints were read before it, so every event
    # they signed is in it.
    async with db.transaction(isolation="repeatable_read", readonly=True):
        async for row in db.cursor(query, *args, prefetch=FETCH):
            stream_id = row["stream_id"]
            if current is None or current.stream_id != stream_id:
                if current is not None:
                    finish(current)
                current = StreamCheck.start(stream_id)
                seen.add(stream_id)
                report.streams += 1
            chain_hash = row["chain_hash"]
            current.add(
                StoredEvent(
                    stream_id,
                    row["stream_version"],
                    bytes(row["envelope"]),
                    bytes(chain_hash) if chain_hash is not None else None,
                )
            )
            report.events += 1
    if current is not None:
        finish(current)
    for gone in sorted(set(heads) - seen):
        version, _, seq = max(heads[gone])
        report.mismatches.append(
            Mismatch(
                gone,
                1,
                "missing",
                f"checkpoint {seq} signed version {version} of this stream; the store holds "
                "none of its events (deleted?)",
            )
        )
    return report
