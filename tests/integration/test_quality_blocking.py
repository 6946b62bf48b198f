"""A failing gold check stops what is downstream of gold: the real silver/gold build on Spark.

Bronze holds a day with an e-mail address in a page path (a record that bypassed the
handler's redaction). Building the day on Spark carries it into silver (entry page) and gold
(page KPIs); silver's check warns, gold's blocks, so the KPI dashboard in the same run is not
rebuilt, and the dashboard's own schedule skips until gold is clean again.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    RunRequest,
    SkipReason,
    build_schedule_context,
    instance_for_test,
    materialize,
)

from clickstream_assets.defs.lake.assets import gold_funnel, gold_page_kpis, silver_sessions
from clickstream_assets.defs.lake.checks import gold_quality, silver_quality
from clickstream_assets.defs.lakesql.assets import sql_catalog
from clickstream_assets.defs.reports.assets import kpi_dashboard
from clickstream_assets.defs.reports.schedules import kpi_dashboard_schedule
from clickstream_assets.resources import build_resources
from streaming.settings import load_settings
from tests.integration.test_sql_views import D1, at, bronze_event, known_events, write_known_lake

pytestmark = [pytest.mark.slow, pytest.mark.spark]

ASSETS = [silver_sessions, gold_page_kpis, gold_funnel, kpi_dashboard, silver_quality,
          gold_quality]


def test_failing_gold_check_blocks_the_dashboard(tmp_path, spark):
    settings = replace(load_settings(), mode="embedded", home=tmp_path,
                       lake_uri=str(tmp_path / "lake"), checkpoint_uri=str(tmp_path / "cp"))
    leaked = bronze_event("E", at(D1, "15:00:00"), "page_view", "/u/jane.doe@example.com")
    write_known_lake(settings.lake_uri, bronze=[*known_events(), leaked])
    resources = build_resources(settings)
    with instance_for_test() as instance:
        assert materialize([sql_catalog], instance=instance, resources=resources).success
        result = materialize(ASSETS, instance=instance, resources=resources,
                             partition_key=str(D1), raise_on_error=False)
        evaluations = {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}
        built = {e.asset_key for e in result.get_asset_materialization_events()}
        skipped = kpi_dashboard_schedule(build_schedule_context(instance=instance))

    assert built == {AssetKey("silver_sessions"), AssetKey("gold_page_kpis"),
                     AssetKey("gold_funnel")}
    gold_pii = evaluations[(AssetKey("gold_page_kpis"), "no_personal_data")]
    assert not gold_pii.passed and gold_pii.severity == AssetCheckSeverity.ERROR
    assert gold_pii.metadata["findings"].value == 1
    silver_pii = evaluations[(AssetKey("silver_sessions"), "no_personal_data")]
    assert not silver_pii.passed and silver_pii.severity == AssetCheckSeverity.WARN
    assert evaluations[(AssetKey("gold_funnel"), "schema")].passed
    assert not result.success
    assert "kpi_dashboard" not in {e.step_key for e in result.all_events
                                   if e.event_type_value == "STEP_SUCCESS"}
    assert not (settings.home / "reports" / "dashboard" / "index.html").exists()
    assert isinstance(skipped, SkipReason)
    assert f"gold_page_kpis/no_personal_data ({D1})" in skipped.skip_message


def test_the_dashboard_schedule_runs_when_gold_is_clean():
    with instance_for_test() as instance:
        assert isinstance(kpi_dashboard_schedule(build_schedule_context(instance=instance)),
                          RunRequest)
