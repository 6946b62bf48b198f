"""`streaming.lake.delta.retried`: an operation whose log was truncated under it (two erasures
at once: one purges the log the other just listed) runs again, whether delta-rs says so with
a FileNotFoundError or a DeltaError; other errors do not."""

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError

from streaming.lake.delta import DeltaTarget, retried, vanished_log


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


def test_a_vacuum_whose_snapshot_lost_its_log_to_another_erasure_runs_again(tmp_path):
    """The race two erasures at once ran into (`test_erasure_live`, in CI): one loads the
    table, its snapshot listing the log's JSON commits; the other's purge checkpoints the table
    and deletes that log; then the first one's VACUUM reads the listed commits. delta-kernel
    answers DeltaError "Kernel error: File not found: .../_delta_log/...json", not a
    FileNotFoundError. Run again on a fresh snapshot, the VACUUM reads the new checkpoint."""
    uri = str(tmp_path / "table")
    for value in range(3):
        write_deltalake(uri, pa.table({"value": [value]}), mode="append")
    other_erasure = DeltaTarget(uri, "value", None)
    errors: list[Exception] = []

    def vacuum() -> list[str]:
        table = DeltaTable(uri)
        if not errors:
            other_erasure.truncate_history()
        try:
            return table.vacuum(0, enforce_retention_duration=False, dry_run=False)
        except DeltaError as exc:
            errors.append(exc)
            raise

    assert retried(vacuum, "vacuum") == []
    [lost] = errors
    assert "File not found" in str(lost) and "_delta_log" in str(lost) and vanished_log(lost)
