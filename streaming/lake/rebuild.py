"""Rebuilding one day of a Spark-written table (silver, gold) from its upstream tables.

Each rebuild replaces exactly its day, committed through the lake's one commit path
(delta-rs, streaming/lake/delta.py: a partition replacement, safe beside other writers), so
running it again is idempotent and leaves the other days untouched. `build_day` is the one
home of how each silver and gold day is made: the Dagster assets call it on their own Spark
(embedded mode), the model-build Glue job (streaming/lake/build_job.py) on Glue's (AWS mode),
and an erasure rebuilds the gold days whose numbers counted the person once their rows are
gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from streaming.lake import tables
from streaming.lake.delta import target
from streaming.lake.modeling import funnel, identity_links, page_kpis, sessionize
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


@dataclass(frozen=True)
class BuiltDay:
    """What building one day committed, as the asset's materialization reports it wherever
    Spark ran: the day's rows, the table's Delta version after the commit and the bronze
    version it was built from."""

    table: str
    day: str
    rows: int
    path: str
    version: int
    bronze_version: int

    def metadata(self) -> dict[str, str | int]:
        return {"dagster/row_count": self.rows, "path": self.path, "delta_version": self.version,
                "bronze_version": self.bronze_version}


def _day(spark: SparkSession, settings: Settings, table: Table, day: str) -> DataFrame:
    return spark_day(spark, table.uri(settings), table, day)


def _sessions(spark: SparkSession, settings: Settings, day: str) -> DataFrame:
    links = spark_table(spark, tables.IDENTITIES.uri(settings))
    return sessionize(_day(spark, settings, tables.BRONZE, day), links)


def _identities(spark: SparkSession, settings: Settings, day: str) -> DataFrame:
    return identity_links(_day(spark, settings, tables.BRONZE, day))


def _page_kpis(spark: SparkSession, settings: Settings, day: str) -> DataFrame:
    return page_kpis(_day(spark, settings, tables.BRONZE, day),
                     _day(spark, settings, tables.SESSIONS, day))


def _funnel(spark: SparkSession, settings: Settings, day: str) -> DataFrame:
    return funnel(_day(spark, settings, tables.SESSIONS, day))


# Each Spark-built table: its day from the tables upstream (the assets' deps).
MODELS: dict[str, Callable[[SparkSession, Settings, str], DataFrame]] = {
    tables.SESSIONS.name: _sessions,
    tables.IDENTITIES.name: _identities,
    tables.PAGE_KPIS.name: _page_kpis,
    tables.FUNNEL.name: _funnel,
}


def build_day(spark: SparkSession, settings: Settings, table: Table, day: str) -> BuiltDay:
    """Builds `day` of the silver or gold `table` from its upstream tables and replaces that
    partition through the lake's commit path."""
    rows = replace_day(MODELS[table.name](spark, settings, day), settings, table, day)
    uri = table.uri(settings)
    return BuiltDay(table.name, day, rows, uri, latest_version(uri),
                    latest_version(tables.BRONZE.uri(settings)))


def rebuild_gold(spark: SparkSession, settings: Settings, days: list[date]) -> dict[str, int]:
    """Gold page KPIs and funnel of `days`, from bronze and silver as they are now; returns
    each gold table's version after."""
    for day in map(str, days):
        build_day(spark, settings, tables.PAGE_KPIS, day)
        build_day(spark, settings, tables.FUNNEL, day)
    return {table.name: latest_version(table.uri(settings))
            for table in (tables.PAGE_KPIS, tables.FUNNEL)}
