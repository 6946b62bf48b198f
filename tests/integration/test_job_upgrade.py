"""A job upgraded in place keeps its checkpoint: earlier versions deduplicated in Spark's
state store (`dropDuplicatesWithinWatermark`), and Spark refuses to restart a query whose
stateful operators changed. The job removes that state at start and rebuilds its dedup keys
from bronze, so it resumes where the old query stopped: nothing read twice, nothing skipped,
and a copy of an event the old query stored is still dropped."""

import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from streaming.kinesis import kinesis_client, put_records
from streaming.lake import tables
from streaming.lake.read import read_columns
from streaming.local.stack import LocalStack
from streaming.stream.job import BatchWriter, ensure_tables
from streaming.stream.source import SOURCE_NAME, KinesisDataSource
from streaming.tools.bench.runs import enriched_records
from tests.conftest import isolated_settings

pytestmark = [pytest.mark.slow, pytest.mark.spark]

FIRST, SECOND = 200, 100


def bronze_ids(settings) -> list[str]:
    return read_columns(tables.BRONZE.uri(settings), ["event_id"])["event_id"].to_pylist()


def run_old_query(spark, settings, expected: int) -> None:
    """The bronze query as the job ran it before: dedup in a Spark state store."""
    spark.dataSource.register(KinesisDataSource)
    ensure_tables(settings)
    stream = (spark.readStream.format(SOURCE_NAME).option("streamName", settings.stream_name)
              .option("region", settings.region).option("mode", settings.mode)
              .option("endpointUrl", settings.kinesis_endpoint_url)
              .load())
    deduplicated = (stream.withColumn("processed_at", F.current_timestamp())
                    .withWatermark("processed_at", settings.dedup_window)
                    .dropDuplicatesWithinWatermark(["shard_id", "sequence_number"])
                    .drop("processed_at"))
    query = (deduplicated.writeStream.option("checkpointLocation", settings.bronze_checkpoint_uri)
             .foreachBatch(BatchWriter(settings)).trigger(processingTime="0 seconds").start())
    try:
        deadline = time.monotonic() + 300
        while len(bronze_ids(settings)) < expected and time.monotonic() < deadline:
            assert query.exception() is None, query.exception()
            time.sleep(0.5)
    finally:
        query.stop()


def test_a_checkpoint_with_spark_dedup_state_resumes_exactly(spark, tmp_path):
    settings = isolated_settings(tmp_path)
    stack = LocalStack(settings)
    try:
        stack.start_kinesis()
        client = kinesis_client(settings)
        first = enriched_records(FIRST, settings)
        assert put_records(client, settings.stream_name, first).failed == 0
        run_old_query(spark, settings, FIRST)
        assert len(bronze_ids(settings)) == FIRST
        state = Path(settings.bronze_checkpoint_uri) / "state"
        assert state.is_dir(), "the old query kept its dedup keys in a state store"

        second = enriched_records(SECOND, settings)  # new event ids (uuid4), and one copy
        assert put_records(client, settings.stream_name, [*second, first[0]]).failed == 0
        job = stack.start_job(trigger="available-now")
        assert job.wait(timeout=600) == 0, (stack.log_dir / "job.log").read_text()[-4000:]
    finally:
        stack.stop()
    ids = bronze_ids(settings)
    assert len(ids) == len(set(ids)) == FIRST + SECOND
    assert not state.exists()
    assert "removed the checkpoint's Spark state store" in (stack.log_dir / "job.log").read_text()
