"""The gateway's coalescing producer on the real local Kinesis endpoint (kinesalite), and on
the fault proxy in front of it for partial failures."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import replace

import orjson
import pytest

from streaming.kinesis import ensure_stream, kinesis_client
from streaming.local.coalesce import CoalescingProducer
from streaming.records import events_of
from streaming.tools.faults.proxy import KinesisProxy
from streaming.tools.faults.verify import stream_census
from tests.conftest import free_port

pytestmark = pytest.mark.slow
REQUESTS = 40


class CallCount:
    """The real client, counting the PutRecords calls that reach it."""

    def __init__(self, client) -> None:
        self.client, self.calls, self._lock = client, 0, threading.Lock()

    def put_records(self, **kwargs):
        with self._lock:
            self.calls += 1
        return self.client.put_records(**kwargs)


def request_events(request: int) -> list[tuple[str, bytes]]:
    """A request's events: three visitors, so three aggregated records."""
    return [(f"visitor-{request}-{n % 3}", orjson.dumps({"event_id": str(uuid.uuid4()), "n": n}))
            for n in range(9)]


def put_concurrently(producer: CoalescingProducer, requests: list[list[tuple[str, bytes]]]
                     ) -> list[list[str | None]]:
    """Every request's events put at once, as the gateway's requests do; per request, per
    event, the error (None when written)."""
    async def put_all():
        return await asyncio.gather(*(producer.put(events) for events in requests))
    return asyncio.run(put_all())


def own_stream(kinesis, prefix: str):
    settings = replace(kinesis.settings, stream_name=f"{prefix}-{uuid.uuid4().hex[:8]}")
    ensure_stream(kinesis_client(settings), settings.stream_name, settings.shard_count)
    return settings


def test_concurrent_requests_share_put_records_calls_and_each_gets_its_own_answer(kinesis):
    settings = own_stream(kinesis, "coalesce")
    counted = CallCount(kinesis_client(settings))
    producer = CoalescingProducer(counted, settings.stream_name)
    requests = [request_events(r) for r in range(REQUESTS)]
    outcomes = put_concurrently(producer, requests)
    assert outcomes == [[None] * 9] * REQUESTS
    written = stream_census(settings)
    sent = [orjson.loads(data)["event_id"] for events in requests for _, data in events]
    assert written["ids"] == {event_id: 1 for event_id in sent}
    assert written["records"] == REQUESTS * 3
    assert counted.calls == 1, f"{counted.calls} PutRecords for {REQUESTS} requests"


def test_a_request_alone_is_written_after_the_linger(kinesis):
    settings = own_stream(kinesis, "coalesce-alone")
    counted = CallCount(kinesis_client(settings))
    producer = CoalescingProducer(counted, settings.stream_name)

    async def one_after_another():
        return [await producer.put(request_events(request)) for request in range(3)]

    assert asyncio.run(one_after_another()) == [[None] * 9] * 3
    assert counted.calls == 3
    assert stream_census(settings)["records"] == 9


def test_a_partial_failure_reaches_exactly_the_requests_whose_records_failed(kinesis):
    settings = own_stream(kinesis, "coalesce-fail")
    requests = [request_events(r) for r in range(REQUESTS)]
    refused_visitor = "visitor-7-1"
    refused = {orjson.loads(data)["event_id"] for key, data in requests[7] if key == refused_visitor}
    with KinesisProxy(settings.kinesis_endpoint_url, free_port()) as proxy:
        proxy.refuse = lambda data: any(e["event_id"] in refused for e in events_of(data))
        client = kinesis_client(replace(settings, kinesis_endpoint_url=proxy.url))
        outcomes = put_concurrently(CoalescingProducer(client, settings.stream_name), requests)
    failed = {orjson.loads(data)["event_id"] for events, errors in zip(requests, outcomes, strict=True)
              for (_, data), error in zip(events, errors, strict=True) if error is not None}
    assert failed == refused
    assert {e for errors in outcomes for e in errors if e} == {
        "ProvisionedThroughputExceededException: Rate exceeded for shard (injected by the fault proxy)"}
    assert set(stream_census(settings)["ids"]) == {
        orjson.loads(data)["event_id"] for events in requests for _, data in events} - refused
