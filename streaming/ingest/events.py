"""The /v1/events adapter: the project's own tracking API, answered per event.

After the router's route, method and origin checks: write key, content type, size, JSON,
then every event on its own (nothing is decoded for a request that fails a cheaper check).
  200  every event accepted
  207  some accepted, the others rejected for a contract rule (listed with field and rule;
       do not resend them)
  400  nothing accepted: unreadable body (malformed JSON carries its line, column and
       offset), or every event broke a rule (listed)
  401  no write key, or not a configured one
  413  body over 1 MiB or more than 500 events;  415  not application/json or text/plain
  503  some events could not be written to the stream (listed as retryable, with
       Retry-After); resending the whole batch is safe because event_id makes every write
       idempotent downstream.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from streaming.contract import MAX_BODY_BYTES, RequestError, events_from_payload, rfc3339, validate_event
from streaming.erased import ErasedIds
from streaming.ingest.auth import presented_key
from streaming.ingest.enrich import enrich, request_fields
from streaming.ingest.http import (
    ACCEPTED_CONTENT_TYPES,
    RETRY_AFTER_SECONDS,
    HttpRequest,
    Reply,
    Runtime,
    StreamWrite,
    content_type,
    error_response,
    json_response,
)
from streaming.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/v1/events"


class MalformedJson(RequestError):
    """A 400 that tells where parsing stopped: line and column (1-based) and byte offset."""

    def __init__(self, exc: orjson.JSONDecodeError) -> None:
        super().__init__(400, "malformed_json", f"malformed JSON: {exc}")
        self.position = {"line": exc.lineno, "column": exc.colno, "offset": exc.pos}


def _decode(headers: dict[str, str], body: bytes) -> Any:
    if content_type(headers) not in ACCEPTED_CONTENT_TYPES:
        raise RequestError(415, "content_type",
                           "content-type must be application/json or text/plain")
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(413, "max_body_bytes", f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(exc) from exc


def _rejected_id(candidate: Any) -> str | None:
    """The event_id echoed with a rejection: only a string of sane length, as sent."""
    event_id = candidate.get("event_id") if isinstance(candidate, dict) else None
    return event_id if isinstance(event_id, str) and len(event_id) <= 128 else None


def ingest(
    headers: dict[str, str], body: bytes, source_ip: str | None, settings: Settings,
    erased: ErasedIds,
) -> Reply:
    """Validates and enriches one request's events; the reply streams the valid ones.
    Valid events of erased people are acknowledged and dropped (`streaming.erased`): the
    tracker must not resend them, and the stream must not carry them."""
    try:
        events = events_from_payload(_decode(headers, body))
    except MalformedJson as exc:
        return error_response(exc.status, exc.rule, exc.message, position=exc.position)
    except RequestError as exc:
        return error_response(exc.status, exc.rule, exc.message)
    now = datetime.now(UTC)
    ingest_id = uuid.uuid4().hex
    shared = request_fields(
        received_at=rfc3339(now),
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
    kept = [item for item in valid if not erased.listed(item[1])]
    dropped = len(valid) - len(kept)
    if dropped:
        log.info("request %s: %d events of erased people dropped", ingest_id, dropped)
    records = []
    for _, event in kept:
        record = enrich(event, shared, settings.ip_hash_salt)
        records.append((record["anonymous_id"], orjson.dumps(record)))

    def respond(errors: list[str | None]) -> dict[str, Any]:
        failed = [(index, event, error) for (index, event), error
                  in zip(kept, errors, strict=True) if error is not None]
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
            return json_response(status, body_out, {"retry-after": RETRY_AFTER_SECONDS})
        return json_response(status, body_out)

    return StreamWrite(records, respond) if records else respond([])


def answer(request: HttpRequest, rt: Runtime) -> Reply:
    """A /v1/events request from its write key on; the route, method and origin are checked."""
    key = presented_key(request.headers, request.query)
    if key is None:
        return error_response(401, "missing_write_key", "send the site's write key as Basic "
                              "authorization (the key as user name) or the writeKey query parameter")
    if rt.write_keys.match(key) is None:
        return error_response(401, "invalid_write_key", "the write key is not a configured one")
    return ingest(request.headers, request.body, request.source_ip, rt.settings, rt.erased)
