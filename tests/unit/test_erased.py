"""The published list of erased people's hashes, as the ingestion handler reads it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from streaming.erased import ErasedIds, hash_list_uri, publish, read_hash_list, subject_hash
from streaming.settings import load_settings


def settings_at(tmp_path, salt: str = "test-salt"):
    return replace(load_settings({}), lake_uri=str(tmp_path / "lake"), subject_hash_salt=salt)


def test_the_list_is_published_whole_and_read_back(tmp_path):
    settings = settings_at(tmp_path)
    assert read_hash_list(settings) == frozenset()
    publish(settings, {"b" * 64, "a" * 64})
    publish(settings, {"a" * 64, "b" * 64, "c" * 64})
    assert read_hash_list(settings) == {"a" * 64, "b" * 64, "c" * 64}
    assert Path(hash_list_uri(settings)).read_text() == "".join(f"{c * 64}\n" for c in "abc")


def test_an_event_is_listed_by_either_id_and_the_list_is_reread_after_its_ttl(tmp_path):
    settings = settings_at(tmp_path)
    now = [0.0]
    erased = ErasedIds(settings, ttl=60, clock=lambda: now[0])
    assert not erased.listed({"anonymous_id": "anon-1"})
    publish(settings, {subject_hash("anon-1", "test-salt"), subject_hash("user-2", "test-salt")})
    now[0] = 59.0
    assert not erased.listed({"anonymous_id": "anon-1"}), "read again before its ttl"
    now[0] = 60.0
    assert erased.listed({"anonymous_id": "anon-1"})
    assert erased.listed({"anonymous_id": "anon-9", "user_id": "user-2"})
    assert not erased.listed({"anonymous_id": "anon-10", "user_id": None})


def test_without_an_erasure_no_salt_is_needed(tmp_path):
    settings = settings_at(tmp_path, salt="")
    assert not ErasedIds(settings).listed({"anonymous_id": "anon-1"})
