"""The stream job (the Glue job script): Kinesis -> parse/validate -> dedup -> Delta.

Dedup happens in the sink, on the batch as Arrow (streaming/stream/dedup.py), not in a
Spark state store.

Each micro-batch writes valid rows to bronze (partitioned by event_date) and broken ones to
quarantine with their reason, through the lake's one commit path (delta-rs). Both commits
carry an app transaction (the query's id, the batch id), so a batch replayed after a crash
commits nothing twice; offsets live in the checkpoint, so nothing is read twice or skipped.

Run it continuously (`--trigger continuous`, the default) or as a catch-up that drains the
backlog and stops (`--trigger available-now`), on the same checkpoint.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery, StreamingQueryListener

from streaming.erased import subject_salt
from streaming.lake.delta import bronze_target, quarantine_target
from streaming.lake.suppression import listed_rows, suppressed, suppression_target
from streaming.settings import Settings, glue_arguments_to_env, load_settings
from streaming.stream.backlog import planned_batch, query_id
from streaming.stream.dedup import RecentKeys, rebuild, window_seconds
from streaming.stream.source import ARROW_SCHEMA as SOURCE_SCHEMA
from streaming.stream.source import SOURCE_NAME, KinesisDataSource, shard_limit
from streaming.stream.status import (
    EXIT_CHECKPOINT_BUSY,
    PROGRESS_LOG,
    STATUS_FILE,
    CheckpointBusy,
    checkpoint_lock,
    write_status,
)
from streaming.stream.transforms import sink_rows, table_rows

log = logging.getLogger("streaming.stream.job")
QUERY_NAME = "bronze_events"
ARROW_RECORDS_PER_BATCH = 200
class StatusListener(StreamingQueryListener):
    """Publishes the query's last progress so health can be observed without asking Spark."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.logged: set[tuple[str, int]] = set()
        self.lock = threading.Lock()

    def onQueryStarted(self, event) -> None:
        write_status(self.path, state="running", query_id=str(event.id), run_id=str(event.runId),
                     pid=os.getpid(), started_at=time.time())

    def onQueryProgress(self, event) -> None:
        progress = json.loads(event.progress.json)
        write_status(self.path, state="running", last_progress=progress)
        self.log_progress(progress)

    def log_progress(self, progress: dict) -> None:
        """Appends a batch that read rows to the progress log, once per (run, batch)."""
        key = (progress.get("runId", ""), progress.get("batchId", -1))
        with self.lock:
            if not progress.get("numInputRows") or key in self.logged:
                return
            self.logged.add(key)
            with self.path.with_name(PROGRESS_LOG).open("a") as log:
                log.write(json.dumps(progress) + "\n")

    def onQueryIdle(self, event) -> None:
        write_status(self.path, state="running", idle_since=time.time())

    def onQueryTerminated(self, event) -> None:
        write_status(self.path, state="failed" if event.exception else "stopped",
                     exception=event.exception, stopped_at=time.time())


class BatchWriter:
    """foreachBatch sink: one bronze and (when needed) one quarantine commit per batch, both
    through the lake's one commit path (streaming/lake/delta.py: delta-rs, safe beside
    Dagster's OPTIMIZE, VACUUM and restore, and ~40 ms a commit where delta-spark took ~1 s).

    The batch's records are fetched as Arrow once, still compressed, and inflated, parsed and
    checked in the sink (`sink_rows`: Arrow's JSON reader for a batch of valid events, ~10 us
    of CPU an event with the inflating, where Spark SQL expressions cost the JVM ~55-90 us;
    docs/benchmarks.md), repeated events are dropped (`RecentKeys`, rebuilt from bronze at the
    first batch), and the rest is split in Arrow; each commit carries the app transaction
    (query id, batch id), and a table that already holds it (a batch replayed after a crash
    past its commit) is not written again.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.app_id: str | None = None
        self.bronze = bronze_target(settings)
        self.quarantine = quarantine_target(settings)
        self.rebuilding: Future[RecentKeys] | None = None
        self.suppression = suppression_target(settings)
        self.suppressed_events = 0

    def _app_id(self) -> str:
        """The query id from the checkpoint: stable across restarts, new for a new checkpoint."""
        if self.app_id is None:
            self.app_id = f"clickstream-bronze-{query_id(self.settings.bronze_checkpoint_uri)}"
        return self.app_id

    def prepare(self) -> None:
        """Starts rebuilding the dedup keys from bronze in a thread of its own. A job that
        restarts beside a busy stream has millions of them to read (a 10-minute window at
        10,000 events/s), seconds that would otherwise delay its first batch; started before
        Spark, the rebuild runs while the driver's Python waits for the JVM. A window that is
        not one is refused here, before Spark starts."""
        if self.rebuilding is None:
            window = window_seconds(self.settings.dedup_window)
            pool = ThreadPoolExecutor(1, thread_name_prefix="dedup-rebuild")
            self.rebuilding = pool.submit(self._rebuild, window)
            pool.shutdown(wait=False)

    def _rebuild(self, window: float) -> RecentKeys:
        started = time.perf_counter()
        recent = rebuild(RecentKeys(window), self.bronze.current())
        log.info("dedup keys rebuilt from bronze: %s in %.1fs", f"{len(recent):,}",
                 time.perf_counter() - started)
        return recent

    def _recent(self) -> RecentKeys:
        self.prepare()
        return self.rebuilding.result()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        """`batch` holds the source's records (streaming/stream/source.py)."""
        self.write(batch.toArrow(), self._app_id(), batch_id)

    def write(self, records: pa.Table, app_id: str, batch_id: int) -> None:
        """The sink's work on a batch of the source's records as Arrow, with no Spark in it
        (the catch-up benchmark measures it alone: streaming/tools/bench/runs.py)."""
        rows = sink_rows(records)
        hashes = suppressed(self.suppression)
        if hashes:
            erased = listed_rows(rows, hashes, subject_salt(self.settings))
            dropped = pc.sum(erased).as_py() or 0
            if dropped:
                rows = rows.filter(pc.invert(erased))
                self.suppressed_events += dropped
                log.info("batch %s: %s events of erased people dropped", batch_id, dropped)
                write_status(self.settings.state_dir / STATUS_FILE,
                             suppressed_events=self.suppressed_events)
        admitted = self._recent().admit(rows.column("dedup_key"), self.clock())
        if admitted.false_count:
            rows = rows.filter(admitted)
        self.bronze.append(table_rows(rows, "bronze"), app_id, batch_id)
        self.quarantine.append(table_rows(rows, "quarantine"), app_id, batch_id)


def ensure_tables(settings: Settings) -> None:
    """Creates bronze and quarantine before the first batch, with the schema the batches will
    have as Arrow, so every later append matches it."""
    rows = sink_rows(SOURCE_SCHEMA.empty_table())
    bronze_target(settings).ensure(table_rows(rows, "bronze").schema)
    quarantine_target(settings).ensure(table_rows(rows, "quarantine").schema)


def retire_state_store(spark: SparkSession, settings: Settings) -> bool:
    """Removes the checkpoint's state store, if it has one: the job's earlier versions kept
    their dedup keys there (Spark's `dropDuplicatesWithinWatermark`), and Spark refuses to
    restart a query whose stateful operators changed. The sink's dedup rebuilds its keys from
    bronze instead (streaming/stream/dedup.py); offsets and commits are kept, so the job
    resumes exactly where it was. Through Hadoop's file system, as Spark reaches the
    checkpoint (a folder, or s3:// on AWS)."""
    jvm = spark.sparkContext._jvm
    state = jvm.org.apache.hadoop.fs.Path(f"{settings.bronze_checkpoint_uri}/state")
    files = state.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not files.exists(state):
        return False
    files.delete(state, True)
    log.warning("removed the checkpoint's Spark state store (%s): the dedup keys now live in "
                "the job's sink and are rebuilt from bronze", state)
    return True


def start_query(spark: SparkSession, settings: Settings, sink: BatchWriter) -> StreamingQuery:
    """The bronze query: the source's records straight into `sink`, which parses,
    deduplicates and commits them; no state store in Spark, so no watermark."""
    retire_state_store(spark, settings)
    # The sink fetches each batch's records as Arrow; Spark builds that Arrow a batch of this
    # many rows at a time. Its default, 10,000, made one Arrow batch of 10,000 aggregates
    # (~300 MB inflated; up to 1 MiB each) and ran the driver out of heap in a catch-up.
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_RECORDS_PER_BATCH))
    spark.dataSource.register(KinesisDataSource)
    ensure_tables(settings)
    reader = spark.readStream.format(SOURCE_NAME).option("streamName", settings.stream_name)
    reader = reader.option("region", settings.region).option("mode", settings.mode).option(
        "maxRecordsPerShard", str(settings.max_records_per_shard)).option(
        "maxRecordsPerBatch", str(settings.max_records_per_batch)).option(
        "idleSleepMs", str(settings.kinesis_poll_ms))
    if settings.kinesis_endpoint_url:
        reader = reader.option("endpointUrl", settings.kinesis_endpoint_url)
    writer = (reader.load().writeStream.queryName(QUERY_NAME)
              .option("checkpointLocation", settings.bronze_checkpoint_uri)
              .foreachBatch(sink))
    return writer.trigger(processingTime="0 seconds").start()


def caught_up(query: StreamingQuery, settings: Settings) -> Callable[[], bool]:
    """A check that says when `query` has caught up with the stream: after the first newly
    planned batch that was not full (every shard's read reached what the shard held) or found
    nothing, and that started with every closed shard of the stream finished.

    Spark's available-now trigger cannot drain a Python source: with no admission control the
    source's first read is the whole "available" range, so it would stop after one batch.
    Replays of a batch planned before a crash are not counted: they say nothing about what
    waits after them. After a reshard, the batch that reads a closed parent's last records
    is short, and its children are read only from the batch after the one that finished it
    (streaming/stream/source.py): such a batch says nothing of the children's backlog either.
    """
    from streaming.kinesis import kinesis_client, list_shards

    replayed = planned_batch(settings.bronze_checkpoint_uri)
    client = kinesis_client(settings)
    # What a full read of one shard returns (the reader splits the batch's records between
    # the shards it reads; all listed shards are at least as many, so this errs on reading on)
    full = shard_limit(settings.max_records_per_shard, settings.max_records_per_batch,
                       len(list_shards(client, settings.stream_name)))

    def check() -> bool:
        last = query.lastProgress  # its source offsets are strings; its JSON holds them parsed
        progress = json.loads(last.json) if last else None
        if (progress and (replayed is None or progress["batchId"] > replayed)
                and progress["numInputRows"] < full
                and not closed_shards_pending(list_shards(client, settings.stream_name),
                                              progress["sources"][0]["startOffset"])):
            log.info("caught up after batch %s (%s rows): stopping", progress["batchId"],
                     progress["numInputRows"])
            return True
        return False

    return check


def serve(query: StreamingQuery, stopping: threading.Event,
          done: Callable[[], bool] = lambda: False, poll_seconds: float = 0.5) -> None:
    """Waits for `query` to end, and stops it, from this (the main) thread, once a signal has
    set `stopping` or `done()` says so."""
    while not query.awaitTermination(poll_seconds):
        if stopping.is_set() or done():
            query.stop()


def closed_shards_pending(shards: list[dict], start: dict | None) -> list[str]:
    """The closed shards (ListShards' `shards`) not yet finished at a batch's `start` offset
    (None before the first batch): each still holds records, or children the reader has not
    started."""
    finished = set((start or {}).get("finished", []))
    return sorted(shard["ShardId"] for shard in shards
                  if "EndingSequenceNumber" in shard["SequenceNumberRange"]
                  and shard["ShardId"] not in finished)


def run(settings: Settings, trigger: str, spark: SparkSession | None = None) -> int:
    """Runs until stopped (continuous) or until the backlog is drained (available-now).

    A catch-up reads `catch_up_records_per_shard` records a shard a batch, the continuous job
    `max_records_per_shard`; both 1,000 by default, and `max_records_per_batch` (1,000) from
    all shards together. A batch's fixed cost is ~0.15 s now, so larger batches gain little,
    and every record of a batch is in the driver's memory at once (an aggregate holds 20-60
    events, ~30 KB inflated): a 1,000,000-event backlog on 2 shards drained at 39,000
    events/s with 1,000 records a batch (stack peak 2.1 GiB), 37,000-40,000/s with 2,000 or
    4,000 (2.5-3.0 GiB); before records crossed Spark compressed, 5,000 a shard ran the
    driver out of heap (docs/benchmarks.md).

    "starting" is published as soon as the lock is held, before Spark starts (a minute on a
    busy machine): observers must not take a starting job for a dead one and launch a
    catch-up that can only fail on the lock.
    """
    with checkpoint_lock(settings):
        write_status(settings.state_dir / STATUS_FILE, state="starting", trigger=trigger,
                     pid=os.getpid(), exception=None)
        return _run_query(settings, trigger, spark)


def _run_query(settings: Settings, trigger: str, spark: SparkSession | None) -> int:
    from streaming.stream.spark import build_spark

    sink = BatchWriter(settings)
    sink.prepare()
    spark = spark or build_spark(settings, f"clickstream-{QUERY_NAME}", delta=False)
    if trigger == "available-now":
        settings = replace(settings, max_records_per_shard=settings.catch_up_records_per_shard)
    status = settings.state_dir / STATUS_FILE
    listener = StatusListener(status)
    spark.streams.addListener(listener)
    query = start_query(spark, settings, sink)
    stopping = threading.Event()

    def stop(signum, _frame):
        """Only notes the request. A handler runs in the main thread, often inside a py4j call
        to the JVM (`awaitTermination`); a py4j call from here would reenter that call's
        connection ("reentrant call inside BufferedReader") and break it, failing the query
        with a trace instead of stopping it."""
        log.warning("signal %s: stopping the query after the current batch", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if trigger == "available-now":
        serve(query, stopping, caught_up(query, settings))
    else:
        serve(query, stopping)
    spark.streams.removeListener(listener)
    for progress in query.recentProgress:
        listener.log_progress(json.loads(progress.json))
    write_status(status, state="stopped", stopped_at=time.time())
    exception = query.exception()
    if exception:
        log.error("query failed: %s", exception)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trigger", choices=("continuous", "available-now"),
                        default="continuous")
    args, _glue_own = parser.parse_known_args(
        glue_arguments_to_env(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s job %(levelname)s %(message)s")
    # py4j logs every callback from the JVM (two lines a batch) at INFO.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        return run(load_settings(), args.trigger)
    except CheckpointBusy as exc:
        log.error("%s", exc)
        return EXIT_CHECKPOINT_BUSY


if __name__ == "__main__":
    sys.exit(main())
