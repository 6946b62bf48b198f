"""A quarantine table written before aggregated records (no `kinesis_record_index`) is
upgraded in place by the job's `ensure_tables`, keeps its rows, and takes the new batches."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from streaming.lake import tables
from streaming.lake.delta import quarantine_target
from streaming.stream.job import ensure_tables
from tests.conftest import isolated_settings

pytestmark = [pytest.mark.slow]


def test_an_old_quarantine_table_gets_the_record_index_column_and_keeps_its_rows(tmp_path):
    settings = isolated_settings(tmp_path)
    when = datetime(2026, 11, 25, 10, tzinfo=UTC)
    old = pa.table({
        "raw_record": ["not json"], "reason": ["malformed_json: record is not a JSON object"],
        "event_id": pa.array([None], pa.string()), "kinesis_shard_id": ["shardId-000000000000"],
        "kinesis_sequence_number": ["49000"], "kinesis_arrival_time": [when],
        "quarantined_at": [when], "quarantine_date": [date(2026, 11, 25)]})
    write_deltalake(tables.QUARANTINE.uri(settings), old, partition_by=["quarantine_date"])

    ensure_tables(settings)

    table = DeltaTable(tables.QUARANTINE.uri(settings))
    schema = pa.schema(table.schema().to_arrow())
    assert schema.field("kinesis_record_index").type == pa.int32()
    rows = table.to_pyarrow_dataset().to_table().to_pylist()
    assert [(r["raw_record"], r["kinesis_record_index"]) for r in rows] == [("not json", None)]
    target = quarantine_target(settings)
    batch = pa.Table.from_pylist([{**rows[0], "kinesis_sequence_number": "49001",
                                   "kinesis_record_index": 3}],
                                 schema=schema)
    assert target.append(batch, "upgrade-test", 0)
    indexes = DeltaTable(tables.QUARANTINE.uri(settings)).to_pyarrow_dataset().to_table(
        columns=["kinesis_record_index"]).column(0).to_pylist()
    assert sorted(indexes, key=lambda i: -1 if i is None else i) == [None, 3]
