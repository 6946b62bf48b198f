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


class CheckpointBusy(RuntimeError):
    """Another query already runs on this checkpoint."""


@contextmanager
def checkpoint_lock(settings: Settings) -> Iterator[None]:
    """One query per checkpoint: two queries on one checkpoint would race on its offset log.

    Embedded mode holds an exclusive lock (released by the kernel if the process dies, even
    by SIGKILL); on AWS the Glue job's max concurrency of 1 plays that part.
    """
    if not settings.embedded:
        yield
        return
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with (settings.state_dir / LOCK_FILE).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
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


def process_alive(pid: int | None) -> bool:
    """True when `pid` is a live stream job process (not a recycled pid of something else)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"streaming.stream.job" in cmdline or b"streaming.cli" in cmdline


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
