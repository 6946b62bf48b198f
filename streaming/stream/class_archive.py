"""A class-data archive of Spark's JVM (Java's AppCDS), so a local Spark session starts ~3 s
sooner.

A cold Spark JVM spends most of its start reading, parsing and verifying Spark's classes, and
does it again wherever a session first meets code it has not loaded yet: the stream job's
Python data source, its foreachBatch sink, the first batch fetched as Arrow. Java 17 writes the
classes a run loaded to an archive when the JVM exits (`-XX:ArchiveClassesAtExit`), and maps
that archive at a later start (`-XX:SharedArchiveFile`), skipping that work. `./clickstream`
makes the archive once, as an install step, from a run through what the project's sessions do
(`create`); every local session then maps it (`java_options`). On this project's 2 cores a
session started in 3.6-4.1 s instead of 6.4-6.9, and reached its first `toArrow` in 7.1-8.0 s
instead of 11.7-12.5 (docs/benchmarks.md).

An archive serves only the JVM and the jars it was made with, so its name holds a digest of
both: after a new JDK or pyspark no archive matches, sessions start as they did before it, and
the install step makes a new one. Glue starts its own JVM: no archive there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pyspark.sql import SparkSession

SUFFIX = ".jsa"


def java_binary() -> Path | None:
    """The `java` Spark's launcher runs: `$JAVA_HOME/bin/java`, else the one on the PATH."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).exists() else None


def spark_jars() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def archive_path(folder: Path) -> Path:
    """The archive for this JVM and these jars in `folder`: its name changes when either
    does, as the JVM would refuse an archive made with others."""
    java = java_binary()
    digest = hashlib.sha256()
    for path in (*([java] if java else []), *sorted(spark_jars().glob("*.jar"))):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return folder / f"spark-{digest.hexdigest()[:16]}{SUFFIX}"


def java_options(folder: Path) -> dict[str, str]:
    """The driver's JVM option that maps the archive, when there is one for this JVM."""
    archive = archive_path(folder)
    if not archive.is_file():
        return {}
    return {"spark.driver.extraJavaOptions": f"-XX:SharedArchiveFile={archive}"}


def create(builder: SparkSession.Builder, folder: Path) -> None:
    """Makes the archive from a session of `builder` that goes through what the project's
    sessions do: the stream job's Kinesis data source, a streaming query with a foreachBatch
    sink that fetches its batches as Arrow, a Delta write and read. The JVM writes it when it
    exits, so this stops the JVM and waits for it (pyspark's gateway process exits when its
    stdin closes); the archive is written under a temporary name and renamed into place, and
    the archives of other JVMs or jars are removed."""
    from streaming.stream.source import SOURCE_NAME, KinesisDataSource

    archive = archive_path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    spark = builder.config("spark.driver.extraJavaOptions",
                           f"-XX:ArchiveClassesAtExit={partial}").getOrCreate()
    gateway = spark.sparkContext._gateway.proc
    with tempfile.TemporaryDirectory() as scratch:
        spark.dataSource.register(KinesisDataSource)
        spark.readStream.format(SOURCE_NAME).option("streamName", "archive").load()
        query = (spark.readStream.format("rate-micro-batch").option("rowsPerBatch", 10).load()
                 .writeStream.option("checkpointLocation", f"{scratch}/checkpoint")
                 .foreachBatch(lambda batch, _batch_id: batch.toArrow())
                 .trigger(availableNow=True).start())
        query.awaitTermination()
        rows = spark.range(100).selectExpr("id % 7 AS key").groupBy("key").count()
        rows.write.format("delta").save(f"{scratch}/table")
        spark.read.format("delta").load(f"{scratch}/table").collect()
        spark.stop()
        gateway.stdin.close()
        gateway.wait()
        check(partial, scratch)
    partial.replace(archive)
    for other in folder.glob(f"spark-*{SUFFIX}"):
        if other != archive:
            other.unlink()


def check(archive: Path, scratch: str) -> None:
    """Raises unless a JVM maps `archive`: one cut short (a full disk during the dump) would
    crash every session that maps it, so it is removed instead of put in place."""
    java = java_binary()
    mapped = subprocess.run([str(java), f"-XX:SharedArchiveFile={archive}", "-version"],
                            cwd=scratch, capture_output=True, text=True)
    if mapped.returncode != 0:
        archive.unlink(missing_ok=True)
        raise RuntimeError(f"the JVM could not map the class archive it wrote ({archive}, exit "
                           f"{mapped.returncode}): {mapped.stdout[-500:]}{mapped.stderr[-500:]}")
