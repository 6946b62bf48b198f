"""`clickstream smoke`, the release workflow's check after every apply, run as the workflow runs
it (a subprocess with the stack's settings in its environment) against the embedded stack:
it passes when the events reach bronze, and fails, naming its marker, when they never do."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from streaming.local.stack import LocalStack
from streaming.settings import Settings
from tests.conftest import isolated_settings

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def smoke(settings: Settings, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "streaming.cli", "smoke", *arguments],
                          env=environment, capture_output=True, text=True, timeout=300)


def test_smoke_passes_once_the_marked_events_are_queryable(stack: LocalStack) -> None:
    done = smoke(stack.settings, "--api", stack.settings.gateway_url, "--timeout", "180")
    assert done.returncode == 0, done.stdout + done.stderr
    marker = re.search(r"marker (smoke-[0-9a-f]{32}) accepted", done.stdout)
    assert marker, done.stdout
    assert f"all 5 events of {marker.group(1)} queryable" in done.stdout


def test_smoke_fails_naming_its_marker_when_no_job_writes_bronze(tmp_path) -> None:
    """A stack whose stream job is not running: the gateway accepts the events into Kinesis,
    but nothing ever reaches bronze, so the smoke test must fail rather than wait forever."""
    settings = isolated_settings(tmp_path / "no-job")
    with LocalStack(settings) as local:
        local.start_kinesis()
        local.start_gateway()
        done = smoke(settings, "--timeout", "4", "--events", "3")
    assert done.returncode == 2, done.stdout + done.stderr
    marker = re.search(r"marker (smoke-[0-9a-f]{32}) accepted", done.stdout)
    assert marker, done.stdout
    assert re.fullmatch(rf"clickstream: smoke: 0 of 3 events with marker {marker.group(1)} in "
                        r"bronze_events after 4s; last query error: .*bronze_events.*\n",
                        done.stderr, re.S), done.stderr
