"""The stream job's transforms: plain functions of DataFrames, testable on batch data.

A record is one event or an aggregate of events (`streaming.records`); aggregates are
exploded first, so everything after `parse_records` sees one row per event. Events are parsed
with an explicit schema and every contract rule that Spark can check is checked again:
records may reach the stream without the handler (other producers, replays,
corruption), and such a record must land in quarantine with its reason, never crash the
job and never disappear.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    IntegerType,
    MapType,
    StringType,
    StructField,
    StructType,
)

from streaming.contract import (
    CUSTOM_EVENT_PATTERN,
    MAX_ID_LENGTH,
    MAX_PROPERTIES,
    MAX_STRING_LENGTH,
    MAX_URL_LENGTH,
    SCHEMA_VERSION,
    STANDARD_EVENT_TYPES,
    UUID_PATTERN,
)
from streaming.record_codec import COMPRESSED_PREFIX, MAX_INFLATED_BYTES
from streaming.records import AGGREGATE_EVENTS, AGGREGATE_MARKER, AGGREGATE_VERSION

CORRUPT_COLUMN = "_corrupt_record"
TEXT_COLUMN = "_is_utf8"
# A record that still holds the compressed prefix after the reader: it did not inflate.
COMPRESSED_COLUMN = "_did_not_inflate"
BINARY_PREFIX = "base64:"

ELEMENT_SCHEMA = StructType(
    [StructField(name, StringType()) for name in ("id", "text", "selector")]
)
STRING_FIELDS = (
    "event_id", "event_type", "event_time", "anonymous_id", "session_id", "user_id",
    "page_url", "referrer", "received_at", "ingest_id", "page_host", "page_path",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer_host",
    "ua_browser", "ua_browser_version", "ua_os", "ua_device", "ip_hash", "ip_network",
)
RECORD_SCHEMA = StructType(
    [StructField(name, StringType()) for name in STRING_FIELDS]
    + [
        StructField("element", ELEMENT_SCHEMA),
        StructField("properties", MapType(StringType(), StringType())),
        StructField("schema_version", IntegerType()),
        StructField("is_bot", BooleanType()),
        StructField(CORRUPT_COLUMN, StringType()),
    ]
)

# An aggregate's envelope: events are read as their JSON text, to be parsed one by one.
ENVELOPE_SCHEMA = StructType([StructField(AGGREGATE_MARKER, IntegerType()),
                              StructField(AGGREGATE_EVENTS, ArrayType(StringType()))])
AGGREGATE_COLUMN = "_aggregate_version"

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


def _id_rule(name: str) -> tuple[Column, str]:
    value = F.col(name)
    bad = value.isNull() | (F.length(F.trim(value)) == 0) | (F.length(value) > MAX_ID_LENGTH)
    return bad, f"{name}: required, 1-{MAX_ID_LENGTH} chars"


def _size_rules() -> list[tuple[Column, str]]:
    """The contract's size limits: a record written past the handler can be as large as
    Kinesis allows (1 MiB), and without these it would land in bronze as a valid event."""
    properties, element = F.col("properties"), F.col("element")
    longest_element = F.greatest(*[F.length(element[name]) for name in ("id", "text", "selector")])
    return [
        ((F.size(properties) > MAX_PROPERTIES)
         | F.exists(F.map_keys(properties), lambda k: F.length(k) > MAX_ID_LENGTH)
         | F.exists(F.map_values(properties), lambda v: F.length(v) > MAX_STRING_LENGTH),
         f"properties: at most {MAX_PROPERTIES} keys of <= {MAX_ID_LENGTH} chars, "
         f"values <= {MAX_STRING_LENGTH} chars"),
        (longest_element > MAX_STRING_LENGTH, f"element: values <= {MAX_STRING_LENGTH} chars"),
        (F.greatest(F.length("page_url"), F.length("referrer")) > MAX_URL_LENGTH,
         f"page_url, referrer: at most {MAX_URL_LENGTH} chars"),
        (F.length("user_id") > MAX_ID_LENGTH, f"user_id: at most {MAX_ID_LENGTH} chars"),
    ]


def quarantine_reason() -> Column:
    """Semicolon-joined broken rules of a parsed record; null when the record is valid."""
    rules = [
        (F.col("event_id").isNull() | ~F.col("event_id").rlike(f"^{UUID_PATTERN.pattern}$"),
         "event_id: required UUID"),
        (F.col("event_type").isNull()
         | ~(F.col("event_type").isin(*STANDARD_EVENT_TYPES)
             | F.col("event_type").rlike(f"^{CUSTOM_EVENT_PATTERN.pattern}$")),
         "event_type: not a v1 event type"),
        (F.col("event_time").isNull(), "event_time: required ISO-8601 timestamp with zone"),
        _id_rule("anonymous_id"),
        _id_rule("session_id"),
        (F.col("received_at").isNull(),
         "received_at: missing, the record did not pass the ingestion handler"),
        (F.coalesce(F.col("schema_version"), F.lit(SCHEMA_VERSION)) != SCHEMA_VERSION,
         f"schema_version: must be {SCHEMA_VERSION}"),
        *_size_rules(),
    ]
    reasons = F.filter(
        F.array(*[F.when(cond, F.lit(message)) for cond, message in rules]),
        lambda r: r.isNotNull(),
    )
    malformed = F.col(CORRUPT_COLUMN).isNotNull()
    version = F.col(AGGREGATE_COLUMN)
    return (
        F.when(F.col(COMPRESSED_COLUMN),
               F.lit(f"aggregate: compressed record does not inflate (corrupt, truncated or over "
                     f"{MAX_INFLATED_BYTES} bytes inflated; raw_record holds its bytes as "
                     f"{BINARY_PREFIX}<base64>)"))
        .when(~F.col(TEXT_COLUMN), F.lit(f"malformed_json: record is not UTF-8 text "
                                           f"(raw_record holds its bytes as {BINARY_PREFIX}<base64>)"))
        .when(version != AGGREGATE_VERSION,
              F.format_string(f"aggregate: envelope version %d, this job reads {AGGREGATE_VERSION}",
                              version))
        .when(version.isNotNull() & F.col("kinesis_record_index").isNull(),
              F.lit(f"aggregate: no events (`{AGGREGATE_EVENTS}` must be a non-empty array)"))
        .when(malformed, F.lit("malformed_json: record is not a JSON object"))
        .when(F.size(reasons) > 0, F.array_join(reasons, "; "))
    )


def parse_records(raw: DataFrame) -> DataFrame:
    """Kinesis rows -> one row per event with typed event fields and `quarantine_reason`.

    An aggregate becomes one row per event it holds, each with the record's stream position
    and its index in the record (`kinesis_record_index`; null for a plain record), so a broken
    event is quarantined on its own and its siblings are not. An aggregate this job cannot
    read (unknown version, no events) is quarantined whole.

    A record that is not UTF-8 text is not JSON, and casting its bytes to a string would
    store invalid UTF-8 that Parquet readers such as delta-rs refuse to decode: it is kept
    in `raw_record` as base64 behind a `base64:` prefix, and quarantined.
    """
    text = F.col("data").cast("string")
    is_text = F.coalesce(F.is_valid_utf8(text), F.lit(True))
    envelopes = raw.select(
        "*", is_text.alias(TEXT_COLUMN),
        (F.substring("data", 1, len(COMPRESSED_PREFIX)) == F.lit(COMPRESSED_PREFIX))
        .alias(COMPRESSED_COLUMN),
        F.from_json(F.when(is_text, text), ENVELOPE_SCHEMA).alias("envelope"))
    version = F.col("envelope")[AGGREGATE_MARKER]
    members = F.when(version == AGGREGATE_VERSION, F.col("envelope")[AGGREGATE_EVENTS])
    # An exploded event carries its own text only: the record's bytes are kept for a record
    # that is not exploded (a plain event, an unreadable aggregate), else every event of a
    # 50-event aggregate would carry the whole record (measured: ~1 ms an event).
    records = envelopes.select(
        F.col("shard_id"), F.col("sequence_number"), F.col("approximate_arrival_timestamp"),
        F.col(TEXT_COLUMN), F.col(COMPRESSED_COLUMN), version.alias(AGGREGATE_COLUMN),
        F.when(F.coalesce(F.size(members), F.lit(0)) <= 0, F.col("data")).alias("data"),
        F.posexplode_outer(members).alias("kinesis_record_index", "member"))
    member = F.col("kinesis_record_index").isNotNull()
    event_text = (F.when(member, F.coalesce(F.col("member"), F.lit("null")))
                  .when(F.col(TEXT_COLUMN) & ~F.col(COMPRESSED_COLUMN), F.col("data").cast("string")))
    parsed = F.from_json(event_text, RECORD_SCHEMA,
                         {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN})
    typed = records.select(
        F.coalesce(event_text, F.concat(F.lit(BINARY_PREFIX), F.base64("data"))).alias("raw_record"),
        F.col(TEXT_COLUMN),
        F.col(COMPRESSED_COLUMN),
        F.col(AGGREGATE_COLUMN),
        F.col("shard_id").alias("kinesis_shard_id"),
        F.col("sequence_number").alias("kinesis_sequence_number"),
        F.col("kinesis_record_index"),
        F.col("approximate_arrival_timestamp").alias("kinesis_arrival_time"),
        parsed.alias("r"),
    ).select("*", "r.*").drop("r")
    typed = typed.withColumn(
        CORRUPT_COLUMN,
        F.when(F.col("raw_record").isNull() | ~F.trim(F.col("raw_record")).startswith("{"),
               F.coalesce(F.col("raw_record"), F.lit(""))).otherwise(F.col(CORRUPT_COLUMN)),
    )
    return (
        typed.withColumn("event_time", F.try_to_timestamp(F.col("event_time")))
        .withColumn("received_at", F.try_to_timestamp(F.col("received_at")))
        .withColumn("quarantine_reason", quarantine_reason())
        .withColumn("event_date", F.to_date(F.col("event_time")))
    )


def with_dedup_key(parsed: DataFrame) -> DataFrame:
    """Valid rows dedup on event_id; quarantined rows on their stream position (with their
    index in an aggregate), so two different bad events are never merged and a replayed bad
    record is kept once."""
    position = F.concat_ws("/", F.col("kinesis_shard_id"), F.col("kinesis_sequence_number"),
                           F.col("kinesis_record_index").cast("string"))
    return parsed.withColumn(
        "dedup_key",
        F.when(F.col("quarantine_reason").isNull(), F.col("event_id")).otherwise(position),
    )


def _quarantine_only() -> dict[str, Column]:
    """What `sink_rows` adds to bronze's columns for quarantine's (the shared ones hold the
    same values): quarantine's own columns, from a parsed record."""
    return {
        "raw_record": F.col("raw_record"),
        "reason": F.col("quarantine_reason"),
        "kinesis_record_index": F.col("kinesis_record_index"),
        "quarantined_at": F.current_timestamp(),
        "quarantine_date": F.current_date(),
    }


TABLE_COLUMNS = {"bronze": BRONZE_COLUMNS, "quarantine": QUARANTINE_COLUMNS}


def sink_rows(parsed: DataFrame) -> DataFrame:
    """Each record as one flat row of bronze's and quarantine's columns, the table it goes to
    (`sink_table`: bronze or quarantine) and its dedup key (streaming/stream/dedup.py): one
    Spark action fetches a micro-batch for both tables, and `table_rows` splits it in Arrow.

    The stream job applies this to the stream, so each micro-batch arrives in this shape:
    built per batch, its expressions cost py4j calls and an analysis of the batch's plan every
    time. Flat, not a struct per table: building the structs' types cost two more analyses,
    ~140 ms a batch on these two cores."""
    bad = F.col("quarantine_reason").isNotNull()
    destination = F.when(bad, F.lit("quarantine")).otherwise(F.lit("bronze"))
    return with_dedup_key(parsed).select(
        *BRONZE_COLUMNS, *(column.alias(name) for name, column in _quarantine_only().items()),
        destination.alias("sink_table"), F.col("dedup_key"))


def table_rows(rows: pa.Table, table: str) -> pa.Table:
    """The rows of `sink_rows` that go to `table` (bronze or quarantine), in its columns, all
    nullable (Spark declares some non-null; the tables hold them as nullable)."""
    picked = rows.filter(pc.equal(rows.column("sink_table"), table)).select(TABLE_COLUMNS[table])
    return picked.cast(pa.schema([field.with_nullable(True) for field in picked.schema]))
