"""Resources: where the stream, the tables, the job and Spark are, for either mode.

Everything is derived from `streaming.settings.Settings` (the CLICKSTREAM_* environment), so
Dagster and the data plane can never disagree about a path. Embedded mode points at this
machine; AWS mode at Kinesis, S3 and Glue with boto3's default credentials.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from dagster import ConfigurableResource, Failure
from dagster_aws.athena import AthenaClientResource
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr
from pyspark.sql import SparkSession

from streaming.kinesis import kinesis_client, list_shard_ids
from streaming.lake.delta import DeltaTarget, bronze_target
from streaming.lakesql.catalog import Catalog, catalog_uri
from streaming.lakesql.engine import AthenaEngine, EmbeddedEngine
from streaming.local.stack import LocalStack
from streaming.reports.render import reports_dir, reports_url, write_page
from streaming.settings import Settings, load_settings
from streaming.stream.backlog import Backlog, committed_batch, committed_positions, measure
from streaming.stream.status import EXIT_CHECKPOINT_BUSY, checkpoint_held, read_status


class ClickstreamSettings(ConfigurableResource):
    """The one settings object, as Dagster config; other resources read their part of it."""

    mode: str = "embedded"
    home: str
    lake_uri: str
    checkpoint_uri: str
    stream_name: str
    shard_count: int = 2
    region: str = "us-east-1"
    kinesis_endpoint_url: str | None = None
    s3_endpoint_url: str | None = None
    ip_hash_salt: str
    spark_master: str = "local[2]"
    dedup_window: str = "10 minutes"
    glue_job_name: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, glue_job_name: str | None = None
                      ) -> ClickstreamSettings:
        return cls(mode=settings.mode, home=str(settings.home), lake_uri=settings.lake_uri,
                   checkpoint_uri=settings.checkpoint_uri, stream_name=settings.stream_name,
                   shard_count=settings.shard_count, region=settings.region,
                   kinesis_endpoint_url=settings.kinesis_endpoint_url,
                   s3_endpoint_url=settings.s3_endpoint_url, ip_hash_salt=settings.ip_hash_salt,
                   spark_master=settings.spark_master,
                   dedup_window=settings.dedup_window, glue_job_name=glue_job_name)

    def settings(self) -> Settings:
        return Settings(mode=self.mode, home=Path(self.home), lake_uri=self.lake_uri,
                        checkpoint_uri=self.checkpoint_uri, stream_name=self.stream_name,
                        shard_count=self.shard_count, region=self.region,
                        kinesis_endpoint_url=self.kinesis_endpoint_url,
                        s3_endpoint_url=self.s3_endpoint_url, ip_hash_salt=self.ip_hash_salt,
                        spark_master=self.spark_master,
                        dedup_window=self.dedup_window)


class KinesisResource(ConfigurableResource):
    """The stream: shard listing and backlog measurement (GetRecords, read-only)."""

    config: ClickstreamSettings

    def client(self):
        return kinesis_client(self.config.settings())

    def shard_ids(self) -> list[str]:
        return sorted(list_shard_ids(self.client(), self.config.stream_name))

    def backlog_after(self, positions: dict[str, str | None], cap: int = 100_000) -> Backlog:
        return measure(self.client(), self.config.stream_name, positions, cap)


class LakeResource(ConfigurableResource):
    """Delta storage: table locations (local folder or s3://) and the job's checkpoint."""

    config: ClickstreamSettings

    def table_uri(self, table: str) -> str:
        return f"{self.config.lake_uri}/{table}"

    @property
    def bronze_uri(self) -> str:
        return self.config.settings().bronze_uri

    @property
    def quarantine_uri(self) -> str:
        return self.config.settings().quarantine_uri

    def bronze(self) -> DeltaTarget:
        """Bronze as the one commit path writes it (streaming/lake/delta.py)."""
        return bronze_target(self.config.settings())

    def committed_positions(self) -> dict[str, str | None]:
        return committed_positions(self.config.settings().bronze_checkpoint_uri)

    def committed_batch(self) -> int | None:
        return committed_batch(self.config.settings().bronze_checkpoint_uri)


class StreamJobResource(ConfigurableResource):
    """The stream job running outside Dagster: its health, and catch-up runs on its checkpoint.

    Embedded: a local process publishing a status file. AWS: the Glue streaming job.
    """

    config: ClickstreamSettings
    stall_seconds: float = 120.0

    def status(self) -> dict:
        """state, alive, pid, updated_at and last_progress of the continuous job.

        A live process that is still starting counts as alive however long Spark takes: it
        holds the checkpoint, so a catch-up launched beside it could only fail.
        """
        if self.config.mode == "aws":
            return self._glue_status()
        status = read_status(self.config.settings())
        live = checkpoint_held(self.config.settings())
        running = status.get("state") == "running" and live
        fresh = time.time() - float(status.get("updated_at") or 0) < self.stall_seconds
        starting = status.get("state") == "starting" and live
        return {**status, "alive": starting or (running and fresh),
                "stalled": running and not fresh and status.get("trigger") == "continuous"}

    def _glue_status(self) -> dict:
        glue = boto3.client("glue", region_name=self.config.region)
        runs = glue.get_job_runs(JobName=self.config.glue_job_name, MaxResults=1)["JobRuns"]
        state = runs[0]["JobRunState"] if runs else "NEVER_RUN"
        return {"state": state.lower(), "alive": state == "RUNNING", "stalled": False,
                "run_id": runs[0]["Id"] if runs else None}

    def catch_up(self, log: Callable[[str], None]) -> float:
        """Drains the backlog with an available-now trigger on the job's own checkpoint."""
        started = time.monotonic()
        if self.config.mode == "aws":
            self._glue_catch_up(log)
        else:
            self._local_catch_up(log)
        return time.monotonic() - started

    def _local_catch_up(self, log: Callable[[str], None]) -> None:
        settings = self.config.settings()
        stack = LocalStack(settings)
        log_path = stack.log_dir / "catch-up.log"
        stack.log_dir.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as out:
            code = subprocess.call([sys.executable, "-m", "streaming.stream.job", "--trigger",
                                    "available-now"], stdout=out, stderr=subprocess.STDOUT,
                                   env=stack.child_env(), cwd=Path(__file__).resolve().parent.parent)
        if code == EXIT_CHECKPOINT_BUSY:
            raise Failure("the continuous stream job is running on the checkpoint; a catch-up "
                          "cannot run beside it", metadata={"log": str(log_path)})
        if code != 0:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise Failure(f"catch-up job exited with {code}", metadata={"log_tail": tail})
        log(f"catch-up finished; Spark log at {log_path}")

    def _glue_catch_up(self, log: Callable[[str], None]) -> None:
        glue = boto3.client("glue", region_name=self.config.region)
        run_id = glue.start_job_run(JobName=self.config.glue_job_name,
                                    Arguments={"--trigger": "available-now"})["JobRunId"]
        log(f"Glue job run {run_id} started")
        while True:
            run = glue.get_job_run(JobName=self.config.glue_job_name, RunId=run_id)["JobRun"]
            if run["JobRunState"] in ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR"):
                break
            time.sleep(15)
        if run["JobRunState"] != "SUCCEEDED":
            raise Failure(f"Glue catch-up run {run_id} ended {run['JobRunState']}: "
                          f"{run.get('ErrorMessage', '')}")


class SparkResource(ConfigurableResource):
    """A Delta-enabled Spark session: local[*] embedded, or a Spark Connect URL for a cluster."""

    config: ClickstreamSettings
    spark_remote: str | None = None
    _session: SparkSession | None = PrivateAttr(default=None)

    def session(self) -> SparkSession:
        if self._session is None:
            if self.spark_remote:
                self._session = SparkSession.builder.remote(self.spark_remote).getOrCreate()
            else:
                from streaming.stream.spark import build_spark

                self._session = build_spark(self.config.settings(), "clickstream-dagster")
        return self._session


class SqlResource(ConfigurableResource):
    """SQL over the lake in either mode, given the same Trino SQL: the embedded engine (DuckDB
    over the Delta tables) or Athena over the Glue Data Catalog (dagster-aws's Athena client)."""

    config: ClickstreamSettings
    athena: AthenaClientResource
    glue_database: str | None = None

    def engine(self) -> EmbeddedEngine | AthenaEngine:
        if self.config.mode != "aws":
            return EmbeddedEngine.open(self.config.lake_uri)
        if not self.glue_database:
            raise Failure("AWS mode needs CLICKSTREAM_GLUE_DATABASE: the Glue database of the "
                          "lake's tables (Terraform output glue_database)")
        client = self.athena.get_client()
        return AthenaEngine(client.client, boto3.client("glue", region_name=self.config.region),
                            self.glue_database, client.workgroup, client.polling_interval,
                            client.max_polls)

    def publish(self, catalog: Catalog) -> tuple[list[str], str]:
        """Registers the catalog where this mode's engine reads it; returns what changed and
        where the catalog lives."""
        if self.config.mode != "aws":
            return (EmbeddedEngine.publish(self.config.lake_uri, catalog),
                    catalog_uri(self.config.lake_uri))
        with self.engine() as engine:
            return engine.publish(catalog), f"Glue database {self.glue_database}"


class ReportsResource(ConfigurableResource):
    """Where report pages are written (`<home>/reports`) and the URL the gateway serves them at."""

    directory: str
    base_url: str

    def publish(self, relative: str, html: str) -> str:
        """Writes a page and returns its URL (a folder's index.html as the folder)."""
        write_page(Path(self.directory), relative, html)
        return f"{self.base_url}/{relative.removesuffix('index.html')}"


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    """The resources for the mode the environment selects (embedded unless told otherwise)."""
    settings = settings or load_settings()
    config = ClickstreamSettings.from_settings(
        settings, glue_job_name=os.environ.get("CLICKSTREAM_GLUE_JOB_NAME"))
    resources: dict[str, object] = {
        "clickstream": config,
        "kinesis": KinesisResource(config=config),
        "lake": LakeResource(config=config),
        "stream_job": StreamJobResource(config=config),
        "spark": SparkResource(config=config),
        "sql": SqlResource(config=config, glue_database=os.environ.get("CLICKSTREAM_GLUE_DATABASE"),
                           athena=AthenaClientResource(workgroup=os.environ.get(
                               "CLICKSTREAM_ATHENA_WORKGROUP", "primary"))),
        "reports": ReportsResource(directory=str(reports_dir(settings)),
                                   base_url=reports_url(settings)),
    }
    if settings.mode == "aws":
        resources["s3"] = S3Resource(region_name=settings.region)
    return resources
