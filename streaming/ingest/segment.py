"""The Segment (and RudderStack) HTTP tracking API on the same handler: trackers already in
use keep working after changing their host and write key.

Which requests the libraries send (read in their sources, the versions in
tests/segment_clients): @segment/analytics-node and @rudderstack/rudder-sdk-node POST
`{"batch": [...], "sentAt", ...}` to /v1/batch with the write key as Basic user name;
rudder-sdk-node gzips the body by default (`Content-Encoding: gzip`, and axios then labels
it `application/x-www-form-urlencoded`), sets `sentAt` on each message too, and stamps
`originalTimestamp` where Segment's libraries stamp `timestamp`; analytics-next in the
browser POSTs one message as `text/plain` to /v1/<first letter of its type> (t, p, i, g, a,
s) with `writeKey` and `sentAt` in the body, or, batching, `{"batch", "sentAt", "writeKey"}`
to /v1/b. The long paths (/v1/track, /v1/page, ...) are the Segment HTTP API's own.

Answers as those libraries expect them: 200 `{"success": true}` (with `rejected` and
`rejected_events` when some messages broke the event contract: they are kept out, counted
and logged, the others stored); 400 for an unreadable body, a request over 500 KB or a
single message over 32 KB; 401 for a missing or unknown write key; 503 with Retry-After when
the stream did not take every record (the libraries retry, and event_id keeps retries
idempotent). The local gateway answers 429 with Retry-After when a key is rate-limited.

The mapping of a message onto event contract v1 is `to_contract_event`; the table in
README.md ("Already using Segment or RudderStack?") documents it.
"""

from __future__ import annotations

import logging
import re
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

import orjson

from streaming.contract import MAX_ID_LENGTH, is_uuid, parse_timestamp, rfc3339, validate_event
from streaming.ingest import pii
from streaming.ingest.auth import presented_key
from streaming.ingest.enrich import enrich, keyed_hash, request_fields
from streaming.ingest.http import (
    ACCEPTED_CONTENT_TYPES,
    RETRY_AFTER_SECONDS,
    HttpRequest,
    Reply,
    Runtime,
    StreamWrite,
    content_type,
    json_response,
)

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 32 * 1024
MAX_REQUEST_BYTES = 500 * 1024
# Message types and the paths that carry them: the HTTP API's long names, analytics-next's
# one-letter ones; /v1/batch and /v1/b carry any type.
TYPES = ("track", "page", "screen", "identify", "group", "alias")
SINGLE_PATHS = {f"/v1/{name}": name for name in TYPES} | {f"/v1/{name[0]}": name for name in TYPES}
BATCH_PATHS = frozenset({"/v1/batch", "/v1/b"})
PATHS = frozenset(SINGLE_PATHS) | BATCH_PATHS
# rudder-sdk-node hands axios a gzipped Buffer, which axios labels form-urlencoded.
GZIP_CONTENT_TYPES = (*ACCEPTED_CONTENT_TYPES, "application/x-www-form-urlencoded")
# Segment's e-commerce spec names for the contract's standard funnel steps.
STANDARD_TRACK_EVENTS = {"product added": "add_to_cart", "checkout started": "checkout",
                         "order completed": "purchase"}
# Fixed namespaces so a message id or a visitor-day always derives the same UUID.
MESSAGE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:clickstream:segment:messageId")
SESSION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:clickstream:segment:session")
NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_.\-]+")
MAX_CUSTOM_NAME = 64
CAMPAIGN_FIELDS = {"source": "utm_source", "medium": "utm_medium", "name": "utm_campaign",
                   "term": "utm_term", "content": "utm_content"}


class Rejected(Exception):
    """A message that cannot become a contract event; `field` names the Segment field."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.violation = {"field": field, "rule": rule, "message": message}


def event_id(message_id: Any) -> str:
    """messageId itself when it is a UUID; else a uuid5 of it, so a retried message (same
    messageId) is still the same event downstream."""
    if not isinstance(message_id, str) or not message_id.strip():
        raise Rejected("messageId", "required", "messageId is required (a non-empty string)")
    return message_id.lower() if is_uuid(message_id) else str(uuid.uuid5(MESSAGE_NAMESPACE, message_id))


def _id_string(value: Any) -> str | None:
    """Ids as the libraries coerce them: numbers become their JSON text."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def anonymous_id(message: dict[str, Any], salt: str) -> str:
    """anonymousId; for a message with only userId, a UUID keyed-hashed from it (the same user
    always gets the same partition key and sessions, and the raw user id is not exposed)."""
    anonymous = _id_string(message.get("anonymousId"))
    if anonymous is not None:
        return anonymous
    user = _id_string(message.get("userId"))
    if user is None:
        raise Rejected("anonymousId", "required", "anonymousId or userId is required")
    return str(uuid.UUID(keyed_hash(f"segment-user:{user}", salt)))


def session_id(context: dict[str, Any], anonymous: str, event_time: datetime) -> str:
    """Segment has no session: `context.sessionId` when the client set one, else a UUID of
    the visitor and the UTC day of the event (one session per visitor per day)."""
    given = _id_string(context.get("sessionId"))
    if given is not None:
        return given
    return str(uuid.uuid5(SESSION_NAMESPACE, f"{anonymous}/{event_time.astimezone(UTC).date()}"))


def _time(message: dict[str, Any], field: str) -> datetime | None:
    value = message.get(field)
    if value is None:
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise Rejected(field, "format", f"{field} must be ISO-8601 with a zone")
    return parsed


def event_time(message: dict[str, Any], sent_at: Any, received_at: datetime) -> datetime:
    """The client's time corrected for its clock skew, as Segment does:
    timestamp + (receivedAt - sentAt). Without a client time it is the receive time; without
    sentAt the client time is taken as it is."""
    client_time = _time(message, "originalTimestamp") or _time(message, "timestamp")
    if client_time is None:
        return received_at
    sent = _time({"sentAt": message.get("sentAt") or sent_at}, "sentAt")
    if sent is None:
        return client_time
    try:
        return client_time + (received_at - sent)
    except OverflowError:
        raise Rejected("timestamp", "format", "timestamp corrected by sentAt falls outside "
                       "the years 1-9999: check the client's clock") from None


def event_type(message: dict[str, Any]) -> str:
    kind = message.get("type")
    if kind == "page":
        return "page_view"
    if kind != "track":
        return f"custom:{kind}"
    name = message.get("event")
    if not isinstance(name, str) or not name.strip():
        raise Rejected("event", "required", "a track message needs an event name")
    standard = STANDARD_TRACK_EVENTS.get(name.strip().lower())
    if standard is not None:
        return standard
    return "custom:" + NOT_IN_NAME.sub("_", name.strip())[:MAX_CUSTOM_NAME]


def flat_properties(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted keys; arrays become their JSON text (the contract holds
    scalars only)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flat_properties(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            flat[f"{prefix}{key}"] = orjson.dumps(value).decode()
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _pseudonymized_traits(traits: dict[str, Any], salt: str) -> dict[str, Any]:
    """Traits describe a person (name, e-mail, phone, address): every string becomes its
    salted hash, which still joins but does not say who."""
    return {f"traits.{key}": f"hashed-{keyed_hash(value, salt)}" if isinstance(value, str) else value
            for key, value in flat_properties(traits).items()}


def properties(message: dict[str, Any], kind: str, salt: str) -> dict[str, Any] | None:
    found: dict[str, Any] = {}
    if isinstance(message.get("properties"), dict):
        found.update(flat_properties(message["properties"]))
    for field in ("name", "category", "groupId", "previousId"):
        if isinstance(message.get(field), (str, int, float)):
            found[field] = message[field]
    if kind in ("identify", "group") and isinstance(message.get("traits"), dict):
        found.update(_pseudonymized_traits(message["traits"], salt))
    if "revenue" not in found and "total" in found and event_type(message) == "purchase":
        found["revenue"] = found["total"]
    return found or None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def to_contract_event(message: Any, sent_at: Any, received_at: datetime, salt: str) -> dict[str, Any]:
    """One Segment message as a contract v1 event (still to be validated like any other)."""
    if not isinstance(message, dict):
        raise Rejected("$", "type", "each message must be a JSON object")
    kind = message.get("type")
    if kind not in TYPES:
        raise Rejected("type", "allowed_values", f"type must be one of {', '.join(TYPES)}")
    context = _object(message.get("context"))
    page = _object(context.get("page"))
    props = _object(message.get("properties"))
    anonymous = anonymous_id(message, salt)
    when = event_time(message, sent_at, received_at)
    user = _id_string(message.get("userId"))
    event = {
        "event_id": event_id(message.get("messageId")),
        "event_type": event_type(message),
        "event_time": rfc3339(when),
        "anonymous_id": anonymous,
        "session_id": session_id(context, anonymous, when),
        "page_url": _url(props.get("url")) if kind == "page" and props.get("url") else _url(page.get("url")),
        "referrer": _url(props.get("referrer")) if kind == "page" and props.get("referrer")
        else _url(page.get("referrer")),
        "properties": properties(message, kind, salt),
        "schema_version": 1,
    }
    if user is not None:
        event["user_id"] = user
    return {key: value for key, value in event.items() if value is not None}


def _error(status: int, rule: str, message: str) -> dict[str, Any]:
    """A refusal in the shape the libraries read: `success` false, with the rule broken."""
    return json_response(status, {"success": False, "error": rule, "message": message})


class BadRequest(Exception):
    """The request as a whole is refused before any message is looked at."""

    def __init__(self, status: int, rule: str, message: str) -> None:
        super().__init__(message)
        self.response = _error(status, rule, message)


def _decoded_body(request: HttpRequest) -> Any:
    """The JSON payload: content type, size (before and after gunzip), then JSON."""
    gzipped = request.headers.get("content-encoding", "").strip().lower() == "gzip"
    if content_type(request.headers) not in (GZIP_CONTENT_TYPES if gzipped else ACCEPTED_CONTENT_TYPES):
        raise BadRequest(415, "content_type", "content-type must be application/json or text/plain")
    body = request.body
    if gzipped:
        try:
            body = zlib.decompressobj(wbits=31).decompress(body, MAX_REQUEST_BYTES + 1)
        except zlib.error as exc:
            raise BadRequest(400, "malformed_gzip", f"body is not valid gzip: {exc}") from exc
    if len(body) > MAX_REQUEST_BYTES:
        raise BadRequest(400, "max_request_bytes", f"a request is at most {MAX_REQUEST_BYTES} bytes")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(400, "malformed_json", f"malformed JSON: {exc}") from exc


def _messages(path: str, payload: Any) -> tuple[list[Any], dict[str, Any]]:
    """The messages of a request and the batch-level fields (sentAt, context, writeKey).

    A single-message path sets the type when the message does not; a batch's top-level
    `context` is merged under each message's own."""
    if not isinstance(payload, dict):
        raise BadRequest(400, "payload_type", "body must be a JSON object")
    route = path.rstrip("/")
    if route in BATCH_PATHS:
        batch = payload.get("batch")
        if not isinstance(batch, list) or not batch:
            raise BadRequest(400, "batch", "'batch' must be a non-empty array")
        shared_context = _object(payload.get("context"))
        if shared_context:
            batch = [{**item, "context": {**shared_context, **_object(item.get("context"))}}
                     if isinstance(item, dict) else item for item in batch]
        return batch, payload
    if len(orjson.dumps(payload)) > MAX_MESSAGE_BYTES:
        raise BadRequest(400, "max_message_bytes", f"a message is at most {MAX_MESSAGE_BYTES} bytes")
    return [{"type": SINGLE_PATHS[route], **payload}], payload


def _campaign_fields(message: Any) -> dict[str, str]:
    """context.campaign as the UTM columns, for pages whose URL carries none."""
    context = _object(message.get("context")) if isinstance(message, dict) else {}
    campaign = _object(context.get("campaign"))
    return {column: pii.redact(value) for field, column in CAMPAIGN_FIELDS.items()
            if isinstance(value := campaign.get(field), str) and value}


def _shared_fields(message: Any, request: HttpRequest, received_at: str, ingest_id: str,
                   salt: str) -> dict[str, Any]:
    """The request fields from the visitor's context.userAgent and context.ip when a server
    library relays them, else from the request itself."""
    context = _object(message.get("context")) if isinstance(message, dict) else {}
    agent = context.get("userAgent")
    ip = context.get("ip")
    return request_fields(received_at=received_at, ingest_id=ingest_id,
                          source_ip=ip if isinstance(ip, str) and ip else request.source_ip,
                          user_agent=agent if isinstance(agent, str) and agent
                          else request.headers.get("user-agent", ""), salt=salt)


def answer(request: HttpRequest, rt: Runtime) -> Reply:
    """A Segment API request, from write key to stream; the route is already known."""
    try:
        payload = _decoded_body(request)
        messages, batch_fields = _messages(request.path, payload)
    except BadRequest as exc:
        return exc.response
    key = presented_key(request.headers, request.query)
    if key is None and isinstance(batch_fields.get("writeKey"), str):
        key = batch_fields["writeKey"]
    if key is None:
        return _error(401, "missing_write_key", "send the write key as Basic user name or as writeKey")
    if rt.write_keys.match(key) is None:
        return _error(401, "invalid_write_key", "the write key is not a configured one")
    now = datetime.now(UTC)
    received_at = rfc3339(now)
    ingest_id = uuid.uuid4().hex
    salt = rt.settings.ip_hash_salt
    rejected: list[dict[str, Any]] = []
    records: list[tuple[str, bytes]] = []
    dropped = 0
    for index, message in enumerate(messages):
        message_id = message.get("messageId") if isinstance(message, dict) else None
        try:
            if len(orjson.dumps(message)) > MAX_MESSAGE_BYTES:
                raise Rejected("$", "max_message_bytes", f"a message is at most {MAX_MESSAGE_BYTES} bytes")
            event = to_contract_event(message, batch_fields.get("sentAt"), now, salt)
        except Rejected as exc:
            violations = [exc.violation]
        else:
            violations = [v.as_dict() for v in validate_event(event, now)]
        if violations:
            rejected.append({"index": index, "messageId": message_id if isinstance(message_id, str)
                             and len(message_id) <= MAX_ID_LENGTH else None, "errors": violations})
            continue
        if rt.erased.listed(event):
            dropped += 1
            continue
        record = enrich(event, _shared_fields(message, request, received_at, ingest_id, salt), salt)
        for column, value in _campaign_fields(message).items():
            record[column] = record[column] or value
        records.append((record["anonymous_id"], orjson.dumps(record)))
    if dropped:
        log.info("segment request %s: %d messages of erased people dropped", ingest_id, dropped)
    if rejected:
        log.warning("segment request %s: %d of %d messages rejected: %s", ingest_id, len(rejected),
                    len(messages), orjson.dumps(rejected[:5]).decode())

    def respond(errors: list[str | None]) -> dict[str, Any]:
        failed = [error for error in errors if error is not None]
        if failed:
            log.warning("%d of %d events not written to %s: %s", len(failed), len(records),
                        rt.settings.stream_name, failed[0])
            return json_response(503, {"success": False, "error": "stream_unavailable",
                                       "message": f"{len(failed)} messages not stored; resend the request"},
                                 {"retry-after": RETRY_AFTER_SECONDS})
        body: dict[str, Any] = {"success": True}
        if rejected:
            body |= {"rejected": len(rejected), "rejected_events": rejected}
        return json_response(200, body)

    return StreamWrite(records, respond) if records else respond([])
