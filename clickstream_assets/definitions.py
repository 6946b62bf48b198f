"""The code location: every area's assets, jobs, sensors and schedules, with global policies.

Resources come from the environment (`CLICKSTREAM_MODE` and friends), so the same
definitions run embedded and on AWS.
"""

from __future__ import annotations

import warnings

from dagster import AssetSpec, BetaWarning, Definitions, PreviewWarning

from clickstream_assets.defs.lake import assets as modeled
from clickstream_assets.defs.lake import maintenance
from clickstream_assets.defs.lake.checks import gold_quality, silver_quality
from clickstream_assets.defs.lakesql import assets as catalog
from clickstream_assets.defs.reports import assets as reports
from clickstream_assets.defs.stream import assets as ingestion
from clickstream_assets.defs.stream.checks import (
    BRONZE_FRESHNESS,
    bronze_quality,
    bronze_quality_job,
    bronze_quality_schedule,
)
from clickstream_assets.jobs import (
    catch_up_job,
    modeled_job,
    observe_stream_job,
    optimize_job,
    vacuum_job,
)
from clickstream_assets.resources import build_resources
from clickstream_assets.schedules import (
    modeled_hourly_schedule,
    observe_stream_schedule,
    optimize_schedule,
    vacuum_schedule,
)
from clickstream_assets.sensors import bronze_health_sensor, late_data_sensor, stream_lag_sensor

warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

PRODUCT_TAGS = {"product": "clickstream-lakehouse"}


def with_global_policies(spec: AssetSpec) -> AssetSpec:
    """Every asset is tagged with the product and has an owner, whoever wrote it."""
    return spec.replace_attributes(tags={**spec.tags, **PRODUCT_TAGS},
                                   owners=spec.owners or [ingestion.OWNER])


def with_bronze_freshness(spec: AssetSpec) -> AssetSpec:
    """Bronze's freshness policy lives with the bronze checks, the other view of its health."""
    if spec.key != ingestion.BRONZE:
        return spec
    return spec.replace_attributes(freshness_policy=BRONZE_FRESHNESS)


def build_definitions() -> Definitions:
    defs = Definitions(
        assets=[ingestion.kinesis_stream, ingestion.bronze_catch_up, modeled.silver_sessions,
                modeled.gold_page_kpis, modeled.gold_funnel, maintenance.bronze_optimize,
                maintenance.bronze_vacuum, catalog.sql_catalog, reports.kpi_dashboard],
        asset_checks=[bronze_quality, silver_quality, gold_quality],
        jobs=[catch_up_job, modeled_job, observe_stream_job, optimize_job, vacuum_job,
              bronze_quality_job, catalog.catalog_job, reports.kpi_dashboard_job],
        sensors=[bronze_health_sensor, stream_lag_sensor, late_data_sensor],
        schedules=[observe_stream_schedule, modeled_hourly_schedule, optimize_schedule,
                   vacuum_schedule, bronze_quality_schedule, catalog.catalog_schedule,
                   reports.kpi_dashboard_schedule],
        resources=build_resources(),
    )
    return defs.map_asset_specs(func=with_global_policies).map_asset_specs(
        func=with_bronze_freshness)


defs = build_definitions()
