"""Checks on silver sessions and gold KPIs, on the daily partition being materialized.

They run in the same run as the partition they check (Dagster adds an asset's checks to any
job that materializes it) and read exactly that day. Silver's warn. Gold's block: gold is
what BI reads, so a failing gold check (severity ERROR) stops everything downstream of gold
in the run, the KPI dashboard included, until the day is fixed.
"""

from datetime import UTC, date, datetime, timedelta

from dagster import AssetCheckExecutionContext, AssetCheckKey, Failure, multi_asset_check

from clickstream_assets.constants import FUNNEL, GOLD, IDENTITIES, PAGE_KPIS, SESSIONS, SILVER
from clickstream_assets.defs.stream.checks import read_partition
from clickstream_assets.partitions import daily
from clickstream_assets.quality.rules import (
    GoldFunnel,
    GoldPageKpis,
    SilverIdentities,
    SilverSessions,
)
from clickstream_assets.quality.verdicts import (
    ERROR,
    WARN,
    Verdict,
    pii_verdict,
    report,
    schema_verdict,
    spec,
)
from clickstream_assets.resources import LakeResource, ReportsResource, SqlResource
from streaming.lake import tables
from streaming.lake.tables import Table
from streaming.reports.volume import recent_scores

KINDS = "pandera, delta"


def arrow_day(lake: LakeResource, table: Table, day: date):
    """One day's partition of `table`, as Arrow, for the pandera rules."""
    data = read_partition(lake.uri(table), table.partition, day)
    if data is None:
        raise Failure(f"no Delta table for {table.name} at {lake.uri(table)}")
    return data


def day_scores(sql: SqlResource, day: date):
    """The checked day's hourly volume and anomaly scores, for the report."""
    end = min(datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC),
              datetime.now(UTC))
    with sql.engine() as engine:
        return recent_scores(engine, end, days=1)


def chosen(context: AssetCheckExecutionContext, verdicts: list[Verdict]) -> list[Verdict]:
    selected = context.selected_asset_check_keys
    return [v for v in verdicts if AssetCheckKey(v.asset_key, v.check) in selected]


@multi_asset_check(
    specs=[
        spec(SESSIONS, "schema", "The day's visits against the SilverSessions pandera model: "
             "unique session_key, session_end >= session_start, duration = end - start, "
             "funnel steps inside the visit, converted exactly with a purchase.", SILVER,
             KINDS, partitions_def=daily),
        spec(SESSIONS, "no_personal_data", "Scans the day's stored strings for raw IP "
             "addresses, e-mail addresses and card numbers.", SILVER, KINDS,
             partitions_def=daily),
        spec(IDENTITIES, "schema", "The day's identity links against the SilverIdentities "
             "pandera model: ids present and within the contract's length, one row per link "
             "and source, last seen >= first seen, link_date the day first seen.", SILVER,
             KINDS, partitions_def=daily),
    ],
    name="silver_quality", compute_kind="pandera", can_subset=True,
    description="Quality of the silver partition just built; warns; writes a report page.",
)
def silver_quality(context: AssetCheckExecutionContext, lake: LakeResource, sql: SqlResource,
                   reports: ReportsResource):
    day = date.fromisoformat(context.partition_key)
    partition = f"session_date {day}"
    selected = {key.asset_key for key in context.selected_asset_check_keys}
    verdicts = []
    if SESSIONS in selected:
        sessions = arrow_day(lake, tables.SESSIONS, day)
        verdicts += [schema_verdict(SESSIONS, SilverSessions, sessions, ["session_key"], WARN,
                                    partition),
                     pii_verdict(SESSIONS, sessions, "session_key", WARN, partition)]
    if IDENTITIES in selected:
        links = arrow_day(lake, tables.IDENTITIES, day)
        verdicts.append(schema_verdict(IDENTITIES, SilverIdentities, links,
                                       ["anonymous_id", "user_id", "source"], WARN,
                                       f"link_date {day}"))
    yield from report(context, reports, f"silver-{day}", partition, chosen(context, verdicts),
                      day_scores(sql, day))


@multi_asset_check(
    specs=[
        spec(PAGE_KPIS, "schema", "The day's page KPIs against the GoldPageKpis pandera model: "
             "counts >= 0, unique page per day, unique_visitors <= views, bounces <= entrances, "
             "bounce_rate = bounces / entrances. Blocks downstream on failure.", GOLD, KINDS,
             blocking=True, partitions_def=daily),
        spec(PAGE_KPIS, "no_personal_data", "Scans the day's page paths for raw IP addresses, "
             "e-mail addresses and card numbers. Blocks downstream on failure.", GOLD, KINDS,
             blocking=True, partitions_def=daily),
        spec(FUNNEL, "schema", "The day's funnel against the GoldFunnel pandera model: steps "
             "monotone, rates in [0, 1], conversion_rate = purchases / page views. Blocks "
             "downstream on failure.", GOLD, KINDS, blocking=True, partitions_def=daily),
    ],
    name="gold_quality", compute_kind="pandera", can_subset=True,
    description="Quality of the gold partitions just built; blocking; writes a report page.",
)
def gold_quality(context: AssetCheckExecutionContext, lake: LakeResource, sql: SqlResource,
                 reports: ReportsResource):
    day = date.fromisoformat(context.partition_key)
    partition = f"event_date {day}"
    selected = {key.asset_key for key in context.selected_asset_check_keys}
    verdicts = []
    if PAGE_KPIS in selected:
        pages = arrow_day(lake, tables.PAGE_KPIS, day)
        verdicts += [schema_verdict(PAGE_KPIS, GoldPageKpis, pages, ["event_date", "page_path"],
                                    ERROR, partition),
                     pii_verdict(PAGE_KPIS, pages, "event_date", ERROR, partition)]
    if FUNNEL in selected:
        funnel = arrow_day(lake, tables.FUNNEL, day)
        verdicts.append(schema_verdict(FUNNEL, GoldFunnel, funnel, ["event_date"], ERROR,
                                       partition))
    yield from report(context, reports, f"gold-{day}", partition, chosen(context, verdicts),
                      day_scores(sql, day))
