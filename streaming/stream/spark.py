"""The Spark session every Spark entry point shares: local[*] with delta-spark, tuned for
small, frequent streaming commits; in AWS mode with S3A for the lake on S3, unless Glue (or
another spark-submit) already configured the session. The stream job's session has no Delta:
it reads the stream and keeps its checkpoint in Spark, and commits with delta-rs
(streaming/lake/delta.py), so Delta's jars and extension only cost its start ~1.7 s.

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
from streaming.stream import class_archive

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.databricks.delta.snapshotPartitions": "1",
    "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
}

LOCAL_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "2g",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}

# Embedded mode's checkpoint is on a local disk, where Hadoop's default file system writes a
# .crc file beside every offset and commit file and reads it back; the raw one does not, and
# a micro-batch took ~45 ms less (0.364 -> 0.319 s at 2,000 events, docs/benchmarks.md). A
# checkpoint file is still written to a temporary name and renamed into place.
LOCAL_DISK_CONF = {
    "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    "spark.hadoop.fs.AbstractFileSystem.file.impl": "org.apache.hadoop.fs.local.RawLocalFs",
}

# AWS mode's tables are s3:// URIs: outside Glue (whose EMRFS serves s3://), Hadoop's S3A
# serves both schemes, with the credentials boto3 would find (environment, profile, web
# identity, container or instance role) and the stack's region.
S3A_FILESYSTEM = "org.apache.hadoop.fs.s3a.S3AFileSystem"
DEFAULT_CREDENTIALS = "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider"


def cache_dir() -> Path:
    """Outside the clone, so a fresh checkout (and CI) reuses the Delta jars already fetched
    and the JVM's class archive already made."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "clickstream"


def ivy_dir() -> Path:
    return cache_dir() / "ivy"


def archive_dir() -> Path:
    return cache_dir() / "jvm"


def hadoop_version() -> str:
    """The Hadoop release pyspark ships (its hadoop-client-api jar): S3A (hadoop-aws) must be
    the same release."""
    import pyspark

    (jar,) = (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar")
    return jar.name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def s3_conf(settings: Settings) -> dict[str, str]:
    """S3A for `s3://` and `s3a://` in the configured region; an S3-compatible endpoint
    (`CLICKSTREAM_S3_ENDPOINT`) is addressed by path, as such servers expect."""
    conf = {
        "spark.hadoop.fs.s3.impl": S3A_FILESYSTEM,
        "spark.hadoop.fs.s3a.impl": S3A_FILESYSTEM,
        "spark.hadoop.fs.s3a.endpoint.region": settings.region,
        "spark.hadoop.fs.s3a.aws.credentials.provider": DEFAULT_CREDENTIALS,
    }
    if endpoint := settings.s3_endpoint_url:
        conf |= {"spark.hadoop.fs.s3a.endpoint": endpoint,
                 "spark.hadoop.fs.s3a.path.style.access": "true",
                 "spark.hadoop.fs.s3a.connection.ssl.enabled": str(endpoint.startswith("https:")).lower()}
    return conf


def launched_by_spark_submit() -> bool:
    """True when a launcher (Glue's, or any spark-submit) started the JVM before this process,
    with its own classpath and settings (on Glue: Delta from `--datalake-formats delta`, the
    job's `--conf`, EMRFS for s3://); pyspark then connects to it through this variable, and a
    builder's jars and filesystems would be ignored or would replace Glue's."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def session_builder(settings: Settings, app_name: str, ui: bool = False,
                    delta: bool = True) -> SparkSession.Builder:
    """The builder of a session this process starts: Delta (extension, catalog, the jars
    fetched into `ivy_dir`) unless `delta` is False, and S3A with `hadoop-aws` in AWS mode,
    where Dagster's Spark (silver, gold, OPTIMIZE) reads and writes the lake on S3 and the
    stream job keeps its checkpoint there; the JVM maps the class archive when there is one
    (streaming/stream/class_archive.py)."""
    conf = {**LOCAL_CONF, "spark.jars.ivy": str(ivy_dir()), "spark.ui.enabled": str(ui).lower(),
            **class_archive.java_options(archive_dir())}
    if delta:
        conf |= DELTA_CONF
    packages = []
    if settings.embedded:
        conf |= LOCAL_DISK_CONF
    else:
        conf |= s3_conf(settings)
        packages.append(f"org.apache.hadoop:hadoop-aws:{hadoop_version()}")
    builder = SparkSession.builder.appName(app_name).master(settings.spark_master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    if delta:
        from delta import configure_spark_with_delta_pip

        return configure_spark_with_delta_pip(builder, extra_packages=packages)
    return builder.config("spark.jars.packages", ",".join(packages)) if packages else builder


def use_this_python() -> None:
    """Spark's Python workers run this interpreter (the project's venv) unless told otherwise."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def build_spark(settings: Settings, app_name: str, ui: bool = False,
                delta: bool = True) -> SparkSession:
    """The session of a Spark entry point: the launcher's when one started Spark (the job on
    Glue, whose VPC has no route to Maven Central), else one with Delta unless `delta` is
    False, and S3 in AWS mode."""
    if not settings.embedded and launched_by_spark_submit():
        return SparkSession.builder.appName(app_name).getOrCreate()
    use_this_python()
    spark = session_builder(settings, app_name, ui, delta).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def prepare() -> None:
    """Fetches delta-spark's jars from Maven Central into `ivy_dir` and makes the JVM's class
    archive, from one Delta session: `./clickstream` runs this once as an install step, so
    that sessions started side by side later (a backfill's runs, the tests') find the jars in
    place instead of resolving them into one cache at the same time, and every session starts
    ~3 s sooner. The default (embedded) settings, whatever this shell's are: installing needs
    no stack, and AWS mode's S3A jar is fetched by its first session."""
    from streaming.settings import load_settings

    use_this_python()
    class_archive.create(session_builder(load_settings({}), "clickstream-prepare"), archive_dir())


if __name__ == "__main__":
    prepare()
