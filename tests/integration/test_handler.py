"""The Lambda handler against the real local Kinesis endpoint: answers and stored records.

The last tests run the real gateway (uvicorn on a free port) in front of it: rate limit,
body cap, OpenAPI document and the shop page's API URL.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from streaming.erased import ErasedIds, publish, subject_hash, subject_salt
from streaming.ingest import events, handler, http
from streaming.ingest.auth import basic_authorization
from streaming.ingest.openapi import openapi_document
from streaming.kinesis import ensure_stream, kinesis_client, list_shard_ids, put_records
from streaming.local.stack import LocalStack
from streaming.records import events_of
from streaming.settings import DEV_WRITE_KEY
from streaming.tools.common import free_port
from tests.pii_scanner import scan_rows

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def event(**overrides) -> dict:
    base = {"event_id": str(uuid.uuid4()), "event_type": "page_view",
            "event_time": datetime.now(UTC).isoformat(), "anonymous_id": "anon-7",
            "session_id": "s-1", "page_url": "https://shop.example.com/?email=x%40y.z"}
    return {**base, **overrides}


def http_api_event(body, *, method="POST", path="/v1/events", content_type="application/json",
                   ip="203.0.113.9", key: str | None = DEV_WRITE_KEY, origin: str | None = None,
                   query: dict | None = None) -> dict:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"Content-Type": content_type, "User-Agent": UA}
    if key is not None:
        headers["Authorization"] = basic_authorization(key)
    if origin is not None:
        headers["Origin"] = origin
    return {"version": "2.0", "rawPath": path, "headers": headers, "queryStringParameters": query,
            "requestContext": {"http": {"method": method, "sourceIp": ip}},
            "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}


def rest_api_event(body: dict, ip="198.51.100.4") -> dict:
    """A browser's request through a REST API: text/plain, the key as a query parameter."""
    return {"httpMethod": "POST", "path": "/v1/events",
            "headers": {"content-type": "text/plain;charset=UTF-8", "user-agent": UA,
                        "origin": "http://localhost:8080"},
            "queryStringParameters": {"writeKey": DEV_WRITE_KEY},
            "requestContext": {"identity": {"sourceIp": ip}},
            "body": orjson.dumps(body).decode(), "isBase64Encoded": False}


def stream_records(settings) -> list[dict]:
    client = kinesis_client(settings)
    records = []
    for shard in list_shard_ids(client, settings.stream_name):
        iterator = client.get_shard_iterator(StreamName=settings.stream_name, ShardId=shard,
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        response = client.get_records(ShardIterator=iterator, Limit=10000)
        records += [{"key": r["PartitionKey"], **event}
                    for r in response["Records"] for event in events_of(r["Data"])]
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
    response = handler.lambda_handler(rest_api_event(sent))
    assert (response["statusCode"], orjson.loads(response["body"])["accepted"]) == (200, 1)
    assert response["headers"]["access-control-allow-origin"] == "http://localhost:8080"
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
        (http_api_event({"events": [event()]}, key=None), 401, "missing_write_key"),
        (http_api_event({"events": [event()]}, key="not-a-configured-key-1234"), 401,
         "invalid_write_key"),
        (http_api_event({"events": [event()]}, key=None, query={"writeKey": DEV_WRITE_KEY[:-1]}),
         401, "invalid_write_key"),
        (http_api_event({"events": [event()]}, origin="https://evil.example"), 403,
         "origin_not_allowed"),
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


def test_malformed_json_answer_says_where_parsing_stopped(lambda_env):
    status, body = call(http_api_event(b'{"events": [\n  {"event_id": "x",}]}'))
    assert (status, body["error"]) == (400, "malformed_json")
    assert body["position"] == {"line": 2, "column": 19, "offset": 31}


def test_other_methods_get_405_with_the_allowed_ones(lambda_env):
    response = handler.lambda_handler(http_api_event({}, method="DELETE"))
    assert response["statusCode"] == 405 and response["headers"]["allow"] == "OPTIONS, POST"


def test_cors_preflight_is_answered_for_listed_origins_only(lambda_env):
    response = handler.lambda_handler(http_api_event({}, method="OPTIONS", key=None,
                                                     origin="http://127.0.0.1:5173"))
    assert response["statusCode"] == 204
    headers = response["headers"]
    assert headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
    assert "POST" in headers["access-control-allow-methods"]
    assert "authorization" in headers["access-control-allow-headers"]
    refused = handler.lambda_handler(http_api_event({}, method="OPTIONS", key=None,
                                                    origin="https://evil.example"))
    assert refused["statusCode"] == 403
    assert "access-control-allow-origin" not in refused["headers"]
    assert orjson.loads(refused["body"])["error"] == "origin_not_allowed"


def test_options_without_an_origin_lists_the_allowed_methods(lambda_env):
    """Found by schemathesis: the document required an Origin the handler does not need."""
    response = handler.lambda_handler(http_api_event({}, method="OPTIONS", key=None))
    assert (response["statusCode"], response["headers"]["allow"]) == (204, "OPTIONS, POST")


def test_configured_sites_origins_and_keys_replace_the_development_ones(lambda_env, monkeypatch,
                                                                        tmp_path):
    keys = tmp_path / "write-keys"
    keys.write_text("shop:shop-key-0123456789abcdef\nblog:blog-key-0123456789abcdef\n")
    monkeypatch.delenv("CLICKSTREAM_WRITE_KEYS")
    monkeypatch.setenv("CLICKSTREAM_WRITE_KEYS_FILE", str(keys))
    monkeypatch.setenv("CLICKSTREAM_ALLOWED_ORIGINS", "https://shop.example.com")
    http.runtime.cache_clear()
    sent = [event(), event()]
    origin = "https://shop.example.com"
    for key, one in zip(("shop-key-0123456789abcdef", "blog-key-0123456789abcdef"), sent, strict=True):
        status, _ = call(http_api_event(one, key=key, origin=origin))
        assert status == 200
    assert call(http_api_event(event(), origin=origin))[0] == 401
    assert call(http_api_event(event(), key="shop-key-0123456789abcdef",
                               origin="http://localhost:8080"))[0] == 403
    stored = {r["event_id"] for r in stream_records(lambda_env)}
    assert {e["event_id"] for e in sent} <= stored


def test_personal_data_never_reaches_the_stream(lambda_env):
    planted = event(
        anonymous_id="visitor-ada@example.org", user_id="ada.lovelace@example.org",
        page_url="https://shop.example.com/account/ada.lovelace@example.org?card=4111111111111111"
                 "&q=5555+5555+5555+4444&from=203.0.113.50#ip=2001:db8::42",
        referrer="https://mail.example.net/inbox?to=ada%40example.org",
        element={"id": "pay", "text": "Pay with 3782-822463-10005", "selector": "#pay"},
        properties={"note": "reach me on ada@example.org or 198.51.100.77", "order": 4012888888881881})
    status, _ = call(http_api_event({"events": [planted]}, ip="2001:db8:1234:5678::9"))
    assert status == 200
    [stored] = [r for r in stream_records(lambda_env) if r["event_id"] == planted["event_id"]]
    assert scan_rows([stored]) == []
    assert stored["ip_network"] == "2001:db8:1234::/48" and len(stored["ip_hash"]) == 32
    assert stored["key"] == stored["anonymous_id"] and stored["key"].startswith("hashed-")


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
    response = http.write_now(events.ingest({"content-type": "application/json"},
                                       orjson.dumps({"events": [fine, stuck]}), "192.0.2.1",
                                       settings, ErasedIds(settings)), client, settings.stream_name)
    body = orjson.loads(response["body"])
    assert response["statusCode"] == 503 and response["headers"]["retry-after"] == "1"
    assert (body["accepted"], body["retryable"]) == (1, 1)
    assert [(e["event_id"], e["reason"]) for e in body["retry_events"]] == [
        (stuck["event_id"], "ProvisionedThroughputExceededException")]
    stored = {r.get("event_id") for r in stream_records(settings)}
    assert fine["event_id"] in stored and stuck["event_id"] not in stored


@pytest.fixture(scope="module")
def gateway(kinesis):
    """The real gateway process on a free port, with a rate limit low enough to reach."""
    local = LocalStack(replace(kinesis.settings, gateway_port=free_port(), rate_limit_rps=0.5,
                               rate_limit_burst=3,
                               write_keys=f"demo:{DEV_WRITE_KEY},other:other-site-key-0123456789"))
    local.start_gateway()
    try:
        yield local.settings
    finally:
        local.stop()


def post(settings, payload, key=DEV_WRITE_KEY, **headers) -> httpx.Response:
    return httpx.post(f"{settings.gateway_url}/v1/events", content=orjson.dumps(payload),
                      headers={"content-type": "application/json",
                               "authorization": basic_authorization(key), **headers}, timeout=30)


def test_gateway_rate_limits_each_key_with_429_and_retry_after(gateway):
    origin = {"origin": f"http://127.0.0.1:{gateway.gateway_port}"}
    answers = [post(gateway, event(), **origin) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    limited = answers[3]
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["access-control-expose-headers"] == "retry-after"
    assert limited.headers["access-control-allow-origin"] == origin["origin"]
    assert post(gateway, event(), key="other-site-key-0123456789").status_code == 200
    unknown = post(gateway, event(), key="unknown-site-key-0123456789")
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_write_key"


def test_gateway_reads_no_more_than_the_limit_and_answers_413(gateway):
    answer = httpx.post(f"{gateway.gateway_url}/v1/events", content=b"{" + b" " * (2 * 1024 * 1024),
                        headers={"content-type": "application/json",
                                 "authorization": basic_authorization("other-site-key-0123456789")},
                        timeout=30)
    assert answer.status_code == 413 and answer.json()["error"] == "max_body_bytes"


def test_gateway_answers_every_method_with_a_reason(gateway):
    for method in ("GET", "PATCH", "PUT", "DELETE", "QUERY", "TRACE"):
        answer = httpx.request(method, f"{gateway.gateway_url}/v1/events", timeout=10)
        assert answer.status_code == 405 and answer.json()["error"] == "method_not_allowed"
        assert answer.headers["allow"] == "OPTIONS, POST"


def test_gateway_serves_the_openapi_document_and_a_shop_page_with_the_key(gateway):
    served = httpx.get(f"{gateway.gateway_url}/openapi.json", timeout=10).json()
    assert served == openapi_document(gateway.gateway_url)
    page = httpx.get(f"{gateway.gateway_url}/", timeout=10).text
    assert f'"{gateway.gateway_url}/v1/events?writeKey={DEV_WRITE_KEY}"' in page


def test_events_of_erased_people_are_acknowledged_and_never_reach_the_stream(kinesis, tmp_path):
    settings = replace(kinesis.settings, stream_name=f"erased-{uuid.uuid4().hex[:8]}",
                       lake_uri=str(tmp_path / "lake"))
    ensure_stream(kinesis_client(settings), settings.stream_name, 1)
    salt = subject_salt(settings)
    publish(settings, {subject_hash("anon-erased", salt), subject_hash("user-erased", salt)})
    erased, logged_in, kept = (event(anonymous_id="anon-erased"),
                               event(anonymous_id="anon-new", user_id="user-erased"), event())
    response = http.write_now(events.ingest({"content-type": "application/json"},
                                       orjson.dumps({"events": [erased, logged_in, kept]}),
                                       "192.0.2.1", settings, ErasedIds(settings)),
                         kinesis_client(settings), settings.stream_name)
    assert (response["statusCode"], orjson.loads(response["body"])["accepted"]) == (200, 3)
    assert [r["event_id"] for r in stream_records(settings)] == [kept["event_id"]]
