"""`clickstream bench`: runs one mode on a fresh, private stack and writes its report."""

from __future__ import annotations

import json
import platform
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from streaming.settings import Settings
from streaming.tools.bench.costs import cost_table
from streaming.tools.bench.erasure import run_erasure
from streaming.tools.bench.floor import run_batch_floor
from streaming.tools.bench.gateway import run_gateway
from streaming.tools.bench.plots import plot_sustained
from streaming.tools.bench.runs import run_catch_up, run_limit, run_sustained


def _say(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def machine() -> dict:
    cpus = len(__import__("os").sched_getaffinity(0))
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {"cpus": cpus, "memory_gib": round(int(memory) / 1024 / 1024, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def bench_settings(settings: Settings, stamp: str) -> Settings:
    """A private home per run: an empty stream, empty tables, exact counts."""
    home = settings.home / "bench" / stamp
    return replace(settings, home=home, lake_uri=str(home / "lake"),
                   checkpoint_uri=str(home / "checkpoints"))


def run_bench(settings: Settings, mode: str, rate: float, duration: float, events: int,
              visitors: int, rows: int = 2_000, batches: int = 15) -> tuple[dict, Path]:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    own = bench_settings(settings, stamp)
    reports = settings.home / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    out = reports / f"bench-{mode}-{stamp}.json"
    if mode == "sustained":
        report = run_sustained(own, rate, duration, visitors, reports, _say)
        report["plots"] = [str(p) for p in plot_sustained(report, out)]
    elif mode == "catch-up":
        report = run_catch_up(own, events, _say)
    elif mode == "batch-floor":
        report = run_batch_floor(own, rows, batches, _say)
    elif mode == "gateway":
        report = run_gateway(own, events, _say)
    elif mode == "erasure":
        report = run_erasure(own, events, _say)
    else:
        report = run_limit(own, events, _say)
        report["aws_cost_model"] = cost_table()
    report["machine"] = machine()
    out.write_text(json.dumps(report, indent=2))
    return report, out


def headline(report: dict) -> list[str]:
    """The figures a reader looks for first, one line each."""
    mode = report["mode"]
    if mode == "sustained":
        load, lat = report["load"], report["latency_s"]
        return [f"target {report['target_rate']:,.0f}/s, achieved {load['achieved_rate']:,.0f}/s "
                f"over {report['duration_s']:.0f}s; HTTP p50 {load['http_latency_ms']['p50']}ms "
                f"p99 {load['http_latency_ms']['p99']}ms; statuses {load['http_statuses']}",
                f"acknowledged {report['acknowledged']:,}, in bronze {report['in_bronze']:,}, "
                f"lost {report['lost']:,}, doubled {report['doubled']:,}",
                f"received_at -> commit: p50 {lat['p50']}s p90 {lat['p90']}s p99 {lat['p99']}s",
                f"peak memory of the stack {report['memory']['peak_total_mib']:,} MiB "
                f"{report['memory']['peak_by_process_mib']}"]
    if mode == "batch-floor":
        median = report["median_s"]
        return [f"{report['rows_per_batch']:,} rows a batch (medians): noop sink {median['noop']}s, "
                f"the sink without commits {median['parse']}s, bronze sink {median['bronze']}s; "
                f"bronze / without commits {report['ratio_to_parse']}x, bronze / noop "
                f"{report['ratio_to_noop']}x"]
    if mode == "erasure":
        return [f"forgetting 1 of {report['visitors']:,} visitors in {report['events']:,} events "
                f"({report['bronze_files']} bronze files): {report['total_seconds']}s "
                f"{report['seconds']}; bronze DELETE {report['bronze_delete']}; verified "
                f"{report['verified']}"]
    if mode == "gateway":
        return [f"{report['events']:,} events over HTTP at {report['http_events_per_s']:,}/s; CPU "
                f"an acknowledged event (us): {report['cpu_us_per_event']}"]
    if mode == "catch-up":
        job = report["job"]
        return [f"backlog {report['backlog']:,}: bare GetRecords "
                f"{report['bare_read']['records_per_s']:,}/s; job {job['rows_per_s']:,} rows/s "
                f"processing ({job['rows_per_s_incl_start']:,}/s incl. Spark start); ratio "
                f"{report['ratio_to_bare_read']:.0%}; the job's sink alone "
                f"{report['sink_only']['events_per_s']:,} events/s, ratio "
                f"{report['ratio_to_sink_only']:.0%}; rows in bronze {job['rows_in_bronze']:,}"]
    return [f"{report['events']:,} events in {report['seconds']}s = {report['events_per_s']:,}/s; "
            f"us/event {report['stage_us_per_event']}; Kinesis put "
            f"{report['kinesis_put_us_per_event']}us/event"]
