"""The ingestion Lambda: API Gateway proxy event in, Kinesis PutRecords out.

The same function runs in AWS (API Gateway REST or HTTP API -> Lambda) and locally (the
gateway builds the proxy event). It is a route table: each tracking API is an adapter
(`events` for /v1/events, `segment` for the Segment/RudderStack paths) that answers as its
clients expect. Checks run cheapest first, and nothing is decoded for a request that fails
one: route, method and origin here, shared by every adapter; then the adapter's own. Answers
of the router:
  204  a preflight (OPTIONS)
  403  a browser origin not on the allow-list
  404  no such route;  405  not POST (the `allow` header lists what is)
Every answer but a preflight's 204 is JSON with a machine-readable `error` and a `message`,
or per-event results. The local gateway adds 429 (rate limit) in front of the handler.

`route` does all of that but the stream write: the Lambda (`handle`) writes at once, the
local gateway awaits its shared producer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streaming.ingest import events, segment
from streaming.ingest.cors import ALLOWED_METHODS
from streaming.ingest.http import (
    HttpRequest,
    Reply,
    Runtime,
    StreamWrite,
    error_response,
    parse_proxy_event,
    runtime,
    write_now,
)

Adapter = Callable[[HttpRequest, Runtime], Reply]
ROUTES: dict[str, Adapter] = {events.EVENTS_PATH: events.answer,
                              **dict.fromkeys(sorted(segment.PATHS), segment.answer)}


def handle(request: HttpRequest, rt: Runtime) -> dict[str, Any]:
    """The request answered, its events written to the stream first."""
    return write_now(route(request, rt), rt.client, rt.settings.stream_name)


def _with_cors(response: dict[str, Any], cors: dict[str, str]) -> dict[str, Any]:
    response["headers"].update(cors)
    if response["statusCode"] == 503:
        response["headers"]["access-control-expose-headers"] = "retry-after"
    return response


def route(request: HttpRequest, rt: Runtime) -> Reply:
    """Route, method and origin; then the route's adapter for a POST, whose answer gets the
    origin's CORS headers once it is known."""
    origin = request.headers.get("origin")
    cors = rt.origins.response_headers(origin)
    adapter = ROUTES.get(request.path.rstrip("/"))
    if adapter is None:
        return error_response(404, "not_found", f"no route {request.path[:200]}; events go to "
                              f"{events.EVENTS_PATH}", cors)
    if request.method == "OPTIONS":
        if origin is None:
            return {"statusCode": 204, "headers": {"allow": ALLOWED_METHODS, **cors}, "body": ""}
        if not rt.origins.allows(origin):
            return error_response(403, "origin_not_allowed", "this origin may not send events", cors)
        return {"statusCode": 204, "headers": rt.origins.preflight_headers(origin), "body": ""}
    if request.method != "POST":
        return error_response(405, "method_not_allowed", "send events with POST",
                              {"allow": ALLOWED_METHODS, **cors})
    if origin is not None and not rt.origins.allows(origin):
        return error_response(403, "origin_not_allowed", "this origin may not send events", cors)
    reply = adapter(request, rt)
    if isinstance(reply, StreamWrite):
        return StreamWrite(reply.events, lambda errors: _with_cors(reply.respond(errors), cors))
    return _with_cors(reply, cors)


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """AWS Lambda entry point for API Gateway proxy integrations (payload v1.0 and v2.0)."""
    return handle(parse_proxy_event(event), runtime())
