"""`clickstream bench --mode erasure`: what forgetting one person costs in a lake of N events.

Bronze is built with N events of shop traffic over `DAYS` days in `COMMITS` appends, as the
stream job would have written them, then compacted and Z-ordered by `anonymous_id` as the
nightly maintenance does. Its rows come from the job's own transforms: a template of real
bronze rows (enriched events through the job's `sink_rows`) is repeated
with fresh event ids, spread over `visitors` visitors and over the days. One visitor, who
also logged in (a user_id linked to their anonymous_id), is then forgotten with
`streaming.lake.erasure.forget`: the report holds each phase's seconds and, from bronze's
DELETE's metrics, the files it rewrote and the rows it copied to do so.

Only bronze is built: silver and gold scale with visits and days, not events, and their
rebuild is Spark's (measured in the maintenance benchmarks, not here).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streaming.lake import tables
from streaming.lake.delta import bronze_target
from streaming.lake.erasure import Subject, forget
from streaming.record_codec import inflate
from streaming.settings import Settings
from streaming.stream.job import ensure_tables
from streaming.stream.transforms import sink_rows, table_rows
from streaming.tools.bench.runs import enriched_records

Say = Callable[[str], None]
DAYS = 7
COMMITS = 20
TEMPLATE_EVENTS = 4_000
EVENTS_PER_VISITOR = 50
SUBJECT = 0


def template_rows(settings: Settings) -> pa.Table:
    """Real bronze rows: the handler's records, as the job's reader hands them over, through
    the job's transform."""
    records = enriched_records(TEMPLATE_EVENTS, settings)
    source = pa.table({
        "shard_id": [f"shardId-{n % 2:012d}" for n in range(len(records))],
        "sequence_number": [str(n) for n in range(len(records))],
        "partition_key": [key for key, _ in records],
        "approximate_arrival_timestamp": pa.array([datetime.now(UTC)] * len(records),
                                                  pa.timestamp("us", tz="UTC")),
        "data": pa.array([inflate(data) for _, data in records], pa.binary()),
    })
    return table_rows(sink_rows(source), "bronze")


def visitor_id(number: int) -> str:
    return str(uuid.UUID(int=number + 1))


def chunk(template: pa.Table, start: int, size: int, visitors: int, first_day: datetime,
          rng: np.random.Generator) -> pa.Table:
    """Events `start` .. `start + size` of the lake: the template's rows repeated, each with
    its own event_id, a visitor, and a time on one of the days."""
    picks = pa.array(np.arange(start, start + size) % template.num_rows)
    rows = template.take(picks)
    owners = rng.integers(0, visitors, size)
    offsets = rng.integers(0, DAYS * 86_400_000_000, size)
    times = pa.array(np.datetime64(first_day.replace(tzinfo=None), "us") + offsets.astype(
        "timedelta64[us]"), pa.timestamp("us", tz="UTC"))
    columns = {
        "event_id": pa.array([str(uuid.UUID(int=(1 << 127) + n))
                              for n in range(start, start + size)]),
        "anonymous_id": pa.array([visitor_id(int(v)) for v in owners]),
        "user_id": pa.array([f"user-{v}" if v % 5 == 0 else None for v in owners.tolist()],
                            pa.string()),
        "event_time": times,
        "event_date": pc.cast(times, pa.date32()),
    }
    for name, values in columns.items():
        index = rows.schema.get_field_index(name)
        rows = rows.set_column(index, rows.schema.field(name), values.cast(rows.schema.field(name).type))
    return rows


def run_erasure(settings: Settings, events: int, say: Say, seed: int = 5) -> dict:
    visitors = max(10, events // EVENTS_PER_VISITOR)
    say(f"template: {TEMPLATE_EVENTS:,} real bronze rows through the job's transforms ...")
    template = template_rows(settings)
    ensure_tables(settings)
    bronze = bronze_target(settings)
    rng = np.random.default_rng(seed)
    first_day = datetime(2026, 11, 1, tzinfo=UTC)
    mark = time.perf_counter()
    size = -(-events // COMMITS)
    for commit, start in enumerate(range(0, events, size)):
        bronze.append(chunk(template, start, min(size, events - start), visitors, first_day, rng),
                      "bench-erasure", commit)
        say(f"  bronze: {min(start + size, events):,} of {events:,} events")
    built = time.perf_counter() - mark
    mark = time.perf_counter()
    optimized = bronze.optimize("anonymous_id")
    say(f"  Z-ordered by anonymous_id: {optimized['numFilesRemoved']} files -> "
        f"{optimized['numFilesAdded']}")
    optimize_s = time.perf_counter() - mark
    files_before = len(bronze.existing().file_uris())
    say(f"forgetting one visitor of {visitors:,} ({events / visitors:,.0f} events each) ...")
    outcome = forget(settings, Subject(anonymous_id=visitor_id(SUBJECT)), "bench",
                     rebuild_gold=lambda days: {},
                     now=lambda: first_day + timedelta(days=DAYS + 1))
    [metrics] = outcome.deletes[tables.BRONZE.name]
    return {
        "mode": "erasure", "events": events, "visitors": visitors, "days": DAYS,
        "commits": COMMITS, "build_seconds": round(built, 1),
        "optimize_seconds": round(optimize_s, 1), "bronze_files": files_before,
        "ids_resolved": outcome.ids_resolved, "rows_removed": outcome.rows_removed,
        "seconds": outcome.seconds, "total_seconds": round(sum(outcome.seconds.values()), 1),
        "bronze_delete": {key: metrics.get(key) for key in (
            "num_removed_files", "num_added_files", "num_deleted_rows", "num_copied_rows",
            "execution_time_ms", "scan_time_ms", "rewrite_time_ms")},
        "files_purged": outcome.files_purged, "verified": outcome.verified,
    }
