"""Event contract v1: what a tracker may send, checked field by field.

Every rule that fails is reported with the field it concerns and a rule name, so a client
(or a person reading quarantine) knows exactly what to fix. The handler and the tests use
this module; the stream job re-checks the same rules in Spark for records that reached the
stream without passing through the handler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

SCHEMA_VERSION = 1
MAX_EVENTS_PER_REQUEST = 500
MAX_BODY_BYTES = 1024 * 1024
MAX_ID_LENGTH = 128
MAX_PROPERTIES = 50
MAX_STRING_LENGTH = 2048
MAX_URL_LENGTH = 4096
MAX_FUTURE_SKEW = timedelta(minutes=5)

STANDARD_EVENT_TYPES = ("page_view", "click", "add_to_cart", "checkout", "purchase")
PAGE_EVENT_TYPES = ("page_view",)
CUSTOM_EVENT_PATTERN = re.compile(r"custom:[A-Za-z0-9_.\-]{1,64}")
# The forms the stream job reads back (Spark, delta-rs, Athena) and JSON Schema's
# `uuid`/`date-time` name: the canonical UUID, and RFC 3339 timestamps with a zone. Python's
# own parsers accept more (`uuid.UUID` takes dashes anywhere, `fromisoformat` ISO week dates
# and basic format), which the handler would accept and the job then quarantine.
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TIMESTAMP_PATTERN = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+\-][0-9]{2}:[0-9]{2})"
)
# An absolute http(s) URL as browsers send it: percent-encoded, so no spaces or control
# characters anywhere (urlsplit would silently drop some), and a host.
URL_PATTERN = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f/?#]+(?:[/?#][^\x00-\x20\x7f]*)?")
MAX_ECHOED_KEY = 64
# Whitespace as Python's str.isspace() has it, spelled out as a character class so the
# handler and the OpenAPI pattern agree: JSON Schema's \s (ECMA-262) leaves out \x1c-\x1f.
WHITESPACE_CLASS = "\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = re.compile(f"[^{WHITESPACE_CLASS}]")
ELEMENT_FIELDS = ("id", "text", "selector")
_ELEMENT_FIELD_SET = frozenset(ELEMENT_FIELDS)
KNOWN_FIELDS = frozenset(
    {
        "event_id",
        "event_type",
        "event_time",
        "anonymous_id",
        "session_id",
        "user_id",
        "page_url",
        "referrer",
        "element",
        "properties",
        "schema_version",
    }
)


@dataclass(frozen=True)
class Violation:
    """One broken rule: `field` is the contract field, `rule` a stable machine-readable name."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class RequestError(Exception):
    """The request as a whole cannot be read; carries the HTTP status to answer with."""

    def __init__(self, status: int, rule: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.rule = rule
        self.message = message


def parse_timestamp(value: Any) -> datetime | None:
    """RFC 3339 with an explicit zone, or None; naive times are ambiguous and refused."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    return _parse_timestamp_text(value)


@lru_cache(maxsize=4096)
def _parse_timestamp_text(value: str) -> datetime | None:
    """Cached: the handler parses an event's time twice (its rule, then its canonical form),
    and the job parses one `received_at` for all of a request's events."""
    if not TIMESTAMP_PATTERN.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def rfc3339(moment: datetime, timespec: str = "microseconds") -> str:
    """`moment` (aware) as the contract writes times: RFC 3339 in UTC with a Z."""
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def canonical_time(value: str) -> str:
    """A valid event_time in one form, UTC with microseconds, whatever zone the client used."""
    parsed = parse_timestamp(value)
    if parsed is None:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    if len(value) == 24 and value[10] == "T" and value[19] == "." and value[23] == "Z":
        # What browsers send (Date.toISOString: UTC, milliseconds) is three digits short of
        # the canonical form: a third of the time of formatting the parsed time.
        return value[:23] + "000Z"
    return rfc3339(parsed)


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and UUID_PATTERN.fullmatch(value) is not None


def is_http_url(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_URL_LENGTH and _is_http_url_text(value)


@lru_cache(maxsize=8192)
def _is_http_url_text(value: str) -> bool:
    """Cached: page URLs repeat across a site's events, and parsing them cost more than every
    other rule together in the handler profile."""
    if not URL_PATTERN.fullmatch(value):
        return False
    try:
        parts = urlsplit(value)
        hostname, _ = parts.hostname, parts.port
    except ValueError:
        return False
    return bool(hostname)


def _echo(keys: list[str]) -> list[str]:
    """Unknown names as they are reported back: the first five, each cut to a readable length."""
    return [key[:MAX_ECHOED_KEY] for key in keys[:5]]


def _check_id(event: dict, name: str, required: bool) -> list[Violation]:
    value = event.get(name)
    if value is None:
        return [Violation(name, "required", f"{name} is required")] if required else []
    if not isinstance(value, str) or not NOT_BLANK.search(value):
        return [Violation(name, "type", f"{name} must be a string that is not blank")]
    if len(value) > MAX_ID_LENGTH:
        return [Violation(name, "max_length", f"{name} must be at most {MAX_ID_LENGTH} chars")]
    return []


def _check_event_type(value: Any) -> list[Violation]:
    if value is None:
        return [Violation("event_type", "required", "event_type is required")]
    if value in STANDARD_EVENT_TYPES or (
        isinstance(value, str) and CUSTOM_EVENT_PATTERN.fullmatch(value)
    ):
        return []
    allowed = ", ".join(STANDARD_EVENT_TYPES)
    return [Violation("event_type", "allowed_values", f"event_type must be one of {allowed} "
                      "or custom:<name> (letters, digits, _ . -; at most 64)")]


def _check_event_time(value: Any, now: datetime) -> list[Violation]:
    if value is None:
        return [Violation("event_time", "required", "event_time is required")]
    parsed = parse_timestamp(value)
    if parsed is None:
        return [Violation("event_time", "format", "event_time must be ISO-8601 with a zone")]
    if parsed - now > MAX_FUTURE_SKEW:
        return [Violation("event_time", "not_in_future",
                          "event_time is more than 5 minutes ahead of the server clock")]
    return []


def _check_urls(event: dict) -> list[Violation]:
    found: list[Violation] = []
    page_url = event.get("page_url")
    if page_url is None and event.get("event_type") in PAGE_EVENT_TYPES:
        found.append(Violation("page_url", "required", "page_url is required for page events"))
    elif page_url is not None and not is_http_url(page_url):
        found.append(Violation("page_url", "format", "page_url must be an absolute http(s) URL"))
    referrer = event.get("referrer")
    if referrer not in (None, "") and not is_http_url(referrer):
        found.append(Violation("referrer", "format", "referrer must be an absolute http(s) URL"))
    return found


def _check_element(value: Any) -> list[Violation]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [Violation("element", "type", "element must be an object")]
    if not _ELEMENT_FIELD_SET.issuperset(value):
        unknown = sorted(set(value) - _ELEMENT_FIELD_SET)
        return [Violation("element", "known_fields", f"element has unknown keys: {_echo(unknown)}")]
    for key, item in value.items():
        if item is not None and (not isinstance(item, str) or len(item) > MAX_STRING_LENGTH):
            return [Violation(f"element.{key}", "type",
                              f"element.{key} must be a string of at most {MAX_STRING_LENGTH}")]
    return []


def _check_properties(value: Any) -> list[Violation]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [Violation("properties", "type", "properties must be an object")]
    if len(value) > MAX_PROPERTIES:
        return [Violation("properties", "max_keys", f"properties has more than {MAX_PROPERTIES} keys")]
    for key, item in value.items():
        if len(key) > MAX_ID_LENGTH:
            return [Violation("properties", "key_length",
                              f"property names must be at most {MAX_ID_LENGTH} chars")]
        if isinstance(item, (dict, list)):
            return [Violation(f"properties.{key}", "scalar", "property values must be scalars")]
        if isinstance(item, str) and len(item) > MAX_STRING_LENGTH:
            return [Violation(f"properties.{key}", "max_length",
                              f"property values must be at most {MAX_STRING_LENGTH} chars")]
    return []


def _check_schema_version(value: Any) -> list[Violation]:
    if value is None or (value == SCHEMA_VERSION and not isinstance(value, bool)):
        return []
    return [Violation("schema_version", "allowed_values", f"schema_version must be {SCHEMA_VERSION}")]


def validate_event(event: Any, now: datetime) -> list[Violation]:
    """All violations of one event (empty when valid); `now` is the server's receive time."""
    if not isinstance(event, dict):
        return [Violation("$", "type", "each event must be a JSON object")]
    found: list[Violation] = []
    if event.get("event_id") is None:
        found.append(Violation("event_id", "required", "event_id is required"))
    elif not is_uuid(event["event_id"]):
        found.append(Violation("event_id", "format", "event_id must be a UUID string"))
    found += _check_event_type(event.get("event_type"))
    found += _check_event_time(event.get("event_time"), now)
    found += _check_id(event, "anonymous_id", required=True)
    found += _check_id(event, "session_id", required=True)
    found += _check_id(event, "user_id", required=False)
    found += _check_urls(event)
    found += _check_element(event.get("element"))
    found += _check_properties(event.get("properties"))
    found += _check_schema_version(event.get("schema_version"))
    if not KNOWN_FIELDS.issuperset(event):
        unknown = sorted(set(event) - KNOWN_FIELDS)
        found.append(Violation("$", "known_fields", f"unknown fields: {_echo(unknown)}"))
    return found


def events_from_payload(payload: Any) -> list[Any]:
    """One event or `{"events": [...]}` becomes a list; anything else is a request error."""
    if isinstance(payload, dict) and "events" in payload:
        events = payload["events"]
        if not isinstance(events, list):
            raise RequestError(400, "events_type", "'events' must be an array")
        if set(payload) - {"events"}:
            raise RequestError(400, "batch_fields", "a batch has only the key 'events'")
    elif isinstance(payload, dict):
        events = [payload]
    else:
        raise RequestError(400, "payload_type", "body must be an event object or {\"events\": [...]}")
    if not events:
        raise RequestError(400, "empty_batch", "'events' is empty")
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise RequestError(413, "max_events",
                           f"at most {MAX_EVENTS_PER_REQUEST} events per request, got {len(events)}")
    return events
