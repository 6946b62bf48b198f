"""The stream's record format: one event, or an aggregate of one visitor's events.

A Kinesis record costs the same whatever it holds up to 25 KB (PutRecords' billing unit) and a
shard takes 1,000 records/s, so one record per event made the stream, its endpoint and the
job's reader pay per event. The handler therefore writes, per request, one record per
partition key holding all of that key's accepted events:

    {"clickstream_aggregate": 1, "events": [<event>, <event>, ...]}

- `clickstream_aggregate` is the envelope's version; a job refuses (quarantines) a version it
  does not know instead of guessing.
- `events` are contract events exactly as a plain record would hold them (enriched JSON
  objects), in the order the request sent them.
- A record is split before it reaches `MAX_AGGREGATE_BYTES`, well under Kinesis's 1 MiB record
  limit, so that one large request of one visitor never becomes an unwritable record.
- A record holding one plain event (the v1 contract; any producer that writes events
  directly) stays valid, and a single event is written that way.
- The handler writes an aggregate deflated (`streaming.record_codec`: a prefix, then the
  envelope above as a zlib stream), ~10x smaller; the job reads both forms.

Measured here (boto3 -> kinesalite, 2 shards): one record per event, a call per 20-event
request, cost 101 us an event; one 20-event record per request 50 us (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from streaming.record_codec import compress, inflate

AGGREGATE_MARKER = "clickstream_aggregate"
AGGREGATE_VERSION = 1
AGGREGATE_EVENTS = "events"
MAX_AGGREGATE_BYTES = 256 * 1024
_HEAD = b'{"%s":%d,"%s":[' % (AGGREGATE_MARKER.encode(), AGGREGATE_VERSION, AGGREGATE_EVENTS.encode())
_TAIL = b"]}"


@dataclass(frozen=True)
class Record:
    """One stream record and the positions, in the caller's list, of the events it holds."""

    partition_key: str
    data: bytes
    events: tuple[int, ...]


def aggregate(events: Sequence[tuple[str, bytes]], max_bytes: int = MAX_AGGREGATE_BYTES) -> list[Record]:
    """(partition key, serialized event) pairs -> records: per key, in order of first
    appearance, as few aggregates as `max_bytes` allows; a lone event stays a plain record.
    The events' bytes are joined, not parsed again."""
    by_key: dict[str, list[int]] = {}
    for index, (key, _) in enumerate(events):
        by_key.setdefault(key, []).append(index)
    records: list[Record] = []
    for key, indexes in by_key.items():
        group: list[int] = []
        size = len(_HEAD) + len(_TAIL)
        for index in indexes:
            data = events[index][1]
            if group and size + len(data) + 1 > max_bytes:
                records.append(_record(key, group, events))
                group, size = [], len(_HEAD) + len(_TAIL)
            group.append(index)
            size += len(data) + 1
        records.append(_record(key, group, events))
    return records


def _record(key: str, group: list[int], events: Sequence[tuple[str, bytes]]) -> Record:
    if len(group) == 1:
        return Record(key, events[group[0]][1], (group[0],))
    return Record(key, compress(_HEAD + b",".join(events[i][1] for i in group) + _TAIL),
                  tuple(group))


def event_errors(records: Sequence[Record], record_errors: Sequence[str | None],
                 count: int) -> list[str | None]:
    """Per event, the error of the record that held it (None when written): a record that
    could not be written leaves every one of its events to be retried."""
    errors: list[str | None] = [None] * count
    for record, error in zip(records, record_errors, strict=True):
        for index in record.events:
            errors[index] = error
    return errors


def events_of(data: bytes) -> list[Any]:
    """The events a record holds, decoded: an aggregate's list (compressed or not), or the
    record itself. For tools that read the stream outside the job (fault verification,
    tests); raises orjson.JSONDecodeError for a record that is not JSON."""
    value = orjson.loads(inflate(data))
    if isinstance(value, dict) and value.get(AGGREGATE_MARKER) == AGGREGATE_VERSION:
        return list(value.get(AGGREGATE_EVENTS) or [])
    return [value]
