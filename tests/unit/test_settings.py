"""The one settings object: every variable read in streaming/settings.py, and what it writes
for a child process or Dagster's config reads back as the same settings."""

from pathlib import Path

import pytest

from streaming.settings import VARIABLES, Settings, load_settings


def test_every_setting_names_its_variable_once():
    assert set(VARIABLES) == set(Settings.__dataclass_fields__)
    assert len(set(VARIABLES.values())) == len(VARIABLES)


@pytest.mark.parametrize("environ", [
    {},
    {"CLICKSTREAM_MODE": "aws", "CLICKSTREAM_LAKE_URI": "s3://lake/prefix/",
     "CLICKSTREAM_CHECKPOINT_URI": "s3://checkpoints", "AWS_DEFAULT_REGION": "eu-west-1",
     "CLICKSTREAM_GLUE_JOB_NAME": "job", "CLICKSTREAM_WRITE_KEYS_SECRET": "keys"},
    {"CLICKSTREAM_HOME": "/tmp/clickstream-home", "CLICKSTREAM_RATE_LIMIT_RPS": "10",
     "CLICKSTREAM_SHARD_COUNT": "4", "CLICKSTREAM_LAG_THRESHOLD_SECONDS": "5.5",
     "CLICKSTREAM_S3_ENDPOINT": "http://127.0.0.1:9000"},
])
def test_settings_survive_their_environment(environ):
    settings = load_settings(environ)
    assert load_settings(settings.to_env()) == settings


def test_defaults_follow_the_mode_and_other_settings():
    embedded = load_settings({"CLICKSTREAM_HOME": "/srv/cs", "CLICKSTREAM_RATE_LIMIT_RPS": "10"})
    assert (embedded.lake_uri, embedded.rate_limit_burst) == ("/srv/cs/lake", 20)
    assert embedded.home == Path("/srv/cs") and embedded.write_keys and embedded.ip_hash_salt
    aws = load_settings({"CLICKSTREAM_MODE": "aws", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert (aws.kinesis_endpoint_url, aws.ip_hash_salt, aws.write_keys) == (None, "", "")
    assert aws.region == "eu-west-1"
    assert (embedded.kinesis_poll_ms, aws.kinesis_poll_ms) == (50, 1000)  # AWS: 1 of 5 reads/s a shard
    with pytest.raises(ValueError, match="CLICKSTREAM_MODE"):
        load_settings({"CLICKSTREAM_MODE": "cloud"})


def test_aws_mode_has_no_default_region():
    """A deployment outside us-east-1 once read that region's resources (issue 19): AWS mode
    takes the region from the environment or refuses to start."""
    with pytest.raises(ValueError, match="AWS_REGION"):
        load_settings({"CLICKSTREAM_MODE": "aws"})
    assert load_settings({"CLICKSTREAM_MODE": "aws", "AWS_REGION": "ap-southeast-2"}
                         ).region == "ap-southeast-2"
    assert load_settings({}).region == "us-east-1"  # embedded: loopback endpoints only


def test_glue_arguments_become_the_jobs_settings_region_included(monkeypatch):
    """Terraform passes the job's settings as Glue arguments (`--CLICKSTREAM_*`, and the
    stack's region as `--AWS_REGION`); Glue's own arguments are left to the job's parser."""
    from streaming.settings import glue_arguments_to_env

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "CLICKSTREAM_MODE", "CLICKSTREAM_LAKE_URI"):
        monkeypatch.setenv(name, "")  # recorded, so what the job sets below is undone afterwards
        monkeypatch.delenv(name)
    rest = glue_arguments_to_env(["--JOB_ID", "j_1", "--AWS_REGION", "eu-central-1",
                                  "--CLICKSTREAM_MODE=aws", "--CLICKSTREAM_LAKE_URI", "s3://lake",
                                  "--trigger", "available-now"])
    assert rest == ["--JOB_ID", "j_1", "--trigger", "available-now"]
    settings = load_settings()
    assert (settings.mode, settings.region, settings.lake_uri) == ("aws", "eu-central-1", "s3://lake")


def test_aws_mode_takes_the_s3_endpoint_from_the_aws_sdk_variables():
    """boto3 and pyarrow read AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL themselves; delta-rs's
    and Hadoop's S3 clients get it from the settings."""
    aws = {"CLICKSTREAM_MODE": "aws", "AWS_REGION": "eu-central-1"}
    assert load_settings(aws).s3_endpoint_url is None  # AWS's own S3
    assert load_settings({**aws, "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}).s3_endpoint_url \
        == "http://127.0.0.1:1"
    assert load_settings({**aws, "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                          "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:2"}).s3_endpoint_url \
        == "http://127.0.0.1:2"
    assert load_settings({**aws, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:2",
                          "CLICKSTREAM_S3_ENDPOINT": "http://127.0.0.1:3"}).s3_endpoint_url \
        == "http://127.0.0.1:3"
    # The embedded lake is a folder: no S3 endpoint, whatever the shell holds.
    assert load_settings({"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:2"}).s3_endpoint_url is None


def test_lake_readers_reach_the_configured_s3_endpoint(monkeypatch):
    """A reader is given a table's URI only; delta-rs must still get the endpoint and plain
    http, which it would not take from AWS_ENDPOINT_URL_S3 itself."""
    from streaming.lake.read import table_storage

    monkeypatch.setenv("CLICKSTREAM_MODE", "aws")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
    assert table_storage("s3://lake/bronze/events") == {
        "AWS_REGION": "eu-central-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ALLOW_HTTP": "true"}
    assert table_storage("/var/lake/bronze/events") is None
