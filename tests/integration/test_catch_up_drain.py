"""A catch-up (`--trigger available-now`) drains a backlog larger than one batch, and stops.

Spark's own available-now trigger would stop after the Python source's first read (one
batch of at most CLICKSTREAM_CATCH_UP_RECORDS_PER_SHARD records per shard); the job drains in
as many batches as the backlog needs, on the real kinesalite, Spark and Delta, across a
reshard too.
"""

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from streaming.kinesis import ensure_stream, kinesis_client, put_records
from streaming.lake import tables
from streaming.lake.read import read_columns
from streaming.local.stack import LocalStack
from streaming.stream.status import PROGRESS_LOG
from streaming.tools.bench.runs import enriched_records
from tests.conftest import isolated_settings

pytestmark = [pytest.mark.slow, pytest.mark.spark]

BACKLOG = 600
PER_SHARD = 2  # records: the 600 events are ~13 aggregated records


def caught_up(settings, write: Callable[[Any, list[tuple[str, bytes]]], None]
              ) -> tuple[list[str], list[tuple[str, bytes]]]:
    """The backlog's records written by `write(client, records)` to a private kinesalite, then
    drained by a catch-up; the event ids in bronze and the records."""
    stack = LocalStack(settings)
    try:
        stack.start_kinesis()
        records = enriched_records(BACKLOG, settings)
        write(kinesis_client(settings), records)
        job = stack.start_job(trigger="available-now")
        assert job.wait(timeout=600) == 0, (stack.log_dir / "job.log").read_text()[-4000:]
    finally:
        stack.stop()
    return read_columns(tables.BRONZE.uri(settings), ["event_id"])["event_id"].to_pylist(), records


def test_a_catch_up_drains_a_backlog_of_many_batches_then_stops(tmp_path):
    settings = replace(isolated_settings(tmp_path), catch_up_records_per_shard=PER_SHARD)

    def write(client, records) -> None:
        assert put_records(client, settings.stream_name, records).failed == 0

    ids, records = caught_up(settings, write)
    assert len(ids) == len(set(ids)) == BACKLOG
    batches = [json.loads(line) for line in (settings.state_dir / PROGRESS_LOG).open()]
    assert all(b["numInputRows"] <= 2 * PER_SHARD for b in batches)
    assert sum(b["numInputRows"] for b in batches) == len(records)
    assert len(batches) >= len(records) // (2 * PER_SHARD)


def test_a_catch_up_reads_a_split_shards_children_after_its_backlog(tmp_path):
    """The parent's last batch is short (or empty, when it only finds the shard's end), and
    its children, read from the batch after it, hold the rest of the backlog: a catch-up that
    stopped on that batch would leave them unread."""
    settings = replace(isolated_settings(tmp_path, shard_count=1),
                       catch_up_records_per_shard=PER_SHARD)

    def write_across_a_split(client, records) -> None:
        before_split = len(records) // 2 | 1  # odd: the parent's last read is short
        assert put_records(client, settings.stream_name, records[:before_split]).failed == 0
        [parent] = client.list_shards(StreamName=settings.stream_name)["Shards"]
        client.split_shard(StreamName=settings.stream_name, ShardToSplit=parent["ShardId"],
                           NewStartingHashKey=str(int(parent["HashKeyRange"]["EndingHashKey"]) // 2))
        ensure_stream(client, settings.stream_name, 1)  # waits until the split is done
        assert put_records(client, settings.stream_name, records[before_split:]).failed == 0

    ids, _ = caught_up(settings, write_across_a_split)
    assert len(ids) == len(set(ids)) == BACKLOG
