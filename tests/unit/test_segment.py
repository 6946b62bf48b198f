"""The Segment message -> contract v1 mapping, message by message, as the libraries send them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from streaming.contract import validate_event
from streaming.ingest.handler import ROUTES
from streaming.ingest.segment import (
    MESSAGE_NAMESPACE,
    Rejected,
    answer,
    to_contract_event,
)

SALT = "unit-test-salt"
RECEIVED = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)
MESSAGE_ID = "2d5cbb6c-55f7-4a0f-9a11-3f2bbd0b7c10"


def message(**overrides) -> dict:
    base = {"type": "track", "event": "Signed Up", "messageId": MESSAGE_ID, "anonymousId": "anon-1",
            "timestamp": "2026-03-01T12:00:00.000Z", "sentAt": "2026-03-01T12:00:05.000Z",
            "context": {"library": {"name": "analytics-node", "version": "3.1.0"}}}
    return {**base, **overrides}


def mapped(msg: dict, sent_at=None) -> dict:
    event = to_contract_event(msg, sent_at, RECEIVED, SALT)
    assert validate_event(event, RECEIVED) == []
    return event


def test_track_keeps_message_id_and_corrects_the_clock_with_sent_at():
    event = mapped(message(properties={"plan": "pro", "seats": 3}))
    # The client clock is 5 s behind: sent at 12:00:05 by it, received at 12:00:10.
    assert event["event_time"] == "2026-03-01T12:00:05.000000Z"
    assert event["event_id"] == MESSAGE_ID
    assert event["event_type"] == "custom:Signed_Up"
    assert event["anonymous_id"] == "anon-1"
    assert event["properties"] == {"plan": "pro", "seats": 3}
    assert "user_id" not in event


def test_batch_level_sent_at_and_rudderstack_original_timestamp():
    msg = message(originalTimestamp="2026-03-01T11:59:58.000Z", sentAt=None)
    del msg["timestamp"]
    event = mapped(msg, sent_at="2026-03-01T11:59:59.000Z")
    assert event["event_time"] == "2026-03-01T12:00:09.000000Z"


def test_no_client_time_is_the_receive_time_and_no_sent_at_keeps_the_client_time():
    no_time = message()
    del no_time["timestamp"]
    assert mapped(no_time)["event_time"] == "2026-03-01T12:00:10.000000Z"
    no_sent = message()
    del no_sent["sentAt"]
    assert mapped(no_sent)["event_time"] == "2026-03-01T12:00:00.000000Z"


def test_a_message_id_that_is_not_a_uuid_becomes_a_stable_uuid5():
    first = mapped(message(messageId="ajs-next-1700000000000-abc"))["event_id"]
    assert first == str(uuid.uuid5(MESSAGE_NAMESPACE, "ajs-next-1700000000000-abc"))
    assert mapped(message(messageId="ajs-next-1700000000000-abc"))["event_id"] == first
    assert mapped(message(messageId=MESSAGE_ID.upper()))["event_id"] == MESSAGE_ID


@pytest.mark.parametrize(("name", "expected"), [
    ("Product Added", "add_to_cart"), ("Checkout Started", "checkout"), ("Order Completed", "purchase"),
    ("order completed", "purchase"), ("Video Played: intro/1", "custom:Video_Played_intro_1"),
])
def test_track_names_map_to_standard_types_or_custom(name, expected):
    assert mapped(message(event=name))["event_type"] == expected


def test_order_completed_keeps_products_and_takes_total_as_revenue():
    event = mapped(message(event="Order Completed", properties={
        "order_id": "o-9", "total": 59.5, "currency": "EUR",
        "products": [{"product_id": "p1", "price": 59.5}], "shipping": {"method": "dhl"}}))
    assert event["properties"] == {"order_id": "o-9", "total": 59.5, "revenue": 59.5, "currency": "EUR",
                                   "products": '[{"product_id":"p1","price":59.5}]',
                                   "shipping.method": "dhl"}
    assert mapped(message(event="Order Completed", properties={"revenue": 10, "total": 12}))[
        "properties"]["revenue"] == 10


def test_page_takes_url_and_referrer_from_properties_or_context_page():
    from_properties = mapped(message(type="page", name="Home", properties={
        "url": "https://shop.example.com/?utm_source=news", "referrer": "https://search.example/"}))
    assert from_properties["event_type"] == "page_view"
    assert from_properties["page_url"] == "https://shop.example.com/?utm_source=news"
    assert from_properties["referrer"] == "https://search.example/"
    assert from_properties["properties"]["name"] == "Home"
    browser = message(type="page", context={"page": {"url": "https://shop.example.com/cart",
                                                      "referrer": ""}})
    assert mapped(browser)["page_url"] == "https://shop.example.com/cart"
    assert "referrer" not in mapped(browser)


def test_user_id_only_derives_a_keyed_anonymous_id():
    msg = message(userId="user-42")
    del msg["anonymousId"]
    first = mapped(msg)
    assert first["user_id"] == "user-42"
    assert uuid.UUID(first["anonymous_id"])
    assert mapped(dict(msg))["anonymous_id"] == first["anonymous_id"]
    assert to_contract_event(msg, None, RECEIVED, "other-salt")["anonymous_id"] != first["anonymous_id"]
    numeric = message(userId=42)
    assert mapped(numeric)["user_id"] == "42"


def test_session_is_context_session_id_or_the_visitor_day():
    assert mapped(message(context={"sessionId": "sess-7"}))["session_id"] == "sess-7"
    morning = mapped(message(timestamp="2026-02-28T01:00:00Z", sentAt=None))["session_id"]
    evening = mapped(message(timestamp="2026-02-28T23:00:00Z", sentAt=None))["session_id"]
    next_day = mapped(message(timestamp="2026-03-01T00:00:01Z", sentAt=None, messageId="m2"))
    assert morning == evening != next_day["session_id"]
    assert mapped(message(anonymousId="anon-2"))["session_id"] != mapped(message())["session_id"]


def test_identify_traits_are_pseudonymized():
    event = mapped(message(type="identify", userId="u-1", traits={
        "email": "jane@example.com", "name": "Jane Doe", "age": 31, "address": {"city": "Berlin"}}))
    assert event["event_type"] == "custom:identify"
    props = event["properties"]
    assert props["traits.age"] == 31
    for key in ("traits.email", "traits.name", "traits.address.city"):
        assert props[key].startswith("hashed-")
    assert "jane" not in str(props).lower() and "Berlin" not in str(props)


def test_group_alias_and_screen_become_custom_types():
    assert mapped(message(type="group", groupId="g-1"))["properties"]["groupId"] == "g-1"
    assert mapped(message(type="alias", previousId="old-1", userId="new-1"))["event_type"] == "custom:alias"
    assert mapped(message(type="screen", name="Home"))["event_type"] == "custom:screen"


@pytest.mark.parametrize(("msg", "field", "rule"), [
    (message(messageId=None), "messageId", "required"),
    (message(anonymousId=None), "anonymousId", "required"),
    (message(type="delete"), "type", "allowed_values"),
    (message(event=""), "event", "required"),
    (message(timestamp="yesterday"), "timestamp", "format"),
    (message(sentAt="1700000000"), "sentAt", "format"),
    ("not an object", "$", "type"),
])
def test_unmappable_messages_are_rejected_with_the_segment_field(msg, field, rule):
    with pytest.raises(Rejected) as caught:
        to_contract_event(msg, None, RECEIVED, SALT)
    assert (caught.value.violation["field"], caught.value.violation["rule"]) == (field, rule)


def test_routes_are_the_http_api_and_analytics_next_paths():
    for path in ("/v1/batch", "/v1/b", "/v1/track", "/v1/t", "/v1/page", "/v1/p", "/v1/identify",
                 "/v1/i", "/v1/group", "/v1/g", "/v1/alias", "/v1/a", "/v1/screen", "/v1/s", "/v1/b/"):
        assert ROUTES[path.rstrip("/")] is answer
    assert ROUTES["/v1/events"] is not answer
    assert "/v1/x" not in ROUTES and "/v2/batch" not in ROUTES


def test_a_skew_correction_past_the_calendar_is_rejected_not_a_server_error():
    with pytest.raises(Rejected) as caught:
        to_contract_event(message(timestamp="9999-12-31T00:00:00Z", sentAt="0001-01-01T00:00:00Z"),
                          None, RECEIVED, SALT)
    assert (caught.value.violation["field"], caught.value.violation["rule"]) == ("timestamp", "format")
