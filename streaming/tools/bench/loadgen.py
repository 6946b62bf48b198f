"""Open-loop load generator, run in its own process: tracker-sized batches at a fixed rate.

Open loop means batches leave when they are due, whatever the server's answers: a slow
server shows up as growing latency and in-flight requests, not as a politely lower rate
(the coordinated-omission trap). In-flight requests are bounded; when the bound is hit the
generator waits and counts the event-seconds it fell behind, so the report says so.
"""

import argparse
import json
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import urllib3

from streaming.tools.traffic import Flush, SendResult, connection_pool, flushes, post_flush


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
    lock: threading.Lock = field(default_factory=threading.Lock)

    def absorb(self, posted: SendResult, second: int, latency_ms: float) -> None:
        """Adds a flush's outcome; posters call this from their threads."""
        with self.lock:
            self.result.absorb(posted)
            self.timeline.accepted[second] += len(posted.accepted_ids)
            self.timeline.latencies.setdefault(second, []).append(latency_ms)


def _tracked_post(pool: urllib3.HTTPConnectionPool, url: str, flush: Flush, load: LoadResult,
                  start: float, due: float) -> None:
    """Latency counts from when the flush was due, not from when a poster took it: a request
    that waited for a free connection waited on the server (no coordinated omission)."""
    posted = post_flush(pool, url, flush)
    load.absorb(posted, int(due - start), (time.perf_counter() - due) * 1000)


def _progress(load: LoadResult, start: float, in_flight: int) -> None:
    elapsed = time.perf_counter() - start
    with load.lock:
        lat = sorted(x for xs in load.timeline.latencies.values() for x in xs[-200:])
        sent, errors = load.result.sent, {k: v for k, v in load.result.statuses.items() if k != 200}
    p50 = lat[len(lat) // 2] if lat else 0.0
    p99 = lat[int(len(lat) * 0.99)] if lat else 0.0
    print(f"[loadgen] {elapsed:6.1f}s sent {sent:,} "
          f"({sent / max(elapsed, 1e-9):,.0f}/s of {load.target_rate:,.0f}) "
          f"in flight {in_flight} HTTP p50 {p50:.0f}ms p99 {p99:.0f}ms errors {errors or 0}",
          file=sys.stderr, flush=True)


def open_loop(url: str, rate: float, duration: float, visitors: int,
              max_in_flight: int = 256, connections: int = 64, seed: int = 11) -> LoadResult:
    """Flushes leave when due, on `connections` poster threads; at most `max_in_flight` are
    due and unanswered, and time spent waiting for that bound is counted as behind."""
    load = LoadResult(SendResult(started=time.time()), Timeline(), rate)
    pool = connection_pool(url, connections)
    slots = threading.BoundedSemaphore(max_in_flight)
    in_flight: set[Future[None]] = set()
    scheduled = 0

    def answered(task: Future[None]) -> None:
        in_flight.discard(task)
        slots.release()

    with ThreadPoolExecutor(connections, thread_name_prefix="post") as posters:
        start = time.perf_counter()
        last_report = start
        for flush in flushes(int(rate * duration) + 1, visitors, 0.0, seed):
            due = start + scheduled / rate
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            if time.perf_counter() - start >= duration:
                break
            if not slots.acquire(blocking=False):
                waited = time.perf_counter()
                slots.acquire()
                load.behind_seconds += time.perf_counter() - waited
            task = posters.submit(_tracked_post, pool, url, flush, load, start, due)
            in_flight.add(task)
            task.add_done_callback(answered)
            scheduled += len(flush.events)
            if time.perf_counter() - last_report > 5:
                _progress(load, start, len(in_flight))
                last_report = time.perf_counter()
    pool.close()
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
    load = open_loop(args.url, args.rate, args.duration, args.visitors)
    write_result(load, args.out)
    print(json.dumps({k: v for k, v in json.loads(args.out.read_text()).items()
                      if k != "timeline"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
