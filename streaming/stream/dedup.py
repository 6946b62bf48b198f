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
from collections.abc import Iterable

import pyarrow as pa
from deltalake import DeltaTable

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)


def window_seconds(text: str) -> float:
    """`CLICKSTREAM_DEDUP_WINDOW` ("10 minutes", "90 seconds", "1 hour") in seconds."""
    match = WINDOW.match(text)
    if match is None:
        raise ValueError(f"CLICKSTREAM_DEDUP_WINDOW={text!r}: give a number and a unit "
                         "(seconds, minutes, hours or days), e.g. '10 minutes'")
    return float(match.group(1)) * UNITS[match.group(2).lower()]


class RecentKeys:
    """The dedup keys first seen within the window, oldest first, with when they were seen
    (seconds since the epoch)."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._seen: set[str] = set()
        self._batches: deque[tuple[float, list[str]]] = deque()
        self._previous: float | None = None

    def __len__(self) -> int:
        return len(self._seen)

    def remember(self, keys: Iterable[str], seen_at: float) -> None:
        """Keys already stored (a rebuild), as seen at `seen_at`; in time order."""
        fresh = [key for key in keys if key not in self._seen]
        self._seen.update(fresh)
        self._batches.append((seen_at, fresh))
        self._previous = seen_at if self._previous is None else max(self._previous, seen_at)

    def admit(self, keys: pa.Array | pa.ChunkedArray, now: float) -> pa.BooleanArray:
        """Which rows of a batch to keep: the first of each key not seen within the window.
        The kept keys are remembered as seen `now`."""
        if self._previous is not None:
            self._expire(self._previous - self.window)
        keep, fresh = [], []
        for key in keys.to_pylist():
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
        recent.remember(keys.to_pylist(), written[fragment.path])
    return recent
