"""The reports stage's definitions: the KPI dashboard."""

from dagster import Definitions

from clickstream_assets.defs.reports.assets import kpi_dashboard
from clickstream_assets.defs.reports.jobs import kpi_dashboard_job
from clickstream_assets.defs.reports.schedules import kpi_dashboard_schedule

defs = Definitions(assets=[kpi_dashboard], jobs=[kpi_dashboard_job], schedules=[kpi_dashboard_schedule])
