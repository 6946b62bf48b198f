"""The local gateway's Kinesis producer: concurrent requests' records in one PutRecords.

The gateway runs the Lambda handler for many requests at once, and each request's records
(one aggregate per visitor, `streaming.records`) would otherwise cost a PutRecords of their
own: ~50 us an event with 20-event records one call each, ~10 us with 25 such records a call
(boto3 -> kinesalite, docs/benchmarks.md). `CoalescingKinesis` stands in for the boto3 client
the handler holds: a call waits while the calls of other requests gather (until `linger`
after the first, or `max_records` / `max_bytes` are reached), one PutRecords carries them
all, and each caller gets back its own entries of the answer, so `kinesis.put_records` still
retries exactly what failed and every request is answered only after its own records are
written (or listed as retryable). While one PutRecords is in flight the next gathers, so
under load the linger costs nothing and at rest it adds at most `linger`.

The Lambda serves one request at a time and keeps writing with the client directly.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from streaming.kinesis import MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL

DEFAULT_LINGER_SECONDS = 0.002


@dataclass(eq=False)
class _Call:
    """One caller's PutRecords, waiting for the shared call that carries it (compared by
    identity: taking a call off the queue must not compare its records)."""

    stream_name: str
    records: list[dict[str, Any]]
    size: int
    done: threading.Event = field(default_factory=threading.Event)
    response: dict[str, Any] | None = None
    error: BaseException | None = None


class CoalescingKinesis:
    """`put_records` as boto3's Kinesis client answers it, shared between threads; every other
    attribute is the wrapped client's."""

    def __init__(self, client: Any, linger: float = DEFAULT_LINGER_SECONDS,
                 max_records: int = MAX_RECORDS_PER_CALL, max_bytes: int = MAX_BYTES_PER_CALL,
                 senders: int = 2) -> None:
        self._client = client
        self._linger = linger
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._pending: list[_Call] = []
        self._ready = threading.Condition()
        for number in range(senders):
            threading.Thread(target=self._send_forever, name=f"kinesis-coalescer-{number}",
                             daemon=True).start()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        size = sum(len(r["PartitionKey"].encode()) + len(r["Data"]) for r in Records)
        call = _Call(StreamName, list(Records), size)
        with self._ready:
            self._pending.append(call)
            self._ready.notify()
        call.done.wait()
        if call.error is not None:
            raise call.error
        return call.response or {}

    def _send_forever(self) -> None:
        while True:
            self._send(self._gather())

    def _gather(self) -> list[_Call]:
        """The calls of one PutRecords: the oldest waiting call, then those of the same stream
        that arrive within `linger` and fit; a call never waits behind a later one."""
        with self._ready:
            # Another sender may take what arrived while this one lingered: wait again then.
            while not self._pending:
                while not self._pending:
                    self._ready.wait()
                deadline = time.monotonic() + self._linger
                while (remaining := deadline - time.monotonic()) > 0 and not self._full():
                    self._ready.wait(remaining)
            taken, records, size = [], 0, 0
            stream = self._pending[0].stream_name
            for call in list(self._pending):
                if call.stream_name != stream:
                    continue
                if taken and (records + len(call.records) > self._max_records
                              or size + call.size > self._max_bytes):
                    break
                taken.append(call)
                records += len(call.records)
                size += call.size
            for call in taken:
                self._pending.remove(call)
            return taken

    def _full(self) -> bool:
        return (sum(len(c.records) for c in self._pending) >= self._max_records
                or sum(c.size for c in self._pending) >= self._max_bytes)

    def _send(self, calls: list[_Call]) -> None:
        """One PutRecords for `calls`; every caller is released, with its entries or with the
        error, whatever happens (a sender that died would leave its callers waiting)."""
        try:
            response = self._client.put_records(
                StreamName=calls[0].stream_name, Records=[r for c in calls for r in c.records])
            entries = iter(response["Records"])
            for call in calls:
                own = [next(entries) for _ in call.records]
                call.response = {**response, "Records": own,
                                 "FailedRecordCount": sum(1 for e in own if "ErrorCode" in e)}
        except Exception as exc:
            for call in calls:
                call.response, call.error = None, exc
        finally:
            for call in calls:
                call.done.set()
