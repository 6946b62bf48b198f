"""The asset checks on real Delta tables with known defects, run through Dagster.

Every defect below is planted on purpose, so each check's verdict, failure count per rule,
sample of failing rows and report page can be asserted exactly; the same tables without the
defects pass.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    DagsterInstance,
    Definitions,
    define_asset_job,
)

from clickstream_assets.constants import BRONZE, QUARANTINE
from clickstream_assets.defs.lake.assets import gold_funnel, gold_page_kpis, silver_sessions
from clickstream_assets.defs.lake.checks import gold_quality, silver_quality
from clickstream_assets.defs.stream.assets import bronze_catch_up
from clickstream_assets.defs.stream.checks import bronze_quality
from clickstream_assets.defs.stream.jobs import bronze_quality_job
from clickstream_assets.resources import build_resources
from streaming.lake.modeling import FUNNEL_COLUMNS, PAGE_KPI_COLUMNS, SESSION_COLUMNS
from streaming.settings import load_settings
from streaming.stream.transforms import QUARANTINE_COLUMNS
from tests.integration.test_quality_volume import INSTANTS, as_of
from tests.integration.test_sql_views import (
    D1,
    D2,
    known_events,
    known_funnel,
    known_page_kpis,
    known_quarantine,
    known_sessions,
    page_kpi,
    write_known_lake,
    write_table,
)

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
SESSIONS, PAGE_KPIS, FUNNEL = (AssetKey("silver_sessions"), AssetKey("gold_page_kpis"),
                               AssetKey("gold_funnel"))
modeled_checks_job = define_asset_job(
    "modeled_checks", selection=AssetSelection.checks_for_assets(silver_sessions, gold_page_kpis,
                                                                 gold_funnel))


@pytest.fixture
def settings(tmp_path):
    home = tmp_path / "home"
    return replace(load_settings(), mode="embedded", home=home, lake_uri=str(home / "lake"))


def defs(settings) -> Definitions:
    return Definitions(
        assets=[bronze_catch_up, silver_sessions, gold_page_kpis, gold_funnel],
        asset_checks=[bronze_quality, silver_quality, gold_quality],
        jobs=[bronze_quality_job, modeled_checks_job], resources=build_resources(settings))


def run_checks(settings, job: str, partition: str | None = None) -> dict:
    with DagsterInstance.ephemeral() as instance:
        result = defs(settings).resolve_job_def(job).execute_in_process(
            instance=instance, raise_on_error=False,
            run_config=as_of(INSTANTS[0]) if job == "bronze_quality_job" else None,
            tags={"dagster/partition": partition} if partition else None)
    return {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}


def meta(evaluation) -> dict:
    return {k: v.value for k, v in evaluation.metadata.items()}


def rules(evaluation) -> dict[str, int]:
    return {r.data["rule"]: r.data["failing_rows"]
            for r in evaluation.metadata["failures_by_rule"].value.records}


def report_of(settings, evaluation) -> str:
    url = meta(evaluation)["report"]
    return (settings.home / "reports" / url.split("/reports/")[1]).read_text()


def defective_bronze() -> list[dict]:
    """D1's events with five defects (D2's event is left out, so D1 is the newest day)."""
    events = [e for e in known_events() if e["event_date"] != D2]
    events[1]["event_type"] = "teleport"
    events[2]["received_at"] = events[2]["event_time"] - timedelta(minutes=10)
    events[3]["anonymous_id"] = "x" * 129
    events[4]["page_url"] = f"https://shop.example.com/checkout?contact={EMAIL}"
    events[5]["properties"] = [("note", f"card {CARD}")]
    return [*events, dict(events[6])]  # an exact duplicate, event_id and all


def test_clean_tables_pass_every_check(settings):
    write_known_lake(settings.lake_uri)
    bronze = run_checks(settings, "bronze_quality_job")
    modeled = run_checks(settings, "modeled_checks", str(D1))
    assert len(bronze) == 7 and len(modeled) == 5
    assert all(e.passed for e in [*bronze.values(), *modeled.values()])
    assert meta(bronze[(BRONZE, "schema")])["partition"] == f"newest event_date partition {D2}"
    assert meta(modeled[(FUNNEL, "schema")])["partition"] == f"event_date {D1}"


def test_bronze_defects(settings):
    write_known_lake(settings.lake_uri, bronze=defective_bronze())
    quarantined = [*known_quarantine(), {**known_quarantine()[0], "kinesis_sequence_number": "9",
                                         "raw_record": "from 198.51.100.7", "reason": "teleported"}]
    write_table(f"{settings.lake_uri}/bronze/quarantine", quarantined, QUARANTINE_COLUMNS,
                "quarantine_date")
    found = run_checks(settings, "bronze_quality_job")

    schema = found[(BRONZE, "schema")]
    assert not schema.passed and schema.severity == AssetCheckSeverity.WARN
    assert rules(schema) == {
        "event_id: field_uniqueness": 2,
        "event_type: event_type is a v1 type (standard or custom:<name>)": 1,
        "received_at >= event_time - 5 min (client clock skew)": 1,
        "anonymous_id: str_length(1, 128)": 1,
    }
    counts = meta(schema)
    assert (counts["rows_checked"], counts["failing_rows"], counts["failures"]) == (16, 5, 5)
    assert schema.description == "5 of 16 rows break 4 rules of BronzeEvents"
    sample = meta(schema)["sample_failing_rows"]
    assert "| teleport |" in sample and "2026-11-20T09:51:00+00:00" in sample

    duplicates = found[(BRONZE, "duplicate_rate")]
    assert not duplicates.passed
    assert (meta(duplicates)["duplicate_rows"], meta(duplicates)["rows"]) == (1, 16)
    assert meta(duplicates)["duplicate_rate"] == pytest.approx(1 / 16)

    pii = found[(BRONZE, "no_personal_data")]
    assert not pii.passed
    assert meta(pii)["findings_by_column"] == [
        {"column": "page_url", "kind": "email", "values": 1},
        {"column": "properties.value", "kind": "card number", "values": 1}]
    masked = meta(pii)["sample_findings_masked"]
    assert "j***@example.com" in masked and "************1111" in masked
    assert EMAIL not in masked and CARD not in masked

    quarantine_schema = found[(QUARANTINE, "schema")]
    assert rules(quarantine_schema) == {"reason: every reason names a quarantine rule": 1}
    rate = found[(QUARANTINE, "quarantine_rate")]
    assert not rate.passed
    assert (meta(rate)["quarantined_rows"], meta(rate)["bronze_rows"]) == (3, 16)
    assert meta(rate)["quarantine_rate"] == pytest.approx(3 / 19)
    assert meta(found[(QUARANTINE, "no_personal_data")])["findings"] == 1

    page = report_of(settings, schema)
    assert meta(pii)["report"] == meta(schema)["report"]  # one report page for the run
    assert "received_at &gt;= event_time - 5 min (client clock skew)" in page
    assert "j***@example.com" in page and EMAIL not in page
    assert found[(BRONZE, "volume_anomaly")].passed


def test_modeled_defects_warn_on_silver_and_fail_gold(settings):
    write_known_lake(settings.lake_uri)
    sessions = known_sessions()
    broken = next(s for s in sessions if s["anonymous_id"] == "B")
    broken["session_end"] = broken["session_start"] - timedelta(minutes=1)
    broken["entry_page"] = f"/u/{EMAIL}"
    write_table(f"{settings.lake_uri}/silver/sessions", sessions, SESSION_COLUMNS, "session_date")
    pages = [*known_page_kpis(), page_kpi(D1, f"/u/{EMAIL}", 1, 1, 0, 1, 1)]
    write_table(f"{settings.lake_uri}/gold/page_kpis", pages, PAGE_KPI_COLUMNS, "event_date")
    funnel = known_funnel()
    funnel[1]["checkout_sessions"] = 3
    write_table(f"{settings.lake_uri}/gold/funnel", funnel, FUNNEL_COLUMNS, "event_date")

    found = run_checks(settings, "modeled_checks", str(D1))

    silver = found[(SESSIONS, "schema")]
    assert not silver.passed and silver.severity == AssetCheckSeverity.WARN
    assert rules(silver) == {"session_end >= session_start": 1,
                             "duration_seconds = session_end - session_start": 1,
                             "funnel steps fall inside the visit": 1}
    assert not found[(SESSIONS, "no_personal_data")].passed

    funnel_check = found[(FUNNEL, "schema")]
    assert not funnel_check.passed and funnel_check.severity == AssetCheckSeverity.ERROR
    assert rules(funnel_check) == {
        "funnel steps are monotone: sessions >= page_view_sessions >= add_to_cart_sessions >= "
        "checkout_sessions >= purchase_sessions": 1}
    assert "checkout_sessions=3" in meta(funnel_check)["failures_by_rule"].records[0].data["example"]
    gold_pii = found[(PAGE_KPIS, "no_personal_data")]
    assert not gold_pii.passed and gold_pii.severity == AssetCheckSeverity.ERROR
    assert found[(PAGE_KPIS, "schema")].passed

    assert Path(meta(silver)["report"]).name != Path(meta(funnel_check)["report"]).name
    assert "failed: blocks downstream" in report_of(settings, funnel_check)
