"""Event contract v1: every rule names its field, valid events pass, nothing raises."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.contract import RequestError, events_from_payload, validate_event

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def event(**overrides) -> dict:
    base = {
        "event_id": str(uuid.uuid4()),
        "event_type": "page_view",
        "event_time": "2026-11-25T11:59:00Z",
        "anonymous_id": "anon-1",
        "session_id": "sess-1",
        "page_url": "https://shop.example.com/product/7",
        "schema_version": 1,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def rules(candidate) -> set[tuple[str, str]]:
    return {(v.field, v.rule) for v in validate_event(candidate, NOW)}


def test_a_complete_event_is_valid():
    full = event(user_id="u-1", referrer="https://www.google.com/", event_type="click",
                 element={"id": "buy", "text": "Buy", "selector": "#buy"},
                 properties={"price": 12.5, "color": "red", "in_stock": True, "note": None})
    assert validate_event(full, NOW) == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"event_id": None}, ("event_id", "required")),
        ({"event_id": "not-a-uuid"}, ("event_id", "format")),
        ({"event_type": None}, ("event_type", "required")),
        ({"event_type": "hover"}, ("event_type", "allowed_values")),
        ({"event_type": "custom:"}, ("event_type", "allowed_values")),
        ({"event_time": None}, ("event_time", "required")),
        ({"event_time": "2026-11-25T11:59:00"}, ("event_time", "format")),
        ({"event_time": "yesterday"}, ("event_time", "format")),
        ({"event_time": "2026-11-25T12:06:00Z"}, ("event_time", "not_in_future")),
        ({"anonymous_id": None}, ("anonymous_id", "required")),
        ({"anonymous_id": "x" * 129}, ("anonymous_id", "max_length")),
        ({"session_id": "  "}, ("session_id", "type")),
        ({"user_id": 42}, ("user_id", "type")),
        ({"page_url": None}, ("page_url", "required")),
        ({"page_url": "javascript:alert(1)"}, ("page_url", "format")),
        ({"referrer": "ftp://x"}, ("referrer", "format")),
        ({"element": "button"}, ("element", "type")),
        ({"element": {"href": "x"}}, ("element", "known_fields")),
        ({"properties": [1]}, ("properties", "type")),
        ({"properties": {f"k{i}": i for i in range(51)}}, ("properties", "max_keys")),
        ({"properties": {"nested": {"a": 1}}}, ("properties.nested", "scalar")),
        ({"properties": {"long": "x" * 2049}}, ("properties.long", "max_length")),
        ({"schema_version": 2}, ("schema_version", "allowed_values")),
        ({"schema_version": True}, ("schema_version", "allowed_values")),
        ({"ip": "1.2.3.4"}, ("$", "known_fields")),
    ],
)
def test_each_broken_rule_names_field_and_rule(overrides, expected):
    assert expected in rules(event(**overrides))


def test_custom_events_and_clicks_need_no_page_url():
    assert validate_event(event(event_type="custom:newsletter_signup", page_url=None), NOW) == []
    assert validate_event(event(event_type="click", page_url=None), NOW) == []


def test_every_broken_rule_is_reported_at_once():
    found = rules({"event_type": "hover", "schema_version": 3})
    assert {"event_id", "event_type", "event_time", "anonymous_id", "session_id",
            "schema_version"} <= {field for field, _ in found}


def test_events_from_payload_accepts_one_event_or_a_batch():
    single = event()
    assert events_from_payload(single) == [single]
    assert events_from_payload({"events": [single, single]}) == [single, single]


@pytest.mark.parametrize(
    ("payload", "status", "rule"),
    [
        ([], 400, "payload_type"),
        ("text", 400, "payload_type"),
        ({"events": {}}, 400, "events_type"),
        ({"events": []}, 400, "empty_batch"),
        ({"events": [{}], "extra": 1}, 400, "batch_fields"),
        ({"events": [{}] * 501}, 413, "max_events"),
    ],
)
def test_unreadable_payloads_are_request_errors(payload, status, rule):
    with pytest.raises(RequestError) as caught:
        events_from_payload(payload)
    assert (caught.value.status, caught.value.rule) == (status, rule)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
contract_keys = st.sampled_from(["event_id", "event_type", "event_time", "anonymous_id",
                                 "session_id", "user_id", "page_url", "referrer", "element",
                                 "properties", "schema_version"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(json_values, st.dictionaries(contract_keys, json_values, max_size=11)))
def test_any_json_value_is_judged_without_raising(candidate):
    violations = validate_event(candidate, NOW)
    assert all(v.field and v.rule and v.message for v in violations)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(contract_keys, json_values, max_size=11))
def test_a_field_broken_into_any_value_is_either_valid_or_named(overrides):
    candidate = {**event(), **overrides}
    for violation in validate_event(candidate, NOW):
        assert violation.field.split(".")[0] in (*candidate, "$")
