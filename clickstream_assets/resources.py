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
from dagster import AssetExecutionContext, ConfigurableResource, Failure, MaterializeResult
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr
from pyspark.sql import SparkSession

from clickstream_assets.model_builds import build_on_glue
from streaming.kinesis import kinesis_client, list_shard_ids
from streaming.lake.delta import DeltaTarget, bronze_target
from streaming.lake.rebuild import build_day
from streaming.lake.tables import Table
from streaming.lakesql.catalog import Catalog
from streaming.lakesql.engine import AthenaEngine, EmbeddedEngine, SqlError, open_engine, publish_catalog
from streaming.reports.render import reports_dir, reports_url, write_page
from streaming.settings import Settings, load_settings
from streaming.stream.backlog import Backlog, committed_batch, committed_positions, measure
from streaming.stream.status import EXIT_CHECKPOINT_BUSY, checkpoint_held, read_status

# The repository root: a catch-up run's working directory, where `-m streaming...` resolves.
ROOT = Path(__file__).resolve().parent.parent
# A Glue run in these states holds the job's one concurrent run (max_concurrent_runs = 1).
ACTIVE_RUN_STATES = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})
# What makes a run of the Glue job a catch-up; the continuous job is a run without it.
CATCH_UP_ARGUMENTS = {"--trigger": "available-now"}


def glue_client(settings: Settings):
    """The Glue API in the configured region; its endpoint is boto3's to configure
    (AWS_ENDPOINT_URL_GLUE, e.g. an AWS-compatible server on loopback)."""
    return boto3.client("glue", region_name=settings.region)


class ClickstreamSettings(ConfigurableResource):
    """The one settings object, as Dagster config: its environment (`Settings.to_env`), read
    back by `load_settings`, so Dagster and the data plane share one list of settings."""

    environment: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> ClickstreamSettings:
        return cls(environment=settings.to_env())

    def settings(self) -> Settings:
        return load_settings(self.environment)


class KinesisResource(ConfigurableResource):
    """The stream: shard listing and backlog measurement (GetRecords, read-only)."""

    config: ClickstreamSettings

    def client(self):
        return kinesis_client(self.config.settings())

    def shard_ids(self) -> list[str]:
        return sorted(list_shard_ids(self.client(), self.config.settings().stream_name))

    def backlog_after(self, positions: dict[str, str | None], cap: int = 100_000) -> Backlog:
        return measure(self.client(), self.config.settings().stream_name, positions, cap)


class LakeResource(ConfigurableResource):
    """Delta storage: table locations (local folder or s3://) and the job's checkpoint."""

    config: ClickstreamSettings

    def uri(self, table: Table) -> str:
        """Where a table of the registry (streaming/lake/tables.py) lives in this lake."""
        return table.uri(self.config.settings())

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
        settings = self.config.settings()
        if not settings.embedded:
            return self._glue_status(settings)
        status = read_status(settings)
        live = checkpoint_held(settings)
        running = status.get("state") == "running" and live
        fresh = time.time() - float(status.get("updated_at") or 0) < self.stall_seconds
        starting = status.get("state") == "starting" and live
        return {**status, "alive": starting or (running and fresh),
                "stalled": running and not fresh and status.get("trigger") == "continuous"}

    def _glue_status(self, settings: Settings) -> dict:
        runs = self.glue_runs()
        state = runs[0]["JobRunState"] if runs else "NEVER_RUN"
        return {"state": state.lower(), "alive": state == "RUNNING", "stalled": False,
                "run_id": runs[0]["Id"] if runs else None}

    def glue_runs(self) -> list[dict]:
        """The Glue job's recent runs (GetJobRuns' first page), newest first: catch-ups and
        continuous runs alike, as Glue reports them (JobRunState, Arguments, ErrorMessage)."""
        settings = self.config.settings()
        runs = glue_client(settings).get_job_runs(JobName=settings.glue_job_name,
                                                  MaxResults=25)["JobRuns"]
        return sorted(runs, key=lambda run: run["StartedOn"], reverse=True)

    def start_continuous(self, log: Callable[[str], None]) -> str | None:
        """Starts the continuous Glue run (no --trigger: the job's default); returns its id, or
        None when another run took the job's one slot first (a catch-up), after which the
        control plane starts it again once that run ends."""
        settings = self.config.settings()
        glue = glue_client(settings)
        try:
            run_id = glue.start_job_run(JobName=settings.glue_job_name)["JobRunId"]
        except glue.exceptions.ConcurrentRunsExceededException as error:
            log(f"not started: another run of {settings.glue_job_name} is active ({error})")
            return None
        log(f"Glue job run {run_id} of {settings.glue_job_name} started (continuous)")
        return run_id

    def catch_up(self, log: Callable[[str], None]) -> float:
        """Drains the backlog with an available-now trigger on the job's own checkpoint."""
        started = time.monotonic()
        settings = self.config.settings()
        if settings.embedded:
            self._local_catch_up(settings, log)
        else:
            self._glue_catch_up(settings, log)
        return time.monotonic() - started

    @staticmethod
    def _local_catch_up(settings: Settings, log: Callable[[str], None]) -> None:
        log_path = settings.log_dir / "catch-up.log"
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as out:
            code = subprocess.call([sys.executable, "-m", "streaming.stream.job", "--trigger",
                                    "available-now"], stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **settings.to_env()}, cwd=ROOT)
        if code == EXIT_CHECKPOINT_BUSY:
            raise Failure("the continuous stream job is running on the checkpoint; a catch-up "
                          "cannot run beside it", metadata={"log": str(log_path)})
        if code != 0:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise Failure(f"catch-up job exited with {code}", metadata={"log_tail": tail})
        log(f"catch-up finished; Spark log at {log_path}")

    @staticmethod
    def _glue_catch_up(settings: Settings, log: Callable[[str], None]) -> None:
        glue = glue_client(settings)
        run_id = glue.start_job_run(JobName=settings.glue_job_name,
                                    Arguments=CATCH_UP_ARGUMENTS)["JobRunId"]
        log(f"Glue job run {run_id} started")
        while True:
            run = glue.get_job_run(JobName=settings.glue_job_name, RunId=run_id)["JobRun"]
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


class ModelBuildResource(ConfigurableResource):
    """Builds one day of a silver or gold table on the Spark this deployment has: the run's
    own (`spark`: local in embedded mode), or in AWS mode with a model-build job configured,
    a run of that Glue job through Dagster Pipes (clickstream_assets/model_builds.py). The
    same `build_day` makes the day and the materialization carries the same metadata."""

    config: ClickstreamSettings
    spark: SparkResource

    def build(self, context: AssetExecutionContext, table: Table) -> MaterializeResult:
        """The run's partition (a day) of `table`, built and committed; its materialization."""
        settings = self.config.settings()
        if settings.builds_on_glue:
            return build_on_glue(context, settings, table, glue_client(settings))
        built = build_day(self.spark.session(), settings, table, context.partition_key)
        return MaterializeResult(metadata=built.metadata())


class SqlResource(ConfigurableResource):
    """SQL over the lake in either mode, given the same Trino SQL: the embedded engine (DuckDB
    over the Delta tables) or Athena over the Glue Data Catalog, as `open_engine` picks."""

    config: ClickstreamSettings

    def engine(self) -> EmbeddedEngine | AthenaEngine:
        try:
            return open_engine(self.config.settings())
        except SqlError as error:
            raise Failure(str(error)) from None

    def publish(self, catalog: Catalog) -> tuple[list[str], str]:
        """Registers the catalog where this mode's engine reads it; returns what changed and
        where the catalog lives."""
        try:
            return publish_catalog(self.config.settings(), catalog)
        except SqlError as error:
            raise Failure(str(error)) from None


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
    config = ClickstreamSettings.from_settings(settings)
    spark = SparkResource(config=config)
    resources: dict[str, object] = {
        "clickstream": config,
        "kinesis": KinesisResource(config=config),
        "lake": LakeResource(config=config),
        "stream_job": StreamJobResource(config=config),
        "spark": spark,
        "model_builds": ModelBuildResource(config=config, spark=spark),
        "sql": SqlResource(config=config),
        "reports": ReportsResource(directory=str(reports_dir(settings)),
                                   base_url=reports_url(settings)),
    }
    if not settings.embedded:
        resources["s3"] = S3Resource(region_name=settings.region)
    return resources
