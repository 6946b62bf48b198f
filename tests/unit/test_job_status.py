"""The stream job's status file, written from Spark's listener thread and the main thread, and
the checkpoint lock that says whether a job is alive."""

import fcntl
import json
import subprocess
import sys
import threading
import time

import pytest

from streaming.settings import Settings
from streaming.stream.status import (
    LOCK_FILE,
    CheckpointBusy,
    checkpoint_held,
    checkpoint_lock,
    write_status,
)


def test_concurrent_status_writes_neither_fail_nor_lose_a_field(tmp_path):
    """A stopping query reports from two threads at once; before the writes were serialized
    the second rename found no temporary file and the job exited 1 after its work was done."""
    path = tmp_path / "state" / "bronze_job.json"
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        start.wait()
        try:
            for i in range(50):
                write_status(path, **{f"writer_{n}": i})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    status = json.loads(path.read_text())
    assert {status[f"writer_{n}"] for n in range(8)} == {49}


def test_the_lock_says_whether_a_job_holds_the_checkpoint(tmp_path):
    settings = Settings(home=tmp_path)
    assert not checkpoint_held(settings)
    with checkpoint_lock(settings):
        assert checkpoint_held(settings)
        with pytest.raises(CheckpointBusy), checkpoint_lock(settings):
            pass
    assert not checkpoint_held(settings)


def test_a_killed_holder_leaves_the_checkpoint_free_whatever_its_command_line(tmp_path):
    """Liveness is the lock, which the kernel drops with its holder, not a module path in
    /proc/<pid>/cmdline that a move of the job's module or another launcher would miss."""
    settings = Settings(home=tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from streaming.settings import Settings\n"
        "from streaming.stream.status import checkpoint_lock\n"
        f"with checkpoint_lock(Settings(home=__import__('pathlib').Path({str(tmp_path)!r}))):\n"
        "    print('held', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert checkpoint_held(settings)
    finally:
        holder.kill()
        holder.wait()
    assert not checkpoint_held(settings)


def test_an_observers_probe_does_not_turn_a_starting_job_away(tmp_path):
    settings = Settings(home=tmp_path)
    settings.state_dir.mkdir(parents=True)
    with (settings.state_dir / LOCK_FILE).open("a") as probe:
        fcntl.flock(probe, fcntl.LOCK_SH)
        threading.Timer(0.1, fcntl.flock, (probe, fcntl.LOCK_UN)).start()
        started = time.monotonic()
        with checkpoint_lock(settings):
            assert time.monotonic() - started >= 0.05
