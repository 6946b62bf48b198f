"""The HTTP layer every ingestion route shares: the request as API Gateway hands it over, the
runtime built once per Lambda container, and JSON answers with the same security headers.

Adapters (`events`, `segment`) import this module, never the router (`handler`), so the
router can list them in its route table without an import cycle.

Adapters do not write to the stream themselves: a request with events to stream answers a
`StreamWrite`, and whoever serves the request writes it. The Lambda writes it at once
(`handler.handle`); the local gateway, serving many requests at once on one event loop, hands
it to one producer shared by every request (`streaming.local.coalesce`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from streaming.erased import ErasedIds
from streaming.ingest.auth import WriteKeys, load_write_keys
from streaming.ingest.cors import OriginPolicy
from streaming.kinesis import kinesis_client, put_events
from streaming.settings import Settings, load_settings

ACCEPTED_CONTENT_TYPES = ("application/json", "text/plain")
RETRY_AFTER_SECONDS = "1"
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "cache-control": "no-store"}


@dataclass(frozen=True)
class Runtime:
    """What the handler needs besides the request, built once per Lambda container."""

    settings: Settings
    client: Any
    write_keys: WriteKeys
    origins: OriginPolicy
    erased: ErasedIds


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    """Settings, Kinesis client, write keys (one Secrets Manager read) and origin allow-list.

    Only the handler hashes addresses, so only it insists on a salt (the job never needs one).
    """
    settings = load_settings()
    if not settings.ip_hash_salt:
        raise ValueError("CLICKSTREAM_IP_HASH_SALT must be set in AWS mode")
    return Runtime(settings, kinesis_client(settings), load_write_keys(settings),
                   OriginPolicy.from_settings(settings), ErasedIds(settings))


@dataclass(frozen=True)
class HttpRequest:
    """One request as the handler sees it, whichever API Gateway payload version carried it."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    source_ip: str | None


@dataclass(frozen=True)
class StreamWrite:
    """A reply that depends on the stream: the (partition key, serialized event) pairs to
    write, and the proxy response to give once each event's fate is known (`respond` takes,
    per event, None when written or the error that kept it out)."""

    events: list[tuple[str, bytes]]
    respond: Callable[[list[str | None]], dict[str, Any]]


Reply = dict[str, Any] | StreamWrite


def write_now(reply: Reply, client: Any, stream_name: str) -> dict[str, Any]:
    """The response to `reply`, its events written first when it has some: what a Lambda,
    serving one request at a time, does."""
    if isinstance(reply, StreamWrite):
        return reply.respond(put_events(client, stream_name, reply.events).errors)
    return reply


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


def content_type(headers: dict[str, str]) -> str:
    """The media type of the body, without parameters, lower-cased."""
    return headers.get("content-type", "").split(";")[0].strip().lower()


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None
                  ) -> dict[str, Any]:
    """A proxy response with a JSON body and the security headers."""
    return {"statusCode": status,
            "headers": {"content-type": "application/json", **SECURITY_HEADERS, **(headers or {})},
            "body": orjson.dumps(body).decode()}


def error_response(status: int, rule: str, message: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> dict[str, Any]:
    """A refusal with a machine-readable `error` (the rule broken) and a `message`."""
    return json_response(status, {"error": rule, "message": message, **extra}, headers)
