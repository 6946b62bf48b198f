"""Which stored rows are about a person: matched by id, exactly, column by column.

A person is a set of ids (anonymous and user ids, resolved through identity links). Rows
match when one of their id columns equals one of them, never by substring: an id that is a
prefix of another visitor's id, or that appears in someone's URL or properties, matches
nothing of theirs. Quarantine has no id columns (a broken record may not even parse), so its
rows match by the ids read from the raw record's JSON.

Matching takes a test on one id, so the same code finds rows by raw id (an erasure, an
export) and by salted hash (verifying an erasure long after the raw ids are gone).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from streaming.lake import tables
from streaming.lake.read import open_table
from streaming.lake.tables import Table
from streaming.records import AGGREGATE_EVENTS, AGGREGATE_MARKER

ID_FIELDS = ("anonymous_id", "user_id")
POSITION = ("kinesis_shard_id", "kinesis_sequence_number", "kinesis_record_index")
# The tables with a person's rows, and the columns that say whose they are. Gold holds
# counts only: it is rebuilt, not searched.
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    tables.BRONZE.name: ID_FIELDS, tables.SESSIONS.name: ID_FIELDS,
    tables.IDENTITIES.name: ID_FIELDS, tables.QUARANTINE.name: ("raw_record",),
}
PERSONAL_TABLES = (tables.BRONZE, tables.QUARANTINE, tables.SESSIONS, tables.IDENTITIES)

Match = Callable[[str], bool]


def record_ids(raw: str | None) -> set[str]:
    """The anonymous and user ids a raw stream record names: of the event, or of each event
    of an aggregate quarantined whole. A record that is not JSON names none."""
    try:
        record = json.loads(raw) if raw else None
    except ValueError:
        return set()
    if not isinstance(record, dict):
        return set()
    found = {value for field in ID_FIELDS if isinstance(value := record.get(field), str)}
    members = record.get(AGGREGATE_EVENTS) if AGGREGATE_MARKER in record else None
    for member in members if isinstance(members, list) else []:
        found |= record_ids(member) if isinstance(member, str) else set()
    return found


def matching(table: Table, rows: pa.Table, match: Match) -> pa.BooleanArray:
    """Which of `rows` (holding the table's ID_COLUMNS) are the person's."""
    if table is tables.QUARANTINE:
        return pa.array([any(map(match, record_ids(raw)))
                         for raw in rows["raw_record"].to_pylist()], pa.bool_())
    mask = pa.array([False] * rows.num_rows, pa.bool_())
    for column in ID_COLUMNS[table.name]:
        ids = rows[column].cast(pa.string())  # delta-rs reads strings as string_view
        values = [v for v in pc.unique(ids).to_pylist() if v is not None and match(v)]
        mask = pc.or_(mask, pc.fill_null(pc.is_in(ids, pa.array(values, pa.string())), False))
    return mask


def rows_of(dataset: ds.Dataset, table: Table, ids: set[str],
            columns: list[str] | None = None) -> pa.Table:
    """The rows of `ids` in a table's dataset (`columns` of them, or all). Matched in memory
    from the id columns, not by a scan filter: Arrow cannot compare the string_view columns
    delta-rs reads with the string statistics of files delta-spark wrote."""
    wanted = None if columns is None else list(dict.fromkeys([*ID_COLUMNS[table.name], *columns]))
    rows = dataset.to_table(columns=wanted)
    return rows.filter(matching(table, rows, ids.__contains__))


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def id_predicate(ids: set[str]) -> str:
    """Rows whose id columns hold one of `ids`, in the SQL delta-rs deletes by."""
    listed = ", ".join(sql_literal(value) for value in sorted(ids))
    return f"anonymous_id IN ({listed}) OR user_id IN ({listed})"


def position_predicate(rows: pa.Table) -> str:
    """Quarantine rows by their stream position, unique per quarantined event."""
    def equal(column: str, value) -> str:
        if value is None:
            return f"{column} IS NULL"
        return f"{column} = {value}" if isinstance(value, int) else f"{column} = {sql_literal(value)}"

    return " OR ".join("(" + " AND ".join(equal(c, row[c]) for c in POSITION) + ")"
                       for row in rows.select(list(POSITION)).to_pylist())


@dataclass(frozen=True)
class VersionScan:
    """A table's stored versions searched for a person: rows found in any file some version
    still references, and the versions that cannot be read any more (their files purged)."""

    rows: int
    versions: int
    unreadable: list[int]


def scan_versions(uri: str, table: Table, match: Match) -> VersionScan:
    """Every version in the table's history, each file read once: a version's rows are its
    files' rows (these tables have no deletion vectors), so a person found in no file is in
    no version."""
    latest = open_table(uri)
    if latest is None:
        return VersionScan(0, 0, [])
    versions = sorted(entry["version"] for entry in latest.history())
    seen: set[str] = set()
    found, unreadable = 0, []
    for version in versions:
        dataset = open_table(uri, version).to_pyarrow_dataset()
        readable = True
        for fragment in dataset.get_fragments():
            if fragment.path in seen:
                continue
            try:
                rows = fragment.to_table(columns=list(ID_COLUMNS[table.name]))
            except FileNotFoundError:
                readable = False
                continue
            seen.add(fragment.path)
            found += pc.sum(matching(table, rows, match)).as_py() or 0
        if not readable:
            unreadable.append(version)
    return VersionScan(found, len(versions), unreadable)


def current_rows(uri: str, table: Table, ids: set[str]) -> Iterator[dict]:
    """The person's rows in the table's current version, every column."""
    current = open_table(uri)
    if current is not None:
        yield from rows_of(current.to_pyarrow_dataset(), table, ids).to_pylist()
