"""`streaming.lake.delta.retried`: an operation whose log was truncated under it (two erasures
at once: one purges the log the other just listed) runs again; other errors do not."""

import pytest

from streaming.lake.delta import retried


def test_an_operation_that_read_a_log_file_removed_under_it_runs_again(tmp_path):
    commit = tmp_path / "_delta_log" / "00000000000000000003.json"
    attempts: list[int] = []

    def read_the_log() -> str:
        attempts.append(1)
        if len(attempts) == 1:  # listed, then purged by the other erasure before it was read
            return commit.read_text()
        return "read on a fresh snapshot"

    assert retried(read_the_log, "reading") == "read on a fresh snapshot"
    assert len(attempts) == 2


def test_a_missing_data_file_is_not_taken_for_a_truncated_log(tmp_path):
    attempts: list[int] = []

    def read_a_data_file() -> str:
        attempts.append(1)
        return (tmp_path / "part-0.parquet").read_text()

    with pytest.raises(FileNotFoundError):
        retried(read_a_data_file, "reading")
    assert len(attempts) == 1
