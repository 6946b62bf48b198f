"""A lake and a checkpoint on an S3-compatible server named by CLICKSTREAM_S3_ENDPOINT alone,
with none of the AWS SDKs' endpoint variables: what reads their files with pyarrow reaches
them as delta-rs's writers do (`streaming.lake.delta.lake_filesystem`). Those are the Delta
log's commits (the benchmarks' latencies), the job's checkpoint (a catch-up's replayed
batch, the lag sensor's committed positions, the query id the sink's commits carry), the SQL
catalog's tables and file, and maintenance's count of stored files. pyarrow's own
`FileSystem.from_uri` would have asked AWS itself.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from clickstream_assets.defs.lake.maintenance import stored_files
from streaming.lake.delta import storage_options
from streaming.lake.read import commits_since, read_added
from streaming.lakesql.catalog import Catalog, discover_tables, load_catalog, save_catalog
from streaming.settings import load_settings
from streaming.stream.backlog import committed_positions, planned_batch, query_id
from tests.conftest import isolated_settings

pytestmark = pytest.mark.slow

SDK_ENDPOINTS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@pytest.fixture
def aws_settings(s3, tmp_path, monkeypatch):
    """AWS mode from the environment, as a deployed process gets it, with the lake and the
    checkpoint under a prefix of the test server's bucket."""
    prefix = f"s3://{s3.bucket}/readers-{uuid.uuid4().hex[:8]}"
    for name in SDK_ENDPOINTS:
        monkeypatch.delenv(name, raising=False)
    environment = {**isolated_settings(tmp_path).to_env(), "CLICKSTREAM_MODE": "aws",
                   "CLICKSTREAM_LAKE_URI": f"{prefix}/lake",
                   "CLICKSTREAM_CHECKPOINT_URI": f"{prefix}/checkpoints",
                   "CLICKSTREAM_S3_ENDPOINT": s3.url, "AWS_REGION": "us-east-1"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_every_pyarrow_reader_reaches_the_configured_endpoint(s3, aws_settings):
    settings = aws_settings
    assert settings.s3_endpoint_url == s3.url and settings.lake_uri.startswith("s3://")
    uri = f"{settings.lake_uri}/bronze/events"
    for rows in (3, 4):
        write_deltalake(uri, pa.table({"event_id": [str(uuid.uuid4()) for _ in range(rows)]}),
                        mode="append", storage_options=storage_options(settings))

    commits = commits_since(uri, -1)
    assert [c.version for c in commits] == [0, 1]
    [added] = commits[1].added
    assert read_added(uri, added, ["event_id"]).num_rows == 4
    assert stored_files(uri)[0] == 2
    assert discover_tables(settings.lake_uri) == {"bronze_events": uri}
    catalog = Catalog(tables=(), views=())
    save_catalog(settings.lake_uri, catalog)
    assert load_catalog(settings.lake_uri) == catalog

    bucket, _, checkpoint = settings.bronze_checkpoint_uri.removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=s3.url, region_name="us-east-1")
    offsets = ['v1', json.dumps({"batchWatermarkMs": 0}),
               json.dumps({"shards": {"shardId-000000000000": "42"}})]
    with pytest.raises(FileNotFoundError, match="the checkpoint has no query yet"):
        query_id(settings.bronze_checkpoint_uri)
    for name in ("offsets/0", "offsets/1", "commits/0"):
        client.put_object(Bucket=bucket, Key=f"{checkpoint}/{name}", Body="\n".join(offsets))
    client.put_object(Bucket=bucket, Key=f"{checkpoint}/metadata", Body='{"id":"a-query"}')
    assert query_id(settings.bronze_checkpoint_uri) == "a-query"
    assert planned_batch(settings.bronze_checkpoint_uri) == 1
    assert committed_positions(settings.bronze_checkpoint_uri) == {"shardId-000000000000": "42"}
