"""PNG plots of a sustained run: throughput and latency over time."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_sustained(report: dict, out: Path) -> list[Path]:
    series = report["series"]
    accepted = {int(k): v for k, v in series["accepted_per_second"].items()}
    committed = {int(k): v for k, v in series["committed_per_second"].items()}
    written = []
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(list(accepted), list(accepted.values()), label="acknowledged by the gateway")
    ax.plot(list(committed), list(committed.values()), label="committed to bronze", alpha=0.8)
    ax.axhline(report["target_rate"], color="grey", linestyle="--", label="target rate")
    ax.set(xlabel="seconds since start", ylabel="events / s",
           title=f"Throughput at {report['target_rate']:,.0f} events/s target")
    ax.legend()
    fig.tight_layout()
    path = out.with_name(out.stem + "-throughput.png")
    fig.savefig(path, dpi=110)
    written.append(path)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 4))
    points = series["commit_latency_p50"]
    ax.plot([t for t, _ in points], [v for _, v in points], ".", markersize=3,
            label="median received_at -> commit, per commit")
    http = {int(k): v / 1000 for k, v in series["http_p50_ms_per_second"].items()}
    ax.plot(list(http), list(http.values()), label="HTTP p50 (s)", alpha=0.7)
    ax.set(xlabel="seconds since start", ylabel="seconds", title="End-to-end latency")
    ax.legend()
    fig.tight_layout()
    path = out.with_name(out.stem + "-latency.png")
    fig.savefig(path, dpi=110)
    written.append(path)
    plt.close(fig)
    return written
