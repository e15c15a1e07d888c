"""A forensic reader's two searches, for the erasure tests (no tests here).

`occurrences` looks for a secret in every form it could take in a file: raw, UTF-16 either way,
hex, and base64 at each of its three alignments. `keys_that_open` tries every 32-byte window of
every file, at every offset, as the AES-256-GCM key of a sealed value.

Trying ~10^8 windows one by one would take hours, so windows are first filtered with numpy for
what a random key (which every key the key store makes is) looks like: at most 4 zero bytes and
at most 26 printable ASCII bytes out of 32. A random key fails that filter with a probability
below 2e-7 (P[5 or more zero bytes] = C(32,5)/256^5; 27 or more printable bytes is rarer still),
while text, zero padding and page headers, most of what a database or a log holds, do not pass it.
The windows that pass are deduplicated, then each is tried. `test_the_scanners_find_what_they_look_for`
(tests/integration/test_keystore.py) plants a key and shows it found.

Both read a file as the disk holds it: its data, and for each hole of a sparse file (a range never
written, which reads as zeros: Kafka preallocates every index file so, over a gigabyte of a test
stack's 1.5) at most `HOLE_ZEROS` zero bytes instead of all of them. Nothing either search looks
for is that long, and each holds a byte that is not zero (a key window at most 4 zeros), so no
match is lost or made: one that touches a run of zeros touches it only at an edge, whose zeros are
all kept. `test_the_scanners_read_across_the_holes_of_a_sparse_file` plants a secret and a key at
the edges of holes and shows them found.
"""

from __future__ import annotations

import base64
import errno
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

IV_BYTES = 12
KEY_BYTES = 32
MAX_ZEROS = 4
MAX_PRINTABLE = 26
_CHUNK = 16 * 1024 * 1024
#: Zeros read in place of a hole: longer than anything searched for (see above).
HOLE_ZEROS = 256


def files_under(*places: Path) -> list[Path]:
    found: list[Path] = []
    for place in places:
        if place.is_file():
            found.append(place)
        elif place.is_dir():
            found += sorted(p for p in place.rglob("*") if p.is_file() and not p.is_symlink())
    return found


def text_forms(secret: bytes) -> list[bytes]:
    """`secret` as it could sit in a file: raw, UTF-16 either way, hex, and base64 at each of the
    three alignments it can take inside a longer base64 string (edge characters dropped)."""
    forms = [secret, secret.decode().encode("utf-16-le"), secret.decode().encode("utf-16-be")]
    forms += [secret.hex().encode(), secret.hex().upper().encode()]
    for pad in range(3):
        encoded = base64.b64encode(b"\x00" * pad + secret)
        forms.append(encoded[4 if pad else 0 : -4])
        forms.append(base64.urlsafe_b64encode(b"\x00" * pad + secret)[4 if pad else 0 : -4])
    return list(dict.fromkeys(forms))


def _read(path: Path) -> bytes:
    """The file's bytes, each hole read as at most `HOLE_ZEROS` zeros (see above)."""
    try:
        with path.open("rb") as file:
            return b"".join(_extents(file.fileno(), os.fstat(file.fileno()).st_size))
    except (FileNotFoundError, PermissionError):  # gone meanwhile (a WAL segment recycled)
        return b""


def _extents(fd: int, size: int) -> Iterable[bytes]:
    """Data and (shortened) holes in file order. A file system that knows no holes reports
    the whole file as data."""
    offset = 0
    while offset < size:
        try:
            data_at = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
            data_at = size  # nothing but a hole up to the end
        if data_at > offset:
            yield bytes(min(data_at - offset, HOLE_ZEROS))
        if data_at >= size:
            return
        hole_at = os.lseek(fd, data_at, os.SEEK_HOLE)
        yield os.pread(fd, hole_at - data_at, data_at)
        offset = hole_at


def occurrences(files: Iterable[Path], secret: bytes) -> list[str]:
    """The files holding `secret` in any of its text forms (case-insensitively for raw text)."""
    return occurrences_of_each(files, [secret])[secret]


def occurrences_of_each(files: Iterable[Path], secrets: list[bytes]) -> dict[bytes, list[str]]:
    """`occurrences` of several secrets, each file read (and lower-cased) once for all of them:
    the stack's disk is over a gigabyte, so reading it once per secret was most of the cost."""
    forms = {secret: text_forms(secret) for secret in secrets}
    assert all(len(f) < HOLE_ZEROS for fs in forms.values() for f in fs), "see HOLE_ZEROS"
    hits: dict[bytes, list[str]] = {secret: [] for secret in secrets}
    for path in files:
        data = _read(path)
        lowered = data.lower()
        for secret in secrets:
            if any(f in data for f in forms[secret]) or secret.lower() in lowered:
                hits[secret].append(str(path))
    return hits


def candidate_keys(data: bytes) -> set[bytes]:
    """Every distinct 32-byte window of `data` that could be a random key (see above)."""
    found: set[bytes] = set()
    for start in range(0, max(len(data) - KEY_BYTES + 1, 1), _CHUNK):
        chunk = np.frombuffer(data[start : start + _CHUNK + KEY_BYTES - 1], dtype=np.uint8)
        if len(chunk) < KEY_BYTES:
            break
        zeros = np.concatenate(([0], np.cumsum(chunk == 0, dtype=np.int32)))
        printable = np.concatenate(
            ([0], np.cumsum((chunk >= 0x20) & (chunk < 0x7F), dtype=np.int32))
        )
        n = len(chunk) - KEY_BYTES + 1
        window_zeros = zeros[KEY_BYTES : KEY_BYTES + n] - zeros[:n]
        window_printable = printable[KEY_BYTES : KEY_BYTES + n] - printable[:n]
        offsets = np.nonzero((window_zeros <= MAX_ZEROS) & (window_printable <= MAX_PRINTABLE))[0]
        if len(offsets) == 0:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(chunk, KEY_BYTES)[offsets]
        unique = np.unique(np.ascontiguousarray(windows).view(f"V{KEY_BYTES}"))
        found.update(bytes(w) for w in unique)
    return found


def keys_that_open(files: Iterable[Path], sealed: list[bytes], aad: bytes) -> tuple[list[str], int]:
    """(which files hold a window that opens any of the `sealed` values — version byte, IV,
    ciphertext and tag — and how many distinct candidate windows were tried)."""
    opened: list[str] = []
    tried = 0
    for path in files:
        candidates = candidate_keys(_read(path))
        tried += len(candidates)
        for key in candidates:
            gcm = AESGCM(key)
            for value in sealed:
                try:
                    gcm.decrypt(value[1 : 1 + IV_BYTES], value[1 + IV_BYTES :], aad)
                    opened.append(str(path))
                except InvalidTag:
                    pass
    return opened, tried
