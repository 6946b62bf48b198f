"""The README's first command: the whole embedded pipeline, end to end, with a report.

Starts the local stack, sends synthetic shop traffic over HTTP, injects a few records that
bypass the handler (they must land in quarantine), waits until every accepted event is in
bronze, and reports counts, duplicates, throughput and latency from the Delta log.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from streaming.kinesis import kinesis_client, put_records
from streaming.lake import tables
from streaming.lake.read import Arrivals, commit_latencies, latest_version, read_columns
from streaming.local.stack import LocalStack
from streaming.settings import Settings
from streaming.tools.bench.runs import warm_up
from streaming.tools.common import percentile
from streaming.tools.traffic import SendResult, flushes, send

BYPASS_RECORDS = (
    b"this is not json",
    b'{"event_id": "not-a-uuid", "event_type": "click"}',
    b'{"event_type": "page_view", "truncated": ',
    orjson.dumps({"event_id": str(uuid.UUID(int=1)), "event_type": "page_view",
                  "event_time": "2026-01-01T00:00:00Z", "anonymous_id": "a", "session_id": "s"}),
)


def _say(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class LakeState:
    """Where bronze and quarantine were when the run started, so only this run is counted."""

    started: datetime
    bronze_version: int


def inject_bypass_records(settings: Settings, copies: int) -> int:
    """Broken records written straight to the stream, as a misbehaving producer would."""
    records = [(f"bypass-{i}", BYPASS_RECORDS[i % len(BYPASS_RECORDS)]) for i in range(copies)]
    outcome = put_records(kinesis_client(settings), settings.stream_name, records)
    return len(records) - outcome.failed


def wait_for_bronze(settings: Settings, accepted: set[str], after_version: int,
                    timeout: float) -> tuple[int, int, float]:
    """Polls bronze's new commits until every accepted id is there; returns (found,
    duplicates, at)."""
    deadline = time.monotonic() + timeout
    last_report = 0.0
    arrivals = Arrivals(tables.BRONZE.uri(settings), after_version, accepted)
    while True:
        found, duplicates = arrivals.poll()
        if found >= len(accepted) or time.monotonic() > deadline:
            return found, duplicates, time.time()
        if time.monotonic() - last_report > 2:
            _say(f"  bronze holds {found:,} of {len(accepted):,} accepted events")
            last_report = time.monotonic()
        time.sleep(0.5)


def wait_for_quarantine(settings: Settings, since: datetime, expected: int,
                        timeout: float) -> None:
    """The injected broken records are few and come last; give the job time to reach them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = read_columns(tables.QUARANTINE.uri(settings), ["reason"], since, "quarantined_at")
        if rows.num_rows >= expected:
            return
        time.sleep(0.5)


def build_report(settings: Settings, result: SendResult, state: LakeState, found: int,
                 duplicates: int, complete_at: float, bypassed: int) -> dict:
    accepted = set(result.accepted_ids)
    latencies = commit_latencies(tables.BRONZE.uri(settings), state.bronze_version, accepted)
    quarantine = read_columns(tables.QUARANTINE.uri(settings), ["reason"], state.started,
                              time_column="quarantined_at")
    reasons = Counter(r.split(":")[0] for r in quarantine["reason"].to_pylist())
    send_seconds = max(result.finished - result.started, 1e-9)
    return {
        "settings": {"stream": settings.stream_name, "shards": settings.shard_count,
                     "lake": settings.lake_uri, "gateway": settings.gateway_url},
        "events_sent": result.sent,
        "accepted": len(accepted),
        "rejected": result.rejected_total,
        "rejected_by_reason": dict(result.rejected.most_common()),
        "http_statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "client_retries": result.retries,
        "requests_failed_after_retries": result.failed_requests,
        "bronze_rows_for_accepted": found,
        "missing": len(accepted) - found,
        "duplicates": duplicates,
        "bypass_records_injected": bypassed,
        "quarantine_rows": quarantine.num_rows,
        "quarantine_by_reason": dict(reasons),
        "throughput": {
            "http_events_per_s": round(result.sent / send_seconds, 1),
            "end_to_end_events_per_s": round(
                len(accepted) / max(complete_at - result.started, 1e-9), 1),
            "send_seconds": round(send_seconds, 2),
            "until_all_in_bronze_seconds": round(complete_at - result.started, 2),
        },
        "latency_seconds_received_to_commit": {
            "p50": percentile(latencies, 50), "p90": percentile(latencies, 90),
            "p99": percentile(latencies, 99), "max": max(latencies, default=None),
            "mean": statistics.fmean(latencies) if latencies else None,
        },
        "http_latency_ms": {"p50": percentile(result.http_latencies_ms, 50),
                            "p99": percentile(result.http_latencies_ms, 99)},
    }


def print_report(report: dict, path: Path) -> None:
    lat = report["latency_seconds_received_to_commit"]
    tp = report["throughput"]
    fmt = lambda v: "n/a" if v is None else f"{v:.2f}s"  # noqa: E731
    lines = [
        "",
        "=== clickstream demo report ===",
        f"events sent          {report['events_sent']:>10,}",
        f"accepted             {report['accepted']:>10,}",
        f"rejected             {report['rejected']:>10,}  "
        + ", ".join(f"{k}={v}" for k, v in report["rejected_by_reason"].items()),
        f"rows in bronze       {report['bronze_rows_for_accepted']:>10,}  (of the accepted events)",
        f"missing              {report['missing']:>10,}",
        f"duplicates           {report['duplicates']:>10,}",
        f"quarantine rows      {report['quarantine_rows']:>10,}  "
        f"({report['bypass_records_injected']} broken records injected past the handler) "
        + ", ".join(f"{k}={v}" for k, v in report["quarantine_by_reason"].items()),
        f"HTTP ingestion       {tp['http_events_per_s']:>10,.0f} events/s over "
        f"{tp['send_seconds']:.1f}s",
        f"end to end           {tp['end_to_end_events_per_s']:>10,.0f} events/s "
        f"(all accepted events in bronze after {tp['until_all_in_bronze_seconds']:.1f}s)",
        f"latency received_at -> Delta commit: p50 {fmt(lat['p50'])}  p90 {fmt(lat['p90'])}  "
        f"p99 {fmt(lat['p99'])}  max {fmt(lat['max'])}",
        f"report written to    {path}",
    ]
    print("\n".join(lines), flush=True)


def run_demo(settings: Settings, events: int, visitors: int, bad_share: float,
             concurrency: int, keep_running: bool) -> int:
    stack = LocalStack(settings)
    try:
        stack.start(progress=_say)
        warm_up(settings, _say)
        state = LakeState(datetime.now(UTC) - timedelta(seconds=1),
                          latest_version(tables.BRONZE.uri(settings)))
        # Built before the clock starts, as a load tester prepares its requests: building
        # them costs ~8 us an event, CPU the stack would lose during the burst.
        traffic = list(flushes(events, visitors, bad_share))
        _say(f"sending {events:,} events from {visitors:,} simulated visitors over HTTP ...")

        def progress(r: SendResult) -> None:
            rate = r.sent / max(time.time() - r.started, 1e-9)
            _say(f"  sent {r.sent:,}/{events:,} ({rate:,.0f}/s) accepted {len(r.accepted_ids):,}"
                 f" rejected {r.rejected_total:,}")

        result = send(f"{settings.gateway_url}/v1/events",
                      traffic, concurrency, progress)
        bypassed = inject_bypass_records(settings, max(4, events // 10000))
        _say(f"sent {result.sent:,}: accepted {len(result.accepted_ids):,}, rejected "
             f"{result.rejected_total:,}; {bypassed} broken records injected straight into the "
             "stream; waiting for bronze ...")
        found, duplicates, complete_at = wait_for_bronze(
            settings, set(result.accepted_ids), state.bronze_version, timeout=120 + events / 500)
        wait_for_quarantine(settings, state.started, bypassed, timeout=60)
        report = build_report(settings, result, state, found, duplicates, complete_at, bypassed)
        reports = settings.home / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        path = reports / f"demo-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(report, indent=2))
        print_report(report, path)
        ok = report["missing"] == 0 and report["duplicates"] == 0 and result.failed_requests == 0
        if keep_running:
            from streaming.local.dagster_ui import run_dagster_until_interrupted

            run_dagster_until_interrupted(stack, _say)
        return 0 if ok else 1
    finally:
        _say("stopping the stack ...")
        stack.stop()
