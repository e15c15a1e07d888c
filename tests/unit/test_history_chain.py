"""The hash chain and the checkpoints, as pure functions: any change to a stream is found at the
event where it happened; a checkpoint verifies only with the key that signed it."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from shared.history.chain import StoredEvent, StreamCheck, chain
from shared.history.checkpoints import (
    GENESIS,
    Checkpoint,
    CheckpointRefused,
    Head,
    key_id,
    open_record,
    sign,
)
from shared.history.verifier import check_checkpoints

STREAM = "request-0193"


def envelope(version: int, note: str) -> bytes:
    return orjson.dumps({"stream_id": STREAM, "stream_version": version, "data": {"n": note}})


def stored(notes: list[str]) -> list[StoredEvent]:
    envelopes = [envelope(v, n) for v, n in enumerate(notes, start=1)]
    return [
        StoredEvent(STREAM, v, e, h)
        for v, (e, h) in enumerate(zip(envelopes, chain(STREAM, envelopes), strict=True), start=1)
    ]


def walk(rows: list[StoredEvent]) -> StreamCheck:
    check = StreamCheck.start(STREAM)
    for row in rows:
        check.add(row)
    return check


notes = st.lists(st.text(max_size=20), min_size=2, max_size=12)


@given(notes)
def test_an_untouched_stream_verifies(events: list[str]) -> None:
    check = walk(stored(events))
    assert check.mismatch is None and check.version == len(events)


@given(notes, st.data())
def test_an_altered_event_is_named(events: list[str], data: st.DataObject) -> None:
    rows = stored(events)
    at = data.draw(st.integers(0, len(rows) - 1))
    row = rows[at]
    rows[at] = StoredEvent(STREAM, row.stream_version, row.envelope + b" ", row.chain_hash)
    mismatch = walk(rows).mismatch
    assert mismatch is not None and (mismatch.stream_version, mismatch.problem) == (
        at + 1,
        "altered",
    )


@given(notes, st.data())
def test_a_deleted_event_is_named(events: list[str], data: st.DataObject) -> None:
    rows = stored(events)
    at = data.draw(st.integers(0, len(rows) - 2))  # the last one: see the checkpoint test
    del rows[at]
    mismatch = walk(rows).mismatch
    assert mismatch is not None and (mismatch.stream_version, mismatch.problem) == (
        at + 1,
        "missing",
    )


@given(notes, st.data())
def test_two_swapped_events_are_named(events: list[str], data: st.DataObject) -> None:
    rows = stored(events)
    at = data.draw(st.integers(0, len(rows) - 2))
    a, b = rows[at], rows[at + 1]
    rows[at] = StoredEvent(STREAM, a.stream_version, b.envelope, b.chain_hash)
    rows[at + 1] = StoredEvent(STREAM, b.stream_version, a.envelope, a.chain_hash)
    mismatch = walk(rows).mismatch
    assert mismatch is not None and (mismatch.stream_version, mismatch.problem) == (
        at + 1,
        "moved",
    )


def test_a_rewritten_and_rehashed_stream_differs_from_its_checkpoints() -> None:
    original = stored(["a", "b", "c", "d"])
    rewritten = stored(["a", "b", "X", "d"])
    check = walk(rewritten)
    assert check.mismatch is None  # consistent in itself
    for row in original[:2]:
        check.compare(row.stream_version, row.chain_hash or b"", 1)
    check.compare(4, original[3].chain_hash or b"", 2)
    assert check.mismatch is not None
    assert (check.mismatch.problem, check.mismatch.stream_version) == ("rewritten", 3)


def test_a_truncated_stream_is_named_from_its_checkpoint() -> None:
    rows = stored(["a", "b", "c"])
    check = walk(rows[:2])
    check.compare(3, rows[2].chain_hash or b"", 7)
    assert check.mismatch is not None
    assert (check.mismatch.problem, check.mismatch.stream_version) == ("truncated", 3)


def a_checkpoint(key: Ed25519PrivateKey, seq: int = 1, previous: str = GENESIS) -> Checkpoint:
    return Checkpoint(
        "intake",
        seq,
        previous,
        datetime(2026, 12, 1, tzinfo=UTC),
        key_id(key.public_key()),
        (Head(STREAM, 3, b"\x01" * 32),),
    )


def test_a_checkpoint_opens_only_with_the_key_that_signed_it() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    record = sign(a_checkpoint(key), key)
    assert open_record(record, key.public_key()) == a_checkpoint(key)
    with pytest.raises(CheckpointRefused, match="is not signed by intake's checkpoint key"):
        open_record(record, other.public_key())
    tampered = record.replace(b'"intake"', b'"triage"')
    with pytest.raises(CheckpointRefused):
        open_record(tampered, key.public_key())
    with pytest.raises(CheckpointRefused, match="unreadable"):
        open_record(b"{not json", key.public_key())


def test_checkpoints_must_number_and_link_up() -> None:
    key = Ed25519PrivateKey.generate()
    first = a_checkpoint(key)
    second = a_checkpoint(key, 2, first.digest().hex())
    unlinked = a_checkpoint(key, 3, GENESIS)
    fourth_missing_third = a_checkpoint(key, 5, GENESIS)
    records = [sign(c, key) for c in (first, second, second, unlinked)]
    signed = check_checkpoints("intake", records, [key.public_key()])
    assert signed.last_seq == 3 and signed.checkpoints == 3
    assert signed.refused == [
        "checkpoint 3 does not link to checkpoint 2 (its `previous` is another digest)"
    ]
    signed = check_checkpoints(
        "intake", [*records[:2], sign(fourth_missing_third, key)], [key.public_key()]
    )
    assert any("checkpoint 3 is missing" in r for r in signed.refused)


def test_after_a_rotation_both_keys_verify_their_own_checkpoints() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    first = a_checkpoint(old)
    second = a_checkpoint(new, 2, first.digest().hex())
    records = [sign(first, old), sign(second, new)]
    assert check_checkpoints("intake", records, [new.public_key()]).refused  # one key: no
    both = check_checkpoints("intake", records, [new.public_key(), old.public_key()])
    assert both.refused == [] and both.last_seq == 2
