"""The job's sink (`BatchWriter`) on micro-batches shaped as the query hands them over: the
Kinesis source's records, in Spark."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from pyspark.sql import functions as F

from streaming.lake import tables
from streaming.record_codec import inflate

pytestmark = [pytest.mark.slow, pytest.mark.spark]
ARRIVAL = datetime(2026, 11, 25, 10, 0, 1, tzinfo=UTC)


def record() -> dict:
    return {"event_id": str(uuid.uuid4()), "event_type": "page_view",
            "event_time": "2026-11-24T23:59:59.5+01:00", "anonymous_id": "a",
            "session_id": "s", "page_url": "https://shop.example.com/",
            "received_at": "2026-11-25T10:00:00.123456Z", "ingest_id": "i", "schema_version": 1}


def source_rows(spark, payloads: list[bytes]):
    """Records as the job's Kinesis reader hands them to Spark: compressed ones inflated."""
    rows = [(inflate(payload), "shardId-000000000000", str(49_000 + n), "a", ARRIVAL)
            for n, payload in enumerate(payloads)]
    return spark.createDataFrame(
        rows, "data binary, shard_id string, sequence_number string, partition_key string, "
        "approximate_arrival_timestamp timestamp")


def test_dedup_keeps_one_row_per_event_id_across_batches_restarts_and_every_distinct_bad_record(
        spark, tmp_path):
    """Micro-batches through the job's sink: the repeat inside the first batch, the retry in
    the second and the one after a restart (a new sink, its keys rebuilt from bronze) are
    dropped; bad records at distinct stream positions are all kept."""
    from streaming.lake.read import read_columns
    from streaming.stream.job import BatchWriter, ensure_tables
    from tests.conftest import isolated_settings

    settings = isolated_settings(tmp_path)
    checkpoint = tmp_path / "checkpoints" / "bronze"
    checkpoint.mkdir(parents=True)
    (checkpoint / "metadata").write_text(orjson.dumps({"id": str(uuid.uuid4())}).decode())
    ensure_tables(settings)
    now = ARRIVAL.timestamp() + 5
    twice, other = orjson.dumps(record()), orjson.dumps(record())
    bad_pair = b'{"clickstream_aggregate": 1, "events": [1, 2]}'
    batches = [[twice, other, twice, b"bad one", bad_pair], [twice, b"bad one", bad_pair],
               [other, twice]]
    writer = BatchWriter(settings, clock=lambda: now)
    for n, payloads in enumerate(batches):
        if n == 2:  # restarted an hour later; the job rebuilds the keys while Spark starts
            writer = BatchWriter(settings, clock=lambda: now + 3600)
            writer.prepare()
            assert len(writer.rebuilding.result()) == 2
        offset = len(batches[0]) * n
        rows = source_rows(spark, payloads).withColumn(
            "sequence_number", (F.col("sequence_number").cast("long") + offset).cast("string"))
        writer(rows, n)
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
    ensure_tables(settings)
    first, batch = (source_rows(spark, [orjson.dumps(record()), orjson.dumps(record()), b"not json"])
                    for _ in range(2))
    BatchWriter(settings)(first, 0)
    BatchWriter(settings)(batch, 1)
    replay = threading.Thread(target=BatchWriter(settings), args=(batch, 1), daemon=True)
    replay.start()
    replay.join(timeout=120)
    assert not replay.is_alive(), "the replayed batch is waited on forever"
    assert read_columns(tables.BRONZE.uri(settings), ["event_id"]).num_rows == 4
    assert read_columns(tables.QUARANTINE.uri(settings), ["reason"]).num_rows == 2
