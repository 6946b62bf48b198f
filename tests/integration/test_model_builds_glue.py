"""AWS mode's silver build as a Glue job run launched and observed through Dagster Pipes
(issue 20): the `silver_sessions` asset, configured by the environment alone
(CLICKSTREAM_MODEL_JOB_NAME, CLICKSTREAM_PIPES_URI, the AWS SDKs' endpoint variables), starts
the model-build Glue job with dagster-aws's `PipesGlueClient`, which hands the job its Pipes
context on S3 and reads its log lines and materialization back from S3.

The endpoints are the rehearsal's: moto's server for S3 and Glue (tests/integration/
test_aws_rehearsal.py). moto runs no Glue script, and its job runs report SUCCEEDED at once
whatever happens (tests/glue_runs.py says how moto decides), so the Glue job run is
simulated: the Glue endpoint the asset reaches is tests/glue_runs.py's loopback server in
front of moto, which runs the job's script, downloaded from the job's ScriptLocation on
moto's S3 like its --extra-py-files (the Glue zip infra/package_artifacts.py builds), with the
arguments the run got (the job's defaults, the table and day, Pipes' bootstrap), on local
Spark through S3A, and reports the run RUNNING until the script ends. Everything else is as
deployed: the same script, the same zip, the same Pipes client and S3 reader.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from dagster import DagsterEventType, DagsterInstance, materialize
from deltalake import write_deltalake

from clickstream_assets.defs.lake.assets import silver_sessions
from clickstream_assets.resources import build_resources
from streaming.lake import tables
from streaming.lake.delta import storage_options
from streaming.lake.read import open_table
from streaming.settings import Settings, load_settings
from streaming.stream.transforms import BRONZE_COLUMNS
from tests.glue_runs import GlueRunner
from tests.integration.test_sql_views import D1, arrow_schema, known_events, known_sessions

pytestmark = [pytest.mark.slow, pytest.mark.spark]

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-central-1"
JOB_NAME = "clickstream-model-builds"
DAY = str(D1)
SESSION_FIELDS = ("anonymous_id", "session_start", "session_end", "events", "page_views",
                  "entry_page", "exit_page", "converted", "revenue", "is_bot")


@dataclass(frozen=True)
class Stack:
    settings: Settings
    runner: GlueRunner


def deploy_model_job(s3_url: str, bucket: str, job_settings: dict[str, str],
                     tmp_path: Path) -> None:
    """What infra/terraform's model-build job is on moto: the script and the Glue zip uploaded,
    the job with the stack's settings as default arguments."""
    import package_artifacts

    s3 = boto3.client("s3", endpoint_url=s3_url, region_name=REGION)
    s3.upload_file(str(ROOT / "streaming/lake/build_job.py"), bucket, "glue/build_job.py")
    s3.upload_file(str(package_artifacts.build_glue(tmp_path / "build")), bucket,
                   "glue/streaming.zip")
    boto3.client("glue", endpoint_url=s3_url, region_name=REGION).create_job(
        Name=JOB_NAME, Role="arn:aws:iam::123456789012:role/model-builds", GlueVersion="6.0",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/glue/build_job.py",
                 "PythonVersion": "3"},
        ExecutionProperty={"MaxConcurrentRuns": 4},
        DefaultArguments={"--extra-py-files": f"s3://{bucket}/glue/streaming.zip",
                          **{f"--{name}": value for name, value in job_settings.items()}})


@pytest.fixture
def stack(s3, tmp_path, monkeypatch) -> Iterator[Stack]:
    """A lake bucket holding bronze, the model-build job on moto, and this process in AWS mode
    with Glue reached through the runner."""
    bucket = f"builds-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3.url, region_name=REGION).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    job_settings = {"AWS_REGION": REGION, "CLICKSTREAM_MODE": "aws",
                    "CLICKSTREAM_HOME": "/tmp/clickstream",
                    "CLICKSTREAM_LAKE_URI": f"s3://{bucket}/lake",
                    "CLICKSTREAM_CHECKPOINT_URI": f"s3://{bucket}/checkpoints"}
    deploy_model_job(s3.url, bucket, job_settings, tmp_path)
    runner = GlueRunner(s3.url, REGION, tmp_path / "glue-runs").start()
    try:
        for name, value in {**job_settings, "CLICKSTREAM_HOME": str(tmp_path / "home"),
                            "CLICKSTREAM_MODEL_JOB_NAME": JOB_NAME,
                            "CLICKSTREAM_PIPES_URI": f"s3://{bucket}/pipes",
                            "AWS_ENDPOINT_URL": s3.url,
                            "AWS_ENDPOINT_URL_GLUE": runner.url}.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        write_deltalake(tables.BRONZE.uri(settings),
                        pa.Table.from_pylist(known_events(), schema=arrow_schema(BRONZE_COLUMNS)),
                        partition_by=["event_date"], storage_options=storage_options(settings))
        yield Stack(settings, runner)
    finally:
        runner.stop()


def test_a_silver_day_builds_as_a_glue_run_through_pipes(stack: Stack) -> None:
    settings = stack.settings
    with DagsterInstance.ephemeral() as instance:
        result = materialize([silver_sessions], partition_key=DAY, instance=instance,
                             resources=build_resources(settings))
        assert result.success
        logs = [entry.user_message for entry in instance.all_logs(result.run_id)
                if entry.dagster_event is None]

    # One Glue run, of the model-build job, for exactly that table and day, with Pipes'
    # bootstrap among its arguments; its script ended well.
    [run] = stack.runner.runs.values()
    assert run.job_name == JOB_NAME and run.process.returncode == 0, run.log.read_text()[-3000:]
    assert (run.arguments["--table"], run.arguments["--day"]) == ("silver_sessions", DAY)
    assert {"--dagster-pipes-context", "--dagster-pipes-messages"} <= set(run.arguments)
    assert run.arguments["--CLICKSTREAM_LAKE_URI"] == settings.lake_uri

    # The day in the Delta table on S3, as the build made it (the same sessions the embedded
    # build makes of these events), committed through the lake's commit path.
    table = open_table(tables.SESSIONS.uri(settings))
    assert table is not None
    built = [row for row in table.to_pyarrow_dataset().to_table().to_pylist()
             if str(row["session_date"]) == DAY]
    expected = [row for row in known_sessions() if str(row["session_date"]) == DAY]
    key = lambda row: tuple(row[name] for name in SESSION_FIELDS)  # noqa: E731
    assert sorted(map(key, built)) == sorted(map(key, expected))
    assert table.history(1)[0]["engineInfo"].startswith("delta-rs:")

    # The materialization carries what the job reported over Pipes, and the Glue run's id.
    [materialization] = result.asset_materializations_for_node("silver_sessions")
    metadata = {name: value.value for name, value in materialization.metadata.items()}
    assert metadata["dagster/row_count"] == len(expected)
    assert metadata["delta_version"] == table.version()
    assert metadata["bronze_version"] == 0
    assert metadata["path"] == tables.SESSIONS.uri(settings)
    assert metadata["AWS Glue Job Run ID"] == run.run_id
    assert materialization.partition == DAY

    # The job's log lines, written by the script on the Glue side, in the run's event log.
    assert f"building silver_sessions of {DAY} from {settings.lake_uri}" in logs
    assert (f"silver_sessions of {DAY}: {len(expected)} rows committed as Delta version "
            f"{table.version()}") in logs
    assert not [entry for entry in result.all_events
                if entry.event_type == DagsterEventType.STEP_FAILURE]
