"""Starts and stops the embedded stack's processes: Kinesis endpoint, gateway, stream job.

Every process gets its own session (process group) so that stopping it also stops what it
spawned (Spark's JVM and Python workers); logs go to `<home>/logs/<name>.log`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from streaming.job import STATUS_FILE, read_status
from streaming.kinesis import ensure_stream, kinesis_client
from streaming.settings import Settings

ROOT = Path(__file__).resolve().parent
KINESALITE_DIR = ROOT / "kinesalite"


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
            raise RuntimeError(f"{what} exited with code {process.returncode}{_tail(log)}")
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s{_tail(log)}")


def _tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log}:\n" + "\n".join(text)


def stop_process(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM to the whole process group, SIGKILL if it is still there after `timeout`."""
    if process.poll() is not None:
        return
    try:
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


@dataclass
class LocalStack:
    """The embedded pipeline's long-running processes, started in dependency order."""

    settings: Settings
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.settings.home / "logs"

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.child_env(),
                                   start_new_session=True, cwd=ROOT.parent)
        self.processes[name] = process
        return process

    def child_env(self) -> dict[str, str]:
        """This process's environment with the stack's settings and Spark's Python."""
        return {**os.environ, "PYSPARK_PYTHON": sys.executable,
                "PYSPARK_DRIVER_PYTHON": sys.executable, **self.settings_env()}

    def settings_env(self) -> dict[str, str]:
        """The child processes see exactly this stack's settings."""
        s = self.settings
        env = {
            "CLICKSTREAM_MODE": s.mode,
            "CLICKSTREAM_HOME": str(s.home),
            "CLICKSTREAM_LAKE_URI": s.lake_uri,
            "CLICKSTREAM_CHECKPOINT_URI": s.checkpoint_uri,
            "CLICKSTREAM_STREAM_NAME": s.stream_name,
            "CLICKSTREAM_SHARD_COUNT": str(s.shard_count),
            "CLICKSTREAM_GATEWAY_HOST": s.gateway_host,
            "CLICKSTREAM_GATEWAY_PORT": str(s.gateway_port),
            "CLICKSTREAM_IP_HASH_SALT": s.ip_hash_salt,
            "CLICKSTREAM_SPARK_MASTER": s.spark_master,
            "CLICKSTREAM_DEDUP_WINDOW": s.dedup_window,
            "CLICKSTREAM_MAX_RECORDS_PER_SHARD": str(s.max_records_per_shard),
            "CLICKSTREAM_CATCH_UP_RECORDS_PER_SHARD": str(s.catch_up_records_per_shard),
            "AWS_REGION": s.region,
        }
        if s.kinesis_endpoint_url:
            env["CLICKSTREAM_KINESIS_ENDPOINT"] = s.kinesis_endpoint_url
        return env

    def start_kinesis(self, timeout: float = 30.0) -> None:
        """kinesalite on loopback, persisted under `<home>/kinesis`; creates the stream."""
        port = self.settings.kinesis_port
        if port_open("127.0.0.1", port):
            raise RuntimeError(f"port {port} is already in use: stop what listens there or set "
                               "CLICKSTREAM_KINESIS_ENDPOINT to another port")
        if not (KINESALITE_DIR / "node_modules" / "kinesalite").is_dir():
            raise RuntimeError(f"kinesalite is not installed: run `npm ci` in {KINESALITE_DIR} "
                               "(./clickstream does it for you)")
        self.settings.kinesis_data_dir.mkdir(parents=True, exist_ok=True)
        process = self._spawn("kinesis", ["node", str(KINESALITE_DIR / "server.js"), str(port),
                                          str(self.settings.kinesis_data_dir)])
        wait_for(lambda: port_open("127.0.0.1", port), "Kinesis endpoint", timeout, process,
                 self.log_dir / "kinesis.log")
        ensure_stream(kinesis_client(self.settings), self.settings.stream_name,
                      self.settings.shard_count)

    def start_gateway(self, timeout: float = 30.0) -> None:
        port = self.settings.gateway_port
        if port_open(self.settings.gateway_host, port):
            raise RuntimeError(f"port {port} is already in use: set CLICKSTREAM_GATEWAY_PORT")
        process = self._spawn("gateway", [sys.executable, "-m", "streaming.gateway"])

        def healthy() -> bool:
            try:
                return httpx.get(f"{self.settings.gateway_url}/healthz", timeout=1).is_success
            except httpx.HTTPError:
                return False

        wait_for(healthy, "gateway", timeout, process, self.log_dir / "gateway.log")

    def job_status(self) -> dict:
        return read_status(self.settings)

    def start_job(self, timeout: float = 240.0, trigger: str = "continuous") -> subprocess.Popen:
        """The stream job; ready once its query has started (Spark + Delta jars are up)."""
        status = self.settings.state_dir / STATUS_FILE
        status.unlink(missing_ok=True)
        process = self._spawn("job", [sys.executable, "-m", "streaming.job", "--trigger", trigger])
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
        progress("starting the stream job (Spark + delta-spark; the first start fetches jars) ...")
        started = time.monotonic()
        self.start_job()
        progress(f"  stream job running after {time.monotonic() - started:.0f}s")

    def kill(self, name: str) -> None:
        """SIGKILL one component's process group, as a crash would; its `start_*` method (or
        `streaming.dagster_ui.start_dagster`) brings it back on the same port and data."""
        kill_process(self.processes.pop(name))

    def stop(self) -> None:
        """Stops in reverse order so the job can finish its batch while Kinesis is still up."""
        for name in reversed(list(self.processes)):
            stop_process(self.processes.pop(name))

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
