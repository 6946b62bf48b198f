"""The fault run, short: 20,000 events over HTTP with each component killed once (SIGKILL)
under load, then the stream job killed and left to Dagster's sensor. The long run is
`./clickstream faults --events 200000` (docs/reliability.md).

Everything is real: kinesalite, the gateway, the Spark job, `dagster dev` with its daemon,
and a client process retrying like the tracker.
"""

import pytest

from streaming.tools.faults.run import FaultRun, Plan, headline
from tests.conftest import isolated_settings

pytestmark = pytest.mark.slow

PLAN = Plan(events=20_000, rate=400, job_kills=1, kinesis_kills=2, gateway_kills=1,
            dagster_kills=1, bad_record_rounds=1, duplicate_rounds=1, burst_events=2_000,
            probe_events=300, seed=3)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = FaultRun(isolated_settings(tmp_path_factory.mktemp("faults")), PLAN, print)
    try:
        result = run.run()
    finally:
        run.stop()
    print("\n".join(headline(result)))
    return result


@pytest.mark.timeout(2400)
def test_nothing_acknowledged_is_lost_or_doubled(report):
    verdict = report["verdict"]
    assert report["faults_by_kind"] == {"job_kill": 1, "kinesis_kill": 2, "gateway_kill": 1,
                                        "dagster_kill": 1, "bad_records": 1,
                                        "duplicate_records": 1, "job_kill_unattended": 1}
    assert verdict["acknowledged"] >= 0.98 * (PLAN.events + PLAN.burst_events + PLAN.probe_events)
    assert (verdict["lost"], verdict["doubled"], verdict["in_bronze_never_acknowledged"]) == (0, 0, 0)
    assert verdict["in_bronze"] == verdict["acknowledged"] == verdict["bronze_rows"]
    assert verdict["rejected"] > 0 and verdict["rejected_in_bronze"] == 0
    assert verdict["batches_committed_twice"] == 0
    [duplicates] = [f for f in report["faults"] if f["fault"] == "duplicate_records"]
    assert verdict["acknowledged_written_to_stream_more_than_once"] >= duplicates["records"] > 0
    assert all(c["abandoned"] == 0 for c in report["clients"].values())
    assert verdict["passed"]


@pytest.mark.timeout(2400)
def test_quarantine_holds_exactly_the_bad_records_with_their_reasons(report):
    verdict = report["verdict"]
    assert verdict["quarantine_expected"] == 8
    assert verdict["quarantine_found_once"] == 8
    assert (verdict["quarantine_unexpected_rows"], verdict["quarantine_wrong_reason"]) == (0, [])


@pytest.mark.timeout(2400)
def test_every_component_came_back_and_the_job_rode_out_a_kinesis_restart(report):
    [job_kill] = [f for f in report["faults"] if f["fault"] == "job_kill"]
    assert job_kill["mode"] == "after_delta_commit" and job_kill["timed"]
    assert job_kill["caught"] == "after the bronze commit, before the checkpoint commit"
    assert job_kill["kinesis"]["backlog_at_kill"] > 0
    [kinesis_kill] = [f for f in report["faults"] if f["fault"] == "kinesis_kill"]
    assert kinesis_kill["job_survived"] and kinesis_kill["committed_after_restart"]
    [gateway_kill] = [f for f in report["faults"] if f["fault"] == "gateway_kill"]
    assert gateway_kill["restart_s"] < 30
    assert report["clients"]["load"]["network_errors"] + report["clients"]["load"][
        "answers_with_retry_events"] > 0


@pytest.mark.timeout(2400)
def test_dagster_catches_up_without_a_person(report):
    recovery = report["recovery_without_a_person"]
    assert recovery["catch_up_runs"], "the lag sensor launched no catch-up"
    assert {r["status"] for r in recovery["catch_up_runs"]} == {"SUCCESS"}
    assert all("stream job is down" in r["reason"] for r in recovery["catch_up_runs"])
    assert 0 < recovery["kill_to_catch_up_launched_s"] < recovery["kill_to_caught_up_s"]
    assert recovery["probe_to_bronze_s"] is not None
