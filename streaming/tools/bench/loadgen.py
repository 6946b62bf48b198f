"""Open-loop load generator, run in its own process: tracker-sized batches at a fixed rate.

Open loop means batches leave when they are due, whatever the server's answers: a slow
server shows up as growing latency and in-flight requests, not as a politely lower rate
(the coordinated-omission trap). In-flight requests are bounded; when the bound is hit the
generator waits and counts the event-seconds it fell behind, so the report says so.
"""

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from streaming.tools.traffic import Flush, SendResult, flushes, post_flush


@dataclass
class Timeline:
    """Per second since the start: events acknowledged, and HTTP latencies."""

    accepted: Counter = field(default_factory=Counter)
    latencies: dict[int, list[float]] = field(default_factory=dict)


@dataclass
class LoadResult:
    result: SendResult
    timeline: Timeline
    target_rate: float
    behind_seconds: float = 0.0


async def _tracked_post(client: httpx.AsyncClient, url: str, flush: Flush, load: LoadResult,
                        start: float) -> None:
    sent_at = time.perf_counter()
    accepted = await post_flush(client, url, flush, load.result)
    second = int(sent_at - start)
    load.timeline.accepted[second] += accepted
    load.timeline.latencies.setdefault(second, []).append((time.perf_counter() - sent_at) * 1000)
    load.result.sent += len(flush.events)


def _progress(load: LoadResult, start: float, in_flight: int) -> None:
    elapsed = time.perf_counter() - start
    lat = sorted(x for xs in load.timeline.latencies.values() for x in xs[-200:])
    p50 = lat[len(lat) // 2] if lat else 0.0
    p99 = lat[int(len(lat) * 0.99)] if lat else 0.0
    errors = {k: v for k, v in load.result.statuses.items() if k != 200}
    print(f"[loadgen] {elapsed:6.1f}s sent {load.result.sent:,} "
          f"({load.result.sent / max(elapsed, 1e-9):,.0f}/s of {load.target_rate:,.0f}) "
          f"in flight {in_flight} HTTP p50 {p50:.0f}ms p99 {p99:.0f}ms errors {errors or 0}",
          file=sys.stderr, flush=True)


async def open_loop(url: str, rate: float, duration: float, visitors: int,
                    max_in_flight: int = 256, connections: int = 64, seed: int = 11) -> LoadResult:
    load = LoadResult(SendResult(started=time.time()), Timeline(), rate)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    tasks: set[asyncio.Task] = set()
    scheduled = 0
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        start = time.perf_counter()
        last_report = start
        for flush in flushes(int(rate * duration) + 1, visitors, 0.0, seed):
            due = start + scheduled / rate
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            if time.perf_counter() - start >= duration:
                break
            while len(tasks) >= max_in_flight:
                waited = time.perf_counter()
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                load.behind_seconds += time.perf_counter() - waited
            task = asyncio.create_task(_tracked_post(client, url, flush, load, start))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            scheduled += len(flush.events)
            if time.perf_counter() - last_report > 5:
                _progress(load, start, len(tasks))
                last_report = time.perf_counter()
        if tasks:
            await asyncio.gather(*tasks)
    load.result.finished = time.time()
    return load


def write_result(load: LoadResult, out: Path) -> None:
    """Summary JSON plus the acknowledged event ids, one per line, next to it."""
    result = load.result
    out.with_suffix(".ids").write_text("\n".join(result.accepted_ids) + "\n")
    latencies = sorted(result.http_latencies_ms)

    def pct(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2) \
            if latencies else None

    summary = {
        "target_rate": load.target_rate, "sent": result.sent,
        "accepted": len(result.accepted_ids), "started": result.started,
        "finished": result.finished,
        "achieved_rate": round(result.sent / max(result.finished - result.started, 1e-9), 1),
        "http_statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "client_retries": result.retries, "failed_requests": result.failed_requests,
        "generator_behind_seconds": round(load.behind_seconds, 2),
        "http_latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99),
                            "max": pct(1.0)},
        "timeline": {"accepted_per_second": dict(sorted(load.timeline.accepted.items())),
                     "http_p50_ms_per_second": {
                         s: sorted(v)[len(v) // 2] for s, v in sorted(load.timeline.latencies.items())}},
    }
    out.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="events per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    parser.add_argument("--visitors", type=int, default=5000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    load = asyncio.run(open_loop(args.url, args.rate, args.duration, args.visitors))
    write_result(load, args.out)
    print(json.dumps({k: v for k, v in json.loads(args.out.read_text()).items()
                      if k != "timeline"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
