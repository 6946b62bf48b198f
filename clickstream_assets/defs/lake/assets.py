"""Silver sessions and gold KPIs: daily Delta partitions rebuilt from bronze, one day per run.

Each run replaces exactly its day (`replaceWhere`), so re-running a partition after late
events is idempotent and leaves the other days untouched.

These tables are written by delta-spark, whose S3 log store is safe for one writing driver
only, and a backfill of late data launches one run per day, each its own driver. So each
table's writes go through a Dagster pool of its own (`write_pool`), which the instance limits
to one at a time (INSTANCE_CONCURRENCY, written into DAGSTER_HOME by streaming/local/dagster_ui.py
and to be set in any deployed instance): two runs never commit to one table at once.
"""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream_assets.defs.stream.assets import BRONZE, OWNER
from clickstream_assets.lineage import (
    FUNNEL_LINEAGE,
    FUNNEL_SCHEMA,
    PAGE_KPIS_LINEAGE,
    PAGE_KPIS_SCHEMA,
    SESSIONS_LINEAGE,
    SESSIONS_SCHEMA,
)
from clickstream_assets.partitions import daily
from clickstream_assets.resources import LakeResource, SparkResource
from streaming.lake.modeling import funnel, page_kpis, sessionize
from streaming.lake.read import latest_version

SESSIONS = AssetKey("silver_sessions")
TABLES = {"silver_sessions": "silver/sessions", "gold_page_kpis": "gold/page_kpis",
          "gold_funnel": "gold/funnel"}
# The instance setting that makes each pool a mutex: one op at a time per pool.
INSTANCE_CONCURRENCY = {"pools": {"default_limit": 1}}


def write_pool(table: str) -> str:
    """The Dagster pool of the runs that write `table` (one writer at a time)."""
    return f"delta_write_{table}"


def read_day(spark: SparkSession, uri: str, column: str, day: str) -> DataFrame:
    if latest_version(uri) < 0:
        raise FileNotFoundError(f"no Delta table at {uri} yet: has the stream job written?")
    return spark.read.format("delta").load(uri).filter(F.col(column) == F.lit(day).cast("date"))


def replace_day(frame: DataFrame, uri: str, column: str, day: str) -> int:
    """Overwrites one day's partition; the row count comes back as metadata."""
    frame = frame.cache()
    rows = frame.count()
    (frame.write.format("delta").mode("overwrite").partitionBy(column)
     .option("replaceWhere", f"{column} = DATE'{day}'").save(uri))
    frame.unpersist()
    return rows


def _result(lake: LakeResource, table: str, rows: int) -> MaterializeResult:
    uri = lake.table_uri(TABLES[table])
    return MaterializeResult(metadata={
        "dagster/row_count": rows, "path": uri, "delta_version": latest_version(uri),
        "bronze_version": latest_version(lake.bronze_uri)})


@asset(
    deps=[BRONZE], partitions_def=daily, group_name="silver", owners=[OWNER],
    kinds={"spark", "delta"}, pool=write_pool("silver_sessions"),
    description="One row per visit: 30 minutes of inactivity end a visit; visits are cut at "
                "midnight UTC. Duration, page count, entry and exit page, converted flag, "
                "revenue, first touch source, and when each funnel step was first reached.",
    metadata={"dagster/column_schema": SESSIONS_SCHEMA,
              "dagster/column_lineage": SESSIONS_LINEAGE,
              "dagster/table_name": "silver.sessions"},
)
def silver_sessions(context: AssetExecutionContext, lake: LakeResource,
                    spark: SparkResource) -> MaterializeResult:
    day = context.partition_key
    events = read_day(spark.session(), lake.bronze_uri, "event_date", day)
    rows = replace_day(sessionize(events), lake.table_uri(TABLES["silver_sessions"]),
                       "session_date", day)
    return _result(lake, "silver_sessions", rows)


@asset(
    deps=[BRONZE, SESSIONS], partitions_def=daily, group_name="gold", owners=[OWNER],
    kinds={"spark", "delta"}, pool=write_pool("gold_page_kpis"),
    description="Per page and day, bots excluded: views, unique visitors, clicks, entrances "
                "and bounce rate. The table behind 'top pages' and landing-page reports.",
    metadata={"dagster/column_schema": PAGE_KPIS_SCHEMA,
              "dagster/column_lineage": PAGE_KPIS_LINEAGE,
              "dagster/table_name": "gold.page_kpis"},
)
def gold_page_kpis(context: AssetExecutionContext, lake: LakeResource,
                   spark: SparkResource) -> MaterializeResult:
    day = context.partition_key
    session = spark.session()
    events = read_day(session, lake.bronze_uri, "event_date", day)
    sessions = read_day(session, lake.table_uri(TABLES["silver_sessions"]), "session_date", day)
    rows = replace_day(page_kpis(events, sessions), lake.table_uri(TABLES["gold_page_kpis"]),
                       "event_date", day)
    return _result(lake, "gold_page_kpis", rows)


@asset(
    deps=[SESSIONS], partitions_def=daily, group_name="gold", owners=[OWNER],
    kinds={"spark", "delta"}, pool=write_pool("gold_funnel"),
    description="The shop funnel per day, bots excluded: visits reaching page_view -> "
                "add_to_cart -> checkout -> purchase in that order, step and overall "
                "conversion rates, revenue.",
    metadata={"dagster/column_schema": FUNNEL_SCHEMA, "dagster/column_lineage": FUNNEL_LINEAGE,
              "dagster/table_name": "gold.funnel"},
)
def gold_funnel(context: AssetExecutionContext, lake: LakeResource,
                spark: SparkResource) -> MaterializeResult:
    day = context.partition_key
    sessions = read_day(spark.session(), lake.table_uri(TABLES["silver_sessions"]),
                        "session_date", day)
    rows = replace_day(funnel(sessions), lake.table_uri(TABLES["gold_funnel"]), "event_date", day)
    return _result(lake, "gold_funnel", rows)
