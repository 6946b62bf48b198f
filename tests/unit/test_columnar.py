"""Arrow's JSON reader of a batch (streaming/stream/columnar.py) against the per-event path it
stands in for: whatever a batch holds, `sink_rows` gives the rows `event_rows` gives, and the
handler's own records take the reader's path."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streaming.contract import rfc3339
from streaming.ingest.enrich import enrich, request_fields
from streaming.record_codec import inflate
from streaming.records import aggregate
from streaming.stream.columnar import read_events
from streaming.stream.transforms import event_rows, sink_rows
from streaming.tools.traffic import flushes
from tests.unit.test_transforms import source_rows

NOW = datetime(2026, 11, 30, 10, 0, 5, tzinfo=UTC)


def records_of(events: list[tuple[str, bytes]]) -> list[bytes]:
    return [record.data for record in aggregate(events)]


def test_the_handlers_records_take_the_readers_path_and_give_the_same_rows():
    received, payloads = rfc3339(NOW), []
    for flush in flushes(3_000, 40, 0.0, seed=11):
        shared = request_fields(received_at=received, ingest_id="i", source_ip="192.0.2.7",
                                user_agent=flush.user_agent, salt="salt")
        enriched = [(e["anonymous_id"], orjson.dumps(enrich(e, shared, "salt")))
                    for e in flush.events]
        # One request a flush, as the handler writes them; a lone event is a plain record.
        payloads += records_of(enriched[:1]) + records_of(enriched[1:])
    records = source_rows(payloads)
    assert read_events([inflate(d) for d in records.column("data").to_pylist()]) is not None
    rows = sink_rows(records, NOW)
    assert rows.num_rows == 3_000
    assert rows.equals(event_rows(records, NOW))
    assert set(rows.column("sink_table").to_pylist()) == {"bronze"}


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_TIMES = st.sampled_from([
    "2026-11-30T10:02:01.484000Z", "2026-11-30T10:02:01.484Z", "2026-11-30T11:02:01+01:00",
    "2026-02-30T00:00:00.000000Z", "0000-01-01T00:00:00.000000Z", "2026-11-30T23:59:60.000000Z",
    "2026-11-30 10:02:01.484000Z", "2026-11-30T10:02:01", "0001-01-01T00:00:00.000000Z",
    "2026-11-30T24:00:00.000000Z", "2026-13-01T00:00:00.000000Z", "2026-11-30T23:60:00.000000Z",
    "2026-11-31T00:00:00.000000Z"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                     st.floats(allow_nan=False), _TEXT)


def _maybe(strategy: st.SearchStrategy, usual) -> st.SearchStrategy:
    """Mostly the usual value, sometimes anything the strategy draws."""
    return st.one_of(st.just(usual), st.just(usual), st.just(usual), strategy)


@st.composite
def events(draw) -> dict:
    event = {
        "event_id": draw(_maybe(_TEXT, str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))))),
        "event_type": draw(_maybe(st.sampled_from(
            ["click", "custom:x.y", "custom:", "nope", 5]), "page_view")),
        "event_time": draw(_maybe(_TIMES, "2026-11-30T10:02:01.484000Z")),
        "anonymous_id": draw(_maybe(st.sampled_from(["", "  ", "a" * 129, None]), "anon")),
        "session_id": draw(_maybe(_TEXT, "sess")),
        "received_at": draw(_maybe(_TIMES, "2026-11-30T10:02:02.000001Z")),
        "schema_version": draw(_maybe(st.sampled_from([2, "1", True, 1.0, None, 2**40]), 1)),
        "page_url": draw(_maybe(st.sampled_from(["https://x/" + "p" * 4096, 7]),
                                "https://shop.example.com/")),
        "user_id": draw(_maybe(st.one_of(_SCALARS, st.just("u" * 129)), None)),
        "is_bot": draw(_maybe(st.sampled_from([True, "no", 1, None]), False)),
        "element": draw(_maybe(st.one_of(
            st.none(), st.just("buy"), st.dictionaries(
                st.sampled_from(["id", "text", "selector", "other"]),
                st.one_of(_TEXT, st.integers(-2**40, 2**40), st.just("s" * 2049)), max_size=3)),
            {"id": "buy"})),
        "properties": draw(_maybe(st.one_of(
            st.none(), st.just([1]), st.dictionaries(
                st.one_of(_TEXT, st.just("k" * 129)), _SCALARS, max_size=4),
            st.just({f"k{n}": "v" for n in range(51)}), st.just({"k": "v" * 2049})),
            {"sku": "A-1", "price": "9.5"})),
    }
    if draw(st.booleans()):
        event[draw(st.sampled_from(["unknown", "utm_source", "referrer"]))] = draw(_SCALARS)
    return {k: v for k, v in event.items() if v is not None or draw(st.booleans())}


# Records no event producer writes but a stream can hold: each must give the same rows both ways.
_ODD_RECORDS = st.sampled_from([
    b"", b"[1]", b"null", b'{"a":1},{"b":2}', b'{"a":1}{"b":2}', b"\xef\xbb\xbf{}",
    b'{"clickstream_aggregate":1,"events":[]}', b'{"clickstream_aggregate":1,"events":[null]}',
    b'{"clickstream_aggregate":1,"events":["x"]}', b'{"clickstream_aggregate":2,"events":[{}]}',
    b'{"clickstream_aggregate":1,"events":[{"event_id":"a"}],"x":NaN}',
    b'{"clickstream_aggregate":1,"events":[{"event_id":"a","u":Infinity}]}',
    b'{"event_id":"a","event_id":"b"}', b'{\n"event_id": "a"\n}', b'{"event_id":"a"}\r',
    b'{"event_id":"\xff"}', b"\x00csz\x01broken"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from("abc"), events()), min_size=1, max_size=12),
       st.lists(_ODD_RECORDS, max_size=2))
def test_any_batch_gives_the_rows_of_the_per_event_path(drawn, odd):
    records = records_of([(key, orjson.dumps(event)) for key, event in drawn]) + odd
    data = source_rows(records)
    assert sink_rows(data, NOW).equals(event_rows(data, NOW))


_VALID_TIMES = st.sampled_from([
    "2026-11-30T10:02:01.484000Z", "2026-11-30T10:02:01.484Z", "2026-11-30T11:02:01+01:00",
    "0001-01-01T00:00:00.000000Z", "2024-02-29T23:59:59.999999Z", "2026-11-30T23:59:59.000000Z"])


@st.composite
def valid_events(draw, number: int) -> dict:
    """Events that pass every rule, in the shapes producers send them: optional fields absent
    or null, times in any valid form, properties of strings and nulls."""
    event = {
        "event_id": str(uuid.UUID(int=number)),
        "event_type": draw(st.sampled_from(["page_view", "click", "custom:wish.list"])),
        "event_time": draw(_VALID_TIMES), "received_at": draw(_VALID_TIMES),
        "anonymous_id": draw(st.text(min_size=1, max_size=5).filter(str.strip)),
        "session_id": "s", "schema_version": draw(st.sampled_from([1, None])),
        "user_id": draw(st.one_of(st.none(), _TEXT)), "utm_source": draw(st.one_of(st.none(), _TEXT)),
        "is_bot": draw(st.one_of(st.none(), st.booleans())),
        "element": draw(st.one_of(st.none(), st.fixed_dictionaries(
            {}, optional={"id": st.one_of(st.none(), _TEXT), "text": _TEXT}))),
        "properties": draw(st.one_of(st.none(), st.dictionaries(
            st.sampled_from(["sku", "price", "x", "\u00e9"]), st.one_of(st.none(), _TEXT),
            max_size=3))),
    }
    return {k: v for k, v in event.items() if v is not None or draw(st.booleans())}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 2**64)), min_size=1,
                max_size=10, unique_by=lambda drawn: drawn[1]).flatmap(
    lambda keyed: st.tuples(*[st.tuples(st.just(key), valid_events(n)) for key, n in keyed])))
def test_valid_events_take_the_readers_path_and_give_the_same_rows(drawn):
    """The reader vouches for batches of valid events (so the job does not silently fall back
    to the slower path), and its rows are the per-event path's."""
    data = source_rows(records_of([(key, orjson.dumps(event)) for key, event in drawn]))
    assert read_events([inflate(d) for d in data.column("data").to_pylist()]) is not None
    rows = sink_rows(data, NOW)
    assert rows.equals(event_rows(data, NOW))
    assert set(rows.column("sink_table").to_pylist()) == {"bronze"}
