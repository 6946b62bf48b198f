"""The lake stage's definitions: silver and gold, their checks, bronze maintenance."""

from dagster import Definitions

from clickstream_assets.defs.lake.assets import (
    gold_funnel,
    gold_page_kpis,
    silver_identities,
    silver_sessions,
)
from clickstream_assets.defs.lake.checks import gold_quality, silver_quality
from clickstream_assets.defs.lake.jobs import modeled_job, optimize_job, vacuum_job
from clickstream_assets.defs.lake.maintenance import bronze_optimize, bronze_vacuum
from clickstream_assets.defs.lake.privacy import erasures_hold, forget_job, privacy_requests
from clickstream_assets.defs.lake.schedules import modeled_hourly_schedule, optimize_schedule, vacuum_schedule
from clickstream_assets.defs.lake.sensors import identified_later_sensor, late_data_sensor

defs = Definitions(
    assets=[silver_sessions, silver_identities, gold_page_kpis, gold_funnel, bronze_optimize, bronze_vacuum,
            privacy_requests],
    asset_checks=[silver_quality, gold_quality, erasures_hold],
    jobs=[modeled_job, optimize_job, vacuum_job, forget_job],
    sensors=[late_data_sensor, identified_later_sensor],
    schedules=[modeled_hourly_schedule, optimize_schedule, vacuum_schedule],
)
