"""The KPI dashboard as an asset: a page of charts built from the business views.

It is downstream of gold, so in a run that builds gold and the dashboard a failing gold
check (blocking) stops the dashboard from being rebuilt with bad numbers; the schedule that
refreshes it between gold builds skips while the latest gold check has failed, for the same
reason. The page is served by the local gateway at /reports/dashboard/, and every
materialization links to it.
"""

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetExecutionContext,
    AssetSelection,
    DagsterInstance,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    schedule,
)

from clickstream_assets.as_of import AsOf
from clickstream_assets.defs.lake.assets import SESSIONS
from clickstream_assets.defs.lake.checks import FUNNEL, PAGE_KPIS, gold_quality
from clickstream_assets.defs.lakesql.assets import VIEW_KEYS
from clickstream_assets.defs.stream.assets import BRONZE, OWNER
from clickstream_assets.resources import ReportsResource, SqlResource
from streaming.reports.dashboard import build_dashboard

DASHBOARD_VIEWS = ("events_per_minute", "hourly_volume", "daily_kpis", "shop_funnel", "top_pages",
                   "sessions_by_source", "new_vs_returning")


@asset(
    deps=[BRONZE, SESSIONS, PAGE_KPIS, FUNNEL, *(VIEW_KEYS[name] for name in DASHBOARD_VIEWS)],
    group_name="reports", owners=[OWNER], kinds={"html", "duckdb", "athena"},
    description="The KPI dashboard: events per minute, volume anomaly flags, shop funnel, "
                "conversion, top pages, sources and new vs returning visitors, each chart a "
                "query on the business views. Served by the local gateway at "
                "/reports/dashboard/; the latest materialization links to it.",
)
def kpi_dashboard(context: AssetExecutionContext, config: AsOf, sql: SqlResource,
                  reports: ReportsResource) -> MaterializeResult:
    with sql.engine() as engine:
        dashboard = build_dashboard(engine, config.instant())
    url = reports.publish("dashboard/index.html", dashboard.html)
    context.log.info(f"KPI dashboard: {url}")
    return MaterializeResult(metadata={
        "dashboard": MetadataValue.url(url),
        "latest_modeled_day": str(dashboard.latest_day),
        "latest_event_minute": str(dashboard.latest_minute),
        "anomalous_hours_48h": dashboard.flagged_hours,
        "rows_per_view": MetadataValue.json(dashboard.rows),
    })


kpi_dashboard_job = define_asset_job(
    "kpi_dashboard_job", selection=AssetSelection.assets(kpi_dashboard),
    description="Rebuilds the KPI dashboard from the views.")


def failing_gold_checks(instance: DagsterInstance) -> list[str]:
    """Blocking gold checks whose latest evaluation failed."""
    keys: list[AssetCheckKey] = list(gold_quality.check_keys)
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    failing = []
    for key, record in latest.items():
        event = record.event.dagster_event if record.event else None
        evaluation = event.event_specific_data if event else None
        if isinstance(evaluation, AssetCheckEvaluation) and not evaluation.passed:
            failing.append(f"{key.asset_key.to_user_string()}/{key.name} ({record.partition})")
    return sorted(failing)


@schedule(job=kpi_dashboard_job, cron_schedule="*/10 * * * *", execution_timezone="UTC",
          default_status=DefaultScheduleStatus.RUNNING,
          description="Every 10 minutes, for fresh live traffic and anomaly flags; skipped while "
                      "a blocking gold check is failing.")
def kpi_dashboard_schedule(context: ScheduleEvaluationContext):
    failing = failing_gold_checks(context.instance)
    if failing:
        return SkipReason(f"gold checks failing: {', '.join(failing)}")
    return RunRequest()
