"""Rebuilding one day of a Spark-written table (silver, gold) from its upstream tables.

Each rebuild replaces exactly its day, committed through the lake's one commit path
(delta-rs, streaming/lake/delta.py: a partition replacement, safe beside other writers), so
running it again is idempotent and leaves the other days untouched. The Dagster assets
build days with it, and an erasure rebuilds the gold days whose numbers counted the person
once their rows are gone.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from streaming.lake import tables
from streaming.lake.delta import target
from streaming.lake.modeling import funnel, page_kpis
from streaming.lake.read import latest_version
from streaming.lake.tables import Table
from streaming.settings import Settings


def spark_day(spark: SparkSession, uri: str, table: Table, day: str) -> DataFrame:
    """One day's partition of `table` at `uri`, in Spark."""
    if latest_version(uri) < 0:
        raise FileNotFoundError(f"no Delta table at {uri} yet: has the stream job written?")
    return (spark.read.format("delta").load(uri)
            .filter(F.col(table.partition) == F.lit(day).cast("date")))


def spark_table(spark: SparkSession, uri: str) -> DataFrame | None:
    """All of the table at `uri`, in Spark; None before its first commit."""
    return spark.read.format("delta").load(uri) if latest_version(uri) >= 0 else None


def replace_day(frame: DataFrame, settings: Settings, table: Table, day: str) -> int:
    """Overwrites one day's partition with `frame`; returns its row count. The day's rows
    come to the driver as Arrow (a day of sessions, links or KPIs, not of events)."""
    rows = frame.toArrow()
    target(settings, table).replace_partition(rows, day)
    return rows.num_rows


def rebuild_gold(spark: SparkSession, settings: Settings, days: list[date]) -> dict[str, int]:
    """Gold page KPIs and funnel of `days`, from bronze and silver as they are now; returns
    each gold table's version after."""
    for day in map(str, days):
        events = spark_day(spark, tables.BRONZE.uri(settings), tables.BRONZE, day)
        sessions = spark_day(spark, tables.SESSIONS.uri(settings), tables.SESSIONS, day)
        replace_day(page_kpis(events, sessions), settings, tables.PAGE_KPIS, day)
        replace_day(funnel(sessions), settings, tables.FUNNEL, day)
    return {table.name: latest_version(table.uri(settings))
            for table in (tables.PAGE_KPIS, tables.FUNNEL)}
