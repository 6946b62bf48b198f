"""The lag sensor's view of a job that crashed or is coming back, on the real job process.

Two bugs the fault run found: a job that was still starting (Spark takes a minute on a busy
machine) looked dead, so the sensor launched a catch-up that could only fail on the
checkpoint lock; and that failed run's run_key then blocked every later catch-up for the
same backlog, so a job killed afterwards was never caught up without a person.
"""

import subprocess
import sys
import time
import uuid
from dataclasses import replace

import orjson
import pytest
from dagster import DagsterInstance, Definitions, RunRequest, SkipReason, build_sensor_context

from clickstream_assets.defs.stream.assets import bronze_catch_up, kinesis_stream
from clickstream_assets.defs.stream.jobs import catch_up_job
from clickstream_assets.defs.stream.sensors import stream_lag_sensor
from clickstream_assets.resources import build_resources
from streaming.kinesis import ensure_stream, kinesis_client, put_records
from streaming.local.stack import LocalStack, kill_process
from streaming.stream.status import checkpoint_lock, read_status

pytestmark = pytest.mark.slow


@pytest.fixture
def backlog(kinesis, tmp_path):
    """Settings of a private stream with records waiting, and no job running."""
    settings = replace(kinesis.settings, home=tmp_path, lake_uri=str(tmp_path / "lake"),
                       checkpoint_uri=str(tmp_path / "checkpoints"),
                       stream_name=f"rec-{uuid.uuid4().hex[:8]}")
    client = kinesis_client(settings)
    ensure_stream(client, settings.stream_name, settings.shard_count)
    put_records(client, settings.stream_name,
                [(f"k{i}", orjson.dumps({"n": i})) for i in range(10)])
    return settings


def tick(instance, settings):
    with build_sensor_context(instance=instance, resources=build_resources(settings)) as context:
        return stream_lag_sensor(context)


def test_a_starting_job_is_not_taken_for_a_dead_one(backlog):
    stack = LocalStack(backlog)
    process = subprocess.Popen([sys.executable, "-m", "streaming.stream.job"], env=stack.child_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while read_status(backlog).get("state") != "starting" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert read_status(backlog)["pid"] == process.pid
        with DagsterInstance.ephemeral() as instance:
            starting = tick(instance, backlog)
            kill_process(process)
            dead = tick(instance, backlog)
    finally:
        kill_process(process)
    assert isinstance(starting, SkipReason) and "job starting" in starting.skip_message
    assert isinstance(dead, RunRequest) and "stream job is down (state starting)" in dead.tags[
        "clickstream/reason"]


def test_a_failed_catch_up_does_not_block_the_next_one(backlog):
    defs = Definitions(assets=[kinesis_stream, bronze_catch_up], jobs=[catch_up_job],
                       resources=build_resources(backlog))
    with DagsterInstance.ephemeral() as instance:
        first = tick(instance, backlog)
        with checkpoint_lock(backlog):
            failed = defs.resolve_job_def(catch_up_job.name).execute_in_process(
                instance=instance, raise_on_error=False, tags=first.tags)
        assert not failed.success
        retry = tick(instance, backlog)
        again = tick(instance, backlog)
    assert isinstance(first, RunRequest) and isinstance(retry, RunRequest)
    assert retry.run_key != first.run_key
    assert again.run_key == retry.run_key
