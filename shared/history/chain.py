"""The hash chain over each stream's events: what makes a stored history tamper-evident.

Each event's `chain_hash` is SHA-256 over the previous event's hash and the event's stored bytes
(its envelope, exactly as written), starting from a genesis hash of the stream's id:

    hash_0 = sha256(b"jiph-chain:" + stream_id)
    hash_n = sha256(hash_{n-1} + envelope_n)

Changing an event's bytes, removing one, or moving one to another place in its stream breaks the
chain at that event. Someone able to rewrite the table could recompute every later hash; the
signed checkpoints (shared/history/checkpoints.py) published to Kafka are what such a rewrite
cannot match.

The event store computes the same function in SQL (shared/eventstore.py, one round trip per
append); this module is the reference the verifier (`jiph audit verify`) recomputes with.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson

GENESIS_PREFIX = b"jiph-chain:"


def genesis(stream_id: str) -> bytes:
    return hashlib.sha256(GENESIS_PREFIX + stream_id.encode("utf-8")).digest()


def link(previous: bytes, envelope: bytes) -> bytes:
    return hashlib.sha256(previous + envelope).digest()


def chain(stream_id: str, envelopes: Iterable[bytes]) -> Iterator[bytes]:
    """The hash of each event in turn, for events stored in this order."""
    current = genesis(stream_id)
    for envelope in envelopes:
        current = link(current, envelope)
        yield current


@dataclass(frozen=True)
class StoredEvent:
    """One row of a service's `events` table, as the verifier reads it."""

    stream_id: str
    stream_version: int
    envelope: bytes
    chain_hash: bytes | None


@dataclass(frozen=True)
class Mismatch:
    """The first event of a stream that does not match its chain or a checkpoint."""

    stream_id: str
    stream_version: int
    problem: str  # altered | missing | moved | unchained | rewritten | truncated
    detail: str


@dataclass
class StreamCheck:
    """Walks one stream's rows in version order and names its first mismatch (if any). The
    recomputed hash at every version is kept for the checkpoints to be compared against."""

    stream_id: str
    hashes: dict[int, bytes]
    mismatch: Mismatch | None = None
    _previous: bytes = b""
    _expected_version: int = 1
    _last_signed_match: int = 0

    @classmethod
    def start(cls, stream_id: str) -> StreamCheck:
        return cls(stream_id, {}, _previous=genesis(stream_id))

    @property
    def version(self) -> int:
        return self._expected_version - 1

    def add(self, row: StoredEvent) -> None:
        if self.mismatch is not None:
            return
        version = self._expected_version
        if row.stream_version != version:
            self._fail(
                version,
                "missing",
                f"version {version} is not in the store: the next stored event is version "
                f"{row.stream_version} (deleted?)",
            )
            return
        claimed = _claimed_position(row.envelope)
        if claimed != (row.stream_id, row.stream_version):
            self._fail(
                version,
                "moved",
                f"the event stored at version {version} says it is "
                f"{claimed[0]} version {claimed[1]} (moved or reordered?)",
            )
            return
        computed = link(self._previous, row.envelope)
        if row.chain_hash is None:
            self._fail(version, "unchained", "the event has no chain hash")
            return
        if row.chain_hash != computed:
            self._fail(
                version,
                "altered",
                "its bytes do not hash to the chain hash stored with it (altered?)",
            )
            return
        self.hashes[version] = computed
        self._previous = computed
        self._expected_version += 1

    def compare(self, version: int, signed_hash: bytes, checkpoint_seq: int) -> None:
        """A signed checkpoint said this stream's hash at `version` was `signed_hash`."""
        if self.mismatch is not None and self.mismatch.stream_version <= version:
            return  # already failed at or before that point
        if version > self.version:
            if self.mismatch is None:
                self._fail(
                    self.version + 1,
                    "truncated",
                    f"checkpoint {checkpoint_seq} signed version {version}, the store ends at "
                    f"version {self.version} (deleted?)",
                )
            return
        if self.hashes[version] == signed_hash:
            self._last_signed_match = max(self._last_signed_match, version)
            return
        # Checkpoints pin heads only: the rewrite lies after the last version a checkpoint
        # confirmed and at or before this one.
        first = self._last_signed_match + 1
        self.mismatch = Mismatch(
            self.stream_id,
            first,
            "rewritten",
            f"the chain is consistent but its hash at version {version} differs from the one "
            f"checkpoint {checkpoint_seq} signed: versions {first} to {version} were rewritten "
            "and re-hashed",
        )

    def _fail(self, version: int, problem: str, detail: str) -> None:
        self.mismatch = Mismatch(self.stream_id, version, problem, detail)


def _claimed_position(envelope: bytes) -> tuple[str, int]:
    """The stream and version an envelope says it belongs to (it is self-describing)."""
    try:
        data = orjson.loads(envelope)
        return str(data["stream_id"]), int(data["stream_version"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return "(unreadable)", -1
