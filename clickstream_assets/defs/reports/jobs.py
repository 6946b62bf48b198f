"""The job of the reports stage."""

from dagster import AssetSelection, define_asset_job

from clickstream_assets.defs.reports.assets import kpi_dashboard

kpi_dashboard_job = define_asset_job(
    "kpi_dashboard_job", selection=AssetSelection.assets(kpi_dashboard),
    description="Rebuilds the KPI dashboard from the views.")
