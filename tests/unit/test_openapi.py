"""The OpenAPI document and the handler's contract agree: what one allows the other accepts.

schemathesis generates request bodies from the document (valid ones, and ones that break it
in every way it knows) and the contract judges them in-process, hundreds per second; the
fuzz test then does the same over HTTP against the live gateway. The Segment paths are held
to the handler the other way round: every answer the handler gives there (each example body,
each way of refusing a request) must be one the document describes.
"""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.core import NotSet
from schemathesis.core.transport import Response
from schemathesis.specs.openapi import checks

from streaming.contract import (
    MAX_EVENTS_PER_REQUEST,
    RequestError,
    events_from_payload,
    validate_event,
)
from streaming.erased import ErasedIds
from streaming.ingest import segment
from streaming.ingest.auth import basic_authorization, parse_write_keys
from streaming.ingest.cors import OriginPolicy
from streaming.ingest.events import EVENTS_PATH
from streaming.ingest.handler import handle
from streaming.ingest.http import HttpRequest, Runtime
from streaming.ingest.openapi import RULES_BEYOND_THE_DOCUMENT, SEGMENT_TAG, openapi_document
from streaming.settings import Settings

DOCUMENT = openapi_document("http://127.0.0.1:9")
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
SEND = SCHEMA["/v1/events"]["POST"]
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


# --- the Segment tracking API's paths --------------------------------------------------------

WRITE_KEY = "segment-openapi-test-key"
KEY = basic_authorization(WRITE_KEY)
ORIGIN = "https://shop.example.com"
# What the document is checked against in a handler answer; not_a_server_error is left out
# because a 503 is a documented answer here.
RESPONSE_CHECKS = [checks.status_code_conformance, checks.content_type_conformance,
                   checks.response_headers_conformance, checks.response_schema_conformance]


class Stream:
    """Kinesis's put_records as the handler calls it: takes every record, or (`failing`) none."""

    def __init__(self, failing: bool) -> None:
        self.failing = failing

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        if self.failing:
            return {"Records": [{"ErrorCode": "ProvisionedThroughputExceededException",
                                 "ErrorMessage": "Rate exceeded"} for _ in Records]}
        return {"Records": [{"SequenceNumber": str(n), "ShardId": "shardId-0"} for n in range(len(Records))]}


def answer(path: str, body: bytes, headers: dict[str, str], failing: bool = False) -> dict[str, Any]:
    """The handler's proxy response to a POST, with one configured write key and origin."""
    settings = Settings(ip_hash_salt="openapi-test-salt")
    runtime = Runtime(settings, Stream(failing), parse_write_keys(f"shop:{WRITE_KEY}"),
                      OriginPolicy.parse(ORIGIN), ErasedIds(settings))
    request = HttpRequest("POST", path, {"content-type": "application/json", **headers}, {}, body,
                          "203.0.113.9")
    return handle(request, runtime)


def documented_body(path: str, response: dict[str, Any]) -> dict[str, Any]:
    """The answer's decoded body, once its status, content type, headers and body are shown to
    be ones the document gives for the path."""
    status = str(response["statusCode"])
    documented = DOCUMENT["paths"][path]["post"]["responses"]
    assert status in documented, (path, status, response["body"])
    assert set(documented[status].get("headers", {})) <= set(response["headers"]), (path, status)
    received = Response(status_code=response["statusCode"], elapsed=0.0, verify=True,
                        request=requests.Request("POST", f"http://127.0.0.1:9{path}").prepare(),
                        headers={name: [value] for name, value in response["headers"].items()},
                        content=response["body"].encode())
    SCHEMA[path]["POST"].Case(media_type="application/json").validate_response(received,
                                                                               checks=RESPONSE_CHECKS)
    return orjson.loads(response["body"])


def test_every_segment_path_is_documented_as_the_handler_serves_it():
    assert set(DOCUMENT["paths"]) == {EVENTS_PATH, *segment.PATHS}
    for path in segment.PATHS:
        assert set(DOCUMENT["paths"][path]) == {"post"}, path
        post = DOCUMENT["paths"][path]["post"]
        assert post["tags"] == [SEGMENT_TAG]
        assert set(post["requestBody"]["content"]) == set(segment.ACCEPTED_CONTENT_TYPES)
        schema = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert schema.endswith("SegmentBatch" if path in segment.BATCH_PATHS else "SegmentSingle")
        assert set(post["responses"]) == {"200", "400", "401", "403", "415", "429", "503"}
        assert "retry-after" in post["responses"]["429"]["headers"]
        assert "retry-after" in post["responses"]["503"]["headers"]
        # Basic authorization, the query parameter, or writeKey in the body (no scheme).
        assert {"writeKeyBasic": []} in post["security"] and {} in post["security"]
    operation_ids = {DOCUMENT["paths"][path]["post"]["operationId"] for path in segment.PATHS}
    assert len(operation_ids) == len(segment.PATHS)


def _schemas(node: Any) -> list[dict[str, Any]]:
    """Every schema object in the document: the components' and those under a `schema` key."""
    if isinstance(node, list):
        return [found for item in node for found in _schemas(item)]
    if not isinstance(node, dict):
        return []
    found = [value for key, value in node.items() if key == "schema" and isinstance(value, dict)]
    if isinstance(node.get("schemas"), dict):
        found += node["schemas"].values()
    return found + [inner for key, value in node.items() if key != "schemas" for inner in _schemas(value)]


def test_document_is_valid_openapi_3_1_and_its_schemas_valid_json_schema():
    """The OpenAPI 3.1 meta-schema does not look inside schema objects, so each is also
    checked against JSON Schema 2020-12's."""
    SCHEMA.validate()
    assert len([result.ok() for result in SCHEMA.get_all_operations()]) == 2 + len(segment.PATHS)
    schemas = _schemas(DOCUMENT)
    assert len(schemas) > 20
    for schema in schemas:
        jsonschema_rs.meta.validate(schema)


@pytest.mark.parametrize("path", sorted(segment.PATHS))
def test_each_documented_segment_example_is_stored_without_a_rejection(path):
    for media_type, content in DOCUMENT["paths"][path]["post"]["requestBody"]["content"].items():
        for example in content["examples"].values():
            response = answer(path, orjson.dumps(example["value"]),
                              {"content-type": media_type, "authorization": KEY})
            assert documented_body(path, response) == {"success": True}, response["body"]


def _example(path: str) -> Any:
    return next(iter(DOCUMENT["paths"][path]["post"]["requestBody"]["content"]["application/json"][
        "examples"].values()))["value"]


TRACK = {"event": "Signed Up", "messageId": "m-1", "anonymousId": "visitor-1"}
ANSWERS = [
    # (path, body, headers, status, error)
    ("/v1/track", orjson.dumps({**TRACK, "writeKey": WRITE_KEY}), {}, 200, None),
    ("/v1/b", gzip.compress(orjson.dumps(_example("/v1/b"))),
     {"authorization": KEY, "content-encoding": "gzip", "content-type": "application/x-www-form-urlencoded"},
     200, None),
    ("/v1/t", orjson.dumps(TRACK), {}, 401, "missing_write_key"),
    ("/v1/t", orjson.dumps(TRACK), {"authorization": basic_authorization("not-a-configured-key")},
     401, "invalid_write_key"),
    ("/v1/page", orjson.dumps(TRACK), {"authorization": KEY, "content-type": "application/xml"},
     415, "content_type"),
    ("/v1/batch", b"{", {"authorization": KEY}, 400, "malformed_json"),
    ("/v1/batch", b"{}", {"authorization": KEY, "content-encoding": "gzip"}, 400, "malformed_gzip"),
    ("/v1/batch", b"[]", {"authorization": KEY}, 400, "payload_type"),
    ("/v1/batch", b'{"batch": []}', {"authorization": KEY}, 400, "batch"),
    ("/v1/b", orjson.dumps({"batch": [TRACK] * 20_000}), {"authorization": KEY}, 400, "max_request_bytes"),
    ("/v1/t", orjson.dumps({**TRACK, "properties": {"blob": "x" * segment.MAX_MESSAGE_BYTES}}),
     {"authorization": KEY}, 400, "max_message_bytes"),
    ("/v1/identify", orjson.dumps(TRACK), {"authorization": KEY, "origin": "https://elsewhere.example"},
     403, "origin_not_allowed"),
]


@pytest.mark.parametrize(("path", "body", "headers", "status", "error"), ANSWERS,
                         ids=[f"{path}-{status}-{error}" for path, _, _, status, error in ANSWERS])
def test_segment_answers_are_the_documented_ones(path, body, headers, status, error):
    """Each way the handler refuses a Segment request (and two less common ways it accepts
    one: the key in the body, a gzipped batch labelled as a form) is a documented answer, and
    each 400 names its rule in the document."""
    response = answer(path, body, headers)
    assert response["statusCode"] == status, response["body"]
    found = documented_body(path, response)
    if status == 400:
        assert f"`{error}`" in DOCUMENT["paths"][path]["post"]["responses"]["400"]["description"]
    assert found.get("error") == error


def test_a_message_the_contract_refuses_is_listed_in_a_documented_200():
    batch = {"batch": [{"type": "track", **TRACK}, {"type": "track", "event": "x", "anonymousId": "v"}]}
    found = documented_body("/v1/batch", answer("/v1/batch", orjson.dumps(batch), {"authorization": KEY}))
    assert found["success"] is True and found["rejected"] == 1
    assert found["rejected_events"][0]["errors"][0]["field"] == "messageId"


def test_a_stream_that_takes_nothing_is_a_documented_503_with_retry_after():
    response = answer("/v1/t", orjson.dumps(TRACK), {"authorization": KEY}, failing=True)
    assert response["statusCode"] == 503 and response["headers"]["retry-after"]
    assert documented_body("/v1/t", response)["error"] == "stream_unavailable"
