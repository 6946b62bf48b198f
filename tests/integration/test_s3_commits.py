"""Bronze on S3 with several writers at once (issue 16, item 4): the lake's own S3 commit path
(`streaming.lake.delta`, delta-rs with `storage_options(settings)` for an `s3://` lake and
CLICKSTREAM_S3_ENDPOINT) against a real S3-compatible server that honours
`If-None-Match: *` atomically (moto, single-threaded: `streaming/local/s3_server.py`, the `s3`
fixture).

Four writer processes append bronze batches as the stream job does (an app transaction per
batch, one batch replayed as after a crash past its commit) while a fifth runs OPTIMIZE
(Z-order by anonymous_id) and VACUUM (retention 0) in a loop. Afterwards every row is there
exactly once, the log has no gap, and the server's log shows how the races for log versions
went: every log entry was a conditional put, and each put that lost (412) is a retry that
delta-rs recorded in the winning commit, unless its operation then lost a logical conflict
and was run again as a whole.

The workers are this module run as a script (`python -m tests.integration.test_s3_commits`),
configured only by CLICKSTREAM_* variables and the AWS credential variables, as a deployed
stream job is.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from botocore.exceptions import ClientError
from deltalake import DeltaTable

from streaming.lake import tables
from streaming.lake.delta import MAX_COMMIT_RETRIES, bronze_target, storage_options
from streaming.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4
BATCHES = 15
ROWS = 20
REPLAYED = 7  # each writer sends this batch a second time; the second must be skipped
MAINTENANCE_ROUNDS = (2, 8)  # at least, at most (it stops once the writers are done)
# Every commit a run can make: the create, the appends, and per maintenance round an OPTIMIZE
# and VACUUM's start and end. Each race a commit loses is a version another writer won, so
# with fewer commits than the retry budget no writer can run out of retries, whatever the
# interleaving.
MOST_COMMITS = 1 + WRITERS * BATCHES + MAINTENANCE_ROUNDS[1] * 3
assert MOST_COMMITS < MAX_COMMIT_RETRIES, "the run commits more than a writer may retry"
LOG_PUT = re.compile(r'"PUT /(?P<key>\S+/_delta_log/(?P<version>\d{20})\.json) \S+" (?P<status>\d{3})'
                     r'(?P<rest>.*)$')


def batch_rows(writer: int, batch: int, schema: pa.Schema) -> pa.Table:
    """A bronze micro-batch of `ROWS` events with ids of their own, over two event dates and
    a few visitors (so Z-order has something to sort); other columns null."""
    start = datetime(2026, 11, 19, 12, tzinfo=UTC)
    rows = []
    for row in range(ROWS):
        when = start + timedelta(days=(batch + row) % 2, seconds=writer * 1000 + batch * ROWS + row)
        visitor = f"visitor-{(writer * 7 + batch * 3 + row) % 23}"
        rows.append({"event_id": f"w{writer}-b{batch}-r{row}", "event_type": "page",
                     "event_time": when, "event_date": when.date(), "anonymous_id": visitor,
                     "session_id": f"{visitor}-tab", "received_at": when + timedelta(seconds=1),
                     "schema_version": 1})
    return pa.Table.from_pylist(rows, schema=schema)


def expected_event_ids() -> set[str]:
    return {f"w{w}-b{b}-r{r}" for w in range(WRITERS) for b in range(BATCHES) for r in range(ROWS)}


# --- the worker processes -------------------------------------------------------------------

def _wait_for_go(ready: Path, go: Path) -> None:
    ready.touch()
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{go} never appeared")
        time.sleep(0.01)


def writer(index: int, ready: Path, go: Path) -> dict:
    """Appends `BATCHES` batches as `writer-<index>`, replaying batch `REPLAYED` once."""
    target = bronze_target(load_settings())
    schema = pa.schema(target.open().schema().to_arrow())
    app_id = f"writer-{index}"
    _wait_for_go(ready, go)
    appended, replayed, seconds = [], [], []
    for batch in range(BATCHES):
        rows = batch_rows(index, batch, schema)
        started = time.monotonic()
        appended.append(target.append(rows, app_id, batch))
        seconds.append(time.monotonic() - started)
        if batch == REPLAYED:
            replayed.append(target.append(rows, app_id, batch))
    return {"appended": appended, "replayed": replayed, "seconds": seconds}


def maintenance(ready: Path, go: Path, stop: Path) -> dict:
    """OPTIMIZE (Z-order by anonymous_id) then VACUUM (retention 0), round after round while
    the writers write. delta-rs's default ("lite") VACUUM deletes only files the log has
    removed; a "full" one also deletes files absent from the log, which with retention 0
    could take a writer's data files before its commit names them."""
    target = bronze_target(load_settings())
    _wait_for_go(ready, go)
    rounds = []
    least, most = MAINTENANCE_ROUNDS
    while len(rounds) < least or (len(rounds) < most and not stop.exists()):
        metrics = target.optimize("anonymous_id")
        vacuumed = target.vacuum(0)
        rounds.append({"files_added": metrics["numFilesAdded"],
                       "files_removed": metrics["numFilesRemoved"], "vacuumed": len(vacuumed)})
        time.sleep(0.2)
    return {"rounds": rounds}


# --- the tests ------------------------------------------------------------------------------

@pytest.mark.slow
def test_server_refuses_a_second_create(s3):
    """What the commit protocol relies on: a PutObject with If-None-Match: * on an existing
    key is refused (412) and leaves the object as it was."""
    client = boto3.client("s3", endpoint_url=s3.url, region_name="us-east-1")
    key = "refuses-second-create/00000000000000000000.json"
    client.put_object(Bucket=s3.bucket, Key=key, Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=s3.bucket, Key=key, Body=b"second", IfNoneMatch="*")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert client.get_object(Bucket=s3.bucket, Key=key)["Body"].read() == b"first"


def s3_settings(s3, home: Path, prefix: str) -> Settings:
    """An AWS-mode lake in the test server's bucket, reached through CLICKSTREAM_S3_ENDPOINT.
    (conftest is imported here, not at the top, so the workers do not import the stack.)"""
    from tests.conftest import isolated_settings

    return replace(isolated_settings(home), mode="aws", lake_uri=f"s3://{s3.bucket}/{prefix}",
                   s3_endpoint_url=s3.url)


def spawn(role: str, *args: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as err:
        return subprocess.Popen([sys.executable, "-m", "tests.integration.test_s3_commits", role, *args],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def finish(process: subprocess.Popen, log: Path, timeout: float) -> dict:
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{process.args[3:]} exited {process.returncode}:\n{log.read_text()}"
    return json.loads(out.decode().strip().splitlines()[-1])


def log_versions(settings: Settings, s3) -> list[int]:
    """The versions of the table's JSON log entries, as the bucket lists them."""
    client = boto3.client("s3", endpoint_url=s3.url, region_name=settings.region)
    prefix = tables.BRONZE.uri(settings).removeprefix(f"s3://{s3.bucket}/") + "/_delta_log/"
    versions = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[1]
            if re.fullmatch(r"\d{20}\.json", name):
                versions.append(int(name[:20]))
    return sorted(versions)


def log_puts(s3, settings: Settings) -> list[dict]:
    """The server's answers to PUTs of this table's log entries."""
    key_prefix = tables.BRONZE.uri(settings).removeprefix("s3://") + "/_delta_log/"
    puts = []
    for line in s3.log.read_text().splitlines():
        match = LOG_PUT.search(line)
        if match and match["key"].startswith(key_prefix):
            puts.append({"version": int(match["version"]), "status": int(match["status"]),
                         "conditional": "if-none-match=*" in match["rest"]})
    return puts


@pytest.mark.slow
def test_concurrent_appends_optimize_and_vacuum_on_s3(s3, tmp_path):
    from streaming.stream.transforms import BRONZE_COLUMNS
    from tests.integration.test_sql_views import arrow_schema

    started = time.monotonic()
    settings = s3_settings(s3, tmp_path, "concurrent")
    options = storage_options(settings)
    assert options["AWS_ENDPOINT_URL"] == s3.url  # the lake's own S3 options, nothing added here
    bronze_target(settings).ensure(arrow_schema(BRONZE_COLUMNS))

    env = {**os.environ, **settings.to_env()}
    go, stop = tmp_path / "go", tmp_path / "stop"
    names = [f"writer-{i}" for i in range(WRITERS)] + ["maintenance"]
    ready = {name: tmp_path / f"ready-{name}" for name in names}
    logs = {name: tmp_path / f"{name}.log" for name in names}
    processes = {f"writer-{i}": spawn("writer", str(i), str(ready[f"writer-{i}"]), str(go), env=env,
                                      log=logs[f"writer-{i}"]) for i in range(WRITERS)}
    processes["maintenance"] = spawn("maintenance", str(ready["maintenance"]), str(go), str(stop),
                                     env=env, log=logs["maintenance"])
    try:
        deadline = time.monotonic() + 60
        while not all(path.exists() for path in ready.values()):
            dead = {name: p.returncode for name, p in processes.items() if p.poll() is not None}
            assert not dead, f"exited before starting: {dead}; {[logs[n].read_text() for n in dead]}"
            assert time.monotonic() < deadline, "workers not ready after 60 s"
            time.sleep(0.05)
        go.touch()
        writes_started = time.monotonic()
        results = {f"writer-{i}": finish(processes[f"writer-{i}"], logs[f"writer-{i}"], 120)
                   for i in range(WRITERS)}
        writes_seconds = time.monotonic() - writes_started
        stop.touch()
        results["maintenance"] = finish(processes["maintenance"], logs["maintenance"], 120)
    finally:
        from streaming.local.stack import stop_process

        for process in processes.values():
            stop_process(process, timeout=5)

    # Each batch committed once; the replayed one was skipped by its app transaction.
    for i in range(WRITERS):
        assert results[f"writer-{i}"]["appended"] == [True] * BATCHES
        assert results[f"writer-{i}"]["replayed"] == [False]

    table = DeltaTable(tables.BRONZE.uri(settings), storage_options=options)
    # Every appended row exactly once (to_pyarrow_table() would abort the process at exit
    # in deltalake 1.6.6; the dataset reads the same files).
    ids = table.to_pyarrow_dataset().to_table(columns=["event_id"]).column("event_id").to_pylist()
    doubled = {event_id: n for event_id, n in Counter(ids).items() if n > 1}
    assert not doubled
    assert set(ids) == expected_event_ids()
    assert len(ids) == WRITERS * BATCHES * ROWS

    # The log: versions 0..latest, no gap, none overwritten (see the puts below).
    latest = table.version()
    assert latest + 1 <= MOST_COMMITS
    assert log_versions(settings, s3) == list(range(latest + 1))
    for i in range(WRITERS):
        assert table.transaction_version(f"writer-{i}") == BATCHES - 1

    history = sorted(table.history(), key=lambda commit: commit["version"])
    operations = Counter(commit["operation"] for commit in history)
    assert operations["WRITE"] == WRITERS * BATCHES
    write_versions = [c["version"] for c in history if c["operation"] == "WRITE"]
    optimize_versions = [c["version"] for c in history if c["operation"] == "OPTIMIZE"]
    assert optimize_versions, operations
    # OPTIMIZE really ran among the appends, not only before or after them.
    assert any(min(write_versions) < v < max(write_versions) for v in optimize_versions), operations
    assert sum(r["vacuumed"] for r in results["maintenance"]["rounds"]) > 0

    # The server's view: every log entry was put with If-None-Match: *, one 200 per
    # version, and each put that lost a race (412) is a retry a winning commit recorded
    # (or was lost by an attempt run again, below).
    puts = log_puts(s3, settings)
    assert puts and all(put["conditional"] for put in puts)
    won = Counter(put["version"] for put in puts if put["status"] == 200)
    assert won == Counter(range(latest + 1))
    assert {put["status"] for put in puts} <= {200, 412}
    lost = sum(1 for put in puts if put["status"] == 412)
    retries = Counter()
    for commit in history:
        retries[commit["operation"]] += commit.get("operationMetrics", {}).get("num_retries", 0)
    assert lost > 0, "no two commits raced for a version: the test proved nothing about it"
    # An attempt that lost a logical conflict (`retried` runs the whole operation again) wrote
    # no commit, so the puts it lost before giving up are recorded nowhere: only without such
    # a rerun must the two counts be equal.
    reruns = {name: logs[name].read_text().count("running it again") for name in names}
    recorded = sum(retries.values())
    explained = recorded == lost if not any(reruns.values()) else recorded <= lost
    assert explained, (
        f"{lost} puts lost a race, the commits recorded {dict(retries)} retries; whole "
        f"operations run again after a conflict (their lost puts are in no commit): {reruns}")

    seconds = sorted(s for i in range(WRITERS) for s in results[f"writer-{i}"]["seconds"])
    print(f"\ns3 concurrency: {WRITERS} writers x {BATCHES} batches x {ROWS} rows in {writes_seconds:.1f} s "
          f"(append median {seconds[len(seconds) // 2] * 1000:.0f} ms, max {seconds[-1] * 1000:.0f} ms); "
          f"{latest + 1} log versions {dict(operations)}; maintenance {results['maintenance']['rounds']}; "
          f"{len(puts)} conditional log puts, {lost} lost (412), retries recorded {dict(retries)}; "
          f"test {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    # The lake's log lines (a whole operation run again after a logical conflict) go to the
    # worker's log, which the test reads.
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    role, *arguments = sys.argv[1:]
    paths = [Path(a) for a in arguments]
    result = writer(int(arguments[0]), *paths[1:]) if role == "writer" else maintenance(*paths)
    print(json.dumps(result))
