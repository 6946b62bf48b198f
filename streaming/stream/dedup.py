"""Drops repeated events in the job's sink, within a window of processing time: a copy of an
event the stream already delivered (a retried request the gateway had written, a producer's
PutRecords retry) is not stored twice.

Why here and not Spark's `dropDuplicatesWithinWatermark`, which this replaces: that operator
shuffles every row into a state store, ~170 us a row on this project's two cores, half of a
micro-batch whatever its size (docs/benchmarks.md). The sink already holds each batch as
Arrow on the driver, and a set lookup costs well under a microsecond a row.

The state is the keys first seen within the window. It lives in the job's memory, not in
Spark's checkpoint: a restarted job rebuilds it from bronze, the record of what was written
(the event_ids received within the window before bronze's last commit; bronze keeps
statistics on `received_at`, so older files are not read). A batch replayed after a crash
is skipped whole by its app transaction (streaming/lake/delta.py) before this matters.
Quarantined rows' keys are their stream positions (`with_dedup_key`), unique except in such a
replay, so they are not rebuilt.

Expiry lags one batch, as Spark's watermark did: a batch is checked against everything seen
up to the window before the *previous* batch, so keys are not forgotten while the job is
down and copies sent meanwhile are still caught when it comes back.
"""

from __future__ import annotations

import re
from collections import deque

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)

_UUID_LENGTH = 36
_DASHES = [8, 13, 18, 23]
_DIGITS = [i for i in range(_UUID_LENGTH) if i not in _DASHES]
_NOT_HEX = 255
_NIBBLE = np.full(256, _NOT_HEX, np.uint8)
_NIBBLE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)


def window_seconds(text: str) -> float:
    """`CLICKSTREAM_DEDUP_WINDOW` ("10 minutes", "90 seconds", "1 hour") in seconds."""
    match = WINDOW.match(text)
    if match is None:
        raise ValueError(f"CLICKSTREAM_DEDUP_WINDOW={text!r}: give a number and a unit "
                         "(seconds, minutes, hours or days), e.g. '10 minutes'")
    return float(match.group(1)) * UNITS[match.group(2).lower()]


def uuid_words(keys: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions, hi, lo): where `keys` holds a UUID in its canonical text (lowercase,
    8-4-4-4-12, what the tracker and `uuid.uuid4()` write), and its 128 bits as two words. Only
    that form: one UUID written in capitals is another string, and another key. Vectorised, as
    it runs on every event of every batch: 0.5 us a key with the set's work, where a regex and
    `int(text, 16)` a key took 0.9."""
    length = pc.fill_null(pc.equal(pc.binary_length(keys), _UUID_LENGTH), False)
    candidates = np.flatnonzero(length.to_numpy(zero_copy_only=False))
    if candidates.size == 0:
        return candidates, np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    text = keys.take(candidates).cast(pa.binary(_UUID_LENGTH))
    chars = np.frombuffer(text.buffers()[1], np.uint8, count=len(text) * _UUID_LENGTH,
                          offset=text.offset * _UUID_LENGTH).reshape(-1, _UUID_LENGTH)
    nibbles = _NIBBLE[chars[:, _DIGITS]]
    canonical = (nibbles != _NOT_HEX).all(axis=1) & (chars[:, _DASHES] == ord("-")).all(axis=1)
    octets = (nibbles[canonical, 0::2] << 4) | nibbles[canonical, 1::2]
    words = np.ascontiguousarray(octets).view(">u8").astype(np.uint64)
    return candidates[canonical], words[:, 0], words[:, 1]


def held_keys(keys: pa.Array | pa.ChunkedArray) -> list[str | int]:
    """Keys as the window holds them: a canonical UUID (the tracker's event_ids) as its 128-bit
    integer, ~105 bytes a key in all where its text costs ~150 (a window at 10,000 events/s
    for 10 minutes: 0.65 GB, not 0.9; docs/reliability.md); anything else (other producers'
    ids, quarantined rows' stream positions) as its string. An integer never equals a string,
    and only the canonical text is read as a UUID, so two keys are equal exactly when their
    texts are."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if keys.type not in (pa.string(), pa.large_string()):
        keys = keys.cast(pa.large_string())  # a string view, as some Delta readers give
    positions, hi, lo = uuid_words(keys)
    uuids = [(h << 64) | w for h, w in zip(hi.tolist(), lo.tolist(), strict=True)]
    if len(uuids) == len(keys):
        return uuids
    held: list[str | int] = keys.to_pylist()
    for position, value in zip(positions.tolist(), uuids, strict=True):
        held[position] = value
    return held


class RecentKeys:
    """The dedup keys first seen within the window, oldest first, with when they were seen
    (seconds since the epoch)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._seen: set[str | int] = set()
        self._batches: deque[tuple[float, list[str | int]]] = deque()
        self._previous: float | None = None

    def __len__(self) -> int:
        return len(self._seen)

    def remember(self, keys: pa.Array | pa.ChunkedArray, seen_at: float) -> None:
        """Keys already stored (a rebuild), as seen at `seen_at`; in time order."""
        fresh = [key for key in held_keys(keys) if key not in self._seen]
        self._seen.update(fresh)
        self._batches.append((seen_at, fresh))
        self._previous = seen_at if self._previous is None else max(self._previous, seen_at)

    def admit(self, keys: pa.Array | pa.ChunkedArray, now: float) -> pa.BooleanArray:
        """Which rows of a batch to keep: the first of each key not seen within the window.
        The kept keys are remembered as seen `now`."""
        if self._previous is not None:
            self._expire(self._previous - self.window)
        keep, fresh = [], []
        for key in held_keys(keys):
            new = key not in self._seen
            if new:
                self._seen.add(key)
                fresh.append(key)
            keep.append(new)
        self._batches.append((now, fresh))
        self._previous = now
        return pa.array(keep, pa.bool_())

    def _expire(self, before: float) -> None:
        while self._batches and self._batches[0][0] < before:
            self._seen.difference_update(self._batches.popleft()[1])


def rebuild(recent: RecentKeys, bronze: DeltaTable | None) -> RecentKeys:
    """`recent` holding the event_ids of the bronze files written within the window before
    the newest one, each as seen when its file was written (the add action's modification
    time: the processing time of the batch that wrote it, later for a file OPTIMIZE rewrote,
    which only keeps its keys longer). Only those files are read."""
    files = pa.table(bronze.get_add_actions(flatten=True)) if bronze is not None else None
    if files is None or files.num_rows == 0:
        return recent
    written = dict(zip(files.column("path").to_pylist(),
                       (ms / 1000 for ms in files.column("modification_time").to_pylist()),
                       strict=True))
    since = max(written.values()) - recent.window
    dataset = bronze.to_pyarrow_dataset()
    fragments = [f for f in dataset.get_fragments() if written.get(f.path, since) >= since]
    for fragment in sorted(fragments, key=lambda f: written[f.path]):
        keys = fragment.to_table(columns=["event_id"], schema=dataset.schema).column("event_id")
        recent.remember(keys, written[fragment.path])
    return recent
