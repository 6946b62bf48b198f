"""A Spark Structured Streaming source for Kinesis, written with Spark 4's Python data source API.

Used where no JVM Kinesis source is available (embedded mode: the awslabs connector is not
on Maven Central). Offsets are per-shard sequence numbers, so Spark's checkpoint makes a
restart exact: a batch planned before a crash is re-read between the same sequence numbers,
and nothing after the last committed batch is skipped.

Resharding: a shard that a split or merge closed is read to its end, then listed in the
offset's `finished` and never polled again; a child shard is read only once every parent it
still has in the stream is finished, so a partition key's records come in Kinesis's order
across a reshard (what Kinesis's own client library guarantees).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pyarrow as pa
from pyspark.sql.datasource import DataSource, SimpleDataSourceStreamReader
from pyspark.sql.types import StructType

from streaming.stream.event_columns import timestamp_array

SOURCE_NAME = "kinesis_py"
SCHEMA = (
    "shard_id string, sequence_number string, partition_key string, "
    "approximate_arrival_timestamp timestamp, data binary"
)
ARROW_SCHEMA = pa.schema([
    ("shard_id", pa.string()), ("sequence_number", pa.string()), ("partition_key", pa.string()),
    ("approximate_arrival_timestamp", pa.timestamp("us", tz="UTC")), ("data", pa.binary()),
])
DEFAULT_MAX_RECORDS_PER_SHARD = 1000
DEFAULT_MAX_RECORDS_PER_BATCH = 1000
# How long a listing of the stream's shards is reused (a reshard is seen within it).
LISTING_SECONDS = 10.0
GET_RECORDS_LIMIT = 10000
# Once a shard's read reaches its tip, the next read waits this long: AWS serves at most five
# GetRecords a second per shard (shared by every consumer), so a reader caught up with the
# stream asks at most five times a second.
DEFAULT_IDLE_SLEEP_MS = 200
# botocore's standard retries wait a random share of a step that doubles from 50 ms
# (connection errors; 1 s for throttling) up to 20 s. 5 attempts rode out under a second of
# an unreachable endpoint, so a restarted kinesalite failed the query; 20 ride out about two
# minutes of an endpoint restart or of GetRecords throttling on AWS.
READ_ATTEMPTS = 20


# (records, at the shard's tip, the shard is closed and read to its end)
Fetch = Callable[[str | None, int], tuple[list[dict], bool, bool]]


def record_batch(shard: str, records: list[dict]) -> pa.RecordBatch:
    """GetRecords' records as one Arrow batch: Spark takes Arrow from a Python source as it
    is, where tuples are converted field by field in Python (a 10k-row batch took 3.2-4.4 s
    with tuples, 2.9-3.0 s with Arrow; docs/benchmarks.md). Compressed aggregates stay
    compressed until the sink (`streaming.stream.transforms.sink_rows`): Spark's JVM copies
    every byte of a batch several times on its way to the sink, and inflated records are ~11x
    the bytes (the JVM's CPU an event halved, the 1M catch-up drained 35% faster)."""
    return pa.RecordBatch.from_arrays([
        pa.array([shard] * len(records), pa.string()),
        pa.array([r["SequenceNumber"] for r in records], pa.string()),
        pa.array([r["PartitionKey"] for r in records], pa.string()),
        timestamp_array(r["ApproximateArrivalTimestamp"] for r in records),
        pa.array([r["Data"] for r in records], pa.binary()),
    ], schema=ARROW_SCHEMA)


def _client(options: dict[str, str]):
    """Options arrive lower-cased from Spark; an empty endpoint means the SDK's own, and the
    mode decides the credentials (`streaming.kinesis.client_arguments`).

    A stream endpoint that is briefly away must not end the query: see READ_ATTEMPTS.
    """
    import boto3
    from botocore.config import Config

    from streaming.kinesis import client_arguments

    extra = client_arguments(options.get("endpointurl") or None, options.get("mode") == "embedded")
    config = Config(retries={"max_attempts": READ_ATTEMPTS, "mode": "standard"},
                    read_timeout=20)
    return boto3.client("kinesis", region_name=options["region"],
                        config=config, **extra)


class ShardPrefetcher:
    """Reads one shard ahead of the query in a background thread.

    Spark plans a micro-batch only after the previous one committed, and the simple reader
    reads while planning: GetRecords and boto3's parsing (~50 us a record in Python) would add
    to every batch. Reading ahead, up to one batch's worth, overlaps them with the previous
    batch's Spark work on the other core. The buffer only ever holds the records right after
    `after`, and a batch is short of the limit only when the last read reached the shard's
    tip, as a direct read would be: a catch-up stops on the first batch that is not full.
    The buffer holds at most the shard's share of the last batch (`take`'s limit), so that
    what is read ahead stays one batch, however many shards share it.
    """

    def __init__(self, fetch: Fetch, after: str | None, limit: int, idle_sleep: float) -> None:
        self.fetch, self.limit, self.idle_sleep = fetch, limit, idle_sleep
        self.after = after
        self.buffer: list[dict] = []
        self.at_tip = False
        self.ended = False
        self.error: Exception | None = None
        self.closed = False
        self.changed = threading.Condition()
        threading.Thread(target=self._run, daemon=True, name="kinesis-prefetch").start()

    def _tail(self) -> str | None:
        return self.buffer[-1]["SequenceNumber"] if self.buffer else self.after

    def take(self, after: str | None, limit: int, wait: float = 60.0) -> list[dict] | None:
        """Up to `limit` records after `after`, waiting (at most `wait` s) until the buffer
        holds `limit` or reached the tip; None when the buffer is elsewhere. `finished` tells
        afterwards whether that was the last of a closed shard."""
        with self.changed:
            if after != self.after:
                return None
            self.limit = limit
            self.changed.notify_all()
            self.changed.wait_for(lambda: self.error is not None or self.at_tip
                                  or len(self.buffer) >= limit, wait)
            if self.error is not None:
                raise self.error
            taken, self.buffer = self.buffer[:limit], self.buffer[limit:]
            if taken:
                self.after = taken[-1]["SequenceNumber"]
            self.changed.notify_all()
            return taken

    @property
    def finished(self) -> bool:
        """The shard is closed and everything it held has been taken."""
        with self.changed:
            return self.ended and not self.buffer

    def close(self) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def _run(self) -> None:
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self.closed or len(self.buffer) < self.limit)
                if self.closed:
                    return
                tail, wanted = self._tail(), self.limit - len(self.buffer)
            try:
                records, at_tip, ended = self.fetch(tail, wanted)
            except Exception as exc:  # handed to the query by the next take()
                with self.changed:
                    self.error = exc
                    self.changed.notify_all()
                return
            with self.changed:
                if self._tail() == tail:
                    self.buffer.extend(records)
                    self.at_tip, self.ended = at_tip or ended, ended
                    self.changed.notify_all()
                    if ended:  # a closed shard read to its end is not asked again
                        return
            if at_tip:
                time.sleep(self.idle_sleep)


def shard_limit(per_shard: int, per_batch: int, shards: int) -> int:
    """How many records a batch reads from each of `shards`: at most `per_shard`, and
    `per_batch` between them all. The whole batch is in the driver's memory at once (an
    aggregate holds 20-60 events, ~30 KB inflated), so its size must not grow with the
    stream's shard count: 16 shards of 1,000 records ran the driver out of heap."""
    return max(1, min(per_shard, per_batch // max(1, shards)))


class KinesisStreamReader(SimpleDataSourceStreamReader):
    """Reads every shard on the driver, up to a bounded number of records per batch, each
    shard read ahead by a `ShardPrefetcher` (replays after a restart read directly)."""

    def __init__(self, options: dict[str, str]) -> None:
        self.stream = options["streamname"]
        self.max_records = int(options.get("maxrecordspershard", DEFAULT_MAX_RECORDS_PER_SHARD))
        self.max_batch = int(options.get("maxrecordsperbatch", DEFAULT_MAX_RECORDS_PER_BATCH))
        self.idle_sleep = int(options.get("idlesleepms", DEFAULT_IDLE_SLEEP_MS)) / 1000
        self.options = options
        self._client = None
        self.iterators: dict[tuple[str, str | None], str] = {}
        self.prefetchers: dict[str, ShardPrefetcher] = {}
        self._listing: tuple[float, dict[str, tuple[str, ...]]] | None = None
        self._shard_ended = False

    def __getstate__(self) -> dict:
        """Spark pickles the reader to replay batches on executors; clients and threads do
        not pickle."""
        return {**self.__dict__, "_client": None, "iterators": {}, "prefetchers": {},
                "_listing": None}

    @property
    def client(self):
        if self._client is None:
            self._client = _client(self.options)
        return self._client

    def _shards(self, fresh: bool = False) -> dict[str, tuple[str, ...]]:
        """The stream's shards and the parents each was split or merged from, listed again
        after `LISTING_SECONDS` (or when `fresh`): a ListShards call per batch cost the
        batch's planning 5-10 ms here, more on a busy machine."""
        from streaming.kinesis import list_shards

        if fresh or self._listing is None or time.monotonic() - self._listing[0] > LISTING_SECONDS:
            shards = {shard["ShardId"]: tuple(parent for parent in (
                          shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if parent)
                      for shard in list_shards(self.client, self.stream)}
            self._listing = (time.monotonic(), shards)
        return self._listing[1]

    def initialOffset(self) -> dict:
        return {"shards": {shard: None for shard in sorted(self._shards(fresh=True))}}

    def _iterator(self, shard: str, after: str | None) -> str:
        cached = self.iterators.pop((shard, after), None)
        if cached:
            return cached
        kwargs = {"StreamName": self.stream, "ShardId": shard}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        return self.client.get_shard_iterator(**kwargs)["ShardIterator"]

    def _get(self, shard: str, after: str | None, limit: int) -> tuple[list[dict], bool, bool]:
        """One GetRecords call after `after`, for at most GetRecords' own 10,000 records,
        whether it reached the shard's tip (fewer records than asked, and not behind), and
        whether the shard is closed and read to its end (no next iterator); remembers the
        next iterator for the next call."""
        limit = min(limit, GET_RECORDS_LIMIT)
        iterator = self._iterator(shard, after)
        try:
            response = self.client.get_records(ShardIterator=iterator, Limit=limit)
        except self.client.exceptions.ExpiredIteratorException:
            self.iterators.pop((shard, after), None)
            response = self.client.get_records(ShardIterator=self._iterator(shard, after),
                                               Limit=limit)
        records = response["Records"]
        last = records[-1]["SequenceNumber"] if records else after
        if not response.get("NextShardIterator"):
            return records, True, True
        self.iterators[(shard, last)] = response["NextShardIterator"]
        return records, len(records) < limit and not response.get("MillisBehindLatest"), False

    def _read(self, shard: str, after: str | None, limit: int) -> tuple[list[dict], bool]:
        """Up to `limit` records after `after`, in as many calls as it takes, and whether
        they are the last of a closed shard."""
        records: list[dict] = []
        while len(records) < limit:
            more, at_tip, ended = self._get(
                shard, records[-1]["SequenceNumber"] if records else after,
                limit - len(records))
            records += more
            if ended:
                return records, True
            if at_tip:
                break
        return records, False

    def _next_records(self, shard: str, after: str | None, limit: int
                      ) -> tuple[list[dict], bool]:
        """Up to `limit` records the shard's prefetcher holds after `after`, and whether that
        finishes a closed shard; a direct read (and a prefetcher from there on) when it reads
        elsewhere, as on the first batch after a start."""
        prefetcher = self.prefetchers.get(shard)
        records = prefetcher.take(after, limit) if prefetcher else None
        if records is not None:
            return records, prefetcher.finished
        if prefetcher:
            prefetcher.close()
        records, finished = self._read(shard, after, limit)
        if not finished:
            tail = records[-1]["SequenceNumber"] if records else after
            self.prefetchers[shard] = ShardPrefetcher(
                lambda position, limit: self._get(shard, position, limit), tail, limit,
                self.idle_sleep)
        return records, finished

    def read(self, start: dict) -> tuple[Iterator[pa.RecordBatch], dict]:
        positions = dict(start["shards"])
        finished = set(start.get("finished", []))
        parents = self._shards(fresh=self._shard_ended)
        self._shard_ended = False
        for shard in parents:
            positions.setdefault(shard, None)
        readable = [shard for shard in sorted(positions) if shard in parents
                    and shard not in finished  # done, or expired from the stream
                    and not any(parent in parents and parent not in finished
                                for parent in parents[shard])]  # after a parent not yet read
        limit = shard_limit(self.max_records, self.max_batch, len(readable))
        batches: list[pa.RecordBatch] = []
        for shard in readable:
            records, done = self._next_records(shard, positions[shard], limit)
            if records:
                batches.append(record_batch(shard, records))
                positions[shard] = records[-1]["SequenceNumber"]
            if done:  # its children may be new to the listing
                finished.add(shard)
                self._shard_ended = True
                if prefetcher := self.prefetchers.pop(shard, None):
                    prefetcher.close()
        if not batches:
            time.sleep(self.idle_sleep)
        offset: dict = {"shards": dict(sorted(positions.items()))}
        if finished:
            offset["finished"] = sorted(finished)
        return iter(batches), offset

    def readBetweenOffsets(self, start: dict, end: dict) -> Iterator[pa.RecordBatch]:
        """Replays a planned batch exactly: from each shard's start up to its end sequence."""
        batches: list[pa.RecordBatch] = []
        for shard, stop in sorted(end["shards"].items()):
            position = start["shards"].get(shard)
            if stop is None or (position is not None and int(position) >= int(stop)):
                continue
            while position is None or int(position) < int(stop):
                records, _, _ = self._get(shard, position, self.max_records)
                if not records:
                    raise RuntimeError(f"shard {shard} ended before sequence {stop}; "
                                       "records expired from the stream's retention?")
                wanted = [r for r in records if int(r["SequenceNumber"]) <= int(stop)]
                batches.append(record_batch(shard, wanted))
                position = records[-1]["SequenceNumber"]
        return iter(batches)

    def commit(self, end: dict) -> None:
        """Nothing to release: Kinesis keeps records for its retention period."""


class KinesisDataSource(DataSource):
    """`spark.readStream.format("kinesis_py").option("streamName", ...)`."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def schema(self) -> str:
        return SCHEMA

    def simpleStreamReader(self, schema: StructType) -> KinesisStreamReader:
        return KinesisStreamReader({k.lower(): v for k, v in self.options.items()})
