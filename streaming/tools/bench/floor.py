"""`clickstream bench --mode batch-floor`: what the bronze sink's commits add to a micro-batch.

The same streaming query runs in one Spark session into three sinks:
- `noop`, Spark's: the source read and nothing else;
- `parse`: the job's sink without its commits (the batch fetched as Arrow, parsed and
  checked by `sink_rows`, split per table), the floor of the job's own work since parsing
  moved from Spark's plan into the sink;
- `bronze`: the job's sink (`BatchWriter`: the same, then dedup and the bronze and
  quarantine commits through delta-rs).
Its source is Spark's `rate-micro-batch`, which hands every batch exactly
`rows / EVENTS_PER_RECORD` rows; each row becomes a stream record as the handler writes it,
an aggregate of `EVENTS_PER_RECORD` events (a template event from the traffic generator,
each copy with a distinct event_id), so every batch holds `rows` events and the
deduplication keeps them all. bronze / parse is what the commit path costs a batch.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from streaming.records import AGGREGATE_EVENTS, AGGREGATE_MARKER, AGGREGATE_VERSION
from streaming.settings import Settings
from streaming.stream.job import BatchWriter, ensure_tables
from streaming.stream.spark import build_spark
from streaming.stream.transforms import sink_rows, table_rows
from streaming.tools.bench.runs import enriched_records

Say = Callable[[str], None]
TEMPLATE_ID = "00000000-0000-4000-8000-000000000000"
EVENTS_PER_RECORD = 20
SINKS = ("noop", "parse", "bronze")


def record_stream(spark: SparkSession, settings: Settings, rows: int) -> DataFrame:
    """`rows` enriched events a batch, each with its own event_id, in aggregated records of
    `EVENTS_PER_RECORD` as the handler writes a tracker request's events, as the Kinesis
    source's columns."""
    _, template = enriched_records(1, settings)[0]
    record = json.loads(template)
    record["event_id"] = TEMPLATE_ID
    head, tail = json.dumps(record, separators=(",", ":")).split(TEMPLATE_ID)
    events = [F.concat(F.lit(head), F.format_string("%08x-0000-4000-8000-%012x", F.lit(index),
                                                    F.col("value")), F.lit(tail))
              for index in range(EVENTS_PER_RECORD)]
    envelope = f'{{"{AGGREGATE_MARKER}":{AGGREGATE_VERSION},"{AGGREGATE_EVENTS}":['
    rate = spark.readStream.format("rate-micro-batch").option(
        "rowsPerBatch", max(1, rows // EVENTS_PER_RECORD)).load()
    return rate.select(
        F.concat(F.lit("shardId-"), (F.col("value") % 2).cast("string")).alias("shard_id"),
        F.col("value").cast("string").alias("sequence_number"),
        F.lit(record["anonymous_id"]).alias("partition_key"),
        F.col("timestamp").alias("approximate_arrival_timestamp"),
        F.concat(F.lit(envelope), F.concat_ws(",", *events), F.lit("]}")).cast("binary").alias("data"))


def parse_only(batch: DataFrame, batch_id: int) -> None:
    """The job's sink up to its commits: fetch, parse and check, split per table."""
    rows = sink_rows(batch.toArrow())
    table_rows(rows, "bronze"), table_rows(rows, "quarantine")


def batch_seconds(spark: SparkSession, settings: Settings, rows: int, batches: int, sink: str,
                  checkpoint: str) -> list[float]:
    """Trigger durations of `batches` micro-batches into `sink` (SINKS)."""
    stream = record_stream(spark, settings, rows)
    writer = stream.writeStream.option("checkpointLocation", checkpoint)
    writer = (writer.format("noop") if sink == "noop"
              else writer.foreachBatch(parse_only if sink == "parse" else BatchWriter(settings)))
    query = writer.trigger(processingTime="0 seconds").start()
    try:
        while len([p for p in query.recentProgress if p["numInputRows"]]) < batches:
            if query.exception():
                raise RuntimeError(f"{sink} query failed: {query.exception()}")
            time.sleep(0.2)
    finally:
        query.stop()
    done = [p for p in query.recentProgress if p["numInputRows"]][:batches]
    return [p["durationMs"]["triggerExecution"] / 1000 for p in done]


def run_batch_floor(settings: Settings, rows: int, batches: int, say: Say) -> dict:
    """Each sink in turn, twice: alternating cancels a drift of the machine; the first
    three batches of each run are warm-up and left out."""
    spark = build_spark(settings, "clickstream-bench-floor")
    spark.conf.set("spark.sql.streaming.noDataMicroBatches.enabled", "false")
    ensure_tables(settings)
    runs: dict[str, list[float]] = {sink: [] for sink in SINKS}
    for round_ in range(2):
        for sink in SINKS:
            checkpoint = (settings.bronze_checkpoint_uri if sink == "bronze"
                          else f"{settings.checkpoint_uri}/noop-{round_}")
            say(f"{sink} sink, round {round_ + 1}: {batches} batches of {rows:,} rows ...")
            seconds = batch_seconds(spark, settings, rows, batches, sink, checkpoint)
            runs[sink] += seconds[3:]
    medians = {sink: statistics.median(values) for sink, values in runs.items()}
    return {"mode": "batch-floor", "rows_per_batch": rows, "batches_per_run": batches,
            "batch_seconds": {sink: [round(v, 3) for v in values] for sink, values in runs.items()},
            "median_s": {sink: round(v, 3) for sink, v in medians.items()},
            "ratio_to_noop": round(medians["bronze"] / medians["noop"], 2),
            "ratio_to_parse": round(medians["bronze"] / medians["parse"], 2)}
