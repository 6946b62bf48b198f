"""Table schemas and column lineage as asset metadata, so the UI shows where a column comes from.

Schemas are declared next to the code that produces the columns (`streaming.stream.transforms`,
`streaming.lake.modeling`); this module only turns them into Dagster's metadata types.
"""

from __future__ import annotations

from dagster import AssetKey, TableColumn, TableColumnDep, TableColumnLineage, TableSchema

from clickstream_assets.constants import BRONZE, IDENTITIES, SESSIONS
from streaming.lake.modeling import (
    FUNNEL_COLUMNS,
    FUNNEL_STEPS,
    IDENTITY_COLUMNS,
    PAGE_KPI_COLUMNS,
    SESSION_COLUMNS,
)
from streaming.stream.transforms import BRONZE_COLUMNS, QUARANTINE_COLUMNS

TYPES = {
    "event_time": "timestamp", "received_at": "timestamp", "kinesis_arrival_time": "timestamp",
    "quarantined_at": "timestamp", "session_start": "timestamp", "session_end": "timestamp",
    "first_seen_at": "timestamp", "last_seen_at": "timestamp",
    "event_date": "date", "quarantine_date": "date", "session_date": "date", "link_date": "date",
    "element": "struct<id,text,selector>", "properties": "map<string,string>",
    "is_bot": "boolean", "converted": "boolean", "schema_version": "int",
    "kinesis_record_index": "int",
    "duration_seconds": "double", "revenue": "double", "bounce_rate": "double",
    "add_to_cart_rate": "double", "checkout_rate": "double", "purchase_rate": "double",
    "conversion_rate": "double",
    **{name: "bigint" for name in ("events", "page_views", "views", "unique_visitors", "clicks",
                                   "entrances", "bounces", "sessions")},
    **{f"{step}_sessions": "bigint" for step in FUNNEL_STEPS},
    **{f"first_{step}_at": "timestamp" for step in FUNNEL_STEPS},
}



def schema(columns: tuple[str, ...], descriptions: dict[str, str] | None = None) -> TableSchema:
    descriptions = descriptions or {}
    return TableSchema(columns=[TableColumn(name, TYPES.get(name, "string"),
                                            description=descriptions.get(name))
                                for name in columns])


def lineage(sources: dict[str, list[tuple[AssetKey, str]]]) -> TableColumnLineage:
    return TableColumnLineage(deps_by_column={
        column: [TableColumnDep(asset_key=key, column_name=name) for key, name in deps]
        for column, deps in sources.items()})


def from_bronze(*columns: str) -> list[tuple[AssetKey, str]]:
    return [(BRONZE, column) for column in columns]


BRONZE_SCHEMA = schema(BRONZE_COLUMNS, {
    "event_date": "UTC date of event_time; the partition column",
    "ip_hash": "salted HMAC of the client IP; the raw IP is never stored",
    "ip_network": "client network truncated to /24 (IPv4) or /48 (IPv6)",
    "received_at": "server time at the ingestion handler",
})
QUARANTINE_SCHEMA = schema(QUARANTINE_COLUMNS, {
    "raw_record": "the record exactly as read from the stream; of an aggregate, the one event",
    "kinesis_record_index": "the event's index in an aggregated record; null for a plain record",
    "reason": "every broken rule, '; '-separated",
})
SESSIONS_SCHEMA = schema(SESSION_COLUMNS, {
    "session_key": "hash of anonymous_id and session_start: stable across rebuilds",
    "converted": "the visit contains a purchase",
})
SESSIONS_LINEAGE = lineage({
    "session_date": from_bronze("event_time"),
    "session_key": from_bronze("anonymous_id", "event_time"),
    "anonymous_id": from_bronze("anonymous_id"),
    "user_id": [*from_bronze("user_id"), (IDENTITIES, "user_id"), (IDENTITIES, "anonymous_id")],
    "session_start": from_bronze("event_time"),
    "session_end": from_bronze("event_time"),
    "duration_seconds": from_bronze("event_time"),
    "events": from_bronze("event_id"),
    "page_views": from_bronze("event_type"),
    "entry_page": from_bronze("page_path", "event_type", "event_time"),
    "exit_page": from_bronze("page_path", "event_type", "event_time"),
    "converted": from_bronze("event_type"),
    "revenue": from_bronze("event_type", "properties"),
    "utm_source": from_bronze("utm_source"),
    "utm_campaign": from_bronze("utm_campaign"),
    "referrer_host": from_bronze("referrer_host"),
    "ua_device": from_bronze("ua_device"),
    "is_bot": from_bronze("is_bot"),
    **{f"first_{step}_at": from_bronze("event_type", "event_time") for step in FUNNEL_STEPS},
})
IDENTITIES_SCHEMA = schema(IDENTITY_COLUMNS, {
    "link_date": "UTC date the link was first seen that day; the partition column",
    "anonymous_id": "the anonymous id, or for an alias the previous id it links",
    "source": "identify, alias, or event (any other event carrying both ids)",
    "events": "events that showed the link that day",
})
IDENTITIES_LINEAGE = lineage({
    "link_date": from_bronze("event_time"),
    "anonymous_id": from_bronze("anonymous_id", "properties"),
    "user_id": from_bronze("user_id"),
    "source": from_bronze("event_type"),
    "first_seen_at": from_bronze("event_time"),
    "last_seen_at": from_bronze("event_time"),
    "events": from_bronze("event_id"),
})
PAGE_KPIS_SCHEMA = schema(PAGE_KPI_COLUMNS, {
    "bounce_rate": "bounces / entrances: visits landing here with a single page view",
})
PAGE_KPIS_LINEAGE = lineage({
    "event_date": from_bronze("event_date"),
    "page_path": from_bronze("page_path"),
    "views": from_bronze("event_type"),
    "unique_visitors": from_bronze("anonymous_id"),
    "clicks": from_bronze("event_type"),
    "entrances": [(SESSIONS, "entry_page")],
    "bounces": [(SESSIONS, "entry_page"), (SESSIONS, "page_views")],
    "bounce_rate": [(SESSIONS, "entry_page"), (SESSIONS, "page_views")],
})
FUNNEL_SCHEMA = schema(FUNNEL_COLUMNS, {
    "conversion_rate": "purchase_sessions / page_view_sessions",
})
FUNNEL_LINEAGE = lineage({
    "event_date": [(SESSIONS, "session_date")],
    "sessions": [(SESSIONS, "session_key")],
    **{f"{step}_sessions": [(SESSIONS, f"first_{s}_at") for s in FUNNEL_STEPS[:n + 1]]
       for n, step in enumerate(FUNNEL_STEPS)},
    **{rate: [(SESSIONS, f"first_{s}_at") for s in FUNNEL_STEPS] for rate in (
        "add_to_cart_rate", "checkout_rate", "purchase_rate", "conversion_rate")},
    "revenue": [(SESSIONS, "revenue")],
})
