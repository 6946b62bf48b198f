"""Smoke runs of the benchmark harness: seconds at a small rate. The targets live in the
harness's reports (docs/benchmarks.md), never in assertions here."""

from pathlib import Path

import pytest

from streaming.lake.read import read_columns
from streaming.tools.bench.command import headline, run_bench
from streaming.tools.bench.costs import Workload, monthly_cost
from tests.conftest import isolated_settings

pytestmark = [pytest.mark.slow, pytest.mark.bench]


def test_sustained_smoke_counts_every_acknowledged_event_once(tmp_path):
    report, path = run_bench(isolated_settings(tmp_path), "sustained", rate=300, duration=5,
                             events=1, visitors=50)
    assert report["acknowledged"] > 500
    assert (report["lost"], report["doubled"]) == (0, 0)
    assert report["latency_s"]["p50"] > 0 and report["memory"]["peak_total_mib"] > 100
    assert report["job_stages"]["batches"] >= 1
    assert all(Path(p).stat().st_size > 10_000 for p in report["plots"])
    assert path.exists() and len(headline(report)) == 4


def test_catch_up_smoke_drains_the_whole_backlog(tmp_path):
    report, _ = run_bench(isolated_settings(tmp_path), "catch-up", rate=1, duration=1,
                          events=3000, visitors=1)
    assert report["bare_read"]["records"] == report["backlog_records"] < 3000  # aggregated
    assert report["job"]["rows_in_bronze"] == 3000 and report["job"]["exit_code"] == 0
    assert report["ratio_to_bare_read"] > 0
    assert report["sink_only"]["events"] == 3000 and report["ratio_to_sink_only"] > 0


def test_limit_smoke_reports_stage_costs_and_the_cost_model(tmp_path):
    report, _ = run_bench(isolated_settings(tmp_path), "limit", rate=1, duration=1,
                          events=2000, visitors=1)
    assert report["events_per_s"] > 0
    assert set(report["stage_us_per_event"]) == {"parse", "validate", "enrich_serialize",
                                                 "to_arrow", "delta_write"}
    assert [row["events_per_second"] for row in report["aws_cost_model"]] == [1000, 10000, 100000]


def test_batch_floor_smoke_writes_every_bronze_batch_once(tmp_path):
    report, _ = run_bench(isolated_settings(tmp_path), "batch-floor", rate=1, duration=1,
                          events=1, visitors=1, rows=300, batches=4)
    assert {sink: len(seconds) for sink, seconds in report["batch_seconds"].items()} == {
        "noop": 2, "parse": 2, "bronze": 2}
    assert report["ratio_to_noop"] > 0 and report["ratio_to_parse"] > 0
    assert len(headline(report)) == 1
    [bronze] = tmp_path.glob("bench/*/lake/bronze/events")
    ids = read_columns(str(bronze), ["event_id"])["event_id"].to_pylist()
    assert len(ids) >= 2 * 4 * 300 and len(ids) % 300 == 0 and len(set(ids)) == len(ids)


def test_cost_model_scales_shards_and_workers_with_the_rate():
    small, large = monthly_cost(Workload(1_000)), monthly_cost(Workload(100_000))
    # 100,000 events/s in 20-event requests: 5,000 records/s of 1,680 bytes, 8.4 MB/s.
    assert (small["sizing"]["kinesis_shards"], large["sizing"]["kinesis_shards"]) == (1, 9)
    uncompressed = monthly_cost(Workload(100_000, compression_ratio=1.0))
    assert uncompressed["sizing"]["kinesis_shards"] == 84
    assert uncompressed["usd_per_month"]["kinesis"] > 3 * large["usd_per_month"]["kinesis"]
    assert small["sizing"]["glue_g1x_workers"] == 2
    assert large["usd_per_month_total"] > 10 * small["usd_per_month_total"]


def test_gateway_smoke_reports_cpu_per_event_of_every_event_in_the_stream(tmp_path):
    report, _ = run_bench(isolated_settings(tmp_path), "gateway", rate=1, duration=1,
                          events=2000, visitors=1)
    assert report["events"] == report["acknowledged_in_stream"] == 2000
    assert report["http_events_per_s"] > 0
    assert set(report["cpu_us_per_event"]) == {"gateway", "kinesis"}
    assert all(us > 0 for us in report["cpu_us_per_event"].values())
    assert len(headline(report)) == 1


def test_erasure_smoke_forgets_one_visitor_and_keeps_every_other_row(tmp_path):
    from streaming.tools.bench.erasure import SUBJECT, visitor_id

    report, _ = run_bench(isolated_settings(tmp_path), "erasure", rate=1, duration=1,
                          events=3000, visitors=1)
    removed = report["rows_removed"]["bronze_events"]
    assert report["verified"] and removed > 0
    assert report["bronze_delete"]["num_deleted_rows"] == removed
    assert set(report["seconds"]) == {"resolve", "in_flight_batch", "delete", "rebuild_gold",
                                      "purge", "verify"}
    [bronze] = tmp_path.glob("bench/*/lake/bronze/events")
    ids = read_columns(str(bronze), ["anonymous_id"])["anonymous_id"].to_pylist()
    assert len(ids) == 3000 - removed and visitor_id(SUBJECT) not in ids
    assert len(headline(report)) == 1
