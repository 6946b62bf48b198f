"""The KPI dashboard as an asset: a page of charts built from the business views.

It is downstream of gold, so in a run that builds gold and the dashboard a failing gold
check (blocking) stops the dashboard from being rebuilt with bad numbers; the schedule that
refreshes it between gold builds skips while the latest gold check has failed, for the same
reason. The page is served by the local gateway at /reports/dashboard/, and every
materialization links to it.
"""

from dagster import (
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from clickstream_assets.as_of import AsOf
from clickstream_assets.constants import BRONZE, FUNNEL, OWNER, PAGE_KPIS, REPORTS, SESSIONS
from clickstream_assets.defs.lakesql.assets import VIEW_KEYS
from clickstream_assets.resources import ReportsResource, SqlResource
from streaming.reports.dashboard import build_dashboard

DASHBOARD_VIEWS = ("events_per_minute", "hourly_volume", "daily_kpis", "shop_funnel", "top_pages",
                   "sessions_by_source", "new_vs_returning")


@asset(
    deps=[BRONZE, SESSIONS, PAGE_KPIS, FUNNEL, *(VIEW_KEYS[name] for name in DASHBOARD_VIEWS)],
    group_name=REPORTS, owners=[OWNER], kinds={"html", "duckdb", "athena"},
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
