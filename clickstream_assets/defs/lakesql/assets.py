"""The SQL catalog and the business views, as assets.

`lakehouse_catalog` registers every Delta table found in the lake and every view in
`sql/views`, with columns and column lineage: in the embedded engine's catalog (a JSON file
under the lake) or, in AWS mode, in the Glue Data Catalog with the views created in Athena.
It runs on a schedule, so a table the pipeline starts writing is queryable without a manual
step; a new column needs nothing at all (columns are read from the Delta log). Each view is
an asset of its own, downstream of the tables it reads, with the column lineage sqlglot
derives from its SQL, so the UI shows which table columns a BI number comes from.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
    multi_asset,
)

from clickstream_assets.constants import CATALOG, OWNER, SQL, TABLE_KEYS, view_key
from clickstream_assets.lineage import (
    BRONZE_SCHEMA,
    FUNNEL_LINEAGE,
    FUNNEL_SCHEMA,
    IDENTITIES_LINEAGE,
    IDENTITIES_SCHEMA,
    PAGE_KPIS_LINEAGE,
    PAGE_KPIS_SCHEMA,
    QUARANTINE_SCHEMA,
    SESSIONS_LINEAGE,
    SESSIONS_SCHEMA,
)
from clickstream_assets.resources import LakeResource, SqlResource
from streaming.lakesql.catalog import Catalog, discover_tables
from streaming.lakesql.engine import ColumnDocs, EmbeddedEngine
from streaming.lakesql.views import View, load_views

SCHEMAS = {"bronze_events": BRONZE_SCHEMA, "bronze_quarantine": QUARANTINE_SCHEMA,
           "silver_sessions": SESSIONS_SCHEMA, "silver_identities": IDENTITIES_SCHEMA,
           "gold_page_kpis": PAGE_KPIS_SCHEMA, "gold_funnel": FUNNEL_SCHEMA}
LINEAGE = {"silver_sessions": SESSIONS_LINEAGE, "silver_identities": IDENTITIES_LINEAGE,
           "gold_page_kpis": PAGE_KPIS_LINEAGE, "gold_funnel": FUNNEL_LINEAGE}
VIEWS = load_views()
VIEW_KEYS = {view.name: view_key(view.name) for view in VIEWS}


def key_of(name: str) -> AssetKey:
    """Table names are the tables' asset keys (bronze_events, ...); views live under views/."""
    return VIEW_KEYS.get(name) or TABLE_KEYS[name]


def column_docs() -> ColumnDocs:
    """Descriptions and upstream columns of the pipeline's tables, as declared for Dagster."""
    docs: dict = {}
    for table, schema in SCHEMAS.items():
        deps = LINEAGE[table].deps_by_column if table in LINEAGE else {}
        docs[table] = {column.name: (column.description, tuple(
            f"{dep.asset_key.to_user_string()}.{dep.column_name}" for dep in deps.get(column.name, [])))
            for column in schema.columns}
    return docs


def dagster_lineage(lineage: dict[str, list[str]]) -> TableColumnLineage:
    return TableColumnLineage(deps_by_column={
        column: [TableColumnDep(asset_key=key_of(source.split(".")[0]),
                                column_name=source.split(".")[1]) for source in sources]
        for column, sources in lineage.items() if sources})


def view_spec(view: View) -> AssetSpec:
    """Column lineage is derived here, at definition time, from the pipeline's declared
    schemas, so it shows before the first catalog run."""
    static = {table: {c.name: "unknown" for c in schema.columns} for table, schema in SCHEMAS.items()}
    return AssetSpec(
        VIEW_KEYS[view.name], deps=[key_of(name) for name in view.reads],
        description=view.description, group_name=SQL, owners=[OWNER],
        kinds={"sql", "duckdb", "athena"}, skippable=True,
        metadata={"dagster/column_lineage": dagster_lineage(view.column_lineage(static)),
                  "dagster/table_name": f"views.{view.name}",
                  "sql": MetadataValue.md(f"```sql\n{view.sql.strip()}\n```")},
    )


catalog_spec = AssetSpec(
    CATALOG, deps=[TABLE_KEYS[name] for name in SCHEMAS], group_name=SQL, owners=[OWNER],
    kinds={"duckdb", "athena", "glue"},
    description="Every Delta table in the lake and every business view, with columns and "
                "column lineage, registered where SQL reads them: the embedded engine's "
                "catalog (JSON under the lake) or, on AWS, the Glue Data Catalog and Athena. "
                "Records what changed since the last run.",
)


def _listing(catalog: Catalog) -> str:
    lines = [f"- `{t.name}` ({len(t.columns)} columns, v{t.version}): {t.location}"
             for t in catalog.tables]
    lines += [f"- view `{v.name}` ({len(v.columns)} columns) reads {', '.join(v.reads)}"
              for v in catalog.views]
    return "\n".join(lines)


@multi_asset(specs=[catalog_spec, *(view_spec(v) for v in VIEWS)], name="sql_catalog",
             description="Registers tables and views; one materialization per view.")
def sql_catalog(context: AssetExecutionContext, lake: LakeResource, sql: SqlResource):
    with EmbeddedEngine(discover_tables(lake.config.settings().lake_uri), load_views()) as engine:
        if engine.broken:
            raise Failure("views that do not compile: " + "; ".join(
                f"{name}: {error}" for name, error in engine.broken.items()))
        catalog = engine.describe(column_docs())
        unavailable = dict(engine.unavailable)
    changes, where = sql.publish(catalog)
    for name, reason in unavailable.items():
        context.log.warning(f"{name} is not registered: {reason}")
    yield MaterializeResult(asset_key=CATALOG, metadata={
        "catalog": where, "tables": len(catalog.tables), "views": len(catalog.views),
        "contents": MetadataValue.md(_listing(catalog)),
        "changes": MetadataValue.md("\n".join(f"- {c}" for c in changes) or "none"),
        "unavailable": MetadataValue.json(unavailable),
    })
    for view in catalog.views:
        if view.name not in VIEW_KEYS:
            continue
        yield MaterializeResult(asset_key=VIEW_KEYS[view.name], metadata={
            "dagster/column_schema": TableSchema(columns=[TableColumn(c.name, c.type)
                                                          for c in view.columns]),
            "dagster/column_lineage": dagster_lineage({c.name: list(c.lineage)
                                                       for c in view.columns}),
            "reads": ", ".join(view.reads), "registered_in": where,
        })
