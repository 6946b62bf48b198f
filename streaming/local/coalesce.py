"""The local gateway's Kinesis producer: concurrent requests' records in one PutRecords.

The gateway serves many requests at once on one event loop. A request with events to stream
(`http.StreamWrite`) hands them to `CoalescingProducer.put`, which turns them into records
(one aggregate per visitor, `streaming.records`), queues them and waits. One sender writes
everything queued with `kinesis.put_records` (split at 500 records or 5 MiB a call, retrying
exactly the entries that fail) on a thread of its own, so the loop keeps serving, then gives
each request its own events' errors: every request is answered only after its own records
are written, or listed as retryable.

When to send: boto3 spends ~1.2 ms of CPU on a PutRecords here whatever it carries, while
a 55-event request costs the gateway ~1 ms in all, so the sender waits while requests keep
arriving: until none has arrived for `linger`, `max_wait` after the oldest queued one, or
until a call's worth is queued. Under load the requests in flight share one call; a request
alone waits `linger`. While a call is in flight the next one gathers.

The Lambda serves one request at a time and writes directly (`http.write_now`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from streaming.kinesis import MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL, put_records
from streaming.records import Record, aggregate, event_errors

DEFAULT_LINGER_SECONDS = 0.002
DEFAULT_MAX_WAIT_SECONDS = 0.02


@dataclass(eq=False)
class _Queued:
    """One request's records, waiting for the call that carries them."""

    records: list[Record]
    size: int
    queued_at: float
    written: asyncio.Future[list[str | None]]


class CoalescingProducer:
    """Writes requests' events to one stream, many requests a PutRecords call."""

    def __init__(self, client: Any, stream_name: str, linger: float = DEFAULT_LINGER_SECONDS,
                 max_wait: float = DEFAULT_MAX_WAIT_SECONDS,
                 max_records: int = MAX_RECORDS_PER_CALL, max_bytes: int = MAX_BYTES_PER_CALL) -> None:
        self._client = client
        self._stream_name = stream_name
        self._linger = linger
        self._max_wait = max_wait
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._queue: list[_Queued] = []
        self._arrived = asyncio.Event()
        self._sender: asyncio.Task | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kinesis-producer")

    async def put(self, events: Sequence[tuple[str, bytes]]) -> list[str | None]:
        """Per event (partition key, serialized event): None once written, else the error
        that kept it out (the same answer as `kinesis.put_events`)."""
        loop = asyncio.get_running_loop()
        records = aggregate(events)
        queued = _Queued(records, sum(len(r.partition_key.encode()) + len(r.data) for r in records),
                         loop.time(), loop.create_future())
        if self._sender is None or self._sender.done():
            self._arrived = asyncio.Event()
            self._sender = loop.create_task(self._send_forever())
        self._queue.append(queued)
        self._arrived.set()
        return event_errors(records, await queued.written, len(events))

    async def _send_forever(self) -> None:
        while True:
            await self._gathered()
            batch, self._queue = self._queue, []
            await self._write(batch)

    async def _gathered(self) -> None:
        """Returns once something is queued and no more is worth waiting for."""
        loop = asyncio.get_running_loop()
        while True:
            self._arrived.clear()
            if self._queue:
                if self._full():
                    return
                deadline = min(self._queue[-1].queued_at + self._linger,
                               self._queue[0].queued_at + self._max_wait)
                if deadline <= loop.time():
                    return
                timeout: float | None = deadline - loop.time()
            else:
                timeout = None
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except TimeoutError:
                return

    def _full(self) -> bool:
        return (sum(len(q.records) for q in self._queue) >= self._max_records
                or sum(q.size for q in self._queue) >= self._max_bytes)

    async def _write(self, batch: list[_Queued]) -> None:
        """One `put_records` for `batch`; every request is answered, with its errors or with
        the exception, whatever happens (a sender that died would leave its requests
        waiting)."""
        records = [(r.partition_key, r.data) for q in batch for r in q.records]
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(
                self._thread, functools.partial(put_records, self._client, self._stream_name,
                                                records))
        except Exception as exc:
            for queued in batch:
                if not queued.written.done():
                    queued.written.set_exception(exc)
            return
        errors = iter(outcome.errors)
        for queued in batch:
            own = [next(errors) for _ in queued.records]
            if not queued.written.done():
                queued.written.set_result(own)
