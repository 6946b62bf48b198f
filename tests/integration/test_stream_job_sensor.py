"""The control plane brings the continuous Glue stream job back (issue 19): a run ends at its
timeout, on a failure or at a maintenance stop, and `stream_job_sensor` starts the next one,
saying why in the run's tags; while any run holds the job (a catch-up too) it waits.

Against Glue's job API served by moto on loopback (streaming/local/s3_server.py, the `s3`
fixture's server), reached through boto3's endpoint configuration. moto's job runs only go
STARTING -> RUNNING -> SUCCEEDED (its state manager can hold them in STARTING); it has no
BatchStopJobRun and never ends a run TIMEOUT, FAILED or STOPPED, so those endings are
checked on GetJobRuns answers as Glue documents them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import httpx
import pytest
from dagster import DagsterInstance, Definitions, RunRequest, SkipReason, build_sensor_context

from clickstream_assets.defs.stream.assets import REASON_TAG
from clickstream_assets.defs.stream.jobs import stream_job_start_job
from clickstream_assets.defs.stream.sensors import restart_reason, stream_job_sensor
from clickstream_assets.resources import CATCH_UP_ARGUMENTS, build_resources
from streaming.settings import load_settings

REGION = "eu-central-1"
RUN_MODEL = "glue::job_run"


@pytest.fixture()
def glue(s3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A Glue job like Terraform's (one concurrent run) on the loopback server, and the
    control plane's settings for it in AWS mode."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", s3.url)
    name = f"stream-job-{uuid.uuid4().hex[:8]}"
    client = boto3.client("glue", region_name=REGION)
    client.create_job(Name=name, Role="arn:aws:iam::123456789012:role/glue", GlueVersion="6.0",
                      Command={"Name": "gluestreaming", "ScriptLocation": "s3://scripts/job.py"},
                      ExecutionProperty={"MaxConcurrentRuns": 1}, Timeout=10080,
                      DefaultArguments={"--CLICKSTREAM_MODE": "aws", "--AWS_REGION": REGION})
    settings = load_settings({"CLICKSTREAM_MODE": "aws", "AWS_REGION": REGION,
                              "CLICKSTREAM_HOME": str(tmp_path), "CLICKSTREAM_GLUE_JOB_NAME": name,
                              "CLICKSTREAM_LAKE_URI": f"s3://{s3.bucket}/{name}"})
    yield client, name, build_resources(settings)
    hold_runs(s3.url, False)


def hold_runs(url: str, hold: bool) -> None:
    """moto's state manager: hold job runs in STARTING (progression by hand, never made), or
    let them advance at once to SUCCEEDED."""
    if hold:
        body = {"model_name": RUN_MODEL, "transition": {"progression": "manual", "times": 10**6}}
        httpx.post(f"{url}/moto-api/state-manager/set-transition", json=body).raise_for_status()
    else:
        httpx.post(f"{url}/moto-api/state-manager/unset-transition",
                   json={"model_name": RUN_MODEL}).raise_for_status()


def tick(instance: DagsterInstance, resources: dict):
    with build_sensor_context(instance=instance, resources=resources) as context:
        return stream_job_sensor(context)


def start(instance: DagsterInstance, resources: dict, request: RunRequest) -> str | None:
    """Runs what the sensor asked for, as the daemon would: the job with the request's tags."""
    defs = Definitions(jobs=[stream_job_start_job], resources=resources)
    result = defs.resolve_job_def(stream_job_start_job.name).execute_in_process(
        instance=instance, tags=request.tags)
    assert result.success
    return result.output_for_node("start_continuous_run")


def test_the_sensor_starts_the_continuous_job_whenever_no_run_holds_it(s3, glue) -> None:
    client, name, resources = glue
    with DagsterInstance.ephemeral() as instance:
        # A first deploy: no run yet.
        first = tick(instance, resources)
        assert isinstance(first, RunRequest)
        assert first.tags[REASON_TAG] == "the continuous stream job has no recent run"
        hold_runs(s3.url, True)
        run_id = start(instance, resources, first)
        run = client.get_job_run(JobName=name, RunId=run_id)["JobRun"]
        assert "--trigger" not in run["Arguments"]  # the continuous job, not a catch-up

        # While that run is STARTING (or RUNNING) nothing happens, and a second start loses.
        waiting = tick(instance, resources)
        assert isinstance(waiting, SkipReason) and run_id in waiting.skip_message
        assert start(instance, resources, first) is None

        # The run ends (moto: SUCCEEDED); the next tick starts the job again and says why.
        hold_runs(s3.url, False)
        again = tick(instance, resources)
        assert isinstance(again, RunRequest)
        assert again.tags[REASON_TAG].startswith(f"continuous run {run_id} ended SUCCEEDED")
        assert again.run_key != first.run_key
        assert again.tags["clickstream/glue_last_run"] == run_id

        # A catch-up holds the job's one slot: wait for it, then bring the continuous run back.
        hold_runs(s3.url, True)
        catch_up = client.start_job_run(JobName=name, Arguments=CATCH_UP_ARGUMENTS)["JobRunId"]
        assert isinstance(tick(instance, resources), SkipReason)
        hold_runs(s3.url, False)
        after = tick(instance, resources)
        assert isinstance(after, RunRequest)
        assert after.tags[REASON_TAG].startswith(f"continuous run {run_id} ended")
        assert after.tags["clickstream/glue_last_run"] == catch_up


def test_the_sensor_leaves_the_embedded_job_to_the_stack(tmp_path: Path) -> None:
    resources = build_resources(load_settings({"CLICKSTREAM_HOME": str(tmp_path)}))
    with DagsterInstance.ephemeral() as instance:
        assert "embedded" in tick(instance, resources).skip_message


def glue_run(run_id: str, state: str, minute: int, **fields) -> dict:
    return {"Id": run_id, "JobRunState": state,
            "StartedOn": datetime(2026, 11, 29, 0, minute, tzinfo=UTC), **fields}


@pytest.mark.parametrize(("ended", "reason"), [
    (glue_run("jr_1", "TIMEOUT", 0, ExecutionTime=604800, ErrorMessage="Job run timed out"),
     "continuous run jr_1 ended TIMEOUT after 10080 min: Job run timed out"),
    (glue_run("jr_1", "FAILED", 0, ExecutionTime=90, ErrorMessage="KinesisException"),
     "continuous run jr_1 ended FAILED after 2 min: KinesisException"),
    (glue_run("jr_1", "STOPPED", 0, ExecutionTime=3600),
     "continuous run jr_1 ended STOPPED after 60 min"),
])
def test_every_way_a_run_ends_restarts_the_job(ended: dict, reason: str) -> None:
    """The endings moto cannot produce, as GetJobRuns reports them (newest first)."""
    catch_up = glue_run("jr_2", "SUCCEEDED", 5, Arguments=CATCH_UP_ARGUMENTS)
    assert restart_reason([catch_up, ended]) == reason
    for active in ("STARTING", "RUNNING", "STOPPING", "WAITING"):
        assert restart_reason([glue_run("jr_3", active, 9), catch_up, ended]) is None
