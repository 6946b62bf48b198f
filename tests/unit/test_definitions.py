"""The code location as the UI shows it: every asset described, grouped, owned and kinded,
and a snapshot of every AssetSpec so a change to the graph is a reviewed change."""

import json
import os
from pathlib import Path

import pytest
from dagster import AssetKey

from clickstream_assets.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.json"


def spec_summary(spec) -> dict:
    partitions = spec.partitions_def
    return {
        "group": spec.group_name,
        "owners": sorted(spec.owners),
        "kinds": sorted(spec.kinds),
        "deps": sorted("/".join(dep.asset_key.path) for dep in spec.deps),
        "partitions": type(partitions).__name__ if partitions else None,
        "description": spec.description,
        "columns": [c.name for c in spec.metadata["dagster/column_schema"].columns]
        if "dagster/column_schema" in spec.metadata else None,
        "tags": dict(sorted(spec.tags.items())),
    }


@pytest.fixture(scope="module")
def specs() -> dict:
    return {"/".join(s.key.path): s for s in defs.resolve_all_asset_specs()}


def test_every_asset_reads_as_part_of_the_map(specs):
    for key, spec in specs.items():
        assert spec.description and len(spec.description) > 40, key
        assert spec.group_name and spec.group_name != "default", key
        assert spec.owners == ["team:clickstream"], key
        assert spec.kinds, key
        assert spec.tags.get("product") == "clickstream-lakehouse", key


def test_tables_carry_schema_and_modeled_tables_column_lineage(specs):
    for key in ("bronze_events", "bronze_quarantine", "silver_sessions", "gold_page_kpis",
                "gold_funnel"):
        assert "dagster/column_schema" in specs[key].metadata, key
    for key in ("silver_sessions", "gold_page_kpis", "gold_funnel"):
        lineage = specs[key].metadata["dagster/column_lineage"]
        columns = {c.name for c in specs[key].metadata["dagster/column_schema"].columns}
        assert set(lineage.deps_by_column) == columns, key


def test_graph_runs_from_the_stream_to_gold():
    graph = defs.resolve_asset_graph()
    upstream = graph.get(AssetKey("gold_funnel")).parent_keys
    assert AssetKey("silver_sessions") in upstream
    assert AssetKey("kinesis_stream") in graph.get(AssetKey("bronze_events")).parent_keys


def test_asset_specs_match_the_snapshot(specs):
    current = {key: spec_summary(spec) for key, spec in sorted(specs.items())}
    if os.environ.get("CLICKSTREAM_UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n")
    assert current == json.loads(SNAPSHOT.read_text()), (
        "asset specs changed: review, then rerun with CLICKSTREAM_UPDATE_SNAPSHOTS=1")


def test_sensors_jobs_and_schedules_are_defined():
    assert {s.name for s in defs.sensors} >= {
        "stream_lag_sensor", "late_data_sensor", "bronze_health_sensor"}
    assert {s.name for s in defs.schedules} >= {
        "observe_stream_job_schedule", "modeled_hourly_schedule", "bronze_optimize_job_schedule",
        "bronze_vacuum_job_schedule"}
    assert defs.resolve_job_def("silver_gold_job").partitions_def is not None
