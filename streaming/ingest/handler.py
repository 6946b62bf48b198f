"""The ingestion Lambda: API Gateway proxy event in, Kinesis PutRecords out.

The same function runs in AWS (API Gateway REST or HTTP API -> Lambda) and locally (the
gateway builds the proxy event). Checks run cheapest first, and nothing is decoded for a
request that fails one: route, method, origin, write key, content type, size, JSON, then
every event on its own. Answers, per request:
  200  every event accepted
  207  some accepted, the others rejected for a contract rule (listed with field and rule;
       do not resend them)
  400  nothing accepted: unreadable body (malformed JSON carries its line, column and
       offset), or every event broke a rule (listed)
  401  no write key, or not a configured one;  403  a browser origin not on the allow-list
  404  no such route;  405  not POST (the `allow` header lists what is)
  413  body over 1 MiB or more than 500 events;  415  not application/json or text/plain
  503  some events could not be written to the stream (listed as retryable, with
       Retry-After); resending the whole batch is safe because event_id makes every write
       idempotent downstream.
The Segment/RudderStack tracking API (/v1/batch, /v1/track, /v1/t, ...) shares the route,
method and origin checks and is then answered by `streaming.ingest.segment`, as those libraries
expect (the write key may also come in the body there).
Every answer but a preflight's 204 is JSON with a machine-readable `error` and a `message`,
or per-event results. The local gateway adds 429 (rate limit) in front of the handler.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from streaming.contract import MAX_BODY_BYTES, RequestError, events_from_payload, validate_event
from streaming.ingest import segment
from streaming.ingest.auth import WriteKeys, load_write_keys, presented_key
from streaming.ingest.cors import ALLOWED_METHODS, OriginPolicy
from streaming.ingest.enrich import enrich, request_fields
from streaming.kinesis import kinesis_client, put_records
from streaming.settings import Settings, load_settings

log = logging.getLogger(__name__)

ACCEPTED_CONTENT_TYPES = ("application/json", "text/plain")
EVENTS_PATH = "/v1/events"
RETRY_AFTER_SECONDS = "1"
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "cache-control": "no-store"}


@dataclass(frozen=True)
class Runtime:
    """What the handler needs besides the request, built once per Lambda container."""

    settings: Settings
    client: Any
    write_keys: WriteKeys
    origins: OriginPolicy


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    """Settings, Kinesis client, write keys (one Secrets Manager read) and origin allow-list.

    Only the handler hashes addresses, so only it insists on a salt (the job never needs one).
    """
    settings = load_settings()
    if not settings.ip_hash_salt:
        raise ValueError("CLICKSTREAM_IP_HASH_SALT must be set in AWS mode")
    return Runtime(settings, kinesis_client(settings), load_write_keys(settings),
                   OriginPolicy.from_settings(settings))


@dataclass(frozen=True)
class HttpRequest:
    """One request as the handler sees it, whichever API Gateway payload version carried it."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    source_ip: str | None


def parse_proxy_event(event: dict[str, Any]) -> HttpRequest:
    """The request in a v1 (REST API) or v2 (HTTP API) proxy event, header names lower-cased.

    A body that claims base64 but is not is kept as it came, to be judged as malformed JSON.
    """
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items() if v is not None}
    query = {k: v for k, v in (event.get("queryStringParameters") or {}).items() if v is not None}
    context = event.get("requestContext") or {}
    if event.get("version") == "2.0":
        http = context.get("http") or {}
        method, path, source_ip = http.get("method", ""), event.get("rawPath", ""), http.get("sourceIp")
    else:
        method, path = event.get("httpMethod", ""), event.get("path", "")
        source_ip = (context.get("identity") or {}).get("sourceIp")
    raw = event.get("body") or ""
    body = raw.encode("utf-8", "surrogatepass")
    if event.get("isBase64Encoded"):
        with contextlib.suppress(binascii.Error, ValueError):
            body = base64.b64decode(raw, validate=True)
    return HttpRequest(method.upper(), path, headers, query, body, source_ip)


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status,
            "headers": {"content-type": "application/json", **SECURITY_HEADERS, **(headers or {})},
            "body": orjson.dumps(body).decode()}


def _error(status: int, rule: str, message: str, headers: dict[str, str] | None = None,
           **extra: Any) -> dict[str, Any]:
    return _response(status, {"error": rule, "message": message, **extra}, headers)


def _decode(headers: dict[str, str], body: bytes) -> Any:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ACCEPTED_CONTENT_TYPES:
        raise RequestError(415, "content_type",
                           "content-type must be application/json or text/plain")
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(413, "max_body_bytes", f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(exc) from exc


class MalformedJson(RequestError):
    """A 400 that tells where parsing stopped: line and column (1-based) and byte offset."""

    def __init__(self, exc: orjson.JSONDecodeError) -> None:
        super().__init__(400, "malformed_json", f"malformed JSON: {exc}")
        self.position = {"line": exc.lineno, "column": exc.colno, "offset": exc.pos}


def _rejected_id(candidate: Any) -> str | None:
    """The event_id echoed with a rejection: only a string of sane length, as sent."""
    event_id = candidate.get("event_id") if isinstance(candidate, dict) else None
    return event_id if isinstance(event_id, str) and len(event_id) <= 128 else None


def ingest(
    headers: dict[str, str], body: bytes, source_ip: str | None, settings: Settings, client
) -> dict[str, Any]:
    """Validates, enriches and streams one request's events; returns the proxy response."""
    try:
        events = events_from_payload(_decode(headers, body))
    except MalformedJson as exc:
        return _error(exc.status, exc.rule, exc.message, position=exc.position)
    except RequestError as exc:
        return _error(exc.status, exc.rule, exc.message)
    now = datetime.now(UTC)
    ingest_id = uuid.uuid4().hex
    shared = request_fields(
        received_at=now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        ingest_id=ingest_id, source_ip=source_ip, user_agent=headers.get("user-agent", ""),
        salt=settings.ip_hash_salt)
    rejected: list[dict[str, Any]] = []
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, candidate in enumerate(events):
        violations = validate_event(candidate, now)
        if violations:
            rejected.append({"index": index, "event_id": _rejected_id(candidate),
                             "errors": [v.as_dict() for v in violations]})
        else:
            valid.append((index, candidate))
    records = []
    for _, event in valid:
        record = enrich(event, shared, settings.ip_hash_salt)
        records.append((record["anonymous_id"], orjson.dumps(record)))
    outcome = put_records(client, settings.stream_name, records) if records else None
    failed = [(index, event, error) for (index, event), error
              in zip(valid, outcome.errors if outcome else [], strict=True) if error is not None]
    if failed:
        log.warning("%d of %d events not written to %s: %s", len(failed), len(records),
                    settings.stream_name, failed[0][2])
    # The client learns the error code only: AWS's messages name the stream and the account.
    retry = [{"index": index, "event_id": event["event_id"], "reason": error.split(":", 1)[0]}
             for index, event, error in failed]
    accepted = len(valid) - len(retry)
    status = 503 if retry else 200 if not rejected else 207 if accepted else 400
    body_out: dict[str, Any] = {"accepted": accepted, "rejected": len(rejected),
                                "retryable": len(retry), "ingest_id": ingest_id}
    if rejected:
        body_out["rejected_events"] = rejected
    if retry:
        body_out["retry_events"] = retry
        return _response(status, body_out, {"retry-after": RETRY_AFTER_SECONDS})
    return _response(status, body_out)


def handle(request: HttpRequest, rt: Runtime) -> dict[str, Any]:
    """Route, method, origin and write key; then `ingest` (or the Segment API's) for a POST."""
    origin = request.headers.get("origin")
    cors = rt.origins.response_headers(origin)
    segment_route = segment.is_route(request.path)
    if request.path.rstrip("/") != EVENTS_PATH and not segment_route:
        return _error(404, "not_found", f"no route {request.path[:200]}; events go to {EVENTS_PATH}", cors)
    if request.method == "OPTIONS":
        if origin is None:
            return {"statusCode": 204, "headers": {"allow": ALLOWED_METHODS, **cors}, "body": ""}
        if not rt.origins.allows(origin):
            return _error(403, "origin_not_allowed", "this origin may not send events", cors)
        return {"statusCode": 204, "headers": rt.origins.preflight_headers(origin), "body": ""}
    if request.method != "POST":
        return _error(405, "method_not_allowed", "send events with POST",
                      {"allow": ALLOWED_METHODS, **cors})
    if origin is not None and not rt.origins.allows(origin):
        return _error(403, "origin_not_allowed", "this origin may not send events", cors)
    if segment_route:
        response = segment.ingest(request, rt)
    else:
        key = presented_key(request.headers, request.query)
        if key is None:
            return _error(401, "missing_write_key", "send the site's write key as Basic "
                          "authorization (the key as user name) or the writeKey query parameter", cors)
        if rt.write_keys.match(key) is None:
            return _error(401, "invalid_write_key", "the write key is not a configured one", cors)
        response = ingest(request.headers, request.body, request.source_ip, rt.settings, rt.client)
    response["headers"].update(cors)
    if response["statusCode"] == 503:
        response["headers"]["access-control-expose-headers"] = "retry-after"
    return response


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """AWS Lambda entry point for API Gateway proxy integrations (payload v1.0 and v2.0)."""
    return handle(parse_proxy_event(event), runtime())
