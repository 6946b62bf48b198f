"""The data-quality report: one HTML page per check run, for a person rather than a log.

It shows what was checked and what failed (per rule, with sample failing rows), the volume of
events per hour with its anomaly score, and each check's history, so a reader can tell a new
problem from an old one without opening Dagster's event log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from streaming.reports.render import (
    BLUE,
    GREY,
    PALETTE,
    RED,
    Raw,
    badge,
    chart,
    esc,
    figure,
    page,
    table,
    tiles,
)
from streaming.reports.volume import THRESHOLD, HourScore


@dataclass(frozen=True)
class CheckRun:
    """One check's verdict in this run. `failures` is the count the check is about (failing
    rows, duplicates, quarantined rows, findings, flagged hours); it is what history charts."""

    asset: str
    name: str
    passed: bool
    severity: str
    summary: str
    failures: int
    rules: tuple[tuple[str, int, str], ...] = ()
    sample: tuple[dict, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.asset}/{self.name}"


@dataclass(frozen=True)
class PastRun:
    check: str
    run_id: str
    at: datetime
    passed: bool
    failures: int | None
    partition: str | None


def _verdict(check: CheckRun) -> Raw:
    if check.passed:
        return badge("passed", "passed")
    return badge("failed: blocks downstream", "error") if check.severity == "ERROR" else badge(
        "warning", "warn")


def _label(moment: datetime) -> str:
    return moment.strftime("%m-%d %H:%M")


def _run_label(moment: datetime) -> str:
    return moment.strftime("%m-%d %H:%M:%S")


def volume_charts(scores: Sequence[HourScore]) -> dict[str, dict]:
    labels = [_label(s.hour) for s in scores]
    colors = [RED if s.flag else BLUE for s in scores]
    volume = chart("bar", labels, [
        {"type": "bar", "label": "events", "data": [s.events for s in scores],
         "backgroundColor": colors, "order": 2},
        {"type": "line", "label": "expected (baseline median)", "data": [s.expected for s in scores],
         "borderColor": GREY, "backgroundColor": GREY, "pointRadius": 0, "borderWidth": 1.5,
         "spanGaps": True, "order": 1},
    ], x="hour (UTC)", y="events")
    score = chart("line", labels, [
        {"label": "anomaly score", "data": [None if s.score is None else round(s.score, 2)
                                            for s in scores],
         "borderColor": BLUE, "backgroundColor": BLUE,
         "pointRadius": [4 if s.flag else 0 for s in scores],
         "pointBackgroundColor": colors, "borderWidth": 1.5, "spanGaps": True},
        {"label": f"spike at +{THRESHOLD}", "data": [THRESHOLD] * len(scores),
         "borderColor": RED, "backgroundColor": RED, "borderDash": [6, 4], "pointRadius": 0,
         "borderWidth": 1},
        {"label": f"drop at -{THRESHOLD}", "data": [-THRESHOLD] * len(scores),
         "borderColor": RED, "backgroundColor": RED, "borderDash": [6, 4], "pointRadius": 0,
         "borderWidth": 1},
    ], x="hour (UTC)", y="robust z-score")
    score["options"]["scales"]["y"]["beginAtZero"] = False
    return {"chart-volume": volume, "chart-score": score}


def history_chart(history: Sequence[PastRun]) -> dict:
    """One point per check and run: the runs in time order on x, each check a line."""
    started: dict[str, datetime] = {}
    for past in history:
        started[past.run_id] = min(started.get(past.run_id, past.at), past.at)
    runs = sorted(started, key=started.__getitem__)
    checks = sorted({past.check for past in history})
    by_key = {(past.check, past.run_id): past for past in history}
    datasets = [{"label": check, "borderColor": PALETTE[i % len(PALETTE)],
                 "backgroundColor": PALETTE[i % len(PALETTE)], "spanGaps": True,
                 "pointRadius": 3,
                 "data": [by_key[(check, run)].failures if (check, run) in by_key else None
                          for run in runs]}
                for i, check in enumerate(checks)]
    return chart("line", [_run_label(started[run]) for run in runs], datasets,
                 x="check run (UTC)", y="failures")


def quality_page(title: str, subtitle: str, checks: Sequence[CheckRun],
                 history: Sequence[PastRun], scores: Sequence[HourScore]) -> str:
    failed = [c for c in checks if not c.passed]
    flagged = [s for s in scores if s.flag]
    body = [tiles([("checks run", str(len(checks))),
                   ("passed", str(len(checks) - len(failed))),
                   ("warnings", str(sum(c.severity == "WARN" for c in failed))),
                   ("blocking failures", str(sum(c.severity == "ERROR" for c in failed))),
                   ("anomalous hours", str(len(flagged)))]),
            "<h2>Checks</h2>",
            table(["asset", "check", "severity", "result", "failures", "summary"],
                  [(c.asset, c.name, c.severity, _verdict(c), c.failures, c.summary)
                   for c in checks],
                  [False, False, False, False, True, False])]
    body += ["<h2>Volume</h2>", '<div class="grid">',
             figure("chart-volume", "Events per hour", "red: flagged as drop or spike"),
             figure("chart-score", "Anomaly score", f"drop/spike beyond ±{THRESHOLD}"), "</div>",
             table(["hour (UTC)", "events", "expected", "score", "flag"],
                   [(s.hour.strftime("%Y-%m-%d %H:%M"), s.events, round(s.expected, 1),
                     round(s.score, 2), s.flag) for s in flagged],
                   [False, True, True, True, False], empty="no anomalous hours"),
             "<h2>History</h2>",
             figure("chart-history", "Failures per check run", "newest on the right"),
             table(["time (UTC)", "check", "partition", "result", "failures"],
                   [(r.at.strftime("%Y-%m-%d %H:%M:%S"), r.check, r.partition or "",
                     "passed" if r.passed else "failed", r.failures)
                    for r in sorted(history, key=lambda r: r.at, reverse=True)[:30]],
                   [False, False, False, False, True])]
    for check in failed:
        body += [f"<h2>{esc(check.key)}: failing rules</h2>",
                 table(["rule", "failing rows", "example"], check.rules, [False, True, False],
                       empty=check.summary)]
        if check.sample:
            columns = list(dict.fromkeys(k for row in check.sample for k in row))
            body += ["<h3>Sample of failing rows</h3>",
                     table(columns, [[row.get(c) for c in columns] for row in check.sample])]
    charts = {**volume_charts(scores), "chart-history": history_chart(history)}
    return page(title, subtitle, "\n".join(body), charts)
