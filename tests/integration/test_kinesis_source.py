"""The stream job's Kinesis source, read batch by batch on the real kinesalite (no Spark).

Reads run ahead in a background thread per shard; these tests hold that to what a direct
read returns: every record once, in order, a shard's part of a batch short of the cap only
at the shard's tip (a catch-up stops on the first batch that is not full), and a start from
any checkpointed position (a restart) reading exactly what follows it.
"""

import time
import uuid
from collections import Counter

import boto3
import orjson
import pyarrow as pa
import pytest

from streaming.kinesis import ensure_stream, kinesis_client, put_records
from streaming.records import aggregate
from streaming.stream.source import ARROW_SCHEMA, KinesisStreamReader

pytestmark = pytest.mark.slow

CAP = 25


@pytest.fixture
def stream(kinesis):
    name = f"src-{uuid.uuid4().hex[:8]}"
    ensure_stream(kinesis_client(kinesis.settings), name, 2)
    return kinesis.settings, name


def reader(settings, name: str) -> KinesisStreamReader:
    return KinesisStreamReader({"streamname": name, "endpointurl": settings.kinesis_endpoint_url,
                                "region": settings.region, "mode": settings.mode,
                                "maxrecordspershard": str(CAP), "idlesleepms": "20"})


def put(settings, name: str, values: range) -> None:
    records = [(f"visitor-{i % 7}", f"record-{i}".encode()) for i in values]
    assert put_records(kinesis_client(settings), name, records).failed == 0


def read_all(source: KinesisStreamReader, offset: dict, expected: int
             ) -> tuple[list[str], dict, list[dict[str, int]]]:
    """Reads batch after batch until `expected` records came back (or 30 s passed); returns
    the records, the last offset, and each batch's record count per shard."""
    seen, per_shard, deadline = [], [], time.monotonic() + 30
    while len(seen) < expected and time.monotonic() < deadline:
        batches, offset = source.read(offset)
        table = pa.Table.from_batches(list(batches), schema=ARROW_SCHEMA)
        per_shard.append(Counter(table["shard_id"].to_pylist()))
        seen += [data.decode() for data in table["data"].to_pylist()]
    return seen, offset, per_shard


def test_batches_hold_every_record_once_in_shard_order_and_respect_the_cap(stream):
    settings, name = stream
    put(settings, name, range(200))
    source = reader(settings, name)
    seen, offset, per_shard = read_all(source, source.initialOffset(), 200)
    assert sorted(seen) == sorted(f"record-{i}" for i in range(200))
    for shard in set().union(*per_shard):
        counts = [batch[shard] for batch in per_shard]
        total = sum(counts)
        full, rest = divmod(total, CAP)
        assert counts[:full + bool(rest)] == [CAP] * full + ([rest] if rest else []), (
            "a batch is short of the cap only when it reached the shard's tip")
    per_visitor = [int(r.split("-")[1]) for r in seen if int(r.split("-")[1]) % 7 == 3]
    assert per_visitor == sorted(per_visitor), "one partition key keeps its order"
    put(settings, name, range(200, 230))
    more, _, _ = read_all(source, offset, 30)
    assert sorted(more) == sorted(f"record-{i}" for i in range(200, 230))


def test_a_restart_from_a_checkpointed_offset_reads_exactly_what_follows_it(stream):
    settings, name = stream
    put(settings, name, range(120))
    first = reader(settings, name)
    head, offset, _ = read_all(first, first.initialOffset(), 50)
    restarted = reader(settings, name)
    tail, _, _ = read_all(restarted, offset, 120 - len(head))
    assert sorted(head + tail) == sorted(f"record-{i}" for i in range(120))
    assert len(head + tail) == 120



def test_records_come_out_as_the_stream_holds_them_compressed_ones_compressed(stream):
    """Spark moves what the stream holds; the sink inflates (streaming/stream/transforms.py)."""
    settings, name = stream
    events = [("visitor-1", orjson.dumps({"event_id": f"e{n}", "page": "/" * 40})) for n in range(30)]
    [compressed] = aggregate(events)
    corrupt = compressed.data[:-8]
    records = [("visitor-1", compressed.data), ("visitor-2", corrupt), ("visitor-3", b"plain")]
    assert put_records(kinesis_client(settings), name, records).failed == 0
    source, data = reader(settings, name), []
    offset, deadline = source.initialOffset(), time.monotonic() + 30
    while len(data) < 3 and time.monotonic() < deadline:
        batches, offset = source.read(offset)
        data += pa.Table.from_batches(list(batches), schema=ARROW_SCHEMA)["data"].to_pylist()
    assert sorted(data) == sorted([compressed.data, corrupt, b"plain"])


def wait_active(client, name: str) -> None:
    deadline = time.monotonic() + 30
    while client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, "the stream stayed UPDATING"
        time.sleep(0.1)


def counting_reads(source: KinesisStreamReader) -> Counter:
    """GetRecords calls per shard, counted on the reader's own call."""
    calls: Counter = Counter()
    get = source._get

    def counted(shard, after, limit):
        calls[shard] += 1
        return get(shard, after, limit)

    source._get = counted
    return calls


def batches_until(source: KinesisStreamReader, offset: dict, expected: int
                  ) -> tuple[list[list[tuple[str, str]]], dict]:
    """(shard, data) of each batch until `expected` records came back and, after that, three
    more batches (idle); the last offset."""
    batches, deadline, idle = [], time.monotonic() + 30, 0
    while idle < 3 and time.monotonic() < deadline:
        read, offset = source.read(offset)
        table = pa.Table.from_batches(list(read), schema=ARROW_SCHEMA)
        batches.append(list(zip(table["shard_id"].to_pylist(),
                                [d.decode() for d in table["data"].to_pylist()], strict=True)))
        idle += sum(map(len, batches)) >= expected
    return batches, offset


def test_after_a_split_children_are_read_once_the_parent_is_finished_and_it_is_not_polled_again(
        kinesis):
    settings, client = kinesis.settings, kinesis_client(kinesis.settings)
    name = f"split-{uuid.uuid4().hex[:8]}"
    ensure_stream(client, name, 1)
    put(settings, name, range(60))
    [parent] = client.list_shards(StreamName=name)["Shards"]
    middle = str(int(parent["HashKeyRange"]["EndingHashKey"]) // 2)
    client.split_shard(StreamName=name, ShardToSplit=parent["ShardId"], NewStartingHashKey=middle)
    wait_active(client, name)
    put(settings, name, range(60, 120))
    source = reader(settings, name)
    calls = counting_reads(source)

    batches, offset = batches_until(source, source.initialOffset(), 120)

    read = [data for batch in batches for _, data in batch]
    assert sorted(read) == sorted(f"record-{i}" for i in range(120)) and len(set(read)) == 120
    shards = [{shard for shard, _ in batch} for batch in batches]
    last_parent = max(n for n, found in enumerate(shards) if parent["ShardId"] in found)
    first_child = min(n for n, found in enumerate(shards) if found - {parent["ShardId"]})
    assert last_parent < first_child, "a child was read before its parent was finished"
    assert offset["finished"] == [parent["ShardId"]]
    polls = calls[parent["ShardId"]]
    batches_until(source, offset, 0)
    assert calls[parent["ShardId"]] == polls, "a finished shard was polled again"


def test_after_a_merge_the_child_waits_for_both_parents(kinesis):
    settings, client = kinesis.settings, kinesis_client(kinesis.settings)
    name = f"merge-{uuid.uuid4().hex[:8]}"
    ensure_stream(client, name, 2)
    put(settings, name, range(80))
    first, second = sorted(s["ShardId"] for s in client.list_shards(StreamName=name)["Shards"])
    client.merge_shards(StreamName=name, ShardToMerge=first, AdjacentShardToMerge=second)
    wait_active(client, name)
    put(settings, name, range(80, 100))
    source = reader(settings, name)

    batches, offset = batches_until(source, source.initialOffset(), 100)

    read = [data for batch in batches for _, data in batch]
    assert sorted(read) == sorted(f"record-{i}" for i in range(100))
    parents = {first, second}
    last_parent = max(n for n, batch in enumerate(batches) if {s for s, _ in batch} & parents)
    first_child = min(n for n, batch in enumerate(batches) if {s for s, _ in batch} - parents)
    assert last_parent < first_child
    assert offset["finished"] == sorted(parents)
    restarted, _ = batches_until(reader(settings, name), offset, 0)
    assert [data for batch in restarted for _, data in batch] == [], "a restart read twice"


def test_a_batch_holds_at_most_its_budget_however_many_shards_the_stream_has(kinesis):
    """The budget is shared: 8 shards of at most 25 records each would make 200 a batch."""
    settings = kinesis.settings
    name = f"wide-{uuid.uuid4().hex[:8]}"
    ensure_stream(kinesis_client(settings), name, 8)
    put(settings, name, range(200))
    source = KinesisStreamReader({"streamname": name, "endpointurl": settings.kinesis_endpoint_url,
                                  "region": settings.region, "mode": settings.mode,
                                  "maxrecordspershard": "25",
                                  "maxrecordsperbatch": "40", "idlesleepms": "20"})
    seen, _, per_shard = read_all(source, source.initialOffset(), 200)
    assert sorted(seen) == sorted(f"record-{i}" for i in range(200))
    assert max(sum(batch.values()) for batch in per_shard) <= 40
    assert max(n for batch in per_shard for n in batch.values()) == 40 // 8


def signing_keys(client) -> list[str]:
    """The access key ids a client signs its requests with, as the endpoint receives them
    (SigV4's `Credential=<key id>/...`)."""
    keys: list[str] = []

    def record(request, **_) -> None:
        keys.append(request.headers["Authorization"].decode().split("Credential=")[1].split("/")[0])

    client.meta.events.register("before-send.kinesis", record)
    return keys


def test_aws_mode_signs_with_the_credential_chain_whatever_endpoint_it_is_given(kinesis,
                                                                                monkeypatch):
    """An endpoint in AWS mode (a FIPS or VPC endpoint's name, an AWS-compatible server) is
    still AWS: the gateway's, Dagster's and the job's clients sign with the SDK's credentials,
    not the keys embedded mode gives kinesalite."""
    from dataclasses import replace

    from streaming.kinesis import EMBEDDED_CREDENTIALS
    from streaming.stream.source import _client

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMTHECHAIN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    # boto3's default session keeps the credentials it first found (another test's): this
    # test's clients start from a new one, as a fresh process's would.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    embedded = kinesis.settings
    aws = replace(embedded, mode="aws")
    options = {"endpointurl": embedded.kinesis_endpoint_url, "region": embedded.region}
    clients = {"embedded": kinesis_client(embedded), "aws": kinesis_client(aws),
               "embedded source": _client({**options, "mode": "embedded"}),
               "aws source": _client({**options, "mode": "aws"})}
    signed = {}
    for name, client in clients.items():
        keys = signing_keys(client)
        assert client.list_streams()["ResponseMetadata"]["HTTPStatusCode"] == 200
        signed[name] = set(keys)
    embedded_key = EMBEDDED_CREDENTIALS["aws_access_key_id"]
    assert signed == {"embedded": {embedded_key}, "aws": {"AKIDFROMTHECHAIN"},
                      "embedded source": {embedded_key}, "aws source": {"AKIDFROMTHECHAIN"}}
