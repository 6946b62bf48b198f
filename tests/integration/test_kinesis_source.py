"""The stream job's Kinesis source, read batch by batch on the real kinesalite (no Spark).

Reads run ahead in a background thread per shard; these tests hold that to what a direct
read returns: every record once, in order, a shard's part of a batch short of the cap only
at the shard's tip (a catch-up stops on the first batch that is not full), and a start from
any checkpointed position (a restart) reading exactly what follows it.
"""

import time
import uuid
from collections import Counter

import orjson
import pyarrow as pa
import pytest

from streaming.kinesis import ensure_stream, kinesis_client, put_records
from streaming.records import aggregate
from streaming.stream.source import ARROW_SCHEMA, KinesisStreamReader

pytestmark = pytest.mark.slow

CAP = 25


@pytest.fixture
def stream(kinesis):
    name = f"src-{uuid.uuid4().hex[:8]}"
    ensure_stream(kinesis_client(kinesis.settings), name, 2)
    return kinesis.settings, name


def reader(settings, name: str) -> KinesisStreamReader:
    return KinesisStreamReader({"streamname": name, "endpointurl": settings.kinesis_endpoint_url,
                                "region": settings.region,
                                "maxrecordspershard": str(CAP), "idlesleepms": "20"})


def put(settings, name: str, values: range) -> None:
    records = [(f"visitor-{i % 7}", f"record-{i}".encode()) for i in values]
    assert put_records(kinesis_client(settings), name, records).failed == 0


def read_all(source: KinesisStreamReader, offset: dict, expected: int
             ) -> tuple[list[str], dict, list[dict[str, int]]]:
    """Reads batch after batch until `expected` records came back (or 30 s passed); returns
    the records, the last offset, and each batch's record count per shard."""
    seen, per_shard, deadline = [], [], time.monotonic() + 30
    while len(seen) < expected and time.monotonic() < deadline:
        batches, offset = source.read(offset)
        table = pa.Table.from_batches(list(batches), schema=ARROW_SCHEMA)
        per_shard.append(Counter(table["shard_id"].to_pylist()))
        seen += [data.decode() for data in table["data"].to_pylist()]
    return seen, offset, per_shard


def test_batches_hold_every_record_once_in_shard_order_and_respect_the_cap(stream):
    settings, name = stream
    put(settings, name, range(200))
    source = reader(settings, name)
    seen, offset, per_shard = read_all(source, source.initialOffset(), 200)
    assert sorted(seen) == sorted(f"record-{i}" for i in range(200))
    for shard in set().union(*per_shard):
        counts = [batch[shard] for batch in per_shard]
        total = sum(counts)
        full, rest = divmod(total, CAP)
        assert counts[:full + bool(rest)] == [CAP] * full + ([rest] if rest else []), (
            "a batch is short of the cap only when it reached the shard's tip")
    per_visitor = [int(r.split("-")[1]) for r in seen if int(r.split("-")[1]) % 7 == 3]
    assert per_visitor == sorted(per_visitor), "one partition key keeps its order"
    put(settings, name, range(200, 230))
    more, _, _ = read_all(source, offset, 30)
    assert sorted(more) == sorted(f"record-{i}" for i in range(200, 230))


def test_a_restart_from_a_checkpointed_offset_reads_exactly_what_follows_it(stream):
    settings, name = stream
    put(settings, name, range(120))
    first = reader(settings, name)
    head, offset, _ = read_all(first, first.initialOffset(), 50)
    restarted = reader(settings, name)
    tail, _, _ = read_all(restarted, offset, 120 - len(head))
    assert sorted(head + tail) == sorted(f"record-{i}" for i in range(120))
    assert len(head + tail) == 120



def test_compressed_aggregates_come_out_inflated_and_other_records_as_they_were(stream):
    settings, name = stream
    events = [("visitor-1", orjson.dumps({"event_id": f"e{n}", "page": "/" * 40})) for n in range(30)]
    [compressed] = aggregate(events)
    corrupt = compressed.data[:-8]
    records = [("visitor-1", compressed.data), ("visitor-2", corrupt), ("visitor-3", b"plain")]
    assert put_records(kinesis_client(settings), name, records).failed == 0
    source, data = reader(settings, name), []
    offset, deadline = source.initialOffset(), time.monotonic() + 30
    while len(data) < 3 and time.monotonic() < deadline:
        batches, offset = source.read(offset)
        data += pa.Table.from_batches(list(batches), schema=ARROW_SCHEMA)["data"].to_pylist()
    inflated = b'{"clickstream_aggregate":1,"events":[' + b",".join(e for _, e in events) + b"]}"
    assert sorted(data) == sorted([inflated, corrupt, b"plain"])
