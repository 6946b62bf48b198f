"""What the fault harness does to a running stack: crashes, restarts and bad records.

Every crash is SIGKILL to the component's process group (no shutdown hook runs, as in a
power loss of that process); every restart reuses the same port and data directory. A job
kill can be timed to the moments that matter for exactly-once: right after a new bronze
commit appears (Delta has the batch, the checkpoint does not yet say so: the replay must
be skipped by txnVersion) or while a planned batch is still running. Besides crashes: records
broken in every way a producer can break them, and copies of recent records (a producer's
retry after a lost answer), all written straight to the stream.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from streaming.contract import rfc3339
from streaming.kinesis import kinesis_client, list_shard_ids, put_records
from streaming.lake import tables
from streaming.lake.read import latest_version
from streaming.local.stack import LocalStack
from streaming.settings import Settings
from streaming.stream.backlog import committed_batch, committed_positions, measure
from streaming.stream.status import EXIT_CHECKPOINT_BUSY, checkpoint_held
from streaming.tools.common import wait_until

JOB_KILL_MODES = ("after_delta_commit", "mid_batch", "random")
BAD_KEY_PREFIX = "bad-"


@dataclass(frozen=True)
class BatchState:
    """Where the stream job was at one moment: the last batch planned (offset log), the last
    committed (commit log), and the last batch whose bronze write Delta holds (its txn)."""

    planned: int | None
    committed: int | None
    in_bronze: int | None
    bronze_version: int

    @property
    def moment(self) -> str:
        if self.planned is None or self.planned == self.committed:
            return "between batches"
        if self.in_bronze == self.planned:
            return "after the bronze commit, before the checkpoint commit"
        return "batch running, before its bronze commit"


def _last_txn(bronze_uri: str, version: int) -> int | None:
    """The batch id of the newest bronze commit written by the stream job."""
    log = Path(bronze_uri) / "_delta_log"
    for v in range(version, max(-1, version - 20), -1):
        try:
            lines = (log / f"{v:020d}.json").read_text().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            action = json.loads(line)
            if "txn" in action:
                return int(action["txn"]["version"])
    return None


def batch_state(settings: Settings) -> BatchState:
    offsets = Path(settings.bronze_checkpoint_uri) / "offsets"
    planned = sorted(int(p.name) for p in offsets.iterdir() if p.name.isdigit()) \
        if offsets.is_dir() else []
    version = latest_version(tables.BRONZE.uri(settings))
    return BatchState(planned[-1] if planned else None,
                      committed_batch(settings.bronze_checkpoint_uri),
                      _last_txn(tables.BRONZE.uri(settings), version), version)


def kill_job(stack: LocalStack, mode: str, rng: random.Random, timeout: float = 60.0) -> dict:
    """SIGKILL the stream job at the moment `mode` asks for; returns what the kill caught."""
    settings = stack.settings
    if mode == "after_delta_commit":
        following = Path(tables.BRONZE.uri(settings)) / "_delta_log" / \
            f"{latest_version(tables.BRONZE.uri(settings)) + 1:020d}.json"
        timed = wait_until(following.exists, timeout, every=0.005)
    elif mode == "mid_batch":
        def running() -> bool:
            state = batch_state(settings)
            return state.planned not in (None, state.committed, state.in_bronze)
        timed = wait_until(running, timeout, every=0.02)
        time.sleep(rng.uniform(0, 0.3))
    else:
        timed = True
    stack.kill("job")
    state = batch_state(settings)
    return {"mode": mode, "timed": timed, "caught": state.moment, "state": asdict(state)}


def restart_job(stack: LocalStack, timeout: float = 600.0) -> dict:
    """Starts the continuous job again, as an operator would: while a catch-up holds the
    checkpoint, waits for it. Returns once the batch the crash interrupted has been replayed
    and committed, so the next fault meets a job in its normal stride."""
    started = time.monotonic()
    interrupted = batch_state(stack.settings).planned
    waited_for_catch_up = 0.0
    while True:
        mark = time.monotonic()
        if not wait_until(lambda: not checkpoint_held(stack.settings), timeout, every=1.0):
            raise TimeoutError(f"the checkpoint stayed locked for {timeout:.0f}s")
        waited_for_catch_up += time.monotonic() - mark
        try:
            stack.start_job(timeout=timeout)
            break
        except RuntimeError:
            if stack.processes["job"].returncode != EXIT_CHECKPOINT_BUSY:
                raise
            stack.processes.pop("job")
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the stream job did not start within {timeout:.0f}s")
    running = time.monotonic()

    def replayed() -> bool:
        committed = batch_state(stack.settings).committed
        return committed is not None and committed >= interrupted

    if interrupted is not None and not wait_until(replayed, timeout, every=0.5):
        raise TimeoutError(f"the restarted job did not commit batch {interrupted} in {timeout:.0f}s")
    return {"restart_s": round(running - started, 1),
            "replayed_s": round(time.monotonic() - running, 1),
            "waited_for_catch_up_s": round(waited_for_catch_up, 1)}


def backlog_records(settings: Settings, cap: int = 100_000) -> int:
    """Records in the stream after the job's last committed batch (capped)."""
    return measure(kinesis_client(settings), settings.stream_name,
                   committed_positions(settings.bronze_checkpoint_uri), cap).records


@dataclass(frozen=True)
class BadRecord:
    """A record written straight to the stream (a misbehaving producer, a replay tool): a
    UUID makes it unique (and is its event_id where it has one), `reason` is the rule it
    must be quarantined for."""

    marker: str
    kind: str
    data: bytes
    reason: str


def bad_records(rng: random.Random) -> list[BadRecord]:
    """One of each way a record can be broken past the handler, each marked by a UUID."""
    now = rfc3339(datetime.now(UTC), "milliseconds")

    def event(marker: str, **extra) -> dict:
        return {"event_id": marker, "event_type": "page_view", "event_time": now,
                "anonymous_id": f"{BAD_KEY_PREFIX}{marker[:8]}", "session_id": "bad-session",
                "page_url": "https://shop.example.com/", "schema_version": 1, **extra}

    made = []
    for kind in ("not_json", "truncated_json", "json_array", "binary", "json_not_utf8",
                 "bypassed_handler", "wrong_schema_version", "oversized"):
        marker = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        data, reason = {
            "not_json": (f"fault {marker}: this is not json".encode(), "malformed_json"),
            "truncated_json": (f'{{"event_id": "{marker}", "event_type": '.encode(),
                               "malformed_json"),
            "json_array": (orjson.dumps([marker, 1, 2]), "malformed_json"),
            "binary": (b"\xff\xfe\x00\x81" + marker.encode() + b"\xc3\x28", "malformed_json"),
            "json_not_utf8": (orjson.dumps(event(marker, received_at=now)).replace(
                b'"bad-session"', b'"bad-\xff\xfe-session"'), "malformed_json"),
            "bypassed_handler": (orjson.dumps(event(marker)), "received_at"),
            "wrong_schema_version": (orjson.dumps(event(marker, received_at=now, schema_version=2)),
                                     "schema_version"),
            "oversized": (orjson.dumps(event(marker, received_at=now,
                                             properties={"blob": "x" * 900_000})), "properties"),
        }[kind]
        made.append(BadRecord(marker, kind, data, reason))
    return made


def _put_all(settings: Settings, records: list[tuple[str, bytes]], timeout: float) -> None:
    """Writes (partition key, data) records, retrying those the endpoint did not take."""
    client = kinesis_client(settings)
    pending = records
    deadline = time.monotonic() + timeout
    while pending:
        outcome = put_records(client, settings.stream_name, pending)
        pending = [r for r, error in zip(pending, outcome.errors, strict=True) if error]
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} records could not be written to the stream")
        if pending:
            time.sleep(1)


def inject(settings: Settings, records: list[BadRecord], timeout: float = 120.0) -> None:
    _put_all(settings, [(f"{BAD_KEY_PREFIX}{r.marker[:8]}", r.data) for r in records], timeout)


def _batch_end(settings: Settings, batch: int) -> dict[str, str | None]:
    """Per shard, the last sequence number a planned batch reads up to (its offset log)."""
    text = (Path(settings.bronze_checkpoint_uri) / "offsets" / str(batch)).read_text()
    return dict(json.loads(text.splitlines()[2])["shards"])


def _last_batch_with_records(settings: Settings) -> dict[str, str | None]:
    """The start positions of the newest committed batch that read records.

    The dedup watermark makes Spark run no-data batches that repeat the previous batch's
    offsets, so the last committed batch alone may have read nothing. Before the first batch
    it is the stream's start; past the offsets Spark keeps, the records after the newest
    batch (copies still within the dedup window of their originals).
    """
    batch = committed_batch(settings.bronze_checkpoint_uri)
    offsets = Path(settings.bronze_checkpoint_uri) / "offsets"
    while batch:
        if not (offsets / str(batch - 1)).exists():
            return _batch_end(settings, batch)
        start = _batch_end(settings, batch - 1)
        if start != _batch_end(settings, batch):
            return start
        batch -= 1
    return {}


def duplicate_recent(settings: Settings, per_shard: int = 250, timeout: float = 120.0) -> int:
    """Writes the handler's records of the job's last committed batch that read any to the
    stream again, as a producer does when it retries a PutRecords whose answer it lost:
    at-least-once delivery, within the job's dedup window of the first copies."""
    start = _last_batch_with_records(settings)
    client = kinesis_client(settings)
    copies = []
    for shard in sorted(list_shard_ids(client, settings.stream_name)):
        after = start.get(shard)
        position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after} \
            if after else {"ShardIteratorType": "TRIM_HORIZON"}
        iterator = client.get_shard_iterator(StreamName=settings.stream_name, ShardId=shard,
                                             **position)["ShardIterator"]
        records = client.get_records(ShardIterator=iterator, Limit=per_shard)["Records"]
        copies += [(r["PartitionKey"], r["Data"]) for r in records
                   if not r["PartitionKey"].startswith(BAD_KEY_PREFIX)]
    _put_all(settings, copies, timeout)
    return len(copies)
