"""Faults at the edges of the pipeline, on real components.

- Kinesis refusing or throttling writes: a real gateway behind a Kinesis-protocol proxy that
  answers AWS's partial failures or 503s, and a kinesalite killed outright: the gateway
  answers 503 with exactly the unwritten events as retryable, never "accepted".
- Records broken past the handler (malformed, not an object, 900 KB, not UTF-8) on a
  running job: quarantined with their reasons and their exact bytes, and the job keeps
  running.
- A clock-skewed client: events far ahead rejected with the reason, late events in bronze
  under their own day, and the late-data sensor asks to rebuild that day.
- A disk that fills under the lake (a tmpfs of a few MiB): the job stops with
  "No space left on device", delta-rs and delta-spark read the same table, and after space
  is freed a restart commits what was missing, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from dagster import DagsterInstance, RunRequest, SensorResult, build_sensor_context, materialize
from deltalake import DeltaTable

from clickstream_assets.defs.lake.assets import silver_sessions
from clickstream_assets.defs.lake.sensors import late_data_sensor
from clickstream_assets.partitions import daily
from clickstream_assets.resources import build_resources
from streaming.contract import rfc3339
from streaming.ingest.auth import basic_authorization
from streaming.kinesis import ensure_stream, kinesis_client
from streaming.lake import tables
from streaming.local.stack import LocalStack
from streaming.records import events_of
from streaming.settings import DEV_WRITE_KEY
from streaming.stream.status import read_status
from streaming.tools.common import free_port
from streaming.tools.faults.client import Ledger, deliver
from streaming.tools.faults.inject import bad_records, inject
from streaming.tools.faults.proxy import KinesisProxy
from streaming.tools.faults.verify import (
    bronze_counts,
    quarantined,
    stream_census,
    wait_for_bronze,
    wait_for_quarantine,
)
from streaming.tools.traffic import USER_AGENTS, Flush
from tests.conftest import isolated_settings

pytestmark = pytest.mark.slow


def events(n: int, when: datetime | None = None, visitor: str = "edge") -> list[dict]:
    moment = rfc3339(when or datetime.now(UTC), "milliseconds")
    return [{"event_id": str(uuid.uuid4()), "event_type": "page_view", "event_time": moment,
             "anonymous_id": f"{visitor}-{i % 3}", "session_id": f"{visitor}-s",
             "page_url": "https://shop.example.com/", "schema_version": 1} for i in range(n)]


def holds(record: bytes, event_ids: set[str]) -> bool:
    """Whether a stream record holds any of `event_ids` (a plain event or an aggregate)."""
    return any(event["event_id"] in event_ids for event in events_of(record))


def post(settings, batch: list[dict]) -> httpx.Response:
    return httpx.post(f"{settings.gateway_url}/v1/events", content=orjson.dumps({"events": batch}),
                      headers={"content-type": "application/json",
                               "authorization": basic_authorization(DEV_WRITE_KEY)}, timeout=60)


def ids(batch: list[dict]) -> set[str]:
    return {e["event_id"] for e in batch}


@pytest.fixture
def gateway_via_proxy(kinesis):
    """A stream of its own, a proxy in front of kinesalite, a gateway writing through it."""
    settings = replace(kinesis.settings, stream_name=f"edge-{uuid.uuid4().hex[:8]}",
                       gateway_port=free_port())
    ensure_stream(kinesis_client(settings), settings.stream_name, settings.shard_count)
    with KinesisProxy(kinesis.settings.kinesis_endpoint_url, free_port()) as proxy:
        stack = LocalStack(replace(settings, kinesis_endpoint_url=proxy.url))
        try:
            stack.start_gateway()
            yield stack.settings, proxy, settings
        finally:
            stack.stop()


def test_throttled_writes_are_answered_503_for_exactly_the_unwritten_events(gateway_via_proxy):
    via_proxy, proxy, direct = gateway_via_proxy
    batch = events(20)
    throttled = ids(batch[::3])  # one visitor's events: the one record the request holds for it
    proxy.refuse = lambda data: holds(data, throttled)

    answer = post(via_proxy, batch)
    body = answer.json()
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert (body["accepted"], body["retryable"]) == (20 - len(throttled), len(throttled))
    assert {e["event_id"] for e in body["retry_events"]} == throttled
    assert {e["reason"] for e in body["retry_events"]} == {"ProvisionedThroughputExceededException"}
    in_stream = stream_census(direct)["ids"]
    assert set(in_stream) == ids(batch) - throttled

    proxy.refuse = None
    again = post(via_proxy, [e for e in batch if e["event_id"] in throttled])
    assert again.status_code == 200 and again.json()["accepted"] == len(throttled)
    in_stream = stream_census(direct)["ids"]
    assert set(in_stream) == ids(batch) and set(in_stream.values()) == {1}


def test_the_fault_client_retries_only_what_a_503_lists(gateway_via_proxy):
    """The harness's tracker-like client against a throttle that lifts after two seconds."""
    via_proxy, proxy, direct = gateway_via_proxy
    batch = events(30)
    throttled = ids(batch[::3])
    until = time.monotonic() + 2
    proxy.refuse = lambda data: time.monotonic() < until and holds(data, throttled)
    ledger = Ledger()

    async def send() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            await deliver(client, f"{via_proxy.gateway_url}/v1/events",
                          Flush(USER_AGENTS[0], batch), ledger, random.Random(1), give_up_after=60)

    asyncio.run(send())
    assert Counter(ledger.acknowledged) == Counter(ids(batch))
    assert ledger.acknowledged_in_503 == 20 and ledger.retry_lists >= 1
    assert (ledger.rejected, ledger.abandoned) == ([], [])
    assert set(stream_census(direct)["ids"].values()) == {1}


def test_an_unavailable_kinesis_gets_503_and_nothing_is_accepted(gateway_via_proxy):
    via_proxy, proxy, direct = gateway_via_proxy
    proxy.unavailable = True
    batch = events(12)
    answer = post(via_proxy, batch)
    body = answer.json()
    assert answer.status_code == 503
    assert (body["accepted"], body["retryable"]) == (0, 12)
    assert {e["event_id"] for e in body["retry_events"]} == ids(batch)
    assert stream_census(direct)["records"] == 0


def test_a_killed_kinesis_gets_503_and_its_records_survive_the_restart(tmp_path):
    stack = LocalStack(isolated_settings(tmp_path))
    try:
        stack.start_kinesis()
        stack.start_gateway()
        before = events(15)
        assert post(stack.settings, before).status_code == 200
        stack.kill("kinesis")
        during = events(10)
        answer = post(stack.settings, during)
        assert answer.status_code == 503 and answer.json()["accepted"] == 0
        assert {e["reason"] for e in answer.json()["retry_events"]} == {"EndpointConnectionError"}
        stack.start_kinesis()
        assert post(stack.settings, during).status_code == 200
        census = stream_census(stack.settings)
        assert Counter(census["ids"]) == Counter(ids(before) | ids(during))
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory):
    """A tmpfs of 48 MiB for the lake, or None where mounting is not allowed (not root)."""
    mount = tmp_path_factory.mktemp("disk")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    yield mount if done.returncode == 0 else None
    if done.returncode == 0:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def edge_stack(tmp_path_factory, small_disk):
    """kinesalite, gateway and a running stream job; the lake on the small disk if any."""
    home = tmp_path_factory.mktemp("edge")
    settings = isolated_settings(home)
    if small_disk is not None:
        settings = replace(settings, lake_uri=str(small_disk / "lake"))
    stack = LocalStack(settings)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def test_broken_records_past_the_handler_are_quarantined_and_the_job_keeps_running(edge_stack):
    settings = edge_stack.settings
    bad = bad_records(random.Random(5))
    inject(settings, bad)
    good = events(40)
    assert post(settings, good).status_code == 200
    assert wait_for_bronze(settings, ids(good), timeout=600)

    wait_for_quarantine(settings, {b.data for b in bad}, timeout=300)
    stored = Counter((data, reason.split(":")[0]) for data, reason in quarantined(settings))
    assert stored == Counter({(b.data, b.reason): 1 for b in bad})
    oversized = next(b for b in bad if b.kind == "oversized")
    assert oversized.marker not in bronze_counts(settings)
    assert edge_stack.processes["job"].poll() is None
    assert read_status(settings)["state"] == "running"


def test_a_clock_skewed_client(edge_stack, spark):
    """Far-future events are refused with the reason; late ones land under their own day and
    the late-data sensor asks to rebuild exactly that day's silver and gold."""
    settings = edge_stack.settings
    now = datetime.now(UTC)
    day = (now - timedelta(days=2)).date().isoformat()
    if day not in daily.get_partition_keys():
        pytest.skip(f"{day} is before the first daily partition")
    resources = build_resources(settings)
    with DagsterInstance.ephemeral() as instance:
        assert materialize([silver_sessions], instance=instance, resources=resources,
                           partition_key=day).success
        future, late = events(5, now + timedelta(hours=3), "ahead"), events(8, now - timedelta(days=2))
        answer = post(settings, future + late)
        body = answer.json()
        assert answer.status_code == 207 and body["accepted"] == len(late)
        assert {(r["event_id"], r["errors"][0]["field"], r["errors"][0]["rule"])
                for r in body["rejected_events"]} == {
            (i, "event_time", "not_in_future") for i in ids(future)}
        assert wait_for_bronze(settings, ids(late), timeout=600)
        bronze = DeltaTable(tables.BRONZE.uri(settings)).to_pyarrow_dataset().to_table(
            columns=["event_id", "event_date"]).to_pylist()
        assert {str(r["event_date"]) for r in bronze if r["event_id"] in ids(late)} == {day}
        assert not ids(future) & {r["event_id"] for r in bronze}

        with build_sensor_context(instance=instance, resources=resources) as context:
            tick = late_data_sensor(context)
    assert isinstance(tick, SensorResult)
    [request] = [r for r in tick.run_requests if r.partition_key == day]
    assert isinstance(request, RunRequest) and request.tags["clickstream/late_rows"] == str(len(late))


def fill(disk: Path) -> Path:
    """Writes until the disk is full. Unbuffered: a buffered file still holding bytes when
    the disk filled raised ENOSPC again when closed, outside the suppression."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
    return filler


def test_a_full_disk_stops_the_job_clearly_and_leaves_delta_readable(edge_stack, small_disk, spark):
    if small_disk is None:
        pytest.skip("mounting a small tmpfs needs root; not simulated")
    settings = edge_stack.settings
    first = events(30)
    assert post(settings, first).status_code == 200
    assert wait_for_bronze(settings, ids(first), timeout=600)
    filler = fill(small_disk)

    second = events(30)
    assert post(settings, second).status_code == 200
    job = edge_stack.processes["job"]
    job.wait(timeout=600)
    status = read_status(settings)
    assert job.returncode != 0 and status["state"] == "failed"
    assert "No space left on device" in status["exception"]

    for uri in (tables.BRONZE.uri(settings), tables.QUARANTINE.uri(settings)):
        log = Path(uri) / "_delta_log"
        for commit in log.glob("*.json"):
            for line in commit.read_text().splitlines():
                orjson.loads(line)
        rs = DeltaTable(uri)
        assert spark.read.format("delta").load(uri).count() == rs.count()
        assert rs.version() == spark.sql(f"DESCRIBE HISTORY delta.`{uri}` LIMIT 1").first()["version"]
    counts = bronze_counts(settings)
    assert set(counts.values()) == {1} and ids(first) <= counts.keys()

    filler.unlink()
    edge_stack.processes.pop("job")
    edge_stack.start_job()
    assert wait_for_bronze(settings, ids(first) | ids(second), timeout=600)
    counts = bronze_counts(settings)
    assert set(counts.values()) == {1}
