"""The sink's dedup window (streaming/stream/dedup.py), with "now" given, never read.

Keys take two paths (a UUID in its canonical text is held as an integer, anything else as its
string), so the window's rules are checked on both, and the two against a plain model of the
rules."""

import math

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.stream.dedup import RecentKeys, window_seconds

WINDOW = 600.0
T0 = 1_800_000_000.0


def as_uuid(name: str) -> str:
    return f"{int.from_bytes(name.encode()):08x}-5e1f-4000-8000-00000000000a"


KINDS = {"text": str, "uuid": as_uuid}


@pytest.fixture(params=sorted(KINDS))
def key(request):
    return KINDS[request.param]


def admitted(recent: RecentKeys, keys: list[str], now: float) -> list[str]:
    mask = recent.admit(pa.array(keys), now).to_pylist()
    return [key for key, keep in zip(keys, mask, strict=True) if keep]


class Model:
    """The window's rules, plainly: a key counts as seen from its first admission until
    the window before the previous batch has passed it."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.previous: float | None = None
        self.cutoff = -math.inf

    def admit(self, keys: list[str], now: float) -> list[bool]:
        if self.previous is not None:
            self.cutoff = self.previous - WINDOW
        keep = []
        for key in keys:
            new = key not in self.seen or self.seen[key] < self.cutoff
            if new:
                self.seen[key] = now
            keep.append(new)
        self.previous = now
        return keep

    def __len__(self) -> int:
        return sum(seen >= self.cutoff for seen in self.seen.values())


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


def test_repeats_in_a_batch_and_across_batches_are_dropped(key):
    recent = RecentKeys(WINDOW)
    a, b, c = key("a"), key("b"), key("c")
    assert admitted(recent, [a, b, a], T0) == [a, b]
    assert admitted(recent, [b, c], T0 + 1) == [c]
    assert len(recent) == 3


def test_a_key_is_forgotten_one_batch_after_its_window(key):
    recent = RecentKeys(WINDOW)
    a = key("a")
    admitted(recent, [a], T0)
    assert admitted(recent, [a], T0 + WINDOW + 1) == [], "checked against the previous batch's window"
    assert admitted(recent, [a], T0 + WINDOW + 2) == [a]


def test_downtime_does_not_forget_keys(key):
    """The first batch after a long stop is checked against what was seen before the stop,
    as copies sent while the job was down reach it then."""
    recent = RecentKeys(WINDOW)
    a, b, c = key("a"), key("b"), key("c")
    admitted(recent, [a], T0)
    admitted(recent, [b], T0 + 10)
    assert admitted(recent, [a, b, c], T0 + 86_400) == [c]
    assert admitted(recent, [a, b], T0 + 86_401) == [a, b]


def test_remembered_keys_count_as_seen_when_they_were(key):
    """A rebuild's keys expire by their own arrival time."""
    recent = RecentKeys(WINDOW)
    a, b, c, d = key("a"), key("b"), key("c"), key("d")
    recent.remember(pa.array([a, b]), T0 - 5)
    recent.remember(pa.array([c]), T0)
    assert admitted(recent, [a, c, d], T0 + 100) == [d]
    assert admitted(recent, [a], T0 + WINDOW + 10) == []
    assert admitted(recent, [a, c, d], T0 + WINDOW + 200) == [a, c]


# Keys that look alike: a UUID, the same in capitals (another string, so another key), the
# nil UUID, near-UUIDs that are not hex or misplace a dash, and plain ids.
UUID_A = "0f5e2b7c-1d3a-4e8f-9b6c-2a4d6e8f0a1b"
KEYS = [UUID_A, UUID_A.upper(), "00000000-0000-0000-0000-000000000000",
        "0f5e2b7c-1d3a-4e8f-9b6c-2a4d6e8f0a1g", "0f5e2b7c1-d3a-4e8f-9b6c-2a4d6e8f0a1b",
        "0f5e2b7c-1d3a-4e8f-9b6c-2a4d6e8f0a1c", "a", "shardId-000000000001:4963:0"]
STEPS = [0.0, 0.5, 1.0, WINDOW / 2, WINDOW - 1, WINDOW, WINDOW + 1, 86_400.0]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from(KEYS), max_size=10), st.sampled_from(STEPS)),
                min_size=1, max_size=12))
def test_both_paths_follow_the_window_rules_for_any_keys_and_times(batches):
    recent, model, now = RecentKeys(WINDOW), Model(), T0
    for keys, step in batches:
        now += step
        assert recent.admit(pa.array(keys, pa.string()), now).to_pylist() == model.admit(keys, now)
        assert len(recent) == len(model)


def test_keys_that_differ_in_few_bits_stay_distinct_and_expire():
    """Sequential UUIDs (time-based ones differ in a few bits), in batches of 1,000 with a
    repeat of some: every repeat is refused, and once the window has passed the old keys are
    admitted again."""
    recent = RecentKeys(WINDOW)
    keys = [f"{i:08x}-0000-1000-8000-00163e000000" for i in range(20_000)]
    for n in range(20):
        batch = keys[n * 1_000:(n + 1) * 1_000]
        assert recent.admit(pa.array(batch + batch[:10]), T0 + n).to_pylist() == [True] * 1_000 + [False] * 10
    assert len(recent) == 20_000
    assert recent.admit(pa.array(keys), T0 + 30).false_count == 20_000
    late = T0 + 30 + WINDOW + 1
    recent.admit(pa.array([], pa.string()), late)
    assert recent.admit(pa.array(keys[:5_000]), late + 1).true_count == 5_000
    assert len(recent) == 5_000


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.string_view()])
def test_keys_are_the_same_whichever_string_type_holds_them(kind):
    """A rebuild reads bronze's event_ids as its Delta reader types them; a batch holds them
    as the sink built them: a key must be the same key either way."""
    recent = RecentKeys(WINDOW)
    recent.remember(pa.array([UUID_A, "a"], kind), T0)
    assert recent.admit(pa.array([UUID_A, "a", "b"]), T0 + 1).to_pylist() == [False, False, True]
