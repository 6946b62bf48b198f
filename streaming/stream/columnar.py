"""A micro-batch's events read by Arrow's JSON reader, in C++, on every core of the driver.

The per-event path (`streaming.stream.transforms`) parses each record with orjson and builds
its columns from Python objects: ~15-18 us of the driver's CPU an event, most of the job's
work in a catch-up. Here the batch's records are joined into newline-delimited JSON, read
once by `pyarrow.json` against the events' schema, and their columns are taken from the
result: ~5 us an event on one core, and the reader uses every core it has (docs/benchmarks.md).

The reader is exact only for what it can vouch for, so `read_events` answers None, and the
job takes the per-event path for the whole batch, whenever a record could be read differently
by the two: a record that is not a JSON object, an aggregate of another shape or version, an
empty aggregate or a member that is not an object, a value of another JSON type than its
column's (the per-event path keeps it as its JSON text), a field the contract does not know
(Arrow's reader accepts NaN and Infinity, which JSON and orjson refuse, and only unknown fields
could hold them), a property that is not a string, a repeated key, a record split by a
newline. Times are taken from Arrow only when every one is in the contract's canonical form
(`2026-11-30T10:02:01.484000Z`, what the handler writes), where Arrow's parser refuses what
the contract's refuses; any other form is parsed by the contract's own function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from streaming.contract import MAX_ID_LENGTH, MAX_PROPERTIES, MAX_STRING_LENGTH, parse_timestamp
from streaming.records import AGGREGATE_EVENTS, AGGREGATE_MARKER, AGGREGATE_VERSION
from streaming.stream.event_columns import (
    ELEMENT,
    PROPERTIES,
    STRING_FIELDS,
    TIME_FIELDS,
    TIMESTAMP,
    timestamp_array,
)

# Every field the contract knows, as the JSON reader must find it; `properties` (any keys) is
# left to the reader's inference and checked after.
_EVENT = pa.struct(
    [(name, pa.string()) for name in (*STRING_FIELDS, *TIME_FIELDS)]
    + [("element", ELEMENT), ("schema_version", pa.int32()), ("is_bot", pa.bool_())])
_ENVELOPE = pa.schema([(AGGREGATE_MARKER, pa.int64()), (AGGREGATE_EVENTS, pa.list_(_EVENT))])
_HEAD = b'{"%s":%d,"%s":[' % (AGGREGATE_MARKER.encode(), AGGREGATE_VERSION,
                              AGGREGATE_EVENTS.encode())
_OPTIONS = pj.ParseOptions(explicit_schema=_ENVELOPE, unexpected_field_behavior="infer")
# A line must fit in one block of the reader; a record is at most 1 MiB inflated.
_READ = pj.ReadOptions(block_size=8 * 1024 * 1024)
# Past this many distinct property keys in a batch, interleaving them costs more than it saves.
_MAX_PROPERTY_KEYS = 256
# The contract's canonical time (`rfc3339`, what the handler writes).
_CANONICAL_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$"


@dataclass(frozen=True)
class Events:
    """A batch's events as columns: `record` is the position of each event's record in the
    batch, `index` its position in an aggregate (null for a plain record)."""

    record: pa.Array
    index: pa.Array
    columns: dict[str, pa.Array]


def read_events(records: list[bytes]) -> Events | None:
    """The events of a batch's records (inflated), or None when the batch holds anything the
    per-event path must read (module docstring). A plain record (one event) is read as an
    aggregate of one."""
    if not records or not all(r.startswith(b"{") for r in records):
        return None
    plain = np.array([not r.startswith(_HEAD) for r in records])
    blob = b"\n".join(_HEAD + r + b"]}" if p else r for r, p in zip(records, plain, strict=True))
    try:
        table = pj.read_json(pa.BufferReader(blob), read_options=_READ, parse_options=_OPTIONS)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    # A record that holds a line break is read as several lines: the first is not blank (the
    # record starts with "{"), the others are blank, or fail to parse, or add rows. So the
    # rows are one a record exactly when every record read as the one JSON text it is.
    if table.num_rows != len(records) or not table.schema.equals(_envelope(table)):
        return None
    lists = table.column(AGGREGATE_EVENTS).combine_chunks()
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    if lists.null_count or (lengths == 0).any() or (lengths[plain] != 1).any():
        return None
    events = lists.flatten()
    if events.null_count:
        return None
    return _columns(events, lists, plain)


def _envelope(table: pa.Table) -> pa.Schema:
    """The schema a batch the reader vouches for has: the contract's fields, plus properties
    of strings when any event has them."""
    event = table.schema.field(AGGREGATE_EVENTS).type.value_type
    fields = list(_EVENT)
    if event.get_field_index("properties") >= 0:
        properties = event.field("properties").type
        if not pa.types.is_null(properties) and (
                not pa.types.is_struct(properties) or len(properties) > _MAX_PROPERTY_KEYS
                or any(not (pa.types.is_string(f.type) or pa.types.is_null(f.type))
                       for f in properties)):
            return _ENVELOPE
        fields.append(pa.field("properties", properties))
    return pa.schema([_ENVELOPE.field(AGGREGATE_MARKER),
                      pa.field(AGGREGATE_EVENTS, pa.list_(pa.struct(fields)))])


def _columns(events: pa.StructArray, lists: pa.ListArray, plain: np.ndarray) -> Events | None:
    parents = pc.list_parent_indices(lists)
    starts = pc.take(lists.offsets, parents)
    index = pc.subtract(pa.array(np.arange(len(events), dtype=np.int32)), starts.cast(pa.int32()))
    index = pc.if_else(pc.take(pa.array(plain), parents), pa.scalar(None, pa.int32()), index)
    columns = {name: events.field(name) for name in STRING_FIELDS}
    columns |= {name: _times(events.field(name)) for name in TIME_FIELDS}
    columns |= {name: events.field(name) for name in ("element", "schema_version", "is_bot")}
    if _too_long(columns["element"].flatten()):
        return None
    has_properties = events.type.get_field_index("properties") >= 0
    properties = (_properties(events.field("properties"))
                  if has_properties and pa.types.is_struct(events.type.field("properties").type)
                  else pa.nulls(len(events), PROPERTIES))
    if properties is None:
        return None
    columns["properties"] = properties
    return Events(parents.cast(pa.int64()), index, columns)


def _times(texts: pa.Array) -> pa.Array:
    """Times as instants: through Arrow when every time is in the canonical form, in which
    Arrow's parser refuses what the contract's refuses (a day or hour out of range, a leap
    second) except the year 0000; otherwise all through the contract's parser."""
    canonical = pc.and_(pc.match_substring_regex(texts, _CANONICAL_TIME),
                        pc.invert(pc.starts_with(texts, "0000")))
    if pc.all(canonical).as_py() is not False:
        try:
            return pc.cast(texts, TIMESTAMP)
        except pa.ArrowInvalid:
            pass
    return timestamp_array(parse_timestamp(text) for text in texts.to_pylist())


def _too_long(values: list[pa.Array]) -> bool:
    """Whether any value is longer than the contract allows a nested value (the size rules,
    which the per-event path reports)."""
    return any(pc.any(pc.greater(pc.utf8_length(v), MAX_STRING_LENGTH)).as_py() for v in values)


def _properties(struct: pa.StructArray) -> pa.Array | None:
    """The properties object of each event as a map of its keys in order, its null values
    left out (the per-event path does the same); None when any event breaks the contract's
    size rule, which the per-event path then reports."""
    names = sorted(f.name for f in struct.type if not pa.types.is_null(f.type))
    if any(len(name) > MAX_ID_LENGTH for name in names):
        return None
    children = [struct.field(name) for name in names]
    if _too_long(children):
        return None
    count = len(struct)
    present = (np.stack([c.is_valid().to_numpy(zero_copy_only=False) for c in children], axis=1)
               if children else np.zeros((count, 0), dtype=bool))
    per_row = present.sum(axis=1)
    if (per_row > MAX_PROPERTIES).any():
        return None
    rows, keys = np.nonzero(present)
    values = (pa.concat_arrays(children).take(pa.array(keys * count + rows))
              if children else pa.array([], pa.string()))
    offsets = pa.array(np.concatenate([[0], np.cumsum(per_row)]).astype(np.int32))
    return pa.MapArray.from_arrays(offsets, pa.array(names, pa.string()).take(pa.array(keys)),
                                   values, type=PROPERTIES, mask=struct.is_null())
