"""The Segment API through the real local gateway (uvicorn) into real kinesalite.

The requests are built byte for byte as the libraries build them (read in their sources
under tests/segment_clients/node_modules): @segment/analytics-node's /v1/batch with Basic
auth and `{batch, writeKey, sentAt}`; rudder-sdk-node's gzipped /v1/batch (labelled
form-urlencoded by axios) with `originalTimestamp`; analytics-next's text/plain /v1/t with
`writeKey` in the body.
"""

from __future__ import annotations

import gzip
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
import orjson
import pytest

from streaming.contract import rfc3339
from streaming.ingest.auth import basic_authorization
from streaming.ingest.enrich import user_agent_fields
from streaming.ingest.segment import MESSAGE_NAMESPACE
from streaming.local.stack import LocalStack
from streaming.settings import DEV_WRITE_KEY
from streaming.tools.common import free_port
from tests.integration.test_handler import stream_records

iso = partial(rfc3339, timespec="milliseconds")
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def start_gateway(kinesis, **overrides):
    local = LocalStack(replace(kinesis.settings, gateway_port=free_port(), **overrides))
    local.start_gateway()
    return local


@pytest.fixture(scope="module")
def gateway(kinesis):
    local = start_gateway(kinesis)
    try:
        yield local.settings
    finally:
        local.stop()


def by_event_id(settings, ids: set[str]) -> dict[str, dict]:
    return {r["event_id"]: r for r in stream_records(settings) if r.get("event_id") in ids}


def test_analytics_node_batch_is_stored_with_the_mapping(gateway):
    now = datetime.now(UTC)
    anonymous = f"anon-{uuid.uuid4()}"
    node_ids = [f"node-next-{int(now.timestamp() * 1000)}-{uuid.uuid4()}" for _ in range(3)]
    library = {"library": {"name": "@segment/analytics-node", "version": "3.1.0"}}
    batch = [
        {"type": "page", "name": "Home", "anonymousId": anonymous, "messageId": node_ids[0],
         "timestamp": iso(now - timedelta(seconds=30)), "integrations": {},
         "_metadata": {"jsRuntime": "node"},
         "properties": {"url": "https://shop.example.com/?utm_source=news", "title": "Shop"},
         "context": {**library, "userAgent": BROWSER_UA, "ip": "203.0.113.77"}},
        {"type": "track", "event": "Product Added", "anonymousId": anonymous, "userId": "user-5",
         "messageId": node_ids[1], "timestamp": iso(now - timedelta(seconds=20)), "integrations": {},
         "properties": {"product_id": "sku-1", "price": 19.99}, "context": library},
        {"type": "track", "event": "Order Completed", "anonymousId": anonymous, "messageId": node_ids[2],
         "timestamp": iso(now - timedelta(seconds=10)), "integrations": {},
         "properties": {"order_id": "o-1", "total": 19.99, "products": [{"product_id": "sku-1"}]},
         "context": {**library, "campaign": {"source": "newsletter", "name": "spring"}}},
    ]
    body = orjson.dumps({"batch": batch, "writeKey": DEV_WRITE_KEY, "sentAt": iso(now)})
    response = httpx.post(f"{gateway.gateway_url}/v1/batch", content=body, headers={
        "Content-Type": "application/json", "User-Agent": "analytics-node-next/latest",
        "Authorization": basic_authorization(DEV_WRITE_KEY)})
    assert (response.status_code, response.json()) == (200, {"success": True})
    ids = [str(uuid.uuid5(MESSAGE_NAMESPACE, message_id)) for message_id in node_ids]
    stored = by_event_id(gateway, set(ids))
    assert sorted(stored) == sorted(ids)
    page, added, order = (stored[i] for i in ids)
    assert [page["event_type"], added["event_type"], order["event_type"]] == [
        "page_view", "add_to_cart", "purchase"]
    assert {r["anonymous_id"] for r in stored.values()} == {anonymous}
    assert {r["key"] for r in stored.values()} == {anonymous}
    assert len({r["session_id"] for r in stored.values()}) == 1
    assert added["user_id"] == "user-5"
    assert page["page_url"] == "https://shop.example.com/?utm_source=news"
    assert (page["utm_source"], page["ua_browser"], page["ua_device"]) == ("news", "Firefox", "desktop")
    assert page["ip_network"] == "203.0.113.0/24"
    assert added["ua_browser"] == user_agent_fields("analytics-node-next/latest")[0], \
        "without context.userAgent the request's own agent is parsed"
    assert order["properties"] == {"order_id": "o-1", "total": "19.99", "revenue": "19.99",
                                   "products": '[{"product_id":"sku-1"}]'}
    assert (order["utm_source"], order["utm_campaign"]) == ("newsletter", "spring")
    # Clock skew: the client's clock and the server's agree to within the request's latency.
    client_time = datetime.fromisoformat(batch[0]["timestamp"])
    stored_time = datetime.fromisoformat(page["event_time"])
    assert timedelta(0) <= stored_time - client_time < timedelta(seconds=5)


def test_rudderstack_gzip_batch_with_original_timestamp(gateway):
    now = datetime.now(UTC)
    message_id = str(uuid.uuid4())
    message = {"type": "identify", "userId": "user-77", "messageId": message_id, "channel": "server",
               "originalTimestamp": iso(now - timedelta(hours=1)), "sentAt": iso(now - timedelta(hours=1)),
               "traits": {"email": "jane@example.com", "plan": "pro"},
               "context": {"traits": {"email": "jane@example.com"},
                           "library": {"name": "analytics-node", "version": "3.0.13"}},
               "_metadata": {"nodeVersion": "22.0.0"}}
    body = gzip.compress(orjson.dumps({"batch": [message], "timestamp": iso(now), "sentAt": iso(now)}))
    response = httpx.post(f"{gateway.gateway_url}/v1/batch", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip",
        "user-agent": "analytics-node/3.0.13", "Authorization": basic_authorization(DEV_WRITE_KEY)})
    assert (response.status_code, response.json()) == (200, {"success": True})
    record = by_event_id(gateway, {message_id})[message_id]
    assert record["event_type"] == "custom:identify"
    assert record["user_id"] == "user-77"
    assert uuid.UUID(record["anonymous_id"]), "derived from userId"
    # The per-message sentAt wins: sent an hour "ago" by its clock, so its clock is an hour slow.
    assert abs(datetime.fromisoformat(record["event_time"]) - now) < timedelta(seconds=5)
    assert record["properties"]["traits.plan"].startswith("hashed-")
    assert "jane" not in orjson.dumps(record).decode()


def test_analytics_next_text_plain_with_write_key_in_body(gateway):
    now = datetime.now(UTC)
    message_id = f"ajs-next-{int(now.timestamp() * 1000)}-{uuid.uuid4()}"
    body = {"timestamp": iso(now), "integrations": {}, "type": "track", "event": "Newsletter Joined",
            "properties": {"list": "weekly"}, "anonymousId": str(uuid.uuid4()), "messageId": message_id,
            "context": {"page": {"url": "https://shop.example.com/blog", "referrer": "https://news.example/",
                                 "path": "/blog", "title": "Blog"},
                        "userAgent": BROWSER_UA, "sessionId": "browser-session-1",
                        "library": {"name": "analytics.js", "version": "npm:next-1.84.3"}},
            "writeKey": DEV_WRITE_KEY, "sentAt": iso(now)}
    response = httpx.post(f"{gateway.gateway_url}/v1/t", content=orjson.dumps(body), headers={
        "Content-Type": "text/plain", "User-Agent": BROWSER_UA})
    assert (response.status_code, response.json()) == (200, {"success": True})
    event_id = str(uuid.uuid5(MESSAGE_NAMESPACE, message_id))
    record = by_event_id(gateway, {event_id})[event_id]
    assert (record["event_type"], record["session_id"]) == ("custom:Newsletter_Joined", "browser-session-1")
    assert (record["page_url"], record["referrer_host"]) == ("https://shop.example.com/blog", "news.example")


def test_batch_keeps_valid_messages_and_reports_the_rejected(gateway):
    now = datetime.now(UTC)
    good = str(uuid.uuid4())
    batch = [
        {"type": "track", "event": "Ok", "anonymousId": "a-1", "messageId": good, "timestamp": iso(now)},
        {"type": "track", "event": "No Id", "messageId": str(uuid.uuid4()), "timestamp": iso(now)},
        {"type": "page", "anonymousId": "a-1", "messageId": str(uuid.uuid4()), "timestamp": iso(now)},
        {"type": "track", "event": "Huge", "anonymousId": "a-1", "messageId": "m-huge",
         "properties": {"blob": "x" * 33_000}},
    ]
    response = httpx.post(f"{gateway.gateway_url}/v1/batch", json={
        "batch": batch, "sentAt": iso(now), "context": {"sessionId": "from-top-level"}},
        headers={"Authorization": basic_authorization(DEV_WRITE_KEY)})
    assert response.status_code == 200
    answer = response.json()
    assert (answer["success"], answer["rejected"]) == (True, 3)
    reasons = [(e["index"], e["errors"][0]["field"], e["errors"][0]["rule"])
               for e in answer["rejected_events"]]
    assert reasons == [(1, "anonymousId", "required"), (2, "page_url", "required"),
                       (3, "$", "max_message_bytes")]
    assert by_event_id(gateway, {good})[good]["session_id"] == "from-top-level"


@pytest.mark.parametrize(("path", "body", "headers", "status", "error"), [
    ("/v1/batch", {"batch": [{"type": "track", "event": "x" * 600_000}]}, {}, 400, "max_request_bytes"),
    ("/v1/track", {"event": "Big", "anonymousId": "a", "properties": {"p": "x" * 33_000}}, {}, 400,
     "max_message_bytes"),
    ("/v1/batch", {"batch": []}, {}, 400, "batch"),
    ("/v1/track", {"event": "x", "anonymousId": "a"}, {"Authorization": None}, 401, "missing_write_key"),
    ("/v1/track", {"event": "x", "anonymousId": "a", "writeKey": "wrong-key-0123456789"},
     {"Authorization": None}, 401, "invalid_write_key"),
])
def test_request_errors(gateway, path, body, headers, status, error):
    sent = {"Content-Type": "application/json", "Authorization": basic_authorization(DEV_WRITE_KEY),
            **headers}
    response = httpx.post(f"{gateway.gateway_url}{path}", content=orjson.dumps(body),
                          headers={k: v for k, v in sent.items() if v is not None})
    assert (response.status_code, response.json()["success"], response.json()["error"]) == (
        status, False, error)


def test_rate_limited_key_gets_429_with_retry_after(kinesis):
    local = start_gateway(kinesis, rate_limit_rps=0.5, rate_limit_burst=1)
    try:
        body = orjson.dumps({"type": "track", "event": "x", "anonymousId": "a",
                             "messageId": str(uuid.uuid4())})
        headers = {"Content-Type": "application/json", "Authorization": basic_authorization(DEV_WRITE_KEY)}
        answers = [httpx.post(f"{local.settings.gateway_url}/v1/track", content=body, headers=headers)
                   for _ in range(3)]
        assert answers[0].status_code == 200
        assert answers[-1].status_code == 429 and int(answers[-1].headers["retry-after"]) >= 1
    finally:
        local.stop()
