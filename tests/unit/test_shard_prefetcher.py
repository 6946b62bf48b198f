"""The job's read-ahead of one shard: it holds at most the shard's share of a batch.

A shard stands in as a list of records served the way `KinesisStreamReader._get` serves
them (records after a position, at most as many as asked, whether that reached the tip);
the reader itself is tested against kinesalite in tests/integration/test_kinesis_source.py.
"""

from __future__ import annotations

import threading
import time

from streaming.stream.source import ShardPrefetcher

SHARD = [{"SequenceNumber": f"{n:06d}"} for n in range(1000)]


class Shard:
    """Serves SHARD; counts what the prefetcher has asked for."""

    def __init__(self) -> None:
        self.asked = 0
        self.lock = threading.Lock()

    def fetch(self, after: str | None, wanted: int) -> tuple[list[dict], bool, bool]:
        start = 0 if after is None else int(after) + 1
        records = SHARD[start:start + wanted]
        with self.lock:
            self.asked += len(records)
        return records, start + wanted >= len(SHARD), False


def settled(prefetcher: ShardPrefetcher, holds: int, seconds: float = 5.0) -> int:
    """The buffer's size once the read-ahead thread holds `holds` records (or time is up)."""
    deadline = time.monotonic() + seconds
    while len(prefetcher.buffer) < holds and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # any read beyond the bound would have happened by now
    return len(prefetcher.buffer)


def test_the_read_ahead_holds_one_share_and_follows_the_share_of_each_batch():
    shard = Shard()
    prefetcher = ShardPrefetcher(shard.fetch, None, limit=100, idle_sleep=0.01)
    try:
        assert settled(prefetcher, 100) == 100
        first = prefetcher.take(None, 40)
        assert [r["SequenceNumber"] for r in first] == [f"{n:06d}" for n in range(40)]
        assert settled(prefetcher, 40) == 60  # already more than the new share: nothing read
        assert shard.asked == 100
        second = prefetcher.take(first[-1]["SequenceNumber"], 250)  # the share grew
        assert [r["SequenceNumber"] for r in second] == [f"{n:06d}" for n in range(40, 290)]
        assert settled(prefetcher, 250) == 250
        assert shard.asked == 540
    finally:
        prefetcher.close()
