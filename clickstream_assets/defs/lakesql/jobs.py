"""The job of the SQL stage: register tables and views in the catalog."""

from dagster import AssetSelection, define_asset_job

from clickstream_assets.defs.lakesql.assets import sql_catalog

catalog_job = define_asset_job(
    "lakehouse_catalog_job", selection=AssetSelection.assets(sql_catalog),
    description="Registers the lake's tables and the business views in the SQL catalog.")
