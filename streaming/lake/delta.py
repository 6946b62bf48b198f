"""The one commit path of the lake: every writer commits through delta-rs (`deltalake`), the
stream job's micro-batches to bronze and quarantine as well as OPTIMIZE, VACUUM and restore,
and the daily silver and gold partitions that Spark computes.

Why delta-rs and not delta-spark, which the Glue job could use as it is:
- Safety with several writers. The stream job and Dagster's maintenance commit to the same
  table from different processes (on AWS, the Glue driver and Dagster's). delta-spark's S3
  log store can only be trusted with one writing driver: it cannot put a log entry "only if
  absent", so two commits racing for one version can silently overwrite each other.
  delta-rs 1.x writes each log entry with S3's conditional put (If-None-Match: *) and retries
  on conflict, so delta-rs writers are safe with each other on S3 as on local disk, provided
  no delta-spark writer remains on the table.
- Latency. A delta-spark append cost 0.44-0.60 s median here (1.0-1.8 s when it writes a
  checkpoint), whatever the batch size, rebuilding the snapshot after each commit; the same
  rows as Arrow through delta-rs cost 35-51 ms (docs/benchmarks.md).

Idempotence is the caller's app transaction `(app_id, version)` in the Delta log, as with
delta-spark's txnAppId/txnVersion. delta-rs records it but does not skip a replay by itself,
so `append` checks the table's transaction version first: a micro-batch replayed after a
crash past its commit is skipped, exactly.

The tables keep reader/writer protocol 1/2 and no table features, which every reader of the
lake handles: Spark (silver/gold), Athena, Glue's crawler-free catalog and DuckDB's
delta extension.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Schema, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from pyarrow import fs

from streaming.lake import tables
from streaming.lake.tables import Table
from streaming.settings import Settings, load_settings

# Retries of a commit that lost a race for a log version (delta-rs rebases and checks for
# conflicts each time); appends never conflict with each other or with compaction. A lost race
# means another writer committed that version, so a commit can lose at most as often as the
# others commit meanwhile: the bound is that count, not a hope. 15 was exhausted once by four
# appenders and a maintenance loop (84 commits) on one S3 table; the stream job and Dagster's
# maintenance commit a few times a minute.
MAX_COMMIT_RETRIES = 100
# Whole operations run again after a logical conflict (`retried`).
CONFLICT_ATTEMPTS = 5
log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_RETENTION_HOURS = 7 * 24
LOG_RETENTION = "delta.logRetentionDuration"
DEFAULT_LOG_RETENTION = "interval 30 days"


class TableMissing(RuntimeError):
    """The table has not been written yet."""


def storage_options(settings: Settings, uri: str | None = None) -> dict[str, str] | None:
    """How delta-rs reaches `uri` (by default the lake): nothing for a local folder; for
    `s3://` the region and, for an S3-compatible server (MinIO, moto), its endpoint, which
    delta-rs would not take from AWS_ENDPOINT_URL_S3 (nor over http without AWS_ALLOW_HTTP).
    Credentials come from the usual AWS chain (environment, the Glue job's or the task's role)."""
    if not (uri or settings.lake_uri).startswith(("s3://", "s3a://")):
        return None
    options = {"AWS_REGION": settings.region}
    if settings.s3_endpoint_url:
        options["AWS_ENDPOINT_URL"] = settings.s3_endpoint_url
        options["AWS_ALLOW_HTTP"] = str(settings.s3_endpoint_url.startswith("http://")).lower()
    return options


def lake_filesystem(uri: str) -> tuple[fs.FileSystem, str]:
    """pyarrow's file system and path for `uri` (a folder, or s3:// as the lake's tables and
    the job's checkpoint may be), reaching S3 as delta-rs does (`storage_options`): in this
    process's settings' region, at their S3-compatible endpoint when set. pyarrow's own
    `FileSystem.from_uri` takes an endpoint only from the AWS SDKs' variables, so the lake's
    files read through it were out of reach with CLICKSTREAM_S3_ENDPOINT alone."""
    if not uri.startswith(("s3://", "s3a://")):
        return fs.FileSystem.from_uri(uri if "://" in uri else f"file://{Path(uri).resolve()}")
    settings = load_settings()
    options: dict[str, str] = {"region": settings.region}
    if settings.s3_endpoint_url:
        scheme, _, address = settings.s3_endpoint_url.rstrip("/").partition("://")
        options |= {"scheme": scheme, "endpoint_override": address}
    return fs.S3FileSystem(**options), uri.split("://", 1)[1].rstrip("/")


@dataclass(frozen=True)
class DeltaTarget:
    """One table the lake writes through this module: where it is and how it is laid out."""

    uri: str
    partition_by: str
    stats_columns: str | None
    storage: dict[str, str] | None = None
    # The table as this process last read it: a micro-batch brings it up to date from the
    # log entries since (3 ms here) instead of loading the log from its checkpoint (23 ms).
    _loaded: list[DeltaTable] = field(default_factory=list, compare=False, repr=False)

    def open(self) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri, storage_options=self.storage)
        except TableNotFoundError:
            return None

    def current(self) -> DeltaTable | None:
        """The table at its latest version, read incrementally after the first time; for a
        writer that commits again and again (the stream job)."""
        if self._loaded:
            self._loaded[0].update_incremental()
            return self._loaded[0]
        table = self.open()
        if table is not None:
            self._loaded.append(table)
        return table

    def ensure(self, schema: pa.Schema) -> DeltaTable:
        """Creates the table if absent (protocol 1/2, partitioned, stats on `stats_columns`);
        an existing table, delta-spark's included, gets the stats setting if it lacks it and
        the columns of `schema` it lacks (added as nullable: the rows it already holds read
        them as null), so a job that writes a new column upgrades the table before its first
        batch."""
        table = self.open()
        configuration = {"delta.dataSkippingStatsColumns": self.stats_columns}
        if table is None:
            return DeltaTable.create(self.uri, schema, mode="ignore",
                                     partition_by=[self.partition_by],
                                     configuration=configuration, storage_options=self.storage)
        if table.metadata().configuration.get("delta.dataSkippingStatsColumns") != self.stats_columns:
            table.alter.set_table_properties(configuration, commit_properties=commit_properties())
        present = set(table.schema().to_arrow().names)
        missing = [field for field in Schema.from_arrow(schema).fields if field.name not in present]
        if missing:
            table.alter.add_columns(missing, commit_properties=commit_properties())
        return table

    def append(self, rows: pa.Table, app_id: str, version: int) -> bool:
        """Appends `rows` as the app transaction `(app_id, version)`; False when the table
        already holds that transaction or a later one of the same app (a replay), so nothing
        is written twice. An empty `rows` commits nothing and does not even read the log (most
        batches have no quarantine rows)."""
        if rows.num_rows == 0:
            return True
        def once() -> bool:
            table = self.current()
            done = table.transaction_version(app_id) if table is not None else None
            if done is not None and done >= version:
                return False
            write_deltalake(table if table is not None else self.uri, rows, mode="append",
                            partition_by=[self.partition_by], storage_options=self.storage,
                            commit_properties=commit_properties(app_id, version))
            return True

        return retried(once, f"append to {self.uri}")

    def replace_partition(self, rows: pa.Table, value: str) -> None:
        """Makes `rows` the whole content of the partition `partition_by = value`, in one
        commit (Delta's replaceWhere; the table is created if absent). Two writers replacing
        different partitions at once both commit, a conflict on the same one is retried, so a
        backfill may run its days side by side, on S3 too. Rows outside the partition are
        refused by delta-rs, not written."""
        table = self.open()
        write_deltalake(table if table is not None else self.uri, rows, mode="overwrite",
                        predicate=f"{self.partition_by} = '{value}'",
                        partition_by=[self.partition_by], storage_options=self.storage,
                        commit_properties=commit_properties())

    def existing(self) -> DeltaTable:
        table = self.open()
        if table is None:
            raise TableMissing(f"no Delta table at {self.uri} yet: nothing to do until the "
                               "stream job has written")
        return table

    def optimize(self, zorder_by: str) -> dict:
        """Compaction with Z-order: rewrites files only (dataChange=false), so appends commit
        beside it; a commit it loses to an append is retried, not failed."""
        return retried(lambda: self.existing().optimize.z_order(
            [zorder_by], commit_properties=commit_properties()), f"optimize of {self.uri}")

    def vacuum(self, retention_hours: int) -> list[str]:
        """Deletes the data files no version within `retention_hours` needs; returns them.
        Below Delta's default retention (7 days) the caller asks for it explicitly."""
        return retried(lambda: self.existing().vacuum(
            retention_hours=retention_hours, dry_run=False,
            enforce_retention_duration=retention_hours >= DEFAULT_RETENTION_HOURS,
            commit_properties=commit_properties()), f"vacuum of {self.uri}")

    def truncate_history(self) -> int:
        """Deletes the log before a checkpoint of the current version; returns how many
        versions of history went. The log's JSON commits keep each file's statistics, min and
        max of the stats columns (ids among them), long after the file is vacuumed: an
        erasure must not leave a person's id there. The table's log retention is set to zero
        for the cleanup, then back. Time travel to the removed versions ends (their data
        files are already vacuumed by then)."""
        table = self.existing()
        before = len(table.history())
        retention = table.metadata().configuration.get(LOG_RETENTION, DEFAULT_LOG_RETENTION)
        self._set_property(LOG_RETENTION, "interval 0 seconds")
        self.existing().create_checkpoint()
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                self.existing().cleanup_metadata()
                break
            except (FileNotFoundError, DeltaError) as exc:  # another cleanup deleted it first
                unrelated = isinstance(exc, DeltaError) and not vanished_log(exc)
                if unrelated or attempt == CONFLICT_ATTEMPTS - 1:
                    raise
        self._set_property(LOG_RETENTION, retention)
        return max(0, before + 2 - len(self.existing().history()))

    def _set_property(self, name: str, value: str) -> None:
        """A table property change: metadata, which conflicts with every concurrent commit
        (an append, another erasure's change), so it is retried on a fresh snapshot."""
        retried(lambda: self.existing().alter.set_table_properties(
            {name: value}, commit_properties=commit_properties()), f"{name} on {self.uri}")

    def delete(self, predicate: str) -> dict:
        """Deletes the rows `predicate` (delta-rs SQL) matches, rewriting only the files that
        hold them; a predicate that matches nothing commits nothing. A DELETE that loses to a
        concurrent commit (the stream's append) runs again on the new snapshot."""
        return retried(lambda: self.existing().delete(predicate,
                                                      commit_properties=commit_properties()),
                       f"delete on {self.uri}")

    def restore(self, version: int) -> dict:
        """Makes `version`'s content the current one again, as a new commit."""
        return restore_table(self.uri, version, self.storage)


def restore_table(uri: str, version: int, storage: dict[str, str] | None) -> dict:
    """RESTORE of any lake table (`clickstream restore` takes paths too): a new commit whose
    content is `version`'s; returns delta-rs's metrics."""
    return DeltaTable(uri, storage_options=storage).restore(version,
                                                            commit_properties=commit_properties())


def vanished_log(exc: BaseException) -> bool:
    """A log file listed a moment ago was gone when read: another writer truncated the
    table's history in between (an erasure's purge, `DeltaTarget.truncate_history`). delta-rs
    says so with a FileNotFoundError, or, where delta-kernel reads the file (a VACUUM on a
    snapshot loaded before the truncation), with a DeltaError "Kernel error: File not found"."""
    text = str(exc)
    return "_delta_log" in text and (isinstance(exc, FileNotFoundError) or (
        isinstance(exc, DeltaError) and "File not found" in text))


def retried(action: Callable[[], T], what: str) -> T:
    """`action` (a whole operation: read the table, write, commit), run again on a fresh
    snapshot when its commit loses a logical conflict, which `max_commit_retries` does not
    retry, or when the log it read was truncated under it (`vanished_log`). delta-rs 1.6
    fails an append whose commit meets a concurrent DELETE ("a concurrent transaction deleted
    data this operation read") and a DELETE that meets an append, whatever the table's
    isolation level, and any commit that meets a metadata change: an erasure beside the
    running stream met all three, and two erasures at once the truncated log."""
    for _ in range(CONFLICT_ATTEMPTS - 1):
        try:
            return action()
        except CommitFailedError as exc:
            log.info("%s lost to a concurrent commit, running it again: %s", what, exc)
        except (FileNotFoundError, DeltaError) as exc:
            if not vanished_log(exc):
                raise
            log.info("%s read a log file another writer removed, running it again: %s",
                     what, exc)
    return action()


def commit_properties(app_id: str | None = None, version: int | None = None) -> CommitProperties:
    """Commit retries for every writer, and the app transaction for an idempotent one."""
    transactions = [Transaction(app_id, version)] if app_id is not None else None
    return CommitProperties(max_commit_retries=MAX_COMMIT_RETRIES, app_transactions=transactions)


def target(settings: Settings, table: Table) -> DeltaTarget:
    """`table` of the registry as this module writes it."""
    return DeltaTarget(table.uri(settings), table.partition, table.stats_columns,
                       storage_options(settings))


def bronze_target(settings: Settings) -> DeltaTarget:
    return target(settings, tables.BRONZE)


def quarantine_target(settings: Settings) -> DeltaTarget:
    return target(settings, tables.QUARANTINE)
