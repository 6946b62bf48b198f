"""The ingestion Lambda: API Gateway proxy event in, Kinesis PutRecords out.

The same function runs in AWS (API Gateway REST or HTTP API -> Lambda) and locally (the
gateway builds the proxy event). Answers, per request:
  200  every event accepted
  207  some accepted, the others rejected for a contract rule (listed; do not resend them)
  400  nothing accepted: unreadable body, or every event broke a rule (listed)
  413  body over 1 MiB or more than 500 events;  415  not JSON / text/plain
  503  some events could not be written to the stream (listed as retryable); resending the
       whole batch is safe because event_id makes every write idempotent downstream.
"""

from __future__ import annotations

import base64
import logging
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from streaming.contract import MAX_BODY_BYTES, RequestError, events_from_payload, validate_event
from streaming.enrich import enrich
from streaming.kinesis import kinesis_client, put_records
from streaming.settings import Settings, load_settings

log = logging.getLogger(__name__)

ACCEPTED_CONTENT_TYPES = ("application/json", "text/plain")
EVENTS_PATH = "/v1/events"
CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": "600",
}


@lru_cache(maxsize=1)
def _runtime() -> tuple[Settings, Any]:
    """Settings and client are built once per Lambda container (or gateway process).

    Only the handler hashes addresses, so only it insists on a salt (the job never needs one).
    """
    settings = load_settings()
    if not settings.ip_hash_salt:
        raise ValueError("CLICKSTREAM_IP_HASH_SALT must be set in AWS mode")
    return settings, kinesis_client(settings)


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"content-type": "application/json", **CORS_HEADERS}
    return {"statusCode": status, "headers": headers, "body": orjson.dumps(body).decode()}


def _request_parts(event: dict[str, Any]) -> tuple[str, str, dict[str, str], bytes, str | None]:
    """Method, path, lower-cased headers, raw body and source IP of a v1 or v2 proxy event."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items() if v is not None}
    context = event.get("requestContext") or {}
    if event.get("version") == "2.0":
        http = context.get("http") or {}
        method, path, source_ip = http.get("method", ""), event.get("rawPath", ""), http.get("sourceIp")
    else:
        method, path = event.get("httpMethod", ""), event.get("path", "")
        source_ip = (context.get("identity") or {}).get("sourceIp")
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    return method.upper(), path, headers, body, source_ip


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
        raise RequestError(400, "malformed_json", f"malformed JSON: {exc}") from exc


def ingest(
    headers: dict[str, str], body: bytes, source_ip: str | None, settings: Settings, client
) -> dict[str, Any]:
    """Validates, enriches and streams one request's events; returns the proxy response."""
    try:
        events = events_from_payload(_decode(headers, body))
    except RequestError as exc:
        return _response(exc.status, {"error": exc.rule, "message": exc.message})
    now = datetime.now(UTC)
    received_at = now.isoformat(timespec="microseconds").replace("+00:00", "Z")
    ingest_id = uuid.uuid4().hex
    user_agent = headers.get("user-agent", "")
    rejected: list[dict[str, Any]] = []
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, candidate in enumerate(events):
        violations = validate_event(candidate, now)
        if violations:
            event_id = candidate.get("event_id") if isinstance(candidate, dict) else None
            rejected.append({"index": index, "event_id": event_id,
                             "errors": [v.as_dict() for v in violations]})
        else:
            valid.append((index, candidate))
    records = [
        (
            event["anonymous_id"],
            orjson.dumps(enrich(event, received_at=received_at, ingest_id=ingest_id,
                                source_ip=source_ip, user_agent=user_agent,
                                salt=settings.ip_hash_salt)),
        )
        for _, event in valid
    ]
    outcome = put_records(client, settings.stream_name, records) if records else None
    retry = [
        {"index": index, "event_id": event["event_id"], "reason": error}
        for (index, event), error in zip(valid, outcome.errors if outcome else [], strict=True)
        if error is not None
    ]
    if retry:
        log.warning("%d of %d events not written to %s: %s", len(retry), len(records),
                    settings.stream_name, retry[0]["reason"])
    accepted = len(valid) - len(retry)
    status = 503 if retry else 200 if not rejected else 207 if accepted else 400
    body_out: dict[str, Any] = {"accepted": accepted, "rejected": len(rejected),
                                "retryable": len(retry), "ingest_id": ingest_id}
    if rejected:
        body_out["rejected_events"] = rejected
    if retry:
        body_out["retry_events"] = retry
    return _response(status, body_out)


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """AWS Lambda entry point for API Gateway proxy integrations (payload v1.0 and v2.0)."""
    method, path, headers, body, source_ip = _request_parts(event)
    if path.rstrip("/") != EVENTS_PATH:
        return _response(404, {"error": "not_found", "message": f"no route {path}"})
    if method == "OPTIONS":
        return {"statusCode": 204, "headers": dict(CORS_HEADERS), "body": ""}
    if method != "POST":
        return _response(405, {"error": "method_not_allowed", "message": "use POST"})
    settings, client = _runtime()
    return ingest(headers, body, source_ip, settings, client)
