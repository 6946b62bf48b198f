"""`clickstream forget`: erase a person from the lake, and keep them erased.

A request names one id (`--user-id` or `--anonymous-id`). In order:

1. The request is recorded in the audit trail (streaming/lake/audit.py), or, when the same
   person has a request that never completed (a crash, a failed verification), that one is
   resumed: re-running a request finishes it.
2. The person's ids are resolved through identity links: silver_identities and the bronze
   events that carry both ids, followed until no new id appears.
3. Their hashes go on the suppression list first, so the stream job stops writing their
   events before their rows are deleted, and the list is published for the ingestion
   handler, which stops passing them on (`streaming.erased`). The stream job's batch in
   flight may have read the list before: the erasure waits until it is committed.
4. Their rows are deleted from bronze, quarantine and silver sessions through the lake's one
   commit path (delta-rs `DELETE`, which rewrites only the files holding them); the gold
   days whose numbers counted them are rebuilt; their identity links go last, so a re-run
   after a crash still resolves the same ids.
5. The files that held the rows are purged: VACUUM with retention 0 of every table touched,
   then the log before a new checkpoint (its JSON commits keep every file's min and max of
   the stats columns, ids among them, long after the file is gone).
   delta-rs cannot vacuum a chosen list of files (`vacuum` takes a retention, `full` and
   `keep_versions`, no paths), so this purges every file any commit has removed. It is the
   non-`full` VACUUM: it deletes only files the log says were removed, never files no commit
   references yet, which is what a concurrent append has written but not committed, so it
   stays safe beside the running stream. The cost: time travel to versions before the
   erasure ends for these tables (their files are gone), which is the point for the rows
   of the person and a loss for restore of everything else.
6. Every version of every table still in the history is read back: the request completes
   only when none holds a row of the person (`subject.scan_versions`). A micro-batch the
   stream job planned before step 3 can still commit their events after step 4; steps 4-6
   then run again after a batch's time, up to `PASSES` in all.

Ids are matched exactly, by column (`streaming.lake.subject`). "Now" is a parameter.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyarrow.compute as pc

from streaming import erased
from streaming.lake import audit, suppression, tables
from streaming.lake.audit import AuditTrail, Request, Step
from streaming.lake.delta import retried, target
from streaming.lake.subject import (
    ID_FIELDS,
    PERSONAL_TABLES,
    POSITION,
    VersionScan,
    id_predicate,
    position_predicate,
    rows_of,
    scan_versions,
)
from streaming.lake.tables import Table
from streaming.settings import Settings
from streaming.stream.backlog import committed_batch, planned_batch

GOLD_TABLES = (tables.PAGE_KPIS, tables.FUNNEL)
# Deleted in this order; identity links last (see step 4 above).
DELETE_ORDER = (tables.BRONZE, tables.QUARANTINE, tables.SESSIONS)
# The tables whose deleted rows set the gold days to rebuild.
COUNTED_IN_GOLD = (tables.BRONZE.name, tables.SESSIONS.name)

RebuildGold = Callable[[list[date]], dict[str, int]]
# Passes of delete, purge and verification, and the wait between them: longer than one
# micro-batch of the stream job (see `forget`).
PASSES = 3
SETTLE_SECONDS = 10.0
# How long an erasure waits for the stream job's batch in flight (`batch_in_flight_committed`).
IN_FLIGHT_WAIT_SECONDS = 60.0
log = logging.getLogger(__name__)


class ErasureIncomplete(RuntimeError):
    """Rows of the person are still readable; the request stays open for a re-run."""


@dataclass(frozen=True)
class Subject:
    """Who is to be forgotten: exactly one of the two ids."""

    user_id: str | None = None
    anonymous_id: str | None = None

    def __post_init__(self) -> None:
        if (self.user_id is None) == (self.anonymous_id is None) or not (self.id or "").strip():
            raise ValueError("give exactly one id, --user-id or --anonymous-id, not blank")

    @property
    def id(self) -> str:
        return self.user_id if self.user_id is not None else self.anonymous_id or ""


@dataclass
class Outcome:
    request_id: str
    resumed: bool
    ids_resolved: int
    rows_removed: dict[str, int] = field(default_factory=dict)
    gold_rebuilt: list[str] = field(default_factory=list)
    files_purged: dict[str, int] = field(default_factory=dict)
    verification: dict[str, dict] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    passes: int = 0
    # delta-rs's metrics of each DELETE that removed rows, per table (a pass each).
    deletes: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return all(v["rows"] == 0 for v in self.verification.values())


def resolve(settings: Settings, ids: set[str]) -> set[str]:
    """`ids` and every id linked to them, directly or through other ids: identity links
    (silver_identities) and bronze events carrying both ids (days not yet modeled)."""
    found, frontier = set(ids), set(ids)
    while frontier:
        linked: set[str] = set()
        for table in (tables.IDENTITIES, tables.BRONZE):
            opened = target(settings, table).open()
            if opened is None:
                continue
            rows = rows_of(opened.to_pyarrow_dataset(), table, frontier, list(ID_FIELDS))
            for column in ID_FIELDS:
                linked |= {v for v in pc.unique(rows[column]).to_pylist() if v is not None}
        frontier = linked - found
        found |= frontier
    return found


def delete_rows(settings: Settings, table: Table, ids: set[str]) -> tuple[Step, dict]:
    """Deletes the person's rows from `table`; the step says how many, the table version
    after, and the partitions (days) they were in; delta-rs's metrics of the DELETE (files
    removed and added, rows copied) come with it, {} when nothing matched."""
    writer = target(settings, table)
    opened = writer.open()
    if opened is None:
        return Step(audit.DELETED, table.name, None, 0, []), {}
    quarantine = table is tables.QUARANTINE
    rows = rows_of(opened.to_pyarrow_dataset(), table, ids,
                   [*(POSITION if quarantine else ()), table.partition])
    predicate = None
    if rows.num_rows:
        predicate = position_predicate(rows) if quarantine else id_predicate(ids)
    days = sorted({str(day) for day in pc.unique(rows[table.partition]).to_pylist()})
    metrics = writer.delete(predicate) if predicate else {}
    return (Step(audit.DELETED, table.name, writer.existing().version(),
                 metrics.get("num_deleted_rows", 0), days), metrics)


def purge(settings: Settings, table: Table) -> Step:
    """VACUUM with retention 0 (the files removed by any commit, the erasure's included),
    then the log before a checkpoint of the current version (its commits' file statistics
    name ids); `files_purged` counts the data files and the versions of log removed."""
    writer = target(settings, table)
    if writer.open() is None:
        return Step(audit.PURGED, table.name, None, files_purged=0)
    files = writer.vacuum(0)
    versions = writer.truncate_history()
    return Step(audit.PURGED, table.name, writer.existing().version(),
                files_purged=len(files) + versions)


def verify(settings: Settings, hashes: frozenset[str], salt: str) -> dict[str, VersionScan]:
    """Every version of every table that holds people's rows, searched by the ids' hashes."""
    def match(value: str) -> bool:
        return erased.subject_hash(value, salt) in hashes

    return {table.name: retried(lambda t=table: scan_versions(t.uri(settings), t, match),
                                f"verifying {table.name}")
            for table in PERSONAL_TABLES}


def _days_deleted(steps: list[dict]) -> set[str]:
    return {day for step in steps if step["step"] == audit.DELETED
            and step["table_name"] in COUNTED_IN_GOLD for day in step["partitions"] or []}


def forget(settings: Settings, subject: Subject, requested_by: str, rebuild_gold: RebuildGold,
           now: Callable[[], datetime] = lambda: datetime.now(UTC),
           settle: Callable[[], None] = lambda: time.sleep(SETTLE_SECONDS)) -> Outcome:
    """Erases `subject` (steps in the module docstring); raises ErasureIncomplete when a
    version still returns a row of theirs after `PASSES` passes.

    A micro-batch the stream job planned before the suppression list changed can commit the
    person's events after their rows were deleted; the verification then finds them in the
    newest version, and after `settle` (one batch's time) the delete, purge and verification
    run again. Every later batch reads the list and drops them."""
    salt = erased.subject_salt(settings)
    trail: AuditTrail = audit.audit_trail(settings)
    subject_hash = erased.subject_hash(subject.id, salt)
    request = trail.open_request(subject_hash)
    resumed = request is not None
    if request is None:
        requested_at = now()
        request = Request(str(uuid.uuid5(uuid.NAMESPACE_URL, f"{subject_hash}|{requested_at}")),
                          subject_hash, requested_by, requested_at)
        trail.record(request, Step(audit.REQUESTED), requested_at)
    clock = time.perf_counter()

    def timed(phase: str) -> None:
        """Adds the time since the last phase to `phase` (deletes happen in two passes)."""
        nonlocal clock
        outcome.seconds[phase] = round(outcome.seconds.get(phase, 0.0) + time.perf_counter()
                                       - clock, 3)
        clock = time.perf_counter()

    ids = resolve(settings, {subject.id})
    outcome = Outcome(request.request_id, resumed, len(ids))
    list_target = suppression.suppression_target(settings)
    suppression.add(list_target, {erased.subject_hash(i, salt) for i in ids},
                    request.request_id, now())
    erased.publish(settings, suppression.suppressed(list_target))
    timed("resolve")
    if not batch_in_flight_committed(settings):
        log.warning("the stream job's newest batch was not committed within %ss (is the job "
                    "down?): a replay reads the new list, so its events are dropped", IN_FLIGHT_WAIT_SECONDS)
    timed("in_flight_batch")
    hashes = suppression.request_hashes(list_target, request.request_id) | {subject_hash}
    for attempt in range(PASSES):
        if attempt:
            settle()
            timed("settle")
        _erase_pass(settings, trail, request, ids, rebuild_gold, now, outcome, timed)
        outcome.verification = {name: {"rows": scan.rows, "versions": scan.versions,
                                        "unreadable_versions": len(scan.unreadable)}
                                for name, scan in verify(settings, hashes, salt).items()}
        timed("verify")
        outcome.passes = attempt + 1
        if outcome.verified:
            break
    trail.record(request, Step(audit.COMPLETED if outcome.verified else audit.VERIFICATION_FAILED,
                               verified=outcome.verified,
                               detail=json.dumps(outcome.verification, sort_keys=True)), now())
    if not outcome.verified:
        raise ErasureIncomplete(f"request {request.request_id}: rows of the person are still "
                                f"readable ({outcome.verification}); run it again")
    return outcome


def batch_in_flight_committed(settings: Settings, timeout: float = IN_FLIGHT_WAIT_SECONDS,
                              poll: float = 0.5) -> bool:
    """Waits until the stream job has committed the newest batch it planned, which may have
    read the suppression list before the person was put on it (every later batch reads it
    after); True when it has, or when nothing is planned."""
    checkpoint = settings.bronze_checkpoint_uri
    planned = planned_batch(checkpoint)
    deadline = time.monotonic() + timeout
    while planned is not None and (committed_batch(checkpoint) or -1) < planned:
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def _erase_pass(settings: Settings, trail: AuditTrail, request: Request, ids: set[str],
                rebuild_gold: RebuildGold, now: Callable[[], datetime], outcome: Outcome,
                timed: Callable[[str], None]) -> None:
    """Steps 4 and 5 of the module docstring, recorded in the audit trail; rows removed add
    up over passes."""
    def removed(table: Table, step: Step, metrics: dict) -> None:
        outcome.rows_removed[table.name] = (outcome.rows_removed.get(table.name, 0)
                                            + (step.rows_removed or 0))
        if metrics:
            outcome.deletes.setdefault(table.name, []).append(metrics)

    for table in DELETE_ORDER:
        step, metrics = retried(lambda t=table: delete_rows(settings, t, ids),
                                f"deleting from {table.name}")
        trail.record(request, step, now())
        removed(table, step, metrics)
    timed("delete")
    days = sorted(_days_deleted(trail.steps(request.request_id)))
    if days:
        for name, version in rebuild_gold([date.fromisoformat(d) for d in days]).items():
            trail.record(request, Step(audit.REBUILT, name, version, partitions=days), now())
        outcome.gold_rebuilt = days
    timed("rebuild_gold")
    step, metrics = retried(lambda: delete_rows(settings, tables.IDENTITIES, ids),
                            f"deleting from {tables.IDENTITIES.name}")
    trail.record(request, step, now())
    removed(tables.IDENTITIES, step, metrics)
    timed("delete")
    for table in (*PERSONAL_TABLES, *(GOLD_TABLES if days else ())):
        step = retried(lambda t=table: purge(settings, t), f"purging {table.name}")
        trail.record(request, step, now())
        outcome.files_purged[table.name] = outcome.files_purged.get(table.name, 0) + (
            step.files_purged or 0)
    timed("purge")
