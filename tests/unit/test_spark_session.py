"""The Spark session a process starts: Delta in both modes and S3A in AWS mode (Dagster's silver,
gold and OPTIMIZE on an s3:// lake), the stream job's without Delta; Glue's own session is
reused as it is. Checked on the builder's configuration, without starting Spark or reaching
AWS."""

from __future__ import annotations

from pathlib import Path

import pyspark
import pytest

from streaming.settings import load_settings
from streaming.stream import spark
from streaming.stream.spark import (
    DELTA_CONF,
    LOCAL_CONF,
    LOCAL_DISK_CONF,
    S3A_FILESYSTEM,
    session_builder,
)

AWS = {"CLICKSTREAM_MODE": "aws", "AWS_REGION": "eu-central-1",
       "CLICKSTREAM_LAKE_URI": "s3://clickstream-dev-lake", "CLICKSTREAM_CHECKPOINT_URI": "s3://cp"}


def built_conf(environ: dict[str, str], delta: bool = True) -> dict[str, str]:
    # The builder keeps what it will start the session with in `_options` (pyspark has no
    # public reader for a builder's settings).
    return dict(session_builder(load_settings(environ), "test", delta=delta)._options)


def hadoop_aws() -> str:
    (jar,) = (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar")
    hadoop = jar.name.removeprefix("hadoop-client-api-").removesuffix(".jar")
    return f"org.apache.hadoop:hadoop-aws:{hadoop}"


def test_aws_mode_session_has_delta_and_s3a_in_the_stacks_region() -> None:
    conf = built_conf(AWS)
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.catalog.spark_catalog"] == (
        "org.apache.spark.sql.delta.catalog.DeltaCatalog")
    assert conf["spark.hadoop.fs.s3.impl"] == conf["spark.hadoop.fs.s3a.impl"] == S3A_FILESYSTEM
    assert conf["spark.hadoop.fs.s3a.endpoint.region"] == "eu-central-1"
    assert conf["spark.hadoop.fs.s3a.aws.credentials.provider"] == (
        "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider")
    assert "spark.hadoop.fs.s3a.endpoint" not in conf  # AWS's own regional endpoint
    packages = conf["spark.jars.packages"].split(",")
    assert hadoop_aws() in packages
    assert any(package.startswith("io.delta:delta-spark_") for package in packages)
    for key, value in {**LOCAL_CONF, **DELTA_CONF}.items():
        assert conf[key] == value, key


def test_the_stream_jobs_session_has_no_delta_and_keeps_s3a_for_its_checkpoint() -> None:
    """The stream job commits with delta-rs: Spark only reads the stream and keeps the
    checkpoint, on S3 in AWS mode."""
    aws = built_conf(AWS, delta=False)
    assert not [key for key in aws if "delta" in key]
    assert aws["spark.jars.packages"] == hadoop_aws()
    assert aws["spark.hadoop.fs.s3a.impl"] == S3A_FILESYSTEM
    for key, value in LOCAL_CONF.items():
        assert aws[key] == value, key
    embedded = built_conf({}, delta=False)
    assert not [key for key in embedded if "delta" in key or key == "spark.jars.packages"]


@pytest.mark.parametrize("variable", ["CLICKSTREAM_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3",
                                      "AWS_ENDPOINT_URL"])
def test_an_s3_compatible_endpoint_is_addressed_by_path(variable: str) -> None:
    conf = built_conf({**AWS, variable: "http://127.0.0.1:9000"})
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"


def test_embedded_session_has_delta_and_no_s3() -> None:
    conf = built_conf({})
    assert conf["spark.sql.extensions"] == DELTA_CONF["spark.sql.extensions"]
    assert not [key for key in conf if "s3" in key]
    assert "hadoop-aws" not in conf["spark.jars.packages"]
    assert conf["spark.hadoop.fs.file.impl"] == "org.apache.hadoop.fs.RawLocalFileSystem"


def test_an_aws_session_keeps_hadoops_checksummed_local_file_system() -> None:
    assert not LOCAL_DISK_CONF.keys() & built_conf(AWS).keys()


def test_on_glue_the_launchers_session_is_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Glue starts the JVM (spark-submit) with Delta, the job's --conf and EMRFS for s3://: the
    job takes that session as it is, with no jars to fetch (its VPC reaches no Maven)."""
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "12345")
    assert spark.launched_by_spark_submit()
    built: list[str] = []
    monkeypatch.setattr(spark, "session_builder", lambda *args, **kwargs: built.append("x"))
    monkeypatch.setattr(spark.SparkSession.Builder, "getOrCreate", lambda builder: builder)
    reused = spark.build_spark(load_settings(AWS), "clickstream-job")
    assert built == [] and "spark.jars.packages" not in reused._options
