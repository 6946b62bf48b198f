"""The counts a fault run is judged by, read from what a user would read.

bronze and quarantine are read with delta-rs (not the Spark that wrote them), the stream
with GetRecords from its first record. A run passes when every acknowledged event_id is in
bronze exactly once, no rejected event is there, nothing unacknowledged is there, and
quarantine holds exactly the records written past the handler, byte for byte, each once and
with the reason it was broken for.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson

from streaming.kinesis import kinesis_client, list_shard_ids
from streaming.lake import tables
from streaming.lake.read import commits_since, read_columns
from streaming.records import events_of
from streaming.settings import Settings
from streaming.stream.transforms import BINARY_PREFIX
from streaming.tools.faults.inject import BadRecord

UUID_IN_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Sent:
    """What the client was told: acknowledged ids and (id, reason) of rejected events."""

    acknowledged: list[str]
    rejected: list[tuple[str, str]]

    @classmethod
    def read(cls, *outs: Path) -> Sent:
        acknowledged: list[str] = []
        rejected: list[tuple[str, str]] = []
        for out in outs:
            acknowledged += (out / "acknowledged.ids").read_text().split()
            for line in (out / "rejected.tsv").read_text().splitlines():
                event_id, _, reason = line.partition("\t")
                rejected.append((event_id, reason))
        return cls(acknowledged, rejected)


def bronze_counts(settings: Settings) -> Counter:
    return Counter(read_columns(tables.BRONZE.uri(settings), ["event_id"])["event_id"].to_pylist())


def wait_for_bronze(settings: Settings, acknowledged: set[str], timeout: float,
                    progress=None) -> float | None:
    """Polls bronze until it holds every acknowledged id; the moment it did, or None."""
    deadline = time.monotonic() + timeout
    last_report = 0.0
    while time.monotonic() < deadline:
        found = len(acknowledged & bronze_counts(settings).keys())
        if found == len(acknowledged):
            return time.time()
        if progress and time.monotonic() - last_report > 10:
            progress(f"  bronze holds {found:,} of {len(acknowledged):,} acknowledged events")
            last_report = time.monotonic()
        time.sleep(2)
    return None


def raw_bytes(raw_record: str | None) -> bytes:
    """A quarantined record's bytes: its text, or the bytes behind the base64: prefix that
    the job uses for records that are not UTF-8."""
    if raw_record is None:
        return b""
    if raw_record.startswith(BINARY_PREFIX):
        return base64.b64decode(raw_record.removeprefix(BINARY_PREFIX))
    return raw_record.encode()


def quarantined(settings: Settings) -> list[tuple[bytes, str]]:
    """Per quarantine row: the record's bytes as the stream held them, and its reason."""
    rows = read_columns(tables.QUARANTINE.uri(settings), ["raw_record", "reason"]).to_pylist()
    return [(raw_bytes(r["raw_record"]), r["reason"]) for r in rows]


def wait_for_quarantine(settings: Settings, records: set[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if records <= {data for data, _ in quarantined(settings)}:
            return
        time.sleep(2)


def stream_census(settings: Settings) -> dict:
    """Every record in the stream from its start: how many, and how often each event_id was
    written, aggregates counted by the events they hold (an id written twice is a retried
    request the gateway had already written before it died or answered 503)."""
    client = kinesis_client(settings)
    ids: Counter = Counter()
    records = 0
    for shard in sorted(list_shard_ids(client, settings.stream_name)):
        iterator = client.get_shard_iterator(StreamName=settings.stream_name, ShardId=shard,
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            response = client.get_records(ShardIterator=iterator, Limit=10_000)
            for record in response["Records"]:
                records += 1
                try:
                    held = events_of(record["Data"])
                except orjson.JSONDecodeError:
                    continue
                ids.update(e.get("event_id") for e in held if isinstance(e, dict))
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return {"records": records, "ids": ids}


def bronze_batches(settings: Settings) -> dict:
    """Bronze commits of the stream job and the batch ids (txnVersion) they carry: a batch
    committed twice would show up as a repeated id."""
    log = Path(tables.BRONZE.uri(settings)) / "_delta_log"
    batches: Counter = Counter()
    for commit in commits_since(tables.BRONZE.uri(settings), -1):
        for line in (log / f"{commit.version:020d}.json").read_text().splitlines():
            action = json.loads(line)
            if "txn" in action:
                batches[action["txn"]["version"]] += 1
    return {"commits_with_batch_id": sum(batches.values()), "distinct_batch_ids": len(batches),
            "batches_committed_twice": sum(1 for n in batches.values() if n > 1)}


def verify(settings: Settings, sent: Sent, bad: list[BadRecord]) -> dict:
    """The run's verdict: the exact counts, and `passed`."""
    counts = bronze_counts(settings)
    acknowledged = Counter(sent.acknowledged)
    in_bronze = sum(1 for i in acknowledged if counts.get(i))
    rejected_ids = {i for i, _ in sent.rejected if UUID_IN_TEXT.fullmatch(i or "")}
    expected = {b.data: b for b in bad}
    stored = quarantined(settings)
    seen = Counter(data for data, _ in stored)
    wrong_reason = [{"kind": expected[data].kind, "reason": reason} for data, reason in stored
                    if data in expected and reason.split(":")[0] != expected[data].reason]
    census = stream_census(settings)
    stream_twice = sum(1 for i in acknowledged if census["ids"].get(i, 0) > 1)
    result = {
        "acknowledged": len(acknowledged),
        "acknowledged_twice_by_client": sum(n - 1 for n in acknowledged.values()),
        "in_bronze": in_bronze,
        "lost": len(acknowledged) - in_bronze,
        "doubled": sum(n - 1 for n in counts.values()),
        "in_bronze_never_acknowledged": len(counts.keys() - acknowledged.keys()),
        "rejected": len(sent.rejected),
        "rejected_in_bronze": len(rejected_ids & counts.keys()),
        "bronze_rows": sum(counts.values()),
        "stream_records": census["records"],
        "acknowledged_written_to_stream_more_than_once": stream_twice,
        "quarantine_expected": len(bad),
        "quarantine_found_once": sum(1 for data in expected if seen[data] == 1),
        "quarantine_missing": sum(1 for data in expected if not seen[data]),
        "quarantine_doubled": sum(seen[data] - 1 for data in expected if seen[data] > 1),
        "quarantine_unexpected_rows": sum(n for data, n in seen.items() if data not in expected),
        "quarantine_wrong_reason": wrong_reason,
        "quarantine_by_kind": dict(Counter(b.kind for b in bad)),
        **bronze_batches(settings),
    }
    result["passed"] = (
        result["lost"] == 0 and result["doubled"] == 0 and result["acknowledged_twice_by_client"] == 0
        and result["in_bronze_never_acknowledged"] == 0 and result["rejected_in_bronze"] == 0
        and result["quarantine_found_once"] == len(bad) and result["quarantine_unexpected_rows"] == 0
        and not wrong_reason and result["batches_committed_twice"] == 0
    )
    return result
