"""Jobs of the lake stage: silver and gold by day, and bronze maintenance."""

from dagster import AssetSelection, define_asset_job

from clickstream_assets.defs.lake.assets import (
    gold_funnel,
    gold_page_kpis,
    silver_identities,
    silver_sessions,
)
from clickstream_assets.defs.lake.maintenance import bronze_optimize, bronze_vacuum

modeled_job = define_asset_job(
    "silver_gold_job",
    selection=AssetSelection.assets(silver_sessions, silver_identities, gold_page_kpis,
                                    gold_funnel),
    description="Builds one day of silver sessions and identity links and gold KPIs from bronze.",
)
optimize_job = define_asset_job("bronze_optimize_job",
                                selection=AssetSelection.assets(bronze_optimize))
vacuum_job = define_asset_job("bronze_vacuum_job", selection=AssetSelection.assets(bronze_vacuum))
