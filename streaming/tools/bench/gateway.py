"""`clickstream bench --mode gateway`: what ingestion costs per event, in CPU time.

Only kinesalite and the gateway run; tracker-sized requests are posted as fast as the
gateway answers them, and each server's CPU time (user + system, from /proc) is divided by
the events the gateway acknowledged. CPU time rather than wall time, because on a shared
machine the wall clock measures the neighbours too; it is the figure that says how many
events a core of ingestion serves (issue 18's target: <= 30 us an event for the gateway).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from streaming.local.stack import LocalStack
from streaming.settings import Settings
from streaming.tools.faults.verify import stream_census
from streaming.tools.traffic import flushes, send

Say = Callable[[str], None]
WARM_UP_EVENTS = 4_000
CPUCLOCK_SCHED = 2  # the kernel's per-process clock kind for user + system time


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of all of a process's threads, in seconds, to the nanosecond:
    Linux's CPU-time clock of another process, whose id is the one glibc's
    `clock_getcpuclockid` computes (Python has no binding for it). /proc's counters move in
    10 ms ticks, which a smoke run's whole cost in kinesalite (~12 ms) may not reach."""
    return time.clock_gettime(((~pid) << 3) | CPUCLOCK_SCHED)


def run_gateway(settings: Settings, events: int, say: Say, concurrency: int = 16) -> dict:
    stack = LocalStack(settings)
    try:
        stack.start_kinesis()
        stack.start_gateway()
        url = f"{settings.gateway_url}/v1/events"
        send(url, flushes(WARM_UP_EVENTS, 200, 0.0, 3), concurrency=concurrency)
        pids = {name: stack.processes[name].pid for name in ("gateway", "kinesis")}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        say(f"posting {events:,} events, {concurrency} requests in flight ...")
        result = send(url, flushes(events, max(100, events // 20), 0.0, seed=9),
                      concurrency=concurrency)
        seconds = result.finished - result.started
        accepted = len(result.accepted_ids)
        if accepted != events:
            raise RuntimeError(f"the gateway acknowledged {accepted:,} of {events:,} valid events")
        cpu = {name: round((cpu_seconds(pid) - before[name]) * 1e6 / accepted, 1)
               for name, pid in pids.items()}
        written = stream_census(settings)["ids"]
        return {
            "mode": "gateway", "events": events, "concurrency": concurrency,
            "http_events_per_s": round(accepted / seconds),
            "cpu_us_per_event": cpu,
            "acknowledged_in_stream": sum(1 for i in result.accepted_ids if written.get(i)),
        }
    finally:
        stack.stop()
