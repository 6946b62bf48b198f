"""Starts, supervises and stops the embedded stack's processes: Kinesis endpoint, gateway,
stream job.

Every process gets its own session (process group) so that stopping it also stops what it
spawned (Spark's JVM and Python workers); logs go to `<home>/logs/<name>.log`.

`./clickstream stack` is left running by a user, so one part dying must not take the others
down: `Supervisor` restarts a part that exits, with capped exponential backoff, while the
others keep running (the gateway keeps accepting while the job restarts, and Kinesis holds
what arrives meanwhile), and gives up only on a part that keeps dying.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from botocore.exceptions import EndpointConnectionError

from streaming.kinesis import ensure_stream, kinesis_client
from streaming.settings import Settings
from streaming.stream.status import EXIT_CHECKPOINT_BUSY, STATUS_FILE, read_status

ROOT = Path(__file__).resolve().parents[2]
KINESALITE_DIR = Path(__file__).resolve().parent / "kinesalite"


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for(check, what: str, timeout: float, process: subprocess.Popen | None = None,
              log: Path | None = None) -> None:
    """Polls `check` until true; a dead process or a timeout raises with the log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}{log_tail(log)}")
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s{log_tail(log)}")


def log_tail(log: Path | None, lines: int = 15, window: int = 64 * 1024) -> str:
    """The log's last lines, read from its last `window` bytes (a stack left running for
    days has a long job log)."""
    if log is None or not log.exists():
        return ""
    with log.open("rb") as handle:
        handle.seek(max(0, handle.seek(0, os.SEEK_END) - window))
        text = handle.read().decode(errors="replace").splitlines()[-lines:]
    if not text:
        return f"; {log} is empty"
    return f"; last lines of {log}:\n" + "\n".join(text)


def stop_process(process: subprocess.Popen, timeout: float = 20.0, leader_first: bool = False) -> None:
    """SIGTERM to the whole process group, SIGKILL if it is still there after `timeout`.

    With `leader_first` the group's leader alone gets the SIGTERM first, and `timeout` to end
    its children itself: the stream job stops its query after the current batch, which it
    cannot do if its JVM (in its group) gets the signal too, as Spark's shutdown hook then
    ends the query under it. Whatever is left of the group gets the SIGTERM after."""
    if process.poll() is not None:
        return
    try:
        if leader_first:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def kill_process(process: subprocess.Popen) -> None:
    """SIGKILL to the group: what a crash looks like to everything else."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    process.wait(timeout=10)


STACK_FILE = "stack.json"


class PartKeepsDying(RuntimeError):
    """A supervised part exited again after `max_restarts` restarts within the window."""


def describe_exit(returncode: int) -> str:
    """`code 1` or `signal SIGKILL`: Popen reports death by a signal as a negative code."""
    if returncode >= 0:
        return f"code {returncode}"
    try:
        return f"signal {signal.Signals(-returncode).name}"
    except ValueError:
        return f"signal {-returncode}"


def backoff_delay(restarts: int, base: float = 1.0, cap: float = 30.0) -> float:
    """Seconds before the `restarts`-th recent restart (from 1): base, doubling, capped."""
    return min(cap, base * 2 ** max(0, restarts - 1))


@dataclass
class Part:
    """One supervised process: how to start it (without waiting for it), where it logs.

    `ready` (optional, polled, must return quickly) tells when a restarted part serves
    again, so the stack can say so. `waiting_exit_code` is an exit that means "not now"
    rather than "broken" (the job's checkpoint held by a Dagster catch-up): such exits are
    retried with backoff but never count towards giving up, since a catch-up can take
    minutes.
    """

    name: str
    spawn: Callable[[], subprocess.Popen]
    log: Path | None = None
    ready: Callable[[subprocess.Popen], bool] | None = None
    waiting_exit_code: int | None = None


@dataclass
class PartState:
    restarts: int = 0
    recent: deque[float] = field(default_factory=deque)  # monotonic times of counted restarts
    waits: int = 0  # consecutive "not now" exits
    due: float | None = None  # monotonic time of the pending restart
    spawned_at: float = 0.0
    announced: bool = True  # whether the current process's readiness was reported


class Supervisor:
    """Keeps `parts` running in `processes` (shared with `LocalStack`, so stopping the stack
    stops whatever process is current) until `stop` is set.

    A part that exits is restarted after `backoff_delay` of its restarts in the last `window`
    seconds (1 s, 2 s, 4 s, ... capped at `max_backoff`): a crash loop does not spin, while a
    part that crashes once a day comes back at once. Restarts are scheduled, never waited
    for, and a restarted part is not waited on either (the job needs 20-60 s to start its
    query), so one part restarting never delays noticing another's exit. A part that exits
    after `max_restarts` restarts within `window` raises PartKeepsDying: restarting it
    further would only hide a fault a person has to fix. Time is `time.monotonic`, so a
    wall-clock jump cannot trigger or hide a give-up.
    """

    def __init__(self, parts: list[Part], processes: dict[str, subprocess.Popen],
                 say: Callable[[str], None] = print, max_restarts: int = 5,
                 window: float = 120.0, backoff: float = 1.0, max_backoff: float = 30.0,
                 poll: float = 0.2, on_change: Callable[[Supervisor], None] | None = None,
                 started_at: Mapping[str, float] | None = None):
        """`started_at`: monotonic start times of processes already in `processes`, so an
        exit can say how long the part ran."""
        self.started_at = dict(started_at or {})
        self.parts = {part.name: part for part in parts}
        self.processes = processes
        self.say = say
        self.max_restarts = max_restarts
        self.window = window
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.poll = poll
        self.on_change = on_change
        self.states = {name: PartState() for name in self.parts}

    def run(self, stop: threading.Event) -> None:
        """Supervises until `stop` is set; a part missing from `processes` is started first.
        Returns with every current process still running: stopping them is the caller's."""
        for name, part in self.parts.items():
            if name in self.processes:
                self.states[name].spawned_at = self.started_at.get(name, time.monotonic())
            else:
                self._spawn(part, announce=False)
        self._changed()
        while not stop.is_set():
            now = time.monotonic()
            for name, part in self.parts.items():
                state = self.states[name]
                if state.due is not None:
                    if now >= state.due:
                        self._spawn(part, announce=True)
                    continue
                process = self.processes[name]
                if process.poll() is not None:
                    self._exited(part, process, now)
                elif not state.announced and part.ready is not None and part.ready(process):
                    state.announced = True
                    self.say(f"stack: {name} is up again (pid {process.pid}, "
                             f"{time.monotonic() - state.spawned_at:.0f}s after its restart)")
            stop.wait(self.poll)

    def _spawn(self, part: Part, announce: bool) -> None:
        state = self.states[part.name]
        state.due = None
        state.spawned_at = time.monotonic()
        state.announced = not announce or part.ready is None
        self.processes[part.name] = part.spawn()
        self._changed()

    def _exited(self, part: Part, process: subprocess.Popen, now: float) -> None:
        """Schedules the restart of a part whose process has exited, or gives up on it."""
        state = self.states[part.name]
        # What the part spawned (Spark's JVM) may outlive it and hold its ports or files.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        how = describe_exit(process.returncode)
        ran = now - state.spawned_at
        tail = log_tail(part.log)
        if part.waiting_exit_code is not None and process.returncode == part.waiting_exit_code:
            state.waits += 1
            delay = backoff_delay(state.waits, self.backoff, self.max_backoff)
            state.due = now + delay
            self.say(f"stack: {part.name} exited with {how} after {ran:.0f}s (it has to wait, "
                     f"not counted as a failure); trying again in {delay:.0f}s{tail}")
            self._changed()
            return
        state.waits = 0
        while state.recent and now - state.recent[0] > self.window:
            state.recent.popleft()
        if len(state.recent) >= self.max_restarts:
            raise PartKeepsDying(
                f"{part.name} keeps dying: {len(state.recent) + 1} exits within "
                f"{self.window:.0f}s, the last with {how} after {ran:.0f}s ({state.restarts} "
                f"restarts in all); stopping the stack{tail}")
        state.recent.append(now)
        state.restarts += 1
        delay = backoff_delay(len(state.recent), self.backoff, self.max_backoff)
        state.due = now + delay
        self.say(f"stack: {part.name} exited with {how} after {ran:.0f}s; restart "
                 f"{state.restarts} ({len(state.recent)} within {self.window:.0f}s, giving up "
                 f"after {self.max_restarts}) in {delay:.0f}s{tail}")
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)


@dataclass
class LocalStack:
    """The embedded pipeline's long-running processes, started in dependency order."""

    settings: Settings
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)  # monotonic, per process name

    @property
    def log_dir(self) -> Path:
        return self.settings.log_dir

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.child_env(),
                                   start_new_session=True, cwd=ROOT)
        self.processes[name] = process
        self.started_at[name] = time.monotonic()
        return process

    def child_env(self) -> dict[str, str]:
        """This process's environment with the stack's settings and Spark's Python."""
        return {**os.environ, "PYSPARK_PYTHON": sys.executable,
                "PYSPARK_DRIVER_PYTHON": sys.executable, **self.settings.to_env()}

    def start_kinesis(self, timeout: float = 30.0) -> None:
        """kinesalite on loopback, persisted under `<home>/kinesis`; creates the stream."""
        port = self.settings.kinesis_port
        if port_open("127.0.0.1", port):
            raise RuntimeError(f"port {port} is already in use: stop what listens there or set "
                               "CLICKSTREAM_KINESIS_ENDPOINT to another port")
        if not (KINESALITE_DIR / "node_modules" / "kinesalite").is_dir():
            raise RuntimeError(f"kinesalite is not installed: run `npm ci` in {KINESALITE_DIR} "
                               "(./clickstream does it for you)")
        process = self.spawn_kinesis()
        wait_for(self.stream_ready, "Kinesis endpoint and stream", timeout, process,
                 self.log_dir / "kinesis.log")

    def stream_ready(self) -> bool:
        """The endpoint answers and the stream is ACTIVE (created when missing). An endpoint
        that opened its port may still refuse a moment later (a restart reopening its data
        directory): that is not ready yet, and `wait_for` reports it if the process died."""
        if not self.kinesis_ready():
            return False
        try:
            ensure_stream(kinesis_client(self.settings), self.settings.stream_name,
                          self.settings.shard_count)
        except EndpointConnectionError:
            return False
        return True

    def spawn_kinesis(self) -> subprocess.Popen:
        """kinesalite on its port and data directory, not waited for; the stream persists in
        the data directory, so a restarted endpoint serves it (and its records) again."""
        self.settings.kinesis_data_dir.mkdir(parents=True, exist_ok=True)
        return self._spawn("kinesis", ["node", str(KINESALITE_DIR / "server.js"),
                                       str(self.settings.kinesis_port),
                                       str(self.settings.kinesis_data_dir)])

    def kinesis_ready(self) -> bool:
        return port_open("127.0.0.1", self.settings.kinesis_port)

    def spawn_gateway(self) -> subprocess.Popen:
        """The gateway, not waited for (`gateway_healthy` tells when it serves)."""
        return self._spawn("gateway", [sys.executable, "-m", "streaming.local.gateway"])

    def gateway_healthy(self) -> bool:
        try:
            return httpx.get(f"{self.settings.gateway_url}/healthz", timeout=1).is_success
        except httpx.HTTPError:
            return False

    def start_gateway(self, timeout: float = 30.0) -> None:
        port = self.settings.gateway_port
        if port_open(self.settings.gateway_host, port):
            raise RuntimeError(f"port {port} is already in use: set CLICKSTREAM_GATEWAY_PORT")
        process = self.spawn_gateway()
        wait_for(self.gateway_healthy, "gateway", timeout, process, self.log_dir / "gateway.log")

    def job_status(self) -> dict:
        return read_status(self.settings)

    def spawn_job(self, trigger: str = "continuous") -> subprocess.Popen:
        """The stream job, not waited for (`job_running` tells when its query runs). The
        previous run's status is removed, so what is there afterwards is this run's."""
        (self.settings.state_dir / STATUS_FILE).unlink(missing_ok=True)
        return self._spawn("job", [sys.executable, "-m", "streaming.stream.job", "--trigger", trigger])

    def job_running(self, process: subprocess.Popen) -> bool:
        """True once `process` has started its query."""
        status = self.job_status()
        return status.get("pid") == process.pid and status.get("query_id") is not None

    def start_job(self, timeout: float = 240.0, trigger: str = "continuous") -> subprocess.Popen:
        """The stream job; ready once its query has started (Spark + Delta jars are up)."""
        process = self.spawn_job(trigger)
        wait_for(lambda: self.job_status().get("query_id") is not None, "stream job", timeout,
                 process, self.log_dir / "job.log")
        return process

    def start(self, progress=print) -> None:
        progress("starting the Kinesis endpoint (kinesalite) ...")
        self.start_kinesis()
        progress(f"  stream {self.settings.stream_name} ready at {self.settings.kinesis_endpoint_url}")
        progress("starting the gateway ...")
        self.start_gateway()
        progress(f"  gateway at {self.settings.gateway_url} (POST /v1/events, website at /)")
        progress("starting the stream job (Spark reads the stream, delta-rs commits) ...")
        started = time.monotonic()
        self.start_job()
        progress(f"  stream job running after {time.monotonic() - started:.0f}s")

    def supervise(self, stop: threading.Event, progress: Callable[[str], None] = print,
                  max_restarts: int = 5, window: float = 120.0, backoff: float = 1.0,
                  max_backoff: float = 30.0) -> None:
        """Keeps the started parts running until `stop` is set (see `Supervisor`); raises
        PartKeepsDying for a part that keeps dying. Records the parts' pids and restart
        counts in `<home>/state/stack.json` for users and scripts. Restarts skip `start_*`'s
        port checks and waits: a part that cannot bind its port exits and is retried."""
        spawners = {"kinesis": self.spawn_kinesis, "gateway": self.spawn_gateway,
                    "job": self.spawn_job}
        readiness = {"kinesis": lambda _: self.kinesis_ready(),
                     "gateway": lambda _: self.gateway_healthy(), "job": self.job_running}
        parts = [Part(name, spawners[name], self.log_dir / f"{name}.log", readiness[name],
                      EXIT_CHECKPOINT_BUSY if name == "job" else None)
                 for name in self.processes if name in spawners]
        supervisor = Supervisor(parts, self.processes, progress, max_restarts, window, backoff,
                                max_backoff, on_change=self.write_stack_file,
                                started_at=self.started_at)
        supervisor.run(stop)

    @property
    def stack_file(self) -> Path:
        return self.settings.state_dir / STACK_FILE

    def write_stack_file(self, supervisor: Supervisor | None = None,
                         state: str = "running") -> None:
        """`<home>/state/stack.json`: the supervising process and each part's current pid,
        whether it runs and its restarts; the times in it are for people (wall clock)."""
        restarts = {name: s.restarts for name, s in supervisor.states.items()} if supervisor \
            else {}
        parts = {name: {"pid": process.pid, "running": process.poll() is None,
                        "restarts": restarts.get(name, 0)}
                 for name, process in self.processes.items()}
        path = self.stack_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"state": state, "pid": os.getpid(), "parts": parts,
                                   "updated_at": time.time()}, indent=2))
        tmp.replace(path)

    def kill(self, name: str) -> None:
        """SIGKILL one component's process group, as a crash would; its `start_*` method (or
        `streaming.local.dagster_ui.start_dagster`) brings it back on the same port and data."""
        kill_process(self.processes.pop(name))

    def stop(self) -> None:
        """Stops in reverse order so the job can finish its batch while Kinesis is still up."""
        for name in reversed(list(self.processes)):
            stop_process(self.processes.pop(name), leader_first=name == "job")

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
