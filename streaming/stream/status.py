"""What the stream job tells its observers, and the lock that keeps it alone on its checkpoint.

The job publishes its status to a file (state, pid, last progress) and appends each batch's
progress to a log; the demo, the local stack, fault runs and Dagster read them. None of this
needs Spark, so observers import it without importing the job.
"""

from __future__ import annotations

import fcntl
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streaming.settings import Settings

STATUS_FILE = "bronze_job.json"
PROGRESS_LOG = "bronze_job_progress.jsonl"
LOCK_FILE = "bronze_job.lock"
EXIT_CHECKPOINT_BUSY = 3
# How long a starting job retries the lock: an observer's probe holds it for two system calls.
PROBE_GRACE_SECONDS = 0.5


class CheckpointBusy(RuntimeError):
    """Another query already runs on this checkpoint."""


@contextmanager
def checkpoint_lock(settings: Settings) -> Iterator[None]:
    """One query per checkpoint: two queries on one checkpoint would race on its offset log.

    Embedded mode holds an exclusive lock (released by the kernel if the process dies, even
    by SIGKILL); on AWS the Glue job's max concurrency of 1 plays that part. The lock is also
    what says a job is alive (`checkpoint_held`), so a probe may hold it for an instant: the
    lock is retried for PROBE_GRACE_SECONDS before the checkpoint counts as busy.
    """
    if not settings.embedded:
        yield
        return
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with (settings.state_dir / LOCK_FILE).open("a+") as handle:
        deadline = time.monotonic() + PROBE_GRACE_SECONDS
        while not _locked(handle, fcntl.LOCK_EX):
            if time.monotonic() < deadline:
                time.sleep(0.01)
                continue
            status = read_status(settings)
            raise CheckpointBusy(
                f"another stream job (pid {status.get('pid', '?')}) is running on "
                f"{settings.bronze_checkpoint_uri}; stop it first or let it catch up") from None
        yield


def read_status(settings: Settings) -> dict:
    """The job's last published status ({} before its first start)."""
    try:
        return json.loads((settings.state_dir / STATUS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _locked(handle, mode: int) -> bool:
    """Takes the lock in `mode` without waiting; False when another holder excludes it."""
    try:
        fcntl.flock(handle, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def checkpoint_held(settings: Settings) -> bool:
    """True while a query (the continuous job or a catch-up) or a restore holds the checkpoint.

    The lock itself answers, not the pid in the status file: the kernel drops it when its
    holder dies, however it is started and whatever its command line, and a recycled pid
    cannot pass for it. The probe takes a shared lock and drops it at once, so probes never
    exclude one another.
    """
    path = settings.state_dir / LOCK_FILE
    if not path.exists():
        return False
    with path.open("a") as handle:
        return not _locked(handle, fcntl.LOCK_SH)


_STATUS_LOCK = threading.Lock()


def write_status(path: Path, **fields) -> None:
    """Atomic JSON status for observers (the demo, Dagster); never read back by the job.

    Spark's listener thread and the main thread both write it (a query that stops reports
    "stopped" from each), so writes are serialized: two at once raced for the one temporary
    file, and the loser's rename failed the job after its work was done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _STATUS_LOCK:
        current = json.loads(path.read_text()) if path.exists() else {}
        current.update(fields, updated_at=time.time())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(current, default=str))
        tmp.replace(path)
