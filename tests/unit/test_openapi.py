"""The OpenAPI document and the handler's contract agree: what one allows the other accepts.

schemathesis generates request bodies from the document (valid ones, and ones that break it
in every way it knows) and the contract judges them in-process, hundreds per second; the
fuzz test then does the same over HTTP against the live gateway.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.core import NotSet

from streaming.contract import (
    MAX_EVENTS_PER_REQUEST,
    RequestError,
    events_from_payload,
    validate_event,
)
from streaming.openapi import RULES_BEYOND_THE_DOCUMENT, openapi_document

DOCUMENT = openapi_document("http://127.0.0.1:9")
SEND = schemathesis.openapi.from_dict(DOCUMENT)["/v1/events"]["POST"]
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


def test_document_states_the_contract_limits():
    batch = DOCUMENT["components"]["schemas"]["Batch"]["properties"]["events"]
    assert batch["maxItems"] == MAX_EVENTS_PER_REQUEST
    post = DOCUMENT["paths"]["/v1/events"]["post"]
    assert set(post["responses"]) == {"200", "207", "400", "401", "403", "413", "415", "429", "503"}
    assert set(post["requestBody"]["content"]) == {"application/json", "text/plain"}


def test_document_and_contract_agree_on_what_found_them_apart():
    """Found by the generated bodies: a page_view without page_url, and ids of separator
    characters (0x1c-0x1f), which Python counts as whitespace and ECMA-262 does not."""
    event = DOCUMENT["components"]["schemas"]["Event"]
    assert event["then"]["required"] == ["page_url"]
    blank = re.compile(event["properties"]["anonymous_id"]["pattern"])
    for separator in "\x1c\x1d\x1e\x1f \u3000":
        assert blank.search(separator) is None
        assert ("anonymous_id", "type") in {
            (v.field, v.rule) for v in validate_event(
                {"event_id": "0b7f5e0c-3c1a-4d8e-9a53-0d2f0b1f6a11", "event_type": "click",
                 "event_time": "2026-11-25T10:00:00Z", "anonymous_id": separator, "session_id": "s"},
                datetime.now(UTC))}


@FUZZ
@given(SEND.as_strategy(generation_mode=GenerationMode.POSITIVE, media_type="application/json"))
def test_what_the_document_allows_the_contract_accepts(case):
    now = datetime.now(UTC)
    for candidate in events_from_payload(case.body):
        broken = {(v.field, v.rule) for v in validate_event(candidate, now)}
        assert broken <= RULES_BEYOND_THE_DOCUMENT, (candidate, broken)


@FUZZ
@given(SEND.as_strategy(generation_mode=GenerationMode.NEGATIVE, media_type="application/json"))
def test_what_the_document_forbids_the_contract_rejects(case):
    assume(not isinstance(case.body, NotSet))
    assume(any(location.value == "body" and info.mode.is_negative
               for location, info in case.meta.components.items()))
    try:
        events = events_from_payload(case.body)
    except RequestError:
        return
    now = datetime.now(UTC)
    assert any(validate_event(candidate, now) for candidate in events), case.body
