"""OPTIMIZE and VACUUM of bronze while the stream job keeps writing to it."""

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from dagster import materialize
from pyspark.sql import functions as F

from clickstream_assets.defs.lake.maintenance import bronze_optimize, bronze_vacuum, snapshot_files
from clickstream_assets.resources import build_resources
from streaming.ingest.auth import basic_authorization
from streaming.lake import tables
from streaming.lake.delta import bronze_target
from streaming.lake.read import read_columns
from streaming.settings import DEV_WRITE_KEY
from tests.conftest import isolated_settings

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def send_batches(url: str, sent: list[str], stop: threading.Event) -> None:
    """A tracker-like trickle: a small batch every 100 ms until told to stop."""
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            batch = [{"event_id": str(uuid.uuid4()), "event_type": "page_view",
                      "event_time": datetime.now(UTC).isoformat(), "anonymous_id": f"m-{n}",
                      "session_id": "s", "page_url": "https://shop.example.com/"}
                     for n in range(20)]
            answer = client.post(url, json={"events": batch},
                                 headers={"authorization": basic_authorization(DEV_WRITE_KEY)})
            if answer.status_code == 200:
                sent.extend(e["event_id"] for e in batch)
            time.sleep(0.1)


def parquet_files(uri: str) -> set[str]:
    return {str(p) for p in Path(uri).rglob("*.parquet") if "_delta_log" not in p.parts}


def metadata_of(result, node: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def test_optimize_and_vacuum_while_the_stream_writes(stack, spark):
    resources = build_resources(stack.settings)
    sent: list[str] = []
    stop = threading.Event()
    sender = threading.Thread(target=send_batches,
                              args=(f"{stack.settings.gateway_url}/v1/events", sent, stop))
    sender.start()
    try:
        deadline = time.monotonic() + 300
        while len(parquet_files(tables.BRONZE.uri(stack.settings))) < 5 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(parquet_files(tables.BRONZE.uri(stack.settings))) >= 5, "the stream wrote no files"
        optimized = materialize([bronze_optimize], resources=resources)
        files_before_vacuum = parquet_files(tables.BRONZE.uri(stack.settings))
        vacuumed = materialize([bronze_vacuum], resources=resources)
        files_after_vacuum = parquet_files(tables.BRONZE.uri(stack.settings))
        # Traffic after the maintenance too, and enough of it whatever the speed of the rest:
        # a faster job reached 5 files after 500 events had been sent.
        time.sleep(3)
        deadline = time.monotonic() + 120
        while len(sent) <= 500 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        sender.join()
    optimize = metadata_of(optimized, "bronze_optimize")
    assert optimize["files_removed"] > optimize["files_added"] > 0
    assert optimize["bytes_before"] > 0 and optimize["zorder_by"] == "anonymous_id"
    vacuum = metadata_of(vacuumed, "bronze_vacuum")
    assert vacuum["retention_hours"] == 168
    assert files_before_vacuum <= files_after_vacuum, "VACUUM deleted a file within retention"
    assert vacuum["files_after"] >= vacuum["files_before"]

    wanted = set(sent)
    deadline = time.monotonic() + 120
    while True:
        ids = read_columns(tables.BRONZE.uri(stack.settings), ["event_id"])["event_id"].to_pylist()
        counts = Counter(i for i in ids if i in wanted)
        if len(counts) == len(wanted) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(wanted) > 500
    assert len(counts) == len(wanted) and set(counts.values()) == {1}


def test_vacuum_with_zero_retention_deletes_what_optimize_replaced(spark, tmp_path):
    """On a table nothing else writes to, VACUUM RETAIN 0 leaves exactly the live files. The
    table is written by delta-spark, as bronze was before the commit path moved to delta-rs:
    an upgraded deployment's table is maintained the same way, and Spark still reads it."""
    settings = isolated_settings(tmp_path)
    for n in range(6):
        spark.createDataFrame([(f"a-{n}", n)], "anonymous_id string, n int").withColumn(
            "event_date", F.lit("2026-11-20").cast("date"),
        ).write.format("delta").mode("append").partitionBy("event_date").save(tables.BRONZE.uri(settings))
    resources = build_resources(settings)
    materialize([bronze_optimize], resources=resources)
    live_files, _ = snapshot_files(bronze_target(settings))
    result = materialize([bronze_vacuum], resources=resources,
                         run_config={"ops": {"bronze_vacuum": {"config": {"retention_hours": 0}}}})
    vacuum = metadata_of(result, "bronze_vacuum")
    assert (vacuum["files_before"], vacuum["files_after"]) == (6 + live_files, live_files)
    assert spark.read.format("delta").load(tables.BRONZE.uri(settings)).count() == 6
