"""The stream job's transform: Kinesis records -> the rows bronze and quarantine receive.

A record is one event or an aggregate of events (`streaming.records`); every event of an
aggregate becomes a row of its own with the record's stream position and its index in the
record, so a broken event is quarantined alone and its siblings are not. Every contract rule
the job can check is checked again here: records may reach the stream without the handler
(other producers, replays, corruption), and such a record must land in quarantine with its
reason, never crash the job and never disappear.

The transform works on Arrow, in Python, in the job's sink (`streaming.stream.job.BatchWriter`),
on the micro-batch's records fetched once as Arrow. It replaced Spark SQL expressions
(`from_json` twice, `posexplode`, the rules as columns, then the rows fetched as Arrow):
those cost the JVM 55-90 us of CPU an event on these two cores and made a burst of traffic
wait for the job. Event by event (`event_rows`) it costs ~16-20 us; a batch of valid events
read by Arrow's JSON reader (`streaming.stream.columnar`) ~9-12 (docs/benchmarks.md).
Running it in Spark's Python workers (`mapInArrow`) cost ~26-41 us: the rows crossed to the
workers and back before the fetch.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from streaming.contract import (
    CUSTOM_EVENT_PATTERN,
    MAX_ID_LENGTH,
    MAX_PROPERTIES,
    MAX_STRING_LENGTH,
    MAX_URL_LENGTH,
    SCHEMA_VERSION,
    STANDARD_EVENT_TYPES,
    UUID_PATTERN,
    parse_timestamp,
)
from streaming.record_codec import COMPRESSED_PREFIX, MAX_INFLATED_BYTES, inflate
from streaming.records import AGGREGATE_EVENTS, AGGREGATE_MARKER, AGGREGATE_VERSION
from streaming.stream.columnar import read_events
from streaming.stream.event_columns import (
    ELEMENT,
    ELEMENT_FIELDS,
    PROPERTIES,
    STRING_FIELDS,
    STRINGS,
    TIMESTAMP,
    timestamp_array,
)

BINARY_PREFIX = "base64:"
BRONZE_TYPES = {
    **{name: pa.string() for name in STRING_FIELDS},
    "event_time": TIMESTAMP, "event_date": pa.date32(), "received_at": TIMESTAMP,
    "element": ELEMENT, "properties": PROPERTIES, "schema_version": pa.int32(),
    "is_bot": pa.bool_(), "kinesis_shard_id": pa.string(),
    "kinesis_sequence_number": pa.string(), "kinesis_arrival_time": TIMESTAMP,
}
BRONZE_COLUMNS = (
    "event_id", "event_type", "event_time", "event_date", "anonymous_id", "session_id",
    "user_id", "page_url", "page_host", "page_path", "referrer", "referrer_host",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "element",
    "properties", "ua_browser", "ua_browser_version", "ua_os", "ua_device", "is_bot",
    "ip_hash", "ip_network", "schema_version", "received_at", "ingest_id",
    "kinesis_shard_id", "kinesis_sequence_number", "kinesis_arrival_time",
)
QUARANTINE_COLUMNS = (
    "raw_record", "reason", "event_id", "kinesis_shard_id", "kinesis_sequence_number",
    "kinesis_record_index", "kinesis_arrival_time", "quarantined_at", "quarantine_date",
)
# What a row of `sink_rows` holds: bronze's columns, quarantine's own, the table it goes to
# and its dedup key (streaming/stream/dedup.py).
SINK_SCHEMA = pa.schema(
    [(name, BRONZE_TYPES[name]) for name in BRONZE_COLUMNS]
    + [("raw_record", pa.string()), ("reason", pa.string()),
       ("kinesis_record_index", pa.int32()), ("quarantined_at", TIMESTAMP),
       ("quarantine_date", pa.date32()), ("sink_table", pa.string()), ("dedup_key", pa.string())])
TABLE_COLUMNS = {"bronze": BRONZE_COLUMNS, "quarantine": QUARANTINE_COLUMNS}

MALFORMED = "malformed_json: record is not a JSON object"
NOT_TEXT = (f"malformed_json: record is not UTF-8 text (raw_record holds its bytes as "
            f"{BINARY_PREFIX}<base64>)")
NOT_INFLATED = (f"aggregate: compressed record does not inflate (corrupt, truncated or over "
                f"{MAX_INFLATED_BYTES} bytes inflated; raw_record holds its bytes as "
                f"{BINARY_PREFIX}<base64>)")
NO_EVENTS = f"aggregate: no events (`{AGGREGATE_EVENTS}` must be a non-empty array)"
PROPERTIES_RULE = (f"properties: at most {MAX_PROPERTIES} keys of <= {MAX_ID_LENGTH} chars, "
                   f"values <= {MAX_STRING_LENGTH} chars")
ELEMENT_RULE = f"element: values <= {MAX_STRING_LENGTH} chars"


class Malformed(ValueError):
    """A field whose JSON type the bronze column cannot hold (an element that is not an
    object, a schema_version that is not an integer, ...)."""


def _text(value: Any) -> str | None:
    """A JSON value as a string column holds it: a string as it is, anything else as its
    JSON text (a number, an object), null as null."""
    if value is None or type(value) is str:
        return value
    return orjson.dumps(value).decode()


def _raw(value: Any) -> str:
    """An aggregate member's own text, for quarantine: a string member is its content."""
    return "null" if value is None else _text(value)


def _binary(data: bytes) -> str:
    return BINARY_PREFIX + base64.b64encode(data).decode()


def _members(data: bytes) -> Iterator[tuple[int | None, str | None, Any, str | None]]:
    """(index in the aggregate, raw text, parsed event, reason it is quarantined already)
    for each event a record holds; an unreadable record is one quarantined row."""
    if data.startswith(COMPRESSED_PREFIX):  # `sink_rows` inflated what inflates
        yield None, _binary(data), None, NOT_INFLATED
        return
    try:
        text = data.decode()
    except UnicodeDecodeError:
        yield None, _binary(data), None, NOT_TEXT
        return
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        yield None, text, None, MALFORMED
        return
    if not isinstance(value, dict) or AGGREGATE_MARKER not in value:
        yield None, text, value, None if isinstance(value, dict) else MALFORMED
        return
    version = value[AGGREGATE_MARKER]
    if version != AGGREGATE_VERSION or type(version) is not int:
        yield None, text, None, (f"aggregate: envelope version {_text(version)}, this job reads "
                                 f"{AGGREGATE_VERSION}")
        return
    members = value.get(AGGREGATE_EVENTS)
    if not isinstance(members, list) or not members:
        yield None, text, None, NO_EVENTS
        return
    for index, member in enumerate(members):
        yield index, None, member, None if isinstance(member, dict) else MALFORMED


def _element(value: Any) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Malformed("element")
    return {name: _text(value.get(name)) for name in ELEMENT_FIELDS}


def _properties(value: Any) -> list[tuple[str, str]] | None:
    """The properties as a map in key order, a property whose value is null left out: a map
    reads the same without it (`properties['gift']` is null either way), and Arrow's JSON
    reader (`streaming.stream.columnar`) cannot tell a null value from a missing key."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Malformed("properties")
    return sorted((key, _text(item)) for key, item in value.items() if item is not None)


def _schema_version(value: Any) -> int | None:
    if value is not None and (type(value) is not int or not -2**31 <= value < 2**31):
        raise Malformed("schema_version")
    return value


def _is_bot(value: Any) -> bool | None:
    if value is not None and type(value) is not bool:
        raise Malformed("is_bot")
    return value


def _too_large(element: dict | None, properties: list | None) -> tuple[bool, bool]:
    """The size rules the row's nested fields break: a record written past the handler can
    be as large as Kinesis allows (1 MiB), and without these it would land in bronze."""
    element_bad = element is not None and any(
        v is not None and len(v) > MAX_STRING_LENGTH for v in element.values())
    properties_bad = properties is not None and (
        len(properties) > MAX_PROPERTIES
        or any(len(k) > MAX_ID_LENGTH or (v is not None and len(v) > MAX_STRING_LENGTH)
               for k, v in properties))
    return element_bad, properties_bad


class _Rows:
    """Column lists of the rows being built, one append per event."""

    def __init__(self) -> None:
        self.record: list[int] = []
        self.index: list[int | None] = []
        self.raw: list[str | None] = []
        self.early: list[str | None] = []
        self.events: list[dict] = []
        self.values: list[Any] = []
        self.element: list[dict | None] = []
        self.properties: list[list | None] = []
        self.schema_version: list[int | None] = []
        self.is_bot: list[bool | None] = []
        self.element_bad: list[bool] = []
        self.properties_bad: list[bool] = []

    def add(self, record: int, index: int | None, raw: str | None, event: Any,
            reason: str | None) -> None:
        fields = event if isinstance(event, dict) else {}
        element = properties = version = bot = None
        if reason is None:
            try:
                element, properties = _element(fields.get("element")), _properties(
                    fields.get("properties"))
                version, bot = _schema_version(fields.get("schema_version")), _is_bot(
                    fields.get("is_bot"))
            except Malformed:
                element = properties = version = bot = None
                reason = MALFORMED
        sizes = _too_large(element, properties)
        self.record.append(record)
        self.index.append(index)
        self.raw.append(raw)
        self.early.append(reason)
        self.events.append(fields if reason is None else {"event_id": fields.get("event_id")})
        self.values.append(event)
        self.element.append(element)
        self.properties.append(properties)
        self.schema_version.append(version)
        self.is_bot.append(bot)
        self.element_bad.append(sizes[0])
        self.properties_bad.append(sizes[1])

    def strings(self) -> dict[str, pa.Array]:
        """The string fields as columns, picked from the events by Arrow in one pass (~4x
        faster than a Python loop a field); a field holding another JSON type somewhere is
        built again with that value's JSON text."""
        try:
            picked = pa.array(self.events, STRINGS)
            return {name: picked.field(name) for name in STRING_FIELDS}
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return {name: self._strings(name) for name in STRING_FIELDS}

    def _strings(self, name: str) -> pa.Array:
        values = [event.get(name) for event in self.events]
        try:
            return pa.array(values, pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.array([_text(value) for value in values], pa.string())

    def timestamps(self, name: str) -> pa.Array:
        return timestamp_array(parse_timestamp(event.get(name)) for event in self.events)

    def columns(self) -> dict[str, pa.Array]:
        """Every event column bronze takes from the events."""
        return self.strings() | {
            "event_time": self.timestamps("event_time"),
            "received_at": self.timestamps("received_at"),
            "element": pa.array(self.element, ELEMENT),
            "properties": pa.array(self.properties, PROPERTIES),
            "schema_version": pa.array(self.schema_version, pa.int32()),
            "is_bot": pa.array(self.is_bot, pa.bool_()),
        }


def _blank_id(values: pa.Array) -> pa.Array:
    """Required, 1-MAX_ID_LENGTH chars, not only spaces."""
    return pc.or_kleene(pc.is_null(values), pc.or_(
        pc.equal(pc.utf8_length(pc.utf8_trim(values, " ")), 0),
        pc.greater(pc.utf8_length(values), MAX_ID_LENGTH))).fill_null(True)


def _longer(values: pa.Array, limit: int) -> pa.Array:
    return pc.greater(pc.utf8_length(values), limit).fill_null(False)


def _broken_rules(columns: dict[str, pa.Array], element_bad: pa.Array,
                  properties_bad: pa.Array) -> list[tuple[pa.Array, str]]:
    """Each rule as (rows that break it, its message), in the order a reason lists them."""
    event_id, event_type = columns["event_id"], columns["event_type"]
    known_type = pc.or_(pc.is_in(event_type, pa.array(STANDARD_EVENT_TYPES)),
                        pc.match_substring_regex(event_type, f"^{CUSTOM_EVENT_PATTERN.pattern}$"))
    return [
        (pc.invert(pc.match_substring_regex(event_id, f"^{UUID_PATTERN.pattern}$")).fill_null(True),
         "event_id: required UUID"),
        (pc.invert(known_type).fill_null(True), "event_type: not a v1 event type"),
        (pc.is_null(columns["event_time"]), "event_time: required ISO-8601 timestamp with zone"),
        (_blank_id(columns["anonymous_id"]), f"anonymous_id: required, 1-{MAX_ID_LENGTH} chars"),
        (_blank_id(columns["session_id"]), f"session_id: required, 1-{MAX_ID_LENGTH} chars"),
        (pc.is_null(columns["received_at"]),
         "received_at: missing, the record did not pass the ingestion handler"),
        (pc.not_equal(columns["schema_version"].fill_null(SCHEMA_VERSION), SCHEMA_VERSION),
         f"schema_version: must be {SCHEMA_VERSION}"),
        (properties_bad, PROPERTIES_RULE),
        (element_bad, ELEMENT_RULE),
        (pc.or_(_longer(columns["page_url"], MAX_URL_LENGTH),
                _longer(columns["referrer"], MAX_URL_LENGTH)),
         f"page_url, referrer: at most {MAX_URL_LENGTH} chars"),
        (_longer(columns["user_id"], MAX_ID_LENGTH), f"user_id: at most {MAX_ID_LENGTH} chars"),
    ]


def _broken(rules: list[tuple[pa.Array, str]]) -> pa.Array:
    broken = rules[0][0]
    for mask, _ in rules[1:]:
        broken = pc.or_(broken, mask)
    return broken


def _quarantined(rules: list[tuple[pa.Array, str]], rows: _Rows) -> tuple[pa.Array, pa.Array]:
    """Per row, why it is quarantined (semicolon-joined broken rules) or null, and the raw
    text quarantine keeps of it (an aggregate member's own text, made for these rows only)."""
    flagged = pc.indices_nonzero(_broken(rules)).to_pylist()
    reasons, raw = list(rows.early), list(rows.raw)
    if flagged:
        masks = [(mask.to_pylist(), message) for mask, message in rules]
        for row in flagged:
            if reasons[row] is None:
                reasons[row] = "; ".join(message for mask, message in masks if mask[row])
    for row, reason in enumerate(reasons):
        if reason is None:
            raw[row] = None
        elif raw[row] is None:
            raw[row] = _raw(rows.values[row])
    return pa.array(reasons, pa.string()), pa.array(raw, pa.string())


def sink_rows(records: pa.Table | pa.RecordBatch, now: datetime | None = None) -> pa.Table:
    """Kinesis records (the source's columns, as the stream holds them) -> one row per event
    in `SINK_SCHEMA`: bronze's and quarantine's columns, where it goes (`sink_table`) and its
    dedup key. `now` stamps quarantined rows.

    Compressed aggregates are inflated here. A batch whose events all pass is then read by
    Arrow's JSON reader (`streaming.stream.columnar`, half the CPU); any other batch, and any
    the reader cannot vouch for, event by event, which finds each broken event's reasons and
    raw text."""
    now = now or datetime.now(UTC)
    payloads = [inflate(data) for data in records.column("data").to_pylist()]
    events = read_events(payloads)
    if events is not None:
        none = pa.nulls(len(events.record), pa.bool_()).fill_null(False)
        if not pc.any(_broken(_broken_rules(events.columns, none, none))).as_py():
            nothing = pa.nulls(len(events.record), pa.string())
            return _sink_table(records, events.record, events.index, events.columns,
                               nothing, nothing, now)
    return _event_rows(records, payloads, now)


def event_rows(records: pa.Table | pa.RecordBatch, now: datetime) -> pa.Table:
    """`sink_rows` event by event: every record parsed by orjson, every broken event
    quarantined with its reasons and its own text."""
    return _event_rows(records, [inflate(data) for data in records.column("data").to_pylist()],
                       now)


def _event_rows(records: pa.Table | pa.RecordBatch, payloads: list[bytes],
                now: datetime) -> pa.Table:
    rows = _Rows()
    for record, data in enumerate(payloads):
        for index, raw, event, reason in _members(data):
            rows.add(record, index, raw, event, reason)
    columns = rows.columns()
    rules = _broken_rules(columns, pa.array(rows.element_bad, pa.bool_()),
                          pa.array(rows.properties_bad, pa.bool_()))
    reason, raw = _quarantined(rules, rows)
    return _sink_table(records, pa.array(rows.record, pa.int64()),
                       pa.array(rows.index, pa.int32()), columns, reason, raw, now)


def _sink_table(records: pa.Table | pa.RecordBatch, positions: pa.Array, index: pa.Array,
                columns: dict[str, pa.Array], reason: pa.Array, raw: pa.Array,
                now: datetime) -> pa.Table:
    """The rows of `sink_rows` from the events' columns, the record each came from and its
    index in it, and why each is quarantined (null: it goes to bronze)."""
    count = len(positions)
    columns = columns | {
        "event_date": columns["event_time"].cast(pa.date32()),
        "kinesis_shard_id": records.column("shard_id").take(positions),
        "kinesis_sequence_number": records.column("sequence_number").take(positions),
        "kinesis_arrival_time": records.column("approximate_arrival_timestamp").take(
            positions).cast(TIMESTAMP),
    }
    bad = pc.is_valid(reason)
    position = pc.binary_join_element_wise(
        columns["kinesis_shard_id"], columns["kinesis_sequence_number"],
        index.cast(pa.string()), "/", null_handling="skip")
    return pa.table({
        **{name: columns[name] for name in BRONZE_COLUMNS},
        "raw_record": raw,
        "reason": reason,
        "kinesis_record_index": index,
        "quarantined_at": timestamp_array([now] * count),
        "quarantine_date": pa.array([now.date()] * count, pa.date32()),
        "sink_table": pc.if_else(bad, "quarantine", "bronze"),
        "dedup_key": pc.if_else(bad, position, columns["event_id"]),
    }, schema=SINK_SCHEMA)


def table_rows(rows: pa.Table, table: str) -> pa.Table:
    """The rows of `sink_rows` that go to `table` (bronze or quarantine), in its columns, all
    nullable (the tables hold every column as nullable)."""
    wanted = pc.equal(rows.column("sink_table"), table)
    if pc.all(wanted).as_py() is not False:  # no copy of a batch that goes to one table
        picked = rows.select(TABLE_COLUMNS[table])
    else:
        picked = rows.filter(wanted).select(TABLE_COLUMNS[table])
    return picked.cast(pa.schema([field.with_nullable(True) for field in picked.schema]))
