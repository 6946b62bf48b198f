"""The job's transforms on batch DataFrames shaped like the Kinesis source's rows."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime

import orjson
import pytest
from pyspark.sql import functions as F

from streaming.erased import subject_hash
from streaming.lake import tables
from streaming.lake.suppression import listed_rows
from streaming.record_codec import inflate
from streaming.records import aggregate
from streaming.stream.transforms import (
    BRONZE_COLUMNS,
    QUARANTINE_COLUMNS,
    parse_records,
    sink_rows,
    table_rows,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]
ARRIVAL = datetime(2026, 11, 25, 10, 0, 1, tzinfo=UTC)


def record(**overrides) -> dict:
    base = {"event_id": str(uuid.uuid4()), "event_type": "page_view",
            "event_time": "2026-11-24T23:59:59.5+01:00", "anonymous_id": "a",
            "session_id": "s", "page_url": "https://shop.example.com/",
            "received_at": "2026-11-25T10:00:00.123456Z", "ingest_id": "i",
            "properties": {"price": "9.5"}, "element": {"id": "buy"}, "is_bot": False,
            "schema_version": 1}
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def source_rows(spark, payloads: list[bytes]):
    """Records as the job's Kinesis reader hands them to Spark: compressed ones inflated."""
    rows = [(inflate(payload), "shardId-000000000000", str(49_000 + n), ARRIVAL)
            for n, payload in enumerate(payloads)]
    return spark.createDataFrame(
        rows, "data binary, shard_id string, sequence_number string, "
        "approximate_arrival_timestamp timestamp")


def parsed(spark, payloads: list[bytes]):
    return parse_records(source_rows(spark, payloads))


def sink_tables(batch) -> tuple[list[dict], list[dict]]:
    """The bronze and quarantine rows of a batch, as the job's sink hands them to Delta."""
    rows = sink_rows(batch).toArrow()
    return table_rows(rows, "bronze").to_pylist(), table_rows(rows, "quarantine").to_pylist()


def test_valid_record_becomes_a_typed_bronze_row(spark):
    good = record()
    [row], quarantined = sink_tables(parsed(spark, [orjson.dumps(good)]))
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
def test_invalid_records_are_quarantined_with_raw_record_and_reason(spark, payload, reason):
    bronze, [row] = sink_tables(parsed(spark, [payload]))
    assert bronze == []
    assert tuple(row) == QUARANTINE_COLUMNS
    assert row["reason"] == reason and row["raw_record"] == payload.decode()


def test_every_broken_rule_is_listed_in_one_reason(spark):
    payload = orjson.dumps({"event_id": "x", "event_type": "hover", "anonymous_id": "a"})
    _, [row] = sink_tables(parsed(spark, [payload]))
    assert row["reason"].split("; ") == [
        "event_id: required UUID", "event_type: not a v1 event type",
        "event_time: required ISO-8601 timestamp with zone",
        "session_id: required, 1-128 chars",
        "received_at: missing, the record did not pass the ingestion handler"]


def aggregated(*events: dict) -> bytes:
    [one] = aggregate([("a", orjson.dumps(e)) for e in events])
    return one.data


def test_an_aggregate_becomes_one_row_per_event_and_a_broken_one_is_quarantined_alone(spark):
    first, broken, last = record(), record(event_type="hover"), record(anonymous_id="b")
    bronze, [bad] = sink_tables(parsed(spark, [aggregated(first, broken, last),
                                               orjson.dumps(record(event_id=first["event_id"]))]))
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
def test_an_aggregate_the_job_cannot_read_is_quarantined_whole(spark, payload, reason):
    bronze, [row] = sink_tables(parsed(spark, [payload]))
    assert bronze == []
    assert row["reason"] == reason and row["raw_record"] == payload.decode()
    assert row["kinesis_record_index"] is None


def test_a_compressed_aggregate_that_does_not_inflate_is_quarantined_whole_as_base64(spark):
    truncated = aggregated(record(), record())[:-6]
    bronze, [row] = sink_tables(parsed(spark, [truncated]))
    assert bronze == []
    assert row["reason"].startswith("aggregate: compressed record does not inflate")
    assert base64.b64decode(row["raw_record"].removeprefix("base64:")) == truncated


def test_events_of_an_aggregate_that_are_not_objects_are_quarantined_each(spark):
    payload = b'{"clickstream_aggregate": 1, "events": [5, null, "x"]}'
    bronze, rows = sink_tables(parsed(spark, [payload]))
    assert bronze == []
    assert [(r["kinesis_record_index"], r["raw_record"], r["reason"]) for r in rows] == [
        (index, raw, "malformed_json: record is not a JSON object")
        for index, raw in enumerate(["5", "null", "x"])]


def test_dedup_keeps_one_row_per_event_id_across_batches_restarts_and_every_distinct_bad_record(
        spark, tmp_path):
    """Micro-batches through the job's sink: the repeat inside the first batch, the retry in
    the second and the one after a restart (a new sink, rebuilt from bronze) are dropped; bad
    records at distinct stream positions are all kept."""
    from streaming.lake.read import read_columns
    from streaming.stream.job import BatchWriter, ensure_tables
    from tests.conftest import isolated_settings

    settings = isolated_settings(tmp_path)
    checkpoint = tmp_path / "checkpoints" / "bronze"
    checkpoint.mkdir(parents=True)
    (checkpoint / "metadata").write_text(orjson.dumps({"id": str(uuid.uuid4())}).decode())
    ensure_tables(spark, settings)
    now = ARRIVAL.timestamp() + 5
    twice, other = orjson.dumps(record()), orjson.dumps(record())
    bad_pair = b'{"clickstream_aggregate": 1, "events": [1, 2]}'
    batches = [[twice, other, twice, b"bad one", bad_pair], [twice, b"bad one", bad_pair],
               [other, twice]]
    writer = BatchWriter(settings, clock=lambda: now)
    for n, payloads in enumerate(batches):
        if n == 2:
            writer = BatchWriter(settings, clock=lambda: now + 3600)  # restarted an hour later
        offset = len(batches[0]) * n
        rows = source_rows(spark, payloads).withColumn(
            "sequence_number", (F.col("sequence_number").cast("long") + offset).cast("string"))
        writer(sink_rows(parse_records(rows)), n)
    bronze = read_columns(tables.BRONZE.uri(settings), ["event_id"]).column("event_id").to_pylist()
    assert sorted(bronze) == sorted(orjson.loads(p)["event_id"] for p in (twice, other))
    quarantine = read_columns(tables.QUARANTINE.uri(settings),
                              ["kinesis_sequence_number", "kinesis_record_index"]).to_pylist()
    assert sorted((r["kinesis_sequence_number"], r["kinesis_record_index"]) for r in quarantine) == [
        ("49003", None), ("49004", 0), ("49004", 1), ("49006", None), ("49007", 0), ("49007", 1)]


def test_a_replayed_batch_that_delta_already_holds_is_skipped_not_waited_on(spark, tmp_path):
    """A crash after the bronze commit and before the checkpoint's: the restarted job replays
    the batch, the commit path skips it by its app transaction, and the writer must neither hang
    nor double it."""
    import threading

    from streaming.lake.read import read_columns
    from streaming.stream.job import BatchWriter, ensure_tables
    from tests.conftest import isolated_settings

    settings = isolated_settings(tmp_path)
    checkpoint = tmp_path / "checkpoints" / "bronze"
    checkpoint.mkdir(parents=True)
    (checkpoint / "metadata").write_text(orjson.dumps({"id": str(uuid.uuid4())}).decode())
    ensure_tables(spark, settings)
    first, batch = (sink_rows(parsed(spark, [orjson.dumps(record()), orjson.dumps(record()),
                                             b"not json"])) for _ in range(2))
    BatchWriter(settings)(first, 0)
    BatchWriter(settings)(batch, 1)
    replay = threading.Thread(target=BatchWriter(settings), args=(batch, 1), daemon=True)
    replay.start()
    replay.join(timeout=120)
    assert not replay.is_alive(), "the replayed batch is waited on forever"
    assert read_columns(tables.BRONZE.uri(settings), ["event_id"]).num_rows == 4
    assert read_columns(tables.QUARANTINE.uri(settings), ["reason"]).num_rows == 2


def test_events_of_erased_people_are_dropped(spark):
    """Hashes on the suppression list drop the events of their ids, valid or quarantined;
    an id the erased one is a prefix of, or that names it in a property, is kept."""
    salt = "test-salt"
    erased = record(anonymous_id="anon-1")
    identified = record(anonymous_id="anon-9", user_id="u-1")
    broken = record(anonymous_id="anon-1", event_type="teleport")
    prefix = record(anonymous_id="anon-10", user_id="u-10", properties={"note": "anon-1"})
    rows = sink_rows(parsed(spark, [orjson.dumps(r) for r in (erased, identified, broken, prefix)])
                     ).toArrow()
    listed = listed_rows(rows, frozenset({subject_hash("anon-1", salt), subject_hash("u-1", salt)}),
                         salt)
    assert listed.to_pylist() == [True, True, True, False]
    assert listed_rows(rows, frozenset(), salt).to_pylist() == [False] * 4
