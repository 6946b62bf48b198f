"""`clickstream restore`: make an earlier version of a Delta table the current one again.

The recovery tool for a bad deploy (a transform bug, a wrong backfill, a bad OPTIMIZE):
Delta's RESTORE through the lake's one commit path (delta-rs, streaming/lake/delta.py), as
every writer of every table commits. A restore is a new commit:
readers see the old content at once, nothing is rewritten, and the versions it undoes stay
readable by time travel until VACUUM deletes their files (7 days by default).

For the tables the stream job writes (bronze, quarantine) the command refuses while a
query holds the job's checkpoint lock, and holds the lock itself while it restores, so the
job cannot start in the middle. AWS mode has no such lock (the Glue job's concurrency of 1
is the guard there): stop the Glue streaming job before restoring its tables.

Restoring bronze does not rewind the job: rows committed after the target version leave the
current table and are not read from the stream again.

A timestamp selects the last version committed at or before it (commit times from the
Delta log, UTC when the timestamp has no zone).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from deltalake.exceptions import DeltaError

from streaming.lake import tables
from streaming.lake.delta import restore_table, storage_options
from streaming.lake.read import open_table
from streaming.settings import Settings
from streaming.stream.status import CheckpointBusy, checkpoint_lock

STREAM_TABLES = ("bronze", "quarantine")


class RestoreError(ValueError):
    """The restore cannot be done as asked; the message says why and what to do."""


def table_uri(settings: Settings, table: str) -> str:
    """bronze and quarantine by name, any other table by its path under the lake."""
    if table == "bronze":
        return tables.BRONZE.uri(settings)
    if table == "quarantine":
        return tables.QUARANTINE.uri(settings)
    path = PurePosixPath(table)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise RestoreError(f"--table {table!r}: give bronze, quarantine or a path inside the "
                           f"lake such as silver/sessions")
    return f"{settings.lake_uri}/{path}"


@dataclass(frozen=True)
class Version:
    version: int
    committed_at: datetime
    operation: str


def history(uri: str, limit: int | None = None) -> list[Version]:
    """The table's versions still in its log, newest first."""
    table = open_table(uri)
    if table is None:
        raise RestoreError(f"no Delta table at {uri}")
    return [Version(entry["version"], datetime.fromtimestamp(entry["timestamp"] / 1000, UTC),
                    entry.get("operation", "")) for entry in table.history(limit)]


def rows_at(uri: str, version: int) -> int:
    return open_table(uri, version).count()


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RestoreError(f"--timestamp {text!r} is not ISO-8601 "
                           "(e.g. 2026-11-25T14:30:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resolve(versions: list[Version], version: int | None, timestamp: str | None) -> Version:
    """The version to restore to, checked against the table's history."""
    if timestamp is not None:
        moment = parse_time(timestamp)
        earlier = [v for v in versions if v.committed_at <= moment]
        if not earlier:
            raise RestoreError(f"no version of the table was committed by {moment.isoformat()}; "
                               f"the oldest kept is {versions[-1].version} from "
                               f"{versions[-1].committed_at.isoformat()}")
        return earlier[0]
    match = [v for v in versions if v.version == version]
    if not match:
        raise RestoreError(f"version {version} is not in the table's history (latest "
                           f"{versions[0].version}, oldest kept {versions[-1].version})")
    return match[0]


@contextlib.contextmanager
def stream_job_stopped(settings: Settings, table: str):
    """Holds the stream job's checkpoint lock for the tables the job writes."""
    if table not in STREAM_TABLES:
        yield
        return
    try:
        with checkpoint_lock(settings):
            yield
    except CheckpointBusy as exc:
        raise RestoreError(f"refusing to restore {table} while the stream job writes it: {exc}. "
                           "Stop the job (Ctrl-C `clickstream stack`, or kill its pid), restore, "
                           "then start it again.") from None


def restore(settings: Settings, uri: str, target: Version) -> dict:
    """RESTORE through the lake's commit path; returns the files restored and removed and the
    new version."""
    try:
        metrics = restore_table(uri, target.version, storage_options(settings))
    except DeltaError as exc:
        raise RestoreError(f"Delta refused the restore: {str(exc).splitlines()[0]} (files "
                           "of versions older than VACUUM's retention are gone)") from None
    return {"num_restored_files": metrics.get("numRestoredFile", 0),
            "num_removed_files": metrics.get("numRemovedFile", 0),
            "version": open_table(uri).version()}


def _print_history(uri: str, versions: list[Version]) -> None:
    print(f"{'version':>8}  {'committed (UTC)':<26}  {'rows':>12}  operation")
    for v in versions:
        print(f"{v.version:>8}  {v.committed_at:%Y-%m-%d %H:%M:%S.%f}  {rows_at(uri, v.version):>12,}"
              f"  {v.operation}")


def main(settings: Settings, args: argparse.Namespace) -> int:
    try:
        uri = table_uri(settings, args.table)
        if args.history:
            _print_history(uri, history(uri, 25))
            return 0
        versions = history(uri)
        target = resolve(versions, args.version, args.timestamp)
        current = versions[0]
        if target.version == current.version:
            print(f"{args.table} is at version {current.version} already; nothing to restore")
            return 0
        print(f"{args.table} ({uri}): version {current.version} "
              f"({rows_at(uri, current.version):,} rows) -> the content of version "
              f"{target.version} committed {target.committed_at.isoformat()} "
              f"({rows_at(uri, target.version):,} rows), written as a new version.")
        if args.table == "bronze":
            print("  Rows committed after that version leave the current table; the stream "
                  "job will not read them again (time travel keeps them until VACUUM).")
        with stream_job_stopped(settings, args.table):
            if not args.yes and not _confirmed():
                print("not restored")
                return 1
            result = restore(settings, uri, target)
    except RestoreError as exc:
        print(f"clickstream restore: {exc}", file=sys.stderr)
        return 2
    print(f"restored {args.table} to the content of version {target.version} as version "
          f"{result['version']}: {result.get('num_restored_files', 0)} files restored, "
          f"{result.get('num_removed_files', 0)} removed")
    return 0


def _confirmed() -> bool:
    if not sys.stdin.isatty():
        raise RestoreError("not a terminal: pass --yes to restore without confirmation")
    return input("restore? [y/N] ").strip().lower() in ("y", "yes")
