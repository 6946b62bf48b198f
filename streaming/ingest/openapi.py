"""The OpenAPI 3.1 document of the ingestion endpoint, built from the contract's own limits.

It is generated from the constants the handler checks (sizes, counts, patterns, event types),
so the two cannot drift apart silently, and the fuzz test (schemathesis against the live
gateway) checks every answer against it. Rules JSON Schema cannot state (event_time at most
five minutes ahead, a URL's host and port, the 1 MiB body) are in the descriptions; the
handler reports them per event like any other rule.

The Segment tracking API's paths (`streaming.ingest.segment.PATHS`) are documented from the same
module's constants, tagged `segment`. Their message schema describes the fields the mapping
reads; a message that breaks it is not refused with the request but left out and listed in
the 200, as the Segment and RudderStack libraries expect.
"""

from __future__ import annotations

from typing import Any

from streaming.contract import (
    CUSTOM_EVENT_PATTERN,
    ELEMENT_FIELDS,
    MAX_BODY_BYTES,
    MAX_EVENTS_PER_REQUEST,
    MAX_ID_LENGTH,
    MAX_PROPERTIES,
    MAX_STRING_LENGTH,
    MAX_URL_LENGTH,
    NOT_BLANK,
    PAGE_EVENT_TYPES,
    SCHEMA_VERSION,
    STANDARD_EVENT_TYPES,
    URL_PATTERN,
)
from streaming.ingest import segment
from streaming.ingest.auth import QUERY_PARAMETER
from streaming.ingest.cors import ALLOWED_HEADERS, ALLOWED_METHODS
from streaming.ingest.events import EVENTS_PATH

URL_SCHEMA = {"type": "string", "maxLength": MAX_URL_LENGTH, "pattern": f"^{URL_PATTERN.pattern}$"}
ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": NOT_BLANK.pattern}
TEXT_SCHEMA = {"type": ["string", "null"], "maxLength": MAX_STRING_LENGTH}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def event_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "One click event (contract v1). A property sent as null counts as absent.",
        "additionalProperties": False,
        "required": ["event_id", "event_type", "event_time", "anonymous_id", "session_id"],
        "if": {"required": ["event_type"], "properties": {"event_type": {"enum": list(PAGE_EVENT_TYPES)}}},
        "then": {"required": ["page_url"], "properties": {"page_url": {"type": "string"}}},
        "properties": {
            "event_id": {"type": "string", "format": "uuid",
                         "description": "Canonical UUID; the idempotency key end to end."},
            "event_type": {"anyOf": [{"enum": list(STANDARD_EVENT_TYPES)},
                                     {"type": "string",
                                      "pattern": f"^{CUSTOM_EVENT_PATTERN.pattern}$"}]},
            "event_time": {"type": "string", "format": "date-time", "maxLength": 64,
                           "description": "RFC 3339 with a zone, client clock; rejected "
                                          "(rule not_in_future) when over 5 minutes ahead."},
            "anonymous_id": {**ID_SCHEMA, "description": "The partition key."},
            "session_id": ID_SCHEMA,
            "user_id": _nullable(ID_SCHEMA),
            "page_url": _nullable({**URL_SCHEMA, "description":
                                   "Absolute http(s) URL with a host and a valid port; "
                                   "required for page_view."}),
            "referrer": _nullable({"anyOf": [{"const": ""}, URL_SCHEMA]}),
            "element": _nullable({
                "type": "object", "additionalProperties": False,
                "properties": {name: TEXT_SCHEMA for name in ELEMENT_FIELDS},
            }),
            "properties": _nullable({
                "type": "object", "maxProperties": MAX_PROPERTIES,
                "propertyNames": {"maxLength": MAX_ID_LENGTH},
                "additionalProperties": {"type": ["string", "number", "boolean", "null"],
                                         "maxLength": MAX_STRING_LENGTH},
            }),
            "schema_version": {"enum": [SCHEMA_VERSION, None]},
        },
    }


def _json(schema_ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}


def _error(description: str, headers: dict[str, Any] | None = None, schema: str = "Error"
           ) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _json(schema)}
    if headers:
        response["headers"] = headers
    return response


PAYLOAD = {"oneOf": [{"$ref": "#/components/schemas/Event"}, {"$ref": "#/components/schemas/Batch"}]}
# What JSON Schema cannot state, so an event the document allows may still be rejected for it:
# the server's clock, and a URL's host and port (the handler reports these per event).
RULES_BEYOND_THE_DOCUMENT = frozenset(
    {("event_time", "not_in_future"), ("page_url", "format"), ("referrer", "format")})
RETRY_AFTER = {"retry-after": {"description": "Seconds to wait before resending.",
                               "schema": {"type": "string", "pattern": "^[0-9]+$"}}}


SEGMENT_TAG = "segment"
SEGMENT_ID = {"type": ["string", "number"]}
SEGMENT_TIME = {"type": "string", "format": "date-time", "maxLength": 64}
SEGMENT_WRITE_KEY = {"type": "string", "description": "The write key, read only when the request "
                     "carries none in Authorization or the query (analytics-next sends it here)."}
# One example message per type, each stored without a rejection (tests/unit/test_openapi.py
# sends them through the handler): what a tracker sends, minus fields the mapping ignores.
SEGMENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "track": {"event": "Product Added", "properties": {"product_id": "sku-42", "price": 19.9}},
    "page": {"name": "Pricing", "properties": {"url": "https://shop.example.com/pricing?utm_source=news",
                                               "referrer": "https://www.example.org/"}},
    "screen": {"name": "Checkout"},
    "identify": {"userId": "user-42", "traits": {"email": "ada@example.com", "plan": "pro"}},
    "group": {"userId": "user-42", "groupId": "acme", "traits": {"name": "Acme"}},
    "alias": {"userId": "user-42", "previousId": "visitor-7f3c"},
}


def segment_example(kind: str, *, typed: bool) -> dict[str, Any]:
    """A complete example message of `kind`; `typed` adds `type`, which a batch needs."""
    return {**({"type": kind} if typed else {}), "messageId": f"ajs-next-1772366400000-{kind}",
            "anonymousId": "0b7f5e0c-3c1a-4d8e-9a53-0d2f0b1f6a11",
            "timestamp": "2026-03-01T12:00:00.000Z", "sentAt": "2026-03-01T12:00:01.000Z",
            **SEGMENT_EXAMPLES[kind]}


def rejected_event(id_field: str) -> dict:
    """One rejected event as both APIs list it; they differ only in the name of its id."""
    return {"type": "object", "required": ["index", id_field, "errors"],
            "properties": {"index": {"type": "integer", "minimum": 0},
                           id_field: {"type": ["string", "null"]},
                           "errors": {"type": "array", "minItems": 1,
                                      "items": {"$ref": "#/components/schemas/Violation"}}}}


def segment_message_schema() -> dict[str, Any]:
    """One message as `streaming.ingest.segment.to_contract_event` reads it; other fields
    (integrations, _metadata, channel, ...) are allowed and not stored."""
    return {
        "type": "object",
        "description": (
            "One Segment message. A message that breaks this schema or, once mapped, the event "
            "contract is left out and listed in the 200's `rejected_events` (in a batch, so is "
            f"a message over {segment.MAX_MESSAGE_BYTES} bytes); the others are stored."),
        "required": ["messageId"],
        "anyOf": [{"required": ["anonymousId"]}, {"required": ["userId"]}],
        "if": {"required": ["type"], "properties": {"type": {"const": "track"}}},
        "then": {"required": ["event"]},
        "properties": {
            "type": {"enum": list(segment.TYPES),
                     "description": "Required in a batch; on a single-message path it defaults to "
                                    "the path's type."},
            "messageId": {"type": "string", "minLength": 1,
                          "description": "event_id: the id itself when it is a UUID, else a UUID "
                                         "derived from it, so a retried message is the same event."},
            "anonymousId": {**SEGMENT_ID, "description": "anonymous_id; without it, userId is "
                                                         "required and anonymous_id is a UUID of "
                                                         "its salted hash."},
            "userId": {**SEGMENT_ID, "description": "user_id (a number becomes its text)."},
            "event": {"type": "string", "minLength": 1, "description": (
                "track: the event name. " + ", ".join(
                    f"{name.title()} becomes {kind}"
                    for name, kind in segment.STANDARD_TRACK_EVENTS.items())
                + f"; any other name custom:<name> (at most {segment.MAX_CUSTOM_NAME} characters).")},
            "properties": {"type": "object", "description": (
                "properties, nested objects as dotted keys and arrays as JSON text; on a page, "
                "url and referrer are page_url and referrer; on Order Completed, total is revenue "
                "when there is no revenue.")},
            **{name: {**SEGMENT_ID, "description": "Kept as a property of the same name."}
               for name in ("name", "category", "groupId", "previousId")},
            "traits": {"type": "object", "description": "identify and group: kept as traits.<key> "
                                                        "properties, every string value replaced by "
                                                        "its salted hash."},
            "context": {"type": "object", "properties": {
                "page": {"type": "object", "description": "page_url and referrer (a page's "
                                                          "properties.url and referrer come first).",
                         "properties": {"url": {"type": "string"}, "referrer": {"type": "string"}}},
                "sessionId": {**SEGMENT_ID, "description": "session_id; without it, one session "
                                                           "per visitor and UTC day."},
                "userAgent": {"type": "string", "description": "The visitor's user agent when a "
                                                               "server relays the message (else the "
                                                               "request's)."},
                "ip": {"type": "string", "description": "The visitor's address, likewise (hashed "
                                                        "like any request's; not stored as such)."},
                "campaign": {"type": "object", "description": "The UTM columns when the page URL "
                                                              "carries none.",
                             "properties": {field: {"type": "string"}
                                            for field in segment.CAMPAIGN_FIELDS}},
            }},
            "timestamp": {**SEGMENT_TIME, "description": "The client's time of the event; "
                                                         "event_time is it plus (receive time - "
                                                         "sentAt), the client's clock skew removed."},
            "originalTimestamp": {**SEGMENT_TIME, "description": "RudderStack's timestamp; used "
                                                                 "before timestamp."},
            "sentAt": {**SEGMENT_TIME, "description": "When the library sent the message (else the "
                                                      "batch's sentAt)."},
        },
    }


def segment_operation(path: str) -> dict[str, Any]:
    """POST on one Segment path: a single message of the path's type, or a batch of any."""
    name = path.rsplit("/", 1)[1]
    batch = path in segment.BATCH_PATHS
    kind = "batch" if batch else segment.SINGLE_PATHS[path]
    short = " (analytics-next's short path)" if name != kind else ""
    example = ({"batch": [segment_example(each, typed=True) for each in ("track", "page")],
                "sentAt": "2026-03-01T12:00:01.000Z",
                "context": {"library": {"name": "analytics-node", "version": "2.1.0"}}}
               if batch else segment_example(kind, typed=False))
    body = {"schema": {"$ref": f"#/components/schemas/{'SegmentBatch' if batch else 'SegmentSingle'}"},
            "examples": {kind: {"value": example}}}
    return {
        "operationId": f"segment{kind.title()}{'Short' if short else ''}",
        "tags": [SEGMENT_TAG],
        "summary": (f"Segment batch of messages of any type{short}" if batch
                    else f"Segment {kind} message{short}"),
        "description": "The write key is the Basic user name (empty password), the writeKey query "
                       "parameter, or writeKey in the body.",
        "security": [{"writeKeyBasic": []}, {"writeKeyQuery": []}, {}],
        "parameters": [{"name": "Content-Encoding", "in": "header", "schema": {"type": "string"},
                        "description": "gzip when the body is gzipped (rudder-sdk-node); its "
                                       "content type may then also be "
                                       "application/x-www-form-urlencoded, as axios labels it."}],
        "requestBody": {
            "required": True,
            "description": f"JSON, at most {segment.MAX_REQUEST_BYTES} bytes (after gunzip).",
            "content": {media_type: body for media_type in segment.ACCEPTED_CONTENT_TYPES},
        },
        "responses": {
            "200": {"description": "Stored, but for the messages listed in `rejected_events`.",
                    "content": _json("SegmentResult")},
            "400": _error(
                "Nothing stored: the body is not gzip (`malformed_gzip`) or JSON (`malformed_json`), "
                f"not an object (`payload_type`) or over {segment.MAX_REQUEST_BYTES} bytes "
                "(`max_request_bytes`), or " + (
                    "it has no non-empty `batch` array (`batch`)." if batch else
                    f"the message is over {segment.MAX_MESSAGE_BYTES} bytes (`max_message_bytes`)."),
                schema="SegmentError"),
            "401": _error("No write key, or not a configured one.", schema="SegmentError"),
            # The origin check and the gateway's rate limit come before the Segment handler,
            # so these two answer like /v1/events.
            "403": _error("A browser origin that is not on the allow-list."),
            "415": _error("Content type other than application/json or text/plain (gzipped: also "
                          "application/x-www-form-urlencoded).", schema="SegmentError"),
            "429": _error("This write key's request rate is used up.", RETRY_AFTER),
            "503": _error("Some messages could not be written to the stream (`stream_unavailable`); "
                          "resending the request is safe.", RETRY_AFTER, schema="SegmentError"),
        },
    }


def openapi_document(server_url: str) -> dict[str, Any]:
    """The document served at /openapi.json, with `server_url` as the API's server."""
    result = {"description": "Per-event results.", "content": _json("IngestResult")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clickstream ingestion",
            "version": "1.0.0",
            "description": (
                "Receives click events from trackers and writes the valid ones to the stream. "
                "Every answer but a preflight's carries a reason: `error` and `message`, or "
                "per-event results listing each rejected event's field and rule. Browsers "
                f"may only send from allow-listed origins (others get 403). The body is at "
                f"most {MAX_BODY_BYTES} bytes and {MAX_EVENTS_PER_REQUEST} events. The paths "
                f"tagged `{SEGMENT_TAG}` speak the Segment (and RudderStack) tracking API, so "
                "their libraries only need this host and a write key."),
        },
        "servers": [{"url": server_url}],
        "tags": [{"name": "events", "description": "The tracker's own API (event contract v1)."},
                 {"name": SEGMENT_TAG, "description": "The Segment HTTP tracking API and "
                                                      "analytics-next's short paths."}],
        "paths": {
            EVENTS_PATH: {
                "post": {
                    "operationId": "sendEvents",
                    "tags": ["events"],
                    "summary": "Send one event or a batch",
                    "security": [{"writeKeyBasic": []}, {"writeKeyQuery": []}],
                    "requestBody": {
                        "required": True,
                        "description": "JSON; browsers send it as text/plain, which needs no "
                                       "CORS preflight.",
                        "content": {"application/json": {"schema": PAYLOAD},
                                    "text/plain": {"schema": PAYLOAD}},
                    },
                    "responses": {
                        "200": {**result, "description": "Every event accepted."},
                        "207": {**result, "description": "Some accepted; the rejected ones are "
                                                         "listed with field and rule."},
                        "400": {"description": "Nothing accepted: the body is unreadable "
                                               "(`error`; malformed JSON with its `position`) or "
                                               "every event broke a rule (per-event results).",
                                "content": {"application/json": {"schema": {"oneOf": [
                                    {"$ref": "#/components/schemas/Error"},
                                    {"$ref": "#/components/schemas/IngestResult"}]}}}},
                        "401": _error("No write key, or not a configured one."),
                        "403": _error("A browser origin that is not on the allow-list."),
                        "413": _error(f"Body over {MAX_BODY_BYTES} bytes or more than "
                                      f"{MAX_EVENTS_PER_REQUEST} events."),
                        "415": _error("Content type other than application/json or text/plain."),
                        "429": _error("This write key's request rate is used up.", RETRY_AFTER),
                        "503": {**result, "headers": RETRY_AFTER,
                                "description": "Some events could not be written to the stream: "
                                               "`retry_events`; resending the batch is safe."},
                    },
                },
                "options": {
                    "operationId": "preflight",
                    "tags": ["events"],
                    "summary": "CORS preflight",
                    "security": [],
                    "parameters": [
                        {"name": "Origin", "in": "header", "schema": {"type": "string"}},
                        {"name": "Access-Control-Request-Method", "in": "header",
                         "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "204": {"description": "The origin may send events (without an Origin: "
                                               "the `allow`ed methods).", "headers": {
                            "allow": {"schema": {"type": "string", "const": ALLOWED_METHODS}},
                            "access-control-allow-origin": {"schema": {"type": "string"}},
                            "access-control-allow-methods": {
                                "schema": {"type": "string", "const": ALLOWED_METHODS}},
                            "access-control-allow-headers": {
                                "schema": {"type": "string", "const": ALLOWED_HEADERS}},
                        }},
                        "403": _error("The origin is not on the allow-list."),
                    },
                },
            },
            **{path: {"post": segment_operation(path)} for path in sorted(segment.PATHS)},
        },
        "components": {
            "securitySchemes": {
                "writeKeyBasic": {"type": "http", "scheme": "basic",
                                  "description": "The site's write key as user name, no password."},
                "writeKeyQuery": {"type": "apiKey", "in": "query", "name": QUERY_PARAMETER,
                                  "description": "The write key for browsers: no preflight."},
            },
            "schemas": {
                "Event": event_schema(),
                "Batch": {
                    "type": "object", "additionalProperties": False, "required": ["events"],
                    "properties": {"events": {
                        "type": "array", "minItems": 1, "maxItems": MAX_EVENTS_PER_REQUEST,
                        "items": {"$ref": "#/components/schemas/Event"}}},
                },
                "Violation": {
                    "type": "object", "required": ["field", "rule", "message"],
                    "properties": {"field": {"type": "string"}, "rule": {"type": "string"},
                                   "message": {"type": "string"}},
                },
                "IngestResult": {
                    "type": "object",
                    "required": ["accepted", "rejected", "retryable", "ingest_id"],
                    "properties": {
                        "accepted": {"type": "integer", "minimum": 0},
                        "rejected": {"type": "integer", "minimum": 0},
                        "retryable": {"type": "integer", "minimum": 0},
                        "ingest_id": {"type": "string"},
                        "rejected_events": {"type": "array", "items": rejected_event("event_id")},
                        "retry_events": {"type": "array", "items": {
                            "type": "object", "required": ["index", "event_id", "reason"],
                            "properties": {"index": {"type": "integer", "minimum": 0},
                                           "event_id": {"type": "string"},
                                           "reason": {"type": "string"}}}},
                    },
                },
                "SegmentMessage": segment_message_schema(),
                "SegmentSingle": {
                    "description": f"One message, at most {segment.MAX_MESSAGE_BYTES} bytes as JSON.",
                    "allOf": [{"$ref": "#/components/schemas/SegmentMessage"}],
                    "properties": {"writeKey": SEGMENT_WRITE_KEY},
                },
                "SegmentBatch": {
                    "type": "object", "required": ["batch"],
                    "properties": {
                        "batch": {"type": "array", "minItems": 1, "items": {
                            "allOf": [{"$ref": "#/components/schemas/SegmentMessage"}],
                            "required": ["type"]}},
                        "sentAt": {**SEGMENT_TIME, "description": "For messages without their own."},
                        "context": {"type": "object",
                                    "description": "Merged under each message's own context."},
                        "writeKey": SEGMENT_WRITE_KEY,
                    },
                },
                "SegmentResult": {
                    "type": "object", "required": ["success"],
                    "properties": {
                        "success": {"const": True},
                        "rejected": {"type": "integer", "minimum": 1},
                        "rejected_events": {"type": "array", "minItems": 1,
                                            "items": rejected_event("messageId")},
                    },
                },
                "SegmentError": {
                    "type": "object", "required": ["success", "error", "message"],
                    "properties": {"success": {"const": False}, "error": {"type": "string"},
                                   "message": {"type": "string"}},
                },
                "Error": {
                    "type": "object", "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "position": {"type": "object", "required": ["line", "column", "offset"],
                                     "properties": {"line": {"type": "integer"},
                                                    "column": {"type": "integer"},
                                                    "offset": {"type": "integer"}}},
                    },
                },
            },
        },
    }
