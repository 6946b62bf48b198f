"""The suppression list: salted hashes of the ids of people whose data was erased.

An erasure deletes what is stored; events of the person still in the stream, or sent later,
would bring the data back. The stream job drops every event whose anonymous_id or user_id
hashes into this list (`listed_rows`, on each micro-batch as Arrow). Only hashes are kept:
the list must not itself be a list of the people who asked to be forgotten.

The hash (`streaming.erased.subject_hash`) is SHA-256 of the salt, a separator and the id.
Each erasure also publishes the list for the ingestion handler (`streaming.erased`).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from streaming.erased import subject_hash
from streaming.lake import tables
from streaming.lake.delta import DeltaTarget, target
from streaming.settings import Settings

SCHEMA = pa.schema([("id_hash", pa.string()), ("request_id", pa.string()),
                    ("added_at", pa.timestamp("us", tz="UTC")), ("added_date", pa.date32())])


def listed_rows(rows: pa.Table, hashes: frozenset[str], salt: str) -> pa.BooleanArray:
    """True for each row of an erased person: its anonymous_id or user_id hashes into
    `hashes`. Such an event is stored nowhere, valid or not. Each distinct id is hashed once."""
    mask = pa.array([False] * rows.num_rows, pa.bool_())
    if not hashes:
        return mask
    for name in ("anonymous_id", "user_id"):
        ids = rows.column(name).cast(pa.string())
        listed = [v for v in pc.unique(ids).to_pylist()
                  if v is not None and subject_hash(v, salt) in hashes]
        mask = pc.or_(mask, pc.fill_null(pc.is_in(ids, pa.array(listed, pa.string())), False))
    return mask


def suppression_target(settings: Settings) -> DeltaTarget:
    return target(settings, tables.SUPPRESSED)


def suppressed(list_target: DeltaTarget) -> frozenset[str]:
    """The hashes on the list (none before the first erasure); read incrementally, as the
    stream job reads it before each micro-batch."""
    table = list_target.current()
    if table is None:
        return frozenset()
    return frozenset(table.to_pyarrow_dataset().to_table(columns=["id_hash"])["id_hash"]
                     .to_pylist())


def request_hashes(list_target: DeltaTarget, request_id: str) -> frozenset[str]:
    """The hashes an erasure request put on the list: the ids it resolved the person to."""
    table = list_target.open()
    if table is None:
        return frozenset()
    rows = table.to_pyarrow_dataset().to_table(columns=["id_hash", "request_id"])
    return frozenset(rows.filter(pc.equal(rows["request_id"], request_id))["id_hash"]
                     .to_pylist())


def add(list_target: DeltaTarget, hashes: set[str], request_id: str, now: datetime) -> int:
    """Puts `hashes` on the list for `request_id`, those not on it already; returns how many
    were added. Idempotent per request: a re-run appends as the request's next transaction."""
    new = sorted(hashes - suppressed(list_target))
    if not new:
        return 0
    list_target.ensure(SCHEMA)
    done = len(request_hashes(list_target, request_id))
    rows = pa.table({"id_hash": new, "request_id": [request_id] * len(new),
                     "added_at": [now] * len(new), "added_date": [now.date()] * len(new)},
                    schema=SCHEMA)
    list_target.append(rows, f"privacy-suppression-{request_id}", done)
    return len(new)
