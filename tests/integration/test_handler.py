"""The Lambda handler against the real local Kinesis endpoint: answers and stored records."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import orjson
import pytest

from streaming import handler
from streaming.kinesis import kinesis_client, list_shard_ids, put_records

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def event(**overrides) -> dict:
    base = {"event_id": str(uuid.uuid4()), "event_type": "page_view",
            "event_time": datetime.now(UTC).isoformat(), "anonymous_id": "anon-7",
            "session_id": "s-1", "page_url": "https://shop.example.com/?email=x%40y.z"}
    return {**base, **overrides}


def http_api_event(body, *, method="POST", path="/v1/events", content_type="application/json",
                   ip="203.0.113.9") -> dict:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return {"version": "2.0", "rawPath": path,
            "headers": {"Content-Type": content_type, "User-Agent": UA},
            "requestContext": {"http": {"method": method, "sourceIp": ip}},
            "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}


def rest_api_event(body: dict, ip="198.51.100.4") -> dict:
    return {"httpMethod": "POST", "path": "/v1/events",
            "headers": {"content-type": "text/plain;charset=UTF-8", "user-agent": UA},
            "requestContext": {"identity": {"sourceIp": ip}},
            "body": orjson.dumps(body).decode(), "isBase64Encoded": False}


@pytest.fixture
def lambda_env(kinesis, monkeypatch):
    """The handler reads its settings from the environment, as it does in Lambda."""
    for key, value in kinesis.settings_env().items():
        monkeypatch.setenv(key, value)
    handler._runtime.cache_clear()
    yield kinesis.settings
    handler._runtime.cache_clear()


def stream_records(settings) -> list[dict]:
    client = kinesis_client(settings)
    records = []
    for shard in list_shard_ids(client, settings.stream_name):
        iterator = client.get_shard_iterator(StreamName=settings.stream_name, ShardId=shard,
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        response = client.get_records(ShardIterator=iterator, Limit=10000)
        records += [{"key": r["PartitionKey"], **orjson.loads(r["Data"])}
                    for r in response["Records"]]
    return records


def call(proxy_event: dict) -> tuple[int, dict]:
    response = handler.lambda_handler(proxy_event)
    return response["statusCode"], orjson.loads(response["body"] or b"{}")


def test_http_api_batch_is_accepted_enriched_and_keyed_by_anonymous_id(lambda_env):
    sent = [event(), event(event_type="click", anonymous_id="anon-8", page_url=None)]
    status, body = call(http_api_event({"events": sent}))
    assert (status, body["accepted"], body["rejected"]) == (200, 2, 0)
    stored = {r["event_id"]: r for r in stream_records(lambda_env)}
    first = stored[sent[0]["event_id"]]
    assert first["key"] == "anon-7" and stored[sent[1]["event_id"]]["key"] == "anon-8"
    assert first["ua_browser"] == "Firefox" and first["received_at"].endswith("Z")
    assert first["ip_network"] == "203.0.113.0/24" and "203.0.113.9" not in str(first)
    assert first["page_url"] == "https://shop.example.com/"


def test_rest_api_payload_with_text_plain_single_event(lambda_env):
    sent = event()
    status, body = call(rest_api_event(sent))
    assert (status, body["accepted"]) == (200, 1)
    assert sent["event_id"] in {r["event_id"] for r in stream_records(lambda_env)}


def test_mixed_batch_stores_valid_events_and_lists_rejected_with_reasons(lambda_env):
    good, bad = event(), event(event_type="hover", anonymous_id=None)
    status, body = call(http_api_event({"events": [bad, good]}))
    assert status == 207 and (body["accepted"], body["rejected"]) == (1, 1)
    [rejected] = body["rejected_events"]
    assert rejected["index"] == 0 and rejected["event_id"] == bad["event_id"]
    assert {(e["field"], e["rule"]) for e in rejected["errors"]} == {
        ("event_type", "allowed_values"), ("anonymous_id", "required")}
    stored = {r["event_id"] for r in stream_records(lambda_env)}
    assert good["event_id"] in stored and bad["event_id"] not in stored


@pytest.mark.parametrize(
    ("proxy", "status", "error"),
    [
        (http_api_event(b'{"event_id": '), 400, "malformed_json"),
        (http_api_event({"events": [{}] * 501}), 413, "max_events"),
        (http_api_event(b"x" * (1024 * 1024 + 1)), 413, "max_body_bytes"),
        (http_api_event({}, content_type="application/xml"), 415, "content_type"),
        (http_api_event({}, method="GET"), 405, "method_not_allowed"),
        (http_api_event({}, path="/v1/other"), 404, "not_found"),
    ],
)
def test_bad_requests_get_a_clear_status_and_write_nothing(lambda_env, proxy, status, error):
    before = len(stream_records(lambda_env))
    got, body = call(proxy)
    assert (got, body["error"]) == (status, error) and body["message"]
    assert len(stream_records(lambda_env)) == before


def test_all_rejected_is_400_with_every_reason(lambda_env):
    status, body = call(http_api_event({"events": [{"event_type": "page_view"}]}))
    assert status == 400 and body["accepted"] == 0
    assert {e["field"] for e in body["rejected_events"][0]["errors"]} >= {
        "event_id", "event_time", "anonymous_id", "session_id", "page_url"}


def test_cors_preflight_is_answered(lambda_env):
    response = handler.lambda_handler(http_api_event({}, method="OPTIONS"))
    assert response["statusCode"] == 204
    assert "POST" in response["headers"]["access-control-allow-methods"]


class Throttled:
    """Kinesis throttling cannot be provoked on kinesalite: this wrapper answers the first
    `failures` PutRecords calls with the partial failure AWS returns, then passes through."""

    def __init__(self, client, failing_keys: set[str], failures: int) -> None:
        self.client, self.failing_keys, self.failures = client, failing_keys, failures
        self.calls: list[int] = []

    def put_records(self, StreamName, Records):
        self.calls.append(len(Records))
        if self.failures == 0:
            return self.client.put_records(StreamName=StreamName, Records=Records)
        self.failures -= 1
        ok = [r for r in Records if r["PartitionKey"] not in self.failing_keys]
        written = iter(self.client.put_records(StreamName=StreamName, Records=ok)["Records"]
                       if ok else [])
        return {"Records": [
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"}
            if r["PartitionKey"] in self.failing_keys else next(written) for r in Records]}


def test_partial_failures_are_retried_then_written(kinesis):
    settings = kinesis.settings
    client = Throttled(kinesis_client(settings), {"k2"}, failures=2)
    records = [(f"k{i}", orjson.dumps({"n": i})) for i in range(4)]
    outcome = put_records(client, settings.stream_name, records, sleep=lambda _: None)
    assert outcome.failed == 0 and client.calls == [4, 1, 1]


def test_events_still_failing_after_retries_are_answered_503_never_accepted(kinesis):
    settings = kinesis.settings
    client = Throttled(kinesis_client(settings), {"anon-stuck"}, failures=100)
    stuck, fine = event(anonymous_id="anon-stuck"), event()
    response = handler.ingest({"content-type": "application/json"},
                              orjson.dumps({"events": [fine, stuck]}), "192.0.2.1", settings,
                              client)
    body = orjson.loads(response["body"])
    assert response["statusCode"] == 503
    assert (body["accepted"], body["retryable"]) == (1, 1)
    assert [e["event_id"] for e in body["retry_events"]] == [stuck["event_id"]]
    stored = {r.get("event_id") for r in stream_records(settings)}
    assert fine["event_id"] in stored and stuck["event_id"] not in stored
