"""The Spark session every Spark entry point shares: local[*] with delta-spark, tuned for
small, frequent streaming commits.

`spark.databricks.delta.snapshotPartitions=1`: Delta's default of 50 shuffles every
commit's snapshot update into 50 tasks, which on 2 cores made each micro-batch commit
cost ~2.5 s instead of ~0.5 s (DESIGN.md section 7). Shuffle partitions stay small for
the same reason: the dedup state is small and local.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from streaming.settings import Settings

LOCAL_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.databricks.delta.snapshotPartitions": "1",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.streaming.stateStore.providerClass":
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "2g",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def ivy_dir() -> Path:
    """Outside the clone, so a fresh checkout (and CI) reuses the Delta jars already fetched."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "clickstream" / "ivy"


def build_spark(settings: Settings, app_name: str, ui: bool = False) -> SparkSession:
    """A Delta-enabled local session; on Glue the session already exists and is reused.

    AWS mode never fetches jars: Glue provides Delta (`--datalake-formats delta`) and the
    job's VPC has no route to Maven Central.
    """
    if not settings.embedded:
        return SparkSession.builder.appName(app_name).getOrCreate()
    from delta import configure_spark_with_delta_pip

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name).master(settings.spark_master)
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.jars.ivy", str(ivy_dir())).config(
        "spark.ui.enabled", str(ui).lower()
    )
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
