"""Shared fixtures: an isolated embedded stack per test session, on free loopback ports.

Nothing here mocks a component that runs on this machine: the stack is the real kinesalite
endpoint, the real gateway and the real Spark stream job writing real Delta files.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings

from streaming.ingest import http
from streaming.local.stack import LocalStack, stop_process
from streaming.settings import Settings, load_settings
from streaming.tools.common import free_port

if TYPE_CHECKING:
    from streaming.local.postgres import LocalPostgres

ROOT = Path(__file__).resolve().parent.parent

# Property tests draw the same examples on every run: a failure is reproduced, never a roll
# of the dice that CI may or may not make.
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.load_profile("repeatable")


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
    from streaming.stream.spark import build_spark

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


@pytest.fixture
def lambda_env(kinesis, monkeypatch):
    """The handler reads its settings from the environment, as it does in Lambda."""
    for key, value in kinesis.settings.to_env().items():
        monkeypatch.setenv(key, value)
    http.runtime.cache_clear()
    yield kinesis.settings
    http.runtime.cache_clear()


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


@pytest.fixture(scope="session")
def postgres() -> LocalPostgres:
    """A real PostgreSQL server on loopback (Debian's package), in a data directory under /tmp
    (under root the server runs as the `postgres` user, who cannot reach pytest's private
    temp dirs), removed afterwards."""
    from streaming.local.postgres import LocalPostgres

    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="clickstream-postgres-")), free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)


@dataclass(frozen=True)
class S3Server:
    url: str  # the endpoint, what CLICKSTREAM_S3_ENDPOINT would be set to
    bucket: str
    log: Path  # one line per request, conditional puts marked (streaming/local/s3_server.py)


# What a deployment's credential chain would provide; the server accepts any keys. A session
# token from the developer's shell would be sent along, so it is unset meanwhile.
S3_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": None}


@pytest.fixture(scope="session")
def s3(tmp_path_factory) -> S3Server:
    """A real S3-compatible server on loopback (moto, single-threaded so that a conditional
    put is atomic) with a bucket `lake`. Credentials are environment variables, as the lake's
    code gets them in a deployment: set for the rest of the session, restored afterwards.
    Tests share the bucket, each under a prefix of its own."""
    import boto3

    from streaming.local.s3_server import endpoint_url, start_s3_server

    log = tmp_path_factory.mktemp("s3") / "s3.log"
    saved = {name: os.environ.get(name) for name in S3_TEST_CREDENTIALS}
    process = None
    try:
        for name, value in S3_TEST_CREDENTIALS.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        port = free_port()
        process = start_s3_server(port, log)
        server = S3Server(endpoint_url(port), "lake", log)
        boto3.client("s3", endpoint_url=server.url, region_name="us-east-1").create_bucket(
            Bucket=server.bucket)
        yield server
    finally:
        if process is not None:
            stop_process(process)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
