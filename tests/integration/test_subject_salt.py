"""The suppression list's salt in AWS mode: read from the Secrets Manager secret Terraform
generates (CLICKSTREAM_SUBJECT_HASH_SALT_SECRET), on moto's server reached through the AWS
SDKs' endpoint variable, as the Glue job and Dagster's runs read it."""

from dataclasses import replace

import boto3
import pytest

from streaming.erased import ErasedIds, publish, read_hash_list, subject_hash, subject_salt
from streaming.settings import load_settings


def aws_settings(s3, monkeypatch, salt: str, lake_uri: str):
    """AWS-mode settings whose salt is a secret on moto's server, holding `salt`."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", s3.url)
    secrets = boto3.client("secretsmanager", region_name="eu-central-1")
    arn = secrets.create_secret(Name=f"clickstream-test/{salt}", SecretString=salt)["ARN"]
    return replace(load_settings({"CLICKSTREAM_MODE": "aws", "AWS_REGION": "eu-central-1",
                                  "CLICKSTREAM_LAKE_URI": lake_uri}),
                   subject_hash_salt_secret=arn)


def test_the_salt_comes_from_the_secret_the_settings_name(s3, monkeypatch):
    settings = aws_settings(s3, monkeypatch, "s3cret-salt", "s3://lake")
    assert settings.subject_hash_salt == ""
    assert subject_salt(settings) == "s3cret-salt"
    assert subject_hash("anon-1", subject_salt(settings)) == subject_hash("anon-1", "s3cret-salt")


def test_aws_mode_without_a_salt_says_which_settings_give_one():
    settings = load_settings({"CLICKSTREAM_MODE": "aws", "AWS_REGION": "eu-central-1",
                              "CLICKSTREAM_LAKE_URI": "s3://lake"})
    with pytest.raises(ValueError, match="CLICKSTREAM_SUBJECT_HASH_SALT_SECRET"):
        subject_salt(settings)


def test_the_ingestion_side_reads_the_published_list_from_s3_with_the_salt_of_the_secret(
        s3, monkeypatch):
    """What the Lambda does: the list beside the lake on S3, the salt from Secrets Manager."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
    settings = aws_settings(s3, monkeypatch, "lambda-salt", "s3://lake/erased-list")
    erased = ErasedIds(settings, ttl=0)
    assert read_hash_list(settings) == frozenset() and not erased.listed({"anonymous_id": "a-1"})
    publish(settings, {subject_hash("a-1", "lambda-salt")})
    assert erased.listed({"anonymous_id": "a-1"}) and not erased.listed({"anonymous_id": "a-2"})
