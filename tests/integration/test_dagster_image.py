"""The Dagster image (infra/dagster/Dockerfile) without a Docker engine: its entry point, run
with this venv's packages (the ones the image installs from pyproject.toml), must serve the code
location over gRPC, answer Dagster's health check, and list the whole asset graph; and the
image must be what the ECS tasks expect (modules/dagster)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin

from clickstream_assets.definitions import defs
from streaming.tools.common import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "infra" / "dagster" / "Dockerfile"
DAGSTER_MODULE = ROOT / "infra" / "terraform" / "modules" / "dagster" / "main.tf"
PORT = "4000"
# What the tasks get from Terraform (main.tf's dagster_settings), with stand-in names: loading
# the code location in AWS mode makes no AWS call.
AWS_SETTINGS = {
    "AWS_REGION": "eu-west-1", "CLICKSTREAM_MODE": "aws", "CLICKSTREAM_HOME": "/tmp/clickstream",
    "CLICKSTREAM_LAKE_URI": "s3://lake", "CLICKSTREAM_CHECKPOINT_URI": "s3://checkpoints",
    "CLICKSTREAM_STREAM_NAME": "clickstream-test-events",
    "CLICKSTREAM_GLUE_JOB_NAME": "clickstream-test-stream-job",
    "CLICKSTREAM_GLUE_DATABASE": "clickstream_test", "CLICKSTREAM_ATHENA_WORKGROUP": "clickstream-test",
}

pytestmark = pytest.mark.slow


def instruction(name: str) -> list[str]:
    """One of the image's instructions in exec form (ENTRYPOINT, CMD)."""
    (line,) = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith(f"{name} ")]
    return json.loads(line.removeprefix(f"{name} "))


def entry_point() -> list[str]:
    """What the image runs by default: its ENTRYPOINT with its CMD."""
    return instruction("ENTRYPOINT") + instruction("CMD")


def test_the_image_installs_the_project_java_and_the_instance() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim-\w+$", text, re.M)  # requires-python, like CI
    assert "openjdk-17-jre-headless" in text
    assert re.search(r"^RUN pip install \. ", text, re.M)  # pyproject.toml's pins, no extras
    assert "COPY infra/dagster/dagster.yaml ${DAGSTER_HOME}/dagster.yaml" in text
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in text
    assert 'DAGSTER_HOME                = "/opt/dagster/dagster_home"' in DAGSTER_MODULE.read_text()
    assert re.search(r"^USER dagster$", text, re.M)


def test_the_code_location_task_runs_the_images_entry_point() -> None:
    (command,) = re.findall(r'"dagster", "code-server", "start".*\]', DAGSTER_MODULE.read_text())
    terraform = json.loads("[" + command.replace("tostring(local.code_server_port)", f'"{PORT}"'))
    assert terraform == instruction("CMD")
    # ECS's `command` replaces CMD, never ENTRYPOINT: every task prepares the instance first.
    assert instruction("ENTRYPOINT") == ["python", "-m", "streaming.dagster_instance"]


def test_the_entry_point_serves_the_asset_graph_over_grpc(tmp_path: Path) -> None:
    command = entry_point()
    assert command[3:6] == ["dagster", "code-server", "start"] and PORT in command
    port = free_port()
    command[command.index(PORT)] = str(port)
    # This checkout's code, as the image installs it (the venv may hold another checkout's
    # editable install), and this venv's commands, as the image's PATH has its own.
    environment = {**os.environ, **AWS_SETTINGS, "DAGSTER_HOME": str(tmp_path),
                   "PYTHONPATH": str(ROOT),
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log = (tmp_path / "code-server.log").open("wb")
    server = subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        health = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            health = subprocess.run(["dagster", "api", "grpc-health-check", "-p", str(port)],
                                    env=environment, capture_output=True, text=True)
            if health.returncode == 0:
                break
            time.sleep(1)
        assert health is not None and health.returncode == 0, (tmp_path / "code-server.log").read_text()
        assert "gRPC connection successful" in health.stdout

        origin = GrpcServerCodeLocationOrigin(host="localhost", port=port)
        with DagsterInstance.ephemeral() as instance, origin.create_location(instance) as location:
            (repository,) = location.get_repositories().values()
            served = {node.asset_key for node in repository.get_asset_node_snaps()}
        assert served == set(defs.resolve_asset_graph().get_all_asset_keys())
        assert len(served) > 10
    finally:
        server.terminate()
        server.wait(timeout=30)
