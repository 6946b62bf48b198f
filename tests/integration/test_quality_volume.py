"""The volume anomaly score, on simulated traffic with injected drops and spikes, and the
volume check on a real bronze table through Dagster.

The traffic has what real traffic has: a daily rhythm, quieter weekends and Poisson noise
(seeded, so the tests are deterministic). Other test modules import `seasonal_counts` and
`traffic_events` to build a bronze table with a realistic week behind it.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, DagsterInstance, Definitions

from clickstream_assets.constants import BRONZE
from clickstream_assets.defs.stream.assets import bronze_catch_up
from clickstream_assets.defs.stream.checks import bronze_quality
from clickstream_assets.defs.stream.jobs import bronze_quality_job
from clickstream_assets.resources import build_resources
from streaming.reports.volume import (
    DISPERSION_HOURS,
    SAME_HOUR_DAYS,
    THRESHOLD,
    floor_hour,
    score_hours,
)
from streaming.settings import load_settings
from streaming.stream.transforms import BRONZE_COLUMNS
from tests.integration.test_sql_views import bronze_event, known_events, write_table

HOUR = timedelta(hours=1)
START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
# Instants a test that needs "now" is checked at: the hour this suite first failed at, a
# midnight, a month's and a year's last minute, a day a year ahead and a spring DST change.
INSTANTS = [datetime(2026, 11, 29, 16, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC),
            datetime(2026, 12, 31, 23, 30, tzinfo=UTC), datetime(2027, 11, 29, 16, tzinfo=UTC),
            datetime(2027, 3, 28, 1, 0, tzinfo=UTC)]


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


def bounded_counts(start: datetime, hours: int, peak: float) -> dict[datetime, int]:
    """Each hour's usual count plus seeded noise of at most one standard deviation (the square
    root of the mean): it looks like traffic, and by construction no hour is an anomaly, since
    the expectation moves by less than that and a flag needs a score of four."""
    rng = random.Random(17)
    counts = {}
    for h in range(hours):
        hour = start + HOUR * h
        mean = usual(hour, peak)
        counts[hour] = round(mean + rng.uniform(-1.0, 1.0) * math.sqrt(mean))
    return counts


def week_with_a_planted_drop(now: datetime) -> tuple[list[dict], datetime]:
    """Bronze rows for the known SQL days plus traffic up to the last whole hour before `now`,
    with the busiest hour of the last day dropped to 15%, an e-mail in one URL and one event
    stored twice; and the dropped hour, the only anomaly in it. The traffic goes back as far
    as the week's scores look (their expectations need the week before them and the three
    days of residuals before that), so the known days, wherever they fall, never read as an
    outage before it."""
    last = floor_hour(now) - HOUR
    dropped = max((last - HOUR * k for k in range(1, 24)), key=usual)
    days = 7 + SAME_HOUR_DAYS + DISPERSION_HOURS // 24
    counts = bounded_counts(last - timedelta(days=days), 24 * days + 1, peak=120)
    counts[dropped] = round(usual(dropped, 120) * 0.15)
    traffic = traffic_events(counts)
    leaked = bronze_event("L", last + timedelta(minutes=10), "page_view", "/account",
                          query="contact=jane.doe%40example.com")
    return [*known_events(), *traffic, leaked, dict(traffic[-1])], dropped


def traffic_events(counts: dict[datetime, int]) -> list[dict]:
    """Bronze rows: each hour's events spread evenly over it, one page view per visitor."""
    rows = []
    for hour, count in sorted(counts.items()):
        for i in range(count):
            when = hour + timedelta(seconds=i * 3600 // max(count, 1))
            path = ("/", "/product/a", "/sale", "/checkout")[i % 4]
            rows.append(bronze_event(f"v{hour:%m%d%H}-{i}", when, "page_view", path))
    return rows


def as_of(now: datetime, op: str = "bronze_quality") -> dict:
    """Run config that makes `op` (the bronze checks, or the dashboard) look back from `now`."""
    return {"ops": {op: {"config": {"as_of": now.isoformat()}}}}


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


@pytest.mark.parametrize("now", INSTANTS, ids=lambda now: now.strftime("%Y%m%dT%H%M%S"))
def test_the_planted_week_has_only_the_planted_anomaly(now: datetime):
    """The week the report tests show is built to hold exactly one anomaly, whatever `now` is:
    scored as the bronze check scores it (the whole hours of the week before `now`)."""
    rows, dropped = week_with_a_planted_drop(now)
    hourly = Counter(floor_hour(row["event_time"]) for row in rows)
    scores = score_hours(hourly, floor_hour(now) - timedelta(days=7), now)
    assert scores[-1].hour == floor_hour(now) - HOUR
    assert flagged(scores) == {dropped: "drop"}


@pytest.mark.parametrize(("kind", "factor", "now"), [
    ("drop", 0.1, INSTANTS[0]), ("spike", 4.0, INSTANTS[1]), ("drop", 0.1, INSTANTS[3])])
def test_the_volume_check_flags_the_last_hour_of_bronze(tmp_path: Path, kind: str, factor: float,
                                                        now: datetime):
    """Eight days of traffic up to `now` in a real bronze table; the hour that just ended is
    abnormal; the hourly bronze checks, run as of `now`, flag it, with the numbers and a report
    to look at. The traffic is level (Poisson, 60 an hour) so the test means the same at any
    time of day."""
    settings = replace(load_settings(), mode="embedded", home=tmp_path,
                       lake_uri=str(tmp_path / "lake"))
    last = floor_hour(now) - HOUR
    rng = random.Random(17)
    counts = {last - HOUR * k: poisson(rng, 60) for k in range(1, 24 * 8)}
    counts[last] = round(60 * factor)
    write_table(f"{settings.lake_uri}/bronze/events", traffic_events(counts), BRONZE_COLUMNS,
                "event_date")
    defs = Definitions(assets=[bronze_catch_up], asset_checks=[bronze_quality],
                       jobs=[bronze_quality_job], resources=build_resources(settings))
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("bronze_quality_job").execute_in_process(
            instance=instance, run_config=as_of(now))
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
