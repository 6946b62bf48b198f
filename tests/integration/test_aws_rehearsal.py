"""AWS mode rehearsed on this machine (issue 19): the whole path with CLICKSTREAM_MODE=aws
against AWS-compatible servers on loopback, every client pointed at them only by the AWS SDKs'
endpoint variables, as any deployment could be:

- Kinesis is kinesalite (the `kinesis` fixture), through AWS_ENDPOINT_URL_KINESIS;
- S3, Secrets Manager, Glue (catalog) and Athena are moto's server (the `s3` fixture),
  through AWS_ENDPOINT_URL.

The Lambda handler reads its write keys from Secrets Manager and writes to Kinesis; the stream
job runs as Glue starts it (`--JOB_NAME`, the settings as `--CLICKSTREAM_*` and `--AWS_REGION`
arguments, as infra/terraform passes them; the catch-up's `--trigger available-now`, so a run
ends once the stream is drained) and writes bronze with delta-rs to s3:// and its checkpoint
through S3A; Dagster's own CLI loads the definitions in AWS mode and builds silver and gold
on Spark through S3A (committed by delta-rs to s3://), runs their checks, and registers the
lake in Glue's catalog.

Athena cannot run here: moto accepts the views' statements without running them, and the
volume scores the checks' reports show come back empty; the SQL itself is covered by the
sqlglot tests (tests/unit). CloudWatch is Terraform's (alarms); no Python code calls it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import orjson
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus

from clickstream_assets.defs.lakesql.assets import VIEW_KEYS
from streaming.ingest import http
from streaming.ingest.auth import basic_authorization
from streaming.ingest.handler import lambda_handler
from streaming.kinesis import ensure_stream
from streaming.lake import tables
from streaming.lake.read import open_table
from streaming.settings import Settings, load_settings
from tests.integration.test_control_plane import (
    CHROME,
    DAY,
    NEXT_DAY,
    SITE,
    assert_known_models,
    click,
    known_events,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-central-1"  # not boto3's nor moto's default: every client must be given it
WRITE_KEY = "rehearsal-write-key-0123456789"
JOB_NAME = "clickstream-stream-job"
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
# The settings infra/terraform/main.tf gives the Glue job (job_settings), no more.
JOB_SETTINGS = ("AWS_REGION", "CLICKSTREAM_MODE", "CLICKSTREAM_HOME", "CLICKSTREAM_LAKE_URI",
                "CLICKSTREAM_CHECKPOINT_URI", "CLICKSTREAM_STREAM_NAME")
CREATE_VIEW = re.compile(r"CREATE OR REPLACE VIEW (\w+)", re.IGNORECASE)
# One process for a run's steps, so silver and gold share one Spark session (the default
# executor starts a process, and so a JVM, per step: minutes on two cores).
IN_PROCESS = json.dumps({"execution": {"config": {"in_process": {}}}})


@dataclass(frozen=True)
class Rehearsal:
    settings: Settings
    environment: dict[str, str]  # the AWS endpoints, region and every CLICKSTREAM_* setting
    home: Path


@pytest.fixture(scope="module")
def aws(s3, kinesis, tmp_path_factory) -> Iterator[Rehearsal]:
    """What Terraform would have created (a lake bucket in the region, the stream, the write
    keys' secret with a value, the Glue database), and this process's environment in AWS mode
    for the module's duration, as a Lambda's or Dagster's would be."""
    suffix = uuid.uuid4().hex[:8]
    home = tmp_path_factory.mktemp("aws-rehearsal")
    bucket, database = f"rehearsal-{suffix}", f"clickstream_{suffix}"
    endpoints = {"AWS_ENDPOINT_URL": s3.url,
                 "AWS_ENDPOINT_URL_KINESIS": kinesis.settings.kinesis_endpoint_url,
                 "AWS_REGION": REGION}
    environment = {
        **endpoints,
        "CLICKSTREAM_MODE": "aws",
        "CLICKSTREAM_HOME": str(home),
        "CLICKSTREAM_LAKE_URI": f"s3://{bucket}/lake",
        "CLICKSTREAM_CHECKPOINT_URI": f"s3://{bucket}/checkpoints",
        "CLICKSTREAM_STREAM_NAME": f"rehearsal-{suffix}",
        "CLICKSTREAM_WRITE_KEYS_SECRET": f"clickstream/{suffix}/write-keys",
        "CLICKSTREAM_IP_HASH_SALT": f"rehearsal-salt-{suffix}",
        "CLICKSTREAM_ALLOWED_ORIGINS": SITE,
        "CLICKSTREAM_GLUE_DATABASE": database,
        "CLICKSTREAM_GLUE_JOB_NAME": JOB_NAME,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        settings = load_settings()
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        ensure_stream(boto3.client("kinesis", region_name=REGION), settings.stream_name,
                      settings.shard_count)
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=settings.write_keys_secret, SecretString=json.dumps({"shop": WRITE_KEY}))
        boto3.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": database})
        http.runtime.cache_clear()
        try:
            yield Rehearsal(settings, environment, home)
        finally:
            http.runtime.cache_clear()


def post(events: list[dict], key: str = WRITE_KEY) -> dict:
    """The handler as API Gateway's HTTP API invokes it (payload 2.0) for a browser's POST."""
    event = {"version": "2.0", "rawPath": "/v1/events",
             "headers": {"content-type": "application/json", "origin": SITE, "user-agent": CHROME,
                         "authorization": basic_authorization(key)},
             "requestContext": {"http": {"method": "POST", "sourceIp": "203.0.113.5"}},
             "body": base64.b64encode(orjson.dumps({"events": events})).decode(),
             "isBase64Encoded": True}
    return lambda_handler(event, None)


def run_stream_job(rehearsal: Rehearsal, log: Path) -> float:
    """The job script as Glue runs it: Glue's own arguments, the job's settings as arguments
    (none in the environment), the catch-up's trigger; only the AWS endpoints and credentials
    come from the environment, as a deployment's chain and network would give them."""
    arguments = [item for name in JOB_SETTINGS
                 for item in (f"--{name}", rehearsal.environment[name])]
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("CLICKSTREAM_") and name not in REGION_VARIABLES}
    started = time.monotonic()
    with log.open("ab") as out:
        code = subprocess.call(
            [sys.executable, "-m", "streaming.stream.job", "--JOB_NAME", JOB_NAME,
             "--JOB_ID", f"j_{uuid.uuid4().hex}", "--job-bookmark-option", "job-bookmark-disable",
             *arguments, "--trigger", "available-now"],
            cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT, timeout=300)
    assert code == 0, log.read_text()[-5000:]
    return time.monotonic() - started


def dagster(rehearsal: Rehearsal, *arguments: str) -> float:
    """Dagster's CLI on the project's code location, configured by the environment only."""
    log, started = rehearsal.home / "dagster.log", time.monotonic()
    with log.open("ab") as out:
        code = subprocess.call(
            [str(Path(sys.executable).parent / "dagster"), "asset", "materialize",
             "-m", "clickstream_assets.definitions", "--config-json", IN_PROCESS, *arguments],
            cwd=ROOT, env={**os.environ, "DAGSTER_HOME": str(rehearsal.home)}, stdout=out,
            stderr=subprocess.STDOUT, timeout=400)
    assert code == 0, log.read_text()[-5000:]
    return time.monotonic() - started


def rows(settings: Settings, name: str, day: str) -> list[dict]:
    """A table's rows of one day, read from S3 by the lake's own reader."""
    table = open_table(f"{settings.lake_uri}/{name}")
    assert table is not None, f"no table {name} under {settings.lake_uri}"
    return [row for row in table.to_pyarrow_dataset().to_table().to_pylist()
            if str(row.get("session_date") or row.get("event_date")) == day]


def bronze_ids(settings: Settings) -> Counter:
    table = open_table(tables.BRONZE.uri(settings))
    assert table is not None
    return Counter(table.to_pyarrow_dataset().to_table(columns=["event_id"])
                   .column("event_id").to_pylist())


def check_results(home: Path) -> dict[AssetCheckKey, bool]:
    """Every asset check the Dagster runs evaluated, and whether it passed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        with DagsterInstance.get() as instance:
            runs = instance.get_runs()
            assert [run.status for run in runs] == [DagsterRunStatus.SUCCESS] * len(runs)
            results = {}
            for run in runs:
                for entry in instance.all_logs(run.run_id,
                                               of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
                    evaluation = entry.dagster_event.event_specific_data
                    results[AssetCheckKey(evaluation.asset_key, evaluation.check_name)] = evaluation.passed
            return results


def test_aws_mode_end_to_end(aws: Rehearsal) -> None:
    started = time.monotonic()
    settings = aws.settings
    # The handler: keys from Secrets Manager (a key it does not hold is refused), events to
    # Kinesis; one request is retried, as a client that lost the answer would.
    refused = post([click("Z", f"{DAY}T09:00:00Z", "page_view", "/")], key="not-the-rehearsal-key")
    assert refused["statusCode"] == 401, refused
    events = known_events()
    first, retried = events[:7], events[7:]
    for batch in (first, retried, retried):
        answer = post(batch)
        assert answer["statusCode"] == 200, answer
        assert json.loads(answer["body"])["accepted"] == len(batch)

    # The stream job (Glue's arguments) drains the stream into bronze on S3.
    job_log, job_seconds = aws.home / "job.log", []
    job_seconds.append(run_stream_job(aws, job_log))
    assert bronze_ids(settings) == Counter(e["event_id"] for e in events)

    # A second run resumes from the checkpoint on S3: only what arrived since is added.
    later = click("E", f"{NEXT_DAY}T08:00:00Z", "page_view", "/")
    assert post([later])["statusCode"] == 200
    job_seconds.append(run_stream_job(aws, job_log))
    assert bronze_ids(settings) == Counter(e["event_id"] for e in [*events, later])

    # Dagster in AWS mode: silver and gold of DAY on Spark through S3A, with their checks.
    models_seconds = dagster(aws, "--select", "silver_sessions,gold_page_kpis,gold_funnel",
                             "--partition", DAY)
    assert_known_models(lambda name: rows(settings, name, DAY))
    checks = check_results(aws.home)
    assert set(checks) >= {AssetCheckKey(AssetKey("silver_sessions"), "schema"),
                           AssetCheckKey(AssetKey("gold_page_kpis"), "schema"),
                           AssetCheckKey(AssetKey("gold_funnel"), "schema")}, checks
    assert all(checks.values()), checks
    silver = open_table(tables.SESSIONS.uri(settings))
    commit = silver.history(1)[0]  # computed by Spark, committed by the lake's commit path
    assert commit["engineInfo"].startswith("delta-rs:"), commit
    assert commit["operationParameters"]["predicate"].startswith(f"session_date = '{DAY}'"), commit

    # The catalog: every table of the lake registered in Glue, by its s3:// location.
    views = [key.to_user_string() for key in VIEW_KEYS.values()]
    dagster(aws, "--select", ",".join(["lakehouse_catalog", *views]))
    glue = boto3.client("glue", region_name=REGION)
    registered = {table["Name"]: table for table in
                  glue.get_tables(DatabaseName=settings.glue_database)["TableList"]}
    assert set(registered) == {"bronze_events", "bronze_quarantine", "silver_sessions",
                               "gold_page_kpis", "gold_funnel"}
    for name, table in registered.items():
        layer, _, rest = name.partition("_")
        assert table["StorageDescriptor"]["Location"] == f"{settings.lake_uri}/{layer}/{rest}"
        assert table["Parameters"]["table_type"] == "DELTA"
    columns = {c["Name"] for c in registered["gold_funnel"]["StorageDescriptor"]["Columns"]}
    assert {"event_date", "sessions", "conversion_rate"} <= columns
    # The views went to Athena in that database (moto's accepts them without running them).
    athena = boto3.client("athena", region_name=REGION)
    created = set()
    for execution_id in athena.list_query_executions()["QueryExecutionIds"]:
        execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        if execution["QueryExecutionContext"].get("Database") == settings.glue_database:
            created |= set(CREATE_VIEW.findall(execution["Query"]))
    assert created == {key.path[-1] for key in VIEW_KEYS.values()}
    print(f"\nAWS rehearsal: {time.monotonic() - started:.0f} s (stream job runs "
          f"{', '.join(f'{s:.0f} s' for s in job_seconds)}; Dagster silver/gold and checks "
          f"{models_seconds:.0f} s)")
