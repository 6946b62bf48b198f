"""The columns an event becomes in bronze, as Arrow types: one home for both ways the job
reads a batch (`streaming.stream.transforms`, per event; `streaming.stream.columnar`, by
Arrow's JSON reader) and for the source's arrival times."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pyarrow as pa

STRING_FIELDS = (
    "event_id", "event_type", "anonymous_id", "session_id", "user_id",
    "page_url", "referrer", "ingest_id", "page_host", "page_path",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer_host",
    "ua_browser", "ua_browser_version", "ua_os", "ua_device", "ip_hash", "ip_network",
)
TIME_FIELDS = ("event_time", "received_at")
ELEMENT_FIELDS = ("id", "text", "selector")

TIMESTAMP = pa.timestamp("us", tz="UTC")
ELEMENT = pa.struct([(name, pa.string()) for name in ELEMENT_FIELDS])
STRINGS = pa.struct([(name, pa.string()) for name in STRING_FIELDS])
PROPERTIES = pa.map_(pa.string(), pa.string())

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def timestamp_array(moments: Iterable[datetime | None]) -> pa.Array:
    """Aware datetimes as Arrow UTC timestamps, through exact microseconds since the epoch:
    pyarrow drops a datetime's UTC offset when PYARROW_IGNORE_TIMEZONE is set, which importing
    pyspark.pandas does."""
    return pa.array([None if moment is None else (moment - _EPOCH) // _MICROSECOND
                     for moment in moments], pa.int64()).cast(TIMESTAMP)
