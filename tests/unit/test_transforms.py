"""The job's transform (streaming/stream/transforms.py) on Arrow batches shaped like the
Kinesis source's records: pure Python, as the job's sink runs it."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime

import orjson
import pyarrow as pa
import pytest

from streaming.erased import subject_hash
from streaming.lake.suppression import listed_rows
from streaming.records import aggregate
from streaming.stream.source import ARROW_SCHEMA
from streaming.stream.transforms import (
    BRONZE_COLUMNS,
    QUARANTINE_COLUMNS,
    SINK_SCHEMA,
    sink_rows,
    table_rows,
)

ARRIVAL = datetime(2026, 11, 25, 10, 0, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)


def record(**overrides) -> dict:
    base = {"event_id": str(uuid.uuid4()), "event_type": "page_view",
            "event_time": "2026-11-24T23:59:59.5+01:00", "anonymous_id": "a",
            "session_id": "s", "page_url": "https://shop.example.com/",
            "received_at": "2026-11-25T10:00:00.123456Z", "ingest_id": "i",
            "properties": {"price": "9.5"}, "element": {"id": "buy"}, "is_bot": False,
            "schema_version": 1}
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def source_rows(payloads: list[bytes]) -> pa.Table:
    """Records as the job's Kinesis reader hands them over, compressed ones compressed."""
    return pa.table({
        "shard_id": ["shardId-000000000000"] * len(payloads),
        "sequence_number": [str(49_000 + n) for n in range(len(payloads))],
        "partition_key": ["a"] * len(payloads),
        "approximate_arrival_timestamp": [ARRIVAL] * len(payloads),
        "data": payloads,
    }, schema=ARROW_SCHEMA)


def sink_tables(payloads: list[bytes]) -> tuple[list[dict], list[dict]]:
    """The bronze and quarantine rows of a batch, as the job's sink hands them to Delta."""
    rows = sink_rows(source_rows(payloads), NOW)
    return table_rows(rows, "bronze").to_pylist(), table_rows(rows, "quarantine").to_pylist()


def aggregated(*events: dict) -> bytes:
    [one] = aggregate([("a", orjson.dumps(e)) for e in events])
    return one.data


def test_a_time_with_an_offset_is_stored_as_its_instant_whatever_pyarrow_is_told(monkeypatch):
    """pyspark.pandas sets PYARROW_IGNORE_TIMEZONE on import, and pyarrow then drops a
    datetime's offset: the transform must not depend on it."""
    monkeypatch.setenv("PYARROW_IGNORE_TIMEZONE", "1")
    [row], _ = sink_tables([orjson.dumps(record(event_time="2026-11-24T23:59:59.5+01:00"))])
    assert row["event_time"] == datetime(2026, 11, 24, 22, 59, 59, 500000, tzinfo=UTC)
    assert row["received_at"] == datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)


def test_valid_record_becomes_a_typed_bronze_row():
    good = record()
    [row], quarantined = sink_tables([orjson.dumps(good)])
    assert tuple(row) == BRONZE_COLUMNS
    assert row["event_id"] == good["event_id"]
    assert row["event_time"] == datetime(2026, 11, 24, 22, 59, 59, 500000, tzinfo=UTC)
    assert row["event_date"] == date(2026, 11, 24)
    assert dict(row["properties"]) == {"price": "9.5"} and row["element"]["id"] == "buy"
    assert row["kinesis_sequence_number"] == "49000"
    assert quarantined == []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"this is not json", "malformed_json: record is not a JSON object"),
        (b'{"event_id": "x", "truncated": ', "malformed_json: record is not a JSON object"),
        (b"[1, 2]", "malformed_json: record is not a JSON object"),
        (orjson.dumps(record(event_id="not-a-uuid")), "event_id: required UUID"),
        (orjson.dumps(record(event_type="hover")), "event_type: not a v1 event type"),
        (orjson.dumps(record(event_time="last tuesday")),
         "event_time: required ISO-8601 timestamp with zone"),
        (orjson.dumps(record(anonymous_id="")), "anonymous_id: required, 1-128 chars"),
        (orjson.dumps(record(received_at=None)),
         "received_at: missing, the record did not pass the ingestion handler"),
        (orjson.dumps(record(schema_version=2)), "schema_version: must be 1"),
    ],
)
def test_invalid_records_are_quarantined_with_raw_record_and_reason(payload, reason):
    bronze, [row] = sink_tables([payload])
    assert bronze == []
    assert tuple(row) == QUARANTINE_COLUMNS
    assert row["reason"] == reason and row["raw_record"] == payload.decode()


def test_every_broken_rule_is_listed_in_one_reason():
    payload = orjson.dumps({"event_id": "x", "event_type": "hover", "anonymous_id": "a"})
    _, [row] = sink_tables([payload])
    assert row["reason"].split("; ") == [
        "event_id: required UUID", "event_type: not a v1 event type",
        "event_time: required ISO-8601 timestamp with zone",
        "session_id: required, 1-128 chars",
        "received_at: missing, the record did not pass the ingestion handler"]


def test_an_aggregate_becomes_one_row_per_event_and_a_broken_one_is_quarantined_alone():
    first, broken, last = record(), record(event_type="hover"), record(anonymous_id="b")
    bronze, [bad] = sink_tables([aggregated(first, broken, last),
                                 orjson.dumps(record(event_id=first["event_id"]))])
    assert [r["event_id"] for r in bronze] == [first["event_id"], last["event_id"], first["event_id"]]
    assert {r["kinesis_sequence_number"] for r in bronze[:2]} == {"49000"}
    assert bad["reason"] == "event_type: not a v1 event type"
    assert orjson.loads(bad["raw_record"]) == broken
    assert (bad["kinesis_sequence_number"], bad["kinesis_record_index"]) == ("49000", 1)
    assert bad["event_id"] == broken["event_id"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"clickstream_aggregate": 2, "events": [{}]}',
         "aggregate: envelope version 2, this job reads 1"),
        (b'{"clickstream_aggregate": 1, "events": []}',
         "aggregate: no events (`events` must be a non-empty array)"),
        (b'{"clickstream_aggregate": 1}', "aggregate: no events (`events` must be a non-empty array)"),
    ],
)
def test_an_aggregate_the_job_cannot_read_is_quarantined_whole(payload, reason):
    bronze, [row] = sink_tables([payload])
    assert bronze == []
    assert row["reason"] == reason and row["raw_record"] == payload.decode()
    assert row["kinesis_record_index"] is None


def test_a_compressed_aggregate_that_does_not_inflate_is_quarantined_whole_as_base64():
    truncated = aggregated(record(), record())[:-6]
    bronze, [row] = sink_tables([truncated])
    assert bronze == []
    assert row["reason"].startswith("aggregate: compressed record does not inflate")
    assert base64.b64decode(row["raw_record"].removeprefix("base64:")) == truncated


def test_events_of_an_aggregate_that_are_not_objects_are_quarantined_each():
    payload = b'{"clickstream_aggregate": 1, "events": [5, null, "x"]}'
    bronze, rows = sink_tables([payload])
    assert bronze == []
    assert [(r["kinesis_record_index"], r["raw_record"], r["reason"]) for r in rows] == [
        (index, raw, "malformed_json: record is not a JSON object")
        for index, raw in enumerate(["5", "null", "x"])]


def test_events_of_erased_people_are_dropped():
    """Hashes on the suppression list drop the events of their ids, valid or quarantined;
    an id the erased one is a prefix of, or that names it in a property, is kept."""
    salt = "test-salt"
    erased = record(anonymous_id="anon-1")
    identified = record(anonymous_id="anon-9", user_id="u-1")
    broken = record(anonymous_id="anon-1", event_type="teleport")
    prefix = record(anonymous_id="anon-10", user_id="u-10", properties={"note": "anon-1"})
    rows = sink_rows(source_rows([orjson.dumps(r) for r in (erased, identified, broken, prefix)]))
    listed = listed_rows(rows, frozenset({subject_hash("anon-1", salt), subject_hash("u-1", salt)}),
                         salt)
    assert listed.to_pylist() == [True, True, True, False]
    assert listed_rows(rows, frozenset(), salt).to_pylist() == [False] * 4


def test_rows_have_the_sink_schema_and_quarantined_rows_the_time_they_were_stamped():
    rows = sink_rows(source_rows([orjson.dumps(record()), b"not json"]), NOW)
    assert rows.schema.equals(SINK_SCHEMA)
    assert rows.column("sink_table").to_pylist() == ["bronze", "quarantine"]
    assert rows.column("dedup_key").to_pylist()[1] == "shardId-000000000000/49001"
    [bad] = table_rows(rows, "quarantine").to_pylist()
    assert (bad["quarantined_at"], bad["quarantine_date"]) == (NOW, date(2026, 11, 25))
    assert sink_rows(ARROW_SCHEMA.empty_table()).schema.equals(SINK_SCHEMA)


def test_values_of_other_json_types_are_kept_as_their_json_text():
    good = record(page_path=7, properties={"price": 9.5, "tags": ["a", "b"], "gift": None},
                  element={"id": "buy", "text": 3})
    [row], _ = sink_tables([orjson.dumps(good)])
    assert row["page_path"] == "7"
    assert row["properties"] == [("price", "9.5"), ("tags", '["a","b"]')]
    assert row["element"] == {"id": "buy", "text": "3", "selector": None}


@pytest.mark.parametrize("field, value", [
    ("element", "buy"), ("properties", ["price"]), ("schema_version", "1"),
    ("schema_version", True), ("is_bot", "no")])
def test_a_field_of_a_type_its_column_cannot_hold_quarantines_the_event(field, value):
    broken = record(**{field: value})
    bronze, [row] = sink_tables([orjson.dumps(broken)])
    assert bronze == []
    assert row["reason"] == "malformed_json: record is not a JSON object"
    assert row["event_id"] == broken["event_id"]


@pytest.mark.parametrize("overrides, reason", [
    ({"properties": {f"k{n}": "v" for n in range(51)}},
     "properties: at most 50 keys of <= 128 chars, values <= 2048 chars"),
    ({"properties": {"k": "v" * 2049}},
     "properties: at most 50 keys of <= 128 chars, values <= 2048 chars"),
    ({"element": {"selector": "s" * 2049}}, "element: values <= 2048 chars"),
    ({"referrer": "https://x.example/" + "p" * 4096}, "page_url, referrer: at most 4096 chars"),
    ({"user_id": "u" * 129}, "user_id: at most 128 chars"),
    ({"session_id": "   "}, "session_id: required, 1-128 chars"),
    ({"event_time": "2026-11-24T23:59:59"}, "event_time: required ISO-8601 timestamp with zone"),
    ({"event_type": "custom:wishlist.add"}, None),
])
def test_size_and_format_rules(overrides, reason):
    bronze, quarantined = sink_tables([orjson.dumps(record(**overrides))])
    assert [r["reason"] for r in quarantined] == ([reason] if reason else [])
    assert len(bronze) == (0 if reason else 1)
