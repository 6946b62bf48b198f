"""Jobs the sensors and schedules launch."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

catch_up_job = define_asset_job(
    "bronze_catch_up_job",
    selection=AssetSelection.assets("bronze_events", "bronze_quarantine"),
    description="Drains the stream's backlog into bronze with an available-now trigger.",
)
modeled_job = define_asset_job(
    "silver_gold_job",
    selection=AssetSelection.assets("silver_sessions", "gold_page_kpis", "gold_funnel"),
    description="Builds one day of silver sessions and gold KPIs from bronze.",
)
observe_stream_job = define_asset_job(
    "observe_stream_job", selection=AssetSelection.assets("kinesis_stream"),
    description="Observes the Kinesis stream: new records, backlog, lag.",
)
optimize_job = define_asset_job("bronze_optimize_job",
                                selection=AssetSelection.assets("bronze_optimize"))
vacuum_job = define_asset_job("bronze_vacuum_job", selection=AssetSelection.assets("bronze_vacuum"))
