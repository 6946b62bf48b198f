"""Checks on bronze and quarantine: schema, duplicates, volume, quarantine rate, personal data.

Bronze is not a Dagster-partitioned asset (the stream job writes it continuously), so these
checks look at its newest event_date partition, the day being written, and name it in their
metadata; the volume check looks at the whole hours up to the run's `as_of` (by default now;
see clickstream_assets/as_of.py). They warn rather than block:
bronze is the record of what arrived, and a finding there is for a person to look at. They
run hourly from their own schedule, and a report page is written per run. Freshness is
Dagster's freshness policy on the bronze asset (BRONZE_FRESHNESS).
"""

from datetime import date, timedelta

import pyarrow as pa
import pyarrow.dataset as ds
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    Failure,
    FreshnessPolicy,
    MetadataValue,
    multi_asset_check,
)

from clickstream_assets.as_of import AsOf
from clickstream_assets.constants import BRONZE, INGESTION, QUARANTINE
from clickstream_assets.quality.rules import BronzeEvents, Quarantine
from clickstream_assets.quality.verdicts import (
    WARN,
    Verdict,
    pii_verdict,
    plural,
    report,
    schema_verdict,
    spec,
)
from clickstream_assets.resources import LakeResource, ReportsResource, SqlResource
from streaming.lake import tables
from streaming.lake.read import open_table
from streaming.lakesql.engine import delta_dataset
from streaming.reports.volume import THRESHOLD, HourScore, recent_scores

BRONZE_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=1),
                                               warn_window=timedelta(minutes=15))
# Two rows with the same visitor, session, type, time and page are one event recorded twice,
# whatever their event_ids say: what dedup on event_id alone cannot see.
DUPLICATE_KEY = ["anonymous_id", "session_id", "event_type", "event_time", "page_url"]
DUPLICATE_RATE_LIMIT = 0.001
QUARANTINE_RATE_LIMIT = 0.01
KINDS = "pandera, delta"

SPECS = [
    spec(BRONZE, "schema", "Every row of the newest event_date partition against the "
         "BronzeEvents pandera model: types, nullability, v1 event types, UUID event_id unique, "
         "received_at >= event_time - 5 min, event_date = UTC date of event_time.",
         INGESTION, KINDS),
    spec(BRONZE, "duplicate_rate", "Share of rows in the newest partition repeating another "
         f"row's {', '.join(DUPLICATE_KEY)}; warns above {DUPLICATE_RATE_LIMIT:.1%}.",
         INGESTION, KINDS),
    spec(BRONZE, "volume_anomaly", "Events in the last whole hour against two robust "
         "baselines (median and MAD of the previous 6 hours, and of the same hour on each of "
         f"the last 7 days): warns on a drop or spike beyond ±{THRESHOLD} robust z from both.",
         INGESTION, "duckdb, athena"),
    spec(BRONZE, "no_personal_data", "Scans every stored string of the newest partition "
         "(struct fields and map entries included) for raw IP addresses, e-mail addresses "
         "and card numbers.", INGESTION, KINDS),
    spec(QUARANTINE, "schema", "The quarantine rows of the same day against the Quarantine "
         "pandera model: a reason naming known rules, unique stream positions.", INGESTION,
         KINDS),
    spec(QUARANTINE, "quarantine_rate", "Quarantined records / all records of the day; warns "
         f"above {QUARANTINE_RATE_LIMIT:.0%}.", INGESTION, KINDS),
    spec(QUARANTINE, "no_personal_data", "Scans the day's quarantined records (raw records "
         "included) for raw IP addresses, e-mail addresses and card numbers.", INGESTION,
         KINDS),
]


def newest_partition(uri: str, column: str) -> date | None:
    table = open_table(uri)
    days = [p[column] for p in table.partitions() if p.get(column)] if table else []
    return date.fromisoformat(max(days)) if days else None


def read_partition(uri: str, column: str, day: date) -> pa.Table | None:
    """One day of a table (None when the table does not exist); only that day's files are read."""
    table = open_table(uri)
    if table is None:
        return None
    return delta_dataset(table).to_table(filter=ds.field(column) == pa.scalar(day, pa.date32()))


def duplicate_verdict(events: pa.Table, partition: str) -> Verdict:
    rows = events.num_rows
    distinct = events.select(DUPLICATE_KEY).group_by(DUPLICATE_KEY).aggregate([]).num_rows
    duplicates = rows - distinct
    rate = duplicates / rows if rows else 0.0
    return Verdict(BRONZE, "duplicate_rate", rate <= DUPLICATE_RATE_LIMIT, WARN,
                   f"{duplicates:,} duplicate of {plural(rows, 'row')} ({rate:.3%}; limit "
                   f"{DUPLICATE_RATE_LIMIT:.1%})", duplicates,
                   {"partition": partition, "rows": rows, "duplicate_rows": duplicates,
                    "duplicate_rate": rate, "limit": DUPLICATE_RATE_LIMIT})


def volume_verdict(scores: list[HourScore]) -> Verdict:
    """The verdict is the last whole hour's; the metadata also lists the day's flagged hours."""
    last = scores[-1]
    flagged = [s for s in scores[-24:] if s.flag]
    hour = f"{last.hour:%Y-%m-%d %H:00} UTC"
    if last.score is None:
        summary = f"{hour}: {plural(last.events, 'event')}; too little history to score it yet"
    else:
        summary = (f"{hour}: {plural(last.events, 'event')}, expected {last.expected:,.0f}, "
                   f"score {last.score:+.1f}" + (f": a {last.flag}" if last.flag else "")
                   + (f"; {plural(len(flagged), 'hour')} flagged in the last 24 h" if flagged
                      else ""))
    return Verdict(BRONZE, "volume_anomaly", last.flag is None, WARN, summary, len(flagged), {
        "partition": f"the hour from {hour}", "hour": last.hour.isoformat(), "events": last.events,
        "expected": "n/a" if last.expected is None else round(last.expected, 1),
        "score": "n/a" if last.score is None else round(last.score, 2),
        "flag": last.flag or "none", "threshold": THRESHOLD,
        "flagged_hours_24h": MetadataValue.json([s.as_dict() for s in flagged]),
    })


def quarantine_verdicts(quarantined: pa.Table | None, bronze_rows: int,
                        partition: str) -> list[Verdict]:
    if quarantined is None:
        summary = "no quarantine table: nothing has ever been quarantined"
        return [Verdict(QUARANTINE, name, True, WARN, summary, 0, {"partition": partition})
                for name in ("schema", "quarantine_rate", "no_personal_data")]
    total = quarantined.num_rows + bronze_rows
    rate = quarantined.num_rows / total if total else 0.0
    return [
        schema_verdict(QUARANTINE, Quarantine, quarantined,
                       ["kinesis_shard_id", "kinesis_sequence_number", "kinesis_record_index"],
                       WARN, partition),
        Verdict(QUARANTINE, "quarantine_rate", rate <= QUARANTINE_RATE_LIMIT, WARN,
                f"{quarantined.num_rows:,} of {plural(total, 'record')} quarantined "
                f"({rate:.2%}; limit {QUARANTINE_RATE_LIMIT:.0%})", quarantined.num_rows,
                {"partition": partition, "quarantined_rows": quarantined.num_rows,
                 "bronze_rows": bronze_rows, "quarantine_rate": rate,
                 "limit": QUARANTINE_RATE_LIMIT}),
        pii_verdict(QUARANTINE, quarantined, "kinesis_sequence_number", WARN, partition),
    ]


@multi_asset_check(specs=SPECS, name="bronze_quality", compute_kind="pandera", can_subset=True,
                   description="Quality of bronze and quarantine: the newest day's rows, the "
                               "last hours' volume; writes a report page per run.")
def bronze_quality(context: AssetCheckExecutionContext, config: AsOf, lake: LakeResource,
                   sql: SqlResource, reports: ReportsResource):
    day = newest_partition(lake.uri(tables.BRONZE), "event_date")
    if day is None:
        raise Failure(f"no bronze data at {lake.uri(tables.BRONZE)} yet: is the stream job running?")
    partition = f"newest event_date partition {day}"
    events = read_partition(lake.uri(tables.BRONZE), "event_date", day)
    with sql.engine() as engine:
        scores = recent_scores(engine, config.instant())
    verdicts = [
        schema_verdict(BRONZE, BronzeEvents, events, ["event_id"], WARN, partition),
        duplicate_verdict(events, partition),
        volume_verdict(scores),
        pii_verdict(BRONZE, events, "event_id", WARN, partition),
        *quarantine_verdicts(read_partition(lake.uri(tables.QUARANTINE), "quarantine_date", day),
                             events.num_rows, partition),
    ]
    selected = context.selected_asset_check_keys
    chosen = [v for v in verdicts if AssetCheckKey(v.asset_key, v.check) in selected]
    yield from report(context, reports, "bronze", partition, chosen, scores)
