"""The SQL stage's definitions: the catalog and the business views."""

from dagster import Definitions

from clickstream_assets.defs.lakesql.assets import sql_catalog
from clickstream_assets.defs.lakesql.jobs import catalog_job
from clickstream_assets.defs.lakesql.schedules import catalog_schedule

defs = Definitions(assets=[sql_catalog], jobs=[catalog_job], schedules=[catalog_schedule])
