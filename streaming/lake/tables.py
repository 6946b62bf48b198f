"""Every table of the lake in one registry: its name (the SQL catalog's table and Dagster's
asset key), where it lives under the lake, the date column it is partitioned by and, for the
tables the stream job appends to, the columns delta-rs keeps statistics on.

The SQL catalog finds tables by walking the lake (`<layer>/<table>` is `<layer>_<table>`), so
a table added here is queryable without a change there.
"""

from __future__ import annotations

from dataclasses import dataclass

from streaming.settings import Settings


@dataclass(frozen=True)
class Table:
    name: str
    path: str
    partition: str
    # Data-skipping statistics only on the columns queries filter on: Delta's default (the 32
    # leading columns) doubled a 20k-row bronze write, the string columns' min/max dominating.
    stats_columns: str | None = None

    def uri(self, settings: Settings) -> str:
        return f"{settings.lake_uri}/{self.path}"

    @property
    def qualified_name(self) -> str:
        """layer.table, as catalogs and Dagster's dagster/table_name show it."""
        return self.path.replace("/", ".")


BRONZE = Table("bronze_events", "bronze/events", "event_date",
               "event_id,event_type,event_time,anonymous_id,session_id,received_at")
QUARANTINE = Table("bronze_quarantine", "bronze/quarantine", "quarantine_date",
                   "event_id,reason,quarantined_at")
SESSIONS = Table("silver_sessions", "silver/sessions", "session_date")
IDENTITIES = Table("silver_identities", "silver/identities", "link_date")
PAGE_KPIS = Table("gold_page_kpis", "gold/page_kpis", "event_date")
FUNNEL = Table("gold_funnel", "gold/funnel", "event_date")
# Privacy requests (streaming/lake/erasure.py): the append-only audit trail of erasures and
# the suppression list of erased ids' salted hashes, which the stream job drops events by.
REQUESTS = Table("privacy_requests", "privacy/requests", "recorded_date",
                 "request_id,subject_hash,step,recorded_at")
SUPPRESSED = Table("privacy_suppressed", "privacy/suppressed", "added_date",
                   "id_hash,request_id,added_at")
TABLES = {table.name: table for table in (BRONZE, QUARANTINE, SESSIONS, IDENTITIES, PAGE_KPIS,
                                          FUNNEL)}
