"""End to end through the real gateway, kinesalite, the Spark stream job and Delta files."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from deltalake import DeltaTable

from streaming.kinesis import kinesis_client, put_records
from streaming.lake import tables
from streaming.lake.read import read_columns
from streaming.settings import DEV_WRITE_KEY

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def event(**overrides) -> dict:
    base = {"event_id": str(uuid.uuid4()), "event_type": "page_view",
            "event_time": datetime.now(UTC).isoformat(), "anonymous_id": f"a-{uuid.uuid4()}",
            "session_id": "s-1", "page_url": "https://shop.example.com/"}
    return {**base, **overrides}


def wait_rows(uri: str, column: str, wanted: set[str], timeout: float = 120) -> Counter:
    """Counts of `wanted` values in a table's column once all are there (or at timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        values = read_columns(uri, [column])[column].to_pylist() if Path(uri).exists() else []
        counts = Counter(v for v in values if v in wanted)
        if set(counts) >= wanted or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)


def post(stack, payload) -> httpx.Response:
    return httpx.post(f"{stack.settings.gateway_url}/v1/events", json=payload, timeout=30,
                      auth=(DEV_WRITE_KEY, ""))


def test_every_accepted_event_lands_in_bronze_exactly_once(stack):
    batches = [[event() for _ in range(100)] for _ in range(5)]
    for batch in batches:
        assert post(stack, {"events": batch}).status_code == 200
    retried = batches[2]
    answer = post(stack, {"events": retried})
    assert answer.status_code == 200 and answer.json()["accepted"] == 100
    ids = {e["event_id"] for batch in batches for e in batch}
    counts = wait_rows(tables.BRONZE.uri(stack.settings), "event_id", ids)
    assert len(counts) == 500
    assert set(counts.values()) == {1}


def test_bad_events_are_rejected_with_reasons_and_never_stored(stack):
    good = event()
    bad = event(event_type="hover")
    answer = post(stack, {"events": [good, bad]})
    assert answer.status_code == 207
    [rejected] = answer.json()["rejected_events"]
    assert rejected["errors"][0]["field"] == "event_type"
    counts = wait_rows(tables.BRONZE.uri(stack.settings), "event_id", {good["event_id"]})
    assert counts == Counter({good["event_id"]: 1})
    stored = set(read_columns(tables.BRONZE.uri(stack.settings), ["event_id"])["event_id"].to_pylist())
    assert bad["event_id"] not in stored


def test_records_bypassing_the_handler_are_quarantined_with_reason(stack):
    marker = str(uuid.uuid4())
    broken = [
        (b"not json " + marker.encode(), "malformed_json: record is not a JSON object"),
        (orjson.dumps({**event(event_id=marker)}),
         "received_at: missing, the record did not pass the ingestion handler"),
    ]
    outcome = put_records(kinesis_client(stack.settings), stack.settings.stream_name,
                          [(f"bypass-{n}", data) for n, (data, _) in enumerate(broken)])
    assert outcome.failed == 0
    uri = tables.QUARANTINE.uri(stack.settings)
    deadline = time.monotonic() + 120
    found: dict[str, str] = {}
    while len(found) < 2 and time.monotonic() < deadline:
        if Path(uri).exists():
            table = read_columns(uri, ["raw_record", "reason"]).to_pylist()
            found = {r["raw_record"]: r["reason"] for r in table if marker in r["raw_record"]}
        time.sleep(0.5)
    assert found == {data.decode(): reason for data, reason in broken}


def test_tables_are_readable_by_delta_rs_with_partitions(stack):
    sent = event()
    assert post(stack, sent).status_code == 200
    wait_rows(tables.BRONZE.uri(stack.settings), "event_id", {sent["event_id"]})
    table = DeltaTable(tables.BRONZE.uri(stack.settings))
    protocol = table.protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) == (1, 2)
    assert table.metadata().partition_columns == ["event_date"]
    row = [r for r in table.to_pyarrow_dataset().to_table().to_pylist() if r["event_id"] == sent["event_id"]]
    assert row[0]["event_date"] == datetime.fromisoformat(sent["event_time"]).date()
    status = json.loads((stack.settings.state_dir / "bronze_job.json").read_text())
    assert status["state"] == "running"
