"""How far the stream job is behind the stream, measured from its own checkpoint.

kinesalite always answers MillisBehindLatest = 0, and AWS's figure only exists for a reader
that is reading. So lag is measured the same way in both modes: the position the job has
committed (the last committed batch's end offsets in Spark's checkpoint, per shard) is
compared with what the shard holds after it, by reading forward with GetRecords. The count
is capped so a huge backlog costs a bounded number of calls; the age of the oldest unread
record (its ApproximateArrivalTimestamp) is the lag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from pyarrow import fs

from streaming.kinesis import list_shard_ids
from streaming.lake.delta import lake_filesystem

READ_LIMIT = 10_000


@dataclass(frozen=True)
class ShardPosition:
    """What lies after one position of one shard."""

    shard_id: str
    after: str | None
    records: int
    capped: bool
    oldest_arrival: datetime | None
    last_sequence: str | None


@dataclass(frozen=True)
class Backlog:
    shards: list[ShardPosition]
    measured_at: datetime

    @property
    def records(self) -> int:
        return sum(s.records for s in self.shards)

    @property
    def capped(self) -> bool:
        return any(s.capped for s in self.shards)

    @property
    def lag_seconds(self) -> float:
        """Age of the oldest record not yet consumed; 0 when nothing waits."""
        oldest = [s.oldest_arrival for s in self.shards if s.oldest_arrival is not None]
        return max(0.0, (self.measured_at - min(oldest)).total_seconds()) if oldest else 0.0

    def tips(self) -> dict[str, str | None]:
        """Per shard, the last sequence number seen (the read position after this one)."""
        return {s.shard_id: s.last_sequence or s.after for s in self.shards}


def _read_text(uri: str) -> str | None:
    filesystem, path = lake_filesystem(uri)
    try:
        with filesystem.open_input_stream(path) as stream:
            return stream.read().decode()
    except FileNotFoundError:
        return None


def _list_batches(uri: str) -> list[int]:
    filesystem, path = lake_filesystem(uri)
    try:
        infos = filesystem.get_file_info(fs.FileSelector(path))
    except FileNotFoundError:
        return []
    return sorted(int(info.base_name) for info in infos if info.base_name.isdigit())


def query_id(checkpoint_uri: str) -> str:
    """The query's id, which Spark writes to the checkpoint's `metadata` when the query first
    starts and keeps across restarts; read here without Spark (a Spark read of the file cost a
    job's first batch ~0.4 s)."""
    text = _read_text(f"{checkpoint_uri}/metadata")
    if text is None:
        raise FileNotFoundError(f"{checkpoint_uri}/metadata: the checkpoint has no query yet")
    return json.loads(text)["id"]


def committed_batch(checkpoint_uri: str) -> int | None:
    """The id of the last batch the query committed (its sink writes are durable)."""
    batches = _list_batches(f"{checkpoint_uri}/commits")
    return batches[-1] if batches else None


def planned_batch(checkpoint_uri: str) -> int | None:
    """The id of the last batch the query planned (its offsets are logged; it may not be
    committed yet, and a restart replays it first)."""
    batches = _list_batches(f"{checkpoint_uri}/offsets")
    return batches[-1] if batches else None


def committed_positions(checkpoint_uri: str) -> dict[str, str | None]:
    """Per shard, the last sequence number of the last committed batch; {} before any."""
    batch = committed_batch(checkpoint_uri)
    if batch is None:
        return {}
    text = _read_text(f"{checkpoint_uri}/offsets/{batch}")
    if text is None:
        return {}
    source_offset = text.splitlines()[2]
    return dict(json.loads(source_offset)["shards"])


def read_after(client, stream_name: str, shard_id: str, after: str | None,
               cap: int) -> ShardPosition:
    """Counts the records after `after` (all of the shard when None), up to `cap`."""
    kwargs = {"StreamName": stream_name, "ShardId": shard_id}
    if after is None:
        kwargs["ShardIteratorType"] = "TRIM_HORIZON"
    else:
        kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
    iterator = client.get_shard_iterator(**kwargs)["ShardIterator"]
    count, oldest, last = 0, None, None
    while iterator and count < cap:
        response = client.get_records(ShardIterator=iterator, Limit=min(READ_LIMIT, cap - count))
        records = response["Records"]
        if records:
            oldest = oldest or records[0]["ApproximateArrivalTimestamp"].astimezone(UTC)
            last = records[-1]["SequenceNumber"]
            count += len(records)
        elif not response.get("MillisBehindLatest"):
            break
        iterator = response.get("NextShardIterator")
    return ShardPosition(shard_id, after, count, count >= cap, oldest, last)


def measure(client, stream_name: str, positions: dict[str, str | None],
            cap: int = 100_000) -> Backlog:
    """What waits after `positions` in every shard of the stream (new shards: all of it)."""
    shards = sorted(list_shard_ids(client, stream_name))
    per_shard = max(1, cap // max(1, len(shards)))
    return Backlog([read_after(client, stream_name, shard, positions.get(shard), per_shard)
                    for shard in shards], datetime.now(UTC))
