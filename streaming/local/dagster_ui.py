"""Runs `dagster dev` beside the embedded stack until the user presses Ctrl-C.

`dagster dev` ignores SIGTERM when started in the background from a shell, and leaves its
`dagster api grpc` children behind; in its own session it can be stopped as a group.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from streaming.dagster_instance import create_tables
from streaming.local.stack import LocalStack, port_open, stop_process, wait_for

ROOT = Path(__file__).resolve().parents[2]
DAGSTER_PORT = 3000


def prepare_instance(home: Path, postgres_url: str | None = None) -> None:
    """Dagster's storage on PostgreSQL (`dagster.yaml`) when `postgres_url` is given, as a
    deployment keeps it on RDS; without it Dagster's default, SQLite files under `home`.
    A `dagster.yaml` the user already has is left as it is (delete it to switch storage).
    Dagster's tables are created before `dagster dev` starts its webserver and daemon
    together (streaming/dagster_instance.py)."""
    config = home / "dagster.yaml"
    if postgres_url is not None and not config.exists():
        config.write_text(yaml.safe_dump({"storage": {"postgres": {"postgres_url": postgres_url}}}))
    create_tables(home)


def start_dagster(stack: LocalStack, port: int = DAGSTER_PORT) -> subprocess.Popen:
    home = stack.settings.home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    prepare_instance(home, stack.settings.dagster_postgres_url or None)
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **stack.settings.to_env(), "DAGSTER_HOME": str(home)}
    log = open(stack.log_dir / "dagster.log", "ab")  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-w", str(ROOT / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stack.processes["dagster"] = process
    wait_for(lambda: port_open("127.0.0.1", port), "dagster dev", 180, process,
             stack.log_dir / "dagster.log")
    return process


def run_dagster_until_interrupted(stack: LocalStack, say: Callable[[str], None]) -> None:
    say("starting the Dagster UI (dagster dev) ...")
    process = start_dagster(stack)
    say(f"Dagster UI at http://127.0.0.1:{DAGSTER_PORT}; the stack keeps running. "
        "Press Ctrl-C to stop everything.")
    try:
        while process.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop_process(process)
        sys.stdout.flush()
