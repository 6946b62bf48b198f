"""Shared fixtures: an isolated embedded stack per test session, on free loopback ports.

Nothing here mocks a component that runs on this machine: the stack is the real kinesalite
endpoint, the real gateway and the real Spark stream job writing real Delta files.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from streaming.local_stack import LocalStack
from streaming.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_settings(home: Path, **overrides) -> Settings:
    """Settings for a private stack under `home`, on ports no other stack uses."""
    base = load_settings()
    return replace(
        base,
        home=home,
        lake_uri=str(home / "lake"),
        checkpoint_uri=str(home / "checkpoints"),
        kinesis_endpoint_url=f"http://127.0.0.1:{free_port()}",
        gateway_port=free_port(),
        **overrides,
    )


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local Delta-enabled Spark session for the tests that run Spark in-process."""
    from streaming.spark import build_spark

    session = build_spark(isolated_settings(tmp_path_factory.mktemp("spark")), "clickstream-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def kinesis(tmp_path_factory) -> LocalStack:
    """Only the real local Kinesis endpoint (kinesalite), for handler and sensor tests."""
    local = LocalStack(isolated_settings(tmp_path_factory.mktemp("kinesis")))
    try:
        local.start_kinesis()
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory) -> Settings:
    return isolated_settings(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def stack(stack_settings) -> LocalStack:
    """Kinesis endpoint + gateway + continuous stream job, shared by the slow tests."""
    local = LocalStack(stack_settings)
    try:
        local.start(progress=lambda message: print(message, file=sys.stderr))
        yield local
    finally:
        local.stop()
