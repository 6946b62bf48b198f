"""Reading the lakehouse's Delta tables with delta-rs, the way the checks and reports do.

delta-spark writes, delta-rs reads: both must agree on the table protocol, so this module is
also where the project proves that bronze stays readable outside Spark.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from pyarrow import fs

from streaming.lake.delta import lake_filesystem, storage_options
from streaming.settings import load_settings


def table_storage(uri: str) -> dict[str, str] | None:
    """delta-rs's options for the table at `uri`, from this process's settings: a reader is
    given only the table's URI, and the lake's S3 endpoint and region must reach it as they
    reach the writers (`streaming.lake.delta.storage_options`)."""
    if not uri.startswith(("s3://", "s3a://")):
        return None
    return storage_options(load_settings(), uri)


def open_table(uri: str, version: int | None = None) -> DeltaTable | None:
    """The table at `uri` (at `version`, else its latest), or None when none is there."""
    try:
        return DeltaTable(uri, version=version, storage_options=table_storage(uri))
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
class AddedFile:
    path: str
    partition: dict[str, str | None]
    records: int | None
    data_change: bool


@dataclass(frozen=True)
class Commit:
    version: int
    timestamp_ms: int
    operation: str
    added: list[AddedFile]

    @property
    def added_files(self) -> list[str]:
        return [f.path for f in self.added]


def _parse_commit(version: int, text: str) -> Commit:
    timestamp, operation, added = 0, "", []
    for line in text.splitlines():
        action = json.loads(line)
        if "commitInfo" in action:
            timestamp = action["commitInfo"]["timestamp"]
            operation = action["commitInfo"].get("operation", "")
        elif "add" in action:
            add = action["add"]
            stats = json.loads(add["stats"]) if add.get("stats") else {}
            added.append(AddedFile(add["path"], add.get("partitionValues") or {},
                                   stats.get("numRecords"), add.get("dataChange", True)))
    return Commit(version, timestamp, operation, added)


def commits_since(uri: str, after_version: int, limit: int | None = None) -> list[Commit]:
    """Commits newer than `after_version` from the JSON log (local or s3://), oldest first;
    with `limit`, only the newest `limit` of them."""
    filesystem, path = lake_filesystem(uri)
    try:
        infos = filesystem.get_file_info(fs.FileSelector(f"{path}/_delta_log"))
    except FileNotFoundError:
        return []
    versions = sorted(int(i.base_name[:-5]) for i in infos
                      if i.base_name.endswith(".json") and i.base_name[:-5].isdigit())
    versions = [v for v in versions if v > after_version][-limit if limit else None:]
    found = []
    for version in versions:
        with filesystem.open_input_stream(f"{path}/_delta_log/{version:020d}.json") as stream:
            found.append(_parse_commit(version, stream.read().decode()))
    return found


def latest_version(uri: str) -> int:
    table = open_table(uri)
    return -1 if table is None else table.version()


def read_added(uri: str, added: AddedFile, columns: list[str]) -> pa.Table:
    """`columns` of a data file a commit added (local or s3://)."""
    from urllib.parse import unquote

    filesystem, path = lake_filesystem(uri)
    return pq.read_table(f"{path}/{unquote(added.path)}", columns=columns, filesystem=filesystem)


class Arrivals:
    """Which of `wanted` ids bronze's commits after a version added, and how often: each poll
    reads only the files of commits it has not seen. Re-reading the whole table every half
    second took a third of a core from the stream job it was waiting for (docs/benchmarks.md).
    Files a compaction rewrote (no data change) are not arrivals."""

    def __init__(self, uri: str, after_version: int, wanted: set[str]) -> None:
        self.uri, self.version, self.wanted = uri, after_version, wanted
        self.counts: Counter[str] = Counter()

    def poll(self) -> tuple[int, int]:
        """(ids found, extra copies of them) after reading the commits since the last poll."""
        for commit in commits_since(self.uri, self.version):
            for added in commit.added:
                if added.data_change:
                    ids = read_added(self.uri, added, ["event_id"])["event_id"].to_pylist()
                    self.counts.update(i for i in ids if i in self.wanted)
            self.version = commit.version
        return len(self.counts), sum(self.counts.values()) - len(self.counts)


def latencies_per_commit(uri: str, after_version: int, ids: Iterable[str] | None = None
                         ) -> list[tuple[float, list[float]]]:
    """Per commit after `after_version`: its time (epoch s) and, for each row it made visible,
    seconds from received_at to that commit."""
    wanted = set(ids) if ids is not None else None
    found: list[tuple[float, list[float]]] = []
    for commit in commits_since(uri, after_version):
        committed = commit.timestamp_ms / 1000
        latencies: list[float] = []
        for added in commit.added:
            if not added.data_change:
                continue
            rows = read_added(uri, added, ["event_id", "received_at"])
            received = rows["received_at"].cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
            for event_id, micros in zip(rows["event_id"].to_pylist(), received.to_pylist(),
                                        strict=True):
                if wanted is None or event_id in wanted:
                    latencies.append(committed - micros / 1e6)
        found.append((committed, latencies))
    return found


def commit_latencies(uri: str, after_version: int, ids: Iterable[str] | None = None
                     ) -> list[float]:
    """Seconds from received_at to the commit that made each row visible, per row."""
    return [x for _, values in latencies_per_commit(uri, after_version, ids) for x in values]
