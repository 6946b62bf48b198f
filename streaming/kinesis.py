"""boto3 Kinesis helpers shared by the handler, the stream job, the demo and Dagster.

`put_records` retries exactly the entries a partial failure names, with capped exponential
backoff and jitter, and returns which entries never made it, so the caller can tell its
client "retry" instead of claiming success. `put_events` writes events as aggregated records
(`streaming.records`) and answers per event.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from streaming.records import aggregate, event_errors
from streaming.settings import Settings

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
RETRYABLE_CODES = frozenset({"ProvisionedThroughputExceededException", "InternalFailure",
                             "ServiceUnavailable", "ThrottlingException", "KMSThrottlingException"})


# kinesalite wants signed requests and accepts any keys: embedded mode signs with these, so it
# needs no AWS credentials. AWS mode signs with the SDK's credential chain, whatever endpoint
# it is given (a FIPS or VPC endpoint's name, or an AWS-compatible server).
EMBEDDED_CREDENTIALS = {"aws_access_key_id": "embedded", "aws_secret_access_key": "embedded"}


def client_arguments(endpoint: str | None, embedded: bool) -> dict[str, str]:
    """boto3's client arguments for a Kinesis endpoint (None: the SDK's own resolution)."""
    return {**({"endpoint_url": endpoint} if endpoint else {}),
            **(EMBEDDED_CREDENTIALS if embedded else {})}


def kinesis_client(settings: Settings):
    """A client for the configured endpoint; embedded mode needs dummy credentials only."""
    extra = client_arguments(settings.kinesis_endpoint_url, settings.embedded)
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2,
                    read_timeout=10, max_pool_connections=32)
    return boto3.client("kinesis", region_name=settings.region, config=config, **extra)


@dataclass(frozen=True)
class PutOutcome:
    """Per input record: None when written, else the last error code and message."""

    errors: list[str | None]

    @property
    def failed(self) -> int:
        return sum(1 for e in self.errors if e is not None)


def _chunks(records: Sequence[tuple[str, bytes]]) -> list[list[int]]:
    chunks: list[list[int]] = [[]]
    size = 0
    for index, (key, data) in enumerate(records):
        record_size = len(key.encode()) + len(data)
        if len(chunks[-1]) >= MAX_RECORDS_PER_CALL or size + record_size > MAX_BYTES_PER_CALL:
            chunks.append([])
            size = 0
        chunks[-1].append(index)
        size += record_size
    return [c for c in chunks if c]


def put_records(
    client,
    stream_name: str,
    records: Sequence[tuple[str, bytes]],
    *,
    attempts: int = 4,
    base_delay: float = 0.05,
    sleep=time.sleep,
) -> PutOutcome:
    """Writes (partition_key, data) records; retries failed entries up to `attempts` times."""
    errors: list[str | None] = ["not attempted"] * len(records)
    for chunk in _chunks(records):
        pending = chunk
        for attempt in range(attempts):
            if attempt:
                delay = min(1.0, base_delay * 2 ** (attempt - 1))
                sleep(delay / 2 + random.uniform(0, delay / 2))
            try:
                response = client.put_records(
                    StreamName=stream_name,
                    Records=[{"PartitionKey": records[i][0], "Data": records[i][1]} for i in pending],
                )
            except (ClientError, BotoCoreError) as exc:
                for i in pending:
                    errors[i] = f"{type(exc).__name__}: {exc}"
                continue
            still: list[int] = []
            for i, entry in zip(pending, response["Records"], strict=True):
                if "ErrorCode" in entry:
                    errors[i] = f"{entry['ErrorCode']}: {entry.get('ErrorMessage', '')}"
                    still.append(i)
                else:
                    errors[i] = None
            pending = still
            if not pending:
                break
    return PutOutcome(errors)


def put_events(client, stream_name: str, events: Sequence[tuple[str, bytes]]) -> PutOutcome:
    """Writes (partition_key, event) pairs as aggregated records; the outcome is per event."""
    records = aggregate(events)
    outcome = put_records(client, stream_name, [(r.partition_key, r.data) for r in records])
    return PutOutcome(event_errors(records, outcome.errors, len(events)))


def ensure_stream(client, stream_name: str, shard_count: int, timeout: float = 30.0) -> None:
    """Creates the stream when missing and waits until it is ACTIVE (embedded setup)."""
    with contextlib.suppress(client.exceptions.ResourceInUseException):
        client.create_stream(StreamName=stream_name, ShardCount=shard_count)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = client.describe_stream_summary(StreamName=stream_name)
        if summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.1)
    raise TimeoutError(f"stream {stream_name} did not become ACTIVE within {timeout}s")


def list_shards(client, stream_name: str) -> list[dict]:
    """Every shard of the stream, open or closed, as ListShards describes it (ids, parents,
    sequence number ranges), all pages."""
    shards: list[dict] = []
    kwargs = {"StreamName": stream_name}
    while True:
        response = client.list_shards(**kwargs)
        shards += response["Shards"]
        token = response.get("NextToken")
        if not token:
            return shards
        kwargs = {"NextToken": token}


def list_shard_ids(client, stream_name: str) -> list[str]:
    return [shard["ShardId"] for shard in list_shards(client, stream_name)]
