"""`./clickstream stack` supervises its parts: a part that dies is restarted, the others keep
running, and a part that keeps dying stops the stack with a message naming it.

The first tests drive `Supervisor` with tiny real processes, and pass their backoff and
window as parameters so that no outcome depends on how fast this machine is. The last one
runs `python -m streaming.cli stack` as a user would, SIGKILLs the stream job and then the
gateway under load from the fault run's retrying client, and counts bronze.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from streaming.lake import tables
from streaming.local.stack import (
    LocalStack,
    Part,
    PartKeepsDying,
    Supervisor,
    backoff_delay,
    describe_exit,
)
from streaming.settings import Settings
from tests.conftest import ROOT, isolated_settings


def exits_with(code: int) -> list[str]:
    return [sys.executable, "-c", f"import sys; print('about to exit {code}'); sys.exit({code})"]


def spawner(argv: list[str], log: Path, spawned: list[subprocess.Popen]):
    def spawn() -> subprocess.Popen:
        with log.open("ab") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        spawned.append(process)
        return process
    return spawn


class Recorder:
    """Collects the supervisor's messages; sets `stop` once `enough` says so."""

    def __init__(self, stop: threading.Event, enough=lambda lines: False):
        self.lines: list[str] = []
        self.stop = stop
        self.enough = enough

    def __call__(self, message: str) -> None:
        self.lines.append(message)
        if self.enough(self.lines):
            self.stop.set()


def reap(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_backoff_doubles_from_one_second_up_to_thirty():
    assert [backoff_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff_delay(3, base=0.01, cap=1) == 0.04


def test_an_exit_is_described_by_its_code_or_its_signal():
    assert describe_exit(3) == "code 3"
    assert describe_exit(-signal.SIGKILL) == "signal SIGKILL"


def test_a_part_that_keeps_dying_stops_supervision_naming_it(tmp_path):
    log = tmp_path / "broken.log"
    spawned: list[subprocess.Popen] = []
    steady = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                              start_new_session=True)
    processes = {"steady": steady}
    stop = threading.Event()
    say = Recorder(stop)
    # a window far longer than the test: every restart counts, however slow the machine
    supervisor = Supervisor(
        [Part("steady", lambda: pytest.fail("the steady part was restarted")),
         Part("broken", spawner(exits_with(3), log, spawned), log)],
        processes, say, max_restarts=3, window=600.0, backoff=0.01, max_backoff=0.05, poll=0.01)
    try:
        with pytest.raises(PartKeepsDying) as failure:
            supervisor.run(stop)
        assert steady.poll() is None
    finally:
        reap([steady, *spawned])
    message = str(failure.value)
    assert message.startswith("broken keeps dying: 4 exits within 600s, the last with code 3")
    assert "about to exit 3" in message  # its log's last lines
    assert len(spawned) == 4  # started, then restarted 3 times
    restarts = [line for line in say.lines if line.startswith("stack: broken exited")]
    assert len(restarts) == 3
    assert restarts[0].startswith("stack: broken exited with code 3")
    assert "restart 1 (1 within 600s, giving up after 3)" in restarts[0]
    assert "restart 3 (3 within 600s" in restarts[2]
    assert f"last lines of {log}" in restarts[0] and "about to exit 3" in restarts[0]


def test_exits_further_apart_than_the_window_are_restarted_for_ever(tmp_path):
    """With a zero window, no earlier restart is recent: never give up, never back off."""
    log = tmp_path / "flaky.log"
    spawned: list[subprocess.Popen] = []
    stop = threading.Event()
    say = Recorder(stop, lambda lines: sum("flaky exited" in line for line in lines) >= 6)
    supervisor = Supervisor([Part("flaky", spawner(exits_with(1), log, spawned), log)], {}, say,
                            max_restarts=1, window=0.0, backoff=0.01, poll=0.01)
    try:
        supervisor.run(stop)  # returns when `say` sets stop, raises if it gave up
    finally:
        reap(spawned)
    assert supervisor.states["flaky"].restarts == 6
    assert all("(1 within 0s" in line for line in say.lines)


def test_a_waiting_exit_is_retried_without_counting_towards_giving_up(tmp_path):
    log = tmp_path / "job.log"
    spawned: list[subprocess.Popen] = []
    stop = threading.Event()
    say = Recorder(stop, lambda lines: len(lines) >= 5)
    supervisor = Supervisor([Part("job", spawner(exits_with(3), log, spawned), log,
                                  waiting_exit_code=3)], {}, say,
                            max_restarts=1, window=600.0, backoff=0.01, poll=0.01)
    try:
        supervisor.run(stop)
    finally:
        reap(spawned)
    assert len(say.lines) == 5
    assert all("it has to wait, not counted as a failure" in line for line in say.lines)
    assert supervisor.states["job"].restarts == 0


def test_a_restarted_part_is_announced_once_it_is_ready(tmp_path):
    log = tmp_path / "server.log"
    spawned: list[subprocess.Popen] = []
    marker = tmp_path / "ready"
    # the first process exits at once; the restarted one becomes ready and stays up
    script = (f"import pathlib, sys, time\n"
              f"p = pathlib.Path({str(marker)!r})\n"
              f"if not p.with_suffix('.first').exists():\n"
              f"    p.with_suffix('.first').touch(); sys.exit(0)\n"
              f"p.write_text(str(__import__('os').getpid())); time.sleep(600)\n")
    stop = threading.Event()
    say = Recorder(stop, lambda lines: any("is up again" in line for line in lines))

    def ready(process: subprocess.Popen) -> bool:
        return marker.exists() and marker.read_text() == str(process.pid)

    supervisor = Supervisor([Part("server", spawner([sys.executable, "-c", script], log,
                                                    spawned), log, ready)], {}, say,
                            backoff=0.01, poll=0.01)
    timer = threading.Timer(60, stop.set)  # a safety net only: the test fails if it fires
    timer.start()
    try:
        supervisor.run(stop)
    finally:
        timer.cancel()
        reap(spawned)
    assert say.lines[0].startswith("stack: server exited with code 0")
    assert say.lines[-1].startswith(f"stack: server is up again (pid {spawned[1].pid}")


# --- the real stack ---------------------------------------------------------------------

def wait_until(check, what: str, timeout: float, stack: subprocess.Popen | None = None,
               output: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if stack is not None and stack.poll() is not None:
            pytest.fail(f"the stack exited ({stack.returncode}) while waiting for {what}:\n"
                        f"{output.read_text() if output else ''}")
        time.sleep(0.5)
    pytest.fail(f"{what}: not after {timeout:.0f}s\n{output.read_text() if output else ''}")


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def acknowledged_so_far(out: Path) -> int:
    return read_json(out / "progress.json").get("acknowledged", 0)


def bronze_event_ids(settings: Settings) -> Counter:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(tables.BRONZE.uri(settings)).to_pyarrow_dataset().to_table(columns=["event_id"])
    except TableNotFoundError:
        return Counter()
    return Counter(table["event_id"].to_pylist())


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_the_stack_restarts_a_killed_job_and_gateway_and_loses_nothing(tmp_path):
    home = tmp_path / "home"
    settings = isolated_settings(home)
    local = LocalStack(settings)
    stack_file = settings.state_dir / "stack.json"
    output = tmp_path / "stack.out"
    out = tmp_path / "client"
    events = 600
    with output.open("wb") as sink:
        stack = subprocess.Popen([sys.executable, "-m", "streaming.cli", "stack"], cwd=ROOT,
                                 env=local.child_env(), stdout=sink, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    client = None
    try:
        wait_until(lambda: "stack running" in output.read_text(), "the stack to be up", 420,
                   stack, output)
        first = read_json(stack_file)["parts"]
        assert set(first) == {"kinesis", "gateway", "job"}
        assert first["job"]["pid"] == local.job_status()["pid"]

        client = subprocess.Popen(
            [sys.executable, "-m", "streaming.tools.faults.client", "--url",
             f"{settings.gateway_url}/v1/events", "--events", str(events), "--rate", "25",
             "--concurrency", "4", "--visitors", "50", "--bad-share", "0",
             "--give-up-after", "300", "--out", str(out)],
            cwd=ROOT, env=local.child_env(), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)

        wait_until(lambda: acknowledged_so_far(out) >= 100, "100 events acknowledged", 120,
                   stack, output)
        os.killpg(local.job_status()["pid"], signal.SIGKILL)
        killed_job = first["job"]["pid"]
        # the gateway keeps accepting while the job restarts: Kinesis holds the events
        mark = acknowledged_so_far(out)
        wait_until(lambda: acknowledged_so_far(out) >= mark + 150,
                   "150 more events acknowledged with the job down", 120, stack, output)

        gateway = read_json(stack_file)["parts"]["gateway"]["pid"]
        assert gateway == first["gateway"]["pid"]
        os.kill(gateway, signal.SIGKILL)

        assert client.wait(timeout=400) == 0, (out / "summary.json").read_text()
        summary = read_json(out / "summary.json")
        assert summary["acknowledged"] == events and summary["abandoned"] == 0
        acknowledged = (out / "acknowledged.ids").read_text().split()
        assert len(set(acknowledged)) == events

        # the restarted job brings every acknowledged event into bronze, once
        counts = wait_until(
            lambda: (c := bronze_event_ids(settings)).keys() >= set(acknowledged) and c,
            "every acknowledged event in bronze", 420, stack, output)
        assert not [i for i in acknowledged if counts[i] != 1], "doubled in bronze"

        assert stack.poll() is None, output.read_text()
        parts = read_json(stack_file)["parts"]
        assert parts["job"]["pid"] != killed_job and parts["job"]["restarts"] == 1
        assert parts["gateway"]["pid"] != gateway and parts["gateway"]["restarts"] == 1
        assert parts["kinesis"]["restarts"] == 0
        assert all(part["running"] for part in parts.values())
        text = output.read_text()
        assert "stack: job exited with signal SIGKILL" in text
        assert "stack: gateway exited with signal SIGKILL" in text
        assert "restart 1 (1 within 120s, giving up after 5)" in text
        assert f"last lines of {home / 'logs' / 'job.log'}" in text
        assert "stack: gateway is up again" in text

        os.killpg(stack.pid, signal.SIGTERM)
        assert stack.wait(timeout=120) == 0, output.read_text()
        for name, part in parts.items():
            wait_until(lambda pid=part["pid"]: not group_alive(pid), f"{name} to be gone", 30)
        assert read_json(stack_file)["state"] == "stopped"
        assert output.read_text().rstrip().endswith("stack stopped")
    finally:
        if client is not None and client.poll() is None:
            client.kill()
            client.wait()
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
        for part in read_json(stack_file).get("parts", {}).values():
            if group_alive(part["pid"]):
                os.killpg(part["pid"], signal.SIGKILL)
