"""What every stage's definitions name alike, declared once: asset keys (the tables' keys are
their names in the lake's table registry, streaming/lake/tables.py), group names, the owner
and the tag that says why a run was launched."""

from dagster import AssetKey

from streaming.lake import tables

OWNER = "team:clickstream"
REASON_TAG = "clickstream/reason"

STREAM = AssetKey("kinesis_stream")
BRONZE = AssetKey(tables.BRONZE.name)
QUARANTINE = AssetKey(tables.QUARANTINE.name)
SESSIONS = AssetKey(tables.SESSIONS.name)
IDENTITIES = AssetKey(tables.IDENTITIES.name)
PAGE_KPIS = AssetKey(tables.PAGE_KPIS.name)
FUNNEL = AssetKey(tables.FUNNEL.name)
PRIVACY_REQUESTS = AssetKey(tables.REQUESTS.name)
OPTIMIZE = AssetKey("bronze_optimize")
VACUUM = AssetKey("bronze_vacuum")
CATALOG = AssetKey("lakehouse_catalog")
DASHBOARD = AssetKey("kpi_dashboard")
TABLE_KEYS = {name: AssetKey(name) for name in tables.TABLES}


def view_key(name: str) -> AssetKey:
    """A business view's key: views live under views/."""
    return AssetKey(["views", name])


INGESTION = "ingestion"
SILVER = "silver"
GOLD = "gold"
MAINTENANCE = "maintenance"
SQL = "sql"
REPORTS = "reports"
