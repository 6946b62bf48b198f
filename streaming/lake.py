"""Reading the lakehouse's Delta tables with delta-rs, the way the checks and reports do.

delta-spark writes, delta-rs reads: both must agree on the table protocol, so this module is
also where the project proves that bronze stays readable outside Spark.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError


def open_table(uri: str) -> DeltaTable | None:
    try:
        return DeltaTable(uri)
    except TableNotFoundError:
        return None


def read_columns(uri: str, columns: list[str], since: datetime | None = None,
                 time_column: str = "received_at") -> pa.Table:
    """Selected columns, optionally only rows whose `time_column` >= since (UTC)."""
    table = open_table(uri)
    if table is None:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    dataset = table.to_pyarrow_dataset()
    wanted = list(dict.fromkeys([*columns, *([time_column] if since else [])]))
    data = dataset.to_table(columns=wanted)
    if since is not None:
        bound = pa.scalar(since, data.schema.field(time_column).type)
        data = data.filter(pc.greater_equal(data[time_column], bound))
    return data.select(columns)


@dataclass(frozen=True)
class Commit:
    version: int
    timestamp_ms: int
    added_files: list[str]


def commits_since(uri: str, after_version: int) -> list[Commit]:
    """Commits newer than `after_version`, from the JSON log (local tables)."""
    log_dir = Path(uri) / "_delta_log"
    found: list[Commit] = []
    for path in sorted(log_dir.glob("*.json")):
        version = int(path.stem)
        if version <= after_version:
            continue
        timestamp, added = 0, []
        for line in path.read_text().splitlines():
            action = json.loads(line)
            if "commitInfo" in action:
                timestamp = action["commitInfo"]["timestamp"]
            elif "add" in action:
                added.append(action["add"]["path"])
        found.append(Commit(version, timestamp, added))
    return found


def latest_version(uri: str) -> int:
    table = open_table(uri)
    return -1 if table is None else table.version()


def commit_latencies(uri: str, after_version: int, ids: Iterable[str] | None = None
                     ) -> list[float]:
    """Seconds from received_at to the commit that made each row visible, per row."""
    from urllib.parse import unquote

    wanted = set(ids) if ids is not None else None
    latencies: list[float] = []
    for commit in commits_since(uri, after_version):
        for relative in commit.added_files:
            rows = pq.read_table(Path(uri) / unquote(relative), columns=["event_id", "received_at"])
            received = rows["received_at"].cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
            for event_id, micros in zip(rows["event_id"].to_pylist(), received.to_pylist(),
                                        strict=True):
                if wanted is None or event_id in wanted:
                    latencies.append(commit.timestamp_ms / 1000 - micros / 1e6)
    return latencies
