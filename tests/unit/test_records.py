"""The stream's record format as the handler writes it: aggregates per partition key."""

from __future__ import annotations

import zlib

import orjson

from streaming.record_codec import COMPRESSED_PREFIX, MAX_INFLATED_BYTES, inflate
from streaming.records import (
    AGGREGATE_MARKER,
    AGGREGATE_VERSION,
    Record,
    aggregate,
    event_errors,
    events_of,
)


def event(n: int, size: int = 0) -> bytes:
    return orjson.dumps({"event_id": f"e{n}", "pad": "x" * size})


def test_one_record_per_partition_key_in_the_order_events_came():
    events = [("a", event(0)), ("b", event(1)), ("a", event(2)), ("c", event(3)), ("b", event(4))]
    records = aggregate(events)
    assert [(r.partition_key, r.events) for r in records] == [
        ("a", (0, 2)), ("b", (1, 4)), ("c", (3,))]
    assert records[0].data.startswith(COMPRESSED_PREFIX)
    envelope = orjson.loads(inflate(records[0].data))
    assert envelope == {AGGREGATE_MARKER: AGGREGATE_VERSION,
                        "events": [orjson.loads(event(0)), orjson.loads(event(2))]}
    assert records[2].data == event(3)  # a lone event stays a plain v1 record


def test_an_aggregate_is_split_before_it_reaches_the_size_limit():
    events = [("a", event(n, size=90)) for n in range(10)]
    limit = 400
    records = aggregate(events, max_bytes=limit)
    assert all(len(inflate(r.data)) <= limit for r in records)
    assert [i for r in records for i in r.events] == list(range(10))
    assert len(records) > 1
    held = [e for r in records for e in events_of(r.data)]
    assert [e["event_id"] for e in held] == [f"e{n}" for n in range(10)]


def test_an_event_larger_than_the_limit_is_written_alone_not_dropped():
    events = [("a", event(0)), ("a", event(1, size=500)), ("a", event(2))]
    records = aggregate(events, max_bytes=200)
    assert [r.events for r in records] == [(0,), (1,), (2,)]


def test_a_record_that_was_not_written_fails_each_of_its_events():
    records = [Record("a", b"", (0, 2)), Record("b", b"", (1,))]
    assert event_errors(records, ["Throttled: slow down", None], 3) == [
        "Throttled: slow down", None, "Throttled: slow down"]


def test_an_aggregate_of_repetitive_events_is_written_several_times_smaller():
    events = [("a", orjson.dumps({"event_id": f"e{n}", "page_url": "https://shop.example.com/",
                                  "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}))
              for n in range(50)]
    [record] = aggregate(events)
    plain = inflate(record.data)
    assert len(record.data) * 5 < len(plain)
    assert [e["event_id"] for e in events_of(record.data)] == [f"e{n}" for n in range(50)]


def test_a_compressed_record_is_a_standard_zlib_stream_both_ways():
    """ISA-L writes and reads the records; any zlib must read what it writes, and it must
    read what any zlib writes (records written before it, other producers)."""
    events = [("a", event(n)) for n in range(30)]
    [record] = aggregate(events)
    payload = record.data[len(COMPRESSED_PREFIX):]
    plain = zlib.decompress(payload)
    assert [e["event_id"] for e in orjson.loads(plain)["events"]] == [
        orjson.loads(data)["event_id"] for _, data in events]
    assert inflate(COMPRESSED_PREFIX + zlib.compress(plain, 6)) == plain


def test_a_compressed_record_that_does_not_inflate_comes_back_as_it_was():
    [record] = aggregate([("a", event(0)), ("a", event(1))])
    bomb = COMPRESSED_PREFIX + zlib.compress(b" " * (MAX_INFLATED_BYTES + 1))
    for broken in (record.data[:-4], COMPRESSED_PREFIX + b"not zlib", bomb,
                   record.data + b"trailing"):
        assert inflate(broken) == broken
    assert inflate(b'{"event_id": "e0"}') == b'{"event_id": "e0"}'
