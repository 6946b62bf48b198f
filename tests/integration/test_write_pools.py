"""Two runs that write one silver table never commit at once: a backfill of late data
launches a run per day, each its own Spark driver, and delta-spark is safe on S3 for one
writing driver only. Two real `dagster asset materialize` processes on one instance whose
dagster.yaml is the one `clickstream demo --ui` writes."""

import os
import subprocess
import sys

import pytest
from dagster import DagsterEventType, DagsterInstance, EventRecordsFilter

from clickstream_assets.defs.lake.assets import silver_sessions, write_pool
from streaming.lake.read import commits_since
from streaming.local.dagster_ui import ROOT, write_instance_config
from tests.conftest import isolated_settings
from tests.integration.test_sql_views import D0, D1, write_known_lake

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def step_windows(instance: DagsterInstance, step: str) -> list[tuple[float, float]]:
    """Per run: when its `step` started and when it succeeded, oldest first (the runs also
    run the table's checks, which write nothing)."""
    windows: dict[str, list[float]] = {}
    for kind in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS):
        for record in instance.get_event_records(EventRecordsFilter(event_type=kind)):
            if record.event_log_entry.step_key != step:
                continue
            windows.setdefault(record.event_log_entry.run_id, []).append(
                record.event_log_entry.timestamp)
    return sorted((min(times), max(times)) for times in windows.values())


def test_backfill_runs_of_one_table_take_turns(tmp_path):
    settings = isolated_settings(tmp_path)
    write_known_lake(settings.lake_uri)
    home = tmp_path / "dagster"
    home.mkdir()
    write_instance_config(home)
    with DagsterInstance.from_config(str(home)) as instance:  # storage created once, not raced
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    assert silver_sessions.op.pool == write_pool("silver_sessions")
    env = {**os.environ, **settings.to_env(), "DAGSTER_HOME": str(home)}
    runs = [subprocess.Popen(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m",
         "clickstream_assets.definitions", "--select", "silver_sessions", "--partition", str(day)],
        cwd=ROOT, env=env, stdout=(tmp_path / f"{day}.log").open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True) for day in (D0, D1)]
    for run, day in zip(runs, (D0, D1), strict=True):
        assert run.wait(timeout=600) == 0, (tmp_path / f"{day}.log").read_text()[-3000:]
    with DagsterInstance.from_config(str(home)) as instance:
        (_, first_end), (second_start, _) = step_windows(instance, "silver_sessions")
    assert first_end <= second_start, "two runs wrote silver_sessions at the same time"
    commits = commits_since(f"{settings.lake_uri}/silver/sessions", -1)
    assert [c.operation for c in commits][-2:] == ["WRITE", "WRITE"]
