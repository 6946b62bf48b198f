"""Measurements shared by the benchmark modes: memory of process groups, Delta-log latency,
and the stream job's own per-stage timings."""

from __future__ import annotations

import json
import os
import statistics
import threading
from collections import Counter
from pathlib import Path

from streaming.lake.read import commit_latencies, commits_since
from streaming.tools.common import percentile

PAGE = os.sysconf("SC_PAGE_SIZE")


def summary(values: list[float]) -> dict[str, float | None]:
    """p50, p90, p99 (to the millisecond), max and mean of latencies in seconds."""
    p50, p90, p99 = (percentile(values, q) for q in (50, 90, 99))
    return {"p50": p50 and round(p50, 3), "p90": p90 and round(p90, 3),
            "p99": p99 and round(p99, 3), "max": max(values, default=None),
            "mean": round(statistics.fmean(values), 3) if values else None}


def _group_rss() -> dict[int, int]:
    """Resident bytes per process group, from /proc (children of the stack included)."""
    totals: Counter = Counter()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            resident = int(Path(entry.path, "statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        pgrp = int(stat.rsplit(")", 1)[1].split()[2])
        totals[pgrp] += resident
    return dict(totals)


class MemorySampler:
    """Peak resident memory of named process groups, sampled twice a second in a thread."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups
        self.peak_total = 0
        self.peak_by_name: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = _group_rss()
            current = {name: rss.get(pgid, 0) for name, pgid in self.groups.items()}
            self.peak_total = max(self.peak_total, sum(current.values()))
            for name, value in current.items():
                self.peak_by_name[name] = max(self.peak_by_name[name], value)
            self._stop.wait(0.5)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> dict:
        mib = 1024 * 1024
        return {"peak_total_mib": round(self.peak_total / mib),
                "peak_by_process_mib": {k: round(v / mib) for k, v in self.peak_by_name.items()}}


def delta_timeline(uri: str, after_version: int, start: float) -> dict[int, int]:
    """Rows committed per second since `start` (epoch seconds), from the Delta log; seconds
    without a commit are 0, so the series shows the stream's bursts as they happened."""
    per_second: Counter = Counter()
    for commit in commits_since(uri, after_version):
        rows = sum(f.records or 0 for f in commit.added if f.data_change)
        per_second[int(commit.timestamp_ms / 1000 - start)] += rows
    if not per_second:
        return {}
    return {second: per_second[second] for second in range(min(per_second), max(per_second) + 1)}


def latency_report(uri: str, after_version: int, ids: set[str]) -> dict:
    return summary(commit_latencies(uri, after_version, ids))


def job_stage_costs(progress_log: Path, since: float) -> dict:
    """Per-stage cost of the stream job from its own progress reports (Spark's durationMs)."""
    batches = []
    if progress_log.exists():
        for line in progress_log.read_text().splitlines():
            progress = json.loads(line)
            if progress.get("numInputRows") and _epoch(progress["timestamp"]) >= since:
                batches.append(progress)
    if not batches:
        return {}
    rows = sum(b["numInputRows"] for b in batches)
    stages = Counter()
    for batch in batches:
        stages.update(batch.get("durationMs", {}))
    per_batch_ms = [b["durationMs"].get("triggerExecution", 0) for b in batches]
    return {
        "batches": len(batches), "rows": rows, "rows_per_batch_mean": round(rows / len(batches)),
        "batch_ms": summary(per_batch_ms),
        "stage_ms_total": dict(stages),
        "stage_us_per_event": {k: round(v * 1000 / rows, 1) for k, v in stages.items()},
    }


def _epoch(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


