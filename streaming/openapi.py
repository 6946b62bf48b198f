"""The OpenAPI 3.1 document of the ingestion endpoint, built from the contract's own limits.

It is generated from the constants the handler checks (sizes, counts, patterns, event types),
so the two cannot drift apart silently, and the fuzz test (schemathesis against the live
gateway) checks every answer against it. Rules JSON Schema cannot state (event_time at most
five minutes ahead, a URL's host and port, the 1 MiB body) are in the descriptions; the
handler reports them per event like any other rule.
"""

from __future__ import annotations

from typing import Any

from streaming.auth import QUERY_PARAMETER
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
from streaming.cors import ALLOWED_HEADERS, ALLOWED_METHODS
from streaming.handler import EVENTS_PATH

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


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _json("Error")}
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
                f"most {MAX_BODY_BYTES} bytes and {MAX_EVENTS_PER_REQUEST} events."),
        },
        "servers": [{"url": server_url}],
        "paths": {
            EVENTS_PATH: {
                "post": {
                    "operationId": "sendEvents",
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
                        "rejected_events": {"type": "array", "items": {
                            "type": "object", "required": ["index", "event_id", "errors"],
                            "properties": {
                                "index": {"type": "integer", "minimum": 0},
                                "event_id": {"type": ["string", "null"]},
                                "errors": {"type": "array", "minItems": 1,
                                           "items": {"$ref": "#/components/schemas/Violation"}},
                            }}},
                        "retry_events": {"type": "array", "items": {
                            "type": "object", "required": ["index", "event_id", "reason"],
                            "properties": {"index": {"type": "integer", "minimum": 0},
                                           "event_id": {"type": "string"},
                                           "reason": {"type": "string"}}}},
                    },
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
