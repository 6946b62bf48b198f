"""The sink's dedup window (streaming/stream/dedup.py), with "now" given, never read."""

import pyarrow as pa
import pytest

from streaming.stream.dedup import RecentKeys, window_seconds

WINDOW = 600.0
T0 = 1_800_000_000.0


def admitted(recent: RecentKeys, keys: list[str], now: float) -> list[str]:
    mask = recent.admit(pa.array(keys), now).to_pylist()
    return [key for key, keep in zip(keys, mask, strict=True) if keep]


@pytest.mark.parametrize(("text", "seconds"), [
    ("10 minutes", 600), ("90 seconds", 90), ("1 hour", 3600), ("2 days", 172800),
    (" 1.5 Minutes ", 90)])
def test_windows_read_as_spark_intervals_did(text, seconds):
    assert window_seconds(text) == seconds


@pytest.mark.parametrize("text", ["10", "ten minutes", "10 weeks", "", "-1 minute"])
def test_a_window_that_is_not_one_says_what_to_give(text):
    with pytest.raises(ValueError, match=r"CLICKSTREAM_DEDUP_WINDOW=.*e\.g\. '10 minutes'"):
        window_seconds(text)


def test_the_job_refuses_a_window_that_is_not_one_before_spark_starts(tmp_path):
    """The stream job prepares its sink before it starts Spark: the rebuild of the keys runs in
    a thread, but the window is read, and refused, at once."""
    from dataclasses import replace

    from streaming.stream.job import BatchWriter
    from tests.conftest import isolated_settings

    writer = BatchWriter(replace(isolated_settings(tmp_path), dedup_window="ten minutes"))
    with pytest.raises(ValueError, match=r"CLICKSTREAM_DEDUP_WINDOW='ten minutes'"):
        writer.prepare()
    assert writer.rebuilding is None


def test_repeats_in_a_batch_and_across_batches_are_dropped():
    recent = RecentKeys(WINDOW)
    assert admitted(recent, ["a", "b", "a"], T0) == ["a", "b"]
    assert admitted(recent, ["b", "c"], T0 + 1) == ["c"]
    assert len(recent) == 3


def test_a_key_is_forgotten_one_batch_after_its_window():
    recent = RecentKeys(WINDOW)
    admitted(recent, ["a"], T0)
    assert admitted(recent, ["a"], T0 + WINDOW + 1) == [], "checked against the previous batch's window"
    assert admitted(recent, ["a"], T0 + WINDOW + 2) == ["a"]


def test_downtime_does_not_forget_keys():
    """The first batch after a long stop is checked against what was seen before the stop,
    as copies sent while the job was down reach it then."""
    recent = RecentKeys(WINDOW)
    admitted(recent, ["a"], T0)
    admitted(recent, ["b"], T0 + 10)
    assert admitted(recent, ["a", "b", "c"], T0 + 86_400) == ["c"]
    assert admitted(recent, ["a", "b"], T0 + 86_401) == ["a", "b"]


def test_remembered_keys_count_as_seen_when_they_were():
    """A rebuild's keys expire by their own arrival time."""
    recent = RecentKeys(WINDOW)
    recent.remember(["a", "b"], T0 - 5)
    recent.remember(["c"], T0)
    assert admitted(recent, ["a", "c", "d"], T0 + 100) == ["d"]
    assert admitted(recent, ["a"], T0 + WINDOW + 10) == []
    assert admitted(recent, ["a", "c", "d"], T0 + WINDOW + 200) == ["a", "c"]
