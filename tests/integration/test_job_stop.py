"""A stream job told to stop, stops: SIGTERM (what `clickstream stack` and the demo send when
they end; Ctrl-C's SIGINT alike) ends its query from the job's main thread after the batch in
flight, and the job exits 0 with its status "stopped" and no trace in its log.

Before, the signal handler called Spark from inside the main thread's pending call to the JVM
(py4j: "reentrant call inside BufferedReader"), and the JVM, signalled with its group, ended
the query under it: every stop was a crash, with the status left at "running"."""

import pytest

from streaming.kinesis import kinesis_client, put_records
from streaming.lake import tables
from streaming.lake.read import read_columns
from streaming.local.stack import LocalStack
from streaming.stream.status import read_status
from streaming.tools.bench.runs import enriched_records
from streaming.tools.common import wait_until
from tests.conftest import isolated_settings

pytestmark = [pytest.mark.slow, pytest.mark.spark]

EVENTS = 300


def test_a_signalled_job_stops_its_query_and_exits_cleanly(tmp_path):
    settings = isolated_settings(tmp_path)
    stack = LocalStack(settings)
    try:
        stack.start_kinesis()
        records = enriched_records(EVENTS, settings)
        assert put_records(kinesis_client(settings), settings.stream_name, records).failed == 0
        job = stack.start_job()

        def stored() -> int:
            return read_columns(tables.BRONZE.uri(settings), ["event_id"]).num_rows

        assert wait_until(lambda: stored() == EVENTS, timeout=240), stored()
    finally:
        stack.stop()
    log = (stack.log_dir / "job.log").read_text()
    assert job.returncode == 0, log[-4000:]
    assert read_status(settings)["state"] == "stopped"
    assert "signal 15: stopping the query" in log
    assert "Traceback" not in log and "ERROR" not in log, log[-4000:]
    assert "Received command" not in log, "py4j's per-callback lines are not logged"
    assert stored() == EVENTS
