"""The real @segment/analytics-node and @rudderstack/rudder-sdk-node (from npm, unmodified)
against the real local gateway and pipeline: bronze must hold exactly what they sent.

tests/segment_clients/send.mjs makes the calls and prints the messages each library put on
the wire; this test maps their ids and checks each bronze row against them. The packages
come from `npm ci` in tests/segment_clients (./clickstream runs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from streaming.ingest.segment import anonymous_id, event_id
from streaming.lake import tables
from streaming.settings import DEV_WRITE_KEY
from tests.e2e.test_website import bronze_rows

pytestmark = pytest.mark.slow

CLIENTS = Path(__file__).resolve().parent.parent / "segment_clients"


def send_with_libraries(gateway_url: str, anonymous: str) -> dict:
    node = shutil.which("node")
    if node is None or not (CLIENTS / "node_modules").is_dir():
        pytest.fail("needs node and `npm ci` in tests/segment_clients (./clickstream does both)")
    run = subprocess.run([node, "send.mjs", gateway_url, DEV_WRITE_KEY, anonymous], cwd=CLIENTS,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_node_libraries_land_in_bronze_exactly(stack):
    anonymous = f"segment-{uuid.uuid4()}"
    sent = send_with_libraries(stack.settings.gateway_url, anonymous)
    assert sent["segmentStatus"] == 200
    segment, rudder = sent["segment"], sent["rudderstack"]
    assert [m["type"] for m in segment] == ["page", "track", "track", "identify"]
    assert [m["type"] for m in rudder] == ["track", "screen", "track"]
    assert all(m["messageId"].startswith("node-next-") for m in segment), "not UUIDs: uuid5 applies"
    user_only = anonymous_id({"userId": "user-rudder"}, stack.settings.ip_hash_salt)
    by_visitor = [m for m in segment + rudder if m.get("anonymousId") == anonymous]
    expected = {event_id(m["messageId"]): m for m in by_visitor}
    rows = bronze_rows(tables.BRONZE.uri(stack.settings), anonymous, set(expected))
    assert sorted(rows) == sorted(expected), "bronze holds exactly this visitor's messages"
    coupon = rudder[2]
    coupon_rows = bronze_rows(tables.BRONZE.uri(stack.settings), user_only, {event_id(coupon["messageId"])})
    assert list(coupon_rows) == [coupon["messageId"]], "a UUID messageId is the event_id itself"

    page, added, order, identify = (rows[event_id(m["messageId"])] for m in segment)
    checkout, screen = (rows[event_id(m["messageId"])] for m in rudder[:2])
    assert [r["event_type"] for r in (page, added, order, identify, checkout, screen)] == [
        "page_view", "add_to_cart", "purchase", "custom:identify", "checkout", "custom:screen"]
    assert page["page_url"] == "http://localhost/shop/" and page["properties"]["name"] == "Home"
    assert added["user_id"] == "user-segment"
    assert added["properties"] == {"product_id": "sku-1", "price": "12.5"}
    assert order["properties"] == {"order_id": "o-1", "revenue": "12.5", "currency": "EUR",
                                   "products": '[{"product_id":"sku-1"}]'}
    assert identify["properties"]["traits.email"].startswith("hashed-")
    assert checkout["properties"] == {"step": "1"} and screen["properties"] == {"name": "Cart"}
    coupon_row = coupon_rows[coupon["messageId"]]
    assert (coupon_row["event_type"], coupon_row["user_id"], coupon_row["properties"]) == (
        "custom:Coupon_Applied", "user-rudder", {"coupon": "SPRING"})
    # One visitor, one UTC day: one derived session for every message of both libraries.
    assert len({r["session_id"] for r in rows.values()}) == 1
    for message in by_visitor:
        client_time = datetime.fromisoformat(message.get("originalTimestamp") or message["timestamp"])
        stored = rows[event_id(message["messageId"])]["event_time"]
        assert abs((stored - client_time).total_seconds()) < 5, "same clock here: skew is tiny"
