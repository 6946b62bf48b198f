"""The stream stage's definitions, with bronze's freshness policy: it lives with the bronze
checks, the other view of bronze's health."""

from dagster import AssetSpec, Definitions

from clickstream_assets.constants import BRONZE
from clickstream_assets.defs.stream.assets import bronze_catch_up, kinesis_stream
from clickstream_assets.defs.stream.checks import BRONZE_FRESHNESS, bronze_quality
from clickstream_assets.defs.stream.jobs import (
    bronze_quality_job,
    catch_up_job,
    observe_stream_job,
    stream_job_start_job,
)
from clickstream_assets.defs.stream.schedules import bronze_quality_schedule, observe_stream_schedule
from clickstream_assets.defs.stream.sensors import (
    bronze_health_sensor,
    stream_job_sensor,
    stream_lag_sensor,
)


def with_bronze_freshness(spec: AssetSpec) -> AssetSpec:
    return spec.replace_attributes(freshness_policy=BRONZE_FRESHNESS) if spec.key == BRONZE else spec


defs = Definitions(
    assets=[kinesis_stream, bronze_catch_up],
    asset_checks=[bronze_quality],
    jobs=[catch_up_job, observe_stream_job, bronze_quality_job, stream_job_start_job],
    sensors=[bronze_health_sensor, stream_lag_sensor, stream_job_sensor],
    schedules=[observe_stream_schedule, bronze_quality_schedule],
).map_asset_specs(func=with_bronze_freshness)
