"""`clickstream restore`: time travel as the way back from a bad deploy.

On bronze written by the real stream job: the command refuses while the job runs, restores
after a bad write once it is stopped (delta-rs sees exactly the good rows, the bad version
stays readable by time travel) and the restarted job goes on appending. On any other table
of the lake: restore by timestamp, and clear errors for what cannot be restored.
"""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

from streaming.cli import main as cli
from streaming.erased import ErasedIds
from streaming.ingest.events import ingest
from streaming.ingest.http import write_now
from streaming.kinesis import ensure_stream, kinesis_client
from streaming.lake import tables
from streaming.local.stack import LocalStack, stop_process
from streaming.tools.faults.verify import bronze_counts, wait_for_bronze
from tests.conftest import isolated_settings

pytestmark = [pytest.mark.slow, pytest.mark.spark]


@pytest.fixture
def lake_env(monkeypatch):
    """The CLI reads its settings from the environment, as a user's shell would give them."""

    def point_at(settings) -> None:
        for key, value in settings.to_env().items():
            monkeypatch.setenv(key, value)

    return point_at


def send(settings, n: int) -> set[str]:
    events = [{"event_id": str(uuid.uuid4()), "event_type": "page_view",
               "event_time": datetime.now(UTC).isoformat(), "anonymous_id": f"r-{i}",
               "session_id": "r", "page_url": "https://shop.example.com/"} for i in range(n)]
    answer = write_now(ingest({"content-type": "application/json", "user-agent": "restore-test"},
                              orjson.dumps({"events": events}), "192.0.2.1", settings,
                              ErasedIds(settings)), kinesis_client(settings), settings.stream_name)
    assert answer["statusCode"] == 200, answer["body"]
    return {e["event_id"] for e in events}


def test_restore_bronze_after_a_bad_deploy(kinesis, spark, tmp_path, lake_env, capsys):
    settings = replace(kinesis.settings, home=tmp_path, lake_uri=str(tmp_path / "lake"),
                       checkpoint_uri=str(tmp_path / "checkpoints"),
                       stream_name=f"restore-{uuid.uuid4().hex[:8]}")
    ensure_stream(kinesis_client(settings), settings.stream_name, settings.shard_count)
    lake_env(settings)
    stack = LocalStack(settings)
    try:
        job = stack.start_job()
        good = send(settings, 40)
        assert wait_for_bronze(settings, good, timeout=600)
        good_version = DeltaTable(tables.BRONZE.uri(settings)).version()

        assert cli(["restore", "--table", "bronze", "--version", "0", "--yes"]) == 2
        refusal = capsys.readouterr().err
        assert "refusing to restore bronze while the stream job writes it" in refusal
        assert f"pid {job.pid}" in refusal
        assert DeltaTable(tables.BRONZE.uri(settings)).version() == good_version

        stop_process(stack.processes.pop("job"))
        bad_deploy = (spark.read.format("delta").load(tables.BRONZE.uri(settings)).limit(25)
                      .withColumn("event_id", F.expr("uuid()"))
                      .withColumn("event_type", F.lit("PAGE_VIEW")))
        bad_deploy.write.format("delta").mode("append").save(tables.BRONZE.uri(settings))
        bad_version = DeltaTable(tables.BRONZE.uri(settings)).version()
        assert len(bronze_counts(settings)) == 65

        assert cli(["restore", "--table", "bronze", "--version", str(good_version), "--yes"]) == 0
        out = capsys.readouterr().out
        assert f"version {bad_version} (65 rows)" in out and "(40 rows)" in out
        restored = DeltaTable(tables.BRONZE.uri(settings))
        assert restored.version() == bad_version + 1
        assert restored.history(1)[0]["operation"] == "RESTORE"
        assert set(bronze_counts(settings)) == good
        assert spark.read.format("delta").load(tables.BRONZE.uri(settings)).count() == 40
        assert DeltaTable(tables.BRONZE.uri(settings), version=bad_version).count() == 65

        stack.start_job()
        more = send(settings, 10)
        assert wait_for_bronze(settings, good | more, timeout=600)
        counts = bronze_counts(settings)
        assert set(counts) == good | more and set(counts.values()) == {1}
    finally:
        stack.stop()


def test_restore_any_lake_table_by_timestamp(spark, tmp_path, lake_env, capsys):
    settings = isolated_settings(tmp_path)
    lake_env(settings)
    uri = f"{settings.lake_uri}/silver/sessions"
    moments = []
    for n in (3, 5, 7):
        spark.range(n).write.format("delta").mode("overwrite").save(uri)
        moments.append(datetime.fromtimestamp(DeltaTable(uri).history(1)[0]["timestamp"] / 1000, UTC))
    between = moments[0] + (moments[1] - moments[0]) / 2

    assert cli(["restore", "--table", "silver/sessions", "--history"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("WRITE") == 3 and "         3" in listing

    assert cli(["restore", "--table", "silver/sessions", "--timestamp", between.isoformat(),
                "--yes"]) == 0
    assert DeltaTable(uri).count() == 3 and DeltaTable(uri).version() == 3

    earliest = (moments[0] - timedelta(hours=1)).isoformat()
    for args, message in (
        (["--version", "42"], "version 42 is not in the table's history"),
        (["--timestamp", earliest], "no version of the table was committed by"),
        (["--timestamp", "yesterday"], "is not ISO-8601"),
    ):
        assert cli(["restore", "--table", "silver/sessions", *args, "--yes"]) == 2
        assert message in capsys.readouterr().err
    assert cli(["restore", "--table", "../elsewhere", "--version", "0", "--yes"]) == 2
    assert "a path inside the lake" in capsys.readouterr().err
    assert cli(["restore", "--table", "gold/missing", "--version", "0", "--yes"]) == 2
    assert "no Delta table at" in capsys.readouterr().err
    assert cli(["restore", "--table", "silver/sessions", "--version", "0"]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert DeltaTable(uri).version() == 3
