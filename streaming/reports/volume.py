"""Volume anomalies: each hour's event count scored against a robust expectation.

The expectation of an hour combines the same hour on each of the previous SAME_HOUR_DAYS days,
back to the same hour last week, with the recent hours:

- shape: the median count of that hour over the previous days (the daily rhythm);
- level: the median, over the previous RECENT_HOURS hours, of count / that hour's shape (how
  today runs against the usual days: a weekend, a campaign, growth);
- expected = shape x level.

The noise around the expectation grows like a count's (Poisson: sqrt(expected)); how much
noisier the traffic really is comes from the Pearson residuals of the previous three days'
hours, as 1.4826 x their median absolute deviation (at least 1). Medians keep one abnormal
hour from moving the baseline, which a mean and standard deviation would not. The score is
(count - expected) / (dispersion x sqrt(expected)), a robust z-score; |score| >= THRESHOLD
flags a drop or a spike. THRESHOLD is 4 rather than the textbook 3.5 for modified z-scores:
on simulated traffic with a daily rhythm, weekends and Poisson noise, 3.5 flagged about three
normal hours in a thousand and 4 one, while a 70% drop or a 3x spike still scored beyond 4.

Hours before the first hour with data are unknown rather than zero, so a new pipeline is not
scored against silence, and an hour is scored only once MIN_DAYS previous days are known. An
outage longer than RECENT_HOURS lowers the level it is compared with; bronze's freshness
policy is what keeps reporting it from then on.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
RECENT_HOURS = 6
SAME_HOUR_DAYS = 7
MIN_DAYS = 3
DISPERSION_HOURS = 72
THRESHOLD = 4.0


@dataclass(frozen=True)
class HourScore:
    hour: datetime
    events: int
    expected: float | None
    score: float | None
    flag: str | None

    def as_dict(self) -> dict:
        return {"hour": self.hour.isoformat(), "events": self.events,
                "expected": None if self.expected is None else round(self.expected, 1),
                "score": None if self.score is None else round(self.score, 2), "flag": self.flag}


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _mad_scale(values: list[float]) -> float:
    center = statistics.median(values)
    return 1.4826 * statistics.median(abs(v - center) for v in values)


class Baseline:
    """Expected counts from per-hour counts, memoized (each hour's expectation is reused by the
    level and dispersion of the hours after it)."""

    def __init__(self, counts: Mapping[datetime, int]) -> None:
        self.counts = counts
        self.first = min((h for h, n in counts.items() if n), default=None)
        self._shape: dict[datetime, float | None] = {}
        self._expected: dict[datetime, float | None] = {}

    def count(self, hour: datetime) -> int:
        return self.counts.get(hour, 0)

    def shape(self, hour: datetime) -> float | None:
        if hour not in self._shape:
            days = [self.count(hour - DAY * d) for d in range(1, SAME_HOUR_DAYS + 1)
                    if self.first is not None and hour - DAY * d >= self.first]
            self._shape[hour] = statistics.median(days) if len(days) >= MIN_DAYS else None
        return self._shape[hour]

    def expected(self, hour: datetime) -> float | None:
        if hour not in self._expected:
            shape = self.shape(hour)
            ratios = []
            for k in range(1, RECENT_HOURS + 1):
                before = hour - HOUR * k
                usual = self.shape(before)
                if usual and self.first is not None and before >= self.first:
                    ratios.append(self.count(before) / usual)
            level = statistics.median(ratios) if ratios else 1.0
            self._expected[hour] = None if shape is None else shape * level
        return self._expected[hour]

    def dispersion(self, hour: datetime) -> float:
        residuals = []
        for k in range(1, DISPERSION_HOURS + 1):
            expected = self.expected(hour - HOUR * k)
            if expected is not None:
                residuals.append((self.count(hour - HOUR * k) - expected) / math.sqrt(max(expected, 1)))
        return max(_mad_scale(residuals), 1.0) if len(residuals) >= RECENT_HOURS else 1.0

    def score(self, hour: datetime) -> HourScore:
        events, expected = self.count(hour), self.expected(hour)
        if expected is None:
            return HourScore(hour, events, None, None, None)
        score = (events - expected) / (self.dispersion(hour) * math.sqrt(max(expected, 1)))
        flag = "spike" if score >= THRESHOLD else "drop" if score <= -THRESHOLD else None
        return HourScore(hour, events, expected, score, flag)


def score_hours(counts: Mapping[datetime, int], start: datetime, end: datetime) -> list[HourScore]:
    """Scores every whole hour in [start, end) from per-hour counts (hours keyed by their start;
    a missing hour after the first counted hour means zero events)."""
    baseline = Baseline(counts)
    scores = []
    hour = floor_hour(start)
    while hour + HOUR <= end:
        scores.append(baseline.score(hour))
        hour += HOUR
    return scores


def hourly_counts(engine, since: datetime) -> dict[datetime, int]:
    """Events per hour from the hourly_volume view, from the day of `since` on (the filter on
    event_date lets either engine read only those partitions)."""
    result = engine.query("SELECT hour, sum(events) AS events FROM hourly_volume "
                          f"WHERE event_date >= DATE '{since.date().isoformat()}' GROUP BY hour")
    return {row["hour"]: row["events"] for row in result.to_pylist()}


def recent_scores(engine, end: datetime, days: int = SAME_HOUR_DAYS) -> list[HourScore]:
    """Scores of the whole hours of the `days` days before `end`; reads the week before them
    too, which their expectations need."""
    start = floor_hour(end) - DAY * days
    counts = hourly_counts(engine, start - DAY * SAME_HOUR_DAYS - HOUR * DISPERSION_HOURS)
    return score_hours(counts, start, end)
