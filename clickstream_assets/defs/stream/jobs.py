"""Jobs of the stream stage: observe the stream, catch bronze up, check bronze."""

from dagster import AssetSelection, define_asset_job

from clickstream_assets.constants import BRONZE, QUARANTINE, STREAM

catch_up_job = define_asset_job(
    "bronze_catch_up_job",
    selection=AssetSelection.assets(BRONZE, QUARANTINE),
    description="Drains the stream's backlog into bronze with an available-now trigger.",
)
observe_stream_job = define_asset_job(
    "observe_stream_job", selection=AssetSelection.assets(STREAM),
    description="Observes the Kinesis stream: new records, backlog, lag.",
)
bronze_quality_job = define_asset_job(
    "bronze_quality_job", selection=AssetSelection.checks_for_assets(BRONZE, QUARANTINE),
    description="Runs the bronze and quarantine checks and writes their report page.")
