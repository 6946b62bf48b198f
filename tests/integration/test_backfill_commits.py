"""A backfill of late data launches one run per day, each its own Spark driver, and they may
commit to one silver table at once: the commit path (delta-rs, conditional puts) is safe for
it. Two real `dagster asset materialize` processes for two days, started together, on an
instance whose storage is PostgreSQL as a deployment's is."""

import os
import subprocess
import sys

import pytest
from dagster import AssetKey, DagsterInstance
from deltalake import DeltaTable

from streaming.lake import tables
from streaming.local.dagster_ui import ROOT, prepare_instance
from tests.conftest import isolated_settings
from tests.integration.test_sql_views import D0, D1, D2, write_known_lake

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def rows_by_day(uri: str) -> dict:
    frame = DeltaTable(uri).to_pyarrow_dataset().to_table().to_pandas()
    return {day: group for day, group in frame.groupby("session_date")}


def test_two_backfill_runs_of_one_table_commit_side_by_side(tmp_path, postgres):
    settings = isolated_settings(tmp_path)
    write_known_lake(settings.lake_uri)
    sessions = tables.SESSIONS.uri(settings)
    before = rows_by_day(sessions)
    home = tmp_path / "dagster"
    home.mkdir()
    prepare_instance(home, postgres.create_database("backfill"))
    env = {**os.environ, **settings.to_env(), "DAGSTER_HOME": str(home)}
    runs = [subprocess.Popen(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m",
         "clickstream_assets.definitions", "--select", "silver_sessions", "--partition", str(day)],
        cwd=ROOT, env=env, stdout=(tmp_path / f"{day}.log").open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True) for day in (D0, D1)]
    for run, day in zip(runs, (D0, D1), strict=True):
        assert run.wait(timeout=600) == 0, (tmp_path / f"{day}.log").read_text()[-3000:]

    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        materialized = {
            record.partition_key: record.asset_materialization.metadata["dagster/row_count"].value
            for record in instance.fetch_materializations(AssetKey("silver_sessions"), limit=10).records}
    assert set(materialized) == {str(D0), str(D1)}
    after = rows_by_day(sessions)
    for day in (D0, D1):
        rows = after[day]
        assert len(rows) == materialized[str(day)] > 0
        assert rows.session_key.is_unique
    untouched = [frame.sort_values("session_key", ignore_index=True) for frame in (before[D2], after[D2])]
    assert untouched[0].equals(untouched[1])
    history = DeltaTable(sessions).history()
    versions = sorted(commit["version"] for commit in history)
    assert versions == list(range(versions[-1] + 1)), "the log has a gap"
    assert [commit["operation"] for commit in history[:2]] == ["WRITE", "WRITE"]
