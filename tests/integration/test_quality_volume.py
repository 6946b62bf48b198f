"""The volume anomaly score, on simulated traffic with injected drops and spikes, and the
volume check on a real bronze table through Dagster.

The traffic has what real traffic has: a daily rhythm, quieter weekends and Poisson noise
(seeded, so the tests are deterministic). Other test modules import `seasonal_counts` and
`traffic_events` to build a bronze table with a realistic week behind it.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, DagsterInstance, Definitions

from clickstream_assets.assets.ingestion import BRONZE, bronze_catch_up
from clickstream_assets.checks.bronze import bronze_quality, bronze_quality_job
from clickstream_assets.resources import build_resources
from streaming.reports.volume import THRESHOLD, floor_hour, score_hours
from streaming.settings import load_settings
from streaming.transforms import BRONZE_COLUMNS
from tests.integration.test_sql_views import bronze_event, write_table

HOUR = timedelta(hours=1)
START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


def usual(hour: datetime, peak: float = 100.0) -> float:
    """Mean events in an hour: low at night, high in the afternoon, 20% less at weekends."""
    mean = peak * (0.55 + 0.45 * math.sin(2 * math.pi * (hour.hour - 9) / 24))
    return mean * (0.8 if hour.weekday() >= 5 else 1.0)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method in steps, exact for any mean)."""
    count, remaining = 0, mean
    while remaining > 0:
        step = min(remaining, 30.0)
        remaining -= step
        limit, product = math.exp(-step), rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
    return count


def seasonal_counts(start: datetime, hours: int, seed: int, peak: float = 100.0
                    ) -> dict[datetime, int]:
    rng = random.Random(seed)
    return {start + HOUR * h: poisson(rng, usual(start + HOUR * h, peak)) for h in range(hours)}


def traffic_events(counts: dict[datetime, int]) -> list[dict]:
    """Bronze rows: each hour's events spread evenly over it, one page view per visitor."""
    rows = []
    for hour, count in sorted(counts.items()):
        for i in range(count):
            when = hour + timedelta(seconds=i * 3600 // max(count, 1))
            path = ("/", "/product/a", "/sale", "/checkout")[i % 4]
            rows.append(bronze_event(f"v{hour:%m%d%H}-{i}", when, "page_view", path))
    return rows


def flagged(scores) -> dict[datetime, str]:
    return {s.hour: s.flag for s in scores if s.flag}


def test_injected_drops_and_spikes_are_flagged_and_nothing_else():
    counts = seasonal_counts(START, 24 * 14, seed=11)
    drop, spike, outage = (START + HOUR * (24 * 9 + 15), START + HOUR * (24 * 11 + 4),
                           START + HOUR * (24 * 13 + 11))
    counts[drop] = round(usual(drop) * 0.2)
    counts[spike] = round(usual(spike) * 4)
    counts[outage] = 0
    scores = score_hours(counts, START + timedelta(days=7), START + timedelta(days=14))
    assert flagged(scores) == {drop: "drop", spike: "spike", outage: "drop"}
    by_hour = {s.hour: s for s in scores}
    assert by_hour[drop].score <= -THRESHOLD and by_hour[spike].score >= THRESHOLD
    assert by_hour[drop].expected == pytest.approx(usual(drop), rel=0.25)


def test_growth_and_weekends_are_not_anomalies():
    """Traffic that doubles from one week to the next, weekends included: the level follows."""
    week = START + timedelta(days=7)
    counts = {**seasonal_counts(START, 24 * 7, seed=5, peak=60),
              **seasonal_counts(week, 24 * 7, seed=6, peak=120)}
    scores = score_hours(counts, START + timedelta(days=7, hours=6), START + timedelta(days=14))
    assert flagged(scores) == {}


def test_a_new_pipeline_is_not_scored_against_silence():
    counts = seasonal_counts(START + timedelta(days=5), 24 * 4, seed=3)
    scores = score_hours(counts, START, START + timedelta(days=9))
    unscored = [s for s in scores if s.score is None]
    assert len(unscored) == 24 * 8   # before the data and its first three days: no baseline
    assert {s.hour for s in scores if s.score is not None} == {
        START + timedelta(days=8) + HOUR * h for h in range(24)}


def test_a_stopped_pipeline_is_a_drop_at_once():
    counts = seasonal_counts(START, 24 * 8, seed=2)
    stopped = START + timedelta(days=7, hours=14)
    for hour in list(counts):
        if hour >= stopped:
            counts[hour] = 0
    scores = score_hours(counts, stopped - HOUR * 3, stopped + HOUR)
    assert [s.flag for s in scores] == [None, None, None, "drop"]


@pytest.mark.parametrize(("kind", "factor"), [("drop", 0.1), ("spike", 4.0)])
def test_the_volume_check_flags_the_last_hour_of_bronze(tmp_path: Path, kind: str, factor: float):
    """Eight days of traffic up to now in a real bronze table; the hour that just ended is
    abnormal; the hourly bronze checks flag it, with the numbers and a report to look at.
    The traffic is level (Poisson, 60 an hour) so the test means the same at any time of day."""
    settings = replace(load_settings(), mode="embedded", home=tmp_path,
                       lake_uri=str(tmp_path / "lake"))
    last = floor_hour(datetime.now(UTC)) - HOUR
    rng = random.Random(17)
    counts = {last - HOUR * k: poisson(rng, 60) for k in range(1, 24 * 8)}
    counts[last] = round(60 * factor)
    write_table(f"{settings.lake_uri}/bronze/events", traffic_events(counts), BRONZE_COLUMNS,
                "event_date")
    defs = Definitions(assets=[bronze_catch_up], asset_checks=[bronze_quality],
                       jobs=[bronze_quality_job], resources=build_resources(settings))
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("bronze_quality_job").execute_in_process(instance=instance)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()
                   if e.asset_key == BRONZE}
    volume = evaluations["volume_anomaly"]
    metadata = {k: v.value for k, v in volume.metadata.items()}
    assert not volume.passed and volume.severity == AssetCheckSeverity.WARN
    assert (metadata["flag"], metadata["hour"], metadata["events"]) == (
        kind, last.isoformat(), counts[last])
    assert abs(metadata["score"]) >= THRESHOLD
    assert metadata["expected"] == pytest.approx(60, rel=0.2)
    assert metadata["failures"] >= 1
    assert any(h["hour"] == last.isoformat() for h in metadata["flagged_hours_24h"])
    assert f": a {kind}" in volume.description
    report = Path(settings.home / "reports" / metadata["report"].split("/reports/")[1])
    assert report.exists() and last.strftime("%Y-%m-%d %H:%M") in report.read_text()
    assert evaluations["schema"].passed and evaluations["duplicate_rate"].passed
