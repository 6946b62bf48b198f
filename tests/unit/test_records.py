"""The stream's record format as the handler writes it: aggregates per partition key."""

from __future__ import annotations

import orjson

from streaming.records import AGGREGATE_MARKER, AGGREGATE_VERSION, Record, aggregate, event_errors


def event(n: int, size: int = 0) -> bytes:
    return orjson.dumps({"event_id": f"e{n}", "pad": "x" * size})


def test_one_record_per_partition_key_in_the_order_events_came():
    events = [("a", event(0)), ("b", event(1)), ("a", event(2)), ("c", event(3)), ("b", event(4))]
    records = aggregate(events)
    assert [(r.partition_key, r.events) for r in records] == [
        ("a", (0, 2)), ("b", (1, 4)), ("c", (3,))]
    envelope = orjson.loads(records[0].data)
    assert envelope == {AGGREGATE_MARKER: AGGREGATE_VERSION,
                        "events": [orjson.loads(event(0)), orjson.loads(event(2))]}
    assert records[2].data == event(3)  # a lone event stays a plain v1 record


def test_an_aggregate_is_split_before_it_reaches_the_size_limit():
    events = [("a", event(n, size=90)) for n in range(10)]
    limit = 400
    records = aggregate(events, max_bytes=limit)
    assert all(len(r.data) <= limit for r in records)
    assert [i for r in records for i in r.events] == list(range(10))
    assert len(records) > 1
    held = [e for r in records for e in (orjson.loads(r.data).get("events") or [orjson.loads(r.data)])]
    assert [e["event_id"] for e in held] == [f"e{n}" for n in range(10)]


def test_an_event_larger_than_the_limit_is_written_alone_not_dropped():
    events = [("a", event(0)), ("a", event(1, size=500)), ("a", event(2))]
    records = aggregate(events, max_bytes=200)
    assert [r.events for r in records] == [(0,), (1,), (2,)]


def test_a_record_that_was_not_written_fails_each_of_its_events():
    records = [Record("a", b"", (0, 2)), Record("b", b"", (1,))]
    assert event_errors(records, ["Throttled: slow down", None], 3) == [
        "Throttled: slow down", None, "Throttled: slow down"]
