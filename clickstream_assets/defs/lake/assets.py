"""Silver sessions and gold KPIs: daily Delta partitions rebuilt from bronze, one day per run.

Each run replaces exactly its day (`replaceWhere`), so re-running a partition after late
events is idempotent and leaves the other days untouched.

Spark computes a day; its rows are committed through the lake's one commit path, delta-rs
(streaming/lake/delta.py), not by delta-spark. A backfill of late data launches one run per
day, each its own driver, and delta-spark's S3 log store is safe for one writing driver only;
delta-rs commits are conditional puts, so the runs of a backfill may commit to one table side
by side, on local disk and on S3. (Dagster's concurrency pools were the first answer, and
were not one: two runs starting together could both claim a pool's only slot.)

Where Spark runs is the `model_builds` resource's business (ModelBuildResource):
the run's own Spark in embedded mode, the model-build Glue job through Dagster Pipes in AWS
mode. The assets are the same definitions in both modes.
"""

from dagster import AssetExecutionContext, MaterializeResult, asset

from clickstream_assets.constants import BRONZE, GOLD, IDENTITIES, OWNER, SESSIONS, SILVER
from clickstream_assets.lineage import (
    FUNNEL_LINEAGE,
    FUNNEL_SCHEMA,
    IDENTITIES_LINEAGE,
    IDENTITIES_SCHEMA,
    PAGE_KPIS_LINEAGE,
    PAGE_KPIS_SCHEMA,
    SESSIONS_LINEAGE,
    SESSIONS_SCHEMA,
)
from clickstream_assets.partitions import daily
from clickstream_assets.resources import ModelBuildResource
from streaming.lake import tables


@asset(
    deps=[BRONZE, IDENTITIES], partitions_def=daily, group_name=SILVER, owners=[OWNER],
    kinds={"spark", "delta"},
    description="One row per visit: 30 minutes of inactivity end a visit; visits are cut at "
                "midnight UTC. Duration, page count, entry and exit page, converted flag, "
                "revenue, first touch source, when each funnel step was first reached, and the "
                "visitor's user_id, also when they identified only later (identity links).",
    metadata={"dagster/column_schema": SESSIONS_SCHEMA,
              "dagster/column_lineage": SESSIONS_LINEAGE,
              "dagster/table_name": tables.SESSIONS.qualified_name},
)
def silver_sessions(context: AssetExecutionContext,
                    model_builds: ModelBuildResource) -> MaterializeResult:
    return model_builds.build(context, tables.SESSIONS)


@asset(
    deps=[BRONZE], partitions_def=daily, group_name=SILVER, owners=[OWNER],
    kinds={"spark", "delta"},
    description="Identity stitching: the links between an anonymous_id and a user_id seen in "
                "bronze (an event carrying both, a Segment identify or alias), first and last "
                "seen per day. Erasure requests resolve a person's ids through it.",
    metadata={"dagster/column_schema": IDENTITIES_SCHEMA,
              "dagster/column_lineage": IDENTITIES_LINEAGE,
              "dagster/table_name": tables.IDENTITIES.qualified_name},
)
def silver_identities(context: AssetExecutionContext,
                      model_builds: ModelBuildResource) -> MaterializeResult:
    return model_builds.build(context, tables.IDENTITIES)


@asset(
    deps=[BRONZE, SESSIONS], partitions_def=daily, group_name=GOLD, owners=[OWNER],
    kinds={"spark", "delta"},
    description="Per page and day, bots excluded: views, unique visitors, clicks, entrances "
                "and bounce rate. The table behind 'top pages' and landing-page reports.",
    metadata={"dagster/column_schema": PAGE_KPIS_SCHEMA,
              "dagster/column_lineage": PAGE_KPIS_LINEAGE,
              "dagster/table_name": tables.PAGE_KPIS.qualified_name},
)
def gold_page_kpis(context: AssetExecutionContext,
                   model_builds: ModelBuildResource) -> MaterializeResult:
    return model_builds.build(context, tables.PAGE_KPIS)


@asset(
    deps=[SESSIONS], partitions_def=daily, group_name=GOLD, owners=[OWNER],
    kinds={"spark", "delta"},
    description="The shop funnel per day, bots excluded: visits reaching page_view -> "
                "add_to_cart -> checkout -> purchase in that order, step and overall "
                "conversion rates, revenue.",
    metadata={"dagster/column_schema": FUNNEL_SCHEMA, "dagster/column_lineage": FUNNEL_LINEAGE,
              "dagster/table_name": tables.FUNNEL.qualified_name},
)
def gold_funnel(context: AssetExecutionContext,
                model_builds: ModelBuildResource) -> MaterializeResult:
    return model_builds.build(context, tables.FUNNEL)
