"""Silver and gold days built where Spark is: the model-build Glue job, through Dagster Pipes.

Embedded mode (and AWS mode without a model-build job) builds on the run's own Spark, local
by default. AWS mode with `CLICKSTREAM_MODEL_JOB_NAME` (Terraform sets it) launches the
model-build Glue job (streaming/lake/build_job.py) through Dagster Pipes and waits for it:
the ECS task that runs the asset never starts a JVM, and Spark runs on Glue's workers next to
the data. Either way the same `build_day` makes the day, and the materialization carries the
same metadata (rows, Delta version, bronze version; over Pipes also the Glue run's id and
URL), so the assets, their partitions, checks and lineage are one definition in both modes.

Pipes travels through S3 (CLICKSTREAM_PIPES_URI): the context as an object the job reads,
messages as chunks the job writes and this side polls. Glue's CloudWatch output would carry
them too, but only once Glue ships the driver's stdout (continuous logging, seconds behind),
and S3 is what the VPC already reaches through its gateway endpoint; on the rehearsal it is
the same moto server the lake lives on.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import boto3
from dagster import AssetExecutionContext, Failure, MaterializeResult
from dagster_aws.pipes import PipesGlueClient, PipesS3ContextInjector, PipesS3MessageReader
from dagster_pipes import PipesBlobStoreMessageWriter, PipesParams

from streaming.lake.tables import Table
from streaming.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_glue.client import GlueClient

# How often Dagster looks for the job's next chunk of Pipes messages.
MESSAGE_POLL_SECONDS = 5.0


class PrefixedS3MessageReader(PipesS3MessageReader):
    """`PipesS3MessageReader` writing its messages under a key prefix: dagster-aws 0.29 puts
    them at a random key at the bucket's root, and both the Dagster task's and the Glue job's
    roles may write only under the stack's Pipes prefix."""

    def __init__(self, *, prefix: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix

    @contextmanager
    def get_params(self) -> Iterator[PipesParams]:
        name = "".join(random.choices(string.ascii_letters, k=30))
        yield {"bucket": self.bucket, "key_prefix": f"{self.prefix}/{name}",
               PipesBlobStoreMessageWriter.INCLUDE_STDIO_IN_MESSAGES_KEY:
                   self.include_stdio_in_messages}


def pipes_location(settings: Settings) -> tuple[str, str]:
    """The bucket and key prefix of CLICKSTREAM_PIPES_URI (s3://bucket/prefix)."""
    bucket, _, prefix = settings.pipes_uri.removeprefix("s3://").partition("/")
    if not settings.pipes_uri.startswith("s3://") or not bucket:
        raise Failure(f"CLICKSTREAM_PIPES_URI must be an s3:// prefix for the model-build job "
                      f"{settings.model_job_name}, not {settings.pipes_uri!r}")
    return bucket, prefix.strip("/")


def build_on_glue(context: AssetExecutionContext, settings: Settings, table: Table,
                  glue: GlueClient) -> MaterializeResult:
    """Builds the run's partition (a day) of `table` as a run of the model-build Glue job,
    through Pipes; the materialization the job reported, with the Glue run's id and URL."""
    bucket, prefix = pipes_location(settings)
    s3 = boto3.client("s3", region_name=settings.region)
    client = PipesGlueClient(
        client=glue,
        context_injector=PipesS3ContextInjector(bucket=bucket, client=s3,
                                                key_prefix=f"{prefix}/context/"),
        message_reader=PrefixedS3MessageReader(bucket=bucket, client=s3,
                                               prefix=f"{prefix}/messages",
                                               interval=MESSAGE_POLL_SECONDS))
    arguments = {"--table": table.name, "--day": context.partition_key}
    invocation = client.run(context=context, start_job_run_params={
        "JobName": settings.model_job_name, "Arguments": arguments})
    return invocation.get_materialize_result()
