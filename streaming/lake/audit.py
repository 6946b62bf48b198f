"""The audit trail of privacy requests: an append-only Delta table, one row per step.

A request is recorded when it starts (`requested`), then each step as it is done: rows
deleted from a table and the version that deleted them, gold partitions rebuilt, files
purged, and the verification that ends it (`completed`, or `verification_failed`, which
leaves the request open for a re-run to finish). Steps are rows, not updates: the trail
itself is never rewritten, and a request that crashed halfway shows how far it got.

The person appears only as the salted hash of the id they were asked to be forgotten by.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from streaming.lake import tables
from streaming.lake.delta import DeltaTarget, target
from streaming.settings import Settings

REQUESTED, DELETED, REBUILT, PURGED = "requested", "deleted", "rebuilt", "purged"
COMPLETED, VERIFICATION_FAILED = "completed", "verification_failed"
TIMESTAMP = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([
    ("request_id", pa.string()), ("subject_hash", pa.string()), ("requested_by", pa.string()),
    ("requested_at", TIMESTAMP), ("step", pa.string()), ("table_name", pa.string()),
    ("table_version", pa.int64()), ("rows_removed", pa.int64()),
    ("partitions", pa.list_(pa.string())), ("files_purged", pa.int64()),
    ("verified", pa.bool_()), ("detail", pa.string()), ("recorded_at", TIMESTAMP),
    ("recorded_date", pa.date32()),
])


@dataclass(frozen=True)
class Request:
    request_id: str
    subject_hash: str
    requested_by: str
    requested_at: datetime


@dataclass(frozen=True)
class Step:
    step: str
    table_name: str | None = None
    table_version: int | None = None
    rows_removed: int | None = None
    partitions: list[str] | None = None
    files_purged: int | None = None
    verified: bool | None = None
    detail: str | None = None


class AuditTrail:
    """The requests table, read and appended through the lake's one commit path."""

    def __init__(self, trail: DeltaTarget) -> None:
        self.trail = trail

    def rows(self) -> pa.Table:
        table = self.trail.open()
        if table is None:
            return SCHEMA.empty_table()
        return table.to_pyarrow_dataset().to_table().sort_by("recorded_at")

    def steps(self, request_id: str) -> list[dict]:
        rows = self.rows()
        return rows.filter(pc.equal(rows["request_id"], request_id)).to_pylist()

    def open_request(self, subject_hash: str) -> Request | None:
        """The subject's request that started and never completed (a crash, a failed
        verification): a new request for the same person resumes it."""
        rows = self.rows().to_pylist()
        done = {r["request_id"] for r in rows if r["step"] == COMPLETED}
        for row in rows:
            if (row["step"] == REQUESTED and row["subject_hash"] == subject_hash
                    and row["request_id"] not in done):
                return Request(row["request_id"], row["subject_hash"], row["requested_by"],
                               row["requested_at"])
        return None

    def completed(self) -> list[dict]:
        return [r for r in self.rows().to_pylist() if r["step"] == COMPLETED]

    def record(self, request: Request, step: Step, now: datetime) -> None:
        """Appends one step as the request's next app transaction, so a step is never
        recorded twice by a retried commit."""
        self.trail.ensure(SCHEMA)
        row = {**asdict(request), **asdict(step), "recorded_at": now, "recorded_date": now.date()}
        self.trail.append(pa.Table.from_pylist([row], schema=SCHEMA),
                          f"privacy-request-{request.request_id}",
                          len(self.steps(request.request_id)))


def audit_trail(settings: Settings) -> AuditTrail:
    return AuditTrail(target(settings, tables.REQUESTS))
